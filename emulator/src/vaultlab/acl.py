"""Vault ACL policies: parsing (HCL subset or JSON) and capability checks.

Matching follows Vault's ACL rules:

* policies are merged per path pattern: capabilities of the same pattern add up, and
  ``deny`` on a pattern wipes every other capability of that pattern;
* an exact pattern wins; otherwise the candidates are the longest ``*`` prefix and every
  matching ``+`` segment-wildcard pattern, ranked by (1) a later first wildcard, (2) not
  ending in ``*``, (3) fewer ``+`` segments, (4) longer pattern, (5) lexicographic order;
* the winning rule grants its capabilities unless it holds ``deny``; no match = denied;
* a token carrying the ``root`` policy may do everything.

Parameter constraints (``allowed_parameters`` …), wrapping TTL bounds, MFA and control
groups are accepted by the parser but not enforced.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CAPABILITIES: tuple[str, ...] = ("create", "read", "update", "delete", "list", "sudo", "patch", "deny")
GRANTS: frozenset[str] = frozenset(CAPABILITIES) - {"deny"}

# Pre-0.9 "policy = ..." shorthand, still accepted by Vault.
_OLD_POLICIES: dict[str, tuple[str, ...]] = {
    "deny": ("deny",),
    "read": ("read", "list"),
    "write": ("create", "read", "update", "delete", "list"),
    "sudo": ("create", "read", "update", "delete", "list", "sudo"),
}
_TOP_KEYS = ("name", "path")
_PATH_KEYS = (
    "comment", "policy", "capabilities", "allowed_parameters", "denied_parameters",
    "required_parameters", "min_wrapping_ttl", "max_wrapping_ttl", "mfa_methods", "control_group",
)


class PolicyError(ValueError):
    """A policy that cannot be parsed; the message starts like Vault's."""


# --------------------------------------------------------------------------------------
# A small HCL (v1) reader: enough for policies, which are blocks of string lists.
# --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.-]))
  | (?P<ident>[A-Za-z_][\w.-]*)
  | (?P<punct>[{}\[\]=,:])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class _Token:
    kind: str
    value: Any
    line: int
    col: int


@dataclass
class _Item:
    keys: list[str]
    value: Any
    line: int


@dataclass
class _Object:
    items: list[_Item] = field(default_factory=list)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        col = pos - line_start + 1
        if match is None:
            snippet = text[pos:pos + 10].split("\n")[0]
            if text.startswith("<<", pos):
                raise PolicyError(f"failed to parse policy: At {line}:{col}: heredoc strings are not supported")
            if text.startswith('"', pos):
                raise PolicyError(f"failed to parse policy: At {line}:{col}: literal not terminated")
            raise PolicyError(f"failed to parse policy: At {line}:{col}: illegal char {snippet[:1]!r}")
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "string":
            tokens.append(_Token("string", _unquote(raw, line, col), line, col))
        elif kind == "number":
            tokens.append(_Token("number", float(raw) if "." in raw else int(raw), line, col))
        elif kind == "ident":
            tokens.append(_Token("ident", raw, line, col))
        elif kind == "punct":
            tokens.append(_Token(raw, raw, line, col))
        newlines = raw.count("\n")
        if newlines:
            line += newlines
            line_start = pos + raw.rindex("\n") + 1
        pos = match.end()
    tokens.append(_Token("eof", None, line, pos - line_start + 1))
    return tokens


def _unquote(raw: str, line: int, col: int) -> str:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise PolicyError(f"failed to parse policy: At {line}:{col}: invalid string escape in {raw}") from None


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, token: _Token, message: str) -> PolicyError:
        return PolicyError(f"failed to parse policy: At {token.line}:{token.col}: {message}")

    def expect(self, kind: str) -> _Token:
        token = self.take()
        if token.kind != kind:
            found = "end of input" if token.kind == "eof" else repr(token.value)
            raise self.fail(token, f"expected {kind!r}, got {found}")
        return token

    def body(self, closing: str) -> _Object:
        obj = _Object()
        while True:
            token = self.peek()
            if token.kind == closing:
                return obj
            if token.kind == "eof":
                raise self.fail(token, f"expected {closing!r}, got end of input")
            if token.kind == ",":
                self.take()
                continue
            obj.items.append(self.item())

    def item(self) -> _Item:
        first = self.peek()
        keys: list[str] = []
        while self.peek().kind in ("ident", "string"):
            keys.append(str(self.take().value))
        if not keys:
            found = "end of input" if first.kind == "eof" else repr(first.value)
            raise self.fail(first, f"expected a key, got {found}")
        token = self.peek()
        if token.kind in ("=", ":"):
            self.take()
            return _Item(keys, self.value(), first.line)
        if token.kind == "{":
            return _Item(keys, self.value(), first.line)
        found = "end of input" if token.kind == "eof" else repr(token.value)
        raise self.fail(token, f"expected '=' or '{{' after key {keys[-1]!r}, got {found}")

    def value(self) -> Any:
        token = self.take()
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "ident" and token.value in ("true", "false"):
            return token.value == "true"
        if token.kind == "{":
            obj = self.body("}")
            self.expect("}")
            return obj
        if token.kind == "[":
            values = []
            while self.peek().kind != "]":
                values.append(self.value())
                if self.peek().kind == ",":
                    self.take()
                elif self.peek().kind != "]":
                    bad = self.peek()
                    raise self.fail(bad, f"expected ',' or ']' in list, got {bad.value!r}")
            self.take()
            return values
        found = "end of input" if token.kind == "eof" else repr(token.value)
        raise self.fail(token, f"unexpected {found}, expected a value")


def _from_json(value: Any, line: int = 0) -> Any:
    """Turn decoded JSON into the reader's item structure (objects become _Object)."""
    if isinstance(value, dict):
        return _Object([_Item([str(k)], _from_json(v, line), line) for k, v in value.items()])
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        # HCL's JSON form allows a list of objects where a block list is meant.
        merged = _Object()
        for entry in value:
            merged.items.extend(_from_json(entry, line).items)
        return merged
    if isinstance(value, list):
        return [_from_json(v, line) for v in value]
    return value


def _read(text: str) -> _Object:
    if text.lstrip().startswith("{"):
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"failed to parse policy: At {exc.lineno}:{exc.colno}: {exc.msg}") from None
        result = _from_json(decoded)
        if not isinstance(result, _Object):
            raise PolicyError("failed to parse policy: does not contain a root object")
        return result
    parser = _Parser(text)
    root = parser.body("eof")
    return root


# --------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathRule:
    """One ``path`` block; ``pattern`` is the path as written, minus a leading ``/``."""

    pattern: str
    capabilities: frozenset[str]

    @property
    def has_segment_wildcards(self) -> bool:
        p = self.pattern
        return p == "+" or "/+" in p or p.startswith("+/")

    @property
    def is_prefix(self) -> bool:
        """A plain ``*`` glob (segment-wildcard patterns keep their ``*`` in matching)."""
        return self.pattern.endswith("*") and not self.has_segment_wildcards


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[PathRule, ...]
    raw: str = ""

    @classmethod
    def parse(cls, text: str, name: str = "") -> Policy:
        """Parse HCL or JSON policy text; raises :class:`PolicyError` ("failed to parse policy: ...")."""
        if not isinstance(text, str):
            raise PolicyError("failed to parse policy: policy text must be a string")
        root = _read(text)
        rules: list[PathRule] = []
        for item in root.items:
            key = item.keys[0]
            if key not in _TOP_KEYS:
                raise PolicyError(f'failed to parse policy: invalid key "{key}" on line {item.line}')
            if key == "name":
                continue
            rules.extend(_path_rules(item))
        return cls(name=name, rules=tuple(rules), raw=text)

    @property
    def is_root(self) -> bool:
        return self.name == "root"


def _path_rules(item: _Item) -> list[PathRule]:
    # Forms: path "p" { ... }  |  path = { "p" = { ... } }  |  JSON {"path": {"p": {...}}}
    if len(item.keys) >= 2:
        entries = [(item.keys[1], item.value, item.line)]
        if len(item.keys) > 2:
            raise PolicyError(f"failed to parse policy: path \"{item.keys[1]}\": unexpected extra label on line {item.line}")
    elif isinstance(item.value, _Object):
        entries = [(sub.keys[0], sub.value, sub.line) for sub in item.value.items]
    else:
        raise PolicyError(f"failed to parse policy: path on line {item.line} must be a block")
    return [_path_rule(path, body, line) for path, body, line in entries]


def _path_rule(path: str, body: Any, line: int) -> PathRule:
    prefix = f'failed to parse policy: path "{path}"'
    if not isinstance(body, _Object):
        raise PolicyError(f"{prefix}: expected a block {{ ... }} on line {line}")
    caps: list[str] = []
    old_policy: str | None = None
    for entry in body.items:
        key = entry.keys[0]
        if key not in _PATH_KEYS or (len(entry.keys) > 1 and key != "control_group"):
            raise PolicyError(f'{prefix}: invalid key "{key}" on line {entry.line}')
        if key == "capabilities":
            value = entry.value
            if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                raise PolicyError(f"{prefix}: capabilities must be a list of strings, on line {entry.line}")
            caps.extend(value)
        elif key == "policy":
            if not isinstance(entry.value, str):
                raise PolicyError(f"{prefix}: policy must be a string, on line {entry.line}")
            old_policy = entry.value

    pattern = path[1:] if path.startswith("/") else path
    if "+*" in pattern:
        raise PolicyError(f"{prefix}: invalid use of wildcards ('+*' is forbidden)")
    if old_policy is not None:
        if old_policy not in _OLD_POLICIES:
            raise PolicyError(f'{prefix}: invalid policy "{old_policy}"')
        caps.extend(_OLD_POLICIES[old_policy])
    for cap in caps:
        if cap not in CAPABILITIES:
            raise PolicyError(f'{prefix}: invalid capability "{cap}"')
    granted = frozenset({"deny"}) if "deny" in caps else frozenset(caps)
    return PathRule(pattern, granted)


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


def _merge(left: frozenset[str], right: frozenset[str]) -> frozenset[str]:
    if "deny" in left or "deny" in right:
        return frozenset({"deny"})
    return left | right


def _segment_match(pattern: str, parts: Sequence[str]) -> tuple[int, int, bool, str] | None:
    """``(first wildcard position, wildcard count, ends in *, pattern sans *)`` if it matches."""
    is_prefix = pattern.endswith("*")
    body = pattern[:-1] if is_prefix else pattern
    pattern_parts = body.split("/")
    if len(parts) < len(pattern_parts):
        return None
    if not is_prefix and len(parts) != len(pattern_parts):
        return None
    wildcards = 0
    for i, piece in enumerate(pattern_parts):
        if piece == "+":
            wildcards += 1
        elif piece == parts[i]:
            continue
        elif is_prefix and i == len(pattern_parts) - 1 and parts[i].startswith(piece):
            continue
        else:
            return None
    return (pattern.index("+"), wildcards, is_prefix, body)


def _rank(first_wildcard: int, wildcards: int, is_prefix: bool, body: str) -> tuple[int, int, int, int, str]:
    return (first_wildcard, 0 if is_prefix else 1, -wildcards, len(body), body)


class ACL:
    """The merged view of a token's policies."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = tuple(policies)
        self.root = any(p.is_root for p in self.policies)
        self.exact: dict[str, frozenset[str]] = {}
        self.prefix: dict[str, frozenset[str]] = {}
        self.segment: dict[str, frozenset[str]] = {}
        for policy in self.policies:
            for rule in policy.rules:
                if rule.has_segment_wildcards:
                    table, key = self.segment, rule.pattern
                elif rule.is_prefix:
                    table, key = self.prefix, rule.pattern[:-1]
                else:
                    table, key = self.exact, rule.pattern
                table[key] = _merge(table.get(key, frozenset()), rule.capabilities)

    def _rule_for(self, path: str, listing: bool = False) -> frozenset[str] | None:
        if path in self.exact:
            return self.exact[path]
        if listing and path.endswith("/") and path[:-1] in self.exact:
            return self.exact[path[:-1]]
        candidates: list[tuple[tuple[int, int, int, int, str], frozenset[str]]] = []
        longest = max((p for p in self.prefix if path.startswith(p)), key=len, default=None)
        if longest is not None:
            candidates.append((_rank(len(longest), 0, True, longest), self.prefix[longest]))
        if self.segment:
            parts = path.split("/")
            for pattern, caps in self.segment.items():
                matched = _segment_match(pattern, parts)
                if matched is not None:
                    candidates.append((_rank(*matched), caps))
        if not candidates:
            return None
        return max(candidates, key=lambda c: c[0])[1]

    def capabilities(self, path: str) -> list[str]:
        """What ``sys/capabilities-self`` reports: sorted grants, ``["root"]`` or ``["deny"]``."""
        if self.root:
            return ["root"]
        path = path.lstrip("/")
        caps = self._rule_for(path, listing=True)
        if not caps or "deny" in caps:
            return ["deny"]
        return sorted(caps)

    def allowed(self, path: str, capability: str) -> bool:
        if capability not in GRANTS:
            raise ValueError(f"unknown capability {capability!r}; expected one of {', '.join(sorted(GRANTS))}")
        if self.root:
            return True
        caps = self._rule_for(path.lstrip("/"), listing=capability == "list")
        return bool(caps) and "deny" not in caps and capability in caps


PolicyLike = Policy | str


def _coerce(policies: Iterable[PolicyLike]) -> list[Policy]:
    return [p if isinstance(p, Policy) else _cached_policy(p) for p in policies]


def allowed(policies: Iterable[PolicyLike], path: str, capability: str, *, sudo: bool = False) -> bool:
    """Whether a token holding ``policies`` has ``capability`` on ``path``.

    ``policies`` may mix :class:`Policy` objects, policy texts and built-in names
    (``"root"``, ``"default"``, ``"response-wrapping"``).  ``sudo=True`` marks a
    root-protected path: the matching rule must grant ``sudo`` as well.
    """
    acl = ACL(_coerce(policies))
    if not acl.allowed(path, capability):
        return False
    return not sudo or acl.allowed(path, "sudo")


def capabilities(policies: Iterable[PolicyLike], path: str) -> list[str]:
    return ACL(_coerce(policies)).capabilities(path)


def parse(text: str, name: str = "") -> Policy:
    """Same as :meth:`Policy.parse`."""
    return Policy.parse(text, name)


# --------------------------------------------------------------------------------------
# Built-in policies
# --------------------------------------------------------------------------------------

ROOT_POLICY = Policy(name="root", rules=(), raw="")

DEFAULT_POLICY_TEXT = """\
# Every token may inspect, renew and revoke itself.
path "auth/token/lookup-self" {
    capabilities = ["read"]
}
path "auth/token/renew-self" {
    capabilities = ["update"]
}
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Ask which capabilities the token has on a path.
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Leases the token itself obtained.
path "sys/leases/renew" {
    capabilities = ["update"]
}
path "sys/leases/lookup" {
    capabilities = ["update"]
}
path "sys/renew" {
    capabilities = ["update"]
}

# Response wrapping works for everybody.
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

// The token's private cubbyhole.
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}
"""

DEFAULT_POLICY = Policy.parse(DEFAULT_POLICY_TEXT, name="default")

RESPONSE_WRAPPING_POLICY_TEXT = """\
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}
"""

RESPONSE_WRAPPING_POLICY = Policy.parse(RESPONSE_WRAPPING_POLICY_TEXT, name="response-wrapping")

BUILTIN_POLICIES: dict[str, Policy] = {
    "root": ROOT_POLICY,
    "default": DEFAULT_POLICY,
    "response-wrapping": RESPONSE_WRAPPING_POLICY,
}


@functools.lru_cache(maxsize=512)
def _cached_policy(text: str) -> Policy:
    # A bare built-in name is never valid HCL, so it cannot be confused with policy text.
    if text in BUILTIN_POLICIES:
        return BUILTIN_POLICIES[text]
    return Policy.parse(text)
