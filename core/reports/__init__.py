"""Production reports: output by day/shift/line/item, downtime and scrap Pareto, lead times."""
