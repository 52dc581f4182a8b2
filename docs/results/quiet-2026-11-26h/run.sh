#!/bin/bash
# Quiet re-run at the end of the eighth 2026-11-26 session (2-core AMD EPYC VM, AVX-512, nothing else running), as root.
# /tmp/gp8: `dotnet publish src/Cli -c Release -o /tmp/gp8` of main at the end of the session;
# /tmp/hetero8-base: main at the session's start (b636c18). ps-lite: benchmarks/pslite (libzmq3-dev, libprotobuf-dev,
# protobuf-compiler from apt; the snapshot fetched to /work/.mirror/dmlc+ps-lite/repo). ~12 minutes.
set -x
d=docs/results/quiet-2026-11-26h
uptime
/tmp/gp8/gpups bench hetero --scenarios drop-proportional --steps 30 --csv $d/hetero-drop-1.csv > $d/hetero-drop-1.txt 2>&1
/tmp/hetero8-base/gpups bench hetero --scenarios drop-proportional --steps 30 --csv $d/hetero-drop-start.csv > $d/hetero-drop-start.txt 2>&1
/tmp/gp8/gpups bench hetero --scenarios drop-proportional --steps 30 --csv $d/hetero-drop-2.csv > $d/hetero-drop-2.txt 2>&1
uptime
benchmarks/pslite/sitting.sh /work/.mirror/dmlc+ps-lite/repo /tmp/gp8/gpups 3 $d/pslite 3 > $d/pslite.txt 2>&1
uptime
