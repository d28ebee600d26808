"""Database schema: Alembic migrations and the TimescaleDB/plain-PostgreSQL telemetry DDL."""
