"""Build the shipped default static site CSV (spec section 5) from the real localities table.

Deterministic and seeded: ``python -m chargeatlarge.sample_data.build_sites`` rewrites ``sites_au.csv``
byte for byte. The operators (CPOs) are fictional; the localities, postcodes and coordinates
are real (``localities.py``). ``site_rows`` is also used by ``chargeatlarge.synthetic.generate_sites``
to build larger national site sets around the same localities.

Operators and their site kinds:

- VOLTA: highway and city DC hubs, 150 or 350 kW, one CCS2 connector per EVSE.
- SOUTHERNCROSS: older 50 kW DC units (CCS2 + CHAdeMO on the same EVSE, often with a 22 kW AC
  socket as a second EVSE on the same charger) and newer dual-port fast chargers.
- GUMTREE: AC destination charging (11/22 kW Type 2) at hotels, clubs and shops; OCPP feed.
- KOALA: dual-port fast chargers (75–180 kW) and mixed DC + AC sites.
- HARBOURLINK: metropolitan fast and ultra-fast charging on the east coast.
- OUTBACKEV: regional and remote WA, NT, SA and QLD; 50/75 kW DC plus AC; OCPP feed.
- BLUEWREN: council kerbside AC (7 kW single phase) and car parks.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from chargeatlarge.sample_data.localities import LOCALITIES, Locality

SEED = 2026
CSV_PATH = Path(__file__).with_name("sites_au.csv")

ALL_STATES = ("ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA")


@dataclass(frozen=True)
class Operator:
    cpo_id: str
    brand: str
    code: str  # the party id in OCPI EVSE uids: AU*<code>*E1001*1
    kind_weights: dict[str, float]
    templates: dict[str, float]
    states: tuple[str, ...] = ALL_STATES
    ocpp: bool = False


OPERATORS: tuple[Operator, ...] = (
    Operator(
        "VOLTA",
        "Volta",
        "VOL",
        {"city": 2, "regional": 3, "highway": 6},
        {"ultra": 0.8, "fast": 0.2},
    ),
    Operator(
        "SOUTHERNCROSS",
        "Southern Cross EV",
        "SXE",
        {"city": 1, "regional": 4, "highway": 4},
        {"fast50": 0.7, "fast": 0.3},
    ),
    Operator(
        "GUMTREE",
        "Gumtree Energy",
        "GUM",
        {"city": 3, "regional": 4, "highway": 1},
        {"destination": 1.0},
        ocpp=True,
    ),
    Operator(
        "KOALA",
        "Koala Kilowatts",
        "KOA",
        {"city": 3, "regional": 2, "highway": 2},
        {"fast": 0.5, "mixed": 0.3, "destination": 0.2},
    ),
    Operator(
        "HARBOURLINK",
        "Harbourlink",
        "HBL",
        {"city": 5, "regional": 1, "highway": 0},
        {"fast": 0.6, "ultra": 0.2, "destination": 0.2},
        states=("ACT", "NSW", "QLD", "VIC"),
    ),
    Operator(
        "OUTBACKEV",
        "Outback Electric",
        "OBE",
        {"city": 1, "regional": 4, "highway": 6},
        {"fast50": 0.5, "mixed": 0.5},
        states=("NT", "QLD", "SA", "WA"),
        ocpp=True,
    ),
    Operator(
        "BLUEWREN",
        "Bluewren",
        "BWN",
        {"city": 4, "regional": 1, "highway": 0},
        {"kerbside": 0.8, "destination": 0.2},
    ),
)

PLACE_LABELS = {
    "city": ("Shopping Centre", "Plaza", "Car Park", "Library", "Station", "Marketplace"),
    "regional": ("Visitor Centre", "Town Centre", "Motor Inn", "Club", "Marketplace", "Showground"),
    "highway": ("Highway Service Centre", "Roadhouse", "Travel Stop", "Rest Area"),
}
STREETS = (
    "Main Street",
    "High Street",
    "George Street",
    "Station Street",
    "Church Street",
    "Victoria Street",
    "King Street",
    "Queen Street",
    "Railway Parade",
    "Bridge Street",
    "Market Street",
    "Park Road",
    "Commercial Road",
    "Ocean Parade",
)
# Grant program codes by state: (code for DC sites, code for AC sites, share of sites funded).
PROGRAMS = {
    "NSW": (("NSW-FCG-R1", "NSW-FCG-R2"), ("NSW-DCG-R2",), 0.4),
    "VIC": (("VIC-ZEV",), ("VIC-ZEV",), 0.3),
    "QLD": (("QLD-ESH",), ("QLD-ESH",), 0.35),
    "WA": (("WA-EVN-R1",), ("WA-EVN-R1",), 0.3),
    "SA": (("SA-EVCI",), ("SA-EVCI",), 0.3),
    "TAS": (("TAS-EVCS",), ("TAS-EVCS",), 0.4),
    "ACT": (("ACT-PCI",), ("ACT-PCI",), 0.3),
    "NT": ((), (), 0.0),
}

Connector = tuple[str, str, float]  # connector_standard, power_type, max_power_kw
CCS2, CHADEMO, TYPE2 = "IEC_62196_T2_COMBO", "CHADEMO", "IEC_62196_T2"


def charger_layout(rng: random.Random, template: str) -> list[list[list[Connector]]]:
    """Chargers → EVSEs → connectors for one site of the given template."""
    if template == "ultra":
        kw = rng.choice((350.0, 350.0, 150.0))
        return [[[(CCS2, "DC", kw)], [(CCS2, "DC", kw)]] for _ in range(rng.randint(2, 4))]
    if template == "fast50":
        chargers = []
        for _ in range(rng.choice((1, 1, 2))):
            evses = [[(CCS2, "DC", 50.0), (CHADEMO, "DC", 50.0)]]
            if rng.random() < 0.5:
                evses.append([(TYPE2, "AC_3_PHASE", 22.0)])
            chargers.append(evses)
        return chargers
    if template == "fast":
        kw = rng.choice((75.0, 120.0, 150.0, 180.0))
        return [[[(CCS2, "DC", kw)], [(CCS2, "DC", kw)]] for _ in range(rng.randint(1, 3))]
    if template == "destination":
        kw = rng.choice((22.0, 22.0, 11.0))
        return [
            [[(TYPE2, "AC_3_PHASE", kw)] for _ in range(rng.randint(1, 2))]
            for _ in range(rng.randint(1, 3))
        ]
    if template == "kerbside":
        return [[[(TYPE2, "AC_1_PHASE", 7.0)], [(TYPE2, "AC_1_PHASE", 7.0)]]] * rng.randint(1, 2)
    if template == "mixed":
        kw = rng.choice((50.0, 75.0, 75.0))
        return [
            [[(CCS2, "DC", kw)]],
            [[(TYPE2, "AC_3_PHASE", 22.0)], [(TYPE2, "AC_3_PHASE", 22.0)]],
        ]
    raise ValueError(f"template: unknown site template {template!r}")


@dataclass
class Numbering:
    """Per-operator counters so ids stay unique across every site built."""

    sites: dict[str, int] = field(default_factory=dict)
    chargers: dict[str, int] = field(default_factory=dict)

    def next_site(self, code: str) -> int:
        self.sites[code] = self.sites.get(code, 0) + 1
        return self.sites[code]

    def next_charger(self, code: str) -> int:
        self.chargers[code] = self.chargers.get(code, 1000) + 1
        return self.chargers[code]


def pick_operator(rng: random.Random, locality: Locality) -> Operator:
    choices = [
        op for op in OPERATORS if locality.state in op.states and op.kind_weights[locality.kind] > 0
    ]
    return rng.choices(choices, weights=[op.kind_weights[locality.kind] for op in choices])[0]


def _random_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def site_rows(
    rng: random.Random,
    operator: Operator,
    locality: Locality,
    numbering: Numbering,
    latitude: float,
    longitude: float,
) -> list[dict[str, object]]:
    """The connector rows (spec section 5) of one new site of ``operator`` at ``locality``."""
    template = rng.choices(list(operator.templates), weights=list(operator.templates.values()))[0]
    layout = charger_layout(rng, template)
    site_no = numbering.next_site(operator.code)
    site_id = f"{operator.code}-S{site_no:04d}"
    label = "Kerbside" if template == "kerbside" else rng.choice(PLACE_LABELS[locality.kind])
    site_name = f"{operator.brand} {locality.name} {label}"
    address = f"{rng.randint(1, 250)} {rng.choice(STREETS)}"
    is_dc = any(conn[1] == "DC" for charger in layout for evse in charger for conn in evse)
    dc_codes, ac_codes, share = PROGRAMS[locality.state]
    codes = dc_codes if is_dc else ac_codes
    program = rng.choice(codes) if codes and rng.random() < share else None
    site_commissioned = (
        _random_date(rng, date(2026, 1, 15), date(2026, 10, 31)) if rng.random() < 0.05 else None
    )
    rows: list[dict[str, object]] = []
    for charger in layout:
        charger_no = numbering.next_charger(operator.code)
        commissioned, decommissioned = site_commissioned, None
        if site_commissioned is None and rng.random() < 0.03:
            decommissioned = _random_date(rng, date(2026, 3, 1), date(2026, 12, 31))
        for evse_index, evse in enumerate(charger, start=1):
            evse_uid = f"AU*{operator.code}*E{charger_no:04d}*{evse_index}"
            for connector_index, (standard, power_type, kw) in enumerate(evse, start=1):
                rows.append(
                    {
                        "cpo_id": operator.cpo_id,
                        "site_id": site_id,
                        "site_name": site_name,
                        "address": address,
                        "suburb": locality.name,
                        "state": locality.state,
                        "postcode": locality.postcode,
                        "latitude": round(latitude, 5),
                        "longitude": round(longitude, 5),
                        "charger_id": f"{site_id}-C{charger_no:04d}",
                        "evse_uid": evse_uid,
                        "connector_id": str(connector_index),
                        "connector_standard": standard,
                        "power_type": power_type,
                        "max_power_kw": kw,
                        "ocpp_charge_point_id": (
                            f"CP-{operator.code}-{charger_no:04d}" if operator.ocpp else None
                        ),
                        "ocpp_evse_id": evse_index if operator.ocpp else None,
                        "program": program,
                        "commissioned_on": commissioned,
                        "decommissioned_on": decommissioned,
                    }
                )
    return rows


def build_default_rows(
    seed: int = SEED, localities: Sequence[Locality] = LOCALITIES
) -> list[dict[str, object]]:
    """One site per real locality, placed within a few hundred metres of its centre."""
    rng = random.Random(seed)
    numbering = Numbering()
    rows: list[dict[str, object]] = []
    for locality in localities:
        operator = pick_operator(rng, locality)
        latitude = locality.latitude + rng.uniform(-0.003, 0.003)
        longitude = locality.longitude + rng.uniform(-0.003, 0.003)
        rows.extend(site_rows(rng, operator, locality, numbering, latitude, longitude))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    from shared.sites import write_sites_csv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=CSV_PATH)
    args = parser.parse_args(argv)
    rows = build_default_rows(args.seed)
    args.out.write_bytes(write_sites_csv(rows))
    sites = {(row["cpo_id"], row["site_id"]) for row in rows}
    evses = {(row["cpo_id"], row["evse_uid"]) for row in rows}
    print(f"{args.out}: {len(sites)} sites, {len(evses)} EVSEs, {len(rows)} connectors")


if __name__ == "__main__":
    main()
