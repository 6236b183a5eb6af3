"""Periodic wake-ups on one time grid per process.

A node process runs several pollers with the same cadence: the HA loop (every
``ha_renew_interval``) and one held WAL poll per streaming secondary (every
``wal_stream_interval``).  Each sleeping for its own period from its own start, they wake the
process at unrelated instants; on a small machine running many labs the wake-ups, not the work
done in them, are most of an idle lab's CPU.  Sleeping until the next point of a shared grid
instead (``phase + k * period``) makes pollers of equal (or multiple) periods fall due at the
same instant, and the event loop runs them in one wake-up.

Each poller still runs once per period: a poll that checks on the grid sees a change at most
one period after it happened, as one that counts periods from its own start does.  The phase
is drawn per process so that the processes of a lab do not all wake at once.
"""

from __future__ import annotations

import math
import random

# Seconds; the grids of all periods share it, so a period that is a multiple of another lands
# on a subset of the other's points.
_PHASE = random.random()

# A grid point closer than this is skipped: a timer may fire a hair early, and the poller must
# not run twice for one point.
_MIN_GAP = 0.001


def next_tick(period: float, now: float) -> float:
    """The first grid point of ``period`` after ``now`` (both in the event loop's clock)."""
    if period <= 0:
        return now
    point = _PHASE + (math.floor((now - _PHASE) / period) + 1) * period
    if point - now < _MIN_GAP:
        point += period
    return point


def until_next_tick(period: float) -> float:
    """Seconds from now (the running event loop's clock) to the next grid point of ``period``."""
    import asyncio

    now = asyncio.get_running_loop().time()
    return next_tick(period, now) - now


async def sleep_tick(period: float) -> None:
    """Sleep until the next grid point of ``period``."""
    import asyncio

    await asyncio.sleep(until_next_tick(period))
