"""Node state in-process (no HTTP): election, seal config replacement, tokens, wrapping."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest

from vaultlab import profiles
from vaultlab.model.values import KeyVerificationError, decode_key, parse_duration
from vaultlab.node import HA_LOCK_KEY, Node


def _nodes(tmp_path, count: int = 2, **timing: float) -> list[Node]:
    config = {"profile": "fast", "timing": {"ha_lease_ttl": 0.2, **timing}, "tls": False}
    return [Node(tmp_path, "c", f"c-{i}", api_port=8200 + i, cluster_port=8300 + i, config=config)
            for i in range(1, count + 1)]


def _unseal(node: Node, keys: list[str], threshold: int = 3) -> None:
    for key in keys[:threshold]:
        node.submit_unseal_key(decode_key(key))


def test_init_unseal_and_single_leader(tmp_path) -> None:
    a, b = _nodes(tmp_path)
    result = a.initialize(5, 3)
    assert len(result["keys"]) == 5 and result["root_token"].startswith("hvs.")
    assert b.initialized and b.sealed
    _unseal(a, result["keys_base64"])
    _unseal(b, result["keys"])
    assert not a.sealed and not b.sealed
    a.ha_tick()
    b.ha_tick()
    assert a.active and not b.active and b.standby
    assert b.leader()["api_addr"] == a.api_addr
    # the active node stops renewing (as if killed): b takes over once the lease expires
    time.sleep(0.25)
    b.ha_tick()
    assert b.active
    a.ha_tick()  # a notices it lost the lock
    assert not a.active


def test_wrong_keys_do_not_unseal(tmp_path) -> None:
    (a,) = _nodes(tmp_path, 1)
    a.initialize(3, 2)
    with pytest.raises(KeyVerificationError):
        for i in range(2):
            a.submit_unseal_key(bytes([i + 1]) * 32 + bytes([i + 5]))
    assert a.sealed and a.seal_status()["progress"] == 0


def test_replace_seal_config_seals_other_nodes(tmp_path) -> None:
    a, b = _nodes(tmp_path)
    own = a.initialize(5, 3)
    _unseal(a, own["keys"])
    _unseal(b, own["keys"])
    a.ha_tick()
    b.ha_tick()

    foreign_dir = tmp_path / "other"
    (other,) = [Node(foreign_dir, "o", "o-1", config={"profile": "fast", "timing": {}, "tls": False})]
    foreign = other.initialize(5, 3)
    a.replace_seal_config(other.seal_config())
    a.ha_tick()
    b.ha_tick()
    assert not a.sealed and a.active  # the node that adopted the config stays unsealed
    assert b.sealed  # the standby noticed and sealed itself
    with pytest.raises(KeyVerificationError):
        _unseal(b, own["keys"])
    _unseal(b, foreign["keys"])
    assert not b.sealed
    b.ha_tick()
    assert not b.sealed and b.standby


def test_callbacks_fire_on_transitions(tmp_path) -> None:
    (a,) = _nodes(tmp_path, 1)
    keys = a.initialize(1, 1)["keys"]
    events: list[str] = []
    a.on_active(lambda: events.append("active"))
    a.on_standby(lambda: events.append("standby"))
    a.on_seal(lambda: events.append("seal"))
    a.submit_unseal_key(decode_key(keys[0]))
    a.ha_tick()
    a.seal()
    assert events == ["active", "standby", "seal"]


def test_tokens_ttl_num_uses_and_revoke(tmp_path) -> None:
    (a,) = _nodes(tmp_path, 1)
    a.initialize(1, 1)
    auth = a.tokens.create_token(["p"], ttl=1, num_uses=2)
    token = auth["client_token"]
    entry = a.tokens.lookup_token(token)
    assert entry["policies"] == ["default", "p"] and entry["num_uses"] == 2
    a.tokens.use_token(token, entry)
    a.tokens.use_token(token, a.tokens.lookup_token(token))
    assert a.tokens.lookup_token(token) is None  # used up
    short = a.tokens.create_token(["p"], ttl=1)["client_token"]
    time.sleep(1.05)
    assert a.tokens.lookup_token(short) is None
    batch = a.tokens.create_token(["p"], ttl=60, token_type="batch")
    assert batch["client_token"].startswith("hvb.") and batch["orphan"] is True
    assert a.storage.scope_of(next(iter(a.storage.list("sys/token/id/")))) == "local"


def test_wrapping_is_single_use_and_expires(tmp_path) -> None:
    (a,) = _nodes(tmp_path, 1)
    info = a.tokens.wrap({"data": {"x": 1}}, ttl=60, creation_path="p", token="custom.jwt.token")
    assert info["token"] == "custom.jwt.token"
    assert a.tokens.lookup_wrapping("custom.jwt.token")["creation_path"] == "p"
    assert a.tokens.unwrap("custom.jwt.token") == {"data": {"x": 1}}
    with pytest.raises(ValueError, match="wrapping token is not valid or does not exist"):
        a.tokens.unwrap("custom.jwt.token")
    a.tokens.wrap({"data": {}}, ttl=1, creation_path="p", token="short")
    time.sleep(1.05)
    assert a.tokens.lookup_wrapping("short") is None


def test_partition_lookup_from_faults_file(tmp_path) -> None:
    from vaultlab import faults

    (a,) = _nodes(tmp_path, 1)
    assert not a.partitioned("d", "replication")
    faults.add_partition(tmp_path, ["c", "d"], "replication")
    assert a.partitioned("d", "replication") and not a.partitioned("d", "client")
    assert not a.partitioned("e", "replication") and not a.partitioned(None, "replication")
    faults.add_partition(tmp_path, ["c"], "client")
    time.sleep(0.01)
    assert a.partitioned(None, "client") and a.partitioned("zzz", "client")
    faults.heal(tmp_path)
    assert not a.partitioned("d", "replication") and not a.partitioned(None, "client")
    with pytest.raises(faults.FaultError):
        faults.add_partition(tmp_path, ["c", "d"], "sideways")


def test_decode_key_and_durations() -> None:
    raw = bytes(range(33))
    assert decode_key(raw.hex()) == raw
    assert decode_key(base64.b64encode(raw).decode()) == raw
    with pytest.raises(ValueError):
        decode_key("zz not a key")
    assert parse_duration("1h30m") == 5400 and parse_duration(45) == 45 and parse_duration("2d") == 172800
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_profiles_and_overrides(tmp_path) -> None:
    fast = profiles.resolve("fast")
    real = profiles.resolve("realistic")
    assert fast["ha_lease_ttl"] < 1 and real["promote"] >= 1
    assert profiles.resolve("fast", {"promote": "2.5"})["promote"] == 2.5
    with pytest.raises(profiles.ProfileError, match="--profile"):
        profiles.resolve("turbo")
    assert profiles.parse_overrides(["a=1", "b = 2.5"]) == {"a": 1.0, "b": 2.5}
    with pytest.raises(profiles.ProfileError, match="NAME=SECONDS"):
        profiles.parse_overrides(["novalue"])
    bad = tmp_path / "t.json"
    bad.write_text("[1]")
    with pytest.raises(profiles.ProfileError, match="JSON object"):
        profiles.parse_overrides(file=str(bad))
    (a,) = _nodes(tmp_path, 1, promote=4.0)
    assert a.timing("promote") == 4.0 and a.timing("nonexistent", 1.5) == 1.5
    with pytest.raises(KeyError):
        a.timing("nonexistent")


def _lab_config(lab_dir, nodes: list[str], profile: str = "fast") -> None:
    # As the supervisor writes it (a new file replaces the old one) before it starts the nodes.
    tmp = lab_dir / ".config.json.tmp"
    tmp.write_text(json.dumps({"profile": profile, "timing": {}, "tls": False, "clusters": {"c": nodes}}))
    os.replace(tmp, lab_dir / "config.json")


@pytest.mark.parametrize("profile", ["fast", "realistic"])
def test_a_lone_active_node_renews_less_often_and_never_lets_its_lease_lapse(tmp_path, profile) -> None:
    timing = profiles.PROFILES[profile]
    renew, ttl = timing["ha_renew_interval"], timing["ha_lease_ttl"]
    stale = max(3 * renew, 1.0)  # ha_heartbeat_stale_after's default
    _lab_config(tmp_path, ["c-1"], profile)
    a = Node(tmp_path, "c", "c-1", api_port=8201, cluster_port=8301)  # reads the lab's config.json
    keys = a.initialize(1, 1)["keys"]
    assert a.ha_interval() == timing["ha_poll_interval"]  # sealed: not active, polls as a standby does
    a.submit_unseal_key(decode_key(keys[0]))
    a.ha_tick()
    assert a.active
    lone = a.ha_interval()
    assert lone == pytest.approx(max(renew, min(ttl, stale) / 2)) and lone > renew
    # Renewed at that pace, the lease always has at least half its life left, and a standby that
    # joined meanwhile would find the renewal fresher than half its staleness limit.
    first = a.storage.get(HA_LOCK_KEY)
    time.sleep(0.01)
    a.ha_tick()
    lock = a.storage.get(HA_LOCK_KEY)
    assert lock["renewed"] > first["renewed"] and lock["since"] == first["since"]
    assert lock["expires"] - lock["renewed"] == pytest.approx(ttl)
    assert ttl - lone >= ttl / 2 and lone <= stale / 2

    # Another node is added to the cluster: listed in config.json before it starts, so the
    # active node renews at the full pace from its next round on, and the newcomer follows.
    _lab_config(tmp_path, ["c-1", "c-2"], profile)
    assert a.ha_interval() == renew
    b = Node(tmp_path, "c", "c-2", api_port=8202, cluster_port=8302)
    b.submit_unseal_key(decode_key(keys[0]))
    b.ha_tick()
    assert b.standby and b.leader()["api_addr"] == a.api_addr and not b.ha_unhealthy()
    assert b.ha_interval() == timing["ha_poll_interval"]


def test_only_the_labs_own_config_can_make_a_node_alone(tmp_path) -> None:
    _lab_config(tmp_path, ["c-1"])
    (a,) = _nodes(tmp_path, 1)  # handed its config: no knowledge of the lab's node list
    keys = a.initialize(1, 1)["keys"]
    a.submit_unseal_key(decode_key(keys[0]))
    a.ha_tick()
    assert a.active and a.ha_interval() == profiles.PROFILES["fast"]["ha_renew_interval"]
    # Nor does a config that does not list this node alone (missing, garbled, other names).
    lone = Node(tmp_path, "c", "c-1", api_port=8203, cluster_port=8303)
    lone.submit_unseal_key(decode_key(keys[0]))
    for text in ("", "{", json.dumps({"clusters": {"c": ["c-9"]}}), json.dumps({"clusters": []})):
        (tmp_path / "config.json").write_text(text)
        os.utime(tmp_path / "config.json", ns=(time.time_ns(), time.time_ns() + len(text)))
        assert lone._alone() is False


def test_renewal_after_someone_else_wrote_the_lock_goes_through_the_full_check(tmp_path) -> None:
    a, b = _nodes(tmp_path)
    keys = a.initialize(1, 1)["keys"]
    for node in (a, b):
        node.submit_unseal_key(decode_key(keys[0]))
    a.ha_tick()
    b.ha_tick()
    assert a.active and b.standby
    # b holds an unexpired lock (as if a had stalled past its lease and b had taken over).
    lock = dict(a.storage.get(HA_LOCK_KEY), node=b.name, api_addr=b.api_addr, cluster_addr=b.cluster_addr,
                expires=time.time() + 5, renewed=time.time())
    b.storage.put(HA_LOCK_KEY, lock, scope="node")
    a.ha_tick()
    assert not a.active and a.leader()["node"] == b.name
    assert a.storage.get(HA_LOCK_KEY)["node"] == b.name  # a's renewal did not overwrite it
