#!/usr/bin/env bash
# Backup before wipe (issue 15, points 1 and 2): replication_secondary lists what a cluster holds
# before activating it, refuses without a backup (or an explicit opt-out), saves a 0600 raft
# snapshot, and raft_snapshot restores the wiped data from it.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../setup_vaultlab/vaultlab.sh
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster primary --cluster perf
vaultlab_playbook playbook.yml "$@"
