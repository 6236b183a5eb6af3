# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a command and measure it: wall time, CPU seconds of its whole process tree, peak memory.

CPU: the difference of ``getrusage(RUSAGE_CHILDREN)`` before and after (user + sys of the
command and of every descendant it waited for: ansible-playbook's workers and module
processes). Only one measured command runs at a time, so the difference is the command's own.
Memory: ``VmRSS`` of the command's process tree sampled every ``interval`` seconds from /proc;
the peak of the tree's sum and the peak of the top process are kept (``ru_maxrss`` of children
is a maximum over every child ever waited for, so it cannot tell runs apart).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text(encoding="utf-8")
        except OSError:
            continue
        out.extend(int(x) for x in text.split())
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (needs /proc/<pid>/task/<tid>/children, Linux 3.5+)."""
    seen, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo.extend(_children(current))
    return seen


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(name=f"rss-{pid}", daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_tree_kb = 0
        self.peak_top_kb = 0
        self.max_procs = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            pids = tree(self.pid)
            sizes = [rss_kb(p) for p in pids]
            self.peak_tree_kb = max(self.peak_tree_kb, sum(sizes))
            self.peak_top_kb = max(self.peak_top_kb, sizes[0] if sizes else 0)
            self.max_procs = max(self.max_procs, len([s for s in sizes if s]))
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path, log: Path, timeout: float,
                 interval: float = 0.1, during: Callable[[subprocess.Popen[bytes]], None] | None = None
                 ) -> dict[str, Any]:
    """Run ``cmd`` (stdout and stderr to ``log``); returns returncode, wall_s, cpu_user_s,
    cpu_sys_s, cpu_s, peak_rss_tree_mib, peak_rss_top_mib, start and end (epoch seconds).
    ``during(proc)``, when given, runs in this thread while the command runs (it must return)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "wb") as out:
        start_epoch = time.time()
        start = time.perf_counter()
        # Own process group, so a timed-out run is stopped with all its workers (and only them).
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        sampler = Sampler(proc.pid, interval)
        sampler.start()
        try:
            if during is not None:
                during(proc)
            returncode = proc.wait(timeout=timeout)
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            raise
        finally:
            wall = time.perf_counter() - start
            end_epoch = time.time()
            sampler.stop()
            sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    return {"returncode": returncode, "wall_s": wall, "cpu_user_s": user, "cpu_sys_s": system,
            "cpu_s": user + system, "peak_rss_tree_mib": sampler.peak_tree_kb / 1024,
            "peak_rss_top_mib": sampler.peak_top_kb / 1024, "max_procs": sampler.max_procs,
            "rss_samples": sampler.samples, "start": start_epoch, "end": end_epoch}


def log_tail(log: Path, secrets: list[str], lines: int = 15) -> str:
    """The end of a command's output with every known secret masked."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no output)"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    return "\n".join(text.strip().splitlines()[-lines:])
