"""Inventory: locations, lots, stock movements, on-hand and lot genealogy."""
