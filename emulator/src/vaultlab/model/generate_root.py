"""The generate-root protocol (reference §5): one attempt slot per node, nonce, progress,
duplicate and foreign shares, OTP encoding; and Vault's ``roottoken.DecodeToken`` (§5.4).

The slot (``node.root_generation``) is shared by every kind, so starting a DR operation token
ceremony while a root generation runs fails as in Vault.  ``sys/generate-root/*`` (the API
layer) uses ``kind="root"``; the DR operation token ceremony
(:mod:`vaultlab.replication.ceremony`) uses ``kind="dr"`` with its own ``produce`` callback.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any, Callable

from .. import messages
from ..crypto import otp as otp_lib
from ..node import Node
from .errors import bad_request
from .values import KeyVerificationError

Producer = Callable[[Node], str]


def _required(node: Node) -> int:
    config = node.seal_config() or {}
    return int(config.get("secret_threshold", 0))


def status(node: Node, kind: str, *, otp_length: int = otp_lib.OTP_LENGTH, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    slot = node.root_generation if node.root_generation and node.root_generation["kind"] == kind else None
    body = {
        "nonce": slot["nonce"] if slot else "",
        "started": slot is not None,
        "progress": len(slot["shares"]) if slot else 0,
        "required": _required(node),
        "complete": False,
        "encoded_token": "",
        "encoded_root_token": "",
        "pgp_fingerprint": "",
        "otp": "",
        "otp_length": otp_length,
    }
    if extra:
        body.update(extra)
    return body


def start(node: Node, kind: str, body: dict[str, Any], *, otp_length: int = otp_lib.OTP_LENGTH) -> dict[str, Any]:
    if not node.initialized:
        raise bad_request(messages.SERVER_NOT_INITIALIZED)
    if node.root_generation is not None:
        raise bad_request(messages.ROOT_GEN_IN_PROGRESS)
    given_otp = body.get("otp") or ""
    pgp_key = body.get("pgp_key") or ""
    if given_otp and pgp_key:
        raise bad_request(messages.OTP_AND_PGP)
    if pgp_key:
        raise bad_request(messages.PGP_UNSUPPORTED)
    generated = ""
    if given_otp:
        if not isinstance(given_otp, str) or len(given_otp) != otp_length:
            raise bad_request(messages.OTP_WRONG_LENGTH)
        chosen = given_otp
    else:
        chosen = generated = (otp_lib.generate_otp(otp_length) if otp_length else otp_lib.generate_legacy_otp())
    node.open_generation({"kind": kind, "nonce": str(uuid.uuid4()), "otp": chosen, "shares": [],
                          "otp_length": otp_length})
    result = status(node, kind, otp_length=otp_length)
    result["otp"] = generated
    return result


def update(node: Node, kind: str, body: dict[str, Any], produce: Producer) -> dict[str, Any]:
    key = body.get("key")
    if not key:
        raise bad_request(messages.ROOT_GEN_KEY_MISSING)
    share = _decode_share(key)
    slot = node.root_generation
    if slot is None:
        raise bad_request(messages.ROOT_GEN_NOT_IN_PROGRESS)
    if slot["kind"] != kind:
        raise bad_request(messages.ROOT_GEN_WRONG_STRATEGY)
    nonce = body.get("nonce") or ""
    if nonce != slot["nonce"]:
        raise bad_request(messages.ROOT_GEN_WRONG_NONCE.format(nonce=slot["nonce"]))
    if share in slot["shares"]:
        raise bad_request(messages.ROOT_GEN_DUPLICATE_KEY)
    slot["shares"].append(share)
    required = _required(node)
    if len(slot["shares"]) < required:
        return status(node, kind, otp_length=slot["otp_length"])
    shares, slot["shares"] = slot["shares"], []
    try:
        node.verify_key_shares(shares)
    except KeyVerificationError as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise bad_request(messages.ROOT_GEN_ABORTED.format(reason=reason)) from None
    token = produce(node)
    if slot["otp_length"]:
        encoded = otp_lib.encode_token(token, slot["otp"])
    else:
        encoded = otp_lib.encode_legacy(token, slot["otp"])
    node.close_generation()
    result = status(node, kind, otp_length=slot["otp_length"])
    result.update({"nonce": slot["nonce"], "started": True, "progress": required, "complete": True,
                   "encoded_token": encoded})
    if kind == "root":
        result["encoded_root_token"] = encoded
    return result


def cancel(node: Node, kind: str) -> None:
    if node.root_generation is not None and node.root_generation["kind"] == kind:
        node.close_generation()


def _decode_share(key: Any) -> bytes:
    if not isinstance(key, str):
        raise bad_request(messages.KEY_NOT_HEX_OR_B64)
    raw_key: bytes | None = None
    try:
        candidate = bytes.fromhex(key)
        if 16 <= len(candidate) <= 33:
            raw_key = candidate
    except ValueError:
        pass
    if raw_key is None:
        try:
            raw_key = base64.b64decode(key, validate=True)
        except ValueError:
            raise bad_request(messages.KEY_NOT_HEX_OR_B64) from None
    if len(raw_key) < 16:
        raise bad_request(messages.KEY_TOO_SHORT)
    if len(raw_key) > 33:
        raise bad_request(messages.KEY_TOO_LONG)
    return raw_key


# -- sys/decode-token -----------------------------------------------------------------------

_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {ch: i for i, ch in enumerate(_B64_ALPHABET)}


class _Base64Error(ValueError):
    """Go's ``CorruptInputError``: the offset of the first byte it could not use."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


def _go_b64decode(text: str, padded: bool) -> bytes:
    """Go's ``base64.StdEncoding`` (``padded``) / ``RawStdEncoding`` decoder, with the offsets
    its errors name, so that decode-token fails with the same text as Vault."""
    values: list[int] = []
    index = 0
    while index < len(text):
        ch = text[index]
        if ch in "\r\n":
            index += 1
            continue
        if ch in _B64_VALUE:
            values.append(_B64_VALUE[ch])
            index += 1
            continue
        if ch != "=" or not padded:
            raise _Base64Error(index)
        quantum = len(values) % 4
        if quantum in (0, 1):
            raise _Base64Error(index)
        index += 1
        if quantum == 2:  # "==" expected
            while index < len(text) and text[index] in "\r\n":
                index += 1
            if index == len(text):
                raise _Base64Error(len(text))
            if text[index] != "=":
                raise _Base64Error(index - 1)
            index += 1
        while index < len(text) and text[index] in "\r\n":
            index += 1
        if index < len(text):
            raise _Base64Error(index)
        break
    else:
        remainder = len(values) % 4
        if remainder == 1 or (remainder and padded):
            raise _Base64Error(len(text) - remainder)
    out = bytearray()
    for start in range(0, len(values), 4):
        group = values[start:start + 4]
        number = 0
        for value in group:
            number = number << 6 | value
        number <<= 6 * (4 - len(group))
        out += number.to_bytes(3, "big")[:len(group) - 1]
    return bytes(out)


def _xor(left: bytes, right: bytes) -> bytes:
    if len(left) != len(right):
        raise ValueError(messages.XOR_LENGTHS.format(left=len(left), right=len(right)))
    return bytes(a ^ b for a, b in zip(left, right))


def decode_encoded_token(encoded: str, otp: str) -> str:
    """Vault's ``roottoken.DecodeToken(encoded, otp, len(otp))`` (raises ValueError with its text).

    The OTP's length picks the scheme, as on the server: an empty OTP takes the legacy
    (padded base64 XOR) branch, anything else the modern one.
    """
    if not otp:
        try:
            first = _go_b64decode(encoded, padded=True)
        except _Base64Error as exc:
            raise ValueError(messages.DECODE_XOR.format(
                reason=messages.XOR_FIRST_BASE64.format(index=exc.index))) from None
        if not first:
            raise ValueError(messages.DECODE_XOR.format(reason=messages.XOR_FIRST_EMPTY))
        raise ValueError(messages.DECODE_XOR.format(reason=messages.XOR_SECOND_EMPTY))
    try:
        raw_token = _go_b64decode(encoded, padded=False)
    except _Base64Error as exc:
        raise ValueError(messages.DECODE_BASE64.format(index=exc.index)) from None
    try:
        token = _xor(raw_token, otp.encode())
    except ValueError as exc:
        raise ValueError(messages.DECODE_XOR.format(reason=exc)) from None
    return token.decode("utf-8", errors="replace")  # Go's JSON encoder does the same
