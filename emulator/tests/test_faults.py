"""Fault injection through the control API and the CLI; TLS labs."""

from __future__ import annotations

import json
import time

import pytest
from conftest import Api, call, cli, control_headers, run_cli, wait_for

from vaultlab import faults
from vaultlab.testing import Lab


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory):
    with Lab(tmp_path_factory.mktemp("faults"), clusters=["primary", "dr"]) as lab:
        yield lab


def _state(lab: Lab, cluster: str) -> dict:
    return call("GET", lab.info["clusters"][cluster]["api_addr"] + "/_vaultlab/state",
                headers=control_headers(lab)).json


def test_control_state_has_no_secrets(two: Lab) -> None:
    state = _state(two, "primary")
    assert state["active"] is True and state["sealed"] is False and state["cluster"] == "primary"
    text = json.dumps(state)
    assert two.token("primary") not in text
    assert not any(k in text for k in two.info["clusters"]["primary"]["unseal_keys_b64"])


def test_error_burst_then_recovery(two: Lab) -> None:
    api = Api(two, "primary")
    two.errors("primary", count=2, status=500)
    assert api("GET", "sys/health", token=None).status == 500
    second = api("GET", "sys/health", token=None)
    assert second.status == 500 and second.errors
    assert api("GET", "sys/health", token=None).status == 200


def test_latency_fault_and_reset(two: Lab) -> None:
    api = Api(two, "primary")
    two.latency("primary", 300)
    started = time.monotonic()
    assert api("GET", "sys/health", token=None).status == 200
    assert time.monotonic() - started >= 0.3
    assert _state(two, "primary")["latency_ms"] == 300
    two.reset_faults()
    assert _state(two, "primary")["latency_ms"] == 0


def test_bad_fault_request_is_400(two: Lab) -> None:
    url = two.info["clusters"]["primary"]["api_addr"]
    headers = control_headers(two)
    assert call("POST", url + "/_vaultlab/fault", {"kind": "meteor"}, headers=headers).status == 400
    assert call("POST", url + "/_vaultlab/fault", {"kind": "errors", "status": 200}, headers=headers).status == 400


def test_client_partition_isolates_cluster_api(two: Lab) -> None:
    primary = two.info["clusters"]["primary"]["api_addr"]
    dr = two.info["clusters"]["dr"]["api_addr"]
    two.partition("primary", kind="client")
    try:
        with pytest.raises(OSError):
            call("GET", primary + "/v1/sys/health", timeout=2)
        assert call("GET", dr + "/v1/sys/health").status == 200
        # the control API stays reachable so a test can always heal
        assert call("GET", primary + "/_vaultlab/state", headers=control_headers(two)).status == 200
    finally:
        two.heal()
    assert call("GET", primary + "/v1/sys/health").status == 200


def test_pairwise_partition_uses_peer_header(two: Lab) -> None:
    primary = two.info["clusters"]["primary"]["api_addr"]
    two.partition("primary", "dr", kind="client")
    try:
        with pytest.raises(OSError):
            call("GET", primary + "/v1/sys/health", headers={"X-Vaultlab-From-Cluster": "dr"}, timeout=2)
        assert call("GET", primary + "/v1/sys/health").status == 200  # the test runner is not "dr"
        listed = faults.read(two.dir)["partitions"]
        assert listed == [{"clusters": ["dr", "primary"], "kind": "client"}]
    finally:
        two.heal()
    assert faults.read(two.dir)["partitions"] == []


def test_replication_partition_cuts_cluster_port_only(two: Lab) -> None:
    cluster_addr = two.info["clusters"]["primary"]["cluster_addr"]
    primary = two.info["clusters"]["primary"]["api_addr"]
    before = call("GET", cluster_addr + "/nothing", headers={"X-Vaultlab-From-Cluster": "dr"})
    assert before.status == 404
    two.partition("primary", "dr", kind="replication")
    try:
        with pytest.raises(OSError):
            call("GET", cluster_addr + "/nothing", headers={"X-Vaultlab-From-Cluster": "dr"}, timeout=2)
        assert call("GET", primary + "/v1/sys/health", headers={"X-Vaultlab-From-Cluster": "dr"}).status == 200
    finally:
        two.heal()


def test_cli_fault_commands(two: Lab) -> None:
    d = str(two.dir)
    result = run_cli("fault", "--dir", d, "partition", "--clusters", "primary", "dr", "--kind", "both")
    assert result.returncode == 0, result.stderr
    assert faults.read(two.dir)["partitions"] == [{"clusters": ["dr", "primary"], "kind": "both"}]
    assert cli("fault", "--dir", d, "heal").returncode == 0
    assert faults.read(two.dir)["partitions"] == []
    bad = cli("fault", "--dir", d, "partition", "--clusters", "primary", "nosuch")
    assert bad.returncode == 1 and "unknown cluster" in bad.stderr

    assert cli("fault", "--dir", d, "errors", "--cluster", "dr", "--count", "1").returncode == 0
    assert call("GET", two.info["clusters"]["dr"]["api_addr"] + "/v1/sys/health").status == 503
    assert cli("fault", "--dir", d, "latency", "--cluster", "dr", "--ms", "0").returncode == 0
    assert cli("fault", "--dir", d, "latency", "--cluster", "dr", "--node", "7", "--ms", "5").returncode == 1

    sealed = cli("fault", "--dir", d, "seal", "--cluster", "dr")
    assert sealed.returncode == 0, sealed.stderr
    assert call("GET", two.info["clusters"]["dr"]["api_addr"] + "/v1/sys/health").status == 503

    restarted = cli("fault", "--dir", d, "restart", "--cluster", "dr", "--unseal")
    assert restarted.returncode == 0, restarted.stderr
    two.wait_active("dr")
    assert call("GET", two.addr("dr") + "/v1/sys/health").status == 200

    killed = cli("fault", "--dir", d, "kill", "--cluster", "dr")
    assert killed.returncode == 0 and "dr-1" in killed.stdout
    with pytest.raises(OSError):
        call("GET", two.info["clusters"]["dr"]["api_addr"] + "/v1/sys/health", timeout=1)
    assert cli("fault", "--dir", d, "restart", "--cluster", "dr", "--unseal").returncode == 0
    wait_for(lambda: call("GET", two.info["clusters"]["dr"]["api_addr"] + "/v1/sys/health").status == 200,
             what="dr to be active again")


def test_tls_lab(tmp_path) -> None:
    with Lab(tmp_path / "tls", clusters=["primary"], tls=True) as lab:
        info = lab.info["clusters"]["primary"]
        assert info["api_addr"].startswith("https://127.0.0.1:")
        assert info["cluster_addr"].startswith("https://127.0.0.1:")
        assert info["ca_cert"] and info["ca_cert"] == lab.info["ca_cert"]
        reply = call("GET", info["api_addr"] + "/v1/sys/health", ca_cert=info["ca_cert"])
        assert reply.status == 200
        with pytest.raises(OSError):  # not trusted without the lab CA
            call("GET", info["api_addr"] + "/v1/sys/health")
        inventory = (lab.dir / "inventory.yml").read_text()
        assert f'vault_ca_cert: "{info["ca_cert"]}"' in inventory
        env = cli("env", "--dir", str(lab.dir), "primary")
        assert f"export VAULT_CACERT={info['ca_cert']}" in env.stdout
        key = lab.dir / "tls" / "server-key.pem"
        assert oct(key.stat().st_mode & 0o777) == "0o600"
