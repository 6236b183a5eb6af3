"""``vaultlab env`` (all clusters) and ``vaultlab inventory``: the variables the collection's
playbooks read, with the token each cluster accepts now."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import cli

from vaultlab import cli as cli_module


class _FakeLab:
    """What the helpers read from a Supervisor: lab.json and the per-node replication modes."""

    def __init__(self, modes: dict[str, Any], ca: str | None = None) -> None:
        self.dir = Path("/labs/x")
        self._modes = modes
        self._ca = ca

    def lab(self) -> dict[str, Any]:
        clusters = {}
        for name in self._modes:
            clusters[name] = {"api_addr": f"https://127.0.0.1:{8200 + len(clusters)}", "root_token": f"hvs.root-{name}",
                              "unseal_keys_b64": [f"key-{name}-{i}" for i in range(3)],
                              "nodes": [f"https://127.0.0.1:{8200 + len(clusters)}"], "ca_cert": self._ca}
        return {"clusters": clusters, "ca_cert": self._ca}

    def status(self) -> dict[str, Any]:
        return {"clusters": {name: {"nodes": [{"replication": m}] if m else [{"replication": None}]}
                             for name, m in self._modes.items()}}


def _exports(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            out[name] = shlex.split(value)[0]
    return out


DISABLED = {"dr": "disabled", "performance": "disabled"}


def test_fresh_lab_every_cluster_its_own_token() -> None:
    lab = _FakeLab({"primary": DISABLED, "dr": DISABLED, "perf-eu": DISABLED}, ca="/labs/x/tls/ca.pem")
    env = _exports(cli_module._env_all(lab))
    assert env["VAULT_TOKEN"] == env["VAULT_TOKEN_PRIMARY"] == "hvs.root-primary"
    assert env["VAULT_TOKEN_DR"] == "hvs.root-dr"
    assert env["VAULT_TOKEN_PERF_EU"] == "hvs.root-perf-eu"  # the topology role's name mangling
    assert env["VAULT_UNSEAL_KEYS"] == "key-primary-0,key-primary-1,key-primary-2"
    assert env["VAULT_CACERT"] == "/labs/x/tls/ca.pem"
    assert env["VAULT_ADDR"] == "https://127.0.0.1:8200"


SET_UP = {"primary": {"dr": "primary", "performance": "primary"},
          "dr": {"dr": "secondary", "performance": "disabled"},
          "perf": {"dr": "disabled", "performance": "secondary"},
          "spare": DISABLED,   # not activated yet: still its own
          "down": None}        # unreadable while others replicate: the primary's


def test_after_set_up_dr_members_get_the_primarys_token_perf_its_own(monkeypatch) -> None:
    asked = []

    def generated(lab, name, info, keys):
        asked.append((name, keys))
        return "hvs.generated-" + name, ""

    monkeypatch.setattr(cli_module, "_performance_secondary_token", generated)
    text = cli_module._env_all(_FakeLab(SET_UP))
    env = _exports(text)
    assert env["VAULT_TOKEN_DR"] == env["VAULT_TOKEN_DOWN"] == "hvs.root-primary"
    assert env["VAULT_TOKEN_PERF"] == "hvs.generated-perf"  # tokens are local to a performance cluster
    assert asked == [("perf", ["key-primary-0", "key-primary-1", "key-primary-2"])]
    assert env["VAULT_TOKEN_SPARE"] == "hvs.root-spare"
    assert "unset VAULT_CACERT" in text and "warning" not in text


def test_performance_secondary_without_a_token_is_a_warning(monkeypatch) -> None:
    monkeypatch.setattr(cli_module, "_performance_secondary_token", lambda *a: (None, "generate-root answered HTTP 403"))
    text = cli_module._env_all(_FakeLab(SET_UP))
    assert "# warning: perf: no token of its own (generate-root answered HTTP 403)" in text


def test_inventory_file_is_private_and_complete(tmp_path) -> None:
    lab = _FakeLab({"primary": {"dr": "primary", "performance": "primary"},
                    "dr": {"dr": "secondary", "performance": "disabled"}, "perf": DISABLED})  # perf: not yet activated
    out = tmp_path / "inv.yml"
    out.write_text("old")
    os.chmod(out, 0o644)
    cli_module._write_inventory(lab, str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    yaml = pytest.importorskip("yaml")
    inv = yaml.safe_load(out.read_text())["all"]["children"]
    hosts = inv["vault_clusters"]["hosts"]
    assert inv["vault_clusters"]["vars"]["ansible_connection"] == "local"
    assert hosts["primary"]["vault_unseal_keys"] == ["key-primary-0", "key-primary-1", "key-primary-2"]
    assert hosts["dr"]["vault_token"] == "hvs.root-primary" and hosts["perf"]["vault_token"] == "hvs.root-perf"
    assert hosts["dr"]["vault_addr"].startswith("https://") and hosts["dr"]["vault_nodes"]
    assert "vault_unseal_keys" not in hosts["dr"]
    assert list(inv["vault_primary"]["hosts"]) == ["primary"]
    assert list(inv["vault_dr_secondaries"]["hosts"]) == ["dr"]
    assert list(inv["vault_perf_secondaries"]["hosts"]) == ["perf"]
    assert not list(tmp_path.glob("*.tmp"))


def test_inventory_cli_errors_are_one_line(tmp_path) -> None:
    missing = cli("inventory", "--dir", str(tmp_path / "nolab"), "--output", str(tmp_path / "x.yml"))
    assert missing.returncode == 1 and "no lab.json" in missing.stderr and "\n" == missing.stderr[-1]
    usage = cli("inventory", "--dir", str(tmp_path))
    assert usage.returncode == 2 and "--output" in usage.stderr


def test_env_and_inventory_of_a_real_lab(tmp_path) -> None:
    lab_dir = tmp_path / "lab"
    up = cli("up", "--dir", str(lab_dir), "--cluster", "primary", "--cluster", "dr")
    assert up.returncode == 0, up.stderr
    try:
        env = cli("env", "--dir", str(lab_dir))
        assert env.returncode == 0, env.stderr
        exported = _exports(env.stdout)
        assert exported["VAULT_TOKEN_DR"] != exported["VAULT_TOKEN_PRIMARY"] == exported["VAULT_TOKEN"]
        assert len(exported["VAULT_UNSEAL_KEYS"].split(",")) == 5
        out = tmp_path / "inv.yml"
        written = cli("inventory", "--dir", str(lab_dir), "--output", str(out))
        assert written.returncode == 0, written.stderr
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert exported["VAULT_TOKEN_DR"] in out.read_text()
        is_dir = cli("inventory", "--dir", str(lab_dir), "--output", str(tmp_path))
        assert is_dir.returncode == 1 and "is a directory" in is_dir.stderr
    finally:
        cli("down", "--dir", str(lab_dir))
