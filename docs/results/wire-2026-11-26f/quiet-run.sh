#!/bin/bash
# Quiet re-run of the sixth session's data-plane figures (docs/benchmarks.md, "The data plane at 4 MiB against the raw
# socket"): about 4.5 minutes on the 2-core VM. /tmp/wire6-gpups is main with this work
# (dotnet publish src/Cli -c Release -o /tmp/wire6-gpups); /tmp/wire6-base is main before it, c2b5a5f
# (git -C /work/main worktree add /tmp/wire6-base-src c2b5a5f && dotnet publish /tmp/wire6-base-src/src/Cli -c Release -o /tmp/wire6-base).
set -e
out=${1:-docs/results/wire-2026-11-26f/quiet}
mkdir -p "$out"
uptime | tee "$out/load.txt"
for round in 1 2; do                                                                                           # before / after, interleaved, ~35 s each
  /tmp/wire6-base/gpups bench wire --seconds 3 --paths raw,tcp --csv "$out/before-$round.csv" --plot "$out/before-$round.png"
  /tmp/wire6-gpups/gpups bench wire --seconds 3 --paths raw,tcp --csv "$out/after-$round.csv" --plot "$out/after-$round.png"
done
/tmp/wire6-gpups/gpups bench wire --seconds 3 --csv "$out/wire-all.csv" --plot "$out/wire-all.png"             # every path (shm included), 4 MiB and 1 KiB, ~2 min
uptime | tee -a "$out/load.txt"
