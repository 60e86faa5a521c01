"""Status runs keep the instants of their observations and liveness signals (spec 3, exactness).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

``instants`` holds every distinct instant inside the run (delta-coded, compressed; see
``shared.timeline``), so a late observation that lands inside a stored run splits it exactly.
Runs stored before this revision have none: they read as observed at their first and last
instants only. ``carried`` marks a run whose first instant is a liveness signal, whose status
therefore follows the observation before it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: both SQLite and SQL Server add a column in place.
    op.add_column("status_run", sa.Column("instants", sa.LargeBinary(), nullable=True))
    op.add_column(
        "status_run",
        sa.Column("carried", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("status_run") as batch:
        batch.drop_column("carried")
        batch.drop_column("instants")
