#!/usr/bin/env bash
# Multi-process testing through torch.distributed (torchrun) and mmengine's launcher.
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# NNODES / NODE_RANK / MASTER_ADDR / PORT / PYTHON: see tools/dist_run.sh.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
exec bash "$(dirname "$0")/dist_run.sh" $GPUS test.py $CONFIG $CHECKPOINT --launcher pytorch ${@:4}
