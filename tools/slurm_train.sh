#!/usr/bin/env bash
# Training on a slurm cluster: one task per GPU, mmengine reads the slurm environment.
#   GPUS=16 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# GPUS / GPUS_PER_NODE / CPUS_PER_TASK / SRUN_ARGS / PYTHON: see tools/slurm_run.sh.
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
exec bash "$(dirname "$0")/slurm_run.sh" ${PARTITION} ${JOB_NAME} train.py \
    ${CONFIG} --work-dir=${WORK_DIR} --launcher="slurm" ${@:5}
