#!/usr/bin/env bash
# The HashiCorp guides' procedures, end to end, with this collection's modules:
#   1. DR set-up, performance set-up with a paths filter, data written on the primary read on the
#      performance secondary
#   2. a DR operation token by key quorum: three key holders, three separate ansible-playbook runs
#   3. planned DR failover (demote, promote) with the performance secondary following the new
#      primary, then failback with update-primary, a second ceremony and the token clean-up
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../setup_vaultlab/vaultlab.sh
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster primary --cluster dr --cluster perf

# What one key holder hands to the next (nonce, OTP) lives only in this file, readable by the
# test user alone, inside the lab directory that the EXIT trap removes.
PROCEDURE_STATE="$VAULTLAB_DIR/ceremony.json"
(umask 077 && echo '{}' >"$PROCEDURE_STATE")
export PROCEDURE_STATE

vaultlab_playbook 01_setup.yml "$@"
for holder in 0 1 2; do
    vaultlab_playbook 02_key_holder.yml -e "holder=$holder" "$@"
done
vaultlab_playbook 03_failover_failback.yml "$@"
