#!/usr/bin/env bash
# Install tinygrad-core with the CPU backend (editable) and run the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -m pip install -q --root-user-action=ignore -e packages/tinygrad-core -e packages/tinygrad-cpu
"$PY" examples/demo.py "$@"
