"""Initial schema: CPOs, feeds, status runs, ingest audit and quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=False).with_variant(mssql.DATETIME2(precision=6), "mssql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cpo",
        sa.Column("cpo_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("max_gap_minutes", sa.Float(), nullable=True),
        sa.Column("created_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("cpo_id", name="pk_cpo"),
    )
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
    op.create_table(
        "status_run",
        sa.Column("run_id", BigId, autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.String(64), nullable=False),
        sa.Column("evse_uid", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("started_at", Instant, nullable=False),
        sa.Column("last_confirmed_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_status_run"),
        sa.UniqueConstraint("cpo_id", "evse_uid", "started_at", name="uq_status_run_evse_start"),
    )
    op.create_index("ix_status_run_period", "status_run", ["started_at", "last_confirmed_at"])
    op.create_table(
        "ingest_batch",
        sa.Column("batch_id", BigId, autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("sender", sa.String(200), nullable=True),
        sa.Column("received_at", Instant, nullable=False),
        sa.Column("finished_at", Instant, nullable=True),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicate", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", name="pk_ingest_batch"),
    )
    op.create_index("ix_ingest_batch_cpo_received", "ingest_batch", ["cpo_id", "received_at"])
    op.create_table(
        "quarantine",
        sa.Column("quarantine_id", BigId, autoincrement=True, nullable=False),
        sa.Column("batch_id", BigId, nullable=True),
        sa.Column("cpo_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("received_at", Instant, nullable=False),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("payload_sha256", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batch.batch_id"], name="fk_quarantine_batch_id_ingest_batch"
        ),
        sa.PrimaryKeyConstraint("quarantine_id", name="pk_quarantine"),
    )
    op.create_index("ix_quarantine_cpo_received", "quarantine", ["cpo_id", "received_at"])
    op.create_index("ix_quarantine_payload_sha256", "quarantine", ["payload_sha256"])


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_table("ingest_batch")
    op.drop_table("status_run")
    op.drop_table("feed")
    op.drop_table("cpo")
