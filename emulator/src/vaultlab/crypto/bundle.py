"""The activation bundle encrypted to a secondary's public key (``secondary_public_key``).

``sys/replication/<t>/secondary/generate-public-key`` makes a P-256 key pair on the
secondary; ``secondary-token`` on the primary then returns the bundle itself, encrypted to
that key, instead of a wrapping token (reference §2.5 [?]).  vaultlab's scheme is ECIES:
ephemeral ECDH on the secondary's curve, HKDF-SHA256, AES-256-GCM.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "vlpk."


class BundleError(ValueError):
    """The key or the encrypted bundle cannot be used (the text says why)."""


class BundleExpired(BundleError):
    """The bundle decrypted but its lifetime is over."""


def new_key_pair() -> tuple[str, str]:
    """(private key PEM to keep on the secondary, base64 DER SubjectPublicKeyInfo to hand out)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(der).decode()


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as exc:
        raise BundleError(str(exc) or "not base64 DER") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise BundleError("not an ECDSA public key")
    return key


def _hkdf(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"vaultlab replication secondary bundle").derive(shared)


def encrypt(recipient: ec.EllipticCurvePublicKey, bundle: dict[str, Any], ttl: int) -> str:
    ephemeral = ec.generate_private_key(recipient.curve)
    key = _hkdf(ephemeral.exchange(ec.ECDH(), recipient))
    nonce = os.urandom(12)
    payload = json.dumps({"bundle": bundle, "exp": time.time() + ttl}).encode()
    sealed = AESGCM(key).encrypt(nonce, payload, None)
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    blob = {"epk": base64.b64encode(epk).decode(), "n": base64.b64encode(nonce).decode(),
            "c": base64.b64encode(sealed).decode()}
    return PREFIX + base64.urlsafe_b64encode(json.dumps(blob).encode()).decode().rstrip("=")


def decrypt(private_pem: str, token: str) -> dict[str, Any]:
    try:
        text = token[len(PREFIX):]
        blob = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        own = serialization.load_pem_private_key(private_pem.encode(), None)
        epk = serialization.load_der_public_key(base64.b64decode(blob["epk"]))
        key = _hkdf(own.exchange(ec.ECDH(), epk))
        payload = json.loads(AESGCM(key).decrypt(base64.b64decode(blob["n"]), base64.b64decode(blob["c"]), None))
    except Exception as exc:
        raise BundleError(f"cannot decrypt the bundle: {type(exc).__name__}") from None
    if payload.get("exp", 0) <= time.time():
        raise BundleExpired("the bundle expired")
    return payload["bundle"]
