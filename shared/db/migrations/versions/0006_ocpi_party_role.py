"""Every OCPI party of a credentials object, and each party registered by one CPO only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

A platform that serves several CPOs sends one credentials object with several CPO roles
(OCPI 2.2.1 credentials, example 4); each (country_code, party_id) then pushes under its own URL.
The primary key makes a party belong to one CPO at most. Rows of ``ocpi_party`` stored before this
revision get their own party as the only role.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ocpi_party_role",
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("cpo_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpo_id"], ["ocpi_party.cpo_id"], name="fk_ocpi_party_role_cpo_id_ocpi_party"
        ),
        sa.PrimaryKeyConstraint("country_code", "party_id", name="pk_ocpi_party_role"),
    )
    op.create_index("ix_ocpi_party_role_cpo_id", "ocpi_party_role", ["cpo_id"])
    op.execute(
        "INSERT INTO ocpi_party_role (country_code, party_id, cpo_id)"
        " SELECT UPPER(country_code), UPPER(party_id), MIN(cpo_id) FROM ocpi_party"
        " GROUP BY UPPER(country_code), UPPER(party_id)"
    )


def downgrade() -> None:
    op.drop_index("ix_ocpi_party_role_cpo_id", table_name="ocpi_party_role")
    op.drop_table("ocpi_party_role")
