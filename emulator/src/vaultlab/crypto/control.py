"""The lab control token: the one secret that opens a node's control API (``/_vaultlab/``).

The control API seals nodes and injects faults, so anything that can reach a node's port
could otherwise disrupt the lab.  ``vaultlab up`` creates ``DIR/control-token`` once per lab
(256 random bits, mode 0600 from the first byte, in the 0700 lab directory); every node reads
it at start-up and every caller sends it in the ``X-Vaultlab-Control-Token`` header.  The token
stays the same for the life of the lab directory, so running nodes and restarted nodes agree.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

HEADER = "X-Vaultlab-Control-Token"
FILE_NAME = "control-token"
ENV_NAME = "VAULTLAB_CONTROL_TOKEN"
PREFIX = "/_vaultlab/"


class ControlTokenError(Exception):
    """The token file is missing, empty or unreadable; the message says which file."""


def path_of(lab_dir: str | os.PathLike[str]) -> Path:
    return Path(lab_dir) / FILE_NAME


def read(lab_dir: str | os.PathLike[str]) -> str | None:
    """The lab's control token, or None when the lab has none yet."""
    try:
        token = path_of(lab_dir).read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ControlTokenError(f"cannot read {path_of(lab_dir)}: {exc.strerror}") from None
    if not token:
        raise ControlTokenError(f"{path_of(lab_dir)} is empty; remove it and run 'vaultlab up' again")
    return token


def ensure(lab_dir: str | os.PathLike[str]) -> str:
    """Read the lab's control token, creating it (0600) if the lab has none.

    Written to a private temporary file and linked into place, so a concurrent ``up`` either
    wins the link or reads the winner's complete file; nobody ever sees a partial token.
    """
    existing = read(lab_dir)
    if existing:
        return existing
    target = path_of(lab_dir)
    tmp = target.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, target)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    token = read(lab_dir)
    if not token:  # pragma: no cover - the link above or a concurrent one made it
        raise ControlTokenError(f"could not create {target}")
    return token


def matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; no expected token (a node started without one) matches nothing."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8", "surrogateescape"),
                               given.encode("utf-8", "surrogateescape"))
