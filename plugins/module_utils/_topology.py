# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Observe several clusters at once and work out how they relate.

Plain functions over VaultClient (no AnsibleModule): every cluster is read concurrently
(sys/health plus sys/replication/status), then the relations between them (which secondary
follows which primary, whether it is connected and streaming, how far behind it is) are
computed here once, instead of in Jinja in every role.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _guard_rails
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultError
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus, health_state

TYPES = ("dr", "performance")


def normalise_url(url):
    """``https://Host:8200/`` -> ``https://host:8200`` (for comparing addresses)."""
    url = (url or "").strip().rstrip("/")
    if "://" in url:
        scheme, rest = url.split("://", 1)
        host, sep, path = rest.partition("/")
        return "%s://%s%s%s" % (scheme.lower(), host.lower(), sep, path)
    return url.lower()


def _error_text(exc):
    return getattr(exc, "message", None) or str(exc)


def observe_cluster(name, client, filters=None):
    """What one cluster reports now, as a plain dict. Never raises for Vault or transport errors:
    an unreachable or sealed cluster is reported as such (``reachable``, ``sealed``, ``error``)."""
    started = time.time()
    out = {"name": name, "url": client.url, "reachable": False, "sealed": None, "initialized": None,
           "standby": None, "version": None, "health_code": None, "health_state": None, "error": "",
           "dr": {"role": "unknown"}, "performance": {"role": "unknown"}}
    try:
        code, health = _api.health(client)
    except VaultError as exc:
        out["error"] = _error_text(exc)
        out["observed_at"] = started
        return out
    health = health or {}
    out.update(health_code=code, health_state=health_state(code, health), sealed=health.get("sealed"),
               initialized=health.get("initialized"), standby=health.get("standby"), version=health.get("version"))
    if code == 501 or health.get("initialized") is False:
        out["error"] = "not initialised"
    elif health.get("sealed"):
        out["error"] = "sealed"
    else:
        try:
            raw = _api.replication_status(client) or {}
        except VaultError as exc:
            out["error"] = _error_text(exc)
        else:
            out["reachable"] = True
            for rtype in TYPES:
                out[rtype] = ReplicationStatus.from_api(rtype, raw.get(rtype) or {}).as_dict()
            out["paths_filters"] = _paths_filters(client, out["performance"], filters)
    out["observed_at"] = started
    return out


def _paths_filters(client, performance, cache=None):
    """``{secondary id: filter or None}`` for the known secondaries of a performance primary whose
    filter could be read (a token without access to them leaves them out: unknown). ``cache``
    (``{(primary url, id): filter}``) keeps what was read for the polls of one run: a wait does not
    change filters, so each one is read once, not once per poll."""
    found = {}
    if performance.get("role") != "primary":
        return found
    for sid in performance.get("known_secondaries") or []:
        key = (client.url, sid)
        if cache is not None and key in cache:
            found[sid] = cache[key]
            continue
        try:
            found[sid] = _api.read_paths_filter(client, sid)
        except VaultError:
            continue
        if cache is not None:
            cache[key] = found[sid]
    return found


def observe(clients, filters=None):
    """``{name: observe_cluster(...)}`` for ``clients`` (``{name: VaultClient}``), read concurrently:
    N clusters cost about as much as the slowest one."""
    results = {}
    lock = threading.Lock()

    def work(name, client):
        value = observe_cluster(name, client, filters)
        with lock:
            results[name] = value

    threads = [threading.Thread(target=work, args=(n, c), name="observe-%s" % n) for n, c in clients.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict((name, results[name]) for name in clients)


def _wal_of_primary(status, rtype):
    own = status.get("last_dr_wal") if rtype == "dr" else status.get("last_performance_wal")
    return own if own is not None else status.get("last_wal")


def _primary_of(name, observed, rtype, addresses):
    """Name of the declared cluster that the secondary ``name`` follows for ``rtype``, or None.

    Matched by the API address the secondary lists for its primary; failing that, the one
    reachable primary of the same replication set (cluster_id)."""
    sec = observed[name][rtype]
    for entry in sec.get("primaries") or []:
        if not isinstance(entry, dict):
            continue
        addr = normalise_url(entry.get("api_address"))
        if addr and addr in addresses and addresses[addr] != name:
            return addresses[addr]
    same_set = [n for n, o in observed.items()
                if n != name and o["reachable"] and o[rtype].get("role") == "primary"
                and sec.get("cluster_id") and o[rtype].get("cluster_id") == sec.get("cluster_id")]
    return same_set[0] if len(same_set) == 1 else None


def relations(observed, node_urls=None):
    """How the observed clusters relate: one entry per (secondary, type), for every reachable secondary.

    ``node_urls``: optional ``{name: [node API addresses]}`` so that a secondary listing a standby
    node's address is matched to its cluster. Each entry: secondary, type, primary (declared name or
    None), same_set, attached (listed by that primary), connected, streaming, state, connection_state,
    last_remote_wal, primary_last_wal, lag (WAL entries, None when unknown), filtered (the primary
    applies a paths filter to it; None when the filter could not be read), merkle_equal (None for a
    filtered secondary: its root covers only what the filter lets through).
    """
    addresses = {}
    for name, o in observed.items():
        addresses[normalise_url(o.get("url"))] = name
        for url in (node_urls or {}).get(name) or []:
            addresses.setdefault(normalise_url(url), name)
    out = []
    for name in observed:
        o = observed[name]
        if not o["reachable"]:
            continue
        for rtype in TYPES:
            sec = o[rtype]
            if sec.get("role") not in ("secondary", "bootstrapping"):
                continue
            status = ReplicationStatus.from_api(rtype, sec)
            primary = _primary_of(name, observed, rtype, addresses)
            prim = observed[primary][rtype] if primary else {}
            same_set = bool(primary) and bool(sec.get("cluster_id")) and prim.get("cluster_id") == sec.get("cluster_id")
            listed = [s for s in prim.get("secondaries") or [] if isinstance(s, dict)
                      and s.get("node_id") == sec.get("secondary_id")]
            primary_wal = _wal_of_primary(prim, rtype) if prim.get("role") == "primary" else None
            # A performance secondary under a paths filter holds (and hashes) only the mounts the
            # filter lets through: its merkle root never equals the primary's, which says nothing.
            filtered = False
            if rtype == "performance" and prim.get("role") == "primary":
                filters = observed[primary].get("paths_filters") or {}
                sid = sec.get("secondary_id")
                filtered = bool(filters[sid]) if sid in filters else None
            remote = sec.get("last_remote_wal")
            lag = None
            if primary_wal is not None and remote is not None:
                lag = max(0, int(primary_wal) - int(remote))
            out.append({
                "secondary": name, "type": rtype, "primary": primary, "same_set": same_set,
                "attached": bool(listed) or (same_set and sec.get("secondary_id") in (prim.get("known_secondaries") or [])),
                "connected": status.is_connected, "streaming": status.is_streaming,
                "state": sec.get("state"), "connection_state": sec.get("connection_state"),
                "last_remote_wal": remote, "primary_last_wal": primary_wal, "lag": lag,
                "filtered": filtered,
                "merkle_equal": None if filtered else (
                    bool(sec.get("merkle_root")) and sec.get("merkle_root") == prim.get("merkle_root")),
            })
    return out


def primaries(observed, rtype, members=None):
    """Names of the reachable clusters (of ``members`` when given) that claim the primary role for ``rtype``."""
    return [n for n, o in observed.items()
            if (members is None or n in members) and o["reachable"] and o[rtype].get("role") == "primary"]


def add_inspection(observed, inspections):
    """Merge what ``_guard_rails.inspect_all`` read (local mounts, audit devices, own token) into
    ``observed``; a cluster missing from ``inspections`` is reported as not inspected."""
    for name, o in observed.items():
        o.update(inspections.get(name) or _guard_rails.empty_inspection("not inspected"))
    return observed


def summary(observed, node_urls=None, declared=None):
    """Everything a role needs in one dict: clusters, relations, dr_primaries, performance_primaries,
    and the guard-rail warnings (``cluster_warnings``, also each cluster's ``warnings``), computed from
    the inspected facts (``add_inspection``) and ``declared`` ({name: primary|dr-secondary|perf-secondary})."""
    links = relations(observed, node_urls)
    by_cluster = _guard_rails.warnings(observed, links, declared)
    for name, o in observed.items():
        o["warnings"] = by_cluster.get(name, [])
    return {
        "clusters": observed,
        "relations": links,
        "dr_primaries": primaries(observed, "dr"),
        "performance_primaries": primaries(observed, "performance"),
        "cluster_warnings": _guard_rails.flatten(by_cluster),
    }


def _listed_connected(primary_status, name):
    return any(isinstance(s, dict) and s.get("node_id") == name and s.get("connection_status") == "connected"
               for s in primary_status.get("secondaries") or [])


def _secondary_problems(observed, name, primary, rtype, label):
    """What keeps ``name`` from being a streaming, connected ``rtype`` secondary of ``primary``."""
    o = observed[name]
    if not o["reachable"]:
        return ["%s is unreachable: %s" % (name, o["error"] or "no answer")]
    sec = o[rtype]
    if sec.get("role") != "secondary":
        return ["%s should be a %s secondary but reports %s role %s" % (name, label, label, sec.get("role"))]
    out = []
    p = observed[primary] if primary in observed else {"reachable": False}
    prim = p[rtype] if p["reachable"] else {}
    if p["reachable"] and sec.get("cluster_id") != prim.get("cluster_id"):
        out.append("%s belongs to %s replication set %s, not %s" % (name, label, sec.get("cluster_id"),
                                                                    prim.get("cluster_id")))
    if sec.get("state") != "stream-wals":
        out.append("%s %s state is %s, not stream-wals" % (name, label, sec.get("state")))
    if sec.get("connection_state") not in ("ready", None):
        out.append("%s %s connection_state is %s" % (name, label, sec.get("connection_state")))
    if p["reachable"] and prim.get("role") == "primary" and not _listed_connected(prim, name):
        out.append("%s does not list %s as a connected %s secondary" % (primary, name, label))
    return out


def expectation_problems(observed, dr_primary, dr_secondaries=(), performance_secondaries=(), dr_members=None):
    """Everything that differs from the expected topology, as sentences (empty list: as expected).

    ``dr_primary`` must be the only DR primary (of ``dr_members`` when given) and, when performance
    secondaries are expected, the performance primary; every DR secondary and performance
    secondary must stream from it over a live connection and be listed by it as connected.
    """
    out = []
    p = observed.get(dr_primary)
    if p is None:
        return ["%s is not one of the observed clusters" % dr_primary]
    if not p["reachable"]:
        out.append("%s is unreachable: %s" % (dr_primary, p["error"] or "no answer"))
    elif p["dr"].get("role") != "primary":
        out.append("%s should be the DR primary but reports DR role %s" % (dr_primary, p["dr"].get("role")))
    members = dr_members if dr_members is not None else [dr_primary] + list(dr_secondaries)
    for name in primaries(observed, "dr", members):
        if name != dr_primary:
            out.append("%s also claims the DR primary role (two primaries in one replication set)" % name)
    for name in dr_secondaries:
        out.extend(_secondary_problems(observed, name, dr_primary, "dr", "DR"))
    if performance_secondaries:
        if p["reachable"] and p["performance"].get("role") != "primary":
            out.append("%s should be the performance primary but reports role %s"
                       % (dr_primary, p["performance"].get("role")))
        for name in primaries(observed, "performance"):
            if name != dr_primary:
                out.append("%s also claims the performance primary role" % name)
        for name in performance_secondaries:
            out.extend(_secondary_problems(observed, name, dr_primary, "performance", "performance"))
    return out


def _paths(entries):
    return None if entries is None else [e["path"] for e in entries]


def rows(observed, declared=None):
    """One flat row per cluster (no secrets) for tables and reports; ``declared`` optionally maps a
    cluster name to how the inventory declares it (primary, dr-secondary, perf-secondary)."""
    out = []
    for name, o in observed.items():
        dr, perf = o["dr"], o["performance"]
        out.append({
            "cluster": name,
            "declared": (declared or {}).get(name),
            "reachable": o["reachable"],
            "sealed": o["sealed"],
            "version": o["version"],
            "dr_role": dr.get("role"),
            "dr_state": dr.get("state"),
            "dr_connection": dr.get("connection_state"),
            "dr_cluster_id": dr.get("cluster_id"),
            "dr_last_wal": _wal_of_primary(dr, "dr") if dr.get("role") == "primary" else dr.get("last_remote_wal"),
            "dr_secondaries": [s.get("node_id") for s in dr.get("secondaries") or [] if isinstance(s, dict)],
            "performance_role": perf.get("role"),
            "performance_state": perf.get("state"),
            "performance_connection": perf.get("connection_state"),
            "performance_cluster_id": perf.get("cluster_id"),
            "error": o["error"],
            # Guard rails (None: not read, e.g. no token or a DR secondary): paths only, no secrets.
            "local_mounts": _paths(o.get("local_mounts")),
            "audit_devices": _paths(o.get("audit_devices")),
            "warnings": [w["code"] for w in o.get("warnings") or []],
        })
    return out
