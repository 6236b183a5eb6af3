# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runner of the dr_operation_token module (also run in-process by its action plugin)."""

from __future__ import annotations

import base64
import os

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _failover_state
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultError
from ansible_collections.vaultops.replication.plugins.module_utils._runner import module_spec as _module_spec
from ansible_collections.vaultops.replication.plugins.module_utils._status import (
    read_replication_statuses,
    read_type_status,
    roles_of,
)
from ansible_collections.vaultops.replication.plugins.module_utils._tokens import decode_operation_token


# Vault answers every ceremony problem with HTTP 400; only its message tells them apart.
ALREADY_PROVIDED = "already been provided"
SHARE_REJECTED = ("root generation aborted", "verification failed", "unable to authenticate")
SHARE_MALFORMED = ("must be a valid hex or base64", "shorter than minimum", "longer than maximum",
                   "'key' must be specified")
NONCE_MISMATCH = "incorrect nonce"
NOT_IN_PROGRESS = "no root generation in progress"
OTHER_STRATEGY = "incorrect strategy"
WRONG_OTP_LENGTH = "otp string is wrong length"

# Names of the batch token role settings we manage and their required values.
BATCH_ROLE_SETTINGS = {"orphan": True, "renewable": False, "token_type": "batch"}


class CeremonyError(Exception):
    """A ceremony step that cannot go on; ``result`` carries the progress reached so far."""

    def __init__(self, message, note=None, kind=None, **result):
        # ``note`` says what became of an attempt that was started before this run; ``kind`` is
        # classify_share_error's name of the refusal.
        super().__init__(message)
        self.kind = kind
        self.headline = message
        self.note = note
        self.message = "%s %s" % (message, note) if note else message
        self.result = result


# ---------------------------------------------------------------------------------------
# Pure decisions (no I/O): unit tested directly.
# ---------------------------------------------------------------------------------------

def attempt_view(attempt):
    """The parts of a generate-operation-token status object worth showing and comparing."""
    attempt = attempt or {}
    started = bool(attempt.get("started"))
    return {
        "started": started,
        "nonce": (attempt.get("nonce") or None) if started else None,
        "progress": int(attempt.get("progress") or 0) if started else 0,
        "required": int(attempt.get("required") or 0),
    }


def decide_ceremony(attempt, nonce, cancel_foreign):
    """What to do with the running attempt before contributing shares.

    Returns ``(action, reason)``: action ``start`` (nothing running), ``continue`` (our
    attempt), ``replace`` (cancel a foreign attempt, then start) or ``refuse`` (foreign
    attempt, or our nonce is gone); reason explains refusals.
    """
    view = attempt_view(attempt)
    running = view["nonce"]
    if not view["started"]:
        if nonce:
            return "refuse", (
                "no ceremony attempt with nonce %s is running any more: it either completed (the run "
                "that gave the last share received the token) or was cancelled. Omit nonce to start "
                "a new attempt." % nonce)
        return "start", None
    if nonce and nonce == running:
        return "continue", None
    if cancel_foreign:
        return "replace", None
    if nonce:
        return "refuse", (
            "another ceremony attempt is running on this cluster (nonce %s, %d of %d shares), not the "
            "one with nonce %s. Check with the key holders; set cancel_foreign_attempt: true to cancel "
            "it and start a new attempt." % (running, view["progress"], view["required"], nonce))
    return "refuse", (
        "a ceremony attempt is already running on this cluster (nonce %s, %d of %d shares) and this "
        "task did not start it. To contribute to it pass nonce: %s; to cancel it and start a new one "
        "set cancel_foreign_attempt: true." % (running, view["progress"], view["required"], running))


def predict_ceremony(attempt, action, share_count):
    """After-state of the attempt if the shares are accepted (check mode)."""
    view = attempt_view(attempt)
    if action in ("start", "replace"):
        progress = 0
        nonce = None  # Vault chooses it
    else:
        progress = view["progress"]
        nonce = view["nonce"]
    required = view["required"]
    progress = progress + share_count
    complete = bool(required) and progress >= required
    if complete:
        # A completed attempt is cleared by Vault.
        return {"started": False, "nonce": None, "progress": 0, "required": required}, True
    return {"started": True, "nonce": nonce, "progress": progress, "required": required}, False


def classify_share_error(exc):
    """Name the kind of a rejected ``update`` call (VaultAPIError) or None if unknown."""
    if not isinstance(exc, VaultAPIError):
        return None
    if exc.has_error(ALREADY_PROVIDED):
        return "already_provided"
    if any(exc.has_error(f) for f in SHARE_REJECTED):
        return "rejected"
    if any(exc.has_error(f) for f in SHARE_MALFORMED):
        return "malformed"
    if exc.has_error(NONCE_MISMATCH):
        return "nonce_mismatch"
    if exc.has_error(NOT_IN_PROGRESS):
        return "not_in_progress"
    if exc.has_error(OTHER_STRATEGY):
        return "other_strategy"
    return None


def submit_shares(update, shares, nonce, required, progress=0):
    """Contribute ``shares`` to the attempt ``nonce`` through ``update(key, nonce)``.

    Stops at completion. Returns a dict with ``accepted``, ``already``, ``unused``,
    ``status`` (last status object) and ``complete``. Raises CeremonyError with the progress
    reached when Vault refuses a share for another reason than "already counted".
    """
    accepted = 0
    already = 0
    status = None
    for index, share in enumerate(shares):
        try:
            status = update(share, nonce)
        except VaultAPIError as exc:
            kind = classify_share_error(exc)
            vault_msg = "; ".join(exc.errors)
            partial = {"accepted": accepted, "already": already, "nonce": nonce}
            if kind == "already_provided":
                already += 1
                continue
            if kind == "rejected":
                raise CeremonyError(
                    "Vault rejected the key shares: the combined shares of the quorum do not "
                    "reconstruct the primary's key (%s). Every holder must use an unseal/recovery key "
                    "share of the PRIMARY cluster." % vault_msg,
                    note="Vault reset the attempt: progress is back to 0 and the attempt with nonce %s is "
                         "still open; let all %s holders contribute again to nonce %s." % (
                             nonce, required or "required", nonce),
                    kind=kind, progress=0, attempt_running=True, **partial)
            if kind == "malformed":
                raise CeremonyError(
                    "key_shares[%d] is not a valid key share (%s). Give the share in hex or base64 as "
                    "printed by vault operator init." % (index, vault_msg),
                    note="Nothing was counted for it; the attempt with nonce %s is unchanged%s." % (
                        nonce, " (%d share(s) of this run counted)" % accepted if accepted else ""),
                    kind=kind, progress=progress, attempt_running=True, **partial)
            if kind == "nonce_mismatch":
                raise CeremonyError(
                    "the ceremony attempt changed while this task ran (%s). Somebody cancelled and "
                    "restarted it; check with the other key holders." % vault_msg, kind=kind, **partial)
            if kind == "not_in_progress":
                raise CeremonyError(
                    "the ceremony attempt with nonce %s disappeared while this task ran (cancelled or "
                    "completed by someone else)." % nonce, kind=kind, attempt_running=False, **partial)
            if kind == "other_strategy":
                raise CeremonyError(
                    "another key ceremony (generate-root or a DR operation token) is running on this cluster: %s. "
                    "Finish or cancel it first." % vault_msg, kind=kind, **partial)
            raise
        accepted += 1
        progress = int(status.get("progress") or 0)
        if status.get("complete"):
            return {"accepted": accepted, "already": already, "unused": len(shares) - index - 1,
                    "status": status, "complete": True}
    return {"accepted": accepted, "already": already, "unused": 0, "status": status, "complete": False}


def batch_policy_text(allow_raft_autopilot):
    """The HCL of the DR batch token policy (HashiCorp's documented recipe)."""
    lines = [
        "# Managed by vaultops.replication.dr_operation_token: operations a batch DR operation",
        "# token may run on a DR secondary.",
        'path "sys/replication/dr/secondary/promote" {',
        '  capabilities = ["update"]',
        "}",
        'path "sys/replication/dr/secondary/update-primary" {',
        '  capabilities = ["update"]',
        "}",
    ]
    if allow_raft_autopilot:
        lines += [
            'path "sys/storage/raft/autopilot/state" {',
            '  capabilities = ["update", "read"]',
            "}",
        ]
    return "\n".join(lines) + "\n"


def policy_text(read):
    """The policy body from a sys/policies/acl read (None when the policy does not exist)."""
    if read is None:
        return None
    if isinstance(read, str):
        return read
    return read.get("policy") if read.get("policy") is not None else read.get("rules")


def policy_differs(current, desired):
    if current is None:
        return True
    return current.strip() != desired.strip()


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def role_view(role):
    """The role settings we manage, from a token role read (None when absent)."""
    if role is None:
        return None
    return {
        "allowed_policies": sorted(_as_list(role.get("allowed_policies"))),
        "orphan": bool(role.get("orphan")),
        "renewable": bool(role.get("renewable")),
        "token_type": role.get("token_type"),
    }


def desired_role(policy_name):
    role = {"allowed_policies": [policy_name]}
    role.update(BATCH_ROLE_SETTINGS)
    return role


def role_differs(current, policy_name):
    return role_view(current) != desired_role(policy_name)


def looks_like_batch_token(token):
    return token.startswith("hvb.") or token.startswith("b.")


def legacy_otp():
    """OTP for servers before Vault 1.0: base64 of 16 random bytes, chosen by the client."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


# ---------------------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------------------

class Runner:
    # The ceremony's endpoints and names; the root_token runner (_root_token) runs the same
    # ceremony on sys/generate-root with its own.
    NOUN = "DR operation token"
    RESULT_KEY = "dr_operation_token"
    DECODE_FLAG = " -dr-token"
    CEREMONY = "The DR operation token ceremony"

    def __init__(self, ctx):
        self.ctx = ctx
        self.params = ctx.params
        self.client = ctx.client
        self.where = ctx.where(self.client.url)
        self.warnings = []

    # -- reading ----------------------------------------------------------------------

    def read_roles(self):
        return self.call("read the replication status", read_replication_statuses)

    def check_unsealed(self):
        self.ctx.check_unsealed(self.client, self.ctx.label(self.client.url),
                                unseal_hint="a DR secondary is unsealed with the primary's unseal keys")

    def call(self, action, func, *args, **kwargs):
        """``func(self.client, ...)`` (an ``_api`` call); on error the task fails through fail_vault."""
        try:
            return func(self.client, *args, **kwargs)
        except VaultError as exc:
            self.fail_vault(exc, action)

    def fail_vault(self, exc, action):
        """Fail the task for an error of the Vault code, with this module's hints for the answers
        a ceremony or batch run typically gets (not Enterprise, sealed, token refused)."""
        if not isinstance(exc, VaultAPIError):
            self.ctx.fail_from(exc, action)
        if exc.enterprise_only:
            self.ctx.fail_json(msg=(
                "Vault at %s is not Vault Enterprise (%s answered 'enterprise-only feature'); "
                "DR replication needs Vault Enterprise." % (self.where, exc.path)))
        if exc.status == 503 and exc.has_error("sealed"):
            self.ctx.fail_json(msg="Vault at %s is sealed. Unseal it and run the task again." % self.where)
        if exc.status in (401, 403):
            self.ctx.fail_json(msg=(
                "Failed to %s: Vault at %s refused the request (HTTP %d: %s). Check the token option: "
                "Vault 2.0 and later need a token (a root token of the primary or a batch DR operation "
                "token) for the ceremony; method=batch needs a token allowed to write policies and "
                "token roles on the primary." % (action, self.where, exc.status, "; ".join(exc.errors))))
        self.ctx.fail_from(exc, action)

    def require_dr_secondary(self, roles, purpose):
        dr = roles["dr"]
        if dr.role == "secondary":
            return
        if dr.role == "bootstrapping":
            hint = "it is still bootstrapping; wait until it is a streaming DR secondary"
        elif dr.role == "primary":
            hint = ("it is the DR primary. Point url at the DR secondary, or use method: batch to issue a "
                    "batch DR operation token on the primary")
        else:
            hint = "DR replication is %s there. Point url at a DR secondary" % dr.role
        self.ctx.fail_json(msg="%s runs on a DR secondary, but the cluster at %s is not one: %s." % (
            purpose, self.where, hint))

    # -- ceremony ---------------------------------------------------------------------

    @staticmethod
    def api_status(client):
        return _api.operation_token_attempt_status(client)

    @staticmethod
    def api_start(client, otp=None):
        return _api.operation_token_attempt_start(client, otp=otp)

    @staticmethod
    def api_update(client, key, nonce):
        return _api.operation_token_attempt_update(client, key, nonce)

    @staticmethod
    def api_cancel(client):
        _api.operation_token_attempt_cancel(client)

    def require_target(self, roles):
        """Fail unless the cluster can run this ceremony."""
        self.require_dr_secondary(roles, self.CEREMONY)

    def attempt_status(self):
        return self.call("read the %s attempt" % self.NOUN, self.api_status)

    def cancel(self):
        self.call("cancel the %s attempt" % self.NOUN, self.api_cancel)

    def start(self, otp):
        try:
            return self.api_start(self.client, otp=otp)
        except VaultError as exc:
            if isinstance(exc, VaultAPIError) and exc.has_error(WRONG_OTP_LENGTH):
                self.ctx.fail_json(msg=(
                    "Vault refused the given otp: %s. Omit otp to let Vault generate one, or give one of "
                    "exactly the length Vault reports as otp_length." % "; ".join(exc.errors)))
            self.fail_vault(exc, "start the %s attempt" % self.NOUN)

    def ceremony(self, roles):
        p = self.params
        shares = [s for s in p["key_shares"] if s is not None and str(s).strip()]
        if len(shares) != len(p["key_shares"]):
            self.ctx.fail_json(msg="key_shares contains an empty entry; give every share as hex or base64.")
        if len(set(shares)) != len(shares):
            self.ctx.fail_json(msg="key_shares lists the same share twice; each holder's share counts once.")
        if p.get("use_recorded") and not p.get("state_file"):
            self.ctx.fail_json(msg="use_recorded: true needs state_file (the file the token is on record in).")
        self.require_target(roles)
        if p.get("use_recorded") and self.state_file():
            token = self.recorded()
            if token:
                view = roles_of(roles)
                return ({"changed": False, "complete": True, "recorded": True, self.RESULT_KEY: token,
                         "msg": "a DR operation token generated earlier on this cluster is on record in state_file "
                                "(a ceremony run by the key holders); it is returned, no ceremony was run."},
                        view, view)
        attempt = self.attempt_status()
        before = attempt_view(attempt)
        otp_length = p["otp_length"] if p["otp_length"] is not None else attempt.get("otp_length")
        action, reason = decide_ceremony(attempt, p["nonce"], p["cancel_foreign_attempt"])
        kept_otp = None
        if action == "continue" and not p["otp"] and self.state_file():
            # Another run on this controller started the attempt and kept its OTP on record.
            kept_otp, kept_length = self.kept_ceremony(before["nonce"])
            if kept_otp and otp_length is None:
                otp_length = kept_length
        if action == "refuse":
            self.ctx.fail_json(msg=reason, nonce=before["nonce"], progress=before["progress"],
                               required=before["required"], attempt_running=before["started"])

        if action in ("start", "replace") and p["otp"] and otp_length and len(p["otp"]) != int(otp_length):
            self.ctx.fail_json(msg=(
                "otp must be exactly %d characters long for this Vault (it reports otp_length %d); omit "
                "otp to let Vault generate one." % (int(otp_length), int(otp_length))))

        result = {"cancelled": action == "replace"}
        diff_before = dict(roles_of(roles), attempt=before)

        if self.ctx.check_mode:
            after, complete = predict_ceremony(attempt, action, len(shares))
            changed = action != "continue" or bool(shares)
            result.update(changed=changed, nonce=before["nonce"] if action == "continue" else None,
                          progress=after["progress"] if not complete else after["required"],
                          required=after["required"], complete=complete, attempt_running=after["started"],
                          msg=self._check_msg(action, len(shares), after, complete))
            return result, diff_before, dict(roles_of(roles), attempt=after)

        changed = False
        generated_otp = None
        otp = p["otp"] or kept_otp
        if action == "replace":
            self.cancel()
            changed = True
        if action in ("start", "replace"):
            if not otp and otp_length == 0:
                otp = generated_otp = legacy_otp()
            started = self.start(otp if otp else None)
            changed = True
            if not otp:
                otp = generated_otp = started.get("otp") or None
            if otp_length is None:
                otp_length = started.get("otp_length")
            nonce = started.get("nonce")
            current = started
            self.keep_ceremony(nonce, otp, otp_length)
        else:
            nonce = before["nonce"]
            current = attempt
        required = int(current.get("required") or before["required"] or 0)
        progress = int(current.get("progress") or 0)

        def update(key, nonce_):
            return self.api_update(self.client, key, nonce_)

        try:
            outcome = submit_shares(update, shares, nonce, required, progress)
        except (CeremonyError, VaultError) as exc:
            self.fail_ceremony(exc, action, nonce, required, changed, generated_otp)

        changed = changed or outcome["accepted"] > 0
        status = outcome["status"] or current
        complete = outcome["complete"]
        result.update(changed=changed, nonce=nonce, required=required, complete=complete)
        if generated_otp:
            result["otp"] = generated_otp
        if outcome["already"]:
            self.warnings.append("%d key share(s) had already been counted in this attempt; they were "
                                 "not counted twice." % outcome["already"])
        if outcome["unused"]:
            self.warnings.append("the quorum was reached before all key shares were used; %d share(s) "
                                 "were not sent." % outcome["unused"])

        if complete:
            encoded = status.get("encoded_token") or status.get("encoded_root_token") or ""
            result.update(encoded_token=encoded, progress=int(status.get("progress") or required),
                          attempt_running=False)
            if not otp:
                result["msg"] = ("quorum reached; Vault returned the encoded token, but without the otp of "
                                 "the run that started the attempt it cannot be decoded here. Decode it with "
                                 "'vault operator generate-root%s -decode=<encoded_token> -otp=<otp>'." % self.DECODE_FLAG)
                self.warnings.append("%s not returned: give otp to decode the token." % self.RESULT_KEY)
            else:
                try:
                    result[self.RESULT_KEY] = decode_operation_token(encoded, otp, otp_length)
                    result["msg"] = "quorum reached; %s generated and decoded." % self.NOUN
                    self.remember(result[self.RESULT_KEY])
                    if kept_otp or generated_otp:
                        self.forget_ceremony()
                except VaultError as exc:  # the token is gone from Vault: hand back what we have
                    result["msg"] = ("quorum reached, but the encoded token could not be decoded with the given "
                                     "otp (%s). It is returned as encoded_token; decode it with the otp of the run "
                                     "that started the attempt." % exc)
                    self.warnings.append("%s not returned: %s" % (self.RESULT_KEY, exc))
            after = {"started": False, "nonce": None, "progress": 0, "required": required}
        else:
            progress = int(status.get("progress") or 0)
            result.update(progress=progress, attempt_running=True)
            missing = max(required - progress, 0)
            result["msg"] = "%d of %d key shares counted; %d more needed for nonce %s." % (
                progress, required, missing, nonce)
            if action in ("start", "replace") and generated_otp:
                result["msg"] += " Keep the returned otp secret: the last run needs it to decode the token."
            after = {"started": True, "nonce": nonce, "progress": progress, "required": required}
        return result, diff_before, dict(roles_of(roles), attempt=after)

    def fail_ceremony(self, exc, action, nonce, required, changed, generated_otp=None):
        """Fail after a refused share.

        When the shares reached the threshold and Vault rejected their combination, Vault keeps the
        attempt open under the same nonce and OTP with progress 0 (reference 5.3), so it stays open
        here as well: the failure returns the nonce and, when this run started the attempt and the
        OTP was generated, the OTP (a secret, as on a successful partial run), and tells the holders
        to contribute again to that nonce. Any other refusal in a run that started the attempt
        withdraws it: nobody has contributed to it but this run, whose input must be fixed first.
        """
        if isinstance(exc, CeremonyError):
            info = dict(exc.result)
            msg = exc.message
        else:
            info = {}
            msg = None
        info.setdefault("nonce", nonce)
        changed = changed or info.pop("accepted", 0) > 0
        info.pop("already", None)
        started_here = action in ("start", "replace")
        if action == "replace":
            info["cancelled"] = True
        if started_here and isinstance(exc, CeremonyError) and exc.kind == "rejected":
            retry = "pass nonce: %s" % nonce
            if generated_otp:
                info["otp"] = generated_otp
                retry += " and the otp this run returned (the last run needs it to decode the token)"
            elif self.params["otp"]:
                retry += " and the otp this run was given"
            msg = "%s %s Retry: %s.%s" % (exc.headline, exc.note, retry, (
                " The foreign attempt this run replaced was cancelled before it started this one."
                if action == "replace" else ""))
            self.ctx.fail_json(msg=msg, changed=True, required=required, **info)
        if started_here:
            try:
                self.api_cancel(self.client)
                withdrawn = ("The attempt this run started (nonce %s) was cancelled so that no half-finished "
                             "attempt stays behind; fix the input and run the task again." % nonce)
                info.update(attempt_running=False, progress=0, nonce=None)
            except VaultError as cancel_exc:
                withdrawn = ("Cancelling the attempt this run started (nonce %s) failed too (%s); cancel it with "
                             "state: absent, cancel_attempt: true." % (nonce, cancel_exc.message))
            if action == "replace":
                withdrawn += " The foreign attempt it replaced was already cancelled."
            if isinstance(exc, CeremonyError):
                msg = exc.headline
            else:
                msg = "Failed to contribute a key share to the %s attempt: %s." % (self.NOUN, exc.message)
            msg = "%s %s" % (msg, withdrawn)
            self.ctx.fail_json(msg=msg, changed=changed, required=required, **info)
        if msg is None:
            self.fail_vault(exc, "contribute a key share to the %s attempt" % self.NOUN)
        self.ctx.fail_json(msg=msg, changed=changed, required=required, **info)

    @staticmethod
    def _check_msg(action, share_count, after, complete):
        verb = {"start": "would start a new attempt", "replace": "would cancel the foreign attempt and start "
                "a new one", "continue": "would continue the attempt"}[action]
        if complete:
            return "%s and reach the quorum with %d share(s) (check mode)." % (verb, share_count)
        return "%s; %d of %d shares counted afterwards (check mode)." % (verb, after["progress"], after["required"])

    # -- absent -----------------------------------------------------------------------

    # -- the ledger (state_file) --------------------------------------------------------

    def cluster_key(self):
        """How the ledger names this cluster: the ``cluster`` dict's name, else its URL."""
        return self.ctx.names.get("") or self.client.url

    def state_file(self):
        """state_file, for the DR operation token ceremony only (root_token shares this code)."""
        return self.params.get("state_file") if self.RESULT_KEY == "dr_operation_token" else None

    def keep_ceremony(self, nonce, otp, otp_length):
        if not self.state_file() or not otp or not nonce:
            return
        try:
            _failover_state.record_ceremony(self.state_file(), self.cluster_key(), nonce, otp, otp_length)
        except _failover_state.StateError as exc:
            self.warnings.append("the ceremony's one-time password could not be kept in state_file (%s); the run "
                                 "that completes the quorum needs it (otp)." % exc)

    def kept_ceremony(self, nonce):
        if not self.state_file():
            return None, None
        try:
            return _failover_state.recorded_ceremony(self.state_file(), self.cluster_key(), nonce)
        except _failover_state.StateError as exc:
            self.warnings.append(str(exc))
            return None, None

    def forget_ceremony(self):
        if not self.state_file():
            return
        try:
            _failover_state.drop_ceremony(self.state_file(), self.cluster_key())
        except _failover_state.StateError as exc:
            self.warnings.append(str(exc))

    def recorded(self):
        """use_recorded: a DR operation token generated earlier on this cluster and on record."""
        try:
            return _failover_state.recorded_token(self.state_file(), self.cluster_key())
        except _failover_state.StateError as exc:
            self.ctx.fail_json(msg=str(exc))

    def remember(self, token):
        """Record a token the ceremony generated in state_file at once: it never expires and a run
        killed before its revocation step must not forget it."""
        path = self.state_file()
        if not path:
            return
        try:
            _failover_state.record_token(path, self.cluster_key(), token, "key share ceremony")
        except _failover_state.StateError as exc:
            self.warnings.append("the DR operation token could not be recorded for revocation (%s); revoke it "
                                 "yourself once the job is done (state: absent with dr_operation_token)." % exc)

    def revoke_recorded(self, roles, result, msgs):
        """state: absent with state_file: delete every token on record that was generated on this
        cluster, and drop those that are gone from the record."""
        path = self.params["state_file"]
        try:
            entries = _failover_state.ledger_tokens(path)
        except _failover_state.StateError as exc:
            self.ctx.fail_json(msg=str(exc))
        names = {self.cluster_key(), self.client.url}
        mine = [e for e in entries if e.get("cluster") in names and e.get("token")]
        result.update(recorded=len(mine), revoked_recorded=0)
        if not mine:
            msgs.append("no DR operation token generated on this cluster is on record")
            return
        if roles["dr"].role != "secondary":
            msgs.append("%d DR operation token(s) generated on this cluster stay on record: it is not a DR secondary "
                        "now, and only a DR secondary deletes them; a later run revokes them once it is one again"
                        % len(mine))
            result["left_on_record"] = len(mine)
            return
        if self.ctx.check_mode:
            result.update(changed=True, revoked_recorded=len(mine))
            msgs.append("would delete %d DR operation token(s) on record" % len(mine))
            return
        gone = []
        for entry in mine:
            try:
                _api.delete_operation_token(self.client, entry["token"])
            except VaultAPIError as exc:
                if exc.status in (400, 403) and (exc.has_error("permission denied") or exc.has_error("invalid")
                                                 or exc.has_error("not valid") or exc.has_error("not found")):
                    gone.append(entry["token"])
                    continue
                self.fail_vault(exc, "revoke a DR operation token on record")
            except VaultError as exc:
                self.fail_vault(exc, "revoke a DR operation token on record")
            else:
                gone.append(entry["token"])
                result["revoked_recorded"] += 1
                result["changed"] = True
        try:
            _failover_state.drop_tokens(path, gone)
        except _failover_state.StateError as exc:
            self.ctx.fail_json(msg=str(exc), changed=result["changed"])
        msgs.append("deleted %d DR operation token(s) on record (%d already invalid)" % (
            result["revoked_recorded"], len(gone) - result["revoked_recorded"]))

    def absent(self, roles):
        p = self.params
        if not p["dr_operation_token"] and not p["cancel_attempt"] and not p.get("state_file"):
            self.ctx.fail_json(msg="state: absent needs dr_operation_token (to revoke it), state_file (to revoke the "
                               "tokens on record there) and/or cancel_attempt: true (to cancel the running attempt).")
        if p.get("state_file") and not p["dr_operation_token"] and not p["cancel_attempt"]:
            result, msgs = {"changed": False}, []
            self.revoke_recorded(roles, result, msgs)
            result["msg"] = "; ".join(msgs) + "."
            return result, roles_of(roles), roles_of(roles)
        self.require_dr_secondary(roles, "Revoking a DR operation token or cancelling the ceremony")
        result = {"changed": False}
        msgs = []
        attempt = None
        before_view = {}
        after_view = {}
        if p["cancel_attempt"]:
            attempt = self.attempt_status()
            view = attempt_view(attempt)
            before_view["attempt"] = view
            after_view["attempt"] = view
            result["cancelled"] = False
            if view["started"]:
                if p["nonce"] and view["nonce"] != p["nonce"] and not p["cancel_foreign_attempt"]:
                    self.ctx.fail_json(msg=(
                        "the running ceremony attempt has nonce %s, not %s; it was not cancelled. Set "
                        "cancel_foreign_attempt: true to cancel it anyway." % (view["nonce"], p["nonce"])))
                if not self.ctx.check_mode:
                    self.cancel()
                result.update(changed=True, cancelled=True)
                after_view["attempt"] = {"started": False, "nonce": None, "progress": 0,
                                         "required": view["required"]}
                msgs.append("cancelled the ceremony attempt with nonce %s" % view["nonce"])
            else:
                msgs.append("no ceremony attempt was running")
        if p["dr_operation_token"]:
            token = p["dr_operation_token"]
            result["revoked"] = False
            if looks_like_batch_token(token):
                self.warnings.append("dr_operation_token is a batch token; batch tokens cannot be revoked and "
                                     "stay valid until their TTL ends.")
                msgs.append("batch token left to expire")
            elif self.ctx.check_mode:
                result.update(changed=True, revoked=True)
                msgs.append("would revoke the DR operation token (its validity cannot be checked without using it)")
            else:
                try:
                    _api.delete_operation_token(self.client, token)
                except VaultAPIError as exc:
                    if exc.status in (400, 403) and (exc.has_error("permission denied") or exc.has_error("invalid")
                                                     or exc.has_error("not valid") or exc.has_error("not found")):
                        msgs.append("the DR operation token is not valid on this cluster (already revoked, or "
                                    "never generated here); nothing to revoke")
                    else:
                        self.fail_vault(exc, "revoke the DR operation token")
                except VaultError as exc:
                    self.fail_vault(exc, "revoke the DR operation token")
                else:
                    result.update(changed=True, revoked=True)
                    msgs.append("revoked the DR operation token")
                if p.get("state_file"):
                    try:
                        _failover_state.drop_tokens(p["state_file"], [token])
                    except _failover_state.StateError as exc:
                        self.warnings.append(str(exc))
        result["msg"] = "; ".join(msgs) + "."
        if self.ctx.check_mode and result["changed"]:
            result["msg"] += " (check mode)"
        return (result, dict(roles_of(roles), **before_view),
                dict(roles_of(roles), **after_view))

    # -- batch ------------------------------------------------------------------------

    def batch(self, roles):
        p = self.params
        if not self.client.token:
            self.ctx.fail_json(msg=(
                "method: batch needs token: a token on the DR primary allowed to write ACL policies, token "
                "roles and create tokens (set token or VAULT_TOKEN)."))
        dr = roles["dr"]
        if dr.role in ("secondary", "bootstrapping"):
            self.ctx.fail_json(msg=(
                "method: batch issues the batch token on the DR primary, but the cluster at %s is a DR %s. "
                "Point url at the DR primary (the token replicates to the DR secondaries)." % (
                    self.where, dr.role)))
        if dr.role != "primary":
            self.warnings.append("DR replication is %s on %s; a batch token issued now works on DR secondaries "
                                 "attached to this cluster later, within its TTL." % (dr.role, self.where))
        policy = batch_policy_text(p["allow_raft_autopilot"])
        current_policy = policy_text(self.call("read the batch token policy and role", _api.read_policy,
                                               p["policy_name"]))
        current_role = self.call("read the batch token policy and role", _api.read_token_role, p["role_name"])

        write_policy = policy_differs(current_policy, policy)
        write_role = role_differs(current_role, p["policy_name"])
        changed = write_policy or write_role or p["issue_token"]
        result = {"changed": changed, "policy_changed": write_policy, "role_changed": write_role}
        before = dict(roles_of(roles), policy=current_policy, role=role_view(current_role))
        after = dict(roles_of(roles), policy=policy, role=desired_role(p["policy_name"]))

        if self.ctx.check_mode:
            result["msg"] = "would %s (check mode)." % self._batch_summary(write_policy, write_role, p["issue_token"])
            return result, before, after
        if write_policy:
            self.call("write the batch token policy and role", _api.write_policy, p["policy_name"], policy)
        if write_role:
            self.call("write the batch token policy and role", _api.write_token_role, p["role_name"],
                      allowed_policies=[p["policy_name"]], **BATCH_ROLE_SETTINGS)
        if p["issue_token"]:
            auth = self.call("issue a batch token from role %s" % p["role_name"], _api.create_token,
                             role=p["role_name"], ttl=p["ttl"])
            token = (auth or {}).get("client_token")
            if not token:
                self.ctx.fail_json(msg="Vault issued no client_token from role %s." % p["role_name"], changed=True)
            result["dr_operation_token"] = token
            result["token_ttl"] = int((auth or {}).get("lease_duration") or 0)
        result["msg"] = "%s." % self._batch_summary(write_policy, write_role, p["issue_token"], done=True)
        return result, before, after

    @staticmethod
    def _batch_summary(write_policy, write_role, issue, done=False):
        parts = []
        if write_policy:
            parts.append("wrote the policy" if done else "write the policy")
        if write_role:
            parts.append("wrote the token role" if done else "write the token role")
        if issue:
            parts.append("issued a batch DR operation token" if done else "issue a batch DR operation token")
        if not parts:
            return "policy and token role already up to date" if done else "change nothing"
        return ", ".join(parts)

    # -- common -----------------------------------------------------------------------

    def run(self):
        p = self.params
        if p["state"] == "absent" and p["method"] == "batch":
            self.ctx.fail_json(msg=(
                "state: absent does not apply to method: batch: batch tokens cannot be revoked and expire at "
                "their TTL. Use state: absent with dr_operation_token for tokens from the key share ceremony."))
        self.check_unsealed()
        roles = self.read_roles()
        if p["state"] == "absent":
            result, before, after = self.absent(roles)
        elif p["method"] == "batch":
            result, before, after = self.batch(roles)
        else:
            result, before, after = self.ceremony(roles)
        self.finish(result, before, after, "dr")

    def finish(self, result, before, after, rtype):
        """End the run: the replication status of ``rtype`` after it, the diff, the warnings."""
        try:
            result["status"] = read_type_status(self.client, rtype).as_dict()
        except VaultError:
            # The work is done; a failed re-read must not hide its result (and a secret in it).
            self.warnings.append("could not re-read the %s replication status after the run."
                                 % ("DR" if rtype == "dr" else rtype))
        if self.ctx.diff:
            result["diff"] = {"before": before, "after": after}
        for warning in self.warnings:
            self.ctx.warn(warning)
        self.ctx.exit_json(**result)


def argument_spec():
    return dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        method=dict(type="str", choices=["key_shares", "batch"], default="key_shares"),
        key_shares=dict(type="list", elements="str", no_log=True, default=[]),
        nonce=dict(type="str"),
        otp=dict(type="str", no_log=True),
        otp_length=dict(type="int", no_log=False),
        cancel_foreign_attempt=dict(type="bool", default=False),
        cancel_attempt=dict(type="bool", default=False),
        dr_operation_token=dict(type="str", no_log=True),
        policy_name=dict(type="str", default="dr-secondary-promotion"),
        role_name=dict(type="str", default="failover-handler"),
        ttl=dict(type="str", default="8h"),
        allow_raft_autopilot=dict(type="bool", default=True),
        issue_token=dict(type="bool", default=True),
        state_file=dict(type="path"),
        use_recorded=dict(type="bool", default=False),
    )


def module_spec():
    """Options and constraints of dr_operation_token (module and action plugin)."""
    return _module_spec(argument_spec())
