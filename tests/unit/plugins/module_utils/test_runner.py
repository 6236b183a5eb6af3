# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_runner: connection options (flat, cluster dict, environment), clients, failure messages,
the checks before a change, and execute()."""

from __future__ import annotations

import json
import time

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _runner, _tokens
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultConnectionError,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._runner import (
    RunnerContext,
    RunnerExit,
    connection_argument_spec,
    describe_connection_error,
    execute,
    prefixed_connection_spec,
)
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import WaitTimeout


def validated(args, spec=None):
    """``args`` validated against the connection options plus ``spec``, as both paths do it."""
    full = connection_argument_spec()
    full.update(spec or {})
    result = ArgumentSpecValidator(full).validate(dict(args))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


@pytest.fixture
def build():
    """A resolved RunnerContext for ``args`` (environment ``env``, empty unless given)."""

    def make(args, spec=None, env=None, **kwargs):
        ctx = RunnerContext(validated(args, spec), env={} if env is None else env, **kwargs)
        ctx.resolve_connection()
        return ctx

    return make


def failure(func, *args, **kwargs):
    with pytest.raises(RunnerExit) as end:
        func(*args, **kwargs)
    out = end.value.result
    assert out["failed"] is True
    return out


def test_connection_spec_shape():
    spec = connection_argument_spec()
    assert set(spec) == {"url", "token", "ca_cert", "client_cert", "client_key", "validate_certs", "proxies",
                         "timeout", "retries", "cluster"}
    assert spec["token"]["no_log"] is True
    assert spec["proxies"] == {"type": "raw", "no_log": True}
    assert spec["client_key"]["no_log"] is False
    # No default and no fallback where cluster may give the value: the context resolves them.
    assert "default" not in spec["validate_certs"] and "fallback" not in spec["url"]
    assert (spec["timeout"]["default"], spec["retries"]["default"]) == (30, 3)
    cluster = spec["cluster"]["options"]
    assert set(cluster) == {"url", "token", "ca_cert", "client_cert", "client_key", "validate_certs", "name", "nodes"}
    assert cluster["token"]["no_log"] is True
    # A fresh dict each time: modules may change their copy.
    assert connection_argument_spec() is not spec


def test_clients_get_the_proxies_option_and_the_context_environment():
    # The task's environment (in ctx.env, not os.environ) decides proxies and trusted CAs.
    ctx = RunnerContext({"url": "https://vault.example.com:8200", "proxies": None},
                        env={"HTTPS_PROXY": "http://proxy.example.com:3128", "NO_PROXY": "other.example.com"})
    ctx.resolve_connection()
    assert ctx.client.proxy_for("https://vault.example.com:8200") == ("http://proxy.example.com:3128", "HTTPS_PROXY")
    ctx = RunnerContext({"url": "https://vault.example.com:8200", "proxies": "http://explicit:1",
                         "primary_url": "https://p.example.com:8200"}, env={"HTTPS_PROXY": "http://proxy:3128"})
    ctx.resolve_connection()
    assert ctx.client.proxy_for(ctx.client.url)[0] == "http://explicit:1"
    assert ctx.client_for("primary").proxy_for("https://p.example.com:8200")[0] == "http://explicit:1"


def test_module_spec_merges_and_checks_constraints():
    spec = _runner.module_spec({"mode": {"type": "str"}}, required_together=[["a", "b"]], mutually_exclusive=[])
    assert spec["supports_check_mode"] is True and spec["required_together"] == [["a", "b"]]
    assert "mutually_exclusive" not in spec and {"url", "mode", "cluster"} <= set(spec["argument_spec"])
    with pytest.raises(ValueError):
        _runner.module_spec({}, requird_if=[])


def test_module_options_are_merged_and_defaults_apply(build):
    ctx = build({"url": "http://127.0.0.1:8200", "mode": "dr"}, {"mode": {"type": "str", "required": True}})
    assert ctx.params["mode"] == "dr"
    assert ctx.params["validate_certs"] is True
    assert ctx.params["timeout"] == 30 and ctx.params["retries"] == 3
    assert ctx.params["token"] is None


@pytest.fixture
def pem_files(tmp_path):
    """Placeholder files: the client only checks that the paths exist until it connects."""
    paths = {}
    for name in ("ca.pem", "p-ca.pem", "client.pem", "client-key.pem"):
        (tmp_path / name).write_text("placeholder\n")
        paths[name] = str(tmp_path / name)
    return paths


def test_environment_fallbacks(build, pem_files):
    env = {"VAULT_ADDR": "https://vault.example.com:8200", "VAULT_TOKEN": "hvs.from-env",
           "VAULT_CACERT": pem_files["ca.pem"], "VAULT_CLIENT_CERT": pem_files["client.pem"],
           "VAULT_CLIENT_KEY": pem_files["client-key.pem"]}
    ctx = build({}, env=env)
    assert ctx.params["url"] == "https://vault.example.com:8200"
    assert ctx.params["token"] == "hvs.from-env"
    assert "hvs.from-env" in ctx.no_log_values
    assert ctx.params["ca_cert"] == pem_files["ca.pem"]
    client = ctx.client
    assert client.url == "https://vault.example.com:8200" and client.token == "hvs.from-env"
    assert client._session.verify == pem_files["ca.pem"]  # pylint: disable=protected-access
    assert client._session.cert == (pem_files["client.pem"], pem_files["client-key.pem"])  # pylint: disable=protected-access


def test_process_environment_is_the_default(monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", "https://from-process:8200")
    ctx = RunnerContext(validated({}))
    assert ctx.resolve_connection()["url"] == "https://from-process:8200"


def test_environment_path_is_expanded(build, monkeypatch, pem_files):
    monkeypatch.setenv("HOME", pem_files["ca.pem"].rsplit("/", 1)[0])
    assert build({}, env={"VAULT_CACERT": "~/ca.pem"}).params["ca_cert"] == pem_files["ca.pem"]


def test_missing_ca_file_names_the_option(build, tmp_path):
    ctx = build({"url": "https://v:8200", "ca_cert": str(tmp_path / "nope.pem")})
    out = failure(lambda: ctx.client)
    assert "ca_cert: no such file or directory" in out["msg"]


def test_options_beat_environment(build):
    ctx = build({"url": "https://option:8200", "token": "option-token"},
                env={"VAULT_ADDR": "https://env:8200", "VAULT_TOKEN": "env-token"})
    assert ctx.client.url == "https://option:8200" and ctx.client.token == "option-token"
    assert ctx.no_log_values == set()


@pytest.mark.parametrize("env, expected", [
    ("true", False), ("1", False), ("yes", False), ("false", True), ("0", True), ("", True),
])
def test_vault_skip_verify_is_inverted(build, env, expected):
    ctx = build({"url": "https://v:8200"}, env={"VAULT_SKIP_VERIFY": env})
    assert ctx.params["validate_certs"] is expected
    assert ctx.client.validate_certs is expected


def test_validate_certs_option_beats_skip_verify(build):
    assert build({"url": "https://v:8200", "validate_certs": True},
                 env={"VAULT_SKIP_VERIFY": "true"}).params["validate_certs"] is True


def test_bad_vault_skip_verify_names_the_variable(build):
    out = failure(build, {"url": "https://v:8200"}, env={"VAULT_SKIP_VERIFY": "perhaps"})
    assert "VAULT_SKIP_VERIFY=perhaps" in out["msg"] and "validate_certs" in out["msg"]
    # Not read at all when validate_certs is given.
    assert build({"url": "https://v:8200", "validate_certs": False},
                 env={"VAULT_SKIP_VERIFY": "perhaps"}).params["validate_certs"] is False


def test_missing_url_names_option_and_variable(build):
    ctx = build({})
    out = failure(lambda: ctx.client)
    assert out["msg"] == "url is required: set the url option, cluster.url or the VAULT_ADDR environment variable"


def test_bad_url_fails_cleanly(build):
    ctx = build({"url": "vault.example.com:8200"})
    out = failure(lambda: ctx.client)
    assert out["msg"].startswith("Invalid connection options (url,")
    assert "https://host:8200" in out["msg"]


def test_bad_timeout_fails_cleanly(build):
    ctx = build({"url": "http://v:8200", "timeout": 0})
    out = failure(lambda: ctx.client)
    assert "timeout" in out["msg"]


def test_client_is_built_once_with_options(build):
    ctx = build({"url": "http://127.0.0.1:8200/", "token": "t", "timeout": 7, "retries": 1,
                 "validate_certs": False})
    client = ctx.client
    assert ctx.client is client
    assert (client.url, client.token, client.timeout, client.retries, client.validate_certs) == (
        "http://127.0.0.1:8200", "t", 7.0, 1, False)


# ---------------------------------------------------------------------------------------------
# cluster / <prefix>_cluster

TOPOLOGY_DR = {"name": "dr", "url": "https://dr:8200", "ca_cert": None, "validate_certs": False,
               "nodes": ["https://dr:8200", "https://dr-2:8200/", "https://dr-3:8200"], "token": "dr-token"}


def test_cluster_dict_as_the_topology_role_builds_it(build):
    env = {"VAULT_ADDR": "https://env:8200", "VAULT_TOKEN": "env-token", "VAULT_SKIP_VERIFY": "false"}
    ctx = build({"cluster": dict(TOPOLOGY_DR)}, env=env)
    # The cluster wins over the environment: VAULT_ADDR must never redirect a cluster given as a dict.
    assert (ctx.params["url"], ctx.params["token"], ctx.params["validate_certs"]) == (
        "https://dr:8200", "dr-token", False)
    assert ctx.label(ctx.client.url) == "cluster 'dr' at https://dr:8200"
    assert ctx.where(ctx.client.url) == "https://dr:8200 (cluster 'dr')"
    # the token of the dict is a no_log value of the validator, not of the context
    assert ctx.no_log_values == set()


def test_flat_options_win_over_cluster(build, pem_files):
    ctx = build({"cluster": dict(TOPOLOGY_DR), "url": "https://flat:8200", "validate_certs": True,
                 "ca_cert": pem_files["ca.pem"]})
    assert (ctx.params["url"], ctx.params["token"], ctx.params["validate_certs"], ctx.params["ca_cert"]) == (
        "https://flat:8200", "dr-token", True, pem_files["ca.pem"])


def test_empty_values_count_as_unset(build):
    ctx = build({"cluster": dict(TOPOLOGY_DR, token=""), "token": ""}, env={"VAULT_TOKEN": "env-token"})
    assert ctx.params["token"] == "env-token" and "env-token" in ctx.no_log_values


def test_unnamed_cluster_label(build):
    ctx = build({"cluster": {"url": "https://x:8200"}})
    assert ctx.label(ctx.client.url) == "the cluster at https://x:8200"
    assert ctx.label(ctx.client.url, "primary") == "the primary at https://x:8200"
    assert ctx.where(ctx.client.url) == "https://x:8200"


STANDBYS = {"standby_urls": {"type": "list", "elements": "str"},
            "unseal_keys": {"type": "list", "elements": "str", "no_log": True}}


def test_cluster_nodes_become_the_standbys_to_unseal(build):
    ctx = build({"cluster": dict(TOPOLOGY_DR), "unseal_keys": ["k1"]}, STANDBYS)
    assert ctx.params["standby_urls"] == ["https://dr-2:8200/", "https://dr-3:8200"]
    # not without the keys to unseal them, not over an explicit list, not where nobody unseals
    assert build({"cluster": dict(TOPOLOGY_DR)}, STANDBYS).params["standby_urls"] is None
    assert build({"cluster": dict(TOPOLOGY_DR), "unseal_keys": ["k1"], "standby_urls": ["https://s:8200"]},
                 STANDBYS).params["standby_urls"] == ["https://s:8200"]
    assert "standby_urls" not in build({"cluster": dict(TOPOLOGY_DR)}).params


SECOND = prefixed_connection_spec("primary")


def test_prefixed_spec():
    assert set(SECOND) == {"primary_url", "primary_token", "primary_ca_cert", "primary_validate_certs",
                           "primary_cluster"}
    assert SECOND["primary_token"]["no_log"] is True
    assert SECOND["primary_cluster"]["options"]["token"]["no_log"] is True


def test_client_for_second_cluster(build, pem_files):
    ctx = build({"url": "https://dr:8200", "token": "dr-token", "ca_cert": pem_files["ca.pem"], "retries": 0,
                 "primary_url": "https://primary:8200", "primary_token": "p-token"}, dict(SECOND))
    primary = ctx.client_for("primary")
    assert ctx.client_for("primary") is primary
    assert primary is not ctx.client
    assert (primary.url, primary.token, primary.ca_cert, primary.retries) == (
        "https://primary:8200", "p-token", pem_files["ca.pem"], 0)


def test_client_for_does_not_borrow_the_token_but_own_tls_options_win(build, pem_files):
    ctx = build({"url": "https://dr:8200", "token": "dr-token", "ca_cert": pem_files["ca.pem"],
                 "validate_certs": True, "primary_url": "https://primary:8200", "primary_ca_cert": pem_files["p-ca.pem"],
                 "primary_validate_certs": False}, dict(SECOND))
    primary = ctx.client_for("primary")
    assert primary.token is None
    assert primary.ca_cert == pem_files["p-ca.pem"] and primary.validate_certs is False


def test_prefixed_cluster_dict(build, pem_files):
    primary_dict = {"name": "primary", "url": "https://primary:8200", "ca_cert": pem_files["p-ca.pem"],
                    "validate_certs": True, "nodes": ["https://primary:8200"], "token": "p-token"}
    ctx = build({"cluster": dict(TOPOLOGY_DR), "primary_cluster": primary_dict, "primary_token": "flat-token"},
                dict(SECOND))
    assert ctx.cluster_prefixes() == ["primary"]
    primary = ctx.client_for("primary")
    assert (primary.url, primary.token, primary.ca_cert, primary.validate_certs) == (
        "https://primary:8200", "flat-token", pem_files["p-ca.pem"], True)
    assert ctx.label(primary.url, "primary", "primary") == "primary 'primary' at https://primary:8200"
    # unset TLS settings of the second cluster fall back to the first one's (resolved) settings
    ctx = build({"cluster": dict(TOPOLOGY_DR), "primary_cluster": {"url": "https://p:8200"}}, dict(SECOND))
    assert ctx.client_for("primary").validate_certs is False and ctx.client_for("primary").token is None


def test_client_for_without_url(build):
    ctx = build({"url": "https://dr:8200"}, dict(SECOND))
    out = failure(ctx.client_for, "primary")
    assert out["msg"] == "primary_url is required for this operation (or primary_cluster.url)"


# ---------------------------------------------------------------------------------------------
# fail_from / error messages


def test_fail_from_api_error(build):
    ctx = build({"url": "http://v:8200"})
    exc = VaultAPIError(400, ["cluster is already a primary", "more"], "POST", "sys/replication/dr/primary/enable")
    out = failure(ctx.fail_from, exc, "enable DR replication as primary", changed=False)
    assert out["msg"] == ("Failed to enable DR replication as primary (POST sys/replication/dr/primary/enable): "
                          "HTTP 400: cluster is already a primary; more")
    assert out["http_status"] == 400 and out["vault_errors"] == ["cluster is already a primary", "more"]
    assert out["changed"] is False


def test_fail_from_api_error_without_errors(build):
    ctx = build({"url": "http://v:8200"})
    out = failure(ctx.fail_from, VaultAPIError(404, [], "GET", "sys/x"), "read x")
    assert out["msg"] == "Failed to read x (GET sys/x): HTTP 404: no error message in the response"


def test_fail_from_tls_error_explains_ca_cert(build):
    ctx = build({"url": "https://v:8200"})
    exc = VaultConnectionError("https://v:8200/v1/sys/health", "tls",
                               "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate")
    out = failure(ctx.fail_from, exc, "read the replication status")
    assert out["msg"].startswith("Failed to read the replication status: Cannot reach Vault at https://v:8200")
    assert "set ca_cert (or VAULT_CACERT)" in out["msg"]
    assert out["connection_error"] == "tls"


def test_fail_from_other_errors(build):
    ctx = build({"url": "http://v:8200"})
    out = failure(ctx.fail_from, WaitTimeout("the DR secondary to stream WALs", timeout=120), "wait for replication")
    assert out["msg"] == "Failed to wait for replication: timed out after 120s waiting for the DR secondary to stream WALs"
    out = failure(ctx.fail_from, VaultError("dr_operation_token is required"), "promote")
    assert out["msg"] == "Failed to promote: dr_operation_token is required"


@pytest.mark.parametrize("reason, cause, prefix, expected", [
    ("tls", "certificate verify failed: unable to get local issuer certificate", "",
     "set ca_cert (or VAULT_CACERT) to the CA bundle"),
    ("tls", "certificate verify failed: self-signed certificate", "primary_",
     "set primary_ca_cert to the CA bundle"),
    ("tls", "certificate verify failed: Hostname mismatch, certificate is not valid for 'x'", "",
     "does not name the host in url"),
    ("tls", "[SSL: WRONG_VERSION_NUMBER] wrong version number", "", "scheme of url (http:// vs https://)"),
    ("tls", "certificate verify failed: certificate has expired", "", "expired"),
    ("tls", "tlsv13 alert certificate required", "", "client_cert"),
    ("refused", "connection refused", "old_primary_", "check old_primary_url"),
    ("dns", "Name or service not known", "", "does not resolve"),
    ("timeout", "timed out", "", "raise timeout"),
])
def test_describe_connection_error(reason, cause, prefix, expected):
    exc = VaultConnectionError("https://v:8200/v1/sys/health", reason, cause)
    msg = describe_connection_error(exc, prefix)
    assert msg.startswith(exc.message)
    assert expected in msg


def test_plain_http_to_a_tls_port_suggests_https():
    exc = VaultConnectionError("http://v:8200/v1/sys/health", "other", "Remote end closed connection without response")
    assert "use https:// in url" in describe_connection_error(exc)


@pytest.mark.parametrize("reason, cause, cert, prefix, expected", [
    # TLS 1.3: the server closes the connection after the handshake, no alert reaches the client.
    ("other", "Remote end closed connection without response", None, "",
     "requires a client certificate (tls_require_and_verify_client_cert) and none is given: set client_cert and "
     "client_key (inventory: vault_client_cert and vault_client_key; environment: VAULT_CLIENT_CERT"),
    ("tls", "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required", None, "primary_",
     "the server requires a client certificate: set primary_client_cert and primary_client_key"),
    ("tls", "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca", "/etc/vault/west.pem", "",
     "the server refused the client certificate: client_cert (/etc/vault/west.pem) must be signed by"),
    ("other", "EOF occurred in violation of protocol", "/etc/vault/west.pem", "",
     "does not trust the client certificate: client_cert (/etc/vault/west.pem)"),
    # The refusal can also arrive as a reset before the client's first read.
    ("other", "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))", "/etc/vault/west.pem",
     "", "does not trust the client certificate: client_cert (/etc/vault/west.pem)"),
])
def test_client_certificate_refusals_name_the_options(reason, cause, cert, prefix, expected):
    exc = VaultConnectionError("https://v:8200/v1/sys/health", reason, cause, client_cert=cert)
    assert expected in describe_connection_error(exc, prefix)


def test_describe_connection_error_other_has_no_hint():
    exc = VaultConnectionError("https://v:8200/v1/sys/health", "other", "connection reset")
    assert describe_connection_error(exc) == exc.message


def test_connection_error_message_does_not_carry_the_token(build, closed_port):
    ctx = build({"url": "http://127.0.0.1:%d" % closed_port, "token": "hvs.secret-value", "retries": 0})
    with pytest.raises(VaultConnectionError) as err:
        ctx.client.request("GET", "sys/health")
    out = failure(ctx.fail_from, err.value, "read health")
    assert "hvs.secret-value" not in json.dumps(out)
    assert "connection refused" in out["msg"]


# ---------------------------------------------------------------- checks of a cluster before a change

@pytest.mark.parametrize("code,body,text", [
    (501, {"initialized": False, "sealed": True}, "The cluster at http://v:8200 is not initialised"),
    (200, {"initialized": False}, "is not initialised"),
    (503, {"initialized": True, "sealed": True}, "The cluster at http://v:8200 is sealed; unseal it"),
])
def test_check_unsealed_fails(build, monkeypatch, code, body, text):
    ctx = build({"url": "http://v:8200"})
    monkeypatch.setattr(_api, "health", lambda c: (code, body))
    out = failure(ctx.check_unsealed, ctx.client, "the cluster at http://v:8200")
    assert text in out["msg"]


def test_check_unsealed_hint(build, monkeypatch):
    ctx = build({"url": "http://v:8200"})
    monkeypatch.setattr(_api, "health", lambda c: (503, {"initialized": True, "sealed": True}))
    out = failure(ctx.check_unsealed, ctx.client, "the cluster", unseal_hint="with the primary's keys")
    assert out["msg"] == "The cluster is sealed; unseal it (with the primary's keys) and run again."


def test_check_unsealed_passes_and_names_second_cluster_options(build, monkeypatch):
    ctx = build({"url": "http://v:8200"})
    monkeypatch.setattr(_api, "health", lambda c: (429, {"initialized": True, "sealed": False, "standby": True}))
    assert ctx.check_unsealed(ctx.client, "the cluster")[0] == 429

    def refused(c):
        raise VaultConnectionError("http://p:8200/v1/sys/health", "refused", "Connection refused")
    monkeypatch.setattr(_api, "health", refused)
    out = failure(ctx.check_unsealed, ctx.client, "the primary at http://p:8200", option_prefix="primary_")
    assert out["msg"].startswith("Failed to reach the primary at http://p:8200: ")
    assert "check primary_url" in out["msg"] and out["connection_error"] == "refused"


def test_check_token(build, monkeypatch):
    ctx = build({"url": "http://v:8200", "token": "good"})

    def lookup(c):
        if c.token == "good":
            return {}
        if c.token == "broken":
            raise VaultAPIError(500, ["internal error"], "GET", "auth/token/lookup-self")
        raise VaultAPIError(403, ["permission denied"], "GET", "auth/token/lookup-self")
    monkeypatch.setattr(_api, "lookup_self", lookup)
    ctx.check_token(ctx.client, "the cluster")

    out = failure(ctx.check_token, ctx.client.with_token(None), "the cluster")
    assert out["msg"] == "A Vault token for the cluster is required for this change: set 'token' (or VAULT_TOKEN)."
    out = failure(ctx.check_token, ctx.client.with_token(None), "the primary", option="primary_token")
    assert out["msg"].endswith("set 'primary_token'.")
    out = failure(ctx.check_token, ctx.client.with_token("old"), "the primary", option="primary_token")
    assert "'primary_token' was rejected by the primary (HTTP 403" in out["msg"]
    out = failure(ctx.check_token, ctx.client.with_token("broken"), "the cluster")
    assert out["msg"].startswith("Failed to check the token 'token' on the cluster (GET auth/token/lookup-self): "
                                 "HTTP 500") and out["http_status"] == 500


def _bootstrap_vault(monkeypatch, polls_until_done):
    seen = {"type": 0, "both": 0}

    def type_status(c, rtype, retry_on_status=True):
        assert retry_on_status is False
        seen["type"] += 1
        if seen["type"] == 1:
            raise VaultAPIError(503, ["Vault is sealed"], "GET", "sys/replication/dr/status")
        return {"mode": "bootstrapping" if seen["type"] < polls_until_done else "secondary"}

    def both(c):
        seen["both"] += 1
        return {"dr": {"mode": "secondary"}, "performance": {"mode": "disabled"}}
    monkeypatch.setattr(_api, "replication_type_status", type_status)
    monkeypatch.setattr(_api, "replication_status", both)
    return seen


def test_wait_out_bootstrap_waits_then_reads_again(build, monkeypatch):
    ctx = build({"url": "http://v:8200"})
    seen = _bootstrap_vault(monkeypatch, polls_until_done=3)
    before = ctx.read_replication(ctx.client, "the cluster")
    assert before["dr"].role == "secondary" and seen["both"] == 1
    assert ctx.wait_out_bootstrap(before, ctx.client, "dr", "the cluster", 5) is before and seen["type"] == 0

    bootstrapping = {"dr": ReplicationStatus.from_api("dr", {"mode": "bootstrapping"}), "performance": before["performance"]}
    after = ctx.wait_out_bootstrap(bootstrapping, ctx.client, "dr", "the cluster", 5)
    assert after["dr"].role == "secondary" and seen["type"] == 3 and seen["both"] == 2


def test_wait_out_bootstrap_times_out(build, monkeypatch):
    ctx = build({"url": "http://v:8200"})
    _bootstrap_vault(monkeypatch, polls_until_done=10 ** 6)
    bootstrapping = {"dr": ReplicationStatus.from_api("dr", {"mode": "bootstrapping"}),
                     "performance": ReplicationStatus.from_api("performance", {})}
    out = failure(ctx.wait_out_bootstrap, bootstrapping, ctx.client, "dr", "the cluster at http://v:8200", 0)
    assert out["msg"].startswith("The cluster at http://v:8200 is still bootstrapping as a DR secondary after 0s")


def test_read_replication_failure_names_the_cluster(build, monkeypatch):
    ctx = build({"url": "http://v:8200"})

    def broken(c):
        raise VaultAPIError(404, ["unsupported path"], "GET", "sys/replication/status")
    monkeypatch.setattr(_api, "replication_status", broken)
    out = failure(ctx.read_replication, ctx.client, "the cluster at http://v:8200")
    assert out["msg"].startswith("Failed to read the replication status of the cluster at http://v:8200 (GET ")


# ---------------------------------------------------------------------------------------------
# execute()


class Recorder:
    """A runner class that does what the test tells it, and keeps the context it got."""

    seen = None
    action = None

    def __init__(self, ctx):
        Recorder.seen = ctx
        self.ctx = ctx

    def run(self):
        return Recorder.action(self.ctx)


def run_with(action, params=None, **kwargs):
    Recorder.action = staticmethod(action)
    return execute(Recorder, validated(params or {"url": "http://v:8200"}), env={}, **kwargs)


def test_execute_success_carries_timestamps_and_warnings():
    def act(ctx):
        ctx.warn("first")
        time.sleep(0.01)
        ctx.warn("second")
        ctx.exit_json(changed=True, answer=42)

    before = time.time()
    out = run_with(act)
    after = time.time()
    assert out["changed"] is True and out["answer"] == 42 and "failed" not in out
    assert out["warnings"] == ["first", "second"]
    assert before <= out["started"] < out["ended"] <= after
    assert out["elapsed"] == round(out["ended"] - out["started"], 3) and out["elapsed"] >= 0.01


def test_execute_failure_is_a_result():
    def act(ctx):
        ctx.warn("on the way")
        ctx.fail_json(msg="it broke", changed=False)

    out = run_with(act)
    assert out["failed"] is True and out["msg"] == "it broke" and out["changed"] is False
    assert out["warnings"] == ["on the way"] and out["elapsed"] >= 0


def test_execute_passes_check_and_diff_mode():
    run_with(lambda ctx: ctx.exit_json(), check_mode=True, diff=True)
    assert Recorder.seen.check_mode is True and Recorder.seen.diff is True and Recorder.seen._diff is True
    run_with(lambda ctx: ctx.exit_json())
    assert Recorder.seen.check_mode is False and Recorder.seen.diff is False


def test_execute_does_not_change_the_callers_params():
    params = validated({"cluster": {"url": "https://c:8200", "name": "c"}})
    Recorder.action = staticmethod(lambda ctx: ctx.exit_json(url=ctx.params["url"]))
    out = execute(Recorder, params, env={})
    assert out["url"] == "https://c:8200" and params["url"] is None


def test_execute_returned_dict_or_nothing():
    assert run_with(lambda ctx: {"changed": False})["changed"] is False
    out = run_with(lambda ctx: None)
    assert out["failed"] and "ended without a result" in out["msg"]


def test_execute_vault_error_that_slipped_through_is_a_clean_failure():
    def act(ctx):
        raise VaultAPIError(500, ["boom"], "GET", "sys/x")

    out = run_with(act)
    assert out["failed"] and out["msg"] == "Failed to talk to Vault (GET sys/x): HTTP 500: boom"


def test_execute_run_ending_is_not_swallowed_by_broad_excepts():
    def act(ctx):
        try:
            ctx.fail_json(msg="stop here")
        except Exception:  # pylint: disable=broad-except
            ctx.exit_json(changed=True)

    assert run_with(act)["msg"] == "stop here"


def test_execute_hides_a_token_from_the_environment():
    def act(ctx):
        ctx.exit_json(echo="token is %s" % ctx.params["token"], flag=True, nothing=None)

    Recorder.action = staticmethod(act)
    out = execute(Recorder, validated({"url": "http://v:8200"}), env={"VAULT_TOKEN": "hvs.env-secret"})
    assert "hvs.env-secret" not in json.dumps(out) and out["echo"] == "token is ********"
    assert out["flag"] is True and out["nothing"] is None


def test_execute_bad_environment_is_a_failure_result():
    Recorder.action = staticmethod(lambda ctx: ctx.exit_json())
    out = execute(Recorder, validated({"url": "http://v:8200"}), env={"VAULT_SKIP_VERIFY": "sometimes"})
    assert out["failed"] and "VAULT_SKIP_VERIFY=sometimes" in out["msg"] and "started" in out


def test_execute_missing_library(monkeypatch):
    monkeypatch.setattr(_runner, "HAS_REQUESTS", False)
    monkeypatch.setattr(_runner, "REQUESTS_IMPORT_ERROR", "Traceback: no requests")
    out = run_with(lambda ctx: ctx.exit_json())
    assert out["failed"] and "requests" in out["msg"] and "Traceback" not in out["msg"]


def test_missing_libraries(monkeypatch):
    class NeedsJwt:
        REQUIRES_JWT = True

    assert _runner.missing_libraries(NeedsJwt) == []
    monkeypatch.setattr(_tokens, "HAS_JWT", False)
    monkeypatch.setattr(_tokens, "JWT_IMPORT_ERROR", "no jwt")
    assert _runner.missing_libraries(NeedsJwt) == [("PyJWT", "no jwt")]
    assert _runner.missing_libraries(Recorder) == []


def test_censor_matches_ansible_module():
    result = {"msg": "the token hvs.x was refused", "nested": {"list": ["hvs.x", "other"]}, "changed": True,
              "none": None}
    out = _runner.censor(result, {"hvs.x"})
    assert out == {"msg": "the token ******** was refused",
                   "nested": {"list": ["VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "other"]},
                   "changed": True, "none": None}
    assert _runner.censor(result, set()) is result
