#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [tools/test.py options]
# Works on GPUs (NCCL) and on CPU (gloo; the test sets the process group up itself). PORT: the master port.
exec "${PYTHON:-python}" -m torch.distributed.run --nproc_per_node="$3" --master_port="${PORT:-29500}" \
    "$(dirname "$0")/test.py" "$1" "$2" --launcher pytorch "${@:4}"
