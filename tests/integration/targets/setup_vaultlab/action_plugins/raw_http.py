# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""raw_http: one HTTP request to Vault from the controller, for the integration targets' raw checks.

The targets read and change cluster state over plain HTTP, independently of the modules under
test. ansible.builtin.uri does that in a module process of its own (about 0.6 s of CPU per call
on the test machines); this action plugin makes the same request inside the controller process
with the same library (ansible.module_utils.urls). Options and result keys are the subset of
ansible.builtin.uri the targets use, with uri's meaning:

  url (required), method (GET), headers, body, body_format (raw or json), status_code (200; one
  code or a list), validate_certs (true), ca_path, return_content (false), timeout (30).
  Result: status (-1 when no answer), url, msg, json (a JSON answer), content (with
  return_content, or when the status is not accepted), elapsed (whole seconds), redirected.
  The task fails when the status is not one of status_code.

Each target's action_plugins/raw_http.py is a link to this file (the playbooks next to it find it).
"""
from __future__ import annotations

import json
import time
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

_OPTIONS = {"url", "method", "headers", "body", "body_format", "status_code", "validate_certs", "ca_path",
            "return_content", "timeout"}


class ActionModule(ActionBase):
    """Send one request; fail unless the answer's status is one of status_code."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        unknown = sorted(set(args) - _OPTIONS)
        if unknown or not args.get("url"):
            return dict(result, failed=True, msg="raw_http: url is required; unsupported options: %s" % unknown)
        method = str(args.get("method", "GET")).upper()
        accepted = args.get("status_code", [200])
        accepted = [int(code) for code in (accepted if isinstance(accepted, list) else [accepted])]
        data = args.get("body")
        headers = dict(args.get("headers") or {})
        if data is not None and args.get("body_format", "raw") == "json":
            data = json.dumps(data)
            headers.setdefault("Content-Type", "application/json")
        url = args["url"]
        started = time.monotonic()
        status, raw, reason, final_url = -1, b"", "", url
        try:
            resp = open_url(url, data=data, headers=headers, method=method,
                            validate_certs=self._bool(args.get("validate_certs", True)),
                            ca_path=args.get("ca_path"), timeout=int(args.get("timeout", 30)),
                            follow_redirects="safe")
            status, raw, final_url = resp.getcode(), resp.read(), resp.geturl()
            reason = "OK (%s bytes)" % len(raw)
        except HTTPError as exc:
            status, raw, reason = exc.code, exc.read() or b"", "HTTP Error %s: %s" % (exc.code, exc.reason)
        except (URLError, OSError, ValueError) as exc:
            reason = "Request failed: %s" % exc
        text = raw.decode("utf-8", errors="replace")
        result.update(changed=False, status=status, url=final_url, redirected=final_url != url,
                      elapsed=int(time.monotonic() - started))
        try:
            result["json"] = json.loads(text) if text else None
        except ValueError:
            pass
        if result.get("json") is None:
            result.pop("json", None)
        if self._bool(args.get("return_content", False)) or status not in accepted:
            result["content"] = text
        if status in accepted:
            result["msg"] = reason
        else:
            result.update(failed=True, msg="Status code was %s and not %s: %s" % (status, accepted, reason))
        return result

    @staticmethod
    def _bool(value):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
