"""Timing profiles: how long each slow transition of the emulator takes.

``fast`` keeps every transition in milliseconds for tests; ``realistic`` uses durations of
the order a real Vault Enterprise cluster shows, for demos and benchmarks.  Any entry can be
overridden per lab (``vaultlab up --timing promote=2.0`` or ``--timing-file FILE.json``);
the replication package reads its own transition names through ``Node.timing(name)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROFILES: dict[str, dict[str, float]] = {
    "fast": {
        # HA: the active node renews its lease every ha_renew_interval; a standby takes
        # over once the lease (ha_lease_ttl) has run out. ha_lease_ttl is the lock-loss delay
        # after a crash (a killed node releases nothing); a sealed node or one that steps down
        # releases the lock at once (COVERAGE.md, HA takeover).
        "ha_renew_interval": 0.05,
        "ha_poll_interval": 0.05,
        # Long enough that a node starved of CPU for a moment (busy CI runner) keeps its
        # lease, short enough that failover after a kill stays well under a second.
        "ha_lease_ttl": 0.6,
        "step_down_backoff": 0.5,
        # replication transitions (used by vaultlab.replication)
        "primary_enable": 0.0,
        "primary_demote": 0.0,
        "primary_disable": 0.0,
        "secondary_enable": 0.0,
        "bootstrap": 0.02,
        "merkle_sync": 0.02,
        "promote": 0.0,
        "secondary_disable": 0.0,
        "update_primary": 0.0,
        "wal_stream_interval": 0.05,
        # A held WAL poll answers at once when there is something to ship, else after this:
        # one request per second and secondary is what an idle lab costs (0.2 s made it five).
        # Staleness (connected -> disconnected) is heartbeat_stale_after, at least 5 s either way.
        "heartbeat_interval": 1.0,
        # Longest pause between attempts to reach an unreachable primary.
        "reconnect_backoff_max": 0.4,
        "connection_timeout": 1.0,
        "default_token_ttl": 2764800.0,
    },
    "realistic": {
        # Takeover about 5 s after the active node dies (Vault's depends on its storage backend).
        "ha_renew_interval": 1.0,
        "ha_poll_interval": 1.0,
        "ha_lease_ttl": 5.0,
        "step_down_backoff": 10.0,
        "primary_enable": 2.0,
        "primary_demote": 2.0,
        "primary_disable": 2.0,
        "secondary_enable": 3.0,
        "bootstrap": 2.0,
        "merkle_sync": 1.0,
        "promote": 3.0,
        "secondary_disable": 2.0,
        "update_primary": 2.0,
        "wal_stream_interval": 0.5,
        "heartbeat_interval": 5.0,
        "reconnect_backoff_max": 10.0,
        "connection_timeout": 10.0,
        "default_token_ttl": 2764800.0,
    },
}


class ProfileError(ValueError):
    """A bad profile name or timing override (message names the option and the fix)."""


def resolve(profile: str, overrides: dict[str, Any] | None = None) -> dict[str, float]:
    """The timings of ``profile`` with ``overrides`` applied (unknown names are kept too,
    so the replication package can introduce its own transitions)."""
    if profile not in PROFILES:
        raise ProfileError(
            f"unknown timing profile {profile!r} (--profile): choose one of {', '.join(PROFILES)}"
        )
    result = dict(PROFILES[profile])
    for name, value in (overrides or {}).items():
        result[name] = _seconds(name, value)
    return result


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ProfileError(f"timing {name}={value!r} (--timing): give seconds as a number, e.g. {name}=1.5")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ProfileError(
            f"timing {name}={value!r} (--timing): give seconds as a number, e.g. {name}=1.5"
        ) from None
    if seconds < 0:
        raise ProfileError(f"timing {name}={value!r} (--timing): seconds cannot be negative")
    return seconds


def parse_overrides(pairs: list[str] | None = None, file: str | None = None) -> dict[str, float]:
    """Overrides from ``NAME=SECONDS`` pairs and/or a JSON object file (pairs win)."""
    result: dict[str, float] = {}
    if file:
        try:
            data = json.loads(Path(file).read_text())
        except FileNotFoundError:
            raise ProfileError(f"--timing-file {file}: no such file") from None
        except ValueError as exc:
            raise ProfileError(f"--timing-file {file}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ProfileError(f"--timing-file {file}: expected a JSON object of name: seconds")
        for name, value in data.items():
            result[str(name)] = _seconds(str(name), value)
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ProfileError(f"--timing {pair!r}: use NAME=SECONDS, e.g. promote=2.0")
        result[name.strip()] = _seconds(name.strip(), value.strip())
    return result
