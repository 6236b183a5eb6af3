"""``/v1/sys/replication/*``: parse the request, run the model, answer Vault-shaped JSON."""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

from .. import messages as M
from ..crypto import activation
from ..crypto import bundle as bundle_lib
from ..crypto import otp as otpmod
from ..replication import ceremony, models
from ..replication.core import JWT_KEY, PUBKEY_KEY, Replication, lab_ca_pem
from ..replication.filters import MOUNTS_KEY
from ..replication.models import BOOTSTRAPPING, DISABLED, PRIMARY, SECONDARY, ReplicationError
from ..replication.stream import REVOKED, probe_primary, ship_tail
from ..transport import cluster_tls
from .common import (VaultError, bad_request, client_token, duration_param, envelope, no_content, operation,
                     parse_bool, raw, read_body, vault_path)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_TOKEN_TTL = 1800


def _wrap(fn: Callable[[Replication, web.Request, str], Awaitable[web.StreamResponse]],
          repl: Replication, rtype: str | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        t = rtype or request.match_info.get("rtype", "performance")
        if t not in models.TYPES:
            raise VaultError(404, [M.UNSUPPORTED_PATH])
        try:
            return await fn(repl, request, t)
        except ReplicationError as exc:
            raise VaultError(exc.status, exc.errors) from None
    return handler


def _update_only(request: web.Request) -> None:
    if request.method not in ("POST", "PUT"):
        raise VaultError(405, [M.UNSUPPORTED_OPERATION])


def _str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request(f"invalid value for '{name}': expected a string")
    return value


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    return False if value is None or value == "" else parse_bool(value, name)


# -- status ----------------------------------------------------------------------------------

async def status_all(repl: Replication, request: web.Request, _t: str) -> web.Response:
    if request.method not in ("GET", "HEAD"):
        raise VaultError(405, [M.UNSUPPORTED_OPERATION])
    return envelope({"dr": repl.status("dr"), "performance": repl.status("performance")})


async def status_one(repl: Replication, request: web.Request, t: str) -> web.Response:
    if request.method not in ("GET", "HEAD"):
        raise VaultError(405, [M.UNSUPPORTED_OPERATION])
    return envelope(repl.status(t))


# -- primary side ----------------------------------------------------------------------------

async def primary_enable(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    addr = _str(body, "primary_cluster_addr")
    new, warnings = models.enable_primary(repl.load(t), t, primary_cluster_addr=addr)
    repl.save(t, new)
    repl.forget_all_secondaries(t)
    repl.make_unavailable("primary_enable")
    return envelope(None, warnings=warnings)


async def primary_demote(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    await read_body(request)
    new, warnings = models.demote_primary(repl.load(t), t)
    if repl.setting("demote_ships_tail", False):
        # [?] (reference §2.3): finish streaming what was written, then drop the secondaries.
        await ship_tail(repl, t)
        new, warnings = models.demote_primary(repl.load(t), t)
    repl.save(t, new)
    repl.forget_all_secondaries(t)
    repl.clear_progress(t)
    repl.make_unavailable("primary_demote")
    repl.kick_all()
    return envelope(None, warnings=warnings)


async def primary_disable(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    await read_body(request)
    new, warnings = models.disable(repl.load(t), t, PRIMARY)
    repl.save(t, new)
    repl.forget_all_secondaries(t)
    repl.make_unavailable("primary_disable")
    return envelope(None, warnings=warnings)


def _jwt_key(repl: Replication):
    pem = repl.storage.get(JWT_KEY)
    if pem is None:
        key = activation.generate_key()
        pem = activation.private_key_pem(key)
        repl.storage.put(JWT_KEY, pem, scope="node")
        return key
    return activation.load_private_key(pem)


def _bundle(repl: Replication, t: str, state: dict[str, Any], sid: str, credential: str) -> dict[str, Any]:
    node = repl.node
    addrs = repl.own_cluster_addrs()
    primary_addr = state.get("primary_cluster_addr") or ""
    if primary_addr:
        addrs = [primary_addr] + [a for a in addrs if a != primary_addr]
    seal = node.seal_config() or {}
    return {
        "type": t,
        "cluster_id": state["cluster_id"],
        "secondary_id": sid,
        "credential": credential,
        "cluster_addrs": addrs,
        "primary_cluster_addr": primary_addr or (addrs[0] if addrs else ""),
        "api_addr": node.api_addr,
        "cluster_name": node.cluster_name,
        "ca_pem": lab_ca_pem(node),
        "seal_config": {k: seal.get(k) for k in ("type", "secret_shares", "secret_threshold", "root_key_hash")},
    }


async def secondary_token(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    sid = _str(body, "id")
    ttl = duration_param(body.get("ttl"), "ttl") if body.get("ttl") not in (None, "") else DEFAULT_TOKEN_TTL
    if ttl <= 0:
        raise bad_request(M.REPL_BAD_TTL.format(reason="must be a positive duration such as 30m"))
    public_key = _str(body, "secondary_public_key")
    recipient = _load_public_key(public_key) if public_key else None
    state = models.issue_secondary(repl.load(t), t, sid, now=time.time())
    if repl.node.tls:
        # Mutual TLS on the cluster port (§4.2): a client certificate instead of a bearer secret.
        state = cluster_tls.with_ca(state, t)
        certs = cluster_tls.issue_secondary(state, t, sid)
        credential = certs["credential"]
    else:
        certs = {}
        credential = secrets.token_urlsafe(32)
    state = models.bind_credential(state, sid, credential)
    bundle = {**_bundle(repl, t, state, sid, credential), **certs}
    creation_path = f"sys/replication/{t}/primary/secondary-token"
    if recipient is not None:
        token = bundle_lib.encrypt(recipient, bundle, ttl)
        repl.save(t, state)
        return envelope({"token": token})
    jti = otpmod.new_token("wrapping")
    key = _jwt_key(repl)
    wrap_info = repl.node.tokens.wrap({"data": bundle}, ttl, creation_path, token=jti)
    wrap_info["token"] = activation.mint(key, addr=repl.node.api_addr, ttl_seconds=ttl, jti=jti)
    repl.save(t, state)
    warnings = None if repl.node.api_addr else [M.WARN_NO_REDIRECT_ADDR]
    return envelope(None, wrap_info=wrap_info, warnings=warnings)


async def revoke_secondary(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    sid = _str(body, "id")
    repl.save(t, models.revoke_secondary(repl.load(t), t, sid))
    repl.forget_secondary(t, sid)
    if repl.setting("revoke_secondary_status", 204) == 200:
        return envelope(None)
    return no_content()


async def paths_filter(repl: Replication, request: web.Request, t: str) -> web.Response:
    sid = request.match_info["id"]
    op = operation(request)
    state = repl.load("performance")
    if op == "read":
        if models.mode_of(state) != PRIMARY:
            raise ReplicationError(M.REPL_NOT_PRIMARY.format(action="read paths filters"))
        flt = (state.get("paths_filters") or {}).get(sid)
        if not flt:
            raise VaultError(404, [])
        return envelope({"mode": flt["mode"], "paths": list(flt["paths"])})
    if op == "update":
        body = await read_body(request)
        if repl.setting("paths_filter_requires_known_id", False) and sid not in (state.get("secondaries") or {}):
            raise ReplicationError(M.REPL_UNKNOWN_ID.format(id=sid))
        repl.save("performance", models.set_paths_filter(state, sid, body.get("mode"), body.get("paths")))
        return no_content()
    if op == "delete":
        repl.save("performance", models.delete_paths_filter(state, sid))
        return no_content()
    raise VaultError(405, [M.UNSUPPORTED_OPERATION])


async def dynamic_filter(repl: Replication, request: web.Request, t: str) -> web.Response:
    if request.method not in ("GET", "HEAD"):
        raise VaultError(405, [M.UNSUPPORTED_OPERATION])
    sid = request.match_info["id"]
    side = request.match_info["side"]
    state = repl.effective("performance")
    mode = models.mode_of(state)
    if side == "primary":
        if mode != PRIMARY:
            raise ReplicationError(M.REPL_NOT_PRIMARY.format(action="read dynamic filters"))
        flt = (state.get("paths_filters") or {}).get(sid)
        if not flt:
            raise VaultError(404, [])
        mounts = sorted(p for p in (repl.storage.get(MOUNTS_KEY) or {}) if not models.path_allowed(flt, p))
        return envelope({"dynamic_filtered_mounts": mounts, "dynamic_filtered_namespaces": []})
    if mode != SECONDARY or state.get("secondary_id") != sid:
        raise ReplicationError(M.REPL_NOT_SECONDARY.format(action="read dynamic filters"))
    # A secondary only sees what survived the filter, never what was filtered away.
    return envelope({"dynamic_filtered_mounts": [], "dynamic_filtered_namespaces": []})


# -- secondary side --------------------------------------------------------------------------

def _load_public_key(text: str):
    try:
        return bundle_lib.load_public_key(text)
    except bundle_lib.BundleError as exc:
        raise bad_request(M.REPL_BAD_PUBLIC_KEY.format(reason=str(exc))) from None


def _decrypt_bundle(repl: Replication, t: str, token: str) -> dict[str, Any]:
    pem = repl.storage.get(PUBKEY_KEY.format(t=t))
    if pem is None:
        raise bad_request(M.REPL_NO_PUBLIC_KEY)
    try:
        return bundle_lib.decrypt(pem, token)
    except bundle_lib.BundleExpired:
        raise bad_request(M.WRAPPING_TOKEN_INVALID) from None
    except bundle_lib.BundleError:
        raise bad_request(M.REPL_NO_PUBLIC_KEY) from None


async def generate_public_key(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    if t == "dr" and not repl.is_dr_secondary():
        _require_token(repl, request)
    pem, public_key = bundle_lib.new_key_pair()
    repl.storage.put(PUBKEY_KEY.format(t=t), pem, scope="node")
    return envelope({"secondary_public_key": public_key})


def _require_token(repl: Replication, request: web.Request) -> None:
    """For paths the middleware lets through unauthenticated (DR-token paths)."""
    path = vault_path(request)
    entry = repl.node.tokens.lookup_token(client_token(request))
    if entry is None or not repl.node.tokens.allowed(entry, path, "update"):
        raise VaultError(403, [M.PERMISSION_DENIED])


def _ssl_for_unwrap(repl: Replication, ca_file: str, ca_path: str) -> ssl.SSLContext:
    """Trust for the unwrap call: ``ca_file``/``ca_path`` replace the system roots, as in Vault.

    Without them Vault uses the host's system roots.  A lab host's "system roots" include
    the lab CA by default (switch ``unwrap_trusts_lab_ca``), the way a real fleet trusts its
    own CA; switch it off to see the x509 failure of an unprepared host.
    """
    try:
        if ca_file or ca_path:
            ctx = ssl.create_default_context(cafile=ca_file or None, capath=ca_path or None)
        else:
            ctx = ssl.create_default_context()
            pem = lab_ca_pem(repl.node) if repl.setting("unwrap_trusts_lab_ca", True) else None
            if pem:
                ctx.load_verify_locations(cadata=pem)
    except (OSError, ssl.SSLError) as exc:
        raise bad_request(M.REPL_CA_FILE.format(path=ca_file or ca_path, reason=exc)) from None
    config = repl.node.config
    if config.get("require_client_cert") and config.get("server_cert"):
        # The primary's API wants a client certificate (--require-client-cert): show this node's.
        ctx.load_cert_chain(config["server_cert"], config["server_key"])
    return ctx


async def _redeem(repl: Replication, t: str, body: dict[str, Any]) -> dict[str, Any]:
    """Turn an activation token into the secondary bundle (unwrapping it on the primary)."""
    import aiohttp

    token = _str(body, "token")
    if token.startswith(bundle_lib.PREFIX):
        return _decrypt_bundle(repl, t, token)
    try:
        claims = activation.peek(token)
    except activation.ActivationTokenError as exc:
        raise bad_request(M.REPL_UNWRAP_FAILED.format(status=400, message=str(exc))) from None
    addr = (_str(body, "primary_api_addr") or claims.get("addr") or "").rstrip("/")
    if not addr:
        raise bad_request(M.REPL_NO_PRIMARY_ADDR)
    ctx = _ssl_for_unwrap(repl, _str(body, "ca_file"), _str(body, "ca_path")) if addr.startswith("https") else None
    timeout = max(repl.timing("connection_timeout", 1.0), 0.5) * 5
    session = await repl.peers.session()
    try:
        async with session.post(f"{addr}/v1/sys/wrapping/unwrap", json={"token": token}, ssl=ctx,
                                timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=True) as resp:
            text = await resp.text()
            status = resp.status
    except aiohttp.ClientConnectorCertificateError as exc:
        raise bad_request(M.REPL_UNWRAP_CONNECT.format(
            reason=f"x509: certificate signed by unknown authority ({exc.certificate_error})")) from None
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise bad_request(M.REPL_UNWRAP_CONNECT.format(reason=f"{type(exc).__name__}: {exc}")) from None
    try:
        payload = json.loads(text) if text.strip() else {}
    except ValueError:
        payload = {}
    if status != 200:
        errors = payload.get("errors") if isinstance(payload, dict) else None
        message = "; ".join(errors) if errors else f"{status} {resp.reason}"
        raise bad_request(M.REPL_UNWRAP_FAILED.format(status=status, message=message))
    bundle = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(bundle, dict):
        raise bad_request(M.REPL_BAD_BUNDLE)
    return bundle


def _adopt_seal(repl: Replication, bundle: dict[str, Any], always: bool) -> None:
    theirs = bundle.get("seal_config") or {}
    if not theirs.get("root_key_hash"):
        return
    mine = repl.node.seal_config() or {}
    if always or mine.get("root_key_hash") != theirs["root_key_hash"]:
        repl.node.replace_seal_config({k: v for k, v in theirs.items() if v is not None})


async def _require_cluster_port(repl: Replication, t: str, bundle: dict[str, Any]) -> None:
    """Vault fetches the bootstrap package before answering; an unreachable cluster port
    fails the call after the (single-use) token was already spent (reference §2.9, §7.4)."""
    if not isinstance(bundle.get("cluster_addrs"), list):
        raise bad_request(M.REPL_BAD_BUNDLE)
    if bundle.get("type") != t:
        raise bad_request(M.REPL_TOKEN_WRONG_TYPE.format(want=t, got=bundle.get("type")))
    reason = await probe_primary(repl, t, bundle)
    if reason is not None and reason == REVOKED.format(id=bundle.get("secondary_id")):
        raise bad_request(reason)
    if reason is not None:
        raise bad_request(M.REPL_BOOTSTRAP_FAILED.format(reason=reason))


async def secondary_enable(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    if not _str(body, "token"):
        raise bad_request(M.REPL_TOKEN_REQUIRED)
    state = repl.load(t)
    models.check_can_begin(state, t)
    if t == "performance" and repl.is_dr_secondary():
        raise ReplicationError(M.REPL_PERF_ON_DR_SECONDARY)
    bundle = await _redeem(repl, t, body)
    await _require_cluster_port(repl, t, bundle)
    new, warnings = models.begin_secondary(repl.load(t), t, bundle)
    # Everything this cluster held goes: its own tokens, mounts and data (reference §2.9).
    repl.storage.wipe(("replicated", "local"))
    repl.new_epoch()
    _adopt_seal(repl, bundle, always=True)
    repl.clear_progress(t)
    repl.forget_all_secondaries(t)
    repl.save(t, new)
    repl.make_unavailable("secondary_enable")
    return envelope(None, warnings=warnings)


async def _dr_token(repl: Replication, request: web.Request, t: str, body: dict[str, Any]) -> str | None:
    if t == "dr":
        return repl.check_dr_token(body.get("dr_operation_token"), vault_path(request))
    return None


def _wrong_state_first(state: dict[str, Any], wanted: tuple[str, ...], action: str) -> None:
    if models.mode_of(state) not in wanted:
        raise ReplicationError(M.REPL_NOT_SECONDARY.format(action=action))


async def promote(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    state = repl.load(t)
    if models.mode_of(state) == PRIMARY:
        raise ReplicationError(M.REPL_ALREADY_PRIMARY)
    _wrong_state_first(state, (SECONDARY, BOOTSTRAPPING), "promote")
    kind = await _dr_token(repl, request, t, body)
    force = _bool(body, "force")
    prog = repl.progress(t)
    caught_up = not state.get("primary") or prog.get("last_remote_wal", 0) >= prog.get("primary_last_wal", 0)
    new, warnings = models.promote(state, t, primary_cluster_addr=_str(body, "primary_cluster_addr"),
                                   caught_up=caught_up, force=force)
    repl.save(t, new)
    if kind == "operation" and repl.setting("dr_operation_token_single_use", False):
        repl.delete_dr_token(body["dr_operation_token"])
    repl.clear_progress(t)
    repl.forget_all_secondaries(t)
    repl.make_unavailable("promote")
    repl.kick_all()
    return envelope(None, warnings=warnings)


async def update_primary(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    state = repl.load(t)
    _wrong_state_first(state, (SECONDARY,), "update the primary")
    await _dr_token(repl, request, t, body)
    token = _str(body, "token")
    addrs = body.get("update_primary_addrs")
    if addrs in (None, "", []):
        addrs = None
    elif isinstance(addrs, str):
        addrs = [a.strip() for a in addrs.split(",") if a.strip()]
    elif not isinstance(addrs, list) or not all(isinstance(a, str) and a for a in addrs):
        raise bad_request("invalid value for 'update_primary_addrs': expected a list of cluster addresses")
    if token and addrs:
        raise bad_request(M.REPL_TOKEN_AND_ADDRS)
    if addrs:
        new, warnings = models.update_primary(state, t, None, via_addrs=addrs)
    elif token:
        bundle = await _redeem(repl, t, body)
        await _require_cluster_port(repl, t, bundle)
        new, warnings = models.update_primary(repl.load(t), t, bundle)
        _adopt_seal(repl, bundle, always=False)
        repl.forget_all_secondaries(t)
    else:
        new, warnings = models.update_primary(state, t, None)
        repl.save_progress(t, connection_state=models.CONN_IDLE, stream_state=models.ST_IDLE,
                           primary_peer=None, known_addrs=[])
    repl.save(t, new)
    repl.make_unavailable("update_primary")
    return envelope(None, warnings=warnings)


async def secondary_disable(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    state = repl.load(t)
    _wrong_state_first(state, (SECONDARY, BOOTSTRAPPING), "disable")
    await _dr_token(repl, request, t, body)
    new, warnings = models.disable(state, t, SECONDARY)
    repl.save(t, new)
    repl.clear_progress(t)
    repl.make_unavailable("secondary_disable")
    repl.kick_all()
    return envelope(None, warnings=warnings)


# -- DR operation tokens ---------------------------------------------------------------------

def _ceremony_allowed(repl: Replication, request: web.Request) -> None:
    if repl.node.sealed:
        raise VaultError(503, [M.SEALED])
    if repl.ceremony_auth_required:
        token = repl.node.tokens.lookup_token(client_token(request))
        if token is None:
            raise VaultError(403, [M.PERMISSION_DENIED])
    if not repl.is_dr_secondary():
        raise ReplicationError(M.REPL_CEREMONY_DR_ONLY)


async def op_token_attempt(repl: Replication, request: web.Request, t: str) -> web.Response:
    _ceremony_allowed(repl, request)
    op = operation(request)
    if op == "read":
        return raw(ceremony.status(repl))
    if op == "update":
        return raw(ceremony.start(repl, await read_body(request)))
    if op == "delete":
        ceremony.cancel(repl)
        return no_content()
    raise VaultError(405, [M.UNSUPPORTED_OPERATION])


async def op_token_update(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    _ceremony_allowed(repl, request)
    return raw(ceremony.update(repl, await read_body(request)))


async def op_token_delete(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    token = body.get("dr_operation_token")
    kind = repl.check_dr_token(token, vault_path(request))
    if kind != "operation":
        raise bad_request(M.REPL_BATCH_NOT_DELETABLE)
    repl.delete_dr_token(token)
    return no_content()


# -- maintenance -----------------------------------------------------------------------------

def _touch(repl: Replication, field: str, value: str, types: tuple[str, ...] = models.TYPES) -> None:
    for t in types:
        state = repl.load(t)
        if models.mode_of(state) != DISABLED:
            state[field] = value
            repl.save(t, state)


async def reindex(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    for flag in ("diff", "force", "skip_flush"):
        _bool(body, flag)
    secondary_path = _dr_secondary_only(repl, request, body, "reindex")
    types = ("dr",) if secondary_path else models.TYPES
    _touch(repl, "last_reindex_epoch", str(int(time.time())), types)
    repl.reindex(types)
    return envelope(None, warnings=[M.WARN_REINDEX])


async def recover(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    _dr_secondary_only(repl, request, body, "recover", undocumented=True)
    repl.kick_all()
    return envelope(None, warnings=[M.WARN_RECOVER])


async def merkle_check(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    _dr_secondary_only(repl, request, body, "run a merkle check")
    now = time.time()
    _touch(repl, "last_corruption_check_epoch", str(int(now)))
    return envelope({"merkle_corruption_report": {
        "corrupted_root": False,
        "corrupted_tree_map": {},
        "last_corruption_check_epoch": models.now_rfc3339(now),
    }})


# -- DR-secondary-only paths -----------------------------------------------------------------

DR_SECONDARY_PREFIX = "sys/replication/dr/secondary/"
# Paths the reference lists without documenting their auth (§1.4, open question 6).
LICENSE_STATUS_PATH = DR_SECONDARY_PREFIX + "license/status"
CONFIG_RELOAD_PATH = DR_SECONDARY_PREFIX + "config/reload/"
RELOADABLE = ("license",)
AUTH_CHOICES = ("dr_operation_token", "none")

# vaultlab's license, shaped like an autoloaded Enterprise license (sys/license/status).
LICENSE = {
    "expiration_time": "2035-01-01T00:00:00Z",
    "features": ["HSM", "Performance Replication", "DR Replication", "MFA", "Sentinel", "Seal Wrapping",
                 "Control Groups", "Performance Standby", "Namespaces", "KMIP", "Entropy Augmentation",
                 "Transform Secrets Engine", "Lease Count Quotas", "Key Management Secrets Engine",
                 "Automated Snapshots"],
    "license_id": "8f4c7a52-6e0b-5d3c-9a1e-7b2d4c6f8a10",
    "performance_standby_count": 9999,
    "start_time": "2025-01-01T00:00:00Z",
    "termination_time": "2035-01-01T00:00:00Z",
}


def _undocumented_auth(repl: Replication) -> str:
    value = repl.setting("dr_undocumented_paths_auth", "dr_operation_token")
    if value not in AUTH_CHOICES:
        raise VaultError(500, [f"invalid replication switch dr_undocumented_paths_auth={value!r}: "
                               f"use one of {', '.join(AUTH_CHOICES)}"])
    return value


def _dr_secondary_only(repl: Replication, request: web.Request, body: dict[str, Any], action: str,
                       undocumented: bool = False) -> bool:
    """For the ``dr/secondary/*`` variant of a path: check the ``dr_operation_token``.
    Returns whether it was that variant.

    ``undocumented`` (paths the reference lists without their auth): refuse first on a cluster
    that is not a DR secondary; then switch ``dr_undocumented_paths_auth`` chooses the auth
    (``dr_operation_token``, the default, or ``none``).  The documented paths (reindex,
    merkle-check) only check the token, as before: a token spent by a promotion stays 403.
    """
    path = vault_path(request)
    if not path.startswith(DR_SECONDARY_PREFIX):
        return False
    if undocumented and not repl.is_dr_secondary():
        raise ReplicationError(M.REPL_NOT_SECONDARY.format(action=action))
    if not undocumented or _undocumented_auth(repl) == "dr_operation_token":
        capability = "read" if request.method in ("GET", "HEAD") else "update"
        repl.check_dr_token(body.get("dr_operation_token"), path, capability)
    return True


async def license_status(repl: Replication, request: web.Request, t: str) -> web.Response:
    if request.method not in ("GET", "HEAD"):
        raise VaultError(405, [M.UNSUPPORTED_OPERATION])
    # A read carries its parameters in the query string (vault read ... dr_operation_token=…).
    body = {"dr_operation_token": request.query.get("dr_operation_token")}
    if request.can_read_body:
        body.update({k: v for k, v in (await read_body(request)).items() if v})
    _dr_secondary_only(repl, request, body, "read the license status", undocumented=True)
    return envelope({"autoloading_used": True, "autoloaded": dict(LICENSE), "persisted_autoload": dict(LICENSE)})


async def config_reload(repl: Replication, request: web.Request, t: str) -> web.Response:
    _update_only(request)
    body = await read_body(request)
    _dr_secondary_only(repl, request, body, "reload configuration", undocumented=True)
    subsystem = request.match_info["subsystem"]
    if subsystem not in RELOADABLE:
        raise bad_request(M.REPL_RELOAD_SUBSYSTEM.format(subsystem=subsystem))
    return no_content()


# -- routing ---------------------------------------------------------------------------------

def routes(repl: Replication) -> list[tuple[str, Handler]]:
    w = lambda fn, t=None: _wrap(fn, repl, t)  # noqa: E731
    base = "sys/replication"
    out: list[tuple[str, Handler]] = [
        (f"{base}/status", w(status_all, "dr")),
        (f"{base}/reindex", w(reindex, "dr")),
        (f"{base}/recover", w(recover, "dr")),
        (f"{base}/merkle-check", w(merkle_check, "dr")),
        (f"{base}/performance/primary/paths-filter/{{id}}", w(paths_filter, "performance")),
        (f"{base}/performance/{{side:primary|secondary}}/dynamic-filter/{{id}}", w(dynamic_filter, "performance")),
        (f"{base}/dr/secondary/generate-operation-token/attempt", w(op_token_attempt, "dr")),
        (f"{base}/dr/secondary/generate-operation-token/update", w(op_token_update, "dr")),
        (f"{base}/dr/secondary/operation-token/delete", w(op_token_delete, "dr")),
        (f"{base}/dr/secondary/reindex", w(reindex, "dr")),
        (f"{base}/dr/secondary/recover", w(recover, "dr")),
        (f"{base}/dr/secondary/merkle-check", w(merkle_check, "dr")),
        (LICENSE_STATUS_PATH, w(license_status, "dr")),
        (CONFIG_RELOAD_PATH + "{subsystem}", w(config_reload, "dr")),
    ]
    # Like the other dr_operation_token paths: past the DR gate, no client token (the handler
    # checks the DR operation token itself).
    for pattern in (LICENSE_STATUS_PATH, CONFIG_RELOAD_PATH + "*"):
        repl.node.add_unauthenticated(pattern)
        repl.node.add_dr_secondary_allowed(pattern)
    for t in models.TYPES:
        out += [
            (f"{base}/{t}/status", w(status_one, t)),
            (f"{base}/{t}/primary/enable", w(primary_enable, t)),
            (f"{base}/{t}/primary/demote", w(primary_demote, t)),
            (f"{base}/{t}/primary/disable", w(primary_disable, t)),
            (f"{base}/{t}/primary/secondary-token", w(secondary_token, t)),
            (f"{base}/{t}/primary/revoke-secondary", w(revoke_secondary, t)),
            (f"{base}/{t}/secondary/generate-public-key", w(generate_public_key, t)),
            (f"{base}/{t}/secondary/enable", w(secondary_enable, t)),
            (f"{base}/{t}/secondary/promote", w(promote, t)),
            (f"{base}/{t}/secondary/update-primary", w(update_primary, t)),
            (f"{base}/{t}/secondary/disable", w(secondary_disable, t)),
        ]
    if repl.setting("legacy_mount_filter", False):
        out.append((f"{base}/performance/primary/mount-filter/{{id}}", w(paths_filter, "performance")))
    # 0.7-era aliases for performance replication.
    for action, fn in (("enable", primary_enable), ("demote", primary_demote), ("disable", primary_disable),
                       ("secondary-token", secondary_token), ("revoke-secondary", revoke_secondary)):
        out.append((f"{base}/primary/{action}", w(fn, "performance")))
    for action, fn in (("enable", secondary_enable), ("promote", promote),
                       ("disable", secondary_disable), ("update-primary", update_primary)):
        out.append((f"{base}/secondary/{action}", w(fn, "performance")))
    return out
