"""The exclusions review page: who may see and do what (one gate, tested directly), and in real
Chromium an analyst approving and rejecting, a state's government viewer reading the approved
ones of their state only, and a public visitor finding no such page."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from report_app.pages.exclusions import (
    exclusion_access,
    review,
    reviewer_name,
    scope_states,
    visible,
)
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.exclusions import (
    SiteScopes,
    approve,
    check_proposal,
    get_exclusion,
    history,
    list_exclusions,
    propose,
)
from shared.jurisdictions import parse_role
from shared.settings import Settings
from shared.sites import REQUIRED_COLUMNS, read_static_sites
from tests.conftest import ROOT, free_port

ANALYST, NSW, WA, PUBLIC = (
    parse_role(r) for r in ("analyst", "government:NSW", "government:WA", "public")
)


def sites_csv() -> bytes:
    def line(
        cpo: str, site: str, state: str, postcode: str, lat: float, lon: float, evse: str
    ) -> str:
        return (f"{cpo},{site},Site {site},1 Main St,Town,{state},{postcode},{lat},{lon},C-{site},"
                f"{evse},1,IEC_62196_T2,AC_3_PHASE,22")  # fmt: skip

    lines = [
        ",".join(REQUIRED_COLUMNS),
        line("ACME", "S-NSW", "NSW", "2580", -34.75, 149.72, "E-NSW"),
        line("ACME", "S-WA", "WA", "6000", -31.95, 115.86, "E-WA"),
    ]
    return ("\n".join(lines) + "\n").encode()


def seed(settings: Settings) -> dict[str, str]:
    """Static sites in NSW and WA and four exclusions: NSW and WA approved, two proposed."""
    upgrade(settings.database_url)
    store = LocalBlobStore(settings.blob_dir)
    store.put("static/sites/sites.csv", sites_csv())
    scopes = SiteScopes.from_connectors(read_static_sites(store).connectors)
    now = datetime.now(UTC)

    def window(scope: str, scope_id: str, days: int, cause: str) -> object:
        return check_proposal(
            cpo_id="ACME", scope=scope, scope_id=scope_id, cause=cause, scopes=scopes,
            from_at=(now - timedelta(days=days)).isoformat(),
            to_at=(now - timedelta(days=days - 1)).isoformat(),
        )  # fmt: skip

    engine = make_engine(settings.database_url)
    try:
        ids = dict(
            zip(
                ["nsw_approved", "wa_approved", "proposed_a", "proposed_b"],
                propose(
                    engine,
                    [
                        window("site", "S-NSW", 10, "UTILITY_INTERRUPTION"),
                        window("evse", "E-WA", 9, "VANDALISM"),
                        window("evse", "E-NSW", 5, "VEHICLE_FAULT"),
                        window("charger", "C-S-WA", 4, "NATURAL_DISASTER"),
                    ],
                    "cpo:ACME",
                ),
                strict=True,
            )
        )
        approve(engine, ids["nsw_approved"], "cli:lead")
        approve(engine, ids["wa_approved"], "cli:lead")
    finally:
        engine.dispose()
    return ids


@pytest.fixture
def seeded(settings: Settings, engine: Engine) -> dict[str, str]:
    return seed(settings)


def test_one_gate_decides_who_does_what() -> None:
    assert [exclusion_access(v) for v in (ANALYST, NSW, WA, PUBLIC)] == [
        "review",
        "read",
        "read",
        "none",
    ]
    assert exclusion_access(parse_role("government:NSW,WA")) == "read"


def test_each_viewer_sees_what_they_may(
    settings: Settings, engine: Engine, seeded: dict[str, str]
) -> None:
    with engine.connect() as connection:
        items = list_exclusions(connection)
    states = scope_states(read_static_sites(LocalBlobStore(settings.blob_dir)).connectors)
    assert states[("ACME", "charger", "C-S-WA")] == "WA"
    ids = lambda shown: {x.exclusion_id for x in shown}  # noqa: E731
    assert ids(visible(items, ANALYST, states)) == set(seeded.values())
    assert ids(visible(items, NSW, states)) == {seeded["nsw_approved"]}
    assert ids(visible(items, WA, states)) == {seeded["wa_approved"]}
    assert ids(visible(items, parse_role("government:NSW,WA"), states)) == {
        seeded["nsw_approved"],
        seeded["wa_approved"],
    }
    assert visible(items, PUBLIC, states) == []
    # An exclusion whose scope the static CSVs no longer list belongs to no state.
    assert visible(items, NSW, {}) == []


def test_only_a_reviewer_decides(engine: Engine, seeded: dict[str, str]) -> None:
    eid = seeded["proposed_a"]
    for viewer in (NSW, PUBLIC):
        assert review(engine, viewer, eid, "APPROVED", "", "dashboard:x") == (
            False,
            "Only analysts review exclusions.",
        )
    assert review(engine, ANALYST, eid, "REJECTED", " ", "dashboard:ana") == (
        False,
        "reason: a rejection needs a reason",
    )
    assert review(engine, ANALYST, "", "APPROVED", "", "dashboard:ana")[0] is False
    done, text = review(engine, ANALYST, eid, "APPROVED", "photos seen", "dashboard:ana")
    assert done and text == f"{eid} is now APPROVED (by dashboard:ana)."
    done, text = review(engine, ANALYST, eid, "APPROVED", "", "dashboard:ana")
    assert not done and "is APPROVED; only a PROPOSED exclusion can be approved" in text
    with engine.connect() as connection:
        assert [e.state for e in history(connection, eid)] == ["PROPOSED", "APPROVED"]


def test_reviewer_name() -> None:
    behind = Settings(_env_file=None, behind_azure_auth=True)
    headers = {"X-MS-CLIENT-PRINCIPAL-NAME": "ana@energy.nsw.gov.au"}
    assert reviewer_name(headers, behind) == "dashboard:ana@energy.nsw.gov.au"
    assert (
        reviewer_name({"x-ms-client-principal-name": "a\x00b"}, behind) == "dashboard:unnamed user"
    )
    # Without Azure auth in front anyone could send the header: it is not believed.
    assert reviewer_name(headers, Settings(_env_file=None)) == "dashboard:developer"


def test_scope_states_of_an_empty_site_list() -> None:
    empty = pd.DataFrame(columns=["cpo_id", "evse_uid", "charger_id", "site_id", "state"])
    assert scope_states(empty) == {}


# In Chromium ---------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip


def signed_in(role: str, name: str = "someone@example.org") -> dict[str, str]:
    claims = {"auth_typ": "aad", "claims": [{"typ": "roles", "val": role}]}
    return {
        "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(claims).encode()).decode(),
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
        "X-MS-CLIENT-PRINCIPAL-NAME": name,
    }


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium")
    data_dir = tmp_path_factory.mktemp("exclusions_page") / "var"
    settings = Settings(_env_file=None, data_dir=data_dir)
    ids = seed(settings)
    port = free_port()
    env = {**os.environ, "CAL_DATA_DIR": str(data_dir), "CAL_BEHIND_AZURE_AUTH": "true"}
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "report_app.app:app", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert process.poll() is None, (data_dir / "server.log").read_text()
        assert time.monotonic() < deadline, "the app did not start in 60 s"
        time.sleep(0.2)
    yield {"url": f"http://127.0.0.1:{port}/", "ids": ids, "settings": settings}
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_page(chromium, url: str, headers: dict[str, str]):
    page = chromium.new_context(extra_http_headers=headers).new_page()
    page.goto(url)
    page.wait_for_function("() => window.Shiny && Shiny.shinyapp && Shiny.shinyapp.isConnected()")
    return page


def state_now(settings: Settings, exclusion_id: str) -> tuple[str, str | None, str | None]:
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            found = get_exclusion(connection, exclusion_id)
        return found.state, found.reviewed_by, found.reason
    finally:
        engine.dispose()


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_analyst_reviews_in_the_browser(dashboard, chromium) -> None:
    ids = dashboard["ids"]
    page = open_page(chromium, dashboard["url"], signed_in("analyst", "ana@example.org"))
    page.locator("a.nav-link", has_text="Exclusions").click()
    proposed = page.locator("#exclusions-proposed-table")
    proposed.wait_for(timeout=30_000)
    assert proposed.locator("tbody tr").count() == 2
    assert page.locator("#exclusions-approved-table tbody tr").count() == 2
    page.wait_for_function(
        "() => document.querySelectorAll('#exclusions-chosen option').length === 2", timeout=30_000
    )

    page.select_option("#exclusions-chosen", ids["proposed_b"])
    page.locator("#exclusions-reject").click()  # no reason: refused, nothing changes
    page.locator("#exclusions-outcome-message", has_text="a rejection needs a reason").wait_for()
    assert state_now(dashboard["settings"], ids["proposed_b"])[0] == "PROPOSED"
    page.fill("#exclusions-reason", "the storm was in another state")
    page.locator("#exclusions-reject").click()
    page.locator(
        "#exclusions-outcome-message", has_text=f"{ids['proposed_b']} is now REJECTED"
    ).wait_for()
    assert state_now(dashboard["settings"], ids["proposed_b"]) == (
        "REJECTED",
        "dashboard:ana@example.org",
        "the storm was in another state",
    )
    page.locator("#exclusions-closed-table tbody tr").first.wait_for()

    page.select_option("#exclusions-chosen", ids["proposed_a"])
    page.locator("#exclusions-approve").click()
    page.locator(
        "#exclusions-outcome-message", has_text=f"{ids['proposed_a']} is now APPROVED"
    ).wait_for()
    page.locator("#exclusions-proposed-table-empty").wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('#exclusions-approved-table tbody tr').length === 3"
    )
    assert state_now(dashboard["settings"], ids["proposed_a"])[:2] == (
        "APPROVED",
        "dashboard:ana@example.org",
    )
    page.context.close()


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_government_reads_approved_ones_of_its_state(dashboard, chromium) -> None:
    ids = dashboard["ids"]
    page = open_page(chromium, dashboard["url"], signed_in("government:WA"))
    page.locator("a.nav-link", has_text="Exclusions").click()
    table = page.locator("#exclusions-approved-table")
    table.wait_for(timeout=30_000)
    assert table.locator("tbody tr").count() == 1
    assert ids["wa_approved"] in table.inner_text()
    assert ids["nsw_approved"] not in page.content()
    assert ids["proposed_b"] not in page.content()
    for control in (
        "#exclusions-approve",
        "#exclusions-reject",
        "#exclusions-proposed",
        "#exclusions-chosen",
    ):
        assert page.locator(control).count() == 0
    page.context.close()


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_public_has_no_exclusions_page(dashboard, chromium) -> None:
    page = open_page(chromium, dashboard["url"], {})
    assert page.locator("#role").inner_text() == "role: public"
    assert "Exclusions" not in page.locator("a.nav-link").all_inner_texts()
    assert dashboard["ids"]["nsw_approved"] not in page.content()
    page.context.close()
