"""One module per page, each a ``*_ui`` / ``*_server`` pair."""
