#!/usr/bin/env bash
# The replication_primary target on vaultlab's realistic timing profile: every reconfiguration window lasts
# seconds, so a module that returns before the cluster serves again fails the next task.
# ansible-test passes no VAULTLAB_* variable through; the alias env/set/VAULTLAB_PROFILE/realistic
# of this target sets it (run ../replication_primary/runme.sh with VAULTLAB_PROFILE=realistic outside ansible-test).
set -euo pipefail
cd "$(dirname "$0")"
exec ../replication_primary/runme.sh "$@"
