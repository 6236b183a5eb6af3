"""``sys/auth``: the auth method table (list, enable, read, disable).

vaultlab authenticates with tokens only; other auth methods are recorded in the table (so a
client can see what a cluster holds, which are ``local``, and what an activation would wipe)
but serve no login endpoints. Like the secrets mount table, shared methods live in the
``replicated`` scope and methods enabled with ``local: true`` in the ``local`` scope, so
performance secondaries receive only the shared ones and DR secondaries all of them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from aiohttp import web

from .. import messages
from ..node import Node
from .common import VaultError, bad_request, duration_param, envelope, no_content, operation, parse_bool, raw, read_body

AUTH_KEY = "core/auth"
LOCAL_AUTH_KEY = "core/local-auth"

# Vault's built-in auth plugins; any of them may be enabled (recorded), others are unknown.
KNOWN_TYPES = frozenset({
    "alicloud", "approle", "aws", "azure", "cert", "cf", "gcp", "github", "jwt", "kerberos",
    "kubernetes", "ldap", "oci", "oidc", "okta", "radius", "saml", "scep", "spiffe", "userpass",
})


def _token_entry(node: Node) -> dict[str, Any]:
    seed = hashlib.sha256(((node.cluster_info() or {}).get("cluster_id", "") + "/token").encode()).hexdigest()
    return {"type": "token", "description": "token based credentials", "local": False,
            "accessor": f"auth_token_{seed[:8]}", "uuid": str(uuid.UUID(seed[:32])), "options": None,
            "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": False,
                       "token_type": "default-service"}}


def _view(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "accessor": entry["accessor"],
        "config": entry.get("config") or {},
        "description": entry.get("description", ""),
        "external_entropy_access": False,
        "local": bool(entry.get("local", False)),
        "options": entry.get("options"),
        "plugin_version": "",
        "running_plugin_version": f"v0.0.0+builtin.{entry['type']}" if entry["type"] != "token" else "v0.0.0+builtin.vault",
        "running_sha256": "",
        "seal_wrap": False,
        "type": entry["type"],
        "uuid": entry["uuid"],
    }


def all_methods(node: Node) -> dict[str, dict[str, Any]]:
    """Every enabled auth method by path (``token/`` included), shared and local."""
    table = {"token/": _token_entry(node)}
    table.update(node.storage.get(AUTH_KEY) or {})
    table.update(node.storage.get(LOCAL_AUTH_KEY) or {})
    return table


def _path(sub: str) -> str:
    path = sub.strip("/")
    if not path:
        raise bad_request("missing auth method path; use sys/auth/<path>")
    return path + "/"


async def auth(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    sub = request.match_info.get("path", "")
    op = operation(request)
    if not sub.strip("/"):
        if op != "read":
            raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
        table = {p: _view(e) for p, e in sorted(all_methods(node).items())}
        payload = json.loads(envelope(table).text or "{}")
        payload.update(table)  # Vault repeats the table at the top level, as for sys/mounts
        return raw(payload)
    if sub.rstrip("/").endswith("/tune"):
        raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
    path = _path(sub)
    if op == "read":
        found = all_methods(node).get(path)
        if found is None:
            raise bad_request(f"no auth mount found at '{path}'")
        return envelope(_view(found))
    if op == "update":
        return _enable(node, path, await read_body(request))
    if op == "delete":
        return _disable(node, path)
    raise VaultError(405, [messages.UNSUPPORTED_OPERATION])


def _enable(node: Node, path: str, body: dict[str, Any]) -> web.Response:
    method_type = body.get("type")
    if not method_type or not isinstance(method_type, str):
        raise bad_request("missing 'type': give the auth method type, e.g. userpass")
    if method_type == "token":
        raise bad_request("token credential backend cannot be instantiated")
    if method_type not in KNOWN_TYPES:
        raise bad_request(messages.MOUNT_UNKNOWN_TYPE.format(type=method_type))
    options = body.get("options") or {}
    config = body.get("config") or {}
    if not isinstance(options, dict):
        raise bad_request("invalid 'options': expected a map of strings")
    if not isinstance(config, dict):
        raise bad_request("invalid 'config': expected a map")
    local = parse_bool(body.get("local", False), "local")
    for other in all_methods(node):
        if path.startswith(other) or other.startswith(path):
            raise bad_request(messages.MOUNT_EXISTS.format(path=f"auth/{other}"))
    entry = {
        "type": method_type,
        "description": str(body.get("description") or ""),
        "accessor": f"auth_{method_type}_{uuid.uuid4().hex[:8]}",
        "uuid": str(uuid.uuid4()),
        "local": local,
        "options": {str(k): str(v) for k, v in options.items()} or None,
        "config": {
            "default_lease_ttl": duration_param(config.get("default_lease_ttl"), "config.default_lease_ttl"),
            "max_lease_ttl": duration_param(config.get("max_lease_ttl"), "config.max_lease_ttl"),
            "force_no_cache": False,
            "token_type": "default-service",
        },
    }
    key, scope = (LOCAL_AUTH_KEY, "local") if local else (AUTH_KEY, "replicated")
    with node.storage.transaction():
        table = dict(node.storage.get(key) or {})
        table[path] = entry
        node.storage.put(key, table, scope=scope)
    return no_content()


def _disable(node: Node, path: str) -> web.Response:
    if path == "token/":
        raise bad_request("token credential backend cannot be disabled")
    with node.storage.transaction():
        for key, scope in ((AUTH_KEY, "replicated"), (LOCAL_AUTH_KEY, "local")):
            table = dict(node.storage.get(key) or {})
            if table.pop(path, None) is not None:
                node.storage.put(key, table, scope=scope)
    return no_content()
