"""OCPI parties registered through the credentials handshake.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=False).with_variant(mssql.DATETIME2(precision=6), "mssql")


def upgrade() -> None:
    op.create_table(
        "ocpi_party",
        sa.Column("cpo_id", sa.String(64), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("token_b", sa.String(255), nullable=False),
        sa.Column("token_c_sha256", sa.String(64), nullable=False),
        sa.Column("versions_url", sa.String(255), nullable=True),
        sa.Column("registered_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("cpo_id", name="pk_ocpi_party"),
    )


def downgrade() -> None:
    op.drop_table("ocpi_party")
