# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dr_operation_token: the decision functions, then main() against a scripted fake of _api."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultConnectionError
from ansible_collections.vaultops.replication.plugins.module_utils import _dr_operation_token as runner
from ansible_collections.vaultops.replication.plugins.modules import dr_operation_token as mod
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import run_module, warnings_of

URL = "http://dr.example.test:8200"
SHARES = ["aa" * 16 + "01", "bb" * 16 + "02", "cc" * 16 + "03", "dd" * 16 + "04", "ee" * 16 + "05"]
TOKEN = "hvs.ABCDEFGHIJKLMNOPQRSTUVWX"  # 28 characters, like Vault 1.10+
OTP_LENGTH = 28


def encode(token, otp):
    raw = bytes(a ^ b for a, b in zip(token.encode(), otp.encode()))
    return base64.b64encode(raw).decode().rstrip("=")


def api_error(status, message, path="sys/replication/dr/secondary/generate-operation-token/update", method="PUT"):
    return VaultAPIError(status, [message], method, path)


class FakeVault:
    """Just enough of a DR secondary (and a primary for method=batch) behind the _api functions."""

    def __init__(self, dr_mode="secondary", threshold=3, sealed=False, otp_length=OTP_LENGTH):
        self.dr_mode = dr_mode
        self.threshold = threshold
        self.sealed = sealed
        self.otp_length = otp_length
        self.valid = set(SHARES)
        self.attempt = None  # dict(nonce, otp, provided)
        self.calls = []
        self.policies = {}
        self.roles = {}
        self.issued = []
        self.op_tokens = {TOKEN}
        self.token = TOKEN

    # -- status ---------------------------------------------------------------------
    def status(self):
        base = {"required": self.threshold, "otp_length": self.otp_length, "encoded_token": "",
                "encoded_root_token": "", "pgp_fingerprint": "", "otp": ""}
        if self.attempt is None:
            base.update(started=False, nonce="", progress=0, complete=False)
        else:
            base.update(started=True, nonce=self.attempt["nonce"], progress=len(self.attempt["provided"]),
                        complete=False)
        return base

    def install(self, monkeypatch):
        def rec(name):
            def wrapper(fn):
                def inner(*args, **kwargs):
                    self.calls.append(name)
                    return fn(*args, **kwargs)
                return inner
            return wrapper

        monkeypatch.setattr(_api, "health", rec("health")(
            lambda c, **q: (503, {"initialized": True, "sealed": True}) if self.sealed
            else (200, {"initialized": True, "sealed": False, "replication_dr_mode": self.dr_mode})))
        monkeypatch.setattr(_api, "replication_status", rec("replication_status")(
            lambda c: {"dr": self.dr_status(), "performance": {"mode": "disabled"}}))
        monkeypatch.setattr(_api, "replication_type_status", rec("replication_type_status")(
            lambda c, t, **kw: self.dr_status() if t == "dr" else {"mode": "disabled"}))
        monkeypatch.setattr(_api, "operation_token_attempt_status", rec("attempt_status")(lambda c: self.status()))
        monkeypatch.setattr(_api, "operation_token_attempt_start", rec("attempt_start")(self.start))
        monkeypatch.setattr(_api, "operation_token_attempt_update", rec("attempt_update")(self.update))
        monkeypatch.setattr(_api, "operation_token_attempt_cancel", rec("attempt_cancel")(self.cancel))
        monkeypatch.setattr(_api, "delete_operation_token", rec("delete_operation_token")(self.delete))
        monkeypatch.setattr(_api, "read_policy", rec("read_policy")(self.read_policy))
        monkeypatch.setattr(_api, "write_policy", rec("write_policy")(self.write_policy))
        monkeypatch.setattr(_api, "read_token_role", rec("read_token_role")(self.read_role))
        monkeypatch.setattr(_api, "write_token_role", rec("write_token_role")(self.write_role))
        monkeypatch.setattr(_api, "create_token", rec("create_token")(self.create_token))

    def dr_status(self):
        if self.dr_mode == "disabled":
            return {"mode": "disabled"}
        return {"mode": self.dr_mode, "cluster_id": "set-1", "state": "stream-wals" if self.dr_mode == "secondary"
                else "running"}

    def writes(self):
        return [c for c in self.calls if c in ("attempt_start", "attempt_update", "attempt_cancel",
                                               "delete_operation_token", "write_policy", "write_token_role",
                                               "create_token")]

    # -- ceremony -------------------------------------------------------------------
    def start(self, c, otp=None, pgp_key=None):
        if self.attempt is not None:
            raise api_error(400, "root generation already in progress", path="x/attempt")
        generated = ""
        if otp is None:
            otp = generated = ("Q" * self.otp_length)[:self.otp_length]
        elif len(otp) != self.otp_length:
            raise api_error(400, "OTP string is wrong length", path="x/attempt")
        self.attempt = {"nonce": str(uuid.uuid4()), "otp": otp, "provided": []}
        out = self.status()
        out["otp"] = generated
        return out

    def cancel(self, c):
        self.attempt = None

    def update(self, c, key, nonce):
        if self.attempt is None:
            raise api_error(400, "no root generation in progress")
        if nonce != self.attempt["nonce"]:
            raise api_error(400, 'incorrect nonce supplied; nonce for this root generation operation is "%s"'
                            % self.attempt["nonce"])
        try:
            bytes.fromhex(key)
        except ValueError:
            raise api_error(400, "'key' must be a valid hex or base64 string")
        if key in self.attempt["provided"]:
            raise api_error(400, "given key has already been provided during this generation operation")
        self.attempt["provided"].append(key)
        if len(self.attempt["provided"]) < self.threshold:
            return self.status()
        provided = self.attempt["provided"]
        self.attempt["provided"] = []
        if not all(k in self.valid for k in provided):
            raise api_error(400, "root generation aborted: root key verification failed: cipher: message "
                                 "authentication failed")
        out = self.status()
        out.update(progress=self.threshold, complete=True, encoded_token=encode(self.token, self.attempt["otp"]))
        self.attempt = None
        return out

    def delete(self, c, token):
        if token not in self.op_tokens:
            raise VaultAPIError(400, ["invalid DR operation token"], "POST", "x/operation-token/delete")
        self.op_tokens.discard(token)

    # -- batch ----------------------------------------------------------------------
    def read_policy(self, c, name):
        if name not in self.policies:
            return None
        return {"name": name, "rules": self.policies[name]}

    def write_policy(self, c, name, policy):
        self.policies[name] = policy

    def read_role(self, c, name):
        return dict(self.roles[name]) if name in self.roles else None

    def write_role(self, c, name, **params):
        self.roles[name] = dict(params)

    def create_token(self, c, role=None, **params):
        token = "hvb.batch%d" % len(self.issued)
        self.issued.append((role, params))
        return {"client_token": token, "lease_duration": 14400, "accessor": ""}


@pytest.fixture
def vault(monkeypatch):
    fake = FakeVault()
    fake.install(monkeypatch)
    return fake


def run(capsys, args, check=False, diff=False):
    return run_module(capsys, mod.main, dict({"url": URL}, **args), check=check, diff=diff)


# ----------------------------------------------------------------------------- pure logic

class TestDecideCeremony:
    running = {"started": True, "nonce": "n-1", "progress": 1, "required": 3}

    def test_nothing_running_starts(self):
        assert runner.decide_ceremony({"started": False, "required": 3}, None, False) == ("start", None)

    def test_our_nonce_continues(self):
        assert runner.decide_ceremony(self.running, "n-1", False) == ("continue", None)

    def test_no_nonce_with_running_attempt_is_foreign(self):
        action, reason = runner.decide_ceremony(self.running, None, False)
        assert action == "refuse"
        assert "nonce: n-1" in reason and "cancel_foreign_attempt" in reason

    def test_other_nonce_is_foreign(self):
        action, reason = runner.decide_ceremony(self.running, "n-2", False)
        assert action == "refuse"
        assert "n-1" in reason and "n-2" in reason

    def test_foreign_attempt_replaced_when_allowed(self):
        assert runner.decide_ceremony(self.running, None, True) == ("replace", None)
        assert runner.decide_ceremony(self.running, "n-2", True) == ("replace", None)

    def test_our_nonce_gone(self):
        action, reason = runner.decide_ceremony({"started": False, "required": 3}, "n-1", False)
        assert action == "refuse"
        assert "completed" in reason and "Omit nonce" in reason


class TestPredict:
    def test_start_with_one_share(self):
        after, complete = runner.predict_ceremony({"started": False, "required": 3}, "start", 1)
        assert after == {"started": True, "nonce": None, "progress": 1, "required": 3}
        assert complete is False

    def test_continue_to_quorum_clears_attempt(self):
        after, complete = runner.predict_ceremony({"started": True, "nonce": "n", "progress": 2, "required": 3},
                                                  "continue", 1)
        assert complete is True
        assert after["started"] is False

    def test_replace_discards_foreign_progress(self):
        after, complete = runner.predict_ceremony({"started": True, "nonce": "n", "progress": 2, "required": 3},
                                                  "replace", 1)
        assert after["progress"] == 1 and not complete


class TestSubmitShares:
    def test_already_provided_counts_as_progress(self):
        def update(key, nonce):
            if key == "a":
                raise api_error(400, "given key has already been provided during this generation operation")
            return {"progress": 2, "complete": False}

        out = runner.submit_shares(update, ["a", "b"], "n", 3, 1)
        assert out["accepted"] == 1 and out["already"] == 1 and not out["complete"]

    def test_stops_at_quorum(self):
        sent = []

        def update(key, nonce):
            sent.append(key)
            return {"progress": len(sent), "complete": len(sent) == 2, "encoded_token": "x"}

        out = runner.submit_shares(update, ["a", "b", "c"], "n", 2)
        assert sent == ["a", "b"] and out["unused"] == 1 and out["complete"]

    def test_rejected_combination_says_attempt_reset(self):
        def update(key, nonce):
            raise api_error(400, "root generation aborted: root key verification failed: bad")

        with pytest.raises(runner.CeremonyError) as exc:
            runner.submit_shares(update, ["a"], "nonce-7", 3, 2)
        assert "progress is back to 0" in exc.value.message
        assert "nonce-7 is still open" in exc.value.message
        assert exc.value.result["progress"] == 0

    def test_malformed_share_names_index(self):
        def update(key, nonce):
            if key == "bad":
                raise api_error(400, "'key' must be a valid hex or base64 string")
            return {"progress": 1, "complete": False}

        with pytest.raises(runner.CeremonyError) as exc:
            runner.submit_shares(update, ["good", "bad"], "n", 3)
        assert "key_shares[1]" in exc.value.message
        assert "bad" not in exc.value.message.replace("key_shares", "")

    def test_unknown_error_propagates(self):
        def update(key, nonce):
            raise api_error(500, "internal error")

        with pytest.raises(VaultAPIError):
            runner.submit_shares(update, ["a"], "n", 3)


class TestBatchHelpers:
    def test_policy_text_contains_documented_paths(self):
        text = runner.batch_policy_text(True)
        assert 'path "sys/replication/dr/secondary/promote"' in text
        assert 'path "sys/replication/dr/secondary/update-primary"' in text
        assert "sys/storage/raft/autopilot/state" in text
        assert "autopilot" not in runner.batch_policy_text(False)

    def test_policy_compare_ignores_surrounding_whitespace(self):
        text = runner.batch_policy_text(True)
        assert not runner.policy_differs("\n" + text + "  \n", text)
        assert runner.policy_differs(None, text)
        assert runner.policy_differs(text.replace("update", "read"), text)

    def test_role_compare(self):
        good = {"allowed_policies": ["dr-secondary-promotion"], "orphan": True, "renewable": False,
                "token_type": "batch", "period": 0}
        assert not runner.role_differs(good, "dr-secondary-promotion")
        assert runner.role_differs(dict(good, token_type="service"), "dr-secondary-promotion")
        assert runner.role_differs(dict(good, allowed_policies=["default", "dr-secondary-promotion"]),
                                   "dr-secondary-promotion")
        assert runner.role_differs(None, "dr-secondary-promotion")
        assert not runner.role_differs(dict(good, allowed_policies="dr-secondary-promotion"), "dr-secondary-promotion")

    def test_batch_token_detection(self):
        assert runner.looks_like_batch_token("hvb.AAAA")
        assert runner.looks_like_batch_token("b.AAAA")
        assert not runner.looks_like_batch_token("hvs.AAAA")


# ----------------------------------------------------------------------------- main(): ceremony

def test_whole_ceremony_in_one_run(capsys, vault):
    out = run(capsys, {"key_shares": SHARES[:3]})
    assert out["_rc"] == 0, out
    assert out["changed"] and out["complete"]
    assert out["dr_operation_token"] == TOKEN
    assert out["otp"] == "Q" * OTP_LENGTH  # generated by Vault in this run
    assert vault.attempt is None
    assert vault.calls.count("attempt_update") == 3


def test_three_holders_in_separate_runs(capsys, vault):
    first = run(capsys, {"key_shares": [SHARES[0]]})
    assert first["changed"] and not first["complete"] and first["progress"] == 1
    nonce, otp = first["nonce"], first["otp"]
    second = run(capsys, {"key_shares": [SHARES[1]], "nonce": nonce})
    assert second["progress"] == 2 and "otp" not in second
    third = run(capsys, {"key_shares": [SHARES[2]], "nonce": nonce, "otp": otp})
    assert third["complete"] and third["dr_operation_token"] == TOKEN
    assert third["encoded_token"] == encode(TOKEN, otp)


def test_final_run_without_otp_returns_encoded_token_only(capsys, vault):
    first = run(capsys, {"key_shares": SHARES[:2]})
    out = run(capsys, {"key_shares": [SHARES[2]], "nonce": first["nonce"]})
    assert out["complete"] and "dr_operation_token" not in out
    assert out["encoded_token"] == encode(TOKEN, first["otp"])
    assert "otp" in out["msg"] and any("otp" in w for w in warnings_of(out))


def test_repeated_share_is_progress_not_error(capsys, vault):
    first = run(capsys, {"key_shares": [SHARES[0]]})
    again = run(capsys, {"key_shares": [SHARES[0]], "nonce": first["nonce"]})
    assert again["_rc"] == 0
    assert again["changed"] is False and again["progress"] == 1
    assert any("already been counted" in w for w in warnings_of(again))


def test_foreign_attempt_is_not_touched(capsys, vault):
    vault.start(None)
    foreign = vault.attempt["nonce"]
    out = run(capsys, {"key_shares": [SHARES[0]]})
    assert out["failed"] and foreign in out["msg"] and "cancel_foreign_attempt" in out["msg"]
    assert vault.writes() == [] and vault.attempt["nonce"] == foreign


def test_foreign_attempt_cancelled_on_request(capsys, vault):
    vault.start(None)
    foreign = vault.attempt["nonce"]
    out = run(capsys, {"key_shares": [SHARES[0]], "cancel_foreign_attempt": True})
    assert out["_rc"] == 0 and out["cancelled"] and out["nonce"] != foreign and out["progress"] == 1
    assert vault.writes()[:2] == ["attempt_cancel", "attempt_start"]


def test_wrong_share_in_resumed_attempt_keeps_it_open(capsys, vault):
    first = run(capsys, {"key_shares": SHARES[:2]})
    out = run(capsys, {"key_shares": ["ff" * 16 + "09"], "nonce": first["nonce"]})
    assert out["failed"]
    assert "progress is back to 0" in out["msg"] and first["nonce"] in out["msg"]
    assert vault.attempt is not None and vault.attempt["nonce"] == first["nonce"]
    assert vault.attempt["provided"] == []
    # The holders contribute again to the same nonce and finish.
    again = run(capsys, {"key_shares": SHARES[:3], "nonce": first["nonce"], "otp": first["otp"]})
    assert again["dr_operation_token"] == TOKEN


def test_rejected_quorum_in_the_run_that_started_the_attempt_leaves_it_open(capsys, vault):
    """Vault keeps the attempt (nonce, OTP) open with progress 0 when the quorum is rejected; so does
    the module, and it hands back what the retry needs: the nonce and, secret, the OTP."""
    out = run(capsys, {"key_shares": SHARES[:2] + ["ff" * 16 + "09"]})
    assert out["failed"] and out["changed"] and out["attempt_running"] and out["progress"] == 0
    assert vault.attempt is not None and vault.attempt["provided"] == []
    assert "attempt_cancel" not in vault.writes()
    assert out["nonce"] == vault.attempt["nonce"] and out["otp"] == vault.attempt["otp"]
    assert "progress is back to 0" in out["msg"] and "still open" in out["msg"]
    assert "Retry: pass nonce: %s and the otp this run returned" % out["nonce"] in out["msg"]
    assert "cancelled" not in out["msg"]
    # The retry under the same nonce completes and decodes with the OTP of the failed run.
    again = run(capsys, {"key_shares": SHARES[:3], "nonce": out["nonce"], "otp": out["otp"]})
    assert again["complete"] and again["dr_operation_token"] == TOKEN and vault.attempt is None


def test_rejected_quorum_with_a_given_otp_does_not_return_it(capsys, vault):
    otp = "Z" * OTP_LENGTH
    out = run(capsys, {"key_shares": ["ff" * 16 + "09"] + SHARES[:2], "otp": otp})
    assert out["failed"] and out["attempt_running"] and vault.attempt["otp"] == otp
    assert out.get("otp") in (None, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")
    assert "and the otp this run was given" in out["msg"] and otp not in json.dumps(out)


def test_rejected_quorum_after_replacing_a_foreign_attempt(capsys, vault):
    run(capsys, {})
    out = run(capsys, {"key_shares": SHARES[:2] + ["ff" * 16 + "09"], "cancel_foreign_attempt": True})
    assert out["failed"] and out["cancelled"] is True and out["attempt_running"]
    assert vault.attempt is not None and out["nonce"] == vault.attempt["nonce"] and out["otp"]


def test_failed_run_withdraws_the_attempt_it_started(capsys, vault):
    out = run(capsys, {"key_shares": [SHARES[0], "not-hex!"]})
    assert out["failed"] and "key_shares[1]" in out["msg"] and "was cancelled" in out["msg"]
    assert "otp" not in out  # the OTP of a withdrawn attempt is useless; do not spread it
    assert vault.attempt is None


def test_share_secret_never_in_output(capsys, vault):
    out = run(capsys, {"key_shares": [SHARES[0], "zz" + SHARES[1][2:]]})
    text = json.dumps(out)
    assert SHARES[0] not in text and SHARES[1][2:] not in text


def test_start_only(capsys, vault):
    out = run(capsys, {})
    assert out["changed"] and out["attempt_running"] and out["progress"] == 0 and out["otp"]
    assert vault.attempt is not None


def test_status_only_is_not_a_change(capsys, vault):
    first = run(capsys, {})
    out = run(capsys, {"nonce": first["nonce"]})
    assert out["changed"] is False and out["progress"] == 0


def test_user_otp_is_used_and_not_echoed(capsys, vault):
    otp = "Z" * OTP_LENGTH
    out = run(capsys, {"key_shares": SHARES[:3], "otp": otp})
    assert out["dr_operation_token"] == TOKEN
    assert out.get("otp") in (None, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")


def test_user_otp_wrong_length_fails_before_start(capsys, vault):
    out = run(capsys, {"key_shares": SHARES[:1], "otp": "short"})
    assert out["failed"] and "exactly 28 characters" in out["msg"]
    assert vault.writes() == []


def test_nonce_of_finished_attempt(capsys, vault):
    out = run(capsys, {"key_shares": [SHARES[0]], "nonce": "gone-nonce"})
    assert out["failed"] and "gone-nonce" in out["msg"]


def test_check_mode_writes_nothing(capsys, vault):
    out = run(capsys, {"key_shares": SHARES[:3]}, check=True, diff=True)
    assert out["changed"] and out["complete"]
    assert vault.writes() == []
    assert out["diff"]["before"]["attempt"]["started"] is False


def test_check_mode_predicts_progress(capsys, vault):
    first = run(capsys, {"key_shares": [SHARES[0]]})
    vault.calls.clear()
    out = run(capsys, {"key_shares": [SHARES[1]], "nonce": first["nonce"]}, check=True, diff=True)
    assert out["changed"] and out["progress"] == 2 and not out["complete"]
    assert out["diff"]["after"]["attempt"]["progress"] == 2
    assert vault.writes() == [] and len(vault.attempt["provided"]) == 1


def test_diff_shows_roles_and_attempt(capsys, vault):
    out = run(capsys, {"key_shares": [SHARES[0]]}, diff=True)
    assert out["diff"]["before"]["dr"] == "secondary"
    assert out["diff"]["after"]["attempt"]["progress"] == 1


@pytest.mark.parametrize("mode,needle", [("primary", "method: batch"), ("disabled", "disabled"),
                                         ("bootstrapping", "bootstrapping")])
def test_ceremony_needs_dr_secondary(capsys, monkeypatch, mode, needle):
    fake = FakeVault(dr_mode=mode)
    fake.install(monkeypatch)
    out = run(capsys, {"key_shares": [SHARES[0]]})
    assert out["failed"] and "not one" in out["msg"] and needle in out["msg"]
    assert fake.writes() == []


def test_sealed_cluster(capsys, monkeypatch):
    fake = FakeVault(sealed=True)
    fake.install(monkeypatch)
    out = run(capsys, {"key_shares": [SHARES[0]]})
    assert out["failed"] and "sealed" in out["msg"] and "nseal" in out["msg"]


def test_unreachable_cluster_is_clean_error(capsys, monkeypatch):
    def refuse(c, **query):
        raise VaultConnectionError(URL, "refused", "connection refused")

    monkeypatch.setattr(_api, "health", refuse)
    out = run(capsys, {"key_shares": [SHARES[0]]})
    assert out["failed"] and "connection refused" in out["msg"] and "url" in out["msg"]
    assert "Traceback" not in json.dumps(out)


def test_vault2_token_required_message(capsys, vault, monkeypatch):
    def denied(c):
        raise VaultAPIError(403, ["permission denied"], "GET", "x/attempt")

    monkeypatch.setattr(_api, "operation_token_attempt_status", denied)
    out = run(capsys, {"key_shares": [SHARES[0]]})
    assert out["failed"] and "token" in out["msg"] and "2.0" in out["msg"]


def test_community_edition_is_named(capsys, vault, monkeypatch):
    def ce(c):
        raise VaultAPIError(404, ["1 error occurred:\n\t* enterprise-only feature\n\n"], "GET", "sys/replication/status")

    monkeypatch.setattr(_api, "replication_status", ce)
    out = run(capsys, {"key_shares": [SHARES[0]]})
    assert out["failed"] and "not Vault Enterprise" in out["msg"] and vault.writes() == []


def test_batch_write_failures_name_the_step(capsys, primary, monkeypatch):
    def lost(c, *args, **kwargs):
        raise VaultConnectionError(URL, "timeout", "read timed out")

    monkeypatch.setattr(_api, "write_token_role", lost)
    out = run(capsys, {"method": "batch", "token": "root"})
    assert out["failed"] and out["msg"].startswith("Failed to write the batch token policy and role: ")
    assert out["connection_error"] == "timeout"

    def denied(c, **kwargs):
        raise VaultAPIError(403, ["permission denied"], "POST", "auth/token/create/failover-handler")

    monkeypatch.setattr(_api, "write_token_role", primary.write_role)
    monkeypatch.setattr(_api, "create_token", denied)
    out = run(capsys, {"method": "batch", "token": "root"})
    assert out["failed"] and "Failed to issue a batch token from role failover-handler" in out["msg"]
    assert "Check the token option" in out["msg"]


def test_duplicate_shares_rejected(capsys, vault):
    out = run(capsys, {"key_shares": [SHARES[0], SHARES[0]]})
    assert out["failed"] and "twice" in out["msg"] and vault.writes() == []


def test_legacy_server_gets_client_generated_otp(capsys, monkeypatch):
    fake = FakeVault(otp_length=0)
    fake.token = str(uuid.UUID(bytes=b"\x01" * 16))
    fake.install(monkeypatch)

    def start(c, otp=None, pgp_key=None):
        # Servers before 1.0 cannot generate the OTP: the client must send one.
        assert otp and len(base64.b64decode(otp)) == 16
        fake.attempt = {"nonce": "legacy", "otp": otp, "provided": []}
        return fake.status()

    def update(c, key, nonce):
        fake.attempt["provided"].append(key)
        if len(fake.attempt["provided"]) < fake.threshold:
            return fake.status()
        otp = base64.b64decode(fake.attempt["otp"])
        raw = bytes(a ^ b for a, b in zip(uuid.UUID(fake.token).bytes, otp))
        fake.attempt = None
        return {"complete": True, "progress": 3, "required": 3, "encoded_token": base64.b64encode(raw).decode()}

    monkeypatch.setattr(_api, "operation_token_attempt_start", start)
    monkeypatch.setattr(_api, "operation_token_attempt_update", update)
    out = run(capsys, {"key_shares": SHARES[:3]})
    assert out["_rc"] == 0, out
    assert out["dr_operation_token"] == fake.token


# ----------------------------------------------------------------------------- main(): absent

def test_revoke_token(capsys, vault):
    out = run(capsys, {"state": "absent", "dr_operation_token": TOKEN})
    assert out["changed"] and out["revoked"]
    again = run(capsys, {"state": "absent", "dr_operation_token": TOKEN})
    assert again["_rc"] == 0 and again["changed"] is False and "nothing to revoke" in again["msg"]


def test_revoke_in_check_mode_writes_nothing(capsys, vault):
    out = run(capsys, {"state": "absent", "dr_operation_token": TOKEN}, check=True)
    assert out["changed"] and vault.writes() == [] and TOKEN in vault.op_tokens


def test_batch_token_not_revoked(capsys, vault):
    out = run(capsys, {"state": "absent", "dr_operation_token": "hvb.something"})
    assert out["changed"] is False and any("batch" in w for w in warnings_of(out))
    assert "delete_operation_token" not in vault.calls


def test_cancel_attempt_idempotent(capsys, vault):
    first = run(capsys, {})
    check = run(capsys, {"state": "absent", "cancel_attempt": True, "nonce": first["nonce"]}, check=True)
    assert check["changed"] and vault.attempt is not None
    out = run(capsys, {"state": "absent", "cancel_attempt": True, "nonce": first["nonce"]})
    assert out["changed"] and out["cancelled"] and vault.attempt is None
    check2 = run(capsys, {"state": "absent", "cancel_attempt": True, "nonce": first["nonce"]}, check=True)
    assert check2["changed"] is False
    again = run(capsys, {"state": "absent", "cancel_attempt": True, "nonce": first["nonce"]})
    assert again["changed"] is False


def test_cancel_refuses_other_nonce(capsys, vault):
    run(capsys, {})
    out = run(capsys, {"state": "absent", "cancel_attempt": True, "nonce": "other"})
    assert out["failed"] and "cancel_foreign_attempt" in out["msg"] and vault.attempt is not None


def test_absent_needs_something_to_do(capsys, vault):
    out = run(capsys, {"state": "absent"})
    assert out["failed"] and "dr_operation_token" in out["msg"] and "cancel_attempt" in out["msg"]


# ----------------------------------------------------------------------------- main(): batch

@pytest.fixture
def primary(monkeypatch):
    fake = FakeVault(dr_mode="primary")
    fake.install(monkeypatch)
    return fake


def test_batch_creates_policy_role_and_token(capsys, primary):
    out = run(capsys, {"method": "batch", "token": "root", "ttl": "4h"})
    assert out["_rc"] == 0, out
    assert out["changed"] and out["policy_changed"] and out["role_changed"]
    assert out["dr_operation_token"].startswith("hvb.") and out["token_ttl"] == 14400
    assert primary.roles["failover-handler"] == {"allowed_policies": ["dr-secondary-promotion"], "orphan": True,
                                                 "renewable": False, "token_type": "batch"}
    assert primary.issued == [("failover-handler", {"ttl": "4h"})]
    assert "sys/replication/dr/secondary/promote" in primary.policies["dr-secondary-promotion"]


def test_batch_four_passes_without_token(capsys, primary):
    args = {"method": "batch", "token": "root", "issue_token": False}
    assert run(capsys, args, check=True)["changed"] is True
    assert primary.writes() == []
    assert run(capsys, args)["changed"] is True
    assert run(capsys, args, check=True)["changed"] is False
    out = run(capsys, args)
    assert out["changed"] is False and not out["policy_changed"] and not out["role_changed"]


def test_batch_issuance_is_always_a_change(capsys, primary):
    run(capsys, {"method": "batch", "token": "root"})
    primary.calls.clear()
    out = run(capsys, {"method": "batch", "token": "root"})
    assert out["changed"] and not out["policy_changed"] and not out["role_changed"]
    assert primary.writes() == ["create_token"]


def test_batch_fixes_drifted_role(capsys, primary):
    run(capsys, {"method": "batch", "token": "root", "issue_token": False})
    primary.roles["failover-handler"]["token_type"] = "service"
    out = run(capsys, {"method": "batch", "token": "root", "issue_token": False}, diff=True)
    assert out["role_changed"] and not out["policy_changed"]
    assert out["diff"]["before"]["role"]["token_type"] == "service"
    assert out["diff"]["after"]["role"]["token_type"] == "batch"


def test_batch_needs_token(capsys, primary):
    out = run(capsys, {"method": "batch"})
    assert out["failed"] and "needs token" in out["msg"]


def test_batch_refused_on_secondary(capsys, vault):
    out = run(capsys, {"method": "batch", "token": "root"})
    assert out["failed"] and "DR primary" in out["msg"]


def test_batch_absent_is_an_error(capsys, primary):
    out = run(capsys, {"method": "batch", "state": "absent", "dr_operation_token": "hvb.x"})
    assert out["failed"] and "cannot be revoked" in out["msg"]
