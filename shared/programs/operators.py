"""Operators: the names a funding body writes ("Evie Networks Pty Ltd") mapped to our cpo_ids.

A name maps to the CPO whose cpo_id (in the static sites) or name (the ``cpo`` table) has the
same key: case, punctuation, spacing and company-form suffixes dropped. No fuzzy guessing: a
name that fits no CPO, or several, is reported for a person (or ``--cpo``) to settle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LEGAL_SUFFIXES = ("proprietary", "limited", "pty", "ltd", "inc", "llc")


def operator_key(name: str) -> str:
    """Case, punctuation, spacing and company-form suffixes dropped: "Evie Networks Pty Ltd" and
    "EVIE_NETWORKS" both become "evienetworks"."""
    words = re.findall(r"[a-z0-9]+", name.lower().replace("_", " "))
    while words and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return "".join(words)


@dataclass(slots=True)
class OperatorDirectory:
    """Known CPOs by the keys of their ids and names."""

    by_key: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, cpo_ids: Iterable[str], names: Mapping[str, str | None] | None = None
    ) -> OperatorDirectory:
        directory = cls()
        for cpo_id in cpo_ids:
            directory.add(cpo_id, cpo_id)
        for cpo_id, name in (names or {}).items():
            directory.add(cpo_id, cpo_id)
            if name:
                directory.add(name, cpo_id)
        return directory

    def add(self, name: str, cpo_id: str) -> None:
        key = operator_key(name)
        if key:
            self.by_key.setdefault(key, set()).add(cpo_id)

    def resolve(self, name: str) -> tuple[str | None, str]:
        """(cpo_id, "") or (None, why not)."""
        found = sorted(self.by_key.get(operator_key(name), ()))
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, f"operator {name!r} fits several CPOs ({', '.join(found)}); pass --cpo"
        return None, (
            f"operator {name!r} is not a known CPO (neither a cpo_id of the static sites nor a"
            " CPO's name); pass --cpo CPO_ID, or give the file a cpo_id column"
        )
