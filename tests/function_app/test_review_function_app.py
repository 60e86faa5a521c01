"""Review findings on month validation at the HTTP trigger (issue 3 review, 2026-11-23).

``MONTH_PATTERN`` (shared/metrics/period.py) is matched with ``re.match`` and ``$``, which also
matches before a trailing newline, and years 0000 / 9999 pass the pattern but break
``datetime``. A hostile ``?month=`` then either writes to a blob folder whose name ends in a
newline or ends in an unhandled ValueError (HTTP 500) instead of the 400 with clear JSON.
Strict xfails: they start failing once fixed, so the mark gets removed.
"""

import json
from pathlib import Path

import azure.functions as func
import pytest

from tests.function_app.test_function_app import app_module, functions  # noqa: F401


@pytest.mark.parametrize(
    "month",
    [
        pytest.param(
            "2026-10\n",
            marks=pytest.mark.xfail(
                strict=True, reason="bug: accepted; writes processed/monthly/2026-10\\n/"
            ),
        ),
        pytest.param(
            "0000-01",
            marks=pytest.mark.xfail(
                strict=True, raises=ValueError, reason="bug: year 0 → ValueError, HTTP 500"
            ),
        ),
        pytest.param(
            "9999-12",
            marks=pytest.mark.xfail(
                strict=True, raises=ValueError, reason="bug: year 10000 → ValueError, HTTP 500"
            ),
        ),
    ],
)
def test_http_rerun_refuses_hostile_months(app_module, month: str) -> None:  # noqa: F811
    rerun = functions(app_module)["monthly_rerun"].get_user_function()
    response = rerun(func.HttpRequest("GET", "/api/monthly", params={"month": month}, body=b""))
    assert response.status_code == 400
    assert "expected YYYY-MM" in json.loads(response.get_body())["error"]
    blobs = Path(app_module.get_settings().blob_dir)
    assert not list(blobs.glob("processed/monthly/*/manifest.json"))
