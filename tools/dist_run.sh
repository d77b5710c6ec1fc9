#!/usr/bin/env bash
# Runs a tools/ script in GPUS processes through torch.distributed (torchrun); the launcher
# behind dist_train.sh and dist_test.sh, which add their own script arguments.
#   bash tools/dist_run.sh GPUS SCRIPT [SCRIPT arguments]
# NNODES / NODE_RANK / MASTER_ADDR / PORT select a multi-machine run. Without GPUs the processes
# use the gloo backend on CPU (set by mmengine when CUDA is absent).
# PYTHON: the interpreter (default: the checkout's .venv/bin/python, else `python`).
GPUS=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
# the checkout's .venv (tools/setup_env.sh) unless PYTHON names another interpreter
VENV_PYTHON="$(dirname "$0")/../.venv/bin/python"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$VENV_PYTHON" ]; then PYTHON=$VENV_PYTHON; else PYTHON=python; fi
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
$PYTHON -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    "$(dirname "$0")/$SCRIPT" \
    "${@:3}"
