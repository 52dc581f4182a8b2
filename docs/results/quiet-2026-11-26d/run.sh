#!/bin/bash
# Quiet re-run at the end of the fourth 2026-11-26 session (published binaries: /tmp/gp4 = main at the end of the
# session, /tmp/gp-start = d3cdb84, the session's start). From this folder:
#   overhead A/B, interleaved twice (~40 s), and top-k on a 100 Mbit/s server link, 8 workers, 500k parameters (~1 min)
for i in 1 2; do for b in start now; do
  bin=/tmp/gp4/gpups; [ $b = start ] && bin=/tmp/gp-start/gpups
  $bin bench overhead --modes bsp,coded,backup,asp --csv ovh-$b-$i.csv --plot ovh-$b-$i.png
done; done
/tmp/gp4/gpups bench network --workers 8 --server-mbit 100 --scenarios server-link --features 49999 --classes 10 --rows 2000 \
  --separation 4 --steps 50 --compression topk --topk-ratio 0.01 --full-pull-every 50 --csv topk.csv --plot-dir topk
