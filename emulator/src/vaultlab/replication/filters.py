"""What a performance secondary is allowed to receive under its paths filter.

Storage layout (see api/kv.py): the shared mount table lives at ``core/mounts`` as
``{path: {"uuid": ...}}`` and a mount's data under ``logical/<uuid>/``.  A filtered mount
disappears from the secondary's copy of the mount table and its data is never shipped.
"""

from __future__ import annotations

from typing import Any, Iterable

from .models import path_allowed

MOUNTS_KEY = "core/mounts"
LOGICAL = "logical/"


class Filter:
    """A compiled paths filter bound to one mount table."""

    def __init__(self, flt: dict[str, Any] | None, mount_table: dict[str, Any] | None):
        self.flt = flt or None
        self.uuid_to_path = {e.get("uuid"): p for p, e in (mount_table or {}).items() if isinstance(e, dict)}

    @property
    def active(self) -> bool:
        return bool(self.flt)

    def learn(self, mount_table: dict[str, Any] | None) -> None:
        """Mounts created after the filter was compiled (seen in the WAL) keep their path."""
        for p, e in (mount_table or {}).items():
            if isinstance(e, dict) and e.get("uuid"):
                self.uuid_to_path[e["uuid"]] = p

    def transform(self, key: str, value: Any) -> tuple[bool, Any]:
        """(ship?, value to ship) for one replicated key/value."""
        if not self.flt:
            return True, value
        if key == MOUNTS_KEY and isinstance(value, dict):
            self.learn(value)
            return True, {p: e for p, e in value.items() if path_allowed(self.flt, p)}
        if key.startswith(LOGICAL):
            mount_uuid = key[len(LOGICAL):].split("/", 1)[0]
            path = self.uuid_to_path.get(mount_uuid)
            return path_allowed(self.flt, path), value
        return True, value

    def items(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            ship, value = self.transform(item["key"], item["value"])
            if ship:
                out.append({**item, "value": value})
        return out

    def entries(self, entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for entry in entries:
            if entry["op"] == "delete":
                ship, _ = self.transform(entry["key"], None) if entry["key"] != MOUNTS_KEY else (True, None)
                if ship:
                    out.append(entry)
                continue
            ship, value = self.transform(entry["key"], entry["value"])
            if ship:
                out.append({**entry, "value": value})
        return out
