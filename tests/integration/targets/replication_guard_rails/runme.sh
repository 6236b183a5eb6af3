#!/usr/bin/env bash
# Integration test of the replication guard rails (issue 15 points 3-5) against vaultlab: what
# replication_status_info reads with each cluster's token (local mounts and their keys, audit
# devices, own-token acceptance) and the warnings it derives, across a performance secondary's
# first bootstrap, a re-sync and an audit path that cannot be written on the secondary.
set -euo pipefail
cd "$(dirname "$0")"
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster primary --cluster perf
vaultlab_playbook playbook.yml "$@"
