#!/bin/bash
# Issue 15, no first full pull: top-k before (/tmp/bytes-before, main at e9a48cd) and after (/tmp/bytes-gpups), float32 after.
# Usage: run.sh topk-before topk-after f32-after   (root; writes CSVs, plots and logs into the current folder)
run() { local name=$1; shift; echo "=== $name $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"; echo "+ $*"; "$@" > $name.out 2> $name.err; echo "rc=$? $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"; }
for r in "$@"; do
  case $r in
    topk-before) run topk-before /tmp/bytes-before/gpups bench network --workers 8 --server-mbit 100 --scenarios server-link --features 49999 --classes 10 --rows 2000 --separation 4 --steps 50 --compression topk --topk-ratio 0.01 --full-pull-every 50 --csv topk-before.csv --plot-dir topk-before ;;
    topk-after) run topk-after /tmp/bytes-gpups/gpups bench network --workers 8 --server-mbit 100 --scenarios server-link --features 49999 --classes 10 --rows 2000 --separation 4 --steps 50 --compression topk --topk-ratio 0.01 --full-pull-every 50 --csv topk-after.csv --plot-dir topk-after ;;
    f32-after) run f32-after /tmp/bytes-gpups/gpups bench network --workers 8 --server-mbit 100 --scenarios server-link --features 49999 --classes 10 --rows 2000 --separation 4 --steps 50 --compression none --csv f32-after.csv --plot-dir f32-after ;;
  esac
done
