# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One HTTP client for the Vault API, shared by every module of the collection.

Private to the collection: the interface is documented in docs/dev/contracts.md.
"""

from __future__ import annotations

import copy
import json as _json
import os
import socket
import ssl
import traceback
import warnings

from urllib.parse import urljoin, urlsplit

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

    def __init__(self, url, reason, cause):
        self.url = url
        self.reason = reason if reason in self.REASONS else "other"
        self.cause = cause
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
                 validate_certs=True, timeout=30, retries=3, backoff_factor=0.25):
        if not HAS_REQUESTS:
            raise VaultError("the Python library 'requests' is required to talk to Vault")
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
        # A CA bundle path is what requests expects in verify=; True means system roots.
        if self.validate_certs:
            session.verify = self.ca_cert or True
        else:
            session.verify = False
        if self.client_cert:
            session.cert = (self.client_cert, self.client_key) if self.client_key else self.client_cert
        # VAULT_* or REQUESTS_CA_BUNDLE from the environment must not override explicit options.
        session.trust_env = False
        return session

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
            try:
                with warnings.catch_warnings():
                    if not self.validate_certs:
                        # The user chose not to verify; one warning per call would drown the log.
                        warnings.simplefilter("ignore")
                    resp = session.request(method, url, headers=headers, data=body, params=params,
                                           timeout=self.timeout, allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                reason, cause = classify_transport_error(exc)
                raise VaultConnectionError(_redact_url(url), reason, cause)
            except (OSError, ValueError) as exc:
                # e.g. a CA bundle or client key file that exists but cannot be read or parsed
                reason, cause = classify_transport_error(exc)
                raise VaultConnectionError(_redact_url(url), reason, cause)
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
