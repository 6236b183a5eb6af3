"""vaultlab: a license-free emulator of the Vault Enterprise replication API."""

__version__ = "0.1.0"
