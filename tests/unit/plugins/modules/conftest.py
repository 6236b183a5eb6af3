# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every module test runs twice: as the module (AnsiballZ's way) and through the action plugin
(in-process), against the same fakes, so both paths are held to the same expectations."""

from __future__ import annotations

import pytest

from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import EXECUTION


@pytest.fixture(autouse=True, params=["module", "action"])
def execution_path(request):
    EXECUTION["path"] = request.param
    yield request.param
    EXECUTION["path"] = "module"
