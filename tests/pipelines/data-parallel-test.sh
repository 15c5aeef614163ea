#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Data-parallel distillation (ncfmdatasetsrc shard-count without class-shard) on blobs:
#   data-parallel-test.sh SCENARIO MAKE_BLOBS COMPARE_SETS [MPIRUN]
# equal:         2 ranks x B real images per class give the set of 1 process with 2B (to 1e-5
#                relative; the sums' order differs), while 1 process with B does not; rank 1
#                writes nothing
# diverge:       rank 1 augments with another seed: both ranks stop at step 1 with an error
#                naming the step and both ranks' checksums, and nothing is saved
# killed:        rank 1 is killed mid-run: rank 0 stops with the timeout error
#                ($NCFM_COMM_TIMEOUT) and the job ends, never hangs
# not-launched:  shard-count=2 without mpirun (or without MPI): an error naming the slices
# pipeline prints a gst-launch line that is meant to be split into words
# shellcheck disable=SC2046
set -euo pipefail
scenario=$1
make_blobs=$2
compare=$3
mpirun=${4:-mpirun}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncfm-dp-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
"$make_blobs" idx "$tmp/blobs" 10 400 0
export TMP_BLOBS="$tmp/blobs"
# the pipeline of every scenario: BATCH real images per class, EPOCHS x 10 steps
pipeline() { # BATCH EPOCHS LOCATION [AUGMENT_SEED]
  echo "ncfmdatasetsrc location=$tmp/blobs batch-size=$1 epochs=$2 shuffle=false shard-count=0" \
    "! ncfmaugment seed=${4:-0} ! ncfmconvnet depth=1 width=8 ! ncfmcf num-freqs=32" \
    "! ncfmdistill dataset=$tmp/blobs ipc=2 factor=2 check-every=4 location=$3"
}
# a script per rank, so that ranks can differ (the launcher's rank variable)
rank_script() { # NAME RANK1_PREFIX PIPELINE_RANK0 PIPELINE_RANK1
  cat > "$tmp/$1.sh" <<SH
#!/bin/sh
if [ "\$OMPI_COMM_WORLD_RANK" = 1 ]; then exec $2 gst-launch-1.0 -q $4; fi
exec gst-launch-1.0 -q $3
SH
  chmod +x "$tmp/$1.sh"
}
mpi2() {
  "$mpirun" -np 2 --oversubscribe "$@"
}

case $scenario in
equal)
  # rank 1 is given a location of its own, which it must never write
  rank_script equal "" "$(pipeline 8 3 "$tmp/dp.safetensors")" \
    "$(pipeline 8 3 "$tmp/rank1.safetensors")"
  mpi2 "$tmp/equal.sh"
  gst-launch-1.0 -q $(pipeline 16 3 "$tmp/one.safetensors")
  gst-launch-1.0 -q $(pipeline 8 3 "$tmp/half.safetensors")
  "$compare" "$tmp/dp.safetensors" "$tmp/one.safetensors" 1e-5 \
    || fail "2 ranks x 8 images differ from 1 process x 16"
  "$compare" "$tmp/half.safetensors" "$tmp/one.safetensors" 1e-5 --differ \
    || fail "the tolerance cannot tell 8 images from 16"
  [ ! -e "$tmp/rank1.safetensors" ] || fail "rank 1 wrote its location"
  echo "ok: 2 ranks x B equal 1 process x 2B"
  ;;
diverge)
  rank_script diverge "" "$(pipeline 8 3 "$tmp/div.safetensors")" \
    "$(pipeline 8 3 "$tmp/div.safetensors" 7)"
  if out=$(mpi2 "$tmp/diverge.sh" 2>&1); then
    fail "ranks with different augmentation ran to the end: $out"
  fi
  for r in 0 1; do
    echo "$out" | grep -qF "Data parallel, rank $r of 2, step 1: The ranks disagree on the synthetic set at step 1: rank 0 has 0x" \
      || fail "rank $r did not name the step and the ranks: $out"
  done
  echo "$out" | grep -qF "; rank 1 has 0x" || fail "rank 1's checksum not named: $out"
  [ ! -e "$tmp/div.safetensors" ] || fail "a diverged set was saved"
  echo "ok: the divergence is found at step 1 on both ranks"
  ;;
killed)
  rank_script killed "timeout -s KILL 3" "$(pipeline 8 100000 "$tmp/k.safetensors")" \
    "$(pipeline 8 100000 "$tmp/k.safetensors")"
  start=$(date +%s)
  # Open MPI would kill rank 0 itself once rank 1 dies; told not to, rank 0 must stop on its own
  rc=0
  out=$(timeout 60 "$mpirun" -np 2 --oversubscribe --mca orte_abort_on_non_zero_status 0 \
    -x NCFM_COMM_TIMEOUT=4 "$tmp/killed.sh" 2>&1) || rc=$?
  took=$(( $(date +%s) - start ))
  [ "$rc" -ne 0 ] || fail "the job succeeded although rank 1 was killed: $out"
  [ "$rc" -ne 124 ] || fail "the job hung (killed by timeout after 60 s): $out"
  # whichever collective rank 0 was waiting in: ncfmcf's shared draw of t or its sum, or
  # ncfmdistill's check
  echo "$out" | grep -qE "rank 0 of 2: MPI_(Iallgatherv \(allgather of [0-9]+ rows|Iallreduce \(allreduce_sum|Iallgather \(checksum of the synthetic set at step [0-9]+)[^)]*\) timed out after 4\." \
    || fail "rank 0 did not report the collective that timed out: $out"
  [ "$took" -lt 30 ] || fail "the job took $took s to end"
  echo "ok: a killed rank ends the job in $took s, rc $rc"
  ;;
not-launched)
  if out=$(gst-launch-1.0 -q $(pipeline 8 1 "$tmp/x.safetensors" | sed 's/shard-count=0/shard-count=2/') 2>&1); then
    fail "shard-count=2 ran without mpirun: $out"
  fi
  echo "$out" | grep -qF "Cannot sum the CF statistics over the ranks: Data parallel over 2 slices (slice 0)" \
    || fail "no error naming the slices: $out"
  echo "$out" | grep -qE "not launched by mpirun or srun|libncfm was built without it" \
    || fail "the error does not say why: $out"
  [ ! -e "$tmp/x.safetensors" ] || fail "a set was saved"
  echo "ok: data parallel without a launcher is refused"
  ;;
*)
  fail "unknown scenario $scenario"
  ;;
esac
