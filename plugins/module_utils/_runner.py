# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every runner works with, whichever way it is started: the shared connection options,
a context object (validated parameters in; clients, checks and one way to end the run out)
and ``execute()``, which runs a runner and returns its task result.

The modules (AnsiballZ) and the action plugins (in-process on the controller) both call
``execute()``; unit tests and benchmarks can too. Nothing here imports AnsibleModule or
ActionBase: options arrive validated, the result leaves as a plain dict.
"""

from __future__ import annotations

import os
import threading
import time

from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _arguments, _hints
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
    health_state,
    read_replication_statuses,
    read_type_status,
)
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import WaitTimeout, wait_until

# ---------------------------------------------------------------------------------------------
# Options

# Options that describe how to reach one cluster, in the flat form (url, token ...), in the
# ``cluster`` dict and, for a second cluster, as ``<prefix>_url`` ... or ``<prefix>_cluster``.
CONNECTION_KEYS = ("url", "token", "ca_cert", "client_cert", "client_key", "validate_certs")
_STRING_KEYS = ("url", "token", "ca_cert", "client_cert", "client_key")
_PATH_KEYS = ("ca_cert", "client_cert", "client_key")

# The Vault CLI's variables for the flat options. validate_certs reads VAULT_SKIP_VERIFY, inverted.
ENVIRONMENT = {
    "url": "VAULT_ADDR",
    "token": "VAULT_TOKEN",
    "ca_cert": "VAULT_CACERT",
    "client_cert": "VAULT_CLIENT_CERT",
    "client_key": "VAULT_CLIENT_KEY",
}
SKIP_VERIFY = "VAULT_SKIP_VERIFY"

# Constraint keywords of AnsibleModule / ArgumentSpecValidator a module spec may carry.
CONSTRAINTS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


def cluster_suboptions():
    """Suboptions of ``cluster`` / ``<prefix>_cluster``: one cluster in one dict, the shape the
    roles keep in ``topology_clusters[name]``."""
    return dict(
        url=dict(type="str"),
        token=dict(type="str", no_log=True),
        ca_cert=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        validate_certs=dict(type="bool"),
        name=dict(type="str"),
        nodes=dict(type="list", elements="str"),
    )


def connection_argument_spec():
    """The connection options every module takes.

    No ``fallback`` and no default for the options ``cluster`` may also give: the context
    resolves them (flat option, then ``cluster``, then the Vault CLI's environment variable,
    then the default) so that a cluster given as a dict is never overridden by VAULT_ADDR.
    """
    return dict(
        url=dict(type="str"),
        token=dict(type="str", no_log=True),
        ca_cert=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        validate_certs=dict(type="bool"),
        # A proxy URL may carry credentials (http://user:password@proxy:3128).
        proxies=dict(type="raw", no_log=True),
        timeout=dict(type="int", default=30),
        retries=dict(type="int", default=3),
        cluster=dict(type="dict", options=cluster_suboptions()),
    )


def prefixed_connection_spec(prefix):
    """Options ``<prefix>_url``, ``<prefix>_token``, ``<prefix>_ca_cert``, ``<prefix>_validate_certs``
    and ``<prefix>_cluster`` for a second cluster (no environment fallbacks: the environment
    describes the first one). Unset TLS options fall back to the module's own."""
    return {
        "%s_url" % prefix: dict(type="str"),
        "%s_token" % prefix: dict(type="str", no_log=True),
        "%s_ca_cert" % prefix: dict(type="path"),
        "%s_validate_certs" % prefix: dict(type="bool"),
        "%s_cluster" % prefix: dict(type="dict", options=cluster_suboptions()),
    }


def module_spec(argument_spec, **constraints):
    """The whole spec of a module: connection options merged with its own, plus constraints.

    Returns a dict of AnsibleModule keyword arguments (``argument_spec``, ``supports_check_mode``
    and the constraint lists); the action plugins validate with the same dict.
    """
    spec = connection_argument_spec()
    spec.update(argument_spec)
    unknown = set(constraints) - set(CONSTRAINTS)
    if unknown:
        raise ValueError("unknown constraint keywords: %s" % ", ".join(sorted(unknown)))
    out = dict(argument_spec=spec, supports_check_mode=True)
    out.update((k, v) for k, v in constraints.items() if v)
    return out


def missing_libraries(runner_class=None):
    """``[(library, import traceback)]`` of the Python libraries the runner needs but cannot import."""
    missing = []
    if not HAS_REQUESTS:
        missing.append(("requests", REQUESTS_IMPORT_ERROR))
    if getattr(runner_class, "REQUIRES_JWT", False):
        # Imported here: only runners that need it pay for loading PyJWT.
        from ansible_collections.vaultops.replication.plugins.module_utils import _tokens

        if not _tokens.HAS_JWT:
            missing.append(("PyJWT", _tokens.JWT_IMPORT_ERROR))
    return missing


def censor(result, no_log_values):
    """``result`` with every no_log value masked, exactly as AnsibleModule.exit_json does it
    (top-level booleans and None are kept as they are)."""
    if not no_log_values:
        return result
    preserved = dict((k, v) for k, v in result.items() if v is None or isinstance(v, bool))
    cleaned = remove_values(result, no_log_values)
    cleaned.update(preserved)
    return cleaned


# ---------------------------------------------------------------------------------------------
# Messages


def describe_connection_error(exc, option_prefix=""):
    """Message for a VaultConnectionError with the fix spelled out in option names.

    ``option_prefix`` is "" for the module's own cluster or e.g. "primary_" for a second one.
    """
    p = option_prefix
    env = " (or VAULT_CACERT)" if not p else ""
    cause = (exc.cause or "").lower()
    hint = ""
    if exc.reason in ("tls", "other") and _client_certificate_refused(exc, cause):
        hint = _client_certificate_hint(exc, p, cause)
    elif exc.reason == "tls":
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


# A TLS server that requires client certificates (Vault's tls_require_and_verify_client_cert)
# answers a missing or untrusted one with one of these alerts, or, in TLS 1.3 where the client
# finishes its handshake first, often just by closing the connection before any HTTP answer.
_CLIENT_CERT_ALERTS = ("alert certificate required", "alert unknown ca", "alert bad certificate",
                       "alert certificate unknown", "alert access denied")
# Or by resetting it (seen when the refusal reaches the client before its first read).
_CLOSED_AFTER_HANDSHAKE = ("remote end closed connection without response", "eof occurred in violation of protocol",
                           "connection reset by peer")


def _client_certificate_refused(exc, cause):
    if any(alert in cause for alert in _CLIENT_CERT_ALERTS):
        return True
    return (exc.url or "").startswith("https://") and any(text in cause for text in _CLOSED_AFTER_HANDSHAKE)


def _client_certificate_hint(exc, p, cause):
    where = "inventory: vault_client_cert and vault_client_key%s" % (
        "; environment: VAULT_CLIENT_CERT and VAULT_CLIENT_KEY" if not p else "")
    alert = any(alert in cause for alert in _CLIENT_CERT_ALERTS)
    if exc.client_cert:
        lead = ("the server refused the client certificate" if alert else
                "the server hung up (or reset the connection) right after the TLS handshake, as Vault does when "
                "it does not trust the client certificate")
        return "%s: %sclient_cert (%s) must be signed by a CA the Vault listener trusts for clients (%s)" % (
            lead, p, exc.client_cert, where)
    lead = ("the server requires a client certificate" if alert else
            "the server hung up (or reset the connection) right after the TLS handshake, as Vault does when it "
            "requires a client certificate (tls_require_and_verify_client_cert) and none is given")
    return "%s: set %sclient_cert and %sclient_key (%s)" % (lead, p, p, where)


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


def _sentence(label):
    """``label`` at the start of a sentence."""
    return label[:1].upper() + label[1:]


# sys/health codes by what they mean for choosing the node to talk to (see _status health states).
NODE_STATES = {200: "active", 472: "active", 429: "standby", 473: "standby", 474: "standby",
               501: "uninitialized", 503: "sealed", 530: "removed"}
# One probe of a node, and how long to wait for another node to take over (HA lease) when the
# named one does not serve.
NODE_PROBE_TIMEOUT = 3
NODE_TAKEOVER_WAIT = 10


def _norm_url(url):
    return (url or "").strip().rstrip("/").lower()


# ---------------------------------------------------------------------------------------------
# The context


class RunnerExit(BaseException):
    """Ends a run with ``result`` as the task result (``failed`` set when it failed).

    A BaseException, like the SystemExit that AnsibleModule.exit_json raises, so that no
    ``except Exception`` in a runner swallows the end of the run.
    """

    def __init__(self, result):
        super().__init__(result.get("msg") or "run ended")
        self.result = result


class _Shared(object):
    """Values computed once for the runs of one fan-out (see RunnerContext.once)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._locks = {}
        self._done = {}

    def once(self, key, compute):
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._done:
                try:
                    self._done[key] = ("value", compute())
                except RunnerExit as end:
                    self._done[key] = ("exit", dict(end.result))
                except Exception as exc:
                    self._done[key] = ("error", exc)
            kind, value = self._done[key]
        if kind == "exit":
            raise RunnerExit(dict(value))
        if kind == "error":
            raise value
        return value


class RunnerContext:
    """What a runner gets instead of an AnsibleModule.

    ``params`` are the validated options with the connection options resolved (flat option,
    then ``cluster`` / ``<prefix>_cluster``, then the environment, then the default);
    ``check_mode`` and ``_diff`` (also ``diff``) as on AnsibleModule; ``warn()``;
    ``fail_json()`` / ``exit_json()`` raise RunnerExit. ``env`` is the environment the Vault
    CLI variables are read from (the process environment by default).
    """

    def __init__(self, params, check_mode=False, diff=False, env=None):
        self.params = dict(params)
        self._given = dict(params)
        self.check_mode = bool(check_mode)
        self._diff = bool(diff)
        self.env = os.environ if env is None else env
        self.warnings = []
        # Secrets that reached the run other than through a no_log option (VAULT_TOKEN).
        self.no_log_values = set()
        self.names = {}
        # Where each resolved connection option came from ("cluster.url", "VAULT_ADDR" ...), to
        # name it in messages.
        self.sources = {}
        self._client = None
        self._clients = {}
        # What the runs of one fan-out share (``once``); a run of its own has its own.
        self.shared = _Shared()

    @property
    def diff(self):
        return self._diff

    def once(self, key, compute):
        """``compute()`` once for ``key`` among the runs of one fan-out (each run of its own computes
        it), for reads every entry would repeat against the same cluster; the other runs get the
        same value, or end the same way when it ended the run (fail_json) or raised."""
        return self.shared.once(key, compute)

    # -- ending the run ------------------------------------------------------------------------

    def warn(self, warning):
        self.warnings.append(str(warning))

    def fail_json(self, msg, **kwargs):
        kwargs.update(failed=True, msg=str(msg))
        raise RunnerExit(kwargs)

    def exit_json(self, **kwargs):
        raise RunnerExit(kwargs)

    # -- connection options ----------------------------------------------------------------------

    def resolve_connection(self):
        """Fill the flat connection options from ``cluster`` / ``<prefix>_cluster`` and the
        environment. A flat option given (not None, not empty) always wins."""
        p = self.params
        cluster = p.get("cluster") or {}
        for key in CONNECTION_KEYS:
            if not _unset(p.get(key)):
                self.sources[key] = key
                continue
            value = cluster.get(key)
            source = "cluster.%s" % key
            if _unset(value):
                value = self._from_environment(key)
                source = ENVIRONMENT.get(key, SKIP_VERIFY)
                if key == "token" and value:
                    # AnsibleModule hides fallback values of no_log options; so does the result.
                    self.no_log_values.add(value)
            if not _unset(value):
                self.sources[key] = source
            p[key] = value
        if p.get("validate_certs") is None:
            p["validate_certs"] = True
        self.names[""] = cluster.get("name") or None

        for prefix in self.cluster_prefixes():
            other = p.get("%s_cluster" % prefix) or {}
            for key in CONNECTION_KEYS:
                option = "%s_%s" % (prefix, key)
                if _unset(p.get(option)) and not _unset(other.get(key)):
                    p[option] = other[key]
                    self.sources[option] = "%s_cluster.%s" % (prefix, key)
            self.names[prefix] = other.get("name") or None

        # The nodes of the cluster are the standbys to unseal, where a module unseals standbys
        # (only with the keys to do it, and never the node the module talks to).
        nodes = cluster.get("nodes")
        if nodes and "standby_urls" in p and not p.get("standby_urls") and p.get("unseal_keys"):
            own = _norm_url(p.get("url"))
            p["standby_urls"] = [n for n in nodes if n and _norm_url(n) != own]
        return p

    def option_problem(self):
        """The first option this run cannot use, as a sentence naming it (or the environment
        variable it came from) and what would be valid; None when all are usable. Called after
        ``resolve_connection`` and before any cluster is contacted: URLs, tokens and other
        secrets, CA and client certificate files, names, durations and number ranges
        (``_arguments``)."""
        p = self.params
        prefixes = self.cluster_prefixes()
        # An address of only whitespace is a mistake, not "not given" (which an empty one is).
        for key in sorted(self._given):
            value = self._given[key]
            if _blank(value) and (key in ("url",) + _arguments.URL_OPTIONS or key.endswith("_url")):
                return _arguments.url_problem(value, key)
            entries = value if isinstance(value, list) else [value]
            for index, entry in enumerate(entries):
                if isinstance(entry, dict) and _blank(entry.get("url")):
                    where = key if not isinstance(value, list) else "%s[%d]" % (key, index)
                    return _arguments.url_problem(entry["url"], "%s.url" % where)
        for prefix in [""] + prefixes:
            problem = self._connection_problem(prefix)
            if problem:
                return problem
        connection = set(CONNECTION_KEYS) | set(("cluster",))
        for prefix in prefixes:
            connection.update("%s_%s" % (prefix, key) for key in CONNECTION_KEYS + ("cluster",))
        for key in sorted(p):
            value = p[key]
            if key in connection or value is None:
                continue
            if isinstance(value, dict):
                problem = _dict_problem(value, key)
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                problem = next((x for x in (_dict_problem(v, "%s[%d]" % (key, i)) for i, v in enumerate(value)) if x),
                               None)
            else:
                problem = _arguments.value_problem(key, value)
            if problem:
                return problem
        return None

    def _connection_problem(self, prefix):
        p = self.params

        def option(key):
            return "%s_%s" % (prefix, key) if prefix else key

        def shown(key):
            return self.sources.get(option(key), option(key))

        url = p.get(option("url"))
        if not _unset(url):
            problem = _arguments.url_problem(url, shown("url"))
            if problem:
                return problem
        token = p.get(option("token"))
        if not _unset(token):
            problem = _arguments.secret_problem(token, shown("token"))
            if problem:
                return problem
        for key, kind in (("ca_cert", "ca"), ("client_cert", "cert"), ("client_key", "key")):
            path = p.get(option(key))
            if not _unset(path):
                problem = _arguments.file_problem(path, shown(key), kind)
                if problem:
                    return problem
        cert, key = p.get(option("client_cert")), p.get(option("client_key"))
        if not _unset(cert) or not _unset(key):
            problem = _arguments.client_pair_problem(None if _unset(cert) else cert, None if _unset(key) else key,
                                                     shown("client_cert"), shown("client_key"))
            if problem:
                return problem
        cluster = p.get(option("cluster"))
        return _dict_problem(cluster, option("cluster")) if isinstance(cluster, dict) else None

    def cluster_prefixes(self):
        """Prefixes of the second clusters this module takes (``primary`` for ``primary_cluster`` ...)."""
        return sorted(k[:-len("_cluster")] for k in self.params if k.endswith("_cluster") and k != "cluster")

    def _from_environment(self, key):
        if key == "validate_certs":
            raw = self.env.get(SKIP_VERIFY)
            if raw is None or raw.strip() == "":
                return None
            value = raw.strip().lower()
            if value in BOOLEANS_TRUE:
                return False
            if value in BOOLEANS_FALSE:
                return True
            self.fail_json(msg="validate_certs is not set and the environment variable %s=%s is not a boolean: set "
                               "%s to true or false, or set validate_certs." % (SKIP_VERIFY, raw, SKIP_VERIFY))
        name = ENVIRONMENT[key]
        value = self.env.get(name)
        if _unset(value):
            return None
        if key in _PATH_KEYS:
            value = os.path.expanduser(os.path.expandvars(value))
        return value

    # -- clients ---------------------------------------------------------------------------------

    def _build_client(self, url_option, url, token, ca_cert, client_cert, client_key, validate_certs, nodes=None):
        client = self._new_client(url_option, url, token, ca_cert, client_cert, client_key, validate_certs)
        others = [n for n in (nodes or []) if isinstance(n, str) and n.strip() and _norm_url(n) != _norm_url(url)]
        if not others:
            return client
        return self._active_node(client, others, url_option, (token, ca_cert, client_cert, client_key, validate_certs))

    def _probe(self, url, tls):
        """sys/health of one node, once, without retries: the state name, or None when it does not answer."""
        _token, ca_cert, client_cert, client_key, validate_certs = tls
        timeout = self.params.get("timeout")
        try:
            probe = VaultClient(url, ca_cert=ca_cert, client_cert=client_cert, client_key=client_key,
                                validate_certs=validate_certs, timeout=min(timeout or 30, NODE_PROBE_TIMEOUT),
                                retries=0, proxies=self.params.get("proxies"), env=self.env)
            code, _body = _api.health(probe)
        except VaultError:
            return None
        return NODE_STATES.get(code, "other")

    def _active_node(self, client, others, url_option, tls):
        """An HA cluster declared with its nodes (``cluster.nodes``, inventory ``vault_nodes``):
        when the node ``url`` names is sealed, not initialised or does not answer, talk to the
        node of the same cluster that is active now (or becomes active within a few seconds: a
        standby takes over once the lost node's lease runs out) instead of failing with "sealed,
        unseal it" while the cluster serves. A standby named by ``url`` is kept: it redirects to
        the active node (307), which the client follows."""
        if self._probe(client.url, tls) not in (None, "sealed", "uninitialized"):
            return client
        timeout = self.params.get("timeout")
        deadline = time.monotonic() + min(timeout or 30, NODE_TAKEOVER_WAIT)
        while True:
            states = {}
            for url in others:
                states[url] = self._probe(url, tls)
                if states[url] == "active":
                    self.warn("%s does not serve (sealed, or not answering); using %s, the active node of the "
                              "same cluster (its declared nodes: cluster.nodes / vault_nodes)." % (client.url, url))
                    return self._new_client(url_option, url, *tls)
            # Only an unsealed standby can take over; a cluster whose nodes are all down or
            # sealed is reported as the named node finds it, without waiting.
            if "standby" not in states.values() or time.monotonic() >= deadline:
                return client
            time.sleep(0.1)

    def standby_clients(self, changed=False):
        """Token-less clients for the ``standby_urls`` (nodes to unseal), with the module's TLS,
        timeout, retries and proxy settings and the task's environment."""
        p = self.params
        out = []
        for url in p.get("standby_urls") or []:
            try:
                out.append(VaultClient(url, ca_cert=p.get("ca_cert"), client_cert=p.get("client_cert"),
                                       client_key=p.get("client_key"), validate_certs=p.get("validate_certs", True),
                                       timeout=p.get("timeout") or 30, retries=p.get("retries") or 0,
                                       proxies=p.get("proxies"), env=self.env))
            except VaultError as exc:
                self.fail_json(changed=changed, msg="standby_urls entry %s is unusable: %s" % (url, exc.message))
        return out

    def _new_client(self, url_option, url, token, ca_cert, client_cert, client_key, validate_certs):
        if not url:
            if url_option == "url":
                self.fail_json(msg="url is required: set the url option, cluster.url or the VAULT_ADDR environment "
                                   "variable")
            prefix = url_option[:-len("_url")]
            self.fail_json(msg="%s is required for this operation (or %s_cluster.url)" % (url_option, prefix))
        timeout = self.params.get("timeout")
        retries = self.params.get("retries")
        try:
            return VaultClient(url, token=token, ca_cert=ca_cert, client_cert=client_cert, client_key=client_key,
                               validate_certs=validate_certs, timeout=30 if timeout is None else timeout,
                               retries=3 if retries is None else retries, proxies=self.params.get("proxies"),
                               env=self.env)
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
                                              p.get("validate_certs") is not False,
                                              nodes=(p.get("cluster") or {}).get("nodes"))
        return self._client

    def client_for(self, prefix):
        """A VaultClient for a second cluster given by ``<prefix>_url`` and friends (or ``<prefix>_cluster``).

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
                p.get("%s_client_key" % prefix) or p.get("client_key"), validate,
                nodes=(p.get("%s_cluster" % prefix) or {}).get("nodes"))
        return self._clients[prefix]

    # -- how clusters are named in messages -----------------------------------------------------

    def label(self, url, noun="cluster", prefix=""):
        """``the cluster at <url>``, or ``cluster 'dr' at <url>`` when ``cluster.name`` (or
        ``<prefix>_cluster.name``) names it."""
        name = self.names.get(prefix)
        if name:
            return "%s '%s' at %s" % (noun, name, url)
        return "the %s at %s" % (noun, url)

    def where(self, url, prefix=""):
        """``<url>``, followed by `` (cluster 'dr')`` when the cluster has a name."""
        name = self.names.get(prefix)
        return "%s (cluster '%s')" % (url, name) if name else url

    # -- failures --------------------------------------------------------------------------------

    error_message = staticmethod(error_message)

    def fail_from(self, exc, action, option_prefix="", **result):
        """Fail the task once, with the one message shape, for any error of the Vault code.

        Extra keyword arguments are returned alongside ``msg`` (e.g. ``changed``, ``status``).
        """
        if isinstance(exc, VaultAPIError):
            result.setdefault("http_status", exc.status)
            result.setdefault("vault_errors", list(exc.errors))
        elif isinstance(exc, VaultConnectionError):
            result.setdefault("connection_error", exc.reason)
        self.fail_json(msg=error_message(exc, action, option_prefix), **result)

    # -- checks before a change ------------------------------------------------------------------
    # They fail the task with a message naming ``label`` (e.g. "the cluster at <url>");
    # ``option_prefix`` names the options of a second cluster in connection hints.

    def check_unsealed(self, client, label, option_prefix="", unseal_hint="vault operator unseal"):
        """Fail unless the node behind ``client`` answers sys/health as initialised and unsealed."""
        try:
            code, body = _api.health(client)
        except VaultError as exc:
            self.fail_from(exc, "reach %s" % label, option_prefix=option_prefix)
        state = health_state(code, body)
        if state == "uninitialized":
            self.fail_json(msg="%s is not initialised; initialise and unseal it first." % _sentence(label))
        if state == "sealed":
            self.fail_json(msg="%s is sealed; unseal it (%s) and run again." % (_sentence(label), unseal_hint))
        return code, body or {}

    def check_token(self, client, label, option="token", option_prefix=""):
        """Fail unless ``client`` carries a token that cluster accepts (lookup-self), so that a
        bad token stops the run before its first write rather than half way through."""
        if not client.token:
            where = " (or VAULT_TOKEN)" if option == "token" else ""
            self.fail_json(msg="A Vault token for %s is required for this change: set '%s'%s." % (label, option, where))
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


def _unset(value):
    return value is None or (isinstance(value, str) and value.strip() == "")


def _blank(value):
    return isinstance(value, str) and value != "" and value.strip() == ""


def _dict_problem(entry, where):
    """The first unusable value of a dict option (``cluster``, an entry of ``secondaries`` ...),
    named ``<where>.<key>``, or None."""
    for key in sorted(entry):
        value = entry[key]
        if _unset(value):
            continue
        name = "%s.%s" % (where, key)
        if key == "url":
            problem = _arguments.url_problem(value, name)
        elif key == "token":
            problem = _arguments.secret_problem(value, name)
        elif key in ("ca_cert", "client_cert", "client_key"):
            problem = _arguments.file_problem(value, name, {"ca_cert": "ca", "client_cert": "cert"}.get(key, "key"))
            if not problem and key == "client_key":
                problem = _arguments.client_pair_problem(entry.get("client_cert"), value, "%s.client_cert" % where,
                                                         name)
        else:
            problem = _arguments.value_problem(key, value, name)
        if problem:
            return problem
    return None


# ---------------------------------------------------------------------------------------------
# Running


def execute(runner_class, params, check_mode=False, diff=False, env=None, shared=None):
    """Run ``runner_class(context).run()`` and return the task result as a dict.

    ``params``: validated options (AnsibleModule.params, or the action plugin's validated task
    arguments). A failure is a result with ``failed=True`` and ``msg``; warnings are collected
    in ``warnings``. Every result carries ``started`` and ``ended`` (epoch seconds) and
    ``elapsed`` (seconds), for timelines built from task results. (Not ``finished``: ansible-core
    reserves that result key for async jobs and turns it into a boolean.)
    A runner with ``FAN_OUT`` whose list option is given runs once per entry instead
    (``execute_fan_out``); ``shared`` is what the runs of one fan-out share (RunnerContext.once).
    """
    fan_out = getattr(runner_class, "FAN_OUT", None)
    if fan_out and params.get(fan_out) is not None:
        return execute_fan_out(runner_class, params, fan_out, check_mode=check_mode, diff=diff, env=env)
    started = time.time()
    ctx = RunnerContext(params, check_mode=check_mode, diff=diff, env=env)
    if shared is not None:
        ctx.shared = shared
    try:
        missing = missing_libraries(runner_class)
        if missing:
            ctx.fail_json(msg="Failed to import the required Python library (%s). Install it into the Python that "
                              "runs this task." % ", ".join(name for name, _error in missing))
        ctx.resolve_connection()
        problem = ctx.option_problem()
        if problem:
            ctx.fail_json(msg=problem)
        returned = runner_class(ctx).run()
        if isinstance(returned, dict):
            result = returned
        else:
            result = dict(failed=True, msg="%s ended without a result (a bug in vaultops.replication)."
                          % getattr(runner_class, "__name__", "the runner"))
    except RunnerExit as end:
        result = end.result
    except VaultError as exc:
        # Runners turn Vault errors into messages themselves; one that slipped through still
        # ends as a task failure with a message, not a traceback.
        result = dict(failed=True, msg=error_message(exc, "talk to Vault"))
    ended = time.time()
    if result.get("failed") and isinstance(result.get("msg"), str):
        result["msg"] = _hints.with_hint(result["msg"])
    if ctx.warnings:
        result["warnings"] = list(result.get("warnings") or []) + ctx.warnings
    result.update(started=started, ended=ended, elapsed=round(ended - started, 3))
    return censor(result, ctx.no_log_values)


# ---------------------------------------------------------------------------------------------
# One task, many clusters
#
# A runner class may set ``FAN_OUT`` to the name of a list option whose entries are cluster dicts
# (the shape of ``cluster``, as the roles keep them in ``topology_clusters``). When the task gives
# that option, execute() runs the runner once per entry, all at once, each in its own thread with
# its own context and clients, and returns ``results`` (one per entry) instead of one result.
# ``FAN_OUT_DEFAULTS`` maps options to the entry key that fills them when the entry leaves them
# out (replication_secondary: ``{"id": "name"}``); an optional ``fan_out_problem(params)`` refuses
# options that do not apply per entry.

# Entries run at the same time at most; each spends its time waiting on HTTP.
FAN_OUT_WORKERS = 64


def fan_out_params(params, option, entry, defaults=None):
    """The options of one entry's run: the task's options without ``option``; the entry as
    ``cluster`` (its connection keys that are set win over the flat ones, which thus serve as
    defaults for every entry); the entry's other keys as options of their own; ``defaults``
    ({option: entry key}) fill options neither the entry nor the task set."""
    out = dict(params)
    out[option] = None
    cluster_keys = set(cluster_suboptions())
    out["cluster"] = dict((k, v) for k, v in entry.items() if k in cluster_keys)
    for key in CONNECTION_KEYS:
        if not _unset(entry.get(key)):
            out[key] = entry[key]
    for key, value in entry.items():
        if key not in cluster_keys and value is not None:
            out[key] = value
    for key, source in (defaults or {}).items():
        if _unset(out.get(key)) and not _unset(entry.get(source)):
            out[key] = entry[source]
    return out


def fan_out_names(entries, defaults=None):
    """How each entry is called in results and messages: its ``name``, else what fills a default
    option (e.g. ``id``), else its url, else its position."""
    names = []
    for index, entry in enumerate(entries):
        name = entry.get("name")
        for key in (defaults or {}):
            name = name or entry.get(key)
        names.append(str(name or entry.get("url") or "#%d" % index))
    return names


def _fan_out_problem(option, entries, names):
    for index, entry in enumerate(entries):
        if _unset(entry.get("url")):
            return ("%s[%d] has no url: every entry names its cluster's API address (url), so that no entry "
                    "falls back to the url option or VAULT_ADDR." % (option, index))
    seen = {}
    for index, name in enumerate(names):
        if name in seen:
            return "%s lists %r twice (entries %d and %d); each cluster may appear once." % (
                option, name, seen[name], index)
        seen[name] = index
    return None


def _fan_out_options_problem(params, option, entries, env):
    """The first unusable option of the task or of an entry (named ``<option>[<index>].<key>``), so
    that a bad entry stops the task before any entry contacts its cluster."""
    ctx = RunnerContext(dict(params, **{option: None}), env=env)
    try:
        ctx.resolve_connection()
        problem = ctx.option_problem()
    except RunnerExit as end:
        return end.result.get("msg")
    for index, entry in enumerate(entries):
        problem = problem or _dict_problem(entry, "%s[%d]" % (option, index))
    return problem


def _run_entry(runner_class, params, check_mode, diff, env, shared):
    try:
        return execute(runner_class, params, check_mode=check_mode, diff=diff, env=env, shared=shared)
    except Exception as exc:
        # A bug in one entry's run must neither hide the others' results nor end as a traceback.
        return dict(failed=True, msg="%s failed unexpectedly (a bug in vaultops.replication): %s: %s" % (
            getattr(runner_class, "__name__", "the runner"), type(exc).__name__, exc))


def execute_fan_out(runner_class, params, option, check_mode=False, diff=False, env=None):
    """Run ``runner_class`` for every entry of the list option ``option`` concurrently; the task
    result has ``results`` (each entry's result plus ``name``, ``changed``, ``failed``, ``msg``),
    ``changed`` when any entry changed, and fails listing every failed entry with its message."""
    started = time.time()
    entries = [dict(e or {}) for e in params.get(option) or []]
    defaults = getattr(runner_class, "FAN_OUT_DEFAULTS", None) or {}
    names = fan_out_names(entries, defaults)
    result = dict(changed=False, results=[])
    check = getattr(runner_class, "fan_out_problem", None)
    problem = (check(params) if check else None) or _fan_out_problem(option, entries, names) \
        or _fan_out_options_problem(params, option, entries, env)
    if problem:
        result.update(failed=True, msg=problem)
    else:
        runs = [None] * len(entries)
        pending = list(range(len(entries)))
        lock = threading.Lock()
        shared = _Shared()

        def worker():
            while True:
                with lock:
                    if not pending:
                        return
                    index = pending.pop(0)
                runs[index] = _run_entry(runner_class, fan_out_params(params, option, entries[index], defaults),
                                         check_mode, diff, env, shared)

        threads = [threading.Thread(target=worker, name="vaultops-%s-%d" % (option, n))
                   for n in range(min(len(entries), FAN_OUT_WORKERS))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result.update(_merge_fan_out(option, names, runs))
    ended = time.time()
    result.update(started=started, ended=ended, elapsed=round(ended - started, 3))
    return result


def _merge_fan_out(option, names, runs):
    results = []
    warnings = []
    before = {}
    after = {}
    for name, run in zip(names, runs):
        item = dict(run)
        item["name"] = name
        item["changed"] = bool(item.get("changed"))
        item["failed"] = bool(item.get("failed"))
        if not item.get("msg"):
            actions = item.get("actions")
            item["msg"] = ("changed" if item["changed"] else "unchanged") + (
                " (%s)" % ", ".join(actions) if actions else "")
        warnings.extend("%s: %s" % (name, w) for w in item.pop("warnings", None) or [])
        if isinstance(item.get("diff"), dict):
            before[name] = item["diff"].get("before")
            after[name] = item["diff"].get("after")
        results.append(item)
    failed = [r for r in results if r["failed"]]
    out = dict(changed=any(r["changed"] for r in results), results=results)
    if before or after:
        out["diff"] = dict(before=before, after=after)
    if warnings:
        out["warnings"] = warnings
    changed = sum(1 for r in results if r["changed"])
    if failed:
        out.update(failed=True, msg="%d of %d entries of %s failed: %s" % (
            len(failed), len(results), option, "; ".join("%s: %s" % (r["name"], r["msg"]) for r in failed)))
    elif not results:
        out["msg"] = "%s is empty; nothing to do." % option
    else:
        out["msg"] = "%d of %d entries of %s changed." % (changed, len(results), option)
    return out
