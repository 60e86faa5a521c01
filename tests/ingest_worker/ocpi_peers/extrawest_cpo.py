"""An OCPI 2.2.1 CPO made with extrawest-ocpi (run in its own virtual environment: it pins
pydantic 1). Serves the Locations in a JSON file (re-read on every request, so a test can change
them), paginated with a page cap, filtered by ``date_from``; pushes them on request.

    python extrawest_cpo.py PORT TOKEN LOCATIONS.json PAGE_CAP

Environment: OCPI_HOST=127.0.0.1:PORT, PROTOCOL=http, COUNTRY_CODE, PARTY_ID (extrawest's settings).
"""

import json
import sys
from datetime import datetime
from pathlib import Path

import uvicorn
from py_ocpi import get_application
from py_ocpi.core.adapter import BaseAdapter
from py_ocpi.core.authentication.authenticator import Authenticator
from py_ocpi.core.crud import Crud
from py_ocpi.core.enums import ModuleID, RoleEnum
from py_ocpi.modules.versions.enums import VersionNumber

PORT, TOKEN, LOCATIONS, PAGE_CAP = (
    int(sys.argv[1]),
    sys.argv[2],
    Path(sys.argv[3]),
    int(sys.argv[4]),
)


def locations() -> list[dict]:
    return json.loads(LOCATIONS.read_text())


def updated(location: dict) -> datetime:
    return datetime.fromisoformat(location["last_updated"].replace("Z", "+00:00"))


class Tokens(Authenticator):
    @classmethod
    async def get_valid_token_c(cls) -> list[str]:
        return [TOKEN]

    @classmethod
    async def get_valid_token_a(cls) -> list[str]:
        return []


class Store(Crud):
    @classmethod
    async def get(cls, module, role, id, *args, **kwargs):
        return next((loc for loc in locations() if loc["id"].lower() == str(id).lower()), None)

    @classmethod
    async def list(cls, module, role, filters, *args, **kwargs):
        selected = locations()
        if filters.get("date_from"):
            selected = [loc for loc in selected if updated(loc) >= filters["date_from"]]
        limit = min(filters["limit"], PAGE_CAP)
        filters["limit"] = limit  # what extrawest puts into X-Limit and the next link
        page = selected[filters["offset"] : filters["offset"] + limit]
        return page, len(selected), filters["offset"] + limit >= len(selected)

    @classmethod
    async def create(cls, module, role, data, *args, **kwargs):
        return data

    @classmethod
    async def update(cls, module, role, data, id, *args, **kwargs):
        return data

    @classmethod
    async def delete(cls, module, role, id, *args, **kwargs):
        return None

    @classmethod
    async def do(cls, module, role, action, *args, data=None, **kwargs):
        return None


app = get_application(
    version_numbers=[VersionNumber.v_2_2_1],
    roles=[RoleEnum.cpo],
    crud=Store,
    modules=[ModuleID.locations],
    authenticator=Tokens,
    adapter=BaseAdapter,
    http_push=True,
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
