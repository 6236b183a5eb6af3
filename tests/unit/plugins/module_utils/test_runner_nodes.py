# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HA clusters declared with their nodes: the client talks to the active node when the node the
address names is sealed or does not answer; a standby or a healthy node is kept."""

from __future__ import annotations

import time

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vaultops.replication.plugins.module_utils import _runner
from ansible_collections.vaultops.replication.plugins.module_utils._runner import RunnerContext, connection_argument_spec

SEALED = (503, {"initialized": True, "sealed": True, "standby": True})
ACTIVE = (200, {"initialized": True, "sealed": False, "standby": False})
STANDBY = (429, {"initialized": True, "sealed": False, "standby": True})


def context(url, nodes):
    args = {"cluster": {"url": url, "nodes": nodes}, "token": "hvs.node-test", "timeout": 5}
    result = ArgumentSpecValidator(connection_argument_spec()).validate(args)
    assert not result.error_messages, result.error_messages
    ctx = RunnerContext(result.validated_parameters, env={})
    ctx.resolve_connection()
    return ctx


@pytest.fixture
def nodes(stub_vault_factory):
    return [stub_vault_factory(), stub_vault_factory(), stub_vault_factory()]


def test_sealed_named_node_gives_way_to_the_active_one(nodes):
    nodes[0].route("GET", "sys/health", SEALED)
    nodes[1].route("GET", "sys/health", STANDBY)
    nodes[2].route("GET", "sys/health", ACTIVE)
    ctx = context(nodes[0].url, [n.url for n in nodes])
    assert ctx.client.url.rstrip("/") == nodes[2].url
    assert any(nodes[0].url in w and nodes[2].url in w for w in ctx.warnings)


def test_unreachable_named_node_gives_way_to_the_active_one(nodes, closed_port):
    nodes[1].route("GET", "sys/health", ACTIVE)
    dead = "http://127.0.0.1:%d" % closed_port
    ctx = context(dead, [dead, nodes[1].url])
    assert ctx.client.url.rstrip("/") == nodes[1].url


@pytest.mark.parametrize("answer", [ACTIVE, STANDBY])
def test_serving_or_standby_named_node_is_kept(nodes, answer):
    nodes[0].route("GET", "sys/health", answer)
    nodes[1].route("GET", "sys/health", ACTIVE)
    ctx = context(nodes[0].url, [n.url for n in nodes[:2]])
    assert ctx.client.url.rstrip("/") == nodes[0].url
    assert nodes[1].calls("GET", "sys/health") == []


def test_no_active_node_keeps_the_named_one(nodes, monkeypatch):
    monkeypatch.setattr(_runner, "NODE_TAKEOVER_WAIT", 0.3)
    nodes[0].route("GET", "sys/health", SEALED)
    nodes[1].route("GET", "sys/health", SEALED)
    nodes[2].route("GET", "sys/health", STANDBY)
    ctx = context(nodes[0].url, [n.url for n in nodes])
    assert ctx.client.url.rstrip("/") == nodes[0].url
    # It waited for the standby to take over: several probes of it.
    assert len(nodes[2].calls("GET", "sys/health")) > 1


def test_a_cluster_without_a_standby_is_not_waited_for(nodes, closed_port):
    for node in nodes:
        node.route("GET", "sys/health", SEALED)
    dead = "http://127.0.0.1:%d" % closed_port
    started = time.monotonic()
    ctx = context(dead, [dead] + [n.url for n in nodes])
    assert ctx.client.url.rstrip("/") == dead
    assert time.monotonic() - started < 2
    assert all(len(n.calls("GET", "sys/health")) == 1 for n in nodes)


def test_a_single_node_is_not_probed(nodes):
    ctx = context(nodes[0].url, [nodes[0].url])
    assert ctx.client.url.rstrip("/") == nodes[0].url
    assert nodes[0].requests == []
