# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One small function per Vault endpoint the collection uses.

Every function takes a VaultClient first. ``rtype`` is ``"dr"`` or ``"performance"``.
Request bodies leave out options that are None, so Vault applies its own defaults.
Calls that a DR secondary authorises through ``dr_operation_token`` in the body do not
send the client token (a DR secondary refuses ordinary tokens on most paths).
"""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultError

RTYPES = ("dr", "performance")

# sys/health encodes the node state in the status code; these are answers, not failures.
HEALTH_STATUSES = frozenset((200, 429, 472, 473, 474, 501, 503, 530))
HEALTH_CODE_PARAMS = ("activecode", "standbycode", "drsecondarycode", "performancestandbycode",
                      "sealedcode", "uninitcode", "haunhealthycode", "removedcode")


def _rtype(rtype):
    if rtype not in RTYPES:
        raise VaultError("replication type must be one of %s, got %r" % (", ".join(RTYPES), rtype))
    return rtype


def _seg(value, what):
    """Quote one URL path segment (an id or a name)."""
    if value is None or str(value) == "":
        raise VaultError("%s must not be empty" % what)
    return quote(str(value), safe="")


def _body(**fields):
    return {k: v for k, v in fields.items() if v is not None}


def _require(value, name):
    if value is None or value == "":
        raise VaultError("%s must not be empty" % name)
    return value


def _need_dr_token(rtype, dr_operation_token, action):
    if rtype == "dr" and not dr_operation_token:
        raise VaultError("dr_operation_token is required to %s a DR secondary" % action)


# --------------------------------------------------------------------------------------------
# Replication status (unauthenticated)

def replication_status(c):
    """GET sys/replication/status -> {"dr": {...}, "performance": {...}}.

    Community Edition answers a flat ``{"mode": "disabled"}``; it is spread over both types.
    """
    data = c.request("GET", "sys/replication/status", authenticated=False).data or {}
    if "dr" not in data and "performance" not in data:
        mode = data.get("mode", "disabled")
        return {"dr": {"mode": mode}, "performance": {"mode": mode}}
    return {"dr": data.get("dr") or {"mode": "disabled"},
            "performance": data.get("performance") or {"mode": "disabled"}}


def replication_type_status(c, rtype, retry_on_status=True):
    """GET sys/replication/<t>/status -> the per-type status object (API reference section 3)."""
    resp = c.request("GET", "sys/replication/%s/status" % _rtype(rtype), authenticated=False,
                     retry_on_status=retry_on_status)
    return resp.data or {"mode": "disabled"}


# --------------------------------------------------------------------------------------------
# Primary side

def enable_primary(c, rtype, primary_cluster_addr=None):
    resp = c.request("POST", "sys/replication/%s/primary/enable" % _rtype(rtype),
                     json=_body(primary_cluster_addr=primary_cluster_addr))
    return resp.warnings


def demote_primary(c, rtype):
    return c.request("POST", "sys/replication/%s/primary/demote" % _rtype(rtype)).warnings


def disable_primary(c, rtype):
    return c.request("POST", "sys/replication/%s/primary/disable" % _rtype(rtype)).warnings


def mint_secondary_token(c, rtype, id, ttl=None, secondary_public_key=None):  # pylint: disable=redefined-builtin
    """Like secondary_token() but returns ``(token, warnings)``.

    Without a public key the activation token is the response-wrapping token (a JWT) in
    ``wrap_info.token``; with ``secondary_public_key`` Vault answers ``data.token`` instead.
    """
    resp = c.request("POST", "sys/replication/%s/primary/secondary-token" % _rtype(rtype),
                     json=_body(id=_require(id, "id"), ttl=ttl, secondary_public_key=secondary_public_key))
    token = None
    if resp.wrap_info:
        token = resp.wrap_info.get("token")
    if not token and resp.data:
        token = resp.data.get("token")
    if not token:
        raise VaultError("Vault answered POST sys/replication/%s/primary/secondary-token without an "
                         "activation token (neither wrap_info.token nor data.token)" % rtype)
    return token, resp.warnings


def secondary_token(c, rtype, id, ttl=None, secondary_public_key=None):  # pylint: disable=redefined-builtin
    return mint_secondary_token(c, rtype, id, ttl=ttl, secondary_public_key=secondary_public_key)[0]


def revoke_secondary(c, rtype, id):  # pylint: disable=redefined-builtin
    return c.request("POST", "sys/replication/%s/primary/revoke-secondary" % _rtype(rtype),
                     json={"id": _require(id, "id")}).warnings


def read_paths_filter(c, id):  # pylint: disable=redefined-builtin
    """GET the performance paths filter of a secondary id -> {"mode", "paths"} or None if unset."""
    path = "sys/replication/performance/primary/paths-filter/%s" % _seg(id, "id")
    resp = c.request("GET", path, allow_status=(404,))
    if resp.status == 404:
        errors = (resp.json.get("errors") or []) if isinstance(resp.json, dict) else []
        if any("enterprise-only" in str(e) for e in errors):
            raise VaultAPIError(404, errors, "GET", path)
        return None
    source = resp.data if resp.data is not None else (resp.json or {})
    if "mode" not in source and "paths" not in source:
        return None
    paths = source.get("paths") or []
    if isinstance(paths, str):
        paths = [p.strip() for p in paths.split(",") if p.strip()]
    return {"mode": source.get("mode"), "paths": list(paths)}


def write_paths_filter(c, id, mode, paths):  # pylint: disable=redefined-builtin
    c.request("POST", "sys/replication/performance/primary/paths-filter/%s" % _seg(id, "id"),
              json={"mode": mode, "paths": list(paths or [])})


def delete_paths_filter(c, id):  # pylint: disable=redefined-builtin
    c.request("DELETE", "sys/replication/performance/primary/paths-filter/%s" % _seg(id, "id"),
              allow_status=(404,))


# --------------------------------------------------------------------------------------------
# Secondary side

def generate_public_key(c, rtype):
    resp = c.request("POST", "sys/replication/%s/secondary/generate-public-key" % _rtype(rtype))
    key = (resp.data or {}).get("secondary_public_key")
    if not key:
        raise VaultError("Vault answered generate-public-key without data.secondary_public_key")
    return key


def enable_secondary(c, rtype, token, primary_api_addr=None, ca_file=None, ca_path=None):
    resp = c.request("POST", "sys/replication/%s/secondary/enable" % _rtype(rtype),
                     json=_body(token=_require(token, "activation token"), primary_api_addr=primary_api_addr,
                                ca_file=ca_file, ca_path=ca_path))
    return resp.warnings


def promote_secondary(c, rtype, dr_operation_token=None, primary_cluster_addr=None, force=False):
    _need_dr_token(_rtype(rtype), dr_operation_token, "promote")
    body = _body(dr_operation_token=dr_operation_token if rtype == "dr" else None,
                 primary_cluster_addr=primary_cluster_addr)
    if force:
        body["force"] = True
    resp = c.request("POST", "sys/replication/%s/secondary/promote" % rtype, json=body,
                     authenticated=rtype != "dr")
    return resp.warnings


def disable_secondary(c, rtype, dr_operation_token=None):
    _need_dr_token(_rtype(rtype), dr_operation_token, "disable")
    body = _body(dr_operation_token=dr_operation_token) if rtype == "dr" else None
    resp = c.request("POST", "sys/replication/%s/secondary/disable" % rtype, json=body,
                     authenticated=rtype != "dr")
    return resp.warnings


def update_primary(c, rtype, token=None, dr_operation_token=None, primary_api_addr=None,
                   ca_file=None, ca_path=None, update_primary_addrs=None):
    """Re-point a secondary. ``token=""`` (empty, not None) makes it forget its primary."""
    _need_dr_token(_rtype(rtype), dr_operation_token, "update the primary of")
    if token is not None and update_primary_addrs is not None:
        raise VaultError("update-primary takes either an activation token or update_primary_addrs, not both")
    body = _body(token=token, dr_operation_token=dr_operation_token if rtype == "dr" else None,
                 primary_api_addr=primary_api_addr, ca_file=ca_file, ca_path=ca_path,
                 update_primary_addrs=list(update_primary_addrs) if update_primary_addrs is not None else None)
    resp = c.request("POST", "sys/replication/%s/secondary/update-primary" % rtype, json=body,
                     authenticated=rtype != "dr")
    return resp.warnings


# --------------------------------------------------------------------------------------------
# DR operation token (generate-root protocol; raw JSON answers, no data envelope)

_OPTOKEN = "sys/replication/dr/secondary/generate-operation-token"


def operation_token_attempt_status(c):
    return c.request("GET", _OPTOKEN + "/attempt").json or {}


def operation_token_attempt_start(c, otp=None, pgp_key=None):
    if otp and pgp_key:
        raise VaultError("give either otp or pgp_key to start a DR operation token attempt, not both")
    return c.request("PUT", _OPTOKEN + "/attempt", json=_body(otp=otp, pgp_key=pgp_key)).json or {}


def operation_token_attempt_update(c, key, nonce):
    return c.request("PUT", _OPTOKEN + "/update",
                     json={"key": _require(key, "key share"), "nonce": _require(nonce, "nonce")}).json or {}


def operation_token_attempt_cancel(c):
    c.request("DELETE", _OPTOKEN + "/attempt")


def delete_operation_token(c, dr_operation_token):
    c.request("POST", "sys/replication/dr/secondary/operation-token/delete",
              json={"dr_operation_token": _require(dr_operation_token, "dr_operation_token")},
              authenticated=False)


# --------------------------------------------------------------------------------------------
# Health, seal, leader (unauthenticated, raw JSON)

def _query_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def health(c, retry_on_status=False, **query):
    """GET sys/health -> (status_code, body). Never raises on the documented state codes.

    Query parameters are passed through (``standbyok=True``, ``drsecondarycode=200``...);
    custom ``*code`` values are accepted as answers too.
    """
    params = {k: _query_value(v) for k, v in query.items() if v is not None}
    allowed = set(HEALTH_STATUSES)
    for name in HEALTH_CODE_PARAMS:
        if name in params:
            try:
                allowed.add(int(params[name]))
            except (TypeError, ValueError):
                raise VaultError("sys/health parameter %s must be an HTTP status code, got %r" % (name, params[name]))
    resp = c.request("GET", "sys/health", params=params or None, authenticated=False,
                     allow_status=tuple(sorted(allowed)), retry_on_status=retry_on_status)
    return resp.status, resp.json if isinstance(resp.json, dict) else {}


def seal_status(c):
    return c.request("GET", "sys/seal-status", authenticated=False).json or {}


def unseal(c, key=None, reset=False):
    if reset:
        body = {"reset": True}
    else:
        body = {"key": _require(key, "unseal key")}
    return c.request("PUT", "sys/unseal", json=body, authenticated=False).json or {}


def leader(c):
    return c.request("GET", "sys/leader", authenticated=False).json or {}


# --------------------------------------------------------------------------------------------
# sys/generate-root (same protocol as the DR operation token)

def generate_root_status(c):
    return c.request("GET", "sys/generate-root/attempt").json or {}


def generate_root_start(c, otp=None, pgp_key=None):
    if otp and pgp_key:
        raise VaultError("give either otp or pgp_key to start root token generation, not both")
    return c.request("PUT", "sys/generate-root/attempt", json=_body(otp=otp, pgp_key=pgp_key)).json or {}


def generate_root_update(c, key, nonce):
    return c.request("PUT", "sys/generate-root/update",
                     json={"key": _require(key, "key share"), "nonce": _require(nonce, "nonce")}).json or {}


def generate_root_cancel(c):
    c.request("DELETE", "sys/generate-root/attempt")


# --------------------------------------------------------------------------------------------
# Policies, token roles, tokens

def write_policy(c, name, policy):
    c.request("PUT", "sys/policies/acl/%s" % _seg(name, "policy name"), json={"policy": policy})


def read_policy(c, name):
    """-> {"name", "policy"} or None when the policy does not exist."""
    resp = c.request("GET", "sys/policies/acl/%s" % _seg(name, "policy name"), allow_status=(404,))
    if resp.status == 404:
        return None
    return resp.data


def write_token_role(c, name, **params):
    c.request("POST", "auth/token/roles/%s" % _seg(name, "token role name"), json=_body(**params))


def read_token_role(c, name):
    resp = c.request("GET", "auth/token/roles/%s" % _seg(name, "token role name"), allow_status=(404,))
    if resp.status == 404:
        return None
    return resp.data


def create_token(c, role=None, **params):
    """POST auth/token/create[/<role>] -> the ``auth`` object (client_token, accessor, ...)."""
    path = "auth/token/create"
    if role:
        path += "/" + _seg(role, "token role name")
    resp = c.request("POST", path, json=_body(**params))
    if not resp.auth or not resp.auth.get("client_token"):
        raise VaultError("Vault answered POST %s without auth.client_token" % path)
    return resp.auth


def lookup_self(c):
    return c.request("GET", "auth/token/lookup-self").data or {}
