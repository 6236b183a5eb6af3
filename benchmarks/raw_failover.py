#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planned DR failover with raw Vault API calls and tight polling: the baseline of the failover benchmark.

  python benchmarks/raw_failover.py --lab DIR --set OLD:NEW[:PERF[,PERF...]] [--set ...]
                                    [--poll 0.01] [--timeout 300] [--json FILE]

For each replication set (OLD is its DR primary, NEW a DR secondary, PERF its performance
secondaries), with every wait a poll every --poll seconds:

  1. mint a batch DR operation token on OLD (policy, token role, token), before anything changes;
  2. wait until NEW streams and holds everything OLD shipped (WAL position and merkle root);
  3. demote OLD;
  4. wait until NEW holds OLD's final state (merkle roots equal);
  5. promote NEW with the batch token;
  6. wait until NEW serves: DR primary, sys/health 200, an authenticated read answered;
  7. mint a DR activation token on NEW for OLD and re-attach OLD with update-primary (same batch
     token, which OLD holds too);
  8. wait until OLD streams from NEW, then until every PERF streams from NEW.

Several --set run side by side, one thread each. Addresses and OLD's root token come from the
vaultlab lab directory (DIR/lab.json); DR secondaries share their primary's token store, so
that token works on NEW too. Prints a JSON document with the moment each step completed (epoch
seconds) and the step durations. Tokens are never printed. Exit status 0 on success, 1 when a
step failed or timed out (one line on stderr naming the step), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

try:
    import requests
except ImportError:  # pragma: no cover - the project venv has it
    requests = None  # type: ignore[assignment]

POLICY_NAME = "bench-dr-operation"
POLICY = (
    'path "sys/replication/dr/secondary/promote" {\n  capabilities = ["update"]\n}\n'
    'path "sys/replication/dr/secondary/update-primary" {\n  capabilities = ["update"]\n}\n'
)
# Answers that mean "not done, nothing changed: ask again" (Vault's brief unavailability after a
# replication change, a standby that lost its leader, rate limiting).
RETRY_STATUSES = (412, 429, 503)
STEPS = ["token", "caught_up", "demoted", "final_state", "promote_sent", "promoted", "serving",
         "attach_sent", "attached", "perf_following"]


class StepFailed(Exception):
    """A step did not complete; the message names it."""


class Client:
    """One keep-alive session per cluster. The token is kept out of every message."""

    def __init__(self, addr: str, token: str | None, ca_cert: str | None, timeout: float = 5.0) -> None:
        self.addr = addr.rstrip("/")
        self.session = requests.Session()
        self.token = token
        self.verify: bool | str = ca_cert or True
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                auth: bool = True) -> tuple[int | None, dict[str, Any] | None]:
        """(status, JSON body); (None, None) when the cluster did not answer."""
        headers = {"X-Vault-Token": self.token} if auth and self.token else {}
        try:
            resp = self.session.request(method, f"{self.addr}/v1/{path}", json=body, headers=headers,
                                        verify=self.verify, timeout=self.timeout)
        except requests.RequestException:
            return None, None
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        return resp.status_code, data

    def write(self, step: str, path: str, body: dict[str, Any], deadline: float, poll: float,
              auth: bool = True) -> dict[str, Any]:
        """POST that is repeated only while the cluster refuses it without acting on it."""
        while True:
            status, data = self.request("POST", path, body, auth=auth)
            if status is not None and status < 400:
                return data or {}
            if status not in RETRY_STATUSES or time.monotonic() >= deadline:
                errors = (data or {}).get("errors") if isinstance(data, dict) else None
                raise StepFailed(f"{step}: POST {path} on {self.addr}: "
                                 f"{'no answer' if status is None else f'HTTP {status}'}: {errors or ''}".rstrip(": "))
            time.sleep(poll)

    def status(self, rtype: str) -> dict[str, Any] | None:
        status, data = self.request("GET", f"sys/replication/{rtype}/status", auth=False)
        if status != 200 or not isinstance(data, dict):
            return None
        return data.get("data") or data


def norm(addr: str | None) -> str:
    return (addr or "").rstrip("/").lower()


def connected(status: dict[str, Any] | None) -> bool:
    if not status:
        return False
    if status.get("connection_state") == "ready":
        return True
    return any(p.get("connection_status") == "connected" for p in status.get("primaries") or [])


def streams_from(status: dict[str, Any] | None, primary_addr: str) -> bool:
    """A secondary in stream-wals over a live connection to the primary at that API address."""
    if not status or status.get("mode") != "secondary" or status.get("state") != "stream-wals":
        return False
    if not connected(status):
        return False
    addrs = [norm(p.get("api_address")) for p in status.get("primaries") or []]
    return norm(primary_addr) in addrs


def shipped(primary: dict[str, Any]) -> int | None:
    value = primary.get("last_dr_wal")
    return primary.get("last_wal") if value is None else value


def caught_up(secondary: dict[str, Any] | None, primary: dict[str, Any] | None) -> bool:
    if not secondary or not primary or primary.get("mode") != "primary":
        return False
    if secondary.get("mode") != "secondary" or secondary.get("state") != "stream-wals":
        return False
    want = shipped(primary)
    have = secondary.get("last_remote_wal")
    return (secondary.get("cluster_id") == primary.get("cluster_id") and want is not None and have is not None
            and have >= want and bool(secondary.get("merkle_root"))
            and secondary.get("merkle_root") == primary.get("merkle_root"))


def wait(step: str, probe: Callable[[], Any], deadline: float, poll: float) -> Any:
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise StepFailed(f"{step}: timed out")
        time.sleep(poll)


class Failover:
    """One replication set's planned failover; ``events`` maps step name to epoch seconds."""

    def __init__(self, lab: dict[str, Any], old: str, new: str, perfs: list[str], poll: float,
                 timeout: float) -> None:
        clusters = lab["clusters"]
        for name in [old, new, *perfs]:
            if name not in clusters:
                raise StepFailed(f"no cluster {name!r} in the lab (known: {', '.join(sorted(clusters))})")
        self.names = (old, new, perfs)
        token = clusters[old]["root_token"]
        ca = lab.get("ca_cert") or clusters[old].get("ca_cert")
        self.old = Client(clusters[old]["api_addr"], token, ca)
        self.new = Client(clusters[new]["api_addr"], token, ca)
        self.perfs = [Client(clusters[p]["api_addr"], None, ca) for p in perfs]
        self.poll = poll
        self.timeout = timeout
        self.events: dict[str, float] = {}
        self.error: str | None = None

    def mark(self, step: str) -> None:
        self.events[step] = time.time()

    def run(self) -> None:
        try:
            self._run()
        except StepFailed as exc:
            self.error = str(exc)

    def _run(self) -> None:
        old, new, poll = self.old, self.new, self.poll
        deadline = time.monotonic() + self.timeout
        self.mark("start")

        # 1. Batch DR operation token, minted while OLD still takes writes; it replicates to NEW.
        old.write("token", f"sys/policies/acl/{POLICY_NAME}", {"policy": POLICY}, deadline, poll)
        old.write("token", f"auth/token/roles/{POLICY_NAME}",
                  {"allowed_policies": [POLICY_NAME], "orphan": True, "renewable": False, "token_type": "batch"},
                  deadline, poll)
        answer = old.write("token", f"auth/token/create/{POLICY_NAME}", {"ttl": "30m"}, deadline, poll)
        op_token = (answer.get("auth") or {}).get("client_token")
        if not op_token:
            raise StepFailed("token: auth/token/create answered without auth.client_token")
        self.mark("token")

        # 2. NEW has everything OLD shipped (including the token).
        wait("wait for the DR secondary to catch up",
             lambda: caught_up(new.status("dr"), old.status("dr")), deadline, poll)
        self.mark("caught_up")

        # 3. Demote OLD: from here on it refuses client writes.
        old.write("demote", "sys/replication/dr/primary/demote", {}, deadline, poll)
        self.mark("demoted")

        # 4. NEW holds OLD's final state.
        def final_state() -> bool:
            o, n = old.status("dr"), new.status("dr")
            return bool(o and n and o.get("merkle_root") and n.get("merkle_root") == o.get("merkle_root")
                        and n.get("cluster_id") == o.get("cluster_id"))
        wait("wait for the demoted primary's final state on the DR secondary", final_state, deadline, poll)
        self.mark("final_state")

        # 5. Promote NEW (the batch token authorises it; no X-Vault-Token).
        new.write("promote", "sys/replication/dr/secondary/promote", {"dr_operation_token": op_token},
                  deadline, poll, auth=False)
        self.mark("promote_sent")

        # 6. NEW serves: DR primary (running), healthy and active, and an authenticated read works.
        def serving() -> bool:
            if "promoted" not in self.events:
                st = new.status("dr")
                code, health = new.request("GET", "sys/health", auth=False)
                if (st and st.get("mode") == "primary" and st.get("state") in (None, "", "running")
                        and code == 200 and isinstance(health, dict) and not health.get("sealed")
                        and health.get("replication_dr_mode", "primary") == "primary"):
                    self.mark("promoted")
                else:
                    return False
            code, _ = new.request("GET", "auth/token/lookup-self")
            return code == 200
        wait("wait for the promoted cluster to serve", serving, deadline, poll)
        self.mark("serving")

        # 7. Re-attach OLD to NEW as DR secondary (update-primary keeps its data).
        answer = new.write("attach", "sys/replication/dr/primary/secondary-token", {"id": self.names[0]},
                           deadline, poll)
        activation = (answer.get("wrap_info") or {}).get("token") or (answer.get("data") or {}).get("token")
        if not activation:
            raise StepFailed("attach: secondary-token answered without wrap_info.token")
        old.write("attach", "sys/replication/dr/secondary/update-primary",
                  {"token": activation, "dr_operation_token": op_token}, deadline, poll, auth=False)
        del activation, op_token
        self.mark("attach_sent")
        wait("wait for the old primary to stream from the new one",
             lambda: streams_from(old.status("dr"), new.addr), deadline, poll)
        self.mark("attached")

        # 8. The performance secondaries follow the new primary (Vault re-points them by itself).
        for perf in self.perfs:
            wait(f"wait for the performance secondary at {perf.addr} to follow",
                 lambda perf=perf: streams_from(perf.status("performance"), new.addr), deadline, poll)
        self.mark("perf_following")

    def report(self) -> dict[str, Any]:
        old, new, perfs = self.names
        start = self.events.get("start")
        durations: dict[str, float] = {}
        previous = start
        for step in STEPS:
            if step in self.events and previous is not None:
                durations[step] = round(self.events[step] - previous, 4)
                previous = self.events[step]
        total = (self.events[STEPS[-1]] - start) if start and STEPS[-1] in self.events else None
        return {"old": old, "new": new, "perfs": perfs, "events": self.events, "durations": durations,
                "total_s": total, "error": self.error}


def parse_set(spec: str) -> tuple[str, str, list[str]]:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError(f"--set {spec!r}: use OLD:NEW or OLD:NEW:PERF[,PERF...]")
    perfs = [p for p in (parts[2].split(",") if len(parts) == 3 else []) if p]
    return parts[0], parts[1], perfs


def run_sets(lab: dict[str, Any], sets: list[tuple[str, str, list[str]]], poll: float,
             timeout: float) -> dict[str, Any]:
    jobs = [Failover(lab, old, new, perfs, poll, timeout) for old, new, perfs in sets]
    start = time.time()
    threads = [threading.Thread(target=job.run, name=f"failover-{job.names[1]}") for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reports = [job.report() for job in jobs]
    return {"start": start, "end": time.time(), "wall_s": time.time() - start, "sets": reports,
            "ok": all(r["error"] is None for r in reports)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True, type=Path, help="vaultlab lab directory (holds lab.json)")
    parser.add_argument("--set", dest="sets", action="append", type=parse_set, required=True,
                        metavar="OLD:NEW[:PERF,...]", help="one replication set to fail over (repeatable)")
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between two status polls (0.01)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds the whole failover may take (300)")
    parser.add_argument("--json", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if requests is None:
        print("raw_failover: the requests package is missing; use the project venv's python", file=sys.stderr)
        return 1
    if args.poll <= 0 or args.timeout <= 0:
        parser.error("--poll and --timeout must be positive numbers of seconds")
    try:
        lab = json.loads((args.lab / "lab.json").read_text())
    except (OSError, ValueError) as exc:
        print(f"raw_failover: cannot read {args.lab / 'lab.json'} (--lab): {exc}", file=sys.stderr)
        return 1
    try:
        result = run_sets(lab, args.sets, args.poll, args.timeout)
    except StepFailed as exc:
        print(f"raw_failover: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    for report in result["sets"]:
        if report["error"]:
            print(f"raw_failover: {report['old']} -> {report['new']}: {report['error']}", file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
