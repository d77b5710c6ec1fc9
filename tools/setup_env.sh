#!/usr/bin/env bash
# Create (or reuse) the project virtualenv with the pinned OpenMMLab stack and mmext installed
# in development mode. Idempotent: the pinned stack lives in a venv under ~/.cache/mmext keyed by
# a hash of the requirements, shared by every checkout on the machine; .venv is this checkout's
# own thin venv on top of it, holding only the editable mmext, so a second run takes seconds and
# two checkouts never import each other's mmext.
#
#   bash tools/setup_env.sh        # then use .venv/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}

KEY=$(cat requirements/runtime.txt requirements/tests.txt | sha256sum | cut -c1-12)
VENV=${MMEXT_VENV_ROOT:-$HOME/.cache/mmext}/venv-$KEY
# The machine-wide pip config may add a find-links folder holding a CPU-only torch build
# without a matching torchvision ('operator torchvision::nms does not exist'): turn it off.
export PIP_FIND_LINKS= PIP_CONFIG_FILE=/dev/null

if [ ! -f "$VENV/.complete" ]; then
  echo "[setup] creating $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  PIP="$VENV/bin/python -m pip"
  $PIP install -q --upgrade pip
  $PIP install "torch==2.13.0" "torchvision==0.28.0"
  # mmcv 2.1.0 is an sdist: it compiles its ops against the installed torch (about 10 min on
  # 2 cores; pip caches the built wheel so later venvs reuse it).
  $PIP install "setuptools<82" wheel ninja
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP install --no-build-isolation "mmcv==2.1.0"
  # Keep the torch pins when the host packages resolve their own dependencies.
  printf 'torch==2.13.0\ntorchvision==0.28.0\nmmcv==2.1.0\n' > "$VENV/constraints.txt"
  $PIP install -c "$VENV/constraints.txt" -r requirements/runtime.txt -r requirements/tests.txt
  "$VENV/bin/python" -c "import torch, torchvision; torchvision.ops.nms(torch.rand(2, 4), torch.rand(2), 0.5); from mmcv.ops import nms; import mmdet, mmseg, mmpretrain"
  touch "$VENV/.complete"
fi
# .venv sees the shared stack through a .pth that adds its site-packages (and runs its .pth
# files); its own site-packages, searched first, holds mmext.
[ -L .venv ] && rm .venv  # the layout of earlier versions: a link to the shared venv
if [ "$(cat .venv/.base 2>/dev/null)" != "$VENV" ]; then
  rm -rf .venv
  "$VENV/bin/python" -m venv --without-pip .venv
  echo "$VENV" > .venv/.base
fi
purelib() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
echo "import site; site.addsitedir('$(purelib "$VENV/bin/python")')" \
  > "$(purelib .venv/bin/python)/mmext_shared_stack.pth"
# torch's C++ extension builds (mmext/ops) run the ninja found on PATH or beside the interpreter
ln -sfn "$VENV/bin/ninja" .venv/bin/ninja
# Earlier versions installed mmext editable into the shared venv, where its import hook would
# shadow this checkout's copy.
if "$VENV/bin/python" -m pip show mmext > /dev/null 2>&1; then
  "$VENV/bin/python" -m pip uninstall -y -q mmext
fi
# mmext itself, editable, without touching the pinned dependencies.
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
.venv/bin/python -c "import mmext; print('[setup] mmext', mmext.__version__, 'from', mmext.__path__[0])"
