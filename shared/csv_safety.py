"""CSV cells that a spreadsheet would run as formulas: the one test, and the one escape.

Every CSV we write that carries text from outsiders (CPO site names and addresses, exclusion
notes, program names) passes its text cells through ``escape_formula``, so that opening the
download in Excel or LibreOffice shows ``=cmd|' /C calc'!A0`` instead of running it (OWASP
"CSV injection"). Numbers stay numbers: only ``str`` cells are touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# A cell starting with one of these is read as a formula (tab and CR: Excel skips them first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ...unless it is a plain number, which a spreadsheet reads as that number: '-34.75', '+61'.
_PLAIN_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
PLAIN_NUMBER = re.compile(_PLAIN_NUMBER)


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet would evaluate ``text`` rather than show it."""
    return text.startswith(FORMULA_STARTS) and PLAIN_NUMBER.fullmatch(text) is None


def escape_formula(value: object) -> object:
    """A text cell that looks like a formula, prefixed with ``'``; anything else unchanged."""
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """A ``csv.writer`` row with its text cells escaped."""
    return [escape_formula(value) for value in row]


def safe_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``csv.DictWriter`` row with its text cells escaped."""
    return {key: escape_formula(value) for key, value in row.items()}


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` for ``to_csv`` with the text cells of its text columns escaped.

    Numeric, boolean and date columns are left as they are (a number is never a formula).
    """
    text_columns = [
        column
        for column in frame.columns
        if pd.api.types.is_object_dtype(frame[column])
        or pd.api.types.is_string_dtype(frame[column])
    ]
    if not text_columns:
        return frame
    out = frame.copy()
    for column in text_columns:
        out[column] = out[column].map(escape_formula)
    return out


def frame_csv(frame: pd.DataFrame) -> str:
    """A DataFrame as CSV text for a download, its text cells escaped, without the index."""
    return str(safe_frame(frame).to_csv(index=False))


def escape_formula_arrow(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``escape_formula`` for an Arrow string column (the report's CSV writer); nulls stay null."""
    starts = pc.starts_with(column, FORMULA_STARTS[0])
    for start in FORMULA_STARTS[1:]:
        starts = pc.or_(starts, pc.starts_with(column, start))
    if not pc.any(starts).as_py():
        return column  # most columns: no cell starts like a formula, no regex to run
    number = pc.match_substring_regex(column, f"^(?:{_PLAIN_NUMBER})$")
    risky = pc.and_(starts, pc.invert(number))
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
