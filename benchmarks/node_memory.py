# SPDX-License-Identifier: GPL-3.0-or-later
"""node_memory: resident memory of vaultlab nodes against an idle bare aiohttp server.

RSS (VmRSS) of every node of a primary + DR + performance lab right after replication is set
up and again after N replicated KV writes (secondaries caught up). Baseline = a python process
that imports aiohttp and serves one route, idle, measured the same way. Nodes are forked from
one launcher, so part of their RSS is shared; PSS (the proportional share) is reported too.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from . import _common as c
from .replication_lag import SECONDARIES, measure

NAME = "node_memory"
CLUSTERS = ["primary", "dr", "perf"]

BARE_SERVER = """
import asyncio
import sys

from aiohttp import web


async def hello(request):
    return web.json_response({"ok": True})


async def main():
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(port, flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
"""


def baseline() -> dict[str, Any]:
    import requests

    proc = subprocess.Popen([c.PYTHON, "-c", BARE_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.strip().isdigit():
            raise c.NotAvailable("the bare aiohttp baseline server did not start")
        # One request, so that the baseline has run its request path once like the nodes have.
        requests.get(f"http://127.0.0.1:{line.strip()}/", timeout=10)
        time.sleep(0.2)
        return {"pid": proc.pid, "rss_kb": c.proc_status_kb(proc.pid, "VmRSS"), "pss_kb": c.pss_kb(proc.pid)}
    finally:
        proc.kill()
        proc.wait()


def node_pids(lab_dir) -> dict[str, int]:
    status = c.lab_status(lab_dir)
    pids = {}
    for cluster in status["clusters"].values():
        for node in cluster["nodes"]:
            if node.get("running") and node.get("pid"):
                pids[node["node"]] = int(node["pid"])
    if not pids:
        raise c.NotAvailable("vaultlab status --json lists no running node with a pid")
    return pids


def sample(pids: dict[str, int]) -> dict[str, dict[str, int | None]]:
    return {name: {"rss_kb": c.proc_status_kb(pid, "VmRSS"), "pss_kb": c.pss_kb(pid)}
            for name, pid in pids.items()}


def run(quick: bool) -> dict[str, Any]:
    c.check_vaultlab()
    writes = 300 if quick else 1000
    base = baseline()
    with c.running_lab("memory", CLUSTERS) as (lab_dir, info):
        clients = c.setup_replication(info)
        c.mount_kv_v1(clients["_primary"])
        pids = node_pids(lab_dir)
        after_setup = sample(pids)
        lag = measure(clients, writes, 0)
        after_writes = sample(pids)
    base_rss = base["rss_kb"]
    rows, nodes = [], {}
    for name in pids:
        s, w = after_setup[name], after_writes[name]
        nodes[name] = {"after_setup": s, "after_writes": w,
                       "ratio_after_setup": c.ratio(s["rss_kb"], base_rss),
                       "ratio_after_writes": c.ratio(w["rss_kb"], base_rss)}
        mib = lambda kb: None if kb is None else kb / 1024  # noqa: E731
        rows.append([name, mib(s["rss_kb"]), mib(w["rss_kb"]), mib(w["pss_kb"]),
                     c.ratio(s["rss_kb"], base_rss), c.ratio(w["rss_kb"], base_rss)])
    rows.append(["(baseline: bare aiohttp)", base_rss / 1024 if base_rss else None, None,
                 base["pss_kb"] / 1024 if base["pss_kb"] else None, 1.0, None])
    c.print_table(f"node_memory: node RSS after set-up and after {writes} replicated writes "
                  "vs an idle bare aiohttp server",
                  ["node", "RSS MiB setup", f"RSS MiB +{writes}w", "PSS MiB", "ratio setup", "ratio writes"],
                  rows)
    caught = ", ".join(f"{n} {lag['secondaries'][n]['tail_lag_s'] * 1000:.0f} ms" for n, _ in SECONDARIES)
    print(f"   (writes took {lag['writes_s']:.1f} s; secondaries caught up: {caught})")
    return {"quick": quick, "writes": writes, "baseline": {k: v for k, v in base.items() if k != "pid"},
            "nodes": nodes}
