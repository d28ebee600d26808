"""Equipment: the ISA-95 hierarchy (site, area, line, cell, machine), cycle times, signals."""
