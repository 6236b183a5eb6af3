"""HTTP handlers of the core Vault API (no replication)."""
