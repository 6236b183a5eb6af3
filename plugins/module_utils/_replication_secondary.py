# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runner of the replication_secondary module (also run in-process by its action plugin)."""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _cluster_contents, _snapshot
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultClient,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._plan import OTHER, TITLE, Plan
from ansible_collections.vaultops.replication.plugins.module_utils._runner import (
    cluster_suboptions,
    error_message,
    module_spec as _module_spec,
    prefixed_connection_spec,
)
from ansible_collections.vaultops.replication.plugins.module_utils._status import read_type_status, roles_of
from ansible_collections.vaultops.replication.plugins.module_utils._tokens import (
    ActivationTokenError,
    inspect_activation_token,
)
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import (
    ServingTimeout,
    WaitTimeout,
    role_phrase,
    wait_serving,
    wait_until,
)

DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h)?)+$")


class Refusal(Exception):
    """The request cannot be carried out from the observed state; nothing was written. ``kind``
    names refusals the caller adds to (``wipe``: consent to the wipe is missing)."""

    def __init__(self, message, kind=None):
        super().__init__(message)
        self.kind = kind


def normalise_filter(value):
    """Comparable form of a paths filter: mode plus the set of paths, each with one trailing slash."""
    if value is None:
        return None
    paths = set()
    for path in value.get("paths") or []:
        path = str(path).strip().strip("/")
        if path:
            paths.add(path + "/")
    mode = {"whitelist": "allow", "blacklist": "deny"}.get(value.get("mode"), value.get("mode") or "allow")
    return (mode, frozenset(paths))


def _primary_api_addresses(sec):
    out = set()
    for entry in sec.primaries:
        if isinstance(entry, dict) and entry.get("api_address"):
            out.add(entry["api_address"].rstrip("/"))
    return out


def relation(sec, prim, token_addr=None):
    """How the secondary-to-be relates to the wanted primary.

    ``attached``: connected to that primary; ``same-set``: same replication set but not connected to it (or
    the primary could not be read), fixable with update-primary; ``other-set``: a secondary of another set;
    ``disabled``: replication of that type is off.
    """
    if sec.role == "disabled":
        return "disabled"
    if prim is None:
        if sec.is_connected and token_addr and token_addr.rstrip("/") in _primary_api_addresses(sec):
            return "attached"
        return "same-set"
    if sec.cluster_id and sec.cluster_id == prim.cluster_id:
        if sec.is_connected and sec.secondary_id and prim.secondary_connected(sec.secondary_id):
            return "attached"
        return "same-set"
    return "other-set"


def _mint_actions(mode, prim, secondary_id, sec=None):
    if not secondary_id:
        raise Refusal("A new activation token has to be minted, which needs the secondary id: set 'id'.")
    actions = []
    if secondary_id in prim.known_secondaries:
        ours = sec is not None and sec.secondary_id == secondary_id and sec.cluster_id == prim.cluster_id
        if prim.secondary_connected(secondary_id) and not ours:
            raise Refusal(
                "The %s primary has a connected secondary with id %r; revoking it to mint a new token would cut "
                "that cluster off. Use another id, or detach that secondary first (state=absent, revoke=true)."
                % (TITLE[mode], secondary_id))
        # An earlier token for this id (even one never redeemed) blocks minting another one.
        actions.append("revoke-secondary")
    actions.append("secondary-token")
    return actions


def _common_refusals(mode, sec, sec_other):
    if mode == "performance" and sec_other.role in ("secondary", "bootstrapping"):
        raise Refusal(
            "The cluster at url is a DR secondary; a DR secondary is read-only and cannot run performance replication "
            "of its own (it follows its DR primary). Promote it first, or point url at another cluster.")
    if sec.role == "unknown":
        raise Refusal("Vault reports the %s replication mode of the cluster at url as %r, which this module does not "
                      "know how to handle; check 'vault read sys/replication/%s/status'." % (TITLE[mode], sec.mode, mode))


def decide_present(mode, sec, sec_other, prim=None, secondary_id=None, token_source=None, token_addr=None,
                   allow_wipe=False, has_dr_token=False, paths_filter=None, current_filter=None,
                   has_standbys=False, sealed_standbys=()):
    """Plan for state=present. Pure; raises Refusal.

    ``sec``/``sec_other``: statuses of the cluster to attach (type ``mode`` and the other type); ``prim``: the
    primary's status of ``mode`` or None when it could not be read; ``token_source``: "mint" (primary_url and its
    token given), "activation_token", or None; ``current_filter``: the primary's filter for the id (None = none).
    """
    _common_refusals(mode, sec, sec_other)
    title = TITLE[mode]
    if sec.role == "primary":
        raise Refusal(
            "The cluster at url is a %s primary. Demote it first (vaultops.replication.replication_primary, "
            "state=demoted); this module then re-attaches it with update-primary, without a wipe, if it belongs to "
            "the same replication set as the primary." % title)
    if prim is not None and prim.role != "primary":
        raise Refusal("The cluster at %s is not a %s primary (it reports %s replication mode %r); point primary_url "
                      "at the primary of the replication set." % ("primary_url" if token_source == "mint" else
                                                                  "the primary address", title, title, prim.mode))

    rel = relation(sec, prim, token_addr)
    warnings = []
    actions = []
    new_token = False
    sid = secondary_id
    if rel == "attached":
        sid = sec.secondary_id
        if secondary_id and sec.secondary_id != secondary_id:
            warnings.append(
                "The cluster is already a connected %s secondary of this primary under id %r, not %r; it was left as "
                "it is. To change its id, detach it (state=absent, revoke=true) and attach it again." %
                (title, sec.secondary_id, secondary_id))
    else:
        if token_source is None:
            raise Refusal(
                "The cluster needs %s to become a %s secondary of the primary, which needs an activation token: give "
                "primary_url and primary_token (the module mints one), or activation_token." %
                ("update-primary" if rel == "same-set" else "an activation (enable)", title))
        if rel == "same-set":
            if mode == "dr" and not has_dr_token:
                raise Refusal(
                    "The cluster is a DR secondary of the same replication set but not connected to this primary; "
                    "re-pointing it (update-primary, no wipe) needs its DR operation token: set dr_operation_token "
                    "(see vaultops.replication.dr_operation_token).")
            if token_source == "mint":
                actions.extend(_mint_actions(mode, prim, secondary_id, sec))
            actions.append("update-primary")
        else:
            if not allow_wipe:
                what = ("has %s replication disabled" % title if rel == "disabled" else
                        "is a %s secondary of another replication set (cluster_id %s, the primary's is %s)"
                        % (title, sec.cluster_id, prim.cluster_id if prim is not None else "unknown"))
                raise Refusal(
                    "The cluster at url %s. Activating it as a %s secondary ERASES ALL ITS DATA (tokens, secrets, "
                    "auth methods; its seal keys are replaced by the primary's). Set allow_wipe: true to confirm."
                    % (what, title), kind="wipe")
            if mode == "dr" and sec_other.role not in ("disabled",):
                raise Refusal(
                    "The cluster at url is a performance %s; a DR secondary cannot run performance replication of its "
                    "own. Disable performance replication on it first." % sec_other.role)
            if rel == "other-set":
                if mode == "dr" and not has_dr_token:
                    raise Refusal(
                        "The cluster is a DR secondary of another replication set; it must be disabled before it can "
                        "join this one, which needs its DR operation token: set dr_operation_token.")
            if token_source == "mint":
                actions.extend(_mint_actions(mode, prim, secondary_id))
            if rel == "other-set":
                actions.append("disable")
            actions.append("enable")
        new_token = True

    if paths_filter is not None:
        if mode != "performance":
            raise Refusal("paths_filter applies to performance replication only.")
        if (new_token and token_source == "activation_token" and prim is not None and prim.role == "primary"
                and secondary_id not in prim.known_secondaries):
            # The filter is keyed by id and a token does not show the id it was minted for: a cluster
            # activated under another id would stream everything the filter keeps out.
            raise Refusal(
                "paths_filter is written for the secondary id %r, but the primary holds no activation token for "
                "that id, so the activation_token was minted for another id and the cluster would replicate "
                "unfiltered. Mint the token for id %r (state=minted), or leave out activation_token so the module "
                "mints one with primary_url and primary_token." % (secondary_id, secondary_id))
        if new_token or normalise_filter(current_filter) != normalise_filter(paths_filter):
            # Before the cluster is attached (disable, enable, update-primary): whatever the filter
            # keeps out must never reach the secondary, not even until the re-sync a later write triggers.
            attach = [i for i, a in enumerate(actions) if a in ("disable", "enable", "update-primary")]
            actions.insert(attach[0] if attach else len(actions), "paths-filter")

    if has_standbys and ("enable" in actions or sealed_standbys):
        actions.append("unseal-standbys")
    return Plan(actions=actions, after_role="secondary", secondary_id=sid, warnings=warnings)


def decide_absent(mode, sec, sec_other, prim=None, secondary_id=None, revoke=False, has_dr_token=False,
                  current_filter=None):
    """Plan for state=absent. Pure; raises Refusal."""
    _common_refusals(mode, sec, sec_other)
    title = TITLE[mode]
    if sec.role == "primary":
        raise Refusal("The cluster at url is a %s primary, not a secondary; disable a primary with "
                      "vaultops.replication.replication_primary (state=disabled)." % title)
    actions = []
    warnings = []
    if sec.role in ("secondary", "bootstrapping"):
        if mode == "dr" and not has_dr_token:
            raise Refusal("Disabling a DR secondary needs its DR operation token: set dr_operation_token "
                          "(see vaultops.replication.dr_operation_token).")
        actions.append("disable")
    sid = secondary_id or sec.secondary_id
    if revoke:
        if prim is None:
            raise Refusal("revoke=true needs primary_url (and primary_token) of the primary to revoke the id on.")
        if not sid:
            # Nothing reports an id any more (typically a re-run after the secondary was disabled).
            warnings.append("revoke=true: the cluster reports no secondary id and none was given in id, so nothing "
                            "was revoked on the primary; set id to revoke a specific one.")
        elif prim.role == "primary" and sid in prim.known_secondaries:
            actions.append("revoke-secondary")
        if mode == "performance" and current_filter is not None:
            actions.append("delete-paths-filter")
    return Plan(actions=actions, after_role="disabled", secondary_id=sid, warnings=warnings)


def decide_minted(mode, prim, secondary_id, paths_filter=None):
    """Plan for state=minted, run against the primary. Pure; raises Refusal."""
    if prim.role != "primary":
        raise Refusal("state=minted runs against the primary, but the cluster at url is not a %s primary (it reports "
                      "mode %r). Point url at the primary." % (TITLE[mode], prim.mode))
    actions = _mint_actions(mode, prim, secondary_id)
    if paths_filter is not None:
        if mode != "performance":
            raise Refusal("paths_filter applies to performance replication only.")
        actions.append("paths-filter")
    return Plan(actions=actions, after_role="primary", secondary_id=secondary_id)


def wipes(mode, sec, sec_other, prim=None, token_addr=None):
    """Whether state=present would activate (wipe) the cluster rather than leave it or re-point it:
    replication of ``mode`` is disabled there or it belongs to another replication set. Pure."""
    if sec.role in ("primary", "unknown"):
        return False
    if mode == "performance" and sec_other.role in ("secondary", "bootstrapping"):
        return False
    return relation(sec, prim, token_addr) in ("disabled", "other-set")


def decide_backup(holds, backup, backup_dir, dr_secondary=False):
    """Whether to snapshot the cluster before it is wiped. Pure; raises Refusal.

    ``holds``: ``_cluster_contents.holds_data`` (True, False, or None when it could not be read);
    ``backup``: the option (False = explicit opt-out); ``dr_secondary``: the cluster is a DR
    secondary now (of another set), which cannot be snapshotted. Returns True (take one) or False.
    """
    if not backup or holds is False:
        return False
    if dr_secondary:
        raise Refusal(
            "The cluster at url is a DR secondary of another replication set: it answers no snapshot request, so it "
            "cannot be backed up before the wipe (its data is a copy of its DR primary's). Back up that primary "
            "(vaultops.replication.raft_snapshot), then set backup: false to activate this cluster.", kind="backup")
    if not backup_dir:
        what = ("holds data" if holds else "may hold data (what it holds could not be read completely)")
        raise Refusal(
            "The cluster at url %s, which activating it erases. Give backup_dir (a private directory where a raft "
            "snapshot of the cluster is saved before the wipe; restore it with vaultops.replication.raft_snapshot), "
            "or set backup: false to activate it without a backup." % what, kind="backup")
    return True


def _iso(ts):
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(ts)))
    except (TypeError, ValueError):
        return None


# Options that describe the one secondary of a run, so they cannot go with ``secondaries`` (each
# entry gives its own); an activation token is minted for one secondary id.
SINGLE_SECONDARY_OPTIONS = ("url", "cluster", "id", "activation_token", "standby_urls")


def module_spec():
    """Options and constraints of replication_secondary (module and action plugin)."""
    return _module_spec(dict(
        mode=dict(type="str", required=True, choices=["dr", "performance"]),
        state=dict(type="str", default="present", choices=["present", "absent", "minted"]),
        id=dict(type="str"),
        activation_token=dict(type="str", no_log=True),
        token_ttl=dict(type="str", default="30m", no_log=False),
        primary_api_addr=dict(type="str"),
        ca_file=dict(type="str"),
        ca_path=dict(type="str"),
        paths_filter=dict(type="dict", options=dict(
            mode=dict(type="str", default="allow", choices=["allow", "deny"]),
            paths=dict(type="list", elements="str", required=True),
        )),
        allow_wipe=dict(type="bool", default=False),
        backup=dict(type="bool", default=True),
        backup_dir=dict(type="path"),
        dr_operation_token=dict(type="str", no_log=True),
        unseal_keys=dict(type="list", elements="str", no_log=True),
        standby_urls=dict(type="list", elements="str"),
        revoke=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=120),
        secondaries=dict(type="list", elements="dict", options=dict(cluster_suboptions(), id=dict(type="str"))),
        **prefixed_connection_spec("primary")
    ), mutually_exclusive=[["secondaries", option] for option in SINGLE_SECONDARY_OPTIONS])


class SecondaryRunner(object):
    # ``secondaries``: one run per entry, concurrently (_runner.execute_fan_out); an entry's
    # ``name`` is its secondary id unless it gives ``id``.
    FAN_OUT = "secondaries"
    FAN_OUT_DEFAULTS = {"id": "name"}

    @staticmethod
    def fan_out_problem(params):
        """Why the task's options do not apply to every entry of ``secondaries`` (or None)."""
        if params.get("state") == "minted":
            return ("state=minted runs against the primary and mints one activation token for the id given in id; "
                    "it does not take secondaries.")
        return None

    def __init__(self, ctx):
        self.ctx = ctx
        self.params = ctx.params
        self.mode = ctx.params["mode"]
        self.title = TITLE[self.mode]
        self.client = ctx.client
        self.primary = None
        self.primary_label = None
        self.token_claims = None
        self.vault_warnings = []
        self.minted_id = None
        # The id's paths filter before this run, and (id, that filter) once this run wrote one.
        self.filter_before = None
        self.filter_written = None
        # Seconds spent waiting for the cluster to serve in its new role (returned as ``waited``).
        self.waited = 0.0

    # ------------------------------------------------------------------ helpers
    def fail(self, msg, **kwargs):
        self.ctx.fail_json(msg=msg, **kwargs)

    def prefix_for(self, client):
        """Option prefix to name in connection hints: the primary's own options when it is not url."""
        return "primary_" if client is not None and client is self.primary and client is not self.client else ""

    def api(self, what, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except VaultError as exc:
            prefix = self.prefix_for(args[0] if args else None)
            self.ctx.fail_from(exc, what, option_prefix=prefix)

    def read_statuses(self, client, label):
        return self.ctx.read_replication(client, label, option_prefix=self.prefix_for(client))

    def read_type(self, client):
        return read_type_status(client, self.mode, retry_on_status=False)

    def check_unsealed(self, client, label):
        self.ctx.check_unsealed(client, label, option_prefix=self.prefix_for(client))

    def check_token(self, client, option, label):
        self.ctx.check_token(client, label, option=option, option_prefix=self.prefix_for(client))

    def wait_out_bootstrap(self, statuses, client, label):
        return self.ctx.wait_out_bootstrap(statuses, client, self.mode, label, self.params["wait_timeout"],
                                           option_prefix=self.prefix_for(client))

    # ------------------------------------------------------------------ validation
    def validate_params(self):
        p = self.params
        state = p["state"]
        if p.get("token_ttl") and not DURATION.match(str(p["token_ttl"])):
            self.fail("token_ttl %r is not a Vault duration; use for example 30m, 1h or 1800s." % p["token_ttl"])
        for option in ("primary_url", "primary_api_addr"):
            value = p.get(option)
            if value:
                parsed = urlparse(value)
                if parsed.scheme not in ("http", "https") or not parsed.hostname:
                    self.fail("%s %r is not a Vault API address; give scheme and host, for example "
                              "https://vault-a.example.com:8200." % (option, value))
        # standby_urls and unseal_keys go together; cluster.nodes may stand in for standby_urls.
        if p.get("standby_urls") and not p.get("unseal_keys"):
            self.fail("standby_urls are unsealed with the primary's unseal keys: set unseal_keys too.")
        if p.get("unseal_keys") and p.get("standby_urls") is None and not (p.get("cluster") or {}).get("nodes"):
            self.fail("unseal_keys are used to unseal the secondary's standby nodes: set standby_urls (or "
                      "cluster.nodes) too.")
        for value in p.get("standby_urls") or []:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                self.fail("standby_urls entry %r is not a Vault API address (scheme and host)." % value)
        if p.get("backup_dir"):
            if state != "present":
                self.fail("backup_dir is for state=present (the snapshot taken before an activation wipes the "
                          "cluster); leave it out with state=%s." % state)
            if not p["backup"]:
                self.fail("backup: false and backup_dir contradict each other: give backup_dir to take a snapshot "
                          "before the wipe, or backup: false (without backup_dir) to skip it.")
            problem = _snapshot.directory_problem(p["backup_dir"])
            if problem:
                self.fail("backup_dir: %s." % problem)
        if p.get("paths_filter") is not None and self.mode != "performance":
            self.fail("paths_filter applies to performance replication only (mode=performance).")
        if state == "minted":
            if not p.get("id"):
                self.fail("state=minted needs the secondary id to mint the token for: set id.")
            if p.get("activation_token"):
                self.fail("state=minted mints a new activation token; do not pass activation_token with it.")
        if state == "present":
            if p.get("paths_filter") is not None:
                if not p.get("primary_url"):
                    self.fail("paths_filter is written on the primary: set primary_url and primary_token.")
                if not p.get("id"):
                    self.fail("paths_filter is keyed by the secondary id: set id.")
            if p.get("activation_token"):
                try:
                    self.token_claims = inspect_activation_token(p["activation_token"])
                except ActivationTokenError as exc:
                    self.fail("activation_token cannot be used: %s. Mint a new one on the primary (state=minted)."
                              % exc.message)
            elif p.get("primary_url") and not p.get("id"):
                self.fail("Minting an activation token on primary_url needs the secondary id: set id.")

    def read_primary(self):
        """The primary's status of ``mode``, after checking it is unsealed. With ``secondaries`` every
        entry decides from the same read (each entry only changes its own secondary id there)."""
        def read():
            self.check_unsealed(self.primary, self.primary_label)
            return self.read_statuses(self.primary, self.primary_label)[self.mode]
        return self.ctx.once(("primary-status", self.primary.url), read)

    def check_primary_token(self):
        self.ctx.once(("primary-token", self.primary.url),
                      lambda: self.check_token(self.primary, "primary_token", self.primary_label))

    def primary_client(self):
        if self.primary is None and self.params.get("primary_url"):
            try:
                self.primary = self.ctx.client_for("primary")
            except VaultError as exc:
                self.ctx.fail_from(exc, "connect to primary_url", option_prefix="primary_")
            self.primary_label = self.ctx.label(self.primary.url, "primary", "primary")
        return self.primary

    def token_primary_client(self):
        """A token-less client for the primary named by the activation token, when primary_url is not given."""
        addr = self.params.get("primary_api_addr") or (self.token_claims or {}).get("addr")
        if not addr:
            return None
        try:
            return VaultClient(addr, ca_cert=self.params.get("primary_ca_cert") or self.params.get("ca_cert"),
                               validate_certs=self.params.get("primary_validate_certs") is not False
                               and self.params.get("validate_certs") is not False,
                               timeout=min(float(self.params.get("timeout") or 30), 10.0), retries=0,
                               proxies=self.params.get("proxies"), env=self.ctx.env)
        except VaultError:
            return None

    # ------------------------------------------------------------------ execution steps
    def mint(self, secondary_id, known):
        if known:
            self.api("revoke the stale secondary id %r on %s" % (secondary_id, self.primary_label),
                     _api.revoke_secondary, self.primary, self.mode, secondary_id)
        token, warnings = self.api(
            "mint a %s activation token for id %r on %s" % (self.title, secondary_id, self.primary_label),
            _api.mint_secondary_token, self.primary, self.mode, secondary_id, ttl=self.params.get("token_ttl"))
        self.vault_warnings.extend(warnings or [])
        self.minted_id = secondary_id
        return token

    def cleanup_minted(self):
        """Best effort: an unredeemed token (and a filter written for it) must not linger on the
        primary after a failed activation."""
        self.restore_filter()
        if self.minted_id and self.primary is not None:
            try:
                _api.revoke_secondary(self.primary, self.mode, self.minted_id)
            except VaultError:
                pass

    def redeem(self, action, token):
        p = self.params
        kwargs = dict(primary_api_addr=p.get("primary_api_addr"), ca_file=p.get("ca_file"), ca_path=p.get("ca_path"))
        try:
            if action == "enable":
                warnings = _api.enable_secondary(self.client, self.mode, token, **kwargs)
            else:
                warnings = _api.update_primary(self.client, self.mode, token=token,
                                               dr_operation_token=p.get("dr_operation_token"), **kwargs)
        except VaultError as exc:
            self.cleanup_minted()
            hint = ""
            if isinstance(exc, VaultAPIError) and p.get("activation_token"):
                hint = (" If the activation token was already used or has expired, mint a new one on the primary "
                        "(state=minted).")
            elif isinstance(exc, VaultAPIError) and action == "update-primary" and self.mode == "dr":
                hint = " Check that dr_operation_token is a valid DR operation token of this DR secondary."
            verb = "activate" if action == "enable" else "re-point (update-primary)"
            what = "%s the %s secondary at %s" % (verb, self.title, self.client.url)
            if hint:
                self.fail("Failed to %s: %s.%s" % (what, exc.message, hint))
            self.ctx.fail_from(exc, what)
        self.vault_warnings.extend(warnings or [])

    def wait_streaming(self, secondary_id):
        """After enable or update-primary: wait until the secondary streams from the primary, the
        primary (when we can read it) sees it connected, and the secondary serves in its role."""
        def primary_sees_it(sec):
            if self.primary is None:
                return None
            prim = self.read_type(self.primary)
            sid = sec.secondary_id or secondary_id
            if sec.cluster_id != prim.cluster_id or not prim.secondary_connected(sid):
                return "the primary does not list the secondary %r as connected yet" % sid
            return None

        self.wait_serving(self.client, "secondary", streaming=True, also=primary_sees_it,
                          hint="Check that it can reach the primary's API and cluster ports (primary_api_addr, "
                               "ca_file, primary_cluster_addr) and run again.")

    def wait_role(self, client, label, role):
        self.wait_serving(client, role, label=label, hint="Check it and run again.")

    def wait_serving(self, client, role, streaming=False, also=None, label=None, hint=""):
        """``_waiter.wait_serving`` for this module's type; adds the time to ``self.waited`` and
        fails the task (the change was made) when the cluster does not serve in time."""
        label = label or self.ctx.label(client.url)
        timeout = self.params["wait_timeout"]
        try:
            served = wait_serving(client, self.mode, role, timeout, streaming=streaming, also=also,
                                  description="%s to serve %s" % (label, role_phrase(self.mode, role)))
        except ServingTimeout as exc:
            self.waited += exc.waited
            self.fail("The change was sent, but %s did not serve %s within %ss (last seen: %s). %s" % (
                label, role_phrase(self.mode, role), timeout, exc.seen, hint), changed=True,
                waited=round(self.waited, 3))
        except VaultError as exc:
            self.ctx.fail_from(exc, "read the state of %s after the change" % label, changed=True)
        self.waited += served.waited
        return served.status

    def standby_clients(self):
        return self.ctx.standby_clients(changed=False)

    def sealed_standbys(self, clients):
        sealed = []
        for c in clients:
            status = self.api("read the seal status of the standby %s" % c.url, _api.seal_status, c)
            if status.get("sealed"):
                sealed.append(c)
        return sealed

    def unseal_standbys(self, clients, after_activation):
        keys = self.params.get("unseal_keys") or []
        timeout = self.params["wait_timeout"]
        for c in clients:
            if after_activation:
                # Activation replaced the keyring; each standby notices on its own schedule and seals itself.
                # Unsealing it before that would be undone, so wait for the seal first (bounded: a standby that
                # never seals needs nothing from us).
                try:
                    wait_until(lambda c=c: _api.seal_status(c), lambda s: bool(s.get("sealed")), min(timeout, 30),
                               "the standby %s to seal after activation" % c.url)
                except WaitTimeout:
                    self.ctx.warn("The standby %s did not seal after the activation; it was left as it is." % c.url)
                    continue
            status = self.api("read the seal status of the standby %s" % c.url, _api.seal_status, c)
            if not status.get("sealed"):
                continue
            if status.get("progress"):
                self.api("reset the unseal progress of %s" % c.url, _api.unseal, c, reset=True)
            for key in keys:
                try:
                    status = _api.unseal(c, key=key)
                except VaultAPIError as exc:
                    self.fail("The standby %s rejected an unseal key (HTTP %s: %s). unseal_keys must be the PRIMARY's "
                              "unseal (or recovery) keys." % (c.url, exc.status, "; ".join(exc.errors)))
                except VaultError as exc:
                    self.ctx.fail_from(exc, "unseal the standby %s" % c.url)
                if not status.get("sealed"):
                    break
            if status.get("sealed"):
                self.fail("The standby %s is still sealed after all %d unseal_keys (progress %s of %s); give at least "
                          "the threshold number of the primary's unseal keys." % (
                              c.url, len(keys), status.get("progress"), status.get("t")))
        for c in clients:
            self.wait_unsealed(c)

    def wait_unsealed(self, c):
        try:
            wait_until(lambda: _api.seal_status(c), lambda s: not s.get("sealed"), self.params["wait_timeout"],
                       "the standby %s to be unsealed" % c.url)
        except WaitTimeout:
            self.fail("The standby %s did not stay unsealed within %ss; check it." % (c.url, self.params["wait_timeout"]))

    # ------------------------------------------------------------------ states
    def run(self):
        self.validate_params()
        state = self.params["state"]
        if state == "minted":
            self.run_minted()
        elif state == "absent":
            self.run_absent()
        else:
            self.run_present()

    def exit(self, plan, before, after_statuses, status, predicted=False, **extra):
        before_roles = roles_of(before)
        if predicted:
            after_roles = dict(before_roles)
            after_roles[self.mode] = plan.after_role
        else:
            after_roles = roles_of(after_statuses)
        diff = dict(before=dict(before_roles), after=dict(after_roles))
        if "wipe" in extra:
            # What the activation erases, and the snapshot taken (or to be taken) before it.
            diff["before"]["contents"] = extra["wipe"]
            diff["after"]["contents"] = "erased by the activation"
        if "backup" in extra:
            diff["before"]["backup"] = None
            diff["after"]["backup"] = extra["backup"]["path"]
        result = dict(changed=plan.changed, actions=plan.actions, role=after_roles[self.mode],
                      status=status.as_dict(), diff=diff, waited=round(self.waited, 3))
        if plan.changed and not predicted:
            result["vault_warnings"] = self.vault_warnings
        result.update(extra)
        self.ctx.exit_json(**result)

    def refuse(self, exc, before, contents):
        """Fail for a Refusal; the wipe and backup refusals list what the cluster holds."""
        msg = str(exc)
        extra = {}
        if getattr(exc, "kind", None) in ("wipe", "backup") and contents is not None:
            msg = "%s %s" % (msg, _cluster_contents.describe(contents))
            extra["wipe"] = contents
        self.fail(msg, diff=dict(before=roles_of(before), after=roles_of(before)), **extra)

    def read_contents(self, before):
        """What the cluster at url holds (``_cluster_contents.read_contents``), as far as it can be read."""
        unreadable = None
        if before["dr"].role in ("secondary", "bootstrapping"):
            unreadable = "the cluster is a DR secondary, which answers no such reads"
        elif not self.client.token:
            unreadable = "no token for the cluster at url (set token)"
        if unreadable:
            return {"mounts": None, "auth": None, "policies": None, "unreadable": {"everything": unreadable}}
        return _cluster_contents.read_contents(self.client)

    def backup_label(self):
        return _snapshot.label_of(self.client.url, self.ctx.names.get(""))

    def read_filter(self, secondary_id):
        if self.primary is None or not secondary_id or self.mode != "performance":
            return None
        return self.api("read the paths filter of %r on %s" % (secondary_id, self.primary_label),
                        _api.read_paths_filter, self.primary, secondary_id)

    def write_filter(self, secondary_id):
        pf = self.params["paths_filter"]
        self.api("write the paths filter of %r on %s" % (secondary_id, self.primary_label),
                 _api.write_paths_filter, self.primary, secondary_id, pf.get("mode") or "allow", pf.get("paths") or [])

    def write_filter_first(self, secondary_id, before):
        """Write paths_filter on the primary before the cluster is attached; on failure nothing is
        attached (an activation token minted by this run is revoked) and the task fails naming the option."""
        pf = self.params["paths_filter"]
        try:
            _api.write_paths_filter(self.primary, secondary_id, pf.get("mode") or "allow", pf.get("paths") or [])
        except VaultError as exc:
            self.cleanup_minted()
            if isinstance(exc, VaultAPIError) and exc.status in (400, 403):
                fix = ("Check paths_filter (mode allow or deny; paths are mount or namespace paths such as secret/) "
                       "and that primary_token may write sys/replication/performance/primary/paths-filter/%s"
                       % secondary_id)
            else:
                fix = "Make the primary reachable for writing paths_filter (primary_url, primary_token)"
            self.fail("%s. Nothing was activated: the filter must be in place before the cluster is attached, so "
                      "that nothing it keeps out reaches the secondary. %s, then run again." % (
                          error_message(exc, "write paths_filter for the secondary id %r on %s"
                                        % (secondary_id, self.primary_label), option_prefix="primary_"), fix),
                      diff=dict(before=roles_of(before), after=roles_of(before)),
                      **({"http_status": exc.status} if isinstance(exc, VaultAPIError) else {}))
        self.filter_written = (secondary_id, self.filter_before)

    def restore_filter(self):
        """Best effort, after a failed attach: put back the filter the id had before this run."""
        if self.filter_written is None or self.primary is None:
            return
        secondary_id, previous = self.filter_written
        try:
            if previous is None:
                _api.delete_paths_filter(self.primary, secondary_id)
            else:
                _api.write_paths_filter(self.primary, secondary_id, previous.get("mode") or "allow",
                                        previous.get("paths") or [])
        except VaultError:
            pass

    def run_present(self):
        p = self.params
        sec_label = self.ctx.label(self.client.url)
        self.check_unsealed(self.client, sec_label)
        before = self.wait_out_bootstrap(self.read_statuses(self.client, sec_label), self.client, sec_label)

        prim = None
        token_source = "activation_token" if p.get("activation_token") else None
        if self.primary_client() is not None:
            prim = self.read_primary()
            if token_source is None:
                token_source = "mint"
        elif token_source:
            # Split-team: try to look at the issuing primary without a token, to tell "already attached" from
            # "needs update-primary". Unreachable is not an error: the secondary may see it when we cannot.
            probe = self.token_primary_client()
            if probe is not None:
                try:
                    prim = read_type_status(probe, self.mode)
                except VaultError as exc:
                    self.ctx.warn("Could not read the primary's replication status at %s (%s); deciding from the "
                                  "secondary's status alone." % (probe.url, exc.message))

        secondary_id = p.get("id")
        current_filter = None
        if p.get("paths_filter") is not None and prim is not None and prim.role == "primary":
            self.check_primary_token()
            current_filter = self.read_filter(secondary_id)
            self.filter_before = current_filter

        standbys = self.standby_clients()
        sealed = self.sealed_standbys(standbys) if standbys else []

        token_addr = p.get("primary_api_addr") or (self.token_claims or {}).get("addr")
        # What an activation would erase, read before deciding: the refusal and check mode list it.
        contents = None
        if wipes(self.mode, before[self.mode], before[OTHER[self.mode]], prim, token_addr):
            if before["dr"].role not in ("secondary", "bootstrapping") and self.client.token:
                # A rejected token is the problem to report, not the contents it cannot read.
                self.check_token(self.client, "token", sec_label)
            contents = self.read_contents(before)
        try:
            plan = decide_present(
                self.mode, before[self.mode], before[OTHER[self.mode]], prim=prim, secondary_id=secondary_id,
                token_source=token_source, token_addr=token_addr,
                allow_wipe=p["allow_wipe"], has_dr_token=bool(p.get("dr_operation_token")),
                paths_filter=p.get("paths_filter"), current_filter=current_filter, has_standbys=bool(standbys),
                sealed_standbys=[c.url for c in sealed])
        except Refusal as exc:
            self.refuse(exc, before, contents)
        for warning in plan.warnings:
            self.ctx.warn(warning)

        extra = dict(secondary_id=plan.secondary_id)
        if "enable" in plan.actions:
            if before["dr"].role not in ("secondary", "bootstrapping") and not self.client.token:
                self.check_token(self.client, "token", sec_label)  # fails: the activation needs one
            try:
                backup = decide_backup(_cluster_contents.holds_data(contents), p["backup"], p.get("backup_dir"),
                                       dr_secondary=before["dr"].role in ("secondary", "bootstrapping"))
            except Refusal as exc:
                self.refuse(exc, before, contents)
            if backup:
                plan.actions.insert(0, "snapshot")
            extra["wipe"] = contents
        if not plan.changed:
            if p.get("paths_filter") is not None:
                extra["paths_filter"] = current_filter
            self.exit(plan, before, before, before[self.mode], **extra)

        # Everything that can fail without writing is checked before the first write.
        mints = "secondary-token" in plan.actions
        if mints or "paths-filter" in plan.actions:
            self.check_primary_token()
        # A DR secondary refuses ordinary tokens on every path, so its token can only be checked once it is no
        # longer one; the token that works after the disable is one of its (old) primary's.
        dr_secondary_now = self.mode == "dr" and before["dr"].role in ("secondary", "bootstrapping")
        if ("enable" in plan.actions and not dr_secondary_now) or (
                self.mode == "performance" and ("update-primary" in plan.actions or "disable" in plan.actions)):
            self.check_token(self.client, "token", sec_label)
        if self.ctx.check_mode:
            if p.get("paths_filter") is not None:
                extra["paths_filter"] = p["paths_filter"]
            if "snapshot" in plan.actions:
                extra["backup"] = {"path": _snapshot.planned_path(p["backup_dir"], self.backup_label())}
            if "wipe" in extra:
                extra["msg"] = "would activate %s as a %s secondary, erasing what it holds (check mode). %s%s" % (
                    sec_label, self.title, _cluster_contents.describe(contents),
                    " A snapshot would be saved to %s first." % extra["backup"]["path"] if "backup" in extra else "")
            self.exit(plan, before, None, before[self.mode], predicted=True, **extra)

        if "snapshot" in plan.actions:
            # The last step before the first write: a failed backup leaves the cluster as it was.
            try:
                extra["backup"] = _snapshot.save(self.client, p["backup_dir"], self.backup_label())
            except VaultError as exc:
                hint = ""
                if isinstance(exc, VaultAPIError) and exc.status == 403:
                    hint = " (the token needs sudo on %s)" % _snapshot.SNAPSHOT_PATH
                self.ctx.fail_from(exc, "save a snapshot of %s into backup_dir before the wipe%s; nothing was changed. "
                                   "Fix that, or set backup: false to activate without a backup" % (sec_label, hint),
                                   wipe=contents, diff=dict(before=roles_of(before), after=roles_of(before)))

        token = p.get("activation_token")
        if mints:
            token = self.mint(secondary_id, "revoke-secondary" in plan.actions)
        attaches = any(a in plan.actions for a in ("disable", "enable", "update-primary"))
        if "paths-filter" in plan.actions and attaches:
            self.write_filter_first(secondary_id, before)
        if "disable" in plan.actions:
            try:
                self.vault_warnings.extend(_api.disable_secondary(
                    self.client, self.mode, dr_operation_token=p.get("dr_operation_token")) or [])
            except VaultError as exc:
                self.cleanup_minted()
                self.ctx.fail_from(exc, "disable the %s secondary at %s (it belongs to another replication set)"
                                   % (self.title, self.client.url))
            self.wait_role(self.client, sec_label, "disabled")
        for action in ("enable", "update-primary"):
            if action in plan.actions:
                self.redeem(action, token)
                self.wait_streaming(secondary_id)
        token = None
        after = self.read_statuses(self.client, sec_label)
        sid = after[self.mode].secondary_id or plan.secondary_id
        extra["secondary_id"] = sid
        redeemed = [a for a in ("enable", "update-primary") if a in plan.actions]
        if redeemed and p.get("activation_token") and secondary_id and sid and sid != secondary_id:
            # The id is fixed when the token is minted and a token does not show it: only the
            # activated cluster tells. Say so instead of reporting success under another id.
            self.fail("The activation_token was minted for the secondary id %r, not for id %r: %s is now a %s "
                      "secondary of %s under id %r (%s done). To give it the id %r: detach it (state=absent, "
                      "revoke=true, which also revokes %r on the primary), then attach it again with a token minted "
                      "for %r (state=minted) or with primary_url and primary_token." % (
                          sid, secondary_id, self.client.url, self.title,
                          self.primary_label or (self.token_claims or {}).get("addr") or "the primary", sid,
                          " and ".join(redeemed), secondary_id, sid, secondary_id),
                      changed=True, secondary_id=sid, diff=dict(before=roles_of(before), after=roles_of(after)))
        if "paths-filter" in plan.actions:
            if not attaches:
                self.write_filter(sid)
            extra["paths_filter"] = self.read_filter(sid)
        if "unseal-standbys" in plan.actions:
            self.unseal_standbys(standbys, after_activation="enable" in plan.actions)
        self.exit(plan, before, after, after[self.mode], **extra)

    def run_absent(self):
        p = self.params
        sec_label = self.ctx.label(self.client.url)
        self.check_unsealed(self.client, sec_label)
        before = self.wait_out_bootstrap(self.read_statuses(self.client, sec_label), self.client, sec_label)
        prim = None
        current_filter = None
        secondary_id = p.get("id") or before[self.mode].secondary_id
        if p["revoke"] and self.primary_client() is not None:
            self.check_unsealed(self.primary, self.primary_label)
            prim = self.read_statuses(self.primary, self.primary_label)[self.mode]
            if self.mode == "performance" and prim.role == "primary" and secondary_id:
                self.check_token(self.primary, "primary_token", self.primary_label)
                current_filter = self.read_filter(secondary_id)
        try:
            plan = decide_absent(self.mode, before[self.mode], before[OTHER[self.mode]], prim=prim,
                                 secondary_id=secondary_id, revoke=p["revoke"],
                                 has_dr_token=bool(p.get("dr_operation_token")), current_filter=current_filter)
        except Refusal as exc:
            self.fail(str(exc), diff=dict(before=roles_of(before), after=roles_of(before)))
        for warning in plan.warnings:
            self.ctx.warn(warning)
        if not plan.changed:
            self.exit(plan, before, before, before[self.mode])
        if "revoke-secondary" in plan.actions:
            self.check_token(self.primary, "primary_token", self.primary_label)
        if "disable" in plan.actions and self.mode == "performance":
            self.check_token(self.client, "token", sec_label)
        if self.ctx.check_mode:
            self.exit(plan, before, None, before[self.mode], predicted=True)
        if "disable" in plan.actions:
            self.vault_warnings.extend(self.api(
                "disable the %s secondary at %s" % (self.title, self.client.url), _api.disable_secondary,
                self.client, self.mode, dr_operation_token=p.get("dr_operation_token")) or [])
            self.wait_role(self.client, sec_label, "disabled")
        if "revoke-secondary" in plan.actions:
            self.vault_warnings.extend(self.api(
                "revoke the secondary id %r on %s" % (plan.secondary_id, self.primary_label), _api.revoke_secondary,
                self.primary, self.mode, plan.secondary_id) or [])
        if "delete-paths-filter" in plan.actions:
            self.api("delete the paths filter of %r on %s" % (plan.secondary_id, self.primary_label),
                     _api.delete_paths_filter, self.primary, plan.secondary_id)
        after = self.read_statuses(self.client, sec_label)
        self.exit(plan, before, after, after[self.mode])

    def run_minted(self):
        p = self.params
        label = self.ctx.label(self.client.url, "primary")
        self.check_unsealed(self.client, label)
        before = self.read_statuses(self.client, label)
        try:
            plan = decide_minted(self.mode, before[self.mode], p["id"], paths_filter=p.get("paths_filter"))
        except Refusal as exc:
            self.fail(str(exc), diff=dict(before=roles_of(before), after=roles_of(before)))
        self.check_token(self.client, "token", label)
        extra = dict(secondary_id=p["id"])
        if self.ctx.check_mode:
            self.exit(plan, before, None, before[self.mode], predicted=True, **extra)
        self.primary, self.primary_label = self.client, label
        token = self.mint(p["id"], "revoke-secondary" in plan.actions)
        if "paths-filter" in plan.actions:
            self.write_filter(p["id"])
            extra["paths_filter"] = self.read_filter(p["id"])
        expires = None
        try:
            expires = _iso(inspect_activation_token(token).get("exp"))
        except ActivationTokenError:
            pass
        after = self.read_statuses(self.client, label)
        self.exit(plan, before, after, after[self.mode], activation_token=token, activation_token_expires=expires,
                  **extra)


Runner = SecondaryRunner
