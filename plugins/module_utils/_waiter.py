# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Poll until a condition holds: short first intervals, bounded backoff, one overall deadline."""

from __future__ import annotations

import time

from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultConnectionError,
    VaultError,
)

# What a node answers during the "brief period of unavailability" after enable, promote,
# demote or disable, while a standby takes over, or while it is being unsealed:
# 429 standby / rate limit, 472 DR secondary health code, 473 performance standby,
# 500/502/503 restart, sealed, load balancer without a healthy backend.
TRANSIENT_STATUSES = frozenset((429, 472, 473, 500, 502, 503))


class WaitTimeout(VaultError):
    """The condition did not hold before the deadline."""

    def __init__(self, description, last_value=None, last_error=None, timeout=None):
        self.description = description
        self.last_value = last_value
        self.last_error = last_error
        self.timeout = timeout
        msg = "timed out after %ss waiting for %s" % (_fmt_seconds(timeout), description)
        if last_error is not None:
            msg += " (last error: %s)" % (getattr(last_error, "message", None) or last_error,)
        super().__init__(msg)


def _fmt_seconds(value):
    if value is None:
        return "?"
    return ("%.1f" % value).rstrip("0").rstrip(".")


def is_transient(exc, statuses=TRANSIENT_STATUSES):
    if isinstance(exc, VaultConnectionError):
        return True
    return isinstance(exc, VaultAPIError) and exc.status in statuses


def wait_until(probe, done, timeout, description, interval=0.05, max_interval=1.0,
               tolerate_status=TRANSIENT_STATUSES, clock=time.monotonic, sleep=time.sleep):
    """Call ``probe()`` until ``done(value)`` is true and return that value.

    Transport errors and Vault errors whose status is in ``tolerate_status`` count as "not
    yet"; any other error propagates at once. The first interval is ``interval`` seconds and
    doubles up to ``max_interval``. ``probe`` is always called at least once, and once more
    right at the deadline if the last sleep reached it. Raises WaitTimeout.
    """
    if timeout is None or timeout < 0:
        raise ValueError("timeout must be 0 or more seconds")
    deadline = clock() + timeout
    delay = max(float(interval), 0.001)
    max_interval = max(float(max_interval), delay)
    last_value = None
    last_error = None
    while True:
        try:
            value = probe()
        except (VaultConnectionError, VaultAPIError) as exc:
            if not is_transient(exc, tolerate_status):
                raise
            last_error = exc
        else:
            last_error = None
            last_value = value
            if done(value):
                return value
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(description, last_value=last_value, last_error=last_error, timeout=timeout)
        sleep(min(delay, remaining))
        delay = min(delay * 2, max_interval)
