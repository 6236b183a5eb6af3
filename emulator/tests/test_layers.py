"""vaultlab's layer rule, checked on the source (tests/importgraph.py) and by importing each layer alone.

Imports point one way: cli → process → api → transport → model.  The model (Vault's state
and rules) knows nothing of HTTP, processes or the replication transport; the transport
reaches the model through its classes, and the model reaches the transport only through what
the process layer hands it (``Replication(secondary_runner=...)``).  No import cycles, even
through imports placed inside functions.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from importgraph import DEFAULT_SRC, build

MODEL, TRANSPORT, API, PROCESS, CLI = "model", "transport", "api", "process", "cli"
RANK = {MODEL: 0, TRANSPORT: 1, API: 2, PROCESS: 3, CLI: 4}

# Exact module names first, then package prefixes (the longest match wins).
LAYERS = {
    "vaultlab": MODEL,  # the package itself: version string only
    "vaultlab.model": MODEL,
    "vaultlab.messages": MODEL,
    "vaultlab.versions": MODEL,
    "vaultlab.profiles": MODEL,
    "vaultlab.storage": MODEL,
    "vaultlab.ticks": MODEL,
    "vaultlab.acl": MODEL,
    "vaultlab.audit": MODEL,
    "vaultlab.crypto": MODEL,
    "vaultlab.node": MODEL,
    "vaultlab.replication": MODEL,  # the package docstring; its modules are listed below
    "vaultlab.replication.models": MODEL,
    "vaultlab.replication.filters": MODEL,
    "vaultlab.replication.core": MODEL,
    "vaultlab.replication.ceremony": MODEL,
    "vaultlab.replication.stream": TRANSPORT,
    "vaultlab.replication.forwarding": TRANSPORT,
    "vaultlab.replication.peers": TRANSPORT,
    "vaultlab.transport": TRANSPORT,
    "vaultlab.api": API,
    "vaultlab.replication.wiring": PROCESS,
    "vaultlab.server": PROCESS,
    "vaultlab.supervisor": PROCESS,
    "vaultlab.faults": PROCESS,
    "vaultlab.testing": PROCESS,
    "vaultlab.pytest_plugin": PROCESS,
    "vaultlab.cli": CLI,
    "vaultlab.__main__": CLI,
}


def layer_of(module: str) -> str | None:
    name = module
    while name:
        if name in LAYERS:
            return LAYERS[name]
        name = name.rpartition(".")[0]
    return None


GRAPH = build(DEFAULT_SRC)


def test_every_module_has_a_layer():
    # A new package must be placed in the rule deliberately; a new module in a known package
    # takes its package's layer.
    assert {m for m in GRAPH.modules if layer_of(m) is None} == set()


def test_no_import_cycles():
    assert GRAPH.cycles() == []


def test_imports_point_down():
    upward = []
    for source, targets in GRAPH.edges.items():
        for target, kinds in targets.items():
            if RANK[layer_of(target)] > RANK[layer_of(source)]:
                upward.append(f"{source} ({layer_of(source)}) -> {target} ({layer_of(target)}) [{'/'.join(sorted(kinds))}]")
    assert upward == []


def test_the_model_never_imports_aiohttp():
    """Not even inside a function: HTTP belongs to the api and transport layers."""
    found = []
    for module, path in GRAPH.modules.items():
        if layer_of(module) != MODEL:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{module}:{node.lineno} {name}" for name in names if name.split(".")[0] == "aiohttp"]
    assert found == []


def test_the_checker_sees_cycles_and_upward_imports(tmp_path):
    """The rule can fail: a deferred import back up the layers is found as both."""
    pkg = tmp_path / "vaultlab"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model" / "__init__.py").write_text("")
    (pkg / "model" / "state.py").write_text("def f():\n    from ..server import g\n")
    (pkg / "server.py").write_text("from .model import state\n\ndef g():\n    pass\n")
    graph = build(tmp_path)
    assert graph.cycles() == [["vaultlab.model.state", "vaultlab.server"]]
    assert ("vaultlab.model.state", "vaultlab.server") in graph.imports_of_kind("deferred")


_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m == "vaultlab" or m.startswith(("vaultlab.", "aiohttp")))))
"""


@pytest.mark.parametrize("layer", [MODEL, TRANSPORT, API, PROCESS])
def test_each_layer_imports_alone(layer):
    """A fresh interpreter importing one layer loads nothing of the layers above it, and the
    model does not even load aiohttp."""
    own = sorted(m for m in GRAPH.modules if layer_of(m) == layer)
    out = subprocess.run([sys.executable, "-c", _PROBE, *own], capture_output=True, text=True, timeout=120,
                         cwd=DEFAULT_SRC, check=False)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    above = [m for m in loaded if m.startswith("vaultlab") and RANK[layer_of(m)] > RANK[layer]]
    assert above == []
    if layer == MODEL:
        assert [m for m in loaded if m.startswith("aiohttp")] == []
