#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCS [tools/train.py options]
# Works on GPUs (NCCL) and on CPU (gloo; tools/train.py sets the process group up itself).
CONFIG=$1
NPROCS=$2
PORT=${PORT:-29500}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
$PYTHON -m torch.distributed.run --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
