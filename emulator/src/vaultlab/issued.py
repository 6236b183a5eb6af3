"""Every secret a lab issued, for leak scans (opt-in: ``vaultlab up --record-secrets``).

A lab started with ``--record-secrets`` keeps ``issued-secrets.jsonl`` (mode 0600) in its
directory: each node appends one JSON line per API response that carries a secret, listing the
secret-bearing fields of the response (client and wrapping tokens, activation tokens, one-time
passwords, encoded tokens, key shares, root tokens) and a client-chosen OTP of a ceremony
request.  :func:`issued` reads it back with the lab's own records (``lab.json``: root tokens and
unseal keys; ``tokens.json``: root tokens generated on performance secondaries; ``control-token``) and adds what
can be derived from them: the token inside every encoded token (decoded with the OTPs issued
alongside) and the wrapping token inside every activation token (its ``jti``).

Nothing here talks HTTP: the node process hands each response body to :func:`record`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

from .crypto import activation
from .crypto import otp as otp_lib

JOURNAL = "issued-secrets.jsonl"
#: Response (and ceremony request) fields whose string values are secrets, as Vault names them.
SECRET_FIELDS = frozenset({
    "client_token", "token", "root_token", "otp", "encoded_token", "encoded_root_token",
    "keys", "keys_base64", "recovery_keys", "recovery_keys_base64", "secondary_token",
})
#: Fields of the lab's own files that hold secrets.
LAB_FIELDS = frozenset({"root_token", "unseal_keys_b64", "unseal_keys_hex", "recovery_keys_b64",
                        "recovery_keys_hex", "token", "control_token"})
#: Shorter values are not searched for (an empty OTP, a flag): they would match by chance.
MIN_LENGTH = 12


def enabled(config: dict[str, Any]) -> bool:
    return bool(config.get("record_secrets"))


_QUOTED_FIELDS = tuple('"%s"' % field for field in SECRET_FIELDS)


def may_hold_secret(text: str) -> bool:
    """Cheap test before parsing a response: does it name a secret-bearing field at all?"""
    return any(field in text for field in _QUOTED_FIELDS)


def extract(body: Any, fields: frozenset[str] = SECRET_FIELDS) -> list[tuple[str, str]]:
    """``(field, value)`` for every secret string under a secret-bearing field of ``body``."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, field: str | None) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, key if key in fields else None)
        elif isinstance(node, list):  # a list takes the field of its key: "keys": [...]
            for item in node:
                walk(item, field)
        elif isinstance(node, str) and field and len(node) >= MIN_LENGTH:
            found.append((field, node))

    walk(body, None)
    return found


def record(lab_dir: str | os.PathLike[str], origin: str, path: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Append one journal line (``origin``: the node; ``path``: the API path that issued them)."""
    items = [{"field": f, "value": v} for f, v in pairs]
    if not items:
        return
    line = json.dumps({"time": time.time(), "node": origin, "path": path, "secrets": items}) + "\n"
    fd = os.open(Path(lab_dir) / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())  # one write per line: appends of several nodes do not interleave
    finally:
        os.close(fd)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _journal(lab_dir: Path) -> list[dict[str, Any]]:
    entries = []
    try:
        lines = (lab_dir / JOURNAL).read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a killed node
    return entries


def _decoded(encoded: str, otps: Iterable[str]) -> str | None:
    for candidate in otps:
        try:
            token = otp_lib.decode(encoded, candidate)
        except (otp_lib.OTPError, ValueError):
            continue
        if token.startswith(("hvs.", "hvb.", "hvr.", "s.", "b.", "r.")) and token.isprintable():
            return token
        if len(candidate) == 24 and candidate.endswith("=="):  # legacy: the token is a UUID
            return token
    return None


def issued(lab_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Every secret the lab issued, each once: ``{"kind", "source", "value"}``."""
    lab_dir = Path(lab_dir)
    out: dict[str, dict[str, str]] = {}

    def add(value: str, kind: str, source: str) -> None:
        if isinstance(value, str) and len(value) >= MIN_LENGTH:
            out.setdefault(value, {"kind": kind, "source": source, "value": value})

    for field, value in extract(_read_json(lab_dir / "lab.json"), LAB_FIELDS):
        add(value, field, "lab.json")
    try:  # the control API's token, where the lab has one
        add((lab_dir / "control-token").read_text().strip(), "control API token", "control-token")
    except OSError:
        pass
    kept = _read_json(lab_dir / "tokens.json")  # {cluster: root token generated on it}
    for cluster, value in (kept.items() if isinstance(kept, dict) else ()):
        add(value, "root token of %s" % cluster, "tokens.json")
    encoded, otps, jwts = [], set(), []
    for entry in _journal(lab_dir):
        source = "%s %s" % (entry.get("node"), entry.get("path"))
        for item in entry.get("secrets") or []:
            field, value = item.get("field"), item.get("value")
            add(value, field, source)
            if field == "otp":
                otps.add(value)
            elif field in ("encoded_token", "encoded_root_token"):
                encoded.append((value, source))
            elif value.count(".") == 2 and value.startswith("eyJ"):
                jwts.append((value, source))
    for value, source in encoded:
        token = _decoded(value, otps)
        if token:
            add(token, "decoded token", source)
    for value, source in jwts:
        try:
            jti = activation.peek(value).get("jti")
        except activation.TokenParseError:
            continue
        add(jti, "wrapping token in an activation token", source)
    return list(out.values())
