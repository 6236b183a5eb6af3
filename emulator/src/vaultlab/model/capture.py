"""Storage that holds back a request's replicated-scope writes (the secondary side of forwarding).

A performance secondary answers a client write by forwarding it to its primary (reference
§7.1; the protocol is in :mod:`vaultlab.replication.forwarding`).  The handler runs against a
*capture*: writes to the ``local`` scope (tokens, local mounts) go to storage as usual, writes to
the ``replicated`` scope are recorded instead, and reads see the recorded writes.  The shared
mount table is one storage entry that a paths filter trims on the secondary, so it travels as a
per-mount difference rather than as a whole table.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterator
from typing import Any

from ..storage import Storage, encode_value

MOUNTS_KEY = "core/mounts"

_CAPTURE: contextvars.ContextVar[Capture | None] = contextvars.ContextVar("vaultlab_capture", default=None)


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


@contextlib.contextmanager
def capturing() -> Iterator[Capture]:
    """Capture the replicated-scope writes made in this context (this task only)."""
    cap = Capture()
    reset = _CAPTURE.set(cap)
    try:
        yield cap
    finally:
        cap.open = False
        _CAPTURE.reset(reset)


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
