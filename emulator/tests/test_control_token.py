"""The control API (``/_vaultlab/``) answers only loopback clients that send the lab's control
token: refused requests get 403 and change nothing; the token lives in ``DIR/control-token``
(0600, in the 0700 lab directory) and never shows in ``up``/``status`` output or node logs."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import stat
import threading
from pathlib import Path
from unittest import mock

import pytest
from conftest import call, cli, control_headers

from vaultlab import faults
from vaultlab.crypto import control
from vaultlab.node import Node
from vaultlab.supervisor import Client
from vaultlab.testing import Lab

ROUTES = [("GET", "state", None), ("POST", "seal", {}), ("POST", "step-down", {}),
          ("POST", "fault", {"kind": "latency", "ms": 250}),
          ("POST", "fault", {"kind": "partition", "clusters": ["primary"], "traffic": "client"}),
          ("POST", "reset-faults", {"partitions": True})]
REFUSED = {"no header": {}, "wrong token": {control.HEADER: "not-the-token"},
           "empty token": {control.HEADER: ""}}


@pytest.fixture(scope="module")
def lab_and_output(tmp_path_factory: pytest.TempPathFactory):
    lab_dir = tmp_path_factory.mktemp("ctl") / "lab"
    up = cli("up", "--dir", str(lab_dir), "--cluster", "primary:2")
    try:
        assert up.returncode == 0, up.stderr
        lab = Lab(lab_dir)
        lab.info = lab.supervisor.lab()
        yield lab, up
    finally:
        cli("down", "--dir", str(lab_dir))


def _nodes(lab: Lab) -> list[str]:
    return lab.info["clusters"]["primary"]["nodes"]


def test_token_file_is_private_and_stable(lab_and_output) -> None:
    lab, _ = lab_and_output
    path = lab.dir / "control-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(lab.dir.stat().st_mode) == 0o700
    token = lab.control_token
    assert token and len(token) >= 40  # 256 random bits, URL-safe base64
    assert control.ensure(lab.dir) == token  # a second 'up' keeps it: running nodes still accept it


def test_refused_requests_get_403_and_change_nothing(lab_and_output) -> None:
    lab, _ = lab_and_output
    before = [call("GET", url + "/_vaultlab/state", headers=control_headers(lab)).json for url in _nodes(lab)]
    assert before[0]["active"] and not before[0]["sealed"] and before[0]["latency_ms"] == 0
    for url in _nodes(lab):
        for label, headers in REFUSED.items():
            for method, path, body in ROUTES:
                reply = call(method, f"{url}/_vaultlab/{path}", body, headers=headers)
                assert reply.status == 403, (label, path, reply)
                assert control.HEADER in reply.errors[0] and "state" not in reply.json, (label, path, reply)
    after = [call("GET", url + "/_vaultlab/state", headers=control_headers(lab)).json for url in _nodes(lab)]
    assert after == before
    assert faults.read(lab.dir).get("partitions", []) == []
    assert call("GET", _nodes(lab)[0] + "/v1/sys/health").status == 200  # not sealed, not partitioned


def test_callers_with_the_token_are_served(lab_and_output) -> None:
    lab, _ = lab_and_output
    first = _nodes(lab)[0]
    assert lab.control("primary-1", "state")["api_addr"] == first
    assert lab.control(first, "fault", {"kind": "latency", "ms": 5})["latency_ms"] == 5
    assert lab.control("primary", "reset-faults")["latency_ms"] == 0  # a cluster name: its active node
    shown = cli("ctl", "--dir", str(lab.dir), "primary-2", "state")
    assert shown.returncode == 0 and json.loads(shown.stdout)["node"] == "primary-2", shown.stderr


def test_ctl_sends_the_token_to_the_labs_own_nodes_only(lab_and_output) -> None:
    lab, _ = lab_and_output
    for target, expected in (("http://127.0.0.1:9", "not a node, cluster or node address of this lab"),
                             ("nosuch", "not a node, cluster or node address of this lab")):
        result = cli("ctl", "--dir", str(lab.dir), target, "state")
        assert result.returncode == 1 and expected in result.stderr, result
    bad_path = cli("ctl", "--dir", str(lab.dir), "primary-1", "../v1/sys/seal")
    assert bad_path.returncode == 1 and "give one of state, seal" in bad_path.stderr
    bad_body = cli("ctl", "--dir", str(lab.dir), "primary-1", "fault", "{not json")
    assert bad_body.returncode == 1 and "not valid JSON" in bad_body.stderr
    rejected = cli("ctl", "--dir", str(lab.dir), "primary-1", "fault", '{"kind": "meteor"}')
    assert rejected.returncode == 1 and "HTTP 400" in rejected.stderr


def test_token_never_in_up_status_or_logs_but_in_env(lab_and_output) -> None:
    lab, up = lab_and_output
    token = lab.control_token
    status = cli("status", "--dir", str(lab.dir))
    status_json = cli("status", "--dir", str(lab.dir), "--json")
    fault = cli("fault", "--dir", str(lab.dir), "latency", "--cluster", "primary", "--ms", "0")
    for result in (up, status, status_json, fault):
        assert result.returncode == 0, result.stderr
        assert token not in result.stdout + result.stderr
    # The refused and the accepted requests above were logged by the nodes, without the token.
    logs = list((lab.dir / "logs").iterdir())
    assert any("control API request refused" in p.read_text() for p in logs)
    for path in [*logs, lab.dir / "lab.json", lab.dir / "inventory.yml", lab.dir / "config.json"]:
        assert token not in path.read_text(), path
    exported = [line for line in cli("env", "--dir", str(lab.dir)).stdout.splitlines()
                if line.startswith(f"export {control.ENV_NAME}=")]
    assert exported == [f"export {control.ENV_NAME}={token}"]


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket the process holds (Linux /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        with open(f"/proc/{pid}/net/{table}") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    addr, port = fields[1].split(":")
                    assert len(addr) == width
                    found.append((addr, int(port, 16)))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/net"), reason="needs Linux /proc")
def test_nodes_listen_on_loopback_only(lab_and_output) -> None:
    lab, _ = lab_and_output
    for node in ("primary-1", "primary-2"):
        pid = lab.supervisor.node_pid(node)
        record = lab.supervisor.node_record("primary", node)
        sockets = _listening(pid)
        # the API port (control API included) and the cluster port, nothing else, on 127.0.0.1
        assert sorted(port for _, port in sockets) == sorted([record["api_port"], record["cluster_port"]])
        assert {addr for addr, _ in sockets} == {"0100007F"}, sockets  # 127.0.0.1, little-endian hex


def test_non_loopback_peer_is_refused_even_with_the_token(tmp_path) -> None:
    from aiohttp.test_utils import make_mocked_request

    from vaultlab.server import control_refusal

    def request(peer: str, headers: dict[str, str]):
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda name, default=None: (
            (peer, 1234) if name == "peername" else default)
        return make_mocked_request("POST", "/_vaultlab/seal", headers=headers, transport=transport)

    good = {control.HEADER: "t0ken"}
    assert control_refusal(request("127.0.0.1", good), "t0ken") is None
    assert control_refusal(request("::1", good), "t0ken") is None
    assert control_refusal(request("10.1.2.3", good), "t0ken").status == 403
    assert control_refusal(request("127.0.0.1", {control.HEADER: "t0ken"}), None).status == 403  # no token: closed


def test_node_without_a_token_refuses_everything_in_process(tmp_path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from vaultlab.server import build_apps

    node = Node(tmp_path, "c", "c-1", api_port=8200, cluster_port=8300,
                config={"profile": "fast", "timing": {}, "tls": False, "replication": {}})

    async def run() -> None:
        async with TestClient(TestServer(build_apps(node)[0])) as client:
            reply = await client.post("/_vaultlab/seal", headers={control.HEADER: "anything"})
            assert reply.status == 403
        async with TestClient(TestServer(build_apps(node, "right")[0])) as client:
            assert (await client.get("/_vaultlab/state", headers={control.HEADER: "right"})).status == 200
            assert (await client.get("/%5Fvaultlab/state")).status == 403  # the route, not the spelling, is guarded

    asyncio.run(run())


def test_node_will_not_start_without_a_token(tmp_path, caplog) -> None:
    from vaultlab import server

    assert server.run(str(tmp_path), "c", "c-1") == 1  # before binding any port
    assert "no control token in" in caplog.text and not (tmp_path / "clusters").exists()


def test_client_sends_the_token_on_control_paths_only() -> None:
    seen: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append((self.path, self.headers.get(control.HEADER)))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client = Client(control_token="s3cret")
        client.request("GET", url + "/v1/sys/health")
        client.request("GET", url + "/_vaultlab/state")
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [("/v1/sys/health", None), ("/_vaultlab/state", "s3cret")]


def test_concurrent_ensure_agrees_on_one_token(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = set(pool.map(lambda _: control.ensure(tmp_path), range(16)))
    assert len(tokens) == 1 and control.read(tmp_path) in tokens
    assert [p.name for p in tmp_path.iterdir()] == ["control-token"]  # no temporary file left behind
