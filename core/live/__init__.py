"""Live updates to dashboards over the authenticated WebSocket at `/ws`."""
