# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a cluster holds: its secrets engines (replicated and ``local``) with how many keys each
has, its auth methods and its ACL policies. Activating a cluster as a secondary erases all of it,
so the consent to that, check mode and the backup decision show this list.

``read_contents`` makes one small call per endpoint through the one client and never raises for a
refused or failed read: what cannot be read is reported under ``unreadable`` with the reason.
The rest is pure and works on the returned dict.
"""

from __future__ import annotations

from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultError

# What a freshly initialised Vault has: not data an operator could lose.
DEFAULT_MOUNTS = frozenset(("sys/", "cubbyhole/", "identity/"))
DEFAULT_MOUNT_TYPES = frozenset(("system", "cubbyhole", "identity", "ns_system", "ns_cubbyhole", "ns_identity"))
DEFAULT_AUTH_TYPES = frozenset(("token", "ns_token"))
DEFAULT_POLICIES = frozenset(("default", "root"))

# Counting stops there (per mount); the count is then reported as at least that many.
KEY_COUNT_LIMIT = 1000
# At most this many LIST calls per mount (folders are listed one call each), and per cluster.
LIST_CALL_LIMIT = 200
LIST_CALL_BUDGET = 1000

DR_SECONDARY_REFUSAL = "disabled in replication DR secondary mode"


def _read(client, path):
    """``data`` of a GET (sys/mounts and sys/auth answer the table there)."""
    resp = client.request("GET", path, retry_on_status=False)
    body = resp.json or {}
    data = body.get("data")
    if isinstance(data, dict) and data:
        return data
    # Older servers answer the table at the top level only.
    return dict((k, v) for k, v in body.items() if k.endswith("/") and isinstance(v, dict))


def _list(client, path):
    """Keys of a LIST (``?list=true``); [] when Vault answers 404 (nothing there)."""
    resp = client.request("GET", path, params={"list": "true"}, allow_status=(404,), retry_on_status=False)
    if resp.status == 404:
        return []
    return list(((resp.json or {}).get("data") or {}).get("keys") or [])


def _reason(exc):
    if isinstance(exc, VaultAPIError):
        if exc.has_error(DR_SECONDARY_REFUSAL):
            return "the cluster is a DR secondary, which answers no such reads"
        if exc.status == 403:
            return "the token may not read it (HTTP 403)"
        return "HTTP %d: %s" % (exc.status, "; ".join(exc.errors) or "no error message")
    return getattr(exc, "message", None) or str(exc)


def kv_list_root(mount_path, entry):
    """The path to LIST for the keys of a KV mount (``secret/metadata/`` for version 2), or None
    when the engine is not KV (its keys are not counted)."""
    mount_type = entry.get("type")
    options = entry.get("options") or {}
    if mount_type == "kv" and str(options.get("version") or "1") == "2":
        return mount_path + "metadata/"
    if mount_type in ("kv", "generic"):
        return mount_path
    return None


def count_keys(client, root, limit=KEY_COUNT_LIMIT, calls=LIST_CALL_LIMIT):
    """``(count, complete)``: the keys below ``root`` (folders walked breadth first), stopping at
    ``limit`` keys or ``calls`` LIST calls."""
    count, complete, _made = _count_keys(client, root, limit, calls)
    return count, complete


def _count_keys(client, root, limit, calls):
    count = 0
    folders = [""]
    made = 0
    while folders:
        if made >= calls or count >= limit:
            return count, False, made
        folder = folders.pop(0)
        made += 1
        for key in _list(client, root + folder):
            if key.endswith("/"):
                folders.append(folder + key)
            else:
                count += 1
    return count, True, made


def read_contents(client, count_limit=KEY_COUNT_LIMIT, list_budget=LIST_CALL_BUDGET):
    """What the cluster behind ``client`` (with a token that may read sys/mounts, sys/auth,
    sys/policies/acl and list the KV mounts) holds::

        {"mounts": [{"path", "type", "local", "keys" (int or None: not counted), "complete"}],
         "auth": [{"path", "type", "local"}], "policies": [names],
         "unreadable": {"mounts"|"auth"|"policies"|"keys of <path>": reason}}

    ``mounts``, ``auth`` and ``policies`` leave out what a new cluster has (sys/, cubbyhole/,
    identity/, token/, the default and root policies); they are None when unreadable. Counting
    keys costs one LIST per folder: at most ``list_budget`` of them in all; mounts left over when
    it is spent are reported with ``keys`` None (not counted).
    """
    out = {"mounts": None, "auth": None, "policies": None, "unreadable": {}}
    try:
        table = _read(client, "sys/mounts")
    except VaultError as exc:
        out["unreadable"]["mounts"] = _reason(exc)
    else:
        mounts = []
        for path in sorted(table):
            entry = table[path] if isinstance(table[path], dict) else {}
            if path in DEFAULT_MOUNTS or entry.get("type") in DEFAULT_MOUNT_TYPES:
                continue
            item = {"path": path, "type": entry.get("type"), "local": bool(entry.get("local")), "keys": None,
                    "complete": True}
            root = kv_list_root(path, entry)
            if root is not None and list_budget <= 0:
                item["complete"] = False
                out["unreadable"]["keys of %s" % path] = "not counted: the listing budget was spent on other mounts"
            elif root is not None:
                try:
                    item["keys"], item["complete"], made = _count_keys(client, root, count_limit,
                                                                       min(LIST_CALL_LIMIT, list_budget))
                    list_budget -= made
                except VaultError as exc:
                    out["unreadable"]["keys of %s" % path] = _reason(exc)
            mounts.append(item)
        out["mounts"] = mounts
    try:
        table = _read(client, "sys/auth")
    except VaultError as exc:
        out["unreadable"]["auth"] = _reason(exc)
    else:
        out["auth"] = [{"path": path, "type": (table[path] or {}).get("type"),
                        "local": bool((table[path] or {}).get("local"))}
                       for path in sorted(table)
                       if isinstance(table[path], dict) and table[path].get("type") not in DEFAULT_AUTH_TYPES]
    try:
        names = _list(client, "sys/policies/acl")
    except VaultError as exc:
        out["unreadable"]["policies"] = _reason(exc)
    else:
        out["policies"] = sorted(n for n in names if n not in DEFAULT_POLICIES)
    return out


def holds_data(contents):
    """True when the cluster holds something an operator could lose: a secrets engine with keys
    (or one whose keys are not counted), an auth method or a policy beyond a new cluster's;
    None when it could not be read completely and what was read holds nothing."""
    if contents is None:
        return None
    for mount in contents.get("mounts") or []:
        if mount.get("keys") is None or mount["keys"] > 0:
            return True
    if contents.get("auth") or contents.get("policies"):
        return True
    if contents.get("unreadable"):
        return None
    return False


def _keys_text(mount):
    if mount.get("keys") is None:
        return "keys not counted"
    return "%s%d key%s" % ("at least " if not mount.get("complete", True) else "", mount["keys"],
                           "" if mount["keys"] == 1 else "s")


def describe(contents):
    """One sentence listing what the cluster holds, for messages (never a value, only names)."""
    if contents is None:
        return "What the cluster holds could not be read."
    parts = []
    mounts = contents.get("mounts")
    if mounts:
        parts.append("secrets engines %s" % ", ".join(
            "%s (%s%s, %s)" % (m["path"], m.get("type") or "?", ", local" if m.get("local") else "", _keys_text(m))
            for m in mounts))
    auth = contents.get("auth")
    if auth:
        parts.append("auth methods %s" % ", ".join(
            "%s (%s%s)" % (a["path"], a.get("type") or "?", ", local" if a.get("local") else "") for a in auth))
    policies = contents.get("policies")
    if policies:
        parts.append("policies %s" % ", ".join(policies))
    unreadable = contents.get("unreadable") or {}
    reasons = "; ".join("%s (%s)" % item for item in sorted(unreadable.items()))
    if parts:
        text = "It holds %s." % "; ".join(parts)
    elif all(contents.get(k) is None for k in ("mounts", "auth", "policies")):
        return "What it holds could not be read: %s." % (reasons or "no answer")
    elif unreadable:
        text = "What could be read holds nothing beyond what a new cluster has."
    else:
        return "It holds nothing beyond what a new cluster has."
    if unreadable:
        text += " Not readable: %s." % reasons
    return text
