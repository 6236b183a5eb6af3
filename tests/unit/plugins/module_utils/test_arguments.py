# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Option checks made before any cluster is contacted (_arguments), and how the runner context
names the source of a resolved connection option. The property-based side is
tests/unit/plugins/test_argument_fuzz.py; these pin the messages."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vaultops.replication.plugins.module_utils import _arguments, _replication_secondary
from ansible_collections.vaultops.replication.plugins.module_utils._runner import RunnerContext, execute
from ansible_collections.vaultops.replication.plugins.modules import replication_primary

SECONDARY = _replication_secondary.module_spec()


# ---------------------------------------------------------------------------------------------
# Shapes and the validator's message


@pytest.mark.parametrize("args, message", [
    ({"paths_filter": "allow:secret/"},
     "paths_filter must be a dictionary with the keys mode, paths, got a string that is neither JSON nor key=value"),
    ({"paths_filter": {"paths": ["secret/", 1, {"a": 1}]}}, "paths_filter.paths[2] must be a string, got a dictionary."),
    ({"paths_filter": [{"mode": "allow"}, "secret/"]}, "paths_filter must be a dictionary with the keys mode, paths, got a list."),
    ({"cluster": [None, 6013494549]}, "cluster must be a dictionary with the keys"),
    ({"secondaries": ["x"]}, "secondaries[0] must be a dictionary with the keys"),
    ({"secondaries": [{"url": "https://a:8200", "nodes": [["x"]]}]}, "secondaries[0].nodes[0] must be a string, got a list."),
    ({"timeout": float("inf")}, "timeout must be a finite number, got inf."),
    ({"retries": "nan"}, "retries must be a finite number, got 'nan'."),
    ({"retries": [1, None, 2.5]}, "retries must be a whole number, got a list."),
    ({"wait_timeout": True}, "wait_timeout must be a whole number, got a boolean."),
    ({"allow_wipe": ["yes"]}, "allow_wipe must be true or false, got a list."),
    ({"mode": ["dr"]}, "mode must be one of dr, performance, got a list."),
    ({"id": {"a": 1}}, "id must be a string, got a dictionary."),
    ({"ca_file": ["/x"]}, "ca_file must be a string, got a list."),
])
def test_shapes_ansible_core_crashes_on_or_words_badly_are_named(args, message):
    params, _no_log, problem = _arguments.validate(SECONDARY, dict({"mode": "performance"}, **args), "m")
    assert params is None and problem.startswith(message), problem


def test_key_value_strings_still_work_for_dicts():
    params, _no_log, problem = _arguments.validate(SECONDARY, {"mode": "dr", "cluster": "url=https://dr:8200"}, "m")
    assert problem is None and params["cluster"]["url"] == "https://dr:8200"


def test_unknown_options_come_first_and_repeated_errors_go():
    _params, _no_log, problem = _arguments.validate(SECONDARY, {"mode": "nope", "bogus": 1}, "vaultops.replication.x")
    assert problem.startswith("Unsupported parameters for (vaultops.replication.x) module: bogus. Supported parameters")
    assert problem.endswith("value of mode must be one of: dr, performance, got: nope")


def test_no_log_values_of_a_refused_task_are_returned_for_censoring():
    _params, no_log, problem = _arguments.validate(SECONDARY, {"mode": "dr", "primary_token": "s3cret",
                                                               "paths_filter": 5}, "m")
    assert problem and "s3cret" in no_log and "s3cret" not in problem


# ---------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize("value, message", [
    ("vault.example.com:8200", "must start with https:// or http://"),
    ("ftp://vault:8200", "must start with https:// or http://"),
    ("https://", "has no host name"),
    ("https://vault:99999", "is not a valid URL (Port out of range 0-65535)"),
    ("https://[::1", "is not a valid URL (Invalid IPv6 URL)"),
    ("https://vault:8200/?x=1", "must not have a query string or fragment"),
    ("https://va ult:8200", "contains whitespace or control characters"),
    ("https://user:pw@vault", None),
    ("https://vault.example.com:8200/v1", None),
])
def test_urls(value, message):
    problem = _arguments.url_problem(value, "url")
    if message is None:
        assert problem is None
    else:
        assert problem.startswith("url ") and message in problem and "https://vault.example.com:8200" in problem


def test_a_url_with_credentials_is_shown_without_them():
    problem = _arguments.url_problem("ftp://user:pw@vault:8200", "primary_url")
    assert "pw" not in problem and "ftp://vault:8200" in problem


@pytest.mark.parametrize("value, what", [
    ("hvs.abc def", "whitespace at position 7"),
    ("hvs.abc\n", "whitespace at position 7"),
    ("hvs.\x00", "a control character at position 4"),
    ("hvs.é", "a non-ASCII character at position 4"),
])
def test_secrets_with_whitespace_are_refused_without_showing_them(value, what):
    problem = _arguments.secret_problem(value, "token")
    assert problem.startswith("token contains %s" % what) and value not in problem and "| trim" in problem


def test_a_secret_list_names_the_entry():
    assert _arguments.value_problem("key_shares", ["ab", "c d"]).startswith("key_shares[1] contains whitespace")
    assert _arguments.value_problem("dr_operation_token", "") is None  # empty: not given
    assert _arguments.value_problem("issue_token", True) is None  # a boolean named like a token


@pytest.mark.parametrize("option, value, message", [
    ("timeout", 10 ** 19, "timeout must be between 1 and 3600 seconds per HTTP request, got 10000000000000000000."),
    ("timeout", 0, "timeout must be between 1 and 3600"),
    ("retries", 10 ** 13, "retries must be between 0 and 50 retries per HTTP request"),
    ("switchover_attempts", 0, "switchover_attempts must be between 1 and 10"),
    ("some_other_timeout", -1, "some_other_timeout must be between 0 and 1000000000"),
    ("anything", 10 ** 12, "anything must be between -1000000000 and 1000000000"),
])
def test_number_ranges(option, value, message):
    assert _arguments.value_problem(option, value).startswith(message)


def test_names_and_durations():
    assert "is not a usable name" in _arguments.value_problem("id", "../sys")
    assert _arguments.value_problem("id", "perf-1") is None
    assert _arguments.value_problem("token_ttl", "5 minutes").startswith("token_ttl '5 minutes' is not a Vault duration")
    assert _arguments.value_problem("ttl", "1h30m") is None


@pytest.fixture
def files(tmp_path, self_signed_cert):
    out = {"ca": self_signed_cert[0], "key": self_signed_cert[1], "dir": str(tmp_path)}
    for name, content in (("junk", b"not a certificate"), ("empty", b"")):
        out[name] = str(tmp_path / name)
        with open(out[name], "wb") as handle:
            handle.write(content)
    return out


def test_ca_files(files):
    assert _arguments.file_problem(files["ca"], "ca_cert", "ca") is None
    assert _arguments.file_problem(files["dir"], "ca_cert", "ca") is None  # a hashed directory
    for name in ("junk", "empty"):
        problem = _arguments.file_problem(files[name], "VAULT_CACERT", "ca")
        assert problem.startswith("VAULT_CACERT (%s) is not a PEM bundle of CA certificates" % files[name])
    assert _arguments.file_problem(files["dir"] + "/nope.pem", "ca_cert", "ca").startswith("ca_cert: no such file")


def test_an_unreadable_file(files, monkeypatch):
    # Root reads any file whatever its mode, so the refusal is made by open() itself.
    real_open = open

    def refusing_open(path, *args, **kwargs):
        if str(path) == files["junk"]:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    assert "cannot be read" in _arguments.file_problem(files["junk"], "ca_cert", "ca")


def test_client_certificates(files):
    assert _arguments.client_pair_problem(files["ca"], files["key"], "client_cert", "client_key") is None
    assert _arguments.client_pair_problem(None, files["key"], "client_cert", "client_key").startswith(
        "client_key needs client_cert as well")
    assert "cannot be loaded as a client certificate" in _arguments.client_pair_problem(
        files["ca"], files["junk"], "client_cert", "client_key")
    assert _arguments.file_problem(files["dir"], "client_cert", "cert").startswith("client_cert is a directory")


# ---------------------------------------------------------------------------------------------
# The runner context names where a value came from


class NeverRuns(object):
    def __init__(self, ctx):
        raise AssertionError("the runner must not start with a bad option")


@pytest.mark.parametrize("params, env, message", [
    ({"url": "vault:8200"}, {}, "url 'vault:8200' must start with https://"),
    ({"cluster": {"url": "vault:8200"}}, {}, "cluster.url 'vault:8200' must start with https://"),
    ({}, {"VAULT_ADDR": "vault:8200"}, "VAULT_ADDR 'vault:8200' must start with https://"),
    ({"url": "https://v:8200"}, {"VAULT_TOKEN": "hvs.x y"}, "VAULT_TOKEN contains whitespace"),
    ({"url": "https://v:8200", "primary_url": "https://p:8200", "primary_cluster": {"token": "a b"}}, {},
     "primary_cluster.token contains whitespace"),
    ({"url": "https://v:8200", "primary_cluster": {"url": "  "}}, {}, "primary_cluster.url is empty"),
    ({"url": "https://v:8200", "cluster": {"nodes": ["https://v:8200", "v2:8200"]}}, {},
     "cluster.nodes[1] 'v2:8200' must start with https://"),
    ({"url": "https://v:8200", "timeout": 10 ** 19}, {}, "timeout must be between 1 and 3600"),
])
def test_a_bad_option_fails_the_run_before_the_runner_starts(params, env, message):
    base = dict(url=None, token=None, ca_cert=None, client_cert=None, client_key=None, validate_certs=None,
                timeout=30, retries=3, cluster=None)
    if any(k.startswith("primary_") for k in params):
        base.update(primary_url=None, primary_token=None, primary_ca_cert=None, primary_validate_certs=None,
                    primary_cluster=None)
    out = execute(NeverRuns, dict(base, **params), env=env)
    assert out["failed"] and out["msg"].startswith(message), out["msg"]


def test_context_without_problems():
    ctx = RunnerContext(dict(url="https://v:8200", token="hvs.ok", cluster=None, timeout=30, retries=3), env={})
    ctx.resolve_connection()
    assert ctx.option_problem() is None and ctx.sources == {"url": "url", "token": "token"}


def test_the_module_path_fails_alike_and_censors_secrets(capsys):
    args = {"url": "https://v:8200", "token": "hvs.s3cret", "mode": "dr", "cluster": "not a dict",
            "_ansible_module_name": "vaultops.replication.replication_primary"}
    with patch_module_args(args):
        with pytest.raises(SystemExit) as end:
            replication_primary.main()
    out = json.loads(capsys.readouterr().out)
    assert end.value.code == 1 and out["failed"]
    assert out["msg"].startswith("cluster must be a dictionary with the keys")
    assert "s3cret" not in json.dumps(out)
