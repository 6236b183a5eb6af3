# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integrated storage (raft) snapshots: save one to a private file, restore one.

``GET sys/storage/raft/snapshot`` answers the archive itself (a gzip'd tar), not JSON, and it
can be large, so it is streamed to disk here instead of going through ``VaultClient.request``
(which decodes JSON bodies in memory). The file is created 0600 under a temporary name in the
target directory and renamed when complete, so a half-written snapshot never carries the final
name. The directory must not be accessible to other users: a snapshot holds every secret of the
cluster (encrypted with its keys) and its tokens' hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from urllib.parse import urljoin, urlsplit

from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    TOKEN_HEADER,
    VaultAPIError,
    VaultConnectionError,
    VaultError,
    classify_transport_error,
)

try:
    import requests
except ImportError:  # guarded in _client; HAS_REQUESTS stops the run before this is used
    requests = None

SNAPSHOT_PATH = "sys/storage/raft/snapshot"
FORCE_PATH = "sys/storage/raft/snapshot-force"
SUFFIX = ".snap"
CHUNK = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
MAX_REDIRECTS = 5
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class SnapshotError(VaultError):
    """A snapshot file or directory problem (not an HTTP answer)."""


# -- files --------------------------------------------------------------------------------------

def directory_problem(path, create=True):
    """Why ``path`` cannot hold snapshots (a sentence), or None. Pure apart from reading the
    file system; ``create``: a missing directory is fine (it will be created 0700)."""
    if not path:
        return "no directory given"
    if not os.path.isabs(path):
        return "%s is not an absolute path" % path
    if not os.path.exists(path):
        parent = os.path.dirname(path.rstrip(os.sep)) or os.sep
        if not create:
            return "%s does not exist" % path
        while not os.path.exists(parent):
            parent = os.path.dirname(parent.rstrip(os.sep)) or os.sep
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
            return "%s does not exist and cannot be created (%s is not a writable directory)" % (path, parent)
        return None
    if not os.path.isdir(path):
        return "%s is not a directory" % path
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o007:
        return ("%s is accessible to every user (mode %04o), and a snapshot holds the cluster's secrets. Name a "
                "private directory (a missing one is created 0700), or restrict this one (chmod o-rwx %s)"
                % (path, mode, path))
    if not os.access(path, os.W_OK | os.X_OK):
        return "%s is not writable for this user" % path
    return None


def ensure_directory(path):
    """Create ``path`` (and missing parents) with mode 0700 when it does not exist."""
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)


def file_name(label, when=None):
    """``vault-<label>-<UTC time>.snap``: says which cluster and when; ``label`` is the cluster's
    name or its address."""
    label = _UNSAFE.sub("-", label or "cluster").strip("-.") or "cluster"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if when is None else when))
    return "vault-%s-%s%s" % (label, stamp, SUFFIX)


def label_of(url, name=None):
    """The cluster's name, else ``host-port`` of its address."""
    if name:
        return name
    parts = urlsplit(url)
    return "%s-%s" % (parts.hostname or "cluster", parts.port or ("443" if parts.scheme == "https" else "80"))


def planned_path(directory, label, when=None):
    """Where a snapshot taken now would be written (a free name in ``directory``)."""
    base = os.path.join(directory, file_name(label, when))
    path = base
    n = 1
    while os.path.exists(path):
        path = "%s-%d%s" % (base[:-len(SUFFIX)], n, SUFFIX)
        n += 1
    return path


def digest(path):
    """``(size, sha256 hex)`` of a file."""
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def snapshot_file_problem(path, sha256=None):
    """Why ``path`` is not a usable snapshot file (a sentence), or None."""
    if not os.path.isfile(path):
        return "%s is not a file" % path
    if not os.access(path, os.R_OK):
        return "%s is not readable for this user" % path
    with open(path, "rb") as handle:
        head = handle.read(2)
    if not head:
        return "%s is empty" % path
    if head != GZIP_MAGIC:
        return "%s is not a snapshot archive (not gzip data)" % path
    if sha256:
        _size, actual = digest(path)
        if actual.lower() != sha256.strip().lower():
            return "%s has sha256 %s, not the expected %s" % (path, actual, sha256.strip().lower())
    return None


# -- HTTP ---------------------------------------------------------------------------------------

def _error_from(resp, method, path):
    try:
        body = resp.json()
    except ValueError:
        body = None
    errors = []
    if isinstance(body, dict):
        errors = [str(e) for e in body.get("errors") or []]
    elif resp.text:
        errors = ["non-JSON response: %s" % resp.text.strip()[:200]]
    return VaultAPIError(resp.status_code, errors, method, path, body=body if isinstance(body, dict) else None)


def _send(client, method, path, body=None, retry_on_status=True):
    """One streamed request; follows standby redirects (307/308) like the client does, re-reading a
    file body from its start. Returns the open ``requests`` response (status < 300)."""
    url = "%s/v1/%s" % (client.url, path)
    headers = {}
    if client.token:
        headers[TOKEN_HEADER] = client.token
    if body is not None:
        headers["Content-Type"] = "application/octet-stream"
    session = client._session_for(retry_on_status)  # pylint: disable=protected-access
    scheme = urlsplit(url).scheme
    for _hop in range(MAX_REDIRECTS + 1):
        if body is not None:
            body.seek(0)
        extra = {}
        proxy_for = getattr(client, "proxy_for", None)  # clients that route through a proxy
        if proxy_for is not None:
            proxy = proxy_for(url)[0]
            extra["proxies"] = {urlsplit(url).scheme: proxy} if proxy else {}
        try:
            resp = session.request(method, url, headers=headers, data=body, stream=True, timeout=client.timeout,
                                   allow_redirects=False, **extra)
        except (requests.exceptions.RequestException, OSError, ValueError) as exc:
            reason, cause = classify_transport_error(exc)
            raise VaultConnectionError(url, reason, cause)
        if resp.status_code in (307, 308) and "Location" in resp.headers:
            url = urljoin(resp.url or url, resp.headers["Location"])
            resp.close()
            if urlsplit(url).scheme != scheme:
                headers.pop(TOKEN_HEADER, None)
            continue
        if resp.status_code >= 300:
            try:
                raise _error_from(resp, method, path)
            finally:
                resp.close()
        return resp
    raise VaultConnectionError(url, "other", "more than %d redirects (standby redirect loop?)" % MAX_REDIRECTS)


def save(client, directory, label, when=None):
    """Stream the cluster's snapshot into a new 0600 file in ``directory`` (created 0700 when
    missing). Returns ``{"path", "size", "sha256", "created"}``; raises VaultError (the file is
    removed then)."""
    problem = directory_problem(directory)
    if problem:
        raise SnapshotError(problem)
    ensure_directory(directory)
    when = time.time() if when is None else when
    path = planned_path(directory, label, when)
    partial = "%s.partial-%d" % (path, os.getpid())
    sha = hashlib.sha256()
    size = 0
    head = b""
    resp = _send(client, "GET", SNAPSHOT_PATH)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in resp.iter_content(CHUNK):
                    if not chunk:
                        continue
                    if len(head) < 2:
                        head += chunk[:2 - len(head)]
                    handle.write(chunk)
                    sha.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except (requests.exceptions.RequestException, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, requests.exceptions.RequestException):
                raise SnapshotError("could not write %s: %s" % (partial, exc))
            reason, cause = classify_transport_error(exc)
            raise VaultConnectionError(client.url, reason, "snapshot download broke off: %s" % cause)
        if size == 0:
            raise SnapshotError("Vault answered GET %s with an empty body" % SNAPSHOT_PATH)
        if head != GZIP_MAGIC:
            raise SnapshotError("Vault answered GET %s with something that is not a snapshot archive (not gzip "
                                "data); is integrated storage (raft) in use?" % SNAPSHOT_PATH)
        if os.path.exists(path):  # taken by another run in the same second
            path = planned_path(directory, label, when)
        os.rename(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    finally:
        resp.close()
    return {"path": path, "size": size, "sha256": sha.hexdigest(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))}


def restore(client, path, force=False):
    """POST the snapshot file at ``path`` to ``sys/storage/raft/snapshot`` (``snapshot-force`` with
    ``force``: a snapshot taken under other unseal keys, e.g. another cluster's). Raises VaultError."""
    endpoint = FORCE_PATH if force else SNAPSHOT_PATH
    with open(path, "rb") as body:
        # No status retries: a repeated restore is not what was asked for.
        resp = _send(client, "POST", endpoint, body=body, retry_on_status=False)
    resp.close()
    return endpoint


def describe_error(exc):
    """Vault's errors for a snapshot call as text (for messages)."""
    if isinstance(exc, VaultAPIError):
        return "HTTP %d: %s" % (exc.status, "; ".join(exc.errors) or json.dumps(exc.body or {}))
    return getattr(exc, "message", None) or str(exc)
