# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""VaultModule: merged connection options, environment fallbacks, clients, failure messages."""

from __future__ import annotations

import contextlib
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _module
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultConnectionError,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._module import (
    VaultModule,
    connection_argument_spec,
    describe_connection_error,
    prefixed_connection_spec,
)
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import WaitTimeout

VAULT_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT", "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY",
             "VAULT_SKIP_VERIFY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in VAULT_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def build():
    """Make a VaultModule; the module arguments stay patched until the test ends, because
    fail_json/exit_json need them too."""
    stack = contextlib.ExitStack()

    def make(args, spec=None, **kwargs):
        stack.enter_context(patch_module_args(args))
        return VaultModule(argument_spec=spec or {}, supports_check_mode=True, **kwargs)

    with stack:
        yield make


def failure(capsys, func, *args, **kwargs):
    with pytest.raises(SystemExit):
        func(*args, **kwargs)
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] is True
    return out


def test_connection_spec_shape():
    spec = connection_argument_spec()
    assert set(spec) == {"url", "token", "ca_cert", "client_cert", "client_key", "validate_certs", "timeout",
                         "retries"}
    assert spec["token"]["no_log"] is True
    assert spec["client_key"]["no_log"] is False
    assert spec["validate_certs"]["default"] is True
    assert (spec["timeout"]["default"], spec["retries"]["default"]) == (30, 3)
    # A fresh dict each time: modules may change their copy.
    assert connection_argument_spec() is not spec


def test_module_options_are_merged_and_defaults_apply(build):
    module = build({"url": "http://127.0.0.1:8200", "mode": "dr"}, {"mode": {"type": "str", "required": True}})
    assert module.params["mode"] == "dr"
    assert module.params["validate_certs"] is True
    assert module.params["timeout"] == 30 and module.params["retries"] == 3
    assert module.params["token"] is None


@pytest.fixture
def pem_files(tmp_path):
    """Placeholder files: the client only checks that the paths exist until it connects."""
    paths = {}
    for name in ("ca.pem", "p-ca.pem", "client.pem", "client-key.pem"):
        (tmp_path / name).write_text("placeholder\n")
        paths[name] = str(tmp_path / name)
    return paths


def test_environment_fallbacks(build, monkeypatch, pem_files):
    monkeypatch.setenv("VAULT_ADDR", "https://vault.example.com:8200")
    monkeypatch.setenv("VAULT_TOKEN", "hvs.from-env")
    monkeypatch.setenv("VAULT_CACERT", pem_files["ca.pem"])
    monkeypatch.setenv("VAULT_CLIENT_CERT", pem_files["client.pem"])
    monkeypatch.setenv("VAULT_CLIENT_KEY", pem_files["client-key.pem"])
    module = build({})
    assert module.params["url"] == "https://vault.example.com:8200"
    assert module.params["token"] == "hvs.from-env"
    assert "hvs.from-env" in module.no_log_values
    assert module.params["ca_cert"] == pem_files["ca.pem"]
    client = module.client
    assert client.url == "https://vault.example.com:8200" and client.token == "hvs.from-env"
    assert client._session.verify == pem_files["ca.pem"]  # pylint: disable=protected-access
    assert client._session.cert == (pem_files["client.pem"], pem_files["client-key.pem"])  # pylint: disable=protected-access


def test_missing_ca_file_names_the_option(build, capsys, tmp_path):
    module = build({"url": "https://v:8200", "ca_cert": str(tmp_path / "nope.pem")})
    out = failure(capsys, lambda: module.client)
    assert "ca_cert: no such file or directory" in out["msg"]


def test_options_beat_environment(build, monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", "https://env:8200")
    monkeypatch.setenv("VAULT_TOKEN", "env-token")
    module = build({"url": "https://option:8200", "token": "option-token"})
    assert module.client.url == "https://option:8200" and module.client.token == "option-token"


@pytest.mark.parametrize("env, expected", [
    ("true", False), ("1", False), ("yes", False), ("false", True), ("0", True), ("", True),
])
def test_vault_skip_verify_is_inverted(build, monkeypatch, env, expected):
    monkeypatch.setenv("VAULT_SKIP_VERIFY", env)
    module = build({"url": "https://v:8200"})
    assert module.params["validate_certs"] is expected
    assert module.client.validate_certs is expected


def test_validate_certs_option_beats_skip_verify(build, monkeypatch):
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    assert build({"url": "https://v:8200", "validate_certs": True}).params["validate_certs"] is True


def test_bad_vault_skip_verify_names_the_variable(build, monkeypatch, capsys):
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "perhaps")
    out = failure(capsys, build, {"url": "https://v:8200"})
    assert "VAULT_SKIP_VERIFY=perhaps" in out["msg"] and "validate_certs" in out["msg"]


def test_missing_url_names_option_and_variable(build, capsys):
    module = build({})
    out = failure(capsys, lambda: module.client)
    assert out["msg"] == "url is required: set the url option or the VAULT_ADDR environment variable"


def test_bad_url_fails_cleanly(build, capsys):
    module = build({"url": "vault.example.com:8200"})
    out = failure(capsys, lambda: module.client)
    assert out["msg"].startswith("Invalid connection options (url,")
    assert "https://host:8200" in out["msg"]


def test_bad_timeout_fails_cleanly(build, capsys):
    module = build({"url": "http://v:8200", "timeout": 0})
    out = failure(capsys, lambda: module.client)
    assert "timeout" in out["msg"]


def test_client_is_built_once_with_options(build):
    module = build({"url": "http://127.0.0.1:8200/", "token": "t", "timeout": 7, "retries": 1,
                    "validate_certs": False})
    client = module.client
    assert module.client is client
    assert (client.url, client.token, client.timeout, client.retries, client.validate_certs) == (
        "http://127.0.0.1:8200", "t", 7.0, 1, False)


SECOND = prefixed_connection_spec("primary")


def test_prefixed_spec():
    assert set(SECOND) == {"primary_url", "primary_token", "primary_ca_cert", "primary_validate_certs"}
    assert SECOND["primary_token"]["no_log"] is True
    assert prefixed_connection_spec("old", required_url=True)["old_url"]["required"] is True


def test_client_for_second_cluster(build, pem_files):
    module = build({"url": "https://dr:8200", "token": "dr-token", "ca_cert": pem_files["ca.pem"], "retries": 0,
                    "primary_url": "https://primary:8200", "primary_token": "p-token"}, dict(SECOND))
    primary = module.client_for("primary")
    assert module.client_for("primary") is primary
    assert primary is not module.client
    assert (primary.url, primary.token, primary.ca_cert, primary.retries) == (
        "https://primary:8200", "p-token", pem_files["ca.pem"], 0)


def test_client_for_does_not_borrow_the_token_but_own_tls_options_win(build, pem_files):
    module = build({"url": "https://dr:8200", "token": "dr-token", "ca_cert": pem_files["ca.pem"],
                    "validate_certs": True, "primary_url": "https://primary:8200", "primary_ca_cert": pem_files["p-ca.pem"],
                    "primary_validate_certs": False}, dict(SECOND))
    primary = module.client_for("primary")
    assert primary.token is None
    assert primary.ca_cert == pem_files["p-ca.pem"] and primary.validate_certs is False


def test_client_for_without_url(build, capsys):
    module = build({"url": "https://dr:8200"}, dict(SECOND))
    out = failure(capsys, module.client_for, "primary")
    assert out["msg"] == "primary_url is required for this operation"


def test_missing_requests_library(build, monkeypatch, capsys):
    monkeypatch.setattr(_module, "HAS_REQUESTS", False)
    monkeypatch.setattr(_module, "REQUESTS_IMPORT_ERROR", "Traceback: no requests")
    out = failure(capsys, build, {"url": "http://v:8200"})
    assert "requests" in out["msg"] and "Python" in out["msg"]


def test_missing_jwt_library_only_when_required(build, monkeypatch, capsys):
    monkeypatch.setattr(_module, "HAS_JWT", False)
    build({"url": "http://v:8200"})  # not needed: no failure
    out = failure(capsys, build, {"url": "http://v:8200"}, requires_jwt=True)
    assert "PyJWT" in out["msg"]


# ---------------------------------------------------------------------------------------------
# fail_from / error messages


def test_fail_from_api_error(build, capsys):
    module = build({"url": "http://v:8200"})
    exc = VaultAPIError(400, ["cluster is already a primary", "more"], "POST", "sys/replication/dr/primary/enable")
    out = failure(capsys, module.fail_from, exc, "enable DR replication as primary", changed=False)
    assert out["msg"] == ("Failed to enable DR replication as primary (POST sys/replication/dr/primary/enable): "
                          "HTTP 400: cluster is already a primary; more")
    assert out["http_status"] == 400 and out["vault_errors"] == ["cluster is already a primary", "more"]
    assert out["changed"] is False


def test_fail_from_api_error_without_errors(build, capsys):
    module = build({"url": "http://v:8200"})
    out = failure(capsys, module.fail_from, VaultAPIError(404, [], "GET", "sys/x"), "read x")
    assert out["msg"] == "Failed to read x (GET sys/x): HTTP 404: no error message in the response"


def test_fail_from_tls_error_explains_ca_cert(build, capsys):
    module = build({"url": "https://v:8200"})
    exc = VaultConnectionError("https://v:8200/v1/sys/health", "tls",
                               "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate")
    out = failure(capsys, module.fail_from, exc, "read the replication status")
    assert out["msg"].startswith("Failed to read the replication status: Cannot reach Vault at https://v:8200")
    assert "set ca_cert (or VAULT_CACERT)" in out["msg"]
    assert out["connection_error"] == "tls"


def test_fail_from_other_errors(build, capsys):
    module = build({"url": "http://v:8200"})
    out = failure(capsys, module.fail_from, WaitTimeout("the DR secondary to stream WALs", timeout=120),
                  "wait for replication")
    assert out["msg"] == "Failed to wait for replication: timed out after 120s waiting for the DR secondary to stream WALs"
    out = failure(capsys, module.fail_from, VaultError("dr_operation_token is required"), "promote")
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


def test_describe_connection_error_other_has_no_hint():
    exc = VaultConnectionError("https://v:8200/v1/sys/health", "other", "connection reset")
    assert describe_connection_error(exc) == exc.message


def test_connection_error_message_does_not_carry_the_token(build, capsys, closed_port):
    module = build({"url": "http://127.0.0.1:%d" % closed_port, "token": "hvs.secret-value", "retries": 0})
    with pytest.raises(VaultConnectionError) as err:
        module.client.request("GET", "sys/health")
    out = failure(capsys, module.fail_from, err.value, "read health")
    assert "hvs.secret-value" not in json.dumps(out)
    assert "connection refused" in out["msg"]


# ---------------------------------------------------------------- checks of a cluster before a change

@pytest.mark.parametrize("code,body,text", [
    (501, {"initialized": False, "sealed": True}, "The cluster at http://v:8200 is not initialised"),
    (200, {"initialized": False}, "is not initialised"),
    (503, {"initialized": True, "sealed": True}, "The cluster at http://v:8200 is sealed; unseal it"),
])
def test_check_unsealed_fails(build, capsys, monkeypatch, code, body, text):
    module = build({"url": "http://v:8200"})
    monkeypatch.setattr(_api, "health", lambda c: (code, body))
    out = failure(capsys, module.check_unsealed, module.client, "the cluster at http://v:8200")
    assert text in out["msg"]


def test_check_unsealed_passes_and_names_second_cluster_options(build, capsys, monkeypatch):
    module = build({"url": "http://v:8200"})
    monkeypatch.setattr(_api, "health", lambda c: (429, {"initialized": True, "sealed": False, "standby": True}))
    module.check_unsealed(module.client, "the cluster")

    def refused(c):
        raise VaultConnectionError("http://p:8200/v1/sys/health", "refused", "Connection refused")
    monkeypatch.setattr(_api, "health", refused)
    out = failure(capsys, module.check_unsealed, module.client, "the primary at http://p:8200", option_prefix="primary_")
    assert out["msg"].startswith("Failed to reach the primary at http://p:8200: ")
    assert "check primary_url" in out["msg"] and out["connection_error"] == "refused"


def test_check_token(build, capsys, monkeypatch):
    module = build({"url": "http://v:8200", "token": "good"})

    def lookup(c):
        if c.token == "good":
            return {}
        if c.token == "broken":
            raise VaultAPIError(500, ["internal error"], "GET", "auth/token/lookup-self")
        raise VaultAPIError(403, ["permission denied"], "GET", "auth/token/lookup-self")
    monkeypatch.setattr(_api, "lookup_self", lookup)
    module.check_token(module.client, "the cluster")

    out = failure(capsys, module.check_token, module.client.with_token(None), "the cluster")
    assert out["msg"] == "A Vault token for the cluster is required for this change: set 'token' (or VAULT_TOKEN)."
    out = failure(capsys, module.check_token, module.client.with_token(None), "the primary", option="primary_token")
    assert out["msg"].endswith("set 'primary_token'.")
    out = failure(capsys, module.check_token, module.client.with_token("old"), "the primary", option="primary_token")
    assert "'primary_token' was rejected by the primary (HTTP 403" in out["msg"]
    out = failure(capsys, module.check_token, module.client.with_token("broken"), "the cluster")
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
    module = build({"url": "http://v:8200"})
    seen = _bootstrap_vault(monkeypatch, polls_until_done=3)
    before = module.read_replication(module.client, "the cluster")
    assert before["dr"].role == "secondary" and seen["both"] == 1
    assert module.wait_out_bootstrap(before, module.client, "dr", "the cluster", 5) is before and seen["type"] == 0

    bootstrapping = {"dr": ReplicationStatus.from_api("dr", {"mode": "bootstrapping"}), "performance": before["performance"]}
    after = module.wait_out_bootstrap(bootstrapping, module.client, "dr", "the cluster", 5)
    assert after["dr"].role == "secondary" and seen["type"] == 3 and seen["both"] == 2


def test_wait_out_bootstrap_times_out(build, capsys, monkeypatch):
    module = build({"url": "http://v:8200"})
    _bootstrap_vault(monkeypatch, polls_until_done=10 ** 6)
    bootstrapping = {"dr": ReplicationStatus.from_api("dr", {"mode": "bootstrapping"}),
                     "performance": ReplicationStatus.from_api("performance", {})}
    out = failure(capsys, module.wait_out_bootstrap, bootstrapping, module.client, "dr", "the cluster at http://v:8200",
                  0)
    assert out["msg"].startswith("The cluster at http://v:8200 is still bootstrapping as a DR secondary after 0s")


def test_read_replication_failure_names_the_cluster(build, capsys, monkeypatch):
    module = build({"url": "http://v:8200"})

    def broken(c):
        raise VaultAPIError(404, ["unsupported path"], "GET", "sys/replication/status")
    monkeypatch.setattr(_api, "replication_status", broken)
    out = failure(capsys, module.read_replication, module.client, "the cluster at http://v:8200")
    assert out["msg"].startswith("Failed to read the replication status of the cluster at http://v:8200 (GET ")
