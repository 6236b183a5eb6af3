"""Writes on a performance secondary go to its primary (reference §7.1).

A performance secondary holds a read-only copy of the primary's ``replicated`` storage.
Vault answers a client write there by forwarding it to the primary and, before answering,
waiting (at most about two seconds) until the write has come back through the WAL stream,
so that the client can read its own write on the secondary.

vaultlab does it at the storage layer:

1. the secondary authenticates the token and checks the ACL itself (tokens are local to each
   performance cluster), exactly as for any request;
2. the handler runs against a *capture*: writes to the ``local`` scope (tokens, local mounts)
   go to storage as usual, writes to the ``replicated`` scope are recorded instead, and reads
   see the recorded writes;
3. the recorded operations travel to the primary's active node over the cluster port (the
   authenticated channel the WAL stream uses); the primary applies them in one transaction,
   after checking that every key it changes which the handler had read first still holds
   what the secondary saw (otherwise the secondary catches up and runs the handler again), and answers its WAL index;
4. the secondary answers the client once its ``last_remote_wal`` reached that index, or after
   the stall bound (timing ``forward_stall``, 2 s by default) whichever comes first.

The shared mount table is one storage entry that a paths filter trims on the secondary, so it
travels as a per-mount difference rather than as a whole table.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .. import messages
from ..storage import Storage, encode_value

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("vaultlab.forwarding")

MOUNTS_KEY = "core/mounts"
LOGICAL = "logical/"
FORWARD_ROUTE = "/v1/replication/{rtype}/forward"
MAX_ATTEMPTS = 3
DEFAULT_STALL = 2.0
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")

_CAPTURE: contextvars.ContextVar[Capture | None] = contextvars.ContextVar("vaultlab_capture", default=None)


# -- capture (secondary side) -----------------------------------------------------------


class Capture:
    """Replicated-scope writes of one request, held back for the primary."""

    def __init__(self) -> None:
        self.open = True
        # key -> encoded value, or None for a delete; insertion order is the write order.
        self.ops: dict[str, str | None] = {}
        # key -> encoded value the handler saw (None: absent) the first time it read the key.
        self.seen: dict[str, str | None] = {}

    def wire_ops(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for key, encoded in self.ops.items():
            if key == MOUNTS_KEY:
                out.append(self._mounts_op(encoded))
                continue
            op: dict[str, Any] = {"op": "put" if encoded is not None else "delete", "key": key}
            if encoded is not None:
                op["value"] = json.loads(encoded)
            if key in self.seen:
                op["base"] = self.seen[key]
            out.append(op)
        return out

    def _mounts_op(self, encoded: str | None) -> dict[str, Any]:
        before = json.loads(self.seen.get(MOUNTS_KEY) or "{}") or {}
        after = json.loads(encoded) if encoded else {}
        changed = {p: e for p, e in after.items() if before.get(p) != e}
        removed = [p for p in before if p not in after]
        return {"op": "mounts", "key": MOUNTS_KEY, "set": changed, "unset": removed,
                "base": {p: before.get(p) for p in list(changed) + removed}}


def _current() -> Capture | None:
    cap = _CAPTURE.get()
    return cap if cap is not None and cap.open else None


class CapturingStorage(Storage):
    """Cluster storage that diverts replicated-scope writes while a capture is active.

    Outside a capture (every background task, the replication stream, the primary's side of a
    forward) it is the plain :class:`~vaultlab.storage.Storage`.
    """

    def _remember(self, cap: Capture, key: str) -> None:
        if key not in cap.seen and key not in cap.ops:
            value = super().get(key)
            cap.seen[key] = None if value is None else encode_value(value)

    def get(self, key: str) -> Any:
        cap = _current()
        if cap is None:
            return super().get(key)
        if key in cap.ops:
            encoded = cap.ops[key]
            return None if encoded is None else json.loads(encoded)
        self._remember(cap, key)
        encoded = cap.seen[key]
        return None if encoded is None else json.loads(encoded)

    def list(self, prefix: str = "") -> list[str]:
        keys = super().list(prefix)
        cap = _current()
        if cap is None:
            return keys
        present = set(keys)
        for key, encoded in cap.ops.items():
            if key.startswith(prefix):
                if encoded is None:
                    present.discard(key)
                else:
                    present.add(key)
        return sorted(present)

    def put(self, key: str, value: Any, scope: str = "replicated") -> int | None:
        cap = _current()
        if cap is None or scope != "replicated":
            return super().put(key, value, scope)
        if key == MOUNTS_KEY:
            self._remember(cap, key)  # the table travels as a difference against this
        cap.ops[key] = encode_value(value)
        return None

    def delete(self, key: str, scope: str = "replicated") -> bool:
        cap = _current()
        if cap is None:
            return super().delete(key, scope)
        if key in cap.ops:
            existed = cap.ops[key] is not None
        else:
            actual = self.scope_of(key)
            if actual is None:
                return False
            if actual != "replicated":
                return super().delete(key, scope)
            existed = True
        if key == MOUNTS_KEY:
            self._remember(cap, key)
        cap.ops[key] = None
        return existed


# -- secondary side of a request ----------------------------------------------------------


def applies(node: Any, method: str, path: str) -> bool:
    """Whether this request runs under a capture: a write on a performance secondary's active
    node, outside ``sys/replication/*`` (replication state is local to each cluster) and
    ``sys/storage/*`` (a snapshot restore installs data on this cluster only)."""
    if method.upper() not in WRITE_METHODS or path.startswith(("sys/replication/", "sys/storage/")):
        return False
    repl = getattr(node, "replication", None)
    if repl is None or not node.active:
        return False
    try:
        from ..replication.models import BOOTSTRAPPING, SECONDARY, mode_of

        return mode_of(repl.effective("performance")) in (SECONDARY, BOOTSTRAPPING)
    except Exception:  # storage busy: serve the request as before rather than fail it
        log.exception("cannot read the performance replication state")
        return False


class ForwardError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


async def run(node: Any, request: web.Request,
              handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Run ``handler`` under a capture and send what it wrote to the primary."""
    from .common import VaultError

    repl = node.replication
    for _attempt in range(MAX_ATTEMPTS):
        cap = Capture()
        reset = _CAPTURE.set(cap)
        try:
            response = await handler(request)
        finally:
            cap.open = False
            _CAPTURE.reset(reset)
        if not cap.ops or response.status >= 400:
            return response
        try:
            answer = await _send(repl, cap.wire_ops())
        except ForwardError as exc:
            log.info("forwarding %s %s to the primary failed: %s", request.method, request.path, exc.reason)
            raise VaultError(_error_status(repl), [messages.FORWARD_FAILED.format(reason=exc.reason)]) from None
        result = answer.get("result")
        if result == "error":
            raise VaultError(int(answer.get("status") or 400), list(answer.get("errors") or []))
        if result == "conflict":
            # The primary changed what this handler read: catch up, then run it again.
            await _wait_for_wal(repl, int(answer.get("index") or 0), max(_stall(node), 5.0))
            continue
        await _read_after_write(node, repl, int(answer.get("index") or 0))
        return response
    raise VaultError(_error_status(repl), [messages.FORWARD_FAILED.format(reason=messages.FORWARD_CONFLICT)])


def _stall(node: Any) -> float:
    return node.timing("forward_stall", DEFAULT_STALL)


def _error_status(repl: Any) -> int:
    value = repl.setting("forward_error_status", 500)
    try:
        status = int(value)
    except (TypeError, ValueError):
        status = 500
    return status if 500 <= status <= 599 else 500


async def _wait_for_wal(repl: Any, index: int, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while True:
        if repl.progress("performance").get("last_remote_wal", 0) >= index:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)


async def _read_after_write(node: Any, repl: Any, index: int) -> None:
    """Best-effort read-after-write: only a connected stream can bring the write back."""
    from ..replication.models import CONN_READY, ST_STREAM

    prog = repl.progress("performance")
    if prog.get("connection_state") != CONN_READY or prog.get("stream_state") != ST_STREAM:
        return
    if not await _wait_for_wal(repl, index, _stall(node)):
        log.info("forwarded write (WAL %s) not streamed back within %.1fs; answering anyway",
                 index, _stall(node))


async def _send(repl: Any, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """POST the operations to the primary's active node; follow leader redirects."""
    from ..replication import stream

    state = repl.effective("performance")
    if not state.get("primary"):
        raise ForwardError(messages.FORWARD_NO_PRIMARY)
    state = dict(state, _type="performance")
    preferred = repl.progress("performance").get("connected_addr")
    queue = stream._candidates(repl, state, preferred)
    body = stream._hello(repl, "performance", state)
    body["ops"] = ops
    reason = messages.FORWARD_NO_PRIMARY
    tried: list[str] = []
    while queue:
        addr = queue.pop(0)
        if addr in tried:
            continue
        tried.append(addr)
        try:
            return await stream._post(repl, "performance", state, addr, "forward", body, repl.request_timeout())
        except stream.Redirect as redirect:
            if redirect.addr:
                queue.insert(0, redirect.addr)
            reason = str(redirect)
        except stream.StreamError as exc:
            reason = f"{addr}: {exc}"
    raise ForwardError(reason)


# -- primary side ---------------------------------------------------------------------------


def install(node: Any, cluster_app: web.Application) -> None:
    """Serve forwarded writes on the cluster port (only a primary accepts them)."""

    async def route(request: web.Request) -> web.StreamResponse:
        return await _receive(node, request)

    cluster_app.router.add_post(FORWARD_ROUTE, route)


def _answer(**body: Any) -> web.Response:
    from aiohttp import web

    return web.json_response(body)


async def _receive(node: Any, request: web.Request) -> web.StreamResponse:
    from aiohttp import web

    from ..replication import stream

    repl = getattr(node, "replication", None)
    if repl is None:
        return web.json_response({"errors": [messages.UNSUPPORTED_PATH]}, status=404)
    ok, error = await stream._authorise(repl, request)
    if error is not None:
        return error
    t, body, _state, sid = ok
    if t != "performance":
        return web.json_response({"errors": [messages.UNSUPPORTED_PATH]}, status=404)
    ops = body.get("ops")
    if not isinstance(ops, list) or not all(isinstance(o, dict) and isinstance(o.get("key"), str) for o in ops):
        return web.json_response({"errors": ["invalid 'ops'"]}, status=400)
    storage = node.storage
    with storage.transaction():
        verdict = _check(storage, ops)
        if verdict is not None:
            return verdict
        for op in ops:
            _apply(storage, op)
        index = storage.last_wal()
    log.info("applied %d forwarded write(s) from performance secondary %s (WAL %s)", len(ops), sid, index)
    return _answer(result="ok", index=index)


def _encoded(value: Any) -> str | None:
    return None if value is None else encode_value(value)


def _check(storage: Storage, ops: list[dict[str, Any]]) -> web.Response | None:
    index = storage.last_wal()
    for op in ops:
        kind = op.get("op")
        if kind not in ("put", "delete", "mounts"):
            return _answer(result="error", status=400, errors=[f"invalid forwarded operation {kind!r}"])
        if kind == "mounts":
            table = storage.get(MOUNTS_KEY) or {}
            base = op.get("base") or {}
            for path in list(op.get("set") or {}) + list(op.get("unset") or []):
                if base.get(path) is None and path in table:
                    # Another mount reached the primary first (or sits in a filtered-out part).
                    return _answer(result="error", status=400, errors=[messages.MOUNT_EXISTS.format(path=path)])
                if base.get(path) is None:
                    for other in table:
                        if path.startswith(other) or other.startswith(path):
                            return _answer(result="error", status=400,
                                           errors=[messages.MOUNT_EXISTS.format(path=other)])
                elif _encoded(table.get(path)) != _encoded(base.get(path)):
                    return _answer(result="conflict", index=index)
        elif storage.scope_of(op["key"]) not in (None, "replicated"):
            return _answer(result="error", status=400,
                           errors=[f"forwarded write to {op['key']!r} outside the replicated scope"])
        elif "base" in op and _encoded(storage.get(op["key"])) != op["base"]:
            return _answer(result="conflict", index=index)
    return None


def _apply(storage: Storage, op: dict[str, Any]) -> None:
    kind, key = op["op"], op["key"]
    if kind == "put":
        storage.put(key, op.get("value"), scope="replicated")
    elif kind == "delete":
        storage.delete(key, scope="replicated")
    else:
        table = dict(storage.get(MOUNTS_KEY) or {})
        for path, entry in (op.get("set") or {}).items():
            table[path] = entry
        for path in op.get("unset") or []:
            entry = table.pop(path, None)
            if isinstance(entry, dict) and entry.get("uuid"):
                # Data the secondary never received goes with its mount.
                for data_key in storage.list(f"{LOGICAL}{entry['uuid']}/"):
                    storage.delete(data_key, scope="replicated")
        storage.put(MOUNTS_KEY, table, scope="replicated")
