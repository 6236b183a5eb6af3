"""``sys/mounts`` and the KV secrets engine (version 1 and 2).

Mount tables and KV data are storage entries: ``replicated`` scope for shared mounts,
``local`` scope for mounts enabled with ``local: true`` (Vault §7.1), so replication ships
exactly what Vault would.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from .. import messages
from ..model.values import random_id, rfc3339
from ..node import Node
from .common import (
    VaultError,
    bad_request,
    duration_param,
    envelope,
    int_param,
    no_content,
    operation,
    parse_bool,
    raw,
    read_body,
    vault_path,
)

MOUNTS_KEY = "core/mounts"
LOCAL_MOUNTS_KEY = "core/local-mounts"
LOGICAL = "logical/"
RESERVED = ("sys/", "auth/", "cubbyhole/", "identity/", "audit/")

BUILTIN = {
    "cubbyhole/": {"type": "cubbyhole", "description": "per-token private secret storage", "local": True},
    "identity/": {"type": "identity", "description": "identity store", "local": False},
    "sys/": {"type": "system", "description": "system endpoints used for control, policy and debugging",
             "local": False},
}


def _unsupported() -> VaultError:
    return VaultError(405, [messages.UNSUPPORTED_OPERATION])


def _entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "accessor": entry["accessor"],
        "config": entry.get("config") or {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": False},
        "description": entry.get("description", ""),
        "external_entropy_access": False,
        "local": entry.get("local", False),
        "options": entry.get("options"),
        "plugin_version": "",
        "running_plugin_version": f"v{entry['type']}" if entry["type"] != "kv" else "v0.21.0+builtin",
        "running_sha256": "",
        "seal_wrap": False,
        "type": entry["type"],
        "uuid": entry["uuid"],
    }


def _builtin(path: str) -> dict[str, Any]:
    spec = BUILTIN[path]
    return {**spec, "accessor": f"{spec['type']}_00000000", "uuid": f"00000000-0000-0000-0000-{abs(hash(path)) % 10**12:012d}",
            "options": None}


def all_mounts(node: Node) -> dict[str, dict[str, Any]]:
    mounts = dict(node.storage.get(MOUNTS_KEY) or {})
    mounts.update(node.storage.get(LOCAL_MOUNTS_KEY) or {})
    return mounts


def find_mount(node: Node, path: str) -> tuple[str, dict[str, Any]] | None:
    """Longest mount prefix of ``path``."""
    best: tuple[str, dict[str, Any]] | None = None
    for mount_path, entry in all_mounts(node).items():
        if (path + "/").startswith(mount_path) and (best is None or len(mount_path) > len(best[0])):
            best = (mount_path, entry)
    return best


def _normalise_mount_path(path: str) -> str:
    path = path.strip("/")
    if not path:
        raise bad_request("missing mount path; use sys/mounts/<path>")
    return path + "/"


async def mounts(request: web.Request) -> web.Response:
    node: Node = request.app["node"]
    sub = request.match_info.get("path", "")
    op = operation(request)
    if not sub.strip("/"):
        if op != "read":
            raise _unsupported()
        table = {p: _entry_view(_builtin(p)) for p in BUILTIN}
        table.update({p: _entry_view(e) for p, e in all_mounts(node).items()})
        body = envelope(table)
        # Vault answers sys/mounts with the table both in data and at the top level.
        import json

        payload = json.loads(body.text or "{}")
        payload.update(table)
        return raw(payload)
    if sub.rstrip("/").endswith("/tune"):
        return await _tune(request, node, _normalise_mount_path(sub.rstrip("/")[: -len("/tune")]), op)
    path = _normalise_mount_path(sub)
    if op == "read":
        found = all_mounts(node).get(path)
        if found is None:
            if path in BUILTIN:
                return envelope(_entry_view(_builtin(path)))
            raise bad_request(f"no matching mount at '{path}'")
        return envelope(_entry_view(found))
    if op == "update":
        body = await read_body(request)
        return _enable(node, path, body)
    if op == "delete":
        return _disable(node, path)
    raise _unsupported()


def _enable(node: Node, path: str, body: dict[str, Any]) -> web.Response:
    mount_type = body.get("type")
    if not mount_type or not isinstance(mount_type, str):
        raise bad_request("missing 'type': give the secrets engine type, e.g. kv")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise bad_request("invalid 'options': expected a map of strings")
    options = {str(k): str(v) for k, v in options.items()}
    if mount_type == "kv-v2":
        mount_type = "kv"
        options["version"] = "2"
    if mount_type in ("kv", "generic"):
        mount_type = "kv"
        version = options.get("version", "1")
        if version not in ("1", "2"):
            raise bad_request(f"invalid kv version {version!r}: use options.version 1 or 2")
        options["version"] = version
    else:
        raise bad_request(messages.MOUNT_UNKNOWN_TYPE.format(type=mount_type))
    if any(path.startswith(r) for r in RESERVED):
        raise bad_request(messages.MOUNT_RESERVED.format(path=path))
    local = parse_bool(body.get("local", False), "local")
    existing = all_mounts(node)
    for other in existing:
        if path.startswith(other) or other.startswith(path):
            raise bad_request(messages.MOUNT_EXISTS.format(path=other))
    config = body.get("config") or {}
    if not isinstance(config, dict):
        raise bad_request("invalid 'config': expected a map")
    entry = {
        "type": mount_type,
        "description": str(body.get("description") or ""),
        "accessor": f"{mount_type}_{uuid.uuid4().hex[:8]}",
        "uuid": str(uuid.uuid4()),
        "local": local,
        "options": options,
        "config": {
            "default_lease_ttl": duration_param(config.get("default_lease_ttl"), "config.default_lease_ttl"),
            "max_lease_ttl": duration_param(config.get("max_lease_ttl"), "config.max_lease_ttl"),
            "force_no_cache": False,
        },
    }
    key, scope = (LOCAL_MOUNTS_KEY, "local") if local else (MOUNTS_KEY, "replicated")
    with node.storage.transaction():
        table = dict(node.storage.get(key) or {})
        table[path] = entry
        node.storage.put(key, table, scope=scope)
    return no_content()


def _disable(node: Node, path: str) -> web.Response:
    with node.storage.transaction():
        for key, scope in ((MOUNTS_KEY, "replicated"), (LOCAL_MOUNTS_KEY, "local")):
            table = dict(node.storage.get(key) or {})
            entry = table.pop(path, None)
            if entry is None:
                continue
            node.storage.put(key, table, scope=scope)
            for data_key in node.storage.list(f"{LOGICAL}{entry['uuid']}/"):
                node.storage.delete(data_key, scope=scope)
    return no_content()


async def _tune(request: web.Request, node: Node, path: str, op: str) -> web.Response:
    found = all_mounts(node).get(path)
    if found is None:
        raise bad_request(f"no mount entry found at '{path}'")
    if op == "read":
        cfg = found.get("config") or {}
        return envelope({"default_lease_ttl": cfg.get("default_lease_ttl", 0) or 2764800,
                         "max_lease_ttl": cfg.get("max_lease_ttl", 0) or 2764800,
                         "force_no_cache": False, "options": found.get("options"),
                         "description": found.get("description", "")})
    if op != "update":
        raise _unsupported()
    body = await read_body(request)
    key, scope = (LOCAL_MOUNTS_KEY, "local") if found.get("local") else (MOUNTS_KEY, "replicated")
    with node.storage.transaction():
        table = dict(node.storage.get(key) or {})
        entry = table[path]
        for name in ("default_lease_ttl", "max_lease_ttl"):
            if name in body:
                entry["config"][name] = duration_param(body[name], name)
        if "description" in body:
            entry["description"] = str(body["description"] or "")
        if isinstance(body.get("options"), dict):
            new = {str(k): str(v) for k, v in body["options"].items()}
            if new.get("version") == "2":
                entry["options"]["version"] = "2"
        node.storage.put(key, table, scope=scope)
    return no_content()


# -- KV ------------------------------------------------------------------------------------


def exists(node: Node, path: str) -> bool:
    """Existence check used to tell Vault's create from update capability."""
    found = find_mount(node, path)
    if found is None:
        return True
    mount_path, entry = found
    rest = path[len(mount_path):]
    prefix = f"{LOGICAL}{entry['uuid']}/"
    if entry["options"].get("version") == "2":
        for sub in ("data/", "metadata/"):
            if rest.startswith(sub):
                return node.storage.get(prefix + "meta/" + rest[len(sub):]) is not None
        return True
    return node.storage.get(prefix + "data/" + rest) is not None


async def logical(request: web.Request) -> web.Response:
    """Every path not handled elsewhere: resolve the mount or answer 404 like Vault."""
    node: Node = request.app["node"]
    path = vault_path(request)
    found = find_mount(node, path)
    if found is None:
        raise VaultError(404, [messages.NO_MOUNT.format(path=path)])
    mount_path, entry = found
    rest = path[len(mount_path):]
    scope = "local" if entry.get("local") else "replicated"
    prefix = f"{LOGICAL}{entry['uuid']}/"
    if entry["options"].get("version") == "2":
        return await _kv2(request, node, prefix, scope, rest, mount_path)
    return await _kv1(request, node, prefix + "data/", scope, rest)


def _list_response(node: Node, prefix: str) -> web.Response:
    keys = node.storage.children(prefix)
    if not keys:
        raise VaultError(404, [])
    return envelope({"keys": keys})


async def _kv1(request: web.Request, node: Node, prefix: str, scope: str, rest: str) -> web.Response:
    op = operation(request)
    if op == "list":
        folder = rest if rest == "" or rest.endswith("/") else rest + "/"
        return _list_response(node, prefix + folder)
    if not rest or rest.endswith("/"):
        raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
    if op == "read":
        value = node.storage.get(prefix + rest)
        if value is None:
            raise VaultError(404, [])
        return envelope(value, lease_duration=2764800)
    if op == "update":
        body = await read_body(request)
        if not body:
            raise bad_request(messages.KV_NO_DATA)
        node.storage.put(prefix + rest, body, scope=scope)
        return no_content()
    if op == "delete":
        node.storage.delete(prefix + rest, scope=scope)
        return no_content()
    raise _unsupported()


def _version_meta(version: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_time": version["created_time"],
        "custom_metadata": None,
        "deletion_time": version.get("deletion_time", ""),
        "destroyed": version.get("destroyed", False),
    }


def _now() -> str:
    return rfc3339(time.time())


async def _kv2(request: web.Request, node: Node, prefix: str, scope: str, rest: str,
               mount_path: str) -> web.Response:
    op = operation(request)
    section, _, key = rest.partition("/")
    meta_key = prefix + "meta/" + key
    if section == "config":
        config = node.storage.get(prefix + "config") or {"max_versions": 0, "cas_required": False,
                                                         "delete_version_after": "0s"}
        if op == "read":
            return envelope(config)
        if op == "update":
            body = await read_body(request)
            if "max_versions" in body:
                config["max_versions"] = int_param(body["max_versions"], "max_versions")
            if "cas_required" in body:
                config["cas_required"] = parse_bool(body["cas_required"], "cas_required")
            node.storage.put(prefix + "config", config, scope=scope)
            return no_content()
        raise _unsupported()
    if section not in ("data", "metadata", "delete", "undelete", "destroy"):
        raise VaultError(404, [messages.NO_MOUNT.format(path=mount_path + rest)])
    if section == "metadata" and op == "list":
        folder = key if key == "" or key.endswith("/") else key + "/"
        return _list_response(node, prefix + "meta/" + folder)
    if not key or key.endswith("/"):
        raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
    record = node.storage.get(meta_key)
    config = node.storage.get(prefix + "config") or {}

    if section == "data":
        if op == "read":
            if record is None:
                raise VaultError(404, [])
            wanted = int_param(request.query.get("version"), "version", 0) or record["current_version"]
            version = record["versions"].get(str(wanted))
            if version is None:
                raise VaultError(404, [])
            meta = {**_version_meta(version), "version": wanted}
            if version.get("deletion_time") or version.get("destroyed"):
                return envelope({"data": None, "metadata": meta}, status=404)
            return envelope({"data": version["data"], "metadata": meta})
        if op == "update":
            body = await read_body(request)
            data = body.get("data")
            if not isinstance(data, dict):
                raise bad_request(messages.KV_NO_DATA)
            options = body.get("options") or {}
            current = record["current_version"] if record else 0
            cas_required = config.get("cas_required") or (record or {}).get("cas_required")
            if "cas" in options:
                if int_param(options["cas"], "options.cas") != current:
                    raise bad_request(messages.KV_CAS_MISMATCH)
            elif cas_required:
                raise bad_request(messages.KV_CAS_REQUIRED)
            now = _now()
            record = record or {"versions": {}, "current_version": 0, "oldest_version": 0,
                                "created_time": now, "max_versions": 0, "cas_required": False,
                                "delete_version_after": "0s", "custom_metadata": None}
            new_version = current + 1
            record["versions"][str(new_version)] = {"data": data, "created_time": now,
                                                    "deletion_time": "", "destroyed": False}
            record["current_version"] = new_version
            record["updated_time"] = now
            limit = record.get("max_versions") or config.get("max_versions") or 10
            numbers = sorted(int(v) for v in record["versions"])
            for old in numbers[: max(0, len(numbers) - limit)]:
                del record["versions"][str(old)]
            record["oldest_version"] = min(int(v) for v in record["versions"])
            node.storage.put(meta_key, record, scope=scope)
            return envelope({**_version_meta(record["versions"][str(new_version)]), "version": new_version})
        if op == "delete":
            if record is not None:
                version = record["versions"].get(str(record["current_version"]))
                if version and not version.get("deletion_time"):
                    version["deletion_time"] = _now()
                    node.storage.put(meta_key, record, scope=scope)
            return no_content()
        raise _unsupported()

    if section == "metadata":
        if op == "read":
            if record is None:
                raise VaultError(404, [])
            return envelope({
                "cas_required": record.get("cas_required", False),
                "created_time": record["created_time"],
                "current_version": record["current_version"],
                "custom_metadata": record.get("custom_metadata"),
                "delete_version_after": record.get("delete_version_after", "0s"),
                "max_versions": record.get("max_versions", 0),
                "oldest_version": record.get("oldest_version", 0),
                "updated_time": record.get("updated_time", record["created_time"]),
                "versions": {n: _version_meta(v) for n, v in record["versions"].items()},
            })
        if op == "update":
            body = await read_body(request)
            now = _now()
            record = record or {"versions": {}, "current_version": 0, "oldest_version": 0,
                                "created_time": now, "updated_time": now}
            if "max_versions" in body:
                record["max_versions"] = int_param(body["max_versions"], "max_versions")
            if "cas_required" in body:
                record["cas_required"] = parse_bool(body["cas_required"], "cas_required")
            if "custom_metadata" in body:
                record["custom_metadata"] = body["custom_metadata"]
            node.storage.put(meta_key, record, scope=scope)
            return no_content()
        if op == "delete":
            node.storage.delete(meta_key, scope=scope)
            return no_content()
        raise _unsupported()

    # delete / undelete / destroy specific versions
    if op != "update":
        raise _unsupported()
    body = await read_body(request)
    versions = body.get("versions")
    if not isinstance(versions, list) or not versions:
        raise bad_request("no versions provided")
    if record is None:
        return no_content()
    for number in versions:
        version = record["versions"].get(str(int_param(number, "versions")))
        if version is None:
            continue
        if section == "delete" and not version.get("deletion_time"):
            version["deletion_time"] = _now()
        elif section == "undelete" and not version.get("destroyed"):
            version["deletion_time"] = ""
        elif section == "destroy":
            version["destroyed"] = True
            version["data"] = None
    node.storage.put(meta_key, record, scope=scope)
    return no_content()


def random_accessor() -> str:
    return random_id(8)
