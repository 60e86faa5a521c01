"""Excluded downtime (spec 4.3): proposing, reviewing and withdrawing exclusion windows, and the
approved ones the monthly job uses (``approved_exclusions``).

``rules`` holds what a proposal must satisfy, ``store`` the append-only storage and the review
actions, ``csv_import`` the CSV of ``chargeatlarge exclusions import``. The CLI, the worker's
REST routes and the dashboard's review page all call these functions.
"""

from shared.exclusions.csv_import import (
    IMPORT_COLUMNS,
    ParsedImport,
    parse_import_csv,
)
from shared.exclusions.rules import (
    CAUSES,
    MAX_FUTURE_START,
    MAX_TEXT_CHARS,
    SCOPE_COLUMNS,
    SCOPES,
    STATES,
    Cause,
    DuplicateExclusion,
    ExclusionError,
    ExclusionNotFound,
    Proposal,
    Scope,
    SiteScopes,
    State,
    StateConflict,
    check_proposal,
    one_year_after,
)
from shared.exclusions.store import (
    APPROVED_SCHEMA,
    LIST_COLUMNS,
    Event,
    Exclusion,
    approve,
    approved_exclusions,
    get_exclusion,
    history,
    list_exclusions,
    new_exclusion_id,
    propose,
    reject,
    table_rows,
    withdraw,
)

__all__ = [
    "APPROVED_SCHEMA",
    "CAUSES",
    "Cause",
    "IMPORT_COLUMNS",
    "LIST_COLUMNS",
    "MAX_FUTURE_START",
    "MAX_TEXT_CHARS",
    "SCOPES",
    "SCOPE_COLUMNS",
    "STATES",
    "DuplicateExclusion",
    "Event",
    "Exclusion",
    "ExclusionError",
    "ExclusionNotFound",
    "ParsedImport",
    "Proposal",
    "Scope",
    "SiteScopes",
    "State",
    "StateConflict",
    "approve",
    "approved_exclusions",
    "check_proposal",
    "get_exclusion",
    "history",
    "list_exclusions",
    "new_exclusion_id",
    "one_year_after",
    "parse_import_csv",
    "propose",
    "reject",
    "table_rows",
    "withdraw",
]
