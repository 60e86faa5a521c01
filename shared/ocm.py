"""Open Charge Map JSON export → our static site CSV rows (spec section 5).

Data derived from Open Charge Map is CC BY 4.0: every output carries the attribution.
Real exports are messy, so each oddity becomes a warning and the row is kept where it can be.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.sites import LATITUDE_RANGE, LONGITUDE_RANGE, POSTCODE, STATES

ATTRIBUTION = "Contains data from Open Charge Map (https://openchargemap.org), CC BY 4.0"
MAX_EXPORT_BYTES = 512 * 1024 * 1024
MAX_QUANTITY = 50

# Open Charge Map ConnectionTypeID → OCPI 2.2.1 ConnectorType.
CONNECTION_TYPES: dict[int, str] = {
    1: "IEC_62196_T1",  # J1772 / Type 1
    2: "CHADEMO",
    8: "TESLA_R",  # Tesla Roadster
    25: "IEC_62196_T2",  # Type 2 socket
    27: "TESLA_S",  # Tesla Supercharger
    28: "DOMESTIC_F",  # CEE 7/4 Schuko
    29: "DOMESTIC_I",  # AS/NZS 3112, the Australian domestic plug
    30: "TESLA_S",  # Tesla Model S/X
    32: "IEC_62196_T1_COMBO",  # CCS Type 1
    33: "IEC_62196_T2_COMBO",  # CCS Type 2
    1036: "IEC_62196_T2",  # Type 2 tethered
}
# Open Charge Map CurrentTypeID → OCPI PowerType.
CURRENT_TYPES: dict[int, str] = {10: "AC_1_PHASE", 20: "AC_3_PHASE", 30: "DC"}

STATE_NAMES: dict[str, str] = {
    "ACT": "ACT",
    "AUSTRALIAN CAPITAL TERRITORY": "ACT",
    "CANBERRA": "ACT",
    "NSW": "NSW",
    "N.S.W.": "NSW",
    "N.S.W": "NSW",
    "NEW SOUTH WALES": "NSW",
    "NT": "NT",
    "N.T.": "NT",
    "NORTHERN TERRITORY": "NT",
    "QLD": "QLD",
    "QUEENSLAND": "QLD",
    "SA": "SA",
    "S.A.": "SA",
    "SOUTH AUSTRALIA": "SA",
    "TAS": "TAS",
    "TASMANIA": "TAS",
    "VIC": "VIC",
    "VICTORIA": "VIC",
    "WA": "WA",
    "W.A.": "WA",
    "WESTERN AUSTRALIA": "WA",
}


class OcmExportRefused(ValueError):
    """The file is not an Open Charge Map JSON export."""


@dataclass(slots=True)
class OcmConversion:
    rows: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped_pois: int = 0


def state_from_postcode(postcode: str) -> str | None:
    """The state or territory that an Australian postcode belongs to (Australia Post ranges)."""
    if not POSTCODE.fullmatch(postcode):
        return None
    code = int(postcode)
    if 200 <= code <= 299 or 2600 <= code <= 2618 or 2900 <= code <= 2920:
        return "ACT"
    if 800 <= code <= 999:
        return "NT"
    if 1000 <= code <= 2999:
        return "NSW"
    if 3000 <= code <= 3999 or 8000 <= code <= 8999:
        return "VIC"
    if 4000 <= code <= 4999 or 9000 <= code <= 9999:
        return "QLD"
    if 5000 <= code <= 5999:
        return "SA"
    if 6000 <= code <= 6999:
        return "WA"
    if 7000 <= code <= 7999:
        return "TAS"
    return None


def normalise_state(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    return STATE_NAMES.get(
        " ".join(raw.replace(".", ". ").split()).upper().replace(". ", ".").strip()
    )


def _clean(value: object, limit: int = 200) -> str:
    text = " ".join(str(value).split()) if value is not None else ""
    text = "".join(ch for ch in text if ch.isprintable())[:limit]
    # Neutralise spreadsheet formulas in free text taken from a public crowd-sourced database.
    return text.lstrip("=+@-") if text[:1] in "=+@-" else text


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,18}", value.strip()):
        return int(value.strip())
    return None


def convert_poi(poi: object, index: int, cpo_prefix: str = "OCM") -> OcmConversion:
    """One OCM POI → connector rows (one EVSE per connection and unit of ``Quantity``)."""
    out = OcmConversion()
    where = f"POI #{index}"
    if not isinstance(poi, dict):
        out.warnings.append(f"{where}: not an object, skipped")
        out.skipped_pois += 1
        return out
    poi_id = _int(poi.get("ID"))
    if poi_id is None:
        out.warnings.append(f"{where}: no numeric ID, skipped")
        out.skipped_pois += 1
        return out
    where = f"POI {poi_id}"
    address = poi.get("AddressInfo")
    if not isinstance(address, dict):
        out.warnings.append(f"{where}: no AddressInfo, skipped")
        out.skipped_pois += 1
        return out
    lat, lon = address.get("Latitude"), address.get("Longitude")
    if not (
        isinstance(lat, int | float)
        and isinstance(lon, int | float)
        and math.isfinite(lat)
        and math.isfinite(lon)
        and LATITUDE_RANGE[0] <= lat <= LATITUDE_RANGE[1]
        and LONGITUDE_RANGE[0] <= lon <= LONGITUDE_RANGE[1]
    ):
        out.warnings.append(f"{where}: coordinates {lat}, {lon} outside Australia, skipped")
        out.skipped_pois += 1
        return out
    postcode = _clean(address.get("Postcode"), 10).strip()
    postcode = postcode.zfill(4) if re.fullmatch(r"[0-9]{3}", postcode) else postcode
    by_postcode = state_from_postcode(postcode)
    state = normalise_state(address.get("StateOrProvince"))
    if state is None:
        if by_postcode is None:
            out.warnings.append(
                f"{where}: state {address.get('StateOrProvince')!r} and postcode {postcode!r} unknown, skipped"
            )
            out.skipped_pois += 1
            return out
        if address.get("StateOrProvince"):
            out.warnings.append(
                f"{where}: state {address.get('StateOrProvince')!r} not recognised; {by_postcode} from postcode {postcode}"
            )
        state = by_postcode
    elif by_postcode is not None and by_postcode != state:
        out.warnings.append(
            f"{where}: state {state} disagrees with postcode {postcode} ({by_postcode}); kept {state}"
        )
    if not POSTCODE.fullmatch(postcode):
        out.warnings.append(f"{where}: postcode {postcode!r} is not 4 digits, skipped")
        out.skipped_pois += 1
        return out
    assert state in STATES
    operator = _int(poi.get("OperatorID"))
    cpo_id = f"{cpo_prefix}-OP{operator}" if operator is not None else f"{cpo_prefix}-UNKNOWN"
    site_id = f"OCM-{poi_id}"
    title = _clean(address.get("Title")) or site_id
    street = _clean(address.get("AddressLine1")) or title
    suburb = _clean(address.get("Town")) or _clean(address.get("AddressLine2")) or "Unknown"
    connections = poi.get("Connections")
    if not isinstance(connections, list) or not connections:
        out.warnings.append(f"{where}: no Connections, skipped")
        out.skipped_pois += 1
        return out
    for number, connection in enumerate(connections, start=1):
        if not isinstance(connection, dict):
            out.warnings.append(f"{where}: connection {number} is not an object, skipped")
            continue
        conn_id = _int(connection.get("ID")) or number
        type_id = _int(connection.get("ConnectionTypeID"))
        standard = CONNECTION_TYPES.get(type_id) if type_id is not None else None
        current = _int(connection.get("CurrentTypeID"))
        power_type = CURRENT_TYPES.get(current) if current is not None else None
        power = connection.get("PowerKW")
        if standard is None:
            out.warnings.append(
                f"{where}: connection {conn_id} has unknown ConnectionTypeID {type_id}; kept as IEC_62196_T2"
            )
            standard = "IEC_62196_T2"
        if power_type is None:
            power_type = (
                "DC"
                if standard in ("CHADEMO", "IEC_62196_T2_COMBO", "IEC_62196_T1_COMBO", "TESLA_S")
                else "AC_1_PHASE"
            )
            out.warnings.append(
                f"{where}: connection {conn_id} has no CurrentTypeID; assumed {power_type}"
            )
        if not isinstance(power, int | float) or isinstance(power, bool) or not (0 < power <= 2000):
            power = 50.0 if power_type == "DC" else 7.0
            out.warnings.append(f"{where}: connection {conn_id} has no PowerKW; assumed {power} kW")
        quantity = _int(connection.get("Quantity")) or 1
        if quantity > MAX_QUANTITY:
            out.warnings.append(
                f"{where}: connection {conn_id} Quantity {quantity} capped at {MAX_QUANTITY}"
            )
            quantity = MAX_QUANTITY
        reference = _clean(connection.get("Reference"), 40)
        for unit in range(1, quantity + 1):
            evse_uid = f"OCM-{poi_id}-{conn_id}-{unit}"
            # Connections that share a Reference are one physical charger.
            charger_id = f"{site_id}-{reference}" if reference else f"{site_id}-{conn_id}-{unit}"
            out.rows.append(
                {
                    "cpo_id": cpo_id,
                    "site_id": site_id,
                    "site_name": title,
                    "address": street,
                    "suburb": suburb,
                    "state": state,
                    "postcode": postcode,
                    "latitude": round(float(lat), 6),
                    "longitude": round(float(lon), 6),
                    "charger_id": charger_id,
                    "evse_uid": evse_uid,
                    "connector_id": "1",
                    "connector_standard": standard,
                    "power_type": power_type,
                    "max_power_kw": float(power),
                    "attribution": ATTRIBUTION,
                }
            )
    return out


def convert_export(data: bytes, source: str = "export") -> OcmConversion:
    """A whole OCM export (a JSON list of POIs) → rows and warnings."""
    if len(data) > MAX_EXPORT_BYTES:
        raise OcmExportRefused(f"{source}: larger than {MAX_EXPORT_BYTES // 2**20} MiB")
    try:
        pois = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise OcmExportRefused(f"{source}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise OcmExportRefused(f"{source}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from None
    if not isinstance(pois, list):
        raise OcmExportRefused(f"{source}: expected a JSON list of POIs, got {type(pois).__name__}")
    return merge(convert_poi(poi, index) for index, poi in enumerate(pois))


def merge(parts: Iterable[OcmConversion]) -> OcmConversion:
    total = OcmConversion()
    for part in parts:
        total.rows.extend(part.rows)
        total.warnings.extend(part.warnings)
        total.skipped_pois += part.skipped_pois
    return total
