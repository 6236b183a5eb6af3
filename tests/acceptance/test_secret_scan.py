# SPDX-License-Identifier: GPL-3.0-or-later
"""The secret scan (issue 11, "Secrets and TLS"): every secret a lab issued, searched for in
everything a run of every playbook leaves behind.

One vaultlab lab started with --record-secrets (its nodes journal every token, activation token,
one-time password, encoded token and key share they hand out; `vaultlab secrets` lists them with
the tokens derived from them: the DR operation tokens and root tokens inside encoded tokens, the
wrapping tokens inside activation tokens). Against it, with a HOME, a TMPDIR and a working
directory of the test's own, every playbook of playbooks/ runs with -vvvv: set-up (saving a DR
cluster that holds data to a backup directory first), status, the key holders' ceremony, verify,
a planned failover, the failback (through ansible-runner, as AWX runs a job) and a drill with its
report. Then every file under the test's directory (lab, working directory, HOME with the
run-state directory, TMPDIR, backups, drill report, runner artifacts, logs) and every file of the
checkout written meanwhile is searched for each secret and for anything shaped like a token.

The only files allowed to hold a secret are listed in HOLDERS; each must be mode 0600. Anything
else holding one fails the test.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import resource
import stat
import subprocess
import time

from conftest import BIN, ROOT, LabRun, base_env, demo_lab, recap_changed
from reliability_record import write_record

# Files that hold secrets by design (paths relative to the test's directory), and why.
HOLDERS = {
    "lab/lab.json": "vaultlab's record of every cluster's root token and unseal keys",
    "lab/issued-secrets.jsonl": "vaultlab's journal of the secrets it issued (--record-secrets)",
    "lab/control-token": "the token vaultlab's control API requires",
    "lab/tokens.json": "root tokens vaultlab generated on performance secondaries (vaultlab env)",
    "lab/clusters/*/storage.db*": "a cluster's Vault storage (its barrier: tokens, ceremony state)",
    "home/.ansible/vaultops_replication/*.json": "the run-state file: a key ceremony's OTP and "
                                                 "DR operation token until it is revoked",
    # ansible-runner's design, as AWX's env/envvars: the job's environment, where the credentials
    # are, is recorded; delete the private data dir after the job. Its job events and stdout are
    # scanned like any other file.
    "runner/artifacts/*/command": "ansible-runner's record of the job's command and environment",
}
# Parts of the checkout never written by a playbook run (and large): not walked.
CHECKOUT_SKIP = {".git", ".venv", ".collections", "build", "dist", "__pycache__", ".pytest_cache"}


def _holder(rel):
    return next((pattern for pattern in HOLDERS if fnmatch.fnmatch(rel, pattern)), None)


def _written_since(root, since):
    for base, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in CHECKOUT_SKIP and not os.path.islink(os.path.join(base, d))]
        for name in names:
            path = os.path.join(base, name)
            try:
                if os.lstat(path).st_mtime >= since and not os.path.islink(path):
                    yield path
            except OSError:
                continue


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_no_secret_outside_its_holders(tmp_path):
    started = time.time()
    home, work, tmp, logs = (tmp_path / n for n in ("home", "work", "tmp", "logs"))
    for d in (home, work, tmp, logs):
        d.mkdir()
    env = base_env()
    env.update(HOME=str(home), TMPDIR=str(tmp))
    lab_dir = tmp_path / "lab"
    subprocess.run([str(BIN / "vaultlab"), "up", "--dir", str(lab_dir), "--record-secrets"], check=True, env=env,
                   stdout=subprocess.DEVNULL, timeout=120)
    lab = LabRun(lab_dir, logs)
    lab.extra_env.update(HOME=str(home), TMPDIR=str(tmp))
    timings = {}
    try:
        def run(name, *extra, own_tokens=False, share=None):
            lab.runs += 1
            cmd = lab.playbook_cmd(name, extra, verbose=False) + ["-vvvv"]
            run_env = lab.env(own_tokens)
            if share:
                run_env["VAULT_UNSEAL_KEY"] = share
            began, cpu = time.monotonic(), _children_cpu()
            proc = subprocess.run(cmd, env=run_env, cwd=str(work), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=600, check=False)
            timings["%02d-%s" % (lab.runs, name)] = round(time.monotonic() - began, 1)
            print("%s: %.1f s (CPU %.1f s)" % (name, time.monotonic() - began, _children_cpu() - cpu))
            (logs / ("%02d-%s.log" % (lab.runs, name))).write_text(proc.stdout)
            assert proc.returncode == 0, "%s failed:\n%s" % (name, proc.stdout[-4000:])
            return proc.stdout

        info = lab.info
        # The DR cluster holds data, so the set-up saves it to the backup directory before wiping it.
        root = info["dr"]["root_token"]
        assert demo_lab.call(info["dr"], "POST", "sys/mounts/precious", root, {"type": "kv"})[0] < 300
        assert demo_lab.call(info["dr"], "POST", "precious/item", root, {"value": "keep-me"})[0] < 300
        run("setup_replication", "confirm_wipe=dr,perf", "backup_dir=%s" % (tmp_path / "backups"), own_tokens=True)
        assert list((tmp_path / "backups").iterdir()), "the set-up saved no backup"
        info = lab.info
        lab.extra_env["VAULT_TOKEN_PERF"] = demo_lab.generate_root(info, "perf", info["primary"]["unseal_keys_b64"])
        run("status", "status_file=%s" % (work / "status.json"))

        # Key holders, one share per run; the first run starts the attempt.
        shares = info["primary"]["unseal_keys_b64"][:info["primary"]["threshold"]]
        out = run("dr_key_ceremony", "cluster=dr", share=shares[0])
        nonce = re.search(r"Nonce: ([0-9a-f-]{36})", out).group(1)
        for share in shares[1:]:
            out = run("dr_key_ceremony", "cluster=dr", "nonce=" + nonce, share=share)
        assert "The DR operation token is on record" in out, out[-3000:]
        # Now the run-state file holds the token (and nothing else under HOME does), mode 0600.
        kept = demo_lab.find_leaks(None, [str(home)], demo_lab.issued_secrets(lab_dir))
        assert kept and {_holder(os.path.relpath(p, tmp_path)) for p, _, _ in kept} == {
            "home/.ansible/vaultops_replication/*.json"}, kept
        assert {stat.S_IMODE(os.stat(p).st_mode) for p, _, _ in kept} == {0o600}, kept

        run("verify")
        run("dr_failover", "confirm_promote=dr")

        # The failback through ansible-runner, as AWX runs a job: its artifacts (the job events of a
        # -vvvv run, its stdout) are scanned too.
        runner = tmp_path / "runner"
        (runner / "project").mkdir(parents=True)
        (runner / "project" / "failback.yml").write_text("- name: Failback\n  ansible.builtin.import_playbook: "
                                                        "vaultops.replication.dr_failback\n")
        began = time.monotonic()
        proc = subprocess.run([str(BIN / "ansible-runner"), "run", str(runner), "-p", "failback.yml",
                               "--inventory", str(lab_dir / "inventory.yml"), "--cmdline", "-e confirm_promote=primary",
                               "-vvvv"], env=lab.env(), cwd=str(work), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
        timings["runner-dr_failback"] = round(time.monotonic() - began, 1)
        (logs / "runner-dr_failback.log").write_text(proc.stdout)
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert list((runner / "artifacts").glob("*/job_events/*.json")), "ansible-runner wrote no job events"
        report = tmp_path / "drill-report"
        out = run("dr_drill", "confirm_promote=dr", "drill_report_dir=%s" % report)
        assert list(report.iterdir()), "the drill wrote no report"
    finally:
        subprocess.run([str(BIN / "vaultlab"), "down", "--dir", str(lab_dir)], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=120)

    scan_began = time.monotonic()
    secrets = demo_lab.issued_secrets(lab_dir)
    kinds = sorted({kind.split(" (")[0] for kind in secrets.values()})
    files = [str(p) for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()]
    files += list(_written_since(str(ROOT), started))
    hits = demo_lab.find_leaks(None, files, secrets)
    outside, held = [], {}
    for path, line, kind in hits:
        rel = os.path.relpath(path, tmp_path)
        holder = _holder(rel) if not rel.startswith("..") else None
        if holder:
            held.setdefault(rel, set()).add(kind.split(" (")[0])
        else:
            outside.append("%s:%d: %s" % (path if rel.startswith("..") else rel, line, kind))
    print("\nsecret scan: %d secrets (%s) searched in %d files in %.1f s; held by %s; playbook runs (s): %s; "
          "CPU of all runs %.1f s" % (len(secrets), ", ".join(kinds), len(files), time.monotonic() - scan_began,
                                      json.dumps({k: sorted(v) for k, v in held.items()}), json.dumps(timings),
                                      _children_cpu()))
    write_record("secret-scan", {
        "test": "tests/acceptance/test_secret_scan.py::test_no_secret_outside_its_holders",
        "playbooks": sorted({name.split("-", 1)[1] for name in timings}),
        "secrets_issued": len(secrets), "secret_kinds": kinds, "files_searched": len(files),
        "secrets_found": len(outside), "holders": sorted({_holder(rel) for rel in held}),
        "allowed_holders": HOLDERS, "seconds": round(time.time() - started, 1),
    })
    assert outside == [], "secrets outside their holders:\n" + "\n".join(outside[:20])
    loose = ["%s: %o" % (rel, stat.S_IMODE((tmp_path / rel).stat().st_mode)) for rel in held
             if stat.S_IMODE((tmp_path / rel).stat().st_mode) != 0o600]
    assert loose == [], "holders of secrets not 0600: %s" % loose
    # The journal saw every kind of secret this run handed out (so the scan searched for them).
    for expected in ("client_token", "otp", "encoded_token", "decoded token", "token",
                     "wrapping token in an activation token", "unseal_keys_b64"):
        assert expected in kinds, (expected, kinds)
    state = list((home / ".ansible" / "vaultops_replication").glob("*.json"))
    assert state and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in state), state
    assert recap_changed(out) > 0
