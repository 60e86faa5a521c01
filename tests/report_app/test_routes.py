"""Every route of the dashboard per role, through a real server on loopback: the page each role
gets (panels, choice lists), and each published report file and hand-made URL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bench import dashboard_data as generate
from shared.blobstore import LocalBlobStore
from tests.report_app.serve import ROLE_STATES, ROLES, headers_for, principal, start_app, stop_app

pytestmark = pytest.mark.timeout(180)
SITES = 40
MONTHS = ("2026-09", "2026-10")
ALL = ("ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("routes") / "var"
    generate.populate(LocalBlobStore(data_dir / "blobs"), SITES, MONTHS, datetime.now(UTC))
    process, url = start_app(data_dir)
    yield url
    stop_app(process)


def get(url: str, role: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers={**headers_for(role), **headers}, timeout=30)


def state_options(html: str, input_id: str) -> set[str]:
    select = re.search(rf'<select[^>]*id="{input_id}"[^>]*>(.*?)</select>', html, re.S)
    assert select, input_id
    return set(re.findall(r'<option value="([^"]+)"', select.group(1)))


@pytest.mark.parametrize("role", ROLES)
def test_the_page_of_each_role(server: str, role: str) -> None:
    html = get(server, role).text
    label = role.replace("government:WA,SA", "government:SA,WA")
    assert f"role: {label}" in html
    panels = re.findall(r'data-value="([a-z]+)"', html)
    if role == "public":
        assert "uptime" not in panels and "reports" not in panels and "quality" not in panels
        assert state_options(html, "live-states") == set(ALL)  # the live map is public
        return
    assert {"live", "uptime", "quality", "reports"} <= set(panels)
    states = set(ROLE_STATES[role])
    assert state_options(html, "live-states") == states
    assert state_options(html, "uptime-states") == states
    for other in set(ALL) - states:
        assert f'value="{other}"' not in html, other


# (role, path) → status; everything a role may not see is 404 (public: 403), never a hint.
CASES = [
    ("analyst", "published/2026-10/report.html", 200),
    ("analyst", "published/2026-10/NSW/report.html", 200),
    ("analyst", "published/2026-10/WA/site.csv", 200),
    ("government:NSW", "published/2026-10/NSW/report.html", 200),
    ("government:NSW", "published/2026-10/NSW/site.csv", 200),
    ("government:NSW", "published/2026-10/report.html", 404),
    ("government:NSW", "published/2026-10/site.csv", 404),
    ("government:NSW", "published/2026-10/WA/report.html", 404),
    ("government:NSW", "published/2026-10/VIC/site.csv", 404),
    ("government:NSW", "published/2026-10/nsw/report.html", 404),
    ("government:NSW", "published/2026-10/NSW%2F..%2FWA/report.html", 404),
    ("government:NSW", "published/2026-10/NSW/..%2FWA%2Fsite.csv", 404),
    ("government:WA,SA", "published/2026-10/WA/report.html", 200),
    ("government:WA,SA", "published/2026-10/SA/site.csv", 200),
    ("government:WA,SA", "published/2026-10/NSW/report.html", 404),
    ("government:WA,SA", "published/2026-10/report.html", 404),
    ("public", "published/2026-10/report.html", 403),
    ("public", "published/2026-10/NSW/report.html", 403),
    ("public", "published/2026-10/WA/site.csv", 403),
]


@pytest.mark.parametrize(("role", "path", "status"), CASES)
def test_published_files_per_role(server: str, role: str, path: str, status: int) -> None:
    response = get(server + path, role)
    assert response.status_code == status, response.text[:200]
    if status != 200:
        assert "Report 2026" not in response.text and "uptime_pct" not in response.text


@pytest.mark.parametrize(("role", "state"), [("government:NSW", "NSW"), ("government:WA,SA", "WA"),
                                             ("government:WA,SA", "SA")])  # fmt: skip
def test_a_state_csv_holds_that_state_and_says_so_in_its_name(
    server: str, role: str, state: str
) -> None:
    response = get(server + f"published/2026-10/{state}/site.csv", role)
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="2026-10-{state}-site.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows and {r["state"] for r in rows} == {state}
    report = get(server + f"published/2026-10/{state}/report.html", role)
    assert f"Report 2026-10 {state}" in report.text
    assert report.headers["x-content-type-options"] == "nosniff"


def test_the_principal_counts_only_with_the_platforms_idp_header(server: str) -> None:
    forged = {"X-MS-CLIENT-PRINCIPAL": principal("analyst")}
    assert httpx.get(server + "published/2026-10/report.html", headers=forged).status_code == 403
    other_idp = {**forged, "X-MS-CLIENT-PRINCIPAL-IDP": "github"}
    assert httpx.get(server + "published/2026-10/report.html", headers=other_idp).status_code == 403
    assert "role: public" in httpx.get(server, headers=forged).text
    unknown = {
        "X-MS-CLIENT-PRINCIPAL": principal("government:XX"),
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
    }
    assert (
        httpx.get(server + "published/2026-10/NSW/report.html", headers=unknown).status_code == 403
    )
