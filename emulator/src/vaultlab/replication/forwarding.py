"""Writes on a performance secondary go to its primary (reference §7.1).

A performance secondary holds a read-only copy of the primary's ``replicated`` storage.
Vault answers a client write there by forwarding it to the primary and, before answering,
waiting (at most about two seconds) until the write has come back through the WAL stream,
so that the client can read its own write on the secondary.

vaultlab does it at the storage layer (:mod:`vaultlab.model.capture`), with this module as the
transport between the two clusters:

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

The shared mount table travels as a per-mount difference rather than as a whole table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

from .. import messages
from ..model.capture import MOUNTS_KEY, capturing
from ..model.errors import VaultError
from ..node import Node
from ..storage import Storage, encode_value
from . import stream
from .core import Replication
from .models import BOOTSTRAPPING, CONN_READY, SECONDARY, ST_STREAM, mode_of

log = logging.getLogger("vaultlab.forwarding")

LOGICAL = "logical/"
FORWARD_ROUTE = "/v1/replication/{rtype}/forward"
MAX_ATTEMPTS = 3
DEFAULT_STALL = 2.0
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")

# -- secondary side of a request ----------------------------------------------------------


def applies(node: Node, method: str, path: str) -> bool:
    """Whether this request runs under a capture: a write on a performance secondary's active
    node, outside ``sys/replication/*`` (replication state is local to each cluster) and
    ``sys/storage/*`` (a snapshot restore installs data on this cluster only)."""
    if method.upper() not in WRITE_METHODS or path.startswith(("sys/replication/", "sys/storage/")):
        return False
    repl = node.replication
    if repl is None or not node.active:
        return False
    try:
        return mode_of(repl.effective("performance")) in (SECONDARY, BOOTSTRAPPING)
    except Exception:  # storage busy: serve the request as before rather than fail it
        log.exception("cannot read the performance replication state")
        return False


class ForwardError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


async def run(node: Node, request: web.Request,
              handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Run ``handler`` under a capture and send what it wrote to the primary."""
    repl = node.replication
    for _attempt in range(MAX_ATTEMPTS):
        with capturing() as cap:
            response = await handler(request)
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


def _stall(node: Node) -> float:
    return node.timing("forward_stall", DEFAULT_STALL)


def _error_status(repl: Replication) -> int:
    value = repl.setting("forward_error_status", 500)
    try:
        status = int(value)
    except (TypeError, ValueError):
        status = 500
    return status if 500 <= status <= 599 else 500


async def _wait_for_wal(repl: Replication, index: int, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while True:
        if repl.progress("performance").get("last_remote_wal", 0) >= index:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)


async def _read_after_write(node: Node, repl: Replication, index: int) -> None:
    """Best-effort read-after-write: only a connected stream can bring the write back."""
    prog = repl.progress("performance")
    if prog.get("connection_state") != CONN_READY or prog.get("stream_state") != ST_STREAM:
        return
    if not await _wait_for_wal(repl, index, _stall(node)):
        log.info("forwarded write (WAL %s) not streamed back within %.1fs; answering anyway",
                 index, _stall(node))


async def _send(repl: Replication, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """POST the operations to the primary's active node; follow leader redirects."""
    state = repl.effective("performance")
    if not state.get("primary"):
        raise ForwardError(messages.FORWARD_NO_PRIMARY)
    state = dict(state, _type="performance")
    preferred = repl.progress("performance").get("connected_addr")
    queue = stream.candidates(repl, state, preferred)
    body = stream.hello(repl, "performance", state)
    body["ops"] = ops
    reason = messages.FORWARD_NO_PRIMARY
    tried: list[str] = []
    while queue:
        addr = queue.pop(0)
        if addr in tried:
            continue
        tried.append(addr)
        try:
            return await stream.post(repl, "performance", state, addr, "forward", body, repl.request_timeout())
        except stream.Redirect as redirect:
            if redirect.addr:
                queue.insert(0, redirect.addr)
            reason = str(redirect)
        except stream.StreamError as exc:
            reason = f"{addr}: {exc}"
    raise ForwardError(reason)


# -- primary side ---------------------------------------------------------------------------


def install(node: Node, cluster_app: web.Application) -> None:
    """Serve forwarded writes on the cluster port (only a primary accepts them)."""

    async def route(request: web.Request) -> web.StreamResponse:
        return await _receive(node, request)

    cluster_app.router.add_post(FORWARD_ROUTE, route)


def _answer(**body: Any) -> web.Response:
    return web.json_response(body)


async def _receive(node: Node, request: web.Request) -> web.StreamResponse:
    repl = node.replication
    if repl is None:
        return web.json_response({"errors": [messages.UNSUPPORTED_PATH]}, status=404)
    ok, error = await stream.authorise(repl, request)
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
