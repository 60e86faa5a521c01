"""The dashboard in real Chromium: every page with generated data, filters, month switch,
a site click, a CSV download, and what a public visitor can reach (nothing but the map)."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bench import dashboard_data as generate
from shared.blobstore import LocalBlobStore
from tests.report_app.serve import (
    ROLE_STATES,
    ROLES,
    headers_for,
    principal,
    start_app,
    stop_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
SITES = 40
MONTHS = ("2026-09", "2026-10")
SHOTS = Path(tempfile.gettempdir()) / "chargeatlarge-report_app-screenshots"


ANALYST = headers_for("analyst")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The app over generated blobs."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium")
    data_dir = tmp_path_factory.mktemp("report_app") / "var"
    network = generate.populate(
        LocalBlobStore(data_dir / "blobs"), SITES, MONTHS, datetime.now(UTC)
    )
    process, url = start_app(data_dir)
    yield {"url": url, "network": network, "data_dir": data_dir}
    stop_app(process)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_page(chromium, url: str, headers: dict[str, str]):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, extra_http_headers=headers,
                                  accept_downloads=True)  # fmt: skip
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => window.Shiny && Shiny.shinyapp && Shiny.shinyapp.isConnected()")
    return page


MARKERS = ".leaflet-container path.leaflet-interactive"


def wait_for_markers(page, count: int) -> None:
    script = f"() => document.querySelectorAll('{MARKERS}').length === {count}"
    try:
        page.wait_for_function(script, timeout=30_000)
    except Exception as exc:
        drawn = page.evaluate(f"() => document.querySelectorAll('{MARKERS}').length")
        raise AssertionError(f"expected {count} markers, {drawn} drawn") from exc


def test_live_map_filters_and_site_click(server, chromium) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_page(chromium, server["url"], ANALYST)
    wait_for_markers(page, SITES)
    assert page.locator("#role").inner_text() == "role: analyst"
    assert "EVSEs in service shown" in page.locator("#shown-total").inner_text()
    assert page.locator("#data-age").inner_text().endswith("old")
    page.screenshot(path=SHOTS / "live.png", full_page=True)
    # State VIC: generated site i is in VIC when i % 8 == 1 → 1, 9, 17, 25, 33 = 5 sites
    page.locator("#live-states-selectized").fill("VIC")
    page.keyboard.press("Enter")
    wait_for_markers(page, 5)
    # the count is its own output: wait for it as for the markers
    page.wait_for_function(
        "() => (document.querySelector('#shown-total')?.textContent || '').startsWith('5 sites')",
        timeout=30_000,
    )
    page.locator(MARKERS).first.dispatch_event("click")
    page.wait_for_selector("#site-name", timeout=10_000)
    name = page.locator("#site-name").inner_text()
    index = int(name.removeprefix("Site "))
    assert index % 8 == 1, name  # a VIC site
    page.get_by_text(f"S{index:05d}-C0-E0").wait_for(timeout=10_000)  # its first EVSE
    page.screenshot(path=SHOTS / "live-site.png", full_page=True)
    page.context.close()


def test_uptime_month_switch_and_csv_download(server, chromium) -> None:
    page = open_page(chromium, server["url"], ANALYST)
    page.locator("a.nav-link", has_text="Uptime").click()
    page.get_by_text("Uptime distribution, site level, 2026-10").wait_for(timeout=20_000)
    page.select_option("#uptime-month", "2026-09")
    page.get_by_text("Uptime distribution, site level, 2026-09").wait_for(timeout=20_000)
    page.select_option("#uptime-level", "network")
    page.get_by_text("Network (CPO) figures, 2026-09").wait_for(timeout=20_000)
    page.wait_for_timeout(500)
    page.screenshot(path=SHOTS / "uptime.png", full_page=True)
    # Sort by uptime, descending. Generated uptimes rise CPA < CPB < CPC, so the view then
    # differs from the stored (alphabetical) order and the CSV must follow the view.
    cells = page.locator("#uptime-figures tbody tr td:first-child")
    for _ in range(3):
        page.locator("#uptime-figures th", has_text="Uptime (%)").first.click()
        page.wait_for_timeout(700)
        if cells.all_inner_texts() == ["CPC", "CPB", "CPA"]:
            break
    on_screen = cells.all_inner_texts()
    assert on_screen == ["CPC", "CPB", "CPA"]
    with page.expect_download() as download_info:
        page.locator("#uptime-download").click()
    download = download_info.value
    assert download.suggested_filename == "network-2026-09.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [r["cpo_id"] for r in rows] == on_screen
    assert list(rows[0])[:4] == ["cpo_id", "site_count", "evse_count", "uptime_pct"]
    # the CSV holds the figures of the stored network table, rounded as shown
    tables = generate.month_tables(server["network"], "2026-09", seed=10)
    expected = tables["network"].set_index("cpo_id")
    for row in rows:
        assert float(row["uptime_pct"]) == round(expected.loc[row["cpo_id"], "uptime_pct"], 2)
        assert float(row["coverage_pct"]) == round(expected.loc[row["cpo_id"], "coverage_pct"], 2)
    page.context.close()


def test_quality_and_reports_pages(server, chromium) -> None:
    page = open_page(chromium, server["url"], ANALYST)
    page.locator("a.nav-link", has_text="Data quality").click()
    page.get_by_text("connection refused").wait_for(timeout=20_000)
    # Each output renders on its own: wait for these two before reading them.
    page.locator("#quality-unmatched").get_by_text("GHOST-1").wait_for(timeout=20_000)
    page.locator("#quality-quarantine_note").get_by_text("quarantine counts").wait_for(
        timeout=20_000
    )
    assert "GHOST-1" in page.locator("#quality-unmatched").inner_text()
    assert "quarantine counts" in page.locator("#quality-quarantine_note").inner_text()
    page.screenshot(path=SHOTS / "quality.png", full_page=True)
    page.locator("a.nav-link", has_text="Reports").click()
    page.wait_for_selector("#reports-table")
    href = page.locator("#reports-table a", has_text="Open report").first.get_attribute("href")
    assert href == "published/2026-10/report.html"  # the national report, for analysts
    report = page.context.request.get(server["url"] + href)
    assert report.status == 200 and "Report 2026-10" in report.text()
    page.context.close()


def test_public_visitor_reaches_no_government_figure(server, chromium) -> None:
    page = open_page(chromium, server["url"], {})
    wait_for_markers(page, SITES)
    assert page.locator("#role").inner_text() == "role: public"
    assert page.locator("a.nav-link").all_inner_texts() == ["Live status"]
    assert "uptime" not in page.content().lower().replace("uptime &amp;", "")
    session_id = page.evaluate("() => Shiny.shinyapp.config.sessionId")
    for path in ["published/2026-10/report.html", "published/2026-10/site.csv",
                 f"session/{session_id}/download/uptime-download?w="]:  # fmt: skip
        response = page.context.request.get(server["url"] + path)
        assert response.status in (403, 404), path
        assert "uptime_pct" not in response.text() and "Report 2026-10" not in response.text()
    # a forged principal without a known role, and a dev role, change nothing
    forged = httpx.get(server["url"] + "published/2026-10/site.csv",
                       headers={"X-MS-CLIENT-PRINCIPAL": principal("admin")})  # fmt: skip
    assert forged.status_code == 403
    page.context.close()


def test_map_refreshes_when_the_snapshot_changes(server, chromium) -> None:
    page = open_page(chromium, server["url"], ANALYST)
    wait_for_markers(page, SITES)
    assert page.locator("#count-all_available").inner_text() != str(SITES)
    status = generate.live_status(server["network"], datetime.now(UTC))
    everything_free = status.assign(status="AVAILABLE", category="AVAILABLE", stale=False)
    generate.write_live(LocalBlobStore(server["data_dir"] / "blobs"), everything_free)
    # the module-level poll notices the new blob and redraws without a page reload
    try:
        page.wait_for_function(
            f"() => document.querySelector('#count-all_available').textContent === '{SITES}'",
            timeout=30_000,
        )
    except Exception as exc:
        shown = page.locator("#count-all_available").inner_text()
        raise AssertionError(f"all-available count {shown}, expected {SITES}") from exc
    # Counts and markers are separate outputs: wait for the markers as well, never assume them.
    green = (
        f"() => [...document.querySelectorAll('{MARKERS}')].filter("
        "p => p.getAttribute('fill') === '#1a9850').length"
    )
    try:
        page.wait_for_function(f"() => ({green})() === {SITES}", timeout=30_000)
    except Exception as exc:
        raise AssertionError(f"{page.evaluate(green)} green markers, expected {SITES}") from exc
    page.context.close()


def test_hostile_report_paths_are_refused(server) -> None:
    for path in ["published/2026-10/..%2F..%2Fstatic%2Fsites%2Fgenerated.csv",
                 "published/..%2Fprocessed/report.html", "published/2026-10/manifest.json",
                 "published/2026-10/report.HTML", "published/2026-13/report.html"]:  # fmt: skip
        response = httpx.get(server["url"] + path, headers=ANALYST)
        assert response.status_code == 404, path


def test_empty_store_explains_itself(tmp_path, chromium) -> None:
    process, url = start_app(tmp_path / "var")
    try:
        page = open_page(chromium, url, ANALYST)
        notes = page.locator("#live-notes")
        notes.get_by_text("No live data yet: live/status.parquet has not been written").wait_for()
        notes.get_by_text("No static site lists under static/sites/").wait_for()
        assert page.locator("#data-age").inner_text() == "no status received yet"
        page.locator("a.nav-link", has_text="Uptime").click()
        page.get_by_text("No months have been processed yet").wait_for(timeout=20_000)
        page.locator("a.nav-link", has_text="Data quality").click()
        page.get_by_text("No feed health yet").wait_for(timeout=20_000)
        page.locator("a.nav-link", has_text="Reports").click()
        page.get_by_text("No report has been published yet").wait_for(timeout=20_000)
        page.screenshot(path=SHOTS / "empty.png", full_page=True)
        page.context.close()
    finally:
        stop_app(process)


def download_rows(page, button: str) -> tuple[str, list[dict]]:
    with page.expect_download(timeout=30_000) as download_info:
        page.locator(button).click()
    download = download_info.value
    return download.suggested_filename, list(
        csv.DictReader(io.StringIO(Path(download.path()).read_text()))
    )


def uptime(evse) -> float:
    """Spec 4's uptime of summed minutes, written out here (not the code under test)."""
    up = evse[["available_minutes", "in_use_minutes", "reserved_minutes"]].to_numpy().sum()
    return 100 * up / evse["known_minutes"].sum()


def wait_for_text(locator, text: str, absent: bool = False) -> None:
    locator.get_by_text(text).first.wait_for(state="detached" if absent else "visible",
                                             timeout=30_000)  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_and_downloads_only_its_states(server, chromium, role: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    states = ROLE_STATES[role]
    evses = server["network"].evses
    page = open_page(chromium, server["url"], headers_for(role))
    site_count = evses[evses["state"].isin(states)]["site_id"].nunique()
    wait_for_markers(page, site_count)  # the live map of a government user: their states
    slug = role.replace(":", "-").replace(",", "-")
    page.screenshot(path=SHOTS / f"live-{slug}.png", full_page=True)
    session_id = page.evaluate("() => Shiny.shinyapp.config.sessionId")
    if role == "public":
        assert page.locator("a.nav-link").all_inner_texts() == ["Live status"]
        for path in ("published/2026-10/NSW/report.html", "published/2026-10/report.html",
                     f"session/{session_id}/download/uptime-download?w=",
                     f"session/{session_id}/download/uptime-download_outages?w="):  # fmt: skip
            response = page.context.request.get(server["url"] + path)
            assert response.status in (403, 404), path
            assert "uptime_pct" not in response.text() and "Report 2026" not in response.text()
        page.context.close()
        return
    page.locator("a.nav-link", has_text="Uptime").click()
    page.get_by_text("Uptime distribution, site level, 2026-10").wait_for(timeout=30_000)
    # choice lists name the viewer's states only
    options = page.evaluate("() => [...document.querySelectorAll('#uptime-states option')]"
                            ".map(o => o.value)")  # fmt: skip
    offered = page.evaluate(
        "() => Object.keys(document.querySelector('#uptime-states').selectize.options)"
    )
    assert set(offered) == set(states) and set(options) <= set(states)
    # the site table and its CSV: the viewer's states only
    name, sites = download_rows(page, "#uptime-download")
    assert name == f"site-2026-10{'' if role == 'analyst' else '-' + '-'.join(sorted(states))}.csv"
    assert {r["state"] for r in sites} == set(states)
    assert "uptime_pct" in sites[0] and "Uptime (%)" not in sites[0]  # CSV: the spec's names
    page.locator("#uptime-views a.nav-link", has_text="Outages").click()
    _, outages = download_rows(page, "#uptime-download_outages")
    assert {r["state"] for r in outages} <= set(states)
    page.locator("#uptime-views a.nav-link", has_text="Funded sites").click()
    _, funded = download_rows(page, "#uptime-download_funded")
    assert funded and {r["state"] for r in funded} <= set(states)
    # the map tab draws the viewer's LGAs and sites only
    page.locator("#uptime-views a.nav-link", has_text="Map by LGA").click()
    page.get_by_text("Uptime by LGA and site, 2026-10").wait_for(timeout=30_000)
    drawn = page.evaluate("() => JSON.stringify(document.getElementById('uptime-map_plot').data"
                          ".map(t => t.hovertext || []))")  # fmt: skip
    evses = server["network"].evses
    for name in set(evses[~evses["state"].isin(states)]["lga_name"]):
        assert f"{name}:" not in drawn, name
    for name in set(evses[evses["state"].isin(states)]["lga_name"]):
        assert f"{name}:" in drawn, name
    page.locator("#uptime-views a.nav-link", has_text="Figures").click()
    # network figures over the viewer's EVSEs, with the engine's formulas
    page.select_option("#uptime-level", "network")
    page.get_by_text("Network (CPO) figures, 2026-10").wait_for(timeout=30_000)
    # the table is its own output: wait until it shows the network rows
    first_header = "#uptime-figures thead th"
    page.locator(first_header).first.filter(has_text="Network (CPO)").wait_for(timeout=30_000)
    # the table shows words with units, not field names
    page.locator("#uptime-figures th", has_text="Uptime (%)").first.wait_for(timeout=30_000)
    page.screenshot(path=SHOTS / f"uptime-{slug}.png", full_page=True)
    _, networks = download_rows(page, "#uptime-download")
    october = generate.month_tables(server["network"], "2026-10", seed=11)["evse"]
    inside = october[october["state"].isin(states)]
    assert sorted(r["cpo_id"] for r in networks) == sorted(inside["cpo_id"].unique())
    for row in networks:
        own = inside[inside["cpo_id"] == row["cpo_id"]]
        assert float(row["uptime_pct"]) == pytest.approx(round(uptime(own), 2), abs=0.006)
        assert int(row["evse_count"]) == len(own)
    # data quality: unmatched EVSEs belong to no state, so analysts alone see them
    page.locator("a.nav-link", has_text="Data quality").click()
    if role == "analyst":
        page.locator("#quality-unmatched").get_by_text("GHOST-1").wait_for(timeout=30_000)
    else:
        page.locator("#quality-unmatched_note").get_by_text("only analysts see them").wait_for(
            timeout=30_000
        )
        assert "GHOST-1" not in page.content()
    # reports: links to the viewer's jurisdictions only
    page.locator("a.nav-link", has_text="Reports").click()
    page.wait_for_selector("#reports-table")
    hrefs = page.locator("#reports-table a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    expected_folders = {f"published/2026-10/{s}/" for s in states}
    if role == "analyst":
        assert "published/2026-10/report.html" in hrefs
    else:
        assert all(any(h.startswith(f) for f in {f"published/{m}/{s}/" for m in MONTHS
                                                 for s in states}) for h in hrefs), hrefs  # fmt: skip
    assert expected_folders <= {h.rsplit("/", 1)[0] + "/" for h in hrefs}
    page.screenshot(path=SHOTS / f"reports-{slug}.png", full_page=True)
    # hand-made URLs for another state's report and a forged state input change nothing
    for other in sorted({"NSW", "WA", "VIC"} - set(states)):
        response = page.context.request.get(server["url"] + f"published/2026-10/{other}/site.csv")
        assert response.status == 404 and f",{other}," not in response.text()
    page.locator("a.nav-link", has_text="Uptime").click()
    page.evaluate(
        "() => Shiny.setInputValue('uptime-states', ['NSW','VIC','WA','SA','QLD','TAS','ACT','NT'])"
    )
    page.select_option("#uptime-level", "site")
    page.get_by_text("Site figures, 2026-10").wait_for(timeout=30_000)
    page.locator(first_header).nth(1).filter(has_text="Site").wait_for(timeout=30_000)
    _, forged = download_rows(page, "#uptime-download")
    assert {r["state"] for r in forged} <= set(states)
    page.context.close()
