# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as a user gets it: built into a tarball and installed. Its README starts with
installing and running (not with make), the Python requirements it names ship with it, and the
README's own commands work against the installed copy (module and role docs, the path snippet,
the pip requirements, a playbook by its collection name)."""
from __future__ import annotations

import re
import subprocess
import sys

import yaml

from conftest import BIN, ROOT, base_env, build_tarball


def _blocks(markdown):
    return re.findall(r"```(?:console|yaml)\n(.*?)```", markdown, flags=re.S)


def test_installed_tarball_has_user_readme_requirements_and_working_commands(tmp_path):
    env = base_env()
    tarball = build_tarball(tmp_path, env)
    collections = tmp_path / "collections"
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)  # only the installed copy, never the checkout
    env.pop("ANSIBLE_CONFIG", None)
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections),
                    str(tarball)], check=True, env=env, cwd=str(tmp_path), stdout=subprocess.DEVNULL, timeout=300)
    installed = collections / "ansible_collections" / "vaultops" / "replication"

    # The README galaxy.yml names ships, the developer README (make targets) does not.
    manifest = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    readme = (installed / manifest["readme"]).read_text()
    assert not (installed / "README.md").exists() and not (installed / "Makefile").exists()
    sections = re.findall(r"^## (.*)$", readme, flags=re.M)
    assert sections[0] == "1. Install", sections
    assert "make " not in readme
    first_block = _blocks(readme)[0]
    assert first_block.lstrip().startswith("ansible-galaxy collection install")

    # The runtime requirements it names are in the installed copy and cover what the plugins import.
    requirements = installed / "meta" / "ee-requirements.txt"
    assert "meta/ee-requirements.txt" in readme
    names = {re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0].lower() for line in requirements.read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    assert {"requests", "pyjwt"} <= names, names
    assert (installed / "emulator" / "pyproject.toml").is_file() and (installed / "emulator" / "README.md").is_file()
    for doc in ("docs/tls-and-proxies.md", "docs/playbooks.md", "docs/roles.md", "docs/compatibility.md"):
        assert doc in readme and (installed / doc).is_file(), doc

    # The README's snippet that finds the installed collection, then pip with that file (no index:
    # everything is already in this venv, so this proves the file parses and is satisfiable).
    snippet = next(b for b in _blocks(readme) if b.startswith("COLLECTION="))
    find = snippet.split("\npython3 -m pip")[0]
    shell_env = dict(env, PATH="%s:%s" % (BIN, env["PATH"]))
    where = subprocess.run(["bash", "-c", find + '\necho "$COLLECTION"'], env=shell_env, stdout=subprocess.PIPE,
                           text=True, check=True, timeout=120).stdout.strip()
    assert where == str(installed), where
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "-r", str(requirements)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    assert pip.returncode == 0, pip.stdout[-2000:]

    # ansible-doc from the installed copy, for a module and a role the README names.
    for cmd in (["ansible-doc", "vaultops.replication.promote"],
                ["ansible-doc", "-t", "role", "vaultops.replication.dr_failover"]):
        proc = subprocess.run([str(BIN / cmd[0])] + cmd[1:], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120, check=False)
        assert proc.returncode == 0 and str(installed) in proc.stdout, proc.stdout[-2000:]

    # The README's inventory and playbooks by collection name (syntax only: no Vault here).
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(next(b for b in _blocks(readme) if b.startswith("# inventory.yml")))
    for playbook in ("status", "verify", "dr_failover"):
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), "--syntax-check",
                               "vaultops.replication." + playbook], env=env, cwd=str(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout[-2000:]
