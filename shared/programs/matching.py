"""Which static site a funded-charger row means: by EVSE id, distance and address. Pure.

The evidence, strongest first: the row's ``evse_id`` is an EVSE of one of the CPO's sites; one
site lies within ``max_distance_m`` and its address agrees; one site lies within it (address
silent or different); no site lies within it but exactly one site's address agrees (street number,
street name, and postcode or suburb), wherever the row's coordinates put it. Anything else — two
sites that fit equally, or a near site while another site has the address — is ambiguous and left
to a person, as is a row nothing fits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from shared.programs.addresses import SAME_PLACE_NAME_SCORE, Address, haversine_m, place_name
from shared.programs.funded import FundedCharger
from shared.programs.operators import OperatorDirectory

DEFAULT_MAX_DISTANCE_M = 200.0
DEFAULT_MIN_ADDRESS_SCORE = 85.0

Status = Literal["matched", "ambiguous", "unmatched", "duplicate"]
MatchedBy = Literal["evse", "location+address", "location", "address"]


@dataclass(frozen=True, slots=True)
class MatchOptions:
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M
    min_address_score: float = DEFAULT_MIN_ADDRESS_SCORE


@dataclass(frozen=True, slots=True)
class Site:
    cpo_id: str
    site_id: str
    site_name: str
    address: str
    suburb: str
    postcode: str
    latitude: float
    longitude: float
    programs: tuple[str, ...]  # the static CSV's own program codes of its connectors

    @property
    def label(self) -> str:
        return f"{self.site_id} ({self.address}, {self.suburb} {self.postcode})"


@dataclass(frozen=True, slots=True)
class Candidate:
    site: Site
    distance_m: float | None
    street_score: float
    numbers_agree: bool
    same_postcode: bool
    same_suburb: bool
    address_agrees: bool

    def describe(self) -> str:
        distance = "no coordinates" if self.distance_m is None else f"{self.distance_m:,.0f} m"
        agreement = "address agrees" if self.address_agrees else "address differs"
        return f"{self.site.label}: {distance}, {agreement}"


@dataclass(frozen=True, slots=True)
class Match:
    row: FundedCharger
    cpo_id: str | None
    status: Status
    candidate: Candidate | None = None  # the site, when matched
    matched_by: MatchedBy | None = None
    contenders: tuple[Candidate, ...] = ()  # what a person chooses between, when ambiguous
    reason: str = ""  # why not matched; for a match, anything a person should look at

    @property
    def site_id(self) -> str | None:
        return self.candidate.site.site_id if self.candidate else None


@dataclass(slots=True)
class SiteIndex:
    """The static sites, one record per (cpo_id, site_id), with arrays for distance queries."""

    sites: dict[str, list[Site]] = field(default_factory=dict)  # by cpo_id
    coordinates: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    postcodes: dict[str, np.ndarray] = field(default_factory=dict)
    suburbs: dict[str, list[str]] = field(default_factory=dict)
    addresses: dict[str, list[Address]] = field(default_factory=dict)
    evse_site: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_connectors(cls, connectors: pd.DataFrame) -> SiteIndex:
        """Built from ``shared.sites.StaticSites.connectors`` (one row per connector)."""
        index = cls()
        if connectors.empty:
            return index
        ordered = connectors.sort_values(["cpo_id", "site_id", "evse_uid", "connector_id"])
        named = ordered[ordered["program"].notna() & (ordered["program"] != "")]
        programs = named.groupby(["cpo_id", "site_id"])["program"].agg(lambda p: sorted(set(p)))
        firsts = ordered.drop_duplicates(["cpo_id", "site_id"])
        columns = ["cpo_id", "site_id", "site_name", "address", "suburb", "postcode"]
        for values in firsts[[*columns, "latitude", "longitude"]].itertuples(index=False):
            cpo_id, site_id, site_name, address, suburb, postcode, latitude, longitude = values
            index.sites.setdefault(str(cpo_id), []).append(
                Site(
                    cpo_id=str(cpo_id),
                    site_id=str(site_id),
                    site_name=str(site_name),
                    address=str(address),
                    suburb=str(suburb),
                    postcode=str(postcode),
                    latitude=float(latitude),
                    longitude=float(longitude),
                    programs=tuple(programs.get((cpo_id, site_id), ())),
                )
            )
        index.evse_site = {
            (str(c), str(e)): str(s)
            for c, e, s in zip(
                ordered["cpo_id"], ordered["evse_uid"], ordered["site_id"], strict=True
            )
        }
        for cpo_id, sites in index.sites.items():
            index.coordinates[cpo_id] = (
                np.array([s.latitude for s in sites]),
                np.array([s.longitude for s in sites]),
            )
            index.postcodes[cpo_id] = np.array([s.postcode for s in sites], dtype=object)
            index.suburbs[cpo_id] = [place_name(s.suburb) for s in sites]
            index.addresses[cpo_id] = [Address.parse(s.address) for s in sites]
        return index

    def site(self, cpo_id: str, site_id: str) -> Site | None:
        return next((s for s in self.sites.get(cpo_id, []) if s.site_id == site_id), None)

    def distances(self, cpo_id: str, latitude: float, longitude: float) -> np.ndarray:
        lat, lon = self.coordinates[cpo_id]
        return haversine_m(latitude, longitude, lat, lon)

    def nearest_of_others(
        self, cpo_id: str, latitude: float, longitude: float, within_m: float
    ) -> tuple[Site, float] | None:
        """The nearest site of any other CPO within ``within_m``: a hint for the person."""
        best: tuple[Site, float] | None = None
        for other, sites in self.sites.items():
            if other == cpo_id:
                continue
            distances = self.distances(other, latitude, longitude)
            i = int(np.argmin(distances))
            if distances[i] <= within_m and (best is None or distances[i] < best[1]):
                best = (sites[i], float(distances[i]))
        return best


def evidence(
    row: FundedCharger,
    site: Site,
    address: Address,
    distance_m: float | None,
    same_postcode: bool,
    same_suburb: bool,
    options: MatchOptions,
) -> Candidate:
    """What speaks for ``site`` being the row's."""
    listed = Address.parse(row.address)
    score = listed.street_score(address) if row.address else 0.0
    numbers = listed.numbers_agree(address)
    return Candidate(
        site=site,
        distance_m=distance_m,
        street_score=score,
        numbers_agree=numbers,
        same_postcode=same_postcode,
        same_suburb=same_suburb,
        address_agrees=bool(
            row.address
            and numbers
            and score >= options.min_address_score
            and (same_postcode or same_suburb)
        ),
    )


def candidates(
    row: FundedCharger, cpo_id: str, index: SiteIndex, options: MatchOptions
) -> list[Candidate]:
    """The CPO's sites that could be the row's, with the evidence for each, nearest first: those
    within the distance, those with its postcode or suburb (an address agrees only with one of
    them), and the nearest site of all, which an unmatched row names for the person."""
    sites = index.sites.get(cpo_id, [])
    if not sites:
        return []
    relevant = np.zeros(len(sites), dtype=bool)
    distances = None
    if row.latitude is not None and row.longitude is not None:
        distances = index.distances(cpo_id, row.latitude, row.longitude)
        relevant |= distances <= options.max_distance_m
        relevant[int(np.argmin(distances))] = True
    same_postcode = index.postcodes[cpo_id] == row.postcode
    relevant |= same_postcode
    same_suburb = np.zeros(len(sites), dtype=bool)
    if row.suburb:
        scores = process.cdist([place_name(row.suburb)], index.suburbs[cpo_id], scorer=fuzz.ratio)
        same_suburb = scores[0] >= SAME_PLACE_NAME_SCORE
        relevant |= same_suburb
    found = [
        evidence(
            row,
            sites[i],
            index.addresses[cpo_id][i],
            None if distances is None else float(distances[i]),
            bool(same_postcode[i]),
            bool(same_suburb[i]),
            options,
        )
        for i in np.flatnonzero(relevant)
    ]
    return sorted(
        found, key=lambda c: (math.inf if c.distance_m is None else c.distance_m, c.site.site_id)
    )


def _listing(found: Iterable[Candidate]) -> str:
    return "; ".join(c.describe() for c in found)


def match_row(row: FundedCharger, cpo_id: str, index: SiteIndex, options: MatchOptions) -> Match:
    """Decide the one site ``row`` means among ``cpo_id``'s static sites, or say why not."""
    if not index.sites.get(cpo_id):
        return Match(row, cpo_id, "unmatched", reason=f"CPO {cpo_id} has no static sites")
    if row.evse_id:
        site_id = index.evse_site.get((cpo_id, row.evse_id))
        site = None if site_id is None else index.site(cpo_id, site_id)
        if site is not None:
            distance = None
            if row.latitude is not None and row.longitude is not None:
                distance = float(
                    haversine_m(row.latitude, row.longitude, site.latitude, site.longitude)
                )
            chosen = evidence(
                row,
                site,
                Address.parse(site.address),
                distance,
                row.postcode == site.postcode,
                place_name(row.suburb) == place_name(site.suburb),
                options,
            )
            return Match(row, cpo_id, "matched", chosen, "evse")
    found = candidates(row, cpo_id, index, options)
    near = [c for c in found if c.distance_m is not None and c.distance_m <= options.max_distance_m]
    agreeing = [c for c in found if c.address_agrees]
    strong = [c for c in near if c.address_agrees]
    limit = f"{options.max_distance_m:,.0f} m"
    if len(strong) == 1:
        return Match(row, cpo_id, "matched", strong[0], "location+address")
    if len(strong) > 1:
        return Match(
            row,
            cpo_id,
            "ambiguous",
            contenders=tuple(strong),
            reason=f"{len(strong)} sites within {limit} share the address: {_listing(strong)}",
        )
    if len(near) > 1:
        return Match(
            row,
            cpo_id,
            "ambiguous",
            contenders=tuple(near),
            reason=f"{len(near)} sites within {limit}, none with the address: {_listing(near)}",
        )
    if len(near) == 1:
        if agreeing:
            return Match(
                row,
                cpo_id,
                "ambiguous",
                contenders=(near[0], *agreeing),
                reason=f"the site within {limit} has another address, another site has this one: "
                + _listing((near[0], *agreeing)),
            )
        note = ""
        if row.address:
            note = f"address differs: listed {row.listed_address!r}, site {near[0].site.label}"
        return Match(row, cpo_id, "matched", near[0], "location", reason=note)
    if len(agreeing) == 1:
        chosen = agreeing[0]
        note = (
            "no coordinates listed"
            if chosen.distance_m is None
            else f"the listed coordinates are {chosen.distance_m:,.0f} m from the site"
        )
        return Match(row, cpo_id, "matched", chosen, "address", reason=note)
    if len(agreeing) > 1:
        return Match(
            row,
            cpo_id,
            "ambiguous",
            contenders=tuple(agreeing),
            reason=f"{len(agreeing)} sites have the address: {_listing(agreeing)}",
        )
    reason = f"no site of {cpo_id} within {limit} or with the address"
    if found and found[0].distance_m is not None:
        reason += f"; nearest is {found[0].describe()}"
    if row.latitude is not None and row.longitude is not None:
        other = index.nearest_of_others(cpo_id, row.latitude, row.longitude, options.max_distance_m)
        if other is not None:
            reason += f"; {other[0].cpo_id}'s site {other[0].label} is {other[1]:,.0f} m away"
    return Match(row, cpo_id, "unmatched", reason=reason)


def mark_duplicates(matches: list[Match]) -> list[Match]:
    """A later row that matched a site already matched for the same program is a duplicate: the
    first row's assignment stands, and a different round is said so a person can check it."""
    first: dict[tuple[str, str, str], Match] = {}
    marked = []
    for match in matches:
        if match.status != "matched" or match.cpo_id is None or match.site_id is None:
            marked.append(match)
            continue
        key = (match.cpo_id, match.site_id, match.row.program)
        earlier = first.setdefault(key, match)
        if earlier is match:
            marked.append(match)
            continue
        reason = f"site {match.site_id} was already matched by line {earlier.row.line}"
        if earlier.row.round != match.row.round:
            reason += (
                f" in round {earlier.row.round or '(none)'}, not {match.row.round or '(none)'}"
            )
        marked.append(
            Match(
                match.row,
                match.cpo_id,
                "duplicate",
                match.candidate,
                match.matched_by,
                reason=reason,
            )
        )
    return marked


def match_rows(
    rows: Iterable[FundedCharger],
    index: SiteIndex,
    directory: OperatorDirectory,
    options: MatchOptions,
    cpo_id: str | None = None,
) -> list[Match]:
    """Match every row; ``cpo_id`` (the ``--cpo`` option) stands for the operator of all rows."""
    matches = []
    for row in rows:
        resolved, why = cpo_id, ""
        if resolved is None and row.cpo_id:
            resolved = row.cpo_id
        if resolved is None and row.cpo_name:
            resolved, why = directory.resolve(row.cpo_name)
        if resolved is None:
            matches.append(
                Match(row, None, "unmatched", reason=why or "no operator: pass --cpo CPO_ID")
            )
            continue
        matches.append(match_row(row, resolved, index, options))
    return mark_duplicates(matches)
