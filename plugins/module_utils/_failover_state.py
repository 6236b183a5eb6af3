# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The run-state file of one replication set, kept where the playbook runs.

Three things outlive a single run and have no place in Vault's API:

* a **lock**: one failover (or failback) per replication set at a time. Held by a run id, the
  process of the ansible-playbook run and the time; a lock whose process is gone (a killed run)
  or which is older than ``stale_after`` is taken over, and the take-over is reported.
* a **ledger of DR operation tokens** a key share ceremony generated. They never expire, and
  Vault deletes them only on a DR secondary (``operation-token/delete``): a token generated on
  a cluster that was promoted afterwards cannot be deleted until that cluster is a DR secondary
  again, and a run killed before its revocation step forgets it. The ledger remembers each one
  until it is deleted.
* **notes**: evidence a later run needs, e.g. an old primary that came back and took writes
  after the promotion (re-attaching it discards them; the role asks for consent).

The file is JSON, mode 0600, in a directory of mode 0700; every change is written to a new
file and renamed over the old one, under an exclusive ``flock`` on ``<file>.guard``, so two
runs never interleave their changes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None

VERSION = 1
PLAYBOOK_COMMANDS = ("ansible-playbook", "ansible-runner", "ansible-navigator")


class StateError(Exception):
    """A state file that cannot be read or written; the message says which and why."""


# -- the processes a lock belongs to ----------------------------------------------------------


def _proc_stat(pid):
    """(parent pid, start time in clock ticks) of ``pid`` from /proc, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            raw = handle.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    # The command name is in parentheses and may contain spaces or parentheses itself.
    fields = raw[raw.rfind(")") + 2:].split()
    try:
        return int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def run_process():
    """(pid, start time) of the ansible-playbook process this code runs under: the nearest
    ancestor whose command line names ansible-playbook (or ansible-runner / -navigator), else the
    parent. The start time tells a live process from a new one that reuses its pid."""
    pid = os.getpid()
    for _depth in range(12):
        stat = _proc_stat(pid)
        if stat is None:
            break
        if pid != os.getpid() and any(name in _cmdline(pid) for name in PLAYBOOK_COMMANDS):
            return pid, stat[1]
        if stat[0] <= 1:
            break
        pid = stat[0]
    parent = os.getppid()
    stat = _proc_stat(parent)
    return parent, (stat[1] if stat else None)


def process_alive(pid, start_time):
    """Whether the process that took the lock still runs (same pid, same start time)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)
    if stat is None or start_time is None:
        return True
    return stat[1] == start_time


# -- the file -----------------------------------------------------------------------------


def empty_state():
    return {"version": VERSION, "lock": None, "tokens": [], "notes": {}, "ceremonies": {}}


@contextlib.contextmanager
def guarded(path):
    """Exclusive access to the state file ``path`` (flock on ``<path>.guard``)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StateError("cannot create the state directory %s: %s. Give a writable directory (state_file)."
                         % (directory, exc.strerror or exc))
    try:
        fd = os.open(path + ".guard", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateError("cannot open %s.guard: %s. Give a writable path (state_file)." % (path, exc.strerror or exc))
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load(path):
    """The state in ``path`` (an empty state when the file does not exist)."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return empty_state()
    except (OSError, ValueError) as exc:
        raise StateError("cannot read the state file %s (%s). Move it aside if it is damaged; it holds the "
                         "lock and DR operation tokens still to revoke." % (path, exc))
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise StateError("%s is not a vaultops.replication state file (version %s expected)." % (path, VERSION))
    state = empty_state()
    state.update(data)
    return state


def save(path, state):
    """Write ``state`` to ``path`` atomically, mode 0600."""
    tmp = "%s.%s.tmp" % (path, uuid.uuid4().hex[:8])
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StateError("cannot write the state file %s: %s." % (path, exc.strerror or exc))


@contextlib.contextmanager
def updating(path):
    """``with updating(path) as state:`` read, change and write back under the guard."""
    with guarded(path):
        state = load(path)
        before = json.dumps(state, sort_keys=True)
        yield state
        if json.dumps(state, sort_keys=True) != before:
            save(path, state)


# -- the lock ---------------------------------------------------------------------------------


def lock_problem(lock, now, stale_after):
    """Why ``lock`` (held by another run) can be taken over: None when it is live."""
    if not lock:
        return "free"
    if lock.get("host") == socket.gethostname() and not process_alive(lock.get("pid"), lock.get("pid_start")):
        return "its process %s is gone (a killed or crashed run)" % lock.get("pid")
    if now - float(lock.get("since") or 0) > stale_after:
        return "it is older than stale_after (%s s)" % stale_after
    return None


def describe_lock(lock, now):
    return "run %s (%s; process %s on %s, for %d s)" % (
        lock.get("run_id"), lock.get("operation") or "?", lock.get("pid"), lock.get("host"),
        max(0, int(now - float(lock.get("since") or now))))


def acquire(state, run_id, operation, stale_after, now=None):
    """Take the lock for ``run_id``. Returns (held, taken_over_text or None, holder text or None)."""
    now = time.time() if now is None else now
    lock = state.get("lock")
    if lock and lock.get("run_id") == run_id:
        return True, None, None
    reason = lock_problem(lock, now, stale_after)
    if reason is None:
        return False, None, describe_lock(lock, now)
    pid, start = run_process()
    state["lock"] = {"run_id": run_id, "operation": operation, "pid": pid, "pid_start": start,
                     "host": socket.gethostname(), "since": now}
    taken = None if reason == "free" else "took over the lock of %s: %s" % (describe_lock(lock, now), reason)
    return True, taken, None


def release(state, run_id):
    """Free the lock if ``run_id`` holds it; returns whether it did."""
    lock = state.get("lock")
    if lock and lock.get("run_id") == run_id:
        state["lock"] = None
        return True
    return False


# -- the token ledger -----------------------------------------------------------------------


def remember_token(state, cluster, token, source):
    """Record a DR operation token generated on ``cluster`` (a name or URL)."""
    tokens = state.setdefault("tokens", [])
    if any(entry.get("token") == token for entry in tokens):
        return False
    tokens.append({"cluster": cluster, "token": token, "source": source, "since": time.time()})
    return True


def forget_tokens(state, tokens):
    before = len(state.get("tokens") or [])
    state["tokens"] = [entry for entry in state.get("tokens") or [] if entry.get("token") not in set(tokens)]
    return before - len(state["tokens"])


def token_summary(state):
    """What the ledger holds, without the tokens: [{cluster, source, since}]."""
    return [{"cluster": e.get("cluster"), "source": e.get("source"), "since": e.get("since")}
            for e in state.get("tokens") or []]


def record_token(path, cluster, token, source):
    """Add one token to the ledger in ``path`` (used by dr_operation_token the moment it decodes
    a token, so a run killed right after still leaves it on record)."""
    with updating(path) as state:
        remember_token(state, cluster, token, source)


def ledger_tokens(path):
    """The tokens on record in ``path`` ([] when the file does not exist)."""
    with guarded(path):
        return list(load(path).get("tokens") or [])


def drop_tokens(path, tokens):
    with updating(path) as state:
        return forget_tokens(state, tokens)


def recorded_token(path, cluster):
    """The newest token on record that was generated on ``cluster``, or None."""
    mine = [e for e in ledger_tokens(path) if e.get("cluster") == cluster and e.get("token")]
    return mine[-1]["token"] if mine else None


# -- ceremonies run by key holders in separate runs -------------------------------------------
# The run that starts a generate-operation-token attempt keeps its one-time password here (the
# nonce is public; the OTP decodes the result), so that whichever later run completes the quorum
# on this controller can decode the token and put it on record without anybody handling the OTP.


def record_ceremony(path, cluster, nonce, otp, otp_length):
    with updating(path) as state:
        state.setdefault("ceremonies", {})[cluster] = {"nonce": nonce, "otp": otp, "otp_length": otp_length,
                                                       "since": time.time()}


def recorded_ceremony(path, cluster, nonce):
    """(otp, otp_length) kept for the attempt ``nonce`` on ``cluster``, or (None, None)."""
    with guarded(path):
        entry = (load(path).get("ceremonies") or {}).get(cluster) or {}
    if nonce and entry.get("nonce") == nonce:
        return entry.get("otp"), entry.get("otp_length")
    return None, None


def drop_ceremony(path, cluster):
    with updating(path) as state:
        (state.get("ceremonies") or {}).pop(cluster, None)


def set_note(path, key, value):
    with updating(path) as state:
        notes = state.setdefault("notes", {})
        if value is None:
            notes.pop(key, None)
        else:
            notes[key] = value


# -- the runner -----------------------------------------------------------------------------


class Runner:
    """failover_state: lock, notes and the token ledger of one replication set."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.params = ctx.params

    def fail(self, msg, **kwargs):
        self.ctx.fail_json(msg=msg, **kwargs)

    def run(self):
        p = self.params
        path = p["path"]
        if not path or not path.strip():
            self.fail("path must name the state file (for example ~/.ansible/vaultops_replication/<set>.json).")
        if p["stale_after"] <= 0:
            self.fail("stale_after must be a positive number of seconds, got %s." % p["stale_after"])
        if p["lock"] in ("acquire", "release") and not (p["run_id"] or "").strip():
            self.fail("lock: %s needs run_id (any text that identifies this run, the same for acquire and release)."
                      % p["lock"])
        for key in p["forget_notes"]:
            if not isinstance(key, str) or not key:
                self.fail("forget_notes must be a list of note names.")
        changed = False
        warnings = []
        result = {}
        try:
            if self.ctx.check_mode:
                with guarded(path):
                    state = load(path)
                result.update(self.view(state, path))
                if p["lock"] == "acquire":
                    problem = lock_problem(state.get("lock"), time.time(), p["stale_after"])
                    held = state.get("lock") and state["lock"].get("run_id") == p["run_id"]
                    result["lock_holder"] = None if (problem or held) else describe_lock(state["lock"], time.time())
                return dict(result, changed=False)
            with updating(path) as state:
                if p["lock"] == "acquire":
                    held, taken, holder = acquire(state, p["run_id"], p["operation"], p["stale_after"])
                    if not held:
                        self.fail("failover in progress: %s holds the lock of this replication set (%s). Nothing was "
                                  "changed. Wait for that run to end and run again (it then finds the job done or "
                                  "finishes it); a lock whose process is gone is taken over by the next run."
                                  % (holder, path), lock_holder=holder, **self.view(state, path))
                    if taken:
                        warnings.append(taken)
                    changed = True
                elif p["lock"] == "release":
                    changed = release(state, p["run_id"]) or changed
                notes = state.setdefault("notes", {})
                for key, value in (p["note"] or {}).items():
                    if notes.get(key) != value:
                        notes[key] = value
                        changed = True
                for key in p["forget_notes"]:
                    if key in notes:
                        del notes[key]
                        changed = True
                result.update(self.view(state, path))
        except StateError as exc:
            self.fail(str(exc))
        for warning in warnings:
            self.ctx.warn(warning)
        return dict(result, changed=changed)

    def view(self, state, path):
        lock = state.get("lock")
        return {
            "path": path,
            "lock": None if not lock else {k: lock.get(k) for k in ("run_id", "operation", "pid", "host", "since")},
            "notes": state.get("notes") or {},
            "tokens": token_summary(state),
            "ceremonies": [{"cluster": name, "nonce": c.get("nonce"), "since": c.get("since")}
                           for name, c in sorted((state.get("ceremonies") or {}).items())],
        }


def argument_spec():
    return dict(
        path=dict(type="path", required=True),
        lock=dict(type="str", choices=["acquire", "release", "keep"], default="keep"),
        run_id=dict(type="str"),
        operation=dict(type="str", default=""),
        stale_after=dict(type="int", default=7200),
        note=dict(type="dict", default={}),
        forget_notes=dict(type="list", elements="str", default=[]),
    )


def module_spec():
    """Options of failover_state (module and action plugin). No cluster is contacted."""
    return dict(argument_spec=argument_spec(), supports_check_mode=True)
