# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared vocabulary of the stateful modules: replication types and the plan a decision returns."""

from __future__ import annotations

TYPES = ("dr", "performance")
TITLE = {"dr": "DR", "performance": "performance"}
OTHER = {"dr": "performance", "performance": "dr"}


class Plan(object):
    """What a module will do to reach the requested state (``actions`` in order, empty when
    nothing differs), the role the cluster has afterwards, and why not, when it must refuse."""

    def __init__(self, actions=(), after_role=None, refusal=None, secondary_id=None, warnings=()):
        self.actions = list(actions)
        self.after_role = after_role
        self.refusal = refusal
        self.secondary_id = secondary_id
        self.warnings = list(warnings)

    @property
    def changed(self):
        return bool(self.actions)

    def __repr__(self):
        return "Plan(actions=%r, after_role=%r, refusal=%r, secondary_id=%r)" % (
            self.actions, self.after_role, self.refusal, self.secondary_id)
