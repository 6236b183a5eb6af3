"""vaultlab: a license-free emulator of the Vault Enterprise replication API."""
