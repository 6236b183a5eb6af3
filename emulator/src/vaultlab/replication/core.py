"""Per-node replication runtime: persisted state, status rendering, gate, background loops.

Where state lives (scopes, see storage.py):

* DR state of this cluster: ``node`` scope (never leaves the cluster).
* Performance state: ``local`` scope, so a DR secondary holds a copy of its primary's
  performance role and takes it over on promotion (reference §2.10, §7.2) while a
  performance secondary never sees it.
* Stream progress and heartbeat bookkeeping: ``node`` scope, written by the active node and
  read by every node (standbys answer status requests themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
import uuid
from collections.abc import Iterator
from typing import Any, Callable, Coroutine, Protocol

from .. import messages as M
from .. import versions
from ..node import Node
from . import models
from .ceremony import constant_time_in, token_digest
from .models import (BOOTSTRAPPING, DISABLED, PRIMARY, SECONDARY, TYPES, ReplicationError)

log = logging.getLogger("vaultlab.replication")

# The transport's side of a secondary: the loop that keeps one replication type connected to its
# primary (vaultlab.replication.stream.secondary_runner).  The model starts and stops it on HA
# changes but does not know how it talks to the primary.
SecondaryRunner = Callable[["Replication", str], Coroutine[Any, Any, None]]


class PeerClient(Protocol):
    """The transport's HTTP client to other clusters (vaultlab.replication.peers.Peers)."""

    async def session(self) -> Any: ...

    def cluster_ssl(self, ca_pem: str | None) -> ssl.SSLContext | None: ...

    async def close(self) -> None: ...

STATE_KEY = "core/replication/{t}/state"
PROGRESS_KEY = "core/replication/{t}/progress"
# Progress fields that change on every heartbeat of an idle stream (save_heartbeat).
HEARTBEAT_FIELDS = frozenset({"last_heartbeat_ts", "primary_peer", "updated"})
# Fields of a secondary's entry on the primary that change on every heartbeat (record_secondary).
RT_HEARTBEAT_FIELDS = frozenset({"last_heartbeat_ts", "clock_skew_ms", "last_heartbeat_duration_ms"})
SECONDARIES_RT_KEY = "core/replication/{t}/secondaries-rt"
NODE_REGISTRY = "core/replication/nodes/"
EPOCH_KEY = "core/replication/wal-epoch"
JWT_KEY = "core/wrapping/jwtkey"
PUBKEY_KEY = "core/replication/{t}/secondary-keypair"
DR_TOKENS_KEY = "core/dr-operation-token"
# The replication reconfiguration window ("Vault will be unavailable for a brief period"), shared by
# the nodes of the cluster so that each answers status and sys/leader alike.
TRANSITION_KEY = "core/replication/transition"
TRANSITION_HEALTH = ("standby", "active")

SCOPES = {"dr": ("replicated", "local"), "performance": ("replicated",)}
STATE_SCOPE = {"dr": "node", "performance": "local"}

# Paths a DR secondary answers without a normal token (reference §2.17).
DR_ALWAYS_ALLOWED = (
    "sys/health", "sys/seal-status", "sys/leader", "sys/unseal",
    "sys/replication/status", "sys/replication/dr/status", "sys/replication/performance/status",
)
DR_OPERATION_PATHS = (
    "sys/replication/dr/secondary/promote",
    "sys/replication/dr/secondary/update-primary",
    "sys/replication/dr/secondary/disable",
    "sys/replication/dr/secondary/operation-token/delete",
    "sys/replication/dr/secondary/reindex",
    "sys/replication/dr/secondary/merkle-check",
    "sys/replication/dr/secondary/recover",
    "sys/replication/dr/secondary/generate-public-key",
)
CEREMONY_PATHS = (
    "sys/replication/dr/secondary/generate-operation-token/attempt",
    "sys/replication/dr/secondary/generate-operation-token/update",
)


class Replication:
    """Everything replication keeps per node process."""

    def __init__(self, node: Node, secondary_runner: SecondaryRunner | None = None,
                 peers: PeerClient | None = None):
        self.node = node
        self._secondary_runner = secondary_runner
        # None: a model without transport (unit tests); no call to another cluster then.
        self.peers = peers
        self.storage = node.storage
        # [?] switches: lab config.json "replication" object, overridable per process with the
        # VAULTLAB_REPLICATION environment variable (a JSON object).
        self.config: dict[str, Any] = versions.switches(node.config)
        self.unavailable_until = 0.0
        self.kick = {t: asyncio.Event() for t in TYPES}
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        # (type, secondary id) -> (when this process last wrote the entry, what it wrote but
        # the heartbeat fields), and the heartbeat fields received since (record_secondary).
        self._rt_written: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._rt_live: dict[tuple[str, str], dict[str, Any]] = {}
        # type -> the heartbeat fields of the latest WAL poll not yet written (see save_heartbeat).
        self._heartbeat_live: dict[str, dict[str, Any]] = {}
        self._merkle_cache: dict[str, tuple[tuple[int, int], str]] = {}

    # -- settings (the [?] switches listed in COVERAGE.md) ------------------------------

    def setting(self, name: str, default: Any) -> Any:
        return self.config.get(name, default)

    @property
    def version(self) -> str:
        return getattr(self.node, "version", versions.DEFAULT)

    @property
    def v2_auth(self) -> bool:
        """The emulated version has the 2.0.0 authentication changes (reference §5.6)."""
        return versions.v2_auth(self.version, self.setting("v2_auth_backport", False))

    @property
    def otp_length(self) -> int:
        return int(self.setting("otp_length", versions.default_otp_length(self.version)))

    @property
    def ceremony_auth_required(self) -> bool:
        return bool(self.setting("ceremony_auth_required", self.v2_auth))

    def timing(self, name: str, default: float = 0.0) -> float:
        try:
            return self.node.timing(name, default)
        except KeyError:
            return default

    # -- persisted state -----------------------------------------------------------------

    def load(self, t: str) -> dict[str, Any]:
        return self.storage.get(STATE_KEY.format(t=t)) or models.disabled_state()

    def save(self, t: str, state: dict[str, Any]) -> None:
        key = STATE_KEY.format(t=t)
        if state.get("mode", DISABLED) == DISABLED:
            if self.storage.get(key) is not None:
                self.storage.delete(key, scope=STATE_SCOPE[t])
        else:
            with self.storage.transaction():
                if _retargeted(self.storage.get(key), state):
                    self._forget_connection(t)
                self.storage.put(key, state, scope=STATE_SCOPE[t])
        self.kick[t].set()

    def _forget_connection(self, t: str) -> None:
        """The secondary now follows another primary (update-primary with a token).

        Until the stream loop has reached the new primary, status must not go on reporting
        the old one as connected and streaming: a caller waiting for ``stream-wals`` plus a
        ``last_remote_wal`` that reaches the new primary's WAL index would take the old
        connection for the new one.  The WAL position and lineage stay: the handshake with
        the new primary decides whether they are any use.
        """
        prog = self.progress(t)
        if prog:
            self.save_progress(t, stream_state=models.ST_IDLE, connection_state=models.CONN_CONNECTING,
                               primary_peer=None, connected_addr=None, known_addrs=[])

    def progress(self, t: str) -> dict[str, Any]:
        stored = self.storage.get(PROGRESS_KEY.format(t=t)) or {}
        live = self._heartbeat_live.get(t)
        if live and stored and live.get("last_heartbeat_ts", 0) > stored.get("last_heartbeat_ts", 0):
            stored.update(live)
        return stored

    def save_progress(self, t: str, **changes: Any) -> dict[str, Any]:
        with self.storage.transaction():
            current = self.progress(t)
            current.update(changes)
            current["updated"] = time.time()
            self.storage.put(PROGRESS_KEY.format(t=t), current, scope="node")
            self._heartbeat_live.pop(t, None)
        return current

    def heartbeat_persist_period(self) -> float:
        """Longest a heartbeat-only change of a secondary's progress stays in this process's
        memory: a fifth of the staleness threshold, at most 1 s, at least the heartbeat interval."""
        return max(min(1.0, self._stale_after() / 5), self.timing("heartbeat_interval", 0.2))

    def save_heartbeat(self, t: str, **changes: Any) -> dict[str, Any]:
        """Progress after one WAL poll of the streaming loop.

        Written like :meth:`save_progress` when anything but the heartbeat fields changed or
        the stored heartbeat is older than :meth:`heartbeat_persist_period`; otherwise kept in
        memory, where :meth:`progress` (status of this node) reads it. Other node processes of
        the cluster (standbys) see the stored heartbeat, at most that period old.
        """
        stored = self.storage.get(PROGRESS_KEY.format(t=t)) or {}
        merged = {**stored, **changes}
        same = all(merged.get(k) == stored.get(k) for k in merged.keys() | stored.keys()
                   if k not in HEARTBEAT_FIELDS)
        if not (stored and same and time.time() - stored.get("last_heartbeat_ts", 0)
                < self.heartbeat_persist_period()):
            return self.save_progress(t, **changes)
        self._heartbeat_live[t] = {k: merged[k] for k in HEARTBEAT_FIELDS if k in merged}
        return merged

    def clear_progress(self, t: str) -> None:
        self._heartbeat_live.pop(t, None)
        if self.storage.get(PROGRESS_KEY.format(t=t)) is not None:
            self.storage.delete(PROGRESS_KEY.format(t=t), scope="node")

    def secondaries_rt(self, t: str) -> dict[str, Any]:
        rt = self.storage.get(SECONDARIES_RT_KEY.format(t=t)) or {}
        for (typ, sid), live in self._rt_live.items():
            entry = rt.get(sid)
            if typ == t and entry and live["last_heartbeat_ts"] > entry.get("last_heartbeat_ts", 0):
                entry.update(live)
        return rt

    def record_secondary(self, t: str, sid: str, info: dict[str, Any], force: bool = False) -> None:
        """Heartbeat bookkeeping on the primary, written at most every 0.1 s (half a heartbeat
        interval when that is shorter).

        When only the heartbeat fields (``RT_HEARTBEAT_FIELDS``) changed since this process last
        wrote the entry, it is written at most every :meth:`heartbeat_persist_period`; meanwhile
        they live in this process's memory, where :meth:`secondaries_rt` (this node's status)
        reads them. Other node processes of the cluster see the stored entry.
        """
        now = time.time()
        key = (t, sid)
        last, written = self._rt_written.get(key, (0.0, None))
        steady = {k: v for k, v in info.items() if k not in RT_HEARTBEAT_FIELDS}
        # Changed peer details (addresses) wait at most 0.1 s, however long the heartbeats.
        period = max(min(self.timing("heartbeat_interval", 0.2), 0.2) / 2, 0.05)
        if steady == written:
            period = max(period, self.heartbeat_persist_period())
        if not force and now - last < period:
            if steady == written:
                live = self._rt_live.setdefault(key, {})
                live.update({k: v for k, v in info.items() if k in RT_HEARTBEAT_FIELDS})
                live["last_heartbeat_ts"] = now
            return
        self._rt_written[key] = (now, steady)
        with self.storage.transaction():
            rt = self.secondaries_rt(t)
            entry = rt.get(sid, {})
            entry.update(info)
            entry["last_heartbeat_ts"] = now
            rt[sid] = entry
            self.storage.put(SECONDARIES_RT_KEY.format(t=t), rt, scope="node")
            self._rt_live.pop(key, None)

    def forget_secondary(self, t: str, sid: str) -> None:
        self._rt_written.pop((t, sid), None)
        self._rt_live.pop((t, sid), None)
        with self.storage.transaction():
            rt = self.secondaries_rt(t)
            if rt.pop(sid, None) is not None:
                self.storage.put(SECONDARIES_RT_KEY.format(t=t), rt, scope="node")

    def forget_all_secondaries(self, t: str) -> None:
        for key in [key for key in self._rt_written if key[0] == t]:
            self._rt_written.pop(key, None)
        for key in [key for key in self._rt_live if key[0] == t]:
            self._rt_live.pop(key, None)
        if self.storage.get(SECONDARIES_RT_KEY.format(t=t)) is not None:
            self.storage.delete(SECONDARIES_RT_KEY.format(t=t), scope="node")

    def kick_all(self) -> None:
        for event in self.kick.values():
            event.set()

    def reindex(self, types: tuple[str, ...]) -> None:
        """``sys/replication/reindex``: every stream this cluster takes part in (as ``types``)
        re-runs merkle-diff.

        A secondary forgets its WAL position, so its next handshake compares merkle roots; a
        primary starts a new lineage, so its secondaries' next WAL poll is refused and they do
        the same. A copy that drifted from what the primary ships (under that secondary's paths
        filter) is then merkle-synced instead of streaming on from its WAL position.
        """
        self._merkle_cache.clear()  # the index is rebuilt from the data
        new_lineage = False
        for t in types:
            mode = models.mode_of(self.effective(t))
            if mode == SECONDARY:
                self.save_progress(t, remote_epoch=None)
            new_lineage = new_lineage or mode == PRIMARY
        if new_lineage:
            self.new_epoch()
        self.kick_all()

    def epoch(self) -> str:
        value = self.storage.get(EPOCH_KEY)
        if value is None:
            value = str(uuid.uuid4())
            self.storage.put(EPOCH_KEY, value, scope="node")
        return value

    def new_epoch(self) -> None:
        """This cluster's data was replaced wholesale (wipe, snapshot): downstream secondaries
        streaming from it must not trust their WAL position any more."""
        self.storage.put(EPOCH_KEY, str(uuid.uuid4()), scope="node")

    def register_node(self) -> None:
        node = self.node
        self.storage.put(NODE_REGISTRY + node.name,
                         {"api_addr": node.api_addr, "cluster_addr": node.cluster_addr}, scope="node")

    def cluster_nodes(self) -> list[dict[str, Any]]:
        nodes = [self.storage.get(k) for k in self.storage.list(NODE_REGISTRY)]
        return [n for n in nodes if n]

    def own_cluster_addrs(self) -> list[str]:
        leader = self.node.leader() or {}
        addrs = [n["cluster_addr"] for n in self.cluster_nodes()]
        first = leader.get("cluster_addr")
        if first in addrs:
            addrs.remove(first)
            addrs.insert(0, first)
        return addrs

    # -- effective modes -----------------------------------------------------------------

    def effective(self, t: str) -> dict[str, Any]:
        """State as it acts: a DR secondary runs no performance replication of its own."""
        if t == "performance" and models.mode_of(self.load("dr")) in (SECONDARY, BOOTSTRAPPING):
            return models.disabled_state()
        return self.load(t)

    def is_dr_secondary(self) -> bool:
        return models.mode_of(self.load("dr")) in (SECONDARY, BOOTSTRAPPING)

    def modes(self) -> dict[str, str]:
        # On a DR secondary sys/health mirrors the primary's performance role (§6.1 quirk).
        return {"dr": models.mode_of(self.load("dr")), "performance": models.mode_of(self.load("performance"))}

    # -- status --------------------------------------------------------------------------

    def status(self, t: str) -> dict[str, Any]:
        state = self.effective(t)
        mode = models.mode_of(state)
        rt: dict[str, Any] = {}
        if mode in (PRIMARY, SECONDARY):
            rt["merkle_root"] = self.merkle_root(t)
        if mode == PRIMARY:
            rt["last_wal"] = self.storage.last_wal()
            rt["shipped_wal"] = self.storage.last_wal(SCOPES[t])
            rt["secondaries_rt"] = self._render_secondaries(t)
            if self.transition() is not None:
                rt["primary_state"] = models.ST_IDLE  # [?] not running yet: the window is open
        elif mode == SECONDARY:
            prog = self.progress(t)
            rt.update(
                stream_state=prog.get("stream_state", models.ST_IDLE),
                connection_state=self._connection_state(prog),
                last_remote_wal=prog.get("last_remote_wal", 0),
                known_primary_cluster_addrs=prog.get("known_addrs"),
                merkle_sync_progress=prog.get("merkle_sync_progress"),
                primaries=self._render_primaries(prog),
            )
            if state.get("primary") and self.transition() is not None:
                # [?] update-primary re-bootstraps the secondary against its (new) primary: until the
                # window ends it does not report streaming (Vault goes through its connect and
                # merkle-diff states first), consistent with sys/health and sys/leader meanwhile.
                rt.update(stream_state=models.ST_IDLE, connection_state=models.CONN_CONNECTING)
        return models.render_status(t, state, rt)

    def merkle_root(self, t: str) -> str:
        """Merkle root of what type ``t`` ships, cached until the WAL changes.

        Status is polled hard (waiters, benchmarks); every data change appends to the WAL or
        (restore, wipe) removes entries from it, so (last index, entry count) moves with it.
        """
        # Key first, root second: a write in between makes the key stale, never the root.
        key = (self.storage.last_wal(), self.storage.wal_count())
        cached = self._merkle_cache.get(t)
        if cached and cached[0] == key:
            return cached[1]
        root = self.storage.merkle_root(SCOPES[t])
        self._merkle_cache[t] = (key, root)
        return root

    def _stale_after(self) -> float:
        """Heartbeat age after which a peer counts as disconnected.

        The floor keeps a loaded test machine (stalled event loops) from flapping connections
        in the fast profile; timing ``heartbeat_stale_after`` overrides it.
        """
        default = max(3 * self.timing("heartbeat_interval", 0.2) + self.timing("connection_timeout", 1.0), 5.0)
        return self.timing("heartbeat_stale_after", default)

    def request_timeout(self) -> float:
        """Budget for one cluster-port round trip beyond the long-poll wait."""
        return max(5 * self.timing("connection_timeout", 1.0), 5.0)

    def _connection_state(self, prog: dict[str, Any]) -> str:
        value = prog.get("connection_state", models.CONN_CONNECTING)
        if value == models.CONN_READY and time.time() - prog.get("last_heartbeat_ts", 0) > self._stale_after():
            return models.CONN_FAILURE
        return value

    def _render_primaries(self, prog: dict[str, Any]) -> list[dict[str, Any]]:
        peer = prog.get("primary_peer")
        if not peer:
            return []
        age = time.time() - prog.get("last_heartbeat_ts", 0)
        return [{
            "api_address": peer.get("api_addr", ""),
            "cluster_address": peer.get("cluster_addr", ""),
            "connection_status": "connected" if (prog.get("connection_state") == models.CONN_READY
                                                 and age <= self._stale_after()) else "disconnected",
            "last_heartbeat": models.now_rfc3339(prog["last_heartbeat_ts"]) if prog.get("last_heartbeat_ts") else "",
            "clock_skew_ms": str(peer.get("clock_skew_ms", 0)),
            "last_heartbeat_duration_ms": str(peer.get("last_heartbeat_duration_ms", 0)),
            "replication_primary_canary_age_ms": str(int(max(age, 0) * 1000)),
        }]

    def _render_secondaries(self, t: str) -> dict[str, Any]:
        out = {}
        now = time.time()
        for sid, info in self.secondaries_rt(t).items():
            ts = info.get("last_heartbeat_ts", 0)
            out[sid] = {
                "api_address": info.get("api_address", ""),
                "cluster_address": info.get("cluster_address", ""),
                "connection_status": "connected" if (now - ts <= self._stale_after()
                                                     and not info.get("gone")) else "disconnected",
                "last_heartbeat": models.now_rfc3339(ts) if ts else "",
                "clock_skew_ms": info.get("clock_skew_ms", 0),
                "last_heartbeat_duration_ms": info.get("last_heartbeat_duration_ms", 0),
                # Age of the last message from the secondary, the closest analogue of the canary.
                "replication_primary_canary_age_ms": int(max(now - ts, 0) * 1000) if ts else 0,
            }
        return out

    # -- gate (called before every /v1 handler) ------------------------------------------

    def gate(self, method: str, path: str) -> tuple[int, list[str]] | None:
        path = path.strip("/")
        if path.startswith("v1/"):
            path = path[3:]
        if time.time() < self.unavailable_until and not self._always(path):
            return 503, [M.REPL_UNAVAILABLE]
        try:
            dr_mode = models.mode_of(self.load("dr"))
        except Exception:  # storage trouble must not take every request down
            return None
        if dr_mode not in (SECONDARY, BOOTSTRAPPING):
            return None
        if self._always(path):
            return None
        if path == "sys/init" and method.upper() in ("GET", "HEAD"):
            return None
        if path in CEREMONY_PATHS or path in DR_OPERATION_PATHS:
            return None
        return 400, [M.DR_SECONDARY_PATH_DISABLED]

    @staticmethod
    def _always(path: str) -> bool:
        return path in DR_ALWAYS_ALLOWED

    def make_unavailable(self, timing_name: str) -> None:
        """Open the window after a replication change (timing ``timing_name``, 0 = none)."""
        seconds = self.timing(timing_name, 0.0)
        if seconds > 0:
            self.unavailable_until = max(self.unavailable_until, time.time() + seconds)
            self.storage.put(TRANSITION_KEY, {"name": timing_name, "until": self.unavailable_until,
                                              "node": self.node.name}, scope="node")

    def transition(self) -> dict[str, Any] | None:
        """The window this cluster is in, or None.

        Until it ends, the node that made the change refuses clients (503, see ``gate``); a
        primary's status reports ``state: idle`` instead of ``running``; sys/health answers as a
        standby and sys/leader names no active node (switch ``transition_health``, [?]).
        """
        now = time.time()
        if now < self.unavailable_until:  # this node's own window (it may not be persisted)
            return {"name": "replication", "until": self.unavailable_until, "node": self.node.name}
        record = self.storage.get(TRANSITION_KEY)
        if record and record.get("until", 0) > now:
            return record
        return None

    @contextlib.contextmanager
    def unavailable_for(self, seconds: float) -> Iterator[None]:
        """Refuse requests (503) while the block runs, for at most ``seconds`` (this node only)."""
        previous = self.unavailable_until
        self.unavailable_until = max(previous, time.time() + seconds)
        try:
            yield
        finally:
            self.unavailable_until = previous

    def transition_health(self) -> str:
        value = self.setting("transition_health", "standby")
        if value not in TRANSITION_HEALTH:
            raise ReplicationError(f"invalid replication switch transition_health={value!r}: "
                                   f"use one of {', '.join(TRANSITION_HEALTH)}", 500)
        return value

    # -- DR operation tokens -------------------------------------------------------------

    def store_dr_token(self, token: str) -> None:
        with self.storage.transaction():
            tokens = list(self.storage.get(DR_TOKENS_KEY) or [])
            tokens.append(token_digest(token))
            self.storage.put(DR_TOKENS_KEY, tokens, scope="node")

    def delete_dr_token(self, token: str) -> bool:
        with self.storage.transaction():
            tokens = list(self.storage.get(DR_TOKENS_KEY) or [])
            digest = token_digest(token)
            if digest not in tokens:
                return False
            tokens.remove(digest)
            self.storage.put(DR_TOKENS_KEY, tokens, scope="node")
            return True

    def check_dr_token(self, token: Any, path: str, capability: str = "update") -> str:
        """Validate a dr_operation_token for ``path``; return its kind ("operation"/"batch").
        A batch token's ACL is checked for ``capability`` (``read`` for a GET, as Vault maps it)."""
        if not token or not isinstance(token, str):
            raise ReplicationError(M.REPL_DR_TOKEN_REQUIRED)
        if constant_time_in(token_digest(token), list(self.storage.get(DR_TOKENS_KEY) or [])):
            return "operation"
        # Batch (or, with the 2.0 switch, root) tokens minted on the primary replicate here
        # with the local scope and are checked against their own ACL.
        entry = self.node.tokens.lookup_token(token)
        if entry is not None:
            kinds = ("batch", "service") if self.setting("dr_accepts_primary_tokens", self.v2_auth) else ("batch",)
            if entry.get("type") in kinds and self.node.tokens.allowed(entry, path, capability):
                return "batch"
            if entry.get("type") in kinds:
                raise ReplicationError(M.PERMISSION_DENIED, 403)
        raise ReplicationError(M.REPL_DR_TOKEN_INVALID, 403)

    async def close(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        if self.peers is not None:
            await self.peers.close()

    # -- background loops ----------------------------------------------------------------

    def on_active(self) -> None:
        if self._secondary_runner is None:  # a model without transport (unit tests)
            return
        for t in TYPES:
            task = self.tasks.get(t)
            if task is None or task.done():
                self.tasks[t] = self.node.spawn(self._secondary_runner(self, t))

    def on_standby(self) -> None:
        for t, task in list(self.tasks.items()):
            task.cancel()
            self.tasks.pop(t, None)


def lab_ca_pem(node: Node) -> str | None:
    if not node.tls or not node.ca_cert:
        return None
    try:
        with open(node.ca_cert, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _retargeted(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Does ``new`` point a secondary at a different primary (new credential) than ``old``?"""
    if models.mode_of(new) not in (SECONDARY, BOOTSTRAPPING) or not new.get("primary"):
        return False
    before = (old or {}).get("primary") or {}
    return bool(before) and before.get("credential") != new["primary"].get("credential")
