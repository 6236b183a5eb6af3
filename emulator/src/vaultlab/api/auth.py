"""Token auth (``auth/token/*``) and ACL policies (``sys/policies/acl``, ``sys/policy``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import messages
from ..node import Node
from .common import (
    VaultError,
    bad_request,
    duration_param,
    envelope,
    int_param,
    no_content,
    operation,
    parse_bool,
    read_body,
    str_list,
)

TOKEN_TYPES = ("service", "batch", "default-service", "default-batch", "default")


def _unsupported() -> VaultError:
    return VaultError(405, [messages.UNSUPPORTED_OPERATION])


def _update_only(request: web.Request) -> None:
    if request.method not in ("PUT", "POST"):
        raise _unsupported()


def _not_found() -> VaultError:
    return VaultError(404, [])


# -- policies ---------------------------------------------------------------------------


async def policies_acl(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    name = request.match_info.get("name", "").strip("/")
    op = operation(request)
    if not name:
        if op != "list":
            raise _unsupported()
        return envelope({"keys": node.tokens.list_policies()})
    name = name.lower()
    if op == "read":
        text = node.tokens.get_policy(name)
        if text is None:
            raise _not_found()
        return envelope({"name": name, "policy": text})
    if op == "update":
        body = await read_body(request)
        text = body.get("policy")
        return _write_policy(node, name, text)
    if op == "delete":
        return _delete_policy(node, name)
    raise _unsupported()


async def policy_legacy(request: web.Request) -> web.Response:
    """``sys/policy`` and ``sys/policy/:name`` (older API, still used by scripts)."""
    node: Node = request.app["node"]
    name = request.match_info.get("name", "").strip("/").lower()
    op = operation(request)
    if not name:
        if op not in ("read", "list"):
            raise _unsupported()
        names = node.tokens.list_policies()
        return envelope({"policies": names, "keys": names})
    if op == "read":
        text = node.tokens.get_policy(name)
        if text is None:
            raise _not_found()
        return envelope({"name": name, "rules": text})
    if op == "update":
        body = await read_body(request)
        text = body.get("policy") or body.get("rules")
        return _write_policy(node, name, text)
    if op == "delete":
        return _delete_policy(node, name)
    raise _unsupported()


def _write_policy(node: Node, name: str, text) -> web.Response:
    """Create or replace an ACL policy; shared by ``sys/policies/acl`` and legacy ``sys/policy``."""
    if not text or not isinstance(text, str):
        raise bad_request(messages.POLICY_MISSING_BODY)
    if name == "root":
        raise bad_request(messages.CANNOT_UPDATE_ROOT)
    try:
        node.tokens.put_policy(name, text)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return no_content()


def _delete_policy(node: Node, name: str) -> web.Response:
    if name in ("root", "default"):
        raise bad_request(messages.CANNOT_DELETE_POLICY.format(name=name))
    node.tokens.delete_policy(name)
    return no_content()


# -- token roles ---------------------------------------------------------------------------

ROLE_FIELDS = {
    "allowed_policies": [],
    "disallowed_policies": [],
    "allowed_policies_glob": [],
    "disallowed_policies_glob": [],
    "allowed_entity_aliases": [],
    "orphan": False,
    "renewable": True,
    "path_suffix": "",
    "token_type": "default-service",
    "token_ttl": 0,
    "token_explicit_max_ttl": 0,
    "token_period": 0,
    "token_no_default_policy": False,
    "token_num_uses": 0,
    "token_bound_cidrs": [],
}


def _role_update(existing: dict[str, Any] | None, body: dict[str, Any], name: str) -> dict[str, Any]:
    role = dict(ROLE_FIELDS)
    role.update(existing or {})
    role["name"] = name
    for key in ("allowed_policies", "disallowed_policies", "allowed_policies_glob",
                "disallowed_policies_glob", "allowed_entity_aliases", "token_bound_cidrs"):
        if key in body:
            role[key] = sorted(set(str_list(body[key], key)))
    for key in ("orphan", "renewable", "token_no_default_policy"):
        if key in body:
            role[key] = parse_bool(body[key], key)
    # legacy names still accepted by Vault
    aliases = {"period": "token_period", "explicit_max_ttl": "token_explicit_max_ttl",
               "bound_cidrs": "token_bound_cidrs"}
    for old, new in aliases.items():
        if old in body and new not in body:
            body[new] = body[old]
    for key in ("token_ttl", "token_explicit_max_ttl", "token_period"):
        if key in body:
            role[key] = duration_param(body[key], key)
    if "token_max_ttl" in body:
        role["token_max_ttl"] = duration_param(body["token_max_ttl"], "token_max_ttl")
    if "token_num_uses" in body:
        role["token_num_uses"] = int_param(body["token_num_uses"], "token_num_uses")
    if "path_suffix" in body:
        role["path_suffix"] = str(body["path_suffix"] or "")
    if "token_type" in body:
        value = str(body["token_type"] or "default-service")
        if value not in TOKEN_TYPES:
            raise bad_request(messages.BAD_TOKEN_TYPE.format(value=value))
        role["token_type"] = "default-service" if value == "default" else value
    if role["token_type"] in ("batch",) and role["renewable"] and "renewable" in body:
        raise bad_request("renewable is not supported with token_type batch; set renewable to false")
    return role


async def token_roles(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    name = request.match_info.get("name", "").strip("/")
    op = operation(request)
    if not name:
        if op != "list":
            raise _unsupported()
        keys = node.tokens.list_roles()
        if not keys:
            raise _not_found()
        return envelope({"keys": keys})
    if op == "read":
        role = node.tokens.get_role(name)
        if role is None:
            raise _not_found()
        data = dict(role)
        data.setdefault("token_max_ttl", 0)
        for legacy, new in (("period", "token_period"), ("explicit_max_ttl", "token_explicit_max_ttl"),
                            ("bound_cidrs", "token_bound_cidrs")):
            data[legacy] = data.get(new)
        return envelope(data)
    if op == "update":
        body = await read_body(request)
        node.tokens.put_role(name, _role_update(node.tokens.get_role(name), body, name))
        return no_content()
    if op == "delete":
        node.tokens.delete_role(name)
        return no_content()
    raise _unsupported()


# -- tokens --------------------------------------------------------------------------------


def _auth_response(auth: dict[str, Any]) -> web.Response:
    return envelope(None, auth=auth)


def _caller(request: web.Request) -> tuple[str, dict[str, Any]]:
    token = request.get("vault_token")
    entry = request.get("vault_token_entry")
    if not token or entry is None:
        raise VaultError(403, [messages.PERMISSION_DENIED])
    return token, entry


async def token_create(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    _update_only(request)
    _, parent = _caller(request)
    body = await read_body(request)
    suffix = request.match_info.get("suffix", "")
    role_name = request.match_info.get("role", "") or body.get("role_name") or ""
    orphan_path = suffix == "create-orphan"
    parent_root = "root" in (parent.get("policies") or [])
    parent_sudo = parent_root or node.tokens.has_sudo(parent, "auth/token/create")

    role = None
    if role_name:
        role = node.tokens.get_role(role_name)
        if role is None:
            raise bad_request(messages.TOKEN_ROLE_NOT_FOUND.format(name=role_name))

    requested = sorted(set(str_list(body.get("policies"), "policies")))
    no_default = parse_bool(body.get("no_default_policy", False), "no_default_policy")
    if role:
        allowed = role.get("allowed_policies") or []
        if not requested:
            requested = list(allowed) if allowed else [p for p in parent["policies"] if p != "root"]
        disallowed = set(role.get("disallowed_policies") or [])
        if allowed:
            bad = [p for p in requested if p not in allowed and p != "default"]
            if bad:
                raise bad_request(messages.TOKEN_POLICY_NOT_ALLOWED.format(
                    policies=", ".join(requested), allowed=", ".join(allowed)))
        elif not parent_root:
            bad = [p for p in requested if p not in parent["policies"] and p != "default"]
            if bad:
                raise bad_request(messages.TOKEN_CHILD_POLICY)
        if disallowed & set(requested):
            raise bad_request(f"token policies ({', '.join(requested)}) contain disallowed policies")
        no_default = no_default or role.get("token_no_default_policy", False)
    else:
        if not requested:
            requested = list(parent["policies"])
        if not parent_root:
            bad = [p for p in requested if p not in parent["policies"] and p != "default"]
            if bad:
                raise bad_request(messages.TOKEN_CHILD_POLICY)

    token_type = str(body.get("type") or "")
    if role:
        role_type = role.get("token_type", "default-service")
        if role_type in ("service", "batch"):
            if token_type and token_type != role_type:
                raise bad_request(f"token type {token_type!r} conflicts with the role's token_type {role_type!r}")
            token_type = role_type
        elif not token_type:
            token_type = "batch" if role_type == "default-batch" else "service"
    token_type = token_type or "service"
    if token_type not in ("service", "batch"):
        raise bad_request(messages.BAD_TOKEN_TYPE.format(value=token_type))
    if token_type == "batch" and "root" in requested:
        raise bad_request(messages.BATCH_NO_ROOT)

    orphan = orphan_path or (role.get("orphan", False) if role else False)
    if "no_parent" in body and parse_bool(body["no_parent"], "no_parent"):
        if not parent_sudo:
            raise bad_request(messages.ORPHAN_REQUIRES_SUDO)
        orphan = True

    ttl = duration_param(body.get("ttl"), "ttl") or (role.get("token_ttl", 0) if role else 0) or None
    explicit_max = duration_param(body.get("explicit_max_ttl"), "explicit_max_ttl") or (
        role.get("token_explicit_max_ttl", 0) if role else 0)
    period = duration_param(body.get("period"), "period") or (role.get("token_period", 0) if role else 0)
    renewable = parse_bool(body.get("renewable", True), "renewable")
    if role is not None and not role.get("renewable", True):
        renewable = False
    num_uses = int_param(body.get("num_uses"), "num_uses") or (role.get("token_num_uses", 0) if role else 0)
    meta = body.get("meta")
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise bad_request("invalid value for 'meta': expected a map of strings")
    display = str(body.get("display_name") or "token")
    display = display if display.startswith("token") else f"token-{display}"
    path = "auth/token/create" + (f"/{role_name}" if role_name else ("-orphan" if orphan_path else ""))
    auth = node.tokens.create_token(
        requested,
        ttl,
        token_type=token_type,
        orphan=orphan,
        parent=parent,
        role=role_name or None,
        meta=meta,
        display_name=display,
        renewable=renewable,
        num_uses=num_uses,
        explicit_max_ttl=explicit_max,
        period=period,
        no_default_policy=no_default,
        path=path,
    )
    return _auth_response(auth)


async def lookup_self(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if operation(request) not in ("read", "update"):
        raise _unsupported()
    token, entry = _caller(request)
    return envelope(node.tokens.token_lookup_data(token, entry))


async def _token_param(request: web.Request) -> str:
    """The ``token`` body parameter of ``auth/token/lookup`` and ``auth/token/revoke``."""
    _update_only(request)
    token = (await read_body(request)).get("token")
    if not token:
        raise bad_request("missing token")
    return token


async def lookup(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    token = await _token_param(request)
    entry = node.tokens.lookup_token(token)
    if entry is None:
        raise bad_request("bad token")
    return envelope(node.tokens.token_lookup_data(token, entry))


async def revoke_self(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    _update_only(request)
    token, _ = _caller(request)
    _revoke(node, token)
    return no_content()


async def revoke(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    _revoke(node, await _token_param(request))
    return no_content()


def _revoke(node: Node, token: str) -> None:
    try:
        node.tokens.revoke_token(token)
    except ValueError as exc:  # a batch token
        raise bad_request(str(exc)) from None


async def renew_self(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    _update_only(request)
    token, entry = _caller(request)
    if not entry.get("renewable"):
        raise bad_request("lease is not renewable")
    body = await read_body(request)
    increment = duration_param(body.get("increment"), "increment") or entry.get("creation_ttl", 0)
    auth = node.tokens.renew_token(token, entry, increment)
    return _auth_response(auth)
