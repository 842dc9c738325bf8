#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: install tinygrad-core, -cpu and -cuda editable (no network needed), show what
# the backend found, then run the CUDA package's tests and the shared suite with DEV=CUDA, and print a summary.
#
#   bash packages/tinygrad-cuda/run_on_gpu.sh              # everything
#   SUITE_ARGS="-x tests/test_ops_basic.py" bash ...        # a part of the shared suite
#
# Environment: PYTHON (default python3), PHASES (default "package suite"; "cmd" runs $EXTRA_CMD), JOBS (pytest-xdist workers for the
# shared suite when xdist is there; default 8, 0 = no xdist), PKG_TIMEOUT / SUITE_TIMEOUT (seconds per phase,
# default 180 / 360: both fit one 10-minute device command), OUT (a folder for the logs).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
LOGS="${OUT:-$(mktemp -d)}"
mkdir -p "$LOGS"
PKGS=(packages/tinygrad-core packages/tinygrad-cpu packages/tinygrad-cuda)

echo "== machine"
nvidia-smi -L 2>&1 | head -8 || echo "nvidia-smi not found"
"$PY" --version

echo "== install (editable)"
# pip needs the build backend (hatchling) for an editable install; GPU machines often can't download it, so
# without it the packages are put on PYTHONPATH with hand-made .dist-info folders carrying their entry points
if "$PY" -c "import hatchling" 2>/dev/null &&
   "$PY" -m pip install -q --no-deps --no-build-isolation --no-index $(printf -- '-e %s ' "${PKGS[@]}") 2>"$LOGS/pip.log"; then
  echo "pip install -e: ok"
else
  SITE="$(mktemp -d)/site"
  "$PY" - "$SITE" "${PKGS[@]}" <<'EOF'
import sys, tomllib
from pathlib import Path
site = Path(sys.argv[1])
for pkg in sys.argv[2:]:
    meta = tomllib.loads((Path(pkg) / "pyproject.toml").read_text())["project"]
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    eps = meta.get("entry-points", {})
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) for group, items in eps.items()))
EOF
  export PYTHONPATH="$SITE:$(printf '%s/src:' "${PKGS[@]}")${PYTHONPATH:-}"
  echo "no hatchling here: packages put on PYTHONPATH ($SITE)"
fi

echo "== python -m tinygrad doctor"
"$PY" -m tinygrad doctor 2>&1 | tee "$LOGS/doctor.log"

XDIST=()
if [ "${JOBS:-8}" != "0" ] && "$PY" -c "import xdist" 2>/dev/null; then XDIST=(-n "${JOBS:-8}"); fi
PHASES="${PHASES:-package suite}"
pkg_rc=0 suite_rc=0
: >"$LOGS/package.log"
: >"$LOGS/suite.log"

if [[ " $PHASES " == *" package "* ]]; then
  echo "== CUDA package tests"
  # no DEV here: the compile tests schedule on NULL, the GPU tests name CUDA themselves
  timeout "${PKG_TIMEOUT:-180}" env -u DEV "$PY" -m pytest packages/tinygrad-cuda/tests -q -rs -p no:cacheprovider 2>&1 |
    tee "$LOGS/package.log"
  pkg_rc=${PIPESTATUS[0]}
fi

if [[ " $PHASES " == *" suite "* ]]; then
  echo "== shared suite, DEV=CUDA ${XDIST[*]}"
  # a test module whose oracle package is missing there (e.g. gguf) must not stop the others from running
  read -r -a args <<<"${SUITE_ARGS:-tests -q --continue-on-collection-errors}"
  timeout "${SUITE_TIMEOUT:-360}" env DEV=CUDA "$PY" -m pytest "${args[@]}" "${XDIST[@]}" -p no:cacheprovider 2>&1 |
    tee "$LOGS/suite.log"
  suite_rc=${PIPESTATUS[0]}
fi

if [[ " $PHASES " == *" cmd "* ]]; then
  # any extra command (benchmarks, a chosen test subset) with the packages importable as above
  echo "== $EXTRA_CMD"
  bash -c "$EXTRA_CMD" 2>&1 | tee "$LOGS/cmd.log"
fi

echo "== summary (logs in $LOGS)"
last_line() { grep -E '(passed|failed|skipped|error)' "$1" | tail -1 || true; }
echo "CUDA package tests: exit $pkg_rc: $(last_line "$LOGS/package.log" | grep . || echo 'not run')"
echo "shared suite DEV=CUDA: exit $suite_rc: $(last_line "$LOGS/suite.log" | grep . || echo 'not run')"
[ "$pkg_rc" -eq 124 ] || [ "$suite_rc" -eq 124 ] && echo "(exit 124: a phase hit its timeout)"
[ "$pkg_rc" -eq 0 ] && [ "$suite_rc" -eq 0 ]
