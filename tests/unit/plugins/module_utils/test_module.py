# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_module.run_module: the module path of a runner (AnsibleModule, missing libraries, the result)."""

from __future__ import annotations

import json
import types

import pytest

from ansible.module_utils import _internal as module_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.vaultops.replication.plugins.module_utils import _module, _runner, _tokens


class EchoRunner:
    """Ends the way the test asks: ``outcome`` ok/fail, with warnings."""

    REQUIRES_JWT = False

    def __init__(self, ctx):
        self.ctx = ctx

    def run(self):
        p = self.ctx.params
        self.ctx.warn("careful")
        if p["outcome"] == "fail":
            self.ctx.fail_json(msg="failed on purpose with %s" % p["secret"], changed=False)
        self.ctx.exit_json(changed=True, url=self.ctx.client.url, echo=p["secret"], check=self.ctx.check_mode)


RUNNER = types.SimpleNamespace(
    Runner=EchoRunner,
    module_spec=lambda: _runner.module_spec(dict(outcome=dict(type="str", default="ok"),
                                                 secret=dict(type="str", no_log=True))),
)


def run(capsys, args):
    was = module_internal.is_controller
    module_internal.is_controller = False
    try:
        with patch_module_args(dict(args, _ansible_module_name="vaultops.replication.echo")):
            with pytest.raises(SystemExit) as end:
                _module.run_module(RUNNER)
    finally:
        module_internal.is_controller = was
    out = json.loads(capsys.readouterr().out)
    out["_rc"] = end.value.code
    return out


def warning_texts(out):
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in out.get("warnings", [])]


def test_success(capsys):
    out = run(capsys, {"url": "http://v:8200", "secret": "s3cr3t", "_ansible_check_mode": True})
    assert out["_rc"] == 0 and out["changed"] is True and out["url"] == "http://v:8200" and out["check"] is True
    assert out["echo"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert warning_texts(out) == ["careful"]
    assert out["ended"] >= out["started"] and out["elapsed"] >= 0


def test_failure(capsys):
    out = run(capsys, {"url": "http://v:8200", "secret": "s3cr3t", "outcome": "fail"})
    assert out["_rc"] == 1 and out["failed"] is True and out["changed"] is False
    assert out["msg"] == "failed on purpose with ********"
    assert warning_texts(out) == ["careful"] and "started" in out


def test_bad_option_fails_like_any_module(capsys):
    out = run(capsys, {"url": "http://v:8200", "colour": "red"})
    assert out["_rc"] == 1 and out["msg"].startswith(
        "Unsupported parameters for (vaultops.replication.echo) module: colour. Supported parameters include: ")


def test_missing_requests_library(capsys, monkeypatch):
    monkeypatch.setattr(_runner, "HAS_REQUESTS", False)
    monkeypatch.setattr(_runner, "REQUESTS_IMPORT_ERROR", "Traceback: no requests")
    out = run(capsys, {"url": "http://v:8200"})
    assert out["_rc"] == 1 and "requests" in out["msg"] and "Python" in out["msg"]


def test_missing_jwt_library_only_when_required(capsys, monkeypatch):
    monkeypatch.setattr(_tokens, "HAS_JWT", False)
    assert run(capsys, {"url": "http://v:8200"})["_rc"] == 0  # not needed: no failure
    monkeypatch.setattr(EchoRunner, "REQUIRES_JWT", True)
    out = run(capsys, {"url": "http://v:8200"})
    assert out["_rc"] == 1 and "PyJWT" in out["msg"]
