# SPDX-License-Identifier: GPL-3.0-or-later
"""TLS trust and proxies as documented, end to end: a TLS vaultlab, a local forward proxy that
records the tunnels it opened, and one ansible-playbook run whose tasks set the environment
(controller environment plus the task's ``environment`` keyword) and the ``proxies`` option."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import BIN, ROOT, base_env

sys.path.insert(0, str(ROOT / "tests" / "unit"))

from http_proxy import ForwardProxy  # noqa: E402  pylint: disable=wrong-import-position

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "VAULT_PROXY_ADDR", "VAULT_HTTP_PROXY")
PROXY_PASSWORD = "pr0xy-pa55-7c1e"

PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
        ip_url: "https://127.0.0.1:{{ port }}"
        name_url: "https://localhost:{{ port }}"
      tasks:
        - name: CA from REQUESTS_CA_BUNDLE, HTTPS_PROXY from the controller environment
          vaultops.replication.replication_status_info:
            url: "{{ ip_url }}"
            retries: 0
          environment:
            REQUESTS_CA_BUNDLE: "{{ lab_ca }}"
          register: through_env_proxy

        - name: NO_PROXY in the task environment sends this host directly
          vaultops.replication.replication_status_info:
            url: "{{ name_url }}"
            retries: 0
          environment:
            SSL_CERT_FILE: "{{ lab_ca }}"
            NO_PROXY: localhost
          register: direct

        - name: The proxies option wins over NO_PROXY (module path through AnsiballZ)
          vaultops.replication.replication_status_info:
            url: "{{ name_url }}"
            ca_cert: "{{ lab_ca }}"
            proxies: {https: "http://operator:{{ password }}@127.0.0.1:{{ proxy_port }}"}
            retries: 0
          environment:
            NO_PROXY: "*"
          vars:
            vaultops_replication_execution: module
          register: through_option

        - name: An explicit ca_cert wins over REQUESTS_CA_BUNDLE
          vaultops.replication.replication_status_info:
            url: "{{ ip_url }}"
            ca_cert: "{{ other_ca }}"
            retries: 0
          environment:
            REQUESTS_CA_BUNDLE: "{{ lab_ca }}"
          register: wrong_explicit
          ignore_errors: true

        - name: Without any CA setting the system trust store decides (it does not know the lab CA)
          vaultops.replication.replication_status_info:
            url: "{{ ip_url }}"
            retries: 0
          register: system_store
          ignore_errors: true

        - name: Keep what happened
          ansible.builtin.copy:
            dest: "{{ out }}"
            mode: "0600"
            content: "{{ {'env_proxy': through_env_proxy is succeeded, 'direct': direct is succeeded,
                          'option': through_option is succeeded,
                          'wrong_explicit': wrong_explicit.msg | default(''),
                          'system_store': system_store.msg | default('')} | to_json }}"
    """)


def test_tls_trust_and_proxies_from_options_and_environment(tmp_path):
    env = base_env()
    for name in CA_VARIABLES + PROXY_VARIABLES + tuple(v.upper() for v in PROXY_VARIABLES):
        env.pop(name, None)
    lab_dir = tmp_path / "lab"
    subprocess.run([str(BIN / "vaultlab"), "up", "--dir", str(lab_dir), "--tls", "--cluster", "primary"],
                   check=True, env=env, stdout=subprocess.DEVNULL, timeout=120)
    proxy = ForwardProxy()  # HTTPS_PROXY of the controller
    option_proxy = ForwardProxy()  # the proxies option
    try:
        lab = json.loads((lab_dir / "lab.json").read_text())
        primary = lab["clusters"]["primary"]
        port = primary["api_addr"].rsplit(":", 1)[1]
        # A CA that did not sign the lab's certificates.
        other_ca = tmp_path / "other-ca.pem"
        subprocess.run([sys.executable, "-c", _OTHER_CA, str(other_ca)], check=True, timeout=60)
        playbook = tmp_path / "tls_proxy.yml"
        playbook.write_text(PLAYBOOK)
        out = tmp_path / "out.json"
        env["HTTPS_PROXY"] = proxy.url
        extra = {"port": port, "lab_ca": primary["ca_cert"] or lab["ca_cert"], "other_ca": str(other_ca),
                 "out": str(out), "proxy_port": option_proxy.port, "password": PROXY_PASSWORD}
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-vvv", "-i", "localhost,", str(playbook),
                               "-e", json.dumps(extra)], env=env, cwd=str(ROOT), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
        (tmp_path / "playbook.log").write_text(proc.stdout)
        assert proc.returncode == 0, proc.stdout[-4000:]
        result = json.loads(out.read_text())
    finally:
        proxy.close()
        option_proxy.close()
        subprocess.run([str(BIN / "vaultlab"), "down", "--dir", str(lab_dir)], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=120)

    assert result["env_proxy"] and result["direct"] and result["option"], result
    # HTTPS_PROXY carried the tasks to 127.0.0.1 (TLS verified inside the tunnel); NO_PROXY kept
    # localhost away from it; the proxies option (with NO_PROXY=*) used its own proxy.
    assert proxy.targets and set(proxy.targets) == {"CONNECT 127.0.0.1:%s" % port}, proxy.targets
    assert option_proxy.targets and set(option_proxy.targets) == {"CONNECT localhost:%s" % port}, option_proxy.targets
    assert "certificate verify failed" in result["wrong_explicit"], result
    assert "trusted CAs: ca_cert %s" % other_ca in result["wrong_explicit"], result
    assert "certificate verify failed" in result["system_store"], result
    assert "trusted CAs: the system trust store" in result["system_store"] or "certifi" in result["system_store"]
    assert "through proxy %s from HTTPS_PROXY" % proxy.url in result["system_store"], result
    assert PROXY_PASSWORD not in proc.stdout


_OTHER_CA = textwrap.dedent("""\
    import datetime, sys
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the lab CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    open(sys.argv[1], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    """)
