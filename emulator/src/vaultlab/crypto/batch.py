"""Batch tokens as Vault makes them: the token entry sealed into the token string itself.

Vault does not store batch tokens: the entry is encrypted with the cluster's keyring and
the ciphertext is the token (``hvb.`` + base64), so minting one writes nothing and ships no
WAL; a DR secondary, which holds its primary's keyring, opens the tokens its primary minted.
Here the keyring is one AES-256-GCM key the token store keeps in the cluster's storage.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "hvb."
_VERSION = b"\x00\x00\x00\x01"
_NONCE_BYTES = 12
_CONTEXT = b"vaultlab batch token"


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, entry: dict[str, Any]) -> str:
    """The batch token carrying ``entry`` (JSON-serialisable), sealed with ``key``."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(entry, sort_keys=True, separators=(",", ":")).encode(), _CONTEXT)
    return PREFIX + base64.urlsafe_b64encode(_VERSION + nonce + sealed).decode().rstrip("=")


def is_batch(token: Any) -> bool:
    return isinstance(token, str) and token.startswith(PREFIX)


def open_token(key: bytes | None, token: str) -> dict[str, Any] | None:
    """The entry a batch token carries, or None when ``key`` did not seal it (or it is no batch token)."""
    if key is None or not is_batch(token):
        return None
    body = token[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_VERSION) or len(raw) <= len(_VERSION) + _NONCE_BYTES:
        return None
    nonce = raw[len(_VERSION):len(_VERSION) + _NONCE_BYTES]
    try:
        entry = json.loads(AESGCM(key).decrypt(nonce, raw[len(_VERSION) + _NONCE_BYTES:], _CONTEXT))
    except (InvalidTag, ValueError):
        return None
    return entry if isinstance(entry, dict) else None
