#!/usr/bin/env bash
# Multi-process training through torch.distributed (torchrun) and mmengine's launcher.
#   bash tools/dist_train.sh CONFIG GPUS [train.py options]
# NNODES / NODE_RANK / MASTER_ADDR / PORT / PYTHON: see tools/dist_run.sh.
CONFIG=$1
GPUS=$2
exec bash "$(dirname "$0")/dist_run.sh" $GPUS train.py $CONFIG --launcher pytorch ${@:3}
