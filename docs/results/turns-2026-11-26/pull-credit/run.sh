#!/bin/bash
# Pull credit of two ranges (B: /tmp/net6-gpups2) against one (A: /tmp/net6-gpups), early pulls, interleaved A B B A.
cd /tmp/net6-res/c
i=0
for bin in A B B A; do
  i=$((i+1)); b=/tmp/net6-gpups/gpups; [ $bin = B ] && b=/tmp/net6-gpups2/gpups
  echo "== $i $bin $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  timeout 600 $b bench network --scenarios early-pulls --server-mbit 1000 --steps 8 --csv $i-$bin.csv --plot-dir plots-$i --timeline-dir tl-$i-$bin 2>&1 | grep -E "step mean|: 1 shard"
done
echo "== done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
