# SPDX-License-Identifier: GPL-3.0-or-later
"""The planned DR switch-over of module_utils/_switchover.py against real vaultlab labs, with a
client writing to the primary every few milliseconds.

Safety property: no write the old primary acknowledged (HTTP 2xx) is ever missing afterwards,
on the new primary when the switch-over went through, on the old primary (serving again) when
it stopped. Each scenario runs on a fresh lab, on the fast and the realistic timing profile,
with vaultlab's demote_ships_tail switch off (a demoted primary ships nothing more) and on:

* drained: the writer is stopped right before the switch-over: it goes through in one attempt;
* no drain: the writer never stops: the switch-over stops before demoting, nothing changed;
* race: quiesce_window 0, and two clients writing as fast as they can are let loose the moment
  quiescence is seen; the demotion is sent once a write is seen not to have reached the
  secondary yet, so it lands among in-flight writes. With demote_ships_tail off the secondary then lacks
  acknowledged writes: the proof fails, the old primary is promoted back, the secondary
  re-attached, and the second attempt (writer drained by then) goes through.
"""
from __future__ import annotations

import json
import time

import pytest
from switchover_lab import SETUP_TIMINGS, DrPair, Writer, read_type_status

from ansible_collections.vaultops.replication.plugins.module_utils._switchover import (
    ROLLED_BACK,
    UNCHANGED,
    SwitchoverError,
    demote_for_switchover,
)
from vaultlab.testing import Lab

PROFILES = ["fast", "realistic"]
SHIPS_TAIL = [pytest.param(False, id="tail-off"), pytest.param(True, id="tail-on")]
# Seconds the writer runs before the switch-over, per profile (the realistic stream trails by
# up to half a second, so it needs to be longer to leave the secondary behind).
WRITE_FOR = {"fast": 0.4, "realistic": 1.0}
RACE_LABS = 4  # fresh labs tried until the race hit unshipped writes (tail off; ~90 % hit per lab)
# The race writer: two clients writing as fast as they can, so that writes keep landing while
# the demote request is on its way.
RACE_WRITER = {"interval": 0.0, "threads": 2}


def _lab(tmp_path, monkeypatch, profile, ships_tail, name="lab"):
    monkeypatch.setenv("VAULTLAB_REPLICATION", json.dumps({"demote_ships_tail": ships_tail}))
    return Lab(tmp_path / name, clusters=["primary", "dr"], profile=profile, timing=SETUP_TIMINGS)


def _switch(pair, **options):
    options.setdefault("quiesce_window", 0.5)
    options.setdefault("quiesce_timeout", 15.0)
    options.setdefault("catchup_timeout", 15.0)
    options.setdefault("wait_timeout", 60.0)
    return demote_for_switchover(pair.dr, pair.primary, pair.dr_token, **options)


def _report(name, profile, ships_tail, writer, lost, evidence):
    print("%s[%s, tail %s]: %d writes acknowledged, %d refused, %d lost; attempts=%s rollbacks=%s waits=%s" % (
        name, profile, "on" if ships_tail else "off", len(writer.acked), writer.refused, len(lost),
        evidence.get("attempts"), evidence.get("rollbacks"), evidence.get("waits")))


@pytest.mark.parametrize("ships_tail", SHIPS_TAIL)
@pytest.mark.parametrize("profile", PROFILES)
def test_drained_writer_loses_nothing(tmp_path, monkeypatch, profile, ships_tail):
    with _lab(tmp_path, monkeypatch, profile, ships_tail) as lab:
        pair = DrPair(lab)
        writer = Writer(pair.primary.url, pair.root, "drained").start()
        time.sleep(WRITE_FOR[profile])
        writer.wait_acked(21)  # on a loaded machine WRITE_FOR may not be enough for them
        writer.drain()
        assert len(writer.acked) > 20, writer.acked

        evidence = _switch(pair)
        pair.promote_dr()

        lost = pair.missing(pair.dr, writer)
        _report("drained", profile, ships_tail, writer, lost, evidence)
        assert lost == []
        assert evidence["attempts"] == 1 and evidence["rollbacks"] == 0
        assert evidence["quiesced_at"] <= evidence["demoted_at"] <= evidence["proven_at"]
        assert evidence["merkle_root"] == evidence["target_merkle_root"]
        assert evidence["wal_at_demotion"] >= len(writer.acked)
        # One primary: the old one stayed demoted.
        assert read_type_status(pair.primary, "dr").is_secondary


@pytest.mark.parametrize("ships_tail", SHIPS_TAIL)
@pytest.mark.parametrize("profile", PROFILES)
def test_writer_that_never_stops_changes_nothing(tmp_path, monkeypatch, profile, ships_tail):
    with _lab(tmp_path, monkeypatch, profile, ships_tail) as lab:
        pair = DrPair(lab)
        writer = Writer(pair.primary.url, pair.root, "busy").start()
        try:
            time.sleep(WRITE_FOR[profile])
            with pytest.raises(SwitchoverError) as raised:
                # A 1 s window: a client stalled by a busy machine must not pass for a drained one.
                _switch(pair, quiesce_window=1.0, quiesce_timeout=2.5)
            err = raised.value
            assert err.outcome == UNCHANGED and not err.changed, err.message
            assert "Nothing was changed" in err.message and "Drain client traffic" in err.message
            assert "WAL/s" in err.message
            # The old primary kept serving throughout: it still accepts writes.
            before = len(writer.acked)
            writer.wait_acked(before + 5)
        finally:
            writer.drain()
        assert read_type_status(pair.primary, "dr").is_primary and pair.serving(pair.primary)
        pair.wait_in_sync(pair.primary, pair.dr)
        lost = pair.missing(pair.primary, writer)
        _report("no-drain", profile, ships_tail, writer, lost, err.result)
        assert lost == []
        assert writer.refused == 0


def _recording(events):
    """on_step wrapper: records (step, attempt) in ``events`` and keeps the hook's own failures
    (the switch-over ignores exceptions of its observer) for the test to assert on."""
    def wrap(hook):
        def on_step(step, info):
            events.append((step, info.get("attempt")))
            try:
                hook(step, info)
            except Exception as exc:  # pylint: disable=broad-except
                on_step.errors.append(exc)
                raise
        on_step.errors = []
        return on_step
    return wrap


def _race(tmp_path, monkeypatch, profile, ships_tail, name):
    """One race on a fresh lab: returns (writer, evidence, lost)."""
    with _lab(tmp_path, monkeypatch, profile, ships_tail, name=name) as lab:
        pair = DrPair(lab)
        writer = Writer(pair.primary.url, pair.root, "race", **RACE_WRITER).start()
        time.sleep(WRITE_FOR[profile])
        writer.wait_acked(21)  # on a loaded machine WRITE_FOR may not be enough for them
        writer.pause()
        writer.wait_idle()
        before = len(writer.acked)
        events = []

        @_recording(events)
        def on_step(step, info):
            if step == "quiesced" and info["attempt"] == 1:
                # Let the clients loose and demote as soon as they have had a few writes acknowledged
                # and one of them is seen not to have reached the secondary yet.
                writer.resume()
                writer.wait_acked(before + 3)
                pair.wait_behind()
            elif step in ("proof_failed", "proven") and info["attempt"] == 1:
                writer.drain()

        try:
            evidence = _switch(pair, quiesce_window=0.0, on_step=on_step)
        finally:
            writer.drain()
        assert on_step.errors == []
        pair.promote_dr()
        lost = pair.missing(pair.dr, writer)
        _report("race", profile, ships_tail, writer, lost, evidence)
        assert ("demoted", 1) in events
        if evidence["rollbacks"]:
            assert ("proof_failed", 1) in events and ("rolled_back", 1) in events
            rollback = evidence["history"][0]["rollback"]
            assert rollback["reason"].startswith("merkle roots differ"), rollback
            assert evidence["attempts"] == 2 and evidence["history"][1]["proof"] == "held"
        return writer, evidence, lost


@pytest.mark.parametrize("ships_tail", SHIPS_TAIL)
@pytest.mark.parametrize("profile", PROFILES)
def test_demotion_among_in_flight_writes_rolls_back_and_loses_nothing(tmp_path, monkeypatch, profile, ships_tail):
    rollbacks = 0
    for run in range(RACE_LABS):
        writer, evidence, lost = _race(tmp_path, monkeypatch, profile, ships_tail, "lab%d" % run)
        assert lost == [], "lost %d of %d acknowledged writes: %s" % (len(lost), len(writer.acked), lost[:10])
        assert len(writer.acked) > 20
        rollbacks += evidence["rollbacks"]
        if rollbacks or ships_tail:
            break
    if not ships_tail:
        # Off, the demoted primary ships nothing more: in-flight writes leave the secondary behind.
        assert rollbacks >= 1, "no run of %d hit a write the secondary lacked" % RACE_LABS


def _race_without_drain(tmp_path, monkeypatch, profile, name):
    """One endless-writer race (tail off); returns the SwitchoverError, or None when the first
    attempt's proof held anyway (then the switch-over is finished and checked instead)."""
    with _lab(tmp_path, monkeypatch, profile, False, name=name) as lab:
        pair = DrPair(lab)
        writer = Writer(pair.primary.url, pair.root, "endless", **RACE_WRITER).start()
        time.sleep(WRITE_FOR[profile])
        writer.pause()
        writer.wait_idle()
        before = len(writer.acked)

        @_recording([])
        def on_step(step, info):
            if step == "quiesced" and info["attempt"] == 1:
                writer.resume()
                writer.wait_acked(before + 3)
                pair.wait_behind()

        err = None
        try:
            try:
                evidence = _switch(pair, quiesce_window=0.5, quiesce_timeout=2.0, on_step=on_step, attempts=2)
            except SwitchoverError as exc:
                err = exc
                writer.wait_acked(len(writer.acked) + 5)  # serving again: writes accepted
        finally:
            writer.drain()
        assert on_step.errors == []
        if err is None:
            pair.promote_dr()
            lost = pair.missing(pair.dr, writer)
            _report("race-no-drain", profile, False, writer, lost, evidence)
            assert lost == []
            return None
        assert read_type_status(pair.primary, "dr").is_primary and pair.serving(pair.primary)
        pair.wait_in_sync(pair.primary, pair.dr)
        # The secondary re-attached under its old id and streams from the old primary again.
        assert read_type_status(pair.primary, "dr").secondary_connected("dr-1")
        lost = pair.missing(pair.primary, writer)
        _report("race-no-drain", profile, False, writer, lost, err.result)
        assert lost == []
        return err


@pytest.mark.parametrize("profile", PROFILES)
def test_race_without_drain_ends_with_old_primary_serving(tmp_path, monkeypatch, profile):
    """Tail off, the demotion hits in-flight writes and the client never stops: after the
    rollback the next attempt cannot quiesce, so the operation ends with the old primary
    serving, the secondary re-attached, and nothing lost."""
    for run in range(RACE_LABS):
        err = _race_without_drain(tmp_path, monkeypatch, profile, "lab%d" % run)
        if err is not None:
            break
    assert err is not None, "no run of %d hit a write the secondary lacked" % RACE_LABS
    assert err.outcome == ROLLED_BACK and err.changed, err.message
    assert err.result["rollbacks"] == 1 and err.result["attempts"] == 2
    assert "Earlier attempts were rolled back" in err.message and "Drain client traffic" in err.message
