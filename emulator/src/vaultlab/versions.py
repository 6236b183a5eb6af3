"""The emulated Vault version (``vaultlab up --vault-version``) and what it switches.

The version is reported by ``sys/health``, ``sys/seal-status`` and the control API, and
picks the defaults of version-dependent behaviour (reference §5.2, §5.4, §5.6):

* ``otp_length`` of the generate-root family: 0 before 1.0, 26 on 1.0-1.9, 28 from 1.10;
* ``sys/decode-token`` exists from 1.13;
* 2.0.0: the key-share ceremonies (``sys/generate-root/*``,
  ``generate-operation-token/*``) need a valid token besides the shares, and a DR secondary
  accepts the primary's service (root) tokens as ``dr_operation_token``.  The reference
  says these changes were reportedly backported to recent LTS releases [?]: the switch
  ``v2_auth_backport`` turns them on for the LTS lines it names.

Explicit switches (``ceremony_auth_required``, ``dr_accepts_primary_tokens``,
``otp_length``) still win over what the version implies.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

log = logging.getLogger("vaultlab.versions")

DEFAULT = "1.19.0+prem"
DEFAULT_SUFFIX = "+prem"
V2_AUTH = (2, 0, 0)
DECODE_TOKEN = (1, 13, 0)
#: The LTS line the reference names for the reported backport (``v2_auth_backport: true``).
BACKPORT_LINES = ("1.19.0",)

_VERSION_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\+[a-z][a-z0-9.]*)?$")

Version = tuple[int, int, int]


class VersionError(ValueError):
    """A bad ``--vault-version`` or ``v2_auth_backport`` value (message names the fix)."""


def normalise(text: Any, option: str = "--vault-version") -> str:
    """``X.Y.Z`` or ``X.Y.Z+suffix`` → the reported version (a bare one gets ``+prem``)."""
    match = _VERSION_RE.match(str(text).strip()) if isinstance(text, str) else None
    if not match:
        raise VersionError(f"{option} {text!r}: give a Vault version X.Y.Z, e.g. 1.19.0 or 2.0.0 "
                           f"(optionally with a build suffix such as +ent)")
    return str(text).strip() if match.group(4) else str(text).strip() + DEFAULT_SUFFIX


def parse(text: str) -> Version:
    match = _VERSION_RE.match(normalise(text))
    assert match is not None  # normalise() validated it
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def at_least(version: str, minimum: Version) -> bool:
    return parse(version) >= minimum


def _backport_floors(value: Any) -> list[Version]:
    if value is None or value is False:
        return []
    if value is True:
        return [parse(v) for v in BACKPORT_LINES]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise VersionError(f"switch v2_auth_backport={value!r}: use false, true (the {BACKPORT_LINES[0]} "
                           "LTS line) or a list of versions such as [\"1.19.5\", \"1.16.20\"]")
    return [parse(normalise(v, "switch v2_auth_backport")) for v in value]


def v2_auth(version: str, backport: Any = False) -> bool:
    """Does this version carry the 2.0.0 authentication changes (reference §5.6)?

    ``backport`` lists floors ``X.Y.Z``: a version of the same X.Y line at or above one has
    the changes too (``true`` = the LTS line the reference names).
    """
    current = parse(version)
    if current >= V2_AUTH:
        return True
    return any(current[:2] == floor[:2] and current >= floor for floor in _backport_floors(backport))


def default_otp_length(version: str) -> int:
    current = parse(version)
    if current < (1, 0, 0):
        return 0
    if current < (1, 10, 0):
        return 26
    return 28


def switches(config: dict[str, Any]) -> dict[str, Any]:
    """The [?] switches of a lab: config.json ``"replication"`` plus ``VAULTLAB_REPLICATION``."""
    merged = dict(config.get("replication") or {})
    try:
        extra = json.loads(os.environ.get("VAULTLAB_REPLICATION") or "{}")
    except ValueError:
        log.error("VAULTLAB_REPLICATION is not a JSON object; ignoring it")
        extra = {}
    if isinstance(extra, dict):
        merged.update(extra)
    return merged
