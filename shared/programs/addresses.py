"""Places compared: great-circle distance, and Australian street addresses split into house
numbers and normalised street words."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def haversine_m(
    lat1: float, lon1: float, lat2: np.ndarray | float, lon2: np.ndarray | float
) -> np.ndarray:
    """Great-circle distance in metres from one point to each of many."""
    phi1, phi2 = math.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(lon2) - math.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


# Australia Post's street-type abbreviations, so "Road" and "Rd" compare equal.
STREET_TYPES = {
    "alley": "ally", "arcade": "arc", "avenue": "ave", "av": "ave", "boulevard": "bvd",
    "blvd": "bvd", "circuit": "cct", "close": "cl", "court": "ct", "crescent": "cres",
    "cr": "cres", "drive": "dr", "esplanade": "esp", "grove": "gr", "highway": "hwy",
    "lane": "ln", "parade": "pde", "place": "pl", "road": "rd", "square": "sq",
    "street": "st", "terrace": "tce", "way": "wy", "parkway": "pkwy", "point": "pt",
}  # fmt: skip
STREET_TYPE_WORDS = set(STREET_TYPES.values())
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)?")
_NUMBER = re.compile(r"^(\d+)[a-z]?(?:-(\d+)[a-z]?)?$")


@dataclass(frozen=True, slots=True)
class Address:
    """An address split into house numbers (ranges) and street words, normalised."""

    numbers: tuple[tuple[int, int], ...]
    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str | None) -> Address:
        numbers: list[tuple[int, int]] = []
        words: list[str] = []
        # "3/45 Smith St": unit 3 of number 45; the unit says nothing about the site.
        cleaned = re.sub(r"\b\d+[a-z]?\s*/\s*(?=\d)", "", (text or "").lower())
        for token in _WORD.findall(cleaned):
            number = _NUMBER.match(token)
            if number:
                low = int(number.group(1))
                high = int(number.group(2) or low)
                numbers.append((min(low, high), max(low, high)))
            elif not any(ch.isdigit() for ch in token):
                words.append(STREET_TYPES.get(token, token))
        return cls(tuple(numbers), tuple(words))

    def numbers_agree(self, other: Address) -> bool:
        """Unknown on either side agrees; otherwise some number or range must overlap."""
        if not self.numbers or not other.numbers:
            return True
        return any(a <= d and c <= b for a, b in self.numbers for c, d in other.numbers)

    def street_score(self, other: Address) -> float:
        """0–100: how alike the street words are; 0 unless a word other than the type is shared."""
        shared = (set(self.words) & set(other.words)) - STREET_TYPE_WORDS
        if not shared:
            return 0.0
        return float(fuzz.token_set_ratio(" ".join(self.words), " ".join(other.words)))


SAME_PLACE_NAME_SCORE = 90  # "Port Macquarie" and "Pt Macquarie" agree (92)


def place_name(text: str | None) -> str:
    return " ".join((text or "").lower().split())
