# SPDX-License-Identifier: GPL-3.0-or-later
"""What AWX does with the shipped awx/ content, reproduced for the tests: validate credential types,
surveys and workflows by AWX's rules, render a credential type's injectors (sandboxed Jinja, the
`tower.filename` namespace, 0600 files in the job's env/ folder), lay out an AWX-shaped
private_data_dir for ansible-runner, and walk a workflow's edges from the shipped definition."""
from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from pathlib import Path

import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"
PROJECT = AWX / "project"
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
VAR_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _Loader(yaml.SafeLoader):
    """Reads Ansible var files: !unsafe values are kept as plain strings (never rendered)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load(name):
    with open(AWX / "config" / name, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def credential_types():
    return {t["name"]: t for t in load("credential_types.yml")["controller_credential_types"]}


def job_templates():
    return {t["name"]: t for t in load("job_templates.yml")["controller_templates"]}


def workflows():
    return {w["name"]: w for w in load("workflows.yml")["controller_workflows"]}


# ---- AWX's rules -------------------------------------------------------------------------------

def survey_problems(survey):
    """The checks AWX's API applies to a survey_spec (name, description, non-empty spec, unique
    variables, known types, required is a bool, defaults within choices and min/max)."""
    out = []
    for key in ("name", "description"):
        if not isinstance(survey.get(key), str):
            out.append("'%s' missing or not a string" % key)
    spec = survey.get("spec")
    if not isinstance(spec, list) or not spec:
        return out + ["'spec' must be a non-empty list"]
    seen = set()
    for i, q in enumerate(spec):
        where = "question %d (%s)" % (i, q.get("variable"))
        for key in ("question_name", "variable", "type"):
            if not isinstance(q.get(key), str) or not q.get(key):
                out.append("%s: '%s' missing" % (where, key))
        if q.get("type") not in SURVEY_TYPES:
            out.append("%s: type %r is not one of %s" % (where, q.get("type"), sorted(SURVEY_TYPES)))
        if not isinstance(q.get("required"), bool):
            out.append("%s: 'required' must be a boolean" % where)
        var = q.get("variable", "")
        if not VAR_NAME.match(var or ""):
            out.append("%s: variable is not a valid name" % where)
        if var in seen:
            out.append("%s: variable used twice" % where)
        seen.add(var)
        for key in ("min", "max"):
            if key in q and not isinstance(q[key], int):
                out.append("%s: %s must be an integer" % (where, key))
        default = q.get("default")
        if q.get("type") in ("multiplechoice", "multiselect"):
            choices = q.get("choices")
            if isinstance(choices, str):
                choices = choices.split("\n")
            if not choices:
                out.append("%s: choices required" % where)
            elif default not in (None, "") and any(d not in choices for d in str(default).split("\n")):
                out.append("%s: default %r not among the choices" % (where, default))
        if q.get("type") == "integer" and default not in (None, ""):
            if not isinstance(default, int) or not q.get("min", default) <= default <= q.get("max", default):
                out.append("%s: default %r is not an integer within min/max" % (where, default))
        if q.get("type") in ("text", "textarea") and isinstance(default, str) and default:
            if not q.get("min", 0) <= len(default) <= q.get("max", len(default)):
                out.append("%s: default length outside min/max" % where)
        if q.get("type") == "password" and default not in (None, "", "$encrypted$"):
            out.append("%s: a password question must not carry a default" % where)
    return out


FIELD_KEYS = {"id", "label", "type", "secret", "multiline", "help_text", "choices", "format", "ask_at_runtime", "default"}
ENV_BLOCKLIST = re.compile(r"^(ANSIBLE_|JOB_ID$|INVENTORY_|PROJECT_|AWX_|TOWER_|PATH$|PYTHONPATH$|HOME$|CALLBACK_)")


def credential_type_problems(ctype):
    """AWX's credential type schema: fields with id/label/type string|boolean, known keys, unique
    ids, required ids defined; injectors only file/env/extra_vars, templates only use defined
    fields and tower.filename.<name> of a declared file template; no reserved env names."""
    out = []
    if ctype.get("kind") not in ("cloud", "net"):
        out.append("kind must be cloud or net for a custom type")
    fields = ctype["inputs"].get("fields", [])
    ids = [f.get("id") for f in fields]
    if len(set(ids)) != len(ids):
        out.append("duplicate field ids")
    for f in fields:
        if set(f) - FIELD_KEYS:
            out.append("field %s: unknown keys %s" % (f.get("id"), sorted(set(f) - FIELD_KEYS)))
        if f.get("type", "string") not in ("string", "boolean") or not f.get("label") or not VAR_NAME.match(f.get("id", "")):
            out.append("field %s: needs a valid id, a label and type string|boolean" % f.get("id"))
        if f.get("type") == "boolean" and (f.get("secret") or f.get("multiline")):
            out.append("field %s: a boolean cannot be secret or multiline" % f["id"])
    for req in ctype["inputs"].get("required", []):
        if req not in ids:
            out.append("required %s is not a field" % req)
    inj = ctype.get("injectors", {})
    if set(inj) - {"file", "env", "extra_vars"}:
        out.append("unknown injector kinds %s" % sorted(set(inj) - {"file", "env", "extra_vars"}))
    files = [k.split(".", 1)[1] for k in inj.get("file", {}) if k.startswith("template.")]
    if any(not (k == "template" or k.startswith("template.")) for k in inj.get("file", {})):
        out.append("file injector keys must be template or template.<name>")
    for env in inj.get("env", {}):
        if ENV_BLOCKLIST.match(env) or not VAR_NAME.match(env):
            out.append("env %s is reserved or invalid" % env)
    # Render every template with each field set: a reference to an unknown name fails like in AWX.
    from jinja2 import StrictUndefined
    strict = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    ns = {i: "EXAMPLE" for i in ids}
    ns["tower"] = {"filename": {name: "/tmp/x" for name in files}}
    for tmpl in _templates(inj):
        try:
            strict.from_string(tmpl).render(**ns)
        except Exception as exc:  # noqa: BLE001 - any template error is a problem to report
            out.append("template %r: %s" % (tmpl[:60], exc))
    return out


def _templates(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _templates(k)
            yield from _templates(v)
    elif isinstance(node, list):
        for v in node:
            yield from _templates(v)
    elif isinstance(node, str):
        yield node


# ---- a job's private_data_dir, as AWX lays it out --------------------------------------------

def inject(ctype, inputs, private_data_dir):
    """Render a credential type's injectors for one credential: returns (env, extra vars file)."""
    sandbox = ImmutableSandboxedEnvironment()
    env_dir = Path(private_data_dir) / "env"
    env_dir.mkdir(parents=True, exist_ok=True)
    ns = dict(inputs)
    filenames = {}
    for key, tmpl in ctype["injectors"].get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as f:
            f.write(sandbox.from_string(tmpl).render(**ns))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        filenames[key.split(".", 1)[1] if "." in key else ""] = path
    ns["tower"] = {"filename": filenames.get("", filenames)}

    def build(node):
        if isinstance(node, dict):
            return {build(k): build(v) for k, v in node.items()}
        if isinstance(node, list):
            return [build(v) for v in node]
        return sandbox.from_string(node).render(**ns) if isinstance(node, str) else node

    env = {k: build(v) for k, v in ctype["injectors"].get("env", {}).items()}
    extra = build(ctype["injectors"].get("extra_vars", {}))
    path = None
    if extra:
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as f:
            yaml.safe_dump(extra, f)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return env, path


def survey_defaults(survey):
    return {q["variable"]: q["default"] for q in survey["spec"] if q.get("default") not in (None, "")}


def job_extra_vars(template, answers, workflow_vars=None):
    """Extra vars of a job: the template's extra_vars, survey defaults, then the answers (required
    questions must be answered, like AWX refuses a launch otherwise), then workflow variables."""
    extra = dict(template.get("extra_vars") or {})
    extra.update(survey_defaults(template["survey_spec"]))
    extra.update(answers)
    extra.update(workflow_vars or {})
    missing = [q["variable"] for q in template["survey_spec"]["spec"] if q["required"] and extra.get(q["variable"]) in (None, "")]
    assert not missing, "%s: survey answers missing for %s" % (template["name"], missing)
    return extra


def private_data_dir(path, template, extra_vars, credentials, inventory_text, base_env, job_id=1):
    """An AWX-shaped private_data_dir: project/ (the shipped awx/project), inventory/hosts,
    env/extravars, env/envvars (credential env + AWX's job env), env/cmdline (-e @file per
    credential), env/settings as AWX sets them. credentials: list of (credential type, inputs)."""
    path = Path(path)
    (path / "env").mkdir(parents=True)
    (path / "inventory").mkdir()
    (path / "inventory" / "hosts").write_text(inventory_text)
    os.symlink(PROJECT, path / "project")
    env = dict(base_env)
    env.update({"JOB_ID": str(job_id), "AWX_HOST": "https://awx.example.com", "ANSIBLE_FORCE_COLOR": "False"})
    cmdline = []
    for ctype, inputs in credentials:
        cenv, extra_file = inject(ctype, inputs, path)
        env.update(cenv)
        if extra_file:
            cmdline.append("-e @%s" % extra_file)
    (path / "env" / "extravars").write_text(json.dumps(extra_vars))
    (path / "env" / "envvars").write_text(json.dumps(env))
    (path / "env" / "cmdline").write_text(" ".join(cmdline))
    (path / "env" / "settings").write_text(json.dumps({"job_timeout": 600, "suppress_ansible_output": True,
                                                       "pexpect_timeout": 5}))
    return path


# ---- the workflow engine's walk over the shipped nodes ----------------------------------------

def run_workflow(workflow, run_node):
    """Walk the workflow like AWX: roots first; a finished node starts the children of the edge its
    result takes (success/failure) and its always children. run_node(node) -> 'successful' or
    'failed'. Returns (ran: [(identifier, status)], workflow status). A failed node without a
    failure or always edge fails the workflow."""
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    children = set()
    for n in nodes.values():
        for edge in ("success_nodes", "failure_nodes", "always_nodes"):
            children.update(c["identifier"] for c in n["related"].get(edge) or [])
    queue = [i for i in nodes if i not in children]
    ran, failed_unhandled, done = [], False, set()
    while queue:
        ident = queue.pop(0)
        if ident in done:
            continue
        done.add(ident)
        node = nodes[ident]
        status = run_node(node)
        ran.append((ident, status))
        rel = node["related"]
        edge = "success_nodes" if status == "successful" else "failure_nodes"
        nxt = [c["identifier"] for c in (rel.get(edge) or []) + (rel.get("always_nodes") or [])]
        if status != "successful" and not nxt:
            failed_unhandled = True
        queue.extend(nxt)
    return ran, "failed" if failed_unhandled else "successful"
