#!/bin/bash
# ab3.sh: new2 (SpeedJump + the jump's version checked) against base, interleaved.
cd "$(dirname "$0")"
for r in 1 2 3; do
  ./run.sh new2-drop-$r /tmp/hetero8-new2 drop-proportional 30
  ./run.sh base-drop-$((r+5)) /tmp/hetero8-base drop-proportional 30
done
echo AB3-DONE
