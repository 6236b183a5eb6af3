#!/usr/bin/env bash
# dr_operation_token against vaultlab: the key share ceremony on a DR secondary, its error paths,
# revocation and cancellation, and batch DR operation tokens on the primary.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../setup_vaultlab/vaultlab.sh
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster primary --cluster dr --cluster spare
vaultlab_playbook playbook.yml "$@"
