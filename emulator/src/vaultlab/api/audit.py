"""``sys/audit`` (list, enable, disable audit devices) and ``sys/audit-hash/:path``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .. import audit as audit_lib
from .. import messages
from ..node import Node
from .common import VaultError, bad_request, envelope, no_content, operation, parse_bool, raw, read_body


def _view(path: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {"type": entry["type"], "description": entry.get("description", ""),
            "options": dict(entry.get("options") or {}), "local": bool(entry.get("local")), "path": path}


def _path(sub: str) -> str:
    path = sub.strip("/")
    if not path:
        raise bad_request("missing audit device path; use sys/audit/<path>")
    return path + "/"


async def audit(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    sub = request.match_info.get("path", "")
    op = operation(request)
    if not sub.strip("/"):
        if op != "read":
            raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
        table = {p: _view(p, e) for p, e in sorted(audit_lib.devices(node).items())}
        payload = json.loads(envelope(table).text or "{}")
        payload.update(table)  # Vault repeats the table at the top level, as for sys/mounts
        return raw(payload)
    path = _path(sub)
    if op == "update":
        return _enable(node, path, await read_body(request))
    if op == "delete":
        return _disable(node, path)
    raise VaultError(405, [messages.UNSUPPORTED_OPERATION])


def _enable(node: Node, path: str, body: dict[str, Any]) -> web.Response:
    device_type = body.get("type") or ""
    if not isinstance(device_type, str) or device_type not in audit_lib.TYPES:
        raise bad_request(messages.AUDIT_UNKNOWN_TYPE.format(type=device_type))
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise bad_request("invalid 'options': expected a map of strings")
    options = {str(k): str(v) for k, v in options.items()}
    if device_type == "file":
        # Older Vault also took "path" for the file device.
        if not options.get("file_path") and options.get("path"):
            options["file_path"] = options.pop("path")
        if not options.get("file_path"):
            raise bad_request(messages.AUDIT_FILE_PATH_REQUIRED)
        try:
            int(options.get("mode", "0600"), 8)
        except ValueError:
            raise bad_request(f"invalid 'mode' option {options['mode']!r}: use an octal file mode such as 0600") from None
    local = parse_bool(body.get("local", False), "local")
    existing = audit_lib.devices(node)
    for other in existing:
        if path.startswith(other) or other.startswith(path):
            raise bad_request(messages.AUDIT_PATH_IN_USE)
    entry = {"type": device_type, "description": str(body.get("description") or ""), "options": options,
             "local": local, "salt": audit_lib.new_salt()}
    if options.get("skip_test") != "true":
        probe = {"time": audit_lib._rfc3339(__import__("time").time()), "type": "request",
                 "request": {"id": "", "operation": "update", "path": "sys/audit/test", "namespace": {"id": "root"}}}
        try:
            audit_lib.write_line(node, entry, probe)
        except OSError as exc:
            raise bad_request(messages.AUDIT_TEST_FAILED.format(
                reason=audit_lib.os_reason(options.get("file_path", ""), exc))) from None
    key, scope = (audit_lib.LOCAL_AUDIT_KEY, "local") if local else (audit_lib.AUDIT_KEY, "replicated")
    with node.storage.transaction():
        table = dict(node.storage.get(key) or {})
        table[path] = entry
        node.storage.put(key, table, scope=scope)
    return no_content()


def _disable(node: Node, path: str) -> web.Response:
    with node.storage.transaction():
        for key, scope in ((audit_lib.AUDIT_KEY, "replicated"), (audit_lib.LOCAL_AUDIT_KEY, "local")):
            table = dict(node.storage.get(key) or {})
            if table.pop(path, None) is not None:
                node.storage.put(key, table, scope=scope)
    return no_content()


async def audit_hash(request: web.Request) -> web.Response:
    """``sys/audit-hash/:path`` ``{"input"}`` → ``data.hash``, the value as that device logs it."""
    node: Node = request.app["node"]
    if request.method not in ("PUT", "POST"):
        raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
    path = _path(request.match_info.get("path", ""))
    entry = audit_lib.devices(node).get(path)
    if entry is None:
        raise bad_request(messages.AUDIT_NO_DEVICE.format(path=path))
    body = await read_body(request)
    value = body.get("input")
    if not isinstance(value, str):
        raise bad_request("missing 'input': the string to hash")
    return envelope({"hash": audit_lib.hash_value(entry, value)})
