# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared checks for the Molecule verifiers (testinfra). They read the lab state over plain
HTTP (scripts/demo_lab.py), never through the collection under test."""
from __future__ import annotations

import glob
import json
import os
import sys
import time

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(PROJECT, "scripts"))

import demo_lab  # noqa: E402  pylint: disable=wrong-import-position

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
LAB_DIR = os.path.join(EPHEMERAL, "lab")
LOG_DIR = os.path.join(EPHEMERAL, "playbook-output")


def lab():
    return demo_lab.load_lab(LAB_DIR)


def status(cluster_name, rtype, timeout=20.0):
    """Replication status of one type, waiting briefly for a transient state to settle."""
    info = lab()[cluster_name]
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        code, body = demo_lab.call(info, "GET", "sys/replication/%s/status" % rtype)
        if code == 200 and body and body.get("data"):
            last = body["data"]
            if last.get("mode") != "bootstrapping":
                return last
        time.sleep(0.2)
    return last or {}


def assert_streaming(secondary, primary, rtype):
    sec = status(secondary, rtype)
    pri = status(primary, rtype)
    assert sec.get("mode") == "secondary", "%s %s role is %s" % (secondary, rtype, sec.get("mode"))
    assert pri.get("mode") == "primary", "%s %s role is %s" % (primary, rtype, pri.get("mode"))
    assert sec.get("cluster_id") == pri.get("cluster_id"), "%s not in %s's %s set" % (secondary, primary, rtype)
    deadline = time.time() + 20
    while True:
        sec = status(secondary, rtype)
        pri = status(primary, rtype)
        connected = [s for s in pri.get("secondaries") or [] if s.get("node_id") == secondary
                     and s.get("connection_status") == "connected"]
        if sec.get("state") == "stream-wals" and sec.get("connection_state") in ("ready", None) and connected:
            return
        if time.time() > deadline:
            raise AssertionError("%s is not streaming %s from %s: state=%s connection=%s primary lists %s" % (
                secondary, rtype, primary, sec.get("state"), sec.get("connection_state"), pri.get("secondaries")))
        time.sleep(0.2)


def dr_primaries():
    return [name for name in lab() if status(name, "dr").get("mode") == "primary"]


def assert_demo_items(cluster_name, count):
    """The first ``count`` secrets written by ``demo_lab.py write`` read back, unchanged, from
    ``cluster_name``. The primary's root token is valid on every cluster of the set (DR
    replicates tokens), also after a failover or failback."""
    info = lab()
    token = info["primary"]["root_token"]
    for i in range(count):
        code, body = demo_lab.call(info[cluster_name], "GET", "%s/item-%04d" % (demo_lab.SECRET_MOUNT, i), token)
        value = ((body or {}).get("data") or {}).get("value")
        assert code == 200 and value == "sample-%04d" % i, "item %d lost on %s (HTTP %s)" % (i, cluster_name, code)


def captured_outputs():
    return sorted(glob.glob(os.path.join(LOG_DIR, "*.log")))


def playbook_outputs(playbook):
    """Captured output of every run of ``playbook``, oldest first (run_playbook.yml names the
    files ``<playbook>-<UTC time>.log``)."""
    texts = []
    for path in captured_outputs():
        if os.path.basename(path).startswith(playbook + "-"):
            with open(path, encoding="utf-8") as f:
                texts.append(f.read())
    return texts


def recap(output):
    """The PLAY RECAP part of one playbook run's output."""
    return output.split("PLAY RECAP")[-1]


def watch_verdicts():
    out = []
    for path in sorted(glob.glob(os.path.join(LOG_DIR, "watch-*.json"))):
        with open(path, encoding="utf-8") as f:
            out.append((path, json.load(f)))
    return out


def leaks(paths):
    """Every secret the lab issued (create.yml starts it with --record-secrets) found in paths."""
    return demo_lab.find_leaks(lab(), paths, demo_lab.issued_secrets(LAB_DIR))
