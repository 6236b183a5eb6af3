# SPDX-License-Identifier: GPL-3.0-or-later
"""Testing your own playbooks with vaultlab: `vaultlab env` and `vaultlab inventory` give the
collection's playbooks everything they read (addresses, CA, nodes, tokens per cluster, key
shares), so they run unchanged against a TLS lab - set-up from the exports, failover from the
written inventory alone."""
from __future__ import annotations

import stat
import subprocess

import demo_lab
from conftest import BIN, ROOT, base_env, vaultlab_exports




def _playbook(env, inventory, name, *extra):
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), "vaultops.replication." + name]
    for item in extra:
        cmd += ["-e", item]
    return subprocess.run(cmd, env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600, check=False)


def test_playbooks_run_unchanged_from_vaultlab_env_and_inventory(tmp_path):
    env = base_env()
    lab_dir = tmp_path / "lab"
    vaultlab = str(BIN / "vaultlab")
    subprocess.run([vaultlab, "up", "--dir", str(lab_dir), "--tls", "--cluster", "primary", "--cluster", "dr",
                    "--cluster", "perf"], check=True, env=env, stdout=subprocess.DEVNULL, timeout=120)
    try:
        exported = vaultlab_exports(subprocess.run([vaultlab, "env", "--dir", str(lab_dir)], env=env, check=True,
                                           stdout=subprocess.PIPE, text=True, timeout=60).stdout)
        assert {"VAULT_ADDR", "VAULT_TOKEN", "VAULT_TOKEN_PRIMARY", "VAULT_TOKEN_DR", "VAULT_TOKEN_PERF",
                "VAULT_UNSEAL_KEYS", "VAULT_CACERT"} <= set(exported), sorted(exported)
        # Before the set-up every cluster has its own root token.
        assert len({exported[k] for k in ("VAULT_TOKEN_PRIMARY", "VAULT_TOKEN_DR", "VAULT_TOKEN_PERF")}) == 3
        setup = _playbook(dict(env, **exported), lab_dir / "inventory.yml", "setup_replication", "confirm_wipe=dr,perf")
        assert "failed=0" in setup.stdout.split("PLAY RECAP")[-1], setup.stdout[-4000:]

        # After it the DR secondary accepts the primary's token; the performance secondary (tokens
        # are local to each performance cluster) gets a root token generated on it.
        again = vaultlab_exports(subprocess.run([vaultlab, "env", "--dir", str(lab_dir)], env=env, check=True,
                                        stdout=subprocess.PIPE, text=True, timeout=60).stdout)
        assert again["VAULT_TOKEN_DR"] == exported["VAULT_TOKEN_PRIMARY"]
        perf_token = again["VAULT_TOKEN_PERF"]
        assert perf_token not in (exported["VAULT_TOKEN_PRIMARY"], exported["VAULT_TOKEN_PERF"])
        perf = demo_lab.load_lab(str(lab_dir))["perf"]
        assert demo_lab.call(perf, "GET", "auth/token/lookup-self", token=perf_token)[0] == 200
        inventory = tmp_path / "lab-inventory.yml"
        subprocess.run([vaultlab, "inventory", "--dir", str(lab_dir), "--output", str(inventory)], env=env,
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        assert stat.S_IMODE(inventory.stat().st_mode) == 0o600
        text = inventory.read_text()
        assert text.count(exported["VAULT_TOKEN_PRIMARY"]) == 2 and exported["VAULT_TOKEN_DR"] not in text
        assert text.count(perf_token) == 1  # kept and reused, not generated again

        # The failover from the written inventory alone: no VAULT_* variable at all.
        failover = _playbook(env, inventory, "dr_failover", "confirm_promote=dr")
        assert failover.returncode == 0, failover.stdout[-4000:]
        verify = _playbook(env, inventory, "verify")
        assert verify.returncode == 0, verify.stdout[-4000:]
        assert "HEALTHY: DR primary dr; every secondary streams" in verify.stdout
        for secret in [exported["VAULT_TOKEN_PRIMARY"], perf_token] + exported["VAULT_UNSEAL_KEYS"].split(","):
            assert secret not in setup.stdout + failover.stdout + verify.stdout
    finally:
        subprocess.run([vaultlab, "down", "--dir", str(lab_dir)], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=120)
