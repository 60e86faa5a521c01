"""A funding body's list of funded chargers, as handed over (CSV, one row per charger).

It names chargers by operator, address, postcode and coordinates, rarely by EVSE id. A bad row
is reported with file, line and reason while the good rows go on to matching; a file that is not
a UTF-8 CSV, or lacks a required column, is refused as a whole.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from shared.csv_safety import looks_like_formula
from shared.sites import (
    DECIMAL,
    LATITUDE_RANGE,
    LONGITUDE_RANGE,
    POSTCODE,
    SitesFileRefused,
    decode_csv,
)

REQUIRED_COLUMNS = ("address", "postcode", "latitude", "longitude", "program")
# cpo_id, when present, names our CPO directly; cpo_name is the operator's name as the funder
# writes it; evse_id, when filled, is an EVSE uid of our static sites.
OPTIONAL_COLUMNS = ("cpo_id", "cpo_name", "evse_id", "suburb", "state", "round", "lga_name")
MAX_FIELD_CHARS = 500
MAX_PROGRAM_CHARS = 200
MAX_ROUND_CHARS = 64


class FundedListRefused(ValueError):
    """The whole file cannot be read as a funded-charger list."""


class FundedCharger(BaseModel):
    """One row of a funded-charger list, cleaned."""

    model_config = ConfigDict(frozen=True)

    source: str
    line: int
    program: str
    round: str | None = None
    cpo_id: str | None = None
    cpo_name: str | None = None
    evse_id: str | None = None
    address: str | None = None
    suburb: str | None = None
    postcode: str | None = None
    state: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def listed_address(self) -> str:
        """The address as the list gives it, on one line."""
        parts = [self.address, self.suburb, " ".join(p for p in (self.state, self.postcode) if p)]
        return ", ".join(p for p in parts if p)


@dataclass(slots=True)
class FundedList:
    source: str
    rows: list[FundedCharger] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file:line: reason"


def _text(row: dict[str, str], column: str, limit: int = MAX_FIELD_CHARS) -> str | None:
    value = " ".join((row.get(column) or "").split())
    if not value:
        return None
    if len(value) > limit:
        raise ValueError(f"{column}: longer than {limit} characters")
    if not value.isprintable():
        raise ValueError(f"{column}: contains control characters")
    # Values travel on into CSV downloads; a leading = + @ would run as a spreadsheet formula.
    if looks_like_formula(value):
        raise ValueError(f"{column}: {value[:20]!r} looks like a spreadsheet formula")
    return value


def _coordinate(row: dict[str, str], column: str, low: float, high: float) -> float | None:
    raw = _text(row, column)
    if raw is None:
        return None
    if not DECIMAL.fullmatch(raw):  # float() also reads other scripts' digits
        raise ValueError(f"{column}: {raw[:40]!r} is not a number")
    value = float(raw)
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{column}: {raw} is outside Australia ({low}..{high})")
    return value


def clean_row(row: dict[str, str], source: str, line: int) -> FundedCharger:
    """One CSV row → a ``FundedCharger``; raises ValueError naming the column."""
    program = _text(row, "program", MAX_PROGRAM_CHARS)
    if program is None:
        raise ValueError("program: required, empty")
    if "," in program:
        raise ValueError(f"program: {program!r} contains ',', which separates programs in reports")
    postcode = _text(row, "postcode")
    if postcode is not None and not POSTCODE.fullmatch(postcode):
        raise ValueError(f"postcode: {postcode!r} is not a 4-digit Australian postcode")
    latitude = _coordinate(row, "latitude", *LATITUDE_RANGE)
    longitude = _coordinate(row, "longitude", *LONGITUDE_RANGE)
    if (latitude is None) != (longitude is None):
        raise ValueError("latitude, longitude: give both or neither")
    address = _text(row, "address")
    evse_id = _text(row, "evse_id")
    if latitude is None and address is None and evse_id is None:
        raise ValueError("latitude, longitude, address: empty; a row needs a place to match")
    state = _text(row, "state")
    return FundedCharger(
        source=source,
        line=line,
        program=program,
        round=_text(row, "round", MAX_ROUND_CHARS),
        cpo_id=_text(row, "cpo_id"),
        cpo_name=_text(row, "cpo_name"),
        evse_id=evse_id,
        address=address,
        suburb=_text(row, "suburb"),
        postcode=postcode,
        state=state.upper() if state else None,
        latitude=latitude,
        longitude=longitude,
    )


def read_funded_list(data: bytes, source: str) -> FundedList:
    """Parse a funded-charger CSV; good rows in ``rows``, every bad row in ``problems``."""
    try:
        text = decode_csv(data, source)
    except SitesFileRefused as exc:
        raise FundedListRefused(str(exc)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise FundedListRefused(f"{source}:1: not a CSV header ({exc})") from None
    if not header:
        raise FundedListRefused(f"{source}: empty file, expected a header row")
    names = [name.strip().lower() for name in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        raise FundedListRefused(
            f"{source}:1: missing required column(s): {', '.join(missing)}"
            f" (a funded-charger list has {', '.join(REQUIRED_COLUMNS)}"
            f" and optionally {', '.join(OPTIONAL_COLUMNS)})"
        )
    if len(set(names)) != len(names):
        raise FundedListRefused(f"{source}:1: repeated column name in header")
    reader.fieldnames = names
    result = FundedList(source)
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(value is None for value in row.values()):
                result.problems.append(
                    f"{source}:{line}: expected {len(names)} fields, got a different count"
                )
                continue
            if not any((value or "").strip() for value in row.values()):
                continue  # a blank line of a spreadsheet export
            try:
                result.rows.append(clean_row(row, source, line))
            except ValueError as exc:
                result.problems.append(f"{source}:{line}: {exc}")
    except csv.Error as exc:
        raise FundedListRefused(f"{source}:{reader.line_num}: not valid CSV ({exc})") from None
    return result
