"""Audit devices: the audit table, HMAC of secrets, and the file writer.

The table lives in storage like the mount table: devices enabled with ``local: true`` in the
``local`` scope (``core/local-audit``), the others in the ``replicated`` scope (``core/audit``),
so every secondary receives the shared ones (reference §7.1) and, as the guide warns, a shared
``file`` device must be writable on every cluster.

A ``file`` device appends one JSON object per line for each request and each response, with
every string of the request/response data, tokens and accessors replaced by
``hmac-sha256:<hex>`` (a per-device salt, as Vault's ``audit-hash``). ``file_path``: an absolute
path is used as is; a relative one resolves inside the node's own data directory
(``<lab>/clusters/<cluster>/nodes/<node>/``, created with the node), so a lab can give one
cluster a directory the others lack. ``stdout`` and ``discard`` always succeed and write
nothing. ``socket`` and ``syslog`` devices are recorded and count as succeeding [?].

When at least one device is enabled and none can log a request, the node refuses it with
Vault's opaque ``500 internal error`` (and after the handler ran, if none can log the response).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from .node import Node

log = logging.getLogger("vaultlab.audit")

AUDIT_KEY = "core/audit"
LOCAL_AUDIT_KEY = "core/local-audit"
TYPES = ("file", "socket", "syslog")
# Vault answers these from raw HTTP handlers that never reach the audit broker.
NOT_AUDITED = ("sys/health", "sys/seal-status", "sys/unseal", "sys/init", "sys/leader",
               "sys/generate-root/attempt", "sys/generate-root/update")


class AuditFailure(Exception):
    """No enabled device could log an entry."""


def node_data_dir(node: Node) -> Path:
    path = Path(node.dir) / "clusters" / node.cluster_name / "nodes" / node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def devices(node: Node) -> dict[str, dict[str, Any]]:
    table = dict(node.storage.get(AUDIT_KEY) or {})
    table.update(node.storage.get(LOCAL_AUDIT_KEY) or {})
    return table


def active(node: Node) -> bool:
    """Whether this node runs its audit devices: a DR secondary holds them but audits nothing
    until promoted [?] (switch ``dr_secondary_audits``)."""
    if node.switches.get("dr_secondary_audits", False):
        return True
    try:
        return node.replication_modes().get("dr") not in ("secondary", "bootstrapping")
    except Exception:
        return True


def new_salt() -> str:
    return secrets.token_hex(32)


def hash_value(entry: dict[str, Any], value: str) -> str:
    return "hmac-sha256:" + hmac.new(entry["salt"].encode(), value.encode(), hashlib.sha256).hexdigest()


def _hash_tree(entry: dict[str, Any], value: Any) -> Any:
    if isinstance(value, str):
        return hash_value(entry, value)
    if isinstance(value, dict):
        return {k: _hash_tree(entry, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hash_tree(entry, v) for v in value]
    return value


def resolve_path(node: Node, file_path: str) -> Path | None:
    """Where a file device of this node writes (None: stdout / discard)."""
    if file_path in ("stdout", "discard"):
        return None
    path = Path(file_path)
    return path if path.is_absolute() else node_data_dir(node) / path


def _mode(entry: dict[str, Any]) -> int:
    text = str((entry.get("options") or {}).get("mode", "0600"))
    try:
        return int(text, 8)
    except ValueError:
        return 0o600


def write_line(node: Node, entry: dict[str, Any], record: dict[str, Any]) -> None:
    """Append one record to a device (raises OSError when it cannot)."""
    if entry["type"] != "file":
        return
    target = resolve_path(node, (entry.get("options") or {}).get("file_path", ""))
    if target is None:
        return
    prefix = (entry.get("options") or {}).get("prefix", "")
    line = (prefix + json.dumps(record, separators=(",", ":"), sort_keys=False) + "\n").encode()
    mode = _mode(entry)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode or 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def os_reason(path: str, exc: OSError) -> str:
    """Go's text for a failed open: ``open <path>: no such file or directory``."""
    reason = exc.strerror or str(exc)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e6):06d}Z"


def _auth_view(entry: dict[str, Any], token: str | None, token_entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if not token_entry:
        return None
    hmac_accessor = str((entry.get("options") or {}).get("hmac_accessor", "true")).lower() != "false"
    accessor = token_entry.get("accessor") or ""
    return {
        "client_token": hash_value(entry, token or ""),
        "accessor": hash_value(entry, accessor) if hmac_accessor and accessor else accessor,
        "display_name": token_entry.get("display_name", ""),
        "policies": token_entry.get("policies") or [],
        "token_policies": token_entry.get("policies") or [],
        "token_type": token_entry.get("type", "service"),
        "token_ttl": token_entry.get("ttl", 0),
    }


class Context:
    """One request's audit: the devices it was logged to and what to log for the response."""

    def __init__(self, node: Node, method: str, path: str, operation: str, remote: str | None,
                 body: Any, token: str | None, token_entry: dict[str, Any] | None):
        self.node = node
        self.id = str(uuid.uuid4())
        self.method = method
        self.path = path
        self.operation = operation
        self.remote = remote or ""
        self.body = body
        self.token = token
        self.token_entry = token_entry

    def _request(self, entry: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "namespace": {"id": "root"},
            "path": self.path,
            "remote_address": self.remote,
        }
        if self.token:
            request["client_token"] = hash_value(entry, self.token)
            accessor = (self.token_entry or {}).get("accessor")
            if accessor:
                request["client_token_accessor"] = hash_value(entry, accessor)
        if self.body is not None:
            request["data"] = _hash_tree(entry, self.body)
        return request

    def _record(self, entry: dict[str, Any], kind: str, response: dict[str, Any] | None = None,
                error: str = "") -> dict[str, Any]:
        record: dict[str, Any] = {"time": _rfc3339(time.time()), "type": kind}
        auth = _auth_view(entry, self.token, self.token_entry)
        if auth is not None:
            record["auth"] = auth
        record["request"] = self._request(entry)
        if response is not None:
            record["response"] = response
        if error:
            record["error"] = error
        return record

    def _log_all(self, build: Any) -> None:
        """Write to every device; fail only when none succeeded."""
        table = devices(self.node)
        if not table:
            return
        ok, failures = False, []
        for path, entry in sorted(table.items()):
            try:
                write_line(self.node, entry, build(entry))
                ok = True
            except OSError as exc:
                failures.append(f"{path}: {exc}")
        for failure in failures:
            log.error("audit device failed to log %s %s: %s", self.method, self.path, failure)
        if not ok:
            raise AuditFailure("; ".join(failures))

    def log_request(self) -> None:
        self._log_all(lambda entry: self._record(entry, "request"))

    def log_response(self, status: int, body: Any) -> None:
        def build(entry: dict[str, Any]) -> dict[str, Any]:
            response: dict[str, Any] = {}
            error = ""
            if isinstance(body, dict):
                if body.get("errors") is not None and status >= 400:
                    error = "; ".join(str(e) for e in body.get("errors") or [])
                if body.get("data") is not None:
                    response["data"] = _hash_tree(entry, body["data"])
                if body.get("auth"):
                    auth = dict(body["auth"])
                    for name in ("client_token", "accessor"):
                        if auth.get(name):
                            auth[name] = hash_value(entry, auth[name])
                    response["auth"] = auth
                if body.get("wrap_info"):
                    wrap = dict(body["wrap_info"])
                    for name in ("token", "accessor"):
                        if wrap.get(name):
                            wrap[name] = hash_value(entry, wrap[name])
                    response["wrap_info"] = wrap
                if body.get("warnings"):
                    response["warnings"] = body["warnings"]
            return self._record(entry, "response", response, error)

        self._log_all(build)
