"""Policies, tokens, token roles and response wrapping of one cluster: state in its storage.

Tokens are local to each cluster (``local`` scope: a performance secondary has its own,
a DR secondary holds its primary's); policies and roles are shared (``replicated``). Batch
tokens are not stored: each carries its entry sealed with the cluster's batch token key
(``crypto.batch``), which is kept with the local scope too, so a DR secondary opens the batch
tokens its primary minted and minting one ships no WAL, as in Vault.
Every node of the cluster builds one store over the cluster's storage.
"""

from __future__ import annotations

import base64
import time
from typing import Any, Callable

from .. import acl, messages
from ..crypto import batch, otp
from ..storage import Storage
from .values import random_id, rfc3339, token_hash

POLICY_PREFIX = "sys/policy/"
TOKEN_PREFIX = "sys/token/id/"
ACCESSOR_PREFIX = "sys/token/accessor/"
ROLE_PREFIX = "sys/token/role/"
BATCH_KEY = "sys/token/batch-key"
WRAP_PREFIX = "sys/wrapping/"


class TokenStore:
    def __init__(self, storage: Storage, *, cluster_name: str, default_ttl: Callable[[], float],
                 needs_sudo: Callable[[str], bool]) -> None:
        self.storage = storage
        self.cluster_name = cluster_name
        self._default_ttl = default_ttl  # the timing profile's default_token_ttl
        self._needs_sudo = needs_sudo  # the node's sudo path class (replication extends it)
        self._policy_cache: dict[str, Any] = {}

    # -- policies ----------------------------------------------------------------------

    def get_policy(self, name: str) -> str | None:
        if name == "root":
            return ""
        entry = self.storage.get(POLICY_PREFIX + name)
        return entry["policy"] if entry else None

    def put_policy(self, name: str, text: str) -> None:
        """Store a policy (raises ``acl.PolicyError``, a ValueError, on bad text)."""
        self._parsed_policy(name, text)
        self.storage.put(POLICY_PREFIX + name, {"name": name, "policy": text}, scope="replicated")

    def delete_policy(self, name: str) -> None:
        self.storage.delete(POLICY_PREFIX + name, scope="replicated")

    def list_policies(self) -> list[str]:
        names = [k[len(POLICY_PREFIX):] for k in self.storage.list(POLICY_PREFIX)]
        return sorted(set(names) | {"root"})

    def _parsed_policy(self, name: str, text: str) -> Any:
        cached = self._policy_cache.get(name)
        if cached is not None and cached.raw == text:
            return cached
        policy = acl.Policy.parse(text, name=name)
        self._policy_cache[name] = policy
        return policy

    def forget_parsed_policies(self) -> None:
        """Drop the parsed policies (the storage under them was replaced, e.g. by a restore)."""
        self._policy_cache.clear()

    def allowed(self, entry: dict[str, Any], path: str, capability: str) -> bool:
        """ACL decision for a token entry on ``path``; sudo paths also need ``sudo``."""
        names = entry.get("policies") or []
        if "root" in names:
            return True
        policies = []
        for name in names:
            text = self.get_policy(name)
            if text:
                policies.append(self._parsed_policy(name, text))
        rules = acl.ACL(policies)
        if capability not in acl.GRANTS or not rules.allowed(path, capability):
            return False
        return not self._needs_sudo(path) or rules.allowed(path, "sudo")

    def has_sudo(self, entry: dict[str, Any], path: str) -> bool:
        names = entry.get("policies") or []
        if "root" in names:
            return True
        policies = [self._parsed_policy(n, t) for n in names if (t := self.get_policy(n))]
        return acl.ACL(policies).allowed(path, "sudo")

    # -- tokens ------------------------------------------------------------------------

    def create_token(
        self,
        policies: list[str] | None = None,
        ttl: int | None = None,
        *,
        token_type: str = "service",
        orphan: bool = False,
        parent: dict[str, Any] | None = None,
        role: str | None = None,
        meta: dict[str, str] | None = None,
        display_name: str = "token",
        renewable: bool = True,
        num_uses: int = 0,
        explicit_max_ttl: int = 0,
        period: int = 0,
        no_default_policy: bool = False,
        path: str = "auth/token/create",
    ) -> dict[str, Any]:
        """Store a new token; return the ``auth`` block of Vault's response."""
        policies = sorted(set(policies or []))
        if "root" not in policies and not no_default_policy and "default" not in policies:
            policies = sorted(policies + ["default"])
        if ttl is None:
            ttl = self._default_ttl()
        if period:
            ttl = period
        if explicit_max_ttl and (ttl == 0 or ttl > explicit_max_ttl):
            ttl = explicit_max_ttl
        # A batch token is its sealed entry (made below) and has no accessor.
        token = "" if token_type == "batch" else otp.new_token("service")
        accessor = "" if token_type == "batch" else otp.new_accessor()
        now = time.time()
        entry = {
            "accessor": accessor,
            "policies": policies,
            "path": path,
            "meta": meta,
            "display_name": display_name,
            "num_uses": num_uses,
            "orphan": bool(orphan or parent is None or token_type == "batch"),
            "creation_time": int(now),
            "creation_ttl": ttl,
            "expire_time": (now + ttl) if ttl else None,
            "explicit_max_ttl": explicit_max_ttl,
            "period": period,
            "ttl": ttl,
            "renewable": bool(renewable and ttl and token_type == "service"),
            "type": token_type,
            "role": role,
            "parent": parent.get("accessor") if parent and not orphan else None,
            "entity_id": "",
            "cluster": self.cluster_name,
        }
        if token_type == "batch":
            token = batch.seal(self.batch_key(create=True), entry)
        else:
            with self.storage.transaction():
                self.storage.put(TOKEN_PREFIX + token_hash(token), entry, scope="local")
                self.storage.put(ACCESSOR_PREFIX + accessor, {"token_hash": token_hash(token)}, scope="local")
        return {
            "client_token": token,
            "accessor": accessor,
            "policies": policies,
            "token_policies": policies,
            "identity_policies": None,
            "metadata": meta,
            "lease_duration": ttl,
            "renewable": entry["renewable"],
            "entity_id": "",
            "token_type": token_type,
            "orphan": entry["orphan"],
            "mfa_requirement": None,
            "num_uses": num_uses,
        }

    def batch_key(self, create: bool = False) -> bytes | None:
        """The key batch tokens are sealed with; made (and stored) on first use when ``create``."""
        stored = self.storage.get(BATCH_KEY)
        if stored is None:
            if not create:
                return None
            stored = {"key": base64.b64encode(batch.new_key()).decode()}
            self.storage.put(BATCH_KEY, stored, scope="local")
        return base64.b64decode(stored["key"])

    def lookup_token(self, token: str | None) -> dict[str, Any] | None:
        """The entry of a live token (expired and unknown tokens → None): a batch token's own, else
        the stored one."""
        if not token or not isinstance(token, str):
            return None
        if batch.is_batch(token):
            entry = batch.open_token(self.batch_key(), token)
        else:
            entry = self.storage.get(TOKEN_PREFIX + token_hash(token))
        if entry is None:
            return None
        if entry.get("expire_time") and entry["expire_time"] <= time.time():
            return None
        return entry

    def use_token(self, token: str, entry: dict[str, Any]) -> None:
        """Account one use of a limited-use token (revoke it after its last use)."""
        if entry.get("num_uses") and entry.get("type") != "batch":
            remaining = entry["num_uses"] - 1
            if remaining <= 0:
                self.revoke_token(token)
            else:
                entry["num_uses"] = remaining
                self.storage.put(TOKEN_PREFIX + token_hash(token), entry, scope="local")

    def renew_token(self, token: str, entry: dict[str, Any], increment: int) -> dict[str, Any]:
        """Extend a renewable service token (bounded by its explicit max TTL)."""
        now = time.time()
        ttl = increment
        if entry.get("explicit_max_ttl"):
            ttl = min(ttl, int(entry["creation_time"] + entry["explicit_max_ttl"] - now))
        entry["expire_time"] = now + ttl
        entry["ttl"] = ttl
        self.storage.put(TOKEN_PREFIX + token_hash(token), entry, scope="local")
        return {
            "client_token": token, "accessor": entry["accessor"], "policies": entry["policies"],
            "token_policies": entry["policies"], "identity_policies": None, "metadata": entry.get("meta"),
            "lease_duration": ttl, "renewable": True, "entity_id": "", "token_type": entry["type"],
            "orphan": entry["orphan"], "mfa_requirement": None, "num_uses": entry.get("num_uses", 0),
        }

    def revoke_token(self, token: str) -> None:
        """Revoke a stored token (raises ValueError for a batch token: Vault cannot revoke those)."""
        if batch.is_batch(token):
            raise ValueError(messages.BATCH_NO_REVOKE)
        entry = self.storage.get(TOKEN_PREFIX + token_hash(token))
        if entry is None:
            return
        with self.storage.transaction():
            self.storage.delete(TOKEN_PREFIX + token_hash(token), scope="local")
            self.storage.delete(ACCESSOR_PREFIX + entry["accessor"], scope="local")

    def token_lookup_data(self, token: str, entry: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of ``auth/token/lookup-self`` for a token."""
        now = time.time()
        ttl = max(0, int(entry["expire_time"] - now)) if entry.get("expire_time") else 0
        return {
            "accessor": entry["accessor"] if entry["type"] == "service" else "",
            "creation_time": entry["creation_time"],
            "creation_ttl": entry["creation_ttl"],
            "display_name": entry["display_name"],
            "entity_id": "",
            "expire_time": rfc3339(entry["expire_time"]) if entry.get("expire_time") else None,
            "explicit_max_ttl": entry.get("explicit_max_ttl", 0),
            "id": token,
            "issue_time": rfc3339(entry["creation_time"]),
            "meta": entry.get("meta"),
            "num_uses": entry.get("num_uses", 0),
            "orphan": entry["orphan"],
            "path": entry["path"],
            "policies": entry["policies"],
            "renewable": entry["renewable"],
            "role": entry.get("role") or "",
            "ttl": ttl,
            "type": entry["type"],
            **({"period": entry["period"]} if entry.get("period") else {}),
        }

    # -- token roles --------------------------------------------------------------------

    def get_role(self, name: str) -> dict[str, Any] | None:
        return self.storage.get(ROLE_PREFIX + name)

    def put_role(self, name: str, role: dict[str, Any]) -> None:
        self.storage.put(ROLE_PREFIX + name, role, scope="replicated")

    def delete_role(self, name: str) -> None:
        self.storage.delete(ROLE_PREFIX + name)

    def list_roles(self) -> list[str]:
        return [k[len(ROLE_PREFIX):] for k in self.storage.list(ROLE_PREFIX)]

    # -- response wrapping ---------------------------------------------------------------

    def wrap(
        self,
        response: dict[str, Any],
        ttl: int,
        creation_path: str,
        token: str | None = None,
        accessor: str | None = None,
    ) -> dict[str, Any]:
        """Store ``response`` behind a single-use wrapping token; return ``wrap_info``.

        ``token`` lets the caller choose the token text (activation tokens are JWTs).
        """
        token = token or "hvs." + random_id(24)
        accessor = accessor or random_id(24)
        now = time.time()
        record = {
            "response": response,
            "accessor": accessor,
            "creation_time": now,
            "ttl": ttl,
            "creation_path": creation_path,
        }
        self.storage.put(WRAP_PREFIX + token_hash(token), record, scope="local")
        return {
            "token": token,
            "accessor": accessor,
            "ttl": ttl,
            "creation_time": rfc3339(now),
            "creation_path": creation_path,
            "wrapped_accessor": "",
        }

    def lookup_wrapping(self, token: str | None) -> dict[str, Any] | None:
        if not token:
            return None
        record = self.storage.get(WRAP_PREFIX + token_hash(token))
        if record is None:
            return None
        if record["ttl"] and record["creation_time"] + record["ttl"] <= time.time():
            self.storage.delete(WRAP_PREFIX + token_hash(token), scope="local")
            return None
        return record

    def unwrap(self, token: str | None) -> dict[str, Any]:
        """Consume a wrapping token and return the wrapped response (raises ValueError)."""
        record = self.lookup_wrapping(token)
        if record is None:
            raise ValueError(messages.WRAPPING_TOKEN_INVALID)
        self.storage.delete(WRAP_PREFIX + token_hash(token or ""), scope="local")
        return record["response"]

    def revoke_wrapping(self, token: str) -> None:
        self.storage.delete(WRAP_PREFIX + token_hash(token), scope="local")
