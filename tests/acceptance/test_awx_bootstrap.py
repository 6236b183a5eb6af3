# SPDX-License-Identifier: GPL-3.0-or-later
"""awx/bootstrap.yml, the awx.awx form of the AWX content, run by ansible-playbook with awx.awx
(as users get it, from the community package) against a local stand-in of the /api/v2 endpoints
it touches (awx_api.py, which validates what it is sent by AWX's rules). The test asserts what
was created, against the shipped definitions in awx/config: credential types with their
injectors unrendered, credentials with their secrets, job templates linked to the right
inventory, project, execution environment and credentials with the shipped surveys, workflows
with their nodes, approval templates and edges. A second run must change nothing. Secrets must
not appear in the playbook's output."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import yaml

import awx_api
import awx_sim
from conftest import BIN, ROOT, base_env, recap_changed

PLAYBOOK = ROOT / "awx" / "bootstrap.yml"
THIRD_PARTY = ROOT / "build" / "third-party"
ROLES = {"Vault primary": ("HashiCorp Vault replication", "primary"),
         "Vault DR secondary": ("HashiCorp Vault replication (DR secondary)", "dr"),
         "Vault performance secondary": ("HashiCorp Vault replication (performance secondary)", "perf")}


@functools.cache
def _awx_collection():
    """awx.awx from the pinned community package, unpacked once into build/third-party (checked once
    per session)."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "third-party-collections"), str(THIRD_PARTY), "awx.awx"],
                   check=True, timeout=600, stdout=subprocess.DEVNULL)
    return THIRD_PARTY


def _bootstrap(url, auth, variables, tmp_path, name):
    vars_file = tmp_path / ("%s-vars.yml" % name)
    vars_file.write_text(yaml.safe_dump(variables))
    env = base_env()
    env["ANSIBLE_COLLECTIONS_PATH"] = "%s:%s" % (env["ANSIBLE_COLLECTIONS_PATH"], _awx_collection())
    env["CONTROLLER_HOST"] = url
    # The stand-in speaks plain HTTP, yet ansible's urls builds a TLS context for each request, and
    # Python's default context parses the whole system CA file (~50 ms of CPU; ~11 requests per
    # module, 33 modules per run: a third of the test). No CA file (the hashed CA directory still
    # serves lookups) makes that build cheap; nothing here uses TLS.
    env["SSL_CERT_FILE"] = os.devnull
    env.update(auth)
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(PLAYBOOK), "-v", "-e", "@%s" % vars_file],
                          env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=300)
    (tmp_path / ("%s.log" % name)).write_text(proc.stdout)
    return proc


def _credentials(secret):
    creds = []
    for name, (ctype, cluster) in ROLES.items():
        inputs = {"cluster": cluster, "address": "https://vault-%s.example.com:8200" % cluster,
                  "token": "%s-token-%s" % (secret, cluster)}
        if cluster == "primary":
            inputs["key_shares"] = "%s-share-1\n%s-share-2\n%s-share-3\n" % (secret, secret, secret)
            inputs["dr_operation_token"] = "%s-batch" % secret
        creds.append({"name": name, "credential_type": ctype, "inputs": inputs})
    return creds


def _api(url, token, method, path, body=None):
    req = urllib.request.Request(url + "/api/v2/" + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - a local stand-in
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _check_created(store):
    """Everything in the store matches the shipped definitions, with the ids linked right."""
    objs = store.objects
    org = store.by_name("organizations", "Default")["id"]
    shipped_types = awx_sim.credential_types()
    assert {t["name"] for t in objs["credential_types"].values()} == set(shipped_types)
    for name, spec in shipped_types.items():
        stored = store.by_name("credential_types", name)
        # The injector templates reach AWX unrendered (!unsafe), for AWX to render per job.
        assert (stored["kind"], stored["inputs"], stored["injectors"]) == (spec["kind"], spec["inputs"], spec["injectors"])
        assert "{{ tower.filename.secrets }}" in json.dumps(stored["injectors"])
    for name, (ctype, cluster) in ROLES.items():
        cred = store.by_name("credentials", name)
        assert cred["credential_type"] == store.by_name("credential_types", ctype)["id"] and cred["organization"] == org
        assert cred["inputs"]["cluster"] == cluster and "token" not in cred["inputs"]
        assert store.secrets[cred["id"]]["token"].endswith("-token-" + cluster)
    templates = awx_sim.job_templates()
    assert {t["name"] for t in objs["job_templates"].values()} == set(templates)
    for name, spec in templates.items():
        jt = store.by_name("job_templates", name)
        assert jt["organization"] == org and jt["playbook"] == spec["playbook"]
        assert jt["inventory"] == store.by_name("inventories", spec["inventory"])["id"]
        assert jt["project"] == store.by_name("projects", spec["project"])["id"]
        assert jt["execution_environment"] == store.by_name("execution_environments", spec["execution_environment"])["id"]
        assert json.loads(jt["extra_vars"] or "{}") == spec.get("extra_vars", {})
        linked = store.links[("job_templates", jt["id"], "credentials")]
        assert sorted(linked) == sorted(store.by_name("credentials", c)["id"] for c in spec["credentials"])
        assert jt["survey_enabled"] is True and store.surveys[("job_templates", jt["id"])] == spec["survey_spec"]
    workflows = awx_sim.workflows()
    assert {w["name"] for w in objs["workflow_job_templates"].values()} == set(workflows)
    for name, spec in workflows.items():
        wf = store.by_name("workflow_job_templates", name)
        assert wf["inventory"] == store.by_name("inventories", spec["inventory"])["id"]
        assert store.surveys[("workflow_job_templates", wf["id"])] == spec["survey_spec"]
        nodes = {n["identifier"]: n for n in store.find("workflow_job_template_nodes", workflow_job_template=wf["id"])}
        assert set(nodes) == {n["identifier"] for n in spec["workflow_nodes"]}
        ident = {n["id"]: i for i, n in nodes.items()}
        for node in spec["workflow_nodes"]:
            stored = nodes[node["identifier"]]
            ujt = node["unified_job_template"]
            if ujt["type"] == "workflow_approval":
                approval = objs["workflow_approval_templates"][stored["unified_job_template"]]
                assert (approval["name"], approval["timeout"]) == (ujt["name"], ujt["timeout"]) and ujt["timeout"] > 0
            else:
                assert stored["unified_job_template"] == store.by_name("job_templates", ujt["name"])["id"]
            assert stored["extra_data"] == node.get("extra_data", {})
            for edge in awx_api.EDGES:
                got = sorted(ident[i] for i in store.links.get(("workflow_job_template_nodes", stored["id"], edge), []))
                assert got == sorted(c["identifier"] for c in node["related"].get(edge) or []), (name, node["identifier"], edge)
        # The promotion runs on the approval's success edge only, and nothing else leads to it.
        promote = [i for i, n in nodes.items()
                   if objs["job_templates"].get(n["unified_job_template"], {}).get("playbook") == "vault_dr_failover.yml"]
        assert len(promote) == 1, (name, promote)
        parents = [(ident[pid], edge) for (coll, pid, edge), kids in store.links.items()
                   if coll == "workflow_job_template_nodes" and edge in awx_api.EDGES and nodes[promote[0]]["id"] in kids]
        assert len(parents) == 1 and parents[0][1] == "success_nodes", (name, parents)
        assert objs["workflow_job_template_nodes"][nodes[parents[0][0]]["id"]]["unified_job_template"] in \
            objs["workflow_approval_templates"], (name, parents)


def test_bootstrap_playbook_against_an_awx_api_stand_in(tmp_path):
    server, url = awx_api.serve({"admin": "stand-in-password"})
    store = server.store
    secret = "bootstrap-secret-%d" % id(store)
    variables = {"awx_bootstrap_project_url": "https://git.example.com/ops/vault-replication-awx.git",
                 "awx_bootstrap_ee_image": "registry.example.com/vault-replication-ee:1.0",
                 "awx_bootstrap_credentials": _credentials(secret)}
    login = {"CONTROLLER_USERNAME": "admin", "CONTROLLER_PASSWORD": "stand-in-password"}
    try:
        # Bad input: a clear message naming the variable, before any call to AWX.
        bad = dict(variables, awx_bootstrap_credentials=variables["awx_bootstrap_credentials"][:2])
        del bad["awx_bootstrap_ee_image"]
        proc = _bootstrap(url, login, bad, tmp_path, "bad")
        assert proc.returncode != 0
        assert "awx_bootstrap_ee_image is required" in proc.stdout
        assert "must define the credentials the job templates use: Vault performance secondary" in proc.stdout
        assert store.requests == []

        first = _bootstrap(url, login, variables, tmp_path, "first")
        assert first.returncode == 0, first.stdout[-6000:]
        assert recap_changed(first.stdout) > 0
        _check_created(store)
        assert not store.tokens, "the modules did not release their login tokens"

        # Second run (with an OAuth token this time): no change reported, nothing in AWX changed.
        before = store.snapshot()
        seen = len(store.requests)
        store.tokens["stand-in-oauth-token"] = 99
        second = _bootstrap(url, {"CONTROLLER_OAUTH_TOKEN": "stand-in-oauth-token"}, variables, tmp_path, "second")
        assert second.returncode == 0, second.stdout[-6000:]
        assert recap_changed(second.stdout) == 0, second.stdout[-6000:]
        assert store.snapshot() == before
        # The only writes: the inventory module's PATCH of kind (it sends null, AWX keeps ''), which
        # changes nothing, as in AWX.
        second_writes = [r for r in store.requests[seen:] if r[0] != "GET"]
        assert second_writes and all(r[0] == "PATCH" and r[1].startswith("/api/v2/inventories/")
                                     for r in second_writes), second_writes

        for proc in (first, second):
            assert secret not in proc.stdout and "stand-in-password" not in proc.stdout

        # The stand-in refuses what AWX refuses (so the run above was checked, not just recorded).
        node = store.find("workflow_job_template_nodes", identifier="approval")[0]
        child = store.objects["workflow_job_template_nodes"][store.links[("workflow_job_template_nodes", node["id"],
                                                                          "success_nodes")][0]]
        token = "stand-in-oauth-token"
        assert _api(url, token, "POST", "workflow_job_template_nodes/%d/failure_nodes/" % node["id"],
                    {"id": child["id"]}) == (400, {"Error": "Relationship not allowed."})
        assert _api(url, token, "POST", "workflow_job_template_nodes/%d/success_nodes/" % child["id"],
                    {"id": node["id"]})[0] == 400
        jt = store.by_name("job_templates", "Vault DR: drill")
        spec = dict(awx_sim.job_templates()["Vault DR: drill"]["survey_spec"])
        spec["spec"] = spec["spec"] + spec["spec"][:1]
        assert _api(url, token, "POST", "job_templates/%d/survey_spec/" % jt["id"], spec)[0] == 400
        other = store.by_name("credentials", "Vault primary")
        cred_type = store.objects["credential_types"][other["credential_type"]]
        status, body = _api(url, token, "POST", "credentials/", {"name": "extra", "credential_type": cred_type["id"],
                                                                 "organization": other["organization"],
                                                                 "inputs": {"cluster": "x", "address": "y"}})
        assert status == 400 and "token" in body["inputs"]
        status, _ = _api(url, token, "POST", "credentials/", {"name": "extra", "credential_type": cred_type["id"],
                                                              "organization": other["organization"],
                                                              "inputs": {"cluster": "x", "address": "y", "token": "t"}})
        assert status == 201
        extra = store.by_name("credentials", "extra")["id"]
        assert _api(url, token, "POST", "job_templates/%d/credentials/" % jt["id"], {"id": extra}) == (
            400, {"error": "Cannot assign multiple HashiCorp Vault replication credentials."})
    finally:
        server.shutdown()
