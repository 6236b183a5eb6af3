"""Tests for vaultlab.crypto.otp."""

from __future__ import annotations

import base64
import re
import uuid

import pytest

from vaultlab.crypto import batch
from vaultlab.crypto import otp as otpmod
from vaultlab.crypto.otp import (
    OTPError,
    decode,
    decode_legacy,
    decode_token,
    encode_legacy,
    encode_token,
    generate_legacy_otp,
    generate_otp,
    new_accessor,
    new_token,
)

MODERN = ("Bxg9JQQqOCNKBRICNwMIRzo2J3cWCBRi", "3JhHkONiyiaNYj14nnD9xZQS", "4RUmoevJ3lsLni9sTXcNnRE1")
LEGACY = ("cuplaFGYduDEY6ZVC5IfaA==", "vZpZZf5UI1nvB3A5/7Xq9A==", "cf703c0d-afcc-55b9-2b64-d66cf427f59c")


def test_modern_vector():
    encoded, otp, token = MODERN
    assert decode_token(encoded, otp) == token
    assert encode_token(token, otp) == encoded
    assert decode(encoded, otp) == token
    assert decode(encoded, otp, otp_length=24) == token


def test_legacy_vector():
    encoded, otp, token = LEGACY
    assert decode_legacy(encoded, otp) == token
    assert encode_legacy(token, otp) == encoded
    assert decode(encoded, otp) == token
    assert decode(encoded, otp, otp_length=0) == token


def test_modern_round_trip_has_no_padding():
    for _ in range(20):
        token = new_token()
        otp = generate_otp(len(token))
        encoded = encode_token(token, otp)
        assert "=" not in encoded
        assert decode(encoded, otp, otp_length=len(otp)) == token


def test_legacy_round_trip():
    token = str(uuid.uuid4())
    otp = generate_legacy_otp()
    assert len(base64.b64decode(otp)) == 16
    assert decode_legacy(encode_legacy(token, otp), otp) == token


def test_generate_otp_is_base62_of_requested_length():
    otp = generate_otp(28)
    assert re.fullmatch(r"[A-Za-z0-9]{28}", otp)
    assert generate_otp(28) != otp
    assert len(generate_otp()) == otpmod.OTP_LENGTH == 28
    with pytest.raises(OTPError):
        generate_otp(0)


def test_errors():
    with pytest.raises(OTPError, match="length of byte slices is not equivalent: 24 != 23"):
        decode_token(MODERN[0], MODERN[1][:-1])
    with pytest.raises(OTPError, match="error decoding base64'd token"):
        decode_token("not*base64", MODERN[1])
    with pytest.raises(OTPError, match="decoded OTP value is invalid or wrong length"):
        decode_legacy(LEGACY[0], "c2hvcnQ=")
    with pytest.raises(OTPError, match="legacy tokens must be UUIDs"):
        encode_legacy("hvs.abc", LEGACY[1])


def test_token_shapes():
    assert re.fullmatch(r"hvs\.[A-Za-z0-9]{24}", new_token())
    assert re.fullmatch(r"hvs\.[A-Za-z0-9]{24}", new_token("wrapping"))
    assert re.fullmatch(r"hvr\.[A-Za-z0-9]{24}", new_token("recovery"))
    # Batch tokens are sealed entries (crypto.batch), long opaque blobs like Vault's.
    entry = {"policies": ["default", "dr-secondary-promotion"], "type": "batch", "creation_time": 1700000000,
             "expire_time": 1700028800, "path": "auth/token/create/failover-handler"}
    assert re.fullmatch(r"hvb\.[A-Za-z0-9_-]{100,}", batch.seal(batch.new_key(), entry))
    assert new_token() != new_token()
    assert re.fullmatch(r"[A-Za-z0-9]{24}", new_accessor())
    for kind in ("root", "batch"):
        with pytest.raises(ValueError, match="unknown token kind '%s'" % kind):
            new_token(kind)
