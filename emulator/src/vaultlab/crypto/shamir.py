"""Shamir secret sharing over GF(2^8), share-compatible with Vault.

Vault splits its root key byte by byte: every byte of the secret is the constant term of
its own random polynomial of degree ``threshold - 1`` over the AES field
GF(2)[X]/(X^8 + X^4 + X^3 + X + 1).  A share is the polynomial values at one x-coordinate
followed by that x-coordinate as ONE trailing byte, so a 32-byte key gives 33-byte shares
and shares made by Vault combine here (and the other way round).  x-coordinates are
distinct, random and never 0 (evaluating at 0 would reveal the secret).

Error messages are Vault's, because the emulator returns them verbatim.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

SHARE_OVERHEAD = 1
_AES_POLY = 0x11B


class ShamirError(ValueError):
    """Invalid split parameters or unusable shares (message as Vault words it)."""


def _slow_mult(a: int, b: int) -> int:
    """Carry-less multiplication reduced modulo the AES polynomial."""
    result = 0
    while b:
        if b & 1:
            result ^= a
        a <<= 1
        if a & 0x100:
            a ^= _AES_POLY
        b >>= 1
    return result


def _tables() -> tuple[list[int], list[int]]:
    # 3 generates the multiplicative group of the AES field, so exp/log tables cover it.
    exp = [0] * 510
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = exp[power + 255] = value
        log[value] = power
        value = _slow_mult(value, 3)
    return exp, log


_EXP, _LOG = _tables()


def mult(a: int, b: int) -> int:
    """Product of two field elements."""
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def div(a: int, b: int) -> int:
    """Quotient of two field elements; ``b`` must not be 0."""
    if b == 0:
        raise ZeroDivisionError("divide by zero in GF(2^8)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    # Horner's rule; field addition is XOR.
    result = 0
    for coefficient in reversed(coefficients):
        result = mult(result, x) ^ coefficient
    return result


def _interpolate_at_zero(xs: Sequence[int], ys: Sequence[int]) -> int:
    # Lagrange basis at 0: prod x_j / (x_i - x_j), subtraction being XOR.
    result = 0
    for i, (x_i, y_i) in enumerate(zip(xs, ys)):
        basis = 1
        for j, x_j in enumerate(xs):
            if i != j:
                basis = mult(basis, div(x_j, x_i ^ x_j))
        result ^= mult(y_i, basis)
    return result


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recombine it."""
    if parts < threshold:
        raise ShamirError("parts cannot be less than threshold")
    if parts > 255:
        raise ShamirError("parts cannot exceed 255")
    if threshold < 2:
        raise ShamirError("threshold must be at least 2")
    if threshold > 255:
        raise ShamirError("threshold cannot exceed 255")
    if not secret:
        raise ShamirError("cannot split an empty secret")

    rng = secrets.SystemRandom()
    xs = rng.sample(range(1, 256), parts)
    ys: list[bytearray] = [bytearray(len(secret)) for _ in range(parts)]
    for position, byte in enumerate(secret):
        coefficients = [byte, *secrets.token_bytes(threshold - 1)]
        for share, x in zip(ys, xs):
            share[position] = _evaluate(coefficients, x)
    return [bytes(share) + bytes([x]) for share, x in zip(ys, xs)]


def combine(shares: Sequence[bytes]) -> bytes:
    """Rebuild the secret from shares.

    Too few (but at least two) shares are not detectable: they yield a wrong secret, which is
    why Vault verifies the result against its keyring.
    """
    if len(shares) < 2:
        raise ShamirError("less than two parts cannot be used to reconstruct the secret")
    length = len(shares[0])
    if length < 2:
        raise ShamirError("parts must be at least two bytes")
    if any(len(share) != length for share in shares[1:]):
        raise ShamirError("all parts must be the same length")
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs):
        raise ShamirError("duplicate part detected")
    return bytes(
        _interpolate_at_zero(xs, [share[position] for share in shares])
        for position in range(length - 1)
    )
