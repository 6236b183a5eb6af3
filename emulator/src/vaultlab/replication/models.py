"""Replication state machines for one cluster, one replication type at a time.

No HTTP and no storage here: every transition takes the current per-type state (a plain,
JSON-serialisable dict), validates the request completely, and only then returns a new
dict.  Callers persist the result.  Keeping the rules here lets the unit tests exercise
every legal and illegal transition without starting a process.

State dict keys (absent keys mean "not applicable"):

``mode``                  disabled | primary | secondary | bootstrapping
``cluster_id``            replication-set id (shared by the primary and its secondaries)
``state``                 primary: running; secondary: stream state or idle
``primary_cluster_addr``  primary: the address given at enable/promote; secondary: its primary's
``secondaries``           primary: {id: {"issued_at", "credential_hash", "activated"}}
``paths_filters``         performance primary: {id: {"mode", "paths"}}
``secondary_id``          secondary: the id from the activation token
``primary``               secondary: connection bundle (api_addr, cluster_addrs, credential,
                          ca_pem, alpn, ...) or None when no primary is known (demoted/forgotten)
``known_primary_cluster_addrs``  secondary: addresses learnt from the primary
``last_start``            secondary: RFC3339 time the role started (activation, demotion) or
                          replication restarted (update-primary with a token)
``last_reindex_epoch``    string, Unix seconds
``last_corruption_check_epoch``  string, Unix seconds (Go zero time when never checked)
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import uuid
from typing import Any

from .. import messages as M

TYPES = ("dr", "performance")
DISABLED, PRIMARY, SECONDARY, BOOTSTRAPPING = "disabled", "primary", "secondary", "bootstrapping"
GO_ZERO_EPOCH = "-62135596800"

# Secondary stream states (Vault's names).
ST_IDLE, ST_DIFF, ST_SYNC, ST_STREAM = "idle", "merkle-diff", "merkle-sync", "stream-wals"
# gRPC connectivity states, lower-cased, as Vault reports them.
CONN_READY, CONN_CONNECTING, CONN_FAILURE, CONN_IDLE, CONN_SHUTDOWN = (
    "ready", "connecting", "transient_failure", "idle", "shutdown")

FILTER_MODES = {"allow": "allow", "deny": "deny", "whitelist": "allow", "blacklist": "deny"}


class ReplicationError(Exception):
    """A request refused by the rules; carries the HTTP status and Vault's ``errors`` list."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        self.errors = [message]


def check_type(rtype: str) -> str:
    if rtype not in TYPES:
        raise ReplicationError(M.UNSUPPORTED_PATH, 404)
    return rtype


def now_rfc3339(ts: float | None = None) -> str:
    moment = _dt.datetime.fromtimestamp(ts, _dt.UTC) if ts is not None else _dt.datetime.now(_dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def disabled_state() -> dict[str, Any]:
    return {"mode": DISABLED}


def _new(state: dict[str, Any] | None) -> dict[str, Any]:
    return copy.deepcopy(state) if state else disabled_state()


def mode_of(state: dict[str, Any] | None) -> str:
    return (state or {}).get("mode", DISABLED)


# -- primary side ----------------------------------------------------------------------------

def enable_primary(state, rtype, *, primary_cluster_addr="", cluster_id=None):
    check_type(rtype)
    mode = mode_of(state)
    if mode == PRIMARY:
        raise ReplicationError(M.REPL_ALREADY_PRIMARY)
    if mode == SECONDARY:
        raise ReplicationError(M.REPL_ENABLE_PRIMARY_ON_SECONDARY)
    if mode == BOOTSTRAPPING:
        raise ReplicationError(M.REPL_BOOTSTRAPPING)
    if primary_cluster_addr and not isinstance(primary_cluster_addr, str):
        raise ReplicationError(M.REPL_BAD_PARAM.format(name="primary_cluster_addr"))
    new = {
        "mode": PRIMARY,
        "cluster_id": cluster_id or str(uuid.uuid4()),
        "state": "running",
        "primary_cluster_addr": primary_cluster_addr or "",
        "secondaries": {},
        "last_reindex_epoch": "0",
        "last_corruption_check_epoch": GO_ZERO_EPOCH,
    }
    if rtype == "performance":
        new["paths_filters"] = {}
    return new, [M.WARN_ENABLE_PRIMARY]


def demote_primary(state, rtype):
    check_type(rtype)
    if mode_of(state) != PRIMARY:
        raise ReplicationError(M.REPL_NOT_PRIMARY.format(action="demote"))
    new = {
        "mode": SECONDARY,
        "cluster_id": state["cluster_id"],
        "state": ST_IDLE,
        "primary_cluster_addr": "",
        "secondary_id": state.get("secondary_id", ""),
        "primary": None,
        "known_primary_cluster_addrs": [],
        "last_reindex_epoch": state.get("last_reindex_epoch", "0"),
        "last_corruption_check_epoch": state.get("last_corruption_check_epoch", GO_ZERO_EPOCH),
        "demoted": True,
        "last_start": now_rfc3339(),  # the secondary role starts with the demotion
    }
    return new, [M.WARN_DEMOTE]


def disable(state, rtype, side):
    """Disable from the primary (``side == "primary"``) or the secondary side."""
    check_type(rtype)
    mode = mode_of(state)
    if side == PRIMARY and mode != PRIMARY:
        raise ReplicationError(M.REPL_NOT_PRIMARY.format(action="disable"))
    if side == SECONDARY and mode not in (SECONDARY, BOOTSTRAPPING):
        raise ReplicationError(M.REPL_NOT_SECONDARY.format(action="disable"))
    return disabled_state(), [M.WARN_DISABLE]


def issue_secondary(state, rtype, secondary_id, *, now):
    """Register a new secondary id on a primary (the token itself is made by the caller)."""
    check_type(rtype)
    if mode_of(state) != PRIMARY:
        raise ReplicationError(M.REPL_NOT_PRIMARY.format(action="generate a secondary activation token"))
    if not isinstance(secondary_id, str) or not secondary_id.strip():
        raise ReplicationError(M.REPL_ID_REQUIRED)
    if secondary_id in state.get("secondaries", {}):
        raise ReplicationError(M.REPL_DUPLICATE_ID.format(id=secondary_id))
    new = _new(state)
    new.setdefault("secondaries", {})[secondary_id] = {
        "issued_at": now, "credential_hash": None, "activated": False,
    }
    return new


def bind_credential(state, secondary_id, credential):
    """Attach the per-secondary cluster-port credential handed out when its token is redeemed."""
    if mode_of(state) != PRIMARY or secondary_id not in state.get("secondaries", {}):
        raise ReplicationError(M.WRAPPING_TOKEN_INVALID)
    new = _new(state)
    new["secondaries"][secondary_id].update(credential_hash=hash_secret(credential), activated=True)
    return new


def revoke_secondary(state, rtype, secondary_id):
    check_type(rtype)
    if mode_of(state) != PRIMARY:
        raise ReplicationError(M.REPL_NOT_PRIMARY.format(action="revoke a secondary"))
    if not isinstance(secondary_id, str) or not secondary_id:
        raise ReplicationError(M.REPL_ID_REQUIRED)
    if secondary_id not in state.get("secondaries", {}):
        raise ReplicationError(M.REPL_UNKNOWN_ID.format(id=secondary_id))
    new = _new(state)
    del new["secondaries"][secondary_id]
    new.get("paths_filters", {}).pop(secondary_id, None)
    return new


def authenticate_secondary(state, secondary_id, credential):
    """Cluster-port check: is this (id, credential) an activated, non-revoked secondary?"""
    if mode_of(state) != PRIMARY:
        return False
    entry = state.get("secondaries", {}).get(secondary_id)
    return bool(entry and entry.get("credential_hash") and credential
                and entry["credential_hash"] == hash_secret(credential))


def normalise_filter(mode, paths):
    if mode is None:
        mode = "allow"
    if mode not in FILTER_MODES:
        raise ReplicationError(M.REPL_FILTER_BAD_MODE.format(mode=mode))
    if paths is None:
        paths = []
    if isinstance(paths, str):
        paths = [p.strip() for p in paths.split(",") if p.strip()]
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise ReplicationError(M.REPL_FILTER_BAD_PATHS)
    clean = []
    for p in paths:
        p = p.strip().lstrip("/")
        if not p.endswith("/"):
            p += "/"
        if p not in clean:
            clean.append(p)
    return FILTER_MODES[mode], clean


def set_paths_filter(state, secondary_id, mode, paths):
    if mode_of(state) != PRIMARY:
        raise ReplicationError(M.REPL_NOT_PRIMARY.format(action="manage paths filters"))
    if not secondary_id:
        raise ReplicationError(M.REPL_ID_REQUIRED)
    mode, paths = normalise_filter(mode, paths)
    new = _new(state)
    new.setdefault("paths_filters", {})[secondary_id] = {"mode": mode, "paths": paths}
    return new


def delete_paths_filter(state, secondary_id):
    if mode_of(state) != PRIMARY:
        raise ReplicationError(M.REPL_NOT_PRIMARY.format(action="manage paths filters"))
    new = _new(state)
    new.setdefault("paths_filters", {}).pop(secondary_id, None)
    return new


def path_allowed(flt: dict[str, Any] | None, mount_path: str | None) -> bool:
    """Does a paths filter let a mount (``"secret/"``) or namespace path through?"""
    if not flt or mount_path is None:
        return True
    mount_path = mount_path if mount_path.endswith("/") else mount_path + "/"
    hit = any(mount_path.startswith(p) for p in flt.get("paths", []))
    return hit if flt.get("mode") == "allow" else not hit


# -- secondary side --------------------------------------------------------------------------

def check_can_begin(state, rtype):
    """Checked before the activation token is spent on the primary."""
    check_type(rtype)
    mode = mode_of(state)
    if mode == SECONDARY:
        raise ReplicationError(M.REPL_ALREADY_SECONDARY)
    if mode == PRIMARY:
        raise ReplicationError(M.REPL_ENABLE_SECONDARY_ON_PRIMARY)
    if mode == BOOTSTRAPPING:
        raise ReplicationError(M.REPL_BOOTSTRAPPING)


def begin_secondary(state, rtype, bundle):
    """secondary/enable: validated token bundle in, ``bootstrapping`` state out."""
    check_type(rtype)
    mode = mode_of(state)
    if mode == SECONDARY:
        raise ReplicationError(M.REPL_ALREADY_SECONDARY)
    if mode == PRIMARY:
        raise ReplicationError(M.REPL_ENABLE_SECONDARY_ON_PRIMARY)
    if mode == BOOTSTRAPPING:
        raise ReplicationError(M.REPL_BOOTSTRAPPING)
    _check_bundle(bundle, rtype)
    return {
        "mode": BOOTSTRAPPING,
        "cluster_id": bundle["cluster_id"],
        "state": ST_IDLE,
        "primary_cluster_addr": bundle["primary_cluster_addr"],
        "secondary_id": bundle["secondary_id"],
        "primary": _primary_ref(bundle),
        "known_primary_cluster_addrs": list(bundle["cluster_addrs"]),
        "last_reindex_epoch": "0",
        "last_corruption_check_epoch": GO_ZERO_EPOCH,
    }, [M.WARN_ENABLE_SECONDARY]


def finish_bootstrap(state):
    if mode_of(state) != BOOTSTRAPPING:
        return state
    new = _new(state)
    new["mode"] = SECONDARY
    new["last_start"] = now_rfc3339()
    return new


def _check_bundle(bundle, rtype):
    required = ("cluster_id", "secondary_id", "credential", "cluster_addrs", "type")
    if not isinstance(bundle, dict) or any(k not in bundle for k in required):
        raise ReplicationError(M.REPL_BAD_BUNDLE)
    if bundle["type"] != rtype:
        raise ReplicationError(M.REPL_TOKEN_WRONG_TYPE.format(want=rtype, got=bundle["type"]))
    bundle.setdefault("primary_cluster_addr", bundle["cluster_addrs"][0] if bundle["cluster_addrs"] else "")


def _primary_ref(bundle):
    keys = ("api_addr", "cluster_addrs", "credential", "ca_pem", "cluster_id", "primary_cluster_addr",
            "client_cert", "client_key", "server_name")  # the last three: cluster-port mTLS (--tls)
    return {k: copy.deepcopy(bundle.get(k)) for k in keys}


def update_primary(state, rtype, bundle, *, via_addrs=None, after_failover_block=True):
    """secondary/update-primary: re-point without wiping.

    ``bundle`` None and ``via_addrs`` None means "forget the primary" (empty token).
    ``via_addrs`` replaces the address list of the current primary.
    """
    check_type(rtype)
    mode = mode_of(state)
    if mode not in (SECONDARY,):
        raise ReplicationError(M.REPL_NOT_SECONDARY.format(action="update the primary"))
    new = _new(state)
    if via_addrs is not None:
        if not state.get("primary"):
            if state.get("demoted") and after_failover_block:
                raise ReplicationError(M.REPL_ADDRS_AFTER_FAILOVER)
            raise ReplicationError(M.REPL_ADDRS_NO_PRIMARY)
        new["primary"]["cluster_addrs"] = list(via_addrs)
        new["known_primary_cluster_addrs"] = list(via_addrs)
        new["primary_cluster_addr"] = via_addrs[0]
        return new, [M.WARN_UPDATE_PRIMARY]
    if bundle is None:
        new.update(primary=None, known_primary_cluster_addrs=[], primary_cluster_addr="", state=ST_IDLE)
        return new, [M.WARN_UPDATE_PRIMARY]
    _check_bundle(bundle, rtype)
    new.update(
        cluster_id=bundle["cluster_id"],
        secondary_id=bundle["secondary_id"],
        primary=_primary_ref(bundle),
        primary_cluster_addr=bundle["primary_cluster_addr"],
        known_primary_cluster_addrs=list(bundle["cluster_addrs"]),
        state=ST_IDLE,
        last_start=now_rfc3339(),  # replication restarts against the new primary
    )
    new.pop("demoted", None)
    return new, [M.WARN_UPDATE_PRIMARY]


def promote(state, rtype, *, primary_cluster_addr="", caught_up=True, force=False):
    check_type(rtype)
    mode = mode_of(state)
    if mode == PRIMARY:
        raise ReplicationError(M.REPL_ALREADY_PRIMARY)
    if mode == BOOTSTRAPPING:
        raise ReplicationError(M.REPL_BOOTSTRAPPING)
    if mode != SECONDARY:
        raise ReplicationError(M.REPL_NOT_SECONDARY.format(action="promote"))
    if not caught_up and not force:
        raise ReplicationError(M.REPL_PROMOTE_CATCHING_UP, 503)
    new = {
        "mode": PRIMARY,
        "cluster_id": state["cluster_id"],
        "state": "running",
        "primary_cluster_addr": primary_cluster_addr or "",
        "secondaries": {},
        "last_reindex_epoch": state.get("last_reindex_epoch", "0"),
        "last_corruption_check_epoch": state.get("last_corruption_check_epoch", GO_ZERO_EPOCH),
    }
    if rtype == "performance":
        new["paths_filters"] = {}
    return new, [M.WARN_PROMOTE]


# -- status ----------------------------------------------------------------------------------

def render_status(rtype: str, state: dict[str, Any] | None, rt: dict[str, Any]) -> dict[str, Any]:
    """Vault's per-type status object from persisted state plus runtime facts.

    ``rt`` keys: last_wal, shipped_wal, merkle_root, secondaries_rt {id: {...}}, primary_state,
    stream_state, connection_state, primaries [...], last_remote_wal,
    merkle_sync_progress, known_primary_cluster_addrs.
    """
    mode = mode_of(state)
    if mode == DISABLED:
        return {"mode": DISABLED}
    if mode == BOOTSTRAPPING:
        return {"mode": BOOTSTRAPPING, "cluster_id": state["cluster_id"]}
    common = {
        "mode": mode,
        "cluster_id": state["cluster_id"],
        "merkle_root": rt.get("merkle_root", ""),
        "corrupted_merkle_tree": False,
        "last_reindex_epoch": str(state.get("last_reindex_epoch", "0")),
        "last_corruption_check_epoch": str(state.get("last_corruption_check_epoch", GO_ZERO_EPOCH)),
        "ssct_generation_counter": 0,
        "primary_cluster_addr": state.get("primary_cluster_addr", ""),
    }
    if mode == PRIMARY:
        secondaries = []
        srt = rt.get("secondaries_rt", {})
        for sid in sorted(state.get("secondaries", {})):
            info = srt.get(sid)
            if not info:
                continue
            secondaries.append({
                "node_id": sid,
                "api_address": info.get("api_address", ""),
                "cluster_address": info.get("cluster_address", ""),
                "connection_status": info.get("connection_status", "disconnected"),
                "last_heartbeat": info.get("last_heartbeat", ""),
                "clock_skew_ms": str(info.get("clock_skew_ms", 0)),
                "last_heartbeat_duration_ms": str(info.get("last_heartbeat_duration_ms", 0)),
                "replication_primary_canary_age_ms": str(info.get("replication_primary_canary_age_ms", 0)),
            })
        common.update(
            state=rt.get("primary_state") or state.get("state", "running"),
            known_secondaries=sorted(state.get("secondaries", {})),
            last_wal=rt.get("last_wal", 0),
            secondaries=secondaries,
        )
        common["last_dr_wal" if rtype == "dr" else "last_performance_wal"] = rt.get("shipped_wal", 0)
        return common
    # secondary
    has_primary = bool(state.get("primary"))
    common.update(
        state=rt.get("stream_state", ST_IDLE) if has_primary else ST_IDLE,
        connection_state=rt.get("connection_state", CONN_CONNECTING if has_primary else CONN_IDLE)
        if has_primary else CONN_IDLE,
        secondary_id=state.get("secondary_id", ""),
        known_primary_cluster_addrs=list(rt.get("known_primary_cluster_addrs")
                                         or state.get("known_primary_cluster_addrs", [])) if has_primary else [],
        last_remote_wal=rt.get("last_remote_wal", 0),
        # States saved by an older vaultlab may lack it; a secondary always reports a time.
        last_start=state.get("last_start") or now_rfc3339(),
        primaries=list(rt.get("primaries", [])) if has_primary else [],
    )
    if common["state"] == ST_SYNC and rt.get("merkle_sync_progress"):
        common["merkle_sync_progress"] = rt["merkle_sync_progress"]
    return common
