"""Static site CSVs (spec section 5): validation, storage in the blob store, and reading back.

One row per connector. A bad row — a bad value, an oversized field, bytes that are not UTF-8,
broken quoting — is reported with file, line and reason while the good rows load; a file that
is binary or UTF-16, lacks a required column or repeats one is refused as a whole.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Literal, overload
from zoneinfo import available_timezones

import pandas as pd

from shared import layout
from shared.blobstore import BlobNotFound, BlobStore
from shared.csv_safety import looks_like_formula
from shared.opening_hours import parse_opening_hours, site_time_zone

REQUIRED_COLUMNS = (
    "cpo_id",
    "site_id",
    "site_name",
    "address",
    "suburb",
    "state",
    "postcode",
    "latitude",
    "longitude",
    "charger_id",
    "evse_uid",
    "connector_id",
    "connector_standard",
    "power_type",
    "max_power_kw",
)
OPTIONAL_COLUMNS = (
    "ocpp_charge_point_id",
    "ocpp_evse_id",
    "program",
    "commissioned_on",
    "decommissioned_on",
    "attribution",
    "lga_code",
    "lga_name",
    "opening_hours",
    "time_zone",
)
# All connectors of a site must agree on these (spec 5); a site whose rows disagree is bad whole.
# An empty LGA on some rows only is not a disagreement: those rows take the site's given one.
SITE_COLUMNS = ("opening_hours", "time_zone", "lga_code", "lga_name")
LGA_COLUMNS = ("lga_code", "lga_name")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

STATES = ("ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA")
POWER_TYPES = ("AC_1_PHASE", "AC_3_PHASE", "DC")
# OCPI 2.2.1 ConnectorType (mod_locations, 8.4.7).
CONNECTOR_STANDARDS = (
    "CHADEMO",
    "CHAOJI",
    "DOMESTIC_A",
    "DOMESTIC_B",
    "DOMESTIC_C",
    "DOMESTIC_D",
    "DOMESTIC_E",
    "DOMESTIC_F",
    "DOMESTIC_G",
    "DOMESTIC_H",
    "DOMESTIC_I",
    "DOMESTIC_J",
    "DOMESTIC_K",
    "DOMESTIC_L",
    "GBT_AC",
    "GBT_DC",
    "IEC_60309_2_single_16",
    "IEC_60309_2_three_16",
    "IEC_60309_2_three_32",
    "IEC_60309_2_three_64",
    "IEC_62196_T1",
    "IEC_62196_T1_COMBO",
    "IEC_62196_T2",
    "IEC_62196_T2_COMBO",
    "IEC_62196_T3A",
    "IEC_62196_T3C",
    "NEMA_5_20",
    "NEMA_6_30",
    "NEMA_6_50",
    "NEMA_10_30",
    "NEMA_10_50",
    "NEMA_14_30",
    "NEMA_14_50",
    "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN",
    "TESLA_R",
    "TESLA_S",
)
# Mainland, Tasmania and the near islands; external territories are not in the program.
LATITUDE_RANGE = (-44.0, -9.0)
LONGITUDE_RANGE = (112.0, 154.0)
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_FIELD_CHARS = 500
MAX_REPORTED_PROBLEMS = 200
MAX_BLOB_NAME_CHARS = 120
# One CSV record (RFC 4180, as the csv module reads it): for skipping a record it refused.
_FIELD = r'(?:"[^"]*(?:""[^"]*)*"[^,\r\n]*|[^,\r\n]*)'
RECORD = re.compile(rf"{_FIELD}(?:,{_FIELD})*(?:\r\n|\n|\r|\Z)")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Digits are ASCII digits: str.isdigit() and float() also take '٢٠٠٠' or '²'.
POSTCODE = re.compile(r"[0-9]{4}")
LGA_CODE = re.compile(r"[0-9]{5}")
OCPP_EVSE_ID = re.compile(r"[0-9]{1,4}")  # the OCPP feeds' bound on EVSE numbers (0..9999)
# What float() should read: plain ASCII decimals (no '_', no other scripts' digits); nan and
# inf pass so that their range check names them.
DECIMAL = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)", re.I
)


class SitesFileRefused(ValueError):
    """The whole file cannot be read as a static site CSV."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(slots=True)
class ValidatedSites:
    source: str
    rows: list[dict[str, object]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # nothing refused, but worth saying


@dataclass(slots=True)
class StaticSites:
    """All connectors of every stored static CSV, and what was wrong with them."""

    connectors: pd.DataFrame
    problems: list[str]
    sources: list[str]


@overload
def _text(row: Mapping[str, str], column: str, required: Literal[True] = True) -> str: ...
@overload
def _text(row: Mapping[str, str], column: str, required: bool) -> str | None: ...
def _text(row: Mapping[str, str], column: str, required: bool = True) -> str | None:
    value = (row.get(column) or "").strip()
    if not value:
        if required:
            raise ValueError(f"{column}: required, empty")
        return None
    if len(value) > MAX_FIELD_CHARS:
        raise ValueError(f"{column}: longer than {MAX_FIELD_CHARS} characters")
    if not value.isprintable():
        raise ValueError(f"{column}: {_unprintable(value)}")
    if looks_like_formula(value):  # '-2+3+cmd|...' is one too; '-34.75' is not
        raise ValueError(f"{column}: {value[:20]!r} looks like a spreadsheet formula")
    return value


def _unprintable(value: str) -> str:
    # Bytes that are not UTF-8 were decoded as lone surrogates (U+DC80..U+DCFF).
    byte = next((ord(ch) - 0xDC00 for ch in value if "\udc80" <= ch <= "\udcff"), None)
    if byte is not None:
        return f"not UTF-8 (byte 0x{byte:02x}); save the file as UTF-8"
    return "contains control characters"


def _number(row: Mapping[str, str], column: str, low: float, high: float) -> float:
    raw = _text(row, column)
    if not DECIMAL.fullmatch(raw):
        raise ValueError(f"{column}: {raw[:40]!r} is not a number")
    value = float(raw)
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{column}: {raw} is outside {low}..{high}")
    return value


def _local_date(row: Mapping[str, str], column: str) -> date | None:
    raw = _text(row, column, required=False)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{column}: {raw!r} is not a date (YYYY-MM-DD)") from None


@cache
def _iana_zones() -> frozenset[str]:
    # The system zone folder also holds files that are not zone names.
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


@cache
def _check_opening_hours(text: str) -> None:
    parse_opening_hours(text)  # its ValueError names the rule and what is wrong


def _site_columns(row: Mapping[str, str], state: str) -> dict[str, object]:
    """``opening_hours``, ``time_zone``, ``lga_code``, ``lga_name``, each checked on its own."""
    opening_hours = _text(row, "opening_hours", required=False)
    if opening_hours is not None:
        _check_opening_hours(opening_hours)  # sites repeat one text on every connector
    time_zone = _text(row, "time_zone", required=False)
    if time_zone is not None and time_zone not in _iana_zones():
        raise ValueError(
            f"time_zone: {time_zone[:40]!r} is not an IANA time zone name (e.g. Australia/Perth)"
        )
    if time_zone is None:
        site_time_zone(state, None)
    lga_code = _text(row, "lga_code", required=False)
    lga_name = _text(row, "lga_name", required=False)
    if lga_code is not None and not LGA_CODE.fullmatch(lga_code):
        raise ValueError(f"lga_code: {lga_code[:20]!r} is not a 5-digit ABS LGA code")
    if (lga_code is None) != (lga_name is None):
        given, empty = ("lga_code", "lga_name") if lga_name is None else ("lga_name", "lga_code")
        raise ValueError(f"{empty}: required when {given} is given (give both, or neither)")
    return {
        "opening_hours": opening_hours,
        "time_zone": time_zone,
        "lga_code": lga_code,
        "lga_name": lga_name,
    }


def validate_row(row: Mapping[str, str]) -> dict[str, object]:
    """One CSV row → a clean connector record; raises ValueError naming the column."""
    required: dict[str, str] = {
        column: _text(row, column)
        for column in (
            "cpo_id",
            "site_id",
            "site_name",
            "address",
            "suburb",
            "charger_id",
            "evse_uid",
            "connector_id",
        )
    }
    for column in ("cpo_id", "site_id", "charger_id", "evse_uid", "connector_id"):
        if len(required[column]) > 64:
            raise ValueError(f"{column}: longer than 64 characters")
    clean: dict[str, object] = dict(required)
    state = _text(row, "state").upper()
    if state not in STATES:
        raise ValueError(f"state: {state!r} is not one of {', '.join(STATES)}")
    postcode = _text(row, "postcode")
    if not POSTCODE.fullmatch(postcode):
        raise ValueError(f"postcode: {postcode[:20]!r} is not a 4-digit Australian postcode")
    standard = _text(row, "connector_standard")
    if standard not in CONNECTOR_STANDARDS:
        raise ValueError(f"connector_standard: {standard!r} is not an OCPI 2.2.1 ConnectorType")
    power_type = _text(row, "power_type").upper()
    if power_type not in POWER_TYPES:
        raise ValueError(f"power_type: {power_type!r} is not one of {', '.join(POWER_TYPES)}")
    clean.update(
        state=state,
        postcode=postcode,
        latitude=_number(row, "latitude", *LATITUDE_RANGE),
        longitude=_number(row, "longitude", *LONGITUDE_RANGE),
        connector_standard=standard,
        power_type=power_type,
        max_power_kw=_number(row, "max_power_kw", 0.1, 2000),
        ocpp_charge_point_id=_text(row, "ocpp_charge_point_id", required=False),
        ocpp_evse_id=_text(row, "ocpp_evse_id", required=False),
        program=_text(row, "program", required=False),
        attribution=_text(row, "attribution", required=False),
        commissioned_on=_local_date(row, "commissioned_on"),
        decommissioned_on=_local_date(row, "decommissioned_on"),
        **_site_columns(row, state),
    )
    if clean["ocpp_evse_id"] is not None and not OCPP_EVSE_ID.fullmatch(str(clean["ocpp_evse_id"])):
        raise ValueError(
            f"ocpp_evse_id: {str(clean['ocpp_evse_id'])[:20]!r} is not a whole number from 0 to 9999"
        )
    commissioned_on, decommissioned_on = clean["commissioned_on"], clean["decommissioned_on"]
    if (
        isinstance(commissioned_on, date)
        and isinstance(decommissioned_on, date)
        and decommissioned_on <= commissioned_on
    ):
        raise ValueError("decommissioned_on: must be after commissioned_on")
    return clean


def _refuse_binary(data: bytes, source: str) -> None:
    """Refuse what is not a text file; a stray NUL in a row is that row's problem."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SitesFileRefused(f"{source}: UTF-16, not UTF-8; save the file as CSV UTF-8")
    sample = data[:65536]
    nuls = sample.count(0)
    if nuls and (nuls * 10 > len(sample) or _broken_utf8(sample)):
        raise SitesFileRefused(f"{source}: not a CSV file (binary content)")


def _broken_utf8(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(sample) - 3  # a character cut by the sample's end is fine
    return False


def decode_csv(data: bytes, source: str) -> str:
    """The whole file as text, refused if any byte is not UTF-8 (a leading BOM is dropped)."""
    if len(data) > MAX_FILE_BYTES:
        raise SitesFileRefused(f"{source}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    _refuse_binary(data, source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SitesFileRefused(
            f"{source}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None


def read_sites_file(path: Path) -> bytes:
    """A static CSV's bytes, or SitesFileRefused saying why it cannot be read."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SitesFileRefused(f"{path}: no such file") from None
    except OSError as exc:
        raise SitesFileRefused(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise SitesFileRefused(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    return data


def _record_end(text: str, start: int) -> int:
    """Where the record starting at ``start`` ends, as RFC 4180 reads it: after a bad record,
    reading goes on there (a long quoted field's lines are not read as rows, and the lines
    after a quote that is never closed are)."""
    match = RECORD.match(text, start)
    end = match.end() if match else start
    if end > start:
        return end
    line_break = LINE_BREAK.search(text, start)
    return line_break.end() if line_break else len(text)


def _csv_error(exc: csv.Error) -> str:
    message = str(exc)
    if "field larger than field limit" in message:
        return (
            f"a field is longer than {csv.field_size_limit():,} characters"
            f" (fields hold at most {MAX_FIELD_CHARS})"
        )
    if "unexpected end of data" in message:
        return "a quote opened on this line is never closed; the lines after it are read as rows"
    return f"not valid CSV ({message}); a quote inside a quoted field must be doubled"


def validate_sites_csv(data: bytes, source: str) -> ValidatedSites:
    """Check a static site CSV; good rows in ``rows``, every bad row in ``problems``.

    Lines are where a row starts. Bytes that are not UTF-8 are kept apart (as lone
    surrogates) so that only the rows holding them are bad.
    """
    if len(data) > MAX_FILE_BYTES:
        raise SitesFileRefused(f"{source}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    _refuse_binary(data, source)
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
    buffer = io.StringIO(text, newline="")
    reader = csv.reader(buffer, strict=True)
    try:
        header = next(reader, None)
        while header == []:  # blank lines before the header
            header = next(reader, None)
    except csv.Error as exc:
        raise SitesFileRefused(f"{source}:1: not a CSV header ({_csv_error(exc)})") from None
    if header is None:
        raise SitesFileRefused(f"{source}: empty file, expected a header row")
    where = f"{source}:{reader.line_num}"
    names = [name.strip() for name in header]
    if not all(name.isprintable() for name in names):
        bad = next(name for name in names if not name.isprintable())
        raise SitesFileRefused(f"{where}: header: {_unprintable(bad)}")
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        raise SitesFileRefused(f"{where}: missing required column(s): {', '.join(missing)}")
    # Spreadsheets add unnamed columns after the last one; only named ones must be unique.
    repeated = sorted(name for name, count in Counter(names).items() if count > 1 and name)
    if repeated:
        raise SitesFileRefused(
            f"{where}: repeated column name in header: {', '.join(repr(n[:40]) for n in repeated)}"
        )
    result = ValidatedSites(source)
    unknown = [name for name in names if name not in COLUMNS and name]
    unnamed = names.count("")
    if unnamed:
        result.notes.append(f"{where}: {unnamed:,} unnamed column(s); their values are ignored")
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:10])
        more = f" (and {len(unknown) - 10:,} more)" if len(unknown) > 10 else ""
        result.notes.append(
            f"{where}: column(s) {shown}{more} are not static CSV columns; their values are ignored"
        )
    seen: dict[tuple[str, str, str], int] = {}
    evse_home: dict[tuple[str, str], tuple[str, str]] = {}
    charger_site: dict[tuple[str, str], str] = {}
    lines: list[int] = []  # the line of each good row
    offset = 0  # physical lines minus the reader's count, once a bad record was skipped
    while True:
        line, start = reader.line_num + offset + 1, buffer.tell()
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            result.problems.append(RowProblem(source, line, _csv_error(exc)))
            end = _record_end(text, start)
            buffer.seek(end)
            offset = line - 1 + len(LINE_BREAK.findall(text, start, end)) - reader.line_num
            continue
        if fields is None:
            break
        if not fields:
            continue  # a blank line
        if len(fields) != len(names):
            result.problems.append(
                RowProblem(source, line, f"expected {len(names)} fields, got {len(fields)}")
            )
            continue
        row = dict(zip(names, fields, strict=True))
        try:
            clean = validate_row(row)
            cpo_id, site_id, charger_id, evse_uid, connector_id = (
                str(clean[column])
                for column in ("cpo_id", "site_id", "charger_id", "evse_uid", "connector_id")
            )
            key = (cpo_id, evse_uid, connector_id)
            if key in seen:
                raise ValueError(
                    f"connector {key[2]} of EVSE {key[1]} is listed twice (first on line {seen[key]})"
                )
            evse_key = (cpo_id, evse_uid)
            home = (charger_id, site_id)
            if evse_home.setdefault(evse_key, home) != home:
                raise ValueError(
                    f"evse_uid {key[1]} already belongs to charger {evse_home[evse_key][0]}"
                    f" at site {evse_home[evse_key][1]}"
                )
            charger_key = (cpo_id, charger_id)
            if charger_site.setdefault(charger_key, site_id) != site_id:
                raise ValueError(
                    f"charger_id {charger_id} already belongs to site {charger_site[charger_key]}"
                )
        except ValueError as exc:
            result.problems.append(RowProblem(source, line, str(exc)))
            continue
        seen[key] = line
        result.rows.append(clean)
        lines.append(line)
    _drop_disagreeing_sites(result, lines)
    return result


def _drop_disagreeing_sites(result: ValidatedSites, lines: list[int]) -> None:
    """Move every row of a site whose rows disagree on a SITE_COLUMNS value into problems;
    rows without an LGA take the one their site's other rows give."""
    hours: dict[tuple[object, object], tuple[object, object]] = {}
    lgas: dict[tuple[object, object], tuple[object, object]] = {}
    split: set[tuple[object, object]] = set()
    for row in result.rows:
        site = (row["cpo_id"], row["site_id"])
        if hours.setdefault(site, (row["opening_hours"], row["time_zone"])) != (
            row["opening_hours"],
            row["time_zone"],
        ):
            split.add(site)
        if row["lga_code"] is not None:
            lga = (row["lga_code"], row["lga_name"])
            if lgas.setdefault(site, lga) != lga:
                split.add(site)
    if not split and len(lgas) == len(hours):
        return
    reasons = _disagreements(split, result.rows)
    kept: list[dict[str, object]] = []
    for line, row in zip(lines, result.rows, strict=True):
        site = (row["cpo_id"], row["site_id"])
        reason = reasons.get(site)
        if reason is not None:
            result.problems.append(RowProblem(result.source, line, reason))
            continue
        if row["lga_code"] is None and site in lgas:
            row["lga_code"], row["lga_name"] = lgas[site]
        kept.append(row)
    result.rows = kept
    result.problems.sort(key=lambda problem: problem.line)


def _disagreements(
    sites: set[tuple[object, object]], rows: list[dict[str, object]]
) -> dict[tuple[object, object], str]:
    seen: dict[tuple[object, object], dict[str, set[object]]] = {
        site: {column: set() for column in SITE_COLUMNS} for site in sites
    }
    for row in rows:
        values = seen.get((row["cpo_id"], row["site_id"]))
        if values is not None:
            for column in SITE_COLUMNS:
                if row[column] is not None or column not in LGA_COLUMNS:
                    values[column].add(row[column])
    reasons = {}
    for site, values in seen.items():
        columns = [column for column in SITE_COLUMNS if len(values[column]) > 1]
        shown = "; ".join(
            f"{column} " + " vs ".join(sorted(repr(v or "") for v in values[column]))
            for column in columns
        )
        reasons[site] = (
            f"site {site[1]}: its rows disagree on {', '.join(columns)} ({shown});"
            " every connector of a site must carry the same values"
        )
    return reasons


def write_sites_csv(rows: Iterable[Mapping[str, object]]) -> bytes:
    """Rows → static CSV bytes with every column in the spec's order."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return buffer.getvalue().encode("utf-8")


def sites_blob_name(source: str) -> str:
    """The blob a file is stored as: its name, made a plain blob name.

    Hidden names lose their leading dots, and characters a blob name should not hold
    (backslashes, control characters, ...) become ``_``: ``.hidden.csv`` is stored as
    ``hidden.csv``, ``a\\b.csv`` as ``a_b.csv``.
    """
    name = re.sub(r"[^\w.\- ()]", "_", PurePosixPath(source).name).lstrip(". ")
    stem, suffix = (name[:-4], name[-4:]) if name.lower().endswith(".csv") else (name, ".csv")
    return layout.static_sites_blob((stem[:MAX_BLOB_NAME_CHARS].rstrip() or "sites") + suffix)


def store_sites(store: BlobStore, validated: ValidatedSites) -> str:
    """Store the good rows of a validated file under ``static/sites/``; returns the blob name."""
    blob = sites_blob_name(validated.source)
    store.put(blob, write_sites_csv(validated.rows))
    return blob


def empty_connectors() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in COLUMNS}).astype(
        {"latitude": "float64", "longitude": "float64", "max_power_kw": "float64"}
    )


def read_static_sites(store: BlobStore) -> StaticSites:
    """Every static CSV in the blob store, re-validated, as one connector table."""
    rows: list[dict[str, object]] = []
    problems: list[str] = []
    sources: list[str] = []
    owner: dict[tuple[object, object, object], str] = {}
    for blob in store.list(layout.STATIC_SITES_PREFIX):
        if not blob.name.lower().endswith(".csv"):
            continue
        try:
            validated = validate_sites_csv(store.get(blob.name), blob.name)
        except (SitesFileRefused, BlobNotFound) as exc:
            problems.append(str(exc))
            continue
        sources.append(blob.name)
        problems.extend(str(problem) for problem in validated.problems)
        for row in validated.rows:
            key = (row["cpo_id"], row["evse_uid"], row["connector_id"])
            if key in owner:
                problems.append(
                    f"{blob.name}: connector {key[2]} of EVSE {key[1]} ({key[0]}) is also in {owner[key]};"
                    " the first file wins"
                )
                continue
            owner[key] = blob.name
            rows.append(row)
    if not rows:
        return StaticSites(empty_connectors(), problems, sources)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.sort_values(["cpo_id", "evse_uid", "connector_id"], kind="stable").reset_index(
        drop=True
    )
    return StaticSites(frame, problems, sources)
