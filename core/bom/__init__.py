"""Bills of materials: versioned headers per item, lines, explosion, where-used, cycle checks."""
