#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCS [tools/train.py options]
# Works on GPUs (NCCL) and on CPU (gloo; the training sets the process group up itself). PORT: the master port.
exec "${PYTHON:-python}" -m torch.distributed.run --nproc_per_node="$2" --master_port="${PORT:-29500}" \
    "$(dirname "$0")/train.py" "$1" --launcher pytorch "${@:3}"
