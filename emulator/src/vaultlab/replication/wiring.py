"""Puts replication into a node process: the model, its HTTP API and its transport.

``install(app, cluster_app, node)`` registers ``/v1/sys/replication/*`` on the API app and the
streaming and forwarding routes on the cluster-port app, and attaches the replication model to
the node (its modes and reconfiguration window feed ``sys/health`` and ``sys/leader``);
``gate(node, method, path)`` is the DR-secondary request filter the server runs before
authentication.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import messages
from ..crypto import activation
from ..api import replication as replication_api
from ..node import Node
from . import forwarding, stream
from .core import CEREMONY_PATHS, DR_OPERATION_PATHS, JWT_KEY, Replication
from .peers import Peers

__all__ = ["install", "gate", "modes", "transition", "transition_health"]


def install(app: web.Application, cluster_app: web.Application, node: Node) -> Replication:
    repl = Replication(node, secondary_runner=stream.secondary_runner, peers=Peers(node.peer_headers()))
    node.attach_replication(
        repl,
        modes=lambda: modes(node),
        transition=lambda: transition(node) if transition_health(node) == "standby" else None,
        resolve_wrapping_jwt=lambda token: _resolve_jwt(node, token),
    )
    for path, handler in replication_api.routes(repl):
        app.router.add_route("*", "/v1/" + path, handler)
    stream.install_routes(repl, cluster_app)
    forwarding.install(node, cluster_app)
    # These carry a dr_operation_token in the body instead of a client token (§2.17); the
    # handlers check it themselves.
    for path in DR_OPERATION_PATHS + CEREMONY_PATHS:
        node.add_unauthenticated(path)
    try:
        repl.register_node()
    except Exception:  # storage busy at start-up; registration is retried on activation
        pass
    node.on_active(lambda: (repl.register_node(), repl.on_active()))
    node.on_standby(repl.on_standby)
    node.on_seal(repl.on_standby)
    app.on_cleanup.append(lambda _app: repl.close())
    return repl


def _resolve_jwt(node: Node, token: str) -> str:
    pem = node.storage.get(JWT_KEY)
    if pem is None:
        raise ValueError(messages.WRAPPING_TOKEN_INVALID)
    try:
        claims = activation.verify(token, activation.load_private_key(pem))
    except activation.ActivationTokenError as exc:
        raise ValueError(str(exc)) from None
    return claims["jti"]


def gate(node: Node, method: str, path: str) -> tuple[int, list[str]] | None:
    if node.replication is None:
        return None
    return node.replication.gate(method, path)


def transition(node: Node) -> dict[str, Any] | None:
    """The replication window the node's cluster is in (None: none, or no replication)."""
    return node.replication.transition() if node.replication is not None else None


def transition_health(node: Node) -> str:
    return node.replication.transition_health() if node.replication is not None else "active"


def modes(node: Node) -> dict[str, str]:
    if node.replication is None:
        return {"dr": "disabled", "performance": "disabled"}
    return node.replication.modes()
