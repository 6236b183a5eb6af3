# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DR operation token decoding (vectors of the API reference section 5.4) and activation token checks."""

from __future__ import annotations

import base64
import os
import time

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _tokens
from ansible_collections.vaultops.replication.plugins.module_utils._tokens import (
    ActivationTokenError,
    TokenDecodeError,
    decode_operation_token,
    inspect_activation_token,
)

MODERN_ENCODED = "Bxg9JQQqOCNKBRICNwMIRzo2J3cWCBRi"
MODERN_OTP = "3JhHkONiyiaNYj14nnD9xZQS"
MODERN_TOKEN = "4RUmoevJ3lsLni9sTXcNnRE1"
LEGACY_OTP = "vZpZZf5UI1nvB3A5/7Xq9A=="
LEGACY_ENCODED = "cuplaFGYduDEY6ZVC5IfaA=="
LEGACY_TOKEN = "cf703c0d-afcc-55b9-2b64-d66cf427f59c"


# ---------------------------------------------------------------------------------------------
# decode_operation_token


def test_modern_vector():
    assert decode_operation_token(MODERN_ENCODED, MODERN_OTP) == MODERN_TOKEN
    assert decode_operation_token(MODERN_ENCODED, MODERN_OTP, otp_length=24) == MODERN_TOKEN


def test_legacy_vector_detected_from_otp_shape():
    assert decode_operation_token(LEGACY_ENCODED, LEGACY_OTP) == LEGACY_TOKEN


def test_legacy_vector_with_otp_length_zero():
    assert decode_operation_token(LEGACY_ENCODED, LEGACY_OTP, otp_length=0) == LEGACY_TOKEN


def encode_modern(token, otp):
    raw = bytes(a ^ b for a, b in zip(token.encode(), otp.encode()))
    return base64.b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("token", ["hvs.e5ANKEwwEC5KJDKA6cbDdLAB", "s.abcdefghijklmnopqrstuvwx"])
def test_modern_roundtrip_28_and_26_chars(token):
    otp = "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789"[b % 42] for b in os.urandom(len(token)))
    assert decode_operation_token(encode_modern(token, otp), otp, otp_length=len(token)) == token


def test_modern_accepts_padded_encoding():
    padded = MODERN_ENCODED + "=" * (-len(MODERN_ENCODED) % 4)
    assert decode_operation_token(padded, MODERN_OTP) == MODERN_TOKEN


@pytest.mark.parametrize("encoded, otp, otp_length, fragment", [
    ("", MODERN_OTP, None, "encoded token is empty"),
    (MODERN_ENCODED, "", None, "OTP is empty"),
    (MODERN_ENCODED, MODERN_OTP[:-2], None, "does not belong"),
    (MODERN_ENCODED, MODERN_OTP, 28, "28"),
    ("not base64 !!", MODERN_OTP, None, "not valid base64"),
    (LEGACY_ENCODED, "A" * 22 + "!!", 0, "not valid base64"),
    (LEGACY_ENCODED[:-4], LEGACY_OTP, 0, "16 bytes"),
    (LEGACY_ENCODED, base64.b64encode(b"x" * 15).decode(), 0, "16 bytes"),
])
def test_decode_errors(encoded, otp, otp_length, fragment):
    with pytest.raises(TokenDecodeError) as err:
        decode_operation_token(encoded, otp, otp_length=otp_length)
    assert fragment in err.value.message
    if otp:
        assert otp not in err.value.message


def test_wrong_otp_of_right_length_is_detected_when_unprintable():
    # XOR with a different OTP of the same length gives bytes outside printable ASCII here.
    wrong = "\x7f" * len(MODERN_OTP)
    with pytest.raises(TokenDecodeError) as err:
        decode_operation_token(MODERN_ENCODED, wrong)
    assert "does not belong" in err.value.message


def test_base62_otp_of_24_chars_is_not_mistaken_for_legacy():
    # 24 chars like a legacy OTP, but no "==": must use the modern scheme.
    assert not _tokens._looks_legacy(MODERN_OTP)  # pylint: disable=protected-access
    assert _tokens._looks_legacy(LEGACY_OTP)  # pylint: disable=protected-access


# ---------------------------------------------------------------------------------------------
# inspect_activation_token

jwt = pytest.importorskip("jwt")


@pytest.fixture(scope="module")
def es512_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP521R1())


def make_token(key, **claims):
    now = int(time.time())
    payload = {"accessor": "", "addr": "https://10.0.0.1:8200", "iat": now, "nbf": now - 5,
               "exp": now + 1800, "jti": "hvs.wrappingtokenid123456", "type": "wrapping"}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm="ES512")


def test_valid_token_claims(es512_key):
    token = make_token(es512_key)
    claims = inspect_activation_token(token)
    assert claims["addr"] == "https://10.0.0.1:8200"
    assert claims["type"] == "wrapping"
    assert claims["jti"] == "hvs.wrappingtokenid123456"
    assert claims["exp"] - claims["iat"] == 1800
    assert set(claims) == {"addr", "exp", "iat", "jti", "type", "nbf"}


def test_signature_is_not_checked(es512_key):
    from cryptography.hazmat.primitives.asymmetric import ec

    other_key = ec.generate_private_key(ec.SECP521R1())
    header, payload, _sig = make_token(es512_key).split(".")
    forged_sig = make_token(other_key).split(".")[2]
    # Only the primary can verify; client side we only look at the claims.
    assert inspect_activation_token(".".join((header, payload, forged_sig)))["type"] == "wrapping"


def test_empty_addr_is_allowed(es512_key):
    assert inspect_activation_token(make_token(es512_key, addr=""))["addr"] == ""


def test_expired_token(es512_key):
    now = int(time.time())
    token = make_token(es512_key, iat=now - 3600, nbf=now - 3605, exp=now - 1800)
    with pytest.raises(ActivationTokenError) as err:
        inspect_activation_token(token)
    assert err.value.reason == "expired"
    assert "expired at" in err.value.message
    assert token not in err.value.message


def test_expiry_leeway_and_injected_clock(es512_key):
    token = make_token(es512_key, exp=1000)
    assert inspect_activation_token(token, now=1005)["exp"] == 1000  # within the default 10 s leeway
    with pytest.raises(ActivationTokenError):
        inspect_activation_token(token, now=1011)
    with pytest.raises(ActivationTokenError):
        inspect_activation_token(token, now=1001, leeway=0)


@pytest.mark.parametrize("claims, reason", [
    ({"type": "batch"}, "type"),
    ({"type": None}, "type"),
    ({"exp": None}, "malformed"),
    ({"exp": "tomorrow"}, "malformed"),
])
def test_bad_claims(es512_key, claims, reason):
    with pytest.raises(ActivationTokenError) as err:
        inspect_activation_token(make_token(es512_key, **claims))
    assert err.value.reason == reason


@pytest.mark.parametrize("garbage", ["", "hvs.notajwt", "a.b.c", "eyJhbGciOiJFUzUxMiJ9.bm90IGpzb24.c2ln", None, 42])
def test_garbage_is_malformed(garbage):
    with pytest.raises(ActivationTokenError) as err:
        inspect_activation_token(garbage)
    assert err.value.reason == "malformed"
    if isinstance(garbage, str) and garbage:
        assert garbage not in err.value.message


def test_hs256_token_with_wrong_type_is_still_rejected_on_type():
    token = jwt.encode({"type": "service", "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256")
    with pytest.raises(ActivationTokenError) as err:
        inspect_activation_token(token)
    assert err.value.reason == "type"
