"""Start, stop and inspect a lab: node processes, lab.json and inventory.yml.

Layout of a lab directory::

    config.json            lab settings read by every node (profile, timings, TLS paths, clusters,
                           emulated Vault version, [?] switches under "replication")
    lab.json               addresses, root tokens and unseal keys (0600)
    control-token          the token every /_vaultlab/ request must carry (0600; vaultlab.crypto.control)
    inventory.yml          Ansible inventory, no secrets
    faults.json            partitions (see vaultlab.faults)
    clusters/<c>/storage.db, clusters/<c>/nodes/<node>.json (ports, pid)
    logs/<node>.log        node output (0600)
    run/<node>.pid, run/<node>.start   the node's pid; its pid and process start time (which process it is)
    tls/                   lab CA and the server certificate (with --tls)
    issued-secrets.jsonl   with --record-secrets: every secret the nodes handed out (0600; see
                           vaultlab.issued)

Everything here is synchronous and uses only the standard library for HTTP, so the CLI
starts quickly and a test process can drive labs without an event loop.
"""

from __future__ import annotations

import atexit
import base64
import http.client
import json
import os
import re
import select
import signal
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import faults as faults_lib
from . import profiles, versions
from .crypto import control

DEFAULT_CLUSTERS = (("primary", 1), ("dr", 1), ("perf", 1))
DEFAULT_SHARES = 5
DEFAULT_THRESHOLD = 3
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")



class LabError(Exception):
    """A lab operation failed; the message is one line meant for the user."""


# -- small helpers ---------------------------------------------------------------------------


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise LabError(f"{path} is not valid JSON ({exc}); remove it or the whole lab directory") from None


def parse_cluster_spec(spec: str) -> tuple[str, int]:
    """``NAME`` or ``NAME:NODES`` → (name, nodes)."""
    name, sep, count = spec.partition(":")
    name = name.strip()
    if not NAME_RE.match(name):
        raise LabError(
            f"--cluster {spec!r}: name must start with a lowercase letter and contain only "
            "lowercase letters, digits, '-' or '_' (max 31 characters)"
        )
    nodes = 1
    if sep:
        try:
            nodes = int(count)
        except ValueError:
            raise LabError(f"--cluster {spec!r}: NODES must be a number, e.g. {name}:3") from None
        if not 1 <= nodes <= 9:
            raise LabError(f"--cluster {spec!r}: NODES must be between 1 and 9")
    return name, nodes


def node_names(cluster: str, count: int) -> list[str]:
    return [f"{cluster}-{i}" for i in range(1, count + 1)]


class Client:
    """Tiny HTTP(S) client for the lab's own calls (no redirects followed).

    With ``control_token`` it sends the lab's control token on ``/_vaultlab/`` paths only, so
    the token never travels with a Vault API call.
    """

    def __init__(self, ca_cert: str | None = None, timeout: float = 5.0, control_token: str | None = None) -> None:
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_cert) if ca_cert else None
        self.control_token = control_token

    def request(self, method: str, url: str, body: Any = None, token: str | None = None,
                timeout: float | None = None) -> tuple[int, Any]:
        parts = urlsplit(url)
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout or self.timeout, context=self.context)
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout or self.timeout)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Vault-Token"] = token
        if self.control_token and parts.path.startswith(control.PREFIX):
            headers[control.HEADER] = self.control_token
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data


# -- the lab ---------------------------------------------------------------------------------


def _node_env() -> dict[str, str]:
    """The environment nodes run in: the caller's, with this package first on the path."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("VAULT_TOKEN", None)
    # aiohttp's C parser rejects the LIST method that Vault clients send; the pure
    # Python parser accepts any token method.
    env["AIOHTTP_NO_EXTENSIONS"] = "1"
    return env


def _launch_argv() -> list[str]:
    return [sys.executable, "-m", "vaultlab", "launch"]


class LaunchServer:
    """One ``vaultlab launch --serve`` process kept for the process that started it.

    A one-shot launcher pays for an interpreter start-up and the server imports (about 0.6
    CPU-seconds) on every lab start and node restart; a test process starts dozens of labs.
    The launch server pays once and forks the nodes of each later request: they are the
    same detached processes running the same code, only their command line is the
    server's (``_is_our_node`` then recognises them by the pid and start time they recorded).  It
    exits when this process does (end of its stdin).  If it does not come up (it says when
    its imports are done) or is gone before it reads a request, ``launch`` returns None and
    the caller uses a one-shot launcher; a request it read but did not answer is an error
    (its nodes may be running).  Nodes read their environment at run time from the request;
    only what is read at import time (aiohttp's AIOHTTP_NO_EXTENSIONS, always set for
    nodes) comes from the server's start.
    """

    _lock = threading.Lock()
    _proc: subprocess.Popen[bytes] | None = None
    _owner = 0  # the pid that started _proc (a forked child must not share its pipes)

    @classmethod
    def launch(cls, lab_dir: Path, nodes: list[tuple[str, str]], env: dict[str, str],
               timeout: float) -> int | None:
        request = json.dumps({"dir": str(lab_dir), "nodes": [list(n) for n in nodes], "env": env}) + "\n"
        with cls._lock:
            proc = cls._server(env, timeout)
            if proc is None or proc.stdin is None or proc.stdout is None:
                return None
            try:
                proc.stdin.write(request.encode())
                proc.stdin.flush()
            except OSError:  # it is gone (and never read this request)
                cls._close()
                return None
            try:
                ready, _, _ = select.select([proc.stdout], [], [], timeout)
                answer = json.loads(proc.stdout.readline()) if ready else None
                return int(answer["exit"])
            except (OSError, ValueError, KeyError, TypeError):
                # It read the request and may have forked nodes: starting them again from a
                # one-shot launcher could run two copies of a node.
                cls._close(kill=True)
                raise LabError(f"the node launch server did not answer within {timeout:.0f}s "
                               f"(see {lab_dir / 'logs'})") from None

    @classmethod
    def _server(cls, env: dict[str, str], timeout: float) -> subprocess.Popen[bytes] | None:
        """The running launch server, started if need be; None if it does not come up."""
        if cls._proc is not None and (cls._owner != os.getpid() or cls._proc.poll() is not None):
            cls._proc = None
        if cls._proc is None:
            try:
                proc = subprocess.Popen([*_launch_argv(), "--serve"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        start_new_session=True, close_fds=True, env=env,
                                        cwd=str(Path(__file__).resolve().parent.parent))
            except OSError:
                return None
            cls._proc, cls._owner = proc, os.getpid()
            try:
                ready, _, _ = select.select([proc.stdout], [], [], timeout)
                if not (ready and proc.stdout is not None and json.loads(proc.stdout.readline())["ready"]):
                    raise ValueError("not ready")
            except (OSError, ValueError, KeyError, TypeError):
                # It could not import the server (a one-shot launcher then logs why) or is too slow.
                cls._close(kill=True)
                return None
        return cls._proc

    @classmethod
    def _close(cls, kill: bool = False) -> None:
        proc, cls._proc = cls._proc, None
        if proc is None or cls._owner != os.getpid():
            return
        if kill:
            proc.kill()
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


atexit.register(lambda: LaunchServer._close())


class Supervisor:
    """Operations on one lab directory."""

    def __init__(self, lab_dir: str | os.PathLike[str], shared_launcher: bool = False) -> None:
        """``shared_launcher``: fork nodes from one launcher kept for this process (see
        ``LaunchServer``) instead of starting a launcher per spawn; for test processes that
        start many labs."""
        self.dir = Path(lab_dir).resolve()
        self.shared_launcher = shared_launcher

    # -- files --------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.dir / "config.json"

    @property
    def lab_path(self) -> Path:
        return self.dir / "lab.json"

    def config(self) -> dict[str, Any]:
        config = _read_json(self.config_path)
        if config is None:
            raise LabError(f"no lab in {self.dir}: run 'vaultlab up --dir {self.dir}' first")
        return config

    def lab(self) -> dict[str, Any]:
        data = _read_json(self.lab_path)
        if data is None:
            raise LabError(f"no lab.json in {self.dir}: run 'vaultlab up --dir {self.dir}' first")
        return data

    def client(self, config: dict[str, Any] | None = None) -> Client:
        config = config or self.config()
        client = Client(config.get("ca_cert") if config.get("tls") else None, control_token=self.control_token())
        if config.get("require_client_cert") and client.context is not None:
            # The lab's own calls show the node certificate (the API listeners trust the lab CA
            # as an issuer of client certificates too, see server.api_ssl_context).
            client.context.load_cert_chain(config["server_cert"], config["server_key"])
        return client

    def control_token(self) -> str | None:
        """The lab's control token (None before the first ``up``); see :mod:`vaultlab.crypto.control`."""
        try:
            return control.read(self.dir)
        except control.ControlTokenError as exc:
            raise LabError(str(exc)) from None

    def pid_path(self, node: str) -> Path:
        return self.dir / "run" / f"{node}.pid"

    def node_record(self, cluster: str, node: str) -> dict[str, Any] | None:
        return _read_json(self.dir / "clusters" / cluster / "nodes" / f"{node}.json")

    # -- processes -----------------------------------------------------------------------

    def node_pid(self, node: str) -> int | None:
        """PID of the running node process, or None (stale pid files are ignored)."""
        try:
            pid = int(self.pid_path(node).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _is_our_node(pid, node, self.dir) else None

    def spawn(self, nodes: list[tuple[str, str]], timeout: float = 30.0) -> dict[str, str]:
        """Start ``(cluster, node)`` processes and wait until each serves; return {node: cluster}.

        One launcher process imports the server code once and forks every node from it
        (``vaultlab launch``), which starts a lab several times faster than one full
        interpreter start-up per node.  Each node runs in its own session, detached from
        the caller, with stdout/stderr in ``logs/<node>.log``, and writes ``run/<node>.pid``
        itself, so readiness does not depend on when the launcher gets to exit.
        """
        if not nodes:
            return {}
        (self.dir / "logs").mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.dir / "run").mkdir(parents=True, exist_ok=True)
        self._ensure_control_token()  # also for a lab made before nodes required one
        for _, node in nodes:
            self.pid_path(node).unlink(missing_ok=True)
            self.pid_path(node).with_suffix(".start").unlink(missing_ok=True)
        env = _node_env()
        started = {node: cluster for cluster, node in nodes}
        launcher_log = self.dir / "logs" / "launcher.log"
        if self.shared_launcher:
            code = LaunchServer.launch(self.dir, nodes, env, timeout)
            if code is not None:  # None: no launch server in this process; a one-shot launcher does it
                if code != 0:
                    raise LabError(f"the node launcher failed (exit {code}): {_last_log_line(launcher_log)}")
                self.wait_ready(started, timeout)
                return started
        argv = [*_launch_argv(), "--dir", str(self.dir)]
        for cluster, node in nodes:
            argv += ["--node", f"{cluster}/{node}"]
        fd = os.open(launcher_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            launcher = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                                        start_new_session=True, close_fds=True, env=env, cwd=str(self.dir))
        finally:
            os.close(fd)
        try:
            self.wait_ready(started, timeout, launcher)
        finally:
            try:
                launcher.wait(timeout=5)  # it exits right after forking; reap it
            except subprocess.TimeoutExpired:
                pass
        return started

    def wait_ready(self, started: dict[str, str], timeout: float,
                   launcher: subprocess.Popen[bytes] | None = None) -> None:
        """Wait until every started node has written its pid file and address record."""
        deadline = time.monotonic() + timeout
        pending = dict(started)
        launcher_log = self.dir / "logs" / "launcher.log"
        while pending:
            for node, cluster in list(pending.items()):
                try:
                    pid = int(self.pid_path(node).read_text().strip())
                except (FileNotFoundError, ValueError):
                    pid = None
                record = self.node_record(cluster, node)
                if pid is not None and record and record.get("pid") == pid:
                    del pending[node]
                elif pid is not None and not _alive(pid):
                    raise LabError(f"node {node} exited during start-up: "
                                   f"{_last_log_line(self.dir / 'logs' / f'{node}.log')}")
            if pending and launcher is not None and launcher.poll() not in (None, 0):
                raise LabError(f"the node launcher failed (exit {launcher.returncode}): "
                               f"{_last_log_line(launcher_log)}")
            if pending and time.monotonic() > deadline:
                raise LabError(f"nodes {', '.join(sorted(pending))} did not start within {timeout:.0f}s; "
                               f"see {self.dir / 'logs'}")
            if pending:
                time.sleep(0.01)

    def stop_node(self, node: str, sig: int = signal.SIGTERM, grace: float = 3.0) -> bool:
        pid = self.node_pid(node)
        if pid is None:
            self.pid_path(node).unlink(missing_ok=True)
            return False
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while _alive(pid):
                time.sleep(0.01)
        self.pid_path(node).unlink(missing_ok=True)
        self.pid_path(node).with_suffix(".start").unlink(missing_ok=True)
        return True

    # -- up ---------------------------------------------------------------------------------

    def up(
        self,
        clusters: list[tuple[str, int]] | None = None,
        tls: bool = False,
        profile: str = "fast",
        timing: dict[str, float] | None = None,
        timeout: float = 30.0,
        vault_version: str | None = None,
        require_client_cert: bool = False,
        record_secrets: bool = False,
    ) -> dict[str, Any]:
        profiles.resolve(profile, timing)  # validate before touching anything
        try:
            requested = versions.normalise(vault_version) if vault_version else None
        except versions.VersionError as exc:
            raise LabError(str(exc)) from None
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self._ensure_control_token()
        config = _read_json(self.config_path) or {}
        current = config.get("vault_version") or versions.DEFAULT
        if requested and requested != current:
            running = [n for ns in (config.get("clusters") or {}).values() for n in ns if self.node_pid(n) is not None]
            if running:
                raise LabError(f"--vault-version {requested}: the lab's running nodes emulate Vault {current}; "
                               f"stop them first (vaultlab down --dir {self.dir}), then run up again")
            config["vault_version"] = requested
        try:  # a bad switch would stop every node at start-up: refuse it here, by name
            versions.v2_auth(config.get("vault_version") or versions.DEFAULT,
                             versions.switches(config).get("v2_auth_backport"))
        except versions.VersionError as exc:
            raise LabError(str(exc)) from None
        wanted = {name: len(nodes) for name, nodes in (config.get("clusters") or {}).items()}
        for name, count in clusters or ([] if wanted else list(DEFAULT_CLUSTERS)):
            wanted[name] = max(count, wanted.get(name, 0))
        config["clusters"] = {name: node_names(name, count) for name, count in wanted.items()}
        config["profile"] = profile
        config["timing"] = {**(config.get("timing") or {}), **(timing or {})}
        config["tls"] = bool(tls or config.get("tls"))
        if require_client_cert and not config.get("require_client_cert"):
            if not config["tls"]:
                raise LabError("--require-client-cert needs --tls: client certificates are part of TLS")
            running = [n for ns in (config.get("clusters") or {}).values() for n in ns if self.node_pid(n) is not None]
            if running:
                raise LabError("--require-client-cert: the lab's nodes are running without it; stop them first "
                               f"(vaultlab down --dir {self.dir}), then run up again")
        config["require_client_cert"] = bool(require_client_cert or config.get("require_client_cert"))
        if record_secrets:  # kept for the lab's life: restarted nodes go on recording
            config["record_secrets"] = True
        if config["tls"]:
            from .crypto import tls as tls_lib

            tls_dir = self.dir / "tls"
            ca = tls_lib.ensure_ca(tls_dir)
            server_cert = tls_dir / "server.pem"
            if not server_cert.exists():
                tls_lib.issue_server_cert(ca, ("localhost",), ("127.0.0.1",), name="server", directory=tls_dir)
            config["ca_cert"] = str(ca.cert_path)
            config["server_cert"] = str(server_cert)
            config["server_key"] = str(tls_dir / "server-key.pem")
            if config["require_client_cert"]:
                config["client_tls"] = _client_certificates(tls_lib, tls_dir, list(config["clusters"]))
        else:
            config["ca_cert"] = None
        _write_private(self.config_path, json.dumps(config, indent=1))

        missing = [(cluster, node) for cluster, nodes in config["clusters"].items() for node in nodes
                   if self.node_pid(node) is None]
        try:
            self.spawn(missing, timeout)
            lab = _read_json(self.lab_path) or {"clusters": {}}
            client = self.client(config)
            with ThreadPoolExecutor(max_workers=max(1, len(config["clusters"]))) as pool:
                results = list(pool.map(lambda c: self._bring_up(client, lab, config, c, timeout),
                                        config["clusters"]))
            for name, info in results:
                lab["clusters"][name] = info
        except BaseException:
            for _, node in missing:  # also nodes a failed launcher forked before failing
                self.stop_node(node, signal.SIGKILL, grace=0)
            raise
        lab["profile"] = profile
        lab["vault_version"] = config.get("vault_version") or versions.DEFAULT
        lab["timing"] = config["timing"]
        lab["tls"] = config["tls"]
        lab["ca_cert"] = config["ca_cert"]
        lab["require_client_cert"] = config["require_client_cert"]
        for name, files in (config.get("client_tls") or {}).items():
            if name in lab["clusters"]:
                lab["clusters"][name].update(client_cert=files["cert"], client_key=files["key"])
        lab["dir"] = str(self.dir)
        self._write_outputs(lab)
        return lab

    def _ensure_control_token(self) -> str:
        try:
            return control.ensure(self.dir)
        except (OSError, control.ControlTokenError) as exc:
            raise LabError(f"cannot set up the lab's control token: {exc}") from None

    def _bring_up(self, client: Client, lab: dict[str, Any], config: dict[str, Any], cluster: str,
                  timeout: float) -> tuple[str, dict[str, Any]]:
        nodes = config["clusters"][cluster]
        urls = [self.node_record(cluster, n)["api_addr"] for n in nodes]
        info = dict(lab["clusters"].get(cluster) or {})
        status, body = client.request("GET", urls[0] + "/v1/sys/init")
        if status != 200:
            raise LabError(f"cluster {cluster}: GET sys/init answered HTTP {status}")
        if not body["initialized"]:
            status, result = client.request("PUT", urls[0] + "/v1/sys/init",
                                            {"secret_shares": DEFAULT_SHARES, "secret_threshold": DEFAULT_THRESHOLD})
            if status != 200:
                raise LabError(f"cluster {cluster}: initialisation failed: HTTP {status} {result}")
            info.update({"root_token": result["root_token"], "unseal_keys_b64": result["keys_base64"],
                         "unseal_keys_hex": result["keys"], "threshold": DEFAULT_THRESHOLD})
        elif not info.get("unseal_keys_b64"):
            raise LabError(f"cluster {cluster} is initialised but lab.json has no keys for it; "
                           f"remove {self.dir} and run up again")
        for node, url in zip(nodes, urls):
            self._unseal_node(client, lab, cluster, node, url, info)
        active = self._wait_active(client, cluster, nodes, urls, timeout)
        info.update({
            "api_addr": active["api_addr"],
            "cluster_addr": active["cluster_addr"],
            "nodes": urls,
            "node_names": nodes,
            "cluster_addrs": [self.node_record(cluster, n)["cluster_addr"] for n in nodes],
            "ca_cert": config["ca_cert"],
        })
        return cluster, info

    def _keys_for(self, lab: dict[str, Any], cluster: str, fingerprint: str | None,
                  own: dict[str, Any]) -> list[str]:
        """The unseal keys matching a node's seal config (a secondary adopts its primary's)."""
        from .crypto import shamir
        from .model.values import root_key_hash

        candidates = [own] + [c for n, c in lab.get("clusters", {}).items() if n != cluster]
        for info in candidates:
            keys = info.get("unseal_keys_b64") or []
            threshold = info.get("threshold") or DEFAULT_THRESHOLD
            if not keys:
                continue
            if fingerprint is None:
                return keys[:threshold]
            shares = [base64.b64decode(k) for k in keys[:threshold]]
            try:
                key = shares[0] if len(keys) == 1 else shamir.combine(shares)
            except ValueError:
                continue
            if root_key_hash(key)[:16] == fingerprint:
                return keys[:threshold]
        raise LabError(f"cluster {cluster}: none of the unseal keys in lab.json match its seal configuration")

    def _unseal_node(self, client: Client, lab: dict[str, Any], cluster: str, node: str, url: str,
                     info: dict[str, Any]) -> None:
        status, state = client.request("GET", url + "/_vaultlab/state")
        if status != 200:
            raise LabError(f"node {node}: control API answered HTTP {status}")
        if not state["sealed"]:
            return
        keys = self._keys_for(lab, cluster, state.get("seal_fingerprint"), info)
        client.request("PUT", url + "/v1/sys/unseal", {"reset": True})
        for key in keys:
            status, body = client.request("PUT", url + "/v1/sys/unseal", {"key": key})
            if status != 200:
                errors = (body or {}).get("errors")
                raise LabError(f"node {node}: unseal failed: HTTP {status} {errors}")
            if not body["sealed"]:
                return
        raise LabError(f"node {node}: still sealed after {len(keys)} keys")

    def _wait_active(self, client: Client, cluster: str, nodes: list[str], urls: list[str],
                     timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for url in urls:
                try:
                    status, state = client.request("GET", url + "/_vaultlab/state", timeout=2)
                except OSError:
                    continue
                if status == 200 and state.get("active"):
                    return state
            if time.monotonic() > deadline:
                raise LabError(f"cluster {cluster}: no active node after {timeout:.0f}s; see {self.dir / 'logs'}")
            time.sleep(0.01)

    def _write_outputs(self, lab: dict[str, Any]) -> None:
        _write_private(self.lab_path, json.dumps(lab, indent=1) + "\n")
        _write_private(self.dir / "inventory.yml", render_inventory(lab), 0o644)

    # -- status / refresh -----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Per node: running, sealed, active, addresses; refreshes each cluster's api_addr."""
        config = self.config()
        client = self.client(config)
        lab = _read_json(self.lab_path) or {"clusters": {}}
        clusters: dict[str, Any] = {}
        changed = False
        for cluster, nodes in config["clusters"].items():
            entries = []
            for node in nodes:
                record = self.node_record(cluster, node) or {}
                pid = self.node_pid(node)
                entry: dict[str, Any] = {"node": node, "running": pid is not None, "pid": pid,
                                         "api_addr": record.get("api_addr"), "sealed": None, "active": None}
                if pid is not None and record.get("api_addr"):
                    try:
                        status, state = client.request("GET", record["api_addr"] + "/_vaultlab/state", timeout=2)
                        if status == 200:
                            entry.update({"sealed": state["sealed"], "active": state["active"],
                                          "initialized": state["initialized"],
                                          "replication": state.get("replication")})
                    except OSError as exc:
                        entry["error"] = str(exc)
                entries.append(entry)
            active = next((e for e in entries if e.get("active")), None)
            info = lab["clusters"].get(cluster)
            if active and info is not None and info.get("api_addr") != active["api_addr"]:
                record = self.node_record(cluster, active["node"]) or {}
                info["api_addr"] = active["api_addr"]
                info["cluster_addr"] = record.get("cluster_addr", info.get("cluster_addr"))
                changed = True
            clusters[cluster] = {"api_addr": active["api_addr"] if active else None, "nodes": entries}
        if changed:
            self._write_outputs(lab)
        return {"dir": str(self.dir), "profile": config.get("profile"), "tls": config.get("tls"),
                "vault_version": config.get("vault_version") or versions.DEFAULT, "clusters": clusters, "partitions": faults_lib.read(self.dir).get("partitions", [])}

    # -- down -------------------------------------------------------------------------------

    def down(self) -> list[str]:
        if not self.config_path.exists():
            return []
        config = self.config()
        nodes = [n for ns in config["clusters"].values() for n in ns]
        stopped: list[str] = []

        def stop(node: str) -> None:
            if self.stop_node(node):
                stopped.append(node)

        with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
            list(pool.map(stop, nodes))
        return sorted(stopped)

    # -- faults --------------------------------------------------------------------------

    def _nodes(self, cluster: str, node: str | None = None) -> list[str]:
        config = self.config()
        if cluster not in config["clusters"]:
            raise LabError(f"unknown cluster {cluster!r} (--cluster): this lab has {', '.join(config['clusters'])}")
        nodes = config["clusters"][cluster]
        if node is None:
            return nodes
        if node not in nodes:
            if node.isdigit() and 1 <= int(node) <= len(nodes):
                return [nodes[int(node) - 1]]
            raise LabError(f"unknown node {node!r} (--node): cluster {cluster} has {', '.join(nodes)}")
        return [node]

    def active_node(self, cluster: str) -> str | None:
        client = self.client()
        for node in self._nodes(cluster):
            record = self.node_record(cluster, node)
            if not record or self.node_pid(node) is None:
                continue
            try:
                status, state = client.request("GET", record["api_addr"] + "/_vaultlab/state", timeout=2)
            except OSError:
                continue
            if status == 200 and state.get("active"):
                return node
        return None

    def kill(self, cluster: str, node: str | None = None) -> list[str]:
        """SIGKILL a node (default: the cluster's active node)."""
        if node is None:
            active = self.active_node(cluster)
            if active is None:
                raise LabError(f"cluster {cluster} has no active node to kill; name one with --node")
            targets = [active]
        else:
            targets = self._nodes(cluster, node)
        killed = []
        for target in targets:
            if self.stop_node(target, signal.SIGKILL, grace=0):
                killed.append(target)
        return killed

    def restart(self, cluster: str, node: str | None = None, unseal: bool = False,
                timeout: float = 30.0) -> list[str]:
        """Kill (if running) and start again; the node comes back sealed unless ``unseal``."""
        targets = self._nodes(cluster, node)
        for target in targets:
            self.stop_node(target, signal.SIGKILL, grace=0)
        self.spawn([(cluster, t) for t in targets], timeout)
        if unseal:
            self.unseal(cluster, None if node is None else targets[0], timeout=timeout)
            nodes = self._nodes(cluster)
            urls = [(self.node_record(cluster, n) or {}).get("api_addr") for n in nodes]
            self._wait_active(self.client(), cluster, nodes, [u for u in urls if u], timeout)
            self.status()  # the active node may have moved: refresh lab.json and inventory
        return targets

    def unseal(self, cluster: str, node: str | None = None, timeout: float = 30.0) -> None:
        lab = self.lab()
        client = self.client()
        info = lab["clusters"].get(cluster)
        if info is None:
            raise LabError(f"cluster {cluster} is not in lab.json")
        for target in self._nodes(cluster, node):
            record = self.node_record(cluster, target)
            if record and self.node_pid(target) is not None:
                self._unseal_node(client, lab, cluster, target, record["api_addr"], info)

    def seal(self, cluster: str, node: str | None = None) -> list[str]:
        """Seal a node through the control API (default: the active node)."""
        targets = [self.active_node(cluster)] if node is None else self._nodes(cluster, node)
        if targets == [None]:
            raise LabError(f"cluster {cluster} has no active node to seal; name one with --node")
        client = self.client()
        for target in targets:
            record = self.node_record(cluster, target) or {}
            self._control(client, target, record, "/_vaultlab/seal", {})
        return targets  # type: ignore[return-value]

    def _control(self, client: Client, node: str, record: dict[str, Any], path: str, body: Any) -> Any:
        if not record.get("api_addr") or self.node_pid(node) is None:
            raise LabError(f"node {node} is not running; start it with 'vaultlab fault restart'")
        status, result = client.request("POST", record["api_addr"] + path, body)
        if status != 200:
            raise LabError(f"node {node}: {path} answered HTTP {status}: {(result or {}).get('errors')}")
        return result

    def control(self, target: str, path: str, body: Any = None, method: str | None = None) -> tuple[str, Any]:
        """Call ``/_vaultlab/<path>`` on one node with the lab's control token; return (node, reply).

        ``target`` is a node name, a cluster name (its active node) or a node address of this lab
        (the token is only ever sent to the lab's own nodes).  ``method`` defaults to GET for
        ``state`` and POST otherwise.
        """
        config = self.config()
        name = path.strip("/")
        if name.startswith(control.PREFIX.strip("/") + "/"):
            name = name[len(control.PREFIX) - 1:]
        if not re.fullmatch(r"[a-z][a-z-]*", name):
            raise LabError(f"control path {path!r}: give one of state, seal, step-down, fault, reset-faults")
        method = (method or ("GET" if name == "state" else "POST")).upper()
        if method not in ("GET", "POST"):
            raise LabError(f"--method {method}: the control API takes GET or POST")
        cluster, node = self._control_target(config, target)
        record = self.node_record(cluster, node) or {}
        if not record.get("api_addr") or self.node_pid(node) is None:
            raise LabError(f"node {node} is not running; start it with 'vaultlab fault restart'")
        if method == "POST" and body is None:
            body = {}
        status, result = self.client(config).request(method, record["api_addr"] + control.PREFIX + name,
                                                     body if method == "POST" else None)
        if status != 200:
            raise LabError(f"node {node}: {control.PREFIX}{name} answered HTTP {status}: "
                           f"{(result or {}).get('errors') if isinstance(result, dict) else result}")
        return node, result

    def _control_target(self, config: dict[str, Any], target: str) -> tuple[str, str]:
        """(cluster, node) for a node name, a cluster name (its active node) or a node address."""
        for cluster, nodes in config["clusters"].items():
            if target in nodes:
                return cluster, target
        if target in config["clusters"]:
            active = self.active_node(target)
            if active is None:
                raise LabError(f"cluster {target} has no active node; name a node ({', '.join(self._nodes(target))})")
            return target, active
        wanted = target.rstrip("/")
        for cluster, nodes in config["clusters"].items():
            for node in nodes:
                if (self.node_record(cluster, node) or {}).get("api_addr") == wanted:
                    return cluster, node
        known = [n for ns in config["clusters"].values() for n in ns]
        raise LabError(f"{target!r} is not a node, cluster or node address of this lab "
                       f"(nodes: {', '.join(known)}; clusters: {', '.join(config['clusters'])})")

    def node_fault(self, cluster: str, node: str | None, body: dict[str, Any]) -> list[str]:
        client = self.client()
        targets = self._nodes(cluster, node)
        for target in targets:
            self._control(client, target, self.node_record(cluster, target) or {}, "/_vaultlab/fault", body)
        return targets

    def reset_faults(self, cluster: str | None = None) -> None:
        config = self.config()
        client = self.client(config)
        for name, nodes in config["clusters"].items():
            if cluster and name != cluster:
                continue
            for node in nodes:
                record = self.node_record(name, node) or {}
                if record.get("api_addr") and self.node_pid(node) is not None:
                    self._control(client, node, record, "/_vaultlab/reset-faults", {})

    def partition(self, clusters: list[str], kind: str = "both") -> None:
        config = self.config()
        for name in clusters:
            if name not in config["clusters"]:
                raise LabError(f"unknown cluster {name!r} (--clusters): this lab has {', '.join(config['clusters'])}")
        try:
            faults_lib.add_partition(self.dir, clusters, kind)
        except faults_lib.FaultError as exc:
            raise LabError(str(exc)) from None

    def heal(self, clusters: list[str] | None = None) -> None:
        faults_lib.heal(self.dir, clusters)

    def env(self, cluster: str) -> str:
        lab = self.lab()
        info = lab["clusters"].get(cluster)
        if info is None:
            raise LabError(f"unknown cluster {cluster!r}: this lab has {', '.join(lab['clusters'])}")
        lines = [f"export VAULT_ADDR={_shell_quote(info['api_addr'])}",
                 f"export VAULT_TOKEN={_shell_quote(info['root_token'])}"]
        if info.get("ca_cert"):
            lines.append(f"export VAULT_CACERT={_shell_quote(info['ca_cert'])}")
        else:
            lines.append("unset VAULT_CACERT")
        if info.get("client_cert"):
            lines += [f"export VAULT_CLIENT_CERT={_shell_quote(info['client_cert'])}",
                      f"export VAULT_CLIENT_KEY={_shell_quote(info['client_key'])}"]
        token = self.control_token()
        if token:
            lines.append(f"export {control.ENV_NAME}={_shell_quote(token)}")
        return "\n".join(lines) + "\n"


def _client_certificates(tls_lib: Any, tls_dir: Path, clusters: list[str]) -> dict[str, dict[str, str]]:
    """Per cluster: a client CA its API listener trusts, and one client certificate and key it
    signed (``vaultlab up --require-client-cert``), all files mode 0600, kept across restarts."""
    out: dict[str, dict[str, str]] = {}
    for name in clusters:
        directory = tls_dir / "clients" / name
        if (directory / tls_lib.CA_CERT_FILE).exists():
            ca = tls_lib.load_ca(directory)
        else:
            ca = tls_lib.create_ca(directory, common_name=f"vaultlab client CA {name}"[:64])
        cert, key = directory / "client.pem", directory / "client-key.pem"
        if not (cert.exists() and key.exists()):
            tls_lib.issue_server_cert(ca, (f"vault-client-{name}"[:64],), (), name="client", directory=directory)
        for path in (ca.cert_path, cert, key):
            os.chmod(path, 0o600)
        out[name] = {"ca": str(ca.cert_path), "cert": str(cert), "key": str(key)}
    return out


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def render_inventory(lab: dict[str, Any]) -> str:
    """Ansible YAML inventory: one host per cluster, groups by role name, no secrets."""
    names = list(lab["clusters"])
    lines = ["# Generated by vaultlab. Tokens and unseal keys are in lab.json, never here.", "all:", "  children:",
             "    vault_clusters:", "      hosts:"]
    for name in names:
        info = lab["clusters"][name]
        lines += [
            f"        {name}:",
            f"          vault_addr: {json.dumps(info['api_addr'])}",
            f"          vault_ca_cert: {json.dumps(info.get('ca_cert'))}",
            *([f"          vault_client_cert: {json.dumps(info['client_cert'])}",
               f"          vault_client_key: {json.dumps(info['client_key'])}"] if info.get("client_cert") else []),
            f"          vault_nodes: {json.dumps(info['nodes'])}",
            "          ansible_connection: local",
            '          ansible_python_interpreter: "{{ ansible_playbook_python }}"',
        ]
    groups = {
        "vault_primary": [n for n in names if n.startswith("primary")],
        "vault_dr_secondaries": [n for n in names if n.startswith("dr")],
        "vault_perf_secondaries": [n for n in names if n.startswith("perf")],
    }
    for group, members in groups.items():
        lines.append(f"    {group}:")
        if members:
            lines.append("      hosts:")
            lines += [f"        {m}: {{}}" for m in members]
        else:
            lines.append("      hosts: {}")
    return "\n".join(lines) + "\n"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _is_our_node(pid: int, node: str, lab_dir: Path) -> bool:
    """The pid is alive and really is this node of this lab (pid files can outlive their
    process, and another lab may run a node of the same name)."""
    if not _alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid file
    if b"vaultlab" not in argv:
        return False
    if b"--serve" in argv:  # forked by a launch server: the pid and start time it recorded name it
        try:
            recorded = (lab_dir / "run" / f"{node}.start").read_text().split()
        except OSError:
            return False
        start = _proc_start(pid)
        return start is not None and recorded == [str(pid), start]
    wanted = node.encode()
    return (str(lab_dir).encode() in argv
            and any(arg == wanted or arg.endswith(b"/" + wanted) for arg in argv))


def _proc_start(pid: int) -> str | None:
    """Same as ``server.proc_start`` (not imported: the supervisor stays free of aiohttp)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _last_log_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return "no log written"
    return lines[-1][-300:] if lines else "empty log"
