# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planned DR switch-over that cannot lose acknowledged writes: quiesce, demote, prove, or roll back.

The caller promotes the DR secondary afterwards, and only when ``demote_for_switchover``
returned. Plain Python over the collection's client (no AnsibleModule / ActionBase), so the
promote module's runner, the roles' action plugins and tests call the same code. The
sequence and its errors are described in docs/dev/contracts.md ("Switch-over").

Why a proof: the API reference (section 2.3) leaves open what Vault does with WALs it wrote
but had not shipped when the demotion lands. Reading the primary's WAL index before demoting
and waiting for the secondary to reach it misses every write acknowledged in between, so this
module compares the secondary's merkle root with the one the demoted cluster reports *after*
the demotion, and promotes the old primary back when they do not meet.
"""

from __future__ import annotations

import time

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultConnectionError,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._status import read_type_status
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import (
    TRANSIENT_STATUSES,
    WaitTimeout,
    is_transient,
    wait_until,
)

RTYPE = "dr"

# Polling: start fast so a quiet moment is caught at once, back off to spare the clusters.
FIRST_INTERVAL = 0.02
MAX_INTERVAL = 0.5
# Seconds after an unanswered demote request (transport error, 5xx) before it is sent again
# while the old primary still reports primary.
DEMOTE_RESEND = 2.0

# Where the clusters are when SwitchoverError is raised (``outcome``).
UNCHANGED = "unchanged"              # nothing was changed: the old primary still serves
ROLLED_BACK = "rolled_back"          # demoted, proof failed, old primary promoted back, secondary re-attached
ROLLBACK_FAILED = "rollback_failed"  # demoted, proof failed, and the way back failed: manual recovery
UNKNOWN = "unknown"                  # the demote request's fate could not be read back

DR_PATH_DISABLED = "path disabled in replication DR secondary mode"


class SwitchoverError(VaultError):
    """The switch-over stopped before the caller may promote.

    ``outcome`` is one of UNCHANGED, ROLLED_BACK, ROLLBACK_FAILED, UNKNOWN (what state the
    clusters are in, spelt out in the message); ``result`` the evidence gathered so far (same
    keys as the success return value); ``changed`` whether any cluster was changed on the way
    (a rolled-back run demoted and promoted the old primary and re-attached the secondary).
    """

    def __init__(self, message, outcome, result=None, changed=False):
        super().__init__(message)
        self.outcome = outcome
        self.result = dict(result or {})
        self.changed = bool(changed)


def demote_for_switchover(target, old_primary, dr_operation_token, old_primary_dr_operation_token=None,
                          secondary_id=None, quiesce_window=1.0, quiesce_timeout=60.0, catchup_timeout=30.0,
                          attempts=2, wait_timeout=120.0, proof_settle=1.0, on_step=None,
                          clock=time.monotonic, wall=time.time, sleep=time.sleep):
    """Demote the DR primary ``old_primary`` so that ``target`` can be promoted without losing writes.

    Returns only when the demoted cluster's final state (its merkle root read after the
    demotion) is proven to be on ``target``; the caller then promotes ``target``
    (``_api.promote_secondary``). Otherwise raises SwitchoverError, after putting the old
    primary back in service when the demotion already happened.

    Per attempt:

    a. quiescence: poll both DR statuses (from 20 ms, backing off to at most 0.5 s) until the
       old primary's WAL index and merkle root have not moved for ``quiesce_window`` seconds
       and ``target`` streams from it and has caught up (last_remote_wal >= last_dr_wal,
       equal merkle roots); once caught up, the look that completes the window comes when it
       is due. Not within ``quiesce_timeout``: SwitchoverError, UNCHANGED on the first
       attempt (clients were not drained).
    b. demote the old primary (POST sys/replication/dr/primary/demote) at once, read back.
    c. proof: wait up to ``catchup_timeout`` until ``target``'s merkle root equals the one the
       demoted cluster reports; give up early when ``target`` no longer streams and no root
       moved for ``proof_settle`` seconds (nothing more can arrive).
    d. proven: return the evidence.
    e. not proven: promote the old primary back (POST sys/replication/dr/secondary/promote),
       wait until it serves as primary (status, sys/health 200, a token lookup), mint an
       activation token there for the secondary id of ``target`` and re-attach ``target``
       (POST sys/replication/dr/secondary/update-primary), wait until it streams; then the
       next attempt. After ``attempts`` attempts: SwitchoverError ROLLED_BACK. A failing way
       back: SwitchoverError ROLLBACK_FAILED naming each cluster's state and the recovery.

    Parameters:
      target: VaultClient of the DR secondary to be promoted (no token needed: it is
        authorised by the DR operation token).
      old_primary: VaultClient of the current DR primary with a token allowed to demote,
        to mint secondary activation tokens (sudo) and to look itself up.
      dr_operation_token: DR operation token (or batch DR operation token) for ``target``:
        used there for update-primary during a rollback. Never logged.
      old_primary_dr_operation_token: DR operation token valid on the old primary once it is
        demoted, to promote it back; default ``dr_operation_token`` (a batch token minted on
        the primary is replicated and valid on every member of the set).
      secondary_id: the id ``target`` has in the old primary's known_secondaries; default its
        own status' secondary_id. Needed to re-attach it after a rollback.
      quiesce_window: seconds the old primary's WAL must stand still (0: only caught up).
      quiesce_timeout: seconds to wait for quiescence before giving up.
      catchup_timeout: longest wait for the proof after the demotion.
      attempts: quiesce/demote/prove rounds in total (1 = no retry after a rollback).
      wait_timeout: bound of each wait of the demotion read-back and of the rollback steps.
      proof_settle: seconds without any change, while ``target`` is not streaming, after
        which the proof is given up before ``catchup_timeout``.
      on_step: optional ``callable(step, info)`` told about "quiesced", "demoted", "proven",
        "proof_failed" and "rolled_back" (for progress logs; exceptions are ignored).
      clock, wall, sleep: monotonic clock, wall clock and sleep (tests replace them).

    Returns a dict: ``attempts``, ``rollbacks``, ``quiesced_at``, ``demoted_at``, ``proven_at``
    (ISO 8601 UTC), ``wal_at_demotion`` (the old primary's last_dr_wal read in (a)),
    ``merkle_root`` (the demoted cluster's final root), ``target_merkle_root``,
    ``target_last_remote_wal``, ``write_rate`` (WAL/s seen while quiescing), ``waits``
    (seconds per phase: quiesce, demote, proof, rollback) and ``history`` (one entry per
    attempt with the same facts, ``demoted_last_wal`` where sys/health reports the demoted
    node's last WAL, the proof's verdict and, when it happened, the rollback).
    """
    run = _Run(target, old_primary, dr_operation_token, old_primary_dr_operation_token, secondary_id,
               quiesce_window, quiesce_timeout, catchup_timeout, attempts, wait_timeout, proof_settle, on_step,
               clock, wall, sleep)
    return run.run()


def check_options(dr_operation_token, quiesce_window, quiesce_timeout, catchup_timeout, attempts, wait_timeout,
                  proof_settle):
    """The first problem with the options as a sentence naming the option, or None."""
    if not dr_operation_token:
        return ("dr_operation_token is required: without it a failed proof could not promote the old primary "
                "back. Give a DR operation token (a batch token minted on the primary works on both clusters).")
    numbers = (("quiesce_window", quiesce_window, 0), ("quiesce_timeout", quiesce_timeout, 0),
               ("catchup_timeout", catchup_timeout, 0), ("wait_timeout", wait_timeout, 1),
               ("proof_settle", proof_settle, 0))
    for name, value, minimum in numbers:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            return "%s must be a number of seconds >= %s, got %r." % (name, minimum, value)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        return "attempts must be a whole number >= 1 (attempts in total, 2 = one retry), got %r." % (attempts,)
    if quiesce_timeout < quiesce_window:
        return ("quiesce_timeout (%ss) must be at least quiesce_window (%ss): the WAL has to stand still that "
                "long within it." % (quiesce_timeout, quiesce_window))
    return None


# ---------------------------------------------------------------------------------------------
# Pure decisions (unit-tested without clusters)

def quiet_for(history, now):
    """Seconds the last (wal, root) key of ``history`` [(time, key), ...] has held until ``now``."""
    if not history:
        return 0.0
    key = history[-1][1]
    since = history[-1][0]
    for moment, seen in reversed(history):
        if seen != key:
            break
        since = moment
    return max(now - since, 0.0)


def write_rate(first, last):
    """WAL entries per second between two (time, wal) samples (0 when unknown)."""
    if not first or not last or first[1] is None or last[1] is None:
        return 0.0
    elapsed = last[0] - first[0]
    if elapsed <= 0:
        return 0.0
    return max(last[1] - first[1], 0) / elapsed


def lag_of(old, tgt):
    """WAL entries the secondary lacks of what the primary reported (None if unknown)."""
    if old is None or tgt is None or old.last_shipped_wal is None:
        return None
    return max(old.last_shipped_wal - (tgt.last_remote_wal or 0), 0)


def proof_holds(demoted, tgt):
    """``tgt`` holds the demoted cluster's final state: same set, same non-empty merkle root."""
    return bool(demoted is not None and tgt is not None and demoted.merkle_root
                and tgt.cluster_id and tgt.cluster_id == demoted.cluster_id
                and tgt.merkle_root == demoted.merkle_root)


def _iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (".%03dZ" % int((seconds % 1) * 1000))


def _round(seconds):
    return round(max(seconds, 0.0), 3)


def _describe(label, status):
    if status is None:
        return "%s: DR status unreadable" % label
    text = "%s: DR %s" % (label, status.role)
    if status.is_secondary:
        text += " (state %s, connection %s%s)" % (
            status.state or "?", status.connection_state or "?",
            ", no primary" if not status.primaries and status.state == "idle" else "")
    elif status.is_primary:
        text += " (state %s, last_dr_wal %s)" % (status.state or "?", status.last_shipped_wal)
    if status.merkle_root:
        text += ", merkle root %s" % status.merkle_root[:12]
    return text


# ---------------------------------------------------------------------------------------------
# The operation

class _Proof(object):
    def __init__(self, held, demoted, tgt, reason):
        self.held = held
        self.demoted = demoted
        self.tgt = tgt
        self.reason = reason


class _Run(object):
    def __init__(self, target, old, dr_token, old_dr_token, secondary_id, quiesce_window, quiesce_timeout,
                 catchup_timeout, attempts, wait_timeout, proof_settle, on_step, clock, wall, sleep):
        self.target = target
        self.old = old
        self.dr_token = dr_token
        self.old_dr_token = old_dr_token or dr_token
        self.secondary_id = secondary_id
        self.quiesce_window = quiesce_window
        self.quiesce_timeout = quiesce_timeout
        self.catchup_timeout = catchup_timeout
        self.attempts = attempts
        self.wait_timeout = wait_timeout
        self.proof_settle = proof_settle
        self.on_step = on_step
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.rollbacks = 0
        self.changed = False
        self.history = []
        self.waits = {"quiesce": 0.0, "demote": 0.0, "proof": 0.0, "rollback": 0.0}
        self.result = {}

    # -- helpers -----------------------------------------------------------------------------

    def _wait(self, probe, done, timeout, description, max_interval=MAX_INTERVAL, tolerate=TRANSIENT_STATUSES,
              due=None):
        return wait_until(probe, done, timeout, description, interval=FIRST_INTERVAL, max_interval=max_interval,
                          tolerate_status=tolerate, clock=self.clock, sleep=self.sleep, due=due)

    def _status(self, client):
        return read_type_status(client, RTYPE, retry_on_status=False)

    def _peek(self, client):
        try:
            return self._status(client)
        except VaultError:
            return None

    def _tell(self, step, **info):
        if self.on_step is None:
            return
        info["attempt"] = len(self.history)
        try:
            self.on_step(step, info)
        except Exception:  # pylint: disable=broad-except
            pass  # an observer must not break the way back to a safe state

    def _evidence(self):
        out = dict(self.result)
        out.update(attempts=len(self.history), rollbacks=self.rollbacks,
                   waits=dict((k, _round(v)) for k, v in self.waits.items()),
                   history=[dict(h) for h in self.history])
        return out

    def _fail(self, message, outcome):
        raise SwitchoverError(message, outcome, result=self._evidence(), changed=self.changed)

    def _who(self):
        return "the old primary %s" % self.old.url, "the DR secondary %s" % self.target.url

    # -- main --------------------------------------------------------------------------------

    def run(self):
        problem = check_options(self.dr_token, self.quiesce_window, self.quiesce_timeout, self.catchup_timeout,
                                self.attempts, self.wait_timeout, self.proof_settle)
        if problem:
            self._fail(problem + " Nothing was changed.", UNCHANGED)
        self._precheck()
        for number in range(1, self.attempts + 1):
            entry = {"attempt": number}
            self.history.append(entry)
            self._quiesce(entry)
            self._tell("quiesced", wal=entry["wal_at_demotion"], merkle_root=entry["merkle_root_before"])
            self._demote(entry)
            self._tell("demoted", wal=entry["wal_at_demotion"])
            proof = self._prove(entry)
            if proof.held:
                self._tell("proven", merkle_root=entry["merkle_root"])
                return self._evidence()
            self._tell("proof_failed", reason=proof.reason)
            self._roll_back(entry, proof)
            self._tell("rolled_back")
        old_label, target_label = self._who()
        last = self.history[-1]
        self._fail(
            "The DR secondary never held the demoted cluster's final state in %d attempt(s) (last attempt: %s). "
            "Each time %s was promoted back, so it is the DR primary again and serves clients, and %s was "
            "re-attached and streams from it: no acknowledged write was lost and nothing was promoted. Writes "
            "kept reaching %s during the switch-over: drain client traffic from it (load balancer/DNS), then run "
            "again." % (len(self.history), last.get("proof", "?"), old_label, target_label, old_label),
            ROLLED_BACK)
        return None  # not reached

    def _precheck(self):
        old_label, target_label = self._who()
        try:
            old = self._status(self.old)
            tgt = self._status(self.target)
        except VaultError as exc:
            self._fail("Cannot read the DR replication status before the switch-over: %s. Nothing was changed."
                       % exc.message, UNCHANGED)
        if not old.is_primary:
            self._fail("%s is not a DR primary (DR mode %s), so there is nothing to demote. Nothing was changed."
                       % (old_label, old.role), UNCHANGED)
        if not tgt.is_secondary or tgt.cluster_id != old.cluster_id:
            self._fail("%s is not a DR secondary of %s (DR mode %s, set %s; the primary's set is %s). Nothing was "
                       "changed." % (target_label, old_label, tgt.role, tgt.cluster_id or "-", old.cluster_id),
                       UNCHANGED)
        self.secondary_id = self.secondary_id or tgt.secondary_id
        if not self.secondary_id:
            self._fail("%s reports no secondary_id, which a rollback needs to re-attach it; pass secondary_id. "
                       "Nothing was changed." % target_label, UNCHANGED)
        if not self.old.token:
            self._fail("%s needs a token (allowed to demote and to mint DR secondary activation tokens). Nothing "
                       "was changed." % old_label, UNCHANGED)
        self.result.update(secondary_id=self.secondary_id, cluster_id=old.cluster_id)

    # -- a. quiescence -----------------------------------------------------------------------

    def _quiesce(self, entry):
        old_label, target_label = self._who()
        samples = []   # (time, (wal, root))
        first = {}
        # Caught up and quiet so far: the seconds the window still needs (the next look comes then,
        # not a backed-off interval later); None while not caught up.
        pending = {"due": None}

        def probe():
            return self._status(self.old), self._status(self.target)

        def done(value):
            old, tgt = value
            now = self.clock()
            if not old.is_primary:
                raise _Stop("%s stopped being the DR primary (now %s) while this operation waited for it to go "
                            "quiet; something else changed it" % (old_label, old.role))
            if "sample" not in first:
                first["sample"] = (now, old.last_shipped_wal)
            first["last"] = (now, old.last_shipped_wal)
            samples.append((now, (old.last_shipped_wal, old.merkle_root)))
            del samples[:-200]
            caught_up = tgt.is_streaming and tgt.caught_up_with(old)
            quiet = quiet_for(samples, now)
            pending["due"] = self.quiesce_window - quiet if caught_up else None
            return caught_up and quiet >= self.quiesce_window

        started = self.clock()
        # At least two looks inside the window; never hammer (0.1 s floor) nor doze (0.5 s cap).
        max_interval = min(MAX_INTERVAL, max(self.quiesce_window / 2.0, 0.1))
        try:
            old = self._wait(probe, done, self.quiesce_timeout,
                             "%s to go quiet and %s to catch up" % (old_label, target_label),
                             max_interval=max_interval, due=lambda: pending["due"])[0]
        except _Stop as stop:
            self.waits["quiesce"] += self.clock() - started
            self._fail("%s. Nothing was changed by this operation." % stop.message, self._outcome_before_demote())
        except WaitTimeout as exc:
            self.waits["quiesce"] += self.clock() - started
            self._fail(self._not_quiet_message(exc, first), self._outcome_before_demote())
        except VaultError as exc:
            self.waits["quiesce"] += self.clock() - started
            self._fail("Reading the DR statuses while waiting for quiescence failed: %s. %s" % (
                exc.message, self._nothing_changed_text()), self._outcome_before_demote())
        self.waits["quiesce"] += self.clock() - started
        rate = write_rate(first.get("sample"), first.get("last"))
        entry.update(quiesced_at=_iso(self.wall()), wal_at_demotion=old.last_shipped_wal,
                     merkle_root_before=old.merkle_root, write_rate=round(rate, 1),
                     quiesce_seconds=_round(self.clock() - started))
        self.result.update(quiesced_at=entry["quiesced_at"], wal_at_demotion=old.last_shipped_wal,
                           write_rate=entry["write_rate"])
        return old

    def _outcome_before_demote(self):
        return ROLLED_BACK if self.rollbacks else UNCHANGED

    def _nothing_changed_text(self):
        old_label, target_label = self._who()
        if self.rollbacks:
            reasons = "; ".join("attempt %d: %s" % (h["attempt"], h["rollback"]["reason"])
                                for h in self.history if h.get("rollback"))
            return ("Earlier attempts were rolled back (%s): %s is the DR primary again and serves clients, %s is "
                    "re-attached and streams from it; no acknowledged write was lost and nothing was promoted."
                    % (reasons, old_label, target_label))
        return "Nothing was changed: %s is still the DR primary and serves clients." % old_label

    def _not_quiet_message(self, exc, first):
        old_label, target_label = self._who()
        old, tgt = exc.last_value if exc.last_value else (None, None)
        rate = write_rate(first.get("sample"), first.get("last"))
        lag = lag_of(old, tgt)
        if old is None:
            seen = "the DR statuses could not be read (%s)" % (
                getattr(exc.last_error, "message", None) or exc.last_error or "no answer")
        elif tgt is not None and not tgt.is_streaming:
            seen = ("%s does not stream from it (state %s, connection %s), %s WAL(s) behind; writes at ~%.1f WAL/s"
                    % (target_label, tgt.state or "?", tgt.connection_state or "?",
                       "?" if lag is None else lag, rate))
        else:
            seen = ("writes went on at ~%.1f WAL/s (last_dr_wal %s) and %s was %s WAL(s) behind%s" % (
                rate, old.last_shipped_wal, target_label, "?" if lag is None else lag,
                "" if tgt is None or tgt.merkle_root == old.merkle_root else ", merkle roots differ"))
        return ("Stopped before demoting: %s did not stay quiet for %ss within quiesce_timeout %ss: %s. %s Drain "
                "client traffic from %s first (load balancer/DNS), then run again." % (
                    old_label, self.quiesce_window, self.quiesce_timeout, seen, self._nothing_changed_text(),
                    old_label))

    # -- b. demote ---------------------------------------------------------------------------

    def _demote(self, entry):
        old_label, target_label = self._who()
        started = self.clock()
        entry["demoted_at"] = _iso(self.wall())
        sent = {"at": started, "uncertain": False}
        try:
            _api.demote_primary(self.old, RTYPE)
        except VaultConnectionError:
            sent["uncertain"] = True  # the node drops connections while it changes roles: read back
        except VaultAPIError as exc:
            sent["uncertain"] = True
            if not is_transient(exc):
                self.waits["demote"] += self.clock() - started
                still = self._peek(self.old)
                if still is not None and still.is_primary:
                    self._fail("Vault refused to demote %s (%s). %s The token for it must be allowed to call "
                               "sys/replication/dr/primary/demote." % (old_label, exc.message,
                                                                       self._nothing_changed_text()),
                               self._outcome_before_demote())
                # refused, yet not primary any more: fall through to the read-back
        self.changed = True

        def probe():
            status = self._status(self.old)
            if status.is_primary and sent["uncertain"] and self.clock() - sent["at"] >= DEMOTE_RESEND:
                # No clear answer and still primary: the request most likely never arrived.
                sent["at"] = self.clock()
                try:
                    _api.demote_primary(self.old, RTYPE)
                    sent["uncertain"] = False
                except VaultConnectionError:
                    pass
            return status

        try:
            demoted = self._wait(probe, lambda s: s.is_secondary, self.wait_timeout,
                                 "%s to report DR mode secondary" % old_label)
        except WaitTimeout as exc:
            self.waits["demote"] += self.clock() - started
            last = exc.last_value
            if last is not None and last.is_primary:
                self.changed = bool(self.rollbacks)
                self._fail("The demote request for %s got no clear answer and %s still reports DR primary after "
                           "%ss. %s" % (old_label, old_label, self.wait_timeout, self._nothing_changed_text()),
                           self._outcome_before_demote())
            self._fail(self._unknown_message(exc), UNKNOWN)
        except VaultError as exc:
            self.waits["demote"] += self.clock() - started
            self._fail(self._unknown_message(exc), UNKNOWN)
        self.waits["demote"] += self.clock() - started
        entry["demote_seconds"] = _round(self.clock() - started)
        self.result["demoted_at"] = entry["demoted_at"]
        return demoted

    def _unknown_message(self, exc):
        old_label, target_label = self._who()
        return ("Could not tell whether %s was demoted: %s. Do NOT promote %s until it holds the demoted "
                "cluster's final merkle root. Recover: check GET %s/v1/sys/replication/dr/status once it answers "
                "(a killed node: restart it first); if mode is secondary, "
                "promote it back (POST %s/v1/sys/replication/dr/secondary/promote with a DR operation token) and "
                "re-attach %s (vaultops.replication.replication_secondary, or POST "
                "sys/replication/dr/primary/secondary-token on it and sys/replication/dr/secondary/update-primary "
                "on the secondary); if it is still primary, nothing was changed." % (
                    old_label, getattr(exc, "message", exc), target_label, self.old.url, self.old.url,
                    target_label))

    # -- c. proof ----------------------------------------------------------------------------

    def _prove(self, entry):
        started = self.clock()
        track = {"key": None, "since": started}

        def probe():
            return self._status(self.old), self._status(self.target)

        def done(value):
            demoted, tgt = value
            if proof_holds(demoted, tgt):
                return True
            now = self.clock()
            key = (demoted.merkle_root, tgt.merkle_root, tgt.last_remote_wal, tgt.state)
            if key != track["key"]:
                track["key"], track["since"] = key, now
            # Nothing arrives any more: the stream from the demoted cluster is gone and nothing moved.
            return not tgt.is_connected and now - track["since"] >= self.proof_settle

        demoted = tgt = None
        error = None
        try:
            demoted, tgt = self._wait(probe, done, self.catchup_timeout,
                                      "the DR secondary to hold the demoted cluster's final state")
        except WaitTimeout as exc:
            if exc.last_value:
                demoted, tgt = exc.last_value
            error = exc
        except VaultError as exc:
            error = exc
        elapsed = self.clock() - started
        self.waits["proof"] += elapsed
        entry["demoted_last_wal"] = self._health_wal()
        entry.update(proof_seconds=_round(elapsed),
                     merkle_root=demoted.merkle_root if demoted else None,
                     target_merkle_root=tgt.merkle_root if tgt else None,
                     target_last_remote_wal=tgt.last_remote_wal if tgt else None)
        if proof_holds(demoted, tgt):
            # Read the demoted root once more: a write that was past the gate when the demotion
            # landed could only have changed it since.
            final = self._peek(self.old)
            if final is not None and final.merkle_root == demoted.merkle_root:
                entry.update(proof="held", proven_at=_iso(self.wall()))
                self.result.update(proven_at=entry["proven_at"], merkle_root=demoted.merkle_root,
                                   target_merkle_root=tgt.merkle_root, target_last_remote_wal=tgt.last_remote_wal)
                return _Proof(True, demoted, tgt, "merkle roots equal")
            reason = ("the demoted cluster did not answer when its final state was read once more after the proof "
                      "(a write acknowledged in between cannot be ruled out)" if final is None
                      else "the demoted cluster's merkle root changed after the proof")
        elif demoted is None or tgt is None:
            reason = "the statuses could not be read (%s)" % (getattr(error, "message", None) or error)
        else:
            missing = None
            known = [w for w in (entry.get("wal_at_demotion"), entry.get("demoted_last_wal")) if w is not None]
            if known and tgt.last_remote_wal is not None:
                missing = max(known) - tgt.last_remote_wal
            reason = "merkle roots differ (demoted %s, secondary %s)" % (
                (demoted.merkle_root or "-")[:12], (tgt.merkle_root or "-")[:12])
            if missing and missing > 0:
                reason += ", the secondary lacks at least %d WAL(s)" % missing
            reason += " after %.1fs%s" % (elapsed, "" if tgt.is_connected else
                                          ", the secondary no longer streams from it")
        entry["proof"] = reason
        return _Proof(False, demoted, tgt, reason)

    def _health_wal(self):
        """The demoted node's own last WAL index, where sys/health reports it (an Enterprise active
        node does; the DR status of a secondary has no such field). Evidence only."""
        try:
            _code, body = _api.health(self.old)
        except VaultError:
            return None
        value = body.get("last_wal")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    # -- e. rollback -------------------------------------------------------------------------

    def _roll_back(self, entry, proof):
        started = self.clock()
        record = {"reason": proof.reason}
        entry["rollback"] = record
        try:
            self._promote_back()
            record["promoted_back_at"] = _iso(self.wall())
            self._wait_serving()
            record["serving_at"] = _iso(self.wall())
            self._reattach()
            record["reattached_at"] = _iso(self.wall())
            self._wait_streaming()
            record["streaming_at"] = _iso(self.wall())
        except _RollbackFailure as failure:
            self.waits["rollback"] += self.clock() - started
            record["failed"] = failure.step
            self._fail(self._rollback_failed_message(failure, proof), ROLLBACK_FAILED)
        elapsed = self.clock() - started
        self.waits["rollback"] += elapsed
        record["seconds"] = _round(elapsed)
        self.rollbacks += 1

    def _promote_back(self):
        old_label = self._who()[0]

        def attempt():
            if self._status(self.old).is_primary:
                return True
            _api.promote_secondary(self.old, RTYPE, dr_operation_token=self.old_dr_token)
            return True

        try:
            self._wait(attempt, bool, self.wait_timeout, "%s to accept its promotion back" % old_label)
            self._wait(lambda: self._status(self.old), lambda s: s.is_primary, self.wait_timeout,
                       "%s to report DR mode primary" % old_label)
        except (WaitTimeout, VaultError) as exc:
            raise _RollbackFailure("promote the old primary back", exc)

    def _wait_serving(self):
        old_label = self._who()[0]

        def probe():
            status = self._status(self.old)
            code, _body = _api.health(self.old, standbyok=True)
            answered = False
            if code == 200:
                try:
                    _api.lookup_self(self.old)
                    answered = True
                except VaultAPIError as exc:
                    if not (is_transient(exc) or (exc.status == 400 and exc.has_error(DR_PATH_DISABLED))):
                        raise
            return status, code, answered

        def done(value):
            status, code, answered = value
            return status.is_primary and status.state in (None, "", "running") and code == 200 and answered

        try:
            self._wait(probe, done, self.wait_timeout, "%s to serve clients as DR primary again" % old_label)
        except (WaitTimeout, VaultError) as exc:
            raise _RollbackFailure("wait until the old primary serves again", exc)

    def _reattach(self):
        sid = self.secondary_id

        def attempt():
            current = self._status(self.old)
            if current.knows_secondary(sid):
                # A leftover id (Vault may keep it across demote/promote): a new token needs it gone.
                try:
                    _api.revoke_secondary(self.old, RTYPE, sid)
                except VaultAPIError as exc:
                    if is_transient(exc):
                        raise
            activation = _api.secondary_token(self.old, RTYPE, sid)
            _api.update_primary(self.target, RTYPE, token=activation, dr_operation_token=self.dr_token)
            return True

        try:
            self._wait(attempt, bool, self.wait_timeout, "the DR secondary to accept update-primary")
        except (WaitTimeout, VaultError) as exc:
            raise _RollbackFailure("re-attach the DR secondary", exc)

    def _wait_streaming(self):
        sid = self.secondary_id

        def probe():
            return self._status(self.target), self._status(self.old)

        def done(value):
            tgt, old = value
            return (tgt.is_streaming and tgt.cluster_id == old.cluster_id and old.is_primary
                    and old.secondary_connected(sid))

        try:
            self._wait(probe, done, self.wait_timeout, "the DR secondary to stream from the old primary again")
        except (WaitTimeout, VaultError) as exc:
            raise _RollbackFailure("wait until the DR secondary streams again", exc)

    def _rollback_failed_message(self, failure, proof):
        old_label, target_label = self._who()
        old = self._peek(self.old)
        tgt = self._peek(self.target)
        observed = "Observed now: %s; %s." % (_describe(old_label, old), _describe(target_label, tgt))
        cause = getattr(failure.cause, "message", None) or str(failure.cause)
        promote_old = ("POST %s/v1/sys/replication/dr/secondary/promote with {\"dr_operation_token\": <DR operation "
                       "token>} (or vaultops.replication.promote with url: %s)" % (self.old.url, self.old.url))
        reattach = ("vaultops.replication.replication_secondary (mode: dr, id: %s, url: %s, primary_url: %s, "
                    "dr_operation_token), or by hand POST %s/v1/sys/replication/dr/primary/secondary-token "
                    "{\"id\": \"%s\"} and then POST %s/v1/sys/replication/dr/secondary/update-primary with "
                    "{\"dr_operation_token\": <DR operation token>, \"token\": <activation token>}" % (
                        self.secondary_id, self.target.url, self.old.url, self.old.url, self.secondary_id,
                        self.target.url))
        head = ("The switch-over was stopped because the DR secondary does not hold the demoted cluster's final "
                "state (%s), and the rollback failed at step '%s': %s. " % (proof.reason, failure.step, cause))
        if old is not None and old.is_primary:
            state = ("%s is the DR primary again (nothing lost); %s is a DR secondary that is not streaming from "
                     "it. Recover: re-attach it with %s. " % (old_label, target_label, reattach))
        else:
            state = ("%s is DEMOTED (a DR secondary without a primary; it serves no clients) and %s lacks some of "
                     "its acknowledged writes, so no cluster serves clients now. Do NOT promote %s. Recover: "
                     "promote the old primary back with %s, wait until it serves, then re-attach the secondary "
                     "with %s. " % (old_label, target_label, target_label, promote_old, reattach))
        return head + state + observed


class _Stop(VaultError):
    """Quiescence cannot continue (the old primary changed role under us)."""


class _RollbackFailure(Exception):
    def __init__(self, step, cause):
        super().__init__(step)
        self.step = step
        self.cause = cause
