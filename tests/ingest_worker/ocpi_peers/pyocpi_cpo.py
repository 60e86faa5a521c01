"""An OCPI 2.2.1 CPO made with pyOCPI 0.3.1 (py-ocpi; run in its own virtual environment: it pins
pydantic 1 and an old FastAPI). Serves and pushes the Locations of a JSON file.

    python pyocpi_cpo.py PORT TOKEN LOCATIONS.json              # serve
    python pyocpi_cpo.py push DETAILS_URL TOKEN_C LOCATION_ID LOCATIONS.json

Environment: OCPI_HOST=127.0.0.1:PORT, COUNTRY_CODE, PARTY_ID (pyOCPI's settings).

``push`` first runs pyOCPI's own ``push_object`` (what its ``/push/2.2.1`` endpoint does), then
pyOCPI's ``send_push_request`` with the receiver's endpoints read as OCPI 2.2.1 defines them, and
prints both outcomes as JSON.
"""

import json
import sys
from pathlib import Path

import uvicorn
from py_ocpi import get_application
from py_ocpi.core.enums import Action, RoleEnum
from py_ocpi.modules.locations.v_2_2_1.schemas import Location
from py_ocpi.modules.versions.enums import VersionNumber

if sys.argv[1] == "push":
    LOCATIONS, TOKEN, PORT = Path(sys.argv[5]), "", 0
else:
    PORT, TOKEN, LOCATIONS = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])


def locations() -> list[dict]:
    return json.loads(LOCATIONS.read_text())


class Adapter:
    @classmethod
    def location_adapter(cls, data, version=VersionNumber.v_2_2_1):
        return Location(**data)


class Store:
    @classmethod
    async def get(cls, module, role, id, *args, **kwargs):
        return next((loc for loc in locations() if loc["id"].lower() == str(id).lower()), None)

    @classmethod
    async def list(cls, module, role, filters, *args, **kwargs):
        selected = locations()
        page = selected[filters["offset"] : filters["offset"] + filters["limit"]]
        return page, len(selected), filters["offset"] + filters["limit"] >= len(selected)

    @classmethod
    async def do(cls, module, role, action, *args, data=None, **kwargs):
        if action == Action.get_client_token:
            return TOKEN if kwargs.get("auth_token") == TOKEN else None
        return None


app = get_application(
    version_numbers=[VersionNumber.v_2_2_1],
    roles=[RoleEnum.cpo],
    crud=Store,
    adapter=Adapter,
    http_push=True,
)


async def push(details_url: str, token_c: str, location_id: str) -> dict:
    import base64

    import httpx
    from py_ocpi.core.enums import ModuleID
    from py_ocpi.core.push import push_object, send_push_request
    from py_ocpi.core.schemas import Push

    outcome: dict = {}
    order = Push(
        module_id=ModuleID.locations,
        object_id=location_id,
        receivers=[{"endpoints_url": details_url, "auth_token": token_c}],
    )
    try:
        result = await push_object(VersionNumber.v_2_2_1, order, Store, Adapter)
        outcome["push_object"] = {"ok": True, "result": result.dict()}
    except Exception as exc:  # noqa: BLE001 - pyOCPI's own failure, reported to the test
        outcome["push_object"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    auth = "Token " + base64.b64encode(token_c.encode()).decode()
    async with httpx.AsyncClient() as client:
        details = (await client.get(details_url, headers={"authorization": auth})).json()
    response = await send_push_request(
        location_id,
        await Store.get(None, None, location_id),
        ModuleID.locations,
        Adapter,
        auth,
        details["data"]["endpoints"],
    )
    outcome["send_push_request"] = {
        "url": str(response.request.url),
        "status": response.status_code,
        "body": response.json(),
    }
    return outcome


if __name__ == "__main__":
    if sys.argv[1] == "push":
        import asyncio

        print(json.dumps(asyncio.run(push(sys.argv[2], sys.argv[3], sys.argv[4]))))
    else:
        uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
