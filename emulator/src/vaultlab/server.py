"""The node process: one aiohttp app on the API port, one on the cluster port.

Request pipeline for ``/v1/*`` (middleware, in this order): injected faults (client
partition, latency, 5xx burst) → sealed (503) → standby (307 to the active node) →
``replication.gate`` → token authentication and ACL (403) → handler (on a performance
secondary, writes to replicated state are sent on to the primary: see
:mod:`vaultlab.replication.forwarding`).  The control API lives
under ``/_vaultlab/`` and bypasses all of it; each of its handlers first checks that the
client is on loopback and sent the lab's control token (:mod:`vaultlab.crypto.control`),
else answers 403 and changes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from . import audit as audit_lib
from . import faults as faults_lib
from . import issued as issued_lib
from . import messages
from .api import auth as auth_handlers
from .api import audit as audit_handlers
from .api import auth_methods, generate_root, kv, snapshot
from .api import sys as sys_handlers
from .api.common import (VaultError, client_token, error_answer, error_response, operation, raw, read_body,
                              vault_path)
from .crypto import control
from .node import Node
from .replication import forwarding
from .replication import wiring as _replication

log = logging.getLogger("vaultlab.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]



def _abort(request: web.Request) -> web.Response:
    """Drop the connection without an answer, as an unreachable host would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)


async def _apply_faults(node: Node, request: web.Request) -> web.Response | None:
    peer = request.headers.get("X-Vaultlab-From-Cluster")
    if node.partitioned(None, "client") or (peer and peer != node.cluster_name and node.partitioned(peer, "client")):
        return _abort(request)
    if node.latency_ms > 0:
        await asyncio.sleep(node.latency_ms / 1000.0)
    status = node.take_injected_error()
    if status is not None:
        return error_response(status, [f"vaultlab injected fault: HTTP {status}"])
    return None


def _existing(node: Node, path: str) -> bool:
    """Vault's existence check, to choose between the create and update capabilities."""
    for prefix, getter in (("sys/policies/acl/", node.tokens.get_policy), ("sys/policy/", node.tokens.get_policy),
                           ("auth/token/roles/", node.tokens.get_role)):
        if path.startswith(prefix):
            return getter(path[len(prefix):].strip("/")) is not None
    return kv.exists(node, path)


async def _serve(node: Node, request: web.Request, handler: Handler, vpath: str) -> web.StreamResponse:
    """Authenticate, authorise and run the handler (forwarded on a performance secondary)."""
    if not node.is_unauthenticated(vpath):
        token = client_token(request)
        entry = node.tokens.lookup_token(token)
        if entry is None:
            raise VaultError(403, [messages.PERMISSION_DENIED])
        capability = operation(request)
        if capability == "update" and not _existing(node, vpath):
            capability = "create"
        acl_path = vpath
        if capability == "list" and not acl_path.endswith("/"):
            acl_path += "/"  # Vault checks list permission on the folder form of the path
        if not node.tokens.allowed(entry, acl_path, capability):
            raise VaultError(403, [messages.PERMISSION_DENIED])
        node.tokens.use_token(token, entry)
        request["vault_token"] = token
        request["vault_token_entry"] = entry
    if forwarding.applies(node, request.method, vpath):
        return await forwarding.run(node, request, handler)
    return await handler(request)


async def _audit_begin(node: Node, request: web.Request, vpath: str) -> audit_lib.Context | None:
    """Log the request to the node's audit devices; refuse it (500) when none can."""
    if vpath in audit_lib.NOT_AUDITED or not audit_lib.devices(node) or not audit_lib.active(node):
        return None
    body: Any = None
    if request.can_read_body and request.content_type != "application/octet-stream":
        try:
            text = await request.text()
            body = json.loads(text) if text.strip() else None
        except (ValueError, UnicodeDecodeError):
            body = None
    token = client_token(request)
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    context = audit_lib.Context(node, request.method, vpath, operation(request), peer[0] if peer else "",
                                body if isinstance(body, dict) else None, token, node.tokens.lookup_token(token))
    try:
        context.log_request()
    except audit_lib.AuditFailure:
        raise VaultError(500, [messages.AUDIT_BLOCKED]) from None
    return context


def _audit_end(context: audit_lib.Context, response: web.StreamResponse) -> None:
    body = None
    if isinstance(response, web.Response) and response.content_type == "application/json" and response.text:
        try:
            body = json.loads(response.text)
        except ValueError:
            body = None
    try:
        context.log_response(response.status, body)
    except audit_lib.AuditFailure:
        # Vault fails the request when the response cannot be audited, even though it ran.
        raise VaultError(500, [messages.AUDIT_BLOCKED]) from None


async def _record_issued(node: Node, request: web.Request, vpath: str, response: web.StreamResponse) -> None:
    """Journal the secrets a response hands out (``vaultlab up --record-secrets``; see
    :mod:`vaultlab.issued`), and the OTP a client chose for a ceremony it starts."""
    pairs: list[tuple[str, str]] = []
    text = response.text if isinstance(response, web.Response) and response.content_type == "application/json" else ""
    if text and issued_lib.may_hold_secret(text):
        try:
            pairs += issued_lib.extract(json.loads(text))
        except ValueError:
            pass
    if vpath.endswith("/attempt") and request.can_read_body:
        try:
            body = json.loads(await request.text() or "null")
        except (ValueError, UnicodeDecodeError):
            body = None
        pairs += [(field, value) for field, value in issued_lib.extract(body) if field == "otp"]
    if pairs:
        issued_lib.record(node.dir, node.name, vpath, pairs)


def make_middleware(node: Node) -> Any:
    @web.middleware
    async def vault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_vaultlab/"):
            return await handler(request)
        injected = await _apply_faults(node, request)
        if injected is not None:
            return injected
        head = request.method == "HEAD"
        if not path.startswith("/v1/"):
            return error_response(404, [], head=head)
        vpath = vault_path(request)
        try:
            if node.sealed and not node.is_sealed_allowed(vpath):
                raise VaultError(503, [messages.SEALED])
            if node.standby and not node.is_standby_local(vpath):
                current = node.leader()
                if not current or not current.get("api_addr"):
                    raise VaultError(500, ["local node not active but active cluster node not found"])
                # Like Vault: a bare 307 with Location and no body.
                return web.Response(status=307, headers={"Location": current["api_addr"] + request.path_qs})
            verdict = _replication.gate(node, request.method, vpath)
            if verdict and verdict[1] == [messages.DR_SECONDARY_PATH_DISABLED] and \
                    node.is_dr_secondary_allowed(vpath):
                verdict = None
            if verdict:
                status, errors = verdict
                raise VaultError(status, errors)
            audit = await _audit_begin(node, request, vpath)
            try:
                response = await _serve(node, request, handler, vpath)
            except VaultError as exc:
                response = error_answer(exc, head=head)
            if audit is not None:
                _audit_end(audit, response)
            if issued_lib.enabled(node.config):
                await _record_issued(node, request, vpath, response)
            return response
        except VaultError as exc:
            return error_answer(exc, head=head)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, path)
            return error_response(500, [messages.INTERNAL], head=head)

    return vault_middleware


def make_cluster_middleware(node: Node) -> Any:
    @web.middleware
    async def cluster_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.headers.get("X-Vaultlab-From-Cluster")
        if node.partitioned(None, "replication") or (
            peer and peer != node.cluster_name and node.partitioned(peer, "replication")
        ):
            return _abort(request)
        if node.latency_ms > 0:
            await asyncio.sleep(node.latency_ms / 1000.0)
        return await handler(request)

    return cluster_middleware


# -- control API --------------------------------------------------------------------------

CONTROL_DENIED = (f"vaultlab control API: missing or wrong {control.HEADER} header (the token is in the "
                  f"lab directory's {control.FILE_NAME} file; 'vaultlab ctl' sends it, 'vaultlab env' "
                  f"exports it as {control.ENV_NAME})")
CONTROL_LOOPBACK_ONLY = "vaultlab control API: loopback clients only"


def control_refusal(request: web.Request, token: str | None) -> web.Response | None:
    """403 unless the request comes from loopback with the lab's control token; None to go on.

    The nodes bind 127.0.0.1 only, so the peer check is a second line of defence.  Neither the
    token nor what the client sent is ever logged or echoed.
    """
    try:
        loopback = ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        log.warning("control API request refused: %s %s from %s (not loopback)",
                    request.method, request.path, request.remote)
        return error_response(403, [CONTROL_LOOPBACK_ONLY])
    given = request.headers.get(control.HEADER)
    if not control.matches(token, given):
        log.warning("control API request refused: %s %s (%s control token)", request.method, request.path,
                    "wrong" if given else "no")
        return error_response(403, [CONTROL_DENIED])
    return None


def control_routes(node: Node, token: str | None = None) -> web.RouteTableDef:
    """The ``/_vaultlab/`` routes; with no ``token`` every request is refused."""
    routes = web.RouteTableDef()

    def guarded(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def check_first(request: web.Request) -> web.StreamResponse:
            refusal = control_refusal(request, token)
            return refusal if refusal is not None else await handler(request)

        return check_first

    @routes.get("/_vaultlab/state")
    @guarded
    async def state(request: web.Request) -> web.Response:
        return raw(node.state())

    @routes.post("/_vaultlab/seal")
    @guarded
    async def seal(request: web.Request) -> web.Response:
        node.seal()
        return raw(node.state())

    @routes.post("/_vaultlab/step-down")
    @guarded
    async def step_down(request: web.Request) -> web.Response:
        node.step_down()
        return raw(node.state())

    @routes.post("/_vaultlab/fault")
    @guarded
    async def fault(request: web.Request) -> web.Response:
        try:
            body = await read_body(request)
            kind = body.get("kind")
            if kind == "latency":
                ms = float(body.get("ms", 0))
                if ms < 0:
                    raise ValueError("'ms' must not be negative")
                node.set_latency(ms)
            elif kind == "errors":
                count = int(body.get("count", 1))
                status = int(body.get("status", 503))
                if count < 0 or not 500 <= status <= 599:
                    raise ValueError("'count' must be >= 0 and 'status' a 5xx code")
                node.set_error_burst(count, status)
            elif kind == "partition":
                clusters = body.get("clusters") or [node.cluster_name]
                faults_lib.add_partition(node.dir, list(clusters), body.get("traffic", "both"))
            else:
                raise ValueError("'kind' must be one of latency, errors, partition")
        except VaultError as exc:
            return error_answer(exc)
        except (TypeError, ValueError) as exc:
            return error_response(400, [str(exc)])
        return raw(node.state())

    @routes.post("/_vaultlab/reset-faults")
    @guarded
    async def reset_faults(request: web.Request) -> web.Response:
        body = await read_body(request)
        node.set_latency(0.0)
        node.set_error_burst(0, 503)
        if body.get("partitions"):
            faults_lib.heal(node.dir)
        return raw(node.state())

    return routes


# -- app assembly ---------------------------------------------------------------------------


def build_apps(node: Node, control_token: str | None = None) -> tuple[web.Application, web.Application]:
    app = web.Application(middlewares=[make_middleware(node)], client_max_size=32 * 1024 * 1024)
    app["node"] = node
    app["version"] = node.version
    cluster_app = web.Application(middlewares=[make_cluster_middleware(node)], client_max_size=256 * 1024 * 1024)
    cluster_app["node"] = node

    def add(path: str, handler: Handler) -> None:
        app.router.add_route("*", "/v1/" + path, handler)

    add("sys/init", sys_handlers.init)
    add("sys/seal-status", sys_handlers.seal_status)
    add("sys/unseal", sys_handlers.unseal)
    add("sys/seal", sys_handlers.seal)
    add("sys/step-down", sys_handlers.step_down)
    add("sys/health", sys_handlers.health)
    add("sys/leader", sys_handlers.leader)
    add("sys/generate-root/attempt", generate_root.attempt)
    add("sys/generate-root/update", generate_root.update_handler)
    add("sys/decode-token", generate_root.decode_token)
    add("sys/wrapping/unwrap", sys_handlers.unwrap)
    add("sys/wrapping/lookup", sys_handlers.wrapping_lookup)
    add("sys/wrapping/wrap", sys_handlers.wrap)
    add("sys/policies/acl", auth_handlers.policies_acl)
    add("sys/policies/acl/{name:.+}", auth_handlers.policies_acl)
    add("sys/policy", auth_handlers.policy_legacy)
    add("sys/policy/{name:.+}", auth_handlers.policy_legacy)
    add("sys/mounts", kv.mounts)
    add("sys/audit", audit_handlers.audit)
    add("sys/audit/{path:.*}", audit_handlers.audit)
    add("sys/audit-hash/{path:.*}", audit_handlers.audit_hash)
    add("sys/auth", auth_methods.auth)
    add("sys/auth/{path:.*}", auth_methods.auth)
    add("sys/storage/raft/snapshot", snapshot.snapshot)
    add("sys/storage/raft/snapshot-force", snapshot.snapshot_force)
    add("sys/mounts/{path:.*}", kv.mounts)
    add("auth/token/create", auth_handlers.token_create)
    add("auth/token/{suffix:create-orphan}", auth_handlers.token_create)
    add("auth/token/create/{role:[^/]+}", auth_handlers.token_create)
    add("auth/token/roles", auth_handlers.token_roles)
    add("auth/token/roles/{name:.+}", auth_handlers.token_roles)
    add("auth/token/lookup-self", auth_handlers.lookup_self)
    add("auth/token/lookup", auth_handlers.lookup)
    add("auth/token/revoke-self", auth_handlers.revoke_self)
    add("auth/token/revoke", auth_handlers.revoke)
    add("auth/token/renew-self", auth_handlers.renew_self)
    app.add_routes(control_routes(node, control_token))

    if not os.environ.get("VAULTLAB_NO_REPLICATION"):
        try:
            _replication.install(app, cluster_app, node)
        except Exception:
            log.exception("replication.install failed; this node runs without replication")
    # Registered last: every path no other route claims is resolved against the mount table.
    app.router.add_route("*", "/v1/{tail:.*}", kv.logical)
    return app, cluster_app


# -- process entry point ------------------------------------------------------------------


# Fresh nodes listen below Linux's default ephemeral range (32768-60999), so that a port
# recorded for a node is not taken by some outgoing connection while the node is stopped.
_PORT_RANGE = (20000, 32000)


def _bind(port: int) -> socket.socket:
    if port:
        return _bind_exact(port)
    import random

    rng = random.SystemRandom()  # forked siblings must not share one pseudo-random sequence
    for _ in range(64):
        try:
            return _bind_exact(rng.randrange(*_PORT_RANGE))
        except OSError:
            continue
    return _bind_exact(0)


def _bind_exact(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def api_ssl_context(node: Node) -> Any:
    """The API listener's TLS; with ``require_client_cert`` (``vaultlab up --require-client-cert``,
    Vault's ``tls_require_and_verify_client_cert``) the handshake needs a client certificate from
    the cluster's client CA, or one from the lab CA (the lab's own calls and other lab nodes,
    e.g. a secondary unwrapping its activation token, show their node certificate)."""
    import ssl

    from .crypto import tls

    context = tls.server_context(node.config["server_cert"], node.config["server_key"])
    if node.config.get("require_client_cert"):
        client_ca = ((node.config.get("client_tls") or {}).get(node.cluster_name) or {}).get("ca")
        for ca_file in (client_ca, node.config.get("ca_cert")):
            if ca_file:
                context.load_verify_locations(cafile=ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def node_file(lab_dir: Path, cluster: str, name: str) -> Path:
    return lab_dir / "clusters" / cluster / "nodes" / f"{name}.json"


def _write_json(path: Path, data: dict[str, Any], mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


async def serve(lab_dir: Path, cluster: str, name: str) -> None:
    control_token = control.read(lab_dir)
    if control_token is None:
        raise control.ControlTokenError(f"no control token in {control.path_of(lab_dir)}; start nodes with "
                                        "'vaultlab up'")
    record_path = node_file(lab_dir, cluster, name)
    try:
        record = json.loads(record_path.read_text())
    except (FileNotFoundError, ValueError):
        record = {}
    api_sock = _bind(int(record.get("api_port", 0)))
    cluster_sock = _bind(int(record.get("cluster_port", 0)))
    node = Node(lab_dir, cluster, name, api_port=api_sock.getsockname()[1],
                cluster_port=cluster_sock.getsockname()[1])
    audit_lib.node_data_dir(node)  # relative audit file paths resolve in it
    ssl_ctx = cluster_ctx = None
    app, cluster_app = build_apps(node, control_token)
    if node.tls:
        from .crypto import tls
        from .transport import cluster_tls

        ssl_ctx = api_ssl_context(node)
        # The cluster port speaks mutual TLS with the replication CAs (transport.cluster_tls).
        cluster_ctx = cluster_tls.Listener(
            node.config["server_cert"], node.config["server_key"], name,
            lambda t: node.replication.load(t) if node.replication is not None else None).context
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    cluster_runner = web.AppRunner(cluster_app, access_log=None, handle_signals=False)
    await runner.setup()
    await cluster_runner.setup()
    await web.SockSite(runner, api_sock, ssl_context=ssl_ctx).start()
    await web.SockSite(cluster_runner, cluster_sock, ssl_context=cluster_ctx).start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ha_task = asyncio.ensure_future(node.run_ha())
    _write_json(record_path, {
        "pid": os.getpid(),
        "api_port": node.api_port,
        "cluster_port": node.cluster_port,
        "api_addr": node.api_addr,
        "cluster_addr": node.cluster_addr,
        "started": time.time(),
    })
    log.info("node %s/%s serving %s (cluster %s)", cluster, name, node.api_addr, node.cluster_addr)
    await stop.wait()
    log.info("shutting down")
    ha_task.cancel()
    node.shutdown()
    await runner.cleanup()
    await cluster_runner.cleanup()


def run(lab_dir: str, cluster: str, name: str) -> int:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s {cluster}/{name} %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(Path(lab_dir), cluster, name))
    except (OSError, control.ControlTokenError) as exc:
        log.error("cannot start node: %s", exc)
        return 1
    return 0


def _set_process_name(title: str) -> None:
    """Name the forked node in ps/top (its command line is still the launcher's)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, title.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def proc_start(pid: int | str = "self") -> str | None:
    """When a process started (``/proc/<pid>/stat`` field 22, clock ticks since boot), or None
    without /proc.  With the pid it names a process for good (a pid is reused, but never with the
    same start time; processes forked together can share one)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def launch(lab_dir: str, nodes: list[tuple[str, str]]) -> int:
    """Fork one detached node process per ``(cluster, node)`` and return.

    Runs in the short-lived launcher process after the server modules are imported, so
    every node starts without paying for interpreter start-up and imports again.  Each
    child writes its own ``run/<node>.start`` (its pid and process start time, see
    ``proc_start``) and ``run/<node>.pid`` first thing.
    """
    base = Path(lab_dir)
    for cluster, name in nodes:
        log_path = base / "logs" / f"{name}.log"
        pid = os.fork()
        if pid == 0:  # child: become the node
            code = 1
            try:
                # .start names the process for good: its pid and start time (nodes forked
                # together can share a start time, a reused pid never has its old one).
                for suffix, text in ((".start", f"{os.getpid()} {proc_start() or ''}"), (".pid", str(os.getpid()))):
                    path = base / "run" / f"{name}{suffix}"
                    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                    tmp.write_text(f"{text}\n")
                    os.replace(tmp, path)
                os.setsid()
                _set_process_name(f"vaultlab:{name}")
                fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                os.chmod(log_path, 0o600)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.close(fd)
                os.close(null)
                code = run(lab_dir, cluster, name)
            except BaseException:  # never fall back into the launcher's loop
                import traceback

                traceback.print_exc()
            finally:
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
    return 0


def serve_launches() -> int:
    """A launcher kept for a process that starts many labs (``vaultlab launch --serve``).

    It imports the server modules once and then, for each request, does what a one-shot
    launcher does: the nodes it forks run the same code with the same files, environment
    and working directory, detached in their own sessions.  Requests come one JSON object a
    line on stdin, ``{"dir": LAB_DIR, "nodes": [[CLUSTER, NODE], ...], "env": {...}}``; each
    is answered with one line ``{"exit": CODE}`` once its nodes are forked (CODE as a
    one-shot launcher's exit status).  A short-lived child per request does the forking, so
    the nodes are nobody's children once it exits, as with the one-shot launcher.  The first
    line it writes, ``{"ready": true}``, says the imports are done.  Ends at the end of its
    input, i.e. when the process that started it has gone.
    """
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        try:
            request = json.loads(line)
            lab_dir, env = str(request["dir"]), dict(request["env"])
            nodes = [(str(c), str(n)) for c, n in request["nodes"]]
        except (ValueError, KeyError, TypeError) as exc:
            sys.stdout.write(json.dumps({"exit": 2, "error": f"bad request: {exc}"}) + "\n")
            sys.stdout.flush()
            continue
        pid = os.fork()
        if pid == 0:  # the one-shot launcher of this request
            code = 1
            try:
                os.chdir(lab_dir)
                os.environ.clear()
                os.environ.update(env)
                fd = os.open(Path(lab_dir) / "logs" / "launcher.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)  # the nodes hold no end of the request pipes
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.close(fd)
                os.close(null)
                code = launch(lab_dir, nodes)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(json.dumps({"exit": os.waitstatus_to_exitcode(status)}) + "\n")
        sys.stdout.flush()
