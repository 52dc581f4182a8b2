#!/usr/bin/env bash
# wire7's dedicated-thread experiment (issue 12, seventh 2026-11-26 session): a throw-away two-process harness, kept here
# as text so it is no part of the build. Builds into /tmp and runs the sets of docs/benchmarks.md
# ("A dedicated blocking thread per connection: measured, not adopted").
# Arguments of `client`: payload bytes, slice seconds, alternations, combos, rounds per alternation.
# A combo is client + server: A = async socket on the pool (the data plane's pattern), H = a dedicated thread with a
# socket that never goes asynchronous, handed each operation from the pool (client) / handing each frame to the pool
# (server), B = the same thread without the hand-off, D = the whole slice run on a dedicated client thread (no hand-off),
# W = H with recv(MSG_WAITALL) in 1 MiB pieces; raw = the raw-socket reference (one write, no hash). HASH=0: no XXH3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
h=/tmp/wire7-harness
mkdir -p $h/runs
cp "$here/harness.cs.txt" $h/Program.cs
cp "$here/harness.csproj.txt" $h/harness.csproj
dotnet publish $h -c Release -o $h/out >/dev/null
run() { DOTNET_TieredCompilation=0 nice -n -10 $h/out/harness client "$@" 2>/dev/null; }
# the loaded sets' arguments are in sets.txt; this is the quiet re-run (r9 was this script, loaded)
run 4194304 0.2 6 raw,AA,AH,HA,HH 4 > $h/runs/quiet-4m.csv      # the quiet re-run: ~50 s
run 1024 0.2 3 raw,AA,AH,HA,HH 3 > $h/runs/quiet-1k.csv         # ~20 s
python3 "$here/sum.py" $h/runs/quiet-4m.csv
python3 "$here/pool.py" $h/runs/quiet-4m.csv
python3 "$here/sum.py" $h/runs/quiet-1k.csv
