# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-cluster client certificates (mTLS to the Vault API, issue 14 point 6): a vaultlab whose API
listeners require a client certificate (``vaultlab up --tls --require-client-cert``, Vault's
``tls_require_and_verify_client_cert``), each cluster with its own client CA. The inventory that
``vaultlab inventory`` writes carries ``vault_client_cert``/``vault_client_key`` per cluster; the
set-up playbook runs from it unchanged, the modules work with each cluster's certificate, and
without one (or with another cluster's) the failure names the option to set."""
from __future__ import annotations

import json
import subprocess
import textwrap

from conftest import BIN, ROOT, base_env

# One ansible-playbook run (its start-up is the expensive part): the collection's set-up playbook
# from the written inventory alone, then the modules against each cluster.
PLAYBOOK = textwrap.dedent("""\
    - name: The set-up playbook, unchanged
      ansible.builtin.import_playbook: vaultops.replication.setup_replication

    - name: The modules with and without each cluster's client certificate
      hosts: vault_clusters
      gather_facts: false
      vars:
        other: "{{ (groups['vault_clusters'] | difference([inventory_hostname])) | first }}"
      tasks:
        - name: The cluster's own client certificate
          vaultops.replication.replication_status_info:
            url: "{{ vault_addr }}"
            ca_cert: "{{ vault_ca_cert }}"
            client_cert: "{{ vault_client_cert }}"
            client_key: "{{ vault_client_key }}"
            token: "{{ vault_token }}"
            retries: 0
          register: own

        - name: No client certificate
          vaultops.replication.replication_status_info:
            url: "{{ vault_addr }}"
            ca_cert: "{{ vault_ca_cert }}"
            retries: 0
          register: without
          ignore_errors: true

        - name: Another cluster's client certificate (through AnsiballZ)
          vaultops.replication.replication_status_info:
            url: "{{ vault_addr }}"
            ca_cert: "{{ vault_ca_cert }}"
            client_cert: "{{ hostvars[other].vault_client_cert }}"
            client_key: "{{ hostvars[other].vault_client_key }}"
            retries: 0
          vars:
            vaultops_replication_execution: module
          register: swapped
          ignore_errors: true

        - name: Keep what happened
          ansible.builtin.copy:
            dest: "{{ out }}/{{ inventory_hostname }}.json"
            mode: "0600"
            content: "{{ {'dr_role': own.dr.role, 'without': without.msg | default(''),
                          'swapped': swapped.msg | default(''), 'other_cert': hostvars[other].vault_client_cert}
                         | to_json }}"
    """)


def _run(env, *cmd):
    return subprocess.run(list(cmd), env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600, check=False)


def test_modules_and_set_up_with_per_cluster_client_certificates(tmp_path):
    env = base_env()
    lab_dir = tmp_path / "lab"
    vaultlab = str(BIN / "vaultlab")
    subprocess.run([vaultlab, "up", "--dir", str(lab_dir), "--tls", "--require-client-cert",
                    "--cluster", "primary", "--cluster", "dr"], check=True, env=env, stdout=subprocess.DEVNULL,
                   timeout=120)
    try:
        inventory = tmp_path / "inventory.yml"
        subprocess.run([vaultlab, "inventory", "--dir", str(lab_dir), "--output", str(inventory)], env=env,
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        lab = json.loads((lab_dir / "lab.json").read_text())
        certs = {name: lab["clusters"][name]["client_cert"] for name in ("primary", "dr")}
        assert certs["primary"] != certs["dr"] and all(c in inventory.read_text() for c in certs.values())

        # No VAULT_* variable: every call, the activation on the DR cluster included, carries the
        # certificate of the cluster it goes to, from the inventory.
        playbook = tmp_path / "client_certs.yml"
        playbook.write_text(PLAYBOOK)
        out = tmp_path / "out"
        out.mkdir()
        run = _run(env, str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook),
                   "-e", json.dumps({"out": str(out), "confirm_wipe": "dr"}))
        (tmp_path / "playbook.log").write_text(run.stdout)
        assert run.returncode == 0, run.stdout[-4000:]
        result = {name: json.loads((out / ("%s.json" % name)).read_text()) for name in ("primary", "dr")}
    finally:
        subprocess.run([vaultlab, "down", "--dir", str(lab_dir)], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=120)

    assert result["primary"]["dr_role"] == "primary" and result["dr"]["dr_role"] == "secondary", result
    for name, seen in result.items():
        # Without a certificate: the message says a client certificate is required and names the
        # module option, the inventory variables and the environment variables.
        assert "requires a client certificate" in seen["without"], seen
        for option in ("client_cert", "client_key", "vault_client_cert", "vault_client_key", "VAULT_CLIENT_CERT"):
            assert option in seen["without"], (option, seen)
        # Another cluster's certificate (signed by that cluster's client CA): refused, and named.
        assert "does not trust the client certificate" in seen["swapped"] or \
            "refused the client certificate" in seen["swapped"], seen
        assert "client_cert (%s)" % seen["other_cert"] in seen["swapped"], seen
    for secret in [lab["clusters"]["primary"]["root_token"]] + lab["clusters"]["primary"]["unseal_keys_b64"]:
        assert secret not in run.stdout
