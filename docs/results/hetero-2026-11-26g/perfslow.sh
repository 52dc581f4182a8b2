#!/bin/bash
# Waits for the 0.214-CPU worker group (quota 2143 us per 10 ms), then perf-records its process for $1 s after $2 s.
for i in $(seq 1 600); do
  for g in /sys/fs/cgroup/cpu/gpups-*-worker0; do
    [ -f $g/cpu.cfs_quota_us ] || continue
    q=$(cat $g/cpu.cfs_quota_us)
    if [ "$q" -lt 2500 ] && [ "$q" -gt 1000 ]; then
      pid=$(head -1 $g/cgroup.procs); [ -n "$pid" ] || continue
      echo "worker0 pid $pid quota $q"; sleep $2
      perf record -F 999 -g -p $pid -o ${OUT:-/tmp/hetero7}/perf.data -- sleep $1 2>&1 | tail -2
      exit 0
    fi
  done
  sleep 0.5
done
