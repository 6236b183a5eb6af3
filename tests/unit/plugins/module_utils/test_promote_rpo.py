# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The RPO window an unplanned promotion accepts, read from the DR secondary's own status."""

from __future__ import annotations

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils._promote import rfc3339_epoch, rpo_window_of
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus


@pytest.mark.parametrize("text, epoch", [
    ("2026-01-02T03:04:05Z", 1767323045.0),
    ("2026-01-02T03:04:05.25Z", 1767323045.25),
    ("2026-01-02T03:04:05.123456789Z", 1767323045.123456789),
    ("2026-01-01T22:04:05-05:00", 1767323045.0),
])
def test_rfc3339_as_vault_prints_it(text, epoch):
    assert rfc3339_epoch(text) == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-13-40T03:04:05Z", "2026-01-02 03:04:05", 17])
def test_rfc3339_not_a_time(text):
    assert rfc3339_epoch(text) is None


def test_window_from_the_secondary_status():
    status = ReplicationStatus("dr", {
        "mode": "secondary", "cluster_id": "c1", "last_remote_wal": 41,
        "primaries": [{"api_address": "https://east:8200", "connection_status": "disconnected",
                       "last_heartbeat": "2026-01-02T03:04:05Z"}]})
    assert rpo_window_of(status) == {"last_contact": "2026-01-02T03:04:05Z", "last_contact_at": 1767323045.0,
                                     "last_received_wal": 41, "cluster_id": "c1"}


def test_window_without_a_heartbeat_says_so():
    window = rpo_window_of(ReplicationStatus("dr", {"mode": "secondary", "cluster_id": "c1"}))
    assert window["last_contact"] is None and window["last_contact_at"] is None
