"""``sys/storage/raft/snapshot`` (save / restore) and ``snapshot-force``.

The archive is a gzip'd tar, laid out like Vault's (``meta.json``, ``state.bin``,
``SHA256SUMS``, ``SHA256SUMS.sealed``):

* ``state.bin``: one JSON object per line, ``{"key", "value", "scope"}``, every storage entry
  of the ``replicated`` and ``local`` scopes (mounts and their data, policies, token roles,
  tokens, audit devices …). Node-scope state (seal config, HA lock, replication roles and
  stream progress) is not data and is not included.
* ``meta.json``: format, the source cluster's identity, its seal config (type, shares,
  threshold, root key hash, never a key), ``last_wal``, creation time, entry count.
* ``SHA256SUMS``: sha256 of the two files; ``SHA256SUMS.sealed``: an HMAC of it bound to the
  cluster's seal configuration, so a restore can tell whether the snapshot was taken under the same
  unseal keys (Vault seals the hash file with the barrier for the same reason).

Restore replaces the ``replicated`` and ``local`` entries with the archive's; the cluster keeps
its replication roles [?] (see COVERAGE.md). A snapshot taken under other unseal keys needs
``snapshot-force``; the cluster then adopts the snapshot's seal configuration and every node
seals, to be unsealed with the source cluster's keys (as Vault does after a forced restore).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import tarfile
import time
import uuid
from typing import Any

from aiohttp import web

from .. import messages
from ..node import Node
from .common import VaultError, bad_request, no_content

FORMAT = "vaultlab-snapshot/1"
SCOPES = ("replicated", "local")
# Replication bookkeeping that lives in the local scope describes the cluster's role, not its
# data: a restore keeps the cluster's current entries (see module docstring).
KEEP_PREFIXES = ("core/replication/",)
EPOCH_KEY = "core/replication/wal-epoch"
MAX_MEMBER = 256 * 1024 * 1024


def _seal_digest(node: Node, sums: bytes) -> str:
    """HMAC of SHA256SUMS bound to the cluster's current seal configuration (its root key's
    hash: a secondary that adopted its primary's keys no longer matches its own old snapshots)."""
    key = str((node.seal_config() or {}).get("root_key_hash", "")).encode()
    return hmac.new(hashlib.sha256(b"vaultlab-snapshot\0" + key).digest(), sums, hashlib.sha256).hexdigest()


def build(node: Node) -> bytes:
    """The archive of this cluster's storage, as ``GET sys/storage/raft/snapshot`` returns it."""
    with node.storage.transaction():
        items = node.storage.snapshot(SCOPES)
        last_wal = node.storage.last_wal()
    state = "".join(json.dumps(item, separators=(",", ":"), sort_keys=True) + "\n" for item in items).encode()
    seal = node.seal_config() or {}
    info = node.cluster_info() or {}
    meta = json.dumps({
        "format": FORMAT,
        "id": str(uuid.uuid4()),
        "cluster_id": info.get("cluster_id", ""),
        "cluster_name": info.get("cluster_name", ""),
        "vault_version": node.version,
        "created": time.time(),
        "last_wal": last_wal,
        "entries": len(items),
        "seal": {k: seal.get(k) for k in ("type", "secret_shares", "secret_threshold", "root_key_hash")},
    }, indent=2, sort_keys=True).encode()
    sums = "".join(f"{hashlib.sha256(body).hexdigest()}  {name}\n"
                   for name, body in (("meta.json", meta), ("state.bin", state))).encode()
    sealed = _seal_digest(node, sums).encode()
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, body in (("meta.json", meta), ("state.bin", state), ("SHA256SUMS", sums),
                           ("SHA256SUMS.sealed", sealed)):
            member = tarfile.TarInfo(name)
            member.size = len(body)
            member.mode = 0o600
            member.mtime = int(time.time())
            tar.addfile(member, io.BytesIO(body))
    return out.getvalue()


class SnapshotError(ValueError):
    """The archive is not a readable vaultlab snapshot."""


def parse(data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]], bytes, str]:
    """(meta, items, SHA256SUMS, sealed digest) of an archive; raises SnapshotError."""
    if not data:
        raise SnapshotError("empty snapshot")
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SnapshotError(f"gzip: {exc}") from None
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                if not member.isfile() or member.size > MAX_MEMBER:
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    members[member.name] = handle.read()
    except tarfile.TarError as exc:
        raise SnapshotError(f"tar: {exc}") from None
    missing = [n for n in ("meta.json", "state.bin", "SHA256SUMS", "SHA256SUMS.sealed") if n not in members]
    if missing:
        raise SnapshotError(f"archive lacks {', '.join(missing)}: not a snapshot of this storage")
    sums = members["SHA256SUMS"]
    expected = {}
    for line in sums.decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        expected[name.strip()] = digest.strip()
    for name in ("meta.json", "state.bin"):
        if expected.get(name) != hashlib.sha256(members[name]).hexdigest():
            raise SnapshotError(f"sha256 hash mismatch for {name}")
    try:
        meta = json.loads(members["meta.json"])
        items = [json.loads(line) for line in members["state.bin"].splitlines() if line.strip()]
    except ValueError as exc:
        raise SnapshotError(f"invalid content: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SnapshotError(f"unknown snapshot format {meta.get('format') if isinstance(meta, dict) else None!r}")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or item.get("scope") not in SCOPES:
            raise SnapshotError("invalid entry in state.bin")
    return meta, items, sums, members["SHA256SUMS.sealed"].decode(errors="replace").strip()


def restore(node: Node, data: bytes, force: bool) -> bool:
    """Install an archive; return whether the cluster must seal (forced, other keys)."""
    try:
        meta, items, sums, sealed = parse(data)
    except SnapshotError as exc:
        # Vault answers a snapshot it cannot read with its internal error (500).
        raise VaultError(500, [messages.SNAPSHOT_UNREADABLE.format(reason=exc)]) from None
    same_keys = hmac.compare_digest(sealed, _seal_digest(node, sums))
    if not same_keys and not force:
        raise bad_request(messages.SNAPSHOT_KEYS_MISMATCH)
    theirs = meta.get("seal") or {}
    storage = node.storage
    with storage.transaction():
        kept = [item for item in storage.snapshot(SCOPES) if item["key"].startswith(KEEP_PREFIXES)]
        restored = [item for item in items if not item["key"].startswith(KEEP_PREFIXES)]
        storage.restore(restored + kept, SCOPES)
        # Downstream secondaries (and this cluster's own stream) must not trust WAL positions
        # from before the restore: a new lineage makes them re-run merkle-diff / merkle-sync.
        storage.put(EPOCH_KEY, str(uuid.uuid4()), scope="node")
        must_seal = not same_keys and bool(theirs.get("root_key_hash")) and \
            theirs["root_key_hash"] != (node.seal_config() or {}).get("root_key_hash")
        if must_seal:
            node.replace_seal_config({k: v for k, v in theirs.items() if v is not None})
    node.tokens.forget_parsed_policies()
    repl = node.replication
    if repl is not None:
        for t in ("dr", "performance"):
            if repl.modes().get(t) == "secondary":
                repl.save_progress(t, remote_epoch=None)
        repl.kick_all()
    return must_seal


async def snapshot(request: web.Request) -> web.Response:
    """``GET`` saves (``application/octet-stream``), ``POST``/``PUT`` restores."""
    return await _handle(request, force=False)


async def snapshot_force(request: web.Request) -> web.Response:
    """``POST``/``PUT sys/storage/raft/snapshot-force``: restore without the key check."""
    return await _handle(request, force=True)


async def _handle(request: web.Request, force: bool) -> web.Response:
    node: Node = request.app["node"]
    if request.method in ("GET", "HEAD") and not force:
        body = build(node)
        return web.Response(status=200, body=b"" if request.method == "HEAD" else body,
                            content_type="application/octet-stream")
    if request.method not in ("POST", "PUT"):
        raise VaultError(405, [messages.UNSUPPORTED_OPERATION])
    data = await request.read()
    if not data:
        raise bad_request(messages.SNAPSHOT_NO_BODY)
    if restore(node, data, force):
        # The installed state is protected by the source cluster's keys: this node seals
        # after answering, the others when they notice the new seal configuration.
        node.seal()
    return no_content()
