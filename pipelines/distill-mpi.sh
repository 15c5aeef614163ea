#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Distils a dataset over several processes (MPI ranks), one gst-launch line per rank:
#   pipelines/distill-mpi.sh MODE [RANKS] [DATASET] [IPC] [ITERATIONS] [OUT]
# MODE        data: data parallel, every rank reads a slice of every class, the ranks sum
#             their CF statistics each step and keep equal copies of the set (rank 0 saves
#             OUT); class: class shards, rank r distils classes r, r+N, ... alone into
#             OUT-r.safetensors, merged into OUT at the end (ncfm-synset merge)
# RANKS       processes (default 2); started with mpirun when the script is not already a
#             rank of a launcher (under srun it runs its own rank's pipeline: see
#             pipelines/distill-mpi.slurm)
# DATASET     dataset location (default: Debian's Fashion-MNIST)
# IPC         synthetic images per class (default 10)
# ITERATIONS  rounds over the classes (default 100)
# OUT         the synthetic set (default synset.safetensors; an existing one is resumed)
# Environment: BATCH real images per class and step over all ranks (default 256; data mode
# gives each rank BATCH / RANKS), NUM_FREQS (default 4096), DEVICE cpu (default) or cuda:
# rank r of a machine uses cuda:(r mod the GPUs there), one rank per GPU; GST_LAUNCH_OPTS,
# MPIRUN_OPTS extra options; NCFM_SYNSET the merge tool (default build/plugins/tools/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:?usage: distill-mpi.sh data|class [RANKS] [DATASET] [IPC] [ITERATIONS] [OUT]}
ranks=${2:-2}
dataset=${3:-/usr/share/datasets/fashion-mnist}
ipc=${4:-10}
iterations=${5:-100}
out=${6:-synset.safetensors}
batch=${BATCH:-256}
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$root/build/plugins/elements}
case $mode in
data | class) ;;
*) echo "distill-mpi.sh: MODE is data or class, not \"$mode\"" >&2; exit 2 ;;
esac

# One rank's pipeline, when a launcher (mpirun, srun) started this script.
if [ -n "${OMPI_COMM_WORLD_SIZE:-}${PMI_SIZE:-}${SLURM_STEP_NUM_TASKS:-}" ]; then
  size=${OMPI_COMM_WORLD_SIZE:-${PMI_SIZE:-${SLURM_STEP_NUM_TASKS}}}
  local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:-0}}
  if [ "${DEVICE:-cpu}" = cuda ]; then
    gpus=$(nvidia-smi -L | wc -l)
    export NCFM_DEVICE=cuda:$((local_rank % gpus))
  else
    export NCFM_DEVICE=${NCFM_DEVICE:-cpu}
  fi
  if [ "$mode" = data ]; then
    if [ $((batch % size)) -ne 0 ]; then
      echo "distill-mpi.sh: BATCH $batch is not a multiple of the $size ranks" >&2
      exit 2
    fi
    src_opts="batch-size=$((batch / size))"
    location=$out
  else
    src_opts="batch-size=$batch class-shard=true"
    location=${out%.safetensors}-%r.safetensors
  fi
  # shellcheck disable=SC2086
  exec gst-launch-1.0 ${GST_LAUNCH_OPTS:-} \
    ncfmdatasetsrc location="$dataset" mode=per-class epochs="$iterations" shard-count=0 \
      $src_opts ! \
    ncfmaugment strategy=color_crop_cutout ! \
    ncfmconvnet ! \
    ncfmcf num-freqs="${NUM_FREQS:-4096}" ! \
    ncfmdistill location="$location" dataset="$dataset" ipc="$ipc" init=mix
fi

# The launcher: Open MPI refuses root without --allow-run-as-root, and more ranks than
# cores without --oversubscribe.
opts=()
[ "$(id -u)" -ne 0 ] || opts+=(--allow-run-as-root)
[ "$ranks" -le "$(nproc)" ] || opts+=(--oversubscribe)
# the environment the ranks read, also on other machines
for var in GST_PLUGIN_PATH GST_LAUNCH_OPTS BATCH NUM_FREQS DEVICE NCFM_DEVICE NCFM_COMM_TIMEOUT; do
  [ -z "${!var:-}" ] || opts+=(-x "$var")
done
# shellcheck disable=SC2086
mpirun -np "$ranks" "${opts[@]}" ${MPIRUN_OPTS:-} \
  "$0" "$mode" "$ranks" "$dataset" "$ipc" "$iterations" "$out"
if [ "$mode" = class ]; then
  tool=${NCFM_SYNSET:-$root/build/plugins/tools/ncfm-synset}
  shards=()
  for ((r = 0; r < ranks; r++)); do
    shards+=("${out%.safetensors}-$r.safetensors")
  done
  rm -f "$out.merging"
  "$tool" merge "${shards[@]}" -o "$out.merging"
  mv "$out.merging" "$out"
fi
