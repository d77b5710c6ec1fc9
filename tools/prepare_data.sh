#!/usr/bin/env bash
# Prepare the offline real data sets under data/ (idempotent):
#   - Fashion-MNIST from Debian's dataset-fashion-mnist package -> data/fashion_mnist
#   - StarDist nuclei image + instance masks from the stardist 0.9.2 wheel -> data/nuclei
# MMEXT_DATA=DIR writes the two sets under DIR instead (the configs read MMEXT_DATA too).
set -euo pipefail
DATA=$(realpath -m "${MMEXT_DATA:-$(dirname "$0")/../data}")
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq dataset-fashion-mnist
fi
$PY tools/dataset_converters/fashion_mnist.py --out "$DATA/fashion_mnist"

if ! ls data/downloads/stardist-0.9.2-*.whl >/dev/null 2>&1; then
  PIP_FIND_LINKS= PIP_CONFIG_FILE=/dev/null $PY -m pip download -q --no-deps stardist==0.9.2 -d data/downloads
fi
$PY tools/dataset_converters/nuclei.py --out "$DATA/nuclei"
