# SPDX-License-Identifier: GPL-3.0-or-later
"""The failover benchmark's report: the machine it ran on, a Markdown page and a PNG plot."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from . import _common as c

LABELS = {
    "raw": "(a) raw API script",
    "peer": "(b) peer uri playbook",
    "collection": "(c) collection dr_failover.yml",
}
COLOURS = {"raw": "#4c72b0", "peer": "#dd8452", "collection": "#55a868"}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=c.REPO_ROOT, capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def machine_info() -> dict[str, Any]:
    changed = [line[3:] for line in _git("status", "--porcelain").splitlines()
               if line[3:].startswith(("plugins/", "roles/", "playbooks/", "emulator/src/"))]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "ansible_core": _version("ansible-core"),
        "vaultlab": _version("vaultlab"),
        "requests": _version("requests"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_files_under_test": changed,
        "loadavg_at_start": list(os.getloadavg()),
    }


# -- Markdown ---------------------------------------------------------------------------------

def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(_f(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _profile_note() -> str:
    """What the timing profiles mean, read from vaultlab itself."""
    try:
        from vaultlab.profiles import PROFILES
    except ImportError:
        return "vaultlab's timing profiles: see vaultlab/profiles.py."
    names = ("promote", "primary_demote", "update_primary", "wal_stream_interval", "heartbeat_interval")
    parts = [f"`{p}`: " + ", ".join(f"{n} {PROFILES[p][n]:g} s" for n in names if n in PROFILES[p])
             for p in ("fast", "realistic") if p in PROFILES]
    return ("vaultlab's timing profiles (promote, demote and update-primary are periods of unavailability "
            "after the call): " + "; ".join(parts) + ". `fast` shows the automation's own cost, `realistic` "
            "how polling intervals add up against real waits.")


def _machine_section(m: dict[str, Any], out: dict[str, Any]) -> list[str]:
    cfg = out["config"]
    load = m.get("loadavg_at_start") or []
    load_end = m.get("loadavg_at_end") or []
    rows = [
        ["date", m["date"]],
        ["CPU", f"{m['cpu_model']}, {m['cpus']} logical CPUs"],
        ["RAM", f"{m['ram_gib']:.1f} GiB" if m.get("ram_gib") else "-"],
        ["OS", m["os"]],
        ["Python / ansible-core", f"{m['python']} / {m['ansible_core']}"],
        ["vaultlab / requests", f"{m['vaultlab']} / {m['requests']}"],
        ["load average (1, 5, 15 min) at start / end",
         f"{' '.join(f'{x:.1f}' for x in load)} / {' '.join(f'{x:.1f}' for x in load_end)}"],
        ["code measured", f"a copy of the collection and of vaultlab taken at the start: commit {m['commit'] or '?'}"
         + (f" plus uncommitted changes in {len(m['uncommitted_files_under_test'])} file(s) under "
            "plugins/, roles/, playbooks/ or emulator/src/" if m["uncommitted_files_under_test"] else "")],
        ["mode", f"{'quick' if cfg['quick'] else 'full'}: {cfg['runs']} run(s) per method and profile, "
                 f"{cfg['secrets']} secrets per failover, whole benchmark {_duration(out.get('elapsed_s', 0))}"],
    ]
    return ["## Machine", ""] + _table(["item", "value"], rows)


def _methods_section(out: dict[str, Any]) -> list[str]:
    meth = out.get("methods")
    if not meth:
        return []
    cfg = out["config"]
    lines = [
        "## Planned DR failover: three methods", "",
        "Each run starts a **fresh** vaultlab lab (primary, DR secondary `dr`, performance secondary "
        "`perf`, one node each), sets replication up with raw API calls, writes "
        f"{cfg['secrets']} KV secrets on the primary, then times one command from start to exit "
        "(interpreter and Ansible start-up included):", "",
        "* **(a)** `benchmarks/raw_failover.py`: Python + requests, polls every 10 ms;",
        "* **(b)** `benchmarks/playbooks/peer_failover.yml`: the same steps as `ansible.builtin.uri` tasks "
        "with `until`/`retries`/`delay: 5`, as playbooks are commonly written;",
        "* **(c)** `ansible-playbook playbooks/dr_failover.yml -e confirm_promote=dr` (the collection as the "
        "working tree held it when the benchmark started: every run uses that copy).", "",
        "Steps of (a) and (b): batch DR operation token minted on the primary; wait until `dr` has every WAL "
        "and the same merkle root; demote the primary; wait until `dr` holds its final state (merkle roots "
        "equal); promote `dr`; wait until it serves (DR primary, `sys/health` 200, an authenticated read "
        "answered); mint an activation token on `dr` and re-attach the old primary with `update-primary`; "
        "wait until it streams from `dr` and until `perf` follows `dr`. After every run the benchmark reads "
        "all secrets back on `dr` and checks that topology over the raw API (not timed); a run that loses a "
        "secret or leaves another topology fails the benchmark.", "",
        "Tasks = tasks started by ansible-playbook (counted by `benchmarks/callback_plugins/bench_tasks.py`; "
        "includes and tasks skipped by `when` count, the number in brackets ran on a host); retries = `until` "
        "retries (each one waits the task's `delay`). CPU = user + sys "
        "seconds of the command's whole process tree. Peak RSS = highest sum of `VmRSS` over the process "
        "tree (sampled every 0.1 s), and in brackets the top process alone.", "",
    ]
    for profile, per in meth["summary"].items():
        rows = []
        for method in [m for m in LABELS if m in per]:
            s = per[method]
            tasks = "-" if s["tasks_started"]["median"] is None else \
                f"{s['tasks_started']['median']:.0f} ({s['tasks_run']['median']:.0f})"
            retries = "-" if s["retries"]["median"] is None else f"{s['retries']['median']:.0f}"
            rss = f"{_f(s['peak_rss_tree_mib']['median'], 0)} ({_f(s['peak_rss_top_mib']['median'], 0)})"
            runs = f"{s['wall_s']['n']}" + (f" (+{s['failed_runs']} failed)" if s["failed_runs"] else "")
            rows.append([LABELS[method], s["wall_s"]["median"], s["wall_s"]["min"], s["wall_s"]["max"], tasks, retries,
                         s["cpu_s"]["median"], rss, runs])
        r = per["ratios"]
        lines += [f"### `{profile}` profile", ""]
        lines += _table(["method", "median s", "min s", "max s", "tasks", "retries", "CPU s", "peak RSS MiB", "runs"],
                        rows)
        lines += [f"Ratios of the medians: **c/a = {_f(r['c_over_a'])}**, **c/b = {_f(r['c_over_b'])}**; "
                  f"automation overhead c - a = **{_f(r['overhead_c_minus_a_s'])} s**.", ""]
        steps = _raw_steps(meth["samples"].get(profile, {}).get("raw", []))
        if steps:
            lines += ["Inside (a), median seconds per step: " + ", ".join(f"{k} {v:.3f}" for k, v in steps.items())
                      + ".", ""]
        lines += _time_by_action(meth["samples"].get(profile, {}).get("collection", []), profile)
    return lines


def _time_by_action(samples: list[dict[str, Any]], profile: str, top: int = 10) -> list[str]:
    """Where (c) spends its wall time, median over the runs (see failover.timeline)."""
    good = [s["timeline"] for s in samples if "timeline" in s]
    if not good:
        return []
    actions = {a for t in good for a in t["by_action"]}

    def med(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]
    rows = [[f"`{a}`", med([t["by_action"].get(a, {}).get("tasks", 0) for t in good]),
             med([t["by_action"].get(a, {}).get("seconds", 0.0) for t in good])] for a in actions]
    rows.sort(key=lambda r: -r[2])
    startup = med([t["startup_s"] for t in good])
    lines = [f"Where (c) spends its time on `{profile}` (median of the runs; a task's share is the time from its "
             "start to the next task's start, so waits, forks and result handling are included):", ""]
    return lines + _table(["action", "tasks", "seconds"],
                          [["ansible-playbook start-up before the first task", "-", startup]] + rows[:top])


def _raw_steps(samples: list[dict[str, Any]]) -> dict[str, float]:
    good = [s["raw_steps"] for s in samples if "raw_steps" in s]
    if not good:
        return {}
    keys = list(good[0])
    return {k: sorted(g.get(k, 0.0) for g in good)[len(good) // 2] for k in keys}


def _targets_section(out: dict[str, Any]) -> list[str]:
    rows = [[t["target"], _f(t["value"], 3 if t["unit"] == "s" else 2) + f" {t['unit']}" if t["value"] is not None
             else "-", f"<= {t['limit']} {t['unit']}",
             "n/a" if t["passed"] is None else ("**pass**" if t["passed"] else "**FAIL**"), t["note"]]
            for t in out.get("targets", [])]
    if not rows:
        return []
    return ["## Targets", "", "The project's goals, checked against the medians above (informational: the "
            "benchmark never fails on a number).", ""] + _table(["target", "measured", "goal", "result", "note"], rows)


def _detection_section(out: dict[str, Any]) -> list[str]:
    det = out.get("detection")
    if not det:
        return []
    lead = out["config"]["detect_lead"]
    lines = [
        "## State-change detection", "",
        "How long after a cluster actually reaches a state the collection's module returns. vaultlab "
        "records no transition timestamps (its control API `/_vaultlab/state` shows the current state "
        "only), so the ground truth is a poller in the benchmark process that reads the cluster every "
        "10 ms over the raw API and notes the wall-clock time of the first answer showing the state. "
        "The module's \"noticed\" time is when its task ended, as recorded by the callback plugin in the "
        "ansible-playbook process (same clock). Latency = task end - ground truth; it includes the module "
        "returning its result to Ansible. The state was reached after the previous poll started, so the "
        "ground truth is late by at most one poll period (10 ms plus the requests; the median of that bound "
        "is in the table): values within that bound of zero, negative ones included, mean \"noticed "
        "as soon as a tight poll could\".", "",
        "* **promote**: a fresh primary + DR lab; the benchmark mints the batch DR operation token, waits "
        "until `dr` has caught up, demotes the primary and waits for its final state; then "
        "`benchmarks/playbooks/detect_promote.yml` runs `vaultops.replication.promote` on `dr`. Ground "
        "truth: the first poll where `dr` meets the module's own readiness condition (DR status primary / "
        "running, `sys/health` 200 unsealed with DR mode primary).",
        "* **streaming**: in the same lab, `benchmarks/playbooks/detect_streaming.yml` runs "
        "`vaultops.replication.replication_status_info` with `wait_for: [streaming, connected]` on the "
        f"demoted old primary; {lead:g} s after that task started the benchmark re-attaches the old primary "
        "to `dr` (raw `secondary-token` + `update-primary`). Ground truth: the first poll where it reports "
        "`stream-wals` over a connected channel.", "",
    ]
    rows = []
    for profile, d in det.items():
        serving = [s["promote"]["serving_minus_ready_s"] for s in d["samples"]
                   if s["promote"].get("serving_minus_ready_s") is not None]
        bounds = sorted(s[k]["resolution_s"] for s in d["samples"] for k in ("promote", "streaming")
                        if s[k].get("resolution_s") is not None)
        rows.append([profile, _f(d["promote"]["median"], 3), _f(d["promote"]["max"], 3),
                     _f(sorted(serving)[len(serving) // 2], 3) if serving else None,
                     _f(d["streaming"]["median"], 3), _f(d["streaming"]["max"], 3),
                     _f(bounds[len(bounds) // 2], 3) if bounds else None, d["promote"]["n"]])
    lines += _table(["profile", "promote: median s", "max s", "reads served s after ready",
                     "streaming: median s", "max s", "ground-truth bound s", "runs"], rows)
    lines += ["\"reads served s after ready\": how long after the promote module's readiness condition held an "
              "authenticated read (`auth/token/lookup-self`) was first answered; values near zero mean the "
              "condition and real service coincide.", ""]
    return lines


def _scaling_section(out: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    rep = out.get("repoint")
    if rep and rep.get("sizes"):
        lines += ["## Re-pointing performance secondaries", "",
                  f"`{rep['profile']}` profile. A lab with a primary, a DR secondary and N performance "
                  "secondaries is failed over with the raw script; the benchmark then gives each performance "
                  "secondary a token (generate-root) and detaches it (`update-primary` without a token), so "
                  "that each one needs a real re-point. Measured: "
                  f"{rep['form']} (`benchmarks/playbooks/repoint_perf.yml`: revoke the id, mint, "
                  "`update-primary`, wait until it streams), the same playbook again when nothing is left to "
                  "do, and the raw API doing the same one after the other.", ""]
        rows = []
        for size, s in rep["sizes"].items():
            if "error" in s:
                rows.append([size, "failed", "-", "-", "-", "-"])
                continue
            col = s["collection"]
            rows.append([size, col["wall_s"], s["collection_noop"]["wall_s"], s["raw_s"],
                         col.get("tasks_started"), col["cpu_s"]])
        lines += _table(["performance secondaries", "collection s", "no-change re-run s", "raw s",
                         "tasks", "CPU s"], rows)
    sets = out.get("sets")
    if sets and sets.get("sizes"):
        lines += ["## Independent replication sets in one run", "",
                  f"`{sets['profile']}` profile. K sets of primary + DR secondary + performance secondary, all "
                  "in one lab (fresh per method), failed over in one command: the raw script with one thread per "
                  f"set, and the collection as {sets['form']}. When the collection's run fails the table says "
                  "\"not supported yet\". Tasks count each task once, however many hosts ran it; on a machine "
                  "with few CPUs the forks compete for them (compare CPU seconds with wall seconds).", ""]
        rows = []
        for count, s in sets["sizes"].items():
            raw, col = s.get("raw") or {}, s.get("collection") or {}
            col_cell = ("not supported yet" if "unsupported" in col
                        else ("failed" if "error" in col else col.get("wall_s")))
            rows.append([count, raw.get("wall_s", "failed" if "error" in raw else None), col_cell,
                         col.get("tasks_started"), col.get("cpu_s"), col.get("peak_rss_tree_mib")])
        lines += _table(["sets", "raw s", "collection s", "tasks", "CPU s", "peak RSS MiB"], rows)
    return lines


def _floor_section(out: dict[str, Any]) -> list[str]:
    floor = out.get("floor")
    if not floor:
        return []
    tasks = floor["tasks"]
    rows = [["1 `debug` task", floor["one_task_s"]["median"], floor["one_task_s"]["min"], floor["one_task_s"]["max"],
             floor["one_task_cpu_s"]["median"]],
            [f"{tasks} `debug` tasks", floor["many_tasks_s"]["median"], floor["many_tasks_s"]["min"],
             floor["many_tasks_s"]["max"], floor["many_tasks_cpu_s"]["median"]]]
    per_task = floor.get("per_task_s")
    return [
        "## ansible-playbook's own cost", "",
        "`ansible-playbook` on this machine with no Vault and nothing to do: one play on localhost with one "
        f"`debug` task (start-up and shutdown: importing ansible-core, loading its configuration and plugin "
        f"routing, the inventory, the workers' process) and with {tasks}. A playbook of N tasks cannot take less "
        "than the first plus (N - 1) times the cost of each further task, whatever its tasks do; the targets "
        "table quotes that bound for dr_failover.yml's task count.", "",
    ] + _table(["play", "median s", "min s", "max s", "CPU s"], rows) + [
        f"Each further task: {_f(per_task, 3)} s." if per_task is not None else "", ""]


def markdown(out: dict[str, Any], image: str | None) -> str:
    m = out["machine"]
    cfg = out["config"]
    lines = [
        "<!-- Generated by `make bench` (benchmarks/failover.py); edits are overwritten. -->",
        "# Performance", "",
        f"Planned DR failover timed against a raw API script and a peer-style playbook, measured on "
        f"{m['date']} ({'quick' if cfg['quick'] else 'full'} run). Absolute seconds depend on the machine and "
        "on everything else it runs; the ratios between methods measured side by side are the numbers to "
        "compare. Regenerate with `make bench` (`make bench BENCH_QUICK=1` for a short run; sizes in "
        "`benchmarks/README.md`).", "",
        f"![Failover wall time per method, detection latency and scaling]({image})" if image else
        "(No plot: matplotlib is not installed; `make bench` installs `benchmarks/requirements.txt`.)", "",
    ]
    lines += _machine_section(m, out)
    lines += _methods_section(out)
    lines += _targets_section(out)
    lines += _floor_section(out)
    lines += _detection_section(out)
    lines += _scaling_section(out)
    notes = [
        "The machine is shared: other jobs ran during the measurement (see the load averages), so single "
        "runs vary; min and max show by how much.",
        _profile_note(),
    ]
    if out.get("failures"):
        notes.append("**Failed measurements** (the run exited non-zero): " + "; ".join(
            f.splitlines()[0] for f in out["failures"]))
    lines += ["## Notes", ""] + [f"* {n}" for n in notes] + [""]
    return "\n".join(lines)


# -- plot ---------------------------------------------------------------------------------------

def plot(out: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    summ = (out.get("methods") or {}).get("summary") or {}
    det = out.get("detection") or {}
    panels = [p for p in ("methods", "detection", "scaling") if
              (p == "methods" and summ) or (p == "detection" and det) or
              (p == "scaling" and (out.get("repoint") or out.get("sets")))]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(max(7.0, 5.2 * len(panels)), 4.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if panel == "methods":
            _plot_methods(ax, summ)
        elif panel == "detection":
            _plot_detection(ax, det)
        else:
            _plot_scaling(ax, out)
    fig.suptitle(f"vaultops.replication benchmarks, {out['machine']['date']}, {out['machine']['cpus']} CPUs, "
                 f"{'quick' if out['config']['quick'] else 'full'} run", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _plot_methods(ax: Any, summ: dict[str, Any]) -> None:
    profiles = list(summ)
    methods = [m for m in LABELS if any(m in summ[p] for p in profiles)]
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        xs, ys, lo, hi = [], [], [], []
        for j, profile in enumerate(profiles):
            s = summ[profile].get(method, {}).get("wall_s") or {}
            if s.get("median") is None:
                continue
            xs.append(j + (i - (len(methods) - 1) / 2) * width)
            ys.append(s["median"])
            lo.append(s["median"] - s["min"])
            hi.append(s["max"] - s["median"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=LABELS[method], color=COLOURS[method])
        for x, y in zip(xs, ys):
            ax.annotate(f"{y:.1f}", (x, y), ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_xticks(range(len(profiles)))
    ax.set_xticklabels([f"{p} profile" for p in profiles])
    ax.set_ylabel("wall seconds (median, bars min-max)")
    ax.set_title("Planned DR failover", fontsize=10)
    ax.legend(fontsize=7)


def _plot_detection(ax: Any, det: dict[str, Any]) -> None:
    profiles = list(det)
    for i, (kind, colour) in enumerate((("promote", "#8172b3"), ("streaming", "#937860"))):
        xs = [j + (i - 0.5) * 0.35 for j in range(len(profiles))]
        ys = [det[p][kind]["median"] or 0.0 for p in profiles]
        hi = [(det[p][kind]["max"] or 0.0) - (det[p][kind]["median"] or 0.0) for p in profiles]
        ax.bar(xs, ys, 0.35, yerr=[[0] * len(ys), hi], capsize=3, color=colour,
               label=f"{kind} noticed after")
    ax.axhline(0.25, color="red", linestyle="--", linewidth=1, label="goal 0.25 s")
    ax.set_xticks(range(len(profiles)))
    ax.set_xticklabels([f"{p} profile" for p in profiles])
    ax.set_ylabel("seconds after the state was reached (median, bar to max)")
    ax.set_title("State-change detection", fontsize=10)
    ax.legend(fontsize=7)


def _plot_scaling(ax: Any, out: dict[str, Any]) -> None:
    labels, ys, colours = [], [], []
    for size, s in ((out.get("repoint") or {}).get("sizes") or {}).items():
        if "error" not in s:
            labels.append(f"re-point\n{size} perf")
            ys.append(s["collection"]["wall_s"])
            colours.append("#55a868")
    for count, s in ((out.get("sets") or {}).get("sizes") or {}).items():
        col = s.get("collection") or {}
        if "wall_s" in col and "unsupported" not in col:
            labels.append(f"fail over\n{count} set{'s' if int(count) > 1 else ''}")
            ys.append(col["wall_s"])
            colours.append("#c44e52")
    ax.bar(range(len(ys)), ys, color=colours)
    for x, y in enumerate(ys):
        ax.annotate(f"{y:.1f}", (x, y), ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                    textcoords="offset points")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("wall seconds of the collection's run")
    ax.set_title("Scaling (goal: N <= 2 x one)", fontsize=10)


def write(out: dict[str, Any], folder: Path, name: str = "performance") -> list[Path]:
    """``folder/<name>.md`` and the plot (``folder/images/<name>.png`` under docs, else next to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "images" / f"{name}.png" if folder.name == "docs" else folder / f"{name}.png"
    written = []
    rel = None
    if plot(out, image):
        written.append(image)
        rel = image.relative_to(folder).as_posix()
    page = folder / f"{name}.md"
    page.write_text(markdown(out, rel))
    written.insert(0, page)
    return written


def main(argv: list[str] | None = None) -> int:
    """Redraw the page from a results file: python -m benchmarks._report RESULTS.json [FOLDER]."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print("usage: python -m benchmarks._report benchmarks/results/failover.json [docs]", file=sys.stderr)
        return 2
    out = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    folder = c.REPO_ROOT / (args[1] if len(args) == 2 else "docs")
    for path in write(out, folder, name="performance" if folder.name == "docs" else "performance-quick"):
        print(path.relative_to(c.REPO_ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
