# SPDX-License-Identifier: GPL-3.0-or-later
"""module_overhead: per-task cost of replication_status_info vs ansible.builtin.uri vs debug.

One ansible-playbook run against a running lab, with the three task kinds interleaved (so a
change in machine load hits all three alike) after one untimed warm-up task of each kind
(the first use of a module builds its AnsiballZ payload). A small callback plugin records when
each task starts; a task's cost is the gap to the next task's start, which covers the
strategy, the worker fork, the module run and the result handling.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from . import _common as c

NAME = "module_overhead"
COLLECTIONS = c.REPO_ROOT / ".collections"
KINDS = ["module", "uri", "debug"]

CALLBACK = '''
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Records (task name, start time) pairs and the end of the play for the benchmark."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._events = []
        self._failed = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._events.append([task.get_name(), time.perf_counter()])

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._failed.append(result._task.get_name())

    def v2_runner_on_unreachable(self, result):
        self._failed.append(result._task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._events.append(["__end__", time.perf_counter()])
        with open(os.environ["BENCH_TIMER_OUT"], "w") as fh:
            json.dump({"events": self._events, "failed": self._failed}, fh)
'''


def task(kind: str, label: str) -> str:
    name = f"{kind} {label}"
    if kind == "module":
        return (f"    - name: {name}\n"
                f"      vaultops.replication.replication_status_info:\n"
                f"        url: \"{{{{ bench_vault_addr }}}}\"\n"
                f"        token: \"{{{{ lookup('env', 'BENCH_VAULT_TOKEN') }}}}\"\n")
    if kind == "uri":
        return (f"    - name: {name}\n"
                f"      ansible.builtin.uri:\n"
                f"        url: \"{{{{ bench_vault_addr }}}}/v1/sys/replication/status\"\n"
                f"        method: GET\n"
                f"        headers:\n"
                f"          X-Vault-Token: \"{{{{ lookup('env', 'BENCH_VAULT_TOKEN') }}}}\"\n"
                f"      no_log: true\n")
    return (f"    - name: {name}\n"
            f"      ansible.builtin.debug:\n"
            f"        msg: replication status check\n")


def playbook(count: int) -> str:
    lines = ["- name: module overhead benchmark\n  hosts: bench\n  gather_facts: false\n  tasks:\n"]
    lines += [task(kind, "warm-up") for kind in KINDS]
    for i in range(count):
        lines += [task(kind, f"#{i + 1}") for kind in KINDS]
    return "".join(lines)


def inventory(addr: str) -> str:
    return ("all:\n  hosts:\n    bench:\n      ansible_connection: local\n"
            "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n"
            f"      bench_vault_addr: \"{addr}\"\n")


def check_collection() -> None:
    module = COLLECTIONS / "ansible_collections/vaultops/replication/plugins/modules/replication_status_info.py"
    if not module.exists():
        raise c.NotAvailable(f"the collection is not on {COLLECTIONS.relative_to(c.REPO_ROOT)}/ "
                             "(run `make venv`, which links the checkout there)")
    if not (Path(c.PYTHON).parent / "ansible-playbook").exists():
        raise c.NotAvailable(f"ansible-playbook is not next to {c.PYTHON}; use the project venv")


def run_playbook(work: Path, addr: str, token: str, count: int) -> tuple[dict[str, Any], float]:
    (work / "callback_plugins").mkdir()
    (work / "callback_plugins" / "bench_timer.py").write_text(CALLBACK)
    (work / "inventory.yml").write_text(inventory(addr))
    (work / "playbook.yml").write_text(playbook(count))
    out = work / "timer.json"
    env = dict(os.environ,
               ANSIBLE_CONFIG=str(c.REPO_ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
               ANSIBLE_CALLBACK_PLUGINS=str(work / "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="bench_timer",
               ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
               ANSIBLE_HOME=str(work / "ansible-home"),
               BENCH_TIMER_OUT=str(out),
               BENCH_VAULT_TOKEN=token)
    cmd = [str(Path(c.PYTHON).parent / "ansible-playbook"), "-i", str(work / "inventory.yml"),
           str(work / "playbook.yml")]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stdout + proc.stderr).replace(token, "<token>").strip().splitlines()[-6:])
        raise c.NotAvailable(f"ansible-playbook exited {proc.returncode}:\n{tail}")
    data = json.loads(out.read_text())
    if data["failed"]:
        raise c.NotAvailable(f"tasks failed: {', '.join(sorted(set(data['failed'])))}")
    return data, wall


def per_task(events: list[list[Any]]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {k: [] for k in KINDS}
    for (name, start), (_, nxt) in zip(events, events[1:]):
        kind, _, label = name.partition(" ")
        if kind in samples and label != "warm-up":
            samples[kind].append(nxt - start)
    return samples


def run(quick: bool) -> dict[str, Any]:
    c.check_vaultlab()
    check_collection()
    count = 5 if quick else 20
    with c.running_lab("modules", ["primary"]) as (_, info), c.scratch_dir("playbook") as work:
        primary = info["clusters"]["primary"]
        data, wall = run_playbook(work, primary["api_addr"], primary["root_token"], count)
    samples = per_task(data["events"])
    stats = {k: {"mean_s": sum(v) / len(v), "median_s": c.median(v), "min_s": min(v), "max_s": max(v),
                 "tasks": len(v)} for k, v in samples.items()}
    base_uri, base_debug = stats["uri"]["mean_s"], stats["debug"]["mean_s"]
    rows = []
    labels = {"module": "vaultops.replication.replication_status_info", "uri": "ansible.builtin.uri",
              "debug": "ansible.builtin.debug"}
    for k in KINDS:
        s = stats[k]
        rows.append([labels[k], s["tasks"], s["mean_s"], s["median_s"],
                     c.ratio(s["mean_s"], base_uri), c.ratio(s["mean_s"], base_debug)])
    c.print_table("module_overhead: seconds per task (tasks interleaved, one playbook, connection local)",
                  ["task", "n", "mean s", "median s", "vs uri", "vs debug"], rows)
    print(f"   (playbook wall time {wall:.1f} s including start-up and warm-up tasks)")
    return {"quick": quick, "tasks_per_kind": count, "playbook_wall_s": wall, "stats": stats,
            "ratios": {"module_vs_uri": c.ratio(stats["module"]["mean_s"], base_uri),
                       "module_vs_debug": c.ratio(stats["module"]["mean_s"], base_debug),
                       "uri_vs_debug": c.ratio(base_uri, base_debug)},
            "notes": "module uses mode=both (sys/health + sys/replication/status); "
                     "uri GETs sys/replication/status once"}
