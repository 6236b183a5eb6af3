"""Tests for vaultlab.storage."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import time

import pytest

from vaultlab.storage import Storage, StorageError, merkle_of


@pytest.fixture
def db(tmp_path):
    with Storage(tmp_path / "storage.db") as store:
        yield store


def _writer(path: str, prefix: str, count: int, start: multiprocessing.Event) -> None:
    start.wait(10)
    with Storage(path) as store:
        for i in range(count):
            store.put(f"{prefix}/{i:03d}", {"n": i})


def test_get_put_delete_and_values_round_trip(db):
    assert db.get("missing") is None
    value = {"policy": 'path "x" {}', "list": [1, 2.5, None, True], "nested": {"b": 1, "a": "é"}}
    db.put("sys/policy/a", value)
    assert db.get("sys/policy/a") == value
    db.put("sys/policy/a", "replaced")
    assert db.get("sys/policy/a") == "replaced"
    assert db.delete("sys/policy/a") is True
    assert db.delete("sys/policy/a") is False
    assert db.get("sys/policy/a") is None


def test_file_is_private(tmp_path):
    path = tmp_path / "sub" / "dir" / "storage.db"
    with Storage(path) as store:
        store.put("sys/token/root", "secret")
        # SQLite creates its side files with the database file's mode.
        for name in (path, path.with_name("storage.db-wal")):
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o600


def test_scopes_and_listing(db):
    db.put("a/1", 1)
    db.put("a/2/x", 2, scope="local")
    db.put("a/3", 3, scope="node")
    db.put("b", 4)
    assert db.scope_of("a/1") == "replicated"
    assert db.scope_of("a/2/x") == "local"
    assert db.scope_of("a/3") == "node"
    assert db.scope_of("nope") is None
    assert db.list("a/") == ["a/1", "a/2/x", "a/3"]
    assert db.list("") == ["a/1", "a/2/x", "a/3", "b"]
    assert db.list("a/%") == []  # no LIKE wildcards leak through
    assert db.children("a/") == ["1", "2/", "3"]
    # Re-writing a key with another scope moves it.
    db.put("a/1", 1, scope="local")
    assert db.scope_of("a/1") == "local"


def test_unknown_scope_is_rejected(db):
    with pytest.raises(StorageError, match="unknown storage scope 'global'"):
        db.put("k", 1, scope="global")
    with pytest.raises(StorageError):
        db.wal_since(0, scopes=("replicated", "bogus"))


def test_wal_order_and_node_scope_not_logged(db):
    assert db.last_wal() == 0
    assert db.put("k1", 1) == 1
    assert db.put("k2", 2, scope="local") == 2
    assert db.put("n", "lock", scope="node") is None
    db.delete("k1")
    db.delete("n", scope="node")
    assert db.last_wal() == 3
    entries = db.wal_since(0)
    assert [(e["index"], e["op"], e["key"], e["value"], e["scope"]) for e in entries] == [
        (1, "put", "k1", 1, "replicated"),
        (2, "put", "k2", 2, "local"),
        (3, "delete", "k1", None, "replicated"),
    ]
    assert set(entries[0]) == {"index", "op", "key", "value", "scope"}


def test_wal_since_filters_by_index_scope_and_limit(db):
    for i in range(10):
        db.put(f"r{i}", i, scope="replicated" if i % 2 == 0 else "local")
    assert [e["index"] for e in db.wal_since(6)] == [7, 8, 9, 10]
    assert [e["key"] for e in db.wal_since(0, scopes=("replicated",))] == ["r0", "r2", "r4", "r6", "r8"]
    assert [e["index"] for e in db.wal_since(0, scopes=("local",), limit=2)] == [2, 4]
    assert db.wal_since(10) == []
    assert db.last_wal(scopes=("replicated",)) == 9
    assert db.last_wal(scopes=("local",)) == 10
    assert db.wal_count() == 10


def test_compaction_keeps_sequence(db):
    for i in range(20):
        db.put(f"k{i}", i)
    assert db.compact(keep=5) == 15
    assert db.first_wal() == 16
    assert db.last_wal() == 20
    assert db.put("after", 1) == 21


def test_snapshot_restore_round_trip(tmp_path):
    primary = Storage(tmp_path / "p.db")
    secondary = Storage(tmp_path / "s.db")
    primary.put("sys/policy/p", {"rules": "x"})
    primary.put("auth/token/t", {"id": "hvs.x"}, scope="local")
    primary.put("core/seal-config", {"shares": 5}, scope="node")
    secondary.put("stale", "gone after restore")
    secondary.put("core/seal-config", {"shares": 1}, scope="node")

    snap = primary.snapshot(("replicated", "local"))
    assert [item["key"] for item in snap] == ["auth/token/t", "sys/policy/p"]
    secondary.restore(snap, ("replicated", "local"), wal_index=primary.last_wal())

    assert secondary.snapshot(("replicated", "local")) == snap
    assert secondary.get("stale") is None
    assert secondary.get("core/seal-config") == {"shares": 1}  # node scope untouched
    assert secondary.wal_since(0) == []  # restore logs nothing
    assert secondary.last_wal() == primary.last_wal() == 2
    assert secondary.merkle_root(("replicated", "local")) == primary.merkle_root(("replicated", "local"))


def test_restore_rejects_items_outside_scopes(db):
    db.put("keep", 1)
    with pytest.raises(StorageError, match="outside the restored scopes"):
        db.restore([{"key": "a", "value": 1, "scope": "node"}], ("replicated",))
    assert db.get("keep") == 1  # validated before mutating


def test_merkle_equality_and_inequality(tmp_path):
    a = Storage(tmp_path / "a.db")
    b = Storage(tmp_path / "b.db")
    assert a.merkle_root(("replicated",)) == b.merkle_root(("replicated",))
    # Same data written in a different order and via a different history.
    a.put("x", {"k": 1, "j": 2})
    a.put("y", [1, 2])
    b.put("y", "temp")
    b.put("y", [1, 2])
    b.put("x", {"j": 2, "k": 1})
    b.put("only-node", 1, scope="node")
    root = a.merkle_root(("replicated",))
    assert len(root) == 40 and int(root, 16) >= 0
    assert root == b.merkle_root(("replicated",))
    assert a.last_wal() != b.last_wal()  # WAL indexes are not part of the hash

    b.put("x", {"j": 2, "k": 2})
    assert a.merkle_root(("replicated",)) != b.merkle_root(("replicated",))
    b.put("x", {"j": 2, "k": 1})
    assert merkle_of(reversed(b.snapshot(("replicated",)))) == root
    assert merkle_of([]) == Storage(tmp_path / "empty.db").merkle_root(("replicated",))
    b.put("extra", 0, scope="local")
    assert a.merkle_root(("replicated",)) == b.merkle_root(("replicated",))
    assert a.merkle_root(("replicated", "local")) != b.merkle_root(("replicated", "local"))


def test_apply_replays_and_continues_sequence(tmp_path):
    primary = Storage(tmp_path / "p.db")
    secondary = Storage(tmp_path / "s.db")
    primary.put("a", 1)
    primary.put("b", 2, scope="local")
    secondary.restore(primary.snapshot(), wal_index=primary.last_wal())

    primary.put("c", 3)
    primary.delete("a")
    primary.put("b", 22, scope="local")
    entries = primary.wal_since(secondary.last_wal())
    assert secondary.apply(entries) == primary.last_wal() == 5
    assert secondary.wal_since(0) == entries  # same numbering as the primary
    assert secondary.snapshot() == primary.snapshot()
    assert secondary.merkle_root(("replicated", "local")) == primary.merkle_root(("replicated", "local"))
    # Promoted later, it carries on where the primary stopped.
    assert secondary.put("d", 4) == 6


def test_apply_renumbers_when_remote_index_is_behind(db):
    db.put("local-token", 1, scope="local")
    db.put("x", 1)
    assert db.apply([{"index": 1, "op": "put", "key": "remote", "value": "v", "scope": "replicated"}]) == 1
    assert db.wal_since(2)[0]["index"] == 3
    assert db.get("remote") == "v"


def test_apply_is_atomic_and_validates(db):
    good = {"index": 1, "op": "put", "key": "ok", "value": 1}
    with pytest.raises(StorageError, match="unknown op 'merge'"):
        db.apply([good, {"index": 2, "op": "merge", "key": "bad"}])
    assert db.get("ok") is None and db.last_wal() == 0
    with pytest.raises(StorageError, match="never replicates"):
        db.apply([{"index": 1, "op": "put", "key": "n", "value": 1, "scope": "node"}])
    with pytest.raises(StorageError, match="lacks 'op' or 'key'"):
        db.apply([{"index": 1}])


def test_wipe(db):
    db.put("r", 1)
    db.put("l", 2, scope="local")
    db.put("n", 3, scope="node")
    db.wipe(("replicated", "local"))
    assert db.list() == ["n"]
    assert db.wal_since(0) == []
    assert db.last_wal() == 2  # the sequence does not restart
    db.wipe(("node",))
    assert db.list() == []


def test_transaction_rolls_back_and_nests(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.put("a", 1)
            raise RuntimeError("boom")
    assert db.get("a") is None and db.last_wal() == 0

    with db.transaction():
        db.put("outer", 1)
        with pytest.raises(ValueError):
            with db.transaction():
                db.put("inner", 1)
                raise ValueError("inner only")
        with db.transaction():
            db.put("inner2", 2)
    assert db.list() == ["inner2", "outer"]
    assert [e["key"] for e in db.wal_since(0)] == ["outer", "inner2"]


def test_threads_share_one_storage(db):
    def work(n: int) -> None:
        for i in range(25):
            db.put(f"t{n}/{i}", i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(db.list("t")) == 100
    assert [e["index"] for e in db.wal_since(0, limit=1000)] == list(range(1, 101))


def test_two_processes_share_the_file(tmp_path):
    path = str(tmp_path / "shared.db")
    mine = Storage(path)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, f"p{n}", 40, start)) for n in range(2)]
    for proc in procs:
        proc.start()
    start.set()
    for i in range(40):
        mine.put(f"main/{i:03d}", i)
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    # Each process sees the others' writes through its own connection.
    assert len(mine.list("p0/")) == 40 and len(mine.list("p1/")) == 40
    assert mine.get("p1/039") == {"n": 39}
    indexes = [e["index"] for e in mine.wal_since(0, limit=1000)]
    assert indexes == list(range(1, 121))  # no index handed out twice
    with Storage(path) as other:
        other.put("late", "hello")
    assert mine.get("late") == "hello"


def test_opening_a_file_another_process_is_writing_waits_for_it(tmp_path):
    """Switching a file to WAL needs an exclusive lock and SQLite does not wait for it: the nodes
    of a new cluster start together, and one used to die with 'database is locked'."""
    import sqlite3

    path = tmp_path / "storage.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE held (x)")
    other.execute("BEGIN IMMEDIATE")  # another node in the middle of a write, in rollback-journal mode
    other.execute("INSERT INTO held VALUES (1)")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        storage = Storage(path)
        assert time.monotonic() - started >= 0.2  # it waited for the writer instead of failing
        storage.put("k", {"v": 1}, scope="replicated")
        assert storage.get("k") == {"v": 1}
        storage.close()
    finally:
        release.join()
        other.close()


def test_change_stamp_moves_with_every_write_to_what_it_watches(tmp_path):
    path = tmp_path / "storage.db"
    with Storage(path) as db, Storage(path) as other:
        db.put("k", 1, scope="node")
        watched = db.change_stamp(["k"])
        wal = db.change_stamp(wal=True)
        assert db.change_stamp(["k"]) == watched and db.change_stamp(wal=True) == wal  # nothing happened

        db.put("unrelated", 1, scope="node")  # another key, not logged: neither stamp moves
        assert db.change_stamp(["k"]) == watched and db.change_stamp(wal=True) == wal

        # This connection's own writes are counted...
        db.put("k", 2, scope="node")
        assert db.change_stamp(["k"]) != watched
        watched = db.change_stamp(["k"])
        db.put("data", {"v": 1})  # a logged key: the WAL moved
        assert db.change_stamp(wal=True) != wal
        wal = db.change_stamp(wal=True)
        db.delete("data")
        assert db.change_stamp(wal=True) != wal
        for change in (lambda: db.advance(db.last_wal() + 5), lambda: db.compact(keep=0),
                       lambda: db.apply([{"op": "put", "key": "r", "value": 1, "index": db.last_wal() + 1}]),
                       lambda: db.restore([], wal_index=db.last_wal()), lambda: db.wipe()):
            wal = db.change_stamp(wal=True)
            change()
            assert db.change_stamp(wal=True) != wal
        wal = db.change_stamp(wal=True)
        db.advance(0)  # a no-op: the sequence never moves back
        assert db.change_stamp(wal=True) == wal
        # ...bulk operations count for every key...
        watched = db.change_stamp(["k"])
        db.restore([{"key": "x", "value": 1}])
        assert db.change_stamp(["k"]) != watched

        # ...and another connection's (another process's) commits move SQLite's data_version.
        watched, wal = db.change_stamp(["k"]), db.change_stamp(wal=True)
        other.put("k", 3, scope="node")
        assert db.change_stamp(["k"]) != watched and db.change_stamp(wal=True) != wal
        assert db.get("k") == 3


def test_put_if_unchanged_writes_only_over_the_expected_value(tmp_path):
    path = tmp_path / "storage.db"
    with Storage(path) as db, Storage(path) as other:
        db.put("lease", {"n": 1}, scope="node")
        stamp = db.change_stamp(["lease"])
        text = db.put_if_unchanged("lease", '{"n":1}', {"n": 2})
        assert text == '{"n":2}' and db.get("lease") == {"n": 2}
        assert db.change_stamp(["lease"]) != stamp
        # Someone else changed it: nothing is written, the caller learns it.
        other.put("lease", {"n": 9}, scope="node")
        assert db.put_if_unchanged("lease", text, {"n": 3}) is None
        assert db.get("lease") == {"n": 9}
        assert db.put_if_unchanged("absent", "{}", {"n": 1}) is None and db.get("absent") is None
        # Only node-scope keys (never logged): a logged key is not touched.
        db.put("data", {"n": 1})
        assert db.put_if_unchanged("data", '{"n":1}', {"n": 2}) is None and db.get("data") == {"n": 1}
