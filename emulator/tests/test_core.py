"""Core Vault API of a node: health, seal/unseal, tokens, policies, ACL, KV, wrapping."""

from __future__ import annotations

import base64

import pytest
from conftest import Api, call

from vaultlab.crypto import otp


# -- health ------------------------------------------------------------------------------


def test_health_active_body_and_codes(api: Api) -> None:
    reply = api("GET", "sys/health", token=None)
    assert reply.status == 200
    body = reply.json
    assert body["initialized"] is True and body["sealed"] is False and body["standby"] is False
    assert body["replication_dr_mode"] in ("disabled", "primary", "secondary", "bootstrapping", "unknown")
    assert isinstance(body["server_time_utc"], int) and body["enterprise"] is True
    assert isinstance(body["last_wal"], int) and body["cluster_id"]
    assert api("GET", "sys/health?activecode=299", token=None).status == 299
    head = api("HEAD", "sys/health?activecode=201", token=None)
    assert head.status == 201 and head.raw == b""


@pytest.mark.parametrize("query", ["activecode=abc", "standbyok=maybe", "sealedcode=1.5"])
def test_health_bad_query_is_400_with_empty_errors(api: Api, query: str) -> None:
    reply = api("GET", f"sys/health?{query}", token=None)
    assert reply.status == 400
    assert reply.json == {"errors": []}


def test_leader_on_active(api: Api) -> None:
    reply = api("GET", "sys/leader", token=None)
    assert reply.status == 200
    assert reply.json["is_self"] is True and reply.json["ha_enabled"] is True
    assert reply.json["leader_address"] == api.base()
    assert reply.json["leader_cluster_address"].startswith("http://127.0.0.1:")


# -- init / unseal ----------------------------------------------------------------------


def test_init_again_is_refused(api: Api) -> None:
    assert api("GET", "sys/init", token=None).json == {"initialized": True}
    reply = api("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token=None)
    assert reply.status == 400 and reply.errors == ["Vault is already initialized"]


def test_seal_status_shape(api: Api) -> None:
    body = api("GET", "sys/seal-status", token=None).json
    assert body["type"] == "shamir" and body["t"] == 3 and body["n"] == 5
    assert body["sealed"] is False and body["progress"] == 0 and body["initialized"] is True


def test_seal_requires_sudo_then_unseal_with_hex_and_base64(core_lab, api: Api) -> None:
    info = core_lab.info["clusters"]["primary"]
    api("PUT", "sys/policies/acl/writer", {"policy": 'path "sys/seal" { capabilities = ["update"] }'})
    weak = api("POST", "auth/token/create", {"policies": ["writer"]}).json["auth"]["client_token"]
    denied = api("PUT", "sys/seal", token=weak)
    assert denied.status == 403 and denied.errors == ["permission denied"]

    assert api("PUT", "sys/seal").status == 204
    sealed = api("GET", "sys/health", token=None)
    assert sealed.status == 503 and sealed.json["sealed"] is True
    assert "cluster_id" not in sealed.json
    blocked = api("GET", "auth/token/lookup-self")
    assert blocked.status == 503 and blocked.errors == ["Vault is sealed"]

    hex_keys = info["unseal_keys_hex"]
    b64_keys = info["unseal_keys_b64"]
    first = api("PUT", "sys/unseal", {"key": hex_keys[0]}, token=None).json
    assert first["sealed"] is True and first["progress"] == 1 and first["nonce"]
    again = api("PUT", "sys/unseal", {"key": hex_keys[0]}, token=None).json
    assert again["progress"] == 1  # a repeated share is not counted twice
    reset = api("PUT", "sys/unseal", {"reset": True}, token=None).json
    assert reset["progress"] == 0
    assert api("PUT", "sys/unseal", {"key": "not a key!"}, token=None).status == 400
    assert api("PUT", "sys/unseal", {}, token=None).status == 400
    for key in (hex_keys[1], b64_keys[2]):
        api("PUT", "sys/unseal", {"key": key}, token=None)
    done = api("PUT", "sys/unseal", {"key": b64_keys[3]}, token=None).json
    assert done["sealed"] is False and done["progress"] == 0
    core_lab.wait_active("primary")
    assert api("GET", "sys/health", token=None).status == 200


def test_unseal_with_foreign_keys_fails_and_resets(core_lab, api: Api) -> None:
    info = core_lab.info["clusters"]["primary"]
    api("PUT", "sys/seal")
    foreign = [base64.b64encode(bytes([i + 1]) * 32 + bytes([i + 10])).decode() for i in range(3)]
    replies = [api("PUT", "sys/unseal", {"key": k}, token=None) for k in foreign]
    assert replies[-1].status == 400
    status = api("GET", "sys/seal-status", token=None).json
    assert status["sealed"] is True and status["progress"] == 0
    for key in info["unseal_keys_b64"][:3]:
        api("PUT", "sys/unseal", {"key": key}, token=None)
    core_lab.wait_active("primary")


# -- tokens, policies, ACL -------------------------------------------------------------------


def test_token_create_lookup_and_acl(api: Api) -> None:
    policy = 'path "secret/data/app/*" { capabilities = ["read", "create", "update"] }'
    assert api("PUT", "sys/policies/acl/app-read", {"policy": policy}).status == 204
    read_back = api("GET", "sys/policies/acl/app-read")
    assert read_back.data == {"name": "app-read", "policy": policy}
    assert "app-read" in api("LIST", "sys/policies/acl").data["keys"]
    assert api("PUT", "sys/policies/acl/bad", {"policy": "path {"}).status == 400

    api("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})
    created = api("POST", "auth/token/create", {"policies": ["app-read"], "ttl": "1h"})
    assert created.status == 200 and created.json["data"] is None
    auth = created.json["auth"]
    assert auth["client_token"].startswith("hvs.") and auth["policies"] == ["app-read", "default"]
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    token = auth["client_token"]

    me = api("GET", "auth/token/lookup-self", token=token).data
    assert me["id"] == token and me["policies"] == ["app-read", "default"] and 3500 < me["ttl"] <= 3600
    assert api("POST", "secret/data/app/x", {"data": {"v": 1}}, token=token).status == 200
    assert api("GET", "secret/data/app/x", token=token).data["data"] == {"v": 1}
    denied = api("POST", "secret/data/other", {"data": {"v": 1}}, token=token)
    assert denied.status == 403 and denied.errors == ["permission denied"]
    assert api("PUT", "sys/policies/acl/x", {"policy": policy}, token=token).status == 403
    assert api("GET", "auth/token/lookup-self", token="hvs.doesnotexist0000000000").status == 403
    assert api("GET", "auth/token/lookup-self", token=None).status == 403

    # children may not exceed their parent's policies
    child = api("POST", "auth/token/create", {"policies": ["root"]}, token=token)
    assert child.status in (400, 403)
    assert api("DELETE", "sys/policies/acl/default").status == 400
    assert api("DELETE", "sys/policies/acl/app-read").status == 204
    assert api("GET", "sys/policies/acl/app-read").status == 404


def test_create_only_policy_distinguishes_create_and_update(api: Api) -> None:
    api("POST", "sys/mounts/kvc", {"type": "kv"})
    api("PUT", "sys/policies/acl/create-only", {"policy": 'path "kvc/*" { capabilities = ["create"] }'})
    token = api("POST", "auth/token/create", {"policies": ["create-only"]}).json["auth"]["client_token"]
    assert api("PUT", "kvc/new", {"a": "1"}, token=token).status == 204
    assert api("PUT", "kvc/new", {"a": "2"}, token=token).status == 403


def test_list_permission_is_checked_on_the_folder(api: Api) -> None:
    api("POST", "sys/mounts/kvl", {"type": "kv"})
    api("PUT", "kvl/team/a", {"x": "1"})
    api("PUT", "sys/policies/acl/lister", {"policy": 'path "kvl/team/*" { capabilities = ["list"] }'})
    token = api("POST", "auth/token/create", {"policies": ["lister"]}).json["auth"]["client_token"]
    assert api("LIST", "kvl/team", token=token).data == {"keys": ["a"]}
    assert api("GET", "kvl/team/a", token=token).status == 403


def test_batch_tokens_and_roles(api: Api) -> None:
    api("PUT", "sys/policies/acl/dr-secondary-promotion",
        {"policy": 'path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }'})
    role = {"allowed_policies": "dr-secondary-promotion", "orphan": True, "renewable": False,
            "token_type": "batch"}
    assert api("POST", "auth/token/roles/failover-handler", role).status == 204
    read = api("GET", "auth/token/roles/failover-handler").data
    assert read["allowed_policies"] == ["dr-secondary-promotion"] and read["token_type"] == "batch"
    assert read["orphan"] is True and read["renewable"] is False
    assert "failover-handler" in api("LIST", "auth/token/roles").data["keys"]

    created = api("POST", "auth/token/create/failover-handler", {"ttl": "8h"})
    assert created.status == 200, created
    auth = created.json["auth"]
    assert auth["client_token"].startswith("hvb.") and auth["token_type"] == "batch"
    assert auth["orphan"] is True and auth["renewable"] is False
    assert "dr-secondary-promotion" in auth["policies"]
    me = api("GET", "auth/token/lookup-self", token=auth["client_token"]).data
    assert me["type"] == "batch" and me["role"] == "failover-handler"

    bad = api("POST", "auth/token/create/failover-handler", {"policies": ["root"]})
    assert bad.status == 400
    assert api("POST", "auth/token/create/nope", {}).status == 400
    assert api("POST", "auth/token/create", {"type": "batch", "policies": ["root"]}).status == 400


def test_batch_tokens_carry_their_entry(api: Api) -> None:
    """As in Vault, a batch token carries its own entry, sealed with the cluster's key: a changed
    one is refused, and it cannot be revoked (it expires with its TTL)."""
    api("PUT", "sys/policies/acl/mount-reader", {"policy": 'path "sys/mounts" { capabilities = ["read"] }'})
    tokens = [api("POST", "auth/token/create", {"type": "batch", "policies": ["mount-reader"], "ttl": "1h"})
              .json["auth"] for _ in range(2)]
    token = tokens[0]["client_token"]
    assert tokens[0]["client_token"] != tokens[1]["client_token"] and tokens[0]["accessor"] == ""
    me = api("GET", "auth/token/lookup-self", token=token).data
    assert (me["type"], me["accessor"], me["policies"]) == ("batch", "", ["default", "mount-reader"])
    assert api("GET", "sys/mounts", token=token).status == 200
    assert api("GET", "sys/policies/acl", token=token).status == 403  # its own policies, not more
    body = token[len("hvb."):]
    changed = "hvb." + body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    assert api("GET", "auth/token/lookup-self", token=changed).status == 403
    assert api("GET", "auth/token/lookup-self", token="hvb.AAAAAQ").status == 403
    refused = api("POST", "auth/token/revoke", {"token": token})
    assert refused.status == 400 and refused.errors == ["batch tokens cannot be revoked"]
    assert api("POST", "auth/token/revoke-self", token=token).status == 400
    assert api("GET", "auth/token/lookup-self", token=token).status == 200


def test_token_ttl_expiry(api: Api) -> None:
    token = api("POST", "auth/token/create", {"ttl": "1s", "policies": ["default"]}).json["auth"]["client_token"]
    assert api("GET", "auth/token/lookup-self", token=token).status == 200
    import time

    time.sleep(1.2)
    assert api("GET", "auth/token/lookup-self", token=token).status == 403


# -- mounts and KV -------------------------------------------------------------------------


def test_kv_v1_roundtrip_and_list(api: Api) -> None:
    assert api("POST", "sys/mounts/kv1", {"type": "kv"}).status == 204
    dup = api("POST", "sys/mounts/kv1", {"type": "kv"})
    assert dup.status == 400 and "path is already in use" in dup.errors[0]
    assert api("PUT", "kv1/team/a", {"x": "1"}).status == 204
    assert api("PUT", "kv1/team/b", {"y": "2"}).status == 204
    assert api("GET", "kv1/team/a").data == {"x": "1"}
    assert api("LIST", "kv1/team").data == {"keys": ["a", "b"]}
    assert api("GET", "kv1/team?list=true").data == {"keys": ["a", "b"]}
    assert api("DELETE", "kv1/team/a").status == 204
    assert api("GET", "kv1/team/a").status == 404
    missing = api("GET", "nomount/x")
    assert missing.status == 404 and "no handler for route" in missing.errors[0]


def test_kv_v2_versions_cas_and_metadata(api: Api) -> None:
    assert api("POST", "sys/mounts/kv2", {"type": "kv-v2"}).status == 204
    first = api("POST", "kv2/data/app", {"data": {"v": "1"}})
    assert first.status == 200 and first.data["version"] == 1
    second = api("POST", "kv2/data/app", {"data": {"v": "2"}, "options": {"cas": 1}})
    assert second.data["version"] == 2
    cas = api("POST", "kv2/data/app", {"data": {"v": "3"}, "options": {"cas": 1}})
    assert cas.status == 400
    assert api("GET", "kv2/data/app").data["data"] == {"v": "2"}
    assert api("GET", "kv2/data/app?version=1").data["data"] == {"v": "1"}
    meta = api("GET", "kv2/metadata/app").data
    assert meta["current_version"] == 2 and set(meta["versions"]) == {"1", "2"}
    assert api("LIST", "kv2/metadata").data == {"keys": ["app"]}
    assert api("DELETE", "kv2/data/app").status == 204
    deleted = api("GET", "kv2/data/app")
    assert deleted.status == 404 and deleted.data["metadata"]["deletion_time"]
    assert api("POST", "kv2/undelete/app", {"versions": [2]}).status == 204
    assert api("GET", "kv2/data/app").data["data"] == {"v": "2"}
    assert api("POST", "kv2/destroy/app", {"versions": [1]}).status == 204
    assert api("GET", "kv2/metadata/app").data["versions"]["1"]["destroyed"] is True
    assert api("DELETE", "kv2/metadata/app").status == 204
    assert api("GET", "kv2/data/app").status == 404


def test_mount_table_and_local_mount_scope(core_lab, api: Api) -> None:
    from vaultlab.storage import Storage

    assert api("POST", "sys/mounts/shared", {"type": "kv", "options": {"version": "2"}}).status == 204
    assert api("POST", "sys/mounts/mine", {"type": "kv", "local": True}).status == 204
    table = api("GET", "sys/mounts").json
    assert table["data"]["shared/"]["options"] == {"version": "2"} and table["data"]["shared/"]["local"] is False
    assert table["data"]["mine/"]["local"] is True and "sys/" in table["data"]
    assert table["mine/"]["type"] == "kv"
    api("POST", "shared/data/k", {"data": {"a": 1}})
    api("PUT", "mine/k", {"a": 1})
    assert api("POST", "sys/mounts/bogus", {"type": "nosuch"}).status == 400

    storage = Storage(core_lab.dir / "clusters" / "primary" / "storage.db")
    try:
        scopes = {}
        for item in storage.snapshot(("replicated", "local")):
            scopes[item["key"]] = item["scope"]
        shared_uuid = table["data"]["shared/"]["uuid"]
        mine_uuid = table["data"]["mine/"]["uuid"]
        assert scopes[f"logical/{shared_uuid}/meta/k"] == "replicated"
        assert scopes[f"logical/{mine_uuid}/data/k"] == "local"
        assert scopes["core/local-mounts"] == "local" and scopes["core/mounts"] == "replicated"
        assert all(s == "local" for k, s in scopes.items() if k.startswith(("sys/token/id/", "sys/token/accessor/")))
        assert all(s == "replicated" for k, s in scopes.items() if k.startswith("sys/token/role/"))
        assert scopes["sys/policy/default"] == "replicated"
    finally:
        storage.close()
    assert api("DELETE", "sys/mounts/mine").status == 204
    assert api("GET", "mine/k").status == 404


# -- wrapping / generate-root --------------------------------------------------------------


def test_wrap_lookup_unwrap_single_use(api: Api) -> None:
    wrapped = api("POST", "sys/wrapping/wrap", {"secret": "s3"}, headers={"X-Vault-Wrap-TTL": "60"})
    info = wrapped.json["wrap_info"]
    assert wrapped.json["request_id"] == "" and info["ttl"] == 60 and info["creation_path"] == "sys/wrapping/wrap"
    looked = api("POST", "sys/wrapping/lookup", {"token": info["token"]}, token=None)
    assert looked.data["creation_ttl"] == 60
    unwrapped = api("POST", "sys/wrapping/unwrap", {"token": info["token"]}, token=None)
    assert unwrapped.data == {"secret": "s3"}
    again = api("POST", "sys/wrapping/unwrap", token=info["token"])
    assert again.status == 400 and again.errors == ["wrapping token is not valid or does not exist"]


def test_generate_root_ceremony(core_lab, api: Api) -> None:
    keys = core_lab.info["clusters"]["primary"]["unseal_keys_b64"]
    idle = api("GET", "sys/generate-root/attempt", token=None).json
    assert idle["started"] is False and idle["required"] == 3 and idle["otp_length"] == 28
    assert api("PUT", "sys/generate-root/attempt", {"otp": "short"}, token=None).errors == ["OTP string is wrong length"]
    started = api("PUT", "sys/generate-root/attempt", {}, token=None).json
    assert started["started"] is True and len(started["otp"]) == 28
    assert api("PUT", "sys/generate-root/attempt", {}, token=None).errors == ["root generation already in progress"]
    nonce = started["nonce"]
    wrong = api("PUT", "sys/generate-root/update", {"key": keys[0], "nonce": "x"}, token=None)
    assert wrong.status == 400 and nonce in wrong.errors[0]
    assert api("PUT", "sys/generate-root/update", {"key": keys[0], "nonce": nonce}, token=None).json["progress"] == 1
    dup = api("PUT", "sys/generate-root/update", {"key": keys[0], "nonce": nonce}, token=None)
    assert dup.errors == ["given key has already been provided during this generation operation"]
    api("PUT", "sys/generate-root/update", {"key": keys[1], "nonce": nonce}, token=None)
    done = api("PUT", "sys/generate-root/update", {"key": keys[2], "nonce": nonce}, token=None).json
    assert done["complete"] is True and done["encoded_root_token"] == done["encoded_token"]
    root = otp.decode_token(done["encoded_token"], started["otp"])
    me = api("GET", "auth/token/lookup-self", token=root).data
    assert me["policies"] == ["root"]
    assert api("GET", "sys/generate-root/attempt", token=None).json["started"] is False
    api("PUT", "sys/generate-root/attempt", {}, token=None)
    assert api("DELETE", "sys/generate-root/attempt", token=None).status == 204
    assert api("GET", "sys/generate-root/attempt", token=None).json["started"] is False


# -- sys/decode-token (reference §5.4, 1.13+) ---------------------------------------------

VECTOR = {"encoded_token": "Bxg9JQQqOCNKBRICNwMIRzo2J3cWCBRi", "otp": "3JhHkONiyiaNYj14nnD9xZQS"}


def test_decode_token_vector_and_go_errors(core_lab, api: Api) -> None:
    # Vault's own unit-test vector; no token needed (sys backend lists it as unauthenticated).
    for method in ("PUT", "POST"):
        reply = api(method, "sys/decode-token", VECTOR, token=None)
        assert reply.status == 200, reply
        assert reply.data == {"token": "4RUmoevJ3lsLni9sTXcNnRE1"}
    assert api("GET", "sys/decode-token", token=None).status == 405

    # The server decodes with the scheme len(otp) selects and returns Go's error texts (500).
    def error(body: dict) -> list:
        reply = api("PUT", "sys/decode-token", body, token=None)
        assert reply.status == 500, reply
        return reply.errors

    assert error({**VECTOR, "otp": "short"}) == ["error xoring token: length of byte slices is not equivalent: 24 != 5"]
    assert error({**VECTOR, "encoded_token": VECTOR["encoded_token"][:-2] + "=="}) == [
        "error decoding base64'd token: illegal base64 data at input byte 30"]
    assert error({"encoded_token": VECTOR["encoded_token"]}) == [
        "error xoring token: decoded second base64 value is nil or empty"]
    assert error({}) == ["error xoring token: decoded first base64 value is nil or empty"]

    # A token minted by this server's own ceremony decodes to a working root token.
    keys = core_lab.info["clusters"]["primary"]["unseal_keys_b64"]
    started = api("PUT", "sys/generate-root/attempt", {}, token=None).json
    done = None
    for key in keys[:3]:
        done = api("PUT", "sys/generate-root/update", {"key": key, "nonce": started["nonce"]}, token=None).json
    decoded = api("PUT", "sys/decode-token", {"encoded_token": done["encoded_token"], "otp": started["otp"]},
                  token=None).data["token"]
    assert decoded == otp.decode_token(done["encoded_token"], started["otp"])
    assert api("GET", "auth/token/lookup-self", token=decoded).data["policies"] == ["root"]


def test_envelope_and_errors(api: Api) -> None:
    reply = api("GET", "sys/policies/acl/default")
    assert set(reply.json) >= {"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info",
                               "warnings", "auth"}
    assert reply.headers["content-type"].startswith("application/json")
    bad_json = call("PUT", f"{api.base()}/v1/sys/policies/acl/x", token=api.token)
    assert bad_json.status == 400
