#!/usr/bin/env bash
# The test tiers (the markers are set by the burnrate_testing plugin, see libs/testing):
#
#   unit         the tests that use no server: pure domain, no I/O, seconds
#   integration  every other test: PostgreSQL, RabbitMQ, the services as processes (but the
#                scale tests); in PYTEST_WORKERS (default 2) pytest-xdist workers, a test
#                file each at a time: most of these tests wait (for a restart, a retry, a
#                service to come up), so three overlap well even on two cores
#                (PYTEST_WORKERS=0: one process, for a debugger or -x)
#   scale        many replicas and a RabbitMQ cluster of their own: minutes each
#   all          unit first (a failure stops there), then integration: every test once
#
# Usage: scripts/test-tiers.sh unit|integration|scale|all [pytest arguments...]
# (`all` is unit then integration: the scale tests run only when asked for by name)
#
# pytest exits 5 when it selects no test. The two tiers together are the whole suite, so
# for `all` one empty tier loses nothing (the other holds every test) and is not an error;
# a run in which no test ran at all is. A single tier asked for by name must not be empty.
set -euo pipefail
cd "$(dirname "$0")/.."

pytest=.venv/bin/pytest
parallel=(--numprocesses "${PYTEST_WORKERS:-2}" --dist loadfile)
ran=0

tier() {
  local name=$1 marker=$2 allow_empty=$3
  shift 3
  printf '\n=== %s tests (-m "%s") ===\n' "$name" "$marker"
  local status=0
  "$pytest" -m "$marker" "$@" || status=$?
  case $status in
    0) ran=1 ;;
    5) echo "pytest selected no $name test"
       [ "$allow_empty" = yes ] || exit 5 ;;
    *) exit "$status" ;;
  esac
}

what=${1:-}
shift || true
case $what in
  unit) tier unit unit no "$@" ;;
  integration) tier integration "not unit and not scale" no "${parallel[@]}" "$@" ;;
  scale) tier scale scale no "$@" ;;
  all)
    tier unit unit yes "$@"
    tier integration "not unit and not scale" yes "${parallel[@]}" "$@"
    if [ $ran = 0 ]; then
      echo "no test ran in either tier" >&2
      exit 5
    fi ;;
  *) echo "usage: $0 unit|integration|scale|all [pytest arguments...]" >&2; exit 2 ;;
esac
