# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""wait_until with a fake clock (exact timing), plus one real-time run."""

from __future__ import annotations

import time

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultConnectionError
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import WaitTimeout, wait_until


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
