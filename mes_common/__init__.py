"""Shared kernel of the deployables: settings loading, logging, database connection settings.

Imports nothing from `core`, `gateway` or `simulators`, and nothing heavy, so that each deployable
can ship alone with it.
"""
