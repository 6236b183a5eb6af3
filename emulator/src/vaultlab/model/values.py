"""Small value types and parsers of the model: key shares, token ids, times, durations."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import time
from typing import Any

from .. import messages

_BASE62 = string.ascii_letters + string.digits


class KeyVerificationError(Exception):
    """Combined key shares do not reproduce the cluster's root key."""


def random_id(length: int = 24) -> str:
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def root_key_hash(key: bytes) -> str:
    return hashlib.sha256(b"vaultlab-root-key\0" + key).hexdigest()


def decode_key(text: str) -> bytes:
    """A key share as Vault accepts it: hex first, then standard base64."""
    if not isinstance(text, str) or not text:
        raise ValueError(messages.KEY_MISSING)
    try:
        raw = bytes.fromhex(text)
        if 16 <= len(raw) <= 33:
            return raw
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise ValueError(messages.KEY_NOT_HEX_OR_B64) from None


def rfc3339(ts: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{seconds}.{int((ts % 1) * 1e9):09d}Z"


def parse_duration(value: Any, option: str = "ttl") -> int:
    """Vault duration (int seconds or "30m", "1h30m", "45s", "2d") → seconds."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid {option}: {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    total, number = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
        else:
            raise ValueError(f"invalid {option} {value!r}: use seconds or a duration such as 30m or 1h")
    if number:
        raise ValueError(f"invalid {option} {value!r}: use seconds or a duration such as 30m or 1h")
    return int(total)
