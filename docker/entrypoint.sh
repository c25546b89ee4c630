#!/bin/sh
# Entry point of the mmdet3dctx image: a command name on PATH (python, bash, nvidia-smi, ...) runs as given;
# anything else (a config path, --help) is handed to tools/train.py.
set -e
case "$1" in
  '' | */* | -*) ;;
  *) if command -v "$1" >/dev/null 2>&1; then exec "$@"; fi ;;
esac
exec python /opt/mmdet3dctx/tools/train.py "$@"
