#!/usr/bin/env bash
# GpuPs on a real GPU, in two halves (issue 14):
#
#   benchmarks/gpu/run.sh pack     here, with the .NET SDK: a self-contained linux-x64 publish of gpups and of the
#                                  kernel test suite (one runtime for both) into .gpu/gpups.tar.xz (~48 MiB; the GPU
#                                  machine has no dotnet and no network)
#   benchmarks/gpu/run.sh device [STEP...]
#                                  on the GPU machine, from the repository root: unpacks .gpu/gpups.tar.xz and runs the
#                                  CUDA subclasses of the kernel suite, gpups train on CUDA, gpups bench gpu (device
#                                  bandwidth, kernels, the MLP step) beside the PyTorch references of
#                                  benchmarks/gpu/torch_reference.py, and gpups bench kernels; results into $OUT (or
#                                  results/gpu), the whole log in gpu.log. STEPs (default all, in this order): tests
#                                  torch bench-gpu train train-mlp mixed kernels stragglers hetero.
#
# With the device tool: bash benchmarks/gpu/run.sh pack, then run `bash benchmarks/gpu/run.sh device` with carry [".gpu"].
# At most 8 files come back from $OUT: the log, the test results, the PyTorch and bench gpu CSVs and plot, and the
# result JSONs of the MLP and mixed-device runs; the other benchmarks' tables are in the log.
# Each step has its own time limit and the script goes on after a failing step, so that one run yields every reading
# it can; the exit code is that of the first failing step.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-}
pack=.gpu/gpups.tar.xz

case "$mode" in
pack)
    rm -rf .gpu/publish && mkdir -p .gpu
    for project in src/Cli tests/GpuPs.Kernels.Tests; do
        dotnet publish "$project" -c Release -r linux-x64 --self-contained -p:DebugType=none -p:GenerateDocumentationFile=false \
            -o .gpu/publish --nologo -v quiet || exit 1
    done
    # Satellite resources and the debugger's libraries: not needed to run, and the carry limit is 64 MiB.
    rm -rf .gpu/publish/{cs,de,es,fr,it,ja,ko,pl,pt-BR,ru,tr,zh-Hans,zh-Hant} .gpu/publish/libmscordaccore.so .gpu/publish/libmscordbi.so
    tar -C .gpu/publish -cf - . | xz -T0 -6 > "$pack" || exit 1
    ls -l "$pack"
    ;;
device)
    shift
    steps=${*:-tests torch bench-gpu train train-mlp mixed kernels stragglers hetero}
    wanted() { [[ " $steps " == *" $1 "* ]]; }
    out=${OUT:-results/gpu}
    # Emptied first (as /tmp/gpu-train below), so that a step that fails on a machine kept warm from an earlier call
    # cannot hand back that call's files as its own.
    mkdir -p "$out" && rm -rf "${out:?}"/*
    exec > >(tee "$out/gpu.log") 2>&1
    bin=/tmp/gpups-publish
    rm -rf /tmp/gpu-train && mkdir -p /tmp/gpu-train  # outputs that do not come back (at most 8 files do): models, extra plots
    rm -rf "$bin" && mkdir -p "$bin" && xz -dc "$pack" | tar -C "$bin" -xf - || exit 1
    export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_gcServer=0
    # The image has fontconfig but no fonts, and the plots' labels vanish without one: use matplotlib's DejaVu fonts.
    fonts=$(python3 -c 'import matplotlib, os; print(os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data/fonts/ttf"))' 2>/dev/null)
    if [ -d "$fonts" ] && ! fc-list 2>/dev/null | grep -q .; then
        printf '<?xml version="1.0"?>\n<fontconfig><dir>%s</dir><cachedir>/tmp/fontconfig-cache</cachedir></fontconfig>\n' "$fonts" > /tmp/gpups-fonts.conf
        export FONTCONFIG_FILE=/tmp/gpups-fonts.conf
    fi
    status=0
    step() {  # step NAME SECONDS COMMAND...: run with a limit, log the time and the exit code, remember the first failure
        local name=$1 limit=$2; shift 2
        echo "=== $name ($(date -u +%T), limit ${limit}s)"
        local t0=$SECONDS
        timeout --kill-after=10 "$limit" "$@"
        local rc=$?
        echo "=== $name: exit $rc after $((SECONDS - t0)) s"
        [ $rc -ne 0 ] && [ $status -eq 0 ] && status=$rc
        return 0
    }
    step "device" 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
    step "cuda libraries" 30 bash -c 'ldconfig -p | grep -E "libcuda.so|libcublas" ; find /usr /opt -name "libcublas.so*" 2>/dev/null | head -5'
    wanted tests && step "kernel suite on CUDA" 240 "$bin/GpuPs.Kernels.Tests" --filter Cuda --results "$out/cuda-tests.txt"
    wanted torch && step "torch references" 180 python3 benchmarks/gpu/torch_reference.py --csv "$out/torch-reference.csv"
    if wanted bench-gpu; then
        reference=()
        [ -s "$out/torch-reference.csv" ] && reference=(--torch-reference "$out/torch-reference.csv")
        step "gpups bench gpu" 240 "$bin/gpups" bench gpu "${reference[@]}" --csv "$out/bench-gpu.csv" --plot "$out/bench-gpu.png"
    fi
    wanted train && step "gpups train on CUDA (digits)" 120 "$bin/gpups" train --accelerator cuda --output /tmp/gpu-train/train.json
    # The larger workload: a 784-1280-10 MLP (1,017,610 parameters) on 100,000 training rows, 4 CUDA workers.
    mlp=(--model mlp --hidden 1280 --optimizer adam --learning-rate 0.001)
    wanted train-mlp && step "gpups train on CUDA (1M-parameter MLP, 100k rows)" 120 "$bin/gpups" train --accelerator cuda "${mlp[@]}" \
        --dataset synthetic:rows=125000,features=784,classes=10,separation=3 --batch-size 4096 --steps 200 --output /tmp/gpu-train/mlp.json
    [ -f /tmp/gpu-train/mlp.json ] && cp /tmp/gpu-train/mlp.json "$out/train-mlp.json"
    # Mixed devices: one CUDA worker beside three SIMD (CPU) workers, full-batch steps, uniform shares against shares
    # in proportion to the measured speeds.
    if wanted mixed; then
        for assignment in uniform proportional; do
            step "mixed devices cuda+simd+simd+simd, $assignment" 150 "$bin/gpups" train --accelerator cuda+simd+simd+simd "${mlp[@]}" \
                --dataset synthetic:rows=40000,features=784,classes=10,separation=3 --batch-size 0 --steps 12 --assignment $assignment \
                --output "/tmp/gpu-train/mixed-$assignment.json"
            [ -f "/tmp/gpu-train/mixed-$assignment.json" ] && cp "/tmp/gpu-train/mixed-$assignment.json" "$out/"
        done
    fi
    wanted kernels && step "gpups bench kernels" 90 "$bin/gpups" bench kernels --repetitions 5 --csv /tmp/gpu-train/bench-kernels.csv --plot /tmp/gpu-train/bench-kernels.png
    wanted stragglers && step "gpups bench stragglers --quick, CUDA workers" 90 "$bin/gpups" bench stragglers --quick --accelerator cuda \
        --csv /tmp/gpu-train/bench-stragglers.csv --plot-dir /tmp/gpu-train
    wanted hetero && step "gpups bench hetero, CUDA workers" 90 "$bin/gpups" bench hetero --accelerator cuda --slowdown throttle --steps 20 --warmup 5 \
        --csv /tmp/gpu-train/bench-hetero.csv --plot /tmp/gpu-train/bench-hetero.png
    echo "=== done: exit $status"
    exit $status
    ;;
*)
    echo "usage: $0 pack|device" >&2
    exit 64
    ;;
esac
