#!/usr/bin/env bash
# root_token against vaultlab: the generate-root ceremony on a performance secondary with the
# primary's key shares (three runs resumed by nonce, one of them through AnsiballZ), the token works
# there and not on the primary, revocation, and option errors before any cluster is contacted.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../setup_vaultlab/vaultlab.sh
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster primary --cluster perf
vaultlab_playbook playbook.yml "$@"
