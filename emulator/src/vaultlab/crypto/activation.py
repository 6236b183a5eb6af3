"""Secondary activation tokens: ES512 JWTs around a single-use wrapping token.

Each cluster holds one ECDSA P-521 key (Vault keeps it at ``core/wrapping/jwtkey``).  A
primary mints a JWT whose ``jti`` is the wrapping token id; the primary's unwrap endpoint
verifies the signature with its own key, checks the ``type`` claim and then looks the
``jti`` up.  Error messages mirror Vault's (API reference §4.2).
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES512"
TOKEN_TYPE = "wrapping"
NBF_SKEW_SECONDS = 5
INVALID_MESSAGE = "wrapping token is not valid or does not exist"

PrivateKey = ec.EllipticCurvePrivateKey
PublicKey = ec.EllipticCurvePublicKey


class ActivationTokenError(Exception):
    """Base class; ``str(exc)`` is the message Vault would return."""


class TokenParseError(ActivationTokenError):
    pass


class TokenSignatureError(ActivationTokenError):
    pass


class TokenTypeError(ActivationTokenError):
    pass


class TokenInvalidError(ActivationTokenError):
    """Expired, not yet valid, or without a wrapping token id."""


def generate_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP521R1())


def private_key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_key_pem(key: PrivateKey | PublicKey) -> str:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_private_key(pem: str | bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP521R1):
        raise ValueError("activation signing key must be an ECDSA P-521 private key")
    return key


def _load_public_key(key: str | bytes | PrivateKey | PublicKey) -> PublicKey:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key
    loaded = serialization.load_pem_public_key(key.encode() if isinstance(key, str) else key)
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise ValueError("activation verification key must be an ECDSA public key")
    return loaded


def mint(
    key: PrivateKey | str | bytes,
    *,
    addr: str,
    ttl_seconds: int,
    jti: str,
    now: float | None = None,
) -> str:
    """Sign an activation token wrapping ``jti``, valid for ``ttl_seconds`` from ``now``."""
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        key = load_private_key(key)
    if ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
    iat = int(time.time() if now is None else now)
    claims = {
        "accessor": "",
        "addr": addr,
        "exp": iat + int(ttl_seconds),
        "iat": iat,
        "jti": jti,
        "nbf": iat - NBF_SKEW_SECONDS,
        "type": TOKEN_TYPE,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"typ": "JWT"})


def peek(token: str) -> dict[str, Any]:
    """Claims without verifying anything (the secondary reads ``addr`` this way)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise TokenParseError("wrapping token could not be parsed: not a compact JWS (three dot-separated parts)")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenParseError(f"wrapping token could not be parsed: {exc}") from None
    if not isinstance(claims, dict):
        raise TokenParseError("wrapping token could not be parsed: claims are not a JSON object")
    return claims


def verify(
    token: str,
    public_key: str | bytes | PrivateKey | PublicKey,
    now: float | None = None,
) -> dict[str, Any]:
    """Check signature, type and validity window; return the claims.

    Raises a subclass of :class:`ActivationTokenError`.  Single use is the caller's job:
    it owns the registry of outstanding ``jti`` values.
    """
    peek(token)
    try:
        claims = jwt.decode(
            token,
            _load_public_key(public_key),
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenSignatureError(f"wrapping token signature could not be validated: {exc}") from None
    except jwt.InvalidAlgorithmError as exc:
        raise TokenSignatureError(f"wrapping token signature could not be validated: {exc}") from None
    except jwt.PyJWTError as exc:
        raise TokenParseError(f"wrapping token could not be parsed: {exc}") from None

    token_type = claims.get("type")
    if not isinstance(token_type, str):
        raise TokenTypeError("could not validate type claim")
    if token_type != TOKEN_TYPE:
        raise TokenTypeError("unexpected type claim")

    current = time.time() if now is None else now
    exp, nbf, jti = claims.get("exp"), claims.get("nbf"), claims.get("jti")
    if not isinstance(exp, (int, float)) or current >= exp:
        raise TokenInvalidError(INVALID_MESSAGE)
    if isinstance(nbf, (int, float)) and current < nbf:
        raise TokenInvalidError(INVALID_MESSAGE)
    if not isinstance(jti, str) or not jti:
        raise TokenInvalidError(INVALID_MESSAGE)
    return claims
