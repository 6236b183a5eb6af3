# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_runner's fan-out: a runner whose FAN_OUT list option is given runs once per entry, all at
once, and the task result gathers the entries' results."""

from __future__ import annotations

import json
import threading

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vaultops.replication.plugins.module_utils._runner import (
    cluster_suboptions,
    connection_argument_spec,
    execute,
    fan_out_params,
)


def spec():
    full = connection_argument_spec()
    full.update(id=dict(type="str"), items=dict(type="list", elements="dict",
                                                options=dict(cluster_suboptions(), id=dict(type="str"))))
    return full


def params(**args):
    result = ArgumentSpecValidator(spec()).validate(args)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


class Echo:
    """Returns what its context resolved; entries named in ``fail``/``crash`` fail or raise.
    ``barrier`` (when set) is passed by every entry's run before it returns: it only opens when all
    of them run at the same time."""

    FAN_OUT = "items"
    FAN_OUT_DEFAULTS = {"id": "name"}
    barrier = None
    threads = set()

    def __init__(self, ctx):
        self.ctx = ctx

    def run(self):
        p = self.ctx.params
        Echo.threads.add(threading.current_thread().name)
        if Echo.barrier is not None:
            Echo.barrier.wait(timeout=5)
        if p["id"] == "bad":
            self.ctx.fail_json(msg="entry %s is bad" % p["id"], changed=False)
        if p["id"] == "boom":
            raise RuntimeError("kaput")
        if p["id"] == "warns":
            self.ctx.warn("careful")
        return dict(changed=p["id"] != "same", actions=["update-primary"] if p["id"] != "same" else [],
                    seen=dict(url=p["url"], token=p["token"], ca_cert=p["ca_cert"], id=p["id"],
                              name=(p["cluster"] or {}).get("name"), check=self.ctx.check_mode),
                    diff=dict(before={"role": "old"}, after={"role": "new"}))


@pytest.fixture(autouse=True)
def reset_echo():
    Echo.barrier = None
    Echo.threads = set()
    yield
    Echo.barrier = None


def entry(name, **extra):
    return dict(dict(url="http://%s:8200" % name, name=name), **extra)


def test_every_entry_runs_at_the_same_time_with_its_own_options(self_signed_cert):
    ca = self_signed_cert[0]  # a real PEM file: options are checked before any entry runs
    entries = [entry("perf%02d" % i, token="t%d" % i) for i in range(12)]
    Echo.barrier = threading.Barrier(len(entries))  # times out unless all 12 run at once
    out = execute(Echo, params(items=entries, token="flat", ca_cert=ca), env={})
    assert not out.get("failed"), out
    assert len(Echo.threads) == 12
    assert [r["name"] for r in out["results"]] == ["perf%02d" % i for i in range(12)]
    first = out["results"][0]
    assert first["seen"] == dict(url="http://perf00:8200", token="t0", ca_cert=ca, id="perf00",
                                 name="perf00", check=False)
    assert first["changed"] is True and first["failed"] is False and first["msg"] == "changed (update-primary)"
    assert out["changed"] is True and out["msg"] == "12 of 12 entries of items changed."
    for key in ("started", "ended", "elapsed"):
        assert key in out and key in first


@pytest.mark.parametrize("bad, named", [
    (dict(url="perf01:8200"), "items[1].url 'perf01:8200' must start with https:// or http://"),
    (dict(token="t1\n"), "items[1].token contains whitespace at position 2"),
    (dict(ca_cert="/nonexistent/ca.pem"), "items[1].ca_cert: no such file: /nonexistent/ca.pem"),
    (dict(id="a/b"), "items[1].id 'a/b' is not a usable name"),
])
def test_a_bad_entry_stops_the_task_before_any_entry_runs(bad, named):
    entries = [entry("perf00"), entry("perf01", **bad), entry("perf02")]
    out = execute(Echo, params(items=entries), env={})
    assert out["failed"] and out["msg"].startswith(named), out["msg"]
    assert out["results"] == [] and not Echo.threads


def test_entry_values_win_over_flat_ones_which_are_defaults():
    p = params(items=[entry("a", id="sec-a", ca_cert="/a.pem"), entry("b")], token="flat", ca_cert="/flat.pem",
               timeout=7)
    a = fan_out_params(p, "items", p["items"][0], {"id": "name"})
    b = fan_out_params(p, "items", p["items"][1], {"id": "name"})
    assert (a["url"], a["id"], a["ca_cert"], a["token"], a["timeout"]) == ("http://a:8200", "sec-a", "/a.pem", "flat", 7)
    assert (b["id"], b["ca_cert"]) == ("b", "/flat.pem")
    assert a["items"] is None and a["cluster"]["name"] == "a" and "id" not in a["cluster"]


def test_check_mode_and_diff_per_entry():
    out = execute(Echo, params(items=[entry("a"), entry("same")]), check_mode=True, diff=True, env={})
    assert [r["seen"]["check"] for r in out["results"]] == [True, True]
    assert out["diff"] == {"before": {"a": {"role": "old"}, "same": {"role": "old"}},
                           "after": {"a": {"role": "new"}, "same": {"role": "new"}}}
    assert out["results"][1]["changed"] is False and out["results"][1]["msg"] == "unchanged"
    assert out["msg"] == "1 of 2 entries of items changed."


def test_failures_are_listed_with_their_messages_and_never_a_traceback():
    out = execute(Echo, params(items=[entry("ok"), entry("bad"), entry("boom")]), env={})
    assert out["failed"] is True and out["changed"] is True
    assert out["msg"] == ("2 of 3 entries of items failed: bad: entry bad is bad; boom: Echo failed unexpectedly "
                          "(a bug in vaultops.replication): RuntimeError: kaput")
    assert [(r["name"], r["failed"]) for r in out["results"]] == [("ok", False), ("bad", True), ("boom", True)]
    assert out["results"][0]["seen"]["id"] == "ok"  # the others' results are kept
    assert "Traceback" not in json.dumps(out)


def test_warnings_are_named_after_their_entry():
    out = execute(Echo, params(items=[entry("warns"), entry("quiet")]), env={})
    assert out["warnings"] == ["warns: careful"]
    assert all("warnings" not in r for r in out["results"])


@pytest.mark.parametrize("items,text", [
    ([entry("a"), dict(name="b")], "items[1] has no url"),
    ([entry("a"), entry("b", url="http://a2:8200"), entry("a", url="http://a3:8200")], "lists 'a' twice"),
    ([dict(url="http://x:8200", id="x"), dict(url="http://y:8200", id="x")], "lists 'x' twice"),
])
def test_bad_lists_fail_before_any_run(items, text):
    out = execute(Echo, params(items=items), env={"VAULT_ADDR": "http://never:8200"})
    assert out["failed"] and text in out["msg"] and out["results"] == []
    assert Echo.threads == set()


def test_empty_list_is_nothing_to_do():
    out = execute(Echo, params(items=[]), env={})
    assert out["changed"] is False and out["results"] == [] and not out.get("failed")
    assert out["msg"] == "items is empty; nothing to do."


def test_without_the_list_the_runner_runs_once():
    out = execute(Echo, params(url="http://single:8200", id="one"), env={})
    assert "results" not in out and out["seen"]["url"] == "http://single:8200"


def test_runner_may_refuse_options_that_do_not_apply_per_entry():
    class Refusing(Echo):
        @staticmethod
        def fan_out_problem(p):
            return "no fan-out with token %s" % p["token"] if p["token"] == "no" else None

    out = execute(Refusing, params(items=[entry("a")], token="no"), env={})
    assert out["failed"] and out["msg"] == "no fan-out with token no" and Echo.threads == set()


def test_token_from_the_environment_is_censored_in_every_entry():
    out = execute(Echo, params(items=[entry("a"), entry("b", token="own")]), env={"VAULT_TOKEN": "from-env"})
    assert out["results"][0]["seen"]["token"] != "from-env"
    assert out["results"][1]["seen"]["token"] == "own"
    assert "from-env" not in json.dumps(out)


class Sharing(Echo):
    """Reads "the primary" through ctx.once; entries fail alike when that read fails."""

    reads = []
    primary_down = False

    def run(self):
        def read_primary():
            Sharing.reads.append(self.ctx.params["id"])
            if Sharing.primary_down:
                self.ctx.fail_json(msg="the primary is sealed")
            return {"known_secondaries": ["a", "b"]}

        seen = self.ctx.once(("primary", "http://p:8200"), read_primary)
        return dict(changed=False, seen=seen)


def test_reads_every_entry_would_repeat_happen_once_per_fan_out():
    Sharing.reads = []
    Sharing.primary_down = False
    out = execute(Sharing, params(items=[entry("a"), entry("b"), entry("c")]), env={})
    assert len(Sharing.reads) == 1 and not out.get("failed")
    assert [r["seen"] for r in out["results"]] == [{"known_secondaries": ["a", "b"]}] * 3
    # a run of its own reads for itself
    execute(Sharing, params(url="http://a:8200", id="a"), env={})
    execute(Sharing, params(url="http://a:8200", id="a"), env={})
    assert len(Sharing.reads) == 3


def test_a_shared_read_that_ends_the_run_ends_every_entry_alike():
    Sharing.reads = []
    Sharing.primary_down = True
    out = execute(Sharing, params(items=[entry("a"), entry("b")]), env={})
    assert len(Sharing.reads) == 1
    assert out["failed"] and out["msg"] == ("2 of 2 entries of items failed: a: the primary is sealed; "
                                            "b: the primary is sealed")
