"""Audit trail: every create, update, delete and transition; user, time, before and after."""
