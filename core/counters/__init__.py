"""Machine counters: work-order runs on equipment, counted parts, readings linked to work orders."""
