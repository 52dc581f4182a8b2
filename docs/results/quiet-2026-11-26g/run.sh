#!/bin/bash
# Quiet re-run at the end of the seventh 2026-11-26 session (2-core AMD EPYC VM, AVX-512, nothing else running), as root.
# /tmp/gp: `dotnet publish src/Cli -c Release -o /tmp/gp` of main at the end of the session (tiered compilation off);
# /tmp/gp7-base: main at the session's start (70a2390, tiered compilation on). ~15 minutes.
set -x
d=docs/results/quiet-2026-11-26g
uptime
/tmp/gp/gpups bench wire --seconds 3 --paths raw,tcp,tcp-nocheck,shm --csv $d/wire-1.csv --plot $d/wire-1.png          # data plane: xxh3 vs --frame-checksum none vs the raw socket
/tmp/gp/gpups bench wire --seconds 3 --paths raw,tcp,tcp-nocheck --csv $d/wire-2.csv --plot $d/wire-2.png
/tmp/gp/gpups bench overhead --modes bsp,coded,backup,asp --csv $d/overhead.csv --timeline-csv $d/overhead-timeline.csv --plot $d/overhead.png
/tmp/gp7-base/gpups bench overhead --modes bsp,coded --csv $d/overhead-start.csv --timeline-csv $d/overhead-start-timeline.csv --plot $d/overhead-start.png
/tmp/gp/gpups bench network --scenarios asp,ssp --server-mbit 1000 --steps 8 --csv $d/perpush-1000.csv --timeline-dir $d/perpush-1000
/tmp/gp/gpups bench network --scenarios asp,ssp --server-mbit 200 --steps 4 --csv $d/perpush-200.csv
/tmp/gp/gpups bench hetero --scenarios uniform,proportional --steps 40 --csv $d/hetero-124.csv
/tmp/gp7-base/gpups bench hetero --scenarios proportional --steps 40 --csv $d/hetero-124-start.csv
/tmp/gp/gpups bench hetero --scenarios drop-proportional --steps 30 --csv $d/hetero-drop.csv
uptime
