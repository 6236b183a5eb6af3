# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of test_switchover.py: a two-cluster DR lab driven through the collection's own
module_utils, and a client that keeps writing KV secrets and records every acknowledged write."""
from __future__ import annotations

import sys
import threading
import time

from conftest import ROOT

if str(ROOT / ".collections") not in sys.path:
    sys.path.insert(0, str(ROOT / ".collections"))

# pylint: disable=wrong-import-position
from ansible_collections.vaultops.replication.plugins.module_utils import _api  # noqa: E402
from ansible_collections.vaultops.replication.plugins.module_utils._client import (  # noqa: E402
    VaultAPIError,
    VaultClient,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._status import read_type_status  # noqa: E402
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import wait_until  # noqa: E402

MOUNT = "kvt"
SECONDARY_ID = "dr-1"
BATCH_POLICY = """
path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }
path "sys/replication/dr/secondary/update-primary" { capabilities = ["update"] }
"""
# Steps that only build the lab: instant in every profile, so the time goes to the switch-over.
SETUP_TIMINGS = {"primary_enable": 0.0, "secondary_enable": 0.0, "bootstrap": 0.0}


class DrPair:
    """primary (DR primary with a KV v1 mount) -> dr (its DR secondary, id dr-1), batch DR token."""

    def __init__(self, lab):
        self.lab = lab
        self.root = lab.token("primary")
        self.primary = VaultClient(lab.addr("primary"), self.root)
        # DR replicates tokens: the primary's root token is the dr cluster's too once promoted.
        self.dr = VaultClient(lab.addr("dr"), self.root)
        _api.enable_primary(self.primary, "dr")
        self.wait(lambda: read_type_status(self.primary, "dr").is_primary and self.serving(self.primary),
                  "primary enabled")
        self.primary.request("POST", "sys/mounts/%s" % MOUNT, json={"type": "kv", "options": {"version": "1"}})
        _api.write_policy(self.primary, "dr-secondary-promotion", BATCH_POLICY)
        _api.write_token_role(self.primary, "failover-handler", allowed_policies="dr-secondary-promotion",
                              orphan=True, renewable=False, token_type="batch")
        self.dr_token = _api.create_token(self.primary, role="failover-handler", ttl="1h")["client_token"]
        activation = _api.secondary_token(self.primary, "dr", SECONDARY_ID)
        _api.enable_secondary(VaultClient(lab.addr("dr"), lab.token("dr")), "dr", activation)
        self.wait_in_sync(self.primary, self.dr, 30)

    @staticmethod
    def wait(condition, what, timeout=30.0):
        def probe():
            try:
                return condition()
            except VaultError:
                return False
        return wait_until(probe, bool, timeout, what, interval=0.02, max_interval=0.2)

    def wait_in_sync(self, primary, secondary, timeout=20.0):
        def synced():
            p, s = read_type_status(primary, "dr"), read_type_status(secondary, "dr")
            return s.is_streaming and s.caught_up_with(p)
        self.wait(synced, "DR secondary streaming and caught up", timeout)

    @staticmethod
    def serving(client):
        """Active node, health 200 and a token lookup answered: the cluster serves clients."""
        code, _body = _api.health(client, standbyok=True)
        if code != 200:
            return False
        try:
            _api.lookup_self(client)
        except VaultAPIError:
            return False
        return True

    def promote_dr(self, timeout=60.0):
        """What the caller does once the switch-over returned: promote, wait until it serves."""
        def attempt():
            if read_type_status(self.dr, "dr").is_primary:
                return True
            _api.promote_secondary(self.dr, "dr", dr_operation_token=self.dr_token)
            return True
        wait_until(attempt, bool, timeout, "promotion accepted", interval=0.05, max_interval=0.5)
        self.wait(lambda: read_type_status(self.dr, "dr").is_primary and self.serving(self.dr),
                  "dr serving as primary", timeout)

    def wait_behind(self, timeout=5.0):
        """Until the secondary is seen lacking a WAL entry the primary already has (a write the
        stream has not carried yet); False if that was never seen within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wal = read_type_status(self.primary, "dr").last_shipped_wal
            if (read_type_status(self.dr, "dr").last_remote_wal or 0) < wal:
                return True
        return False

    def keys(self, client, prefix):
        resp = client.request("GET", "%s/%s/" % (MOUNT, prefix), params={"list": "true"}, allow_status=(404,))
        return set((resp.data or {}).get("keys") or [])

    def missing(self, client, writer, check_values=40):
        """Acknowledged writes of ``writer`` that ``client`` cannot read back (all keys listed,
        the values of the last ``check_values`` compared)."""
        present = self.keys(client, writer.prefix)
        lost = [n for n in writer.acked if str(n) not in present]
        for n in writer.acked[-check_values:]:
            if str(n) in present:
                data = client.request("GET", "%s/%s/%d" % (MOUNT, writer.prefix, n)).data
                if data != {"n": n}:
                    lost.append(n)
        return sorted(set(lost))


class Writer:
    """Writes kvt/<prefix>/<n> to one cluster from ``threads`` client threads, each pausing
    ``interval`` seconds between writes (0: as fast as it can), and records every write answered
    2xx. ``pause()`` and ``drain()`` let the writes in flight finish; nothing is retried."""

    def __init__(self, url, token, prefix, interval=0.005, threads=1):
        self.url = url
        self.token = token
        self.prefix = prefix
        self.interval = interval
        self.acked = []
        self.refused = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._next = 0
        self._busy = 0
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._threads = [threading.Thread(target=self._loop, name="writer-%s-%d" % (prefix, i), daemon=True)
                         for i in range(threads)]

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def pause(self):
        """Stop after the writes in flight, until resume() (wait_idle() to be sure they ended)."""
        self._go.clear()

    def resume(self):
        self._go.set()

    def wait_idle(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while self._busy:
            if time.monotonic() > deadline:
                raise AssertionError("writer still busy after %ss" % timeout)
            time.sleep(0.001)

    def wait_acked(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            if time.monotonic() > deadline:
                raise AssertionError("writer: %d of %d writes acknowledged after %ss (%d refused)"
                                     % (len(self.acked), count, timeout, self.refused))
            time.sleep(0.001)

    def drain(self):
        self._stop.set()
        self._go.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=30)
            assert not thread.is_alive(), "writer did not stop"
        return self

    def _loop(self):
        client = VaultClient(self.url, self.token, retries=0, timeout=10)
        while not self._stop.is_set():
            self._go.wait()
            with self._lock:
                if self._stop.is_set() or not self._go.is_set():
                    continue
                self._next += 1
                n = self._next
                self.sent += 1
                self._busy += 1
            try:
                client.request("POST", "%s/%s/%d" % (MOUNT, self.prefix, n), json={"n": n})
            except VaultError:
                with self._lock:
                    self.refused += 1
            else:
                self.acked.append(n)
            finally:
                with self._lock:
                    self._busy -= 1
            if self.interval:
                time.sleep(self.interval)
        client.close()
