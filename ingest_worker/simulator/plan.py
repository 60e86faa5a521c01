"""Which fake CPO drives which EVSEs through which feed kind, and the FEEDS.toml that matches.

The static site CSVs name the CPOs and their EVSEs. A CPO whose rows carry
``ocpp_charge_point_id`` speaks OCPP (its charge points alternate 1.6J and 2.0.1); the others take
the remaining kinds in turn, sorted by cpo_id, unless an assignment says otherwise.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ingest_worker.feeds.config import FeedConfig, OcpiPullFeed, OcpiPushFeed, parse_feed
from ingest_worker.feeds.ocpp_mapping import ocpp_number

OTHER_KINDS = ("ocpi_pull", "ocpi_push", "rest_push", "ws_push")
KINDS = ("ocpp", *OTHER_KINDS)
NOT_IN_CHARGE_POINT_ID = re.compile(r"[^A-Za-z0-9*\-_=:+|@.]")


@dataclass(frozen=True, slots=True)
class SimEvse:
    cpo_id: str
    evse_uid: str  # as the static CSVs and every non-OCPP feed name it
    site_id: str
    site: dict[str, object]  # site columns, for OCPI Locations
    connectors: tuple[dict[str, object], ...]
    dc: bool
    charge_point_id: str
    number: int  # OCPP connectorId (1.6) / evseId (2.0.1)
    mapped: bool  # the static CSVs map (charge_point_id, number) to evse_uid

    @property
    def ocpp_uid(self) -> str:
        """The evse_uid the worker stores for it from OCPP: unmapped charge points are unmatched."""
        return self.evse_uid if self.mapped else f"{self.charge_point_id}/{self.number}"


@dataclass(slots=True)
class SimFeed:
    feed: FeedConfig
    evses: list[SimEvse] = field(default_factory=list)

    @property
    def charge_points(self) -> dict[str, list[SimEvse]]:
        points: dict[str, list[SimEvse]] = {}
        for evse in self.evses:
            points.setdefault(evse.charge_point_id, []).append(evse)
        return points


def assign_kinds(
    cpo_ids: list[str], ocpp_cpos: set[str], overrides: dict[str, str]
) -> dict[str, str]:
    """cpo_id → feed kind (module docstring)."""
    for cpo_id, kind in overrides.items():
        if kind not in KINDS:
            raise ValueError(f"{cpo_id}={kind}: the kind must be one of {', '.join(KINDS)}")
    kinds: dict[str, str] = {}
    turn = 0
    for cpo_id in sorted(cpo_ids):
        if cpo_id in overrides:
            kinds[cpo_id] = overrides[cpo_id]
        elif cpo_id in ocpp_cpos:
            kinds[cpo_id] = "ocpp"
        else:
            kinds[cpo_id] = OTHER_KINDS[turn % len(OTHER_KINDS)]
            turn += 1
    return kinds


def simulated_evses(connectors: pd.DataFrame) -> list[SimEvse]:
    """One SimEvse per (cpo_id, evse_uid) of the static connectors table."""
    evses: list[SimEvse] = []
    numbers: dict[tuple[str, str], int] = {}
    frame = connectors.sort_values(
        ["cpo_id", "charger_id", "evse_uid", "connector_id"], kind="stable"
    )
    for (cpo_id, evse_uid), rows in frame.groupby(["cpo_id", "evse_uid"], sort=False):
        first = rows.iloc[0]
        listed_cp = first.get("ocpp_charge_point_id")
        mapped = (
            isinstance(listed_cp, str)
            and bool(listed_cp)
            and _int(first.get("ocpp_evse_id")) is not None
        )
        if mapped:
            charge_point_id, number = str(listed_cp), int(_int(first.get("ocpp_evse_id")) or 0)
        else:
            charge_point_id = NOT_IN_CHARGE_POINT_ID.sub("-", str(first["charger_id"]))[:48]
            key = (str(cpo_id), charge_point_id)
            numbers[key] = number = numbers.get(key, 0) + 1
        site = {
            k: first[k]
            for k in (
                "site_name",
                "address",
                "suburb",
                "state",
                "postcode",
                "latitude",
                "longitude",
            )
        }
        evses.append(
            SimEvse(
                cpo_id=str(cpo_id),
                evse_uid=str(evse_uid),
                site_id=str(first["site_id"]),
                site=site,
                connectors=tuple(
                    {
                        "id": str(r["connector_id"]),
                        "standard": r["connector_standard"],
                        "power_type": r["power_type"],
                        "max_power_kw": float(r["max_power_kw"]),
                    }
                    for _, r in rows.iterrows()
                ),
                dc=str(first["power_type"]) == "DC",
                charge_point_id=charge_point_id,
                number=number,
                mapped=mapped,
            )
        )
    return evses


def _int(value: object) -> int | None:
    return ocpp_number(value)


def secret_for(seed: int, cpo_id: str, kind: str) -> str:
    """A loopback secret for a simulated feed, stable for a seed (these are test credentials)."""
    digest = hashlib.sha256(f"chargeatlarge-sim:{seed}:{cpo_id}:{kind}".encode()).hexdigest()
    return f"sim-{digest[:32]}"


def env_name(cpo_id: str, kind: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", f"SIM_{cpo_id}_{kind}".upper())


def simulated_feeds(
    evses: list[SimEvse],
    *,
    seed: int,
    ocpi_base: str,
    overrides: dict[str, str] | None = None,
    only_kinds: tuple[str, ...] = KINDS,
    poll_seconds: float = 30,
) -> list[SimFeed]:
    """Feed configurations (with secrets) of every simulated CPO of a kind in ``only_kinds``."""
    cpo_ids = sorted({e.cpo_id for e in evses})
    ocpp_cpos = {e.cpo_id for e in evses if e.mapped}
    kinds = assign_kinds(cpo_ids, ocpp_cpos, overrides or {})
    feeds: list[SimFeed] = []
    for cpo_id in cpo_ids:
        kind = kinds[cpo_id]
        if kind not in only_kinds:
            continue
        extra: dict[str, object] = {}
        if kind == "ocpi_pull":
            extra = {
                "versions_url": f"{ocpi_base}/ocpi/cpo/{cpo_id}/versions",
                "poll_seconds": poll_seconds,
            }
        elif kind == "ocpi_push":
            extra = {"country_code": "AU", "party_id": party_id(cpo_id)}
        config = parse_feed(
            {
                "cpo_id": cpo_id,
                "kind": kind,
                "token_env": env_name(cpo_id, kind),
                "secret": secret_for(seed, cpo_id, kind),
                **extra,
            }
        )
        feeds.append(SimFeed(config, [e for e in evses if e.cpo_id == cpo_id]))
    return feeds


def party_of(feed: FeedConfig) -> tuple[str, str]:
    """(country_code, party_id) a simulated OCPI CPO uses: the feed's, else AU and its own."""
    named = feed.party if isinstance(feed, OcpiPushFeed) else None
    country_code, party = named or ("", "")
    return country_code or "AU", party or party_id(feed.cpo_id)


def party_id(cpo_id: str) -> str:
    letters = re.sub(r"[^A-Z0-9]", "", cpo_id.upper())
    return (letters + "XXX")[:3]


def feeds_toml(feeds: list[SimFeed]) -> str:
    """FEEDS.toml for the worker (secrets named, never written)."""
    lines = [
        "# Written by `chargeatlarge simulate --write-feeds`;"
        " secrets are in the .env file beside it.",
        "",
    ]
    for sim in feeds:
        feed = sim.feed
        lines += [
            "[[feed]]",
            f'cpo_id = "{feed.cpo_id}"',
            f'kind = "{feed.kind}"',
            f'token_env = "{feed.token_env}"',
        ]
        if isinstance(feed, OcpiPullFeed):
            lines += [
                f'versions_url = "{feed.versions_url}"',
                f"poll_seconds = {feed.poll_seconds:g}",
            ]
        if isinstance(feed, OcpiPushFeed) and feed.country_code:
            lines += [f'country_code = "{feed.country_code}"', f'party_id = "{feed.party_id}"']
        lines.append("")
    return "\n".join(lines)


def env_file(feeds: list[SimFeed]) -> str:
    return "".join(f"{sim.feed.token_env}={sim.feed.secret}\n" for sim in feeds)


def write_feeds(feeds: list[SimFeed], path: Path) -> tuple[Path, Path]:
    """Write ``path`` (FEEDS.toml) and ``path`` with suffix ``.env`` (the secrets, mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(feeds_toml(feeds), encoding="utf-8")
    env = path.with_suffix(".env")
    env.write_text(env_file(feeds), encoding="utf-8")
    env.chmod(0o600)
    return path, env
