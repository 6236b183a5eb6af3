# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the failover_state module's code in-process on the controller (see plugin_utils/_action.py)."""

from __future__ import annotations

from ansible_collections.vaultops.replication.plugins.module_utils import _failover_state as runner
from ansible_collections.vaultops.replication.plugins.plugin_utils._action import VaultActionBase


class ActionModule(VaultActionBase):
    RUNNER = runner
