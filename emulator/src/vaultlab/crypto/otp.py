"""Token generation and the OTP encodings of generate-root style ceremonies.

Two schemes exist (API reference §5.4):

* modern (Vault 1.0+, ``otp_length`` > 0): the OTP is random base62 text as long as the
  token; ``encoded = base64_std_unpadded(ascii(token) XOR ascii(otp))``;
* legacy (Vault <= 0.11, ``otp_length`` == 0): the OTP is padded standard base64 of 16
  random bytes, the token a UUID; ``encoded = base64_std(uuid_bytes XOR otp_bytes)``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import uuid

BASE62 = string.ascii_uppercase + string.ascii_lowercase + string.digits

#: Random characters after the prefix of service, recovery and wrapping tokens (1.10+).
TOKEN_RANDOM_LENGTH = 24
#: ``otp_length`` reported by 1.10+ servers: ``hvs.`` + 24 characters.
OTP_LENGTH = 4 + TOKEN_RANDOM_LENGTH

_PREFIXES = {"service": "hvs.", "wrapping": "hvs.", "recovery": "hvr."}


class OTPError(ValueError):
    """An OTP or encoded token that cannot be used (message as Vault words it)."""


def random_base62(length: int) -> str:
    if length < 0:
        raise ValueError(f"length must not be negative, got {length}")
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_token(kind: str = "service") -> str:
    """A fresh token id: ``hvs.``/``hvr.`` + 24 base62 characters.

    Wrapping tokens (the ``jti`` of activation tokens) look like service tokens. Batch tokens are
    sealed token entries, made by ``crypto.batch``.
    """
    try:
        prefix = _PREFIXES[kind]
    except KeyError:
        raise ValueError(f"unknown token kind {kind!r}; expected one of {', '.join(_PREFIXES)}") from None
    return prefix + random_base62(TOKEN_RANDOM_LENGTH)


def new_accessor() -> str:
    """A token accessor: 24 base62 characters, no prefix."""
    return random_base62(TOKEN_RANDOM_LENGTH)


def generate_otp(length: int = OTP_LENGTH) -> str:
    """Modern OTP: ``length`` random base62 characters (what the server returns in ``otp``)."""
    if length <= 0:
        raise OTPError("OTP length must be positive; use generate_legacy_otp() for otp_length 0")
    return random_base62(length)


def _xor(left: bytes, right: bytes) -> bytes:
    if len(left) != len(right):
        raise OTPError(f"length of byte slices is not equivalent: {len(left)} != {len(right)}")
    return bytes(a ^ b for a, b in zip(left, right))


def encode_token(token: str, otp: str) -> str:
    """Modern encoding: unpadded standard base64 of ``token XOR otp``."""
    return base64.b64encode(_xor(token.encode(), otp.encode())).decode().rstrip("=")


def decode_token(encoded: str, otp: str) -> str:
    """Reverse :func:`encode_token`."""
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OTPError(f"error decoding base64'd token: {exc}") from None
    try:
        return _xor(raw, otp.encode()).decode()
    except UnicodeDecodeError:
        raise OTPError("decoded token is not valid text; wrong OTP?") from None


def generate_legacy_otp() -> str:
    """Legacy OTP: padded standard base64 of 16 random bytes."""
    return base64.b64encode(secrets.token_bytes(16)).decode()


def _legacy_otp_bytes(otp: str) -> bytes:
    try:
        raw = base64.b64decode(otp, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise OTPError("decoded OTP value is invalid or wrong length")
    return raw


def encode_legacy(token: str, otp: str) -> str:
    """Legacy encoding of a UUID token: padded standard base64 of ``uuid_bytes XOR otp_bytes``."""
    try:
        token_bytes = uuid.UUID(token).bytes
    except ValueError:
        raise OTPError(f"legacy tokens must be UUIDs, got a {len(token)}-character value") from None
    return base64.b64encode(_xor(token_bytes, _legacy_otp_bytes(otp))).decode()


def decode_legacy(encoded: str, otp: str) -> str:
    """Reverse :func:`encode_legacy`: the token as a lower-case 8-4-4-4-12 UUID."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OTPError(f"error decoding base64'd token: {exc}") from None
    return str(uuid.UUID(bytes=_xor(raw, _legacy_otp_bytes(otp))))


def decode(encoded: str, otp: str, otp_length: int | None = None) -> str:
    """Decode with the scheme ``otp_length`` names (0 = legacy), guessing from the OTP if None."""
    if otp_length is None:
        otp_length = 0 if len(otp) == 24 and otp.endswith("==") else len(otp)
    if otp_length == 0:
        return decode_legacy(encoded, otp)
    return decode_token(encoded, otp)
