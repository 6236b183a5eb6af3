# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Base class of the collection's modules: shared connection options, one client per
cluster, one failure message shape, and the checks every changing module makes of a cluster
before it decides or writes."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    VaultAPIError,
    VaultClient,
    VaultConnectionError,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._plan import TITLE
from ansible_collections.vaultops.replication.plugins.module_utils._status import (
    read_replication_statuses,
    read_type_status,
)
from ansible_collections.vaultops.replication.plugins.module_utils._tokens import HAS_JWT, JWT_IMPORT_ERROR
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import WaitTimeout, wait_until

try:
    from ansible.module_utils.errors import AnsibleFallbackNotFound
except ImportError:  # pragma: no cover - older ansible-core layouts
    from ansible.module_utils.common.parameters import AnsibleFallbackNotFound


def _validate_certs_fallback():
    """validate_certs from VAULT_SKIP_VERIFY, which says the opposite (as the Vault CLI reads it)."""
    raw = os.environ.get("VAULT_SKIP_VERIFY")
    if raw is None or raw.strip() == "":
        raise AnsibleFallbackNotFound
    value = raw.strip().lower()
    if value in BOOLEANS_TRUE:
        return False
    if value in BOOLEANS_FALSE:
        return True
    # Not a boolean: the type check of validate_certs then reports it, naming the variable.
    return "VAULT_SKIP_VERIFY=%s" % raw


def connection_argument_spec():
    """The connection options every module takes, with the Vault CLI's environment variables."""
    return dict(
        url=dict(type="str", fallback=(env_fallback, ["VAULT_ADDR"])),
        token=dict(type="str", no_log=True, fallback=(env_fallback, ["VAULT_TOKEN"])),
        ca_cert=dict(type="path", fallback=(env_fallback, ["VAULT_CACERT"])),
        client_cert=dict(type="path", fallback=(env_fallback, ["VAULT_CLIENT_CERT"])),
        client_key=dict(type="path", no_log=False, fallback=(env_fallback, ["VAULT_CLIENT_KEY"])),
        validate_certs=dict(type="bool", default=True, fallback=(_validate_certs_fallback,)),
        timeout=dict(type="int", default=30),
        retries=dict(type="int", default=3),
    )


def prefixed_connection_spec(prefix, required_url=False):
    """Options ``<prefix>_url``, ``<prefix>_token``, ``<prefix>_ca_cert``, ``<prefix>_validate_certs``
    for a second cluster (no environment fallbacks: the environment describes the first one).
    Unset TLS options fall back to the module's own ``ca_cert`` / ``validate_certs``."""
    return {
        "%s_url" % prefix: dict(type="str", required=required_url),
        "%s_token" % prefix: dict(type="str", no_log=True),
        "%s_ca_cert" % prefix: dict(type="path"),
        "%s_validate_certs" % prefix: dict(type="bool"),
    }


def describe_connection_error(exc, option_prefix=""):
    """Message for a VaultConnectionError with the fix spelled out in option names.

    ``option_prefix`` is "" for the module's own cluster or e.g. "primary_" for a second one.
    """
    p = option_prefix
    env = " (or VAULT_CACERT)" if not p else ""
    cause = (exc.cause or "").lower()
    hint = ""
    if exc.reason == "tls":
        if "certificate verify failed" in cause or "unknown ca" in cause or "self signed" in cause \
                or "self-signed" in cause or "unable to get local issuer" in cause:
            if "hostname" in cause or "ip address mismatch" in cause or "doesn't match" in cause:
                hint = ("the server certificate does not name the host in %surl; use a host name or "
                        "address listed in the certificate" % p)
            else:
                hint = ("certificate verify failed: set %sca_cert%s to the CA bundle that signed the Vault "
                        "server certificate (or %svalidate_certs=false for a throw-away lab only)" % (p, env, p))
        elif "wrong version number" in cause or "record layer failure" in cause or "http request" in cause:
            hint = "the server does not speak TLS on that port; check the scheme of %surl (http:// vs https://)" % p
        elif "expired" in cause:
            hint = "the Vault server certificate has expired"
        else:
            hint = "check %sca_cert, %sclient_cert/%sclient_key and the scheme of %surl" % (p, p, p, p)
    elif exc.reason == "refused":
        hint = "nothing listens there: check %surl and that Vault is running" % p
    elif exc.reason == "dns":
        hint = "the host name in %surl does not resolve" % p
    elif exc.reason == "timeout":
        hint = "no answer in time: check %surl, firewalls, or raise timeout" % p
    elif (exc.url or "").startswith("http://") and ("closed connection" in cause or "connection aborted" in cause
                                                    or "connection reset" in cause or "badstatusline" in cause):
        hint = "the server hung up on plain HTTP; if Vault listens with TLS, use https:// in %surl" % p
    return "%s; %s" % (exc.message, hint) if hint else exc.message


class VaultModule(AnsibleModule):
    """AnsibleModule with the connection options merged in and a lazily built VaultClient."""

    def __init__(self, argument_spec=None, requires_jwt=False, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec or {})
        super().__init__(argument_spec=spec, **kwargs)
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        if requires_jwt and not HAS_JWT:
            self.fail_json(msg=missing_required_lib("PyJWT"), exception=JWT_IMPORT_ERROR)
        self._client = None
        self._clients = {}

    def _build_client(self, url_option, url, token, ca_cert, client_cert, client_key, validate_certs):
        if not url:
            if url_option == "url":
                self.fail_json(msg="url is required: set the url option or the VAULT_ADDR environment variable")
            self.fail_json(msg="%s is required for this operation" % url_option)
        timeout = self.params.get("timeout")
        retries = self.params.get("retries")
        try:
            return VaultClient(url, token=token, ca_cert=ca_cert, client_cert=client_cert, client_key=client_key,
                               validate_certs=validate_certs, timeout=30 if timeout is None else timeout,
                               retries=3 if retries is None else retries)
        except VaultError as exc:
            self.fail_json(msg="Invalid connection options (%s, timeout, retries, client_cert/client_key): %s"
                           % (url_option, exc.message))

    @property
    def client(self):
        """The VaultClient for ``url`` (built on first use, then reused)."""
        if self._client is None:
            p = self.params
            self._client = self._build_client("url", p.get("url"), p.get("token"), p.get("ca_cert"),
                                              p.get("client_cert"), p.get("client_key"),
                                              p.get("validate_certs") is not False)
        return self._client

    def client_for(self, prefix):
        """A VaultClient for a second cluster given by ``<prefix>_url`` and friends.

        ``<prefix>_token`` is never taken from ``token`` (each cluster has its own), while
        unset ``<prefix>_ca_cert`` / ``<prefix>_validate_certs`` / client certificate
        inherit the module's own TLS settings (usually one CA signs every cluster).
        """
        if prefix not in self._clients:
            p = self.params
            ca_cert = p.get("%s_ca_cert" % prefix) or p.get("ca_cert")
            validate = p.get("%s_validate_certs" % prefix)
            if validate is None:
                validate = p.get("validate_certs") is not False
            self._clients[prefix] = self._build_client(
                "%s_url" % prefix, p.get("%s_url" % prefix), p.get("%s_token" % prefix), ca_cert,
                p.get("%s_client_cert" % prefix) or p.get("client_cert"),
                p.get("%s_client_key" % prefix) or p.get("client_key"), validate)
        return self._clients[prefix]

    @staticmethod
    def error_message(exc, action, option_prefix=""):
        """``Failed to <action> (<METHOD> <path>): HTTP <status>: <errors>`` or the transport message."""
        if isinstance(exc, VaultAPIError):
            detail = "; ".join(exc.errors) if exc.errors else "no error message in the response"
            return "Failed to %s (%s %s): HTTP %d: %s" % (action, exc.method, exc.path, exc.status, detail)
        if isinstance(exc, VaultConnectionError):
            return "Failed to %s: %s" % (action, describe_connection_error(exc, option_prefix))
        if isinstance(exc, VaultError):
            return "Failed to %s: %s" % (action, exc.message)
        return "Failed to %s: %s" % (action, exc)

    def fail_from(self, exc, action, option_prefix="", **result):
        """Fail the task once, with the one message shape, for any error of the Vault code.

        Extra keyword arguments are returned alongside ``msg`` (e.g. ``changed``, ``status``).
        """
        if isinstance(exc, VaultAPIError):
            result.setdefault("http_status", exc.status)
            result.setdefault("vault_errors", list(exc.errors))
        elif isinstance(exc, VaultConnectionError):
            result.setdefault("connection_error", exc.reason)
        self.fail_json(msg=self.error_message(exc, action, option_prefix), **result)

    # The checks below fail the task with a message naming ``label`` (e.g. "the cluster at
    # <url>"); ``option_prefix`` names the options of a second cluster in connection hints.

    def check_unsealed(self, client, label, option_prefix=""):
        """Fail unless the node behind ``client`` answers sys/health as initialised and unsealed."""
        try:
            code, body = _api.health(client)
        except VaultError as exc:
            self.fail_from(exc, "reach %s" % label, option_prefix=option_prefix)
        body = body or {}
        if code == 501 or body.get("initialized") is False:
            self.fail_json(msg="%s is not initialised; initialise and unseal it first." % _sentence(label))
        if body.get("sealed"):
            self.fail_json(msg="%s is sealed; unseal it (vault operator unseal) and run again." % _sentence(label))

    def check_token(self, client, label, option="token", option_prefix=""):
        """Fail unless ``client`` carries a token that cluster accepts (lookup-self), so that a
        bad token stops the run before its first write rather than half way through."""
        if not client.token:
            self.fail_json(msg="A Vault token for %s is required for this change: set '%s'%s." % (
                label, option, " (or VAULT_TOKEN)" if option == "token" else ""))
        try:
            _api.lookup_self(client)
        except VaultAPIError as exc:
            if exc.status == 403:
                self.fail_json(msg="The token given in '%s' was rejected by %s (HTTP 403 permission denied): it is "
                                   "invalid or expired. Give a valid token." % (option, label))
            self.fail_from(exc, "check the token '%s' on %s" % (option, label), option_prefix=option_prefix)
        except VaultError as exc:
            self.fail_from(exc, "check the token '%s' on %s" % (option, label), option_prefix=option_prefix)

    def read_replication(self, client, label, option_prefix=""):
        """Both replication types of ``client`` (``_status.read_replication_statuses``), failing the
        task when they cannot be read."""
        try:
            return read_replication_statuses(client)
        except VaultError as exc:
            self.fail_from(exc, "read the replication status of %s" % label, option_prefix=option_prefix)

    def wait_out_bootstrap(self, statuses, client, rtype, label, timeout, option_prefix=""):
        """``statuses`` again, or, when ``rtype`` is bootstrapping (a new secondary loading its
        first snapshot), the statuses read once that is over: a decision taken mid-bootstrap would
        act on a state that is about to change. Fails after ``timeout`` seconds."""
        if statuses[rtype].role != "bootstrapping":
            return statuses
        try:
            wait_until(lambda: read_type_status(client, rtype, retry_on_status=False),
                       lambda s: s.role != "bootstrapping", timeout,
                       "the %s bootstrap of %s to finish" % (TITLE[rtype], label))
        except WaitTimeout:
            self.fail_json(msg="%s is still bootstrapping as a %s secondary after %ss; wait for it to finish (or raise "
                               "wait_timeout) and run again." % (_sentence(label), TITLE[rtype], timeout))
        return self.read_replication(client, label, option_prefix=option_prefix)


def _sentence(label):
    """``label`` at the start of a sentence."""
    return label[:1].upper() + label[1:]
