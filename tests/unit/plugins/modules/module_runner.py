# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running a module's main() inside a unit test the way Ansible runs it, and reading its result."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args


def run_module(capsys, main, args, check=False, diff=False):
    """Call ``main`` with ``args`` as the task's arguments (``check``/``diff`` switch on check and
    diff mode) and return the JSON result it printed, plus ``_rc``: the exit code (0 or 1).

    A module always ends with exit_json or fail_json, so main() returning is a test failure.
    """
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            main()
    out = json.loads(capsys.readouterr().out)
    out["_rc"] = exc.value.code
    return out


def warnings_of(out):
    """Texts of the warnings a module emitted (ansible-core wraps each in an event dict)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in out.get("warnings", [])]
