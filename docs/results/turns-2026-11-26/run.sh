#!/bin/bash
# A/B: main before strict turns (/tmp/net6-base, c2b5a5f) and after (/tmp/net6-gpups), loaded machine, one after the other.
cd /tmp/net6-res/b
for rate in 1000 200; do
  for bin in new base; do
    b=/tmp/net6-gpups/gpups; [ $bin = base ] && b=/tmp/net6-base/gpups
    echo "== $bin $rate $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    timeout 900 $b bench network --scenarios server-link,early-pulls --server-mbit $rate --steps 8 --csv $bin-$rate.csv --plot-dir plots-$bin-$rate --timeline-dir tl-$bin-$rate 2>&1 | grep -E "step mean|: 1 shard"
  done
done
echo "== new k2 1000 $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 900 /tmp/net6-gpups/gpups bench network --scenarios early-pulls --server-mbit 1000 --steps 8 --push-concurrency 2 --csv new-1000-k2.csv --plot-dir plots-k2 --timeline-dir tl-new-1000-k2 2>&1 | grep -E "step mean|: 1 shard"
echo "== done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
