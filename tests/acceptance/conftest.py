# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers for the acceptance tests: real vaultlab labs, the collection's
playbooks run in their own ansible-playbook processes, checks over raw HTTP."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "scripts"))

import demo_lab  # noqa: E402  pylint: disable=wrong-import-position


def base_env():
    env = dict(os.environ)
    env["PATH"] = "%s:%s" % (BIN, env.get("PATH", ""))
    env["ANSIBLE_COLLECTIONS_PATH"] = str(ROOT / ".collections")
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    for key in list(env):
        if key.startswith("VAULT_"):
            del env[key]
    return env


class LabRun:
    """A started vaultlab plus the environment an operator would export for it."""

    def __init__(self, lab_dir: Path, logs: Path):
        self.dir = lab_dir
        self.logs = logs
        self.runs = 0
        self.extra_env = {}

    @property
    def info(self):
        return demo_lab.load_lab(str(self.dir))

    def env(self, own_tokens=False):
        env = base_env()
        lab = self.info
        env["VAULT_TOKEN"] = lab["primary"]["root_token"]
        env["VAULT_UNSEAL_KEYS"] = ",".join(lab["primary"]["unseal_keys_b64"])
        env.update(self.extra_env)
        if own_tokens:
            for name, c in lab.items():
                if name != "primary":
                    env["VAULT_TOKEN_" + name.upper()] = c["root_token"]
        return env

    def playbook_cmd(self, name, extra=(), verbose=True):
        cmd = [str(BIN / "ansible-playbook"), "-i", str(self.dir / "inventory.yml"), "vaultops.replication." + name]
        if verbose:
            cmd.append("-vvv")
        for item in extra:
            cmd += ["-e", item]
        return cmd

    def playbook(self, name, *extra, own_tokens=False, check=True, timeout=900):
        self.runs += 1
        log = self.logs / ("%02d-%s.log" % (self.runs, name))
        proc = subprocess.run(self.playbook_cmd(name, extra), env=self.env(own_tokens), cwd=str(ROOT),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                              check=False)
        log.write_text(proc.stdout)
        if check:
            assert proc.returncode == 0, "%s failed:\n%s" % (name, proc.stdout[-4000:])
        return proc

    def vaultlab(self, *args):
        subprocess.run([str(BIN / "vaultlab"), *args, "--dir", str(self.dir)] if args[0] in ("up", "down") else
                       [str(BIN / "vaultlab"), args[0], "--dir", str(self.dir), *args[1:]],
                       check=True, env=base_env(), stdout=subprocess.DEVNULL, timeout=120)


@pytest.fixture
def lab(tmp_path):
    lab_dir = tmp_path / "lab"
    logs = tmp_path / "logs"
    logs.mkdir()
    subprocess.run([str(BIN / "vaultlab"), "up", "--dir", str(lab_dir), "--profile", "fast",
                    "--cluster", "primary", "--cluster", "dr", "--cluster", "perf"],
                   check=True, env=base_env(), stdout=subprocess.DEVNULL, timeout=120)
    run = LabRun(lab_dir, logs)
    try:
        yield run
    finally:
        subprocess.run([str(BIN / "vaultlab"), "down", "--dir", str(lab_dir)], env=base_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)


def build_tarball(tmp_path, env):
    """``ansible-galaxy collection build`` of the checkout into tmp_path/dist; the tarball's path."""
    dist = tmp_path / "dist"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(dist), str(ROOT)],
                   check=True, env=env, stdout=subprocess.DEVNULL, timeout=300)
    return next(dist.glob("vaultops-replication-*.tar.gz"))


def signal_tree(pid, sig):
    """Send ``sig`` to process ``pid`` and every descendant. ansible-playbook's task workers run in
    sessions of their own, so a signal to its process group does not reach the task running."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    pending, tree = [pid], []
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    for member in tree:
        try:
            os.kill(member, sig)
        except ProcessLookupError:
            pass


def recap_changed(output):
    """The changed= count of the PLAY RECAP line of an ansible-playbook output."""
    tail = output.split("PLAY RECAP")[-1]
    for token in tail.split():
        if token.startswith("changed="):
            return int(token.split("=", 1)[1])
    raise AssertionError("no PLAY RECAP in output")


def vaultlab_exports(text):
    """The variables `vaultlab env` prints (export NAME=quoted), parsed as a shell would."""
    env = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return env
