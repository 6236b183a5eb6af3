"""``sys/generate-root/attempt``, ``sys/generate-root/update`` and ``sys/decode-token`` (§5.4,
1.13+): HTTP parsing and answers over the protocol in :mod:`vaultlab.model.generate_root`.
"""

from __future__ import annotations

from aiohttp import web

from .. import messages, versions
from ..model.generate_root import cancel, decode_encoded_token, start, status, update
from ..node import Node
from .common import VaultError, bad_request, envelope, operation, raw, read_body


def _produce_root(node: Node) -> str:
    auth = node.tokens.create_token(policies=["root"], ttl=0, display_name="root", orphan=True,
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


async def decode_token(request: web.Request) -> web.Response:
    """``PUT sys/decode-token``: ``{"encoded_token", "otp"}`` → ``data.token``.

    Vault's handler returns DecodeToken's error as is, which the HTTP layer answers with 500.
    """
    node: Node = request.app["node"]
    if not versions.at_least(node.version, versions.DECODE_TOKEN):
        raise VaultError(404, [messages.UNSUPPORTED_PATH])
    if request.method not in ("PUT", "POST"):
        raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
    body = await read_body(request)
    fields = {}
    for name in ("encoded_token", "otp"):
        value = body.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise bad_request(f"invalid value for '{name}': expected a string")
        fields[name] = value
    try:
        token = decode_encoded_token(fields["encoded_token"], fields["otp"])
    except ValueError as exc:
        raise VaultError(500, [str(exc)]) from None
    return envelope({"token": token})
