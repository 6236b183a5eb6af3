#!/usr/bin/env bash
# replication_secondary with secondaries: several performance secondaries activated, and after a
# DR fail-over re-pointed at the new primary, each in one task (four passes).
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../setup_vaultlab/vaultlab.sh
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster primary --cluster dr --cluster perf1 --cluster perf2 --cluster perf3
vaultlab_playbook playbook.yml "$@"
