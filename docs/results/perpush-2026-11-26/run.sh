#!/usr/bin/env bash
# R2SP with per-push updates (issue 9, seventh 2026-11-26 session): ASP and SSP, simultaneous pushes against
# round-robin turns, on one shaped server link, 8 workers, the 4M-parameter softmax; each invocation runs both schedules
# one after the other. As root, from the repository root, with the binary published first:
#   dotnet publish src/Cli -c Release -o /tmp/net7-gpups
# The load averages before and after each run are in load-*.txt beside the CSVs.
set -euo pipefail
GPUPS=${GPUPS:-/tmp/net7-gpups/gpups}
O=${OUT:-docs/results/perpush-2026-11-26}
mkdir -p "$O"
uptime > "$O/load-1000.txt"
"$GPUPS" bench network --scenarios asp,ssp --server-mbit 1000 --steps 8 --csv "$O/perpush-1000.csv" --plot-dir "$O/plots-1000" --timeline-dir "$O/timeline-1000" > "$O/perpush-1000.log" 2>&1
uptime >> "$O/load-1000.txt"
uptime > "$O/load-1000-k2.txt"
"$GPUPS" bench network --scenarios asp --server-mbit 1000 --steps 8 --push-concurrency 2 --csv "$O/perpush-1000-k2.csv" --plot-dir "$O/plots-1000-k2" --timeline-dir "$O/timeline-1000-k2" > "$O/perpush-1000-k2.log" 2>&1
uptime >> "$O/load-1000-k2.txt"
uptime > "$O/load-200.txt"
"$GPUPS" bench network --scenarios asp,ssp --server-mbit 200 --steps 5 --csv "$O/perpush-200.csv" --plot-dir "$O/plots-200" > "$O/perpush-200.log" 2>&1
uptime >> "$O/load-200.txt"
