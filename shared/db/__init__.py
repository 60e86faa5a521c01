"""Database access: SQLAlchemy Core tables, Alembic migrations and the observation store."""
