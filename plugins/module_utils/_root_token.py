# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runner of the root_token module (also run in-process by its action plugin).

The generate-root ceremony (``sys/generate-root``) speaks the protocol of the DR operation
token ceremony (reference section 5), so this runner is dr_operation_token's ceremony with the
generate-root endpoints and names. Its main use is a performance secondary, which has no usable
token after activation: its keys are the primary's, so the primary's key holders generate a
root token there.
"""

from __future__ import annotations

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultError
from ansible_collections.vaultops.replication.plugins.module_utils._dr_operation_token import Runner as _CeremonyRunner
from ansible_collections.vaultops.replication.plugins.module_utils._dr_operation_token import attempt_view
from ansible_collections.vaultops.replication.plugins.module_utils._runner import module_spec as _module_spec
from ansible_collections.vaultops.replication.plugins.module_utils._status import roles_of


def revoke_self(client):
    """POST auth/token/revoke-self with the client's token: needs no other token and no policy."""
    client.request("POST", "auth/token/revoke-self")


def argument_spec():
    return dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        key_shares=dict(type="list", elements="str", no_log=True, default=[]),
        nonce=dict(type="str"),
        otp=dict(type="str", no_log=True),
        otp_length=dict(type="int", no_log=False),
        cancel_foreign_attempt=dict(type="bool", default=False),
        cancel_attempt=dict(type="bool", default=False),
        root_token=dict(type="str", no_log=True),
    )


def module_spec():
    """Options and constraints of root_token (module and action plugin)."""
    return _module_spec(argument_spec())


def check_options(params):
    """The first problem with the options as a sentence naming the option, or None (no I/O)."""
    if params["state"] == "absent":
        if not params.get("root_token") and not params.get("cancel_attempt"):
            return ("state: absent needs root_token (the token to revoke) and/or cancel_attempt: true (to cancel "
                    "the running generate-root attempt).")
        if params.get("key_shares"):
            return "key_shares is for state: present; state: absent revokes root_token and/or cancels the attempt."
        return None
    if params.get("root_token"):
        return "root_token is for state: absent (the token to revoke); leave it out with state: present."
    if params.get("cancel_attempt"):
        return "cancel_attempt is for state: absent; to replace a running attempt set cancel_foreign_attempt: true."
    if params.get("otp_length") is not None and params["otp_length"] < 0:
        return "otp_length must be 0 (Vault before 1.0) or the length Vault reports; omit it to use Vault's."
    shares = params.get("key_shares") or []
    if any(s is None or not str(s).strip() for s in shares):
        return "key_shares contains an empty entry; give every share as hex or base64."
    if len(set(shares)) != len(shares):
        return "key_shares lists the same share twice; each holder's share counts once."
    return None


class Runner(_CeremonyRunner):
    NOUN = "root token"
    RESULT_KEY = "root_token"
    DECODE_FLAG = ""
    CEREMONY = "The generate-root ceremony"

    @staticmethod
    def api_status(client):
        return _api.generate_root_status(client)

    @staticmethod
    def api_start(client, otp=None):
        return _api.generate_root_start(client, otp=otp)

    @staticmethod
    def api_update(client, key, nonce):
        return _api.generate_root_update(client, key, nonce)

    @staticmethod
    def api_cancel(client):
        _api.generate_root_cancel(client)

    def check_unsealed(self):
        self.ctx.check_unsealed(self.client, self.ctx.label(self.client.url),
                                unseal_hint="a secondary is unsealed with the primary's unseal keys")

    def require_target(self, roles):
        dr = roles["dr"]
        if dr.role in ("secondary", "bootstrapping"):
            self.ctx.fail_json(msg=(
                "The cluster at %s is a DR %s; a DR secondary serves no requests, so a root token is of no use "
                "there. Use vaultops.replication.dr_operation_token for its DR operation token, or point url at "
                "the performance secondary (or other cluster) that needs the root token." % (self.where, dr.role)))
        perf = roles["performance"]
        if perf.role == "bootstrapping":
            self.ctx.fail_json(msg=(
                "The cluster at %s is still bootstrapping as a performance secondary; wait until it streams, then "
                "run again with the primary's key shares." % self.where))

    def fail_vault(self, exc, action):
        if isinstance(exc, VaultAPIError) and exc.status in (401, 403):
            self.ctx.fail_json(msg=(
                "Failed to %s: Vault at %s refused the request (HTTP %d: %s). Vault 2.0 and later need a valid "
                "token besides the key shares for generate-root: set token (a performance secondary has none of "
                "its own after activation; log in through a replicated auth method), or enable "
                "unauthenticated generate-root in the server configuration." % (
                    action, self.where, exc.status, "; ".join(exc.errors))))
        super().fail_vault(exc, action)

    # -- absent ---------------------------------------------------------------------------------

    def token_valid(self, token):
        """Whether ``token`` is (still) accepted by the cluster (lookup-self with it)."""
        try:
            _api.lookup_self(self.client.with_token(token))
        except VaultAPIError as exc:
            if exc.status == 403:
                return False
            self.fail_vault(exc, "look up root_token on the cluster")
        except VaultError as exc:
            self.fail_vault(exc, "look up root_token on the cluster")
        return True

    def absent(self, roles):
        p = self.params
        self.require_target(roles)
        result = {"changed": False}
        msgs = []
        before_view = {}
        after_view = {}
        if p["cancel_attempt"]:
            view = self._cancel_attempt(result, msgs)
            before_view["attempt"] = view
            after_view["attempt"] = result.pop("_after")
        if p["root_token"]:
            token = p["root_token"]
            valid = self.token_valid(token)
            before_view["root_token"] = "valid" if valid else "invalid"
            after_view["root_token"] = "invalid"
            result["revoked"] = False
            if not valid:
                msgs.append("root_token is not valid on this cluster (already revoked, expired, or from another "
                            "cluster); nothing to revoke")
            elif self.ctx.check_mode:
                result.update(changed=True, revoked=True)
                msgs.append("would revoke root_token")
            else:
                try:
                    revoke_self(self.client.with_token(token))
                except VaultError as exc:
                    self.fail_vault(exc, "revoke root_token (POST auth/token/revoke-self)")
                if self.token_valid(token):
                    self.ctx.fail_json(msg="Vault answered the revocation of root_token but still accepts it; check "
                                           "the cluster.", changed=True)
                result.update(changed=True, revoked=True)
                msgs.append("revoked root_token")
        result["msg"] = "; ".join(msgs) + "."
        if self.ctx.check_mode and result["changed"]:
            result["msg"] += " (check mode)"
        return result, dict(roles_of(roles), **before_view), dict(roles_of(roles), **after_view)

    def _cancel_attempt(self, result, msgs):
        p = self.params
        view = dict(self.attempt_view())
        result["_after"] = view
        result["cancelled"] = False
        if not view["started"]:
            msgs.append("no generate-root attempt was running")
            return view
        if p["nonce"] and view["nonce"] != p["nonce"] and not p["cancel_foreign_attempt"]:
            self.ctx.fail_json(msg=(
                "the running generate-root attempt has nonce %s, not %s; it was not cancelled. Set "
                "cancel_foreign_attempt: true to cancel it anyway." % (view["nonce"], p["nonce"])))
        if not self.ctx.check_mode:
            self.cancel()
        result.update(changed=True, cancelled=True)
        result["_after"] = {"started": False, "nonce": None, "progress": 0, "required": view["required"]}
        msgs.append("cancelled the generate-root attempt with nonce %s" % view["nonce"])
        return view

    def attempt_view(self):
        return attempt_view(self.attempt_status())

    # -- common ---------------------------------------------------------------------------------

    def run(self):
        p = self.params
        problem = check_options(p)
        if problem:
            self.ctx.fail_json(msg=problem)
        self.check_unsealed()
        roles = self.read_roles()
        if p["state"] == "absent":
            result, before, after = self.absent(roles)
        else:
            result, before, after = self.ceremony(roles)
            if result.get("root_token"):
                if not self.token_valid(result["root_token"]):
                    self.warnings.append("the decoded root token is not accepted by the cluster (lookup-self "
                                         "refused it); check the otp.")
                    result["verified"] = False
                else:
                    result["verified"] = True
        self.finish(result, before, after, "performance")
