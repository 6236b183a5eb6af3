# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared action base: same validation errors as the modules, environment fallbacks,
no_log censoring, check/diff mode, and when the module runs instead."""

from __future__ import annotations

import types

import pytest

from ansible.template import trust_as_template

from ansible_collections.vaultops.replication.plugins.module_utils import _runner
from ansible_collections.vaultops.replication.plugins.modules import (
    dr_operation_token,
    promote,
    replication_primary,
    replication_secondary,
    replication_status_info,
)
from ansible_collections.vaultops.replication.plugins.plugin_utils import _action
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import (
    action_of,
    make_action,
    run_action,
    run_module,
)

VAULT_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT", "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY",
             "VAULT_SKIP_VERIFY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in VAULT_ENV:
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------------------------------------
# Validation: the same message as the module, for the same wrong input

MODULES = {
    "replication_primary": replication_primary,
    "replication_secondary": replication_secondary,
    "dr_operation_token": dr_operation_token,
    "promote": promote,
    "replication_status_info": replication_status_info,
}

URL = "http://127.0.0.1:1"

BAD_INPUT = [
    ("replication_primary", {"url": URL, "mode": "dr", "colour": "red"},
     "Unsupported parameters for (vaultops.replication.replication_primary) module: colour"),
    ("replication_primary", {"url": URL}, "missing required arguments: mode"),
    ("replication_primary", {"url": URL, "mode": "both"}, "value of mode must be one of: dr, performance"),
    ("replication_primary", {"url": URL, "mode": "dr", "wait_timeout": "soon"}, "wait_timeout"),
    ("replication_primary", {"url": URL, "mode": "dr", "validate_certs": "perhaps"}, "validate_certs"),
    ("replication_secondary", {"url": URL, "mode": "dr", "standby_urls": ["http://s:1"]},
     "set unseal_keys too"),
    ("replication_secondary", {"url": URL, "mode": "performance", "paths_filter": {"mode": "allow"}},
     "missing required arguments: paths found in paths_filter"),
    ("replication_secondary", {"url": URL, "mode": "dr", "primary_cluster": {"adress": "x"}},
     "primary_cluster.adress"),
    ("dr_operation_token", {"url": URL, "method": "magic"}, "value of method must be one of"),
    ("dr_operation_token", {"url": URL, "key_shares": "not-a-list-but-ok", "otp_length": "x"}, "otp_length"),
    ("promote", {"url": URL, "mode": "dr", "force": "maybe"}, "force"),
    ("promote", {"mode": "dr", "cluster": "https://dr:8200"}, "cluster must be a dictionary with the keys"),
    ("promote", {"mode": "dr", "old_primary_cluster": {"url": URL, "token": 5, "nodes": "a"}, "oops": 1}, "oops"),
    ("replication_status_info", {"url": URL, "wait_for": ["soon"]}, "wait_for"),
    ("replication_status_info", {"url": URL, "cluster": {"url": URL, "name": "x", "colour": "red"}},
     "cluster.colour"),
]


@pytest.mark.parametrize("name, args, fragment", BAD_INPUT)
def test_validation_error_is_the_modules(capsys, name, args, fragment):
    module_out = run_module(capsys, MODULES[name].main, args, path="module")
    action_out = run_module(capsys, MODULES[name].main, args, path="action")
    assert module_out["_rc"] == action_out["_rc"] == 1
    assert action_out["msg"] == module_out["msg"]
    assert fragment in action_out["msg"]
    assert "Traceback" not in action_out["msg"]


def test_validation_error_never_shows_a_secret(capsys):
    args = {"url": URL, "mode": "dr", "dr_operation_token": ["hvs.secret-in-a-list"], "oops": 1}
    for path in ("module", "action"):
        out = run_module(capsys, promote.main, args, path=path)
        assert out["failed"] and "hvs.secret-in-a-list" not in str(out), path


def test_unsupported_option_names_the_task_action():
    out = run_action(action_of(promote.main), {"url": URL, "mode": "dr", "colour": "red"}, name="promote")
    assert out["msg"].startswith("Unsupported parameters for (promote) module: colour.")


# ---------------------------------------------------------------------------------------------
# A runner that shows what it got (environment, modes, secrets)


class EchoRunner:
    def __init__(self, ctx):
        self.ctx = ctx

    def run(self):
        ctx = self.ctx
        p = ctx.params
        ctx.warn("echo warning")
        if p["outcome"] == "fail":
            ctx.fail_json(msg="refused %s" % p["secret"])
        ctx.exit_json(changed=bool(p["changed"]), url=p["url"], token=p["token"], validate_certs=p["validate_certs"],
                      ca_cert=p["ca_cert"], check=ctx.check_mode, diff=ctx.diff, echo=p["secret"],
                      sentence="the secret is %s" % p["secret"], flag=True)


ECHO = types.SimpleNamespace(
    Runner=EchoRunner,
    module_spec=lambda: _runner.module_spec(dict(
        outcome=dict(type="str", default="ok"),
        secret=dict(type="str", no_log=True),
        changed=dict(type="bool", default=False),
    )),
)


class EchoAction(_action.VaultActionBase):
    RUNNER = ECHO


def echo(args, **kwargs):
    return run_action(EchoAction, args, name="vaultops.replication.echo", **kwargs)


def test_result_keys_and_timestamps():
    out = echo({"url": URL, "changed": True})
    assert out["changed"] is True and out["url"] == URL and out["warnings"] == ["echo warning"]
    assert out["ended"] >= out["started"] > 0 and out["elapsed"] >= 0 and "invocation" not in out


def test_no_log_values_are_censored_like_the_module():
    out = echo({"url": URL, "secret": "s3cr3t-value"})
    assert out["echo"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" and out["sentence"] == "the secret is ********"
    assert out["flag"] is True
    out = echo({"url": URL, "secret": "s3cr3t-value", "outcome": "fail"})
    assert out["failed"] and out["msg"] == "refused ********"
    # tokens in the cluster dict and from the environment too
    out = echo({"cluster": {"url": URL, "token": "hvs.cluster-token"}})
    assert out["token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_invocation_only_when_asked_and_censored():
    out = echo({"url": URL, "secret": "s3cr3t-value"}, task_vars={"ansible_inject_invocation": True})
    assert out["invocation"]["module_args"]["secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert out["invocation"]["module_args"]["url"] == URL


def test_check_and_diff_mode_come_from_the_task():
    out = echo({"url": URL}, check=True, diff=True)
    assert out["check"] is True and out["diff"] is True
    out = echo({"url": URL})
    assert out["check"] is False and out["diff"] is False


def test_environment_fallbacks_from_the_controller(monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", "https://controller:8200")
    monkeypatch.setenv("VAULT_TOKEN", "hvs.controller")
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    out = echo({})
    assert out["url"] == "https://controller:8200" and out["validate_certs"] is False
    # a secret from the environment is hidden as AnsibleModule hides it
    assert out["token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_task_environment_overlays_the_controllers(monkeypatch, self_signed_cert):
    ca = self_signed_cert[0]  # a real PEM file: the runner checks it before any request
    monkeypatch.setenv("VAULT_ADDR", "https://controller:8200")
    monkeypatch.setenv("VAULT_CACERT", ca)
    environment = [{"VAULT_ADDR": trust_as_template("https://{{ cluster_host }}:8200"), "VAULT_SKIP_VERIFY": False}]
    out = echo({}, environment=environment, variables={"cluster_host": "from-task"})
    assert out["url"] == "https://from-task:8200" and out["ca_cert"] == ca
    assert out["validate_certs"] is True
    # a flat option still wins
    assert echo({"url": URL}, environment=environment, variables={"cluster_host": "x"})["url"] == URL


def test_missing_library_message(monkeypatch):
    monkeypatch.setattr(_runner, "HAS_REQUESTS", False)
    out = echo({"url": URL})
    assert out["failed"] and "requests" in out["msg"] and "vaultops_replication_execution: module" in out["msg"]


# ---------------------------------------------------------------------------------------------
# Which path


@pytest.fixture
def module_calls(monkeypatch):
    calls = []

    def fake_execute_module(self, module_name=None, module_args=None, task_vars=None, wrap_async=False, **kwargs):
        calls.append({"args": dict(self._task.args), "wrap_async": wrap_async})
        return {"changed": False, "ran": "module"}

    monkeypatch.setattr(_action.VaultActionBase, "_execute_module", fake_execute_module)
    monkeypatch.setattr(_action.VaultActionBase, "_remove_tmp_path", lambda self, path, force=False: None)
    return calls


@pytest.mark.parametrize("how", [
    dict(transport="ssh"),
    dict(transport="paramiko_ssh"),
    dict(become=object()),
    dict(async_val=30),
    dict(task_vars={"vaultops_replication_execution": "module"}),
])
def test_module_runs_where_the_task_does_not_run_on_the_controller(module_calls, how):
    out = echo({"url": URL, "changed": True}, **how)
    assert out["ran"] == "module" and len(module_calls) == 1
    assert module_calls[0]["args"] == {"url": URL, "changed": True}
    assert module_calls[0]["wrap_async"] == how.get("async_val", 0)


@pytest.mark.parametrize("how", [dict(), dict(task_vars={"vaultops_replication_execution": "auto"})])
def test_in_process_on_the_controller(module_calls, how):
    out = echo({"url": URL, "changed": True}, **how)
    assert "ran" not in out and out["changed"] is True and module_calls == []


def test_execution_variable_is_templated_and_checked(module_calls):
    out = echo({"url": URL}, task_vars={"vaultops_replication_execution": trust_as_template("{{ how }}")},
               variables={"how": "module"})
    assert out["ran"] == "module"
    out = echo({"url": URL}, task_vars={"vaultops_replication_execution": "sometimes"})
    assert out["failed"] and "vaultops_replication_execution must be one of auto, module" in out["msg"]


def test_every_module_has_its_action_plugin():
    for name, module in MODULES.items():
        action = make_action(action_of(module.main), {})
        assert isinstance(action, _action.VaultActionBase)
        assert action.RUNNER.__name__.endswith("._%s" % name)
        assert action.RUNNER.module_spec()["supports_check_mode"] is True


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("watch", [True, False])
def test_an_in_process_task_ends_with_the_process_that_started_it(watch):
    """A worker whose ansible-playbook is killed stops within a moment when it watches
    (stop_with_parent); without the watch it would go on (the control case)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    child = ("import sys, time\n"
             "sys.path[:0] = %r\n"
             "from ansible_collections.vaultops.replication.plugins.plugin_utils import _action\n"
             "%s\n"
             "print('ready', flush=True)\n"
             "time.sleep(30)\n") % (sys.path, "_action.stop_with_parent()" if watch else "")
    parent = ("import subprocess, sys\n"
              "p = subprocess.Popen([sys.executable, '-c', sys.argv[1]], stdout=subprocess.PIPE, text=True)\n"
              "p.stdout.readline()\n"
              "print(p.pid, flush=True)\n"
              "p.wait()\n")
    proc = subprocess.Popen([sys.executable, "-c", parent, child], stdout=subprocess.PIPE, text=True)
    worker = int(proc.stdout.readline())
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 3
        while _alive(worker) and time.time() < deadline:
            time.sleep(0.02)
        assert _alive(worker) is not watch
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
