#!/usr/bin/env bash
# Install the monorepo's packages (editable, with test extras) and run every test:
# the shared suite on DEV=CPU and DEV=PYTHON, plus each backend package's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

# torch is pinned in the test extra: an unpinned torch resolves to a multi-GB CUDA build
"$PY" -m pip install -q --root-user-action=ignore -e "packages/tinygrad-core[test]" -e packages/tinygrad-cpu

status=0
run_pytest() {  # DEV, then pytest arguments; "no tests collected" (exit 5) counts as a failure
  local dev="$1" rc=0
  shift
  echo "== DEV=$dev pytest $*"
  DEV="$dev" "$PY" -m pytest -q "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then echo "error: DEV=$dev pytest $* collected no tests" >&2; fi
  if [ "$rc" -ne 0 ]; then status=1; fi
}

run_pytest CPU tests packages/tinygrad-cpu/tests
run_pytest PYTHON tests
exit "$status"
