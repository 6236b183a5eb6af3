"""Vault-shaped responses and request parsing shared by every handler.

Replication handlers use these too: raise :class:`~vaultlab.model.errors.VaultError` for an
error envelope (:func:`error_answer` renders it), return
:func:`envelope` / :func:`raw` / :func:`no_content` for success.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from .. import messages
from ..model.errors import VaultError, bad_request  # noqa: F401  (the handlers take them from here)
from ..model.values import parse_duration

JSON = "application/json"


def error_response(status: int, errors: list[str], head: bool = False) -> web.Response:
    if head:
        return web.Response(status=status)
    return web.Response(status=status, text=json.dumps({"errors": errors}) + "\n", content_type=JSON)


def error_answer(exc: VaultError, head: bool = False) -> web.Response:
    """The answer for a model error: Vault's texts with its status."""
    return error_response(exc.status, exc.errors, head=head)


def request_id() -> str:
    return str(uuid.uuid4())


def envelope(
    data: Any = None,
    *,
    warnings: list[str] | None = None,
    auth: dict[str, Any] | None = None,
    wrap_info: dict[str, Any] | None = None,
    lease_id: str = "",
    lease_duration: int = 0,
    renewable: bool = False,
    status: int = 200,
    mount_type: str | None = None,
) -> web.Response:
    """The standard logical-response envelope (reference §1.1)."""
    body: dict[str, Any] = {
        "request_id": "" if wrap_info else request_id(),
        "lease_id": lease_id,
        "renewable": renewable,
        "lease_duration": lease_duration,
        "data": data,
        "wrap_info": wrap_info,
        "warnings": warnings or None,
        "auth": auth,
    }
    if mount_type is not None:
        body["mount_type"] = mount_type
    return raw(body, status)


def raw(body: Any, status: int = 200) -> web.Response:
    """A JSON body without the envelope (seal-status, health, init …)."""
    return web.Response(status=status, text=json.dumps(body) + "\n", content_type=JSON)


def no_content() -> web.Response:
    return web.Response(status=204)


def vault_path(request: web.Request) -> str:
    """The logical path: request path without ``/v1/`` (no trailing-slash normalisation)."""
    path = request.path
    return path[4:] if path.startswith("/v1/") else path.lstrip("/")


def operation(request: web.Request) -> str:
    """Vault's logical operation for the request: read, list, update, delete."""
    method = request.method.upper()
    if method == "LIST":
        return "list"
    if method in ("GET", "HEAD"):
        if parse_bool(request.query.get("list", "false"), "list"):
            return "list"
        return "read"
    if method in ("POST", "PUT"):
        return "update"
    if method == "PATCH":
        return "patch"  # no vaultlab handler implements patch; they answer 405
    if method == "DELETE":
        return "delete"
    return method.lower()


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(value: Any, name: str) -> bool:
    """Go's strconv.ParseBool, as Vault uses for query parameters and form values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = str(value)
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise bad_request(f"error parsing {name!r}: invalid boolean value {value!r}")


async def read_body(request: web.Request) -> dict[str, Any]:
    """JSON object body; empty body → {}; malformed → 400."""
    if request.method in ("GET", "HEAD", "LIST") and not request.can_read_body:
        return {}
    text = await request.text()
    if not text.strip():
        return {}
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise bad_request(f"{messages.JSON_PARSE}: {exc}") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request(f"{messages.JSON_PARSE}: expected a JSON object")
    return body


def client_token(request: web.Request) -> str | None:
    token = request.headers.get("X-Vault-Token")
    if token:
        return token.strip()
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


def str_list(value: Any, name: str) -> list[str]:
    """Vault's comma-string-or-list parameters (policies, allowed_policies …)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise bad_request(f"invalid value for {name!r}: expected a list of strings or a comma-separated string")


def int_param(value: Any, name: str, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise bad_request(f"invalid value for {name!r}: expected an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid value for {name!r}: expected an integer") from None


def duration_param(value: Any, name: str) -> int:
    try:
        return parse_duration(value, name)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
