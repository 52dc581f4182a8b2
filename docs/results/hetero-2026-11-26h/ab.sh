#!/bin/bash
# ab.sh: interleaved A/B of the eighth session, base = main at b636c18, new = SpeedJump.
cd "$(dirname "$0")"
for r in 1 2 3; do
  ./run.sh new-drop-$r /tmp/hetero8-new drop-proportional 30
  ./run.sh base-drop-$r /tmp/hetero8-base drop-proportional 30
done
./run.sh new-124 /tmp/hetero8-new uniform,proportional 40
./run.sh base-124 /tmp/hetero8-base uniform,proportional 40
echo AB-DONE
