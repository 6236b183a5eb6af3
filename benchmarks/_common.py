# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers: timing, result tables, vaultlab labs and raw Vault HTTP calls.

Benchmarks compare against a baseline measured in the same run, so a loaded or slow machine
shifts both sides and the ratio stays meaningful. Nothing here asserts on absolute times.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable


class NotAvailable(Exception):
    """A prerequisite (vaultlab, a module, a lab call) does not work: the benchmark is skipped."""


class Failed(Exception):
    """The benchmark ran but a measurement is wrong or missing (lost data, a failed run). The
    benchmark has written its results already; the message says what failed."""


# -- output ---------------------------------------------------------------------------------

def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print(f"\n== {title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": load,
    }


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    body = {"benchmark": name, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), **payload}
    path.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n")
    return path


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


# -- vaultlab -----------------------------------------------------------------------------

def vaultlab_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "vaultlab", *args]


def check_vaultlab() -> None:
    probe = subprocess.run([PYTHON, "-c", "import vaultlab, aiohttp"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise NotAvailable("vaultlab is not importable from this interpreter "
                           f"({PYTHON}); run the benchmarks with the project venv's python "
                           "(make venv installs vaultlab)")


def _short_stderr(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    return text[-1] if text else f"exit status {proc.returncode}"


def lab_up(lab_dir: Path, clusters: list[str], timeout: float = 90.0, profile: str = "fast") -> dict[str, Any]:
    """``vaultlab up`` (fast profile unless told); returns lab.json. Raises NotAvailable on failure."""
    args = ["up", "--dir", str(lab_dir), "--profile", profile, "--timeout", str(timeout)]
    for spec in clusters:
        args += ["--cluster", spec]
    proc = subprocess.run(vaultlab_cmd(*args), capture_output=True, text=True)
    if proc.returncode != 0:
        raise NotAvailable(f"vaultlab up {' '.join(clusters)} failed: {_short_stderr(proc)}")
    return read_lab(lab_dir)


def lab_down(lab_dir: Path) -> None:
    if (lab_dir / "lab.json").exists() or (lab_dir / "run").exists():
        subprocess.run(vaultlab_cmd("down", "--dir", str(lab_dir)), capture_output=True, text=True)


def read_lab(lab_dir: Path) -> dict[str, Any]:
    return json.loads((lab_dir / "lab.json").read_text())


def lab_status(lab_dir: Path) -> dict[str, Any]:
    proc = subprocess.run(vaultlab_cmd("status", "--dir", str(lab_dir), "--json"),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise NotAvailable(f"vaultlab status failed: {_short_stderr(proc)}")
    return json.loads(proc.stdout)


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"vaultops-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def running_lab(prefix: str, clusters: list[str], profile: str = "fast",
                timeout: float = 90.0) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A fresh lab in a scratch directory, always stopped and removed afterwards."""
    with scratch_dir(prefix) as lab_dir:
        try:
            info = lab_up(lab_dir, clusters, timeout=timeout, profile=profile)
            yield lab_dir, info
        finally:
            lab_down(lab_dir)


# -- raw Vault HTTP ---------------------------------------------------------------------------

class Vault:
    """Minimal HTTP client for set-up calls. The token is kept out of every message."""

    def __init__(self, addr: str, token: str | None, ca_cert: str | None = None) -> None:
        import requests

        self.addr = addr.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["X-Vault-Token"] = token
        self.verify: bool | str = ca_cert or True

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             ok: tuple[int, ...] = ()) -> dict[str, Any]:
        import requests

        try:
            resp = self.session.request(method, f"{self.addr}/v1/{path}", json=body,
                                        verify=self.verify, timeout=30)
        except requests.RequestException as exc:
            raise NotAvailable(f"{method} {path} on {self.addr}: {type(exc).__name__}") from None
        if resp.status_code >= 400 and resp.status_code not in ok:
            try:
                errors = resp.json().get("errors")
            except ValueError:
                errors = resp.text[:200]
            raise NotAvailable(f"{method} {path} on {self.addr}: HTTP {resp.status_code}: {errors}")
        if resp.status_code == 204 or not resp.content:
            return {}
        try:
            return resp.json()
        except ValueError:
            return {}


def mount_kv_v1(client: Vault, path: str = "secret") -> None:
    mounts = client.call("GET", "sys/mounts")
    table = mounts.get("data", mounts)
    if f"{path}/" in table:
        return
    client.call("POST", f"sys/mounts/{path}", {"type": "kv", "options": {"version": "1"}})


def replication_status(client: Vault, rtype: str) -> dict[str, Any]:
    body = client.call("GET", f"sys/replication/{rtype}/status")
    return body.get("data") or body


def shipped_wal(primary_status: dict[str, Any], rtype: str) -> int:
    """The primary's WAL position a secondary of ``rtype`` has to reach.

    ``last_<t>_wal`` counts only what that type ships (a performance secondary never gets
    local-scope entries); ``last_wal`` is the fallback when it is absent.
    """
    key = "last_dr_wal" if rtype == "dr" else "last_performance_wal"
    value = primary_status.get(key)
    if value is None:
        value = primary_status.get("last_wal")
    if value is None:
        raise NotAvailable(f"{rtype} primary status has neither {key} nor last_wal")
    return int(value)


def wait_for(probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float,
             what: str, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
            if done(last):
                return last
        except NotAvailable:
            if time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            raise NotAvailable(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def setup_replication(info: dict[str, Any], primary: str = "primary", dr: str | None = "dr",
                      perf: str | None = "perf", timeout: float = 60.0) -> dict[str, Vault]:
    """Enable DR and performance replication with raw API calls; wait until both stream.

    Returns status clients (no token needed for the status endpoints) per cluster name, plus
    ``"_primary"``: an authenticated client for the primary.
    """
    clusters = info["clusters"]
    ca = info.get("ca_cert")
    p = clusters[primary]
    pc = Vault(p["api_addr"], p["root_token"], ca)
    pairs = [(t, n) for t, n in (("dr", dr), ("performance", perf)) if n]
    for rtype, name in pairs:
        pc.call("POST", f"sys/replication/{rtype}/primary/enable", {})
        wait_for(lambda: replication_status(pc, rtype), lambda s: s.get("mode") == "primary",
                 timeout, f"{primary} to become {rtype} primary")
        answer = pc.call("POST", f"sys/replication/{rtype}/primary/secondary-token", {"id": name})
        token = (answer.get("wrap_info") or {}).get("token") or (answer.get("data") or {}).get("token")
        if not token:
            raise NotAvailable(f"{rtype} secondary-token answer has no wrap_info.token")
        s = clusters[name]
        sc = Vault(s["api_addr"], s["root_token"], ca)
        sc.call("POST", f"sys/replication/{rtype}/secondary/enable", {"token": token})
        del token
    out: dict[str, Vault] = {"_primary": pc, primary: Vault(p["api_addr"], None, ca)}
    for rtype, name in pairs:
        # The secondary's active node may change while it bootstraps: re-read the lab's view.
        out[name] = _streaming_secondary(info, name, rtype, timeout)
    return out


def _streaming_secondary(info: dict[str, Any], name: str, rtype: str, timeout: float) -> Vault:
    ca = info.get("ca_cert")
    nodes = list(dict.fromkeys([info["clusters"][name]["api_addr"], *info["clusters"][name]["nodes"]]))

    def probe() -> tuple[Vault, dict[str, Any]] | None:
        for node in nodes:
            client = Vault(node, None, ca)
            try:
                st = replication_status(client, rtype)
            except NotAvailable:
                continue
            if st.get("mode") == "secondary" and st.get("state") == "stream-wals":
                return client, st
        return None

    found = wait_for(probe, lambda v: v is not None, timeout, f"{name} to stream {rtype} WALs",
                     interval=0.05)
    return found[0]


def proc_status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def pss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
