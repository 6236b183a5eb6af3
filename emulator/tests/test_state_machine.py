"""Hypothesis state machine over DR replication of real vaultlab processes.

Three single-node clusters (a, b, c) go through random sequences of enable / activate /
promote (with and without ``force``) / demote / update-primary (new token, or forget) /
disable and KV writes, plus calls made in the wrong state, which must answer the documented
error and change nothing.  Nothing stops the sequence from making two primaries of one
replication set (promote a secondary whose primary is still up): like Vault, the emulator
must allow it, because refusing that is the collection's job.

After every step the machine checks the emulator's own invariants over HTTP (see
``emulator_invariants``).  Each example gets a fresh lab: enabling a secondary wipes it and
hands it its primary's tokens, so no API call can bring three clusters back to a known
state, and a lab of three single-node clusters starts in about a second.
"""

from __future__ import annotations

import collections
import copy
import os
import re
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import KeptAlive, Reply, control_headers
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from vaultlab import messages as M
from vaultlab.testing import Lab

CLUSTERS = ("a", "b", "c")
KEYS = ("k0", "k1", "k2")
# Values repeat on purpose: a write of an unchanged value moves the WAL but not the merkle root.
WRITES = st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 3)), min_size=1, max_size=4)
SYNC_TIMEOUT = 10.0

# What a batch DR operation token needs (reference §5.5).
DR_OPS_POLICY = """
path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }
path "sys/replication/dr/secondary/update-primary" { capabilities = ["update"] }
path "sys/replication/dr/secondary/disable" { capabilities = ["update"] }
"""

HEX40 = re.compile(r"^[0-9a-f]{40}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
INT_TEXT = re.compile(r"^-?[0-9]+$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
SECONDARY_STATES = {"stream-wals", "merkle-diff", "merkle-sync", "idle"}
CONNECTION_STATES = {"idle", "connecting", "ready", "transient_failure", "shutdown"}


# -- status shape (reference §3) ---------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass, and must not pass


def _peer_problems(where: str, entry: Any, with_node_id: bool) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: not an object: {entry!r}"]
    wanted = {"api_address", "cluster_address", "connection_status", "last_heartbeat", "clock_skew_ms",
              "last_heartbeat_duration_ms", "replication_primary_canary_age_ms"}
    if with_node_id:
        wanted.add("node_id")
    out = []
    if set(entry) != wanted:
        out.append(f"{where}: keys {sorted(entry)} != {sorted(wanted)}")
    for name in ("api_address", "cluster_address", "last_heartbeat") + (("node_id",) if with_node_id else ()):
        if not isinstance(entry.get(name), str):
            out.append(f"{where}.{name} is not a string: {entry.get(name)!r}")
    if entry.get("connection_status") not in ("connected", "disconnected"):
        out.append(f"{where}.connection_status = {entry.get('connection_status')!r}")
    if entry.get("last_heartbeat") and not RFC3339.match(entry["last_heartbeat"]):
        out.append(f"{where}.last_heartbeat is not RFC 3339: {entry['last_heartbeat']!r}")
    for name in ("clock_skew_ms", "last_heartbeat_duration_ms", "replication_primary_canary_age_ms"):
        value = entry.get(name)
        if not (isinstance(value, str) and INT_TEXT.match(value)):
            out.append(f"{where}.{name} must be a string of digits (reference §3.2): {value!r}")
    return out


def status_problems(rtype: str, obj: Any) -> list[str]:
    """Everything about one per-type status object that contradicts the reference."""
    if not isinstance(obj, dict):
        return [f"{rtype}: not an object: {obj!r}"]
    mode = obj.get("mode")
    if mode == "disabled":
        return [] if obj == {"mode": "disabled"} else [f"{rtype}: disabled object has extra keys: {obj!r}"]
    if mode == "bootstrapping":
        ok = set(obj) == {"mode", "cluster_id"} and isinstance(obj["cluster_id"], str)
        return [] if ok else [f"{rtype}: bootstrapping object malformed: {obj!r}"]
    if mode not in ("primary", "secondary"):
        return [f"{rtype}: unknown mode {mode!r}"]
    out = []
    common = {"mode", "cluster_id", "merkle_root", "corrupted_merkle_tree", "last_reindex_epoch",
              "last_corruption_check_epoch", "ssct_generation_counter", "primary_cluster_addr", "state"}
    if mode == "primary":
        wal_field = "last_dr_wal" if rtype == "dr" else "last_performance_wal"
        wanted = common | {"known_secondaries", "last_wal", wal_field, "secondaries"}
        optional: set[str] = set()
    else:
        wanted = common | {"connection_state", "secondary_id", "known_primary_cluster_addrs",
                           "last_remote_wal", "last_start", "primaries"}
        optional = {"merkle_sync_progress"}
    missing, extra = wanted - set(obj), set(obj) - wanted - optional
    if missing or extra:
        out.append(f"{rtype} {mode}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    if not (isinstance(obj.get("cluster_id"), str) and UUID.match(obj["cluster_id"])):
        out.append(f"{rtype}.cluster_id is not a UUID string: {obj.get('cluster_id')!r}")
    if not (isinstance(obj.get("merkle_root"), str) and HEX40.match(obj["merkle_root"])):
        out.append(f"{rtype}.merkle_root is not 40 hex: {obj.get('merkle_root')!r}")
    if type(obj.get("corrupted_merkle_tree")) is not bool:
        out.append(f"{rtype}.corrupted_merkle_tree is not a bool")
    for name in ("last_reindex_epoch", "last_corruption_check_epoch"):
        value = obj.get(name)
        if not (isinstance(value, str) and INT_TEXT.match(value)):
            out.append(f"{rtype}.{name} must be a string of digits (reference §3.1): {value!r}")
    if not _is_int(obj.get("ssct_generation_counter")):
        out.append(f"{rtype}.ssct_generation_counter is not a number")
    if not isinstance(obj.get("primary_cluster_addr"), str):
        out.append(f"{rtype}.primary_cluster_addr is not a string")
    if mode == "primary":
        if obj.get("state") != "running":
            out.append(f"{rtype}.state of a primary = {obj.get('state')!r}")
        known = obj.get("known_secondaries")
        if not (isinstance(known, list) and all(isinstance(k, str) for k in known)):
            out.append(f"{rtype}.known_secondaries is not a list of strings: {known!r}")
        for name in ("last_wal", wal_field):
            if not (_is_int(obj.get(name)) and obj[name] >= 0):
                out.append(f"{rtype}.{name} is not a non-negative number: {obj.get(name)!r}")
        secondaries = obj.get("secondaries")
        if not isinstance(secondaries, list):
            out.append(f"{rtype}.secondaries is not a list")
        else:
            for i, entry in enumerate(secondaries):
                out += _peer_problems(f"{rtype}.secondaries[{i}]", entry, True)
                if isinstance(entry, dict) and isinstance(known, list) and entry.get("node_id") not in known:
                    out.append(f"{rtype}.secondaries[{i}] lists {entry.get('node_id')!r}, not a known secondary")
    else:
        if obj.get("state") not in SECONDARY_STATES:
            out.append(f"{rtype}.state of a secondary = {obj.get('state')!r}")
        if obj.get("connection_state") not in CONNECTION_STATES:
            out.append(f"{rtype}.connection_state = {obj.get('connection_state')!r}")
        if not isinstance(obj.get("secondary_id"), str):
            out.append(f"{rtype}.secondary_id is not a string")
        addrs = obj.get("known_primary_cluster_addrs")
        if not (isinstance(addrs, list) and all(isinstance(a, str) for a in addrs)):
            out.append(f"{rtype}.known_primary_cluster_addrs is not a list of strings: {addrs!r}")
        if not (_is_int(obj.get("last_remote_wal")) and obj["last_remote_wal"] >= 0):
            out.append(f"{rtype}.last_remote_wal is not a non-negative number: {obj.get('last_remote_wal')!r}")
        if not (isinstance(obj.get("last_start"), str) and RFC3339.match(obj["last_start"])):
            out.append(f"{rtype}.last_start of a secondary is not an RFC 3339 time: {obj.get('last_start')!r}")
        primaries = obj.get("primaries")
        if not isinstance(primaries, list):
            out.append(f"{rtype}.primaries is not a list")
        else:
            for i, entry in enumerate(primaries):
                out += _peer_problems(f"{rtype}.primaries[{i}]", entry, False)
        progress = obj.get("merkle_sync_progress")
        counts = ("sync_progress", "sync_total_keys")
        if progress is not None and not (isinstance(progress, dict) and all(_is_int(progress.get(k)) for k in counts)):
            out.append(f"{rtype}.merkle_sync_progress malformed: {progress!r}")
    return out


# -- model -------------------------------------------------------------------------------------

@dataclass
class Cluster:
    """What the machine expects of one cluster."""

    name: str
    mode: str = "disabled"  # DR mode: disabled / primary / secondary
    set_id: str | None = None  # DR replication set (cluster_id)
    term: int = 0  # bumped each time the cluster becomes a primary (its secondaries list starts empty)
    primary: str | None = None  # secondary: the cluster it follows
    link_term: int = -1  # secondary: the primary's term its activation token was minted in
    secondary_id: str = ""
    gen: int = 0  # bumped by every change of role or of primary
    lineage: str = ""  # whose init the replicated+local data descends from (root and batch tokens)
    adoptions: int = 0  # bumped when the storage takes another cluster's WAL numbering
    kv: dict[str, int] = field(default_factory=dict)
    perf: str = "disabled"  # performance mode stored in the cluster's (local-scope) data


class DRMachine(RuleBasedStateMachine):
    lab_root: Path | None = None  # set by the test before running the machine
    fired: collections.Counter[str] = collections.Counter()  # transitions done, over all examples

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="sm-", dir=self.lab_root))
        print(f"--- example in {self.dir.name}")
        self.lab = Lab(self.dir / "lab", clusters=list(CLUSTERS))
        self.lab.start()
        self.http = KeptAlive(self.lab.ca_cert)  # the invariants read every node after each step
        self.control_headers = control_headers(self.lab)
        self.m = {c: Cluster(c, lineage=c) for c in CLUSTERS}
        self.root: dict[str, str] = {}
        self.batch: dict[str, str] = {}
        self.spent_tokens: list[tuple[str, str]] = []
        self.minted = 0
        # Highest values seen, keyed by the window in which they may only grow (see
        # emulator_invariants).
        self.high: dict[tuple[Any, ...], int] = {}
        # cluster -> last_remote_wal observed while it was a secondary (for promote).
        self.last_remote: dict[str, int] = {}
        for c in CLUSTERS:
            self.root[c] = self.lab.token(c)
            self._ok(self.call(c, "POST", "sys/mounts/kv", {"type": "kv"}, token=self.root[c]), 204)
            self._ok(self.call(c, "POST", "sys/policies/acl/dr-ops", {"policy": DR_OPS_POLICY},
                               token=self.root[c]), 204)
            made = self._ok(self.call(c, "POST", "auth/token/create",
                                      {"type": "batch", "policies": ["dr-ops"], "ttl": "2h"}, token=self.root[c]))
            self.batch[c] = made.json["auth"]["client_token"]

    def teardown(self) -> None:
        self.http.close()
        try:
            self.lab.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- plumbing ----------------------------------------------------------------------------

    def call(self, c: str, method: str, path: str, body: Any = None, token: str | None = None) -> Reply:
        base = self.lab.info["clusters"][c]["api_addr"]
        reply = self.http(method, f"{base}/v1/{path}", body, token)
        if method != "GET":
            # Printed, so pytest shows it on failure: Hypothesis prints its own step list only
            # when the final replay fails the same way, which a timing bug need not do.
            shown = {k: v for k, v in (body or {}).items() if k not in ("token", "dr_operation_token")}
            print(f"  {c}: {method} {path} {shown or ''} -> {reply.status}")
        return reply

    @staticmethod
    def _ok(reply: Reply, status: int = 200, warnings: list[str] | None = None) -> Reply:
        assert reply.status == status, reply
        if warnings is not None:
            assert reply.json["warnings"] == warnings, reply
        return reply

    @staticmethod
    def _err(reply: Reply, status: int, message: str) -> None:
        assert (reply.status, reply.errors) == (status, [message]), reply

    def normal_token(self, c: str) -> str:
        return self.root[self.m[c].lineage]

    def dr_token(self, c: str) -> str:
        return self.batch[self.m[c].lineage]

    def status(self, c: str, rtype: str = "dr") -> dict[str, Any]:
        reply = self.call(c, "GET", f"sys/replication/{rtype}/status")
        assert reply.status == 200, reply
        return reply.data

    def in_mode(self, *modes: str) -> list[str]:
        return [c for c in CLUSTERS if self.m[c].mode in modes]

    def streams_from(self, s: str) -> str | None:
        """The primary a secondary should be streaming from, or None."""
        sec = self.m[s]
        if sec.mode != "secondary" or sec.primary is None:
            return None
        p = self.m[sec.primary]
        return sec.primary if p.mode == "primary" and p.term == sec.link_term else None

    def streaming(self) -> list[str]:
        return [c for c in CLUSTERS if self.streams_from(c)]

    def bump(self, c: str) -> None:
        self.m[c].gen += 1

    def mint(self, p: str) -> tuple[str, str]:
        self.minted += 1
        sid = f"sec-{self.minted}"
        reply = self._ok(self.call(p, "POST", "sys/replication/dr/primary/secondary-token", {"id": sid},
                                   token=self.normal_token(p)))
        return sid, reply.json["wrap_info"]["token"]

    def adopt(self, s: str, p: str, sid: str) -> None:
        """Model: ``s`` now follows ``p`` and (once in sync) holds ``p``'s data."""
        sec, prim = self.m[s], self.m[p]
        sec.mode, sec.primary, sec.link_term, sec.secondary_id = "secondary", p, prim.term, sid
        sec.set_id = prim.set_id
        sec.adoptions += 1
        self.last_remote.pop(s, None)
        self.bump(s)

    # -- rules: legal transitions -------------------------------------------------------------

    @initialize(start=st.sampled_from(("nothing", "primary", "pair", "fan-out")), writes=WRITES)
    def topology(self, start: str, writes: list[tuple[str, int]]) -> None:
        # Most interesting sequences start from a working set with data streaming to it; do
        # not leave that to chance (Hypothesis switches whole rules off in some examples).
        if start == "nothing":
            return
        self._enable("a")
        for s in {"pair": ("b",), "fan-out": ("b", "c")}.get(start, ()):
            self._activate("a", s)
        self._write("a", writes)

    @precondition(lambda self: self.in_mode("disabled"))
    @rule(data=st.data())
    def enable_primary(self, data: st.DataObject) -> None:
        self._enable(data.draw(st.sampled_from(self.in_mode("disabled")), label="cluster"))

    def _enable(self, c: str) -> None:
        self._ok(self.call(c, "POST", "sys/replication/dr/primary/enable", {}, token=self.normal_token(c)),
                 warnings=[M.WARN_ENABLE_PRIMARY])
        set_id = self.status(c)["cluster_id"]
        # A fresh set every time, even on a cluster that was a primary before (reference §2.4).
        taken = {self.m[o].set_id for o in CLUSTERS}
        assert set_id not in taken, f"enable on {c} reused replication set id {set_id}"
        m = self.m[c]
        m.mode, m.set_id, m.primary = "primary", set_id, None
        m.term += 1
        self.bump(c)
        self.fired["enable"] += 1

    @precondition(lambda self: self.in_mode("primary") and self.in_mode("disabled"))
    @rule(data=st.data())
    def activate_secondary(self, data: st.DataObject) -> None:
        p = data.draw(st.sampled_from(self.in_mode("primary")), label="primary")
        s = data.draw(st.sampled_from(self.in_mode("disabled")), label="secondary")
        self._activate(p, s)

    def _activate(self, p: str, s: str) -> None:
        sid, token = self.mint(p)
        self._ok(self.call(s, "POST", "sys/replication/dr/secondary/enable", {"token": token},
                           token=self.normal_token(s)), warnings=[M.WARN_ENABLE_SECONDARY])
        self.spent_tokens.append((p, token))
        self.adopt(s, p, sid)
        self.wait_in_sync(s, p)
        self.fired["activate"] += 1

    @precondition(lambda self: self.in_mode("secondary"))
    @rule(data=st.data(), force=st.booleans())
    def promote(self, data: st.DataObject, force: bool) -> None:
        self._promote(data.draw(st.sampled_from(self.in_mode("secondary")), label="secondary"), force)

    @precondition(lambda self: self.streaming())
    @rule(data=st.data(), force=st.booleans())
    def promote_while_primary_up(self, data: st.DataObject, force: bool) -> None:
        # Split brain on purpose: two primaries of one set.  Vault lets an operator do this
        # (reference §7.2 only warns); guarding against it is the collection's job, so the
        # emulator must let tests build it.
        self._promote(data.draw(st.sampled_from(self.streaming()), label="secondary"), force)

    def _promote(self, s: str, force: bool) -> None:
        old_primary = self.streams_from(s)
        reply = self.call(s, "POST", "sys/replication/dr/secondary/promote",
                          {"dr_operation_token": self.dr_token(s), "force": force})
        # Every secondary that streams was brought in sync by the last invariant check, and
        # one that does not stream has nothing to catch up on: plain promote must work too.
        self._ok(reply, warnings=[M.WARN_PROMOTE])
        m = self.m[s]
        m.mode, m.primary = "primary", None
        m.term += 1
        self.bump(s)
        after = self.status(s)
        assert after["mode"] == "primary" and after["cluster_id"] == m.set_id, after
        # The promoted cluster numbers its WAL on from what it received from its primary.
        assert after["last_wal"] >= self.last_remote.get(s, 0), (after, self.last_remote.get(s))
        if old_primary is not None:
            # Two primaries of one set: allowed, like Vault; fencing is the operator's job.
            other = self.status(old_primary)
            assert other["mode"] == "primary" and other["cluster_id"] == after["cluster_id"], other
            self.fired["two primaries"] += 1
        self.fired[f"promote (force={force})"] += 1

    @precondition(lambda self: self.in_mode("primary"))
    @rule(data=st.data())
    def demote(self, data: st.DataObject) -> None:
        p = data.draw(st.sampled_from(self.in_mode("primary")), label="primary")
        self._ok(self.call(p, "POST", "sys/replication/dr/primary/demote", {}, token=self.normal_token(p)),
                 warnings=[M.WARN_DEMOTE])
        m = self.m[p]
        m.mode, m.primary = "secondary", None
        self.last_remote.pop(p, None)
        self.bump(p)
        after = self.status(p)
        assert (after["mode"], after["cluster_id"], after["state"], after["primaries"]) == (
            "secondary", m.set_id, "idle", []), after
        self.fired["demote"] += 1

    @precondition(lambda self: self.in_mode("secondary"))
    @rule(data=st.data())
    def update_primary(self, data: st.DataObject) -> None:
        s = data.draw(st.sampled_from(self.in_mode("secondary")), label="secondary")
        # None: an empty token, "stay a secondary but forget the primary" (reference §2.12).
        p = data.draw(st.sampled_from([*self.in_mode("primary"), None]), label="new primary")
        if p is None:
            self._ok(self.call(s, "POST", "sys/replication/dr/secondary/update-primary",
                               {"dr_operation_token": self.dr_token(s), "token": ""}),
                     warnings=[M.WARN_UPDATE_PRIMARY])
            m = self.m[s]
            m.primary, m.link_term = None, -1
            self.bump(s)
            after = self.status(s)
            assert (after["mode"], after["state"], after["connection_state"], after["primaries"]) == (
                "secondary", "idle", "idle", []), after
            self.fired["update-primary (forget)"] += 1
            return
        sid, token = self.mint(p)
        self._ok(self.call(s, "POST", "sys/replication/dr/secondary/update-primary",
                           {"dr_operation_token": self.dr_token(s), "token": token}),
                 warnings=[M.WARN_UPDATE_PRIMARY])
        self.spent_tokens.append((p, token))
        self.adopt(s, p, sid)
        self.wait_in_sync(s, p)
        self.fired["update-primary"] += 1

    @precondition(lambda self: self.in_mode("primary", "secondary"))
    @rule(data=st.data())
    def disable(self, data: st.DataObject) -> None:
        c = data.draw(st.sampled_from(self.in_mode("primary", "secondary")), label="cluster")
        m = self.m[c]
        if m.mode == "primary":
            reply = self.call(c, "POST", "sys/replication/dr/primary/disable", {}, token=self.normal_token(c))
        else:
            reply = self.call(c, "POST", "sys/replication/dr/secondary/disable",
                              {"dr_operation_token": self.dr_token(c)})
        self._ok(reply, warnings=[M.WARN_DISABLE])
        m.mode, m.primary, m.link_term, m.set_id = "disabled", None, -1, None
        self.last_remote.pop(c, None)
        self.bump(c)
        self.fired["disable"] += 1

    @precondition(lambda self: self.in_mode("primary"))
    @rule(data=st.data(), writes=WRITES)
    def write(self, data: st.DataObject, writes: list[tuple[str, int]]) -> None:
        self._write(data.draw(st.sampled_from(self.in_mode("primary")), label="primary"), writes)

    def _write(self, p: str, writes: list[tuple[str, int]]) -> None:
        for key, value in writes:
            self._ok(self.call(p, "POST", f"kv/{key}", {"v": value}, token=self.normal_token(p)), 204)
            self.m[p].kv[key] = value
        self.fired["write"] += 1

    @precondition(lambda self: [c for c in self.in_mode("primary", "disabled") if self.m[c].perf == "disabled"])
    @rule(data=st.data())
    def enable_performance_primary(self, data: st.DataObject) -> None:
        c = data.draw(st.sampled_from([c for c in self.in_mode("primary", "disabled")
                                       if self.m[c].perf == "disabled"]), label="cluster")
        self._ok(self.call(c, "POST", "sys/replication/performance/primary/enable", {},
                           token=self.normal_token(c)), warnings=[M.WARN_ENABLE_PRIMARY])
        self.m[c].perf = "primary"
        self.fired["performance enable"] += 1

    # -- rules: wrong states answer the documented error and change nothing --------------------

    @rule(c=st.sampled_from(CLUSTERS), action=st.sampled_from(
        ("enable_primary", "demote", "promote", "activate", "update_primary", "secondary_token")))
    def wrong_state(self, c: str, action: str) -> None:
        # One rule for all of them, so that they do not crowd out the legal transitions.
        getattr(self, f"wrong_{action}")(c)
        self.fired["wrong state"] += 1

    def wrong_enable_primary(self, c: str) -> None:
        mode = self.m[c].mode
        if mode == "disabled":
            return  # legal; enable_primary covers it
        reply = self.call(c, "POST", "sys/replication/dr/primary/enable", {}, token=self.normal_token(c))
        self._err(reply, 400, M.REPL_ALREADY_PRIMARY if mode == "primary" else M.DR_SECONDARY_PATH_DISABLED)

    def wrong_demote(self, c: str) -> None:
        mode = self.m[c].mode
        if mode == "primary":
            return
        reply = self.call(c, "POST", "sys/replication/dr/primary/demote", {}, token=self.normal_token(c))
        self._err(reply, 400, M.REPL_NOT_PRIMARY.format(action="demote") if mode == "disabled"
                  else M.DR_SECONDARY_PATH_DISABLED)

    def wrong_promote(self, c: str) -> None:
        mode = self.m[c].mode
        if mode == "secondary":
            missing = self.call(c, "POST", "sys/replication/dr/secondary/promote", {})
            self._err(missing, 400, M.REPL_DR_TOKEN_REQUIRED)
            forged = self.call(c, "POST", "sys/replication/dr/secondary/promote",
                               {"dr_operation_token": "hvb.not-a-token"})
            self._err(forged, 403, M.REPL_DR_TOKEN_INVALID)
            return
        reply = self.call(c, "POST", "sys/replication/dr/secondary/promote",
                          {"dr_operation_token": self.dr_token(c)}, token=self.normal_token(c))
        self._err(reply, 400, M.REPL_ALREADY_PRIMARY if mode == "primary"
                  else M.REPL_NOT_SECONDARY.format(action="promote"))

    def wrong_activate(self, c: str) -> None:
        mode = self.m[c].mode
        if mode == "disabled":
            if not self.spent_tokens:
                return
            # A spent activation token fails before anything is wiped.
            before = self.control_state(c)["last_wal"]
            minter, token = self.spent_tokens[-1]
            reply = self.call(c, "POST", "sys/replication/dr/secondary/enable", {"token": token},
                              token=self.normal_token(c))
            # The unwrap goes to the cluster that minted the token; a DR secondary refuses it.
            why = M.DR_SECONDARY_PATH_DISABLED if self.m[minter].mode == "secondary" else M.WRAPPING_TOKEN_INVALID
            assert reply.status == 400 and reply.errors[0] == M.REPL_UNWRAP_FAILED.format(
                status=400, message=why), reply
            assert self.control_state(c)["last_wal"] == before
            self._ok(self.call(c, "GET", "sys/mounts/kv", token=self.normal_token(c)))
            return
        reply = self.call(c, "POST", "sys/replication/dr/secondary/enable", {"token": "x"},
                          token=self.normal_token(c))
        self._err(reply, 400, M.REPL_ENABLE_SECONDARY_ON_PRIMARY if mode == "primary"
                  else M.DR_SECONDARY_PATH_DISABLED)

    def wrong_update_primary(self, c: str) -> None:
        mode = self.m[c].mode
        if mode == "secondary":
            both = self.call(c, "POST", "sys/replication/dr/secondary/update-primary",
                             {"dr_operation_token": self.dr_token(c), "token": "x",
                              "update_primary_addrs": ["https://127.0.0.1:1"]})
            self._err(both, 400, M.REPL_TOKEN_AND_ADDRS)
            return
        reply = self.call(c, "POST", "sys/replication/dr/secondary/update-primary",
                          {"dr_operation_token": self.dr_token(c), "token": ""}, token=self.normal_token(c))
        self._err(reply, 400, M.REPL_NOT_SECONDARY.format(action="update the primary"))

    def wrong_secondary_token(self, c: str) -> None:
        mode = self.m[c].mode
        if mode == "primary":
            return
        reply = self.call(c, "POST", "sys/replication/dr/primary/secondary-token", {"id": "nope"},
                          token=self.normal_token(c))
        self._err(reply, 400, M.REPL_NOT_PRIMARY.format(action="generate a secondary activation token")
                  if mode == "disabled" else M.DR_SECONDARY_PATH_DISABLED)

    # -- invariants -----------------------------------------------------------------------------

    def control_state(self, c: str) -> dict[str, Any]:
        base = self.lab.info["clusters"][c]["api_addr"]
        reply = self.http("GET", f"{base}/_vaultlab/state", headers=self.control_headers)
        assert reply.status == 200, reply
        return reply.json

    def never_lower(self, key: tuple[Any, ...], value: int) -> None:
        seen = self.high.get(key)
        assert seen is None or value >= seen, f"{key}: went back from {seen} to {value}"
        self.high[key] = value if seen is None else max(seen, value)

    def read_store(self, c: str) -> list[tuple[str, str, str]]:
        """The replicated and local keys of a cluster, read from its SQLite file (read-only)."""
        path = self.dir / "lab" / "clusters" / c / "storage.db"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT key, value, scope FROM kv WHERE scope IN ('replicated', 'local') "
                                "ORDER BY key").fetchall()
        finally:
            conn.close()

    def wait_in_sync(self, s: str, p: str) -> None:
        """Wait until ``s`` has everything ``p`` wrote, then compare their data."""
        deadline = time.monotonic() + SYNC_TIMEOUT
        last: tuple[Any, ...] = ()
        primary_api = self.lab.info["clusters"][p]["api_addr"]
        while True:
            sec = self.status(s)
            prim = self.status(p)
            assert prim["mode"] == "primary", prim
            if sec.get("mode") == "secondary" and sec["state"] == "stream-wals":
                # Read the secondary first: what it received cannot be ahead of the primary.
                # (Before it has reached a new primary it still shows where the old one was.)
                assert sec["last_remote_wal"] <= prim["last_wal"], (sec, prim)
            ready = (sec.get("mode") == "secondary" and sec["state"] == "stream-wals"
                     and sec["connection_state"] == "ready" and sec["last_remote_wal"] == prim["last_wal"]
                     and sec["merkle_root"] == prim["merkle_root"])
            if ready:
                mine, theirs = self.read_store(s), self.read_store(p)
                if self.status(p)["last_wal"] == prim["last_wal"]:  # nothing written meanwhile
                    assert mine == theirs, f"{s} caught up with {p} (merkle equal) but its data differs"
                    assert sec["cluster_id"] == prim["cluster_id"] == self.m[s].set_id
                    assert sec["secondary_id"] == self.m[s].secondary_id
                    assert [x["api_address"] for x in sec["primaries"]] == [primary_api], sec
                    assert self.m[s].secondary_id in prim["known_secondaries"], prim
                    break
            last = (sec, prim)
            if time.monotonic() > deadline:
                raise AssertionError(f"{s} did not catch up with {p} within {SYNC_TIMEOUT}s: {last}")
            time.sleep(0.05)
        self.last_remote[s] = sec["last_remote_wal"]
        sm, pm = self.m[s], self.m[p]
        sm.kv, sm.perf, sm.lineage = copy.deepcopy(pm.kv), pm.perf, pm.lineage

    @invariant()
    def emulator_invariants(self) -> None:
        """What must hold after every step.

        * Every status endpoint answers 200 with the field types of reference §3, and modes,
          set ids and the performance mode match the model (a DR secondary shows performance
          as disabled; it holds, and on promotion takes over, its primary's performance role).
        * WAL positions never go backwards within a window where they are comparable:
          - a primary's ``last_wal`` / ``last_dr_wal`` while it stays primary (same gen);
          - a secondary's ``last_remote_wal`` while it follows the same primary (same gen)
            and that primary stays the primary it was (same gen);
          - the storage's own sequence (control API ``last_wal``) until the cluster adopts
            another cluster's data: activation wipes it and a snapshot from a different
            primary (activation, update-primary) restarts its numbering at that primary's
            position, so a promoted DR secondary numbers on from its primary (reference
            §2.10) rather than from its own past.  Both are bounded by ``adoptions``.
        * A secondary that streams is caught up within SYNC_TIMEOUT, and then its merkle root
          and its replicated + local data equal its primary's.
        * KV data read back from every primary equals what the model wrote there or inherited.
        """
        for c in CLUSTERS:
            m = self.m[c]
            both = self.call(c, "GET", "sys/replication/status")
            assert both.status == 200 and isinstance(both.data, dict), both
            assert set(both.data) == {"dr", "performance"}, both
            seen = {}
            for rtype in ("dr", "performance"):
                one = seen[rtype] = self.status(c, rtype)
                problems = status_problems(rtype, one) + status_problems(rtype, both.data[rtype])
                assert not problems, f"{c}: {problems}"
                assert one["mode"] == both.data[rtype]["mode"], (one, both.data)
            dr, perf = seen["dr"], seen["performance"]
            assert dr["mode"] == m.mode, f"{c}: dr mode {dr['mode']!r}, model {m.mode!r}"
            if m.mode != "disabled":
                assert dr["cluster_id"] == m.set_id, (c, dr, m)
            want_perf = "disabled" if m.mode == "secondary" else m.perf
            assert perf["mode"] == want_perf, f"{c}: performance mode {perf['mode']!r}, model {want_perf!r}"

            self.never_lower(("storage", c, m.adoptions), self.control_state(c)["last_wal"])
            if m.mode == "primary":
                self.never_lower(("last_wal", c, m.gen), dr["last_wal"])
                self.never_lower(("last_dr_wal", c, m.gen), dr["last_dr_wal"])
                assert dr["last_dr_wal"] <= dr["last_wal"], dr
            elif m.mode == "secondary":
                p = self.streams_from(c)
                window = ("last_remote_wal", c, m.gen, m.primary, self.m[m.primary].gen if m.primary else None)
                self.never_lower(window, dr["last_remote_wal"])
                if m.primary is None:
                    assert (dr["state"], dr["connection_state"], dr["primaries"]) == ("idle", "idle", []), dr
                if p is not None:
                    self.wait_in_sync(c, p)
                    self.never_lower(window, self.last_remote[c])

        for c in self.in_mode("primary"):
            for key in KEYS:
                reply = self.call(c, "GET", f"kv/{key}", token=self.normal_token(c))
                if key in self.m[c].kv:
                    assert reply.status == 200 and reply.data == {"v": self.m[c].kv[key]}, (c, key, reply)
                else:
                    assert reply.status == 404, (c, key, reply)


def test_dr_state_machine(tmp_path: Path) -> None:
    """Fixed examples (derandomized, no example database), so every run checks the same steps.

    Every example starts a lab, so shrinking a failure costs minutes: by default a failure is
    reported as found (the steps are printed).  Set VAULTLAB_SM_SHRINK=1 to have Hypothesis
    reduce it to a minimal sequence of steps first.
    """
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if os.environ.get("VAULTLAB_SM_SHRINK"):
        phases.append(Phase.shrink)
    DRMachine.lab_root = tmp_path
    DRMachine.fired.clear()
    run_state_machine_as_test(DRMachine, settings=settings(
        max_examples=int(os.environ.get("VAULTLAB_SM_EXAMPLES") or 8),
        stateful_step_count=int(os.environ.get("VAULTLAB_SM_STEPS") or 40),
        deadline=None,
        derandomize=True,
        database=None,
        phases=phases,
        report_multiple_bugs=False,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    ))
    # The examples are fixed: make sure they still reach every transition (a rule change can
    # silently starve one), so that passing means something.
    print("transitions:", dict(DRMachine.fired))
    wanted = {"enable", "activate", "promote (force=False)", "promote (force=True)", "two primaries", "demote",
              "update-primary", "update-primary (forget)", "disable", "write", "performance enable", "wrong state"}
    assert not wanted - set(DRMachine.fired), f"never exercised: {sorted(wanted - set(DRMachine.fired))}"


# -- regressions found by the machine ----------------------------------------------------------

def test_update_primary_does_not_report_the_old_primary_as_connected(tmp_path: Path) -> None:
    """Found by the machine: right after update-primary with a token the secondary's status
    still said ``stream-wals``/``ready`` with the *old* primary in ``primaries`` (stale stream
    progress), so a caller waiting for "streaming and caught up with the new primary" was done
    before the secondary had even contacted it (both primaries held the same data here)."""
    from conftest import Api, wait_for

    with Lab(tmp_path / "lab", clusters=list(CLUSTERS)) as lab:
        a, b, c = (Api(lab, n) for n in CLUSTERS)
        assert a("POST", "sys/policies/acl/dr-ops", {"policy": DR_OPS_POLICY}).status == 204
        batch = a("POST", "auth/token/create", {"type": "batch", "policies": ["dr-ops"], "ttl": "1h"})
        ops = batch.json["auth"]["client_token"]
        assert a("POST", "sys/replication/dr/primary/enable", {}).status == 200

        def dr(api: Api) -> dict[str, Any]:
            return api("GET", "sys/replication/dr/status", token=None).data

        def attach(primary: Api, secondary: Api, sid: str) -> None:
            token = primary("POST", "sys/replication/dr/primary/secondary-token", {"id": sid}, token=a.token)
            reply = secondary("POST", "sys/replication/dr/secondary/enable",
                              {"token": token.json["wrap_info"]["token"]})
            assert reply.status == 200, reply
            wait_for(lambda: dr(secondary).get("state") == "stream-wals"
                     and dr(secondary)["merkle_root"] == dr(primary)["merkle_root"], timeout=10, what=f"{sid} in sync")

        attach(a, c, "c1")
        promoted = c("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": ops, "force": True})
        assert promoted.status == 200, promoted  # two primaries of one set, same data
        attach(a, b, "b1")
        old = dr(b)
        assert [p["api_address"] for p in old["primaries"]] == [lab.cluster("a")["api_addr"]]

        token = c("POST", "sys/replication/dr/primary/secondary-token", {"id": "b2"}, token=a.token)
        moved = b("POST", "sys/replication/dr/secondary/update-primary",
                  {"dr_operation_token": ops, "token": token.json["wrap_info"]["token"]})
        assert moved.status == 200, moved
        now = dr(b)
        addrs = [p["api_address"] for p in now["primaries"]]
        assert lab.cluster("a")["api_addr"] not in addrs, now
        if now["state"] == "stream-wals":  # the stream loop may already have reached c
            assert addrs == [lab.cluster("c")["api_addr"]] and now["connection_state"] == "ready", now
        else:
            assert (now["state"], now["connection_state"], addrs) == ("idle", "connecting", []), now
        wait_for(lambda: [p["api_address"] for p in dr(b)["primaries"]] == [lab.cluster("c")["api_addr"]]
                 and dr(b)["state"] == "stream-wals", timeout=10, what="b streaming from c")


def test_promoted_secondary_numbers_on_from_a_merkle_equal_primary(tmp_path: Path) -> None:
    """Found by the machine: a DR secondary re-pointed (update-primary) at a primary holding
    the same data under a higher WAL index skipped the snapshot (merkle-equal) but kept its
    own, lower WAL sequence; promoted, its last_wal fell below the last_remote_wal it had
    reported, re-using indexes its primary had already used."""
    from conftest import Api, wait_for

    with Lab(tmp_path / "lab", clusters=list(CLUSTERS)) as lab:
        a, b, c = (Api(lab, n) for n in CLUSTERS)
        assert a("POST", "sys/policies/acl/dr-ops", {"policy": DR_OPS_POLICY}).status == 204
        assert a("POST", "sys/mounts/kv", {"type": "kv"}).status == 204
        assert a("POST", "kv/k0", {"v": 0}).status == 204
        batch = a("POST", "auth/token/create", {"type": "batch", "policies": ["dr-ops"], "ttl": "1h"})
        ops = batch.json["auth"]["client_token"]
        assert a("POST", "sys/replication/dr/primary/enable", {}).status == 200

        def dr(api: Api) -> dict[str, Any]:
            return api("GET", "sys/replication/dr/status", token=None).data

        def follow(primary: Api, secondary: Api, sid: str, path: str, extra: dict[str, Any]) -> None:
            token = primary("POST", "sys/replication/dr/primary/secondary-token", {"id": sid}, token=a.token)
            reply = secondary("POST", f"sys/replication/dr/secondary/{path}",
                              {"token": token.json["wrap_info"]["token"], **extra})
            assert reply.status == 200, reply

            def synced() -> bool:
                s, p = dr(secondary), dr(primary)
                return (s.get("state") == "stream-wals" and s["merkle_root"] == p["merkle_root"]
                        and s["last_remote_wal"] == p["last_wal"])
            wait_for(synced, timeout=10, what=f"{sid} in sync")

        follow(a, c, "c1", "enable", {})
        follow(a, b, "b1", "enable", {})
        assert c("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": ops}).status == 200
        # Writes that change no data: c's WAL moves on, its merkle root does not.
        for _ in range(3):
            assert c("POST", "kv/k0", {"v": 0}, token=a.token).status == 204
        follow(c, b, "b2", "update-primary", {"dr_operation_token": ops})
        received = dr(b)["last_remote_wal"]
        assert b("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": ops}).status == 200
        assert dr(b)["last_wal"] >= received


def test_storage_advance_only_moves_forward(tmp_path: Path) -> None:
    from vaultlab.storage import Storage

    with Storage(tmp_path / "s.db") as store:
        store.put("k", 1)
        store.advance(10)
        assert store.last_wal() == 10
        store.advance(4)
        assert store.last_wal() == 10
        assert store.put("k", 2) == 11
