"""Machine states from signals: state timeline, automatic downtime, reason rules."""
