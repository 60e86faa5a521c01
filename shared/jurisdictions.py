"""Who may see which states: the roles of the dashboard and the published reports.

``analyst`` (the platform's own staff) sees every state; ``government:NSW,WA`` sees the named
states and territories only; ``public`` sees the live map alone. One role string is parsed here
for the dev setting, the Azure principal's app roles and the report folders alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from shared.sites import STATES

Kind = Literal["public", "analyst", "government"]


class RoleError(ValueError):
    """A role string that names no known role, or a government role without a known state."""


@dataclass(frozen=True)
class Viewer:
    """A role with the states it covers (every state for an analyst, none for the public)."""

    kind: Kind
    states: tuple[str, ...] = ()  # sorted; every state for analysts

    @property
    def sees_figures(self) -> bool:
        """Uptime, utilisation, CPO figures and reports: analysts and government users."""
        return self.kind in ("analyst", "government") and bool(self.states)

    @property
    def national(self) -> bool:
        """Sees every state, the national report and what belongs to no state (unmatched EVSEs)."""
        return self.kind == "analyst"

    @property
    def scope(self) -> tuple[str, ...] | None:
        """The states a query must keep to: ``None`` for analysts (no restriction)."""
        return None if self.national else self.states

    def allows(self, state: str | None) -> bool:
        return state in self.states

    @property
    def label(self) -> str:
        if self.kind == "government":
            return f"government:{','.join(self.states)}"
        return self.kind


PUBLIC = Viewer("public")
ANALYST = Viewer("analyst", STATES)


def parse_role(text: str) -> Viewer:
    """``public``, ``analyst`` or ``government:<STATE>[,<STATE>…]`` (any case, spaces ignored)."""
    value = (text or "").strip()
    kind, _, rest = value.partition(":")
    kind = kind.strip().lower()
    if kind == "public" and not rest:
        return PUBLIC
    if kind == "analyst" and not rest:
        return ANALYST
    if kind == "government":
        states = [s.strip().upper() for s in rest.split(",") if s.strip()]
        if not states:
            raise RoleError(
                f"role {value!r} names no state: use government:NSW or government:NSW,WA "
                f"(states: {', '.join(STATES)}), or analyst for every state"
            )
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise RoleError(
                f"role {value!r} names unknown state(s) {', '.join(unknown)} "
                f"(states: {', '.join(STATES)})"
            )
        return Viewer("government", tuple(sorted(set(states))))
    raise RoleError(f"role {value!r} is not public, analyst or government:<STATE>[,<STATE>…]")


def combined(viewers: Iterable[Viewer]) -> Viewer:
    """The union of several roles of one user: analyst wins, government states add up."""
    viewers = list(viewers)
    if any(v.national for v in viewers):
        return ANALYST
    states = sorted({s for v in viewers if v.kind == "government" for s in v.states})
    return Viewer("government", tuple(states)) if states else PUBLIC
