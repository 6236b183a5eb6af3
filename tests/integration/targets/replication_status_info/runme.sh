#!/usr/bin/env bash
# Integration test of vaultops.replication.replication_status_info against a DR pair (and a filtered
# performance secondary) in vaultlab,
# served over HTTPS by the lab CA (so TLS options and TLS failures are exercised too).
set -euo pipefail
cd "$(dirname "$0")"
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --tls --cluster primary --cluster dr --cluster perf
vaultlab_playbook playbook.yml "$@"
