"""Protocol connectors behind one small async contract (`base.Connector`)."""
