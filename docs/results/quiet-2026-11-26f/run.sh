#!/bin/bash
# Quiet re-run at the end of the sixth 2026-11-26 session (2-core AMD EPYC VM, AVX-512, nothing else running), as root.
# /tmp/gp: `dotnet publish src/Cli -c Release -o /tmp/gp` of main at the end of the session; /tmp/wire6-base and
# /tmp/hetero6-base: main at the session's start (c2b5a5f). ~18 minutes.
set -x
d=docs/results/quiet-2026-11-26f
uptime
for round in 1 2; do                                            # data plane, start vs end interleaved (raw socket in the same run)
  /tmp/wire6-base/gpups bench wire --seconds 3 --paths raw,tcp --csv $d/wire-before-$round.csv --plot $d/wire-before-$round.png
  /tmp/gp/gpups bench wire --seconds 3 --paths raw,tcp --csv $d/wire-after-$round.csv --plot $d/wire-after-$round.png
done
/tmp/gp/gpups bench wire --seconds 3 --csv $d/wire-all.csv --plot $d/wire-all.png                       # every path, shm included
/tmp/gp/gpups bench overhead --modes bsp,coded,backup,asp --csv $d/overhead.csv --timeline-csv $d/overhead-timeline.csv --plot $d/overhead.png
/tmp/gp/gpups bench network --scenarios server-link,early-pulls --server-mbit 1000 --steps 8 --csv $d/turns-1000.csv --timeline-dir $d/turns-1000
python3 docs/results/turns-2026-11-26/breakdown.py $d/turns-1000/timeline-early-pulls-pieces.csv 1000
/tmp/gp/gpups bench network --scenarios server-link,early-pulls --server-mbit 200 --steps 6 --csv $d/turns-200.csv
/tmp/gp/gpups bench hetero --scenarios uniform,proportional --steps 40 --csv $d/hetero-124.csv
/tmp/hetero6-base/gpups bench hetero --scenarios proportional --steps 40 --csv $d/hetero-124-start.csv
/tmp/gp/gpups bench hetero --scenarios drop-proportional --steps 30 --csv $d/hetero-drop.csv
uptime
