"""Cluster storage: one SQLite file shared by every node process of a cluster.

The file holds the key/value state (``kv``) and a write-ahead log of changes (``wal``) that
replication streams to secondaries.  Every key lives in one *scope* (Vault's storage
classes, see the API reference §7.1):

``replicated``
    shipped to performance and DR secondaries (policies, mounts, KV data);
``local``
    shipped to DR secondaries only (tokens, leases, local mounts);
``node``
    never leaves the cluster (seal config, HA lock, this cluster's replication state).

Writes to ``node`` keys are deliberately not logged: a secondary compares its
``last_remote_wal`` with the primary's last WAL index, and entries it can never receive
would keep it "behind" forever.

Concurrency: SQLite runs in WAL journal mode with a busy timeout, so several processes may
open the same file; one connection per :class:`Storage` object, guarded by a re-entrant lock
so threads of one process can share it.  Do not carry a :class:`Storage` across ``fork()``;
open a new one in the child.

Pollers (the replication long poll, the HA loop) ask :meth:`Storage.change_stamp` whether what
they watch may have changed before they re-read and decode it: the stamp combines what this
object wrote (counted in memory) with SQLite's ``data_version``, which moves whenever another
connection (another node process of the cluster) commits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

SCOPES: tuple[str, ...] = ("replicated", "local", "node")
REPLICATED_SCOPES: tuple[str, ...] = ("replicated", "local")
OPS: tuple[str, ...] = ("put", "delete")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    scope TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_scope ON kv (scope);
CREATE TABLE IF NOT EXISTS wal (
    "index" INTEGER PRIMARY KEY,
    op      TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT,
    scope   TEXT NOT NULL,
    ts      REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class StorageError(Exception):
    """Invalid use of the storage API (unknown scope or op, malformed entry)."""


def _encode(value: Any) -> str:
    # Canonical form, so equal values are equal text and hash identically on every cluster.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode_value(value: Any) -> str:
    """The stored (and hashed) text of ``value``."""
    return _encode(value)


def _digest_pair(digest: Any, key: str, encoded: str) -> None:
    digest.update(key.encode())
    digest.update(b"\0")
    digest.update(encoded.encode())
    digest.update(b"\n")


def merkle_of(items: Iterable[Mapping[str, Any]]) -> str:
    """:meth:`Storage.merkle_root` over an explicit item list (e.g. after a paths filter)."""
    digest = hashlib.sha1()
    for item in sorted(items, key=lambda i: i["key"]):
        _digest_pair(digest, item["key"], _encode(item["value"]))
    return digest.hexdigest()


def _check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    if isinstance(scopes, str):
        scopes = (scopes,)
    result = tuple(scopes)
    for scope in result:
        if scope not in SCOPES:
            raise StorageError(f"unknown storage scope {scope!r}; expected one of {', '.join(SCOPES)}")
    return result


def _in(scopes: tuple[str, ...]) -> str:
    return "(" + ",".join("?" * len(scopes)) + ")"


class Storage:
    """Key/value store with a replication WAL backed by one SQLite file."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            parent = Path(self.path).parent
            parent.mkdir(parents=True, exist_ok=True)
            # The file holds tokens and keys: create it private before SQLite does
            # (SQLite gives its -wal/-shm side files the same mode).
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        self._lock = threading.RLock()
        self._depth = 0
        # Writes made through this object, for change_stamp(): per key, to the WAL (entries and
        # the sequence floor), and bulk ones (restore, wipe, apply) that touch many keys.
        self._key_serial: dict[str, int] = {}
        self._wal_serial = 0
        self._bulk_serial = 0
        self._conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._use_wal(timeout)
        self._conn.execute("PRAGMA synchronous = NORMAL")
        with self.transaction():
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                self._conn.execute(statement)

    def _use_wal(self, timeout: float) -> None:
        """Switch the file to WAL mode. That needs an exclusive lock, and SQLite answers
        "database is locked" at once instead of using the busy timeout: the nodes of a new
        cluster open the file together, so wait for the others here."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Storage({self.path!r})"

    # -- transactions --------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Storage]:
        """Run the block in one SQLite transaction; nested blocks become savepoints.

        The outermost level takes the write lock up front (``BEGIN IMMEDIATE``) so that a
        read-modify-write sequence cannot interleave with another process's writer.

        Never ``await`` inside the block: the lock is per thread, so another coroutine of
        the same event loop would silently join this transaction (and other processes
        would wait on the SQLite write lock meanwhile).
        """
        with self._lock:
            depth = self._depth
            savepoint = f"sp{depth}"
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {savepoint}")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO {savepoint}")
                    self._conn.execute(f"RELEASE {savepoint}")
                raise
            else:
                self._depth -= 1
                self._conn.execute("COMMIT" if depth == 0 else f"RELEASE {savepoint}")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- change detection ----------------------------------------------------------------

    def change_stamp(self, keys: Iterable[str] = (), wal: bool = False) -> tuple[int, ...]:
        """A value that differs from an earlier one of the same call whenever one of ``keys``
        (or, with ``wal``, the WAL: entries or sequence) may have changed in between.

        Equal stamps mean nothing watched changed, whoever writes: this object's own writes are
        counted here (also those rolled back: a spurious change only costs a re-read), other
        connections' commits move SQLite's ``data_version``. One cheap query instead of reading
        and decoding the values.
        """
        with self._lock:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        serials = self._key_serial
        return (version, self._bulk_serial, self._wal_serial if wal else 0, *(serials.get(k, 0) for k in keys))

    def _touched(self, key: str) -> None:
        self._key_serial[key] = self._key_serial.get(key, 0) + 1

    # -- key/value -----------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """Return the decoded value of ``key``, or ``None`` when it does not exist."""
        rows = self._query("SELECT value FROM kv WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def scope_of(self, key: str) -> str | None:
        rows = self._query("SELECT scope FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def list(self, prefix: str = "") -> list[str]:
        """Every key starting with ``prefix`` (full keys, sorted)."""
        rows = self._query(
            "SELECT key FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix)
        )
        return [row[0] for row in rows]

    def children(self, prefix: str = "") -> list[str]:
        """Vault-style listing: immediate children of ``prefix``, folders ending in ``/``."""
        names: set[str] = set()
        for key in self.list(prefix):
            rest = key[len(prefix):]
            head, sep, _ = rest.partition("/")
            names.add(head + sep)
        return sorted(names)

    def put(self, key: str, value: Any, scope: str = "replicated") -> int | None:
        """Store ``value`` (any JSON-serialisable object); return its WAL index (``None`` for node scope)."""
        _check_scopes((scope,))
        encoded = _encode(value)
        with self.transaction():
            self._touched(key)
            self._conn.execute(
                "INSERT INTO kv (key, value, scope) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, scope = excluded.scope",
                (key, encoded, scope),
            )
            return self._log("put", key, encoded, scope)

    def put_if_unchanged(self, key: str, expected: str, value: Any) -> str | None:
        """Replace the ``node``-scope ``key`` by ``value`` if its stored text is still
        ``expected`` (:func:`encode_value` of what was written last); return the new stored
        text, or ``None`` (nothing written) when the key changed or is gone.

        One statement instead of a read-modify-write transaction, for a record renewed many
        times a second (the HA lease); node-scope keys only, as they are never logged.
        """
        encoded = _encode(value)
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE kv SET value = ? WHERE key = ? AND value = ? AND scope = 'node'", (encoded, key, expected)
            )
            if cursor.rowcount != 1:
                return None
            self._touched(key)
        return encoded

    def delete(self, key: str, scope: str = "replicated") -> bool:
        """Remove ``key``; return whether it existed.  The stored scope wins over ``scope``."""
        _check_scopes((scope,))
        with self.transaction():
            actual = self.scope_of(key)
            if actual is None:
                return False
            self._touched(key)
            self._conn.execute("DELETE FROM kv WHERE key = ?", (key,))
            self._log("delete", key, None, actual)
            return True

    # -- WAL -----------------------------------------------------------------------------

    def _log(self, op: str, key: str, encoded: str | None, scope: str, index: int | None = None) -> int | None:
        if scope == "node":
            return None
        self._wal_serial += 1
        last = self.last_wal()
        if index is None or index <= last:
            index = last + 1
        self._conn.execute(
            'INSERT INTO wal ("index", op, key, value, scope, ts) VALUES (?, ?, ?, ?, ?, ?)',
            (index, op, key, encoded, scope, time.time()),
        )
        return index

    def _floor(self) -> int:
        rows = self._query("SELECT value FROM meta WHERE name = 'wal_floor'")
        return int(rows[0][0]) if rows else 0

    def last_wal(self, scopes: Iterable[str] | None = None) -> int:
        """Highest WAL index (optionally only of entries in ``scopes``); 0 when empty.

        Without ``scopes`` the sequence survives compaction and wipes; only
        :meth:`restore` with an explicit ``wal_index`` moves it.
        """
        if scopes is None:
            rows = self._query('SELECT max("index") FROM wal')
            return max(rows[0][0] or 0, self._floor())
        wanted = _check_scopes(scopes)
        if not wanted:
            return 0
        rows = self._query(f'SELECT max("index") FROM wal WHERE scope IN {_in(wanted)}', wanted)
        return rows[0][0] or 0

    def first_wal(self) -> int:
        """Lowest index still held; ``last_wal() + 1`` when the log is empty.

        A secondary asking for entries older than this has fallen behind compaction and
        must be re-bootstrapped.
        """
        rows = self._query('SELECT min("index") FROM wal')
        return rows[0][0] if rows[0][0] is not None else self.last_wal() + 1

    def wal_count(self) -> int:
        return self._query("SELECT count(*) FROM wal")[0][0]

    def wal_since(
        self, index: int, scopes: Iterable[str] = REPLICATED_SCOPES, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Entries after ``index`` in ``scopes``, oldest first, at most ``limit`` of them."""
        wanted = _check_scopes(scopes)
        if not wanted or limit <= 0:
            return []
        rows = self._query(
            f'SELECT "index", op, key, value, scope FROM wal WHERE "index" > ? '
            f'AND scope IN {_in(wanted)} ORDER BY "index" LIMIT ?',
            (index, *wanted, limit),
        )
        return [
            {
                "index": idx,
                "op": op,
                "key": key,
                "value": None if value is None else json.loads(value),
                "scope": scope,
            }
            for idx, op, key, value, scope in rows
        ]

    def compact(self, keep: int = 10000) -> int:
        """Drop all but the newest ``keep`` WAL entries; return how many were removed."""
        with self.transaction():
            last = self.last_wal()
            self._set_floor(last)
            cursor = self._conn.execute('DELETE FROM wal WHERE "index" <= ?', (last - keep,))
            return cursor.rowcount

    def advance(self, index: int) -> None:
        """Make the sequence continue after ``index`` (it never moves back).

        A DR secondary whose data already matches its primary's up to ``index`` (found equal
        by merkle-diff, so no snapshot was restored) must still number on from there: once
        promoted it would otherwise hand out indexes its old primary already used.
        """
        if index <= self.last_wal():  # the usual case (a heartbeat with nothing new): no write lock
            return
        with self.transaction():
            if index > self.last_wal():
                self._set_floor(index)

    def _set_floor(self, index: int) -> None:
        self._wal_serial += 1
        self._conn.execute(
            "INSERT INTO meta (name, value) VALUES ('wal_floor', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (str(int(index)),),
        )

    # -- replication ---------------------------------------------------------------------

    def merkle_root(self, scopes: Iterable[str] = REPLICATED_SCOPES) -> str:
        """SHA-1 (40 hex) over the sorted (key, value) pairs of ``scopes``.

        Only the data is hashed, not WAL indexes or scopes, so a primary and a secondary
        holding the same data agree however they got there.
        """
        wanted = _check_scopes(scopes)
        digest = hashlib.sha1()
        if wanted:
            with self._lock:
                cursor = self._conn.execute(
                    f"SELECT key, value FROM kv WHERE scope IN {_in(wanted)} ORDER BY key", wanted
                )
                for key, value in cursor:
                    _digest_pair(digest, key, value)
        return digest.hexdigest()

    def snapshot(self, scopes: Iterable[str] = REPLICATED_SCOPES) -> list[dict[str, Any]]:
        """Every key of ``scopes`` as ``{"key", "value", "scope"}``, sorted by key."""
        wanted = _check_scopes(scopes)
        if not wanted:
            return []
        rows = self._query(
            f"SELECT key, value, scope FROM kv WHERE scope IN {_in(wanted)} ORDER BY key", wanted
        )
        return [{"key": k, "value": json.loads(v), "scope": s} for k, v, s in rows]

    def restore(
        self,
        items: Iterable[Mapping[str, Any]],
        scopes: Iterable[str] = REPLICATED_SCOPES,
        wal_index: int | None = None,
    ) -> None:
        """Replace every key of ``scopes`` by ``items`` atomically (secondary bootstrap).

        Appends nothing to the WAL.  Local WAL entries of those scopes are dropped because
        they describe data that no longer exists.  ``wal_index`` (the primary's last WAL
        index at snapshot time) makes this store's sequence continue from there, so a DR
        secondary promoted later keeps numbering where its primary stopped.
        """
        wanted = _check_scopes(scopes)
        rows = []
        for item in items:
            try:
                key, value, scope = item["key"], item["value"], item.get("scope", "replicated")
            except (KeyError, TypeError) as exc:
                raise StorageError(f"restore item {item!r} lacks 'key' or 'value'") from exc
            if scope not in wanted:
                raise StorageError(
                    f"restore item {key!r} has scope {scope!r}, outside the restored scopes {wanted}"
                )
            rows.append((key, _encode(value), scope))
        with self.transaction():
            self._bulk_serial += 1
            self._set_floor(self.last_wal() if wal_index is None else wal_index)
            if wanted:
                self._conn.execute(f"DELETE FROM kv WHERE scope IN {_in(wanted)}", wanted)
                self._conn.execute(f"DELETE FROM wal WHERE scope IN {_in(wanted)}", wanted)
            self._conn.executemany(
                "INSERT INTO kv (key, value, scope) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, scope = excluded.scope",
                rows,
            )

    def apply(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Replay remote WAL entries (secondary side) and append them to the local WAL.

        An entry keeps its remote ``index`` when that continues the local sequence (the
        normal DR case); otherwise it gets the next local index.  Returns the highest
        remote index applied (0 if none), which the caller records as ``last_remote_wal``.
        """
        last_remote = 0
        with self.transaction():
            self._bulk_serial += 1
            for entry in entries:
                try:
                    op, key, scope = entry["op"], entry["key"], entry.get("scope", "replicated")
                except (KeyError, TypeError) as exc:
                    raise StorageError(f"WAL entry {entry!r} lacks 'op' or 'key'") from exc
                if op not in OPS:
                    raise StorageError(f"WAL entry for {key!r} has unknown op {op!r}")
                _check_scopes((scope,))
                if scope == "node":
                    raise StorageError(f"WAL entry for {key!r} has scope 'node', which never replicates")
                remote_index = entry.get("index")
                if op == "put":
                    encoded = _encode(entry.get("value"))
                    self._conn.execute(
                        "INSERT INTO kv (key, value, scope) VALUES (?, ?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, scope = excluded.scope",
                        (key, encoded, scope),
                    )
                else:
                    encoded = None
                    self._conn.execute("DELETE FROM kv WHERE key = ?", (key,))
                self._log(op, key, encoded, scope, index=remote_index)
                if isinstance(remote_index, int):
                    last_remote = max(last_remote, remote_index)
        return last_remote

    def wipe(self, scopes: Iterable[str] = REPLICATED_SCOPES) -> None:
        """Delete every key, and every WAL entry, of ``scopes``."""
        wanted = _check_scopes(scopes)
        if not wanted:
            return
        with self.transaction():
            self._bulk_serial += 1
            self._set_floor(self.last_wal())
            self._conn.execute(f"DELETE FROM kv WHERE scope IN {_in(wanted)}", wanted)
            self._conn.execute(f"DELETE FROM wal WHERE scope IN {_in(wanted)}", wanted)
