"""Quality: inspection plans and characteristics, inspections and results with automatic
pass/fail, non-conformances with disposition, and SPC (charts, Nelson rules, capability)."""
