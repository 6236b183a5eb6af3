# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running a module inside a unit test the way Ansible runs it, and reading its result.

Each module runs either as the module (``main()`` with patched module arguments, as AnsiballZ
would start it) or through its same-named action plugin, in-process, with a stand-in task and
connection. ``EXECUTION["path"]`` selects which; the ``execution_path`` fixture of this folder's
conftest.py runs every test that uses ``run_module`` both ways.
"""

from __future__ import annotations

import importlib
import json

import pytest

from ansible.module_utils import _internal as _module_internal
from ansible.module_utils.testing import patch_module_args
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

EXECUTION = {"path": "module"}


def run_module(capsys, main, args, check=False, diff=False, path=None):
    """Call ``main`` (or its action plugin) with ``args`` as the task's arguments
    (``check``/``diff`` switch on check and diff mode) and return the result as the task would
    see it, plus ``_rc``: the module's exit code (0 or 1).

    A module always ends with exit_json or fail_json, so main() returning is a test failure.
    """
    path = path or EXECUTION["path"]
    if path == "action":
        return run_action(action_of(main), args, check=check, diff=diff)
    args = dict(args)
    # The name AnsibleModule uses in its messages; the action plugin uses the task's action.
    args.setdefault("_ansible_module_name", "vaultops.replication.%s" % main.__module__.rsplit(".", 1)[-1])
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    # A module process never has the controller loaded; this test process may (the action
    # path), and then module warnings would go to the controller's display instead of the result.
    was_controller = _module_internal.is_controller
    _module_internal.is_controller = False
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                main()
    finally:
        _module_internal.is_controller = was_controller
    out = json.loads(capsys.readouterr().out)
    out["_rc"] = exc.value.code
    return out


def action_of(main):
    """The ActionModule class of the module whose ``main`` this is."""
    name = main.__module__.rsplit(".", 1)[-1]
    return importlib.import_module("ansible_collections.vaultops.replication.plugins.action.%s" % name).ActionModule


class FakeShell:
    tmpdir = None

    @staticmethod
    def env_prefix(**kwargs):
        return " ".join("%s=%s" % item for item in sorted(kwargs.items()))


class FakeConnection:
    """What the action base looks at in a connection: where it runs and as whom."""

    def __init__(self, transport="local", become=None):
        self.transport = transport
        self._load_name = "ansible.builtin.%s" % transport
        self.become = become
        self._shell = FakeShell()


class FakeTask:
    def __init__(self, action, args, check_mode=False, diff=False, environment=None, async_val=0):
        self.action = action
        self.args = dict(args)
        self.check_mode = check_mode
        self.diff = diff
        self.environment = list(environment or [])
        self.async_val = async_val
        self.no_log = False


def make_action(action_class, args, check=False, diff=False, environment=None, transport="local", become=None,
                async_val=0, variables=None, name=None):
    """An action plugin instance for a task with ``args`` (``name``: the task's action)."""
    if name is None:
        name = "vaultops.replication.%s" % action_class.__module__.rsplit(".", 1)[-1]
    task = FakeTask(name, args, check_mode=check, diff=diff, environment=environment, async_val=async_val)
    loader = DataLoader()
    return action_class(task, FakeConnection(transport, become), play_context=None, loader=loader,
                        templar=Templar(loader=loader, variables=variables or {}))


def run_action(action_class, args, check=False, diff=False, task_vars=None, **kwargs):
    """Run the action plugin in-process; the result in JSON shape, with ``_rc`` as for modules."""
    action = make_action(action_class, args, check=check, diff=diff, **kwargs)
    out = json.loads(json.dumps(action.run(task_vars=dict(task_vars or {}))))
    out["_rc"] = 1 if out.get("failed") else 0
    return out


def warnings_of(out):
    """Texts of the warnings a module emitted (ansible-core wraps each in an event dict)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in out.get("warnings", [])]
