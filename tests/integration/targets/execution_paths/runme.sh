#!/usr/bin/env bash
# Both execution paths of every module on the same scenario: the action plugins in-process on
# set "a" of a vaultlab, the modules through AnsiballZ (vaultops_replication_execution: module)
# on set "b", started identical. The playbook compares the results step by step.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../setup_vaultlab/vaultlab.sh
source ../setup_vaultlab/vaultlab.sh
vaultlab_up --cluster a-primary --cluster a-dr:2 --cluster b-primary --cluster b-dr:2
vaultlab_playbook playbook.yml "$@"
