"""The HTTP client a node's replication uses to reach other clusters.

One aiohttp session per node process (the stream's long polls, forwarded writes, the
activation token's unwrap at the primary), carrying the node's peer headers, and one TLS
context per CA an activation bundle names (built once, reused by every poll).
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp

from ..transport import cluster_tls


class Peers:
    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None
        self._ssl_cache: dict[str, ssl.SSLContext] = {}
        self._mtls_cache: dict[tuple[str, str, str], ssl.SSLContext] = {}

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    def cluster_ssl(self, ca_pem: str | None) -> ssl.SSLContext | None:
        """Context trusting the CA the activation bundle named (None: plain HTTP)."""
        if not ca_pem:
            return None
        ctx = self._ssl_cache.get(ca_pem)
        if ctx is None:
            ctx = self._ssl_cache[ca_pem] = ssl.create_default_context(cadata=ca_pem)
        return ctx

    def replication_ssl(self, primary: dict[str, Any], t: str) -> ssl.SSLContext:
        """Mutual-TLS context for an activation bundle's primary (--tls; see transport.cluster_tls)."""
        key = (t, primary.get("credential") or "", primary.get("ca_pem") or "")
        ctx = self._mtls_cache.get(key)
        if ctx is None:
            ctx = self._mtls_cache[key] = cluster_tls.client_context(primary, t)
        return ctx

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
