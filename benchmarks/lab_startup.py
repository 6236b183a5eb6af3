# SPDX-License-Identifier: GPL-3.0-or-later
"""lab_startup: wall time of ``vaultlab up`` against starting as many bare aiohttp interpreters.

vaultlab forks every node from one launcher, so the interesting number is how much init,
unseal and HA election add on top of the interpreter start-ups a lab cannot avoid.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from . import _common as c

NAME = "lab_startup"

# (label, cluster specs, node count)
FULL = [
    ("1 cluster x 1 node", ["c1"], 1),
    ("3 clusters x 1 node", ["c1", "c2", "c3"], 3),
    ("5 clusters x 1 node", ["c1", "c2", "c3", "c4", "c5"], 5),
    ("1 cluster x 3 nodes", ["c1:3"], 3),
]
QUICK = [FULL[0], FULL[3]]


def baseline(n: int) -> float:
    """Start ``n`` bare ``python -c 'import aiohttp'`` processes at once; wall time until all exit."""
    start = time.perf_counter()
    procs = [subprocess.Popen([c.PYTHON, "-c", "import aiohttp"]) for _ in range(n)]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - start
    if any(codes):
        raise c.NotAvailable("baseline 'python -c import aiohttp' failed: is aiohttp installed?")
    return elapsed


def lab_once(clusters: list[str]) -> tuple[float, float]:
    with c.scratch_dir("startup") as lab_dir:
        start = time.perf_counter()
        try:
            c.lab_up(lab_dir, clusters)
            up = time.perf_counter() - start
        finally:
            t_down = time.perf_counter()
            c.lab_down(lab_dir)
            down = time.perf_counter() - t_down
    return up, down


def run(quick: bool) -> dict[str, Any]:
    c.check_vaultlab()
    configs = QUICK if quick else FULL
    repeats = 1 if quick else 3
    rows, results = [], []
    for label, clusters, nodes in configs:
        base_times, up_times, down_times = [], [], []
        for _ in range(repeats):
            # Interleaved so that a change in machine load hits both sides alike.
            base_times.append(baseline(nodes))
            up, down = lab_once(clusters)
            up_times.append(up)
            down_times.append(down)
        b, u, d = c.median(base_times), c.median(up_times), c.median(down_times)
        results.append({"config": label, "clusters": clusters, "nodes": nodes, "repeats": repeats,
                        "baseline_s": b, "up_s": u, "down_s": d, "ratio": c.ratio(u, b),
                        "baseline_samples": base_times, "up_samples": up_times})
        rows.append([label, nodes, b, u, c.ratio(u, b), d])
    c.print_table(
        "lab_startup: vaultlab up (fast profile) vs N concurrent `python -c 'import aiohttp'`",
        ["config", "nodes", "baseline s", "up s", "ratio", "down s"], rows)
    return {"quick": quick, "results": results,
            "notes": "median of repeats; baseline = N processes started together, wall time until all exit"}
