"""Puts replication into a node process: the model, its HTTP API and its transport.

``install(app, node)`` registers ``/v1/sys/replication/*`` on the API app and the streaming and
forwarding routes on the node's cluster-port app; ``gate(node, method, path)`` is the DR-secondary
request filter the server runs before authentication; ``modes(node)`` and ``transition(node)``
(the reconfiguration window) feed ``sys/health`` and ``sys/leader``.
"""

from __future__ import annotations

from typing import Any

from .. import messages
from ..crypto import activation
from . import forwarding, handlers, stream
from .core import CEREMONY_PATHS, DR_OPERATION_PATHS, JWT_KEY, Replication
from .models import ReplicationError

__all__ = ["install", "gate", "modes", "transition", "transition_health", "Replication", "ReplicationError"]


def _repl(node: Any) -> Replication | None:
    return getattr(node, "replication", None)


def install(app: Any, node: Any) -> Replication:
    repl = Replication(node, secondary_runner=stream.secondary_runner)
    node.replication = repl
    for path, handler in handlers.routes(repl):
        app.router.add_route("*", "/v1/" + path, handler)
    if node.cluster_app is not None:
        stream.install_routes(repl, node.cluster_app)
        forwarding.install(node, node.cluster_app)
    # These carry a dr_operation_token in the body instead of a client token (§2.17); the
    # handlers check it themselves.
    for path in DR_OPERATION_PATHS + CEREMONY_PATHS:
        node.add_unauthenticated(path)
    node.resolve_wrapping_jwt = lambda token: _resolve_jwt(node, token)
    try:
        repl.register_node()
    except Exception:  # storage busy at start-up; registration is retried on activation
        pass
    node.on_active(lambda: (repl.register_node(), repl.on_active()))
    node.on_standby(repl.on_standby)
    node.on_seal(repl.on_standby)
    app.on_cleanup.append(lambda _app: repl.close())
    return repl


def _resolve_jwt(node: Any, token: str) -> str:
    pem = node.storage.get(JWT_KEY)
    if pem is None:
        raise ValueError(messages.WRAPPING_TOKEN_INVALID)
    try:
        claims = activation.verify(token, activation.load_private_key(pem))
    except activation.ActivationTokenError as exc:
        raise ValueError(str(exc)) from None
    return claims["jti"]


def gate(node: Any, method: str, path: str):
    repl = _repl(node)
    if repl is None:
        return None
    return repl.gate(method, path)


def transition(node: Any) -> dict[str, Any] | None:
    """The replication window the node's cluster is in (None: none, or no replication)."""
    repl = _repl(node)
    return repl.transition() if repl is not None else None


def transition_health(node: Any) -> str:
    repl = _repl(node)
    return repl.transition_health() if repl is not None else "active"


def modes(node: Any) -> dict[str, str]:
    repl = _repl(node)
    if repl is None:
        return {"dr": "disabled", "performance": "disabled"}
    return repl.modes()
