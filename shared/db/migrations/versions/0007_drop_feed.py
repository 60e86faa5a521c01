"""Drop the ``feed`` table: nothing ever wrote or read it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Feed health lives in the blob store (``live/feeds.json``) and the feeds in FEEDS.toml; the
table created by 0001 stayed empty. The downgrade creates it again as 0001 did (empty).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=False).with_variant(mssql.DATETIME2(precision=6), "mssql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.drop_table("feed")


def downgrade() -> None:
    op.create_table(
        "feed",
        sa.Column("feed_id", BigId, autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("config", sa.Text(), nullable=True),
        sa.Column("last_success_at", Instant, nullable=True),
        sa.Column("last_error_at", Instant, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", Instant, nullable=True),
        sa.ForeignKeyConstraint(["cpo_id"], ["cpo.cpo_id"], name="fk_feed_cpo_id_cpo"),
        sa.PrimaryKeyConstraint("feed_id", name="pk_feed"),
        sa.UniqueConstraint("cpo_id", "kind", name="uq_feed_cpo_kind"),
    )
