#!/usr/bin/env bash
# The main job: install tinygrad-core with the CPU backend (editable), make sure a dataset is on this machine, and
# train examples/beautiful_mnist.py on DEV=CPU (override with DEV=...). Its env knobs (STEPS, BS, FASHION,
# TARGET_EVAL_ACC_PCT) pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

"$PY" -m pip install -q --root-user-action=ignore -e packages/tinygrad-core -e packages/tinygrad-cpu

# MNIST is used when it is on this machine (the folders tinygrad.nn.datasets.mnist searches); otherwise
# Fashion-MNIST, which Debian/Ubuntu package as dataset-fashion-mnist (into /usr/share/datasets/fashion-mnist)
has_idx() { [ -n "$1" ] && compgen -G "$1/train-images*idx3-ubyte*" >/dev/null; }
cache="${CACHEDIR:-${XDG_CACHE_HOME:-${HOME:-}/.cache}/tinygrad-core}"
if ! has_idx "${MNIST_DIR:-}" && ! has_idx "$cache/mnist" && ! has_idx /usr/share/datasets/mnist \
  && ! has_idx "${FASHION_MNIST_DIR:-}" && ! has_idx "$cache/fashion-mnist" \
  && ! has_idx /usr/share/datasets/fashion-mnist; then
  echo "main.sh: no MNIST or Fashion-MNIST files here; installing the dataset-fashion-mnist package"
  if ! command -v apt-get >/dev/null; then
    echo "main.sh: apt-get not found: put the four Fashion-MNIST .gz files into \$FASHION_MNIST_DIR or" \
      "$cache/fashion-mnist (the example will also try to download them)" >&2
  elif [ "$(id -u)" -eq 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist
  else
    echo "main.sh: not root: run 'sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist' first" \
      "(continuing: the example will try to download the dataset)" >&2
  fi
fi

DEV="${DEV:-CPU}" "$PY" examples/beautiful_mnist.py "$@"
