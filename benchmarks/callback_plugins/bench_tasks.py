# SPDX-License-Identifier: GPL-3.0-or-later
"""bench_tasks: counts what an ansible-playbook run executed, for the failover benchmark.

Enabled with ANSIBLE_CALLBACK_PLUGINS=<this folder> and ANSIBLE_CALLBACKS_ENABLED=bench_tasks.
At the end of the run it writes BENCH_TASKS_OUT (JSON): tasks started (includes, handlers and
tasks skipped by `when` count too), results per status (per host, loop items counted apart),
retries of `until` loops, and per task its name, action and wall-clock start/end (epoch
seconds, comparable with the benchmark's own clock). With BENCH_TASKS_LIVE it also appends one
JSON line per task start and end while the run goes on, so a watcher can act on them. Only
names, actions and times are recorded: never arguments or results (they may hold secrets).
"""
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_tasks
type: aggregate
short_description: counts tasks and results per status for the failover benchmark
description:
  - Writes the counts and per-task timings to the file named by BENCH_TASKS_OUT.
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED
"""

STATUSES = ("ok", "changed", "failed", "skipped", "unreachable", "ignored")


class CallbackModule(CallbackBase):
    """Task and result counter with wall-clock timings; no arguments, no results."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_tasks"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._started = time.time()
        self._tasks = []
        self._by_uuid = {}
        self._results = dict.fromkeys(STATUSES, 0)
        self._items = dict.fromkeys(STATUSES, 0)
        self._retries = 0
        self._includes = 0
        self._live = os.environ.get("BENCH_TASKS_LIVE")

    def _emit(self, event, record):
        if not self._live:
            return
        with open(self._live, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"event": event, "name": record["name"], "action": record["action"],
                                 "t": time.time()}) + "\n")

    def _start(self, task, handler=False):
        record = {"name": task.get_name(), "action": task.action, "start": time.time(), "end": None,
                  "handler": handler, "results": dict.fromkeys(STATUSES, 0)}
        self._tasks.append(record)
        self._by_uuid[task._uuid] = record  # pylint: disable=protected-access
        self._emit("start", record)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task, handler=True)

    def v2_playbook_on_include(self, included_file):
        self._includes += 1

    def _result(self, result, status):
        self._results[status] += 1
        record = self._by_uuid.get(result.task._uuid)  # pylint: disable=protected-access
        if record is not None:
            record["results"][status] += 1
            record["end"] = time.time()
            self._emit("end", record)

    def v2_runner_on_ok(self, result):
        self._result(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_runner_item_on_ok(self, result):
        self._items["changed" if result.is_changed() else "ok"] += 1

    def v2_runner_item_on_failed(self, result):
        self._items["failed"] += 1

    def v2_runner_item_on_skipped(self, result):
        self._items["skipped"] += 1

    def v2_runner_retry(self, result):
        self._retries += 1

    def v2_playbook_on_stats(self, stats):
        out = os.environ.get("BENCH_TASKS_OUT")
        if not out:
            return
        body = {
            "started": self._started,
            "finished": time.time(),
            "tasks_started": len(self._tasks),
            "includes": self._includes,
            "results": self._results,
            "items": self._items,
            "retries": self._retries,
            "tasks": self._tasks,
        }
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(body, fh)
