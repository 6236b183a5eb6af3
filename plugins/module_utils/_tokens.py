# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Client-side handling of Vault's opaque tokens: DR operation token decoding and
activation (secondary) token inspection.

Error messages never contain the token, the OTP or the decoded value.
"""

from __future__ import annotations

import base64
import binascii
import string
import time
import traceback
import uuid

from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultError

# Imported at module level on purpose: ansible-core's strategy loads each action plugin class in
# the controller's main process before it forks the task's worker, so what is imported here is
# imported once per run and inherited by every worker (a deferred import would be paid per task).
try:
    import jwt
except ImportError:
    HAS_JWT = False
    JWT_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_JWT = True
    JWT_IMPORT_ERROR = None


LEGACY_OTP_BYTES = 16
ACTIVATION_TOKEN_TYPE = "wrapping"
DEFAULT_EXP_LEEWAY = 10
_PRINTABLE = frozenset(string.ascii_letters + string.digits + string.punctuation)


class TokenDecodeError(VaultError):
    """The encoded DR operation token and the OTP do not decode to a token."""


class ActivationTokenError(VaultError):
    """An activation token is unusable. ``reason`` in {"malformed", "type", "expired", "missing-lib"}."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def _b64decode(value, what, pad):
    text = value.strip()
    if pad:
        text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TokenDecodeError("%s is not valid base64" % what)


def _looks_legacy(otp):
    """Vault < 1.0 OTPs are standard base64 of exactly 16 random bytes (24 chars, '==' padded)."""
    if len(otp) != 24 or not otp.endswith("=="):
        return False
    try:
        return len(base64.b64decode(otp, validate=True)) == LEGACY_OTP_BYTES
    except (binascii.Error, ValueError):
        return False


def decode_operation_token(encoded, otp, otp_length=None):
    """Turn the ``encoded_token`` of a finished generate-operation-token (or generate-root)
    attempt back into the token, using the OTP of that attempt.

    * Vault 1.0+ (``otp_length`` > 0): encoded = base64 without padding of
      ``token XOR otp`` over their ASCII bytes (same length).
    * Vault < 1.0 (``otp_length`` == 0, or None and the OTP is base64 of 16 bytes): the token
      is a UUID, encoded = base64(uuid bytes XOR otp bytes).
    """
    if not encoded or not isinstance(encoded, str):
        raise TokenDecodeError("encoded token is empty")
    if not otp or not isinstance(otp, str):
        raise TokenDecodeError("OTP is empty")
    legacy = otp_length == 0 if otp_length is not None else _looks_legacy(otp)
    if legacy:
        return _decode_legacy(encoded, otp)
    if otp_length and len(otp) != otp_length:
        raise TokenDecodeError("OTP has %d characters but this Vault uses OTPs of %d; "
                               "use the OTP returned when this attempt was started" % (len(otp), otp_length))
    raw = _b64decode(encoded, "encoded token", pad=True)
    otp_bytes = otp.encode("utf-8")
    if len(raw) != len(otp_bytes):
        raise TokenDecodeError("encoded token decodes to %d bytes but the OTP has %d; "
                               "the OTP does not belong to this attempt" % (len(raw), len(otp_bytes)))
    token_bytes = bytes(a ^ b for a, b in zip(raw, otp_bytes))
    token = token_bytes.decode("latin-1")
    if not all(ch in _PRINTABLE for ch in token):
        raise TokenDecodeError("decoding gave a non-printable value; the OTP does not belong to this attempt")
    return token


def _decode_legacy(encoded, otp):
    otp_bytes = _b64decode(otp, "OTP", pad=False)
    raw = _b64decode(encoded, "encoded token", pad=True)
    if len(otp_bytes) != LEGACY_OTP_BYTES:
        raise TokenDecodeError("legacy OTP must be base64 of %d bytes, got %d bytes" % (LEGACY_OTP_BYTES, len(otp_bytes)))
    if len(raw) != LEGACY_OTP_BYTES:
        raise TokenDecodeError("legacy encoded token must decode to %d bytes, got %d" % (LEGACY_OTP_BYTES, len(raw)))
    return str(uuid.UUID(bytes=bytes(a ^ b for a, b in zip(raw, otp_bytes))))


def inspect_activation_token(token, now=None, leeway=DEFAULT_EXP_LEEWAY):
    """Read the claims of a secondary activation token (a JWT) and reject it early when it
    is malformed, not a wrapping token, or expired.

    The ES512 signature is made with the primary's private key and only the primary can
    check it, so it is not verified here; this only catches mistakes (wrong value pasted,
    a token minted long ago) before a secondary is wiped for nothing. Returns the claims
    ``addr``, ``exp``, ``iat``, ``jti``, ``type`` (missing ones as None) plus ``nbf``.

    ``jti`` is the wrapping token itself: as secret as the activation token, never return or
    log it. Only tokens from the wrapped flow are JWTs; the ``data.token`` of the public-key
    flow has no documented format and must not be passed here.
    """
    if not HAS_JWT:
        raise ActivationTokenError("missing-lib", "the Python library 'PyJWT' is required to inspect activation tokens")
    if not token or not isinstance(token, str):
        raise ActivationTokenError("malformed", "activation token is empty")
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False, "verify_exp": False,
                                                    "verify_nbf": False, "verify_iat": False,
                                                    "verify_aud": False, "verify_iss": False})
    except jwt.exceptions.PyJWTError as exc:
        # PyJWT's messages describe the structure only, never the token content.
        raise ActivationTokenError("malformed", "activation token is not a JWT: %s" % exc)
    if not isinstance(claims, dict):
        raise ActivationTokenError("malformed", "activation token claims are not a JSON object")
    if claims.get("type") != ACTIVATION_TOKEN_TYPE:
        raise ActivationTokenError("type", "activation token has type claim %r, expected %r (is it a "
                                   "secondary activation token?)" % (claims.get("type"), ACTIVATION_TOKEN_TYPE))
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise ActivationTokenError("malformed", "activation token has no numeric exp claim")
    current = time.time() if now is None else now
    if current > exp + leeway:
        raise ActivationTokenError("expired", "activation token expired at %s (%d s ago); mint a new one on the primary"
                                   % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp)), int(current - exp)))
    out = {name: claims.get(name) for name in ("addr", "exp", "iat", "jti", "type", "nbf")}
    return out
