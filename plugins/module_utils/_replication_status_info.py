# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runner of the replication_status_info module (also run in-process by its action plugin)."""

from __future__ import annotations

import time

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _guard_rails, _topology
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultError
from ansible_collections.vaultops.replication.plugins.module_utils._plan import TITLE, TYPES
from ansible_collections.vaultops.replication.plugins.module_utils._runner import (
    cluster_suboptions,
    module_spec as _module_spec,
    prefixed_connection_spec,
)
from ansible_collections.vaultops.replication.plugins.module_utils._status import (
    health_state,
    read_replication_statuses,
    read_type_status,
)
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import (
    WaitTimeout,
    wait_until,
)


def unmet_conditions(status, conditions, primary=None, filtered=False):
    """Names of the conditions in ``conditions`` that ``status`` (of one type) does not meet yet. Pure.

    ``filtered``: the primary applies a paths filter to this (performance) secondary."""
    unmet = []
    for condition in conditions:
        if condition == "connected":
            if status.is_primary:
                ok = bool(status.secondaries) and all(
                    isinstance(s, dict) and s.get("connection_status") == "connected" for s in status.secondaries)
            else:
                ok = status.is_connected
        elif condition == "streaming":
            ok = status.is_streaming
        elif condition == "caught_up":
            ok = status.caught_up_with(primary, filtered)
        else:
            raise ValueError("unknown condition %r" % condition)
        if not ok:
            unmet.append(condition)
    return unmet


def describe(status):
    parts = ["role %s" % status.role]
    for name in ("state", "connection_state", "last_remote_wal", "merkle_root"):
        value = getattr(status, name)
        if value not in (None, ""):
            parts.append("%s %s" % (name, value))
    if status.is_primary and status.secondaries:
        parts.append("secondaries %s" % ", ".join(
            "%s=%s" % (s.get("node_id"), s.get("connection_status")) for s in status.secondaries if isinstance(s, dict)))
    return ", ".join(parts)


def module_spec():
    """Options and constraints of replication_status_info (module and action plugin)."""
    return _module_spec(dict(
        mode=dict(type="str", default="both", choices=["dr", "performance", "both"]),
        wait_for=dict(type="list", elements="str", default=[], choices=["connected", "streaming", "caught_up"]),
        wait_timeout=dict(type="int", default=60),
        clusters=dict(type="list", elements="dict", options=cluster_suboptions()),
        declared=dict(type="dict"),
        inspect=dict(type="list", elements="str", default=list(_guard_rails.INSPECTIONS),
                     choices=list(_guard_rails.INSPECTIONS)),
        expect=dict(type="dict", options=dict(
            dr_primary=dict(type="str", required=True),
            dr_secondaries=dict(type="list", elements="str", default=[]),
            performance_secondaries=dict(type="list", elements="str", default=[]),
            dr_members=dict(type="list", elements="str"),
        )),
        **prefixed_connection_spec("primary")
    ), mutually_exclusive=[("clusters", "wait_for")],
        required_by={"expect": "clusters", "declared": "clusters"})


class Runner(object):
    def __init__(self, ctx):
        self.ctx = ctx
        self.params = ctx.params

    def run(self):
        if self.params.get("clusters") is not None:
            return self.run_many()
        ctx = self.ctx
        p = self.params
        mode = p["mode"]
        conditions = list(dict.fromkeys(p["wait_for"] or []))
        if conditions and mode == "both":
            ctx.fail_json(msg="wait_for needs the replication type the conditions apply to: set mode to dr or "
                              "performance.")
        if "caught_up" in conditions and not p.get("primary_url"):
            ctx.fail_json(msg="wait_for=caught_up compares with the primary: set primary_url (or primary_cluster).")
        if p["wait_timeout"] < 0:
            ctx.fail_json(msg="wait_timeout must be 0 or more seconds.")

        client = ctx.client
        where = ctx.where(client.url)
        try:
            code, health = _api.health(client)
        except VaultError as exc:
            ctx.fail_from(exc, "read the health of %s" % where)
        health = health or {}
        state = health_state(code, health)
        if state == "uninitialized":
            ctx.fail_json(msg="The Vault cluster at %s is not initialised; initialise and unseal it first." % where,
                          health=dict(health, status_code=code))
        if state == "sealed":
            ctx.fail_json(msg="The Vault node at %s is sealed, so it cannot report replication status; unseal it and "
                              "run again." % where, health=dict(health, status_code=code))

        primary = None
        if conditions and p.get("primary_url"):
            try:
                primary = ctx.client_for("primary")
            except VaultError as exc:
                ctx.fail_from(exc, "connect to primary_url", option_prefix="primary_")
            # Waiting tolerates transport errors (the brief unavailability after a change), so a primary that cannot
            # be reached at all (wrong address, TLS trust) is reported now rather than as a timeout.
            try:
                _api.replication_type_status(primary, mode)
            except VaultError as exc:
                ctx.fail_from(exc, "read the %s replication status of the primary at %s"
                              % (TITLE[mode], ctx.where(primary.url, "primary")), option_prefix="primary_")

        try:
            statuses = read_replication_statuses(client)
        except VaultError as exc:
            ctx.fail_from(exc, "read the replication status of %s" % where)

        waited = 0.0
        if conditions:
            started = time.monotonic()
            filters = {}  # secondary id -> filtered by the primary (read once per id)

            def probe():
                status = read_type_status(client, mode, retry_on_status=False)
                prim = None
                filtered = False
                if primary is not None:
                    prim = read_type_status(primary, mode, retry_on_status=False)
                    if mode == "performance" and status.secondary_id and "caught_up" in conditions:
                        if status.secondary_id not in filters:
                            filters[status.secondary_id] = self.filtered_on(primary, status.secondary_id)
                        filtered = filters[status.secondary_id]
                return status, prim, filtered

            try:
                # Polls from 20 ms, at most every 0.1 s: the change is seen within a tenth of a second.
                wait_until(probe, lambda v: not unmet_conditions(v[0], conditions, v[1], v[2]), p["wait_timeout"],
                           "%s replication to be %s" % (TITLE[mode], " and ".join(conditions)),
                           interval=0.02, max_interval=0.1)
            except WaitTimeout as exc:
                if exc.last_value is not None:
                    status, prim, filtered = exc.last_value
                    unmet = unmet_conditions(status, conditions, prim, filtered)
                    seen = describe(status)
                    if prim is not None and "caught_up" in unmet:
                        seen += "; primary: %s, last shipped WAL %s" % (describe(prim), prim.last_shipped_wal)
                else:
                    unmet, seen = conditions, "no answer"
                ctx.fail_json(msg="Timed out after %ss waiting for %s replication on %s to be %s; not yet %s. Last "
                                  "seen: %s%s." % (p["wait_timeout"], TITLE[mode], where, " and ".join(conditions),
                                                   " and ".join(unmet), seen,
                                                   "; last error: %s" % exc.last_error
                                                   if exc.last_error is not None else ""))
            except VaultError as exc:
                ctx.fail_from(exc, "read the %s replication status while waiting" % TITLE[mode])
            waited = round(time.monotonic() - started, 3)
            try:
                statuses = read_replication_statuses(client)
                code, health = _api.health(client)
            except VaultError as exc:
                ctx.fail_from(exc, "read the replication status of %s" % where)
            health = health or {}

        result = dict(changed=False, health=dict(health, status_code=code, state=state), waited=waited,
                      cluster=dict(name=health.get("cluster_name"), id=health.get("cluster_id"),
                                   version=health.get("version")))
        for t in TYPES:
            if mode in (t, "both"):
                result[t] = statuses[t].as_dict()
        result.update(self.inspect_one(client, statuses, health.get("cluster_name") or client.url))
        ctx.exit_json(**result)

    @staticmethod
    def filtered_on(primary, secondary_id):
        """Does the primary apply a paths filter to this performance secondary? Unknown (no token, no
        permission to read filters) counts as no, so merkle roots are still compared."""
        try:
            return bool(_api.read_paths_filter(primary, secondary_id))
        except VaultError:
            return False

    def inspect_one(self, client, statuses, name):
        """Local mounts, audit devices, own token and the guard-rail warnings of the cluster at O(url)."""
        what = tuple(dict.fromkeys(self.params.get("inspect") or []))
        if not what:
            facts = _guard_rails.empty_inspection("not inspected")
        else:
            facts = _guard_rails.inspect_cluster(client, what)
        observed = {name: dict(facts, reachable=True, **dict((t, statuses[t].as_dict()) for t in TYPES))}
        # Not "warnings": that result key is Ansible's own warning display.
        facts["cluster_warnings"] = _guard_rails.warnings(observed)[name]
        return facts

    # -- several clusters at once ----------------------------------------------------------

    def clients(self):
        """``{name: VaultClient}`` for O(clusters), in their order; names default to the URL."""
        ctx = self.ctx
        out = {}
        for index, c in enumerate(self.params["clusters"]):
            if not c.get("url"):
                ctx.fail_json(msg="clusters[%d] has no url: every entry needs the cluster's API address (url)." % index)
            name = c.get("name") or c["url"]
            if name in out:
                ctx.fail_json(msg="clusters lists '%s' twice; give each entry a distinct name (or url)." % name)
            out[name] = ctx._build_client("clusters[%d].url" % index, c["url"], c.get("token"), c.get("ca_cert"),
                                          c.get("client_cert"), c.get("client_key"), c.get("validate_certs") is not False,
                                          nodes=c.get("nodes"))
        return out

    def run_many(self):
        """Read every cluster of O(clusters) at once; with O(expect), wait until the topology is as expected."""
        ctx = self.ctx
        p = self.params
        if p["wait_timeout"] < 0:
            ctx.fail_json(msg="wait_timeout must be 0 or more seconds.")
        clients = self.clients()
        expect = p.get("expect")
        if expect is not None:
            named = [expect["dr_primary"]] + list(expect["dr_secondaries"]) + list(expect["performance_secondaries"]) \
                + list(expect.get("dr_members") or [])
            unknown = sorted(set(n for n in named if n not in clients))
            if unknown:
                ctx.fail_json(msg="expect names %s, which %s not in clusters (by name); list every cluster the "
                                  "expectation mentions." % (", ".join(unknown), "is" if len(unknown) == 1 else "are"))
        nodes = dict((c.get("name") or c["url"], c.get("nodes") or []) for c in p["clusters"])
        started = time.monotonic()
        # Read once, beside the status reads (and any wait), so it adds about nothing to the run time.
        inspection = _guard_rails.Inspection(clients, tuple(dict.fromkeys(p.get("inspect") or [])))

        filters = {}  # paths filters: read once per run, not once per poll of a wait

        def observe():
            seen = _topology.observe(clients, filters)
            problems = []
            if expect is not None:
                problems = _topology.expectation_problems(
                    seen, expect["dr_primary"], expect["dr_secondaries"], expect["performance_secondaries"],
                    dr_members=expect.get("dr_members"))
            return seen, problems

        seen, problems = observe()
        if problems and p["wait_timeout"] > 0:
            try:
                seen, problems = wait_until(observe, lambda v: not v[1], p["wait_timeout"],
                                            "the expected topology", interval=0.02, max_interval=0.25)
            except WaitTimeout as exc:
                seen, problems = exc.last_value or (seen, problems)
        _topology.add_inspection(seen, inspection.result())
        result = _topology.summary(seen, nodes, p.get("declared"))
        result.update(changed=False, problems=problems, waited=round(time.monotonic() - started, 3),
                      rows=_topology.rows(seen, p.get("declared")))
        if problems:
            ctx.fail_json(msg="The replication topology is not as expected%s: %s" % (
                " after waiting %ss" % p["wait_timeout"] if p["wait_timeout"] else "", "; ".join(problems)), **result)
        ctx.exit_json(**result)
