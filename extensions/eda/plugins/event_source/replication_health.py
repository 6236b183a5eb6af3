# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Event source for ansible-rulebook: watch the replication status and health of Vault clusters.

Every ``interval`` seconds, every declared cluster is read at once (sys/health and
sys/replication/status, through the collection's own client and topology code, in a worker thread
so that the event loop never blocks) and compared with what it reported before.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
short_description: Watch Vault replication status and health, emit an event when it goes wrong.
description:
  - Polls every declared Vault cluster (C(sys/health) and C(sys/replication/status), both
    unauthenticated) concurrently, with the collection's client and topology code.
  - "Emits one event when a problem starts (after O(confirm_polls) polls in a row) and one when it
    ends. Problems: C(primary_unreachable) (the cluster that was the DR primary at the last good
    poll, or the declared primary before any, stopped answering), C(dr_secondary_lagging) (a DR
    secondary more than O(lag_threshold) WAL entries behind its primary), C(two_primaries) (two
    reachable clusters claim the primary role of one replication set), C(secondary_disconnected)
    (a DR or performance secondary is not connected to its primary)."
  - "Each event is C({vault_replication: {type, key, severity, summary, clusters, evidence,
    observed_at, source}}): C(evidence) holds cluster names, addresses, roles, states and WAL
    positions. A C(watch_started) event after the first poll carries every cluster's row, and a
    C(resolved) event (with C(resolves) and C(key)) ends a problem."
  - Tokens are never part of an event, and are not needed for these reads.
  - Never changes a cluster.
options:
  clusters:
    description:
      - The clusters to watch, a list of entries with C(name), or a mapping of name to entry.
      - "Entry keys: C(url) (or C(vault_addr)), C(ca_cert) (or C(vault_ca_cert)), C(client_cert),
        C(client_key), C(token) (optional; never emitted), C(nodes) (or C(vault_nodes): the API
        addresses of its nodes), C(role) (C(primary), C(dr-secondary) or C(perf-secondary): how
        the cluster is declared; the DR primary before the first poll)."
      - Give O(clusters) or O(inventory), not both.
    type: raw
  inventory:
    description:
      - Path of a YAML inventory in the collection's layout (host variables C(vault_addr),
        C(vault_ca_cert), C(vault_nodes), C(vault_client_cert), C(vault_client_key); groups
        C(vault_primary), C(vault_dr_secondaries), C(vault_perf_secondaries)).
      - Templated values are not supported there; use O(clusters) for them.
    type: str
  interval:
    description: Seconds between two polls.
    type: float
    default: 5
  lag_threshold:
    description: A DR secondary further behind its primary than this many WAL entries is lagging.
    type: int
    default: 1000
  confirm_polls:
    description:
      - How many polls in a row must show a problem before its event is emitted (1 - at once).
      - An unreachable primary is therefore reported after about O(confirm_polls) x O(interval) seconds.
    type: int
    default: 2
  timeout:
    description: Seconds each HTTP request may take (no retries; the next poll retries).
    type: float
    default: 5
  validate_certs:
    description: Verify the clusters' TLS certificates.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Watch Vault replication
  hosts: all
  sources:
    - vaultops.replication.replication_health:
        inventory: /runner/inventory/vault.yml
        interval: 5
        lag_threshold: 5000
  rules:
    - name: Primary lost
      condition: event.vault_replication.type == "primary_unreachable"
      action:
        print_event:
          pretty: true

- name: Watch two clusters given inline
  hosts: all
  sources:
    - vaultops.replication.replication_health:
        clusters:
          - name: primary
            url: https://vault-a.example.com:8200
            ca_cert: /etc/vault/ca.pem
            role: primary
          - name: dr
            url: https://vault-b.example.com:8200
            ca_cert: /etc/vault/ca.pem
            role: dr-secondary
  rules:
    - name: Anything
      condition: event.vault_replication is defined
      action:
        debug:
"""

import asyncio
import datetime
import importlib
import json
import os
import sys
import time
from pathlib import Path

import yaml  # ansible-rulebook depends on PyYAML

SOURCE = "vaultops.replication.replication_health"
ROLES = ("primary", "dr-secondary", "perf-secondary")
INVENTORY_GROUPS = {"vault_primary": "primary", "vault_dr_secondaries": "dr-secondary",
                    "vault_perf_secondaries": "perf-secondary"}
ENTRY_KEYS = {"name": "name", "url": "url", "vault_addr": "url", "ca_cert": "ca_cert", "vault_ca_cert": "ca_cert",
              "client_cert": "client_cert", "vault_client_cert": "client_cert", "client_key": "client_key",
              "vault_client_key": "client_key", "token": "token", "vault_token": "token", "nodes": "nodes",
              "vault_nodes": "nodes", "role": "role"}
REDACTED = "<redacted>"


class ArgumentError(ValueError):
    """Bad source arguments: the message names the option and the fix."""


def _collection_roots():
    """Folders holding an ``ansible_collections`` tree: the one this file is installed in, then
    ANSIBLE_COLLECTIONS_PATH(S). ansible-rulebook runs a source with runpy, without Ansible's
    collection loader, so these go on sys.path before the collection's module_utils are imported."""
    out = []
    here = Path(os.path.abspath(__file__))
    for parent in here.parents:
        if parent.name == "ansible_collections":
            out.append(str(parent.parent))
            break
    for var in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"):
        for entry in (os.environ.get(var) or "").split(os.pathsep):
            if entry and os.path.isdir(os.path.join(entry, "ansible_collections")):
                out.append(entry)
    return out


def load_topology():
    """The collection's ``_topology`` and ``_client`` module_utils."""
    name = "ansible_collections.vaultops.replication.plugins.module_utils."
    try:
        return importlib.import_module(name + "_topology"), importlib.import_module(name + "_client")
    except ImportError:
        for root in _collection_roots():
            if root not in sys.path:
                sys.path.append(root)
        try:
            return importlib.import_module(name + "_topology"), importlib.import_module(name + "_client")
        except ImportError as exc:
            raise ArgumentError("%s needs the vaultops.replication collection importable (install it, or set "
                                "ANSIBLE_COLLECTIONS_PATH to the folder holding ansible_collections/): %s"
                                % (SOURCE, exc)) from None


def _number(args, option, default, kind, minimum):
    value = args.get(option, default)
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise ArgumentError("%s: %s must be a number, got %r" % (SOURCE, option, value)) from None
    if value < minimum:
        raise ArgumentError("%s: %s must be at least %s, got %r" % (SOURCE, option, minimum, value))
    return value


def _entry(name, raw, where):
    if not isinstance(raw, dict):
        raise ArgumentError("%s: %s must be a mapping with url, ca_cert, token..., got %s"
                            % (SOURCE, where, type(raw).__name__))
    out = {"name": str(name) if name is not None else None, "nodes": []}
    for key, value in raw.items():
        if key not in ENTRY_KEYS:
            continue
        if isinstance(value, str) and "{{" in value:
            raise ArgumentError("%s: %s.%s is templated (%s); give the value itself in clusters"
                                % (SOURCE, where, key, "token not shown" if ENTRY_KEYS[key] == "token" else value))
        if value is not None:
            out[ENTRY_KEYS[key]] = value
    if not out.get("name"):
        raise ArgumentError("%s: %s has no name; add name: <cluster name>" % (SOURCE, where))
    if not out.get("url") or not isinstance(out["url"], str):
        raise ArgumentError("%s: %s (cluster %s) has no url; add url: https://HOST:8200" % (SOURCE, where, out["name"]))
    if out.get("role") is not None and out["role"] not in ROLES:
        raise ArgumentError("%s: %s.role must be one of %s, got %r" % (SOURCE, where, ", ".join(ROLES), out["role"]))
    if not isinstance(out["nodes"], list):
        raise ArgumentError("%s: %s.nodes must be a list of addresses" % (SOURCE, where))
    return out


def _inventory_hosts(group, hostvars, roles, group_name):
    group = group or {}
    if not isinstance(group, dict):
        return
    for host, values in (group.get("hosts") or {}).items():
        merged = hostvars.setdefault(host, {})
        merged.update((k, v) for k, v in (values or {}).items() if k in ENTRY_KEYS)
        if group_name in INVENTORY_GROUPS:
            roles.setdefault(host, INVENTORY_GROUPS[group_name])
    for child_name, child in (group.get("children") or {}).items():
        _inventory_hosts(child, hostvars, roles, child_name)


def read_inventory(path):
    """``[entry]`` from a YAML inventory in the collection's layout."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise ArgumentError("%s: inventory %s cannot be read: %s" % (SOURCE, path, exc)) from None
    if not isinstance(data, dict):
        raise ArgumentError("%s: inventory %s is not a YAML inventory (a mapping with all:)" % (SOURCE, path))
    hostvars, roles = {}, {}
    for name, group in data.items():
        _inventory_hosts(group, hostvars, roles, name)
    entries = []
    for host, values in hostvars.items():
        if "vault_addr" not in values and "url" not in values:
            continue
        values = dict(values, name=host)
        values.setdefault("role", roles.get(host))
        entries.append(_entry(host, values, "inventory host %s" % host))
    if not entries:
        raise ArgumentError("%s: inventory %s has no host with vault_addr" % (SOURCE, path))
    return entries


def parse_args(args):
    """Checked settings from the source's arguments (raises ArgumentError)."""
    args = args or {}
    clusters, inventory = args.get("clusters"), args.get("inventory")
    if bool(clusters) == bool(inventory):
        raise ArgumentError("%s: give either clusters (a list of name/url/ca_cert entries) or inventory "
                            "(path of a YAML inventory), %s" % (SOURCE, "not both" if clusters else "none given"))
    if inventory:
        entries = read_inventory(str(inventory))
    elif isinstance(clusters, dict):
        entries = [_entry(name, raw, "clusters.%s" % name) for name, raw in clusters.items()]
    elif isinstance(clusters, list):
        entries = [_entry(raw.get("name") if isinstance(raw, dict) else None, raw, "clusters[%d]" % i)
                   for i, raw in enumerate(clusters)]
    else:
        raise ArgumentError("%s: clusters must be a list or a mapping, got %s" % (SOURCE, type(clusters).__name__))
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        raise ArgumentError("%s: cluster names must be unique, got %s" % (SOURCE, ", ".join(names)))
    return {
        "clusters": entries,
        "interval": _number(args, "interval", 5, float, 0.1),
        "lag_threshold": _number(args, "lag_threshold", 1000, int, 0),
        "confirm_polls": _number(args, "confirm_polls", 2, int, 1),
        "timeout": _number(args, "timeout", 5, float, 0.1),
        "validate_certs": args.get("validate_certs", True) not in (False, "false", "no", "False", 0),
    }


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _wal(status):
    """The last WAL a cluster reports for DR: its own (primary) or the one it received (secondary)."""
    if status.get("role") == "primary":
        for key in ("last_dr_wal", "last_wal"):
            if status.get(key) is not None:
                return status[key]
        return None
    return status.get("last_remote_wal")


def _brief(o):
    """What one observed cluster looks like in an event's evidence (no token: observations never hold one)."""
    dr, perf = o.get("dr") or {}, o.get("performance") or {}
    return {"cluster": o["name"], "url": o.get("url"), "reachable": o.get("reachable"), "sealed": o.get("sealed"),
            "error": o.get("error") or "", "dr_role": dr.get("role"), "dr_state": dr.get("state"),
            "dr_connection_state": dr.get("connection_state"), "dr_cluster_id": dr.get("cluster_id"),
            "dr_last_wal": _wal(dr), "performance_role": perf.get("role"), "performance_state": perf.get("state"),
            "performance_connection_state": perf.get("connection_state")}


class Watcher:
    """Turns successive observations into problem events (pure: no I/O, testable without Vault)."""

    def __init__(self, settings):
        self.settings = settings
        self.declared = dict((e["name"], e.get("role")) for e in settings["clusters"])
        self.primary = [n for n, r in self.declared.items() if r == "primary"]
        self.last_good = {}
        self.streak = {}
        self.active = {}
        self.started = False

    def problems(self, observed, links):
        """``{key: event body}`` for every problem visible in one poll."""
        out = {}
        threshold = self.settings["lag_threshold"]
        for name in self.primary:
            o = observed.get(name)
            if o is None or o["reachable"]:
                continue
            before = self.last_good.get(name) or {}
            secondaries = [_brief(s) for n, s in observed.items() if n != name and s["reachable"]
                           and (s.get("dr") or {}).get("role") == "secondary"]
            candidates = sorted(secondaries, key=lambda s: -(s["dr_last_wal"] or 0))
            out["primary_unreachable:%s" % name] = {
                "type": "primary_unreachable", "severity": "critical", "clusters": [name],
                "summary": "DR primary %s does not answer: %s" % (name, o.get("error") or "no answer"),
                "evidence": {"primary": name, "url": o.get("url"), "error": o.get("error") or "",
                             "last_seen_at": _iso(before["observed_at"]) if before.get("observed_at") else None,
                             "last_wal": _wal(before.get("dr") or {}) if before else None,
                             "last_state": _brief(before) if before else None,
                             "dr_secondaries": secondaries,
                             "promotion_candidate": candidates[0]["cluster"] if candidates else None}}
        for link in links:
            base = {"secondary": link["secondary"], "type": link["type"], "primary": link["primary"],
                    "state": link["state"], "connection_state": link["connection_state"],
                    "last_remote_wal": link["last_remote_wal"], "primary_last_wal": link["primary_last_wal"],
                    "lag": link["lag"]}
            names = [n for n in (link["secondary"], link["primary"]) if n]
            if link["type"] == "dr" and link["lag"] is not None and link["lag"] > threshold:
                out["dr_secondary_lagging:%s" % link["secondary"]] = {
                    "type": "dr_secondary_lagging", "severity": "warning", "clusters": names,
                    "summary": "DR secondary %s is %d WAL entries behind %s (threshold %d)"
                               % (link["secondary"], link["lag"], link["primary"], threshold),
                    "evidence": dict(base, lag_threshold=threshold)}
            if not link["connected"]:
                out["secondary_disconnected:%s:%s" % (link["type"], link["secondary"])] = {
                    "type": "secondary_disconnected", "severity": "warning", "clusters": names,
                    "summary": "%s secondary %s is not connected to %s (state %s, connection %s)"
                               % ("DR" if link["type"] == "dr" else "performance", link["secondary"],
                                  link["primary"] or "its primary", link["state"], link["connection_state"]),
                    "evidence": base}
        for rtype in ("dr", "performance"):
            by_set = {}
            for name, o in observed.items():
                status = o.get(rtype) or {}
                if o["reachable"] and status.get("role") == "primary":
                    by_set.setdefault(status.get("cluster_id") or "", []).append(name)
            for set_id, names in by_set.items():
                if len(names) > 1:
                    out["two_primaries:%s:%s" % (rtype, set_id)] = {
                        "type": "two_primaries", "severity": "critical", "clusters": sorted(names),
                        "summary": "%s and %s claim the %s primary role of replication set %s"
                                   % (", ".join(sorted(names)[:-1]), sorted(names)[-1],
                                      "DR" if rtype == "dr" else "performance", set_id or "(unknown)"),
                        "evidence": {"replication_type": rtype, "cluster_id": set_id,
                                     "primaries": [_brief(observed[n]) for n in sorted(names)]}}
        return out

    def step(self, observed, links, now):
        """Events (bodies under ``vault_replication``) for one poll, and the state kept for the next."""
        events = []
        if not self.started:
            self.started = True
            events.append({"type": "watch_started", "severity": "info", "clusters": list(observed),
                           "summary": "watching %d clusters" % len(observed),
                           "evidence": {"clusters": [_brief(o) for o in observed.values()],
                                        "lag_threshold": self.settings["lag_threshold"],
                                        "interval": self.settings["interval"]}})
        current = self.problems(observed, links)
        for key in list(self.streak):
            if key not in current:
                del self.streak[key]
        for key, body in current.items():
            self.streak[key] = self.streak.get(key, 0) + 1
            if key not in self.active and self.streak[key] >= self.settings["confirm_polls"]:
                self.active[key] = now
                events.append(dict(body, key=key, since=_iso(now)))
        for key in [k for k in self.active if k not in current]:
            started = self.active.pop(key)
            events.append({"type": "resolved", "resolves": key.split(":", 1)[0], "key": key, "severity": "info",
                           "clusters": [], "summary": "%s is over (after %.1f s)" % (key, now - started),
                           "evidence": {"since": _iso(started)}})
        # The DR primary to watch follows the clusters: after a failover it is the promoted one.
        reachable = [n for n, o in observed.items() if o["reachable"] and (o.get("dr") or {}).get("role") == "primary"]
        if reachable:
            self.primary = reachable
        for name, o in observed.items():
            if o["reachable"]:
                self.last_good[name] = o
        stamp = _iso(now)
        for body in events:
            body.update(observed_at=stamp, source=SOURCE)
        return events


def _scrub(event, secrets):
    """The event with any configured secret replaced (defence in depth: observations hold none)."""
    text = json.dumps(event, default=str)
    if not any(s and s in text for s in secrets):
        return event
    for secret in secrets:
        if secret:
            text = text.replace(json.dumps(secret)[1:-1], REDACTED)
    return json.loads(text)


async def main(queue, args):
    """ansible-rulebook entry point: poll until cancelled, put every event on ``queue``."""
    settings = parse_args(args)
    topology, client_mod = load_topology()
    clients, node_urls = {}, {}
    try:
        for entry in settings["clusters"]:
            try:
                clients[entry["name"]] = client_mod.VaultClient(
                    entry["url"], token=entry.get("token"), ca_cert=entry.get("ca_cert"),
                    client_cert=entry.get("client_cert"), client_key=entry.get("client_key"),
                    validate_certs=settings["validate_certs"], timeout=settings["timeout"], retries=0)
            except client_mod.VaultError as exc:
                raise ArgumentError("%s: cluster %s: %s" % (SOURCE, entry["name"], getattr(exc, "message", exc))) from None
            node_urls[entry["name"]] = [str(u) for u in entry.get("nodes") or []]
        secrets = [str(e["token"]) for e in settings["clusters"] if e.get("token")]
        watcher = Watcher(settings)
        while True:
            started = time.monotonic()
            observed = await asyncio.to_thread(topology.observe, clients)
            links = topology.relations(observed, node_urls)
            for body in watcher.step(observed, links, time.time()):
                await queue.put(_scrub({"vault_replication": body}, secrets))
            await asyncio.sleep(max(0.0, settings["interval"] - (time.monotonic() - started)))
    finally:
        for client in clients.values():
            client.close()


if __name__ == "__main__":
    # Development aid: python replication_health.py INVENTORY [INTERVAL] prints the events.
    class _PrintQueue:  # pylint: disable=too-few-public-methods
        async def put(self, event):
            print(json.dumps(event, indent=2), flush=True)

    asyncio.run(main(_PrintQueue(), {"inventory": sys.argv[1],
                                     "interval": float(sys.argv[2]) if len(sys.argv) > 2 else 5}))
