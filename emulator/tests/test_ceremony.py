"""generate-operation-token: the key-share ceremony on a DR secondary (reference §5)."""

from __future__ import annotations

import base64
import re
import uuid

import pytest
from conftest import Api
from test_replication_dr import activate, status

from vaultlab import messages as M
from vaultlab.crypto import otp, shamir
from vaultlab.model.errors import VaultError
from vaultlab.model.values import root_key_hash
from vaultlab.replication import ceremony
from vaultlab.testing import Lab

ATTEMPT = "sys/replication/dr/secondary/generate-operation-token/attempt"
UPDATE = "sys/replication/dr/secondary/generate-operation-token/update"


def test_ceremony_with_three_shares_end_to_end(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "dr"]) as lab:
        p, d = Api(lab, "primary"), Api(lab, "dr")
        keys = lab.info["clusters"]["primary"]["unseal_keys_b64"]
        dr_own_keys = lab.info["clusters"]["dr"]["unseal_keys_b64"]
        assert lab.info["clusters"]["primary"]["threshold"] == 3

        not_dr = p("GET", ATTEMPT, token=None)
        assert not_dr.status == 400 and not_dr.errors == [M.REPL_CEREMONY_DR_ONLY]
        p("POST", "sys/replication/dr/primary/enable", {})
        activate(p, d, "dr1")

        idle = d("GET", ATTEMPT, token=None).json
        assert idle == {"nonce": "", "started": False, "progress": 0, "required": 3, "complete": False,
                        "encoded_token": "", "encoded_root_token": "", "pgp_fingerprint": "", "otp": "",
                        "otp_length": 28}
        short = d("POST", ATTEMPT, {"otp": "abc"}, token=None)
        assert short.status == 400 and short.errors == [M.OTP_WRONG_LENGTH]
        started = d("POST", ATTEMPT, {}, token=None).json
        assert started["started"] and re.fullmatch(r"[A-Za-z0-9]{28}", started["otp"])
        nonce, one_time = started["nonce"], started["otp"]
        busy = d("PUT", ATTEMPT, {}, token=None)
        assert busy.status == 400 and busy.errors == [M.ROOT_GEN_IN_PROGRESS]
        assert d("GET", ATTEMPT, token=None).json["otp"] == ""  # shown once only

        wrong_nonce = d("POST", UPDATE, {"key": keys[0], "nonce": str(uuid.uuid4())}, token=None)
        assert wrong_nonce.status == 400
        assert wrong_nonce.errors == [f'incorrect nonce supplied; nonce for this root generation operation is "{nonce}"']
        missing = d("POST", UPDATE, {"nonce": nonce}, token=None)
        assert missing.errors == [M.ROOT_GEN_KEY_MISSING]
        garbage = d("POST", UPDATE, {"key": "%%%", "nonce": nonce}, token=None)
        assert garbage.errors == [M.KEY_NOT_HEX_OR_B64]

        first = d("POST", UPDATE, {"key": keys[0], "nonce": nonce}, token=None).json
        assert first["progress"] == 1 and not first["complete"]
        dup = d("POST", UPDATE, {"key": keys[0], "nonce": nonce}, token=None)
        assert dup.status == 400 and dup.errors == [M.ROOT_GEN_DUPLICATE_KEY]
        assert d("POST", UPDATE, {"key": keys[1], "nonce": nonce}, token=None).json["progress"] == 2
        # The DR cluster's own (pre-activation) keys no longer match: its seal config is the primary's.
        wrong = d("POST", UPDATE, {"key": dr_own_keys[0], "nonce": nonce}, token=None)
        assert wrong.status == 400 and wrong.errors[0].startswith("root generation aborted: ")
        reopened = d("GET", ATTEMPT, token=None).json
        assert reopened["started"] and reopened["nonce"] == nonce and reopened["progress"] == 0

        for key in keys[:2]:
            d("POST", UPDATE, {"key": key, "nonce": nonce}, token=None)
        done = d("POST", UPDATE, {"key": keys[2], "nonce": nonce}, token=None).json
        assert done["complete"] and done["progress"] == 3 and done["encoded_root_token"] == ""
        assert "=" not in done["encoded_token"]
        token = otp.decode_token(done["encoded_token"], one_time)
        assert re.fullmatch(r"hvs\.[A-Za-z0-9]{24}", token)
        # sys/decode-token (1.13+) is a normal path: the DR secondary refuses it, any other cluster decodes.
        pair = {"encoded_token": done["encoded_token"], "otp": one_time}
        gated = d("PUT", "sys/decode-token", pair, token=None)
        assert gated.status == 400 and gated.errors == [M.DR_SECONDARY_PATH_DISABLED]
        assert p("PUT", "sys/decode-token", pair, token=None).data == {"token": token}
        assert d("GET", ATTEMPT, token=None).json["started"] is False

        # Cancel clears an attempt; DELETE with nothing running is fine too.
        d("POST", ATTEMPT, {}, token=None)
        assert d("DELETE", ATTEMPT, token=None).status == 204
        assert d("DELETE", ATTEMPT, token=None).status == 204

        # The token works for DR-token paths; after deletion it does not.
        check = d("POST", "sys/replication/dr/secondary/merkle-check", {"dr_operation_token": token})
        assert check.status == 200 and check.data["merkle_corruption_report"]["corrupted_root"] is False
        assert status(d)["last_corruption_check_epoch"] != "-62135596800"
        assert d("POST", "sys/replication/dr/secondary/operation-token/delete",
                 {"dr_operation_token": token}).status == 204
        gone = d("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": token})
        assert gone.status == 403


class FakeNode:
    """The slice of Node the ceremony uses, for unit tests without processes."""

    def __init__(self, shares=5, threshold=3):
        self.root = b"k" * 32
        self.keys = shamir.split(self.root, shares, threshold)
        self.config = {"secret_shares": shares, "secret_threshold": threshold, "root_key_hash": root_key_hash(self.root)}
        self.root_generation = None
        self.initialized = True

    def seal_config(self):
        return self.config

    def open_generation(self, slot):
        self.root_generation = slot

    def close_generation(self):
        self.root_generation = None

    def verify_key_shares(self, shares, config=None):
        from vaultlab.model.values import KeyVerificationError

        # As the node's seal does: shares that cannot be combined (a foreign share that happens to
        # have the x coordinate of one of ours: "duplicate part detected") fail verification too.
        try:
            key = shamir.combine(shares)
        except shamir.ShamirError as exc:
            raise KeyVerificationError("failed to unseal: %s" % exc) from None
        if root_key_hash(key) != self.config["root_key_hash"]:
            raise KeyVerificationError("failed to unseal: cipher: message authentication failed")
        return self.root


class FakeRepl:
    def __init__(self, otp_length):
        self.node = FakeNode()
        self.otp_length = otp_length
        self.stored = []

    def store_dr_token(self, token):
        self.stored.append(token)


@pytest.mark.parametrize("otp_length, pattern", [(28, r"hvs\.[A-Za-z0-9]{24}"), (26, r"s\.[A-Za-z0-9]{24}")])
def test_modern_encodings(otp_length, pattern):
    repl = FakeRepl(otp_length)
    started = ceremony.start(repl, {})
    assert len(started["otp"]) == otp_length and started["otp_length"] == otp_length
    result = None
    for key in repl.node.keys[:3]:
        result = ceremony.update(repl, {"key": key.hex(), "nonce": started["nonce"]})
    token = otp.decode_token(result["encoded_token"], started["otp"])
    assert re.fullmatch(pattern, token) and repl.stored == [token]


def test_legacy_encoding_with_client_otp():
    repl = FakeRepl(0)
    with pytest.raises(VaultError) as exc:
        ceremony.start(repl, {"otp": "too-short"})
    assert exc.value.errors == [M.GEN_LEGACY_OTP]
    chosen = base64.b64encode(b"0123456789abcdef").decode()
    started = ceremony.start(repl, {"otp": chosen})
    assert started["otp"] == "" and started["otp_length"] == 0
    result = None
    for key in repl.node.keys[2:5]:
        result = ceremony.update(repl, {"key": base64.b64encode(key).decode(), "nonce": started["nonce"]})
    assert result["complete"] and result["encoded_token"].endswith("==")
    token = otp.decode_legacy(result["encoded_token"], chosen)
    assert str(uuid.UUID(token)) == token == repl.stored[0]


def test_wrong_strategy_when_root_generation_runs():
    repl = FakeRepl(28)
    repl.node.root_generation = {"kind": "root", "nonce": "n1", "otp": "x" * 28, "shares": [], "otp_length": 28}
    with pytest.raises(VaultError) as exc:
        ceremony.update(repl, {"key": repl.node.keys[0].hex(), "nonce": "n1"})
    assert exc.value.errors == [M.ROOT_GEN_WRONG_STRATEGY]
    with pytest.raises(VaultError) as exc:
        ceremony.start(repl, {})
    assert exc.value.errors == [M.ROOT_GEN_IN_PROGRESS]
    ceremony.cancel(repl)  # another kind's attempt survives a DR cancel
    assert repl.node.root_generation["kind"] == "root"


@pytest.mark.parametrize("pattern", ["all wrong", "wrong first", "wrong last", "wrong last, same x"])
def test_wrong_quorum_keeps_the_attempt_open_for_a_retry_under_the_same_nonce(pattern):
    """Reference §5.3: at the threshold the shares are combined and progress reset to 0 first; a
    failed verification leaves the attempt (nonce, OTP) open, so the holders can simply retry."""
    repl = FakeRepl(28)
    foreign = shamir.split(b"x" * 32, 5, 3)  # shares of another cluster's key
    good = repl.node.keys
    started = ceremony.start(repl, {})
    nonce, one_time = started["nonce"], started["otp"]
    attempts = {"all wrong": foreign[:3], "wrong first": [foreign[0], good[0], good[1]],
                "wrong last": [good[0], good[1], foreign[2]],
                # A share's last byte is its x coordinate: two splits can draw the same one.
                "wrong last, same x": [good[0], good[1], foreign[2][:-1] + good[1][-1:]]}[pattern]
    for key in attempts[:-1]:
        assert ceremony.update(repl, {"key": key.hex(), "nonce": nonce})["progress"] in (1, 2)
    with pytest.raises(VaultError) as exc:
        ceremony.update(repl, {"key": attempts[-1].hex(), "nonce": nonce})
    assert exc.value.status == 400 and exc.value.errors[0].startswith("root generation aborted: ")
    after = ceremony.status(repl)
    assert after["started"] and after["nonce"] == nonce and after["progress"] == 0 and not after["complete"]
    assert repl.stored == []  # nothing was minted

    # Retry under the same nonce: the shares already given count again, the OTP is still the one
    # handed out at the start.
    result = None
    for key in good[:3]:
        result = ceremony.update(repl, {"key": key.hex(), "nonce": nonce})
    assert result["complete"] and result["nonce"] == nonce
    assert otp.decode_token(result["encoded_token"], one_time) == repl.stored[0]
    assert ceremony.status(repl)["started"] is False
