# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""failover_run: the dr_failover role's run as one task, on the controller (plugin_utils/_failover_run.py)."""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.vaultops.replication.plugins.module_utils import _arguments, _runner
from ansible_collections.vaultops.replication.plugins.plugin_utils import _failover_run
from ansible_collections.vaultops.replication.plugins.plugin_utils._action import VaultActionBase, stop_with_parent

display = Display()


class ActionModule(VaultActionBase):
    RUNNER = _failover_run
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars if task_vars is not None else {}
        result = super(VaultActionBase, self).run(tmp, task_vars)  # pylint: disable=bad-super-call
        del tmp
        args = dict(self._task.args)
        resume = args.get("resume")
        if isinstance(resume, dict) and isinstance(resume.get("params"), dict):
            # phases change and finish: the options the prepare phase ran with, then what this task gives
            args = dict(resume["params"], **args)
        params, no_log_values, problem = _arguments.validate(_failover_run.module_spec(), args, self._task.action)
        if problem:
            result.update(_runner.censor(dict(failed=True, msg=problem), no_log_values))
            return result
        missing = _runner.missing_libraries()
        if missing:
            result.update(failed=True, msg="Failed to import the required Python library (%s) in the Python that runs"
                                           " Ansible on the controller." % ", ".join(n for n, _e in missing))
            return result
        host = task_vars.get("inventory_hostname", "localhost")

        def progress(line):
            display.display("  [%s] %s" % (host, line))

        stop_with_parent()
        run = _failover_run.FailoverRun(params, hostvars=task_vars.get("hostvars"), env=self._environment(),
                                        check_mode=bool(self._task.check_mode), progress=progress)
        result.update(run.run())
        return result
