"""Excluded-downtime windows and their append-only review trail (spec 4.3).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

``exclusion`` rows are written once, when proposed; every state change (proposed, approved,
rejected, withdrawn) is a new ``exclusion_event`` row, so the trail of who did what and when
is complete and the current state is the latest event's.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=False).with_variant(mssql.DATETIME2(precision=6), "mssql")


def upgrade() -> None:
    op.create_table(
        "exclusion",
        sa.Column("exclusion_id", sa.String(32), nullable=False),
        sa.Column("cpo_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("scope_id", sa.String(64), nullable=False),
        sa.Column("from_at", Instant, nullable=False),
        sa.Column("to_at", Instant, nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "proposed_by",
            sa.String(200),
            nullable=False,
        ),
        sa.Column("proposed_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("exclusion_id", name="pk_exclusion"),
    )
    op.create_index("ix_exclusion_cpo", "exclusion", ["cpo_id", "proposed_at"])
    op.create_index("ix_exclusion_period", "exclusion", ["from_at", "to_at"])
    op.create_table(
        "exclusion_event",
        sa.Column("exclusion_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "state",
            sa.String(16),
            nullable=False,
        ),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", Instant, nullable=False),
        sa.ForeignKeyConstraint(
            ["exclusion_id"],
            ["exclusion.exclusion_id"],
            name="fk_exclusion_event_exclusion_id_exclusion",
        ),
        sa.PrimaryKeyConstraint("exclusion_id", "seq", name="pk_exclusion_event"),
    )


def downgrade() -> None:
    op.drop_table("exclusion_event")
    op.drop_index("ix_exclusion_period", table_name="exclusion")
    op.drop_index("ix_exclusion_cpo", table_name="exclusion")
    op.drop_table("exclusion")
