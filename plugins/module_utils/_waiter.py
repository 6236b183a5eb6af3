# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Poll until a condition holds: short first intervals, bounded backoff, one overall deadline;
and the one wait every change of replication role ends with (``wait_serving``)."""

from __future__ import annotations

import time

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultConnectionError,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._status import (
    HEALTH_STANDBY,
    health_problem,
    leader_problem,
    read_type_status,
    request_problem,
    role_problem,
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
               tolerate_status=TRANSIENT_STATUSES, clock=time.monotonic, sleep=time.sleep, due=None):
    """Call ``probe()`` until ``done(value)`` is true and return that value.

    Transport errors and Vault errors whose status is in ``tolerate_status`` count as "not
    yet"; any other error propagates at once. The first interval is ``interval`` seconds and
    doubles up to ``max_interval``. ``probe`` is always called at least once, and once more
    right at the deadline if the last sleep reached it. ``due``: optional ``() -> seconds or
    None``, asked after a ``done`` that said "not yet": when only time is missing (a state must
    hold for a while), the seconds until it would be complete; the next probe then comes no
    later than that. Raises WaitTimeout.
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
        pause = min(delay, remaining)
        soon = due() if due is not None and last_error is None else None
        if soon is not None:
            pause = min(pause, max(soon, 0.001))
        sleep(pause)
        delay = min(delay * 2, max_interval)


# ---------------------------------------------------------------------------------------------
# Waiting until a cluster serves in its new role

# Polling cadence of wait_serving: the first look after 20 ms, then backing off to 0.1 s, so a
# role that settles at once costs one round of reads and a slow one (Vault's reconfiguration
# window after promote, demote or update-primary lasts seconds) is seen within 0.1 s of settling.
# A round is four small reads, so even a long window costs the cluster about 40 requests a second.
SERVING_INTERVAL = 0.02
SERVING_MAX_INTERVAL = 0.1


def role_phrase(rtype, role):
    """``as DR primary``, ``as performance secondary``, ``with DR replication disabled`` (for
    "serve <phrase>" in messages)."""
    title = "DR" if rtype == "dr" else "performance"
    if role == "disabled":
        return "with %s replication disabled" % title
    return "as %s %s" % (title, role)


class ServingState:
    """What one round of wait_serving's reads found: ``status`` (ReplicationStatus of the type),
    ``health`` ((code, body)), ``leader`` (sys/leader body), ``answered`` (whether the real
    request was served) and ``problem`` (why the cluster does not serve yet; None when it does).
    Reads stop at the first problem, so later fields may be None."""

    def __init__(self):
        self.status = None
        self.health = None
        self.leader = None
        self.answered = None
        self.problem = None

    def __repr__(self):
        return "ServingState(problem=%r)" % (self.problem,)


class ServingTimeout(WaitTimeout):
    """The cluster did not serve in its new role before the deadline. ``state`` is the last
    ServingState (or None when no read succeeded); ``waited`` the seconds waited."""

    def __init__(self, timeout_exc, state, waited):
        super().__init__(timeout_exc.description, last_value=state, last_error=timeout_exc.last_error,
                         timeout=timeout_exc.timeout)
        self.state = state
        self.waited = waited
        seen = state.problem if state is not None and state.problem else None
        if seen:
            self.message = "%s; last seen: %s" % (self.message, seen)
            self.args = (self.message,)

    @property
    def seen(self):
        """The last reason the cluster did not serve (or the last error), for messages."""
        if self.state is not None and self.state.problem:
            return self.state.problem
        if self.last_error is not None:
            return getattr(self.last_error, "message", None) or str(self.last_error)
        return "no answer"


class ServingResult:
    """``status``: the type's ReplicationStatus read in the round that showed the cluster serving;
    ``waited``: seconds from the call until then (3 decimals); ``polls``: rounds of reads."""

    def __init__(self, status, waited, polls):
        self.status = status
        self.waited = waited
        self.polls = polls


class _Probing(object):
    """The client as seen by a probe: a status code is the answer, so the client's own retries on
    429/5xx (seconds of backoff inside one call) are switched off; unreachable nodes are still
    retried. Everything else is the wrapped client's."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def request(self, *args, **kwargs):
        kwargs["retry_on_status"] = False
        return self._client.request(*args, **kwargs)


def serving_probe(client, rtype, role, streaming=False, also=None):
    """One round of reads: ``() -> ServingState``. In order, stopping at the first problem: the
    replication status of ``rtype`` (``_status.role_problem``; then ``also(status)``, a further
    condition returning a problem or None), sys/health, sys/leader and a real client request
    (auth/token/lookup-self with the client's token, or without one: only a serving node answers
    it with 200 or 403). Transient errors propagate for ``wait_until`` to tolerate."""
    probing = _Probing(client)

    def probe():
        state = ServingState()
        state.status = read_type_status(probing, rtype, retry_on_status=False)
        state.problem = role_problem(state.status, role, streaming=streaming)
        if state.problem is None and also is not None:
            state.problem = also(state.status)
        if state.problem is not None:
            return state
        code, body = _api.health(probing)
        state.health = (code, body)
        problem = health_problem(rtype, role, code, body)
        standby = problem == HEALTH_STANDBY
        if problem is not None and not standby:
            state.problem = problem
            return state
        state.leader = _api.leader(probing)
        state.problem = leader_problem(state.leader, health_standby=standby)
        if state.problem is not None:
            return state
        error = None
        try:
            _api.lookup_self(probing)
        except VaultError as exc:
            error = exc
        state.problem = request_problem(rtype, role, error)
        state.answered = state.problem is None
        return state

    return probe


def wait_serving(client, rtype, role, timeout, streaming=False, also=None, description=None,
                 interval=SERVING_INTERVAL, max_interval=SERVING_MAX_INTERVAL, clock=time.monotonic,
                 sleep=time.sleep):
    """Wait until the cluster behind ``client`` serves in ``role`` (``primary``, ``secondary`` or
    ``disabled``) of replication type ``rtype``: status, sys/health, sys/leader and a real request
    agree (see ``serving_probe``). Polls after ``interval`` s, backing off to ``max_interval`` s,
    for at most ``timeout`` s. Returns a ServingResult (``waited`` in seconds). Raises
    ServingTimeout, or the VaultError of a read that failed for good (not a transient answer)."""
    start = clock()
    description = description or "the cluster at %s to serve %s" % (client.url, role_phrase(rtype, role))
    probe = serving_probe(client, rtype, role, streaming=streaming, also=also)
    polls = []

    def counted():
        polls.append(None)
        return probe()

    try:
        state = wait_until(counted, lambda s: s.problem is None, timeout, description, interval=interval,
                           max_interval=max_interval, clock=clock, sleep=sleep)
    except WaitTimeout as exc:
        raise ServingTimeout(exc, exc.last_value, round(clock() - start, 3))
    return ServingResult(state.status, round(clock() - start, 3), len(polls))
