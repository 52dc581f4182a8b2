#!/usr/bin/env bash
# Mutation testing of the core with Stryker.NET (a local tool: .config/dotnet-tools.json). Not part of CI: one area
# takes 10-40 minutes on 2 cores. Usage: scripts/mutation.sh [area ...]   (default: every area)
#   coding      src/Core/Coding                     codes, decoder, conditioning          tests/GpuPs.Core.Tests
#   aggregation src/Core/Aggregation, Core/Modes    step rules of every mode              tests/GpuPs.Server.Tests
#   server      src/Server (shard, observers)       membership, liveness, validation      tests/GpuPs.Server.Tests
#   protocol    src/Core/Protocol                   wire frames, marshalling, WireStatus  tests/GpuPs.Integration.Tests
#   worker      src/Worker (loop, client, step)     worker rules, retries, liveness       tests/GpuPs.Worker.Tests
#   optimizers  kernels/Simd                        SIMD loss, gradient and optimizers    tests/GpuPs.Kernels.Tests
# Reports land in artifacts/mutation/<area>/ (html, json, markdown). STRYKER_CONCURRENCY overrides the default of 1.
# Build nothing else in this tree while it runs: a build rewrites the test project's copy of the mutated assembly, and
# every later mutant then "survives".
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null

run() {
  local area=$1 tests=$2 project=$3; shift 3
  local out=$PWD/artifacts/mutation/$area
  mkdir -p "$out"
  local mutate=()
  for glob in "$@"; do mutate+=(--mutate "$glob"); done
  echo "== $area: $project, tested by $tests"
  (cd "$tests" && dotnet stryker --project "$project" --configuration Release \
      --concurrency "${STRYKER_CONCURRENCY:-1}" "${mutate[@]}" \
      --reporter html --reporter json --reporter markdown --reporter progress \
      --output "$out")
}

areas=("$@")
[ ${#areas[@]} -eq 0 ] && areas=(coding aggregation server protocol worker optimizers)
for area in "${areas[@]}"; do
  case $area in
    coding)      run coding tests/GpuPs.Core.Tests GpuPs.Core.csproj '**/Coding/*.cs' ;;
    aggregation) run aggregation tests/GpuPs.Server.Tests GpuPs.Core.csproj '**/Aggregation/*.cs' '**/Modes/*.cs' ;;
    server)      run server tests/GpuPs.Server.Tests GpuPs.Server.csproj '**/ParameterShard.cs' '**/Observers/*.cs' ;;
    protocol)    run protocol tests/GpuPs.Integration.Tests GpuPs.Core.csproj '**/Protocol/*.cs' ;;
    worker)      run worker tests/GpuPs.Worker.Tests GpuPs.Worker.csproj '**/*.cs' '!**/Stragglers/OrderStatisticBound.cs' '!**/Stragglers/ClosingSets.cs' ;;
    optimizers)  run optimizers tests/GpuPs.Kernels.Tests GpuPs.Kernels.csproj '**/Simd/*.cs' ;;
    *) echo "unknown area '$area' (coding, aggregation, server, protocol, worker, optimizers)" >&2; exit 2 ;;
  esac
done
