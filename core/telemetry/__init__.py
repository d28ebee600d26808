"""Telemetry reads: signals and readings, raw or rolled up, on TimescaleDB or plain PostgreSQL."""
