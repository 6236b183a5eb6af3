# SPDX-License-Identifier: GPL-3.0-or-later
"""Lab preparation and checks for the failover benchmark, all over the raw Vault HTTP API.

Nothing here goes through the collection under test: replication is set up, secrets are
written and read back, and the topology after a failover is checked with plain requests, so a
bug in the collection cannot hide behind its own checks. Tokens stay in memory.
"""

from __future__ import annotations

import base64
import sys
import time
from typing import Any, Callable

from . import _common as c

sys.path.insert(0, str(c.REPO_ROOT / "scripts"))
import demo_lab  # noqa: E402  (scripts/demo_lab.py: the lab helpers the tests use too)

SECRET_MOUNT = "bench"
RETRY_STATUSES = (412, 429, 503)


class BenchFailure(c.Failed):
    """A method did not do what it claims (lost secrets, wrong topology): the run fails loudly."""


class Api:
    """Keep-alive client for one cluster that waits out Vault's brief unavailability on writes."""

    def __init__(self, info: dict[str, Any], name: str, token: str | None) -> None:
        import requests

        cluster = info["clusters"][name]
        self.name = name
        self.addr = cluster["api_addr"].rstrip("/")
        self.verify: bool | str = info.get("ca_cert") or cluster.get("ca_cert") or True
        self.session = requests.Session()
        self.token = token

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                auth: bool = True, timeout: float = 10.0) -> tuple[int | None, dict[str, Any] | None]:
        import requests

        headers = {"X-Vault-Token": self.token} if auth and self.token else {}
        try:
            resp = self.session.request(method, f"{self.addr}/v1/{path}", json=body, headers=headers,
                                        verify=self.verify, timeout=timeout)
        except requests.RequestException:
            return None, None
        try:
            return resp.status_code, (resp.json() if resp.content else None)
        except ValueError:
            return resp.status_code, None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, auth: bool = True,
             timeout: float = 60.0, ok: tuple[int, ...] = ()) -> dict[str, Any]:
        """A call that must succeed; retried while the cluster answers 412/429/503 or not at all."""
        deadline = time.monotonic() + timeout
        while True:
            status, data = self.request(method, path, body, auth)
            if status is not None and (status < 400 or status in ok):
                return data or {}
            if (status is not None and status not in RETRY_STATUSES) or time.monotonic() >= deadline:
                errors = data.get("errors") if isinstance(data, dict) else None
                raise c.NotAvailable(f"{method} {path} on {self.name}: "
                                     f"{'no answer' if status is None else f'HTTP {status}'} {errors or ''}".rstrip())
            time.sleep(0.05)

    def status(self, rtype: str) -> dict[str, Any] | None:
        status, data = self.request("GET", f"sys/replication/{rtype}/status", auth=False)
        if status != 200 or not isinstance(data, dict):
            return None
        return data.get("data") or data


def wait(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise c.NotAvailable(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def connected(status: dict[str, Any] | None) -> bool:
    if not status:
        return False
    if status.get("connection_state") == "ready":
        return True
    return any(p.get("connection_status") == "connected" for p in status.get("primaries") or [])


def streaming(status: dict[str, Any] | None) -> bool:
    """The collection's idea of a streaming secondary (secondary, stream-wals, connected)."""
    return bool(status and status.get("mode") == "secondary" and status.get("state") == "stream-wals"
                and connected(status))


def streams_from(status: dict[str, Any] | None, primary_addr: str) -> bool:
    if not streaming(status):
        return False
    return primary_addr.rstrip("/") in [(p.get("api_address") or "").rstrip("/")
                                        for p in status.get("primaries") or []]


def root(info: dict[str, Any], name: str) -> str:
    return info["clusters"][name]["root_token"]


# -- set-up ---------------------------------------------------------------------------------

def setup_set(info: dict[str, Any], primary: str, drs: list[str], perfs: list[str],
              timeout: float = 300.0) -> None:
    """Enable DR/performance replication on ``primary`` and activate every secondary; wait until
    each one streams. Secondary ids are the cluster names, as the collection's roles use. The same
    raw-API set-up the tests start from (``scripts/demo_lab.py replicate``), never the collection."""
    try:
        demo_lab.replicate(info["clusters"], drs=list(drs), perfs=list(perfs), primary=primary, timeout=timeout)
    except (RuntimeError, KeyError) as exc:
        raise c.NotAvailable(f"replication set-up on {primary} failed: {exc}") from None


def generate_root(info: dict[str, Any], name: str, keys: list[str], timeout: float = 60.0) -> str:
    """A root token for a cluster whose own tokens activation wiped (a performance secondary),
    by the generate-root ceremony with the key shares it now uses (its primary's)."""
    api = Api(info, name, None)
    api.call("DELETE", "sys/generate-root/attempt", auth=False, timeout=timeout)
    started = api.call("PUT", "sys/generate-root/attempt", {}, auth=False, timeout=timeout)
    nonce, otp = started["nonce"], started["otp"]
    answer: dict[str, Any] = {}
    for key in keys:
        answer = api.call("PUT", "sys/generate-root/update", {"key": key, "nonce": nonce}, auth=False,
                          timeout=timeout)
        if answer.get("complete"):
            break
    encoded = answer.get("encoded_token") or answer.get("encoded_root_token")
    if not encoded:
        raise c.NotAvailable(f"generate-root on {name} did not complete")
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    return bytes(a ^ b for a, b in zip(raw, otp.encode())).decode()


# -- data -----------------------------------------------------------------------------------

def write_secrets(info: dict[str, Any], primary: str, count: int, tag: str) -> None:
    api = Api(info, primary, root(info, primary))
    mounts = api.call("GET", "sys/mounts")
    table = mounts.get("data") or mounts
    if f"{SECRET_MOUNT}/" not in table:
        api.call("POST", f"sys/mounts/{SECRET_MOUNT}", {"type": "kv", "options": {"version": "1"}})
    for i in range(count):
        api.call("POST", f"{SECRET_MOUNT}/item-{i:05d}", {"value": f"{tag}-{i:05d}"})


def check_secrets(info: dict[str, Any], new_primary: str, token_of: str, count: int, tag: str,
                  method: str) -> None:
    """Every secret written before the failover reads back on the new primary, or BenchFailure."""
    api = Api(info, new_primary, root(info, token_of))
    missing = []
    for i in range(count):
        status, body = api.request("GET", f"{SECRET_MOUNT}/item-{i:05d}")
        if status != 200 or ((body or {}).get("data") or {}).get("value") != f"{tag}-{i:05d}":
            missing.append((i, status))
    if missing:
        raise BenchFailure(f"{method}: {len(missing)} of {count} secrets missing or wrong on the new primary "
                           f"{new_primary} after the failover (first: item {missing[0][0]}, HTTP {missing[0][1]})")


def check_topology(info: dict[str, Any], new: str, old: str, perfs: list[str], method: str,
                   timeout: float = 60.0) -> None:
    """After a failover: ``new`` is DR (and performance) primary, ``old`` streams from it as DR
    secondary, every performance secondary streams from it. BenchFailure otherwise."""
    n, o = Api(info, new, None), Api(info, old, None)

    def settled() -> bool:
        if (n.status("dr") or {}).get("mode") != "primary":
            return False
        if perfs and (n.status("performance") or {}).get("mode") != "primary":
            return False
        if not streams_from(o.status("dr"), n.addr):
            return False
        return all(streams_from(Api(info, p, None).status("performance"), n.addr) for p in perfs)

    try:
        wait(f"the topology after the failover ({new} primary)", settled, timeout, interval=0.2)
    except c.NotAvailable:
        views = {name: {"dr": (Api(info, name, None).status("dr") or {}).get("mode"),
                        "perf": (Api(info, name, None).status("performance") or {}).get("mode")}
                 for name in [new, old, *perfs[:3]]}
        raise BenchFailure(f"{method}: after the run the topology is not {new} primary with {old} "
                           f"and the performance secondaries following it: {views}") from None
