"""Grant-program assignments of static sites (``chargeatlarge programs``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=False).with_variant(mssql.DATETIME2(precision=6), "mssql")


def upgrade() -> None:
    op.create_table(
        "program_assignment",
        sa.Column("cpo_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("program", sa.String(200), nullable=False),
        sa.Column("round", sa.String(64), nullable=True),
        sa.Column("assigned", sa.Boolean(), nullable=False),
        sa.Column("matched_by", sa.String(16), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("source", sa.String(300), nullable=True),
        sa.Column("listed_address", sa.String(500), nullable=True),
        sa.Column("updated_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("cpo_id", "site_id", "program", name="pk_program_assignment"),
    )


def downgrade() -> None:
    op.drop_table("program_assignment")
