"""Shared pieces of the domain APIs: list queries, pagination, common schema types."""
