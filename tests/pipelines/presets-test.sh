#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The presets of pipelines/presets.sh through distill.sh and evaluate.sh: every preset's
# dry run names the authors' settings (method card section 9), every property of its
# gst-launch line exists on its element (gst-inspect), the IPC follows the name, and
# bad presets, options and a missing dataset are errors with exit 2.
#   presets-test.sh PIPELINES_DIR
set -uo pipefail
pipelines=$1
fail=0
check() {   # check DESCRIPTION COMMAND...: the command must succeed
  local what=$1; shift
  if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fail=1; fi
}
names=$(. "$pipelines/presets.sh"; echo $ncfm_preset_names)
[ "$(wc -w <<< "$names")" -ge 12 ] || { echo "not ok - fewer than 12 presets: $names"; exit 1; }

for p in $names; do
  out=$("$pipelines/distill.sh" --preset "$p" --dry-run /data/set "/tmp/x/$p.safetensors" 2>&1)
  rc=$?
  check "$p: dry run exits 0" [ $rc = 0 ]
  line=$(grep '^gst-launch-1.0 ' <<< "$out")
  ipc=${p##*-ipc}
  for want in "batch-size=1024" "epochs=20000" "num-freqs=4096" "sampler=gaussian" \
      "factor=2" "init=mix" "lr=0.01" "calib=1" "ipc=$ipc " "pool=/tmp/x/pool-${p%-ipc*}"; do
    check "$p: the line has $want" grep -qF -- "$want" <<< "$line"
  done
  check "$p: pretrains 20 members for 60 epochs" \
    grep -qE "pretrain-pool.sh /data/set 20 60 /tmp/x/pool-${p%-ipc*} --depth [34]" <<< "$out"
  check "$p: states an estimate in hours" grep -qE '^estimate: [0-9]+ class steps x [0-9.]+ s = [0-9.]+ h' <<< "$out"
done

# every element=property of one line exists (a typo would only show at a run's start)
line=$("$pipelines/distill.sh" --preset cifar10-ipc10 --dry-run /data/set | grep '^gst-launch')
element=""
for w in $line; do
  case "$w" in
    gst-launch-1.0|'\!') element="" ;;
    *=*) prop=${w%%=*}
      check "property $element:$prop exists" \
        bash -c "gst-inspect-1.0 $element 2>/dev/null | grep -qE '^  $prop +:'" ;;
    *) element=$w ;;
  esac
done

# the evaluation side: CIFAR-10 IPC 10 is evaluated over 2000 epochs, tinyimagenet at depth 4
out=$("$pipelines/evaluate.sh" --preset cifar10-ipc10 /nonexistent.safetensors 2>&1)
check "evaluate.sh preset: 2000 epochs" grep -q "preset cifar10-ipc10: 2000 epochs" <<< "$out"
out=$("$pipelines/evaluate.sh" --preset tinyimagenet-ipc1 /nonexistent.safetensors 2>&1)
check "evaluate.sh preset: depth 4 at 64x64" grep -q "1000 epochs.*depth 4" <<< "$out"

# refusals
out=$("$pipelines/distill.sh" --preset cifar10-ipc11 --dry-run /data/set 2>&1); rc=$?
check "unknown preset: exit 2, names the known ones" \
  bash -c "[ $rc = 2 ] && grep -q \"unknown preset 'cifar10-ipc11' (known: cifar10-ipc1 \" <<< \"\$0\"" "$out"
out=$("$pipelines/distill.sh" --preset cifar100-ipc10 --dry-run 2>&1); rc=$?
check "a CIFAR preset without DATASET: exit 2" \
  bash -c "[ $rc = 2 ] && grep -q 'needs a DATASET' <<< \"\$0\"" "$out"
out=$("$pipelines/distill.sh" --dry-run 2>&1); rc=$?
check "--dry-run without --preset: exit 2" bash -c "[ $rc = 2 ] && grep -q 'go with --preset' <<< \"\$0\"" "$out"
out=$("$pipelines/distill.sh" --preset cifar10-ipc1 --iterations 0 --dry-run /d 2>&1); rc=$?
check "--iterations 0: exit 2" bash -c "[ $rc = 2 ] && grep -q 'positive integer' <<< \"\$0\"" "$out"
out=$("$pipelines/evaluate.sh" --preset nope /nonexistent 2>&1); rc=$?
check "evaluate.sh unknown preset: exit 2" bash -c "[ $rc = 2 ] && grep -q \"unknown preset 'nope'\" <<< \"\$0\"" "$out"
exit $fail
