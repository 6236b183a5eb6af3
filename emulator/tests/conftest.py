"""Shared helpers for vaultlab's process-level tests (real processes, real HTTP)."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

from vaultlab.testing import Lab


class Reply:
    def __init__(self, status: int, body: Any, headers: dict[str, str], raw: bytes) -> None:
        self.status = status
        self.json = body
        self.headers = headers
        self.raw = raw

    @property
    def data(self) -> Any:
        return (self.json or {}).get("data")

    @property
    def errors(self) -> list[str] | None:
        return (self.json or {}).get("errors")

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.json!r})"


def _connect(url: str, ca_cert: str | None, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca_cert)
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ctx)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def _send(conn: http.client.HTTPConnection, method: str, url: str, body: Any, token: str | None,
          headers: dict[str, str] | None) -> Reply:
    parts = urlsplit(url)
    sent = dict(headers or {})
    if token:
        sent["X-Vault-Token"] = token
    payload = None
    if body is not None:
        payload = json.dumps(body)
        sent["Content-Type"] = "application/json"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn.request(method, path, body=payload, headers=sent)
    response = conn.getresponse()
    raw = response.read()
    got = {k.lower(): v for k, v in response.getheaders()}
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return Reply(response.status, parsed, got, raw)


def call(method: str, url: str, body: Any = None, token: str | None = None, ca_cert: str | None = None,
         headers: dict[str, str] | None = None, timeout: float = 5.0) -> Reply:
    """One HTTP request on a connection of its own; redirects are not followed so tests can see them."""
    conn = _connect(url, ca_cert, timeout)
    try:
        return _send(conn, method, url, body, token, headers)
    finally:
        conn.close()


class KeptAlive:
    """``call`` for a test that reads the same nodes many times in a row (a state machine's
    invariants): GETs reuse one open connection per node, as HTTP clients such as hvac's do;
    anything else goes on a connection of its own, exactly as ``call``.  A GET whose kept
    connection turns out closed is sent again on a new one (a read changes nothing)."""

    def __init__(self, ca_cert: str | None = None, timeout: float = 5.0) -> None:
        self.ca_cert = ca_cert
        self.timeout = timeout
        self.open: dict[str, http.client.HTTPConnection] = {}

    def __call__(self, method: str, url: str, body: Any = None, token: str | None = None,
                 headers: dict[str, str] | None = None) -> Reply:
        if method != "GET":
            return call(method, url, body, token, self.ca_cert, headers, self.timeout)
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        conn = self.open.pop(key, None)
        if conn is not None:
            try:
                reply = _send(conn, method, url, body, token, headers)
            except (http.client.HTTPException, ConnectionError):
                conn.close()
            else:
                self._keep(key, conn, reply)
                return reply
        conn = _connect(url, self.ca_cert, self.timeout)
        try:
            reply = _send(conn, method, url, body, token, headers)
        except BaseException:
            conn.close()
            raise
        self._keep(key, conn, reply)
        return reply

    def _keep(self, key: str, conn: http.client.HTTPConnection, reply: Reply) -> None:
        if reply.headers.get("connection", "").lower() == "close":
            conn.close()
        else:
            self.open[key] = conn

    def close(self) -> None:
        for conn in self.open.values():
            conn.close()
        self.open.clear()


def control_headers(lab: Lab) -> dict[str, str]:
    """The header that opens a lab's control API (``/_vaultlab/``)."""
    from vaultlab.crypto import control

    return {control.HEADER: lab.control_token or ""}


class Api:
    """Client bound to one cluster of a lab (its active node unless ``url`` is given)."""

    def __init__(self, lab: Lab, cluster: str, url: str | None = None, token: str | None = "root") -> None:
        self.lab = lab
        self.cluster = cluster
        self.url = url
        self.token = lab.token(cluster) if token == "root" else token

    def base(self) -> str:
        return self.url or self.lab.info["clusters"][self.cluster]["api_addr"]

    def __call__(self, method: str, path: str, body: Any = None, token: Any = "default", **kw: Any) -> Reply:
        use = self.token if token == "default" else token
        return call(method, f"{self.base()}/v1/{path}", body, use, self.lab.ca_cert, **kw)


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaultlab", *args], capture_output=True, text=True,
                          timeout=timeout)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in this process (no interpreter start-up); same exit codes and output."""
    import contextlib
    import io

    from vaultlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


# Files that take longest start first: with --dist loadfile and --no-loadscope-reorder (make
# emulator-test) each worker then takes the next file when it is done, and no long file is
# left to run alone at the end.  Longest first; every other file keeps its place after them.
RUN_FIRST = ("test_state_machine.py", "test_cli.py", "test_stream.py", "test_demote_tail.py",
             "test_paths_filter_merkle.py", "test_replication_perf.py", "test_faults.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(RUN_FIRST)))


@pytest.fixture(scope="module")
def core_lab(tmp_path_factory: pytest.TempPathFactory):
    """One single-node cluster shared by the tests of a module."""
    with Lab(tmp_path_factory.mktemp("core"), clusters=["primary"]) as lab:
        yield lab


@pytest.fixture
def api(core_lab: Lab) -> Api:
    return Api(core_lab, "primary")


def lab_dir(tmp_path: Path, name: str = "lab") -> Path:
    return tmp_path / name
