# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter for the execution_paths target: a task result without what legitimately differs
between two equivalent runs on two equivalent clusters, and without secrets."""

from __future__ import annotations

import re

# When the run happened and how long it took, and Ansible's own additions around a failure.
DROPPED = frozenset(("started", "ended", "elapsed", "invocation", "exception"))

# Values a fresh cluster draws at random or that count time, and secrets. Kept as "<set>"
# (or None when absent), so that a value present on one path and missing on the other still
# shows as a difference.
MASKED = frozenset((
    "waited", "cluster_id", "merkle_root", "last_wal", "last_dr_wal", "last_performance_wal", "last_remote_wal",
    "last_reindex_epoch", "last_corruption_check_epoch", "ssct_generation_counter", "last_start",
    "last_heartbeat", "last_heartbeat_duration_ms", "clock_skew_ms", "server_time_utc",
    "replication_primary_canary_age_ms", "nonce", "otp", "encoded_token", "dr_operation_token",
    "activation_token", "activation_token_expires", "id",
))

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
SHA1 = re.compile(r"\b[0-9a-f]{40}\b")  # merkle roots
TIME = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?")
SECRET = re.compile(r"\b(hv[sbr]\.[A-Za-z0-9_.-]+|eyJ[A-Za-z0-9_.-]+)")


def normalize(value, replacements=None):
    """``value`` with DROPPED keys removed, MASKED values and every float (a time or a duration)
    replaced, and in every string each ``replacements`` key (longest first) replaced by its value,
    UUIDs, merkle roots, timestamps and tokens by placeholders."""
    pairs = sorted((replacements or {}).items(), key=lambda kv: len(kv[0]), reverse=True)
    return _walk(value, pairs)


def _walk(value, pairs):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in DROPPED:
                continue
            if key in MASKED and not isinstance(item, (dict, list)):
                out[key] = None if item is None else "<set>"
            else:
                out[key] = _walk(item, pairs)
        return out
    if isinstance(value, (list, tuple)):
        return [_walk(item, pairs) for item in value]
    if isinstance(value, float):
        return "<float>"
    if isinstance(value, str):
        for old, new in pairs:
            if old:
                value = value.replace(old, new)
        value = UUID.sub("<uuid>", value)
        value = SHA1.sub("<sha1>", value)
        value = TIME.sub("<time>", value)
        return SECRET.sub("<token>", value)
    return value


def differences(left, right, path=""):
    """Human-readable list of where two normalised results differ (empty when equal)."""
    if isinstance(left, dict) and isinstance(right, dict):
        out = []
        for key in sorted(set(left) | set(right)):
            where = "%s.%s" % (path, key) if path else key
            if key not in left or key not in right:
                out.append("%s: only in %s" % (where, "the in-process result" if key in left else "the module result"))
            else:
                out.extend(differences(left[key], right[key], where))
        return out
    if left != right:
        return ["%s: %r (in-process) != %r (module)" % (path or "<value>", left, right)]
    return []


class FilterModule:
    def filters(self):
        return {"execution_paths_normalize": normalize, "execution_paths_differences": differences}
