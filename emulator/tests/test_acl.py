"""Tests for vaultlab.acl."""

from __future__ import annotations

import json

import pytest

from vaultlab.acl import (
    ACL,
    BUILTIN_POLICIES,
    DEFAULT_POLICY,
    ROOT_POLICY,
    Policy,
    PolicyError,
    allowed,
    capabilities,
)

DR_PROMOTION = """
# policy "dr-secondary-promotion", written on the primary (root namespace)
path "sys/replication/dr/secondary/promote"        { capabilities = ["update"] }
path "sys/replication/dr/secondary/update-primary" { capabilities = ["update"] }
"""


def test_dr_batch_token_policy():
    policy = Policy.parse(DR_PROMOTION, name="dr-secondary-promotion")
    assert [r.pattern for r in policy.rules] == [
        "sys/replication/dr/secondary/promote",
        "sys/replication/dr/secondary/update-primary",
    ]
    token = [policy]
    assert allowed(token, "sys/replication/dr/secondary/promote", "update")
    assert allowed(token, "sys/replication/dr/secondary/update-primary", "update")
    assert not allowed(token, "sys/replication/dr/secondary/promote", "read")
    assert not allowed(token, "sys/replication/dr/secondary/disable", "update")
    assert not allowed(token, "sys/replication/dr/secondary/promote/extra", "update")
    assert not allowed(token, "sys/replication/dr/secondary", "update")
    assert not allowed(token, "secret/data/x", "read")
    assert not allowed(token, "auth/token/lookup-self", "read")  # default not attached


def test_multiple_blocks_comments_and_trailing_commas():
    text = """
    // leading comment
    path "secret/*" {
        capabilities = ["read", "list",]   # trailing comma is fine
    }
    /* block
       comment */
    path "/sys/mounts" {
        capabilities = ["read"]
        comment = "leading slash is stripped"
    }
    name = "ignored"
    """
    policy = Policy.parse(text)
    assert [(r.pattern, sorted(r.capabilities)) for r in policy.rules] == [
        ("secret/*", ["list", "read"]),
        ("sys/mounts", ["read"]),
    ]


def test_json_form_matches_hcl():
    hcl = Policy.parse('path "secret/+/x" { capabilities = ["read"] }\npath "kv/*" { capabilities = ["deny"] }')
    as_json = json.dumps({"path": {"secret/+/x": {"capabilities": ["read"]}, "kv/*": {"capabilities": ["deny"]}}})
    assert Policy.parse(as_json).rules == hcl.rules
    listed = json.dumps({"path": [{"secret/+/x": {"capabilities": ["read"]}}, {"kv/*": {"policy": "deny"}}]})
    assert Policy.parse(listed).rules == hcl.rules


def test_equals_form_and_old_policy_shorthand():
    policy = Policy.parse('path = { "a/*" = { policy = "write" } }')
    assert policy.rules[0].capabilities == {"create", "read", "update", "delete", "list"}


def test_glob_and_longest_prefix():
    policies = [Policy.parse("""
        path "secret/*"          { capabilities = ["read"] }
        path "secret/team/*"     { capabilities = ["create", "update"] }
        path "secret/team/admin" { capabilities = ["deny"] }
    """)]
    assert allowed(policies, "secret/anything", "read")
    assert allowed(policies, "secret/", "read")
    assert not allowed(policies, "secret", "read")
    assert allowed(policies, "secret/team/x", "update")
    assert not allowed(policies, "secret/team/x", "read")  # the longer prefix wins outright
    assert not allowed(policies, "secret/team/admin", "update")
    assert allowed(policies, "secret/team/admin2", "update")


def test_segment_wildcards_and_priority():
    policies = [Policy.parse("""
        path "secret/+/config"   { capabilities = ["read"] }
        path "secret/+/+"        { capabilities = ["list"] }
        path "secret/app/*"      { capabilities = ["update"] }
        path "secret/+/data/*"   { capabilities = ["create"] }
    """)]
    acl = ACL(policies)
    # secret/app/* has its first glob later than secret/+/config -> it wins.
    assert acl.capabilities("secret/app/config") == ["update"]
    assert acl.capabilities("secret/web/config") == ["read"]  # fewer '+' beats secret/+/+
    assert acl.capabilities("secret/web/other") == ["list"]
    assert acl.capabilities("secret/web/config/deeper") == ["deny"]  # '+' needs exact depth
    assert acl.capabilities("secret/web/data/a/b") == ["create"]
    assert acl.capabilities("secret/web") == ["deny"]


def test_not_prefix_beats_prefix_at_same_position():
    policies = [Policy.parse("""
        path "foo/+"  { capabilities = ["read"] }
        path "foo/*"  { capabilities = ["update"] }
    """)]
    assert capabilities(policies, "foo/bar") == ["read"]
    assert capabilities(policies, "foo/bar/baz") == ["update"]


def test_policies_merge_and_deny_overrides_same_pattern():
    reader = Policy.parse('path "secret/*" { capabilities = ["read"] }', name="reader")
    writer = Policy.parse('path "secret/*" { capabilities = ["update"] }', name="writer")
    blocker = Policy.parse('path "secret/*" { capabilities = ["deny"] }', name="blocker")
    exact = Policy.parse('path "secret/open" { capabilities = ["read"] }', name="exact")
    assert capabilities([reader, writer], "secret/x") == ["read", "update"]
    assert capabilities([reader, writer, blocker], "secret/x") == ["deny"]
    assert not allowed([blocker, reader], "secret/x", "read")
    # deny on a glob does not beat a more specific pattern in another policy
    assert allowed([blocker, exact], "secret/open", "read")
    # deny in the same block wipes the rest
    mixed = Policy.parse('path "a" { capabilities = ["read", "deny"] }')
    assert mixed.rules[0].capabilities == {"deny"}


def test_list_on_trailing_slash():
    policies = [Policy.parse('path "secret/metadata" { capabilities = ["list"] }')]
    assert allowed(policies, "secret/metadata/", "list")
    assert not allowed(policies, "secret/metadata/", "read")


def test_root_and_default_policies():
    assert allowed([ROOT_POLICY], "sys/replication/dr/primary/enable", "sudo")
    assert capabilities([ROOT_POLICY], "anything") == ["root"]
    token = [DEFAULT_POLICY]
    assert allowed(token, "auth/token/lookup-self", "read")
    assert allowed(token, "auth/token/renew-self", "update")
    assert allowed(token, "auth/token/revoke-self", "update")
    assert allowed(token, "sys/capabilities-self", "update")
    assert allowed(token, "cubbyhole/my/secret", "create")
    assert not allowed(token, "auth/token/create", "update")
    assert not allowed(token, "sys/policies/acl/x", "update")
    assert set(BUILTIN_POLICIES) == {"root", "default", "response-wrapping"}
    assert allowed([BUILTIN_POLICIES["response-wrapping"]], "cubbyhole/response", "read")


def test_texts_names_and_sudo():
    text = 'path "sys/replication/*" { capabilities = ["update"] }\npath "sys/seal" { capabilities = ["update", "sudo"] }'
    assert allowed([text], "sys/replication/dr/primary/enable", "update")
    assert not allowed([text], "sys/replication/dr/primary/enable", "update", sudo=True)
    assert allowed([text], "sys/seal", "update", sudo=True)
    assert allowed(["default", text], "auth/token/lookup-self", "read")
    assert allowed(["root"], "sys/seal", "update", sudo=True)
    assert capabilities([text, Policy.parse('path "sys/seal" { capabilities = ["read"] }')], "sys/seal") == [
        "read", "sudo", "update"]
    with pytest.raises(PolicyError):
        allowed(["not a policy"], "x", "read")


def test_unknown_capability_in_check_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown capability 'write'"):
        allowed([DEFAULT_POLICY], "x", "write")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('path "a" { capabilities = ["read", "fly"] }', 'path "a": invalid capability "fly"'),
        ('path "a" { capabilties = ["read"] }', 'path "a": invalid key "capabilties" on line 1'),
        ('paths "a" { capabilities = ["read"] }', 'invalid key "paths" on line 1'),
        ('path "a" { capabilities = "read" }', 'path "a": capabilities must be a list of strings'),
        ('path "a/+*" { capabilities = ["read"] }', r"invalid use of wildcards \('\+\*' is forbidden\)"),
        ('path "a" { policy = "admin" }', 'path "a": invalid policy "admin"'),
        ('path "a" { capabilities = ["read"]', r"At 1:35: expected '}', got end of input"),
        ('path "a" {\n  capabilities = ["read" "list"]\n}', "At 2:26: expected ',' or ']' in list"),
        ('path "a { capabilities = [] }', "At 1:6: literal not terminated"),
        ('path "a" { capabilities = [read] }', "At 1:28: unexpected 'read', expected a value"),
        ("path 'a' {}", "At 1:6: illegal char"),
        ('{"path": {"a": {"capabilities": ["read"]}', "failed to parse policy: At 1:"),
        ('path "a" = "b"', 'path "a": expected a block'),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(PolicyError, match=message) as info:
        Policy.parse(text)
    assert str(info.value).startswith("failed to parse policy: ")


def test_empty_policy_grants_nothing():
    policy = Policy.parse("# nothing here\n")
    assert policy.rules == ()
    assert not allowed([policy], "secret/x", "read")
