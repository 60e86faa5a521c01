"""Alembic environment: runs the project's migrations against the URL given in the config."""

from alembic import context
from sqlalchemy import pool

from shared.db.engine import make_engine
from shared.db.tables import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "the Alembic config names no sqlalchemy.url: build it with"
            " shared.db.engine.alembic_config(url)"
        )
    return url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    engine.pool = pool.NullPool(engine.pool._creator)  # one short-lived connection
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
