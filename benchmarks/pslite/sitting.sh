#!/usr/bin/env bash
# ps-lite and `gpups bench wire` in one sitting: ROUNDS rounds, each ps-lite (run.sh) and then gpups bench wire with that
# round's ps-lite rows added (--peer-csv), so every round compares both with the raw socket measured minutes apart.
# Writes OUTDIR/pslite-rN.csv, OUTDIR/wire-rN.{csv,png} and OUTDIR/sitting.csv (every round's rows, a Round column
# first), and prints a summary over the rounds: pooled mean MB/s (all operations of all rounds), the ratio to the raw
# socket per round, and p50 / p99 per round.
#
#   benchmarks/pslite/sitting.sh SNAPSHOT GPUPS [ROUNDS] [OUTDIR] [SECONDS] [PATHS]
#     SNAPSHOT  ps-lite source tree or bare git directory (run.sh);  GPUPS  a published gpups binary (not a bin folder
#     being rebuilt);  ROUNDS default 3;  OUTDIR default results/pslite-sitting;  SECONDS per operation and size for
#     both (default 3);  PATHS gpups's paths (default raw,grpc,tcp,tcp-nocheck,shm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
snapshot=${1:?usage: $0 SNAPSHOT GPUPS [ROUNDS] [OUTDIR] [SECONDS] [PATHS]}
gpups=${2:?usage: $0 SNAPSHOT GPUPS [ROUNDS] [OUTDIR] [SECONDS] [PATHS]}
rounds=${3:-3} out=${4:-results/pslite-sitting} seconds=${5:-3} paths=${6:-raw,grpc,tcp,tcp-nocheck,shm}
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  echo "round $r of $rounds: ps-lite ($(cut -d' ' -f1-3 /proc/loadavg) load) ..." >&2
  "$here/run.sh" "$snapshot" "$seconds" 1048576,256 1 6 >"$out/pslite-r$r.csv"
  echo "round $r of $rounds: gpups bench wire ($(cut -d' ' -f1-3 /proc/loadavg) load) ..." >&2
  "$gpups" bench wire --seconds "$seconds" --paths "$paths" --sizes 1048576,256 --peer-csv "$out/pslite-r$r.csv" \
    --csv "$out/wire-r$r.csv" --plot "$out/wire-r$r.png" >/dev/null
done
{
  echo "Round,$(head -1 "$out/wire-r1.csv")"
  for r in $(seq 1 "$rounds"); do tail -n +2 "$out/wire-r$r.csv" | sed "s/^/$r,/"; done
} >"$out/sitting.csv"
python3 "$here/summary.py" "$out/sitting.csv"
