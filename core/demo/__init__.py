"""Demo data: the demo plant of docs/demo-plant.md with master data, stock, plans and orders."""
