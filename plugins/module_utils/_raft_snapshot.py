# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runner of the raft_snapshot module (also run in-process by its action plugin): save an
integrated storage snapshot of a cluster to a private file, or restore one."""

from __future__ import annotations

import os

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _cluster_contents, _snapshot
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultError
from ansible_collections.vaultops.replication.plugins.module_utils._runner import module_spec as _module_spec
from ansible_collections.vaultops.replication.plugins.module_utils._status import roles_of
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import WaitTimeout, wait_until

OTHER_KEYS = "different set of unseal keys"


def argument_spec():
    return dict(
        state=dict(type="str", choices=["saved", "restored"], default="saved"),
        backup_dir=dict(type="path"),
        snapshot_file=dict(type="path"),
        sha256=dict(type="str"),
        force=dict(type="bool", default=False),
        unseal_keys=dict(type="list", elements="str", no_log=True),
        standby_urls=dict(type="list", elements="str"),
        wait_timeout=dict(type="int", default=60),
    )


def module_spec():
    """Options and constraints of raft_snapshot (module and action plugin)."""
    return _module_spec(argument_spec(), required_if=[["state", "saved", ["backup_dir"]],
                                                      ["state", "restored", ["snapshot_file"]]])


def check_options(params):
    """The first problem with the options (a sentence naming the option), or None. Reads the
    file system only."""
    if params["state"] == "saved":
        for option in ("snapshot_file", "sha256", "unseal_keys", "standby_urls"):
            if params.get(option):
                return "%s is for state: restored; state: saved writes a new file into backup_dir." % option
        if params.get("force"):
            return "force is for state: restored (snapshot-force); leave it out with state: saved."
        problem = _snapshot.directory_problem(params["backup_dir"])
        if problem:
            return "backup_dir: %s." % problem
        return None
    if params.get("backup_dir"):
        return "backup_dir is for state: saved; give the file to restore as snapshot_file."
    if params.get("standby_urls") and not params.get("unseal_keys"):
        return "standby_urls needs unseal_keys: the standbys are unsealed with them after a restore that sealed them."
    if params["wait_timeout"] <= 0:
        return "wait_timeout must be a positive number of seconds."
    problem = _snapshot.snapshot_file_problem(params["snapshot_file"], params.get("sha256"))
    if problem:
        return "snapshot_file: %s." % problem
    return None


class Runner:
    def __init__(self, ctx):
        self.ctx = ctx
        self.params = ctx.params
        self.client = ctx.client
        self.label = ctx.label(self.client.url)

    def fail_from(self, exc, action, **result):
        self.ctx.fail_from(exc, action, **result)

    def run(self):
        p = self.params
        problem = check_options(p)
        if problem:
            self.ctx.fail_json(msg=problem)
        self.ctx.check_unsealed(self.client, self.label)
        statuses = self.ctx.read_replication(self.client, self.label)
        roles = roles_of(statuses)
        if roles["dr"] in ("secondary", "bootstrapping"):
            self.ctx.fail_json(msg=(
                "%s is a DR secondary, which neither saves nor restores snapshots (it answers no such requests). "
                "Its data is a copy of its DR primary's: take the snapshot there." % self.label[:1].upper()
                + self.label[1:]))
        self.ctx.check_token(self.client, self.label)
        if p["state"] == "saved":
            self.save(roles)
        self.restore(roles)

    # -- saved ----------------------------------------------------------------------------------

    def save(self, roles):
        p = self.params
        label = _snapshot.label_of(self.client.url, self.ctx.names.get(""))
        if self.ctx.check_mode:
            path = _snapshot.planned_path(p["backup_dir"], label)
            self.ctx.exit_json(changed=True, path=path, msg="would save a snapshot of %s to %s (check mode)." % (
                self.label, path), diff=dict(before=dict(roles, snapshot=None), after=dict(roles, snapshot=path)))
        try:
            saved = _snapshot.save(self.client, p["backup_dir"], label)
        except VaultError as exc:
            self.fail_from(exc, "save a snapshot of %s (GET %s) into backup_dir" % (self.label, _snapshot.SNAPSHOT_PATH))
        diff = dict(before=dict(roles, snapshot=None), after=dict(roles, snapshot=saved["path"]))
        self.ctx.exit_json(changed=True, msg="saved a snapshot of %s to %s (%d bytes)." % (
            self.label, saved["path"], saved["size"]), diff=diff, **saved)

    # -- restored -------------------------------------------------------------------------------

    def restore(self, roles):
        p = self.params
        if "secondary" in roles.values() or "bootstrapping" in roles.values():
            self.ctx.fail_json(msg=(
                "%s is a performance secondary; a restore there would be replaced by its primary's data and "
                "leaves replication in an undefined state. Detach it first (vaultops.replication."
                "replication_secondary, state: absent), then restore." % (self.label[:1].upper() + self.label[1:])))
        size, sha256 = _snapshot.digest(p["snapshot_file"])
        contents = _cluster_contents.read_contents(self.client)
        before = dict(roles, contents=contents)
        after = dict(roles, contents="replaced by %s" % os.path.basename(p["snapshot_file"]))
        result = dict(changed=True, snapshot_file=p["snapshot_file"], size=size, sha256=sha256,
                      replaced=contents, diff=dict(before=before, after=after))
        if "primary" in roles.values():
            self.ctx.warn("%s is a replication primary; its secondaries re-sync from the restored data." % self.label)
        if self.ctx.check_mode:
            self.ctx.exit_json(msg="would restore %s onto %s, replacing everything it holds (check mode). %s" % (
                p["snapshot_file"], self.label, _cluster_contents.describe(contents)), **result)
        try:
            endpoint = _snapshot.restore(self.client, p["snapshot_file"], force=p["force"])
        except VaultAPIError as exc:
            if exc.has_error(OTHER_KEYS):
                self.ctx.fail_json(msg=(
                    "%s refused the snapshot: it was taken under other unseal keys (another cluster's, or this "
                    "cluster's before it was activated as a secondary, which replaced its keys). Nothing was "
                    "changed. If that is intended, set force: true (snapshot-force); the cluster then takes the "
                    "snapshot's seal and seals itself: give unseal_keys, the unseal keys of the cluster the "
                    "snapshot was taken on." % (self.label[:1].upper() + self.label[1:])),
                    http_status=exc.status, vault_errors=list(exc.errors))
            self.fail_from(exc, "restore %s onto %s" % (p["snapshot_file"], self.label))
        except VaultError as exc:
            self.fail_from(exc, "restore %s onto %s" % (p["snapshot_file"], self.label))
        result["endpoint"] = endpoint
        sealed = self.after_restore()
        result["sealed"] = sealed
        msg = "restored %s onto %s (%s)." % (p["snapshot_file"], self.label, endpoint)
        if sealed:
            msg += (" The cluster took the snapshot's seal and is sealed: unseal it with the unseal keys of the "
                    "cluster the snapshot was taken on (unseal_keys).")
            self.ctx.warn("%s is sealed after the restore; unseal it with the snapshot's unseal keys." % self.label)
        self.ctx.exit_json(msg=msg, **result)

    def after_restore(self):
        """Unseal the cluster where the restore sealed it and keys were given; wait until the node at
        url serves (or stays sealed without keys). Returns whether it is sealed."""
        p = self.params
        timeout = p["wait_timeout"]
        status = self.seal_status(self.client)
        if status.get("sealed") and p.get("unseal_keys"):
            for client in [self.client] + self.standby_clients():
                self.unseal(client)
            status = self.seal_status(self.client)
        if status.get("sealed"):
            return True
        try:
            wait_until(lambda: _api.health(self.client), lambda answer: answer[0] == 200, timeout,
                       "%s to serve after the restore" % self.label)
        except WaitTimeout:
            self.ctx.fail_json(changed=True, msg="The snapshot was restored, but %s did not serve as an active node "
                                                 "within %ss; check it." % (self.label, timeout))
        return False

    def seal_status(self, client):
        try:
            return _api.seal_status(client)
        except VaultError as exc:
            self.fail_from(exc, "read the seal status of %s after the restore" % client.url, changed=True)

    def standby_clients(self):
        return self.ctx.standby_clients(changed=True)

    def unseal(self, client):
        keys = self.params["unseal_keys"]
        try:
            wait_until(lambda: _api.seal_status(client), lambda s: bool(s.get("sealed")), 10,
                       "%s to seal after the restore" % client.url)
        except WaitTimeout:
            return  # never sealed: nothing to do
        status = {}
        for key in keys:
            try:
                status = _api.unseal(client, key=key)
            except VaultAPIError as exc:
                self.ctx.fail_json(changed=True, msg=(
                    "The snapshot was restored, but %s rejected an unseal key (HTTP %s: %s). unseal_keys must be the "
                    "unseal keys of the cluster the snapshot was taken on." % (
                        client.url, exc.status, "; ".join(exc.errors))))
            except VaultError as exc:
                self.fail_from(exc, "unseal %s after the restore" % client.url, changed=True)
            if not status.get("sealed"):
                return
        self.ctx.fail_json(changed=True, msg=(
            "The snapshot was restored, but %s is still sealed after all %d unseal_keys (progress %s of %s); give at "
            "least the threshold number of the snapshot's unseal keys." % (
                client.url, len(keys), status.get("progress"), status.get("t"))))
