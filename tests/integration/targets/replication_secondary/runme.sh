#!/usr/bin/env bash
# Integration test of vaultops.replication.replication_secondary: a DR secondary with a standby
# node, a performance secondary through the split-team (minted token) workflow with a paths
# filter, detaching both, and the bad inputs.
set -euo pipefail
cd "$(dirname "$0")"
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster primary --cluster dr:2 --cluster perf
vaultlab_playbook playbook.yml "$@"
