"""Python API for tests: run a lab as a context manager.

    from vaultlab.testing import Lab

    with Lab(tmp_path, clusters=["primary:2", "dr"]) as lab:
        addr = lab.info["clusters"]["primary"]["api_addr"]
        lab.kill("primary")            # SIGKILL the active node
        lab.wait_active("primary")     # a standby takes over
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable

from .profiles import parse_overrides
from .supervisor import Client, LabError, Supervisor, parse_cluster_spec

__all__ = ["Lab", "LabError"]


def _specs(clusters: Iterable[str | tuple[str, int]] | None) -> list[tuple[str, int]] | None:
    if clusters is None:
        return None
    result = []
    for spec in clusters:
        result.append(parse_cluster_spec(spec) if isinstance(spec, str) else (spec[0], int(spec[1])))
    return result


class Lab:
    """A running lab in ``dir``: started on enter, stopped (data kept) on exit."""

    def __init__(
        self,
        dir: str | os.PathLike[str],
        clusters: Iterable[str | tuple[str, int]] | None = None,
        profile: str = "fast",
        tls: bool = False,
        timing: dict[str, float] | None = None,
        timeout: float = 60.0,
        vault_version: str | None = None,
        require_client_cert: bool = False,
        record_secrets: bool = False,
    ) -> None:
        self.dir = Path(dir)
        # A test process starts many labs: their nodes fork from one launcher kept for it.
        self.supervisor = Supervisor(self.dir, shared_launcher=True)
        self._clusters = _specs(clusters)
        self._profile = profile
        self._tls = tls
        self._timing = parse_overrides([f"{k}={v}" for k, v in (timing or {}).items()])
        self._timeout = timeout
        self._vault_version = vault_version
        self._require_client_cert = require_client_cert
        self._record_secrets = record_secrets
        self.info: dict[str, Any] = {}

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Lab:
        self.info = self.supervisor.up(self._clusters, tls=self._tls, profile=self._profile,
                                       timing=self._timing, timeout=self._timeout,
                                       vault_version=self._vault_version,
                                       require_client_cert=self._require_client_cert,
                                       record_secrets=self._record_secrets)
        return self

    def stop(self) -> None:
        self.supervisor.down()

    def __enter__(self) -> Lab:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- convenience ---------------------------------------------------------------------

    def cluster(self, name: str) -> dict[str, Any]:
        return self.info["clusters"][name]

    def addr(self, cluster: str) -> str:
        """The cluster's current active node address (refreshed from the nodes)."""
        return self.refresh()["clusters"][cluster]["api_addr"]

    def token(self, cluster: str) -> str:
        return self.info["clusters"][cluster]["root_token"]

    @property
    def ca_cert(self) -> str | None:
        return self.info.get("ca_cert")

    def issued_secrets(self) -> list[dict[str, str]]:
        """Every secret the lab issued (``{"kind", "source", "value"}``); complete only for a
        lab started with ``record_secrets=True`` (see :mod:`vaultlab.issued`)."""
        from .issued import issued

        return issued(self.dir)

    def client(self) -> Client:
        """A client for the lab's nodes; it sends the control token on ``/_vaultlab/`` paths only."""
        return self.supervisor.client()

    @property
    def control_token(self) -> str | None:
        """The lab's control token (secret: never print it)."""
        return self.supervisor.control_token()

    def control(self, target: str, path: str, body: Any = None, method: str | None = None) -> Any:
        """Call ``/_vaultlab/<path>`` on a node, a cluster's active node or a node address; the reply."""
        return self.supervisor.control(target, path, body, method)[1]

    def refresh(self) -> dict[str, Any]:
        self.supervisor.status()
        self.info = self.supervisor.lab()
        return self.info

    def status(self) -> dict[str, Any]:
        return self.supervisor.status()

    # -- faults ------------------------------------------------------------------------------

    def kill(self, cluster: str, node: str | None = None) -> list[str]:
        """SIGKILL ``node`` (default: the cluster's active node); returns the killed nodes."""
        return self.supervisor.kill(cluster, node)

    def restart(self, cluster: str, node: str | None = None, unseal: bool = False) -> list[str]:
        """Restart ``node`` (default: every node of the cluster); sealed unless ``unseal``."""
        done = self.supervisor.restart(cluster, node, unseal=unseal, timeout=self._timeout)
        if unseal:
            self.wait_active(cluster)
        return done

    def unseal(self, cluster: str, node: str | None = None) -> None:
        self.supervisor.unseal(cluster, node, timeout=self._timeout)

    def seal(self, cluster: str, node: str | None = None) -> list[str]:
        return self.supervisor.seal(cluster, node)

    def partition(self, a: str, b: str | None = None, kind: str = "replication") -> None:
        """Cut ``kind`` traffic between clusters ``a`` and ``b`` (``b=None``: isolate ``a``)."""
        self.supervisor.partition([a] if b is None else [a, b], kind)

    def heal(self, clusters: list[str] | None = None) -> None:
        self.supervisor.heal(clusters)

    def latency(self, cluster: str, ms: float, node: str | None = None) -> None:
        self.supervisor.node_fault(cluster, node, {"kind": "latency", "ms": ms})

    def errors(self, cluster: str, count: int = 3, status: int = 503, node: str | None = None) -> None:
        self.supervisor.node_fault(cluster, node, {"kind": "errors", "count": count, "status": status})

    def reset_faults(self) -> None:
        self.supervisor.heal()
        self.supervisor.reset_faults()

    def wait_active(self, cluster: str, timeout: float = 10.0, exclude: str | None = None) -> str:
        """Wait until ``cluster`` has an active node (other than ``exclude``); return its name."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                node = self.supervisor.active_node(cluster)
            except LabError:
                node = None
            if node is not None and node != exclude:
                self.refresh()
                return node
            if time.monotonic() > deadline:
                raise LabError(f"cluster {cluster}: no active node within {timeout:.1f}s")
            time.sleep(0.02)
