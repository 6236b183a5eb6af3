# SPDX-License-Identifier: GPL-3.0-or-later
"""replication_lag: time until DR and performance secondaries hold N fresh primary writes.

Baseline = the N sequential KV writes on the primary alone. The measured span runs from the
first write until the secondary's ``last_remote_wal`` reaches the WAL position the primary
ships for that type, so ``ratio`` = (writes + catch-up) / writes: 1.0 would mean the
secondaries keep up with the writer without any tail.
"""

from __future__ import annotations

import time
from typing import Any

from . import _common as c

NAME = "replication_lag"
CLUSTERS = ["primary", "dr", "perf"]
SECONDARIES = [("dr", "dr"), ("perf", "performance")]


def write_entries(client: c.Vault, n: int, round_no: int) -> list[float]:
    latencies = []
    for i in range(n):
        start = time.perf_counter()
        client.call("PUT", f"secret/bench/r{round_no}/k{i}", {"value": f"v{i}", "pad": "x" * 64})
        latencies.append(time.perf_counter() - start)
    return latencies


def measure(clients: dict[str, c.Vault], n: int, round_no: int) -> dict[str, Any]:
    primary, status_client = clients["_primary"], clients["primary"]
    start = time.perf_counter()
    latencies = write_entries(primary, n, round_no)
    writes_done = time.perf_counter()
    targets = {rtype: c.shipped_wal(c.replication_status(status_client, rtype), rtype)
               for _, rtype in SECONDARIES}
    caught: dict[str, float] = {}
    remote: dict[str, int] = {}
    pending = dict(SECONDARIES)
    deadline = time.monotonic() + max(60.0, n * 0.1)
    while pending:
        for name, rtype in list(pending.items()):
            st = c.replication_status(clients[name], rtype)
            remote[name] = int(st.get("last_remote_wal") or 0)
            if remote[name] >= targets[rtype]:
                caught[name] = time.perf_counter()
                del pending[name]
        if pending:
            if time.monotonic() > deadline:
                lagging = ", ".join(f"{k} at WAL {remote.get(k)} of {targets[v]}" for k, v in pending.items())
                raise c.NotAvailable(f"secondaries did not catch up after {n} writes: {lagging}")
            time.sleep(0.005)
    write_s = writes_done - start
    out: dict[str, Any] = {
        "n": n, "writes_s": write_s, "per_write_ms": 1000 * write_s / n,
        "median_write_ms": 1000 * c.median(latencies), "max_write_ms": 1000 * max(latencies),
        "targets": targets, "secondaries": {},
    }
    for name, rtype in SECONDARIES:
        total = caught[name] - start
        out["secondaries"][name] = {
            "type": rtype, "caught_up_s": total, "tail_lag_s": max(0.0, caught[name] - writes_done),
            "ratio": c.ratio(total, write_s),
        }
    return out


def run(quick: bool) -> dict[str, Any]:
    c.check_vaultlab()
    sizes = [100] if quick else [100, 1000]
    results = []
    with c.running_lab("repl", CLUSTERS) as (_, info):
        setup_start = time.perf_counter()
        clients = c.setup_replication(info)
        c.mount_kv_v1(clients["_primary"])
        setup_s = time.perf_counter() - setup_start
        for round_no, n in enumerate(sizes):
            results.append(measure(clients, n, round_no))
    rows = []
    for r in results:
        for name, s in r["secondaries"].items():
            rows.append([r["n"], name, r["writes_s"], r["per_write_ms"], r["median_write_ms"],
                         s["caught_up_s"], s["tail_lag_s"] * 1000, s["ratio"]])
    c.print_table(
        "replication_lag: N KV writes on the primary until each secondary's last_remote_wal "
        "reaches them (baseline = the writes alone)",
        ["N", "secondary", "writes s", "ms/write", "median ms", "caught up s", "tail ms", "ratio"], rows)
    print(f"   (replication set-up took {setup_s:.2f} s, not part of the ratios)")
    return {"quick": quick, "setup_s": setup_s, "results": results,
            "notes": "ratio = (first write -> secondary caught up) / (first write -> last write answered)"}
