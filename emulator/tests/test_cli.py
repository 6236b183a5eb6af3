"""The ``vaultlab`` command line: up / status / env / down, lab.json, inventory, errors."""

from __future__ import annotations

import json
import os
import socket
import stat
import time

import pytest
from conftest import call, cli, run_cli

from vaultlab.supervisor import render_inventory


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_up_default_lab_status_env_down_and_up_again(tmp_path) -> None:
    lab_dir = tmp_path / "lab"
    started = time.monotonic()
    up = run_cli("up", "--dir", str(lab_dir))
    elapsed = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    assert elapsed < 30, f"up took {elapsed:.1f}s"  # generous: CI runners can be very loaded
    try:
        lab = json.loads((lab_dir / "lab.json").read_text())
        assert _mode(lab_dir / "lab.json") == 0o600
        assert set(lab["clusters"]) == {"primary", "dr", "perf"}
        for name, info in lab["clusters"].items():
            assert {"api_addr", "nodes", "cluster_addr", "root_token", "unseal_keys_b64", "threshold",
                    "ca_cert"} <= set(info)
            assert info["threshold"] == 3 and len(info["unseal_keys_b64"]) == 5 and info["ca_cert"] is None
            assert info["nodes"] == [info["api_addr"]] and info["api_addr"].startswith("http://127.0.0.1:")
            health = call("GET", info["api_addr"] + "/v1/sys/health")
            assert health.status == 200 and health.json["sealed"] is False
        for log in (lab_dir / "logs").iterdir():
            assert _mode(log) == 0o600
            text = log.read_text()
            for info in lab["clusters"].values():
                assert info["root_token"] not in text
                assert not any(key in text for key in info["unseal_keys_b64"])

        inventory = (lab_dir / "inventory.yml").read_text()
        assert "hvs." not in inventory and lab["clusters"]["primary"]["unseal_keys_b64"][0] not in inventory
        assert 'ansible_python_interpreter: "{{ ansible_playbook_python }}"' in inventory
        for group in ("vault_clusters", "vault_primary", "vault_dr_secondaries", "vault_perf_secondaries"):
            assert f"    {group}:" in inventory

        status = cli("status", "--dir", str(lab_dir), "--json")
        assert status.returncode == 0, status.stderr
        parsed = json.loads(status.stdout)
        assert all(n["active"] and n["running"] for c in parsed["clusters"].values() for n in c["nodes"])
        table = cli("status", "--dir", str(lab_dir))
        assert "primary-1" in table.stdout and "active" in table.stdout

        env = cli("env", "--dir", str(lab_dir), "primary")
        assert env.returncode == 0
        assert f"export VAULT_ADDR={lab['clusters']['primary']['api_addr']}" in env.stdout
        assert f"export VAULT_TOKEN={lab['clusters']['primary']['root_token']}" in env.stdout
        bad_env = cli("env", "--dir", str(lab_dir), "nosuch")
        assert bad_env.returncode == 1 and "unknown cluster" in bad_env.stderr

        # write data, stop everything, start again: same keys, data kept, unsealed
        token = lab["clusters"]["primary"]["root_token"]
        addr = lab["clusters"]["primary"]["api_addr"]
        assert call("POST", addr + "/v1/sys/mounts/keep", {"type": "kv"}, token=token).status == 204
        assert call("PUT", addr + "/v1/keep/x", {"v": "1"}, token=token).status == 204
    finally:
        down = run_cli("down", "--dir", str(lab_dir))
    assert down.returncode == 0 and "stopped 3 node(s)" in down.stdout
    with pytest.raises(OSError):
        call("GET", addr + "/v1/sys/health", timeout=1)
    again = cli("down", "--dir", str(lab_dir))
    assert again.returncode == 0 and "stopped 0 node(s)" in again.stdout

    up2 = run_cli("up", "--dir", str(lab_dir))
    try:
        assert up2.returncode == 0, up2.stderr
        lab2 = json.loads((lab_dir / "lab.json").read_text())
        assert lab2["clusters"]["primary"]["root_token"] == token
        assert lab2["clusters"]["primary"]["api_addr"] == addr  # ports are kept across restarts
        assert call("GET", addr + "/v1/keep/x", token=token).json["data"] == {"v": "1"}
    finally:
        run_cli("down", "--dir", str(lab_dir))

    # A node that cannot start (its port is taken) fails `up` in one line, and the nodes
    # that did start are stopped again.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", int(addr.rsplit(":", 1)[1])))
    blocker.listen(1)
    try:
        failed = cli("up", "--dir", str(lab_dir))
        assert failed.returncode == 1
        assert "primary-1" in failed.stderr and "in use" in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
        status = json.loads(cli("status", "--dir", str(lab_dir), "--json").stdout)
        assert not any(n["running"] for c in status["clusters"].values() for n in c["nodes"])
    finally:
        blocker.close()
        cli("down", "--dir", str(lab_dir))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["up", "--cluster", "Bad Name"], "--cluster"),
        (["up", "--cluster", "primary:x"], "NODES must be a number"),
        (["up", "--cluster", "primary:0"], "between 1 and 9"),
        (["up", "--profile", "slow"], "--profile"),
        (["up", "--timing", "promote"], "NAME=SECONDS"),
        (["up", "--timing", "promote=-1"], "negative"),
        (["up", "--cluster", "a", "--cluster", "a"], "only once"),
        (["status"], "no lab"),
        (["env", "primary"], "no lab.json"),
        (["fault", "kill", "--cluster", "primary"], "no lab"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, args, needle) -> None:
    result = cli(*args[:1], "--dir", str(tmp_path / "x"), *args[1:])
    assert result.returncode == 1
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "run").exists()


def test_usage_errors_exit_2_in_one_line(tmp_path) -> None:
    result = run_cli("up")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--dir" in result.stderr
    failed = run_cli("status", "--dir", str(tmp_path / "none"))
    assert failed.returncode == 1 and failed.stderr.startswith("vaultlab: error: no lab")
    assert len(failed.stderr.strip().splitlines()) == 1


def test_timing_overrides_reach_lab_json_and_nodes(tmp_path) -> None:
    lab_dir = tmp_path / "t"
    timing_file = tmp_path / "timing.json"
    timing_file.write_text(json.dumps({"bootstrap": 0.5, "promote": 9}))
    result = cli("up", "--dir", str(lab_dir), "--cluster", "solo", "--timing", "promote=2.0",
                 "--timing-file", str(timing_file), "--profile", "realistic")
    try:
        assert result.returncode == 0, result.stderr
        lab = json.loads((lab_dir / "lab.json").read_text())
        assert lab["timing"] == {"bootstrap": 0.5, "promote": 2.0} and lab["profile"] == "realistic"
        state = call("GET", lab["clusters"]["solo"]["api_addr"] + "/_vaultlab/state",
                     headers={"X-Vaultlab-Control-Token": (lab_dir / "control-token").read_text().strip()}).json
        assert state["profile"] == "realistic" and state["active"] is True
        config = json.loads((lab_dir / "config.json").read_text())
        assert config["timing"]["promote"] == 2.0
        inventory = (lab_dir / "inventory.yml").read_text()
        assert "vault_primary:\n      hosts: {}" in inventory
    finally:
        cli("down", "--dir", str(lab_dir))


def test_render_inventory_groups_by_name_prefix() -> None:
    lab = {"clusters": {
        name: {"api_addr": f"http://127.0.0.1:{i}", "nodes": [f"http://127.0.0.1:{i}"], "ca_cert": "/ca.pem",
               "root_token": "hvs.secret"}
        for i, name in enumerate(["primary-east", "dr-west", "perf-eu", "other"], start=8200)
    }}
    text = render_inventory(lab)
    assert "hvs.secret" not in text
    primary = text.split("    vault_primary:")[1].split("    vault_dr_secondaries:")[0]
    assert "primary-east: {}" in primary and "dr-west" not in primary
    assert "dr-west: {}" in text.split("    vault_dr_secondaries:")[1].split("    vault_perf_secondaries:")[0]
    assert "perf-eu: {}" in text.split("    vault_perf_secondaries:")[1]
    assert 'vault_ca_cert: "/ca.pem"' in text
    assert "        other:\n" in text  # every cluster is in vault_clusters


@pytest.mark.vaultlab(clusters=["solo:2"])
def test_pytest_plugin_fixture(vaultlab) -> None:
    info = vaultlab.info["clusters"]["solo"]
    assert len(info["nodes"]) == 2
    assert call("GET", info["api_addr"] + "/v1/sys/health").status == 200
    lookup = call("GET", info["api_addr"] + "/v1/auth/token/lookup-self", token=vaultlab.token("solo"))
    assert lookup.json["data"]["policies"] == ["root"]

