# SPDX-License-Identifier: GPL-3.0-or-later
"""examples/downstream really works against the built collection tarball and vaultlab."""
from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import BIN, ROOT, base_env, build_tarball


def test_downstream_repo_molecule_scenario(tmp_path):
    env = base_env()
    tarball = build_tarball(tmp_path, env)
    repo = tmp_path / "infra-repo"
    shutil.copytree(ROOT / "examples" / "downstream", repo)
    shutil.copy(tarball, repo / tarball.name)
    # Only the installed tarball may be visible, never the checkout. This must hold for the install
    # too: with the checkout's collections path still configured, ansible-galaxy finds
    # vaultops.replication there, reports "already installed" and leaves ./collections empty.
    env["ANSIBLE_COLLECTIONS_PATH"] = str(repo / "collections")
    env.pop("ANSIBLE_CONFIG", None)
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(repo / "collections"),
                    str(repo / tarball.name)], check=True, env=env, cwd=str(repo), stdout=subprocess.DEVNULL, timeout=300)
    installed = repo / "collections" / "ansible_collections" / "vaultops" / "replication"
    assert (installed / "playbooks" / "setup_replication.yml").is_file(), "the tarball was not installed into ./collections"
    # vaultlab comes from the installed collection too (its dependencies are already in this venv):
    # install it from there and put that copy, not the checkout's editable install, first.
    shipped = tmp_path / "vaultlab-from-tarball"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(shipped),
                    str(installed / "emulator")], check=True, env=env, stdout=subprocess.DEVNULL, timeout=300)
    env["PATH"] = "%s:%s" % (shipped / "bin", env["PATH"])
    env["PYTHONPATH"] = str(shipped)
    where = subprocess.run([sys.executable, "-c", "import vaultlab; print(vaultlab.__file__)"], env=env,
                           stdout=subprocess.PIPE, text=True, check=True).stdout
    assert where.startswith(str(shipped)), where
    assert shutil.which("vaultlab", path=env["PATH"]) == str(shipped / "bin" / "vaultlab")
    env["MOLECULE_GLOB"] = "molecule/*/molecule.yml"
    # Every scenario: default (planned failover, idempotence) and unplanned (lost primary).
    proc = subprocess.run([str(BIN / "molecule"), "test", "--all"], env=env, cwd=str(repo), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "4 passed" in proc.stdout and "3 passed" in proc.stdout, proc.stdout[-3000:]
    assert "NOT fenced" in proc.stdout
