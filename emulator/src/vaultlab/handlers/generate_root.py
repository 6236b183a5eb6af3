"""The generate-root protocol family (reference §5): attempt / update / cancel.

One attempt slot per node (``node.root_generation``), shared by every kind, so starting a
DR operation token ceremony while a root generation runs fails as in Vault.  The
replication package reuses :func:`status`, :func:`start`, :func:`update` and
:func:`cancel` with ``kind="dr"`` and its own ``produce`` callback.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from aiohttp import web

from .. import messages
from ..crypto import otp as otp_lib
from ..node import KeyVerificationError, Node
from .common import VaultError, bad_request, operation, raw, read_body

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
    node.root_generation = {"kind": kind, "nonce": str(uuid.uuid4()), "otp": chosen, "shares": [],
                            "otp_length": otp_length}
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
    node.root_generation = None
    result = status(node, kind, otp_length=slot["otp_length"])
    result.update({"nonce": slot["nonce"], "started": True, "progress": required, "complete": True,
                   "encoded_token": encoded})
    if kind == "root":
        result["encoded_root_token"] = encoded
    return result


def cancel(node: Node, kind: str) -> None:
    if node.root_generation is not None and node.root_generation["kind"] == kind:
        node.root_generation = None


def _decode_share(key: Any) -> bytes:
    import base64

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


def _produce_root(node: Node) -> str:
    auth = node.create_token(policies=["root"], ttl=0, display_name="root", orphan=True,
                             path="auth/token/root")
    return auth["client_token"]


async def attempt(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    op = operation(request)
    if op == "read":
        if not node.initialized:
            raise bad_request(messages.SERVER_NOT_INITIALIZED)
        return raw(status(node, "root"))
    if op == "update":
        return raw(start(node, "root", await read_body(request)))
    if op == "delete":
        cancel(node, "root")
        return web.Response(status=204)
    raise VaultError(405, [messages.UNSUPPORTED_OPERATION])


async def update_handler(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if request.method not in ("PUT", "POST"):
        raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
    return raw(update(node, "root", await read_body(request), _produce_root))
