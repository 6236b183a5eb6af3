"""The per-process tick grid that lets a node's pollers share their wake-ups (vaultlab.ticks)."""

from __future__ import annotations

import asyncio
import math

import pytest

from vaultlab import ticks


@pytest.mark.parametrize("period", [0.05, 0.3, 1.0])
def test_next_tick_is_the_next_grid_point(period):
    for now in (0.0, 12.3456, 1000.001, 5e5 + 0.2):
        point = ticks.next_tick(period, now)
        assert 0 < point - now <= period + ticks._MIN_GAP
        steps = (point - ticks._PHASE) / period
        assert math.isclose(steps, round(steps), abs_tol=1e-6)  # on the grid
        # Consecutive points are one period apart: a poller still runs once per period.
        assert math.isclose(ticks.next_tick(period, point), point + period, abs_tol=1e-6)


def test_multiples_share_grid_points_and_close_points_are_skipped():
    now = 777.777
    coarse = ticks.next_tick(0.3, now)
    steps = (coarse - ticks._PHASE) / 0.05
    assert math.isclose(steps, round(steps), abs_tol=1e-6)  # every 0.3 s point is also a 0.05 s point
    fine = ticks.next_tick(0.05, now)
    # A timer that fires a hair early must not make the poller run twice for one point.
    assert ticks.next_tick(0.05, fine - 1e-6) == pytest.approx(fine + 0.05)
    assert ticks.next_tick(0, now) == now


def test_sleepers_of_one_period_wake_together():
    async def main():
        loop = asyncio.get_running_loop()
        woke: list[tuple[float, float]] = []

        async def sleeper():
            target = ticks.next_tick(0.05, loop.time())
            await ticks.sleep_tick(0.05)
            woke.append((target, loop.time()))

        await ticks.sleep_tick(0.05)  # just past a grid point: the next one is ~50 ms away
        first = asyncio.ensure_future(sleeper())
        await asyncio.sleep(0.005)
        await asyncio.gather(first, sleeper())
        return woke

    # On a loaded machine the 5 ms between the two starts can stretch past the grid point; such
    # a try shows nothing (the sleepers were not in one period) and is repeated.
    tries = []
    for _ in range(10):
        (target_a, woke_a), (target_b, woke_b) = asyncio.run(main())
        tries.append((target_a, target_b))
        if target_a == target_b:  # started within one period, they wait for the same grid point...
            assert woke_a >= target_a - 0.001 and abs(woke_a - woke_b) < 0.001  # ...and wake in one go
            return
    pytest.fail("the two sleepers never started within one 50 ms period in 10 tries: %r" % tries)
