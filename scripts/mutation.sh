#!/usr/bin/env bash
# Mutation testing of the core with Stryker.NET (a local tool: .config/dotnet-tools.json). Not part of CI: one area
# takes 5-40 minutes on 2 cores. Usage: scripts/mutation.sh [area ...]   (default: every area)
#   area        mutated                             what                                  tested by (every unit/domain project that covers it)
#   coding      src/Core/Coding                     codes, decoder, conditioning          Core.Tests
#   aggregation src/Core/Aggregation, Core/Modes    step rules of every mode              Server.Tests, Worker.Tests, Core.Tests
#   server      src/Server: the shard, its observers, membership, liveness, validation,       Server.Tests, Worker.Tests
#               per-range pieces (Pieces/), its push turns (PushTurns, PushTurnLease, TurnKey), StepSignal
#   coordination src/Server: the coordinators and the push and pull order, proportional shares, Server.Tests
#               edges' pure parts (Coordination/ less the push turns, Compression/PullViews, DataPlane/ParkedPulls,
#               Service/PushMemoryBudget, Service/RefusalLog)
#   protocol    src/Core/Protocol                   wire frames, marshalling, WireStatus  Core.Tests, Server.Tests, Worker.Tests
#   worker      src/Worker (loop, client, step)     worker rules, retries, liveness       Worker.Tests
#               less the network clients (GrpcShardClient, NegotiatedShardClient, Transport/Tcp): like the server area's
#               gRPC service and data plane, they are tested over real loopback sockets in Integration.Tests only
#   optimizers  kernels/Simd                        SIMD loss, gradient and optimizers    Kernels.Tests
# Left out of every area, as only a real socket runs them: the gRPC service (Service/ParameterServerService,
# Service/JobTokenInterceptor), the data plane's connection, listener, TLS and frame reader, GpuPsServerHost,
# KestrelEndpoint; and the plain records and enums (ShardOptions, ServerLimits, DataPlaneAdvert, HeldPushReply,
# BytesAsFloats, the observer events).
# GpuPs.Integration.Tests (real gRPC, real processes) is left out: nearly every mutant of the shard or the wire is
# covered by most of its tests, each of which starts servers, so one area would take many hours on 2 cores.
# scripts/stryker-config.json ignores mutations inside Serilog calls (log templates and their arguments): the tests
# assert on outcomes, and the log lines that carry a contract (refusals named with worker, step and shard) have their
# own tests outside this tool (RefusalLogTests, PushLogTests). No logic is ignored.
# Reports land in artifacts/mutation/<area>/ (html, json, markdown). STRYKER_CONCURRENCY overrides the default of 1;
# extra arguments for Stryker (e.g. --mutate '**/ParameterShard.cs' to iterate on one file) go in STRYKER_ARGS.
# TEST_PROJECTS="GpuPs.Server.Tests ..." replaces an area's test projects (a loaded machine: Worker.Tests start a
# testhost of 60-90 s for every mutant of the shard they cover; mutants only they kill then count as survivors).
# TEST_FILTER='FullyQualifiedName~…' (dotnet test's filter) replaces an area's test filter, the aggregation and
# protocol areas' included (until the tenth session those two areas overrode it with their own).
# Build nothing else in this tree while it runs: a build rewrites the test project's copy of the mutated assembly, and
# every later mutant then "survives".
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null

# Core.Tests' exhaustive code tests (GpuPs.Core.Tests.Coding: every responder set of every code up to n = 32) test
# the codes, not the aggregators or the wire, yet made the coverage capture of an area run against Core.Tests take 12+
# minutes; areas that mutate neither the codes nor the decoder leave them out (TEST_FILTER, Stryker's --test-case-filter).
WITHOUT_CODE_TESTS='FullyQualifiedName!~GpuPs.Core.Tests.Coding'

# [TEST_FILTER=…] run AREA PROJECT "TESTPROJECT ..." GLOB ...
run() {
  local area=$1 project=$2 tests=${TEST_PROJECTS:-$3}; shift 3
  local out=$PWD/artifacts/mutation/$area
  mkdir -p "$out"
  local args=()
  for t in $tests; do args+=(--test-project "$PWD/tests/$t/$t.csproj"); done
  if [ -n "${TEST_FILTER:-}" ]; then args+=(--test-case-filter "$TEST_FILTER"); fi
  if [ -n "${STRYKER_ARGS:-}" ]; then read -r -a extra <<<"$STRYKER_ARGS"; args+=("${extra[@]}")
  else for glob in "$@"; do args+=(--mutate "$glob"); done; fi
  echo "== $area: $project, tested by $tests"
  (cd "$(dirname "$(find src kernels -name "$project" | head -1)")" && dotnet stryker --project "$project" --configuration Release \
      --config-file "$OLDPWD/scripts/stryker-config.json" \
      --concurrency "${STRYKER_CONCURRENCY:-1}" "${args[@]}" \
      --reporter html --reporter json --reporter markdown --reporter progress \
      --output "$out")
}

areas=("$@")
[ ${#areas[@]} -eq 0 ] && areas=(coding aggregation server coordination protocol worker optimizers)
for area in "${areas[@]}"; do
  case $area in
    coding)      run coding GpuPs.Core.csproj "GpuPs.Core.Tests" '**/Coding/*.cs' ;;
    aggregation) TEST_FILTER=${TEST_FILTER:-$WITHOUT_CODE_TESTS} run aggregation GpuPs.Core.csproj "GpuPs.Server.Tests GpuPs.Worker.Tests GpuPs.Core.Tests" '**/Aggregation/*.cs' '**/Modes/*.cs' ;;
    server)      run server GpuPs.Server.csproj "GpuPs.Server.Tests GpuPs.Worker.Tests" '**/ParameterShard.cs' '**/Observers/*.cs' '**/Pieces/*.cs' \
                     '**/Coordination/PushTurns.cs' '**/Coordination/PushTurnLease.cs' '**/Coordination/TurnKey.cs' '**/StepSignal.cs' ;;
    coordination) run coordination GpuPs.Server.csproj "GpuPs.Server.Tests" '**/Coordination/*.cs' '!**/Coordination/PushTurns.cs' \
                     '!**/Coordination/PushTurnLease.cs' '!**/Coordination/TurnKey.cs' '**/Compression/*.cs' '**/DataPlane/ParkedPulls.cs' \
                     '**/Service/PushMemoryBudget.cs' '**/Service/RefusalLog.cs' ;;
    protocol)    TEST_FILTER=${TEST_FILTER:-$WITHOUT_CODE_TESTS} run protocol GpuPs.Core.csproj "GpuPs.Core.Tests GpuPs.Server.Tests GpuPs.Worker.Tests" '**/Protocol/**/*.cs' ;;
    worker)      run worker GpuPs.Worker.csproj "GpuPs.Worker.Tests" '**/*.cs' '!**/Stragglers/OrderStatisticBound.cs' '!**/Stragglers/ClosingSets.cs' \
                     '!**/Transport/GrpcShardClient.cs' '!**/Transport/NegotiatedShardClient.cs' '!**/Transport/Tcp/*.cs' ;;
    optimizers)  run optimizers GpuPs.Kernels.csproj "GpuPs.Kernels.Tests" '**/Simd/*.cs' ;;
    *) echo "unknown area '$area' (coding, aggregation, server, coordination, protocol, worker, optimizers)" >&2; exit 2 ;;
  esac
done
