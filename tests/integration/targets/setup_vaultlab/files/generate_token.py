# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test helper: get a root token (sys/generate-root) or a DR operation token
(generate-operation-token) on a vaultlab node, using the unseal keys of a lab cluster.

Needed because activating a secondary wipes its own tokens: a performance secondary then has
no usable token, and a DR secondary only accepts a DR operation token. The keys to use are
the primary's (the secondary took over its seal configuration).

    generate_token.py --url URL --kind root|dr --keys-of CLUSTER

reads VAULTLAB_LAB_JSON and prints only the token (callers register it with no_log).
Independent of the collection: it talks raw HTTP and decodes with vaultlab's own OTP code.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request

from vaultlab.crypto import otp as vl_otp

PATHS = {"root": "sys/generate-root", "dr": "sys/replication/dr/secondary/generate-operation-token"}


def call(url, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("%s/v1/%s" % (url.rstrip("/"), path), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else {}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=sorted(PATHS), required=True)
    parser.add_argument("--keys-of", required=True)
    args = parser.parse_args()
    with open(os.environ["VAULTLAB_LAB_JSON"]) as f:
        cluster = json.load(f)["clusters"][args.keys_of]
    base = PATHS[args.kind]
    status = call(args.url, "GET", base + "/attempt")
    if status.get("started"):
        call(args.url, "DELETE", base + "/attempt")
    started = call(args.url, "PUT", base + "/attempt", {})
    nonce, otp = started["nonce"], started["otp"]
    result = started
    for key in cluster["unseal_keys_b64"][:cluster["threshold"]]:
        result = call(args.url, "PUT", base + "/update", {"key": key, "nonce": nonce})
        if result.get("complete"):
            break
    if not result.get("complete"):
        sys.exit("ceremony did not complete: progress %s of %s" % (result.get("progress"), result.get("required")))
    sys.stdout.write(vl_otp.decode(result["encoded_token"], otp))


if __name__ == "__main__":
    try:
        main()
    except urllib.error.HTTPError as exc:
        sys.exit("HTTP %s from %s: %s" % (exc.code, exc.url, exc.read()[:300]))
