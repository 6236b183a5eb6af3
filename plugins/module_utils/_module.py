# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module side of a runner: AnsibleModule from the shared spec, ``_runner.execute()``, and
the result handed back the way a module hands it back. The only module_utils file that
imports AnsibleModule."""

from __future__ import annotations

import os
import sys

from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vaultops.replication.plugins.module_utils._arguments import validate
from ansible_collections.vaultops.replication.plugins.module_utils._runner import execute, missing_libraries


def run_module(runner_module):
    """``main()`` of a module whose runner lives in ``runner_module`` (a module_utils module with
    ``module_spec()`` and ``Runner``). Never returns."""
    spec = runner_module.module_spec()
    # The arguments are checked first as the action plugin checks them (_arguments.validate): a
    # shape ansible-core's validator would crash on, or report naming no option, fails here with
    # a message naming the option.
    # (Looked up at call time: ansible-test's validate-modules replaces it with a stub returning
    # None to read the spec from AnsibleModule's arguments.)
    raw = basic._load_params()  # pylint: disable=protected-access
    if isinstance(raw, dict):
        name = raw.get("_ansible_module_name") or os.path.basename(sys.argv[0])
        _params, no_log_values, problem = validate(spec, raw, name)
        if problem:
            fail_early(spec, raw, problem, no_log_values)
    module = AnsibleModule(**spec)
    for library, import_error in missing_libraries(runner_module.Runner):
        module.fail_json(msg=missing_required_lib(library), exception=import_error)
    result = execute(runner_module.Runner, module.params, check_mode=module.check_mode, diff=module._diff)
    finish(module, result)


def fail_early(spec, raw, msg, no_log_values):
    """Fail with ``msg`` through an AnsibleModule that accepts the arguments as given (so the
    failure has the usual shape; no_log values are censored as usual)."""
    argument_spec = spec["argument_spec"]
    accepting = dict((key, dict(type="raw", no_log=bool((argument_spec.get(key) or {}).get("no_log"))))
                     for key in raw if not key.startswith("_ansible_"))
    module = AnsibleModule(argument_spec=accepting, supports_check_mode=True)
    module.no_log_values.update(no_log_values)
    module.fail_json(msg=msg)


def finish(module, result):
    """``exit_json`` / ``fail_json`` with an ``execute()`` result; its warnings go through
    ``module.warn`` (ansible-core deprecates passing them to exit_json)."""
    result = dict(result)
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    if result.pop("failed", False):
        msg = result.pop("msg", None) or "failed"
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)
