# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a cluster holds that replication does not protect, and the warnings that follow from it.

Reads (with the cluster's own token, each tolerated when refused): the local secrets engines and
auth methods (``local: true`` mounts are never sent to performance secondaries and a first
bootstrap deletes them), whether those hold keys, the audit devices (a replicated ``file`` device
writes to the same path on every cluster it reaches, and Vault blocks requests on a cluster where
no audit device can write), and whether the token is the cluster's own (tokens and leases are
local to each performance cluster).

``inspect_cluster`` never raises for Vault or transport errors: what cannot be read is reported
as unknown (``None``) with the reason. ``warnings`` is pure and works on observed dicts.
"""

from __future__ import annotations

import threading

from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultError

INSPECTIONS = ("local_mounts", "audit_devices", "token")

# Built-in mounts that are local by nature and hold no operator data worth a warning.
BUILTIN_LOCAL_TYPES = frozenset(("cubbyhole", "identity", "system", "token", "ns_cubbyhole", "ns_identity",
                                 "ns_system", "ns_token"))

# Secrets engines whose keys can be counted with one LIST, and the sub-path to list.
COUNTABLE = {"kv": "", "generic": "", "transit": "keys"}

DR_SECONDARY_REFUSAL = "disabled in replication DR secondary mode"

REPLICATED_FILE_AUDIT_DEVICE = "replicated_file_audit_device"
NO_LOCAL_AUDIT_DEVICE = "no_local_audit_device"
LOCAL_MOUNT_WITH_DATA_BEFORE_ACTIVATION = "local_mount_with_data_before_activation"
LOCAL_MOUNT_NOT_COVERED_BY_DR = "local_mount_not_covered_by_dr"
WARNING_CODES = (REPLICATED_FILE_AUDIT_DEVICE, NO_LOCAL_AUDIT_DEVICE, LOCAL_MOUNT_WITH_DATA_BEFORE_ACTIVATION,
                 LOCAL_MOUNT_NOT_COVERED_BY_DR)

LOCAL_AUDIT_HINT = "setup_enable_local_audit with setup_local_audit_path in the setup role"


# -- reads (one small function per endpoint) --------------------------------------------------

def _get(client, path, params=None):
    # The status of a refused read is the answer (403 without sudo, 400 on a DR secondary):
    # no retries, so an unreadable cluster costs one round trip.
    return client.request("GET", path, params=params, retry_on_status=False)


def _table(resp):
    """Mount/audit tables: Vault answers them in ``data`` and, for older versions, at the top level."""
    if resp.data is not None:
        return resp.data
    body = resp.json if isinstance(resp.json, dict) else {}
    return dict((k, v) for k, v in body.items() if k.endswith("/") and isinstance(v, dict))


def read_mounts(client):
    """``GET sys/mounts``: ``{path: entry}``."""
    return _table(_get(client, "sys/mounts"))


def read_auth_methods(client):
    """``GET sys/auth``: ``{path: entry}``."""
    return _table(_get(client, "sys/auth"))


def read_audit_devices(client):
    """``GET sys/audit`` (needs sudo): ``{path: entry}``."""
    return _table(_get(client, "sys/audit"))


def count_keys(client, path, entry):
    """Top-level keys listed under a secrets engine (int), or None when the type cannot be counted."""
    mount_type = entry.get("type")
    if mount_type not in COUNTABLE:
        return None
    sub = COUNTABLE[mount_type]
    if mount_type in ("kv", "generic") and str((entry.get("options") or {}).get("version")) == "2":
        sub = "metadata/"
    try:
        resp = client.request("GET", path.rstrip("/") + "/" + sub, params={"list": "true"}, allow_status=(404,),
                              retry_on_status=False)
    except VaultError:
        return None
    if resp.status == 404:
        return 0
    return len((resp.data or {}).get("keys") or [])


def lookup_own_token(client):
    """``auth/token/lookup-self`` reduced to facts that are not secret (never the token or its accessor)."""
    data = _get(client, "auth/token/lookup-self").data or {}
    return {"policies": sorted(data.get("policies") or []), "type": data.get("type"),
            "ttl": data.get("ttl"), "orphan": data.get("orphan")}


def describe_error(exc, what):
    """Why ``what`` could not be read, as a short sentence without secrets."""
    if isinstance(exc, VaultAPIError):
        errors = "; ".join(exc.errors) or "no error text"
        if exc.status == 400 and DR_SECONDARY_REFUSAL in errors:
            return "a DR secondary serves no requests, so %s cannot be read until it is promoted" % what
        if exc.status == 403:
            return ("the token is not allowed to read %s (HTTP 403: %s); give the cluster a token with read (and, for "
                    "sys/audit, sudo) capability" % (what, errors))
        return "%s could not be read: HTTP %s on %s %s: %s" % (what, exc.status, exc.method, exc.path, errors)
    return "%s could not be read: %s" % (what, getattr(exc, "message", None) or str(exc))


# -- one cluster ---------------------------------------------------------------------------------

def _local_mounts(client):
    found = []
    for kind, reader in (("secret", read_mounts), ("auth", read_auth_methods)):
        try:
            table = reader(client)
        except VaultAPIError as exc:
            if kind == "auth" and exc.status == 404:
                continue
            raise
        for path in sorted(table):
            entry = table[path] if isinstance(table[path], dict) else {}
            if not entry.get("local") or entry.get("type") in BUILTIN_LOCAL_TYPES:
                continue
            keys = count_keys(client, path, entry) if kind == "secret" else None
            found.append({"path": path, "kind": kind, "type": entry.get("type"),
                          "description": entry.get("description") or "", "keys": keys,
                          "holds_data": None if keys is None else keys > 0})
    return found


def _audit_devices(client):
    table = read_audit_devices(client)
    out = []
    for path in sorted(table):
        entry = table[path] if isinstance(table[path], dict) else {}
        options = entry.get("options") or {}
        out.append({"path": path, "type": entry.get("type"), "local": bool(entry.get("local")),
                    "file_path": options.get("file_path") if entry.get("type") == "file" else None,
                    "description": entry.get("description") or ""})
    return out


def empty_inspection(reason=""):
    """What is reported when nothing was read (``reason`` names why)."""
    return {"local_mounts": None, "local_mounts_error": reason, "audit_devices": None, "audit_devices_error": reason,
            "own_token": {"checked": False, "accepted": None, "error": reason}}


def inspect_cluster(client, what=INSPECTIONS):
    """Local mounts, audit devices and the own-token check of one cluster, read concurrently.

    Needs the client's token; without one nothing is read and everything is unknown."""
    out = empty_inspection("")
    for key in ("local_mounts", "audit_devices"):
        if key not in what:
            out["%s_error" % key] = "not inspected"
    if "token" not in what:
        out["own_token"]["error"] = "not inspected"
    if not client.token:
        reason = "no token given for this cluster"
        for key in ("local_mounts", "audit_devices"):
            if key in what:
                out["%s_error" % key] = reason
        if "token" in what:
            out["own_token"]["error"] = reason
        return out

    def local_mounts():
        try:
            out["local_mounts"] = _local_mounts(client)
        except VaultError as exc:
            out["local_mounts_error"] = describe_error(exc, "the mount tables (sys/mounts, sys/auth)")

    def audit_devices():
        try:
            out["audit_devices"] = _audit_devices(client)
        except VaultError as exc:
            out["audit_devices_error"] = describe_error(exc, "the audit devices (sys/audit)")

    if "token" in what:
        # First, alone: a token the cluster refuses, or a DR secondary, answers every other read the same
        # way, so those reads are skipped (fewer requests on the clusters that cannot be inspected).
        token = out["own_token"]
        token["checked"] = True
        refusal = None
        try:
            token.update(lookup_own_token(client), accepted=True)
        except VaultAPIError as exc:
            if exc.status == 403:
                token.update(accepted=False, error="the cluster does not accept this token (HTTP 403)")
                refusal = exc
            else:
                token.update(accepted=None, error=describe_error(exc, "the token (auth/token/lookup-self)"))
                if exc.status == 400 and DR_SECONDARY_REFUSAL in " ".join(exc.errors):
                    refusal = exc
        except VaultError as exc:
            token.update(accepted=None, error=describe_error(exc, "the token (auth/token/lookup-self)"))
            refusal = exc
        if refusal is not None:
            for key, label in (("local_mounts", "the mount tables (sys/mounts, sys/auth)"),
                               ("audit_devices", "the audit devices (sys/audit)")):
                if key in what:
                    if token["accepted"] is False:
                        out["%s_error" % key] = ("the cluster does not accept the token (HTTP 403 on "
                                                 "auth/token/lookup-self), so %s were not read; give this cluster a "
                                                 "token of its own" % label)
                    else:
                        out["%s_error" % key] = describe_error(refusal, label)
            return out

    jobs = [job for key, job in (("local_mounts", local_mounts), ("audit_devices", audit_devices)) if key in what]
    threads = [threading.Thread(target=job, name="inspect-%s" % job.__name__) for job in jobs[1:]]
    for t in threads:
        t.start()
    if jobs:
        jobs[0]()
    for t in threads:
        t.join()
    return out


def inspect_all(clients, what=INSPECTIONS):
    """``{name: inspect_cluster(...)}`` for ``{name: VaultClient}``, every cluster at once."""
    results = {}
    lock = threading.Lock()

    def work(name, client):
        try:
            value = inspect_cluster(client, what)
        except Exception as exc:  # a reader's bug must not cost the status read; report it as unknown
            value = empty_inspection("inspection failed: %s" % exc)
        with lock:
            results[name] = value

    threads = [threading.Thread(target=work, args=(n, c), name="inspect-%s" % n) for n, c in clients.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict((name, results[name]) for name in clients)


class Inspection(object):
    """``inspect_all`` started in the background (so it overlaps the status reads); ``result()`` joins it."""

    def __init__(self, clients, what=INSPECTIONS):
        self._value = None
        self._thread = None
        if what:
            self._thread = threading.Thread(target=self._run, args=(clients, what), name="inspect")
            self._thread.start()
        else:
            self._value = dict((name, empty_inspection("not inspected")) for name in clients)

    def _run(self, clients, what):
        self._value = inspect_all(clients, what)

    def result(self):
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        return self._value


# -- warnings (pure) ----------------------------------------------------------------------------

def _role(o, rtype):
    return (o.get(rtype) or {}).get("role") if o.get("reachable") else None


def _is_dr_covered(name, o, declared):
    """Whether the cluster's local mounts reach a DR secondary (DR secondaries copy local storage too)."""
    dr = o.get("dr") or {}
    if dr.get("role") == "primary" and dr.get("known_secondaries"):
        return True
    declared = declared or {}
    return declared.get(name) == "primary" and "dr-secondary" in declared.values() and dr.get("role") != "secondary"


def reaches(name, observed, relations=(), declared=None):
    """Clusters (declared names, else secondary ids) that the replicated configuration of ``name`` reaches."""
    o = observed[name]
    out = [r["secondary"] for r in relations or () if r.get("primary") == name]
    for rtype in ("dr", "performance"):
        status = o.get(rtype) or {}
        if status.get("role") == "primary":
            out.extend(status.get("known_secondaries") or [])
    declared = declared or {}
    dr_primaries = [n for n in declared if n in observed and _role(observed[n], "dr") == "primary"]
    source = dr_primaries[0] if len(dr_primaries) == 1 else \
        next((n for n, d in declared.items() if d == "primary"), None)
    if source == name:
        out.extend(n for n, d in declared.items() if d in ("dr-secondary", "perf-secondary"))
    return sorted(set(n for n in out if n and n != name))


def _to_be_activated(name, o, declared):
    kind = (declared or {}).get(name)
    rtype = {"dr-secondary": "dr", "perf-secondary": "performance"}.get(kind)
    if rtype is None or not o.get("reachable"):
        return None
    # A secondary already (re-syncs keep local mounts), or promoted since: nothing to activate.
    if o[rtype].get("role") in ("secondary", "bootstrapping", "primary"):
        return None
    return rtype


def _mount_list(mounts):
    def keys(m):
        if m.get("keys") is None:
            return ""
        return ", %d key%s" % (m["keys"], "" if m["keys"] == 1 else "s")
    return ", ".join("%s (%s%s)" % (m["path"], m["type"], keys(m)) for m in mounts)


def warnings(observed, relations=(), declared=None):
    """``{name: [warning]}``: the guard-rail warnings of every observed cluster, each a dict with
    ``code`` (one of WARNING_CODES), ``cluster``, ``message`` and the facts it is about."""
    out = dict((name, []) for name in observed)
    for name, o in observed.items():
        devices = o.get("audit_devices")
        mounts = o.get("local_mounts")
        targets = reaches(name, observed, relations, declared)
        perf_secondary = _role(o, "performance") == "secondary"
        in_set = bool(targets) or perf_secondary

        if devices is not None and in_set:
            replicated = [d for d in devices if not d["local"]]
            has_local = any(d["local"] for d in devices)
            for d in replicated:
                if d["type"] != "file" or d.get("file_path") in ("stdout", "discard"):
                    continue
                if targets:
                    where = "on %s and every cluster it replicates to (%s)" % (name, ", ".join(targets))
                else:
                    where = "on %s, which received it from its performance primary" % name
                out[name].append({
                    "code": REPLICATED_FILE_AUDIT_DEVICE, "cluster": name, "path": d["path"],
                    "file_path": d.get("file_path"), "reaches": targets,
                    "message": "%s: the replicated file audit device %s writes to %s %s. Where that path does not "
                               "exist or cannot be written, Vault blocks every request unless another audit device "
                               "can log it. Create the path on every node of those clusters, or enable a local audit "
                               "device on each cluster (%s)."
                               % (name, d["path"], d.get("file_path"), where, LOCAL_AUDIT_HINT)})
            if replicated and not has_local:
                out[name].append({
                    "code": NO_LOCAL_AUDIT_DEVICE, "cluster": name, "path": None,
                    "message": "%s has only replicated audit devices (%s) and no local one to fall back on: if they "
                               "cannot write on %s, it blocks every request. Enable a local audit device on each "
                               "cluster (%s)." % (name, ", ".join(d["path"] for d in replicated), name,
                                                  LOCAL_AUDIT_HINT)})

        if mounts:
            rtype = _to_be_activated(name, o, declared)
            with_data = [m for m in mounts if m.get("holds_data")]
            if rtype and with_data:
                out[name].append({
                    "code": LOCAL_MOUNT_WITH_DATA_BEFORE_ACTIVATION, "cluster": name,
                    "mounts": [m["path"] for m in with_data],
                    "message": "%s is to be activated as a %s secondary and has local mounts holding data: %s. The "
                               "first bootstrap deletes local mounts too (later re-syncs keep them). Back that data "
                               "up or move it before naming %s in confirm_wipe."
                               % (name, "DR" if rtype == "dr" else "performance", _mount_list(with_data), name)})
            if not _is_dr_covered(name, o, declared) and _role(o, "dr") != "secondary":
                out[name].append({
                    "code": LOCAL_MOUNT_NOT_COVERED_BY_DR, "cluster": name, "mounts": [m["path"] for m in mounts],
                    "message": "%s has local mounts that no DR secondary copies (not covered by DR): %s. Give %s a "
                               "DR secondary of its own or back them up separately." % (name, _mount_list(mounts), name)})
    return out


def flatten(by_cluster):
    """The warnings of ``warnings()`` as one list, in cluster order."""
    return [w for name in by_cluster for w in by_cluster[name]]
