"""SQLAlchemy Core views of the telemetry relations (created by raw-SQL migrations, so they live
in their own MetaData and are not compared by `alembic check`)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

telemetry_metadata = MetaData()

signal = Table(
    "signal",
    telemetry_metadata,
    Column("id", Integer, primary_key=True),
    Column("key", Text, nullable=False, unique=True),
    Column("equipment_code", Text),
    Column("name", Text, nullable=False),
    Column("unit", Text),
    Column("data_type", Text, nullable=False),
    Column("protocol", Text),
    Column("source", Text),
    Column("description", Text),
    Column("meta", JSONB, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

reading = Table(
    "reading",
    telemetry_metadata,
    Column("ts", DateTime(timezone=True), primary_key=True),
    Column("signal_id", Integer, primary_key=True),
    Column("value", Float),
    Column("quality", SmallInteger, nullable=False),
)

mes_meta = Table(
    "mes_meta",
    telemetry_metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)
