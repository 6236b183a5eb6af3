#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# End-to-end demo (make demo): a realistic-profile vaultlab with a primary, a DR secondary and a
# performance secondary; replication set up by the collection's playbooks; sample secrets
# written; a planned DR failover; every secret read back on the new primary; failback; the lab
# stopped. Exits 0 only if every step really happened and every check passed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
export ANSIBLE_NOCOLOR=1
PY="$ROOT/.venv/bin/python"
SECRETS=${DEMO_SECRETS:-20}
PROFILE=${DEMO_PROFILE:-realistic}

for tool in vaultlab ansible-playbook; do
  command -v "$tool" >/dev/null || { echo "demo: $tool not found; run 'make venv' first" >&2; exit 1; }
done
[ -e "$ROOT/.collections/ansible_collections/vaultops/replication" ] \
  || { echo "demo: .collections link missing; run 'make venv' first" >&2; exit 1; }

LAB=$(mktemp -d "${TMPDIR:-/tmp}/vaultops-demo-lab.XXXXXX")
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/vaultops-demo-logs.XXXXXX")
chmod 700 "$LAB"
cleanup() {
  local rc=$?
  echo "==> stopping the lab"
  vaultlab down --dir "$LAB" >/dev/null 2>&1 || true
  rm -rf "$LAB"
  if [ "$rc" -ne 0 ]; then
    echo "demo FAILED (exit $rc). Playbook logs: $LOGS" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -a SUMMARY=()
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# run TITLE LOGNAME command...: runs a step with its output in a log file, records its time.
run() {
  local title=$1 log="$LOGS/$2.log"; shift 2
  local t0; t0=$(now)
  echo "==> $title"
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "demo: step failed: $title (full log: $log)" >&2
    return 1
  fi
  SUMMARY+=("$(printf '%-48s %8s s' "$title" "$(elapsed "$t0" "$(now)")")")
}

show_status() {
  ansible-playbook -i "$LAB/inventory.yml" vaultops.replication.status >"$LOGS/status-$1.log" 2>&1 \
    || { tail -n 30 "$LOGS/status-$1.log" >&2; return 1; }
  # The table is the message of the "Show the replication state" task, one list item per line.
  sed -n '/TASK \[vaultops.replication.status : Show the replication state/,/^TASK\|^PLAY RECAP/p' "$LOGS/status-$1.log" \
    | sed -n "s/^ *- '\{0,1\}\(.*\)'\{0,1\}$/    \1/p" | sed "s/'$//"
}

T_START=$(now)
run "start vaultlab ($PROFILE profile: primary, dr, perf)" lab-up \
  vaultlab up --dir "$LAB" --profile "$PROFILE" --cluster primary --cluster dr --cluster perf
# Tokens and key shares go to the environment of the playbooks, never into a file or the log.
eval "$("$PY" scripts/demo_lab.py env "$LAB")"

run "set up DR + performance replication" setup \
  ansible-playbook -i "$LAB/inventory.yml" vaultops.replication.setup_replication -e confirm_wipe=dr,perf
# Activation wiped the secondaries' own tokens: the DR secondary now shares the primary's.
unset VAULT_TOKEN_DR VAULT_TOKEN_PERF

run "write $SECRETS sample secrets on primary" write "$PY" scripts/demo_lab.py write "$LAB" primary "$SECRETS"

echo "==> replication status before the failover"
show_status before

T_FO=$(now)
run "planned DR failover to dr (dr_failover.yml)" failover \
  ansible-playbook -i "$LAB/inventory.yml" vaultops.replication.dr_failover -e confirm_promote=dr
FAILOVER_SECONDS=$(elapsed "$T_FO" "$(now)")

echo "==> replication status after the failover"
show_status after

run "read every secret on the new primary dr" read-dr "$PY" scripts/demo_lab.py read "$LAB" dr "$SECRETS"
cat "$LOGS/read-dr.log"

T_FB=$(now)
run "fail back to primary (dr_failback.yml)" failback \
  ansible-playbook -i "$LAB/inventory.yml" vaultops.replication.dr_failback -e confirm_promote=primary
FAILBACK_SECONDS=$(elapsed "$T_FB" "$(now)")

echo "==> replication status after the failback"
show_status final

run "read every secret on primary again" read-primary "$PY" scripts/demo_lab.py read "$LAB" primary "$SECRETS"

# Nothing the lab issued as a secret may appear in any log the demo kept.
run "check the logs for leaked secrets" leak-check "$PY" scripts/demo_lab.py leaks "$LAB" "$LOGS"

echo
echo "Summary"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
grep -h "Steps:" "$LOGS/failover.log" | sed 's/^ */  failover steps: /' || true
echo "  failover playbook: ${FAILOVER_SECONDS} s, failback playbook: ${FAILBACK_SECONDS} s, total $(elapsed "$T_START" "$(now)") s"
echo "  $SECRETS of $SECRETS secrets readable after failover and after failback; logs: $LOGS"
echo "demo OK"
