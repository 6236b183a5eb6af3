"""Tests for vaultlab.crypto.activation."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from vaultlab.crypto import activation
from vaultlab.crypto.activation import (
    TokenInvalidError,
    TokenParseError,
    TokenSignatureError,
    TokenTypeError,
    generate_key,
    load_private_key,
    mint,
    peek,
    private_key_pem,
    public_key_pem,
    verify,
)

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def key():
    return generate_key()


def _segment(token: str, n: int) -> bytes:
    part = token.split(".")[n]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_header_claims_and_signature_shape(key):
    token = mint(key, addr="https://10.0.0.1:8200", ttl_seconds=1800, jti="hvs.abc", now=NOW)
    assert json.loads(_segment(token, 0)) == {"alg": "ES512", "typ": "JWT"}
    assert json.loads(_segment(token, 1)) == {
        "accessor": "",
        "addr": "https://10.0.0.1:8200",
        "exp": NOW + 1800,
        "iat": NOW,
        "jti": "hvs.abc",
        "nbf": NOW - 5,
        "type": "wrapping",
    }
    assert len(_segment(token, 2)) == 132  # JOSE raw R||S for P-521
    assert peek(token)["jti"] == "hvs.abc"


def test_verify_accepts_pem_and_key_objects(key):
    token = mint(key, addr="", ttl_seconds=60, jti="hvs.x", now=NOW)
    assert verify(token, public_key_pem(key), now=NOW + 1)["jti"] == "hvs.x"
    assert verify(token, key.public_key(), now=NOW + 59)["addr"] == ""
    assert verify(token, public_key_pem(key).encode(), now=NOW)["type"] == "wrapping"


def test_pem_round_trip(key):
    pem = private_key_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key(pem)
    token = mint(pem, addr="a", ttl_seconds=60, jti="hvs.y", now=NOW)
    assert verify(token, loaded, now=NOW)["jti"] == "hvs.y"


def test_wrong_key_fails_signature(key):
    token = mint(key, addr="a", ttl_seconds=60, jti="hvs.x", now=NOW)
    with pytest.raises(TokenSignatureError, match="^wrapping token signature could not be validated: "):
        verify(token, public_key_pem(generate_key()), now=NOW)
    header, payload, signature = token.split(".")
    forged_payload = base64.urlsafe_b64encode(
        json.dumps({**peek(token), "addr": "https://evil:8200"}).encode()
    ).decode().rstrip("=")
    with pytest.raises(TokenSignatureError):
        verify(".".join([header, forged_payload, signature]), key, now=NOW)


def test_other_algorithm_is_a_signature_failure(key):
    token = jwt.encode({"type": "wrapping", "jti": "x", "exp": NOW + 60}, "secret-secret-secret-secret-32b!", algorithm="HS256")
    with pytest.raises(TokenSignatureError):
        verify(token, key, now=NOW)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "hvs.abcdefghijklmnopqrstuvwx"])
def test_malformed_tokens_fail_to_parse(key, token):
    with pytest.raises(TokenParseError, match="^wrapping token could not be parsed: "):
        verify(token, key, now=NOW)
    with pytest.raises(TokenParseError):
        peek(token)


def test_type_claim(key):
    def signed(claims):
        return jwt.encode(claims, key, algorithm="ES512")

    base = {"jti": "hvs.x", "exp": NOW + 60, "iat": NOW}
    with pytest.raises(TokenTypeError, match="^unexpected type claim$"):
        verify(signed({**base, "type": "auth"}), key, now=NOW)
    with pytest.raises(TokenTypeError, match="^could not validate type claim$"):
        verify(signed(base), key, now=NOW)


def test_expiry_and_not_before(key):
    token = mint(key, addr="a", ttl_seconds=60, jti="hvs.x", now=NOW)
    with pytest.raises(TokenInvalidError, match="^wrapping token is not valid or does not exist$"):
        verify(token, key, now=NOW + 60)
    with pytest.raises(TokenInvalidError):
        verify(token, key, now=NOW - 6)
    verify(token, key, now=NOW - 4)  # inside the 5 s clock-skew allowance


def test_mint_validation(key):
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        mint(key, addr="a", ttl_seconds=0, jti="x")
    with pytest.raises(ValueError, match="P-521"):
        from cryptography.hazmat.primitives.asymmetric import ec

        load_private_key(private_key_pem(ec.generate_private_key(ec.SECP256R1())))
    assert activation.ALGORITHM == "ES512"
