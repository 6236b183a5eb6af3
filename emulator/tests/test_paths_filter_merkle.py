"""A performance secondary under a paths filter holds, and reports the merkle root of, exactly the
primary's filtered view, whatever happens to the filter, the mounts and the connection; reindex
and merkle-check converge (issue 10, gap 6).

One lab (a performance primary and its secondary, single-node clusters) serves every test of the
module (emulator-test hands whole files to its workers): each test, and each state-machine
example, starts by bringing it back to "no filter, no test mounts, connected, in sync", which
API calls can do here (nothing is wiped), so no example pays for a lab start-up.
"""

from __future__ import annotations

import collections
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import Api, call, wait_for
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from test_replication_dr import status
from test_replication_perf import root_on
from test_state_machine import status_problems

from vaultlab.replication.filters import Filter
from vaultlab.storage import merkle_of
from vaultlab.testing import Lab

MOUNTS = ("m0", "m1", "m2")
KEYS = ("k0", "k1")
SID = "perf-1"
FILTER_PATH = f"sys/replication/performance/primary/paths-filter/{SID}"
SYNC_TIMEOUT = 10.0


class Pair:
    """The shared lab: primary ``p``, performance secondary ``s`` (``admin`` = a root token of s)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.p, self.s = Api(lab, "primary"), Api(lab, "perf")
        keys = lab.info["clusters"]["primary"]["unseal_keys_b64"][:lab.info["clusters"]["primary"]["threshold"]]
        assert self.p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        token = self.p("POST", "sys/replication/performance/primary/secondary-token", {"id": SID})
        assert self.s("POST", "sys/replication/performance/secondary/enable",
                      {"token": token.json["wrap_info"]["token"]}).status == 200
        wait_for(lambda: status(self.s, "performance").get("state") == "stream-wals", timeout=20,
                 what="perf secondary streaming")
        # Its root token lives in the secondary's local scope: it survives every merkle-sync.
        self.admin = root_on(self.s, keys)
        self.partitioned = False

    def rows(self, cluster: str) -> list[dict[str, Any]]:
        """The replicated keys a cluster holds, read from its SQLite file (read-only)."""
        path = Path(self.lab.dir) / "clusters" / cluster / "storage.db"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return [{"key": k, "value": json.loads(v)} for k, v in
                    conn.execute("SELECT key, value FROM kv WHERE scope = 'replicated' ORDER BY key")]
        finally:
            conn.close()

    def view(self) -> list[dict[str, Any]]:
        """What the primary ships to the secondary now: its replicated keys through the filter."""
        rows = self.rows("primary")
        flt = self.p("GET", FILTER_PATH)
        if flt.status == 404:
            return rows
        assert flt.status == 200, flt
        mounts = next((r["value"] for r in rows if r["key"] == "core/mounts"), None)
        return Filter(flt.data, mounts).items(rows)

    def converged(self) -> tuple[bool, str]:
        """Streaming, caught up, holding exactly the filtered view, and reporting its root."""
        ps, ss = status(self.p, "performance"), status(self.s, "performance")
        if (ss.get("state"), ss.get("connection_state")) != ("stream-wals", "ready"):
            return False, f"secondary {ss.get('state')}/{ss.get('connection_state')}"
        if ss["last_remote_wal"] < ps["last_performance_wal"]:
            return False, f"last_remote_wal {ss['last_remote_wal']} < {ps['last_performance_wal']}"
        view, held = self.view(), self.rows("perf")
        if held != view:
            theirs, mine = {r["key"]: r["value"] for r in view}, {r["key"]: r["value"] for r in held}
            return False, (f"data differs: missing {sorted(set(theirs) - set(mine))}, extra "
                           f"{sorted(set(mine) - set(theirs))}, other values "
                           f"{sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])}")
        if status(self.p, "performance")["last_performance_wal"] != ps["last_performance_wal"]:
            return False, "primary wrote meanwhile"
        if ss["merkle_root"] != merkle_of(held):
            return False, f"reported root {ss['merkle_root']} is not the root of what it holds {merkle_of(held)}"
        return True, "in sync"

    def wait_converged(self, timeout: float = SYNC_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            ok, why = self.converged()
            if ok:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"perf secondary did not converge within {timeout}s: {why}")
            time.sleep(0.05)

    def set_partition(self, cut: bool) -> None:
        if cut:
            self.lab.partition("primary", "perf")
        else:
            self.lab.heal()
        self.partitioned = cut

    def reset(self) -> None:
        """No partition, no filter, no test mount; in sync."""
        self.set_partition(False)
        self.p("DELETE", FILTER_PATH)
        for mount in MOUNTS:
            assert self.p("DELETE", f"sys/mounts/{mount}").status == 204
        self.wait_converged()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with Lab(tmp_path_factory.mktemp("filter-merkle") / "lab", clusters=["primary", "perf"]) as lab:
        yield Pair(lab)


def _mount_with_data(api: Api, mount: str) -> None:
    assert api("POST", f"sys/mounts/{mount}", {"type": "kv"}).status == 204
    assert api("POST", f"{mount}/k0", {"v": mount}).status == 204


def test_filter_removed_while_disconnected_brings_the_hidden_mounts_back(pair: Pair) -> None:
    """Failed before the fix: the handshake let the secondary catch up from its WAL position
    although it held another (filtered) view, so the mounts the filter had hidden never came
    back and its merkle root stayed apart from the primary's for good, reindex or not."""
    pair.reset()
    p, s = pair.p, pair.s
    for mount in ("m0", "m1"):
        _mount_with_data(p, mount)
    assert p("POST", FILTER_PATH, {"mode": "deny", "paths": ["m1/"]}).status == 204
    pair.wait_converged()
    assert s("GET", "m1/k0", token=pair.admin).status != 200
    assert status(s, "performance")["merkle_root"] != status(p, "performance")["merkle_root"]

    pair.set_partition(True)
    wait_for(lambda: status(s, "performance")["connection_state"] != "ready", timeout=10,
             what="secondary notices the partition")
    assert p("DELETE", FILTER_PATH).status == 204
    assert p("POST", "m0/k1", {"v": "while cut"}).status == 204
    pair.set_partition(False)
    pair.wait_converged()
    assert s("GET", "m1/k0", token=pair.admin).data == {"v": "m1"}
    # Unfiltered: the filtered view is the primary's whole replicated data.
    assert status(s, "performance")["merkle_root"] == status(p, "performance")["merkle_root"]


def test_reindex_of_the_primary_resyncs_a_drifted_secondary(pair: Pair) -> None:
    """Failed before the fix: a primary's reindex reached none of its secondaries, so one whose
    copy had drifted (a key lost underneath it) kept streaming on from its WAL position."""
    pair.reset()
    p, s = pair.p, pair.s
    for mount in ("m0", "m2"):
        _mount_with_data(p, mount)
    assert p("POST", FILTER_PATH, {"mode": "allow", "paths": ["m0/"]}).status == 204
    pair.wait_converged()
    path = Path(pair.lab.dir) / "clusters" / "perf" / "storage.db"
    with sqlite3.connect(path, timeout=10) as conn:  # lose one key underneath the node
        lost = conn.execute("DELETE FROM kv WHERE scope = 'replicated' AND key LIKE 'logical/%'").rowcount
    assert lost == 1
    assert not pair.converged()[0]
    assert p("POST", "m0/k1", {"v": 1}).status == 204  # streams on: the WAL does not heal the loss
    time.sleep(0.5)
    assert not pair.converged()[0]

    reindexed = p("POST", "sys/replication/reindex", {})
    assert reindexed.status == 200 and reindexed.json["warnings"], reindexed
    pair.wait_converged()
    assert s("GET", "m0/k0", token=pair.admin).data == {"v": "m0"}
    assert status(p, "performance")["last_reindex_epoch"] != "0"


# -- the state machine ---------------------------------------------------------------------------

class FilterMachine(RuleBasedStateMachine):
    """Mounts come and go, data is written, the filter is set / changed / removed, the link is cut
    and healed, reindex and merkle-check run on either side; after every step (once connected)
    the secondary holds exactly the filtered view and reports its root (``Pair.converged``), and
    its data read over the API matches the model."""

    pair: Pair
    fired: collections.Counter[str] = collections.Counter()

    @initialize(mounts=st.sets(st.sampled_from(MOUNTS)), data=st.data())
    def start(self, mounts: set[str], data: st.DataObject) -> None:
        self.pair.reset()
        self.mounts: dict[str, dict[str, Any]] = {}
        self.filter: tuple[str, frozenset[str]] | None = None
        # Start with data in place, so that a filter has something to hide from the beginning.
        for mount in sorted(mounts):
            _mount_with_data(self.pair.p, mount)
            self.mounts[mount] = {"k0": mount}
        if data.draw(st.booleans(), label="filtered"):
            self.set_filter(data)
            self.fired["set filter"] += 1

    def api(self, side: str) -> Api:
        return self.pair.p if side == "primary" else self.pair.s

    def token(self, side: str) -> str | None:
        return None if side == "primary" else self.pair.admin  # None: the Api's own (root) token

    def visible(self) -> set[str]:
        if self.filter is None:
            return set(self.mounts)
        mode, paths = self.filter
        return {m for m in self.mounts if (m in paths) == (mode == "allow")}

    # One rule that draws the action: Hypothesis then spreads its few fixed examples over all
    # of them (as separate rules, whole examples went by without a filter change).
    @rule(data=st.data(), action=st.sampled_from((
        "unfilter", "set filter", "write", "reindex", "merkle-check", "mount", "unmount")))
    def step(self, data: st.DataObject, action: str) -> None:
        p = self.pair.p
        if action in ("reindex", "merkle-check"):
            side = data.draw(st.sampled_from(("primary", "secondary")), label="side")
            body = {"force": True} if action == "reindex" else {}
            reply = self.api(side)("POST", f"sys/replication/{action}", body, token=self.token(side) or "default")
            assert reply.status == 200, reply
            if action == "merkle-check":
                assert reply.data["merkle_corruption_report"]["corrupted_root"] is False, reply
            self.fired[f"{action} {side}"] += 1
            return
        possible = {"mount": len(self.mounts) < len(MOUNTS), "unmount": bool(self.mounts),
                    "write": bool(self.mounts), "unfilter": self.filter is not None, "set filter": True}
        if not possible[action]:
            return
        # The change lands while the secondary is cut off (it learns of it only at its next
        # handshake, not from a refused WAL poll) or while it streams.
        cut = data.draw(st.booleans(), label="link cut")
        if cut:
            self.pair.set_partition(True)
            wait_for(lambda: status(self.pair.s, "performance")["connection_state"] != "ready", timeout=10,
                     what="secondary notices the partition")
        if action == "mount":
            mount = data.draw(st.sampled_from([m for m in MOUNTS if m not in self.mounts]), label="mount")
            assert p("POST", f"sys/mounts/{mount}", {"type": "kv"}).status == 204
            self.mounts[mount] = {}
        elif action in ("unmount", "write"):
            mount = data.draw(st.sampled_from(sorted(self.mounts)), label="mount")
            if action == "unmount":
                assert p("DELETE", f"sys/mounts/{mount}").status == 204
                del self.mounts[mount]
            else:
                key, value = data.draw(st.sampled_from(KEYS), label="key"), data.draw(st.integers(0, 2), label="v")
                assert p("POST", f"{mount}/{key}", {"v": value}).status == 204
                self.mounts[mount][key] = value
        elif action == "set filter":
            self.set_filter(data)
        else:
            assert p("DELETE", FILTER_PATH).status == 204
            self.filter = None
        if cut:
            self.pair.set_partition(False)
        self.fired[action + (" (cut)" if cut else "")] += 1

    def set_filter(self, data: st.DataObject) -> None:
        mode = data.draw(st.sampled_from(("allow", "deny")), label="mode")
        paths = data.draw(st.frozensets(st.sampled_from(MOUNTS), min_size=1), label="paths")
        body = {"mode": mode, "paths": [f"{m}/" for m in sorted(paths)]}
        assert self.pair.p("POST", FILTER_PATH, body).status == 204
        self.filter = (mode, paths)

    @invariant()
    def holds_the_filtered_view(self) -> None:
        p, s = self.pair.p, self.pair.s
        for api in (p, s):
            one = status(api, "performance")
            assert not status_problems("performance", one), status_problems("performance", one)
        self.pair.wait_converged()
        shown = {m.rstrip("/") for m in s("GET", "sys/mounts", token=self.pair.admin).data}
        assert shown & set(MOUNTS) == self.visible(), (shown, self.mounts, self.filter)
        for mount in self.visible():
            for key in KEYS:
                reply = s("GET", f"{mount}/{key}", token=self.pair.admin)
                if key in self.mounts[mount]:
                    assert reply.data == {"v": self.mounts[mount][key]}, (mount, key, reply)
                else:
                    assert reply.status == 404, (mount, key, reply)
        if self.filter is None:
            assert status(s, "performance")["merkle_root"] == status(p, "performance")["merkle_root"]


def test_paths_filter_state_machine(pair: Pair) -> None:
    """Fixed examples (derandomized); VAULTLAB_FILTER_SM_EXAMPLES / _STEPS widen the search."""
    FilterMachine.pair = pair
    FilterMachine.fired.clear()
    try:
        run_state_machine_as_test(FilterMachine, settings=settings(
            max_examples=int(os.environ.get("VAULTLAB_FILTER_SM_EXAMPLES") or 4),
            stateful_step_count=int(os.environ.get("VAULTLAB_FILTER_SM_STEPS") or 15),
            deadline=None, derandomize=True, database=None, print_blob=False,
            phases=[Phase.explicit, Phase.reuse, Phase.generate]
            + ([Phase.shrink] if os.environ.get("VAULTLAB_SM_SHRINK") else []),
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ))
    finally:
        pair.set_partition(False)
    print("transitions:", dict(FilterMachine.fired))
    # The fixed examples must still reach every action, and the filter changes made while the
    # secondary is cut off (the case gap 6 was about).
    fired = {name.replace(" (cut)", "") for name in FilterMachine.fired} | set(FilterMachine.fired)
    wanted = {"mount", "unmount", "write", "set filter", "unfilter", "set filter (cut)", "unfilter (cut)",
              "reindex primary", "reindex secondary", "merkle-check primary", "merkle-check secondary"}
    assert not wanted - fired, f"never exercised: {sorted(wanted - fired)}"
