"""sys/generate-root on secondaries (guide: "generate-root … using the unseal or recovery keys from
the primary"): a performance secondary takes the primary's key shares and refuses its own old ones;
the root token it produces works on that secondary only; a DR secondary refuses the root ceremony
(it has the DR operation token ceremony instead)."""

from __future__ import annotations

from conftest import Api, wait_for
from test_replication_dr import activate

from vaultlab import messages as M
from vaultlab.crypto import otp
from vaultlab.testing import Lab


def ceremony(api: Api, keys: list[str]) -> tuple[dict, dict]:
    """Start an attempt and feed ``keys``; return (start answer, last update answer)."""
    assert api("DELETE", "sys/generate-root/attempt", token=None).status == 204
    started = api("PUT", "sys/generate-root/attempt", {}, token=None)
    assert started.status == 200, started
    last = None
    for key in keys:
        last = api("PUT", "sys/generate-root/update", {"key": key, "nonce": started.json["nonce"]}, token=None)
    return started.json, last


def test_root_token_on_a_performance_secondary_with_the_primarys_keys(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "perf", "dr"]) as lab:
        p, s, d = Api(lab, "primary"), Api(lab, "perf"), Api(lab, "dr")
        primary, perf = lab.cluster("primary"), lab.cluster("perf")
        primary_keys = primary["unseal_keys_b64"][:primary["threshold"]]
        own_keys = perf["unseal_keys_b64"][:perf["threshold"]]
        for rtype in ("performance", "dr"):
            assert p("POST", f"sys/replication/{rtype}/primary/enable", {}).status == 200
        activate(p, s, "perf-1", "performance")
        activate(p, d, "dr-1", "dr")

        idle = s("GET", "sys/generate-root/attempt", token=None).json
        assert idle["started"] is False and idle["required"] == primary["threshold"]

        # Its own (pre-activation) shares no longer open anything: the attempt stays open for a retry.
        started, refused = ceremony(s, own_keys)
        assert refused.status == 400 and refused.errors[0].startswith("root generation aborted: ")
        again = s("GET", "sys/generate-root/attempt", token=None).json
        assert again["started"] and again["nonce"] == started["nonce"] and again["progress"] == 0
        for key in primary_keys:
            done = s("PUT", "sys/generate-root/update", {"key": key, "nonce": started["nonce"]}, token=None)
        assert done.status == 200 and done.json["complete"] and done.json["encoded_root_token"] == done.json["encoded_token"]
        token = otp.decode_token(done.json["encoded_token"], started["otp"])

        # Valid on that secondary only: tokens are local to each performance cluster.
        looked = s("GET", "auth/token/lookup-self", token=token)
        assert looked.status == 200 and looked.data["policies"] == ["root"] and looked.data["path"] == "auth/token/root"
        assert s("GET", "sys/mounts", token=token).status == 200
        assert p("GET", "auth/token/lookup-self", token=token).status == 403
        assert p("GET", "sys/mounts", token=token).status == 403
        # ... and the primary's root token is worth nothing on the secondary.
        assert s("GET", "sys/mounts", token=p.token).status == 403
        # A root token made on the primary with the same keys stays on the primary.
        p_started, p_done = ceremony(p, primary_keys)
        primary_root = otp.decode_token(p_done.json["encoded_token"], p_started["otp"])
        assert p("GET", "sys/mounts", token=primary_root).status == 200
        assert p("POST", "sys/mounts/later", {"type": "kv"}, token=primary_root).status == 204
        wait_for(lambda: "later/" in s("GET", "sys/mounts", token=token).data, timeout=20, what="mount streamed")
        assert s("GET", "sys/mounts", token=primary_root).status == 403
        # Still valid after more streaming, and revocable there.
        assert s("POST", "auth/token/revoke-self", {}, token=token).status == 204
        assert s("GET", "sys/mounts", token=token).status == 403

        # A DR secondary has no root ceremony: the DR operation token replaces it.
        dr_root = d("GET", "sys/generate-root/attempt", token=None)
        assert dr_root.status == 400 and dr_root.errors == [M.DR_SECONDARY_PATH_DISABLED]
        dr_attempt = d("GET", "sys/replication/dr/secondary/generate-operation-token/attempt", token=None)
        assert dr_attempt.status == 200 and dr_attempt.json["required"] == primary["threshold"]
