"""Cryptographic building blocks of vaultlab: Shamir shares, OTP token encoding, activation JWTs, lab TLS,
the control API token."""
