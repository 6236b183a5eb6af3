# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based fuzzing of every module's argument spec (Hypothesis), on both execution paths.

Each generated argument set starts from a valid task for one module and gets bad values put
into some of its options (wrong types, empty strings, unknown choices, URLs without a scheme,
CA files that are not PEM, unreadable files, tokens with whitespace, numbers far out of range,
lists mixing types, unknown options), sometimes with random junk in others. Every set runs
through the action plugin (in-process on the controller), every second one also through the
module's main() with its arguments injected as AnsiballZ injects them (both paths must then fail
alike), and a deterministic sample (one per module by default) as real AnsiballZ modules in
their own Python processes, beside the in-process runs.

Every URL points at a local HTTP server that records each connection and answers every request
with HTTP 400. The properties:

* no traceback, no hang (a watchdog ends a run after WATCHDOG seconds) and no secret of the
  input in the result, whatever the input;
* an argument set with a known bad value fails, names the bad option and says what would be
  valid, and opened no connection to any cluster (options are checked before the first request);
* any failure that happened before the first request is a validation error naming an option;
* the two in-process paths agree on such failures.

Violations are collected (not raised one by one) so that one run reports every kind found;
the test prints how many argument sets it tried.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pkgutil
import queue
import re
import resource
import signal
import subprocess
import sys
import threading
import time

from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st  # noqa: E402

from ansible.module_utils import _internal as _module_internal, basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.vaultops.replication.plugins import modules as _modules_package  # noqa: E402
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import (  # noqa: E402
    run_action,
)

# How many argument sets run in-process (each through the action plugin, every MODULE_MAIN_EVERY-th
# also through the module's main()), and how many of
# them also run as real AnsiballZ modules: one per module by default, because each costs a Python
# start (0.3-0.5 s of CPU, several seconds on a loaded machine) and the test must stay within a
# minute there; VAULTOPS_FUZZ_ANSIBALLZ=200 runs a thorough sample.
IN_PROCESS_EXAMPLES = int(os.environ.get("VAULTOPS_FUZZ_EXAMPLES", "2000"))
MODULE_MAIN_EVERY = int(os.environ.get("VAULTOPS_FUZZ_MODULE_MAIN_EVERY", "2"))
# Argument sets drawn per Hypothesis example: its per-example bookkeeping costs more than a run.
BATCH = 16
# Seconds one run may take before it counts as hung.
WATCHDOG = 20.0
# A run slower than this is reported (the fuzz server answers at once).
SLOW = 5.0

# Marks secrets in the inputs: it must never show up in a result.
SECRET = "fuzzsecret"
TOKEN = "hvs.%s0123456789" % SECRET
# Replaced by the recording server's port at run time.
PORT_MARK = "FUZZPORT"
SERVER = "http://127.0.0.1:%s" % PORT_MARK

VAULT_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT", "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY",
             "VAULT_SKIP_VERIFY", "VAULT_NAMESPACE")
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

# Words a message uses when it says what would be valid.
HINT = re.compile(
    r"must|one of|expected|should|\bset\b|\bgive\b|\buse\b|for example|e\.g\.|required|unable to convert|"
    r"not a\b|needs?\b|valid|supported|between|at least|at most|\bonly\b|instead|cannot|is not|are not|"
    r"\bis for\b|leave it out|no such file",
    re.IGNORECASE)

# ---------------------------------------------------------------------------------------------
# The modules and what a valid task of each looks like


def _discover():
    """{name: (runner module, main, action class)} for every module with a same-named action plugin and
    a main() (failover_run runs only on the controller: its module file is documentation only, and
    its options are checked in tests/unit/plugins/plugin_utils/test_failover_run.py)."""
    found = {}
    for info in pkgutil.iter_modules(_modules_package.__path__):
        if info.name.startswith("_"):
            continue
        try:
            action = importlib.import_module(
                "ansible_collections.vaultops.replication.plugins.action.%s" % info.name).ActionModule
        except ImportError:
            continue
        module = importlib.import_module("ansible_collections.vaultops.replication.plugins.modules.%s" % info.name)
        if not hasattr(module, "main"):
            continue
        found[info.name] = (action.RUNNER, module.main, action)
    return found


MODULES = _discover()
ANSIBALLZ_SAMPLE = int(os.environ.get("VAULTOPS_FUZZ_ANSIBALLZ") or len(MODULES))
SPECS = dict((name, runner.module_spec()) for name, (runner, _main, _action) in MODULES.items())


def _valid_value(name, entry):
    """A valid value for an option (used for required options and for the parents of suboptions)."""
    kind = entry.get("type", "str")
    if entry.get("choices"):
        return list(entry["choices"][:1]) if kind == "list" else entry["choices"][0]
    if name.endswith("url"):
        return SERVER
    if name.endswith("token") or entry.get("no_log"):
        return TOKEN
    if kind == "dict":
        return _valid_dict(entry.get("options") or {})
    if kind == "list":
        if entry.get("elements") == "dict":
            return [_valid_dict(entry.get("options") or {})]
        return ["fuzz-a"]
    return {"int": 30, "float": 1.0, "bool": False}.get(kind, "fuzz-a")


def _valid_dict(options):
    out = {}
    for key, entry in options.items():
        if entry.get("required") or key == "url":
            out[key] = _valid_value(key, entry)
    return out


def _base_args(name):
    spec = SPECS[name]["argument_spec"]
    args = {"url": SERVER, "token": TOKEN}
    for key, entry in spec.items():
        if entry.get("required"):
            args[key] = _valid_value(key, entry)
    # Options the defaults make required (required_if on a default value).
    for rule in SPECS[name].get("required_if") or []:
        key, value, needed = rule[0], rule[1], rule[2]
        if args.get(key, spec.get(key, {}).get("default")) == value:
            for option in needed[:1] if len(rule) > 3 and rule[3] else needed:
                args.setdefault(option, _valid_value(option, spec[option]))
    return args


BASE = dict((name, _base_args(name)) for name in MODULES)

# ---------------------------------------------------------------------------------------------
# Bad values (the oracle: each of these is invalid for the option it is put into)

URL_BAD = [
    "vault.example.com:8200", "127.0.0.1:%s" % PORT_MARK, "ftp://127.0.0.1:%s" % PORT_MARK, "http://",
    "https://127.0.0.1:99999", "http://127.0.0.1:port", "http://[::1", "%s/?wrap=1" % SERVER, "%s#top" % SERVER,
    "http://exa mple.com:8200", " ", "", "//127.0.0.1:8200", "%s\n" % SERVER.replace("http", "htt p"),
]
SECRET_BAD = [
    "%s with space" % TOKEN, " %s" % TOKEN, "%s\n" % TOKEN, "%s\tx" % TOKEN, "%s\u00e9" % TOKEN, "%s\x00" % TOKEN,
]
NAME_BAD = ["a/b", "..", "has space", "x\ny", "../../sys/seal"]
DURATION_BAD = ["forever", "-5m", "5 minutes", "1h-", "m", "30x"]
HUGE = [10 ** 19, 1e19, "1e19", 10 ** 13, 1e13, -1, float("inf"), float("nan"), "nan"]


def _is_url_option(name):
    return name == "url" or name.endswith("_url") or name in ("primary_api_addr", "primary_cluster_addr")


def _is_url_list(name):
    return name in ("standby_urls", "nodes")


def _is_secret(name, entry):
    return bool(entry.get("no_log")) or name == "token" or name.endswith("_token")


def _is_name_option(name):
    # Options that become a segment of an API path.
    return name in ("id", "policy_name", "role_name")


def _is_duration(name):
    return name in ("token_ttl", "ttl")


def bad_values(path, entry, files):
    """Values of the option at ``path`` (spec ``entry``) that a task must be refused for."""
    name = path[-1]
    kind = entry.get("type", "str")
    choices = entry.get("choices")
    elements = entry.get("elements")
    out = []
    if kind == "bool":
        out += ["maybe", 2, [True], {"a": 1}, 1.5, "2"]
    elif kind in ("int", "float"):
        out += ["abc", [1], {"a": 1}] + HUGE
        if kind == "int":
            out += [1.5, "1.5", ""]
        if name == "timeout":
            out += [0, 0.0]
    elif kind == "dict":
        out += ["not-a-dict", 5, [1, "x"], 1.5]
        if entry.get("options"):
            out += [{"bogus_key": 1}]
    elif kind == "list":
        if elements == "dict":
            out += ["x", 5, [1], ["x"], [{"bogus_key": 1}], {"a": 1}]
        else:
            out += [[{"a": 1}, "x"], [["x"], 1], {"a": 1}]
            if choices:
                out += [["nope"], ["connected", "nope"], "nope"]
            if _is_url_list(name):
                out += [[u] for u in URL_BAD if u.strip()] + [[SERVER, 1.5]]
            if _is_secret(name, entry):
                out += [[v] for v in SECRET_BAD]
    elif choices:
        out += ["nope", "", str(choices[0]).upper() + "X", 1, [choices[0]], {"a": 1}]
    else:  # str / path / raw
        if kind != "raw":
            out += [["x"], {"a": 1}]
        if _is_url_option(name):
            # An empty url is "not given": only the task's own url then has nothing to fall back on.
            out += [u for u in URL_BAD if u != "" or path == ("url",)]
        if _is_secret(name, entry) and kind != "raw":
            out += SECRET_BAD
        if _is_name_option(name):
            out += NAME_BAD
        if _is_duration(name):
            out += DURATION_BAD
        if name in ("ca_cert", "client_cert", "client_key") or name.endswith("_ca_cert"):
            # PEM files the client reads (other path options may name files a module writes).
            out += [files["missing"], files["not_pem"], files["empty"], files["unreadable"], files["binary"]]
            if not name.endswith("ca_cert"):
                out += [files["directory"]]
    return out


def option_paths(spec):
    """(path, entry) of every option and suboption: ("cluster", "url"), ("secondaries", 0, "url") ..."""
    out = []
    for key, entry in spec.items():
        out.append(((key,), entry))
        options = entry.get("options")
        if options:
            prefix = (key, 0) if entry.get("type") == "list" else (key,)
            for sub, sub_entry in options.items():
                out.append((prefix + (sub,), sub_entry))
    return out


PATHS = dict((name, option_paths(SPECS[name]["argument_spec"])) for name in MODULES)


def _exclusive_with(name, option):
    for group in SPECS[name].get("mutually_exclusive") or []:
        if option in group:
            for other in group:
                if other != option:
                    yield other


def _conflicts(name, path, bad):
    """Would putting ``path`` drop the option of a bad path (mutually exclusive ones)?"""
    dropped = set(_exclusive_with(name, path[0]))
    if path[0] == "secondaries":
        dropped.add("url")
    return any(b[0] in dropped for b in bad)


def put(name, args, path, value):
    """Set ``path`` in ``args`` to ``value``, giving the parents valid values and dropping options
    the top-level option excludes (so that the bad value is the task's only problem)."""
    top = path[0]
    spec = SPECS[name]["argument_spec"]
    for other in _exclusive_with(name, top):
        args.pop(other, None)
    if top in ("secondaries",):
        # A fan-out runs against its entries: the flat single-cluster options go.
        args.pop("url", None)
    needed = (SPECS[name].get("required_by") or {}).get(top) or []
    for option in [needed] if isinstance(needed, str) else needed:
        args.setdefault(option, _valid_value(option, spec[option]))
    if len(path) == 1:
        args[top] = value
        return
    parent = args.get(top)
    entry = spec[top]
    if path[1] == 0:
        if not isinstance(parent, list) or not parent or not isinstance(parent[0], dict):
            parent = [_valid_dict(entry.get("options") or {})]
        parent = [dict(parent[0])] + list(parent[1:])
        parent[0][path[2]] = value
    else:
        if not isinstance(parent, dict):
            parent = _valid_dict(entry.get("options") or {})
        parent = dict(parent)
        parent[path[1]] = value
    args[top] = parent


def reported_cases(closed_port):
    """The argument sets issue 11 reported (each must fail naming the option, before any request)."""
    nowhere = "http://127.0.0.1:%d" % closed_port
    return [
        # a timeout of 1e19 overflowed in the socket layer
        ("replication_primary", dict(BASE["replication_primary"], timeout=1e19), [("timeout",)], []),
        ("replication_status_info", dict(BASE["replication_status_info"], timeout=10 ** 19), [("timeout",)], []),
        # retries of 1e13 hung against a cluster that is down
        ("replication_primary", dict(BASE["replication_primary"], url=nowhere, retries=1e13), [("retries",)], []),
        ("promote", dict(BASE["promote"], url=nowhere, retries=10 ** 13), [("retries",)], []),
        # a paths_filter list mixing types crashed inside argument validation
        ("replication_secondary", dict(BASE["replication_secondary"], mode="performance", id="perf",
                                       primary_url=SERVER, paths_filter={"mode": "allow", "paths": ["secret/", 1, {"a": 1}]}),
         [("paths_filter", "paths")], []),
        ("replication_secondary", dict(BASE["replication_secondary"], mode="performance",
                                       paths_filter=[{"mode": "allow"}, "secret/"]), [("paths_filter",)], []),
        # paths_filter given as a string failed naming no option
        ("replication_secondary", dict(BASE["replication_secondary"], mode="performance", id="perf",
                                       primary_url=SERVER, paths_filter="allow:secret/"), [("paths_filter",)], []),
        # replication_status_info did not validate primary_url
        ("replication_status_info", dict(BASE["replication_status_info"], primary_url="vault.example.com:8200",
                                         wait_for=["caught_up"]), [("primary_url",)], []),
        ("replication_status_info", dict(BASE["replication_status_info"], primary_url="ftp://127.0.0.1:8200"),
         [("primary_url",)], []),
        # tokens with whitespace, a CA file that is not PEM, a URL without a scheme
        ("dr_operation_token", dict(BASE["dr_operation_token"], token=TOKEN + "\n"), [("token",)], []),
        ("replication_primary", dict(BASE["replication_primary"], url="vault.example.com:8200"), [("url",)], []),
    ]


def junk_values():
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
        st.sampled_from(["", " ", SERVER, "dr", "performance", "both", "allow", "30m", "1", "yes", TOKEN,
                         "127.0.0.1:8200", "http://[::1"]))
    return st.one_of(scalars, st.lists(scalars, max_size=3),
                     st.dictionaries(st.sampled_from(["url", "token", "mode", "paths", "name", "x"]), scalars,
                                     max_size=3))


JUNK = junk_values()
DICE = dict((n, st.integers(0, n)) for n in (2, 9, 19))


class Catalog:
    """The strategies ``cases`` draws from, built once (building them on every draw costs more
    than running the argument set)."""

    def __init__(self, files):
        self.modules = st.sampled_from(sorted(MODULES))
        self.bad = {}
        self.paths = {}
        for name in MODULES:
            pairs = [(path, value) for path, entry in PATHS[name] for value in bad_values(path, entry, files)]
            self.bad[name] = st.sampled_from(pairs)
            self.paths[name] = st.sampled_from([path for path, _entry in PATHS[name]])


@st.composite
def cases(draw, catalog):
    """(module, args, bad paths, junk paths)."""
    name = draw(catalog.modules)
    args = json.loads(json.dumps(BASE[name]))
    bad = []
    for _round in range(draw(DICE[2]) if draw(DICE[9]) == 0 else 1):
        path, value = draw(catalog.bad[name])
        if _conflicts(name, path, bad):
            continue
        put(name, args, path, value)
        bad.append(path)
    if draw(DICE[19]) == 0:
        args["bogus_option"] = draw(JUNK)
        bad.append(("bogus_option",))
    junk = []
    for _round in range(draw(DICE[2]) if draw(DICE[2]) == 0 else 0):
        path = draw(catalog.paths[name])
        if any(path[:len(b)] == b or b[:len(path)] == path for b in bad) or _conflicts(name, path, bad):
            continue  # junk must not replace (or contain, or drop) a bad value
        put(name, args, path, draw(JUNK))
        junk.append(path)
    if args.get("url") == "" and isinstance(args.get("cluster"), dict) and args["cluster"].get("url"):
        bad = [b for b in bad if b != ("url",)]  # an empty url falls back on cluster.url
    return name, args, bad, junk


# ---------------------------------------------------------------------------------------------
# The server that stands in for every cluster


class RecordingServer:
    """Accepts anything on 127.0.0.1, counts connections, answers every request with HTTP 400."""

    def __init__(self):
        self.connections = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One thread serves every connection in turn: a client that connects and sends
            # nothing must not hold it for long.
            timeout = 2

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = b'{"errors": ["fuzz server: not a Vault"]}'
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                # No keep-alive: a client pool never holds a handler thread.
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_LIST = do_HEAD = _answer

        class Server(HTTPServer):
            # Not threading: a thread per connection costs more than the answer, on a loaded
            # machine most of all.

            def verify_request(self, request, client_address):
                with server.lock:
                    server.connections += 1
                return True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def take(self):
        with self.lock:
            count, self.connections = self.connections, 0
        return count

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def with_port(value, port):
    if isinstance(value, str):
        return value.replace(PORT_MARK, str(port))
    if isinstance(value, list):
        return [with_port(v, port) for v in value]
    if isinstance(value, dict):
        return dict((k, with_port(v, port)) for k, v in value.items())
    return value


# ---------------------------------------------------------------------------------------------
# Running one argument set


class Hung(BaseException):
    """Raised by the watchdog (a BaseException: no ``except Exception`` in a runner swallows it)."""


@contextlib.contextmanager
def watchdog(seconds):
    def ring(signum, frame):
        raise Hung()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_in_process_action(name, args):
    _runner_module, main, action = MODULES[name]
    return run_action(action, args)


def run_in_process_module(name, args):
    """main() with the arguments injected as AnsiballZ injects them after unpacking."""
    _runner_module, main, _action = MODULES[name]
    args = dict(args, _ansible_module_name="vaultops.replication.%s" % name)
    out = io.StringIO()
    was_controller = _module_internal.is_controller
    _module_internal.is_controller = False
    try:
        with patch_module_args(args), contextlib.redirect_stdout(out):
            try:
                main()
            except SystemExit as end:
                code = end.code
            else:
                return {"_traceback": "main() returned without exit_json/fail_json"}
    finally:
        _module_internal.is_controller = was_controller
    result = json.loads(out.getvalue())
    result["_rc"] = code
    return result


class Findings:
    def __init__(self):
        self.kinds = Counter()
        self.examples = {}
        self.cases = 0
        self.runs = Counter()

    def add(self, kind, name, path, args, detail):
        key = "%s [%s]" % (kind, name)
        self.kinds[key] += 1
        self.examples.setdefault(key, "%s via %s: %s -> %s" % (name, path, _short(args), detail))

    def report(self):
        lines = ["%5d  %s\n         e.g. %s" % (count, key, self.examples[key])
                 for key, count in sorted(self.kinds.items())]
        return "\n".join(lines)


def _short(value, limit=400):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _mentions(msg, path):
    """Does ``msg`` name the option at ``path``? (for a suboption: its parent and itself)."""
    names = [p for p in path if isinstance(p, str)]
    return all(re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(n), msg) for n in names[:1]) and (
        len(names) < 2 or any(re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(n), msg)
                              for n in names[1:]) or "bogus_key" in msg or "Supported parameters" in msg)


def check(findings, name, path, args, result, contacted, elapsed, bad, junk):
    """Record every property ``result`` breaks; returns True when the run failed before any contact."""
    text = json.dumps(result, default=str)
    msg = str(result.get("msg") or "")
    if result.get("_traceback") or result.get("exception") or "Traceback (most recent call last)" in text \
            or "a bug in vaultops.replication" in msg or result.get("module_stderr"):
        findings.add("traceback", name, path, args, (result.get("_traceback") or msg or text)[-300:])
        return False
    if result.get("_hung"):
        findings.add("hang", name, path, args, "no result after %ss" % WATCHDOG)
        return False
    if elapsed > SLOW and path != "AnsiballZ":  # a process start on a loaded machine may take that long
        findings.add("slow", name, path, args, "%.1fs" % elapsed)
    if SECRET in text:
        findings.add("secret in result", name, path, args, msg[:200])
    failed = bool(result.get("failed"))
    if bad:
        if not failed:
            findings.add("bad input accepted", name, path, args, "bad %s; result %s" % (bad, _short(result, 200)))
        elif contacted:
            findings.add("contacted before validating", name, path, args, "bad %s; msg %s" % (bad, msg[:300]))
        elif not any(_mentions(msg, p) for p in bad + junk):
            findings.add("message names another option", name, path, args, "bad %s; msg %s" % (bad, msg[:300]))
        elif not HINT.search(msg):
            findings.add("message without a hint", name, path, args, msg[:300])
    elif failed and not contacted:
        options = list(args) + list(SPECS[name]["argument_spec"]) + ["VAULT_ADDR"]
        if not any(re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(o), msg) for o in options):
            findings.add("pre-contact failure naming no option", name, path, args, msg[:300])
    return failed and not contacted


def run_one(findings, server, function, path, name, args, bad, junk, lock):
    args = with_port(args, server.port)
    server.take()
    started = time.monotonic()
    try:
        with watchdog(WATCHDOG):
            result = function(name, args)
    except Hung:
        result = {"_hung": True}
    except Exception as exc:  # the property under test: this never happens
        import traceback

        result = {"_traceback": "%s: %s\n%s" % (type(exc).__name__, exc, traceback.format_exc()[-600:])}
    elapsed = time.monotonic() - started
    # Every connection was accepted (and counted) before its answer reached the client.
    contacted = server.take()
    with lock:
        findings.runs[path] += 1
        findings.runs["contacted"] += bool(contacted)
        check(findings, name, path, args, result, contacted, elapsed, bad, junk)
    return result, contacted


# ---------------------------------------------------------------------------------------------
# Real AnsiballZ


# Builds the AnsiballZ wrappers ansible-core would ship for the sampled tasks (module_args
# embedded), in a Python of its own: the builder finds module_utils through the collection
# loader, which must be installed before the collection is first imported. It reads one job per
# line and answers with the job's index once the wrapper is written.
_BUILDER = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.executor.module_common import modify_module
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
task_vars = {"ansible_python_interpreter": sys.executable, "ansible_playbook_python": sys.executable}
for line in sys.stdin:
    job = json.loads(line)
    built = modify_module(module_name=job["name"], module_path=job["path"], module_args=job["args"],
                          templar=Templar(loader=DataLoader()), task_vars=task_vars, remote_is_local=True)
    with open(job["out"], "wb") as handle:
        handle.write(built.b_module_data)
    print(job["index"], flush=True)
"""


def collections_root():
    return os.path.normpath(os.path.join(list(_modules_package.__path__)[0], *[".."] * 5))


def _clean_env():
    return dict((k, v) for k, v in os.environ.items() if k not in VAULT_ENV + PROXY_ENV)


class AnsiballZRunner:
    """Runs sampled argument sets as real AnsiballZ modules while the in-process fuzzing goes on:
    a builder process writes the wrappers, two workers run them, each worker against its own
    recording server (connections could not be told apart on a shared one)."""

    def __init__(self, findings, tmpdir):
        self.findings = findings
        self.tmpdir = tmpdir
        self.jobs = {}
        self.lock = threading.Lock()
        self.servers = [RecordingServer(), RecordingServer()]
        self.queues = [queue.Queue(), queue.Queue()]
        self.builder = subprocess.Popen([sys.executable, "-c", _BUILDER, collections_root()], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=_clean_env(), cwd=tmpdir)
        self.threads = [threading.Thread(target=self._dispatch, daemon=True)] + [
            threading.Thread(target=self._work, args=(parity,), daemon=True) for parity in (0, 1)]
        for thread in self.threads:
            thread.start()

    def submit(self, case):
        name, args, _bad, _junk = case
        index = len(self.jobs)
        self.jobs[index] = case
        main = MODULES[name][1]
        job = dict(index=index, name="vaultops.replication.%s" % name, path=sys.modules[main.__module__].__file__,
                   args=with_port(args, self.servers[index % 2].port),
                   out=os.path.join(self.tmpdir, "AnsiballZ_%d.py" % index))
        self.builder.stdin.write(json.dumps(job) + "\n")
        self.builder.stdin.flush()

    def _dispatch(self):
        for line in self.builder.stdout:
            index = int(line)
            self.queues[index % 2].put(index)
        for q in self.queues:
            q.put(None)

    def _work(self, parity):
        server = self.servers[parity]
        while True:
            index = self.queues[parity].get()
            if index is None:
                return
            name, args, bad, junk = self.jobs[index]
            server.take()
            started = time.monotonic()
            result = run_ansiballz(os.path.join(self.tmpdir, "AnsiballZ_%d.py" % index), self.tmpdir)
            contacted = server.take()
            with self.lock:
                self.findings.runs["AnsiballZ"] += 1
                check(self.findings, name, "AnsiballZ", args, result, contacted, time.monotonic() - started, bad,
                      junk)

    def finish(self):
        self.builder.stdin.close()
        self.builder.wait(timeout=120)
        for thread in self.threads:
            thread.join(timeout=120)
        for server in self.servers:
            server.close()
        if self.builder.returncode:
            self.findings.add("traceback", "-", "AnsiballZ builder", {}, "builder exited %s" % self.builder.returncode)


def run_ansiballz(script, tmpdir):
    env = _clean_env()
    try:
        proc = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=WATCHDOG,
                              env=env, cwd=tmpdir, check=False)
    except subprocess.TimeoutExpired:
        return {"_hung": True}
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        return {"_traceback": "rc %s, stdout %r, stderr %r" % (proc.returncode, proc.stdout[-300:], proc.stderr[-300:])}
    if "Traceback (most recent call last)" in proc.stderr:
        result["_traceback"] = proc.stderr[-300:]
    return result


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def fuzz_files(tmp_path_factory, self_signed_cert):
    folder = tmp_path_factory.mktemp("fuzz")
    files = {"good_ca": self_signed_cert[0], "missing": str(folder / "missing.pem"), "directory": str(folder / "dir")}
    os.mkdir(files["directory"])
    for key, content in (("not_pem", b"this is not a certificate\n"), ("empty", b""),
                         ("binary", bytes(range(256)) * 4), ("unreadable", b"-----BEGIN CERTIFICATE-----\nxx\n")):
        files[key] = str(folder / ("%s.pem" % key))
        with open(files[key], "wb") as handle:
            handle.write(content)
    os.chmod(files["unreadable"], 0)
    yield files
    os.chmod(files["unreadable"], 0o600)


@pytest.fixture(scope="module")
def clean_environment():
    saved = dict((k, os.environ.pop(k)) for k in VAULT_ENV + PROXY_ENV if k in os.environ)
    yield
    os.environ.update(saved)


# ---------------------------------------------------------------------------------------------
# The test


def test_bad_arguments_fail_naming_the_option_before_any_request(fuzz_files, clean_environment, tmp_path, capsys,
                                                                 record_property, closed_port, monkeypatch):
    # Hundreds of module runs would each log their invocation to syslog.
    monkeypatch.setattr(basic.AnsibleModule, "_log_invocation", lambda self: None)
    findings = Findings()
    server = RecordingServer()
    # The AnsiballZ sample: as many argument sets per module, spread over the run.
    per_module = -(-ANSIBALLZ_SAMPLE // len(MODULES))
    spread = max(1, IN_PROCESS_EXAMPLES // max(1, ANSIBALLZ_SAMPLE + len(MODULES)))
    next_slot = [spread]
    sampled = Counter()
    started = time.monotonic()
    ansiballz = AnsiballZRunner(findings, str(tmp_path))

    @settings(max_examples=-(-IN_PROCESS_EXAMPLES // BATCH), derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(cases(Catalog(fuzz_files)), min_size=BATCH, max_size=BATCH))
    @example(batch=[case for case in reported_cases(closed_port) if case[0] in MODULES])
    def fuzz(batch):
        for case in batch:
            fuzz_one(case)

    def fuzz_one(case):
        name, args, bad, junk = case
        with ansiballz.lock:
            findings.cases += 1
        action_result, action_contacted = run_one(findings, server, run_in_process_action, "action plugin",
                                                  name, args, bad, junk, ansiballz.lock)
        if findings.cases % MODULE_MAIN_EVERY:
            return
        module_result, module_contacted = run_one(findings, server, run_in_process_module, "module main()",
                                                  name, args, bad, junk, ansiballz.lock)
        if not action_contacted and not module_contacted and action_result.get("failed") \
                and bool(action_result.get("failed")) == bool(module_result.get("failed")) \
                and action_result.get("msg") != module_result.get("msg"):
            with ansiballz.lock:
                findings.add("paths disagree", name, "both", args, "action %r / module %r" % (
                    action_result.get("msg"), module_result.get("msg")))
        # From each slot on, the first argument set of a module whose share is not full yet.
        if findings.cases >= next_slot[0] and sampled[name] < per_module and sum(sampled.values()) < ANSIBALLZ_SAMPLE:
            sampled[name] += 1
            next_slot[0] += spread
            ansiballz.submit(case)

    cpu_started = time.process_time()
    children_started = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        fuzz()
        in_process_seconds = time.monotonic() - started
        in_process_cpu = time.process_time() - cpu_started
    finally:
        server.close()
        ansiballz.finish()

    total = time.monotonic() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    children_cpu = (children.ru_utime + children.ru_stime) - (children_started.ru_utime + children_started.ru_stime)
    summary = ("argument fuzz: %d argument sets over %d modules (%s), %d in-process runs (%d through the action plugin, "
               "%d through the module's main(); %d of them reached the server), %d real AnsiballZ runs (beside them); %d violations; %.1fs in-process, "
               "%.1fs in total; CPU: %.1fs in-process, %.1fs in the AnsiballZ builder and modules"
               % (findings.cases, len(MODULES), ", ".join(sorted(MODULES)),
                  findings.runs["action plugin"] + findings.runs["module main()"], findings.runs["action plugin"],
                  findings.runs["module main()"], findings.runs["contacted"],
                  findings.runs["AnsiballZ"],
                  sum(findings.kinds.values()), in_process_seconds, total, in_process_cpu, children_cpu))
    # The figures for the reliability page: on the terminal (without xdist), in the JUnit XML and
    # in tests/output/argument-fuzz.json.
    figures = dict(argument_sets=findings.cases, modules=sorted(MODULES),
                   in_process_runs=findings.runs["action plugin"] + findings.runs["module main()"],
                   ansiballz_runs=findings.runs["AnsiballZ"], violations=dict(findings.kinds),
                   seconds=round(total, 1), cpu_seconds=round(in_process_cpu + children_cpu, 1))
    record_property("argument_fuzz", json.dumps(figures, sort_keys=True))
    output = os.path.join(collections_root(), "ansible_collections", "vaultops", "replication", "tests", "output")
    if os.path.isdir(output):
        with open(os.path.join(output, "argument-fuzz.json"), "w") as handle:
            json.dump(figures, handle, indent=2, sort_keys=True)
        # The record for docs/reliability.md (scripts/reliability-page collects it from here).
        os.makedirs(os.path.join(output, "reliability"), exist_ok=True)
        with open(os.path.join(output, "reliability", "argument-fuzz.json"), "w") as handle:
            json.dump(dict(figures, record="argument-fuzz", source="tests/unit/plugins/test_argument_fuzz.py",
                           recorded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
                      handle, indent=1, sort_keys=True)
    with capsys.disabled():
        print("\n" + summary)
        if findings.kinds:
            print(findings.report())
    assert findings.cases >= min(IN_PROCESS_EXAMPLES, 2000) * 0.95, summary
    assert findings.runs["AnsiballZ"] == sum(sampled.values()), summary
    assert not findings.kinds, "%s\n%s" % (summary, findings.report())
