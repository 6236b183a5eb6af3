# shellcheck shell=bash
# Shared vaultlab helper for the integration targets of vaultops.replication.
#
# Source it from a target's runme.sh, start a lab, run the target's playbook:
#
#     #!/usr/bin/env bash
#     set -euo pipefail
#     source ../setup_vaultlab/vaultlab.sh
#     vaultlab_up --cluster primary --cluster dr:2      # any `vaultlab up` options; --dir/--profile are set here
#     vaultlab_playbook playbook.yml "$@"               # ansible-playbook -i <lab inventory> ...
#
# and add "needs/target/setup_vaultlab" (plus "context/controller") to the target's aliases.
#
# What it does:
# * vaultlab_up starts the lab in a fresh private temp directory with the fast timing profile
#   (VAULTLAB_PROFILE overrides it) and registers an EXIT trap that always runs `vaultlab down`
#   and removes the directory, whether the playbook passed or failed. A runme.sh that needs its own
#   EXIT trap must call vaultlab_cleanup from it (a second `trap ... EXIT` replaces this one).
# * It exports VAULTLAB_DIR, VAULTLAB_LAB_JSON (lab.json: URLs, root tokens, unseal keys; mode 0600)
#   and VAULTLAB_INVENTORY (one inventory host per cluster with vault_addr, vault_nodes,
#   vault_ca_cert; no secrets), puts this targets directory on ANSIBLE_ROLES_PATH and, when it is
#   not set yet, points ANSIBLE_COLLECTIONS_PATH at the collection under test.
# * Secrets are never exported or printed: playbooks load them with the setup_vaultlab role
#   (tasks/main.yml sets the no_log fact `setup_vaultlab_lab`), see that file.
# * vaultlab_ctl NODE PATH [JSON] calls a node's control API (/_vaultlab/PATH) with the lab's control
#   token (`vaultlab ctl`); playbooks use the role's tasks_from: control. Never curl /_vaultlab/ directly:
#   every request needs the token.
#
# vaultlab is the `vaultlab` command if it is on PATH, otherwise `python -m vaultlab` with the
# Python ansible-test runs the target with (ANSIBLE_TEST_PYTHON_INTERPRETER) or python3.

VAULTLAB_HELPER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VAULTLAB_TARGETS_DIR="$(dirname "$VAULTLAB_HELPER_DIR")"

vaultlab_cli() {
    if command -v vaultlab >/dev/null 2>&1; then
        vaultlab "$@"
    else
        "${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" -m vaultlab "$@"
    fi
}

vaultlab_cleanup() {
    local rc=$?
    if [ -n "${VAULTLAB_DIR:-}" ] && [ -d "$VAULTLAB_DIR" ]; then
        vaultlab_cli down --dir "$VAULTLAB_DIR" >/dev/null 2>&1 || true
        rm -rf "$VAULTLAB_DIR"
    fi
    return $rc
}

# The collection under test: the directory three levels above tests/integration/targets.
_vaultlab_collections_path() {
    local root
    root="$(cd "$VAULTLAB_TARGETS_DIR/../../.." && pwd)"
    case "$root" in
        */ansible_collections/*/*) (cd "$root/../../.." && pwd) ;;
        *) if [ -d "$root/.collections/ansible_collections" ]; then echo "$root/.collections"; fi ;;
    esac
}

vaultlab_up() {
    VAULTLAB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vaultlab.XXXXXX")"
    export VAULTLAB_DIR
    trap vaultlab_cleanup EXIT
    if ! vaultlab_cli up --dir "$VAULTLAB_DIR" --profile "${VAULTLAB_PROFILE:-fast}" "$@" >"$VAULTLAB_DIR/up.log" 2>&1; then
        echo "vaultlab up failed:" >&2
        cat "$VAULTLAB_DIR/up.log" >&2
        return 1
    fi
    export VAULTLAB_LAB_JSON="$VAULTLAB_DIR/lab.json"
    export VAULTLAB_INVENTORY="$VAULTLAB_DIR/inventory.yml"
    export ANSIBLE_ROLES_PATH="$VAULTLAB_TARGETS_DIR${ANSIBLE_ROLES_PATH:+:$ANSIBLE_ROLES_PATH}"
    if [ -z "${ANSIBLE_COLLECTIONS_PATH:-}" ]; then
        ANSIBLE_COLLECTIONS_PATH="$(_vaultlab_collections_path)"
        export ANSIBLE_COLLECTIONS_PATH
    fi
}

vaultlab_ctl() {
    vaultlab_cli ctl --dir "$VAULTLAB_DIR" "$@"
}

vaultlab_playbook() {
    ansible-playbook -i "$VAULTLAB_INVENTORY" "$@"
}
