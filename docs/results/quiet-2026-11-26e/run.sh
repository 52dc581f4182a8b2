#!/bin/bash
# Quiet re-run at the end of the fifth 2026-11-26 session (2-core AMD EPYC VM, AVX-512, nothing else running), as root.
# /tmp/gp: `dotnet publish src/Cli -c Release -o /tmp/gp` of main at the end of the session. ~11 minutes.
set -x
d=docs/results/quiet-2026-11-26e
bash docs/results/tls-2026-11-26/quiet-run.sh $d/tls                                                   # TLS / TCP data plane, ~4 min
/tmp/gp/gpups bench hetero --scenarios uniform,proportional --steps 40 --csv $d/hetero-124.csv         # 1:2:4 cgroup quotas, ~2.5 min
/tmp/gp/gpups bench hetero --slowdown throttle --factors 1+1+1+1 --accelerator cpu+simd+simd+simd \
  --dataset synthetic:rows=4000,features=100,classes=10 --scenarios proportional,proportional-all,uniform --steps 40 --csv $d/hetero-zero-shares.csv
for a in proportional-all proportional; do
  echo "$a versions: $(/tmp/gp/gpups train --accelerator cpu+simd+simd+simd --assignment $a --steps 80 --log-level information 2>&1 | grep -c 'Assignment version')"
done
/tmp/gp/gpups bench network --scenarios server-link,early-pulls --server-mbit 1000 --steps 8 --csv $d/early-pulls.csv --timeline-dir $d/early-pulls   # ~2.5 min
uptime
