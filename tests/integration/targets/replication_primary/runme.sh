#!/usr/bin/env bash
# Integration test of vaultops.replication.replication_primary against a vaultlab cluster.
set -euo pipefail
cd "$(dirname "$0")"
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster primary
vaultlab_playbook playbook.yml "$@"
