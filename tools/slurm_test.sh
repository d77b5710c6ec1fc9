#!/usr/bin/env bash
# Testing on a slurm cluster: one task per GPU, mmengine reads the slurm environment.
#   GPUS=8 bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
# GPUS / GPUS_PER_NODE / CPUS_PER_TASK / SRUN_ARGS / PYTHON: see tools/slurm_run.sh.
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
exec bash "$(dirname "$0")/slurm_run.sh" ${PARTITION} ${JOB_NAME} test.py \
    ${CONFIG} ${CHECKPOINT} --launcher="slurm" ${@:5}
