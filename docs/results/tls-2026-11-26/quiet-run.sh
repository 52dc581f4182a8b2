#!/bin/bash
# Quiet re-run of the issue 12 TLS / TCP data-plane figures (docs/benchmarks.md, "TLS on the data plane, and inline socket
# completions on the server"): about 4 minutes on the 2-core VM. /tmp/tls-gpups is main with this work
# (dotnet publish src/Cli -c Release -o /tmp/tls-gpups), /tmp/tls-base is main at e7d31d9 (before it).
set -e
out=${1:-docs/results/tls-2026-11-26/quiet}
mkdir -p "$out"
uptime | tee "$out/load.txt"
/tmp/tls-gpups/gpups bench wire --seconds 3 --csv "$out/wire-all.csv" --plot "$out/wire-all.png"           # every path, 4 MiB and 1 KiB, ~2 min
for round in 1 2; do                                                                                          # before / after, interleaved, ~30 s each
  /tmp/tls-base/gpups bench wire --seconds 3 --paths raw,tcp --csv "$out/before-$round.csv" --plot "$out/before-$round.png"
  /tmp/tls-gpups/gpups bench wire --seconds 3 --paths raw,tcp --csv "$out/after-$round.csv" --plot "$out/after-$round.png"
done
uptime | tee -a "$out/load.txt"
