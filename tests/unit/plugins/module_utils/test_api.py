# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each endpoint function: method, path, body and token header on the wire, and the decoded result."""

from __future__ import annotations

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultClient, VaultError

TOKEN = "hvs.api-test"
WARN = ["Vault will be unavailable for a brief period and will resume service shortly."]
RTYPES = ("dr", "performance")


def Reply(status=200, body=None, **options):  # pylint: disable=invalid-name
    return (status, body, options)


@pytest.fixture
def client(stub_vault):
    return VaultClient(stub_vault.url, token=TOKEN, backoff_factor=0.01, timeout=5)


def only_request(stub):
    assert len(stub.requests) == 1, stub.requests
    return stub.requests[0]


def has_token(req):
    return req.headers.get("X-Vault-Token") == TOKEN


# ---------------------------------------------------------------------------------------------
# Status


def test_replication_status_unauthenticated(stub_vault, client):
    stub_vault.route("GET", "sys/replication/status", Reply(200, {"data": {
        "dr": {"mode": "primary", "cluster_id": "a"}, "performance": {"mode": "disabled"}}}))
    expected = {"dr": {"mode": "primary", "cluster_id": "a"}, "performance": {"mode": "disabled"}}
    assert _api.replication_status(client) == expected
    assert not has_token(only_request(stub_vault))


def test_replication_status_community_edition_flat_answer(stub_vault, client):
    stub_vault.route("GET", "sys/replication/status", Reply(200, {"data": {"mode": "disabled"}}))
    assert _api.replication_status(client) == {"dr": {"mode": "disabled"}, "performance": {"mode": "disabled"}}


@pytest.mark.parametrize("rtype", RTYPES)
def test_replication_type_status(stub_vault, client, rtype):
    stub_vault.route("GET", "sys/replication/%s/status" % rtype, Reply(200, {"data": {"mode": "secondary"}}))
    assert _api.replication_type_status(client, rtype) == {"mode": "secondary"}
    req = only_request(stub_vault)
    assert req.method == "GET" and not has_token(req)


def test_unknown_rtype_is_refused_before_any_request(stub_vault, client):
    with pytest.raises(VaultError) as err:
        _api.enable_primary(client, "perf")
    assert "dr, performance" in err.value.message
    assert stub_vault.requests == []


# ---------------------------------------------------------------------------------------------
# Primary side


@pytest.mark.parametrize("rtype", RTYPES)
@pytest.mark.parametrize("func, action", [
    (_api.demote_primary, "demote"),
    (_api.disable_primary, "disable"),
])
def test_simple_primary_actions(stub_vault, client, rtype, func, action):
    stub_vault.route("POST", "sys/replication/%s/primary/%s" % (rtype, action), Reply(200, {"warnings": WARN}))
    assert func(client, rtype) == WARN
    req = only_request(stub_vault)
    assert req.method == "POST" and has_token(req) and req.raw_body == b""


@pytest.mark.parametrize("rtype", RTYPES)
def test_enable_primary_body(stub_vault, client, rtype):
    path = "sys/replication/%s/primary/enable" % rtype
    stub_vault.route("POST", path, Reply(200, {"warnings": WARN}))
    assert _api.enable_primary(client, rtype) == WARN
    assert _api.enable_primary(client, rtype, primary_cluster_addr="https://lb:8201") == WARN
    assert [r.json for r in stub_vault.requests] == [{}, {"primary_cluster_addr": "https://lb:8201"}]
    assert all(has_token(r) for r in stub_vault.requests)


def test_enable_primary_204(stub_vault, client):
    stub_vault.route("POST", "sys/replication/dr/primary/enable", Reply(204))
    assert _api.enable_primary(client, "dr") == []


@pytest.mark.parametrize("rtype", RTYPES)
def test_secondary_token_from_wrap_info(stub_vault, client, rtype):
    stub_vault.route("POST", "sys/replication/%s/primary/secondary-token" % rtype, Reply(200, {
        "request_id": "", "data": None, "wrap_info": {"token": "eyJ.jwt.sig", "ttl": 1800}}))
    assert _api.secondary_token(client, rtype, "dr-east", ttl="10m") == "eyJ.jwt.sig"
    req = only_request(stub_vault)
    assert req.json == {"id": "dr-east", "ttl": "10m"} and has_token(req)


def test_secondary_token_public_key_flow_reads_data_token(stub_vault, client):
    stub_vault.route("POST", "sys/replication/dr/primary/secondary-token", Reply(200, {
        "data": {"token": "encrypted-bundle"}, "wrap_info": None,
        "warnings": ["No redirect address set in Vault"]}))
    token, warnings = _api.mint_secondary_token(client, "dr", "old-primary", secondary_public_key="pk==")
    assert token == "encrypted-bundle"
    assert warnings == ["No redirect address set in Vault"]
    assert only_request(stub_vault).json == {"id": "old-primary", "secondary_public_key": "pk=="}


def test_secondary_token_missing_in_answer(stub_vault, client):
    stub_vault.route("POST", "sys/replication/dr/primary/secondary-token", Reply(200, {"data": None}))
    with pytest.raises(VaultError) as err:
        _api.secondary_token(client, "dr", "x")
    assert "without an activation token" in err.value.message


def test_secondary_token_requires_id(stub_vault, client):
    with pytest.raises(VaultError):
        _api.secondary_token(client, "dr", "")
    assert stub_vault.requests == []


@pytest.mark.parametrize("rtype", RTYPES)
def test_revoke_secondary(stub_vault, client, rtype):
    stub_vault.route("POST", "sys/replication/%s/primary/revoke-secondary" % rtype, Reply(204))
    _api.revoke_secondary(client, rtype, "dr-east")
    req = only_request(stub_vault)
    assert req.json == {"id": "dr-east"} and has_token(req)


def test_paths_filter_read_enveloped(stub_vault, client):
    stub_vault.route("GET", "sys/replication/performance/primary/paths-filter/perf%2F1",
                     Reply(200, {"data": {"mode": "deny", "paths": ["secret/", "ns1/"]}}))
    assert _api.read_paths_filter(client, "perf/1") == {"mode": "deny", "paths": ["secret/", "ns1/"]}
    assert has_token(only_request(stub_vault))


def test_paths_filter_read_flat_and_comma_string(stub_vault, client):
    stub_vault.route("GET", "sys/replication/performance/primary/paths-filter/p1",
                     Reply(200, {"mode": "allow", "paths": "secret/, kv/"}))
    assert _api.read_paths_filter(client, "p1") == {"mode": "allow", "paths": ["secret/", "kv/"]}


def test_paths_filter_absent_is_none(stub_vault, client):
    stub_vault.route("GET", "sys/replication/performance/primary/paths-filter/p1", Reply(404, {"errors": []}))
    assert _api.read_paths_filter(client, "p1") is None


def test_paths_filter_on_community_edition_raises(stub_vault, client):
    stub_vault.route("GET", "sys/replication/performance/primary/paths-filter/p1",
                     Reply(404, {"errors": ["enterprise-only feature"]}))
    with pytest.raises(VaultAPIError) as err:
        _api.read_paths_filter(client, "p1")
    assert err.value.enterprise_only


def test_paths_filter_write_and_delete(stub_vault, client):
    path = "sys/replication/performance/primary/paths-filter/p1"
    stub_vault.route("POST", path, Reply(204))
    stub_vault.route("DELETE", path, Reply(404, {"errors": []}))
    _api.write_paths_filter(client, "p1", "allow", ("secret/",))
    _api.delete_paths_filter(client, "p1")  # already gone is fine
    post, delete = stub_vault.requests
    assert post.method == "POST" and post.json == {"mode": "allow", "paths": ["secret/"]} and has_token(post)
    assert delete.method == "DELETE" and has_token(delete)


# ---------------------------------------------------------------------------------------------
# Secondary side


@pytest.mark.parametrize("rtype", RTYPES)
def test_generate_public_key(stub_vault, client, rtype):
    stub_vault.route("POST", "sys/replication/%s/secondary/generate-public-key" % rtype,
                     Reply(200, {"data": {"secondary_public_key": "PUBKEY"}}))
    assert _api.generate_public_key(client, rtype) == "PUBKEY"
    assert has_token(only_request(stub_vault))


@pytest.mark.parametrize("rtype", RTYPES)
def test_enable_secondary_body(stub_vault, client, rtype):
    stub_vault.route("POST", "sys/replication/%s/secondary/enable" % rtype, Reply(200, {"warnings": WARN}))
    assert _api.enable_secondary(client, rtype, "jwt", primary_api_addr="https://p:8200",
                                 ca_file="/etc/vault/ca.pem") == WARN
    req = only_request(stub_vault)
    assert req.json == {"token": "jwt", "primary_api_addr": "https://p:8200", "ca_file": "/etc/vault/ca.pem"}
    assert has_token(req)


def test_promote_dr_uses_operation_token_not_client_token(stub_vault, client):
    stub_vault.route("POST", "sys/replication/dr/secondary/promote", Reply(200, {"warnings": WARN}))
    assert _api.promote_secondary(client, "dr", dr_operation_token="hvb.batch") == WARN
    req = only_request(stub_vault)
    assert req.json == {"dr_operation_token": "hvb.batch"}
    assert "X-Vault-Token" not in req.headers


def test_promote_dr_force_and_addr(stub_vault, client):
    stub_vault.route("POST", "sys/replication/dr/secondary/promote", Reply(200, {"warnings": WARN}))
    _api.promote_secondary(client, "dr", dr_operation_token="t", primary_cluster_addr="https://x:8201", force=True)
    assert only_request(stub_vault).json == {"dr_operation_token": "t", "primary_cluster_addr": "https://x:8201",
                                             "force": True}


def test_promote_dr_without_token_is_refused_locally(stub_vault, client):
    with pytest.raises(VaultError) as err:
        _api.promote_secondary(client, "dr")
    assert "dr_operation_token" in err.value.message
    assert stub_vault.requests == []


def test_promote_performance_uses_client_token(stub_vault, client):
    stub_vault.route("POST", "sys/replication/performance/secondary/promote", Reply(200, {"warnings": WARN}))
    _api.promote_secondary(client, "performance")
    req = only_request(stub_vault)
    assert req.json == {} and has_token(req)


def test_disable_secondary(stub_vault, client):
    stub_vault.route("POST", "sys/replication/dr/secondary/disable", Reply(200, {"warnings": WARN}))
    stub_vault.route("POST", "sys/replication/performance/secondary/disable", Reply(200, {"warnings": WARN}))
    _api.disable_secondary(client, "dr", dr_operation_token="t")
    _api.disable_secondary(client, "performance")
    dr, perf = stub_vault.requests
    assert dr.json == {"dr_operation_token": "t"} and not has_token(dr)
    assert perf.raw_body == b"" and has_token(perf)
    with pytest.raises(VaultError):
        _api.disable_secondary(client, "dr")


def test_update_primary_dr(stub_vault, client):
    stub_vault.route("POST", "sys/replication/dr/secondary/update-primary", Reply(200, {"warnings": ["ok"]}))
    assert _api.update_primary(client, "dr", token="jwt", dr_operation_token="t", ca_path="/etc/ca") == ["ok"]
    req = only_request(stub_vault)
    assert req.json == {"token": "jwt", "dr_operation_token": "t", "ca_path": "/etc/ca"}
    assert not has_token(req)


def test_update_primary_empty_token_means_forget(stub_vault, client):
    stub_vault.route("POST", "sys/replication/performance/secondary/update-primary", Reply(204))
    _api.update_primary(client, "performance", token="")
    req = only_request(stub_vault)
    assert req.json == {"token": ""} and has_token(req)


def test_update_primary_addrs(stub_vault, client):
    stub_vault.route("POST", "sys/replication/performance/secondary/update-primary", Reply(204))
    _api.update_primary(client, "performance", update_primary_addrs=("https://a:8201", "https://b:8201"))
    assert only_request(stub_vault).json == {"update_primary_addrs": ["https://a:8201", "https://b:8201"]}
    with pytest.raises(VaultError):
        _api.update_primary(client, "performance", token="x", update_primary_addrs=["https://a:8201"])


# ---------------------------------------------------------------------------------------------
# DR operation token and generate-root (raw JSON answers)

STATUS = {"nonce": "n1", "started": True, "progress": 1, "required": 3, "complete": False,
          "encoded_token": "", "otp": "", "otp_length": 28}


@pytest.mark.parametrize("prefix, status, start, update, cancel", [
    ("sys/replication/dr/secondary/generate-operation-token", _api.operation_token_attempt_status,
     _api.operation_token_attempt_start, _api.operation_token_attempt_update, _api.operation_token_attempt_cancel),
    ("sys/generate-root", _api.generate_root_status, _api.generate_root_start, _api.generate_root_update,
     _api.generate_root_cancel),
])
def test_generate_root_family(stub_vault, client, prefix, status, start, update, cancel):
    stub_vault.route("GET", prefix + "/attempt", Reply(200, dict(STATUS, started=False)))
    stub_vault.route("PUT", prefix + "/attempt", Reply(200, dict(STATUS, otp="OTP28")))
    stub_vault.route("PUT", prefix + "/update", Reply(200, dict(STATUS, progress=2)))
    stub_vault.route("DELETE", prefix + "/attempt", Reply(204))
    assert status(client)["started"] is False
    assert start(client)["otp"] == "OTP28"
    start(client, otp="x" * 28)
    start(client, pgp_key="cGdw")
    assert update(client, "share1", "n1")["progress"] == 2
    cancel(client)
    methods = [(r.method, r.path.split("/")[-1], r.json) for r in stub_vault.requests]
    assert methods == [
        ("GET", "attempt", None),
        ("PUT", "attempt", {}),
        ("PUT", "attempt", {"otp": "x" * 28}),
        ("PUT", "attempt", {"pgp_key": "cGdw"}),
        ("PUT", "update", {"key": "share1", "nonce": "n1"}),
        ("DELETE", "attempt", None),
    ]
    assert all(has_token(r) for r in stub_vault.requests)
    with pytest.raises(VaultError):
        start(client, otp="a", pgp_key="b")
    with pytest.raises(VaultError):
        update(client, "", "n1")


def test_operation_token_calls_work_without_a_client_token(stub_vault):
    # Before Vault 2.0 these endpoints are unauthenticated on a DR secondary.
    stub_vault.route("GET", "sys/replication/dr/secondary/generate-operation-token/attempt", Reply(200, STATUS))
    anonymous = VaultClient(stub_vault.url, token=None)
    assert _api.operation_token_attempt_status(anonymous)["nonce"] == "n1"
    assert "X-Vault-Token" not in only_request(stub_vault).headers


def test_operation_token_error_strings_surface(stub_vault, client):
    stub_vault.route("PUT", "sys/replication/dr/secondary/generate-operation-token/update", Reply(400, {
        "errors": ["given key has already been provided during this generation operation"]}))
    with pytest.raises(VaultAPIError) as err:
        _api.operation_token_attempt_update(client, "k", "n")
    assert err.value.has_error("already been provided")


def test_delete_operation_token(stub_vault, client):
    stub_vault.route("POST", "sys/replication/dr/secondary/operation-token/delete", Reply(204))
    _api.delete_operation_token(client, "hvs.optoken")
    req = only_request(stub_vault)
    assert req.json == {"dr_operation_token": "hvs.optoken"} and not has_token(req)


# ---------------------------------------------------------------------------------------------
# Health, seal, leader


@pytest.mark.parametrize("code", [200, 429, 472, 473, 474, 501, 503, 530])
def test_health_never_raises_on_state_codes(stub_vault, client, code):
    stub_vault.route("GET", "sys/health", Reply(code, {"initialized": True, "replication_dr_mode": "secondary"}))
    assert _api.health(client) == (code, {"initialized": True, "replication_dr_mode": "secondary"})
    req = only_request(stub_vault)  # no retries on 429/503 here
    assert not has_token(req)


def test_health_query_params_and_custom_codes(stub_vault, client):
    stub_vault.route("GET", "sys/health", Reply(299, {"standby": True}))
    code, body = _api.health(client, standbyok=True, perfstandbyok=False, drsecondarycode=299, sealedcode=None)
    assert code == 299 and body == {"standby": True}
    assert only_request(stub_vault).query == {"standbyok": ["true"], "perfstandbyok": ["false"],
                                              "drsecondarycode": ["299"]}


def test_health_other_errors_raise(stub_vault, client):
    stub_vault.route("GET", "sys/health", Reply(400, {"errors": []}))
    with pytest.raises(VaultError) as err:
        _api.health(client, standbycode="bad")
    assert "standbycode" in err.value.message
    assert stub_vault.requests == []  # refused locally
    with pytest.raises(VaultAPIError) as err:
        _api.health(client, standbyok="maybe")
    assert err.value.status == 400


def test_health_head_body_missing(stub_vault, client):
    stub_vault.route("GET", "sys/health", Reply(503, None))
    assert _api.health(client) == (503, {})


def test_seal_status_unseal_leader(stub_vault, client):
    stub_vault.route("GET", "sys/seal-status", Reply(200, {"sealed": True, "t": 3, "progress": 0}))
    stub_vault.route("PUT", "sys/unseal", Reply(200, {"sealed": True, "progress": 1}))
    stub_vault.route("GET", "sys/leader", Reply(200, {"is_self": False, "leader_address": "https://n1:8200"}))
    assert _api.seal_status(client)["t"] == 3
    assert _api.unseal(client, key="abcd")["progress"] == 1
    _api.unseal(client, reset=True)
    assert _api.leader(client)["leader_address"] == "https://n1:8200"
    bodies = [(r.method, r.path, r.json) for r in stub_vault.requests]
    assert bodies == [("GET", "/v1/sys/seal-status", None), ("PUT", "/v1/sys/unseal", {"key": "abcd"}),
                      ("PUT", "/v1/sys/unseal", {"reset": True}), ("GET", "/v1/sys/leader", None)]
    assert not any(has_token(r) for r in stub_vault.requests)
    with pytest.raises(VaultError):
        _api.unseal(client)


# ---------------------------------------------------------------------------------------------
# Policies, roles, tokens


def test_policy_roundtrip(stub_vault, client):
    stub_vault.route("PUT", "sys/policies/acl/dr-secondary-promotion", Reply(204))
    stub_vault.route("GET", "sys/policies/acl/dr-secondary-promotion",
                     Reply(200, {"data": {"name": "dr-secondary-promotion", "policy": "path {}"}}))
    stub_vault.route("GET", "sys/policies/acl/missing", Reply(404, {"errors": []}))
    _api.write_policy(client, "dr-secondary-promotion", "path {}")
    assert _api.read_policy(client, "dr-secondary-promotion") == {"name": "dr-secondary-promotion",
                                                                  "policy": "path {}"}
    assert _api.read_policy(client, "missing") is None
    assert stub_vault.requests[0].json == {"policy": "path {}"}
    assert all(has_token(r) for r in stub_vault.requests)


def test_token_role_roundtrip(stub_vault, client):
    stub_vault.route("POST", "auth/token/roles/failover-handler", Reply(204))
    stub_vault.route("GET", "auth/token/roles/failover-handler", Reply(200, {"data": {"token_type": "batch"}}))
    stub_vault.route("GET", "auth/token/roles/none", Reply(404, {"errors": []}))
    _api.write_token_role(client, "failover-handler", allowed_policies="dr-secondary-promotion", orphan=True,
                          renewable=False, token_type="batch", period=None)
    assert _api.read_token_role(client, "failover-handler") == {"token_type": "batch"}
    assert _api.read_token_role(client, "none") is None
    assert stub_vault.requests[0].json == {"allowed_policies": "dr-secondary-promotion", "orphan": True,
                                           "renewable": False, "token_type": "batch"}


def test_create_token_with_role(stub_vault, client):
    stub_vault.route("POST", "auth/token/create/failover-handler",
                     Reply(200, {"auth": {"client_token": "hvb.x", "lease_duration": 28800}}))
    assert _api.create_token(client, role="failover-handler", ttl="8h")["client_token"] == "hvb.x"
    req = only_request(stub_vault)
    assert req.json == {"ttl": "8h"} and has_token(req)


def test_create_token_without_auth_in_answer(stub_vault, client):
    stub_vault.route("POST", "auth/token/create", Reply(200, {"auth": None}))
    with pytest.raises(VaultError):
        _api.create_token(client)


def test_lookup_self(stub_vault, client):
    stub_vault.route("GET", "auth/token/lookup-self", Reply(200, {"data": {"policies": ["root"]}}))
    assert _api.lookup_self(client) == {"policies": ["root"]}
    assert has_token(only_request(stub_vault))


def test_names_are_quoted_in_paths(stub_vault, client):
    stub_vault.route("GET", "sys/policies/acl/a%2Fb%20c", Reply(200, {"data": {"name": "a/b c"}}))
    assert _api.read_policy(client, "a/b c") == {"name": "a/b c"}
    with pytest.raises(VaultError):
        _api.read_policy(client, "")
