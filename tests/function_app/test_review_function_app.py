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


# Fixed: the month must match YYYY-MM exactly (no trailing newline) with a year from 2000 to 2999.
@pytest.mark.parametrize("month", ["2026-10\n", "0000-01", "9999-12"])
def test_http_rerun_refuses_hostile_months(app_module, month: str) -> None:  # noqa: F811
    rerun = functions(app_module)["monthly_rerun"].get_user_function()
    response = rerun(func.HttpRequest("GET", "/api/monthly", params={"month": month}, body=b""))
    assert response.status_code == 400
    assert "expected YYYY-MM" in json.loads(response.get_body())["error"]
    blobs = Path(app_module.get_settings().blob_dir)
    assert not list(blobs.glob("processed/monthly/*/manifest.json"))
