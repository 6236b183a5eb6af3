# SPDX-License-Identifier: GPL-3.0-or-later
"""A small local stand-in of the AWX /api/v2 endpoints the awx.awx modules of awx/bootstrap.yml
call, for tests/acceptance/test_awx_bootstrap.py. AWX itself cannot run here (it needs its
Kubernetes operator, PostgreSQL, Redis and receptor).

It keeps objects in memory and validates what it is sent by AWX's rules: survey specs and
credential types with the checks of awx_sim (AWX's own rules, written down for the tests),
credential inputs against their type, a job template's playbook against its synced project, one
credential per credential type on a template, node extra_data only for survey variables of the
node's template, workflow edges only inside one workflow, never a parent linked to the same child
by two kinds of edge, never a cycle. A refused request gets AWX's status and error shape. Every
request is recorded (method, path, status) so the test can tell what a run changed. Secret
credential inputs are stored but always read back as $encrypted$, as AWX does.
"""
from __future__ import annotations

import base64
import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import yaml

import awx_sim

API = "/api/v2/"
ENCRYPTED = "$encrypted$"
# Collections served with list/create/detail/update/delete, and the type name AWX gives their objects.
TYPES = {
    "organizations": "organization",
    "credential_types": "credential_type",
    "credentials": "credential",
    "execution_environments": "execution_environment",
    "projects": "project",
    "inventories": "inventory",
    "job_templates": "job_template",
    "workflow_job_templates": "workflow_job_template",
    "workflow_job_template_nodes": "workflow_job_template_node",
    "workflow_approval_templates": "workflow_approval_template",
    "project_updates": "project_update",
}
EDGES = ("success_nodes", "failure_nodes", "always_nodes")
# Object types a workflow node may run (what GET /unified_job_templates/ lists).
UNIFIED = ("job_templates", "workflow_job_templates", "projects", "workflow_approval_templates")
# Fields a client may write, per collection, with AWX's defaults (anything else is read-only or unknown).
WRITABLE = {
    "organizations": {"name": None, "description": ""},
    "credential_types": {"name": None, "description": "", "kind": None, "inputs": {}, "injectors": {},
                         "managed": False},
    "credentials": {"name": None, "description": "", "organization": None, "credential_type": None, "inputs": {},
                    "user": None, "team": None},
    "execution_environments": {"name": None, "description": "", "image": None, "organization": None,
                               "credential": None, "pull": ""},
    "projects": {"name": None, "description": "", "organization": None, "scm_type": "", "scm_url": "",
                 "scm_branch": "", "scm_refspec": "", "scm_clean": False, "scm_delete_on_update": False,
                 "scm_track_submodules": False, "scm_update_on_launch": False, "scm_update_cache_timeout": 0,
                 "allow_override": False, "timeout": 0, "credential": None, "default_environment": None,
                 "signature_validation_credential": None, "local_path": "", "custom_virtualenv": None},
    "inventories": {"name": None, "description": "", "organization": None, "kind": "", "host_filter": None,
                    "variables": "", "prevent_instance_group_fallback": False},
    "job_templates": {"name": None, "description": "", "job_type": "run", "organization": None, "inventory": None,
                      "project": None, "playbook": "", "scm_branch": "", "forks": 0, "limit": "", "verbosity": 0,
                      "extra_vars": "", "job_tags": "", "force_handlers": False, "skip_tags": "",
                      "start_at_task": "", "timeout": 0, "use_fact_cache": False, "execution_environment": None,
                      "host_config_key": "", "survey_enabled": False, "become_enabled": False, "diff_mode": False,
                      "allow_simultaneous": False, "custom_virtualenv": None, "job_slice_count": 1,
                      "webhook_service": "", "webhook_credential": None, "prevent_instance_group_fallback": False,
                      **{"ask_%s_on_launch" % k: False for k in (
                          "scm_branch", "diff_mode", "variables", "limit", "tags", "skip_tags", "job_type",
                          "verbosity", "inventory", "credential", "execution_environment", "forks",
                          "instance_groups", "job_slice_count", "labels", "timeout")}},
    "workflow_job_templates": {"name": None, "description": "", "organization": None, "inventory": None,
                               "extra_vars": "", "survey_enabled": False, "allow_simultaneous": False,
                               "limit": None, "scm_branch": None, "job_tags": None, "skip_tags": None,
                               "webhook_service": "", "webhook_credential": None,
                               **{"ask_%s_on_launch" % k: False for k in (
                                   "variables", "inventory", "scm_branch", "limit", "labels", "tags",
                                   "skip_tags")}},
    "workflow_job_template_nodes": {"workflow_job_template": None, "unified_job_template": None, "identifier": None,
                                    "extra_data": {}, "inventory": None, "scm_branch": None, "job_type": None,
                                    "job_tags": None, "skip_tags": None, "limit": None, "diff_mode": None,
                                    "verbosity": None, "forks": None, "job_slice_count": None, "timeout": None,
                                    "all_parents_must_converge": False, "execution_environment": None},
    "workflow_approval_templates": {"name": None, "description": "", "timeout": 0},
    "project_updates": {},
}
# Objects only the server creates (no POST to their list).
SERVER_MADE = ("workflow_approval_templates", "project_updates")
# Foreign keys: field -> collection it points into.
REFS = {"organization": "organizations", "credential_type": "credential_types", "inventory": "inventories",
        "project": "projects", "execution_environment": "execution_environments", "credential": "credentials",
        "default_environment": "execution_environments", "workflow_job_template": "workflow_job_templates",
        "webhook_credential": "credentials", "signature_validation_credential": "credentials"}


class Invalid(Exception):
    """A request AWX refuses: HTTP status and the JSON body AWX answers with."""

    def __init__(self, body, status=400):
        super().__init__(body)
        self.body, self.status = body, status


def _project_playbooks():
    """What a sync of the shipped project finds: the playbooks at the top of awx/project."""
    return sorted(p.name for p in awx_sim.PROJECT.glob("*.yml"))


class Store:
    """AWX's objects in memory, with AWX's validation. Thread-safe (one lock)."""

    def __init__(self, users):
        self.lock = threading.Lock()
        self.users = dict(users)  # username -> password (basic auth, POST /tokens/)
        self.tokens = {}  # token -> id
        self.objects = {name: {} for name in TYPES}
        self.secrets = {}  # credential id -> {field: value} of its secret inputs
        self.surveys = {}  # (collection, id) -> survey spec
        self.links = {}  # (collection, id, relation) -> [ids] (credentials, edges)
        self.next_id = 1
        self.requests = []  # (method, path, status)
        self.create("organizations", {"name": "Default"})

    # ---- helpers -------------------------------------------------------------------------------

    def url(self, coll, oid):
        return "%s%s/%d/" % (API, coll, oid)

    def find(self, coll, **match):
        return [o for o in self.objects[coll].values() if all(o.get(k) == v for k, v in match.items())]

    def get(self, coll, oid):
        obj = self.objects[coll].get(oid)
        if obj is None:
            raise Invalid({"detail": "Not found."}, 404)
        return obj

    def snapshot(self):
        """Everything stored, secrets included (the test compares two runs' stores)."""
        return copy.deepcopy({"objects": self.objects, "secrets": self.secrets, "surveys": self.surveys,
                              "links": {"%s/%d/%s" % k: sorted(v) for k, v in self.links.items()}})

    def by_name(self, coll, name):
        found = self.find(coll, name=name)
        assert len(found) == 1, "%s named %r: %d" % (coll, name, len(found))
        return found[0]

    # ---- representations -----------------------------------------------------------------------

    def render(self, coll, obj):
        out = copy.deepcopy(obj)
        oid = obj["id"]
        related = {}
        if coll == "credentials":
            out["inputs"] = dict(obj["inputs"], **{k: ENCRYPTED for k in self.secrets.get(oid, {})})
        if coll in ("job_templates", "workflow_job_templates"):
            related["survey_spec"] = self.url(coll, oid) + "survey_spec/"
            related["launch"] = self.url(coll, oid) + "launch/"
        if coll == "job_templates":
            related["credentials"] = self.url(coll, oid) + "credentials/"
        if coll == "workflow_job_templates":
            related["workflow_nodes"] = self.url(coll, oid) + "workflow_nodes/"
        if coll == "workflow_job_template_nodes":
            for edge in EDGES:
                out[edge] = sorted(self.links.get((coll, oid, edge), []))
                related[edge] = self.url(coll, oid) + edge + "/"
            related["create_approval_template"] = self.url(coll, oid) + "create_approval_template/"
            ujt = self._unified(obj["unified_job_template"])
            if ujt:
                related["unified_job_template"] = self.url(ujt[0], ujt[1]["id"])
        if coll == "projects":
            related["update"] = self.url(coll, oid) + "update/"
            out["summary_fields"] = {}
            if obj.get("_current_update"):
                out["summary_fields"]["current_update"] = {"id": obj["_current_update"], "status": "successful"}
        for field, target in REFS.items():
            if obj.get(field) is not None and field in WRITABLE.get(coll, {}):
                related[field] = self.url(target, obj[field])
        out = {k: v for k, v in out.items() if not k.startswith("_")}
        out.update(url=self.url(coll, oid), type=TYPES[coll], related=related)
        out.setdefault("summary_fields", {})
        return out

    def _unified(self, oid):
        if oid is None:
            return None
        for coll in UNIFIED:
            if oid in self.objects[coll]:
                return coll, self.objects[coll][oid]
        return None

    # ---- create / update with AWX's rules --------------------------------------------------------

    def create(self, coll, data):
        obj = {k: copy.deepcopy(v) for k, v in WRITABLE[coll].items()}
        obj["id"] = self.next_id
        self.next_id += 1
        self._apply(coll, obj, data, creating=True)
        self.objects[coll][obj["id"]] = obj
        return obj

    def update(self, coll, oid, data):
        obj = copy.deepcopy(self.get(coll, oid))
        self._apply(coll, obj, data, creating=False)
        self.objects[coll][oid] = obj
        return obj

    def _apply(self, coll, obj, data, creating):
        if not isinstance(data, dict):
            raise Invalid({"detail": "JSON parse error - expected an object"})
        writable = WRITABLE[coll]
        errors = {}
        secrets = None
        for key, value in data.items():
            if key not in writable:
                continue  # AWX ignores read-only and unknown fields in a write
            if key in REFS and value is not None and key in writable:
                if not isinstance(value, int) or value not in self.objects[REFS[key]]:
                    errors[key] = ['Invalid pk "%s" - object does not exist.' % value]
                    continue
            obj[key] = copy.deepcopy(value)
        if coll == "inventories" and obj["kind"] is None:
            obj["kind"] = ""  # the inventory module sends kind: null for a regular inventory
        if writable.get("name", "") is None and not obj.get("name"):
            errors["name"] = ["This field may not be blank."]
        check = getattr(self, "_check_" + coll, None)
        if check:
            secrets = check(obj, errors, data, creating)
        if errors:
            raise Invalid(errors)
        if "name" in writable and coll != "workflow_approval_templates":
            scope = {"organization": obj.get("organization")} if "organization" in writable else {}
            if coll == "credentials":
                scope["credential_type"] = obj["credential_type"]
            if any(o["id"] != obj["id"] for o in self.find(coll, name=obj["name"], **scope)):
                raise Invalid({"__all__": ["%s with this Name%s already exists." % (
                    TYPES[coll].replace("_", " ").capitalize(), " and Organization" if scope else "")]})
        if secrets is not None:
            self.secrets[obj["id"]] = secrets

    def _check_credential_types(self, obj, errors, data, creating):
        if obj.get("managed"):
            errors["managed"] = ["Custom credential types cannot be managed."]
        for problem in awx_sim.credential_type_problems(obj):
            errors.setdefault("inputs" if "field" in problem or "required" in problem else "injectors", []).append(problem)
        if not creating and set(data) & {"inputs", "injectors"} and self.find("credentials", credential_type=obj["id"]):
            old = self.objects["credential_types"][obj["id"]]
            if (old["inputs"], old["injectors"]) != (obj["inputs"], obj["injectors"]):
                errors["inputs"] = ["Modifications to inputs are not allowed for credential types that are in use"]

    def _check_credentials(self, obj, errors, data, creating):
        ctype = self.objects["credential_types"].get(obj["credential_type"])
        if ctype is None:
            errors.setdefault("credential_type", ["This field is required."])
            return None
        fields = {f["id"]: f for f in ctype["inputs"].get("fields", [])}
        secrets = dict(self.secrets.get(obj["id"], {}))
        plain = {}
        given = data.get("inputs", obj["inputs"] if not creating else {})
        if not isinstance(given, dict):
            errors["inputs"] = ["Must be an object."]
            return None
        problems = {}
        for key, value in given.items():
            field = fields.get(key)
            if field is None:
                problems[key] = ["Additional properties are not allowed (%r was unexpected)" % key]
            elif not isinstance(value, bool if field.get("type") == "boolean" else str):
                problems[key] = ["%r is not of type %s" % (value, field.get("type", "string"))]
            elif field.get("secret"):
                if value != ENCRYPTED:  # $encrypted$ keeps the stored secret, as in AWX
                    secrets[key] = value
            else:
                plain[key] = value
        if "inputs" in data:
            secrets = {k: v for k, v in secrets.items() if k in given}
        for req in ctype["inputs"].get("required", []):
            if req not in plain and not secrets.get(req):
                problems[req] = ["required for %s" % ctype["name"]]
        if problems:
            errors["inputs"] = problems
            return None
        obj["inputs"] = plain
        return secrets

    def _check_execution_environments(self, obj, errors, data, creating):
        if not obj.get("image"):
            errors["image"] = ["This field may not be blank."]

    def _check_projects(self, obj, errors, data, creating):
        if obj["organization"] is None:
            errors["organization"] = ["This field is required."]
        if obj["scm_type"] and not obj["scm_url"]:
            errors["scm_url"] = ["SCM URL is required."]
        if obj["scm_type"] not in ("", "git", "svn", "insights", "archive"):
            errors["scm_type"] = ['"%s" is not a valid choice.' % obj["scm_type"]]
        if not errors and (creating or {"scm_url", "scm_branch", "scm_type"} & set(data)):
            # AWX starts a project update on creation and on a change of source; this one "syncs"
            # the shipped awx/project and succeeds at once.
            update = self.create("project_updates", {})
            update.update(status="successful", project=obj["id"], scm_revision="0" * 40)
            obj["_current_update"] = update["id"]
            obj["_playbooks"] = _project_playbooks()
            obj["scm_revision"] = update["scm_revision"]
            obj["status"] = "successful"

    def _check_inventories(self, obj, errors, data, creating):
        if obj["organization"] is None:
            errors["organization"] = ["This field is required."]
        if obj["kind"] not in ("", "smart", "constructed"):
            errors["kind"] = ['"%s" is not a valid choice.' % obj["kind"]]

    def _check_job_templates(self, obj, errors, data, creating):
        project = self.objects["projects"].get(obj["project"])
        if project is None:
            errors.setdefault("project", ["This field is required."])
        elif not obj["playbook"]:
            errors["playbook"] = ["This field is required."]
        elif project["scm_type"] and not project["allow_override"] and obj["playbook"] not in project.get("_playbooks", []):
            errors["playbook"] = ["Playbook not found for project."]
        if obj["inventory"] is None and not obj["ask_inventory_on_launch"]:
            errors["inventory"] = ["Job Templates must have an inventory or allow prompting for it."]
        if obj["job_type"] not in ("run", "check"):
            errors["job_type"] = ['"%s" is not a valid choice.' % obj["job_type"]]
        self._check_extra_vars(obj, errors)

    def _check_workflow_job_templates(self, obj, errors, data, creating):
        self._check_extra_vars(obj, errors)

    @staticmethod
    def _check_extra_vars(obj, errors):
        if obj["extra_vars"]:
            try:
                parsed = yaml.safe_load(obj["extra_vars"])
            except yaml.YAMLError:
                parsed = None
            if not isinstance(parsed, dict):
                errors["extra_vars"] = ["Must be valid JSON or YAML."]

    def _check_workflow_job_template_nodes(self, obj, errors, data, creating):
        if obj["workflow_job_template"] is None:
            errors["workflow_job_template"] = ["This field is required."]
            return
        if not obj["identifier"]:
            errors["identifier"] = ["This field may not be blank."]
        elif any(o["id"] != obj["id"] for o in self.find("workflow_job_template_nodes", identifier=obj["identifier"],
                                                         workflow_job_template=obj["workflow_job_template"])):
            errors["__all__"] = ["Workflow job template node with this Workflow job template and Identifier already exists."]
        ujt = self._unified(obj["unified_job_template"])
        if obj["unified_job_template"] is not None and ujt is None:
            errors["unified_job_template"] = ['Invalid pk "%s" - object does not exist.' % obj["unified_job_template"]]
            return
        if obj["extra_data"] and "extra_data" in data:
            if ujt is None or ujt[0] not in ("job_templates", "workflow_job_templates"):
                errors["extra_data"] = ["This node's template cannot accept variables."]
                return
            template = ujt[1]
            survey = self.surveys.get((ujt[0], template["id"])) if template["survey_enabled"] else None
            questions = {q["variable"]: q for q in (survey or {}).get("spec", [])}
            for key, value in obj["extra_data"].items():
                q = questions.get(key)
                if q is None and not template["ask_variables_on_launch"]:
                    errors.setdefault("extra_data", []).append(
                        "Variables %s provided, but this template cannot accept variables." % key)
                elif q and q["type"] == "multiplechoice" and value not in q["choices"]:
                    errors.setdefault("extra_data", []).append(
                        "Value %s for '%s' expected to be one of %s." % (value, key, q["choices"]))

    def _check_workflow_approval_templates(self, obj, errors, data, creating):
        if not isinstance(obj["timeout"], int) or obj["timeout"] < 0:
            errors["timeout"] = ["A valid integer is required."]

    # ---- sub-resources -------------------------------------------------------------------------

    def survey(self, coll, oid, spec):
        self.get(coll, oid)
        problems = awx_sim.survey_problems(spec)
        if problems:
            raise Invalid({"error": problems[0]})
        self.surveys[(coll, oid)] = copy.deepcopy(spec)

    def associate(self, coll, oid, relation, data):
        parent = self.get(coll, oid)
        child_id = data.get("id")
        key = (coll, oid, relation)
        current = self.links.setdefault(key, [])
        if data.get("disassociate"):
            if child_id in current:
                current.remove(child_id)
            return
        if relation == "credentials":
            cred = self.get("credentials", child_id)
            for other in current:
                if other != child_id and self.objects["credentials"][other]["credential_type"] == cred["credential_type"]:
                    ctype = self.objects["credential_types"][cred["credential_type"]]
                    raise Invalid({"error": "Cannot assign multiple %s credentials." % ctype["name"]})
        else:
            child = self.get("workflow_job_template_nodes", child_id)
            if child["workflow_job_template"] != parent["workflow_job_template"]:
                raise Invalid({"msg": "Related Workflow Job Template Node %d belongs to another workflow." % child_id})
            if child_id == oid:
                raise Invalid({"Error": "Cycle detected."})
            if any(child_id in self.links.get((coll, oid, edge), []) for edge in EDGES if edge != relation):
                raise Invalid({"Error": "Relationship not allowed."})
            if child_id not in current and self._reaches(child_id, oid):
                raise Invalid({"Error": "Cycle detected."})
        if child_id not in current:
            current.append(child_id)

    def _reaches(self, start, goal):
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node in seen:
                continue
            seen.add(node)
            for edge in EDGES:
                todo.extend(self.links.get(("workflow_job_template_nodes", node, edge), []))
        return False

    def create_approval(self, node_id, data):
        node = self.get("workflow_job_template_nodes", node_id)
        fields = {k: data[k] for k in ("name", "description", "timeout") if k in data}
        if not fields.get("name"):
            raise Invalid({"name": ["This field is required."]})
        old = self._unified(node["unified_job_template"])
        if old and old[0] == "workflow_approval_templates":
            approval = self.update("workflow_approval_templates", old[1]["id"], fields)
        else:
            approval = self.create("workflow_approval_templates", fields)
        node["unified_job_template"] = approval["id"]
        return approval

    def unified_list(self):
        out = []
        for coll in UNIFIED:
            out.extend(self.render(coll, o) for o in self.objects[coll].values())
        return out


class Handler(BaseHTTPRequestHandler):
    """HTTP over the Store: authentication (bearer token, or basic auth to POST /tokens/), routing,
    AWX's list shape and filters."""

    server_version = "awx-stand-in"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    @property
    def store(self):
        return self.server.store

    def _reply(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-API-Product-Name", "AWX")
        self.send_header("X-API-Product-Version", "24.6.1")
        self.end_headers()
        self.wfile.write(data)
        self.store.requests.append((self.command, urlsplit(self.path).path, status))

    def _authorized(self):
        header = self.headers.get("Authorization") or ""
        if header.startswith("Bearer ") and header[7:] in self.store.tokens:
            return "token"
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.store.users.get(user) == password:
                return "basic"
        return None

    def _body(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw or b"{}")
        except ValueError as exc:
            raise Invalid({"detail": "JSON parse error - %s" % exc}) from exc

    def _handle(self):
        with self.store.lock:
            try:
                status, body = self._route()
            except Invalid as exc:
                status, body = exc.status, exc.body
            self._reply(status, body)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle  # noqa: N815 - the names BaseHTTPRequestHandler calls

    def _route(self):  # pylint: disable=too-many-return-statements,too-many-branches
        url = urlsplit(self.path)
        if not url.path.startswith(API):
            raise Invalid({"detail": "Not found."}, 404)
        parts = [p for p in url.path[len(API):].split("/") if p]
        method = self.command
        if parts in (["ping"],):
            return 200, {"version": "24.6.1", "active_node": "awx-stand-in", "instances": []}
        auth = self._authorized()
        if parts == ["tokens"] and method == "POST" and auth == "basic":
            token = "stand-in-token-%d" % (len(self.store.tokens) + 1)
            self.store.tokens[token] = len(self.store.tokens) + 1
            self._body()
            return 201, {"id": self.store.tokens[token], "token": token, "type": "o_auth2_access_token"}
        if len(parts) == 2 and parts[0] == "tokens" and method == "DELETE" and auth == "basic":
            self.store.tokens = {t: i for t, i in self.store.tokens.items() if str(i) != parts[1]}
            return 204, None
        if auth != "token":
            raise Invalid({"detail": "Authentication credentials were not provided."}, 401)
        if parts == ["config"]:
            return 200, {"version": "24.6.1", "license_info": {}, "analytics_status": "off"}
        if parts == ["me"]:
            return 200, {"count": 1, "next": None, "previous": None,
                         "results": [{"id": 1, "username": "admin", "is_superuser": True}]}
        coll = parts[0]
        if coll == "unified_job_templates" and len(parts) == 1 and method == "GET":
            return 200, self._list(self.store.unified_list(), url.query)
        if coll not in TYPES:
            raise Invalid({"detail": "Not found."}, 404)
        if len(parts) == 1:
            if method == "GET":
                return 200, self._list([self.store.render(coll, o) for o in self.store.objects[coll].values()],
                                       url.query)
            if method == "POST" and coll not in SERVER_MADE:
                return 201, self.store.render(coll, self.store.create(coll, self._body()))
            raise Invalid({"detail": 'Method "%s" not allowed.' % method}, 405)
        try:
            oid = int(parts[1])
        except ValueError as exc:
            raise Invalid({"detail": "Not found."}, 404) from exc
        if len(parts) == 2:
            if method == "GET":
                return 200, self.store.render(coll, self.store.get(coll, oid))
            if method == "PATCH" and coll != "project_updates":
                return 200, self.store.render(coll, self.store.update(coll, oid, self._body()))
            if method == "DELETE":
                self.store.get(coll, oid)
                del self.store.objects[coll][oid]
                return 204, None
            raise Invalid({"detail": 'Method "%s" not allowed.' % method}, 405)
        sub = parts[2]
        if sub == "survey_spec" and coll in ("job_templates", "workflow_job_templates"):
            if method == "GET":
                self.store.get(coll, oid)
                return 200, copy.deepcopy(self.store.surveys.get((coll, oid), {}))
            if method == "POST":
                self.store.survey(coll, oid, self._body())
                return 200, None
            if method == "DELETE":
                self.store.surveys.pop((coll, oid), None)
                return 200, None
        if (sub == "credentials" and coll == "job_templates") or (sub in EDGES and coll == "workflow_job_template_nodes"):
            target = "credentials" if sub == "credentials" else "workflow_job_template_nodes"
            if method == "GET":
                self.store.get(coll, oid)
                ids = self.store.links.get((coll, oid, sub), [])
                return 200, self._list([self.store.render(target, self.store.objects[target][i]) for i in ids], "")
            if method == "POST":
                self.store.associate(coll, oid, sub, self._body())
                return 204, None
        if sub == "create_approval_template" and coll == "workflow_job_template_nodes" and method == "POST":
            return 201, self.store.render("workflow_approval_templates", self.store.create_approval(oid, self._body()))
        raise Invalid({"detail": "Not found."}, 404)

    @staticmethod
    def _list(items, query):
        """AWX's list shape, filtered by the query's field=value pairs (or__ pairs: any of them)."""
        wanted = [(k, v) for k, v in parse_qsl(query) if k not in ("page", "page_size", "order_by")]
        plain = [(k, v) for k, v in wanted if not k.startswith("or__")]
        either = [(k[4:], v) for k, v in wanted if k.startswith("or__")]

        def matches(item, key, value):
            have = item.get(key)
            return str(have).lower() == value.lower() if isinstance(have, bool) else str(have) == value

        results = [i for i in items if all(matches(i, k, v) for k, v in plain)
                   and (not either or any(matches(i, k, v) for k, v in either))]
        return {"count": len(results), "next": None, "previous": None, "results": results}


def serve(users):
    """Start the stand-in on a free local port: (server, base URL). server.store holds the state."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.store = Store(users)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d" % server.server_port
