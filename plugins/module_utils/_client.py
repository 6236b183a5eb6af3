# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One HTTP client for the Vault API, shared by every module of the collection.

Private to the collection: the interface is documented in docs/dev/contracts.md.
"""

from __future__ import annotations

import copy
import ipaddress
import json as _json
import os
import socket
import ssl
import traceback
import warnings

from urllib.parse import urljoin, urlsplit

# Imported at module level on purpose: ansible-core's strategy loads each action plugin class in
# the controller's main process before it forks the task's worker, so these imports happen once
# per run and every worker inherits them (a deferred import would be paid again in each task).
try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    Retry = object
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None


USER_AGENT = "vaultops.replication"
TOKEN_HEADER = "X-Vault-Token"

# Standby nodes answer client requests with a 307 to the active node (308 from some load
# balancers). Following more than a few hops means a redirect loop, not a leader change.
MAX_REDIRECTS = 5
FOLLOWED_REDIRECTS = frozenset((307, 308))

# Statuses the session retries by itself, with exponential backoff, for every method
# (Vault's writes are state transitions that the modules read back before acting, and
# none of these codes means the request was carried out):
RETRY_STATUSES = frozenset((
    412,  # "required index state not present": a performance standby has not yet caught up
          # with the active node (seen right after a promotion, hashicorp/vault#24400)
    429,  # rate-limit quota hit, or a standby answering a health-style check; honours Retry-After
    500,  # transient internal error, e.g. while the node swaps its replication state
    502,  # a load balancer in front of Vault could not reach the node (restart, failover)
    503,  # sealed, or "brief unavailability" after enable/promote/demote, or promote refused
          # while the secondary is still catching up
))

# After a request is written, a lost answer only gets retried for methods where doing it
# twice is harmless. A POST that may have reached Vault is not sent again: the caller reads
# the state back instead (a second "enable" would fail on the changed state).
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))

ERROR_SNIPPET_CHARS = 200

# Upper bound of one backoff sleep between session retries (seconds). Modules poll with their
# own waiter; the session retries only smooth over blips.
MAX_BACKOFF = 4

# Where trusted CA certificates come from when ca_cert is not given, first match wins: the
# variables Python's requests library reads, then OpenSSL's (which curl, Go programs such as the
# Vault CLI, and Python's ssl module read), then the system trust store.
CA_ENVIRONMENT = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")

# The Vault CLI's proxy for Vault requests only; it wins over HTTP(S)_PROXY and NO_PROXY.
VAULT_PROXY_ENVIRONMENT = ("VAULT_PROXY_ADDR", "VAULT_HTTP_PROXY")
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")


class VaultError(Exception):
    """Base class of every error raised by the collection's Vault code."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class VaultAPIError(VaultError):
    """Vault answered with an error status (>= 400) and its ``{"errors": [...]}`` envelope."""

    def __init__(self, status, errors, method, path, warnings=None, body=None):
        self.status = int(status)
        self.errors = list(errors or [])
        self.method = method
        self.path = path
        self.warnings = list(warnings or [])
        self.body = body
        detail = "; ".join(self.errors) if self.errors else "no error message in the response"
        super().__init__("%s %s: HTTP %d: %s" % (method, path, self.status, detail))

    def has_error(self, fragment):
        """True when one of Vault's error strings contains ``fragment`` (case-insensitive)."""
        fragment = fragment.lower()
        return any(fragment in err.lower() for err in self.errors)

    @property
    def enterprise_only(self):
        """Vault Community Edition answers replication paths with this 404."""
        return self.status == 404 and self.has_error("enterprise-only feature")


class VaultConnectionError(VaultError):
    """No HTTP answer at all: TLS failure, refused, timeout, DNS or another transport error."""

    REASONS = ("tls", "refused", "timeout", "dns", "other")

    def __init__(self, url, reason, cause, client_cert=None):
        self.url = url
        self.reason = reason if reason in self.REASONS else "other"
        self.cause = cause
        # The client certificate the call showed (None: none), so that a refusal can name it.
        self.client_cert = client_cert
        label = {
            "tls": "TLS error",
            "refused": "connection refused",
            "timeout": "timed out",
            "dns": "host name not resolved",
            "other": "connection failed",
        }[self.reason]
        super().__init__("Cannot reach Vault at %s (%s): %s" % (url, label, cause))


class Response:
    """A decoded Vault answer.

    ``json`` is the parsed body (or None), ``data``/``warnings``/``wrap_info``/``auth`` come
    from the standard envelope. Endpoints such as sys/health, sys/seal-status or
    generate-root answer a bare object: read ``json`` for those.
    """

    def __init__(self, status, body_json, headers=None, url=None):
        self.status = status
        self.json = body_json
        self.headers = headers or {}
        self.url = url
        envelope = body_json if isinstance(body_json, dict) else {}
        data = envelope.get("data")
        self.data = data if isinstance(data, dict) else None
        self.warnings = [w for w in (envelope.get("warnings") or []) if isinstance(w, str)]
        wrap_info = envelope.get("wrap_info")
        self.wrap_info = wrap_info if isinstance(wrap_info, dict) else None
        auth = envelope.get("auth")
        self.auth = auth if isinstance(auth, dict) else None

    def __repr__(self):
        return "Response(status=%r)" % (self.status,)


class _VaultRetry(Retry):
    """urllib3 Retry that never re-sends a possibly delivered non-idempotent request."""

    # urllib3 1.26 reads the backoff cap from these; 2.x takes backoff_max= (see _make_retry).
    DEFAULT_BACKOFF_MAX = MAX_BACKOFF
    BACKOFF_MAX = MAX_BACKOFF

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if (error is not None and method is not None and method.upper() not in IDEMPOTENT_METHODS
                and self._is_read_error(error)):
            # The request went out; repeating a POST could apply it twice.
            raise error
        return super().increment(method=method, url=url, response=response, error=error,
                                 _pool=_pool, _stacktrace=_stacktrace)


def _make_retry(retries, backoff_factor, status_forcelist):
    options = dict(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        redirect=0,
        backoff_factor=backoff_factor,
        status_forcelist=status_forcelist,
        allowed_methods=None,  # every verb; read errors are filtered in _VaultRetry.increment
        # Only honoured (and only waited for) where statuses are retried at all.
        respect_retry_after_header=bool(status_forcelist),
        raise_on_status=False,  # hand back the last answer so Vault's errors can be reported
        raise_on_redirect=False,
    )
    try:
        return _VaultRetry(backoff_max=MAX_BACKOFF, **options)
    except TypeError:  # urllib3 < 2 reads the class attributes instead
        return _VaultRetry(**options)


def _exception_chain(exc):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        nxt = getattr(exc, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            # requests/urllib3 wrap the underlying error as an argument, e.g.
            # ProtocolError("Connection aborted.", RemoteDisconnected(...))
            inner = [a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)]
            nxt = inner[-1] if inner else None
        exc = nxt
    return seen


def classify_transport_error(exc):
    """Map a requests/urllib3 transport exception to (reason, human readable cause)."""
    chain = _exception_chain(exc)
    text = " ".join(str(e) for e in chain)
    lowered = text.lower()
    cause = str(chain[-1]) if chain else str(exc)

    def has(types):
        return any(isinstance(e, types) for e in chain)

    if (HAS_REQUESTS and has(requests.exceptions.SSLError)) or has(ssl.SSLError) or \
            "certificate verify failed" in lowered or "ssl" in lowered and "handshake" in lowered:
        for e in reversed(chain):
            if isinstance(e, ssl.SSLError):
                cause = str(e)
                break
        return "tls", cause
    if (HAS_REQUESTS and has(requests.exceptions.Timeout)) or has(socket.timeout) or has(TimeoutError) or \
            "timed out" in lowered:
        return "timeout", cause
    if has(socket.gaierror) or "name or service not known" in lowered or "nodename nor servname" in lowered \
            or "failed to resolve" in lowered or "temporary failure in name resolution" in lowered \
            or "getaddrinfo failed" in lowered or "no address associated" in lowered:
        for e in reversed(chain):
            if isinstance(e, socket.gaierror):
                cause = str(e)
                break
        return "dns", cause
    if has(ConnectionRefusedError) or "connection refused" in lowered or "actively refused" in lowered:
        return "refused", "connection refused"
    return "other", cause


def _redact_url(url):
    """Drop any user:password@ part and the query string before showing a URL."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return "%s://%s%s" % (parts.scheme, netloc, parts.path)


def _decode_body(resp):
    if not resp.content:
        return None, None
    try:
        return resp.json(), None
    except ValueError:
        text = resp.text.strip().replace("\n", " ")
        if len(text) > ERROR_SNIPPET_CHARS:
            text = text[:ERROR_SNIPPET_CHARS] + "..."
        return None, text


class VaultClient:
    """Talks to one Vault cluster (one URL) over a pooled, retrying requests session."""

    def __init__(self, url, token=None, ca_cert=None, client_cert=None, client_key=None,
                 validate_certs=True, timeout=30, retries=3, backoff_factor=0.25, proxies=None, env=None):
        if not HAS_REQUESTS:
            raise VaultError("the Python library 'requests' is required to talk to Vault")
        env = os.environ if env is None else env
        self.url = self._normalise_url(url)
        self.token = token or None
        self.ca_cert = ca_cert or None
        self.client_cert = client_cert or None
        self.client_key = client_key or None
        self.validate_certs = bool(validate_certs)
        try:
            self.timeout = float(timeout)
            self.retries = int(retries)
        except (TypeError, ValueError):
            raise VaultError("timeout and retries must be numbers, got timeout=%r retries=%r" % (timeout, retries))
        if self.timeout <= 0:
            raise VaultError("timeout must be greater than 0, got %r" % (timeout,))
        if self.retries < 0:
            raise VaultError("retries must be 0 or more, got %r" % (retries,))
        if self.client_key and not self.client_cert:
            raise VaultError("client_key needs client_cert as well")
        for option, path in (("ca_cert", self.ca_cert), ("client_cert", self.client_cert),
                             ("client_key", self.client_key)):
            # requests would only notice at the first call, with a bare OSError.
            if path and not os.path.exists(path):
                raise VaultError("%s: no such file or directory: %s" % (option, path))
        # verify= for requests (a CA file or directory, or False) and, for messages, where it came from.
        self.verify, self.trust_source = resolve_trust(self.ca_cert, self.validate_certs, env)
        self._proxies = normalise_proxies(proxies, "proxies")
        self._proxy_env = dict((name, env.get(name)) for name in _proxy_variables() if env.get(name))
        self.proxy_for(self.url)  # a malformed proxy variable fails here, not at the first call
        self.backoff_factor = backoff_factor
        self._session = self._new_session(RETRY_STATUSES)
        # Polls of endpoints whose status code *is* the answer (sys/health) must not be
        # retried on 429/503; they get a second pool that only retries unreachable nodes.
        self._probe_session = None

    @staticmethod
    def _normalise_url(url):
        if not url or not isinstance(url, str):
            raise VaultError("a Vault URL is required (for example https://vault.example.com:8200)")
        url = url.strip().rstrip("/")
        if url.endswith("/v1"):
            url = url[:-3]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise VaultError("Vault URL %r must look like https://host:8200 (scheme http or https and a host)"
                             % (_redact_url(url),))
        try:
            parts.port  # pylint: disable=pointless-statement
        except ValueError:
            raise VaultError("Vault URL %r has an invalid port" % (_redact_url(url),))
        if parts.query or parts.fragment:
            raise VaultError("Vault URL %r must not have a query string or fragment" % (_redact_url(url),))
        return url

    def _new_session(self, status_forcelist):
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=_make_retry(self.retries, self.backoff_factor, status_forcelist),
                              pool_connections=4, pool_maxsize=4)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        session.verify = self.verify
        if self.client_cert:
            session.cert = (self.client_cert, self.client_key) if self.client_key else self.client_cert
        # The environment is read once, in __init__, from the mapping the caller gives (the
        # controller's environment plus the task's ``environment``, which os.environ does not
        # hold), and the result is passed explicitly. requests' own reading would also let
        # REQUESTS_CA_BUNDLE override a session's CA bundle, i.e. beat an explicit ca_cert.
        session.trust_env = False
        return session

    def proxy_for(self, url):
        """``(proxy URL or None, where it came from)`` for a request to ``url``: the ``proxies``
        option, else VAULT_PROXY_ADDR / VAULT_HTTP_PROXY, else <scheme>_proxy / ALL_PROXY unless
        NO_PROXY lists the host, else a direct connection."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if self._proxies is not None:
            return self._proxies.get(scheme), "the proxies option"
        env = self._proxy_env
        for name in VAULT_PROXY_ENVIRONMENT:
            if env.get(name):
                return _check_proxy_url(env[name], name), name
        no_proxy = _first_set(env, "no_proxy")
        if no_proxy and _bypasses_proxy(parts, no_proxy[1]):
            return None, "NO_PROXY"
        for name in ("%s_proxy" % scheme, "all_proxy"):
            found = _first_set(env, name)
            if found:
                return _check_proxy_url(found[1], found[0]), found[0]
        return None, None

    def with_token(self, token):
        """A client for the same cluster and connection pool, authenticated with another token."""
        other = copy.copy(self)
        other.token = token or None
        return other

    def close(self):
        for session in (self._session, self._probe_session):
            if session is not None:
                session.close()

    def _session_for(self, retry_on_status):
        if retry_on_status:
            return self._session
        if self._probe_session is None:
            self._probe_session = self._new_session(frozenset())
        return self._probe_session

    def request(self, method, path, json=None, params=None, authenticated=True, allow_status=(),
                retry_on_status=True):
        """Send one API call and decode the answer.

        ``path`` is relative to /v1/ (``sys/replication/status``). With ``authenticated`` the
        client's token is sent when it has one. Statuses >= 400 raise VaultAPIError unless
        listed in ``allow_status``; transport failures raise VaultConnectionError.
        """
        method = method.upper()
        path = path.lstrip("/")
        url = "%s/v1/%s" % (self.url, path)
        headers = {}
        if authenticated and self.token:
            headers[TOKEN_HEADER] = self.token
        body = None
        if json is not None:
            body = _json.dumps(json).encode("utf-8")
            headers["Content-Type"] = "application/json"
        session = self._session_for(retry_on_status)
        resp = self._send(session, method, url, headers, body, params)

        body_json, text = _decode_body(resp)
        if resp.status_code >= 400 and resp.status_code not in allow_status:
            errors = []
            api_warnings = []
            if isinstance(body_json, dict):
                errors = [str(e) for e in (body_json.get("errors") or [])]
                api_warnings = [str(w) for w in (body_json.get("warnings") or [])]
            elif text:
                errors = ["non-JSON response: %s" % text]
            raise VaultAPIError(resp.status_code, errors, method, path, warnings=api_warnings, body=body_json)
        if 300 <= resp.status_code < 400:
            raise VaultAPIError(resp.status_code, ["unexpected redirect to %s" % resp.headers.get("Location", "?")],
                                method, path)
        if body_json is None and text:
            raise VaultAPIError(resp.status_code, ["non-JSON response: %s" % text], method, path)
        return Response(resp.status_code, body_json, headers=resp.headers, url=resp.url)

    def _send(self, session, method, url, headers, body, params):
        origin_scheme = urlsplit(url).scheme
        hops = 0
        while True:
            proxy, proxy_source = self.proxy_for(url)
            proxies = {urlsplit(url).scheme: proxy} if proxy else {}
            try:
                with warnings.catch_warnings():
                    if not self.validate_certs:
                        # The user chose not to verify; one warning per call would drown the log.
                        warnings.simplefilter("ignore")
                    resp = session.request(method, url, headers=headers, data=body, params=params,
                                           timeout=self.timeout, allow_redirects=False, proxies=proxies)
            except (requests.exceptions.RequestException, OSError, ValueError) as exc:
                # OSError/ValueError: e.g. a CA bundle or client key file that exists but cannot be
                # read or parsed.
                reason, cause = classify_transport_error(exc)
                if reason == "tls" and self.validate_certs:
                    cause = "%s (trusted CAs: %s)" % (cause, self.trust_source)
                if proxy:
                    cause = "%s (through proxy %s from %s)" % (cause, _redact_url(proxy), proxy_source)
                raise VaultConnectionError(_redact_url(url), reason, cause, client_cert=self.client_cert)
            if resp.status_code not in FOLLOWED_REDIRECTS or "Location" not in resp.headers:
                return resp
            hops += 1
            if hops > MAX_REDIRECTS:
                raise VaultConnectionError(_redact_url(url), "other",
                                           "more than %d redirects (standby redirect loop?)" % MAX_REDIRECTS)
            # Vault standbys send 307 to the active node with the full request URI; 307/308
            # oblige us to repeat the same method and body there.
            url = urljoin(resp.url or url, resp.headers["Location"])
            params = None  # the Location already carries the query string
            resp.close()
            if urlsplit(url).scheme != origin_scheme and TOKEN_HEADER in headers:
                # Every node of a Vault cluster listens with the same scheme. A redirect that
                # changes it (https -> http especially) does not point at a sibling node, so
                # the token stays behind; the call then fails with 403 instead of leaking it.
                headers = dict(headers)
                del headers[TOKEN_HEADER]


# ---------------------------------------------------------------------------------------------
# Trust and proxies from the options and the environment

_SYSTEM_TRUST = []


def system_trust():
    """``(verify, description)`` for the operating system's CA certificates, as OpenSSL finds
    them (its default CA file, else its default CA directory); requests' own certifi bundle
    only where the system has none."""
    if not _SYSTEM_TRUST:
        paths = ssl.get_default_verify_paths()
        found = None
        if paths.openssl_cafile and os.path.isfile(paths.openssl_cafile):
            found = paths.openssl_cafile
        elif paths.openssl_capath and os.path.isdir(paths.openssl_capath) and os.listdir(paths.openssl_capath):
            found = paths.openssl_capath
        if found:
            _SYSTEM_TRUST.append((found, "the system trust store (%s)" % found))
        else:
            _SYSTEM_TRUST.append((True, "the certifi bundle of requests (no system trust store found)"))
    return _SYSTEM_TRUST[0]


def resolve_trust(ca_cert, validate_certs, env):
    """``(verify, description)``: no verification when ``validate_certs`` is false; ``ca_cert``
    when given; else the first of CA_ENVIRONMENT that is set; else the system trust store."""
    if not validate_certs:
        return False, "none (validate_certs is false)"
    if ca_cert:
        return ca_cert, "ca_cert %s" % ca_cert
    for name in CA_ENVIRONMENT:
        value = (env.get(name) or "").strip()
        if not value:
            continue
        value = os.path.expanduser(value)
        if not os.path.exists(value):
            raise VaultError("the environment variable %s names %s, which does not exist: point it at a CA bundle, "
                             "unset it, or set ca_cert (which wins over it)" % (name, value))
        return value, "%s=%s" % (name, value)
    return system_trust()


def _proxy_variables():
    names = list(VAULT_PROXY_ENVIRONMENT)
    for base in ("no_proxy", "http_proxy", "https_proxy", "all_proxy"):
        names += [base, base.upper()]
    return names


def _first_set(env, name):
    """``(variable, value)`` of ``name`` in lower case, else upper case (lower case wins, as in
    curl and Python's urllib), or None."""
    for variable in (name, name.upper()):
        value = (env.get(variable) or "").strip()
        if value:
            return variable, value
    return None


def _check_proxy_url(value, source):
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not text:
        raise VaultError("%s must be a proxy URL such as http://proxy.example.com:3128, got %r" % (source, value))
    if "://" not in text:
        text = "http://" + text  # as curl and requests read a bare host:port
    parts = urlsplit(text)
    try:
        parts.port  # pylint: disable=pointless-statement
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        raise VaultError("%s must be a proxy URL such as http://proxy.example.com:3128 (scheme %s), got %r"
                         % (source, ", ".join(PROXY_SCHEMES), _redact_url(text)))
    return text


def normalise_proxies(value, option):
    """The ``proxies`` option as ``{scheme: proxy URL}``, or None when not set.

    A string is the proxy for both http and https URLs; a dict maps ``http`` / ``https`` (or
    ``all``, for both) to a proxy URL."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        proxy = _check_proxy_url(value, option)
        return {"http": proxy, "https": proxy}
    if not isinstance(value, dict):
        raise VaultError("%s must be a proxy URL or a dict of scheme (http, https, all) to proxy URL, got %s"
                         % (option, type(value).__name__))
    out = {}
    for key, proxy in value.items():
        scheme = str(key).lower()
        if scheme not in ("http", "https", "all"):
            raise VaultError("%s: unknown key %r; use http, https or all (the scheme of the Vault URL)" % (option, key))
        if proxy in (None, ""):
            continue
        checked = _check_proxy_url(proxy, "%s.%s" % (option, key))
        if scheme == "all":
            out.setdefault("http", checked)
            out.setdefault("https", checked)
        else:
            out[scheme] = checked
    return out


def _bypasses_proxy(parts, no_proxy):
    """True when NO_PROXY (comma- or space-separated: ``*``, host names and domain suffixes with
    or without a leading dot or ``*.``, ``host:port``, IP addresses and CIDR networks) lists the
    host of ``parts`` (a urlsplit result)."""
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_port = None
        if entry.startswith("["):  # [v6]:port
            close = entry.find("]")
            rest = entry[close + 1:]
            entry_port = rest[1:] if rest.startswith(":") else None
            entry = entry[1:close]
        elif entry.count(":") == 1:
            entry, entry_port = entry.split(":", 1)
        if entry_port is not None and (not entry_port.isdigit() or int(entry_port) != port):
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry[2:] if entry.startswith("*.") else entry.lstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False
