#!/bin/bash
# Follow-up on the quiet machine, right after run.sh: the data plane with and without tiered compilation (the
# session-start binary, tiers on, against the end binary, tiers off; raw socket in each run), and the 10-worker mix. ~5 min.
set -x
d=docs/results/quiet-2026-11-26g
/tmp/gp7-base/gpups bench wire --seconds 3 --paths raw,tcp --sizes 1048576 --csv $d/wire-start.csv --plot $d/wire-start.png
/tmp/gp/gpups bench wire --seconds 3 --paths raw,tcp,tcp-nocheck --sizes 1048576 --csv $d/wire-3.csv --plot $d/wire-3.png
/tmp/gp/gpups bench hetero --factors 8+8+4+4+4+2+2+1+1+1 --steps 30 --scenarios proportional --csv $d/hetero-mix10.csv
uptime
