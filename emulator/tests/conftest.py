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


def call(method: str, url: str, body: Any = None, token: str | None = None, ca_cert: str | None = None,
         headers: dict[str, str] | None = None, timeout: float = 5.0) -> Reply:
    """One HTTP request; redirects are not followed so tests can see them."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca_cert)
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(parts.hostname, parts.port,
                                                                       timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    sent = dict(headers or {})
    if token:
        sent["X-Vault-Token"] = token
    payload = None
    if body is not None:
        payload = json.dumps(body)
        sent["Content-Type"] = "application/json"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        got = {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return Reply(response.status, parsed, got, raw)


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
