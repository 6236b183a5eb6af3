"""Tests for vaultlab.crypto.shamir."""

from __future__ import annotations

import itertools
import os

import pytest

from vaultlab.crypto.shamir import ShamirError, combine, div, mult, split


def test_field_is_the_aes_field():
    # FIPS-197 §4.2 worked examples.
    assert mult(0x57, 0x83) == 0xC1
    assert mult(0x57, 0x13) == 0xFE
    assert mult(0, 0x13) == 0 and mult(0x13, 0) == 0
    for a in range(1, 256):
        assert mult(a, div(1, a)) == 1
        assert div(mult(a, 0x35), 0x35) == a
    with pytest.raises(ZeroDivisionError):
        div(1, 0)


def test_share_layout():
    secret = os.urandom(32)
    shares = split(secret, 5, 3)
    assert len(shares) == 5
    assert all(len(share) == 33 for share in shares)
    xs = [share[-1] for share in shares]
    assert len(set(xs)) == 5 and 0 not in xs


def test_x_coordinates_are_random():
    seen = {tuple(share[-1] for share in split(b"k", 3, 2)) for _ in range(20)}
    assert len(seen) > 1


@pytest.mark.parametrize(("parts", "threshold"), [(2, 2), (3, 2), (5, 3), (6, 6)])
def test_every_threshold_subset_recombines(parts, threshold):
    secret = os.urandom(32)
    shares = split(secret, parts, threshold)
    for size in range(threshold, parts + 1):
        for subset in itertools.combinations(shares, size):
            assert combine(list(subset)) == secret
            assert combine(list(reversed(subset))) == secret


def test_too_few_or_wrong_shares_give_another_secret():
    secret = os.urandom(32)
    shares = split(secret, 5, 3)
    assert combine(shares[:2]) != secret
    tampered = bytearray(shares[1])
    tampered[0] ^= 0x01
    assert combine([shares[0], bytes(tampered), shares[2]]) != secret
    # A share from another key ceremony, relabelled with a valid x-coordinate.
    foreign = split(os.urandom(32), 5, 3)[0][:-1] + shares[2][-1:]
    assert combine([shares[0], shares[1], foreign]) != secret


def test_known_polynomial():
    # f(x) = 0x42 + 0x01*x at x=1 -> 0x43, x=2 -> 0x40: combine must find f(0) = 0x42.
    assert combine([bytes([0x43, 1]), bytes([0x40, 2])]) == b"\x42"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((b"s", 2, 3), "parts cannot be less than threshold"),
        ((b"s", 256, 3), "parts cannot exceed 255"),
        ((b"s", 3, 1), "threshold must be at least 2"),
        ((b"", 3, 2), "cannot split an empty secret"),
    ],
)
def test_split_validation(args, message):
    with pytest.raises(ShamirError, match=message):
        split(*args)


def test_combine_validation():
    shares = split(b"secret", 3, 2)
    with pytest.raises(ShamirError, match="less than two parts cannot be used to reconstruct the secret"):
        combine(shares[:1])
    with pytest.raises(ShamirError, match="parts must be at least two bytes"):
        combine([b"\x01", b"\x02"])
    with pytest.raises(ShamirError, match="all parts must be the same length"):
        combine([shares[0], shares[1] + b"\x00"])
    with pytest.raises(ShamirError, match="duplicate part detected"):
        combine([shares[0], shares[0]])
