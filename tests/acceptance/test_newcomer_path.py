# SPDX-License-Identifier: GPL-3.0-or-later
"""The newcomer's path, end to end, with nothing from the checkout but the built tarball: install
it, get an inventory, set up replication, lose the primary, dry-run the failover (it says what
blocks it: no key shares in this run), let three key holders contribute in separate runs, dry-run
again (nothing blocks it now), fail over, and read the summary. No secret in any output."""
from __future__ import annotations

import re
import subprocess

import yaml

from conftest import BIN, base_env, build_tarball, demo_lab, vaultlab_exports


def test_newcomer_installs_dry_runs_and_fails_over_with_key_holders(lab, tmp_path):
    env = base_env()
    tarball = build_tarball(tmp_path, env)
    collections = tmp_path / "collections"
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)  # the installed copy only, never the checkout
    env.pop("ANSIBLE_CONFIG", None)
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections),
                    str(tarball)], check=True, env=env, cwd=str(tmp_path),
                   stdout=subprocess.DEVNULL, timeout=300)
    work = tmp_path / "ops"
    work.mkdir()
    vaultlab = str(BIN / "vaultlab")

    def refresh():
        inventory = work / "inventory.yml"
        subprocess.run([vaultlab, "inventory", "--dir", str(lab.dir), "--output", str(inventory)],
                       env=base_env(), check=True, stdout=subprocess.DEVNULL, timeout=60)
        # The key shares belong to the key holders, not to the operator's inventory.
        data = yaml.safe_load(inventory.read_text())

        def strip(node):
            if isinstance(node, dict):
                node.pop("vault_unseal_keys", None)
                for value in node.values():
                    strip(value)
        strip(data)
        inventory.write_text(yaml.safe_dump(data))
        exported = subprocess.run([vaultlab, "env", "--dir", str(lab.dir)], env=base_env(), check=True,
                                  stdout=subprocess.PIPE, text=True, timeout=60).stdout
        return dict(env, PATH="%s:%s" % (BIN, env["PATH"]), **vaultlab_exports(exported))

    def run(shell_env, name, *extra, rc=0):
        lab.runs += 1
        cmd = ["ansible-playbook", "-i", "inventory.yml", "vaultops.replication." + name] + [
            a for e in extra for a in ("-e", e)]
        proc = subprocess.run(cmd, env=shell_env, cwd=str(work), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=600, check=False)
        (lab.logs / ("%02d-newcomer-%s.log" % (lab.runs, name))).write_text(proc.stdout)
        assert (proc.returncode == 0) == (rc == 0), "%s %s exited %s:\n%s" % (
            name, extra, proc.returncode, proc.stdout[-3000:])
        return proc.stdout

    shell = refresh()
    run(shell, "setup_replication", "confirm_wipe=dr,perf")
    lab.vaultlab("fault", "kill", "--cluster", "primary")
    shell = refresh()
    shell.pop("VAULT_UNSEAL_KEYS", None)  # no key holder gives a share to the failover itself
    unplanned = ("confirm_promote=dr", "failover_type=unplanned", "confirm_primary_lost=primary")

    blocked = run(shell, "dr_failover", *unplanned, "plan=true", rc=2)
    assert "BLOCKED: " in blocked and "dr_key_ceremony.yml -e cluster=dr" in blocked, blocked[-3000:]

    started = run(shell, "dr_key_ceremony", "cluster=dr")
    nonce = re.search(r"Nonce: ([0-9a-f-]{36})", started).group(1)
    shares = lab.info["primary"]["unseal_keys_b64"][:lab.info["primary"]["threshold"]]
    for share in shares:
        last = run(dict(shell, VAULT_UNSEAL_KEY=share), "dr_key_ceremony", "cluster=dr", "nonce=" + nonce)
    assert "The DR operation token is on record" in last

    plan = run(shell, "dr_failover", *unplanned, "plan=true")
    assert "Nothing blocks the run." in plan and "the token the key holders generated on dr" in plan, plan[-3000:]

    done = run(shell, "dr_failover", *unplanned, "fence_timeout=0")
    assert "dr is the DR primary." in done, done[-3000:]
    assert re.search(r"RTO [0-9.]+ s", done), done[-3000:]
    assert "Now: " in done and "Left behind: " in done  # the summary: roles now, what is left (the unfenced primary)
    hits = demo_lab.find_leaks(lab.info, [str(lab.logs)])
    assert hits == [], hits[:5]
    assert not any(share in (lab.logs / p.name).read_text() for p in lab.logs.glob("*.log") for share in shares)
