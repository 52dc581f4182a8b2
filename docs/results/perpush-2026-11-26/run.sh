#!/usr/bin/env bash
# R2SP with per-push updates (issue 9, seventh 2026-11-26 session): ASP and SSP, simultaneous pushes against
# round-robin turns, on one shaped server link, 8 workers, the 4M-parameter softmax. As root, from the repository root,
# with the binary published first: dotnet publish src/Cli -c Release -o /tmp/net7-gpups
set -euo pipefail
GPUPS=${GPUPS:-/tmp/net7-gpups/gpups}
OUT=${OUT:-docs/results/perpush-2026-11-26}
mkdir -p "$OUT"
uptime | tee "$OUT/load-start.txt"
"$GPUPS" bench network --scenarios asp,ssp --server-mbit 1000 --steps 8 --csv "$OUT/perpush-1000.csv" --plot-dir "$OUT/plots-1000" --timeline-dir "$OUT/timeline-1000" 2>&1 | tee "$OUT/perpush-1000.log"
uptime | tee -a "$OUT/load-start.txt"
"$GPUPS" bench network --scenarios asp,ssp --server-mbit 200 --steps 5 --csv "$OUT/perpush-200.csv" --plot-dir "$OUT/plots-200" 2>&1 | tee "$OUT/perpush-200.log"
uptime | tee -a "$OUT/load-start.txt"
