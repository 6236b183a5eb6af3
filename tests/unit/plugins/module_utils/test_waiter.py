# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""wait_until with a fake clock (exact timing), plus one real-time run; wait_serving against a
fake cluster whose answers follow the fake clock."""

from __future__ import annotations

import time

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    Response,
    VaultAPIError,
    VaultConnectionError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import (
    SERVING_MAX_INTERVAL,
    ServingTimeout,
    WaitTimeout,
    _Probing,
    role_phrase,
    wait_serving,
    wait_until,
)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def scripted(*steps):
    """probe() returning/raising the steps in order; the last one repeats."""
    calls = []

    def probe():
        step = steps[min(len(calls), len(steps) - 1)]
        calls.append(step)
        if isinstance(step, Exception):
            raise step
        return step

    probe.calls = calls
    return probe


def test_returns_first_value_that_is_done_without_sleeping():
    clock = FakeClock()
    assert wait_until(scripted("primary"), lambda v: v == "primary", 10, "x", clock=clock, sleep=clock.sleep) == "primary"
    assert clock.sleeps == []


def test_backoff_doubles_up_to_max_interval():
    clock = FakeClock()
    probe = scripted(*(["bootstrapping"] * 8 + ["secondary"]))
    result = wait_until(probe, lambda v: v == "secondary", 60, "secondary mode", interval=0.05,
                        max_interval=0.4, clock=clock, sleep=clock.sleep)
    assert result == "secondary"
    assert clock.sleeps == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4, 0.4, 0.4]
    assert len(probe.calls) == 9


def test_due_brings_the_next_probe_forward_when_only_time_is_missing():
    # A state that must hold for 0.35 s: backing off alone would look at 0.02, 0.06, 0.14, 0.3
    # and then 0.55 s; with due the look that completes it comes at 0.35 s.
    clock = FakeClock()
    start = clock.now
    seen = {}

    def done(value):
        seen["held"] = clock.now - start
        return seen["held"] >= 0.35 - 1e-9

    wait_until(scripted("steady"), done, 10, "steady for 0.35 s", interval=0.02, max_interval=0.25,
               clock=clock, sleep=clock.sleep, due=lambda: 0.35 - seen["held"])
    assert clock.sleeps == [0.02, 0.04, 0.08, 0.16, 0.05]
    assert clock.now - start == pytest.approx(0.35)


def test_due_never_delays_a_probe():
    clock = FakeClock()
    wait_until(scripted("a", "a", "b"), lambda v: v == "b", 10, "b", interval=0.1, max_interval=0.1, clock=clock,
               sleep=clock.sleep, due=lambda: 5.0)
    assert clock.sleeps == [0.1, 0.1]
    clock = FakeClock()
    wait_until(scripted("a", "b"), lambda v: v == "b", 10, "b", interval=0.1, clock=clock, sleep=clock.sleep,
               due=lambda: -1.0)
    assert clock.sleeps == [0.001]


def test_due_is_ignored_after_a_failed_probe():
    # The hint comes from the last value done() saw; after a failed read it is stale.
    clock = FakeClock()
    refused = VaultConnectionError("http://n1:8200/v1/sys/health", "refused", "connection refused")
    wait_until(scripted("a", refused, "a", "b"), lambda v: v == "b", 10, "b", interval=0.1, max_interval=0.1,
               clock=clock, sleep=clock.sleep, due=lambda: 0.01)
    assert clock.sleeps == [0.01, 0.1, 0.01]


def test_transient_errors_are_tolerated():
    clock = FakeClock()
    errors = [VaultConnectionError("http://n1:8200/v1/sys/health", "refused", "connection refused")]
    errors += [VaultAPIError(s, ["Vault is sealed"], "GET", "sys/replication/dr/status")
               for s in (429, 472, 473, 500, 502, 503)]
    probe = scripted(*(errors + ["primary"]))
    assert wait_until(probe, lambda v: v == "primary", 30, "primary", clock=clock, sleep=clock.sleep) == "primary"
    assert len(probe.calls) == 8


@pytest.mark.parametrize("status", [400, 403, 404, 412])
def test_other_api_errors_propagate_at_once(status):
    clock = FakeClock()
    err = VaultAPIError(status, ["permission denied"], "GET", "sys/replication/dr/status")
    probe = scripted(err)
    with pytest.raises(VaultAPIError) as raised:
        wait_until(probe, bool, 30, "x", clock=clock, sleep=clock.sleep)
    assert raised.value is err
    assert len(probe.calls) == 1


def test_other_exceptions_propagate():
    clock = FakeClock()
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, bool, 30, "x", clock=clock, sleep=clock.sleep)


def test_custom_tolerated_statuses():
    clock = FakeClock()
    probe = scripted(VaultAPIError(400, ["path disabled in replication DR secondary mode"], "GET", "p"), "ok")
    assert wait_until(probe, lambda v: v == "ok", 5, "x", tolerate_status={400}, clock=clock,
                      sleep=clock.sleep) == "ok"


def test_timeout_reports_last_value_and_description():
    clock = FakeClock()
    probe = scripted("idle")
    with pytest.raises(WaitTimeout) as err:
        wait_until(probe, lambda v: v == "stream-wals", 2, "dr secondary to stream WALs",
                   clock=clock, sleep=clock.sleep)
    exc = err.value
    assert exc.last_value == "idle" and exc.last_error is None
    assert exc.description == "dr secondary to stream WALs"
    assert exc.message == "timed out after 2s waiting for dr secondary to stream WALs"
    # never sleeps past the deadline, and probes once more right at it
    assert clock.now == pytest.approx(102.0)
    assert sum(clock.sleeps) == pytest.approx(2.0)


def test_timeout_reports_last_error():
    clock = FakeClock()
    error = VaultConnectionError("http://n1:8200/v1/sys/health", "timeout", "timed out")
    with pytest.raises(WaitTimeout) as err:
        wait_until(scripted("x", error), lambda v: False, 1.5, "health", clock=clock, sleep=clock.sleep)
    assert err.value.last_error is error
    assert err.value.last_value == "x"
    assert "last error: Cannot reach Vault at http://n1:8200/v1/sys/health" in err.value.message


def test_zero_timeout_probes_once():
    clock = FakeClock()
    probe = scripted(False)
    with pytest.raises(WaitTimeout):
        wait_until(probe, bool, 0, "x", clock=clock, sleep=clock.sleep)
    assert len(probe.calls) == 1 and clock.sleeps == []


def test_negative_timeout_is_a_programming_error():
    with pytest.raises(ValueError):
        wait_until(lambda: 1, bool, -1, "x")


def test_real_clock_is_sub_second():
    values = iter([False, False, False, True])
    start = time.monotonic()
    assert wait_until(lambda: next(values), bool, 5, "real", interval=0.01, max_interval=0.05) is True
    assert time.monotonic() - start < 0.5


def test_real_clock_timeout_is_bounded():
    start = time.monotonic()
    with pytest.raises(WaitTimeout):
        wait_until(lambda: False, bool, 0.3, "never", interval=0.05, max_interval=0.1)
    assert 0.3 <= time.monotonic() - start < 0.6


# ---------------------------------------------------------------------------------------------
# wait_serving: a fake cluster whose answers follow the fake clock, reached through the real
# _api functions (so the paths, and that no call lets the client retry on a status, are checked)

SIGNS = ("state", "health", "leader", "request")


class WindowedCluster:
    """One node that took a replication change at clock time 100: it reports ``role`` at once, and
    shows each sign of the reconfiguration window named in ``signs`` until ``until``."""

    def __init__(self, clock, rtype="dr", role="primary", until=101.3, signs=SIGNS, token="root",
                 leader_elsewhere=False, streaming=True):
        self.clock = clock
        self.rtype = rtype
        self.role = role
        self.until = until
        self.signs = set(signs)
        self.token = token
        self.url = "http://vault-a:8200"
        self.leader_elsewhere = leader_elsewhere
        self.streaming = streaming
        self.requests = []

    def window(self, sign):
        return sign in self.signs and self.clock() < self.until

    def request(self, method, path, json=None, params=None, authenticated=True, allow_status=(),
                retry_on_status=True):
        self.requests.append((method, path, retry_on_status))
        dr_secondary = self.rtype == "dr" and self.role == "secondary"
        if path == "sys/replication/%s/status" % self.rtype:
            data = {"mode": self.role, "cluster_id": "set-1"}
            if self.role == "primary":
                data["state"] = "idle" if self.window("state") else "running"
            elif self.role == "secondary":
                stream = self.streaming and not self.window("state")
                data.update(state="stream-wals" if stream else "connecting",
                            connection_state="ready" if stream else "connecting")
            return Response(200, {"data": data})
        if path == "sys/health":
            body = {"initialized": True, "sealed": False, "replication_%s_mode" % self.rtype: self.role}
            if dr_secondary:
                status = 472
            elif self.window("health") or self.leader_elsewhere:
                status = 429
                body["standby"] = True
            else:
                status = 200
            if status not in allow_status:
                raise VaultAPIError(status, [], method, path)
            return Response(status, body)
        if path == "sys/leader":
            if self.window("leader"):
                return Response(200, {"ha_enabled": True, "is_self": False, "leader_address": ""})
            addr = "http://vault-b:8200" if self.leader_elsewhere else self.url
            return Response(200, {"ha_enabled": True, "is_self": not self.leader_elsewhere, "leader_address": addr})
        if path == "auth/token/lookup-self":
            if self.window("request"):
                raise VaultAPIError(503, ["Vault is temporarily unavailable while replication is reconfigured"],
                                    method, path)
            if dr_secondary:
                raise VaultAPIError(400, ["path disabled in replication DR secondary mode"], method, path)
            if self.token is None:
                raise VaultAPIError(403, ["permission denied"], method, path)
            return Response(200, {"data": {"id": self.token}})
        raise AssertionError("unexpected request %s %s" % (method, path))


def serve(cluster, clock, role="primary", timeout=30, **kwargs):
    return wait_serving(cluster, cluster.rtype, role, timeout, clock=clock, sleep=clock.sleep, **kwargs)


def test_serving_polls_from_20ms_backing_off_to_a_tenth_of_a_second():
    clock = FakeClock()
    cluster = WindowedCluster(clock, until=101.3)
    served = serve(cluster, clock)
    assert clock.sleeps == pytest.approx([0.02, 0.04, 0.08] + [0.1] * 12)
    assert max(clock.sleeps) == SERVING_MAX_INTERVAL == 0.1
    # seen at most one interval (0.1 s) after the window ended, and reported as waited
    assert 101.3 <= clock.now < 101.3 + SERVING_MAX_INTERVAL
    assert served.waited == pytest.approx(clock.now - 100.0) and served.polls == 16
    assert served.status.state == "running"


def test_serving_at_once_costs_one_round_and_no_sleep():
    clock = FakeClock()
    cluster = WindowedCluster(clock, until=0)
    served = serve(cluster, clock)
    assert clock.sleeps == [] and served.waited == 0 and served.polls == 1
    assert [path for _m, path, _r in cluster.requests] == [
        "sys/replication/dr/status", "sys/health", "sys/leader", "auth/token/lookup-self"]


def test_no_probe_lets_the_client_retry_on_a_status():
    """The client's urllib3 Retry would hold a 503 for seconds inside one call."""
    clock = FakeClock()
    cluster = WindowedCluster(clock)
    serve(cluster, clock)
    assert cluster.requests and all(retry is False for _m, _p, retry in cluster.requests)


@pytest.mark.parametrize("sign", SIGNS)
def test_each_sign_of_the_window_alone_keeps_waiting(sign):
    clock = FakeClock()
    cluster = WindowedCluster(clock, signs=[sign], until=102.0)
    served = serve(cluster, clock)
    assert clock.now >= 102.0 and served.waited >= 2.0


@pytest.mark.parametrize("sign,seen", [
    ("state", "the dr primary reports state 'idle', not 'running'"),
    ("leader", "sys/leader names no active node"),
    ("request", "auth/token/lookup-self answered HTTP 503: Vault is temporarily unavailable"),
])
def test_timeout_names_what_was_last_seen(sign, seen):
    clock = FakeClock()
    cluster = WindowedCluster(clock, signs=[sign], until=10 ** 9)
    with pytest.raises(ServingTimeout) as err:
        serve(cluster, clock, timeout=3, description="the cluster to serve")
    exc = err.value
    assert exc.seen.startswith(seen) and exc.waited == pytest.approx(3.0)
    assert exc.message.startswith("timed out after 3s waiting for the cluster to serve; last seen: " + seen)


def test_standby_answer_alone_is_not_serving():
    """429 from the node that took the call, with no leader named: the window."""
    clock = FakeClock()
    cluster = WindowedCluster(clock, signs=["health", "leader"], until=10 ** 9)
    with pytest.raises(ServingTimeout) as err:
        serve(cluster, clock, timeout=1)
    assert err.value.seen == "sys/leader names no active node"


def test_standby_of_a_serving_cluster_is_serving():
    clock = FakeClock()
    cluster = WindowedCluster(clock, until=0, leader_elsewhere=True)
    assert serve(cluster, clock).waited == 0


def test_refused_token_is_an_answer():
    clock = FakeClock()
    cluster = WindowedCluster(clock, until=0, token=None)
    assert serve(cluster, clock).polls == 1


def test_dr_secondary_serves_with_472_and_its_refusal():
    clock = FakeClock()
    cluster = WindowedCluster(clock, role="secondary", signs=["leader", "request"], until=101.0)
    served = serve(cluster, clock, role="secondary")
    assert clock.now >= 101.0 and served.status.role == "secondary"


def test_streaming_secondary_and_further_condition():
    clock = FakeClock()
    cluster = WindowedCluster(clock, rtype="performance", role="secondary", signs=["state"], until=101.0)
    seen_by_primary = {"at": 101.5}

    def also(status):
        assert status.is_streaming
        return None if clock() >= seen_by_primary["at"] else "the primary does not list it yet"

    served = serve(cluster, clock, role="secondary", streaming=True, also=also)
    assert clock.now >= 101.5 and served.waited >= 1.5


def test_demoted_secondary_need_not_stream():
    clock = FakeClock()
    cluster = WindowedCluster(clock, role="secondary", streaming=False, signs=["leader"], until=100.5)
    assert serve(cluster, clock, role="secondary").waited >= 0.5
    with pytest.raises(ServingTimeout) as err:
        serve(cluster, clock, role="secondary", streaming=True, timeout=1)
    assert "does not stream yet" in err.value.seen


def test_wrong_role_and_unreachable_node_keep_waiting():
    clock = FakeClock()
    cluster = WindowedCluster(clock, until=0)
    real = cluster.request
    answers = {"n": 0}

    def flaky(method, path, **kwargs):
        answers["n"] += 1
        if answers["n"] == 1:
            raise VaultConnectionError("http://vault-a:8200/v1/" + path, "refused", "connection refused")
        return real(method, path, **kwargs)

    cluster.request = flaky
    assert serve(cluster, clock).polls == 2
    with pytest.raises(ServingTimeout) as err:
        serve(cluster, clock, role="disabled", timeout=1)
    assert err.value.seen == "dr replication reports mode 'primary', not 'disabled'"


def test_probing_client_forces_no_status_retries_and_delegates():
    class Client:
        url = "http://vault-a:8200"
        token = "t"

        def request(self, *args, **kwargs):
            return args, kwargs

    probing = _Probing(Client())
    assert probing.url == "http://vault-a:8200" and probing.token == "t"
    assert probing.request("GET", "sys/leader", retry_on_status=True) == (("GET", "sys/leader"),
                                                                          {"retry_on_status": False})


def test_role_phrase():
    assert role_phrase("dr", "primary") == "as DR primary"
    assert role_phrase("performance", "secondary") == "as performance secondary"
    assert role_phrase("dr", "disabled") == "with DR replication disabled"
