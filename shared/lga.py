"""Local government areas (spec 4.4, 5): the LGA of a site without ``lga_code``, from its
coordinates and an ABS boundary file (point in polygon with shapely's STRtree)."""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

# ABS ASGS state names (STE_NAME21) → the static CSV's state codes.
STATE_CODES = {
    "New South Wales": "NSW",
    "Victoria": "VIC",
    "Queensland": "QLD",
    "South Australia": "SA",
    "Western Australia": "WA",
    "Tasmania": "TAS",
    "Northern Territory": "NT",
    "Australian Capital Territory": "ACT",
}
CODE_PROPERTY, NAME_PROPERTY, STATE_PROPERTY = "LGA_code", "LGA_name", "STE_NAME21"
MAX_BOUNDARY_BYTES = 512 * 1024 * 1024
ATTRIBUTION = (
    "LGA boundaries: Australian Bureau of Statistics, ASGS Edition 3, Local Government Areas"
    " 2022, © Commonwealth of Australia, CC BY 4.0"
)


class LgaBoundariesRefused(ValueError):
    """The boundary file cannot be used (missing, not GeoJSON, lacking the ABS properties)."""


@dataclass(frozen=True, slots=True)
class Lga:
    code: str
    name: str
    state: str


class LgaBoundaries:
    """LGA polygons with a spatial index; ``locate`` answers which LGA holds a point."""

    def __init__(self, areas: list[Lga], geometries: list[shapely.Geometry], source: str) -> None:
        self.areas = areas
        self.source = source
        self._geometries = np.array(geometries, dtype=object)
        self._tree = shapely.STRtree(self._geometries)

    @classmethod
    def from_geojson(cls, data: bytes, source: str) -> LgaBoundaries:
        if len(data) > MAX_BOUNDARY_BYTES:
            raise LgaBoundariesRefused(f"{source}: larger than {MAX_BOUNDARY_BYTES // 2**20} MiB")
        try:
            document = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise LgaBoundariesRefused(f"{source}: not GeoJSON ({exc})") from None
        features = document.get("features") if isinstance(document, dict) else None
        if not isinstance(features, list) or not features:
            raise LgaBoundariesRefused(f"{source}: not a GeoJSON FeatureCollection with features")
        areas: list[Lga] = []
        geometries: list[shapely.Geometry] = []
        for number, feature in enumerate(features):
            where = f"{source}: feature {number}"
            properties = feature.get("properties") if isinstance(feature, dict) else None
            if not isinstance(properties, dict):
                raise LgaBoundariesRefused(f"{where}: no properties")
            code, name = properties.get(CODE_PROPERTY), properties.get(NAME_PROPERTY)
            state = STATE_CODES.get(str(properties.get(STATE_PROPERTY)))
            if not code or not name or state is None:
                raise LgaBoundariesRefused(
                    f"{where}: expected the ABS properties {CODE_PROPERTY}, {NAME_PROPERTY} and"
                    f" {STATE_PROPERTY} (a state or territory name)"
                )
            try:
                geometry = shape(feature["geometry"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise LgaBoundariesRefused(f"{where}: geometry unreadable ({exc})") from None
            if geometry.geom_type not in ("Polygon", "MultiPolygon"):
                raise LgaBoundariesRefused(f"{where}: {geometry.geom_type}, expected polygons")
            # Digitised boundaries have self-touching rings; predicates need valid geometry.
            areas.append(Lga(str(code), str(name), state))
            geometries.append(shapely.make_valid(geometry))
        return cls(areas, geometries, source)

    @classmethod
    def read(cls, path: Path) -> LgaBoundaries:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LgaBoundariesRefused(f"{path}: cannot be read ({exc.strerror})") from None
        return cls.from_geojson(data, str(path))

    def locate(self, latitude: float, longitude: float) -> Lga | None:
        """The LGA whose polygon holds the point (boundary included); the lowest code on a tie."""
        return self.locate_many([latitude], [longitude])[0]

    def locate_many(
        self, latitudes: Iterable[float], longitudes: Iterable[float]
    ) -> list[Lga | None]:
        points = shapely.points(np.array(list(longitudes)), np.array(list(latitudes)))
        found: list[Lga | None] = [None] * len(points)
        point_index, area_index = self._tree.query(points, predicate="intersects")
        for point, area in zip(point_index.tolist(), area_index.tolist(), strict=True):
            candidate = self.areas[area]
            current = found[point]
            if current is None or candidate.code < current.code:
                found[point] = candidate
        return found


@dataclass(slots=True)
class LgaSummary:
    """How the sites of a file got their LGA (counted per site)."""

    given: int = 0
    derived: int = 0
    none: int = 0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"LGA: {self.given} given, {self.derived} derived from coordinates, {self.none} none"


def assign_lgas(
    rows: Sequence[MutableMapping[str, object]], boundaries: LgaBoundaries | None
) -> LgaSummary:
    """Fill ``lga_code``/``lga_name`` of the sites that have none from their coordinates.

    A site is located by its first row's coordinates; an LGA of another state than the site's
    is not taken (the coordinates or the state are wrong), and says so in ``notes``.
    """
    summary = LgaSummary()
    sites: dict[tuple[object, object], list[MutableMapping[str, object]]] = {}
    for row in rows:
        sites.setdefault((row["cpo_id"], row["site_id"]), []).append(row)
    to_locate = []
    for key, site_rows in sites.items():
        if site_rows[0].get("lga_code"):
            summary.given += 1
        else:
            to_locate.append(key)
    if boundaries is None or not to_locate:
        summary.none += len(to_locate)
        return summary
    firsts = [sites[key][0] for key in to_locate]
    found = boundaries.locate_many(
        [float(row["latitude"]) for row in firsts],  # type: ignore[arg-type]  # a validated float
        [float(row["longitude"]) for row in firsts],  # type: ignore[arg-type]  # a validated float
    )
    for key, first, lga in zip(to_locate, firsts, found, strict=True):
        if lga is not None and lga.state != first["state"]:
            summary.notes.append(
                f"site {key[1]} ({key[0]}): its coordinates lie in {lga.name} ({lga.code}),"
                f" {lga.state}, not in {first['state']}; no LGA derived"
            )
            lga = None
        if lga is None:
            summary.none += 1
            continue
        summary.derived += 1
        for row in sites[key]:
            row["lga_code"], row["lga_name"] = lga.code, lga.name
    return summary
