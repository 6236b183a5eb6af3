# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""root_token: option checks, then main() (module and action plugin) against the scripted fake of
dr_operation_token's tests, with the ceremony behind the generate-root endpoints."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils import _root_token as runner
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError
from ansible_collections.vaultops.replication.plugins.modules import root_token as mod
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import run_module
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.test_dr_operation_token import (
    SHARES,
    TOKEN,
    FakeVault,
)

URL = "http://perf.example.test:8200"


class FakeSecondary(FakeVault):
    """A performance secondary: the generate-root endpoints run the ceremony, lookup-self and
    revoke-self know which tokens are valid."""

    def __init__(self, perf_mode="secondary", **kwargs):
        super().__init__(dr_mode="disabled", **kwargs)
        self.perf_mode = perf_mode
        self.valid_tokens = set()

    def install(self, monkeypatch):
        super().install(monkeypatch)
        monkeypatch.setattr(_api, "replication_status", lambda c: {"dr": self.dr_status(), "performance": {
            "mode": self.perf_mode, "cluster_id": "set-p", "state": "stream-wals"}})
        monkeypatch.setattr(_api, "replication_type_status", lambda c, t, **kw: {
            "mode": self.perf_mode} if t == "performance" else self.dr_status())
        for name, fn in (("generate_root_status", lambda c: self.status()), ("generate_root_start", self.start),
                         ("generate_root_update", self.update), ("generate_root_cancel", self.cancel)):
            monkeypatch.setattr(_api, name, self._recorded(name, fn))
        # the DR endpoints must not be used
        for name in ("operation_token_attempt_status", "operation_token_attempt_start",
                     "operation_token_attempt_update", "operation_token_attempt_cancel"):
            monkeypatch.setattr(_api, name, self._forbidden(name))
        monkeypatch.setattr(_api, "lookup_self", self._recorded("lookup_self", self.lookup_self))
        monkeypatch.setattr(runner, "revoke_self", self._recorded("revoke_self", self.revoke_self))

    def _recorded(self, name, fn):
        def inner(*args, **kwargs):
            self.calls.append(name)
            return fn(*args, **kwargs)
        return inner

    @staticmethod
    def _forbidden(name):
        def inner(*args, **kwargs):
            raise AssertionError("%s called" % name)
        return inner

    def update(self, c, key, nonce):
        out = super().update(c, key, nonce)
        if out.get("complete"):
            self.valid_tokens.add(self.token)
        return out

    def lookup_self(self, c):
        if c.token not in self.valid_tokens:
            raise VaultAPIError(403, ["permission denied"], "GET", "auth/token/lookup-self")
        return {"policies": ["root"]}

    def revoke_self(self, c):
        if c.token not in self.valid_tokens:
            raise VaultAPIError(403, ["permission denied"], "POST", "auth/token/revoke-self")
        self.valid_tokens.discard(c.token)


@pytest.fixture
def vault(monkeypatch):
    fake = FakeSecondary()
    fake.install(monkeypatch)
    return fake


def run(capsys, args, check=False, diff=False):
    return run_module(capsys, mod.main, dict(dict(url=URL), **args), check=check, diff=diff)


class TestCheckOptions:
    BASE = dict(state="present", key_shares=[], root_token=None, cancel_attempt=False, otp_length=None)

    @pytest.mark.parametrize("changes, fragment", [
        (dict(root_token="x"), "root_token is for state: absent"),
        (dict(cancel_attempt=True), "cancel_attempt is for state: absent"),
        (dict(key_shares=["a", "a"]), "same share twice"),
        (dict(key_shares=["a", " "]), "empty entry"),
        (dict(otp_length=-1), "otp_length"),
        (dict(state="absent"), "needs root_token"),
        (dict(state="absent", root_token="x", key_shares=["a"]), "key_shares is for state: present"),
    ])
    def test_problems(self, changes, fragment):
        assert fragment in runner.check_options(dict(self.BASE, **changes))

    def test_fine(self):
        assert runner.check_options(dict(self.BASE, key_shares=["a"])) is None
        assert runner.check_options(dict(self.BASE, state="absent", root_token="x")) is None


def test_bad_options_fail_before_any_request(vault, capsys):
    out = run(capsys, dict(root_token="secret-value"))
    assert out["failed"] and "root_token is for state: absent" in out["msg"] and vault.calls == []
    assert "secret-value" not in json.dumps(out)


def test_three_holders_resume_by_nonce_and_decode(vault, capsys):
    checked = run(capsys, dict(key_shares=SHARES[:1]), check=True)
    assert checked["changed"] and checked["progress"] == 1 and vault.writes() == []
    first = run(capsys, dict(key_shares=SHARES[:1]))
    assert first["changed"] and first["progress"] == 1 and first["otp"] and first["attempt_running"]
    nonce, otp = first["nonce"], first["otp"]
    again = run(capsys, dict(key_shares=SHARES[:1], nonce=nonce))
    assert not again["changed"] and again["progress"] == 1 and "otp" not in again
    second = run(capsys, dict(key_shares=SHARES[1:2], nonce=nonce))
    assert second["progress"] == 2 and "root_token" not in second
    last = run(capsys, dict(key_shares=SHARES[2:3], nonce=nonce, otp=otp))
    assert last["complete"] and last["root_token"] == TOKEN and last["verified"] is True
    assert not last["attempt_running"] and "root token generated and decoded" in last["msg"]
    assert "generate_root_start" in vault.calls and "lookup_self" in vault.calls


def test_without_otp_only_the_encoded_token_comes_back(vault, capsys):
    first = run(capsys, dict(key_shares=SHARES[:2]))
    last = run(capsys, dict(key_shares=SHARES[2:3], nonce=first["nonce"]))
    assert last["complete"] and "root_token" not in last and last["encoded_token"]
    assert "vault operator generate-root -decode=" in last["msg"]


def test_foreign_attempt_is_left_alone(vault, capsys):
    run(capsys, dict(key_shares=SHARES[:1]))
    foreign = run(capsys, dict(key_shares=SHARES[1:2]))
    assert foreign["failed"] and "cancel_foreign_attempt" in foreign["msg"]
    assert vault.attempt is not None and len(vault.attempt["provided"]) == 1


def test_refused_on_a_dr_secondary(monkeypatch, capsys):
    fake = FakeSecondary(perf_mode="disabled")
    fake.dr_mode = "secondary"
    fake.install(monkeypatch)
    out = run(capsys, dict(key_shares=SHARES[:1]))
    assert out["failed"] and "dr_operation_token" in out["msg"] and fake.writes() == []


def test_revoke_check_mode_then_apply_then_rerun(vault, capsys):
    vault.valid_tokens.add(TOKEN)
    checked = run(capsys, dict(state="absent", root_token=TOKEN), check=True, diff=True)
    assert checked["changed"] and checked["revoked"] and TOKEN in vault.valid_tokens
    assert checked["diff"]["before"]["root_token"] == "valid"
    assert "revoke_self" not in vault.calls
    done = run(capsys, dict(state="absent", root_token=TOKEN))
    assert done["changed"] and done["revoked"] and TOKEN not in vault.valid_tokens
    again = run(capsys, dict(state="absent", root_token=TOKEN))
    assert not again["changed"] and not again["revoked"] and "not valid" in again["msg"]
    for out in (checked, done, again):
        assert TOKEN not in json.dumps(out)


def test_cancel_attempt(vault, capsys):
    first = run(capsys, dict(key_shares=SHARES[:1]))
    out = run(capsys, dict(state="absent", cancel_attempt=True, nonce=first["nonce"]))
    assert out["changed"] and out["cancelled"] and vault.attempt is None
    again = run(capsys, dict(state="absent", cancel_attempt=True))
    assert not again["changed"] and "no generate-root attempt" in again["msg"]
