"""Data that ships with the project: the default static site set at real Australian localities.

``DEFAULT_SITES_CSV`` is a static site CSV (spec section 5) built by ``build_sites.py``.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SITES_CSV: Path = Path(__file__).with_name("sites_au.csv")

__all__ = ["DEFAULT_SITES_CSV"]
