"""Published reports per jurisdiction: the national one and one per state, each holding only its
state's rows, its networks' figures over its own EVSEs, change from last month, twelve months."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from bench import dashboard_data as generate
from shared import layout
from shared.blobstore import LocalBlobStore
from shared.metrics import schema
from shared.monthly.report import REPORT_TABLES
from shared.monthly.state_reports import build_reports, month_before

SITES = 24  # site i is in CITIES[i % 8]: three sites per state; CPO of site i: CPA/CPB/CPC by i % 3
MANIFEST = {
    "month": "2026-10", "report_tz": "Australia/Sydney",
    "period_start": "2026-09-30T14:00:00+00:00", "period_end": "2026-10-31T13:00:00+00:00",
    "job_version": "test", "run_at": "2026-11-02T03:00:00+00:00",
    "inputs": {"status_runs": 5, "static_connectors": 9, "default_max_gap_minutes": 15},
    "warnings": ["static sites: static/sites/wa.csv:7: WA-ONLY-SITE bad latitude"],
}  # fmt: skip


def arrow(tables: dict[str, pd.DataFrame]) -> dict[str, pa.Table]:
    return {
        name: generate.schema_checked(
            pa.Table.from_pandas(tables[name], preserve_index=False), schema.TABLES[name]
        )
        for name in REPORT_TABLES
        if name in tables
    }


def rows(store: LocalBlobStore, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(store.get(name).decode())))


@pytest.fixture
def published(tmp_path: Path) -> tuple[LocalBlobStore, generate.Network, dict, dict]:
    store = LocalBlobStore(tmp_path / "blobs")
    network = generate.make_network(SITES)
    september = generate.month_tables(network, "2026-09", seed=10)
    generate.write_month(store, "2026-09", september)
    october = generate.month_tables(network, "2026-10", seed=11)
    files, states = build_reports(
        store, "2026-10", arrow(october), MANIFEST, 98.0, program_thresholds={"BBF": 99.5},
        lga_boundaries=generate.LGA_FILE,
    )  # fmt: skip
    store.replace_prefix(layout.report_prefix("2026-10"), files)
    assert states == ["ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA"]
    return store, network, september, october


def uptime(evse: pd.DataFrame) -> float:
    """Spec 4's uptime of the summed minutes, written out here (not the code under test)."""
    up = evse[["available_minutes", "in_use_minutes", "reserved_minutes"]].to_numpy().sum()
    return 100 * up / evse["known_minutes"].sum()


def test_each_state_folder_holds_only_that_state(published) -> None:
    store, network, september, october = published
    for state in ("NSW", "WA", "SA"):
        prefix = f"reports/2026-10/{state}"
        for name in ("site", "charger", "connector", "evse", "outages", "lga", "state"):
            found = {r["state"] for r in rows(store, f"{prefix}/{name}.csv")}
            assert found <= {state}, (state, name, found)
        html = store.get(f"{prefix}/report.html").decode()
        others = network.evses[network.evses["state"] != state]["evse_uid"]
        assert not [uid for uid in others if uid in html]
        assert "WA-ONLY-SITE" not in html  # warnings name other states' rows: analysts only
    national = store.get("reports/2026-10/report.html").decode()
    assert "National report" in national and "WA-ONLY-SITE" in national


def test_state_network_figures_are_over_its_own_evses(published) -> None:
    store, _, september, october = published
    evse = october["evse"]
    nsw = rows(store, "reports/2026-10/NSW/network.csv")
    # NSW holds sites 0, 8, 16: CPOs CPA (0), CPC (8), CPB (16).
    assert [r["cpo_id"] for r in nsw] == ["CPA", "CPB", "CPC"]
    for row in nsw:
        own = evse[(evse["state"] == "NSW") & (evse["cpo_id"] == row["cpo_id"])]
        assert float(row["uptime_pct"]) == pytest.approx(uptime(own), abs=1e-6)
        assert int(row["evse_count"]) == len(own) and int(row["site_count"]) == 1
        before = september["evse"]
        both = pd.concat(
            [own, before[(before["state"] == "NSW") & (before["cpo_id"] == row["cpo_id"])]]
        )
        assert float(row["uptime_12m_pct"]) == pytest.approx(uptime(both), abs=1e-6)
        assert int(row["months_in_12m"]) == 2
    national = {r["cpo_id"]: r for r in rows(store, "reports/2026-10/network.csv")}
    assert int(national["CPA"]["evse_count"]) == int((evse["cpo_id"] == "CPA").sum())
    html = store.get("reports/2026-10/NSW/report.html").decode()
    assert "Report for the New South Wales government" in html
    assert "Change in uptime from last month (points)" in html and "against 2026-09" in html
    assert (
        "Uptime (%)" in html
        and "Longest outage (min)" in html
        and "uptime_pct" not in html.split("<script")[0]
    )


def test_funded_sites_use_the_program_threshold(published) -> None:
    store, _, _, october = published
    html = store.get("reports/2026-10/NSW/report.html").decode()
    # Every 4th site has program BBF: NSW holds sites 0, 8 and 16, all multiples of 4.
    funded = october["site"][
        (october["site"]["state"] == "NSW") & october["site"]["program"].notna()
    ]
    assert sorted(funded["site_id"]) == ["S00000", "S00008", "S00016"]
    assert html.count('<td class="">99.50</td>') == len(funded)  # the program's threshold
    programs = rows(store, "reports/2026-10/NSW/program.csv")
    assert [r["program"] for r in programs] == ["BBF"]
    nsw_bbf = october["evse"][
        (october["evse"]["state"] == "NSW") & (october["evse"]["program"] == "BBF")
    ]
    assert float(programs[0]["uptime_pct"]) == pytest.approx(uptime(nsw_bbf), abs=1e-6)


def test_previous_month_helper() -> None:
    assert month_before("2026-01") == "2025-12"
    assert month_before("2026-10", 11) == "2025-11"
