# SPDX-License-Identifier: GPL-3.0-or-later
"""examples/downstream really works against the built collection tarball and vaultlab."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import BIN, ROOT, base_env


# Known defect (issue #5): inside the downstream Molecule run, import_playbook of
# vaultops.replication.setup_replication is not found from the installed tarball. strict=True
# makes this test fail as soon as the defect is fixed, so the marker cannot outlive the bug.
@pytest.mark.xfail(strict=True, reason="downstream Molecule run cannot import the collection's playbooks yet")
def test_downstream_repo_molecule_scenario(tmp_path):
    env = base_env()
    dist = tmp_path / "dist"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(dist), str(ROOT)],
                   check=True, env=env, stdout=subprocess.DEVNULL, timeout=300)
    tarball = next(dist.glob("vaultops-replication-*.tar.gz"))
    repo = tmp_path / "infra-repo"
    shutil.copytree(ROOT / "examples" / "downstream", repo)
    shutil.copy(tarball, repo / tarball.name)
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(repo / "collections"),
                    str(repo / tarball.name)], check=True, env=env, cwd=str(repo), stdout=subprocess.DEVNULL, timeout=300)
    # Only the installed tarball may be visible, never the checkout.
    env["ANSIBLE_COLLECTIONS_PATH"] = str(repo / "collections")
    env.pop("ANSIBLE_CONFIG", None)
    env["MOLECULE_GLOB"] = "molecule/*/molecule.yml"
    proc = subprocess.run([str(BIN / "molecule"), "test"], env=env, cwd=str(repo), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "3 passed" in proc.stdout
