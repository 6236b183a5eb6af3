# SPDX-License-Identifier: GPL-3.0-or-later
"""failover: planned DR failover by raw API, a peer-style uri playbook and the collection.

Parts (``BENCH_PARTS``, default all):

* ``methods``: planned DR failover of primary + DR secondary + one performance secondary, on a
  fresh lab per run, by (a) ``benchmarks/raw_failover.py``, (b) the peer-style playbook
  ``benchmarks/playbooks/peer_failover.yml`` (``uri`` + ``until``/``delay: 5``) and (c) the
  collection's ``playbooks/dr_failover.yml``, on each timing profile. Wall time, CPU seconds
  and peak RSS of the command's process tree, tasks executed (callback ``bench_tasks``). Before
  each failover N secrets are written on the primary; afterwards every one must read back on the
  new primary and the topology must be the expected one, or the run fails.
* ``detection``: how long after a cluster reaches a state the collection's module returns.
* ``repoint``: re-pointing 1 vs many performance secondaries with ``replication_secondary``.
* ``sets``: 1 vs many independent replication sets failed over in one run.
* ``floor``: ansible-playbook's own cost on this machine, without any Vault: a play of one
  ``debug`` task (start-up and shutdown) and one of ``FLOOR_TASKS`` (the cost of each further
  task). The targets table uses it for the best a playbook of as many tasks as dr_failover.yml
  could do here, whatever its tasks did.

Sizes come from environment variables (see ``benchmarks/README.md``); ``--quick`` picks small
ones. Results go to ``benchmarks/results/failover.json`` and, for full runs (or ``BENCH_DOCS=1``),
to ``docs/performance.md`` and ``docs/images/performance.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from . import _common as c
from . import _labs
from . import _procs
from . import raw_failover

NAME = "failover"
PLAYBOOKS = c.BENCH_DIR / "playbooks"
CALLBACKS = c.BENCH_DIR / "callback_plugins"
# Where ansible-playbook finds the collection; run() points it at a snapshot of the tree.
COLLECTIONS = c.REPO_ROOT / ".collections"
SNAPSHOT_PARTS = ("galaxy.yml", "meta", "plugins", "roles", "playbooks")
BIN = Path(c.PYTHON).parent
METHODS = ["raw", "peer", "collection"]
METHOD_LABELS = {
    "raw": "(a) raw API script",
    "peer": "(b) peer uri playbook",
    "collection": "(c) collection dr_failover.yml",
}
PARTS = ["methods", "detection", "repoint", "sets", "floor"]
FLOOR_TASKS = 21
PROFILES = ["fast", "realistic"]
DETECT_POLL = 0.01


@dataclass
class Config:
    quick: bool
    runs: int
    profiles: list[str]
    methods: list[str]
    parts: list[str]
    secrets: int
    detect_runs: int
    detect_lead: float
    perf_sizes: list[int]
    set_sizes: list[int]
    scale_profile: str
    timeout: float
    docs: bool
    docs_dir: str = "docs"
    notes: list[str] = field(default_factory=list)


def _env_int(name: str, default: int, low: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise c.NotAvailable(f"{name}={raw!r}: give a whole number, e.g. {name}={default}") from None
    if value < low:
        raise c.NotAvailable(f"{name}={raw!r}: must be at least {low}")
    return value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise c.NotAvailable(f"{name}={raw!r}: give a number of seconds, e.g. {name}={default}") from None
    if value <= 0:
        raise c.NotAvailable(f"{name}={raw!r}: must be positive")
    return value


def _env_list(name: str, default: list[str], allowed: list[str]) -> list[str]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    values = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise c.NotAvailable(f"{name}={raw!r}: choose from {','.join(allowed)} (comma-separated)")
    return values


def _env_sizes(name: str, default: list[int]) -> list[int]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        values = sorted({int(v) for v in raw.split(",") if v.strip()})
    except ValueError:
        raise c.NotAvailable(f"{name}={raw!r}: give sizes as whole numbers, e.g. {name}=1,8") from None
    if not values or values[0] < 1 or values[-1] > 64:
        raise c.NotAvailable(f"{name}={raw!r}: sizes must be between 1 and 64")
    return values


def config(quick: bool) -> Config:
    quick = quick or os.environ.get("BENCH_QUICK", "").strip().lower() in ("1", "yes", "true")
    docs_raw = os.environ.get("BENCH_DOCS", "").strip().lower()
    if docs_raw and docs_raw not in ("0", "1", "yes", "no", "true", "false"):
        raise c.NotAvailable(f"BENCH_DOCS={docs_raw!r}: use 1 (write docs/performance.md) or 0")
    docs = (not quick) if not docs_raw else docs_raw in ("1", "yes", "true")
    return Config(
        quick=quick,
        runs=_env_int("BENCH_RUNS", 1 if quick else 3, low=1),
        profiles=_env_list("BENCH_PROFILES", PROFILES, PROFILES),
        methods=_env_list("BENCH_METHODS", METHODS, METHODS),
        parts=_env_list("BENCH_PARTS", PARTS, PARTS),
        secrets=_env_int("BENCH_SECRETS", 20 if quick else 100, low=1),
        detect_runs=_env_int("BENCH_DETECT_RUNS", 1 if quick else 3, low=1),
        detect_lead=_env_float("BENCH_DETECT_LEAD", 3.0),
        perf_sizes=_env_sizes("BENCH_PERF_SIZES", [1, 4] if quick else [1, 32]),
        set_sizes=_env_sizes("BENCH_SET_SIZES", [1, 2] if quick else [1, 8]),
        scale_profile=_env_list("BENCH_SCALE_PROFILE", ["fast"], PROFILES)[0],
        timeout=_env_float("BENCH_TIMEOUT", 900.0),
        docs=docs,
    )


# -- running things ---------------------------------------------------------------------------

def check_prerequisites() -> None:
    c.check_vaultlab()
    if not (COLLECTIONS / "ansible_collections/vaultops/replication/galaxy.yml").exists():
        raise c.NotAvailable("the collection is not on .collections/ (run `make venv`, which links the checkout there)")
    if not (BIN / "ansible-playbook").exists():
        raise c.NotAvailable(f"ansible-playbook is not next to {c.PYTHON}; use the project venv")


def collection_file(*parts: str) -> Path:
    return COLLECTIONS.joinpath("ansible_collections", "vaultops", "replication", *parts)


@contextmanager
def snapshot() -> Iterator[Path]:
    """Copy the collection (plugins, roles, playbooks, meta) and vaultlab's sources as they are now
    and use those copies for the whole benchmark: others may edit the working tree meanwhile, and
    every run of one benchmark must measure the same code. vaultlab is picked up from the copy
    through PYTHONPATH (ahead of the editable install); the collection through COLLECTIONS."""
    global COLLECTIONS  # pylint: disable=global-statement
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    with c.scratch_dir("snapshot") as snap:
        dest = snap / "collections" / "ansible_collections" / "vaultops" / "replication"
        dest.mkdir(parents=True)
        for part in SNAPSHOT_PARTS:
            src = c.REPO_ROOT / part
            if src.is_dir():
                shutil.copytree(src, dest / part, ignore=ignore)
            elif src.exists():
                shutil.copy2(src, dest / part)
        saved_path, saved_collections = os.environ.get("PYTHONPATH"), COLLECTIONS
        lab_src = c.REPO_ROOT / "emulator" / "src" / "vaultlab"
        if lab_src.is_dir():
            shutil.copytree(lab_src, snap / "vaultlab-src" / "vaultlab", ignore=ignore)
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(snap / "vaultlab-src"), saved_path) if p)
        COLLECTIONS = snap / "collections"
        try:
            yield snap
        finally:
            COLLECTIONS = saved_collections
            if saved_path is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved_path


def base_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "ANSIBLE_", "BENCH_"))}
    env.update({
        "PATH": f"{BIN}:{env.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(c.REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_tasks",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "BENCH_TASKS_OUT": str(work / "tasks.json"),
        "BENCH_TASKS_LIVE": str(work / "tasks.live"),
    })
    return env


def token_env_name(cluster: str) -> str:
    return "VAULT_TOKEN_" + "".join(ch if ch.isalnum() else "_" for ch in cluster).upper()


class Run:
    """One measured command in a scratch folder; ``secrets`` are masked in any output shown."""

    def __init__(self, work: Path, label: str, secrets: list[str], timeout: float) -> None:
        self.work = work
        self.label = label
        self.secrets = secrets
        self.timeout = timeout
        for path in (work / "tasks.json", work / "tasks.live"):
            path.unlink(missing_ok=True)

    def __call__(self, cmd: list[str], env: dict[str, str],
                 during: Callable[[Any], None] | None = None, check: bool = True) -> dict[str, Any]:
        log = self.work / "output.log"
        result = _procs.run_measured(cmd, env, c.REPO_ROOT, log, self.timeout, during=during)
        tasks_file = self.work / "tasks.json"
        if tasks_file.exists():
            data = json.loads(tasks_file.read_text())
            result["tasks"] = data
            result["tasks_started"] = data["tasks_started"]
            result["tasks_run"] = sum(1 for t in data["tasks"]
                                      if sum(t["results"].values()) > t["results"]["skipped"])
            result["results"] = data["results"]
            result["retries"] = data["retries"]
            result["timeline"] = timeline(data, result["start"])
        if result["returncode"] != 0:
            result["output_tail"] = _procs.log_tail(log, self.secrets)
            if check:
                raise _labs.BenchFailure(f"{self.label} exited {result['returncode']}:\n{result['output_tail']}")
        return result


def timeline(data: dict[str, Any], process_start: float) -> dict[str, Any]:
    """Where an ansible-playbook run spent its wall time: start-up until the first task, then
    each task's share = the gap to the next task's start (strategy, forks and result handling
    included), the last one until the end of the run; summed per action."""
    tasks = data["tasks"]
    if not tasks:
        return {"startup_s": data["finished"] - process_start, "by_action": {}}
    by_action: dict[str, list[float]] = {}
    starts = [t["start"] for t in tasks] + [data["finished"]]
    for task, nxt in zip(tasks, starts[1:]):
        entry = by_action.setdefault(task["action"], [0, 0.0])
        entry[0] += 1
        entry[1] += nxt - task["start"]
    return {"startup_s": tasks[0]["start"] - process_start,
            "by_action": {k: {"tasks": v[0], "seconds": v[1]} for k, v in by_action.items()}}


def ansible_playbook(*args: str) -> list[str]:
    return [str(BIN / "ansible-playbook"), *args]


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# -- part 1: three methods ------------------------------------------------------------------

def method_command(method: str, lab_dir: Path, work: Path) -> list[str]:
    inventory = str(lab_dir / "inventory.yml")
    if method == "raw":
        return [c.PYTHON, str(c.BENCH_DIR / "raw_failover.py"), "--lab", str(lab_dir), "--set", "primary:dr:perf",
                "--json", str(work / "raw.json")]
    if method == "peer":
        return ansible_playbook("-i", inventory, str(PLAYBOOKS / "peer_failover.yml"),
                                "-e", "old_primary=primary", "-e", "new_primary=dr")
    return ansible_playbook("-i", inventory, str(collection_file("playbooks", "dr_failover.yml")),
                            "-e", "confirm_promote=dr")


def method_sample(cfg: Config, profile: str, method: str, index: int) -> dict[str, Any]:
    clusters = ["primary", "dr", "perf"]
    with c.running_lab(f"{method}-{profile}", clusters, profile=profile, timeout=300) as (lab_dir, info), \
            c.scratch_dir("work") as work:
        start = time.perf_counter()
        _labs.setup_set(info, "primary", ["dr"], ["perf"])
        tag = f"{method}-{profile}-{index}"
        _labs.write_secrets(info, "primary", cfg.secrets, tag)
        setup_s = time.perf_counter() - start
        token = _labs.root(info, "primary")
        env = base_env(work)
        env["VAULT_TOKEN"] = token
        runner = Run(work, f"{METHOD_LABELS[method]} ({profile})", [token], cfg.timeout)
        result = runner(method_command(method, lab_dir, work), env)
        _labs.check_topology(info, "dr", "primary", ["perf"], METHOD_LABELS[method])
        _labs.check_secrets(info, "dr", "primary", cfg.secrets, tag, METHOD_LABELS[method])
        if method == "raw":
            raw = json.loads((work / "raw.json").read_text())
            result["raw_steps"] = raw["sets"][0]["durations"]
            result["raw_inner_s"] = raw["sets"][0]["total_s"]
        result.pop("tasks", None)
        result["setup_s"] = setup_s
        result["secrets_checked"] = cfg.secrets
        return result


def run_methods(cfg: Config, out: dict[str, Any], failures: list[str]) -> None:
    table: dict[str, dict[str, list[dict[str, Any]]]] = {p: {m: [] for m in cfg.methods} for p in cfg.profiles}
    out["methods"] = {"samples": table}
    for index in range(cfg.runs):
        for profile in cfg.profiles:
            for method in cfg.methods:
                label = f"{METHOD_LABELS[method]}, {profile}, run {index + 1}/{cfg.runs}"
                print(f"   {label} ...", flush=True)
                try:
                    sample = method_sample(cfg, profile, method, index)
                except (_labs.BenchFailure, c.NotAvailable) as exc:
                    failures.append(f"methods: {label}: {exc}")
                    print(f"   FAILED {label}: {exc}", flush=True)
                    table[profile][method].append({"error": str(exc)})
                    continue
                table[profile][method].append(sample)
                extra = f", {sample['tasks_started']} tasks" if "tasks_started" in sample else ""
                print(f"   {label}: {sample['wall_s']:.2f} s wall, {sample['cpu_s']:.2f} s CPU, "
                      f"{sample['peak_rss_tree_mib']:.0f} MiB peak{extra}; {cfg.secrets} secrets read back",
                      flush=True)
    out["methods"]["summary"] = summarise_methods(table)


def summarise_methods(table: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for profile, methods in table.items():
        per: dict[str, Any] = {}
        for method, samples in methods.items():
            good = [s for s in samples if "error" not in s]
            per[method] = {
                "wall_s": summary([s["wall_s"] for s in good]),
                "cpu_s": summary([s["cpu_s"] for s in good]),
                "peak_rss_tree_mib": summary([s["peak_rss_tree_mib"] for s in good]),
                "peak_rss_top_mib": summary([s["peak_rss_top_mib"] for s in good]),
                "tasks_started": summary([s["tasks_started"] for s in good if "tasks_started" in s]),
                "tasks_run": summary([s["tasks_run"] for s in good if "tasks_run" in s]),
                "retries": summary([s["retries"] for s in good if "retries" in s]),
                "failed_runs": len(samples) - len(good),
            }
        a = per.get("raw", {}).get("wall_s", {}).get("median")
        b = per.get("peer", {}).get("wall_s", {}).get("median")
        cc = per.get("collection", {}).get("wall_s", {}).get("median")
        per["ratios"] = {
            "c_over_a": c.ratio(cc, a),
            "c_over_b": c.ratio(cc, b),
            "overhead_c_minus_a_s": (cc - a) if cc is not None and a is not None else None,
        }
        result[profile] = per
    return result


# -- part 2: detection latency ----------------------------------------------------------------

class Poller(threading.Thread):
    """Polls ``probe`` every DETECT_POLL s until it is true. ``seen`` = epoch when the first true
    answer arrived; the state was reached after the previous (false) answer started, so
    ``resolution`` = seen - start of the previous probe bounds the error of ``seen``."""

    def __init__(self, probe: Callable[[], bool]) -> None:
        super().__init__(daemon=True)
        self.probe = probe
        self.seen: float | None = None
        self.resolution: float | None = None
        self.polls = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        previous: float | None = None
        while not self._stop_event.is_set():
            began = time.time()
            ok = self.probe()
            self.polls += 1
            if ok:
                self.seen = time.time()
                self.resolution = self.seen - (previous if previous is not None else began)
                return
            previous = began
            self._stop_event.wait(DETECT_POLL)

    def stop(self) -> None:
        self._stop_event.set()


def promoted_ready(api: _labs.Api) -> bool:
    """The promote module's own condition: DR primary (running), health 200 unsealed, DR mode primary."""
    st = api.status("dr")
    if not st or st.get("mode") != "primary" or st.get("state") not in (None, "", "running"):
        return False
    code, health = api.request("GET", "sys/health", auth=False)
    return (code == 200 and isinstance(health, dict) and not health.get("sealed")
            and health.get("replication_dr_mode", "primary") == "primary")


def task_end(run_result: dict[str, Any], action_suffix: str) -> float | None:
    for task in run_result.get("tasks", {}).get("tasks", []):
        if task["action"].endswith(action_suffix) and task["end"]:
            return task["end"]
    return None


def prepare_promotion(info: dict[str, Any]) -> str:
    """Batch DR operation token minted on the primary, DR secondary caught up, primary demoted and
    its final state on the DR secondary: what is left is the promotion. Returns the token."""
    old = _labs.Api(info, "primary", _labs.root(info, "primary"))
    new = _labs.Api(info, "dr", None)
    name = raw_failover.POLICY_NAME
    old.call("PUT", f"sys/policies/acl/{name}", {"policy": raw_failover.POLICY})
    old.call("POST", f"auth/token/roles/{name}", {"allowed_policies": [name], "orphan": True,
                                                  "renewable": False, "token_type": "batch"})
    token = (old.call("POST", f"auth/token/create/{name}", {"ttl": "30m"}).get("auth") or {}).get("client_token")
    if not token:
        raise c.NotAvailable("auth/token/create answered without auth.client_token")
    _labs.wait("the DR secondary to catch up", lambda: raw_failover.caught_up(new.status("dr"), old.status("dr")), 120)
    old.call("POST", "sys/replication/dr/primary/demote", {})

    def final() -> bool:
        o, n = old.status("dr"), new.status("dr")
        return bool(o and n and o.get("merkle_root") and o.get("merkle_root") == n.get("merkle_root"))
    _labs.wait("the demoted primary's final state on the DR secondary", final, 120)
    return token


def wait_for_task_start(live: Path, action_suffix: str, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if live.exists():
            for line in live.read_text().splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event["event"] == "start" and event["action"].endswith(action_suffix):
                    return event["t"]
        time.sleep(0.05)
    raise c.NotAvailable(f"the {action_suffix} task did not start within {timeout:.0f} s")


def detection_sample(cfg: Config, profile: str) -> dict[str, Any]:
    with c.running_lab(f"detect-{profile}", ["primary", "dr"], profile=profile, timeout=300) as (lab_dir, info), \
            c.scratch_dir("work") as work:
        _labs.setup_set(info, "primary", ["dr"], [])
        op_token = prepare_promotion(info)
        root = _labs.root(info, "primary")
        inventory = str(lab_dir / "inventory.yml")
        new = _labs.Api(info, "dr", root)
        old = _labs.Api(info, "primary", root)

        # 1. promote: the module acts, then waits; ground truth = its own readiness condition.
        env = base_env(work)
        env.update(VAULT_TOKEN=root, BENCH_DR_OPERATION_TOKEN=op_token)
        ready = Poller(lambda: promoted_ready(new))
        serving = Poller(lambda: new.request("GET", "auth/token/lookup-self")[0] == 200)
        ready.start()
        serving.start()
        try:
            runner = Run(work, f"detect_promote.yml ({profile})", [root, op_token], cfg.timeout)
            promote = runner(ansible_playbook("-i", inventory, str(PLAYBOOKS / "detect_promote.yml"),
                                              "-e", "bench_new=dr", "-e", "bench_old=primary"), env)
            ready.join(timeout=60)
            serving.join(timeout=60)
        finally:
            ready.stop()
            serving.stop()
        end = task_end(promote, "promote")
        if ready.seen is None or end is None:
            raise c.NotAvailable("could not time the promotion (no ready time or no promote task end)")

        # 2. streaming: the module waits; meanwhile the old primary is re-attached with raw calls.
        env = base_env(work)
        live = work / "tasks.live"
        attached = Poller(lambda: _labs.streaming(old.status("dr")))
        marks: dict[str, float] = {}

        def trigger(_proc: Any) -> None:
            started = wait_for_task_start(live, "replication_status_info", 120)
            time.sleep(max(0.0, started + cfg.detect_lead - time.time()))
            activation = (new.call("POST", "sys/replication/dr/primary/secondary-token", {"id": "primary"})
                          .get("wrap_info") or {}).get("token")
            if not activation:
                raise c.NotAvailable("secondary-token answered without wrap_info.token")
            marks["attach_sent"] = time.time()
            old.call("POST", "sys/replication/dr/secondary/update-primary",
                     {"token": activation, "dr_operation_token": op_token}, auth=False)
            attached.start()

        runner = Run(work, f"detect_streaming.yml ({profile})", [root, op_token], cfg.timeout)
        try:
            stream = runner(ansible_playbook("-i", inventory, str(PLAYBOOKS / "detect_streaming.yml"),
                                             "-e", "bench_old=primary"), env, during=trigger)
            attached.join(timeout=60)
        finally:
            attached.stop()
        stream_end = task_end(stream, "replication_status_info")
        if attached.seen is None or stream_end is None:
            raise c.NotAvailable("could not time the streaming wait (no streaming time or no task end)")
        return {
            "promote": {"ready_at": ready.seen, "serving_at": serving.seen, "task_end": end,
                        "latency_s": end - ready.seen,
                        "serving_minus_ready_s": (serving.seen - ready.seen) if serving.seen else None,
                        "resolution_s": ready.resolution, "polls": ready.polls},
            "streaming": {"attach_sent": marks.get("attach_sent"), "streaming_at": attached.seen,
                          "task_end": stream_end, "latency_s": stream_end - attached.seen,
                          "resolution_s": attached.resolution, "polls": attached.polls},
        }


def run_detection(cfg: Config, out: dict[str, Any], failures: list[str]) -> None:
    det: dict[str, Any] = {}
    out["detection"] = det
    for profile in cfg.profiles:
        samples = []
        for index in range(cfg.detect_runs):
            label = f"detection, {profile}, run {index + 1}/{cfg.detect_runs}"
            print(f"   {label} ...", flush=True)
            try:
                sample = detection_sample(cfg, profile)
            except (_labs.BenchFailure, c.NotAvailable) as exc:
                failures.append(f"detection: {label}: {exc}")
                print(f"   FAILED {label}: {exc}", flush=True)
                continue
            samples.append(sample)
            print(f"   {label}: promote noticed {sample['promote']['latency_s']:.3f} s after ready, "
                  f"streaming noticed {sample['streaming']['latency_s']:.3f} s after it streamed", flush=True)
        det[profile] = {
            "samples": samples,
            "promote": summary([s["promote"]["latency_s"] for s in samples]),
            "streaming": summary([s["streaming"]["latency_s"] for s in samples]),
        }


# -- part 3: re-point performance secondaries -------------------------------------------------

def forget_primary(info: dict[str, Any], primary: str, perfs: list[str], tokens: dict[str, str]) -> None:
    """Detach every performance secondary from its primary (update-primary without a token) and
    wait until the primary no longer counts them as connected, so each needs a real re-point."""
    for p in perfs:
        _labs.Api(info, p, tokens[p]).call("POST", "sys/replication/performance/secondary/update-primary", {})
    prim = _labs.Api(info, primary, None)

    def detached() -> bool:
        if any(_labs.connected(_labs.Api(info, p, None).status("performance")) for p in perfs):
            return False
        secondaries = (prim.status("performance") or {}).get("secondaries") or []
        return not any(s.get("node_id") in perfs and s.get("connection_status") == "connected"
                       for s in secondaries)
    _labs.wait("the performance secondaries to be detached", detached, 120, interval=0.2)


def raw_repoint(info: dict[str, Any], primary: str, perfs: list[str], tokens: dict[str, str]) -> float:
    """Baseline: revoke the id, mint, update-primary, one secondary after the other; then wait."""
    start = time.perf_counter()
    prim = _labs.Api(info, primary, _labs.root(info, "primary"))
    for p in perfs:
        prim.call("POST", "sys/replication/performance/primary/revoke-secondary", {"id": p})
        wrapped = (prim.call("POST", "sys/replication/performance/primary/secondary-token", {"id": p})
                   .get("wrap_info") or {}).get("token")
        _labs.Api(info, p, tokens[p]).call("POST", "sys/replication/performance/secondary/update-primary",
                                           {"token": wrapped})
    for p in perfs:
        api = _labs.Api(info, p, None)
        _labs.wait(f"{p} to follow {primary}", lambda api=api: _labs.streams_from(api.status("performance"), prim.addr),
                   300, interval=0.01)
    return time.perf_counter() - start


def check_following(info: dict[str, Any], primary: str, perfs: list[str], label: str) -> None:
    addr = info["clusters"][primary]["api_addr"]
    try:
        _labs.wait(f"every performance secondary to follow {primary}",
                   lambda: all(_labs.streams_from(_labs.Api(info, p, None).status("performance"), addr)
                               for p in perfs), 120, interval=0.2)
    except c.NotAvailable:
        raise _labs.BenchFailure(f"{label}: not every performance secondary follows {primary} afterwards") from None


def repoint_sample(cfg: Config, size: int) -> dict[str, Any]:
    perfs = [f"perf{i:02d}" for i in range(1, size + 1)]
    clusters = ["primary", "dr", *perfs]
    with c.running_lab(f"repoint-{size}", clusters, profile=cfg.scale_profile, timeout=600) as (lab_dir, info), \
            c.scratch_dir("work") as work:
        _labs.setup_set(info, "primary", ["dr"], perfs, timeout=600)
        failed = raw_failover.run_sets(info, [("primary", "dr", perfs)], 0.01, 600)
        if not failed["ok"]:
            raise c.NotAvailable(f"the raw failover before the re-point failed: {failed['sets'][0]['error']}")
        keys = info["clusters"]["primary"]["unseal_keys_b64"]
        tokens = {p: _labs.generate_root(info, p, keys) for p in perfs}
        root = _labs.root(info, "primary")
        secrets = [root, *tokens.values()]

        forget_primary(info, "dr", perfs, tokens)
        raw_s = raw_repoint(info, "dr", perfs, tokens)
        check_following(info, "dr", perfs, "raw re-point")

        forget_primary(info, "dr", perfs, tokens)
        env = base_env(work)
        env["VAULT_TOKEN"] = root
        env.update({token_env_name(p): t for p, t in tokens.items()})
        cmd = ansible_playbook("-i", str(lab_dir / "inventory.yml"), str(PLAYBOOKS / "repoint_perf.yml"),
                               "-e", "bench_primary=dr")
        repoint = Run(work, f"repoint_perf.yml ({size} secondaries)", secrets, cfg.timeout)(cmd, env)
        check_following(info, "dr", perfs, "collection re-point")
        noop = Run(work, f"repoint_perf.yml again ({size} secondaries)", secrets, cfg.timeout)(cmd, env)
        changed = [(r.get("tasks") or {}).get("items", {}).get("changed") for r in (repoint, noop)]
        for result in (repoint, noop):
            result.pop("tasks", None)
        return {"size": size, "raw_s": raw_s, "collection": repoint, "collection_noop": noop,
                "items_changed": changed[0], "items_changed_noop": changed[1]}


def run_repoint(cfg: Config, out: dict[str, Any], failures: list[str]) -> None:
    rep: dict[str, Any] = {"profile": cfg.scale_profile,
                           "form": "one replication_secondary task looping over the performance secondaries",
                           "sizes": {}}
    out["repoint"] = rep
    for size in cfg.perf_sizes:
        label = f"re-point {size} performance secondar{'y' if size == 1 else 'ies'}"
        print(f"   {label} ...", flush=True)
        try:
            sample = repoint_sample(cfg, size)
        except (_labs.BenchFailure, c.NotAvailable) as exc:
            failures.append(f"repoint: {label}: {exc}")
            print(f"   FAILED {label}: {exc}", flush=True)
            rep["sizes"][str(size)] = {"error": str(exc)}
            continue
        rep["sizes"][str(size)] = sample
        print(f"   {label}: collection {sample['collection']['wall_s']:.2f} s "
              f"(no-change re-run {sample['collection_noop']['wall_s']:.2f} s), raw {sample['raw_s']:.2f} s",
              flush=True)


# -- part 4: independent replication sets -----------------------------------------------------

def set_names(i: int) -> tuple[str, str, str]:
    return f"s{i}-primary", f"s{i}-dr", f"s{i}-perf"


def sets_inventory(count: int) -> str:
    lines = ["# Written by benchmarks/failover.py: one play host per replication set.", "all:", "  children:",
             "    bench_sets:", "      hosts:"]
    for i in range(1, count + 1):
        dr = set_names(i)[1]
        lines += [f"        set{i}:", "          ansible_connection: local",
                  "          ansible_python_interpreter: \"{{ ansible_playbook_python }}\"",
                  f"          bench_promote: {dr}",
                  f"          topology_primary_group: set{i}_primary",
                  f"          topology_dr_group: set{i}_dr",
                  f"          topology_perf_group: set{i}_perf"]
    for i in range(1, count + 1):
        for group, host in zip(("primary", "dr", "perf"), set_names(i)):
            lines += [f"    set{i}_{group}:", "      hosts:", f"        {host}: {{}}"]
    return "\n".join(lines) + "\n"


def collection_runs_sets() -> bool:
    """Whether playbooks/dr_failover.yml fails several replication sets over itself (``-e sets=GROUP``:
    its play targets that group, one host per set). Older trees only run on localhost."""
    import yaml

    try:
        plays = yaml.safe_load(collection_file("playbooks", "dr_failover.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(plays, list) and any("sets" in str(play.get("hosts", "")) for play in plays
                                           if isinstance(play, dict))


def sets_lab(cfg: Config, count: int, method: str):
    clusters = [name for i in range(1, count + 1) for name in set_names(i)]
    return c.running_lab(f"sets-{count}-{method}", clusters, profile=cfg.scale_profile, timeout=600)


def sets_sample(cfg: Config, count: int, method: str) -> dict[str, Any]:
    with sets_lab(cfg, count, method) as (lab_dir, info), c.scratch_dir("work") as work:
        for i in range(1, count + 1):
            primary, dr, perf = set_names(i)
            _labs.setup_set(info, primary, [dr], [perf], timeout=600)
            _labs.write_secrets(info, primary, cfg.secrets, f"set{i}")
        secrets = [_labs.root(info, set_names(i)[0]) for i in range(1, count + 1)]
        env = base_env(work)
        if method == "raw":
            cmd = [c.PYTHON, str(c.BENCH_DIR / "raw_failover.py"), "--lab", str(lab_dir)]
            for i in range(1, count + 1):
                cmd += ["--set", ":".join(set_names(i)[:2]) + ":" + set_names(i)[2]]
            result = Run(work, f"raw_failover.py ({count} sets)", secrets, cfg.timeout)(cmd, env)
        else:
            (work / "sets.yml").write_text(sets_inventory(count))
            for i in range(1, count + 1):
                primary, dr, _ = set_names(i)
                env[token_env_name(primary)] = _labs.root(info, primary)
                env[token_env_name(dr)] = _labs.root(info, primary)
            inventories = ["-i", str(lab_dir / "inventory.yml"), "-i", str(work / "sets.yml"), "-f", str(max(5, count))]
            if collection_runs_sets():
                promote = ",".join(set_names(i)[1] for i in range(1, count + 1))
                cmd = ansible_playbook(*inventories, str(collection_file("playbooks", "dr_failover.yml")),
                                       "-e", "sets=bench_sets", "-e", f"confirm_promote={promote}")
                label = f"dr_failover.yml -e sets=... ({count} sets)"
            else:
                cmd = ansible_playbook(*inventories, str(PLAYBOOKS / "multi_set_failover.yml"))
                label = f"multi_set_failover.yml ({count} sets)"
            result = Run(work, label, secrets, cfg.timeout)(cmd, env, check=False)
            result["command"] = label
            if result["returncode"] != 0:
                result.pop("tasks", None)
                return {"unsupported": result.get("output_tail", ""), **result}
        for i in range(1, count + 1):
            primary, dr, perf = set_names(i)
            _labs.check_topology(info, dr, primary, [perf], f"{method}, set {i} of {count}")
            _labs.check_secrets(info, dr, primary, cfg.secrets, f"set{i}", f"{method}, set {i} of {count}")
        result.pop("tasks", None)
        return result


def run_sets(cfg: Config, out: dict[str, Any], failures: list[str]) -> None:
    if collection_runs_sets():
        form = ("`ansible-playbook playbooks/dr_failover.yml -e sets=bench_sets -e confirm_promote=s1-dr,...` "
                "(the collection's own multi-set mode: one play host per set, forks = max(5, sets))")
    else:
        form = ("one ansible-playbook run of `benchmarks/playbooks/multi_set_failover.yml`: one play host per set "
                "applying the vaultops.replication.dr_failover role (forks = max(5, sets)); the collection's "
                "playbook has no multi-set mode in this tree")
    res: dict[str, Any] = {"profile": cfg.scale_profile, "form": form, "sizes": {}}
    out["sets"] = res
    for count in cfg.set_sizes:
        entry: dict[str, Any] = {}
        res["sizes"][str(count)] = entry
        for method in ("raw", "collection"):
            label = f"{count} replication set{'s' if count > 1 else ''} by {method}"
            print(f"   {label} ...", flush=True)
            try:
                sample = sets_sample(cfg, count, method)
            except (_labs.BenchFailure, c.NotAvailable) as exc:
                failures.append(f"sets: {label}: {exc}")
                print(f"   FAILED {label}: {exc}", flush=True)
                entry[method] = {"error": str(exc)}
                continue
            entry[method] = sample
            if "unsupported" in sample:
                print(f"   {label}: not supported yet (the run failed; see the results file)", flush=True)
            else:
                print(f"   {label}: {sample['wall_s']:.2f} s", flush=True)


# -- targets ------------------------------------------------------------------------------------

# -- part 5: ansible-playbook's own cost ---------------------------------------------------------

def floor_playbook(path: Path, tasks: int) -> Path:
    """A play on localhost of ``tasks`` ``debug`` tasks and nothing else."""
    lines = ["---", "- name: ansible-playbook and nothing else", "  hosts: localhost", "  connection: local",
             "  gather_facts: false", "  tasks:"]
    for index in range(tasks):
        lines += [f"    - name: Task {index + 1}", "      ansible.builtin.debug:", "        msg: nothing", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_floor(cfg: Config, out: dict[str, Any], failures: list[str]) -> None:
    sizes = [1, FLOOR_TASKS]
    samples: dict[int, list[float]] = {n: [] for n in sizes}
    cpu: dict[int, list[float]] = {n: [] for n in sizes}
    with c.scratch_dir("floor") as work:
        books = {n: floor_playbook(work / f"floor-{n}.yml", n) for n in sizes}
        env = base_env(work)
        for index in range(max(cfg.runs, 3)):
            for n in sizes:
                label = f"ansible-playbook, {n} debug task(s), run {index + 1}"
                try:
                    result = Run(work, label, [], cfg.timeout)(ansible_playbook("-i", "localhost,", str(books[n])), env)
                except _labs.BenchFailure as exc:
                    failures.append(f"floor: {label}: {exc}")
                    print(f"   FAILED {label}: {exc}", flush=True)
                    continue
                samples[n].append(result["wall_s"])
                cpu[n].append(result["cpu_s"])
                print(f"   {label}: {result['wall_s']:.2f} s wall, {result['cpu_s']:.2f} s CPU", flush=True)
    one, many = summary(samples[1])["median"], summary(samples[FLOOR_TASKS])["median"]
    per_task = (many - one) / (FLOOR_TASKS - 1) if one is not None and many is not None else None
    out["floor"] = {"tasks": FLOOR_TASKS, "one_task_s": summary(samples[1]), "many_tasks_s": summary(samples[FLOOR_TASKS]),
                    "one_task_cpu_s": summary(cpu[1]), "many_tasks_cpu_s": summary(cpu[FLOOR_TASKS]),
                    "per_task_s": per_task}


def playbook_floor(out: dict[str, Any], tasks: float | None) -> float | None:
    """Seconds ansible-playbook itself needs for a run of ``tasks`` tasks on this machine (start-up,
    shutdown and each task's own handling), from the ``floor`` part; None when not measured."""
    floor = out.get("floor") or {}
    one, per_task = (floor.get("one_task_s") or {}).get("median"), floor.get("per_task_s")
    if one is None or per_task is None or not tasks:
        return None
    return one + per_task * (tasks - 1)


def floor_notes(out: dict[str, Any]) -> dict[str, str]:
    """Per methods target: the best any playbook of dr_failover.yml's task count could reach here."""
    summ = (out.get("methods") or {}).get("summary") or {}
    notes: dict[str, str] = {}
    for profile in ("fast", "realistic"):
        per = summ.get(profile) or {}
        tasks = ((per.get("collection") or {}).get("tasks_started") or {}).get("median")
        floor = playbook_floor(out, tasks)
        raw = ((per.get("raw") or {}).get("wall_s") or {}).get("median")
        peer = ((per.get("peer") or {}).get("wall_s") or {}).get("median")
        if floor is None or raw is None:
            continue
        head = f"ansible-playbook alone, {tasks:.0f} tasks: {floor:.2f} s"
        if profile == "fast":
            notes["fast"] = f"{head}, before any request (less the raw script's own start-up)"
        else:
            notes["realistic_a"] = f"{head}; raw + that = {(raw + floor) / raw:.2f} x raw (less raw's own start-up)"
            if peer:
                notes["realistic_b"] = f"{head}; raw + that = {(raw + floor) / peer:.2f} x peer (less raw's own start-up)"
    return notes


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, unit: str, note: str = "") -> None:
        rows.append({"target": name, "value": value, "limit": limit, "unit": unit,
                     "passed": None if value is None else value <= limit, "note": note})

    summ = (out.get("methods") or {}).get("summary") or {}
    fast = (summ.get("fast") or {}).get("ratios") or {}
    real = (summ.get("realistic") or {}).get("ratios") or {}
    floors = floor_notes(out)
    add("fast: dr_failover overhead over raw (c - a)", fast.get("overhead_c_minus_a_s"), 2.0, "s", floors.get("fast", ""))
    add("realistic: dr_failover / raw (c/a)", real.get("c_over_a"), 1.25, "x", floors.get("realistic_a", ""))
    add("realistic: dr_failover / peer (c/b)", real.get("c_over_b"), 0.25, "x", floors.get("realistic_b", ""))
    for profile, det in (out.get("detection") or {}).items():
        add(f"{profile}: promotion noticed (promote module)", det["promote"]["median"], 0.25, "s")
        add(f"{profile}: streaming noticed (replication_status_info wait_for)", det["streaming"]["median"], 0.25, "s")
    rep = ((out.get("repoint") or {}).get("sizes")) or {}
    sizes = sorted(int(k) for k, v in rep.items() if "error" not in v)
    if len(sizes) >= 2:
        small, big = rep[str(sizes[0])], rep[str(sizes[-1])]
        add(f"re-point {sizes[-1]} / re-point {sizes[0]} performance secondaries",
            c.ratio(big["collection"]["wall_s"], small["collection"]["wall_s"]), 2.0, "x")
    sets = ((out.get("sets") or {}).get("sizes")) or {}
    counts = sorted(int(k) for k in sets)
    if len(counts) >= 2:
        small, big = sets[str(counts[0])].get("collection") or {}, sets[str(counts[-1])].get("collection") or {}
        name = f"{counts[-1]} sets / 1 set in one run"
        if "unsupported" in small or "unsupported" in big:
            rows.append({"target": name, "value": None, "limit": 2.0, "unit": "x", "passed": None,
                         "note": "not supported yet"})
        elif "wall_s" in small and "wall_s" in big:
            cpus = (out.get("machine") or {}).get("cpus")
            note = (f"{big['cpu_s']:.1f} CPU-s of ansible-playbook in {big['wall_s']:.1f} s on {cpus} CPU(s)"
                    if big.get("cpu_s") is not None and cpus else "")
            add(name, c.ratio(big["wall_s"], small["wall_s"]), 2.0, "x", note)
    return rows


def print_results(cfg: Config, out: dict[str, Any]) -> None:
    summ = (out.get("methods") or {}).get("summary") or {}
    for profile, per in summ.items():
        rows = []
        for method in cfg.methods:
            s = per[method]
            rows.append([METHOD_LABELS[method], s["wall_s"]["median"], s["wall_s"]["min"], s["wall_s"]["max"],
                         s["tasks_started"]["median"], s["cpu_s"]["median"], s["peak_rss_tree_mib"]["median"],
                         s["failed_runs"]])
        c.print_table(f"failover, {profile} profile (seconds; median/min/max of {cfg.runs})",
                      ["method", "median", "min", "max", "tasks", "CPU s", "peak RSS MiB", "failed"], rows)
        r = per["ratios"]
        print(f"   c/a = {c.fmt(r['c_over_a'], 2)}   c/b = {c.fmt(r['c_over_b'], 2)}   "
              f"overhead c - a = {c.fmt(r['overhead_c_minus_a_s'], 2)} s")
    det = out.get("detection") or {}
    if det:
        rows = [[p, d["promote"]["median"], d["promote"]["max"], d["streaming"]["median"], d["streaming"]["max"],
                 d["promote"]["n"]] for p, d in det.items()]
        c.print_table("detection latency (seconds after the cluster reached the state; 10 ms ground-truth polls)",
                      ["profile", "promote median", "promote max", "streaming median", "streaming max", "runs"], rows)
    rep = (out.get("repoint") or {}).get("sizes") or {}
    if rep:
        rows = []
        for size, s in rep.items():
            if "error" in s:
                rows.append([size, "failed", None, None, None, None])
            else:
                rows.append([size, s["collection"]["wall_s"], s["collection_noop"]["wall_s"], s["raw_s"],
                             s["collection"].get("tasks_started"), s["collection"]["cpu_s"]])
        c.print_table(f"re-point performance secondaries ({out['repoint']['profile']} profile, seconds)",
                      ["secondaries", "collection", "no-change re-run", "raw", "tasks", "CPU s"], rows)
    sets = (out.get("sets") or {}).get("sizes") or {}
    if sets:
        rows = []
        for count, s in sets.items():
            raw = s.get("raw") or {}
            col = s.get("collection") or {}
            col_cell = ("not supported yet" if "unsupported" in col else
                        ("failed" if "error" in col else col.get("wall_s")))
            rows.append([count, raw.get("wall_s", "failed" if "error" in raw else None), col_cell,
                         col.get("tasks_started"), col.get("cpu_s")])
        c.print_table(f"independent replication sets failed over in one run ({out['sets']['profile']} profile, s)",
                      ["sets", "raw (threads)", "collection (one play)", "tasks", "CPU s"], rows)
    floor = out.get("floor") or {}
    if floor:
        c.print_table("ansible-playbook alone (one play on localhost, debug tasks only; seconds)",
                      ["tasks", "median", "min", "max", "CPU s"],
                      [[1, *(floor["one_task_s"][k] for k in ("median", "min", "max")), floor["one_task_cpu_s"]["median"]],
                       [floor["tasks"], *(floor["many_tasks_s"][k] for k in ("median", "min", "max")),
                        floor["many_tasks_cpu_s"]["median"]]])
        print(f"   each further task: {c.fmt(floor.get('per_task_s'), 3)} s", flush=True)
    rows = [[t["target"], t["value"], f"<= {t['limit']} {t['unit']}",
             "n/a" if t["passed"] is None else ("PASS" if t["passed"] else "FAIL"), t["note"]]
            for t in out["targets"]]
    c.print_table("targets (informational, not asserted)", ["target", "measured", "target", "result", "note"], rows)


# -- entry point --------------------------------------------------------------------------------

def run(quick: bool) -> dict[str, Any]:
    from . import _report

    cfg = config(quick)
    check_prerequisites()
    machine = _report.machine_info()
    print(f"   config: {json.dumps({k: v for k, v in asdict(cfg).items() if k != 'notes'})}", flush=True)
    out: dict[str, Any] = {"config": asdict(cfg), "machine": machine}
    failures: list[str] = []
    started = time.perf_counter()
    parts = {"methods": run_methods, "detection": run_detection, "repoint": run_repoint, "sets": run_sets,
             "floor": run_floor}
    with snapshot():
        print("   measuring a snapshot of the collection and of vaultlab taken now "
              f"(commit {machine['commit'] or '?'}, {len(machine['uncommitted_files_under_test'])} uncommitted "
              "file(s) under plugins/, roles/, playbooks/, emulator/src/)", flush=True)
        for part in cfg.parts:
            print(f"\n== {NAME}: {part}", flush=True)
            parts[part](cfg, out, failures)
    out["elapsed_s"] = time.perf_counter() - started
    out["machine"]["loadavg_at_end"] = list(os.getloadavg())
    out["targets"] = targets(out)
    out["failures"] = failures
    print_results(cfg, out)
    if cfg.docs:
        written = _report.write(out, c.REPO_ROOT / cfg.docs_dir)
    else:
        written = _report.write(out, c.RESULTS_DIR, name="performance-quick")
    print("   report: " + ", ".join(str(p.relative_to(c.REPO_ROOT)) for p in written))
    if failures:
        c.write_result(NAME, {"status": "failed", **out})
        raise _labs.BenchFailure(f"{len(failures)} measurement(s) failed:\n  " + "\n  ".join(failures))
    return out
