"""Tests for vaultlab.issued: the journal of issued secrets and what is derived from it."""

from __future__ import annotations

import json
import os
import stat

from vaultlab import issued
from vaultlab.crypto import activation, batch
from vaultlab.crypto import otp as otp_lib


def test_extract_takes_secret_fields_only():
    body = {"auth": {"client_token": "hvs.AAAAAAAAAAAAAAAAAAAAAAAA", "accessor": "x" * 24, "policies": ["root"]},
            "data": {"keys_base64": ["a" * 44, "b" * 44], "otp": "", "nonce": "n" * 36, "token_type": "service"},
            "wrap_info": {"token": "eyJ" + "c" * 40, "ttl": 1800}}
    found = issued.extract(body)
    assert sorted(found) == sorted([("client_token", "hvs.AAAAAAAAAAAAAAAAAAAAAAAA"), ("keys_base64", "a" * 44),
                                    ("keys_base64", "b" * 44), ("token", "eyJ" + "c" * 40)])


def test_journal_is_private_and_derivations_are_listed(tmp_path):
    (tmp_path / "lab.json").write_text(json.dumps({"clusters": {"primary": {
        "root_token": "hvs.RRRRRRRRRRRRRRRRRRRRRRRR", "unseal_keys_b64": ["k" * 44], "api_addr": "http://127.0.0.1:1"}}}))
    (tmp_path / "tokens.json").write_text(json.dumps({"perf": "hvs.PPPPPPPPPPPPPPPPPPPPPPPP"}))
    token = batch.seal(batch.new_key(), {"policies": ["default"]})
    otp = otp_lib.generate_otp(len(token))
    jwt = activation.mint(activation.generate_key(), addr="http://127.0.0.1:1", ttl_seconds=60,
                          jti="hvs.WWWWWWWWWWWWWWWWWWWWWWWW")
    issued.record(tmp_path, "dr-1", "sys/replication/dr/secondary/generate-operation-token/attempt", [("otp", otp)])
    issued.record(tmp_path, "dr-1", "sys/replication/dr/secondary/generate-operation-token/update",
                  [("encoded_token", otp_lib.encode_token(token, otp))])
    issued.record(tmp_path, "primary-1", "sys/replication/dr/primary/secondary-token", [("token", jwt)])
    issued.record(tmp_path, "primary-1", "sys/health", [])  # nothing to keep: no line
    journal = tmp_path / issued.JOURNAL
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600
    assert len(journal.read_text().splitlines()) == 3
    with open(journal, "a", encoding="utf-8") as handle:
        handle.write('{"cut short')  # a node killed mid-write

    listed = {s["value"]: s["kind"] for s in issued.issued(tmp_path)}
    assert listed[token] == "decoded token"
    assert listed["hvs.WWWWWWWWWWWWWWWWWWWWWWWW"] == "wrapping token in an activation token"
    assert listed[jwt] == "token" and listed[otp] == "otp"
    assert listed["hvs.RRRRRRRRRRRRRRRRRRRRRRRR"] == "root_token" and listed["k" * 44] == "unseal_keys_b64"
    assert listed["hvs.PPPPPPPPPPPPPPPPPPPPPPPP"] == "root token of perf"
    assert "http://127.0.0.1:1" not in listed
