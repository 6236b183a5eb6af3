# SPDX-License-Identifier: GPL-3.0-or-later
"""Smoke tests of the failover benchmark's pieces (about 15 s; not part of `make test`):

    .venv/bin/python -m pytest -p no:cacheprovider benchmarks/tests
"""
from __future__ import annotations

import json
import subprocess

import pytest

from benchmarks import _common as c
from benchmarks import _labs, _report, failover, raw_failover


def test_raw_failover_fails_a_fast_lab_over(tmp_path):
    with c.running_lab("smoke", ["primary", "dr", "perf"]) as (lab_dir, info):
        _labs.setup_set(info, "primary", ["dr"], ["perf"])
        _labs.write_secrets(info, "primary", 10, "smoke")
        report = tmp_path / "raw.json"
        proc = subprocess.run([c.PYTHON, str(c.BENCH_DIR / "raw_failover.py"), "--lab", str(lab_dir),
                               "--set", "primary:dr:perf", "--json", str(report)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(report.read_text())
        steps = result["sets"][0]["events"]
        assert list(steps) == ["start", *raw_failover.STEPS]
        assert steps["promoted"] <= steps["serving"] <= steps["attached"] <= steps["perf_following"]
        assert info["clusters"]["primary"]["root_token"] not in proc.stdout + report.read_text()
        _labs.check_topology(info, "dr", "primary", ["perf"], "raw")
        _labs.check_secrets(info, "dr", "primary", 10, "smoke", "raw")
        # Checks that can fail: the old primary is no longer the primary, a different tag is missing.
        with pytest.raises(_labs.BenchFailure):
            _labs.check_topology(info, "primary", "dr", ["perf"], "raw", timeout=1)
        with pytest.raises(_labs.BenchFailure, match="10 of 10 secrets"):
            _labs.check_secrets(info, "dr", "primary", 10, "other", "raw")


def test_raw_failover_names_a_missing_cluster(tmp_path):
    (tmp_path / "lab.json").write_text(json.dumps({"clusters": {"primary": {"api_addr": "http://127.0.0.1:9",
                                                                            "root_token": "x"}}}))
    proc = subprocess.run([c.PYTHON, str(c.BENCH_DIR / "raw_failover.py"), "--lab", str(tmp_path),
                           "--set", "primary:dr"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "no cluster 'dr' in the lab" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_callback_counts_tasks_and_statuses(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: ok\n      ansible.builtin.debug:\n        msg: hi\n"
        "    - name: skipped\n      ansible.builtin.debug:\n        msg: no\n      when: false\n"
        "    - name: changed loop\n      ansible.builtin.debug:\n        msg: '{{ item }}'\n"
        "      changed_when: true\n      loop: [1, 2, 3]\n")
    env = failover.base_env(tmp_path)
    proc = subprocess.run(failover.ansible_playbook(str(playbook)), env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]
    data = json.loads((tmp_path / "tasks.json").read_text())
    assert data["tasks_started"] == 3
    assert data["results"]["ok"] == 1 and data["results"]["skipped"] == 1 and data["results"]["changed"] == 1
    assert data["items"]["changed"] == 3
    assert [t["name"] for t in data["tasks"]] == ["ok", "skipped", "changed loop"]
    assert all(t["start"] <= t["end"] for t in data["tasks"])


@pytest.mark.parametrize("name,value,needle", [
    ("BENCH_RUNS", "three", "BENCH_RUNS='three': give a whole number"),
    ("BENCH_RUNS", "0", "must be at least 1"),
    ("BENCH_PROFILES", "fast,slow", "choose from fast,realistic"),
    ("BENCH_PERF_SIZES", "1,x", "BENCH_PERF_SIZES='1,x'"),
    ("BENCH_DOCS", "maybe", "BENCH_DOCS='maybe'"),
])
def test_bad_settings_name_the_variable(monkeypatch, name, value, needle):
    monkeypatch.setenv(name, value)
    with pytest.raises(c.NotAvailable, match=needle.replace("(", r"\(").replace(")", r"\)")):
        failover.config(quick=True)


def test_quick_settings(monkeypatch):
    for key in ("BENCH_QUICK", "BENCH_RUNS", "BENCH_PERF_SIZES", "BENCH_DOCS"):
        monkeypatch.delenv(key, raising=False)
    cfg = failover.config(quick=True)
    assert cfg.runs == 1 and cfg.perf_sizes == [1, 4] and not cfg.docs
    monkeypatch.setenv("BENCH_PERF_SIZES", "32,1")
    assert failover.config(quick=False).perf_sizes == [1, 32]


def _sample(wall):
    return {"wall_s": wall, "cpu_s": 1.0, "peak_rss_tree_mib": 100.0, "peak_rss_top_mib": 60.0,
            "tasks_started": 10, "tasks_run": 8, "retries": 1}


def test_report_renders_tables_targets_and_plot(tmp_path):
    samples = {"fast": {"raw": [_sample(0.4)], "peer": [_sample(12.0)], "collection": [_sample(2.0)]}}
    out = {
        "config": {"quick": True, "runs": 1, "secrets": 20, "detect_lead": 3.0},
        "machine": {**_report.machine_info(), "loadavg_at_end": [1.0, 1.0, 1.0]},
        "methods": {"samples": samples, "summary": failover.summarise_methods(samples)},
        "detection": {"fast": {"samples": [], "promote": failover.summary([0.1]),
                               "streaming": failover.summary([0.5])}},
        "sets": {"profile": "fast", "form": "one play", "sizes": {
            "1": {"raw": {"wall_s": 0.5}, "collection": {"wall_s": 10.0}},
            "8": {"raw": {"wall_s": 1.5}, "collection": {"unsupported": "boom", "wall_s": 3.0}}}},
        "elapsed_s": 100.0,
    }
    out["targets"] = failover.targets(out)
    by_name = {t["target"]: t for t in out["targets"]}
    assert by_name["fast: dr_failover overhead over raw (c - a)"]["passed"] is True
    assert by_name["fast: streaming noticed (replication_status_info wait_for)"]["passed"] is False
    assert by_name["8 sets / 1 set in one run"]["note"] == "not supported yet"
    written = _report.write(out, tmp_path, name="page")
    text = (tmp_path / "page.md").read_text()
    assert "| (c) collection dr_failover.yml | 2.00 |" in text
    assert "c/a = 5.00" in text and "not supported yet" in text
    assert str(c.REPO_ROOT) not in text
    pytest.importorskip("matplotlib")
    assert tmp_path / "page.png" in written
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_floor_bounds_what_any_playbook_of_that_many_tasks_can_reach(tmp_path):
    samples = {"fast": {"raw": [_sample(0.4)], "peer": [_sample(12.0)], "collection": [_sample(2.0)]},
               "realistic": {"raw": [_sample(5.0)], "peer": [_sample(20.0)], "collection": [_sample(8.0)]}}
    out = {"config": {"quick": True, "runs": 1, "secrets": 20, "detect_lead": 3.0},
           "machine": {**_report.machine_info(), "loadavg_at_end": [1.0, 1.0, 1.0]},
           "methods": {"samples": samples, "summary": failover.summarise_methods(samples)},
           "floor": {"tasks": 21, "one_task_s": failover.summary([0.9]), "many_tasks_s": failover.summary([1.5]),
                     "one_task_cpu_s": failover.summary([0.8]), "many_tasks_cpu_s": failover.summary([1.4]),
                     "per_task_s": 0.03},
           "elapsed_s": 10.0}
    # 10 tasks: 0.9 s + 9 x 0.03 s = 1.17 s of ansible-playbook alone.
    assert failover.playbook_floor(out, 10) == pytest.approx(1.17)
    assert failover.playbook_floor({}, 10) is None
    out["targets"] = failover.targets(out)
    notes = {t["target"]: t["note"] for t in out["targets"]}
    assert notes["fast: dr_failover overhead over raw (c - a)"].startswith("ansible-playbook alone, 10 tasks: 1.17 s")
    assert notes["realistic: dr_failover / raw (c/a)"].endswith("raw + that = 1.23 x raw (less raw's own start-up)")
    assert notes["realistic: dr_failover / peer (c/b)"].endswith("raw + that = 0.31 x peer (less raw's own start-up)")
    _report.write(out, tmp_path, name="page")
    text = (tmp_path / "page.md").read_text()
    assert "## ansible-playbook's own cost" in text and "| 21 `debug` tasks | 1.50 |" in text
    assert "Each further task: 0.030 s." in text


def test_floor_playbook_runs(tmp_path):
    book = failover.floor_playbook(tmp_path / "floor.yml", 3)
    env = failover.base_env(tmp_path)
    result = failover.Run(tmp_path, "floor", [], 120)(failover.ansible_playbook("-i", "localhost,", str(book)), env)
    assert result["returncode"] == 0 and result["tasks_started"] == 3


def test_timeline_attributes_every_second_to_an_action():
    data = {"finished": 20.0, "tasks": [
        {"name": "a", "action": "ansible.builtin.set_fact", "start": 12.0},
        {"name": "b", "action": "vaultops.replication.promote", "start": 13.0},
        {"name": "c", "action": "ansible.builtin.set_fact", "start": 17.5},
    ]}
    t = failover.timeline(data, process_start=10.0)
    assert t["startup_s"] == 2.0
    assert t["by_action"]["ansible.builtin.set_fact"] == {"tasks": 2, "seconds": 3.5}
    assert t["by_action"]["vaultops.replication.promote"] == {"tasks": 1, "seconds": 4.5}


def test_snapshot_measures_a_copy_and_restores(monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    before = failover.COLLECTIONS
    with failover.snapshot() as snap:
        playbook = failover.collection_file("playbooks", "dr_failover.yml")
        assert playbook.is_file() and snap in playbook.parents
        assert (failover.collection_file("plugins", "modules") / "promote.py").is_file()
        env = failover.base_env(snap)
        assert env["ANSIBLE_COLLECTIONS_PATH"] == str(snap / "collections")
        probe = subprocess.run([c.PYTHON, "-c", "import vaultlab; print(vaultlab.__file__)"], env=env,
                               capture_output=True, text=True, check=True)
        assert probe.stdout.startswith(str(snap))
    assert failover.COLLECTIONS == before
    assert "PYTHONPATH" not in __import__("os").environ
    assert not snap.exists()
