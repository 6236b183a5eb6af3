# SPDX-License-Identifier: GPL-3.0-or-later
"""Several independent DR replication sets in one inventory, set up and failed over in one run of
each playbook (-e sets=GROUP: one play host per set, run side by side across forks), each set
taking its own cluster from the confirm_promote list; a list that names no member of a set stops
that set with a message saying so, and the others still fail over."""
from __future__ import annotations

import subprocess

from conftest import BIN, ROOT, base_env, demo_lab, recap_changed

SETS = ("east", "west", "north")


def _inventory(info):
    lines = ["all:", "  children:", "    vault_clusters:", "      hosts:"]
    for name, c in info.items():
        lines += ["        %s:" % name, "          vault_addr: \"%s\"" % c["api_addr"],
                  "          ansible_connection: local"]
    lines += ["    replication_sets:", "      hosts:"]
    for s in SETS:
        lines += ["        %s:" % s, "          ansible_connection: local",
                  "          ansible_python_interpreter: \"{{ ansible_playbook_python }}\"",
                  "          topology_primary_group: %s_primary" % s,
                  "          topology_dr_group: %s_dr" % s,
                  "          topology_perf_group: %s_perf" % s]
    for s in SETS:
        lines += ["    %s_primary:" % s, "      hosts:", "        %s-a: {}" % s,
                  "    %s_dr:" % s, "      hosts:", "        %s-b: {}" % s]
    return "\n".join(lines) + "\n"


def _run(lab_dir, inventory, env, playbook, *extra):
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), "-f", str(len(SETS)),
           "vaultops.replication." + playbook, "-e", "sets=replication_sets"]
    for item in extra:
        cmd += ["-e", item]
    return subprocess.run(cmd, env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900, check=False)


def _roles(info, names):
    return {n: r.get("dr", {}).get("mode") for n, r in demo_lab.read_roles({k: info[k] for k in names}).items()}


def test_several_sets_fail_over_in_one_run(tmp_path):
    lab_dir = tmp_path / "lab"
    names = ["%s-%s" % (s, x) for s in SETS for x in "ab"]
    up = [str(BIN / "vaultlab"), "up", "--dir", str(lab_dir), "--profile", "fast"]
    for n in names:
        up += ["--cluster", n]
    subprocess.run(up, check=True, env=base_env(), stdout=subprocess.DEVNULL, timeout=180)
    try:
        info = demo_lab.load_lab(str(lab_dir))
        inventory = tmp_path / "sets.yml"
        inventory.write_text(_inventory(info))
        env, setup_env = base_env(), base_env()
        for s in SETS:
            for x in "ab":
                setup_env["VAULT_TOKEN_%s_%s" % (s.upper(), x.upper())] = info["%s-%s" % (s, x)]["root_token"]
                # Once activated, a DR secondary accepts its primary's tokens (DR replicates them).
                env["VAULT_TOKEN_%s_%s" % (s.upper(), x.upper())] = info["%s-a" % s]["root_token"]
        setup = _run(lab_dir, inventory, setup_env, "setup_replication",
                     "confirm_wipe=" + ",".join("%s-b" % s for s in SETS))
        assert setup.returncode == 0, setup.stdout[-4000:]
        for s in SETS:
            c, token = info["%s-a" % s], info["%s-a" % s]["root_token"]
            code, body = demo_lab.call(c, "POST", "sys/mounts/demo", token, {"type": "kv", "options": {"version": "1"}})
            assert code < 300, (s, code, body)
            for i in range(5):
                code, body = demo_lab.call(c, "POST", "demo/item-%04d" % i, token, {"value": "%s-%d" % (s, i)})
                assert code < 300, (s, i, code, body)

        # One list, one member per set: every set fails over, side by side.
        run = _run(lab_dir, inventory, env, "dr_failover", "confirm_promote=" + ",".join("%s-b" % s for s in SETS))
        assert run.returncode == 0, run.stdout[-4000:]
        recap = run.stdout.split("PLAY RECAP")[-1]
        assert all(s in recap for s in SETS), recap
        roles = _roles(info, names)
        for s in SETS:
            assert roles["%s-b" % s] == "primary" and roles["%s-a" % s] == "secondary", roles
            for i in range(5):
                code, body = demo_lab.call(info["%s-b" % s], "GET", "demo/item-%04d" % i, info["%s-a" % s]["root_token"])
                assert code == 200 and body["data"]["value"] == "%s-%d" % (s, i), (s, i, code, body)

        # A list naming no member of one set: that set stops with a message, the others fail back.
        back = _run(lab_dir, inventory, env, "dr_failback", "confirm_promote=east-a,west-a")
        assert back.returncode != 0
        assert ("confirm_promote must list one member of each set; none of east-a, west-a belongs to north"
                in " ".join(back.stdout.split())), back.stdout[-3000:]
        recap = back.stdout.split("PLAY RECAP")[-1]
        assert [line.split()[0] for line in recap.splitlines() if "failed=1" in line] == ["north"], recap
        roles = _roles(info, names)
        assert roles["east-a"] == "primary" and roles["west-a"] == "primary" and roles["north-b"] == "primary", roles
        again = _run(lab_dir, inventory, env, "dr_failover", "confirm_promote=east-b,west-b,north-b")
        assert again.returncode == 0, again.stdout[-4000:]
        assert recap_changed(again.stdout) > 0
    finally:
        subprocess.run([str(BIN / "vaultlab"), "down", "--dir", str(lab_dir)], env=base_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)
