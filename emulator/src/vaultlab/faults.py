"""Lab-wide fault state shared by every node process: partitions between clusters.

Partitions live in ``DIR/faults.json`` so every process sees the same picture; nodes re-read
it when its modification time changes.  Per-node faults (added latency, 5xx bursts) are set
through each node's control API and live in that process only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterator

KINDS = ("replication", "client", "both")
FAULTS_FILE = "faults.json"


class FaultError(ValueError):
    """Bad fault request (message names the option and the fix)."""


@contextlib.contextmanager
def _locked(lab_dir: Path) -> Iterator[None]:
    lock_path = Path(lab_dir) / ".faults.lock"
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read(lab_dir: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        return json.loads((Path(lab_dir) / FAULTS_FILE).read_text())
    except FileNotFoundError:
        return {"partitions": []}
    except ValueError:
        return {"partitions": []}


def _write(lab_dir: Path, data: dict[str, Any]) -> None:
    target = lab_dir / FAULTS_FILE
    tmp = target.with_name(f".{FAULTS_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, target)


def add_partition(lab_dir: str | os.PathLike[str], clusters: list[str], kind: str = "both") -> dict[str, Any]:
    """Cut ``kind`` traffic between the named clusters (one name: isolate that cluster)."""
    if kind not in KINDS:
        raise FaultError(f"unknown partition kind {kind!r} (--kind): use one of {', '.join(KINDS)}")
    if not clusters or len(clusters) > 2 or not all(isinstance(c, str) and c for c in clusters):
        raise FaultError("partition needs one cluster (isolate it) or two clusters (--clusters A B)")
    lab = Path(lab_dir)
    with _locked(lab):
        data = read(lab)
        entry = {"clusters": sorted(set(clusters)), "kind": kind}
        partitions = [p for p in data.get("partitions", []) if p != entry]
        partitions.append(entry)
        data["partitions"] = partitions
        _write(lab, data)
    return data


def heal(lab_dir: str | os.PathLike[str], clusters: list[str] | None = None) -> dict[str, Any]:
    """Remove partitions (all, or those involving any of ``clusters``)."""
    lab = Path(lab_dir)
    with _locked(lab):
        data = read(lab)
        if clusters:
            data["partitions"] = [
                p for p in data.get("partitions", []) if not set(p.get("clusters", [])) & set(clusters)
            ]
        else:
            data["partitions"] = []
        _write(lab, data)
    return data
