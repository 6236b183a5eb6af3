"""Core ``sys/`` endpoints: init, seal, unseal, health, leader, step-down, wrapping."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .. import messages
from ..model.values import KeyVerificationError, decode_key, rfc3339
from ..node import Node
from .common import (
    VaultError,
    bad_request,
    client_token,
    duration_param,
    envelope,
    error_answer,
    no_content,
    operation,
    parse_bool,
    raw,
    read_body,
)

ZERO_TIME = "0001-01-01T00:00:00Z"


def modes(node: Node) -> dict[str, str]:
    try:
        return node.replication_modes()
    except Exception:
        return {"dr": "unknown", "performance": "unknown"}


def transition(node: Node) -> dict[str, Any] | None:
    """The replication reconfiguration window the node's cluster is in, when sys/health and
    sys/leader are to show it (switch ``transition_health``, default ``standby``)."""
    try:
        return node.replication_transition()
    except Exception as exc:  # a bad switch value: say so instead of hiding the window
        raise VaultError(getattr(exc, "status", 500), getattr(exc, "errors", None) or [str(exc)]) from None


def method_not_allowed() -> VaultError:
    return VaultError(405, [messages.UNSUPPORTED_OPERATION])


async def init(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if request.method == "GET":
        return raw({"initialized": node.initialized})
    if request.method not in ("PUT", "POST"):
        raise method_not_allowed()
    body = await read_body(request)
    if node.initialized:
        raise bad_request(messages.ALREADY_INITIALIZED)
    for option in ("pgp_keys", "root_token_pgp_key", "recovery_pgp_keys"):
        if body.get(option):
            raise bad_request(f"{option} is not supported by vaultlab; omit it")
    try:
        shares = int(body.get("secret_shares", 0))
        threshold = int(body.get("secret_threshold", 0))
    except (TypeError, ValueError):
        raise bad_request(messages.INVALID_SHARES) from None
    try:
        result = node.initialize(shares, threshold)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return raw(result)


async def seal_status(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    return raw(node.seal_status())


async def unseal(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if request.method not in ("PUT", "POST"):
        raise method_not_allowed()
    body = await read_body(request)
    if not node.initialized:
        raise bad_request(messages.NOT_INITIALIZED)
    if body.get("reset") is not None and parse_bool(body.get("reset"), "reset"):
        node.reset_unseal()
        return raw(node.seal_status())
    key = body.get("key")
    if not key:
        raise bad_request(messages.KEY_MISSING)
    try:
        share = decode_key(key)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    try:
        node.submit_unseal_key(share)
    except KeyVerificationError as exc:
        raise bad_request(str(exc)) from None
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return raw(node.seal_status())


async def seal(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if request.method not in ("PUT", "POST"):
        raise method_not_allowed()
    node.seal()
    return no_content()


async def step_down(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if request.method not in ("PUT", "POST"):
        raise method_not_allowed()
    node.step_down()
    return no_content()


def _code(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise VaultError(400, []) from None


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    if value is None or value == "":
        return False  # Vault's weak decoding reads an empty value as false
    try:
        return parse_bool(value, name)
    except VaultError:
        raise VaultError(400, []) from None


HEALTH_DEFAULTS = {"activecode": 200, "standbycode": 429, "drsecondarycode": 472,
                   "performancestandbycode": 473, "sealedcode": 503, "uninitcode": 501,
                   "haunhealthycode": 474, "removedcode": 530}


def health_code(codes: dict[str, int], *, initialized: bool, sealed: bool, ha_unhealthy: bool,
                dr_secondary: bool, perf_standby: bool, standby: bool, standbyok: bool = False,
                perfstandbyok: bool = False) -> int:
    """Vault's precedence (reference §6.1, first match wins): uninitialised, (removed: vaultlab
    has no raft membership), sealed, HA unhealthy, DR secondary, performance standby (unless
    ``perfstandbyok``; ``standbyok`` does not apply to it), standby (unless ``standbyok``), active."""
    if not initialized:
        return codes["uninitcode"]
    if sealed:
        return codes["sealedcode"]
    if ha_unhealthy:
        return codes["haunhealthycode"]
    if dr_secondary:
        return codes["drsecondarycode"]
    if perf_standby:
        return codes["activecode"] if perfstandbyok else codes["performancestandbycode"]
    if standby and not standbyok:
        return codes["standbycode"]
    return codes["activecode"]


async def health(request: web.Request) -> web.Response:
    """``sys/health`` with the codes and precedence of reference §6.1."""
    node: Node = request.app["node"]
    if request.method not in ("GET", "HEAD"):
        raise method_not_allowed()
    head = request.method == "HEAD"
    try:
        standbyok = _flag(request, "standbyok")
        perfstandbyok = _flag(request, "perfstandbyok")
        codes = {name: _code(request, name, default) for name, default in HEALTH_DEFAULTS.items()}
    except VaultError as exc:
        return error_answer(exc, head=head)

    initialized = node.initialized
    sealed = node.sealed
    try:
        window = transition(node) if initialized and not sealed else None
    except VaultError as exc:
        return error_answer(exc, head=head)
    # While replication reconfigures, the node that made the change serves no client (503): it
    # answers health as a standby, not as the active node it will be again afterwards.
    standby = not node.active or window is not None
    perf_standby = node.performance_standby
    heartbeat_age = node.ha_heartbeat_age()
    info = node.cluster_info() or {}
    current = modes(node) if initialized and not sealed else {"dr": "unknown", "performance": "unknown"}
    body: dict[str, Any] = {
        "initialized": initialized,
        "sealed": sealed,
        "standby": standby,
        "performance_standby": perf_standby,
        "replication_performance_mode": current.get("performance", "unknown"),
        "replication_dr_mode": current.get("dr", "unknown"),
        "server_time_utc": int(time.time()),
        "version": request.app["version"],
        "enterprise": True,
        "echo_duration_ms": 0,
        "clock_skew_ms": 0,
        "replication_primary_canary_age_ms": 0,
        "removed_from_cluster": False,
        "license": {"state": "autoloaded", "expiry_time": "2099-01-01T00:00:00Z", "terminated": False},
    }
    if not sealed and info:
        body["cluster_name"] = info["cluster_name"]
        body["cluster_id"] = info["cluster_id"]
    if not sealed and not standby:
        body["last_wal"] = node.storage.last_wal()
    ha_unhealthy = not sealed and standby and node.ha_unhealthy()
    if not sealed and standby:
        body["ha_connection_healthy"] = heartbeat_age is not None and not ha_unhealthy
        body["last_request_forwarding_heartbeat_ms"] = int(heartbeat_age * 1000) if heartbeat_age is not None else 0

    status = health_code(codes, initialized=initialized, sealed=sealed, ha_unhealthy=ha_unhealthy,
                         dr_secondary=current.get("dr") == "secondary", perf_standby=perf_standby,
                         standby=standby, standbyok=standbyok, perfstandbyok=perfstandbyok)
    if head:
        return web.Response(status=status)
    return raw(body, status)


async def leader(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if request.method not in ("GET", "HEAD"):
        raise method_not_allowed()
    if node.sealed:
        raise VaultError(503, [messages.SEALED])
    # In a replication window no node of the cluster is serving: no active node to name.
    window = transition(node)
    active = node.active and window is None
    current = {} if window is not None else (node.leader() or {})
    since = current.get("since")
    body = {
        "ha_enabled": True,
        "is_self": active,
        "active_time": rfc3339(since) if active and since else ZERO_TIME,
        "leader_address": current.get("api_addr", ""),
        "leader_cluster_address": current.get("cluster_addr", ""),
        "performance_standby": node.performance_standby,
        "performance_standby_last_remote_wal": 0,
        "raft_committed_index": 0,
        "raft_applied_index": 0,
    }
    if active:
        body["last_wal"] = node.storage.last_wal()
    return raw(body)


# -- response wrapping ---------------------------------------------------------------------


async def unwrap(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if request.method not in ("PUT", "POST"):
        raise method_not_allowed()
    body = await read_body(request)
    token = body.get("token") or client_token(request)
    # Activation tokens are JWTs around a wrapping token id; the replication package
    # checks signature and type claim and hands back the id (reference §4.2).
    if isinstance(token, str) and token.count(".") == 2:
        try:
            token = node.resolve_wrapping_jwt(token)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
    try:
        response = node.tokens.unwrap(token)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if not response:
        return no_content()
    result = dict(response)
    result["request_id"] = str(__import__("uuid").uuid4())
    for key, default in (("lease_id", ""), ("renewable", False), ("lease_duration", 0), ("data", None),
                         ("wrap_info", None), ("warnings", None), ("auth", None)):
        result.setdefault(key, default)
    return raw(result)


async def wrap(request: web.Request) -> web.Response:
    """``sys/wrapping/wrap``: wrap the request body as ``data``."""
    node: Node = request.app["node"]
    if request.method not in ("PUT", "POST"):
        raise method_not_allowed()
    body = await read_body(request)
    if not body:
        raise bad_request(messages.NO_DATA)
    ttl = duration_param(request.headers.get("X-Vault-Wrap-TTL") or "5m", "X-Vault-Wrap-TTL")
    if ttl <= 0:
        raise bad_request("X-Vault-Wrap-TTL must be a positive duration, e.g. 5m")
    info = node.tokens.wrap({"data": body}, ttl, "sys/wrapping/wrap")
    return envelope(None, wrap_info=info)


async def wrapping_lookup(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    if operation(request) == "read":
        token = request.query.get("token") or client_token(request)
    elif request.method in ("PUT", "POST"):
        body = await read_body(request)
        token = body.get("token") or client_token(request)
    else:
        raise method_not_allowed()
    record = node.tokens.lookup_wrapping(token)
    if record is None:
        raise bad_request(messages.WRAPPING_TOKEN_INVALID)
    return envelope({
        "creation_path": record["creation_path"],
        "creation_time": rfc3339(record["creation_time"]),
        "creation_ttl": record["ttl"],
    })
