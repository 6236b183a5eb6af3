# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure messages point at the troubleshooting guide.

Each entry of docs/troubleshooting.md has a stable anchor (``error-<slug>``) and is keyed by the
exact text of an error (Vault's own, or one the modules raise). ``with_hint(msg)`` appends the
anchor of the most specific entry whose text the message contains, so an operator finds the
cause and fix from the message alone. The table follows the guide's headings (placeholders such
as ``<url>`` match anything); a docs test keeps the two in step.
"""

from __future__ import annotations

import re

GUIDE = "troubleshooting.html"

# (anchor, pattern over the message), most specific (longest text) first.
ENTRIES = (
    ('error-dr-secondary-of-another-set',
     'The\\ cluster\\ is\\ a\\ DR\\ secondary\\ of\\ another\\ replication\\ '
     'set;\\ it\\ must\\ be\\ disabled\\ before\\ it\\ can\\ join\\ this\\ one'),
    ('error-revoking-would-cut-off',
     'primary\\ has\\ a\\ connected\\ secondary\\ with\\ id'
     '.*?;\\ revoking\\ it\\ to\\ mint\\ a\\ new\\ token\\ would\\ cut\\ that\\ cluster\\ off'),
    ('error-vault-rejected-the-key-shares',
     "Vault\\ rejected\\ the\\ key\\ shares:\\ the\\ combined\\ shares\\ "
     "of\\ the\\ quorum\\ do\\ not\\ reconstruct\\ the\\ primary's\\ key"),
    ('error-dr-operation-token-rejected',
     'Vault\\ rejected\\ dr_operation_token.*?\\.\\ It\\ is\\ invalid,\\ expired'
     '.*?,\\ revoked,\\ or\\ from\\ another\\ replication\\ set\\.'),
    ('error-name-the-old-primary',
     'No\\ reachable\\ cluster\\ other\\ than.*?claims\\ the\\ DR\\ prim'
     'ary\\ role\\ and\\ the\\ DR\\ set\\ has\\ several\\ other\\ members'),
    ('error-client-certificate',
     'client\\ certificate.*?(:\\ set\\ \\w*client_cert\\ and'
     '|client_cert\\ \\(.*?\\)\\ must\\ be\\ signed\\ by\\ a\\ CA\\ the\\ Vault\\ listener\\ trusts)'),
    ('error-certificate-verify-failed',
     'certificate\\ verify\\ failed:\\ set\\ ca_cert'
     '.*?to\\ the\\ CA\\ bundle\\ that\\ signed\\ the\\ Vault\\ server\\ certificate'),
    ('error-old-primary-cannot-be-verified',
     'the\\ old\\ primary.*?does\\ not\\ answer.*?,\\ so\\ the\\ modul'
     'e\\ cannot\\ verify\\ that\\ it\\ stopped\\ acting\\ as\\ primary'),
    ('error-does-not-hold-final-state',
     'refusing\\ to\\ promote:\\ the\\ old\\ primary'
     '.*?was\\ demoted\\ earlier.*?,\\ but.*?does\\ not\\ hold\\ its\\ final\\ state'),
    ('error-url-required', 'url\\ is\\ required:\\ set\\ the\\ url\\ option,\\ cluster\\.url\\ or\\ the\\ VAULT_ADDR\\ environment\\ variable'),
    ('error-split-brain', 'SPLIT\\ BRAIN:.*?is\\ already.*?primary,\\ and\\ the\\ old\\ primary.*?is\\ ALSO\\ primary\\ of\\ the\\ same\\ set'),
    ('error-batch-needs-dr-primary',
     'method:\\ batch\\ issues\\ the\\ batch\\ token\\ on\\ the\\ DR\\ primary,\\ but\\ the\\ cluster\\ at'
     '.*?is\\ a\\ DR'),
    ('error-version-order', 'runs\\ Vault.*?,\\ older\\ than.*?\\.\\ Replication\\ never\\ flows\\ from\\ a\\ newer\\ to\\ an\\ older\\ version'),
    ('error-erases-all-its-data', 'Activating\\ it\\ as\\ a.*?secondary\\ ERASES\\ ALL\\ ITS\\ DATA.*?Set\\ allow_wipe:\\ true\\ to\\ confirm\\.'),
    ('error-still-connected-to-its-primary',
     'refusing\\ to\\ promote:.*?is\\ still\\ connected\\ to\\ its\\ primary'
     '.*?,\\ so\\ that\\ primary\\ is\\ alive'),
    ('error-refusing-to-promote-old-primary-reachable',
     'refusing\\ to\\ promote:\\ the\\ old\\ primary'
     '.*?is\\ reachable\\ and\\ still.*?primary\\ of\\ this\\ set'),
    ('error-merkle-sync-loop', 'state\\ is\\ still\\ irreconcilable\\ after\\ reindex,\\ try\\ reindexing\\ primary\\ cluster'),
    ('error-earlier-attempts-rolled-back', 'Earlier\\ attempts\\ were\\ rolled\\ back.*?is\\ the\\ DR\\ primary\\ again\\ and\\ serves\\ clients'),
    ('error-did-not-stay-quiet', 'Stopped\\ before\\ demoting:.*?did\\ not\\ stay\\ quiet\\ for.*?s\\ within\\ quiesce_timeout'),
    ('error-not-initialised', 'The\\ Vault\\ cluster\\ at.*?is\\ not\\ initialised;\\ initialise\\ and\\ unseal\\ it\\ first'),
    ('error-dr-operation-token-needed', 'A\\ DR\\ operation\\ token\\ is\\ needed\\ on.*?and\\ none\\ could\\ be\\ obtained\\ otherwise'),
    ('error-confirm-primary-lost', "An\\ unplanned\\ failover\\ promotes.*?without\\ the\\ current\\ primary's\\ consent"),
    ('error-does-not-speak-tls', 'the\\ server\\ does\\ not\\ speak\\ TLS\\ on\\ that\\ port;\\ check\\ the\\ scheme\\ of\\ url'),
    ('error-only-members-of-the-dr-set', 'Only\\ members\\ of\\ the\\ DR\\ replication\\ set\\ can\\ be\\ promoted\\ or\\ demoted'),
    ('error-do-not-re-run', 'Do\\ not\\ re\\-run\\ before\\ the\\ clusters\\ are\\ in\\ a\\ known\\ state\\ again'),
    ('error-failover-in-progress', 'failover\\ in\\ progress:.*?holds\\ the\\ lock\\ of\\ this\\ replication\\ set'),
    ('error-nothing-listens', 'nothing\\ listens\\ there:\\ check\\ url\\ and\\ that\\ Vault\\ is\\ running'),
    ('error-no-answer-in-time', 'no\\ answer\\ in\\ time:\\ check\\ url,\\ firewalls,\\ or\\ raise\\ timeout'),
    ('error-answered-as-primary-after-promotion', 'answered\\ as\\ primary\\ after.*?was\\ promoted\\ and\\ was\\ demoted'),
    ('error-certificate-host-mismatch', 'the\\ server\\ certificate\\ does\\ not\\ name\\ the\\ host\\ in\\ url'),
    ('error-name-the-cluster-to-promote', 'Name\\ the\\ cluster\\ to\\ promote:\\ \\-e\\ confirm_promote=NAME'),
    ('error-paths-filter-performance-only', 'paths_filter\\ applies\\ to\\ performance\\ replication\\ only'),
    ('error-ca-env-missing-file', 'the\\ environment\\ variable.*?names.*?,\\ which\\ does\\ not\\ exist'),
    ('error-token-required', "A\\ Vault\\ token\\ for.*?is\\ required\\ for\\ this\\ change:\\ set\\ '"),
    ('error-needs-dr-operation-token', 'promoting\\ a\\ DR\\ secondary\\ needs\\ dr_operation_token'),
    ('error-not-a-secondary', 'is\\ not\\ a.*?secondary.*?,\\ so\\ there\\ is\\ nothing\\ to\\ promote'),
    ('error-otp-length', 'otp\\ must\\ be\\ exactly.*?characters\\ long\\ for\\ this\\ Vault'),
    ('error-cannot-be-demoted-first', 'cannot\\ be\\ reached.*?,\\ so\\ it\\ cannot\\ be\\ demoted\\ first'),
    ('error-demote-it-first', 'The\\ cluster\\ at\\ url\\ is\\ a.*?primary\\.\\ Demote\\ it\\ first'),
    ('error-standby-still-sealed', 'The\\ standby.*?is\\ still\\ sealed\\ after\\ all.*?unseal_keys'),
    ('error-timed-out-waiting', 'Timed\\ out\\ after.*?s\\ waiting\\ for.*?replication\\ on.*?to\\ be'),
    ('error-path-disabled-dr-secondary', 'path\\ disabled\\ in\\ replication\\ DR\\ secondary\\ mode'),
    ('error-another-key-ceremony', 'another\\ key\\ ceremony.*?is\\ running\\ on\\ this\\ cluster'),
    ('error-x509-unknown-authority', 'x509:\\ certificate\\ signed\\ by\\ unknown\\ authority'),
    ('error-requests-required', 'Failed\\ to\\ import\\ the\\ required\\ Python\\ library'),
    ('error-topology-not-as-expected', 'The\\ replication\\ topology\\ is\\ not\\ as\\ expected:'),
    ('error-did-not-serve-within', 'The\\ change\\ was\\ sent,\\ but.*?did\\ not\\ serve.*?within'),
    ('error-bootstrap-package', 'error\\ fetching\\ secondary\\ bootstrap\\ package'),
    ('error-unwrapping-secondary-token', 'error\\ response\\ unwrapping\\ secondary\\ token'),
    ('error-cannot-be-promoted', 'its\\ DR\\ replication\\ role\\ is.*?,\\ not\\ secondary'),
    ('error-vault-url-must-look-like', 'Vault\\ URL.*?must\\ look\\ like\\ https://host:8200'),
    ('error-two-dr-primaries', 'Two\\ DR\\ primaries\\ in\\ one\\ replication\\ set:'),
    ('error-refused-to-demote', 'Vault\\ refused\\ to\\ demote\\ the\\ old\\ primary'),
    ('error-cannot-be-promoted', 'cannot\\ be\\ promoted:\\ it\\ is\\ unreachable'),
    ('error-does-not-resolve', 'the\\ host\\ name\\ in\\ url\\ does\\ not\\ resolve'),
    ('error-not-a-valid-key-share', 'key_shares\\[.*?\\]\\ is\\ not\\ a\\ valid\\ key\\ share'),
    ('error-still-bootstrapping', 'is\\ still\\ bootstrapping\\ as.*?secondary'),
    ('error-required-index-state', 'required\\ index\\ state\\ not\\ present'),
    ('error-no-vault-token-found', 'No\\ Vault\\ token\\ found\\ for'),
    ('error-enterprise-only-feature', 'enterprise\\-only\\ feature'),
    ('error-tls-internal-error', 'tls:\\ internal\\ error'),
    ('error-permission-denied', 'permission\\ denied'),
    ('error-connection-state-not-ready', 'transient_failure'),
    ('error-not-fenced', 'it\\ is\\ NOT\\ fenced'),
    ('error-vault-is-sealed', 'Vault\\ is\\ sealed'),
)

# Compiled at import: the strategy imports this module once, in the main process, before it forks
# any task's worker, so every worker inherits the compiled patterns.
_COMPILED = tuple((anchor, re.compile(pattern, re.IGNORECASE | re.DOTALL)) for anchor, pattern in ENTRIES)


def anchor_for(msg):
    """The anchor of the most specific entry matching ``msg``, or None."""
    if not isinstance(msg, str):
        return None
    for anchor, pattern in _COMPILED:
        if pattern.search(msg):
            return anchor
    return None


def with_hint(msg):
    """``msg`` with a pointer to its troubleshooting entry appended (once)."""
    anchor = anchor_for(msg)
    if anchor is None or GUIDE + "#" in msg:
        return msg
    return "%s (Troubleshooting: %s#%s in the collection docs.)" % (msg.rstrip(), GUIDE, anchor)
