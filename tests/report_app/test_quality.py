"""Coverage per CPO beside each of its feeds (Data quality page)."""

from __future__ import annotations

import pandas as pd

from report_app.pages.quality import coverage_with_feeds


def test_every_cpo_is_listed_with_its_feeds_or_none() -> None:
    network = pd.DataFrame({"cpo_id": ["A", "B"], "evse_count": [1, 2], "coverage_pct": [90.126, 80.0],
                            "known_minutes": [1.0, 2.0], "unknown_minutes": [0.0, 1.0]})  # fmt: skip
    feeds = pd.DataFrame({"cpo_id": ["A", "A"], "kind": ["ocpp", "ocpi_pull"],
                          "last_success_at": ["t", None], "last_error_at": [None, "t"],
                          "last_error": [None, "timeout"], "lag_seconds": [3.0, None]})  # fmt: skip
    table = coverage_with_feeds(network, feeds)
    assert table[["cpo_id", "kind", "coverage_pct", "last_error"]].values.tolist() == [
        ["A", "ocpi_pull", 90.13, "timeout"],
        ["A", "ocpp", 90.13, ""],
        ["B", "no feed reported", 80.0, ""],
    ]
    assert coverage_with_feeds(network, None)["cpo_id"].tolist() == ["A", "B"]
