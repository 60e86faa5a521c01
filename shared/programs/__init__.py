"""Grant programs: funded-charger lists matched to static sites, stored assignments, and the
site → program table the monthly job hands to the engine.

``funded`` reads a funding body's list, ``matching`` decides which site each row means (pure,
with ``addresses`` and ``operators``), ``importer`` runs an import and words its report,
``store`` keeps the assignments in SQL, ``commands`` is the ``chargeatlarge programs`` group.
"""

from shared.programs.store import PROGRAMS_SCHEMA, site_programs

__all__ = ["PROGRAMS_SCHEMA", "site_programs"]
