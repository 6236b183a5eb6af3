"""One node's Shamir seal: the cluster's seal configuration (in storage, shared by its nodes)
and what Vault keeps only in memory (sealed or not, unseal progress, the root key), so a
restarted process comes back sealed with its data intact.

Unseal keys are real Shamir shares over GF(256), checked against a hash of the root key.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from .. import messages
from ..crypto import shamir
from ..storage import Storage
from .values import KeyVerificationError, root_key_hash

SEAL_CONFIG_KEY = "core/seal-config"


def new_seal(shares: int, threshold: int) -> tuple[dict[str, Any], list[bytes]]:
    """A new root key split into ``shares``: (seal config to store, key shares to hand out)."""
    if shares < 1 or threshold < 1 or threshold > shares or shares > 255:
        raise ValueError(messages.INVALID_SHARES)
    if shares > 1 and threshold < 2:
        raise ValueError(messages.INVALID_THRESHOLD_ONE)
    root_key = secrets.token_bytes(32)
    keys = [root_key] if shares == 1 else shamir.split(root_key, shares, threshold)
    config = {
        "type": "shamir",
        "secret_shares": shares,
        "secret_threshold": threshold,
        "root_key_hash": root_key_hash(root_key),
        "generation": uuid.uuid4().hex,
    }
    return config, keys


class Seal:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.sealed = True
        self._shares: list[bytes] = []
        self._nonce = ""
        self._root_key: bytes | None = None
        # The generation of the seal config this node was unsealed with: another node of the
        # cluster adopting a new config (secondary activation) makes it seal itself.
        self._generation: str | None = None
        # (storage change stamp, generation) when the stored config last matched _generation.
        self._matched: tuple[tuple[int, ...], str | None] | None = None

    def config(self) -> dict[str, Any] | None:
        return self.storage.get(SEAL_CONFIG_KEY)

    def store_new(self, config: dict[str, Any]) -> None:
        """Store the first seal config of the cluster (inside the caller's transaction)."""
        if self.storage.get(SEAL_CONFIG_KEY) is not None:  # another node won the race
            raise ValueError(messages.ALREADY_INITIALIZED)
        self.storage.put(SEAL_CONFIG_KEY, config, scope="node")

    @property
    def progress(self) -> int:
        return len(self._shares)

    @property
    def nonce(self) -> str:
        return self._nonce

    def verify(self, shares: list[bytes], config: dict[str, Any] | None = None) -> bytes:
        """Combine shares and check them against the seal config; return the root key."""
        config = config or self.config()
        if config is None:
            raise KeyVerificationError(messages.NOT_INITIALIZED)
        try:
            key = shares[0] if config["secret_shares"] == 1 else shamir.combine(shares)
        except Exception as exc:  # malformed or inconsistent shares
            raise KeyVerificationError(f"{messages.UNSEAL_FAILED}: {exc}") from None
        if root_key_hash(key) != config["root_key_hash"]:
            raise KeyVerificationError(f"{messages.UNSEAL_FAILED}: {messages.KEY_VERIFICATION}")
        return key

    def submit(self, share: bytes) -> bool:
        """One unseal key share; True when it completed the threshold and unsealed."""
        config = self.config()
        if config is None:
            raise ValueError(messages.NOT_INITIALIZED)
        if not self.sealed:
            return False
        if share in self._shares:
            return False  # Vault ignores a repeated share without counting it
        if not self._shares:
            self._nonce = str(uuid.uuid4())
        self._shares.append(share)
        if len(self._shares) < config["secret_threshold"]:
            return False
        shares, self._shares, self._nonce = self._shares, [], ""
        self._root_key = self.verify(shares, config)
        self._generation = config.get("generation")
        self.sealed = False
        return True

    def reset_progress(self) -> None:
        self._shares, self._nonce = [], ""

    def close(self) -> None:
        """Seal: forget the root key and any unseal progress."""
        self.sealed = True
        self._root_key = None
        self.reset_progress()

    def adopt(self, config: dict[str, Any], root_key: bytes | None = None) -> None:
        """Take another cluster's seal config (secondary activation) as a new generation."""
        new = dict(config)
        new["generation"] = uuid.uuid4().hex
        self.storage.put(SEAL_CONFIG_KEY, new, scope="node")
        self._generation = new["generation"]
        if root_key is not None:
            self._root_key = root_key

    def generation_changed(self) -> bool:
        """Unsealed, but another node replaced (or removed) the seal config since."""
        if self.sealed:
            return False
        # Asked at every HA tick: re-read the config only if its key may have changed since it
        # last matched this generation.
        stamp = self.storage.change_stamp((SEAL_CONFIG_KEY,))
        if self._matched == (stamp, self._generation):
            return False
        config = self.config()
        changed = config is None or config.get("generation") != self._generation
        self._matched = None if changed else (stamp, self._generation)
        return changed
