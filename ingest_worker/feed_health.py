"""Per-feed health: last success, last error, lag and counts (``GET /feeds``, feeds.json)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(slots=True)
class FeedHealth:
    cpo_id: str
    kind: str
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    accepted: int = 0
    rejected: int = 0

    def as_json(self) -> dict[str, object]:
        now = datetime.now(UTC)
        return {
            "cpo_id": self.cpo_id,
            "kind": self.kind,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
            "last_error": self.last_error,
            "lag_seconds": (now - self.last_success_at).total_seconds()
            if self.last_success_at
            else None,
            "accepted": self.accepted,
            "rejected": self.rejected,
        }
