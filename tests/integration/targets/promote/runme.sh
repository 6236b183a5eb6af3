#!/usr/bin/env bash
# promote against vaultlab over TLS: the split-brain guard, planned switch-over and failback,
# unplanned failover with a dead primary that comes back, a planned performance switch-over,
# and every bad input.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../setup_vaultlab/vaultlab.sh
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --tls --cluster primary --cluster dr --cluster perf --cluster spare
vaultlab_playbook playbook.yml "$@"
