"""SQLAlchemy Core tables. The same definitions serve SQLite (embedded) and Azure SQL (mssql+pyodbc)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import mssql

# Stable constraint names so Alembic migrations read the same on every dialect.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# UTC instants without tz info; DATETIME2 keeps microseconds on SQL Server.
Instant = DateTime(timezone=False).with_variant(mssql.DATETIME2(precision=6), "mssql")
# SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Id = String(64)

cpo = Table(
    "cpo",
    metadata,
    Column("cpo_id", Id, primary_key=True),
    Column("name", String(200), nullable=True),
    Column("max_gap_minutes", Float, nullable=True, comment="null: CAL_MAX_GAP_MINUTES"),
    Column("created_at", Instant, nullable=False),
)

# One row per run of identical raw status of one EVSE. Every observation inside
# [started_at, last_confirmed_at] re-confirmed the status within max_gap of the previous one,
# so the status is known throughout; it carries forward max_gap past last_confirmed_at.
status_run = Table(
    "status_run",
    metadata,
    Column("run_id", BigId, primary_key=True, autoincrement=True),
    Column("cpo_id", Id, nullable=False),
    Column("evse_uid", Id, nullable=False),
    Column("status", String(16), nullable=False),
    Column("category", String(16), nullable=False),
    Column("started_at", Instant, nullable=False),
    Column("last_confirmed_at", Instant, nullable=False),
    Column("instants", LargeBinary, nullable=True, comment="shared.timeline.encode_instants"),
    Column("carried", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("cpo_id", "evse_uid", "started_at", name="uq_status_run_evse_start"),
    Index("ix_status_run_period", "started_at", "last_confirmed_at"),
)

ingest_batch = Table(
    "ingest_batch",
    metadata,
    Column("batch_id", BigId, primary_key=True, autoincrement=True),
    Column("cpo_id", Id, nullable=True),
    Column("source", String(32), nullable=False, comment="feed kind or 'import'"),
    Column("sender", String(200), nullable=True, comment="remote address, charge point or file"),
    Column("received_at", Instant, nullable=False),
    Column("finished_at", Instant, nullable=True),
    Column("accepted", Integer, nullable=False, default=0),
    Column("duplicate", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=True),
    Index("ix_ingest_batch_cpo_received", "cpo_id", "received_at"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("quarantine_id", BigId, primary_key=True, autoincrement=True),
    Column("batch_id", BigId, ForeignKey("ingest_batch.batch_id"), nullable=True),
    Column("cpo_id", Id, nullable=True),
    Column("source", String(32), nullable=False),
    Column("received_at", Instant, nullable=False),
    Column("location", String(200), nullable=True, comment="file:line, item index or message id"),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=True),
    Column("payload_sha256", String(64), nullable=True, comment="finds re-sent rejects"),
    Index("ix_quarantine_cpo_received", "cpo_id", "received_at"),
    Index("ix_quarantine_payload_sha256", "payload_sha256"),
)

# An excluded-downtime window (spec 4.3), as proposed; never updated. Its state is that of its
# latest exclusion_event (the highest seq): every proposal, review and withdrawal is a new event.
exclusion = Table(
    "exclusion",
    metadata,
    Column("exclusion_id", String(32), primary_key=True),
    Column("cpo_id", Id, nullable=False),
    Column("scope", String(8), nullable=False, comment="evse, charger or site"),
    Column("scope_id", Id, nullable=False, comment="evse_uid, charger_id or site_id"),
    Column("from_at", Instant, nullable=False),
    Column("to_at", Instant, nullable=False),
    Column("cause", String(32), nullable=False),
    Column("note", Text, nullable=True),
    Column(
        "proposed_by", String(200), nullable=False, comment="cpo:ID, cli:USER or dashboard:USER"
    ),
    Column("proposed_at", Instant, nullable=False),
    Index("ix_exclusion_cpo", "cpo_id", "proposed_at"),
    Index("ix_exclusion_period", "from_at", "to_at"),
)

# The audit trail of an exclusion: append-only; the primary key (exclusion_id, seq) makes two
# reviewers racing on one exclusion collide instead of both succeeding.
exclusion_event = Table(
    "exclusion_event",
    metadata,
    Column("exclusion_id", String(32), ForeignKey("exclusion.exclusion_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False, comment="PROPOSED, APPROVED, REJECTED, WITHDRAWN"),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", Instant, nullable=False),
)

# An OCPI party registered through the credentials handshake (ocpi_push feeds).
ocpi_party = Table(
    "ocpi_party",
    metadata,
    Column("cpo_id", Id, primary_key=True),
    Column("country_code", String(2), nullable=False),
    Column("party_id", String(3), nullable=False),
    Column("token_b", String(255), nullable=False, comment="the CPO's token, Fernet-encrypted"),
    Column("token_c_sha256", String(64), nullable=False, comment="hash of the token we issued"),
    Column("versions_url", String(255), nullable=True),
    Column("registered_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
)

# Every party (CPO role) of a registered credentials object; a party belongs to one CPO only.
ocpi_party_role = Table(
    "ocpi_party_role",
    metadata,
    Column("country_code", String(2), primary_key=True),
    Column("party_id", String(3), primary_key=True),
    Column("cpo_id", Id, ForeignKey("ocpi_party.cpo_id"), nullable=False, index=True),
)

# A static site in a grant program: matched from a funder's list by `chargeatlarge programs
# import`, or set by hand (matched_by "manual"; re-imports keep it). assigned=false is a site a
# person took out of the program, which re-imports leave out too.
program_assignment = Table(
    "program_assignment",
    metadata,
    Column("cpo_id", Id, primary_key=True),
    Column("site_id", Id, primary_key=True),
    Column("program", String(200), primary_key=True),
    Column("round", String(64), nullable=True),
    Column("assigned", Boolean, nullable=False),
    Column("matched_by", String(16), nullable=False, comment="evse, location+address, …, manual"),
    Column("distance_m", Float, nullable=True, comment="listed coordinates to the site"),
    Column("source", String(300), nullable=True, comment="funded list file:line, or manual"),
    Column("listed_address", String(500), nullable=True),
    Column("updated_at", Instant, nullable=False),
)
