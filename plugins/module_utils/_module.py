# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module side of a runner: AnsibleModule from the shared spec, ``_runner.execute()``, and
the result handed back the way a module hands it back. The only module_utils file that
imports AnsibleModule."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vaultops.replication.plugins.module_utils._runner import execute, missing_libraries


def run_module(runner_module):
    """``main()`` of a module whose runner lives in ``runner_module`` (a module_utils module with
    ``module_spec()`` and ``Runner``). Never returns."""
    module = AnsibleModule(**runner_module.module_spec())
    for library, import_error in missing_libraries(runner_module.Runner):
        module.fail_json(msg=missing_required_lib(library), exception=import_error)
    result = execute(runner_module.Runner, module.params, check_mode=module.check_mode, diff=module._diff)
    finish(module, result)


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
