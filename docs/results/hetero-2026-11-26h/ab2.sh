#!/bin/bash
# ab2.sh: two more interleaved rounds of the drop (base first this time).
cd "$(dirname "$0")"
for r in 4 5; do
  ./run.sh base-drop-$r /tmp/hetero8-base drop-proportional 30
  ./run.sh new-drop-$r /tmp/hetero8-new drop-proportional 30
done
echo AB2-DONE
