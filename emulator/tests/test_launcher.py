"""Labs of a test process fork their nodes from one launch server (``vaultlab launch --serve``,
supervisor.LaunchServer) instead of a one-shot launcher per start: the nodes must be the same
detached processes, found and stopped by any supervisor (the CLI's too), named only by their
own pid and start time, and run with the environment of the start that asked for them."""

from __future__ import annotations

import os

from conftest import Api, cli

from vaultlab.supervisor import LaunchServer, Supervisor
from vaultlab.testing import Lab


def _cmdline(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().split(b"\0")


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def test_labs_share_one_launch_server_and_any_supervisor_finds_their_nodes(tmp_path):
    with Lab(tmp_path / "one", clusters=["a"]) as one, Lab(tmp_path / "two", clusters=["b:2"]) as two:
        server = LaunchServer._proc
        assert server is not None and server.poll() is None
        for lab, nodes in ((one, ["a-1"]), (two, ["b-1", "b-2"])):
            fresh = Supervisor(lab.dir)  # as the CLI makes one: nothing shared with the Lab
            for node in nodes:
                pid = fresh.node_pid(node)
                assert pid is not None, node
                assert b"--serve" in _cmdline(pid)  # forked by the server, not by a one-shot launcher
                assert os.getsid(pid) == pid  # detached in its own session
                assert _ppid(pid) != server.pid  # nobody's child once the request's forker exited
        assert LaunchServer._proc is server  # the second lab used the same server
        status = cli("status", "--dir", str(two.dir), "--json")
        assert status.returncode == 0, status.stderr
        assert "b-2" in status.stdout and '"running": true' in status.stdout
        down = cli("down", "--dir", str(one.dir))
        assert down.returncode == 0 and "stopped 1 node(s)" in down.stdout, down
    assert Supervisor(two.dir).node_pid("b-1") is None


def test_a_stale_pid_file_never_names_another_node(tmp_path):
    """A server-forked node is recognised by the pid and start time it recorded, not by its
    command line (the server's, the same for every node): a pid file left pointing at another
    node's process does not make that process this node, although nodes forked together
    often share a start time (this failed when only the start time was recorded)."""
    with Lab(tmp_path / "lab", clusters=["a:2"]) as lab:
        sup = Supervisor(lab.dir)
        pid_file = lab.dir / "run" / "a-1.pid"
        own = pid_file.read_text()
        other = sup.node_pid("a-2")
        assert other is not None and sup.node_pid("a-1") is not None
        pid_file.write_text(f"{other}\n")
        try:
            assert sup.node_pid("a-1") is None
        finally:
            pid_file.write_text(own)
        assert sup.node_pid("a-1") == int(own)


def test_each_start_runs_its_nodes_with_its_own_environment(tmp_path, monkeypatch):
    with Lab(tmp_path / "first", clusters=["a"]) as lab:
        assert LaunchServer._proc is not None
        assert Api(lab, "a")("GET", "sys/replication/status").status == 200
    # Set after the server started: the next lab's nodes see it (this one turns replication off).
    monkeypatch.setenv("VAULTLAB_NO_REPLICATION", "1")
    with Lab(tmp_path / "second", clusters=["a"]) as lab:
        assert Api(lab, "a")("GET", "sys/replication/status").status == 404
    monkeypatch.delenv("VAULTLAB_NO_REPLICATION")
    with Lab(tmp_path / "third", clusters=["a"]) as lab:
        assert Api(lab, "a")("GET", "sys/replication/status").status == 200


def test_a_lost_launch_server_is_replaced(tmp_path):
    with Lab(tmp_path / "first", clusters=["a"]):
        old = LaunchServer._proc
    assert old is not None
    old.kill()
    old.wait()
    with Lab(tmp_path / "second", clusters=["a"]) as lab:
        assert LaunchServer._proc is not None and LaunchServer._proc is not old
        assert Api(lab, "a")("GET", "sys/health").status == 200
        assert lab.restart("a", unseal=True) == ["a-1"]  # a restart goes through the server too
        assert b"--serve" in _cmdline(Supervisor(lab.dir).node_pid("a-1"))
