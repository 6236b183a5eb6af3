# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared base of the collection's action plugins.

Each module has a same-named action plugin that runs the module's runner (module_utils) in the
controller's Python process: the work is HTTP to Vault, so shipping the module through
AnsiballZ and starting a new Python for every task costs more than the task itself. The base
makes that path indistinguishable from the module's: the same argument spec and error texts,
the same environment variables, check and diff mode, no_log censoring and result keys. The
module itself still runs (through AnsiballZ) where the task does not run on the controller.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from ansible import constants as C
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.vaultops.replication.plugins.module_utils import _arguments, _runner

# Task variable that selects how the task runs: "auto" (in-process unless the task must run
# elsewhere) or "module" (always the module, through AnsiballZ).
EXECUTION_VARIABLE = "vaultops_replication_execution"
EXECUTION_CHOICES = ("auto", "module")

# Connection plugins that run on the controller itself.
LOCAL_CONNECTIONS = frozenset(("local", "ansible.builtin.local", "ansible.legacy.local"))


# How often a task's worker checks that ansible-playbook still runs.
PARENT_CHECK_INTERVAL = 0.05
_WATCHING = set()  # pids of processes whose watch runs


def stop_with_parent(interval=PARENT_CHECK_INTERVAL):
    """End this worker process as soon as the process that started it is gone (once per process).

    ansible-playbook runs each task in a worker process of its own session, so killing
    ansible-playbook (SIGKILL, a lost AWX node) would leave an in-process task running: a promote
    or a whole failover going on changing clusters unseen, while the lock it took, which names
    ansible-playbook's process, already counts as free and the next run acts at the same time. So
    the task stops where it is, like a killed run, and the next run finishes the job."""
    pid = os.getpid()
    if pid in _WATCHING:
        return
    _WATCHING.add(pid)
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)  # pylint: disable=protected-access

    threading.Thread(target=watch, name="vaultops-parent-watch", daemon=True).start()


class VaultActionBase(ActionBase):
    """Runs ``RUNNER.Runner`` in-process with ``RUNNER.module_spec()``; subclasses set ``RUNNER``
    (a module_utils module of this collection)."""

    RUNNER = None
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars if task_vars is not None else {}
        result = super().run(tmp, task_vars)
        del tmp  # no effect any more (ActionBase.run)

        choice = self._templar.template(task_vars.get(EXECUTION_VARIABLE, "auto"))
        if choice not in EXECUTION_CHOICES:
            result.update(failed=True, msg="%s must be one of %s, got %r." % (
                EXECUTION_VARIABLE, ", ".join(EXECUTION_CHOICES), choice))
            return result
        if choice == "module" or self._must_run_module():
            return self._run_module(result, task_vars)
        result.update(self._run_in_process(task_vars))
        return result

    # -- which path --------------------------------------------------------------------------------

    def _must_run_module(self):
        """The module has to run where the task runs: another host (delegate_to, or a host
        reached over SSH), another user (become), or in the background (async)."""
        if self._task.async_val:
            return True
        connection = self._connection
        if getattr(connection, "become", None):
            return True
        names = {getattr(connection, "transport", None), getattr(connection, "_load_name", None)}
        return not names & LOCAL_CONNECTIONS

    def _run_module(self, result, task_vars):
        wrap_async = self._task.async_val
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    # -- in-process --------------------------------------------------------------------------------

    def _run_in_process(self, task_vars):
        # The module's own checks (_arguments.validate, as _module.run_module does), so that both
        # paths fail alike, naming the option.
        params, no_log_values, problem = _arguments.validate(self.RUNNER.module_spec(), dict(self._task.args),
                                                             self._task.action)
        if problem:
            return _runner.censor(dict(failed=True, msg=problem), no_log_values)

        missing = _runner.missing_libraries(self.RUNNER.Runner)
        if missing:
            return dict(failed=True, msg=(
                "Failed to import the required Python library (%s) in the Python that runs Ansible on the controller "
                "(%s). Install it there, or set the variable %s: module to run the module with the host's "
                "ansible_python_interpreter instead." % (
                    ", ".join(name for name, _error in missing), sys.executable, EXECUTION_VARIABLE)))

        stop_with_parent()
        result = _runner.execute(self.RUNNER.Runner, params, check_mode=self._task.check_mode,
                                 diff=self._task.diff, env=self._environment())
        if C.config.get_config_value("INJECT_INVOCATION", variables=task_vars):
            result["invocation"] = {"module_args": params}
        return _runner.censor(result, no_log_values)

    def _environment(self):
        """The controller's environment with the task's ``environment`` keyword (templated) on
        top: what a module started on the controller would see."""
        task_environment = {}
        self._compute_environment_string(raw_environment_out=task_environment)
        env = dict(os.environ)
        env.update((str(k), str(v)) for k, v in task_environment.items() if v is not None)
        return env
