# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_hints: failure messages carry the troubleshooting anchor of their error text, and the table
stays in step with docs/troubleshooting.md (every anchor exists, every entry's heading text
matches its pattern, every error text of the guide has a pattern)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _hints
from ansible_collections.vaultops.replication.plugins.module_utils._runner import execute

GUIDE = Path(__file__).resolve().parents[4] / "docs" / "troubleshooting.md"
HEADING = re.compile(r"^\((error-[a-z0-9-]+)\)=\n### (.*)$", re.M)


def guide_entries():
    return dict((m.group(1), m.group(2)) for m in HEADING.finditer(GUIDE.read_text(encoding="utf-8")))


def texts(heading):
    """The heading's error texts with placeholders filled in, as a message would show them."""
    return [re.sub(r"<[^>]+>", "X", seg).replace("...", "X") for seg in re.findall(r"`([^`]+)`", heading)]


def test_every_anchor_exists_and_its_heading_matches():
    entries = guide_entries()
    assert len(entries) >= 20
    for anchor, pattern in _hints.ENTRIES:
        assert anchor in entries, "%s is not an anchor of docs/troubleshooting.md" % anchor
        assert any(re.search(pattern, t, re.I | re.S) for t in texts(entries[anchor])), (anchor, pattern)


def test_every_error_text_of_the_guide_has_a_hint():
    covered = {entry[0] for entry in _hints.ENTRIES}
    missing = []
    for anchor, heading in guide_entries().items():
        long_texts = [t for t in texts(heading) if len(re.sub(r"\bX\b|[^A-Za-z]", "", t)) >= 12]
        described_only = ("error-empty-addr-claim", "error-connection-state-not-ready")
        if long_texts and anchor not in covered and anchor not in described_only:
            missing.append(anchor)
    assert missing == [], "entries of the guide without a hint in _hints.ENTRIES: %s" % missing


@pytest.mark.parametrize("msg, anchor", [
    ("Failed to enable (POST sys/replication/dr/secondary/enable): HTTP 400: path disabled in replication DR "
     "secondary mode", "error-path-disabled-dr-secondary"),
    ("The token given in 'token' was rejected by the cluster at https://a:8200 (HTTP 403 permission denied): it is "
     "invalid or expired. Give a valid token.", "error-permission-denied"),
    ("failover in progress: run 1 (x) holds the lock of this replication set (/p). Nothing was changed.",
     "error-failover-in-progress"),
    ("something nobody documented", None),
])
def test_with_hint(msg, anchor):
    assert _hints.anchor_for(msg) == anchor
    out = _hints.with_hint(msg)
    if anchor:
        assert out.endswith("(Troubleshooting: troubleshooting.html#%s in the collection docs.)" % anchor)
        assert _hints.with_hint(out) == out
    else:
        assert out == msg


class _Fails:
    def __init__(self, ctx):
        self.ctx = ctx

    def run(self):
        self.ctx.fail_json(msg="HTTP 503: Vault is sealed")


def test_execute_appends_the_hint_to_failures():
    result = execute(_Fails, {}, env={})
    assert result["failed"] and result["msg"].endswith("troubleshooting.html#error-vault-is-sealed in the collection docs.)")
