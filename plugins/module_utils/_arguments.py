# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checking a task's options before any cluster is contacted, the same way on both execution
paths (the module through AnsiballZ, the action plugin in-process).

Three layers, each naming the option and what would be valid:

* ``shape_problem``: the structure of the raw arguments (a dict option given a string that is
  neither JSON nor key=value, list entries of the wrong type, numbers that are not finite),
  which ansible-core's validator either crashes on or reports without naming the option;
* ``validate``: ansible-core's ArgumentSpecValidator, with every error it found in one message
  (its first error alone may name no option);
* ``value_problem`` and the helpers it uses: what a type cannot say (URLs, tokens, CA and client
  certificate files, names that become API path segments, durations, number ranges). The
  runner context applies them to the resolved connection options (_runner).

Nothing here talks to Vault; file options are opened and parsed as the HTTP client would.
"""

from __future__ import annotations

import math
import os
import re
import ssl

from collections.abc import Mapping
from urllib.parse import urlsplit

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.validation import check_type_dict
from ansible.module_utils.errors import UnsupportedError

URL_EXAMPLE = "https://vault.example.com:8200"

# Ranges of the numeric options (inclusive). Every other number is held to NUMBER_LIMIT and, when
# its name says it counts or measures time, to 0 or more.
RANGES = {
    "timeout": (1, 3600, "seconds per HTTP request"),
    "retries": (0, 50, "retries per HTTP request"),
    "wait_timeout": (0, 86400, "seconds"),
    "quiesce_timeout": (0, 86400, "seconds"),
    "fence_timeout": (0, 86400, "seconds"),
    "quiesce_window": (0, 3600, "seconds"),
    "switchover_attempts": (1, 10, "attempts"),
    "otp_length": (0, 256, "characters"),
}
# Beyond this no option makes sense, and the socket and threading layers overflow (time_t).
NUMBER_LIMIT = 10 ** 9
_NON_NEGATIVE = re.compile(r"(^|_)(timeout|window|interval|retries|attempts|length|seconds)$")

# Vault durations as the API takes them: 90, 1800s, 30m, 1h30m, 1.5h.
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h)?)+$")
DURATION_OPTIONS = ("token_ttl", "ttl")
# Options that become a segment of an API path (sys/policies/acl/<policy_name> ...).
NAME_OPTIONS = ("id", "policy_name", "role_name")
# Options holding Vault API addresses besides the connection URLs.
URL_OPTIONS = ("primary_api_addr", "primary_cluster_addr")
URL_LIST_OPTIONS = ("standby_urls",)
SECRET_NAMES = ("token", "otp", "key_shares", "unseal_keys")


def _kind_of(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a dictionary"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    return "a %s" % type(value).__name__


def _keys_hint(entry):
    options = entry.get("options")
    if not options:
        return ""
    return " with the keys %s" % ", ".join(sorted(options))


def _as_dict(value):
    """``value`` as ansible-core would take it for a dict option, or None when it cannot."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            return check_type_dict(value)
        except (TypeError, ValueError):
            return None
    return None


def _not_finite(value):
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        try:
            return not math.isfinite(float(value))
        except ValueError:
            return False
    return False


def _shape_of(name, entry, value):
    kind = entry.get("type", "str")
    choices = entry.get("choices")
    if kind == "dict":
        mapping = _as_dict(value)
        if mapping is None:
            got = "a string that is neither JSON nor key=value pairs" if isinstance(value, str) else _kind_of(value)
            return "%s must be a dictionary%s, got %s." % (name, _keys_hint(entry), got)
        if entry.get("options"):
            return shape_problem(entry["options"], mapping, name + ".")
        return None
    if kind == "list":
        if isinstance(value, Mapping):
            return "%s must be a list, got a dictionary." % name
        if not isinstance(value, (list, tuple)):
            return None  # ansible-core splits a string on commas; other scalars become one entry
        elements = entry.get("elements")
        for index, item in enumerate(value):
            where = "%s[%d]" % (name, index)
            if elements == "dict":
                mapping = _as_dict(item)
                if mapping is None:
                    return "%s must be a dictionary%s, got %s." % (where, _keys_hint(entry), _kind_of(item))
                if entry.get("options"):
                    problem = shape_problem(entry["options"], mapping, where + ".")
                    if problem:
                        return problem
            elif elements in ("str", "path", None) and (item is None or isinstance(item, (Mapping, list, tuple))):
                if choices:
                    return "%s must be one of %s, got %s." % (where, ", ".join(map(str, choices)), _kind_of(item))
                return "%s must be a string, got %s." % (where, _kind_of(item))
            elif elements in ("int", "float") and _not_finite(item):
                return "%s must be a finite number, got %r." % (where, item)
        return None
    if kind in ("int", "float"):
        if isinstance(value, bool) or isinstance(value, (Mapping, list, tuple)):
            return "%s must be a %snumber, got %s." % (name, "whole " if kind == "int" else "", _kind_of(value))
        if _not_finite(value):
            return "%s must be a finite number, got %r." % (name, value)
        return None
    if kind == "bool" and isinstance(value, (Mapping, list, tuple)):
        return "%s must be true or false, got %s." % (name, _kind_of(value))
    if kind in ("str", "path") and isinstance(value, (Mapping, list, tuple)):
        if choices:
            return "%s must be one of %s, got %s." % (name, ", ".join(map(str, choices)), _kind_of(value))
        return "%s must be a %s, got %s." % (name, "file path" if kind == "path" else "string", _kind_of(value))
    return None


def shape_problem(argument_spec, args, where=""):
    """The first structural problem of the raw ``args`` against ``argument_spec`` as a sentence
    naming the option (``where`` prefixes nested names, e.g. ``paths_filter.``), or None.

    Unknown options are left to the validator (it lists the supported ones)."""
    for key, value in args.items():
        entry = argument_spec.get(key) if isinstance(key, str) else None
        if entry is None or value is None:
            continue
        problem = _shape_of(where + key, entry, value)
        if problem:
            return problem
    return None


def validation_message(validation, name):
    """One message for every error ansible-core's validator found, unknown options first (so a
    misspelt option is not reported as the required one it was meant to be); errors repeated
    inside a longer one (``dictionary requested ...`` inside ``argument 'x' ... dictionary
    requested ...``) are dropped."""
    errors = list(validation.errors)
    unsupported = [e for e in errors if isinstance(e, UnsupportedError)]
    others = [e for e in errors if not isinstance(e, UnsupportedError)]
    texts = []
    for error in unsupported:
        texts.append("Unsupported parameters for (%s) module: %s" % (name, error.msg))
    messages = [e.msg for e in others]
    for index, msg in enumerate(messages):
        if msg in texts or any(msg != other and msg in other for other in messages):
            continue
        if msg not in messages[:index]:
            texts.append(msg)
    return "; ".join(texts)


def validate(spec, args, name):
    """Validate the raw task arguments ``args`` with the module keyword arguments ``spec``
    (``module_spec()``). Returns ``(validated parameters, no_log values, error message or None)``.
    Internal ``_ansible_*`` keys are ignored."""
    args = dict((k, v) for k, v in args.items() if not (isinstance(k, str) and k.startswith("_ansible_")))
    problem = shape_problem(spec["argument_spec"], args)
    if problem:
        return None, _raw_no_log_values(spec["argument_spec"], args), problem
    constraints = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")
    validator = ArgumentSpecValidator(spec["argument_spec"], **dict((k, spec[k]) for k in constraints if k in spec))
    result = validator.validate(args)
    no_log_values = set(result._no_log_values)  # pylint: disable=protected-access
    if result.error_messages:
        return None, no_log_values | _raw_no_log_values(spec["argument_spec"], args), validation_message(result, name)
    return result.validated_parameters, no_log_values, None


def _raw_no_log_values(argument_spec, args):
    """Values of no_log options as given (before validation), to censor from a failure."""
    values = set()
    for key, entry in argument_spec.items():
        value = args.get(key)
        if value is None:
            continue
        if entry.get("no_log"):
            items = value if isinstance(value, (list, tuple)) else [value]
            values.update(str(v) for v in items if isinstance(v, (str, int, float)) and str(v).strip())
        elif entry.get("options"):
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if isinstance(item, Mapping):
                    values |= _raw_no_log_values(entry["options"], item)
    return values


# ---------------------------------------------------------------------------------------------
# Values


def redact_url(value):
    """``value`` without a user:password@ part, to show in a message."""
    if "@" not in value:
        return value
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value.rsplit("@", 1)[-1]
    netloc, slash, path = rest.partition("/")
    return "%s://%s%s%s" % (scheme, netloc.rsplit("@", 1)[-1], slash, path)


def url_problem(value, option, example=URL_EXAMPLE, noun="a Vault API address"):
    """Why ``value`` of ``option`` is not an http(s) URL the client can use, or None."""
    if not isinstance(value, str):
        return "%s must be %s such as %s, got %s." % (option, noun, example, _kind_of(value))
    text = value.strip()
    shown = redact_url(text)
    if not text:
        return "%s is empty; give %s such as %s." % (option, noun, example)
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        return "%s %r contains whitespace or control characters; give %s such as %s." % (option, shown, noun, example)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # pylint: disable=pointless-statement
    except ValueError as exc:
        return "%s %r is not a valid URL (%s); give %s such as %s." % (option, shown, exc, noun, example)
    if parts.scheme not in ("http", "https"):
        return "%s %r must start with https:// or http://; give %s such as %s." % (option, shown, noun, example)
    if not host:
        return "%s %r has no host name; give %s such as %s." % (option, shown, noun, example)
    if parts.query or parts.fragment:
        return "%s %r must not have a query string or fragment; give %s such as %s." % (option, shown, noun, example)
    return None


def secret_problem(value, option):
    """Why a token, key share or OTP given in ``option`` cannot be sent to Vault, or None. The
    value itself is never part of the message."""
    if not isinstance(value, str):
        return "%s must be a string, got %s." % (option, _kind_of(value))
    for index, char in enumerate(value):
        if not "\x21" <= char <= "\x7e":
            what = "whitespace" if char.isspace() else "a control character" if ord(char) < 32 or ord(char) == 127 \
                else "a non-ASCII character"
            return ("%s contains %s at position %d: give the value alone, without spaces or line breaks (one read "
                    "from a file often ends with a newline; strip it, for example with | trim)." % (option, what, index))
    return None


def name_problem(value, option):
    """Why ``value`` cannot be a name that becomes a segment of a Vault API path, or None."""
    if not isinstance(value, str):
        return "%s must be a string, got %s." % (option, _kind_of(value))
    if value in (".", "..") or "/" in value or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return ("%s %r is not a usable name: it must not contain '/', whitespace or control characters, nor be '.' "
                "or '..' (it becomes part of a Vault API path)." % (option, value))
    return None


def duration_problem(value, option):
    if not isinstance(value, str) or not DURATION.match(value.strip()):
        return "%s %r is not a Vault duration; use for example 30m, 1h or 1800s." % (option, value)
    return None


def number_problem(value, option, shown=None):
    """Why the number ``value`` of ``option`` is out of range, or None (``shown``: the name to use
    in the message, default ``option``)."""
    shown = shown or option
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "%s must be a finite number, got %r." % (shown, value)
    low, high, unit = RANGES.get(option, (0 if _NON_NEGATIVE.search(option) else -NUMBER_LIMIT, NUMBER_LIMIT, ""))
    if not low <= value <= high:
        return "%s must be between %s and %s%s, got %s." % (shown, low, high, " " + unit if unit else "", value)
    return None


def file_problem(path, option, kind):
    """Why the file ``path`` of ``option`` is unusable, or None. ``kind``: ``ca`` (a PEM bundle of CA
    certificates, or a hashed directory of them), ``cert`` or ``key`` (PEM)."""
    if not isinstance(path, str):
        return "%s must be a file path, got %s." % (option, _kind_of(path))
    if not os.path.exists(path):
        return "%s: no such file: %s. Give the path of the PEM file on the controller." % (option, path)
    if os.path.isdir(path):
        if kind == "ca":
            return None
        return "%s is a directory (%s); give the PEM file." % (option, path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 20)
    except OSError as exc:
        return "%s cannot be read (%s): %s. Make it readable by the user that runs Ansible." % (
            option, exc.strerror or exc, path)
    if kind == "ca":
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
        except (ssl.SSLError, ValueError, OSError) as exc:
            return ("%s (%s) is not a PEM bundle of CA certificates (%s); give the CA certificate that signed the "
                    "Vault server certificate, in PEM form (-----BEGIN CERTIFICATE-----)." % (option, path, _ssl_reason(exc)))
        return None
    marker = b"-----BEGIN "
    if marker not in head:
        what = "certificate (-----BEGIN CERTIFICATE-----)" if kind == "cert" else "private key (-----BEGIN ... KEY-----)"
        return "%s (%s) is not a PEM %s; give the client %s in PEM form." % (
            option, path, what, "certificate" if kind == "cert" else "key")
    return None


def client_pair_problem(cert, key, cert_option, key_option):
    """Why the client certificate and key cannot be loaded together, or None."""
    if key and not cert:
        return "%s needs %s as well (the client certificate the key belongs to)." % (key_option, cert_option)
    if not cert:
        return None

    def no_password():
        raise ValueError("the key is encrypted")

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key or None, password=no_password)
    except (ssl.SSLError, ValueError, OSError) as exc:
        return ("%s/%s cannot be loaded as a client certificate and its unencrypted private key (%s); give PEM files "
                "that belong together." % (cert_option, key_option, _ssl_reason(exc)))
    return None


def _ssl_reason(exc):
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def is_secret_option(name):
    return name in SECRET_NAMES or name.endswith("_token")


def value_problem(option, value, shown=None):
    """Why the validated ``value`` of the (non-connection) option ``option`` is unusable, or None;
    ``shown`` is the name to use in the message (default ``option``)."""
    shown = shown or option
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return number_problem(value, option, shown)
    if is_secret_option(option):
        items = value if isinstance(value, (list, tuple)) else [value]
        for index, item in enumerate(items):
            if isinstance(item, str) and not item.strip() and len(items) == 1:
                continue  # empty: not given
            problem = secret_problem(item, shown if len(items) == 1 and not isinstance(value, list)
                                     else "%s[%d]" % (shown, index))
            if problem:
                return problem
        return None
    if option in URL_OPTIONS and isinstance(value, str) and value.strip():
        example = "https://vault.example.com:8201" if option.endswith("cluster_addr") else URL_EXAMPLE
        return url_problem(value, shown, example=example)
    if option in URL_LIST_OPTIONS or option == "nodes":
        for index, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
            problem = url_problem(item, "%s[%d]" % (shown, index))
            if problem:
                return problem
        return None
    if option in NAME_OPTIONS and isinstance(value, str) and value != "":
        return name_problem(value, shown)
    if option in DURATION_OPTIONS and isinstance(value, str) and value != "":
        return duration_problem(value, shown)
    return None
