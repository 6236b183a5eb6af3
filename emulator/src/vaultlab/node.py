"""One emulated Vault node: seal state, HA election, path classes, faults.

A node is one OS process (see :mod:`vaultlab.server`).  Every node of a cluster opens the
cluster's shared SQLite :class:`~vaultlab.storage.Storage`; what a real Vault keeps in
memory (sealed or not, unseal progress, the root key) stays in this object, so a restarted
process comes back sealed with its data intact.  Policies, tokens, token roles and response
wrapping are the cluster's :class:`~vaultlab.model.tokens.TokenStore` (``node.tokens``).

Public surface used by the replication package (keep it stable):

``dir``, ``cluster_name``, ``name``, ``storage``, ``tokens``, ``config``, ``api_addr``,
``cluster_addr``, ``tls``, ``ca_cert``, ``initialized``, ``sealed``, ``active``, ``standby``,
``cluster_id``, ``leader()``, ``timing(name)``, ``on_active(cb)``, ``on_standby(cb)``,
``on_seal(cb)``, ``seal_config()``, ``replace_seal_config(config)``,
``verify_key_shares(shares)``, ``seal()``, ``partitioned(peer, kind)``, ``peer_headers()``,
``client_ssl_context()``, ``add_unauthenticated(pattern)``, ``add_standby_local(pattern)``,
``add_sudo(pattern)``, ``add_dr_secondary_allowed(pattern)``, ``attach_replication(...)``.
"""

from __future__ import annotations

import base64
import fnmatch
import inspect
import json
import logging
import os
import ssl
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import acl, messages, profiles, ticks, versions
from .model.capture import CapturingStorage
from .model.seal import Seal, new_seal
from .model.tokens import TokenStore
from .storage import encode_value

if TYPE_CHECKING:  # asyncio is imported where used: the CLI imports this module too
    import asyncio

    from .replication.core import Replication

log = logging.getLogger("vaultlab.node")

VERSION = versions.DEFAULT  # the default; a lab may emulate another (Node.version)

CLUSTER_INFO_KEY = "core/cluster-info"
HA_LOCK_KEY = "core/ha-lock"



# Paths a node answers itself even as a standby or while sealed (everything else is
# redirected to the active node or refused with "Vault is sealed").
STANDBY_LOCAL = [
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
    "sys/init",
    "sys/leader",
    "sys/replication/status",
    "sys/replication/dr/status",
    "sys/replication/performance/status",
]
SEALED_ALLOWED = ["sys/health", "sys/seal-status", "sys/unseal", "sys/init", "sys/leader"]
UNAUTHENTICATED = [
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
    "sys/init",
    "sys/leader",
    "sys/generate-root/attempt",
    "sys/generate-root/update",
    "sys/decode-token",  # listed in the sys backend's unauthenticated paths, like generate-root
    "sys/wrapping/unwrap",
    "sys/wrapping/lookup",
    "sys/replication/status",
    "sys/replication/dr/status",
    "sys/replication/performance/status",
]
SUDO = [
    "sys/seal",
    "sys/step-down",
    "sys/replication/dr/primary/secondary-token",
    "sys/replication/performance/primary/secondary-token",
    "sys/replication/primary/secondary-token",
    "sys/replication/reindex",
    "auth/token/create-orphan",
    "sys/storage/raft/snapshot",
    "sys/storage/raft/snapshot-force",
    "sys/audit",
    "sys/audit/*",
]


def _match(patterns: list[str], path: str) -> bool:
    for pattern in patterns:
        if pattern.endswith("*"):
            if path.startswith(pattern[:-1]) or fnmatch.fnmatchcase(path, pattern):
                return True
        elif path == pattern or path == pattern + "/":
            return True
    return False


class Node:
    """State and behaviour of one emulated Vault node (see the module docstring)."""

    def __init__(
        self,
        lab_dir: str | os.PathLike[str],
        cluster: str,
        name: str,
        api_port: int = 0,
        cluster_port: int = 0,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.dir = Path(lab_dir)
        self.cluster_name = cluster
        self.name = name
        self.config: dict[str, Any] = config if config is not None else load_lab_config(self.dir)
        # Whether this node runs alone in its cluster, judged from the lab's config.json (only
        # when the config came from that file): (file identity, answer); see _alone().
        self._config_file = config is None
        self._alone_cache: tuple[tuple[int, int, int] | None, bool] = (None, False)
        self.tls = bool(self.config.get("tls"))
        self.ca_cert: str | None = self.config.get("ca_cert") if self.tls else None
        self.api_port = api_port
        self.cluster_port = cluster_port
        # Plain storage except while a performance secondary captures a client write.
        self.storage = CapturingStorage(self.dir / "clusters" / cluster / "storage.db")
        self.timings = profiles.resolve(self.config.get("profile", "fast"), self.config.get("timing") or {})
        self.tokens = TokenStore(self.storage, cluster_name=cluster,
                                 default_ttl=lambda: self.timing("default_token_ttl", 2764800),
                                 needs_sudo=self.needs_sudo)
        # The emulated Vault version (vaultlab up --vault-version) and the [?] switches.
        self.version = versions.normalise(self.config.get("vault_version") or versions.DEFAULT)
        self.switches = versions.switches(self.config)
        # 2.0.0 (reference §5.6): generate-root and generate-operation-token need a token too.
        self.ceremony_auth_required = bool(self.switches.get(
            "ceremony_auth_required", versions.v2_auth(self.version, self.switches.get("v2_auth_backport"))))

        self.seal_state = Seal(self.storage)
        self.active = False
        self._leader: dict[str, Any] | None = None
        # When this standby last saw the active node renew its lease: vaultlab's stand-in for
        # the request-forwarding heartbeat behind sys/health's HA-unhealthy code (474).
        self._leader_renewed: float | None = None
        self.active_since: float | None = None
        self._no_lock_until = 0.0

        self._on_active: list[Callable[[], Any]] = []
        self._on_standby: list[Callable[[], Any]] = []
        self._on_seal: list[Callable[[], Any]] = []
        self._wakeup: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

        self.unauthenticated = [p for p in UNAUTHENTICATED
                                if not (self.ceremony_auth_required and p.startswith("sys/generate-root/"))]
        self.standby_local = list(STANDBY_LOCAL)
        self.sealed_allowed = list(SEALED_ALLOWED)
        self.sudo_paths = list(SUDO)
        self.dr_secondary_allowed: list[str] = []

        # Faults visible only to this process (latency, error bursts); partitions live in a
        # file so every process of the lab sees them.
        self.latency_ms = 0.0
        self.error_burst: dict[str, Any] = {"count": 0, "status": 503}
        self._faults_cache: tuple[int, dict[str, Any]] = (-1, {})
        self._faults_path = str(self.dir / "faults.json")  # stat()ed at every check: built once
        # The HA lock record as this node last wrote it (stored text): renewing it is one
        # conditional update while nobody else touched it (see _try_lock).
        self._lock_written: tuple[str, float] | None = None  # (stored text, its "since")

        # One generate-root style attempt per node (sys/generate-root and the DR operation
        # token share it, as in Vault); see vaultlab.model.generate_root.
        self.root_generation: dict[str, Any] | None = None

        # Attached by the process (vaultlab.replication.wiring.install): the replication model
        # and the views of it that sys/health, sys/leader, the audit gate and unwrap need.
        self.replication: Replication | None = None
        self._replication_modes: Callable[[], dict[str, str]] | None = None
        self._replication_transition: Callable[[], dict[str, Any] | None] | None = None
        self._wrapping_jwt_resolver: Callable[[str], str] | None = None

    # -- what the process attaches --------------------------------------------------------

    def attach_replication(
        self,
        replication: Replication,
        *,
        modes: Callable[[], dict[str, str]],
        transition: Callable[[], dict[str, Any] | None],
        resolve_wrapping_jwt: Callable[[str], str],
    ) -> None:
        self.replication = replication
        self._replication_modes = modes
        self._replication_transition = transition
        self._wrapping_jwt_resolver = resolve_wrapping_jwt

    def replication_modes(self) -> dict[str, str]:
        """``{"dr": mode, "performance": mode}``; both disabled without replication."""
        if self._replication_modes is None:
            return {"dr": "disabled", "performance": "disabled"}
        return self._replication_modes()

    def replication_transition(self) -> dict[str, Any] | None:
        """The reconfiguration window sys/health and sys/leader show (None: none)."""
        return self._replication_transition() if self._replication_transition is not None else None

    def resolve_wrapping_jwt(self, token: str) -> str:
        """The wrapping token id inside an activation token (unchanged without replication);
        raises ValueError with Vault's text."""
        return self._wrapping_jwt_resolver(token) if self._wrapping_jwt_resolver is not None else token

    # -- faults injected through the control API ------------------------------------------

    def set_latency(self, ms: float) -> None:
        self.latency_ms = ms

    def set_error_burst(self, count: int, status: int) -> None:
        self.error_burst = {"count": count, "status": status}

    def take_injected_error(self) -> int | None:
        """The status of the next injected error, counting it down (None: no burst)."""
        if self.error_burst.get("count", 0) <= 0:
            return None
        self.error_burst["count"] -= 1
        return int(self.error_burst.get("status", 503))

    # -- the generate-root attempt slot ----------------------------------------------------

    def open_generation(self, slot: dict[str, Any]) -> None:
        self.root_generation = slot

    def close_generation(self) -> None:
        self.root_generation = None

    # -- identity ----------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def api_addr(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.api_port}"

    @property
    def cluster_addr(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.cluster_port}"

    def timing(self, name: str, default: float | None = None) -> float:
        """Duration in seconds of a named transition under the lab's timing profile."""
        if name in self.timings:
            return float(self.timings[name])
        if default is not None:
            return float(default)
        raise KeyError(f"unknown timing {name!r}")

    def cluster_info(self) -> dict[str, Any] | None:
        return self.storage.get(CLUSTER_INFO_KEY)

    @property
    def cluster_id(self) -> str | None:
        info = self.cluster_info()
        return info["cluster_id"] if info else None

    @property
    def initialized(self) -> bool:
        return self.seal_state.config() is not None

    @property
    def sealed(self) -> bool:
        return self.seal_state.sealed

    @property
    def standby(self) -> bool:
        return not self.sealed and not self.active

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """Context for outgoing HTTPS to other lab nodes (trusts the lab CA)."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        # Present the node certificate too, so a peer may require mutual TLS.
        if self.config.get("server_cert") and self.config.get("server_key"):
            ctx.load_cert_chain(self.config["server_cert"], self.config["server_key"])
        return ctx

    def peer_headers(self) -> dict[str, str]:
        """Headers to put on node-to-node requests so partitions can be enforced."""
        return {"X-Vaultlab-From-Cluster": self.cluster_name}

    # -- path classes (the replication package extends these) ---------------------------

    def add_unauthenticated(self, pattern: str) -> None:
        self.unauthenticated.append(pattern)

    def add_standby_local(self, pattern: str) -> None:
        self.standby_local.append(pattern)

    def add_sealed_allowed(self, pattern: str) -> None:
        self.sealed_allowed.append(pattern)

    def add_sudo(self, pattern: str) -> None:
        self.sudo_paths.append(pattern)

    def add_dr_secondary_allowed(self, pattern: str) -> None:
        """A path a DR secondary serves besides the gate's own list (it checks its own auth)."""
        self.dr_secondary_allowed.append(pattern)

    def is_unauthenticated(self, path: str) -> bool:
        return _match(self.unauthenticated, path)

    def is_standby_local(self, path: str) -> bool:
        return _match(self.standby_local, path)

    def is_sealed_allowed(self, path: str) -> bool:
        return _match(self.sealed_allowed, path)

    def needs_sudo(self, path: str) -> bool:
        return _match(self.sudo_paths, path)

    def is_dr_secondary_allowed(self, path: str) -> bool:
        return _match(self.dr_secondary_allowed, path)

    # -- callbacks ---------------------------------------------------------------------

    def on_active(self, cb: Callable[[], Any]) -> None:
        """Call ``cb()`` (sync or async) each time this node becomes the active node."""
        self._on_active.append(cb)

    def on_standby(self, cb: Callable[[], Any]) -> None:
        """Call ``cb()`` each time this node stops being active (standby, sealed)."""
        self._on_standby.append(cb)

    def on_seal(self, cb: Callable[[], Any]) -> None:
        self._on_seal.append(cb)

    def _fire(self, callbacks: list[Callable[[], Any]]) -> None:
        for cb in list(callbacks):
            try:
                result = cb()
            except Exception:  # a faulty callback must not take the node down
                log.exception("callback %r failed", cb)
                continue
            if inspect.isawaitable(result):
                self.spawn(result)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run a coroutine in the background, logging (not raising) its failure."""
        import asyncio

        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed: %r", t.exception())

        task.add_done_callback(done)
        return task

    # -- init / seal / unseal ----------------------------------------------------------

    def seal_config(self) -> dict[str, Any] | None:
        return self.seal_state.config()

    def initialize(self, shares: int, threshold: int) -> dict[str, Any]:
        """Create the root key, split it, store the seal config and the root token."""
        if self.initialized:
            raise ValueError(messages.ALREADY_INITIALIZED)
        config, keys = new_seal(shares, threshold)
        with self.storage.transaction():
            self.seal_state.store_new(config)
            if self.storage.get(CLUSTER_INFO_KEY) is None:
                self.storage.put(
                    CLUSTER_INFO_KEY,
                    {"cluster_id": str(uuid.uuid4()), "cluster_name": f"vault-cluster-{self.cluster_name}"},
                    scope="node",
                )
            self.tokens.put_policy("default", acl.DEFAULT_POLICY_TEXT)
            self.tokens.batch_key(create=True)  # so that no later batch token mint writes
            root = self.tokens.create_token(policies=["root"], display_name="root", orphan=True, ttl=0,
                                            path="auth/token/root")
        return {
            "keys": [k.hex() for k in keys],
            "keys_base64": [base64.b64encode(k).decode() for k in keys],
            "root_token": root["client_token"],
        }

    def seal_status(self) -> dict[str, Any]:
        config = self.seal_config()
        info = self.cluster_info() or {}
        body: dict[str, Any] = {
            "type": "shamir",
            "initialized": config is not None,
            "sealed": self.sealed,
            "t": config["secret_threshold"] if config else 0,
            "n": config["secret_shares"] if config else 0,
            "progress": self.seal_state.progress,
            "nonce": self.seal_state.nonce,
            "version": self.version,
            "build_date": "2025-01-01T00:00:00Z",
            "migration": False,
            "recovery_seal": False,
            "storage_type": "raft",
        }
        if not self.sealed and info:
            body["cluster_name"] = info["cluster_name"]
            body["cluster_id"] = info["cluster_id"]
        return body

    def verify_key_shares(self, shares: list[bytes], config: dict[str, Any] | None = None) -> bytes:
        """Combine shares and check them against the seal config; return the root key."""
        return self.seal_state.verify(shares, config)

    def submit_unseal_key(self, share: bytes) -> None:
        """One ``sys/unseal`` key; unseals the node once the threshold is reached."""
        if self.seal_state.submit(share):
            log.info("unsealed")
            self.wake()

    def reset_unseal(self) -> None:
        self.seal_state.reset_progress()

    def seal(self) -> None:
        """Seal this node: forget the root key, give up leadership."""
        if self.sealed:
            return
        was_active = self.active
        self.seal_state.close()
        self.root_generation = None
        if was_active:
            self._release_lock()
            self._become_standby()
        self._leader = None
        self._leader_renewed = None
        log.info("sealed")
        self._fire(self._on_seal)

    def replace_seal_config(self, config: dict[str, Any], root_key: bytes | None = None) -> None:
        """Adopt another cluster's seal config (secondary activation).

        The calling (active) node stays unsealed; every other node of the cluster notices
        the new generation when it next polls storage and seals itself, so it must be
        unsealed with the other cluster's keys, as with Vault.
        """
        self.seal_state.adopt(config, root_key)

    def _check_seal_generation(self) -> None:
        if self.seal_state.generation_changed():
            log.info("seal configuration changed by another node; sealing")
            self.seal()

    # -- HA election -------------------------------------------------------------------

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def leader(self) -> dict[str, Any] | None:
        """The current lock holder as seen by this node: {node, api_addr, cluster_addr, since}."""
        if self.active:
            return {"node": self.name, "api_addr": self.api_addr, "cluster_addr": self.cluster_addr,
                    "since": self.active_since}
        return self._leader

    def read_lock(self) -> dict[str, Any] | None:
        lock = self.storage.get(HA_LOCK_KEY)
        if lock and lock.get("expires", 0) > time.time():
            return lock
        return None

    def _lock_record(self, now: float, since: float) -> dict[str, Any]:
        return {"node": self.name, "api_addr": self.api_addr, "cluster_addr": self.cluster_addr,
                "expires": now + self.timing("ha_lease_ttl"), "since": since, "renewed": now}

    def _try_lock(self) -> bool:
        now = time.time()
        if self.active and self._lock_written is not None:
            # The common case, every ha_renew_interval: the stored lock is still exactly what
            # this node wrote last (so still its own), renewed in one conditional update. If
            # anything else wrote it meanwhile, the full check below decides.
            text, since = self._lock_written
            written = self.storage.put_if_unchanged(HA_LOCK_KEY, text, self._lock_record(now, since))
            if written is not None:
                self._lock_written = (written, since)
                return True
        self._lock_written = None
        if not self.active:
            # Cheap read first: standbys poll often and must not take the write lock each time.
            current = self.storage.get(HA_LOCK_KEY)
            if current and current.get("node") != self.name and current.get("expires", 0) > now:
                self._follow(current)
                return False
        with self.storage.transaction():
            lock = self.storage.get(HA_LOCK_KEY)
            mine = lock is not None and lock.get("node") == self.name
            if lock and not mine and lock.get("expires", 0) > now:
                self._follow(lock)
                return False
            since = lock["since"] if mine and self.active else now
            record = self._lock_record(now, since)
            self.storage.put(HA_LOCK_KEY, record, scope="node")
        self._lock_written = (encode_value(record), since)
        return True

    def _follow(self, lock: dict[str, Any]) -> None:
        """Another node holds the lease: remember it and when it last renewed."""
        self._leader = {k: lock.get(k) for k in ("node", "api_addr", "cluster_addr", "since")}
        renewed = lock.get("renewed", lock.get("expires", 0) - self.timing("ha_lease_ttl"))
        if self._leader_renewed is None or renewed > self._leader_renewed:
            self._leader_renewed = renewed

    def ha_heartbeat_age(self) -> float | None:
        """Seconds since this standby last saw the active node alive (None: active, sealed or
        no active node seen since it unsealed)."""
        if self.active or self.sealed or self._leader_renewed is None:
            return None
        return max(time.time() - self._leader_renewed, 0.0)

    def ha_unhealthy(self) -> bool:
        """A standby whose active node stopped renewing its lease for longer than timing
        ``ha_heartbeat_stale_after`` (default ``max(3 × ha_renew_interval, 1 s)``)."""
        age = self.ha_heartbeat_age()
        if age is None:
            return False
        return age > self._ha_stale_after()

    def _ha_stale_after(self) -> float:
        default = max(3 * self.timing("ha_renew_interval"), 1.0)
        return self.timing("ha_heartbeat_stale_after", default)

    def _alone(self) -> bool:
        """No other node of this cluster exists: the lab's config.json lists this node alone.

        The supervisor writes the config before it starts a node, so a node added to a running
        cluster (``vaultlab up --cluster NAME:3``) is listed before it can compete for the lock.
        The file is stat()ed at each call and re-read when it changed.
        """
        if not self._config_file:
            return False
        path = self.dir / "config.json"
        try:
            info = os.stat(path)
        except OSError:
            return False
        identity = (info.st_ino, info.st_mtime_ns, info.st_size)
        if identity != self._alone_cache[0]:
            try:
                with open(path, encoding="utf-8") as handle:
                    nodes = (json.loads(handle.read()).get("clusters") or {}).get(self.cluster_name)
            except (OSError, ValueError, AttributeError):
                nodes = None
            self._alone_cache = (identity, nodes == [self.name])
        return self._alone_cache[1]

    def ha_interval(self) -> float:
        """Seconds until the next round of the election loop.

        An active node renews its lease every ``ha_renew_interval``, a standby looks at it every
        ``ha_poll_interval``. An active node with no other node in its cluster has nobody to
        hold the lease against: it renews less often, while the lease still has half of its
        life (``ha_lease_ttl``) left, and fresher than half of ``ha_heartbeat_stale_after``, so
        a node added to the cluster meanwhile still finds it held and healthy.
        """
        if not self.active:
            return self.timing("ha_poll_interval")
        renew = self.timing("ha_renew_interval")
        if not self._alone():
            return renew
        return max(renew, min(self.timing("ha_lease_ttl"), self._ha_stale_after()) / 2)

    @property
    def performance_standby(self) -> bool:
        """Switch ``performance_standbys``: unsealed standbys act as performance standbys for
        sys/health and sys/leader (not on a DR secondary, where Vault runs none)."""
        if not self.standby or not self.switches.get("performance_standbys", False):
            return False
        modes = self._modes_or_unknown()
        return modes.get("dr") not in ("secondary", "bootstrapping")

    def _release_lock(self) -> None:
        try:
            with self.storage.transaction():
                lock = self.storage.get(HA_LOCK_KEY)
                if lock and lock.get("node") == self.name:
                    lock["expires"] = 0
                    self.storage.put(HA_LOCK_KEY, lock, scope="node")
        except Exception:
            log.exception("could not release the HA lock")

    def _become_active(self) -> None:
        self.active = True
        self.active_since = time.time()
        self._leader = None
        self._leader_renewed = None
        log.info("became active")
        self._fire(self._on_active)

    def _become_standby(self) -> None:
        if self.active:
            self.active = False
            self.active_since = None
            self.root_generation = None
            log.info("stepped down")
            self._fire(self._on_standby)

    def ha_tick(self) -> None:
        """One round of the election loop (also used by tests)."""
        self._check_seal_generation()
        if self.sealed:
            self._leader = None
            return
        if not self.active and time.time() < self._no_lock_until:
            self._leader = self._lock_holder()
            return
        try:
            got = self._try_lock()
        except Exception:
            log.exception("HA lock update failed")
            got = False
        if got and not self.active:
            self._become_active()
        elif not got and self.active:
            self._become_standby()

    async def run_ha(self) -> None:
        import asyncio

        self._wakeup = asyncio.Event()
        while True:
            self.ha_tick()
            interval = self.ha_interval()
            try:
                # On the process's tick grid: the held WAL polls of the same cadence wake with it.
                await asyncio.wait_for(self._wakeup.wait(), timeout=ticks.until_next_tick(interval))
            except asyncio.TimeoutError:
                pass
            self._wakeup.clear()

    def _lock_holder(self) -> dict[str, Any] | None:
        lock = self.read_lock()
        if lock is None or lock.get("node") == self.name:
            return None
        self._follow(lock)
        return self._leader

    def step_down(self) -> None:
        """Give up leadership and stay out of the election for a while (as Vault does)."""
        if self.active:
            self._no_lock_until = time.time() + self.timing("step_down_backoff", 0.5)
            self._release_lock()
            self._become_standby()

    def shutdown(self) -> None:
        if self.active:
            self._release_lock()
        for task in list(self._tasks):
            task.cancel()

    # -- faults ------------------------------------------------------------------------

    def faults(self) -> dict[str, Any]:
        """The lab-wide fault file (partitions), re-read when it changes."""
        path = self._faults_path
        try:
            mtime = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return {}
        if mtime != self._faults_cache[0]:
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.loads(handle.read())
            except (OSError, ValueError):
                data = {}
            self._faults_cache = (mtime, data)
        return self._faults_cache[1]

    def partitioned(self, peer: str | None, kind: str) -> bool:
        """Whether traffic of ``kind`` ("replication" or "client") to/from ``peer`` is cut.

        ``peer=None`` asks whether this cluster is isolated from everyone for that kind.
        """
        for part in self.faults().get("partitions", []):
            if part.get("kind") not in (kind, "both"):
                continue
            members = part.get("clusters") or []
            if self.cluster_name not in members:
                continue
            others = [c for c in members if c != self.cluster_name]
            if not others:  # a one-cluster partition isolates it from everything
                return True
            if peer is not None and peer in others:
                return True
        return False

    def state(self) -> dict[str, Any]:
        """Control-API snapshot (no secrets)."""
        config = self.seal_config()
        return {
            "cluster": self.cluster_name,
            "node": self.name,
            "pid": os.getpid(),
            # Relative audit file paths resolve here (one directory per node).
            "data_dir": str(self.dir / "clusters" / self.cluster_name / "nodes" / self.name),
            "api_addr": self.api_addr,
            "cluster_addr": self.cluster_addr,
            "initialized": config is not None,
            "sealed": self.sealed,
            "active": self.active,
            "leader": self.leader(),
            "seal_fingerprint": config["root_key_hash"][:16] if config else None,
            "latency_ms": self.latency_ms,
            "error_burst": dict(self.error_burst),
            "profile": self.config.get("profile", "fast"),
            "vault_version": self.version,
            "last_wal": self.storage.last_wal(),
            "replication": self._modes_or_unknown(),
        }

    def _modes_or_unknown(self) -> dict[str, str]:
        if self.sealed:
            return {"dr": "unknown", "performance": "unknown"}
        try:
            return self.replication_modes()
        except Exception:
            return {"dr": "unknown", "performance": "unknown"}


def load_lab_config(lab_dir: Path) -> dict[str, Any]:
    """The lab-wide settings written by the supervisor before it spawns nodes."""
    path = Path(lab_dir) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"profile": "fast", "timing": {}, "tls": False}
