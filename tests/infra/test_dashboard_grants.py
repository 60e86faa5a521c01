"""The dashboard's database identity is read-only but for what an analyst's review writes: every
table the review page writes must be granted to it in infra/README.md's one-time SQL, and
nothing more (it is not a ``db_datawriter``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, event

from report_app.pages.exclusions import review
from shared.blobstore import LocalBlobStore
from shared.exclusions import SiteScopes, check_proposal, list_exclusions, propose
from shared.jurisdictions import parse_role
from shared.settings import Settings
from shared.sites import read_static_sites

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "sites_small.csv"
DASHBOARD = "[calprod-dashboard-id]"
WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)\"?", re.I)
GRANT = re.compile(r"GRANT\s+([A-Z, ]+?)\s+ON\s+(?:OBJECT::)?(?:dbo\.)?(\w+)\s+TO\s+(\[[^\]]+\])")


def granted_to_dashboard() -> set[tuple[str, str]]:
    """(permission, table) pairs the README's SQL grants the dashboard identity."""
    text = (ROOT / "infra" / "README.md").read_text()
    pairs = set()
    for permissions, table, who in GRANT.findall(text):
        if who == DASHBOARD:
            pairs.update((p.strip().upper(), table) for p in permissions.split(","))
    return pairs


def proposals(settings: Settings, engine: Engine) -> list[str]:
    store = LocalBlobStore(settings.blob_dir)
    store.put("static/sites/sites_small.csv", FIXTURE.read_bytes())
    scopes = SiteScopes.from_connectors(read_static_sites(store).connectors)
    now = datetime.now(UTC)
    return propose(
        engine,
        [
            check_proposal(
                cpo_id="TESTCPO",
                scope="charger",
                scope_id="C1",
                cause="UTILITY_INTERRUPTION",
                from_at=(now - timedelta(days=days)).isoformat(),
                to_at=(now - timedelta(days=days - 1)).isoformat(),
                scopes=scopes,
            )
            for days in (5, 3)
        ],
        "cpo:TESTCPO",
    )


def test_every_table_a_review_writes_is_granted_to_the_dashboard(
    settings: Settings, engine: Engine
) -> None:
    approve_id, reject_id = proposals(settings, engine)
    writes: set[tuple[str, str]] = set()

    def record(conn, cursor, statement: str, *args: object) -> None:
        match = WRITE.match(statement)
        if match:
            verb = match.group(1).split()[0].upper()
            writes.add((verb, match.group(2)))

    event.listen(engine, "before_cursor_execute", record)
    analyst = parse_role("analyst")
    assert review(engine, analyst, approve_id, "APPROVED", "seen", "dashboard:ana")[0]
    assert review(engine, analyst, reject_id, "REJECTED", "not ours", "dashboard:ana")[0]
    event.remove(engine, "before_cursor_execute", record)

    with engine.connect() as connection:
        states = {e.exclusion_id: e.state for e in list_exclusions(connection)}
    assert states == {approve_id: "APPROVED", reject_id: "REJECTED"}
    assert writes == {("INSERT", "exclusion_event")}
    missing = writes - granted_to_dashboard()
    assert not missing, f"infra/README.md grants the dashboard identity nothing for {missing}"


def test_the_dashboard_identity_is_no_data_writer() -> None:
    text = (ROOT / "infra" / "README.md").read_text()
    assert f"ALTER ROLE db_datareader ADD MEMBER {DASHBOARD}" in text
    assert f"ALTER ROLE db_datawriter ADD MEMBER {DASHBOARD}" not in text
    assert granted_to_dashboard() == {("INSERT", "exclusion_event")}
