"""Names vulture cannot see used: called by a framework or a library, never by our code by name.

Read by vulture only (see `[tool.vulture]` in pyproject.toml and tests/test_dead_code.py).
"""
