# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed view of the replication status objects, and the predicates the modules decide on."""

from __future__ import annotations

from ansible_collections.vaultops.replication.plugins.module_utils import _api

ROLES = ("disabled", "primary", "secondary", "bootstrapping")

# Field name -> default when Vault leaves it out (older versions, disabled types, bootstrap).
_SCALAR_FIELDS = (
    "mode", "cluster_id", "merkle_root", "last_reindex_epoch", "corrupted_merkle_tree",
    "last_corruption_check_epoch", "ssct_generation_counter", "primary_cluster_addr", "state",
    "last_wal", "last_dr_wal", "last_performance_wal", "connection_state", "secondary_id",
    "last_remote_wal", "last_start", "merkle_sync_progress",
)
_LIST_FIELDS = ("known_secondaries", "secondaries", "known_primary_cluster_addrs", "primaries")
_INT_FIELDS = ("last_wal", "last_dr_wal", "last_performance_wal", "last_remote_wal", "ssct_generation_counter")


def _as_int(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ReplicationStatus:
    """One replication type (``dr`` or ``performance``) of one cluster, as Vault reports it."""

    def __init__(self, rtype, raw):
        self.rtype = rtype
        self.raw = dict(raw or {})
        for name in _SCALAR_FIELDS:
            value = self.raw.get(name)
            if name in _INT_FIELDS:
                value = _as_int(value)
            setattr(self, name, value)
        for name in _LIST_FIELDS:
            value = self.raw.get(name)
            setattr(self, name, list(value) if isinstance(value, (list, tuple)) else [])
        if not self.mode:
            self.mode = "disabled"

    @classmethod
    def from_api(cls, rtype, data):
        if rtype not in _api.RTYPES:
            raise ValueError("replication type must be dr or performance, got %r" % (rtype,))
        return cls(rtype, data)

    @property
    def role(self):
        return self.mode if self.mode in ROLES else "unknown"

    @property
    def is_disabled(self):
        return self.role == "disabled"

    @property
    def is_primary(self):
        return self.role == "primary"

    @property
    def is_secondary(self):
        return self.role == "secondary"

    @property
    def is_bootstrapping(self):
        return self.role == "bootstrapping"

    @property
    def last_shipped_wal(self):
        """On a primary: the last WAL shipped for this type (falls back to last_wal)."""
        own = self.last_dr_wal if self.rtype == "dr" else self.last_performance_wal
        return own if own is not None else self.last_wal

    @property
    def is_connected(self):
        """Secondary: its channel to the primary is up. Primary: at least one secondary is connected."""
        if self.is_secondary:
            if self.connection_state == "ready":
                return True
            return any(_connected(p) for p in self.primaries)
        if self.is_primary:
            return any(_connected(s) for s in self.secondaries)
        return False

    @property
    def is_streaming(self):
        """Secondary in the normal replicating state: WALs streaming over a live connection."""
        return self.is_secondary and self.state == "stream-wals" and self.is_connected

    def secondary_connected(self, secondary_id):
        """Primary view: the secondary with this id is currently connected."""
        if not self.is_primary:
            return False
        return any(s.get("node_id") == secondary_id and _connected(s) for s in self.secondaries
                   if isinstance(s, dict))

    def knows_secondary(self, secondary_id):
        return self.is_primary and secondary_id in self.known_secondaries

    def caught_up_with(self, primary_status, filtered=False):
        """This secondary has received everything the given primary status had shipped.

        ``filtered``: a performance secondary that receives the primary's data through a paths
        filter holds, and hashes, only the mounts the filter lets through, so its merkle root never
        equals the primary's; then the WAL position alone says it is caught up."""
        if not self.is_secondary or primary_status is None or not primary_status.is_primary:
            return False
        if not self.cluster_id or self.cluster_id != primary_status.cluster_id:
            return False
        wanted = primary_status.last_shipped_wal
        if self.last_remote_wal is None or wanted is None or self.last_remote_wal < wanted:
            return False
        if filtered and self.rtype == "performance":
            return True
        return bool(self.merkle_root) and self.merkle_root == primary_status.merkle_root

    def as_dict(self):
        """Normalised snapshot for module output (every field present, ``role`` added)."""
        out = {"role": self.role}
        for name in _SCALAR_FIELDS + _LIST_FIELDS:
            out[name] = getattr(self, name)
        return out

    def __repr__(self):
        return "ReplicationStatus(%s, mode=%s, state=%s)" % (self.rtype, self.mode, self.state)


def _connected(entry):
    return isinstance(entry, dict) and entry.get("connection_status") == "connected"


class ClusterStatus:
    """Both replication types plus sys/health of one cluster."""

    def __init__(self, dr, performance, health=None, health_code=None):
        self.dr = dr
        self.performance = performance
        self.health = dict(health or {})
        self.health_code = health_code

    def of(self, rtype):
        if rtype == "dr":
            return self.dr
        if rtype == "performance":
            return self.performance
        raise ValueError("replication type must be dr or performance, got %r" % (rtype,))

    @property
    def roles(self):
        """``{"dr": role, "performance": role}`` as used in module diffs."""
        return {"dr": self.dr.role, "performance": self.performance.role}

    @property
    def cluster(self):
        return {"name": self.health.get("cluster_name"), "id": self.health.get("cluster_id"),
                "version": self.health.get("version")}

    @property
    def sealed(self):
        return bool(self.health.get("sealed"))

    def as_dict(self):
        return {"dr": self.dr.as_dict(), "performance": self.performance.as_dict(),
                "health": dict(self.health, status_code=self.health_code), "cluster": self.cluster}


# Named states of a sys/health answer (default query), in the reference's precedence (§6.1).
HEALTH_STATES = ("uninitialized", "removed", "sealed", "ha_unhealthy", "dr_secondary", "perfstandby", "standby",
                 "unavailable", "active")


def health_state(code, body):
    """What one sys/health answer (``_api.health``) says about the node behind it, as one of
    HEALTH_STATES, first match wins as in Vault: ``uninitialized`` (501, or ``initialized:
    false``), ``removed`` (530, a raft node removed from its cluster), ``sealed`` (``sealed:
    true``), ``ha_unhealthy`` (474, a standby whose link to the active node is
    unhealthy), ``dr_secondary`` (472, any node of a DR secondary), ``perfstandby`` (473),
    ``standby`` (429, or ``standby: true``), ``unavailable`` (another 5xx) or ``active``. The
    one place that reads seal and standby state from the health answer."""
    body = body if isinstance(body, dict) else {}
    if code == 501 or body.get("initialized") is False:
        return "uninitialized"
    if code == 530:
        return "removed"
    if body.get("sealed"):
        return "sealed"
    if code == 474:
        return "ha_unhealthy"
    if code == 472 or (code is None and body.get("replication_dr_mode") == "secondary"):
        return "dr_secondary"
    if code == 473 or body.get("performance_standby"):
        return "perfstandby"
    if code == 429 or body.get("standby"):
        return "standby"
    if isinstance(code, int) and code >= 500:
        return "unavailable"
    return "active"


def read_replication_statuses(c):
    """Both types from sys/replication/status, as ``{"dr": ReplicationStatus, "performance": ...}``.

    A type Vault leaves out of the answer reads as disabled. Raises VaultError like ``_api``.
    """
    raw = _api.replication_status(c) or {}
    return dict((t, ReplicationStatus.from_api(t, raw.get(t) or {})) for t in _api.RTYPES)


def read_type_status(c, rtype, retry_on_status=True):
    """One type from sys/replication/<rtype>/status. ``retry_on_status=False`` for polls that
    expect transient 5xx answers and handle them themselves (see ``_waiter``)."""
    return ReplicationStatus.from_api(rtype, _api.replication_type_status(c, rtype, retry_on_status=retry_on_status)
                                      or {})


def roles_of(statuses):
    """``{"dr": role, "performance": role}`` of a ``read_replication_statuses`` result, as used in
    module diffs."""
    return dict((t, statuses[t].role) for t in _api.RTYPES)


def read_cluster_status(c):
    """Read sys/health and sys/replication/status of the cluster behind client ``c``."""
    code, body = _api.health(c)
    both = _api.replication_status(c)
    return ClusterStatus(ReplicationStatus.from_api("dr", both["dr"]),
                         ReplicationStatus.from_api("performance", both["performance"]),
                         health=body, health_code=code)


# ---------------------------------------------------------------------------------------------
# Serving in a role: what a cluster answers once Vault's "brief period of unavailability" after
# enable, demote, promote, update-primary or disable is over. During that window the status
# endpoints already report the new mode, so the mode alone proves nothing; each predicate below
# returns why the cluster does not serve yet (a short phrase for messages), or None. They are
# applied in order by ``_waiter.wait_serving``.

# sys/health answered as a standby: serving only if sys/leader names another node as active
# (the URL points at a standby of a serving cluster), see ``leader_problem``.
HEALTH_STANDBY = "standby"


def serving_health_code(rtype, role):
    """The sys/health code of a node serving in ``role`` of ``rtype`` (default query): 472 for a DR
    secondary, 200 otherwise."""
    return 472 if rtype == "dr" and role == "secondary" else 200


def role_problem(status, role, streaming=False):
    """``status`` (ReplicationStatus of the type changed) does not show ``role`` settled yet.

    A primary must report ``state: running`` (Vault's own "OK" for a primary; it reports another
    state while it reconfigures; a missing state is accepted for versions that leave it out). With
    ``streaming`` a secondary must stream WALs over a live connection (after activation or
    update-primary); a demoted primary has no primary to stream from yet, so it is not asked to.
    """
    if status is None:
        return "no replication status"
    if status.role != role:
        return "%s replication reports mode %r, not %r" % (status.rtype, status.mode, role)
    if role == "primary" and status.state not in (None, "", "running"):
        return "the %s primary reports state %r, not 'running'" % (status.rtype, status.state)
    if role == "secondary" and streaming and not status.is_streaming:
        return "the %s secondary does not stream yet (state %r, connection_state %r)" % (
            status.rtype, status.state, status.connection_state)
    return None


def health_problem(rtype, role, code, body):
    """sys/health (default query) does not show a node serving in ``role``; HEALTH_STANDBY when
    it answers as a standby (429/473), which ``leader_problem`` settles."""
    body = body if isinstance(body, dict) else {}
    state = health_state(code, body)
    if state in ("uninitialized", "sealed"):
        return "sys/health reports the node %s" % state
    mode = body.get("replication_%s_mode" % rtype)
    if mode is not None and mode != role:
        return "sys/health reports replication_%s_mode %r" % (rtype, mode)
    wanted = serving_health_code(rtype, role)
    if code == wanted:
        return None
    if wanted == 200 and state in ("standby", "perfstandby"):
        return HEALTH_STANDBY
    return "sys/health answered %s, not %d" % (code, wanted)


def leader_problem(leader, health_standby=False):
    """sys/leader does not name an active node (Vault names none while it reconfigures), or the
    node answered sys/health as a standby while claiming to be the active node itself."""
    if not isinstance(leader, dict):
        return "sys/leader gave no answer"
    if leader.get("ha_enabled") is False:
        return "sys/health answers as a standby without HA" if health_standby else None
    if not leader.get("leader_address"):
        return "sys/leader names no active node"
    if health_standby and leader.get("is_self"):
        return "sys/health answers as a standby on the node sys/leader names active"
    return None


# The answer a DR secondary gives to every client request: proof that it serves as one.
DR_SECONDARY_REFUSAL = "disabled in replication DR secondary mode"


def request_problem(rtype, role, error):
    """A real client request (auth/token/lookup-self) was not served. ``error`` is None (answered
    200) or the VaultError it raised. A refused token (403) is an answer too: only a serving node
    gets as far as checking it; so is a DR secondary's refusal of client requests when the cluster
    is to be one."""
    if error is None:
        return None
    status = getattr(error, "status", None)
    if status == 403:
        return None
    errors = getattr(error, "errors", None) or []
    if status == 400 and rtype == "dr" and role == "secondary" and any(DR_SECONDARY_REFUSAL in e for e in errors):
        return None
    if status is None:
        return "auth/token/lookup-self got no answer (%s)" % (getattr(error, "message", None) or error)
    return "auth/token/lookup-self answered HTTP %s%s" % (status, ": %s" % "; ".join(errors) if errors else "")
