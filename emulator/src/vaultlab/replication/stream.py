"""Streaming replication over the cluster port: the primary's routes and the secondary's loop.

Protocol (JSON over HTTP(S), one long-poll request per heartbeat):

``POST /v1/replication/<type>/handshake``
    The secondary's active node authenticates with the credential it got when its
    activation token was redeemed and sends what it holds (merkle root, last remote WAL index
    and the WAL lineage it came from).  The primary answers ``stream`` with the position to
    stream from (merkle-diff found nothing to copy, or the WAL still holds the gap) or
    ``snapshot`` with a full copy of the scopes the secondary may receive (merkle-sync).

``POST /v1/replication/<type>/wal``
    Long poll: returns as soon as WAL entries exist after ``after`` or after one heartbeat
    interval.  Each request is a heartbeat in both directions and carries the address lists
    (the primary's nodes, and for performance the DR secondaries' nodes as failover
    addresses, §7.2).

Standby nodes of the primary answer 503 with the leader's cluster address, so secondaries
follow leader changes; partition faults cut the traffic on both ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

from aiohttp import web

from .. import messages as M
from .. import ticks
from . import models
from ..storage import merkle_of
from .core import SCOPES, STATE_KEY, Replication
from .filters import MOUNTS_KEY, Filter
from .models import BOOTSTRAPPING, PRIMARY, SECONDARY
from ..transport import cluster_tls

log = logging.getLogger("vaultlab.replication.stream")

WAL_BATCH = 500
MAX_WAIT = 30.0


class StreamError(Exception):
    """The connection to one primary address failed; try the next one."""


class Redirect(StreamError):
    def __init__(self, addr: str):
        super().__init__(f"redirected to {addr}")
        self.addr = addr


class Refused(StreamError):
    """The primary does not know (any more) the secondary id we speak for: revoked or never issued.

    Retrying cannot help; only a new activation token can (reference §2.6)."""


class Resync(StreamError):
    """The primary no longer holds the WAL we need: bootstrap again from a snapshot."""


# -- primary side ----------------------------------------------------------------------------

def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _err(status: int, message: str, **extra: Any) -> web.Response:
    return _json({"errors": [message], **extra}, status)


def install_routes(repl: Replication, app: web.Application) -> None:
    app.router.add_post("/v1/replication/{rtype}/handshake", lambda r: _handshake(repl, r))
    app.router.add_post("/v1/replication/{rtype}/wal", lambda r: _wal(repl, r))


async def authorise(repl: Replication, request: web.Request):
    node = repl.node
    peer = request.headers.get("X-Vaultlab-From-Cluster")
    if node.partitioned(peer, "replication"):
        return None, _err(503, M.REPL_PARTITIONED)
    t = request.match_info["rtype"]
    if t not in SCOPES:
        return None, _err(404, M.UNSUPPORTED_PATH)
    try:
        body = await request.json()
    except ValueError:
        return None, _err(400, M.JSON_PARSE)
    if node.sealed:
        return None, _err(503, M.SEALED)
    if not node.active:
        leader = node.leader() or {}
        return None, _err(503, M.STANDBY, leader_cluster_addr=leader.get("cluster_addr", ""))
    state = repl.effective(t)
    if models.mode_of(state) != PRIMARY:
        return None, _err(400, M.REPL_CLUSTER_NOT_PRIMARY.format(type=t), not_primary=True)
    sid = body.get("secondary_id", "")
    if node.tls:
        # Mutual TLS (§4.2): the verified client certificate is the credential, on the ALPN
        # protocol of this replication type; a bearer value in the body counts for nothing.
        credential, refusal = cluster_tls.peer_credential(request.transport.get_extra_info("ssl_object")
                                                          if request.transport else None, t)
        if refusal is not None:
            return None, _err(403, refusal, tls_refused=True)
        body["credential"] = credential
    if not models.authenticate_secondary(state, sid, body.get("credential")):
        return None, _err(403, M.REPL_CLUSTER_AUTH, revoked=True)
    return (t, body, state, sid), None


def _filter(repl: Replication, t: str, state: dict[str, Any], sid: str) -> Filter | None:
    if t != "performance":
        return None
    flt = (state.get("paths_filters") or {}).get(sid)
    if not flt:
        return None
    return Filter(flt, repl.storage.get(MOUNTS_KEY))


def _filter_tag(state: dict[str, Any], sid: str) -> str:
    """Identifies the filter a stream was set up under; a change forces a re-sync."""
    import hashlib
    import json

    flt = (state.get("paths_filters") or {}).get(sid)
    return hashlib.sha1(json.dumps(flt, sort_keys=True).encode()).hexdigest()[:16] if flt else ""


def _peer_info(repl: Replication, t: str, body: dict[str, Any]) -> dict[str, Any]:
    info = {
        "api_address": body.get("api_addr", ""),
        "cluster_address": body.get("cluster_addr", ""),
        "node_cluster_addrs": list(body.get("node_cluster_addrs") or []),
        "cluster_name": body.get("cluster_name", ""),
        "gone": False,
    }
    sent = body.get("time")
    if isinstance(sent, (int, float)) and not body.get("_held"):
        info["clock_skew_ms"] = int(round((sent - time.time()) * 1000))
    if isinstance(body.get("last_heartbeat_duration_ms"), int):
        info["last_heartbeat_duration_ms"] = body["last_heartbeat_duration_ms"]
    return info


def _advertise(repl: Replication, t: str) -> dict[str, Any]:
    node = repl.node
    failover: list[str] = []
    if t == "performance":
        dr_state = repl.load("dr")
        if models.mode_of(dr_state) == PRIMARY:
            known = dr_state.get("secondaries", {})
            for sid, info in repl.secondaries_rt("dr").items():
                if sid in known:
                    for addr in info.get("node_cluster_addrs") or [info.get("cluster_address")]:
                        if addr and addr not in failover:
                            failover.append(addr)
    return {
        "cluster_name": node.cluster_name,
        "api_addr": node.api_addr,
        "cluster_addr": node.cluster_addr,
        "cluster_addrs": repl.own_cluster_addrs(),
        "failover_addrs": failover,
        "time": time.time(),
    }


async def _handshake(repl: Replication, request: web.Request) -> web.Response:
    ok, error = await authorise(repl, request)
    if error is not None:
        return error
    t, body, state, sid = ok
    if body.get("probe"):
        # secondary/enable checks that the cluster port answers before it wipes anything.
        return _json({"ok": True, **_advertise(repl, t)})
    storage = repl.storage
    scopes = SCOPES[t]
    flt = _filter(repl, t, state, sid)
    with storage.transaction():
        shipped = storage.last_wal(scopes)
        # Resume positions are points in this cluster's whole WAL sequence, not the index of the
        # last entry the secondary may receive: a performance primary whose recent entries are
        # all local (a promoted DR secondary, for instance) would otherwise hand out a position
        # below its compaction floor, and every /wal poll would answer "resync" for ever.
        position = storage.last_wal()
        items = None
        if flt is not None:
            items = flt.items(storage.snapshot(scopes))
            root = merkle_of(items)
        else:
            root = storage.merkle_root(scopes)
        first = storage.first_wal()
        epoch = repl.epoch()
        theirs = body.get("last_remote_wal") or 0
        # The WAL only holds what changed, so a catch-up is sound only for a secondary that holds
        # this very view: one synced under another paths filter (changed, or removed, while it was
        # not connected) lacks whole mounts that no WAL entry will bring back.
        same_view = body.get("filter_tag", "") == _filter_tag(state, sid)
        if body.get("merkle_root") == root:
            answer: dict[str, Any] = {"action": "stream", "position": position, "reason": "merkle-equal"}
        elif (flt is None and same_view and body.get("remote_epoch") == epoch and isinstance(theirs, int)
              and first - 1 <= theirs <= position):
            answer = {"action": "stream", "position": theirs, "reason": "wal-catch-up"}
        else:
            if items is None:
                items = storage.snapshot(scopes)
            answer = {"action": "snapshot", "position": position, "items": items, "merkle_root": root}
    repl.record_secondary(t, sid, _peer_info(repl, t, body), force=True)
    answer.update(epoch=epoch, shipped=shipped, filter_tag=_filter_tag(state, sid), **_advertise(repl, t))
    return _json(answer)


async def _wal(repl: Replication, request: web.Request) -> web.Response:
    ok, error = await authorise(repl, request)
    if error is not None:
        return error
    t, body, state, sid = ok
    node, storage, scopes = repl.node, repl.storage, SCOPES[t]
    after = body.get("after")
    if not isinstance(after, int) or after < 0:
        return _err(400, "invalid 'after'")
    if after < storage.first_wal() - 1 or after > storage.last_wal():
        # Compacted away, or a position from a different lineage: start over.
        return _err(409, "requested WAL position is not available; resync", resync=True)
    if body.get("epoch") and body["epoch"] != repl.epoch():
        # This cluster's data was replaced since the secondary bootstrapped from it.
        return _err(409, "WAL lineage changed; resync", resync=True)
    if body.get("filter_tag", "") != _filter_tag(state, sid):
        # The paths filter changed: the secondary must drop (or gain) whole mounts.
        return _err(409, "paths filter changed; resync", resync=True)
    wait = min(float(body.get("wait") or 0), MAX_WAIT)
    # ``after`` is where the secondary stands once it applied everything it was sent.
    _acked(repl)[(t, sid)] = after
    repl.record_secondary(t, sid, _peer_info(repl, t, body))
    poll = max(min(repl.timing("wal_stream_interval", 0.05), 0.5), 0.01)
    deadline = time.monotonic() + wait
    peer = request.headers.get("X-Vaultlab-From-Cluster")
    # Each tick of the held poll re-reads the WAL position and the replication state only when
    # the storage says they may have changed (a cheap stamp); an idle stream costs next to nothing.
    watched = (STATE_KEY.format(t="dr"), STATE_KEY.format(t="performance"))
    seen = storage.change_stamp(watched, wal=True)
    while True:
        if storage.last_wal(scopes) > after or time.monotonic() >= deadline:
            break
        while True:
            # On the process's tick grid (with the other polls and the HA loop), or the deadline.
            await asyncio.sleep(min(ticks.until_next_tick(poll), max(deadline - time.monotonic(), 0)))
            if not node.active or node.partitioned(peer, "replication"):
                return _err(503, M.STANDBY if not node.active else M.REPL_PARTITIONED)
            stamp = storage.change_stamp(watched, wal=True)
            if stamp != seen or time.monotonic() >= deadline:
                break
        seen = stamp
        state = repl.effective(t)
        if not models.authenticate_secondary(state, sid, body.get("credential")):
            return _err(403, M.REPL_CLUSTER_AUTH, revoked=True)
    state = repl.effective(t)
    if not models.authenticate_secondary(state, sid, body.get("credential")):
        # Revoked while this poll was held: ship nothing more, and do not re-list it below.
        return _err(403, M.REPL_CLUSTER_AUTH, revoked=True)
    with storage.transaction():
        last = storage.last_wal(scopes)
        entries = [e for e in storage.wal_since(after, scopes, WAL_BATCH) if e["index"] <= last]
        # Same reason as in the handshake: a full answer moves the secondary to the end of the
        # whole sequence, past entries of scopes it does not receive.
        position = entries[-1]["index"] if len(entries) == WAL_BATCH else storage.last_wal()
    flt = _filter(repl, t, state, sid)
    if flt is not None:
        entries = flt.entries(entries)
    held_ms = int((time.monotonic() - (deadline - wait)) * 1000)
    repl.record_secondary(t, sid, _peer_info(repl, t, {**body, "_held": True}))
    return _json({"entries": entries, "position": position, "shipped": last, "held_ms": held_ms,
                  **_advertise(repl, t)})


# -- demote: ship the tail first (switch demote_ships_tail) ------------------------------------

# Per Replication object (one per node process): (type, secondary id) -> the ``after`` of that
# secondary's latest WAL poll. Kept in memory: only the active node serves the stream.
_ACKED: weakref.WeakKeyDictionary[Replication, dict[tuple[str, str], int]] = weakref.WeakKeyDictionary()


def _acked(repl: Replication) -> dict[tuple[str, str], int]:
    return _ACKED.setdefault(repl, {})


def tail_timeout(repl: Replication) -> float:
    """Longest time a demotion waits for its secondaries to fetch the tail (timing
    ``demote_tail_timeout``; default ten stream intervals, at least 2 s)."""
    default = max(10 * repl.timing("wal_stream_interval", 0.05), 2.0)
    return repl.timing("demote_tail_timeout", default)


async def ship_tail(repl: Replication, t: str) -> dict[str, Any]:
    """Let the connected secondaries of type ``t`` fetch every WAL entry this primary wrote.

    Called by the demote handler before it changes the role when ``demote_ships_tail`` is on
    (what Vault does with WALs not yet shipped at demotion is undocumented, reference §2.3).
    Client requests are refused (503, the "brief unavailability") meanwhile, so no new
    entries are acknowledged; requests already past the gate still land and are waited for.
    Secondaries that are not connected are not waited for; after ``tail_timeout`` the
    demotion goes ahead whatever the laggards hold. Returns what happened, for the log.
    """
    storage = repl.storage
    timeout = tail_timeout(repl)
    connected = [s["node_id"] for s in repl.status(t).get("secondaries") or []
                 if s.get("connection_status") == "connected"]
    acked = _acked(repl)
    started = time.monotonic()
    pending: list[str] = []
    with repl.unavailable_for(timeout + 1.0):
        while True:
            target = storage.last_wal()
            pending = [sid for sid in connected if acked.get((t, sid), -1) < target]
            if not pending or time.monotonic() - started >= timeout:
                break
            await asyncio.sleep(0.01)
    outcome = {"last_wal": storage.last_wal(), "secondaries": connected, "behind": pending,
               "seconds": round(time.monotonic() - started, 3)}
    if pending:
        log.warning("%s demote: %s did not fetch the tail up to WAL %s within %.1fs", t, ", ".join(pending),
                    outcome["last_wal"], timeout)
    else:
        log.info("%s demote: tail up to WAL %s shipped to %s", t, outcome["last_wal"], connected or "no secondary")
    return outcome


# -- secondary side --------------------------------------------------------------------------

async def _wait_kick(repl: Replication, t: str, seconds: float) -> None:
    try:
        await asyncio.wait_for(repl.kick[t].wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def candidates(repl: Replication, state: dict[str, Any], preferred: str | None) -> list[str]:
    prog = repl.progress(state_type(state))
    out: list[str] = []
    for addr in ([preferred] + list(state.get("primary", {}).get("cluster_addrs") or [])
                 + list(state.get("known_primary_cluster_addrs") or [])
                 + list(prog.get("known_addrs") or [])):
        if addr and addr not in out:
            out.append(addr)
    return out


def state_type(state: dict[str, Any]) -> str:
    return state.get("_type", "dr")


async def secondary_runner(repl: Replication, t: str) -> None:
    """Keep this (active) node's cluster connected to its primary while it is a secondary."""
    node = repl.node
    preferred: str | None = None
    backoff = 0.05
    while node.active:
        repl.kick[t].clear()
        state = repl.effective(t)
        if models.mode_of(state) not in (SECONDARY, BOOTSTRAPPING) or not state.get("primary"):
            if models.mode_of(state) == SECONDARY and repl.progress(t).get("connection_state") not in (None, "idle"):
                repl.save_progress(t, connection_state=models.CONN_IDLE, stream_state=models.ST_IDLE,
                                   primary_peer=None)
            await _wait_kick(repl, t, 0.5)
            continue
        state["_type"] = t
        tried: list[str] = []
        resyncs = 0
        queue = candidates(repl, state, preferred)
        changed = False
        while queue and node.active:
            addr = queue.pop(0)
            if addr in tried:
                continue
            tried.append(addr)
            try:
                await _session(repl, t, state, addr)
                changed = True
                preferred = addr
                break
            except Redirect as redirect:
                if redirect.addr and redirect.addr not in tried:
                    queue.insert(0, redirect.addr)
            except Resync:
                repl.save_progress(t, remote_epoch=None, last_remote_wal=0)
                resyncs += 1
                if resyncs <= 3:  # a primary that keeps refusing must not spin this loop
                    queue.insert(0, addr)
                    tried.remove(addr)
            except StreamError as exc:
                log.info("%s replication: %s: %s", t, addr, exc)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the loop die; report and retry
                log.exception("%s replication session to %s failed", t, addr)
            if repl.kick[t].is_set():
                changed = True
                break
        if changed:
            backoff = 0.05
            continue
        if models.mode_of(repl.effective(t)) in (SECONDARY, BOOTSTRAPPING):
            repl.save_progress(t, connection_state=models.CONN_FAILURE)
        await _wait_kick(repl, t, backoff)
        backoff = min(backoff * 2, repl.timing("reconnect_backoff_max",
                                                max(repl.timing("heartbeat_interval", 0.2), 0.2) * 2))


async def post(repl: Replication, t: str, state: dict[str, Any], addr: str, what: str,
                body: dict[str, Any], timeout: float) -> dict[str, Any]:
    import aiohttp

    cluster = repl.progress(t).get("addr_clusters", {}).get(addr) or state["primary"].get("cluster_name")
    if repl.node.partitioned(cluster, "replication"):
        raise StreamError(M.REPL_PARTITIONED)
    session = await repl.peers.session()
    primary = state["primary"]
    tls: dict[str, Any] = {"ssl": repl.peers.cluster_ssl(primary.get("ca_pem"))}
    if cluster_tls.dial(primary):
        try:
            tls = {"ssl": repl.peers.replication_ssl(primary, t), "server_hostname": primary["server_name"]}
        except cluster_tls.ClusterTLSError as exc:
            raise StreamError(str(exc)) from None
    started = time.monotonic()
    try:
        async with session.post(f"{addr}/v1/replication/{t}/{what}", json=body, **tls,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            payload = await resp.json(content_type=None)
            status = resp.status
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, OSError) as exc:
        raise StreamError(f"{type(exc).__name__}: {exc}") from None
    payload = payload if isinstance(payload, dict) else {}
    payload["_rtt_ms"] = int((time.monotonic() - started) * 1000)
    if status == 503 and payload.get("leader_cluster_addr"):
        raise Redirect(payload["leader_cluster_addr"])
    if status == 409 and payload.get("resync"):
        raise Resync("resync requested")
    if status == 403 and payload.get("revoked"):
        raise Refused(f"HTTP {status}: {'; '.join(payload.get('errors') or [])}")
    if status != 200:
        raise StreamError(f"HTTP {status}: {'; '.join(payload.get('errors') or [])}")
    return payload


def _learn(repl: Replication, t: str, state: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """Address lists and the peer entry from a primary's answer (persisted as progress)."""
    prog = repl.progress(t)
    addr_clusters = dict(prog.get("addr_clusters") or {})
    own = list(answer.get("cluster_addrs") or [])
    for addr in own:
        addr_clusters[addr] = answer.get("cluster_name")
    known = []
    for addr in own + list(answer.get("failover_addrs") or []):
        if addr and addr not in known:
            known.append(addr)
    peer = {
        "api_addr": answer.get("api_addr", ""),
        "cluster_addr": answer.get("cluster_addr", ""),
        "clock_skew_ms": int(round((time.time() - answer.get("time", time.time())) * 1000))
        if not answer.get("held_ms") else 0,
        "last_heartbeat_duration_ms": max(answer.get("_rtt_ms", 0) - answer.get("held_ms", 0), 0),
    }
    changes = {
        "known_addrs": known,
        "addr_clusters": addr_clusters,
        "primary_peer": peer,
        "primary_last_wal": answer.get("shipped", 0),
        "last_heartbeat_ts": time.time(),
    }
    # The address list survives a failover of this cluster (DR copy of the perf role).
    if known and known != state.get("known_primary_cluster_addrs"):
        fresh = repl.load(t)
        if fresh.get("primary") and models.mode_of(fresh) in (SECONDARY, BOOTSTRAPPING):
            fresh["known_primary_cluster_addrs"] = known
            repl.storage.put(f"core/replication/{t}/state", fresh,
                             scope="node" if t == "dr" else "local")
            state["known_primary_cluster_addrs"] = known
    return changes


def hello(repl: Replication, t: str, state: dict[str, Any]) -> dict[str, Any]:
    node = repl.node
    primary = state["primary"]
    return {
        "secondary_id": state.get("secondary_id"),
        # Under mutual TLS the certificate speaks for the secondary; nothing secret in the body.
        "credential": None if cluster_tls.dial(primary) else primary.get("credential"),
        "api_addr": node.api_addr,
        "cluster_addr": node.cluster_addr,
        "node_cluster_addrs": repl.own_cluster_addrs(),
        "cluster_name": node.cluster_name,
        "time": time.time(),
    }


def _same_target(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("mode", "cluster_id", "secondary_id")
    pa, pb = a.get("primary") or {}, b.get("primary") or {}
    return all(a.get(k) == b.get(k) for k in keys) and pa.get("credential") == pb.get("credential")


async def _session(repl: Replication, t: str, state: dict[str, Any], addr: str) -> None:
    node, storage, scopes = repl.node, repl.storage, SCOPES[t]
    timeout = repl.request_timeout()
    prog = repl.progress(t)
    if prog.get("connection_state") != models.CONN_READY or prog.get("connected_addr") != addr:
        repl.save_progress(t, connection_state=models.CONN_CONNECTING)
    greeting = hello(repl, t, state)
    greeting.update(merkle_root=storage.merkle_root(scopes), last_remote_wal=prog.get("last_remote_wal", 0),
                    remote_epoch=prog.get("remote_epoch"), filter_tag=prog.get("filter_tag", ""))
    answer = await post(repl, t, state, addr, "handshake", greeting, timeout + 30)
    if models.mode_of(state) == BOOTSTRAPPING:
        await asyncio.sleep(repl.timing("bootstrap", 0.0))
    position = answer["position"]
    if answer.get("action") == "snapshot":
        items = answer.get("items") or []
        repl.save_progress(t, stream_state=models.ST_SYNC, connection_state=models.CONN_READY,
                           merkle_sync_progress={"sync_progress": 0, "sync_total_keys": len(items)})
        await asyncio.sleep(repl.timing("merkle_sync", 0.0))
        if not _still_current(repl, t, state):
            return
        storage.restore(items, scopes, wal_index=position)
        repl.new_epoch()
        repl.save_progress(t, merkle_sync_progress={"sync_progress": len(items), "sync_total_keys": len(items)})
    else:
        repl.save_progress(t, stream_state=models.ST_DIFF, connection_state=models.CONN_READY)
        if t == "dr":
            # Same data as the primary at ``position`` (merkle-equal) or a WAL gap it can fill:
            # either way this cluster's sequence continues from the primary's.
            storage.advance(position)
    if models.mode_of(state) == BOOTSTRAPPING:
        fresh = repl.load(t)
        if not _same_target(fresh, state):
            return
        fresh = models.finish_bootstrap(fresh)
        repl.save(t, fresh)
        repl.kick[t].clear()
        state = dict(fresh, _type=t)
    filter_tag, epoch = answer.get("filter_tag", ""), answer.get("epoch")
    changes = _learn(repl, t, state, answer)
    # Whatever the handshake did (merkle-equal, catch-up under the same filter, snapshot), this
    # cluster now holds the primary's view under ``filter_tag``: remembered for the next handshake.
    repl.save_progress(t, stream_state=models.ST_STREAM, connection_state=models.CONN_READY,
                       last_remote_wal=position, remote_epoch=answer.get("epoch"), filter_tag=filter_tag,
                       connected_addr=addr, merkle_sync_progress=None, **changes)
    interval = max(repl.timing("heartbeat_interval", 0.2), 0.02)
    while node.active:
        if repl.kick[t].is_set() or not _still_current(repl, t, state):
            return
        body = hello(repl, t, state)
        body.update(after=position, wait=interval, filter_tag=filter_tag, epoch=epoch)
        answer = await _unless_kicked(repl, t, post(repl, t, state, addr, "wal", body, interval + timeout))
        if answer is None or not _still_current(repl, t, state):
            return
        entries = answer.get("entries") or []
        if entries:
            storage.apply(entries)
        position = answer.get("position", position)
        if t == "dr":
            storage.advance(position)
        changes = _learn(repl, t, state, answer)
        repl.save_heartbeat(t, stream_state=models.ST_STREAM, connection_state=models.CONN_READY,
                            last_remote_wal=position, connected_addr=addr, **changes)


async def _unless_kicked(repl: Replication, t: str, poll: Any) -> dict[str, Any] | None:
    """The answer of ``poll`` (a held WAL poll), or None as soon as this cluster's replication
    state changes meanwhile (promoted, demoted, re-pointed, disabled: ``kick``).

    A held poll lasts up to a heartbeat interval; the loop must not finish it before reacting
    (Vault acts on such a change at once). The abandoned request is cancelled.
    """
    task = asyncio.ensure_future(poll)
    kicked = asyncio.ensure_future(repl.kick[t].wait())
    try:
        done, _ = await asyncio.wait({task, kicked}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        kicked.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, kicked, return_exceptions=True)
    return task.result() if task in done else None


def _still_current(repl: Replication, t: str, state: dict[str, Any]) -> bool:
    fresh = repl.effective(t)
    return models.mode_of(fresh) in (SECONDARY, BOOTSTRAPPING) and _same_target(fresh, state)


# Vault's wording for this case is not known; this mirrors its other bootstrap failures [?].
REVOKED = ("error fetching secondary bootstrap package: error authing for bootstrap: rpc error: "
           "code = PermissionDenied desc = secondary id \"{id}\" is unknown to the primary or was revoked; "
           "generate a new activation token")


async def probe_primary(repl: Replication, t: str, bundle: dict[str, Any]) -> str | None:
    """Reach the primary's cluster port with a fresh bundle; None if it answered, else why not.

    The reason is either a bare cause (to be wrapped as an unreachable-primary bootstrap
    failure) or, when the primary refuses the secondary id, the complete error (``REVOKED``)."""
    state = {"_type": t, "secondary_id": bundle.get("secondary_id"),
             "primary": {k: bundle.get(k) for k in ("credential", "ca_pem", "cluster_name", "client_cert",
                                                    "client_key", "server_name")}}
    reason = "no cluster address in the activation token"
    timeout = repl.request_timeout()
    queue = [a for a in bundle.get("cluster_addrs") or [] if a]
    tried: list[str] = []
    while queue:
        addr = queue.pop(0)
        if addr in tried:
            continue
        tried.append(addr)
        body = hello(repl, t, state)
        body["probe"] = True
        try:
            await post(repl, t, state, addr, "handshake", body, timeout)
            return None
        except Redirect as redirect:
            queue.insert(0, redirect.addr)
            reason = str(redirect)
        except Refused:
            # Every node of the primary shares the same secondaries list: no point asking on.
            return REVOKED.format(id=bundle.get("secondary_id"))
        except StreamError as exc:
            reason = f"connection to {addr} failed: {exc}"
    return reason
