"""Authentication (Keycloak-issued JWT bearer tokens) and role-based access per feature."""
