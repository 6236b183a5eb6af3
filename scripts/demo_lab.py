#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for scripts/demo.sh and the Molecule and acceptance tests: everything that talks to a vaultlab
lab directly (raw HTTP), so that the checks do not go through the collection under test.

  demo_lab.py env DIR                    shell exports: tokens and unseal keys for ansible-playbook
  demo_lab.py write DIR CLUSTER N        write N sample secrets (KV v1 mount "demo") through CLUSTER
                                         ("auto": whichever cluster is DR primary now)
  demo_lab.py read DIR CLUSTER N         read them back through CLUSTER, exit 1 if any is missing
  demo_lab.py caught-up DIR PRIMARY DR   wait until DR has every DR WAL PRIMARY shipped
  demo_lab.py roles DIR                  one line per cluster: dr role / performance role
  demo_lab.py replicate DIR [--primary P] [--dr NAME]... [--perf NAME]...
                                         set up replication over the raw API (secondary ids = cluster
                                         names; DR standbys unsealed with P's key shares), for tests
                                         whose subject comes after the set-up
  demo_lab.py leaks DIR PATH...          exit 1 if a file under PATH holds a secret: any root token or
                                         key share in lab.json, or anything shaped like a Vault
                                         token (hvs./hvb./hvr.) or an activation token (JWT)
  demo_lab.py watch DIR OUT [--interval S]  poll every cluster until SIGTERM; write a JSON verdict
                                         (samples, and every moment two clusters of one
                                         replication set claimed the primary role) to OUT
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

SECRET_MOUNT = "demo"


def load_lab(lab_dir):
    with open(os.path.join(lab_dir, "lab.json"), encoding="utf-8") as f:
        return json.load(f)["clusters"]


def _ctx(cluster):
    ca = cluster.get("ca_cert")
    if ca:
        return ssl.create_default_context(cafile=ca)
    return None


def call(cluster, method, path, token=None, body=None, timeout=5.0):
    """One Vault API call; returns (status, parsed JSON or None). Never raises on HTTP errors."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(cluster["api_addr"].rstrip("/") + "/v1/" + path, data=data, method=method)
    if token:
        req.add_header("X-Vault-Token", token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_ctx(cluster)) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, None


def cmd_env(args):
    lab = load_lab(args.dir)
    primary = next((n for n in lab if n.startswith("primary")), None)
    if primary is None:
        sys.exit("no cluster named primary* in the lab")
    print("export VAULT_TOKEN=%s" % lab[primary]["root_token"])
    print("export VAULT_UNSEAL_KEYS=%s" % ",".join(lab[primary]["unseal_keys_b64"]))
    for name, c in lab.items():
        if name != primary:
            # Valid until the cluster becomes a secondary (activation wipes its tokens).
            env = "VAULT_TOKEN_" + "".join(ch if ch.isalnum() else "_" for ch in name).upper()
            print("export %s=%s" % (env, c["root_token"]))


def _token_for(lab, name):
    primary = next(n for n in lab if n.startswith("primary"))
    return lab[primary]["root_token"]


def current_dr_primary(lab):
    for name, data in read_roles(lab).items():
        if data and (data.get("dr") or {}).get("mode") == "primary":
            return name
    sys.exit("no cluster of the lab is DR primary")


def cmd_write(args):
    lab = load_lab(args.dir)
    if args.cluster == "auto":
        args.cluster = current_dr_primary(lab)
    c = lab[args.cluster]
    token = _token_for(lab, args.cluster)
    status, _ = call(c, "GET", "sys/mounts/" + SECRET_MOUNT, token)
    if status != 200:
        status, body = call(c, "POST", "sys/mounts/" + SECRET_MOUNT, token, {"type": "kv", "options": {"version": "1"}})
        if status >= 300:
            sys.exit("cannot mount %s on %s: HTTP %s %s" % (SECRET_MOUNT, args.cluster, status, body))
    for i in range(args.count):
        status, body = call(c, "POST", "%s/item-%04d" % (SECRET_MOUNT, i), token, {"value": "sample-%04d" % i})
        if status >= 300:
            sys.exit("write %d failed on %s: HTTP %s %s" % (i, args.cluster, status, body))
    print("wrote %d secrets to %s/ through %s" % (args.count, SECRET_MOUNT, args.cluster))


def cmd_read(args):
    lab = load_lab(args.dir)
    if args.cluster == "auto":
        args.cluster = current_dr_primary(lab)
    c = lab[args.cluster]
    token = _token_for(lab, args.cluster)
    missing = []
    for i in range(args.count):
        status, body = call(c, "GET", "%s/item-%04d" % (SECRET_MOUNT, i), token)
        if status != 200 or (body or {}).get("data", {}).get("value") != "sample-%04d" % i:
            missing.append((i, status))
    if missing:
        print("%d of %d secrets missing or wrong on %s (first: item %d, HTTP %s)"
              % (len(missing), args.count, args.cluster, missing[0][0], missing[0][1]))
        sys.exit(1)
    print("all %d secrets readable on %s" % (args.count, args.cluster))


def read_roles(lab, names=None):
    out = {}
    for name in (names if names is not None else list(lab)):
        c = lab[name]
        try:
            status, body = call(c, "GET", "sys/replication/status", timeout=1.0)
        except (OSError, urllib.error.URLError):
            out[name] = None
            continue
        data = (body or {}).get("data") if status == 200 else None
        out[name] = data
    return out


def cmd_roles(args):
    for name, data in read_roles(load_lab(args.dir)).items():
        if data is None:
            print("%s unreachable" % name)
        else:
            print("%s dr=%s performance=%s" % (name, data["dr"].get("mode"), data["performance"].get("mode")))


def cmd_caught_up(args):
    """Wait until SECONDARY has received every DR WAL the primary shipped (before a fault)."""
    lab = load_lab(args.dir)
    deadline = time.time() + args.timeout
    while True:
        _, p = call(lab[args.primary], "GET", "sys/replication/dr/status")
        _, s = call(lab[args.secondary], "GET", "sys/replication/dr/status")
        p, s = (p or {}).get("data") or {}, (s or {}).get("data") or {}
        want, have = p.get("last_dr_wal"), s.get("last_remote_wal")
        if want is not None and have is not None and have >= want and s.get("merkle_root") == p.get("merkle_root"):
            print("%s has WAL %s of %s" % (args.secondary, have, args.primary))
            return
        if time.time() > deadline:
            sys.exit("%s did not catch up with %s (has %s, wants %s)" % (args.secondary, args.primary, have, want))
        time.sleep(0.1)


def generate_root(lab, name, keys):
    """Root token for a cluster whose own tokens were wiped (a performance secondary after
    activation), by the generate-root ceremony with the key shares it now uses."""
    c = lab[name]
    call(c, "DELETE", "sys/generate-root/attempt")
    status, body = call(c, "PUT", "sys/generate-root/attempt", body={})
    if status != 200:
        sys.exit("generate-root start failed on %s: HTTP %s" % (name, status))
    nonce, otp = body["nonce"], body["otp"]
    for key in keys:
        status, body = call(c, "PUT", "sys/generate-root/update", body={"key": key, "nonce": nonce})
        if status != 200:
            sys.exit("generate-root update failed on %s: HTTP %s" % (name, status))
        if body.get("complete"):
            break
    encoded = body["encoded_token"]
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    return bytes(a ^ b for a, b in zip(raw, otp.encode())).decode()


def _must(cluster, method, path, token=None, body=None, timeout=60.0, node=None):
    """A call that must succeed, retried while the cluster answers 412/429/503 or not at all."""
    target = dict(cluster, api_addr=node) if node else cluster
    deadline = time.monotonic() + timeout
    while True:
        try:
            code, answer = call(target, method, path, token, body)
        except OSError:
            code, answer = None, None
        if code is not None and code < 400:
            return answer or {}
        if (code is not None and code not in (412, 429, 503)) or time.monotonic() > deadline:
            raise RuntimeError("%s %s on %s: HTTP %s %s"
                               % (method, path, target["api_addr"], code, (answer or {}).get("errors")))
        time.sleep(0.05)


def _until(what, probe, timeout):
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)


def _replication(cluster, rtype):
    try:
        code, answer = call(cluster, "GET", "sys/replication/%s/status" % rtype)
    except OSError:
        return {}
    return ((answer or {}).get("data") or {}) if code == 200 else {}


def _sealed(cluster, node):
    """True/False from a node's seal status; None while it does not answer."""
    try:
        code, answer = call(dict(cluster, api_addr=node), "GET", "sys/seal-status")
    except OSError:
        return None
    return answer.get("sealed") if code == 200 and answer else None


def replicate(lab, drs=("dr",), perfs=("perf",), primary="primary", timeout=60.0):
    """Replication set up over the raw API, for tests whose subject comes after the set-up (a
    failover, a fault, a runbook): the primary enabled for DR and/or performance replication, an
    activation token minted per secondary (its id the cluster name, as the setup role uses) and
    redeemed there, the standby nodes of each DR secondary unsealed with the primary's key shares,
    every secondary streaming. The end state of ``setup_replication -e confirm_wipe=...`` without
    an ansible-playbook run; that playbook is tested on its own (the Molecule setup scenario, the
    acceptance tests of the set-up with a backup, the secret scan, the newcomer path...)."""
    p = lab[primary]
    root = p["root_token"]
    for rtype, names in (("dr", drs), ("performance", perfs)):
        if not names:
            continue
        _must(p, "POST", "sys/replication/%s/primary/enable" % rtype, root, {}, timeout)
        _until("%s to be %s primary" % (primary, rtype), lambda rtype=rtype: (
            _replication(p, rtype).get("mode") == "primary"), timeout)
        for name in names:
            minted = _must(p, "POST", "sys/replication/%s/primary/secondary-token" % rtype, root, {"id": name}, timeout)
            _must(lab[name], "POST", "sys/replication/%s/secondary/enable" % rtype, lab[name]["root_token"],
                  {"token": minted["wrap_info"]["token"]}, timeout)
    for rtype, names in (("dr", drs), ("performance", perfs)):
        for name in names:
            _until("%s to stream %s WALs from %s" % (name, rtype, primary), lambda c=lab[name], rtype=rtype: (
                _replication(c, rtype).get("mode") == "secondary"
                and _replication(c, rtype).get("state") == "stream-wals"), timeout)
    # A DR secondary's standbys seal themselves once they notice the primary's keyring (each on its
    # own schedule, so wait for that first), then take the primary's key shares.
    for name in drs:
        cluster = lab[name]
        for node in cluster.get("nodes") or []:
            if node == cluster["api_addr"]:
                continue
            _until("the standby %s to seal after the activation" % node, lambda node=node: (
                _sealed(cluster, node) is True), min(timeout, 30))
            for key in p["unseal_keys_b64"]:
                if not _must(cluster, "PUT", "sys/unseal", None, {"key": key}, timeout, node=node).get("sealed"):
                    break
            _until("the standby %s to be unsealed" % node, lambda node=node: _sealed(cluster, node) is False,
                   timeout)


def cmd_replicate(args):
    try:
        replicate(load_lab(args.dir), args.dr, args.perf, args.primary)
    except RuntimeError as exc:
        sys.exit("replicate: %s" % exc)
    print("%s replicates to %s" % (args.primary, ", ".join(args.dr + args.perf)))


def split_brains(snapshot):
    """Replication sets (type, cluster_id) that more than one cluster claims to be primary of."""
    claims = {}
    for name, data in snapshot.items():
        if not data:
            continue
        for rtype in ("dr", "performance"):
            st = data.get(rtype) or {}
            if st.get("mode") == "primary" and st.get("cluster_id"):
                claims.setdefault((rtype, st["cluster_id"]), []).append(name)
    return {"%s:%s" % k: sorted(v) for k, v in claims.items() if len(v) > 1}


def cmd_watch(args):
    lab = load_lab(args.dir)
    stop = {"now": False}

    def _stop(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    samples = 0
    violations = []
    primaries_seen = set()
    lab_file = os.path.join(args.dir, "lab.json")
    # A watcher whose lab is gone (stopped and removed, e.g. a Molecule destroy after a failed
    # converge that never reached the stop) ends by itself instead of polling forever.
    while not stop["now"] and os.path.exists(lab_file):
        snap = read_roles(lab)
        samples += 1
        for name, data in snap.items():
            if data and (data.get("dr") or {}).get("mode") == "primary":
                primaries_seen.add(name)
        bad = split_brains(snap)
        if bad:
            # The clusters are read one after the other: a cluster read as primary before a
            # switch-over demoted it and one read as primary after the switch-over promoted it
            # were not primaries at the same time. Read the claimants again in reverse order: each
            # one still primary then was primary over an interval that contains the other reads.
            claimants = sorted(set(n for names in bad.values() for n in names), key=list(snap).index, reverse=True)
            again = read_roles(lab, claimants)
            confirmed = split_brains(again)
            bad = {key: names for key, names in bad.items() if confirmed.get(key) == names}
        if bad:
            violations.append({"time": time.time(), "sets": bad})
        time.sleep(args.interval)
    try:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"samples": samples, "violations": violations,
                       "dr_primaries_seen": sorted(primaries_seen)}, f, indent=1)
    except FileNotFoundError:
        pass  # its folder went with the lab


SECRET_SHAPES = (
    ("vault token", re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}")),
    ("legacy vault token", re.compile(r"\bs\.[A-Za-z0-9]{24}\b")),
    ("activation token (JWT)", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}")),
)


def lab_secrets(lab):
    """Every secret value vaultlab wrote into lab.json."""
    found = set()
    for c in lab.values():
        for key in ("root_token",):
            if c.get(key):
                found.add(c[key])
        for key in ("unseal_keys_b64", "unseal_keys_hex"):
            found.update(v for v in c.get(key) or [] if v)
    return found


def issued_secrets(lab_dir):
    """{secret: what it is} for every secret the lab in lab_dir issued (`vaultlab secrets`; the lab must have
    been started with --record-secrets): lab.json's and every token, activation token, OTP, encoded token and
    key share its nodes handed out, with the tokens derived from them."""
    out = subprocess.run([sys.executable, "-m", "vaultlab", "secrets", "--dir", str(lab_dir)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    if out.returncode != 0:
        raise RuntimeError("vaultlab secrets --dir %s failed: %s" % (lab_dir, out.stderr.strip()))
    listed = json.loads(out.stdout)
    if not listed["recording"]:
        raise RuntimeError("the lab in %s was not started with --record-secrets: only the secrets of its own files "
                           "are known, not those its nodes handed out" % lab_dir)
    return {s["value"]: "%s (%s)" % (s["kind"], s["source"]) for s in listed["secrets"]}


def _files_under(paths):
    for path in paths:
        if os.path.isdir(path):
            for base, _dirs, names in os.walk(path):
                for n in names:
                    if not os.path.islink(os.path.join(base, n)):  # its target is scanned where it lives
                        yield os.path.join(base, n)
        elif os.path.exists(path):
            yield path


def find_leaks(lab, paths, secrets=None):
    """(file, line number, kind) for every secret found in the files under paths (binary files too);
    the secret itself is never returned. secrets: {value: kind}, by default lab.json's (lab_secrets);
    issued_secrets(lab_dir) gives every one the lab issued. Anything shaped like a Vault token or an
    activation token counts too."""
    exact = secrets if secrets is not None else dict.fromkeys(lab_secrets(lab), "lab secret from lab.json")
    needles = [(value.encode(), kind) for value, kind in exact.items() if value]
    hits = []
    for name in _files_under(paths):
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for needle, kind in needles:
            at = data.find(needle)
            while at >= 0:
                hits.append((name, data.count(b"\n", 0, at) + 1, kind))
                at = data.find(needle, at + 1)
        text = data.decode("utf-8", errors="replace")
        for kind, rx in SECRET_SHAPES:
            for match in rx.finditer(text):
                hits.append((name, text.count("\n", 0, match.start()) + 1, kind))
    return hits


def cmd_leaks(args):
    hits = find_leaks(load_lab(args.dir), args.paths)
    for name, no, kind in hits:
        print("LEAK %s:%d: %s" % (name, no, kind))
    if hits:
        sys.exit(1)
    print("no secret found in %s" % " ".join(args.paths))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("env")
    s.add_argument("dir")
    s.set_defaults(func=cmd_env)
    for name, func in (("write", cmd_write), ("read", cmd_read)):
        s = sub.add_parser(name)
        s.add_argument("dir")
        s.add_argument("cluster")
        s.add_argument("count", type=int)
        s.set_defaults(func=func)
    s = sub.add_parser("caught-up")
    s.add_argument("dir")
    s.add_argument("primary")
    s.add_argument("secondary")
    s.add_argument("--timeout", type=float, default=60)
    s.set_defaults(func=cmd_caught_up)
    s = sub.add_parser("replicate")
    s.add_argument("dir")
    s.add_argument("--primary", default="primary")
    s.add_argument("--dr", action="append", default=[])
    s.add_argument("--perf", action="append", default=[])
    s.set_defaults(func=cmd_replicate)
    s = sub.add_parser("roles")
    s.add_argument("dir")
    s.set_defaults(func=cmd_roles)
    s = sub.add_parser("leaks")
    s.add_argument("dir")
    s.add_argument("paths", nargs="+")
    s.set_defaults(func=cmd_leaks)
    s = sub.add_parser("watch")
    s.add_argument("dir")
    s.add_argument("out")
    s.add_argument("--interval", type=float, default=0.05)
    s.set_defaults(func=cmd_watch)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
