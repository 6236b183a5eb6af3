# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny forward proxy on 127.0.0.1 for tests: ``CONNECT host:port`` tunnels (HTTPS) and
absolute-URI requests (plain HTTP), relayed byte for byte. It records every target it was
asked for, so a test can prove that traffic went through it (or not)."""

from __future__ import annotations

import select
import socket
import threading

from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self):
        self.targets = []  # "CONNECT 127.0.0.1:8200" or "GET http://127.0.0.1:8200/v1/..."
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._closed = False
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self._closed:
            try:
                conn = self._sock.accept()[0]
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        upstream = None
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            header, rest = head.split(b"\r\n\r\n", 1)
            lines = header.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            with self._lock:
                self.targets.append("%s %s" % (method, target))
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)), timeout=10)
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
            else:
                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
                path = parts.path + ("?" + parts.query if parts.query else "")
                # One request per upstream connection keeps the relay trivial.
                kept = [line for line in lines[1:] if not line.lower().startswith(("proxy-", "connection:"))]
                request = "\r\n".join(["%s %s %s" % (method, path, version)] + kept + ["Connection: close"])
                upstream.sendall(request.encode("latin-1") + b"\r\n\r\n" + rest)
            self._relay(conn, upstream)
        except OSError:
            pass
        finally:
            for sock in (conn, upstream):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass

    @staticmethod
    def _relay(a, b):
        socks = [a, b]
        while True:
            readable = select.select(socks, [], [], 10)[0]
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
