"""Processes: routings (one per item) and their operations."""
