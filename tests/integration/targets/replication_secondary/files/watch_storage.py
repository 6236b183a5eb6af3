# -*- coding: utf-8 -*-
"""Watch a vaultlab cluster's storage while a task runs: which keys ever held a needle.

    python watch_storage.py --db STORAGE_DB --ready READY_FILE --stop STOP_FILE --out OUT_FILE \
        --forbidden TEXT... --expected TEXT...
    python watch_storage.py --collect --stop STOP_FILE --out OUT_FILE

Creates READY_FILE after its first look (start the task to watch only then), then polls the
cluster's storage (read-only, every few milliseconds) until STOP_FILE exists or --timeout seconds
passed, and writes one JSON object to OUT_FILE: how many polls, the keys that ever held a
--forbidden text, and the --expected texts that were ever seen (so an empty "forbidden" means the
watcher did see the data stream in, not that it looked at an empty store; "expected_at_start" shows
they were not there yet at its first look). Only the data scopes (replicated and local) are
searched: node-scope keys hold the cluster's own bookkeeping. ``--collect`` creates STOP_FILE,
waits for OUT_FILE and prints it.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time


def poll(conn, needles):
    found = {}
    for needle in needles:
        rows = conn.execute("SELECT key FROM kv WHERE scope IN ('replicated', 'local') AND "
                            "(instr(value, ?) > 0 OR instr(key, ?) > 0)", (needle, needle)).fetchall()
        if rows:
            found[needle] = sorted(r[0] for r in rows)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--collect", action="store_true")
    parser.add_argument("--db")
    parser.add_argument("--ready")
    parser.add_argument("--stop", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--forbidden", nargs="+", default=[])
    parser.add_argument("--expected", nargs="+", default=[])
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.collect:
        return collect(args.stop, args.out, args.timeout)
    if not (args.db and args.ready and args.forbidden):
        parser.error("--db, --ready and --forbidden are required to watch")
    forbidden, expected, polls, errors = {}, set(), 0, 0
    expected_at_start = None
    deadline = time.monotonic() + args.timeout
    conn = sqlite3.connect("file:%s?mode=ro" % args.db, uri=True, timeout=1.0)
    try:
        while True:
            stopping = os.path.exists(args.stop) or time.monotonic() >= deadline
            try:
                for needle, keys in poll(conn, args.forbidden).items():
                    forbidden.setdefault(needle, set()).update(keys)
                expected.update(poll(conn, args.expected))
                polls += 1
                if polls == 1:
                    expected_at_start = sorted(expected)
                    with open(args.ready, "w"):
                        pass
            except sqlite3.OperationalError:
                errors += 1
            if stopping:
                break
            time.sleep(args.interval)
    finally:
        conn.close()
    result = {"polls": polls, "errors": errors, "timed_out": not os.path.exists(args.stop),
              "expected_at_start": expected_at_start,
              "forbidden": dict((k, sorted(v)) for k, v in forbidden.items()),
              "expected_seen": sorted(expected)}
    with open(args.out + ".part", "w") as out:
        json.dump(result, out)
    os.rename(args.out + ".part", args.out)
    return 0


def collect(stop, out, timeout):
    with open(stop, "w"):
        pass
    deadline = time.monotonic() + timeout
    while not os.path.exists(out):
        if time.monotonic() >= deadline:
            sys.stderr.write("the watcher wrote no result within %ss\n" % timeout)
            return 1
        time.sleep(0.01)
    with open(out) as result:
        sys.stdout.write(result.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
