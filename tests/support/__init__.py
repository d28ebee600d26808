"""Test support: real services (PostgreSQL, Mosquitto, ...) started on free ports."""
