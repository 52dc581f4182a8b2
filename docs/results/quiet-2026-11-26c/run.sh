#!/bin/bash
cd /work/q
run() { local name=$1; shift; echo "=== $name $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"; echo "+ $*"; "$@" > $name.out 2> $name.err; echo "rc=$? $(date +%T)"; }
run wire /tmp/gp/gpups bench wire --seconds 3 --csv wire.csv --plot wire.png
run ovh-after /tmp/gp/gpups bench overhead --modes bsp,coded,backup,asp --csv ovh-after.csv --timeline-csv ovh-after-timeline.csv --plot ovh-after.png
run ovh-before /tmp/gp-before/gpups bench overhead --modes bsp,coded,backup,asp --steps 2000 --warmup 1000 --csv ovh-before.csv --plot ovh-before.png
run ovh-grpc /tmp/gp/gpups bench overhead --modes bsp,coded,backup,asp --transport grpc --csv ovh-grpc.csv --plot ovh-grpc.png
run ovh-proc /tmp/gp/gpups bench overhead --modes bsp,coded --processes --csv ovh-proc.csv --plot ovh-proc.png
run hetero /tmp/gp/gpups bench hetero --scenarios uniform,proportional,straggler-code,straggler-optimal-code --csv hetero.csv --plot hetero.png
run net-link /tmp/gp/gpups bench network --scenarios server-link --server-mbit 1000 --steps 8 --timeline-dir timelines --csv net-link.csv --plot-dir net-link
run net-delay /tmp/gp/gpups bench network --scenarios server-link --server-mbit 1000 --steps 8 --delay-ms 0.5 --timeline-dir timelines-delay --csv net-delay.csv --plot-dir net-delay
run net-nodes /tmp/gp/gpups bench network --scenarios two-nodes --server-mbit 1000 --steps 8 --csv net-nodes.csv --plot-dir net-nodes
run hetero10 /tmp/gp/gpups bench hetero --factors 8+8+4+4+4+2+2+1+1+1 --steps 30 --scenarios uniform,proportional --csv hetero10.csv --plot hetero10.png
run c-f32 /tmp/gp/gpups bench network --workers 8 --server-mbit 100 --scenarios server-link --features 49999 --classes 10 --rows 2000 --separation 4 --steps 50 --compression none --csv c-f32.csv --plot-dir c-f32
run c-topk /tmp/gp/gpups bench network --workers 8 --server-mbit 100 --scenarios server-link --features 49999 --classes 10 --rows 2000 --separation 4 --steps 50 --compression topk --topk-ratio 0.01 --full-pull-every 50 --csv c-topk.csv --plot-dir c-topk
echo "=== done $(date +%T)"
