// ps-lite's side of `gpups bench wire`: push and pull of one tensor between a worker process and a server process
// (plus ps-lite's scheduler), over ZeroMQ on loopback, reported in the same CSV columns as `gpups bench wire`.
//
// Usage (every role runs this binary with the same arguments; run.sh starts the three processes):
//   bench_wire SECONDS SIZES KEYS ROUNDS
//     SECONDS  timed run of each operation and size; every operation in it counts (no best window)
//     SIZES    comma-separated tensor sizes in float32 values, e.g. 1048576,256 (4 MiB and 1 KiB)
//     KEYS     keys the tensor is split into (1: one key holding the whole tensor, like one GpuPs tensor)
//     ROUNDS   slices the timed run is cut into, push and pull taking turns, as `gpups bench wire` does
//
// The server is a sink like GpuPs's WireSinkShard: a push is answered at once and its values dropped; a pull is
// answered with a stored tensor, shared with the reply (ps-lite's zero-copy SArray), so both measure the transport.
// The worker uses ZPush/ZPull (no copy into the system); a pull's values are copied into the caller's buffer, as
// ps-lite always does. One operation is in flight at a time: Wait(ZPush(...)), Wait(ZPull(...)).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "ps/ps.h"

using namespace ps;

namespace {

struct Settings {
  double seconds = 5;
  std::vector<int> sizes;
  int keys = 1;
  int rounds = 6;
};

Settings Parse(int argc, char* argv[]) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s SECONDS SIZES KEYS ROUNDS (e.g. 5 1048576,256 1 6)\n", argv[0]);
    exit(2);
  }
  Settings s;
  s.seconds = atof(argv[1]);
  std::stringstream list(argv[2]);
  for (std::string item; std::getline(list, item, ',');) s.sizes.push_back(atoi(item.c_str()));
  s.keys = atoi(argv[3]);
  s.rounds = atoi(argv[4]);
  bool bad = !(s.seconds > 0) || s.sizes.empty() || s.keys < 1 || s.rounds < 1;
  for (int n : s.sizes) bad = bad || n < s.keys || n % s.keys != 0;
  if (bad) {
    fprintf(stderr, "bench_wire: SECONDS > 0, ROUNDS >= 1, KEYS >= 1 and every size a positive multiple of KEYS, got %s %s %s %s\n",
            argv[1], argv[2], argv[3], argv[4]);
    exit(2);
  }
  return s;
}

double ProcessCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// The request's cmd is the index of its size in SIZES, so the server knows what a pull of these keys returns.
class SinkServer {
 public:
  explicit SinkServer(const Settings& s) : server_(0) {
    for (int n : s.sizes) {
      SArray<float> tensor(n);
      for (int i = 0; i < n; ++i) tensor[i] = (i % 1000) * 1e-6f;
      stored_.push_back(tensor);
    }
    server_.set_request_handle([this](const KVMeta& meta, const KVPairs<float>& data, KVServer<float>* server) {
      KVPairs<float> reply;
      if (!meta.push) {
        reply.keys = data.keys;
        reply.vals = stored_.at(meta.cmd);
      }
      server->Response(meta, reply);
    });
  }

 private:
  KVServer<float> server_;
  std::vector<SArray<float>> stored_;
};

double Percentile(std::vector<double> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  long i = static_cast<long>(std::ceil(q * sorted.size())) - 1;
  return sorted[std::min<long>(std::max<long>(i, 0), sorted.size() - 1)];
}

void RunWorker(const Settings& s) {
  KVWorker<float> kv(0, 0);
  printf("Path,Operation,Bytes,Operations,MeanMBps,P50MBps,MeanMicroseconds,P50Microseconds,P99Microseconds,RatioToRaw,"
         "ClientCpuMicroseconds,ServerCpuMicroseconds,Label\n");
  for (size_t size_index = 0; size_index < s.sizes.size(); ++size_index) {
    int floats = s.sizes[size_index], cmd = static_cast<int>(size_index);
    SArray<Key> keys(s.keys);
    for (int k = 0; k < s.keys; ++k) keys[k] = k;
    SArray<float> tensor(floats), destination(floats);
    for (int i = 0; i < floats; ++i) tensor[i] = (i % 1000) * 1e-6f;
    auto push = [&] { kv.Wait(kv.ZPush(keys, tensor, {}, cmd)); };
    auto pull = [&] {
      kv.Wait(kv.ZPull(keys, &destination, nullptr, cmd));
      CHECK_EQ(destination.size(), static_cast<size_t>(floats));
    };
    using Clock = std::chrono::steady_clock;
    auto elapsed = [](Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); };
    for (int o = 0; o < 2; ++o)  // warm-up: connections, buffers
      for (auto start = Clock::now(); elapsed(start) < 0.5;) o == 0 ? push() : pull();
    std::vector<double> latencies[2];
    double cpu[2] = {0, 0};
    double slice = s.seconds / s.rounds;
    for (int round = 0; round < s.rounds; ++round)
      for (int o = 0; o < 2; ++o) {
        double cpu0 = ProcessCpuSeconds();
        for (auto start = Clock::now(); elapsed(start) < slice;) {
          auto t0 = Clock::now();
          o == 0 ? push() : pull();
          latencies[o].push_back(elapsed(t0));
        }
        cpu[o] += ProcessCpuSeconds() - cpu0;
      }
    double bytes = floats * 4.0;
    for (int o = 0; o < 2; ++o) {
      const char* name = o == 0 ? "push" : "pull";
      double total = 0;
      for (double l : latencies[o]) total += l;
      double count = latencies[o].size(), p50 = Percentile(latencies[o], 0.5), p99 = Percentile(latencies[o], 0.99);
      std::string label = std::string("pslite ") + name + " " +
          (bytes >= (1 << 20) ? std::to_string(static_cast<long>(bytes) >> 20) + " MiB" : std::to_string(static_cast<long>(bytes) >> 10) + " KiB");
      printf("pslite,%s,%.0f,%.0f,%g,%g,%g,%g,%g,NaN,%g,NaN,%s\n", name, bytes, count, count * bytes / total / 1e6, bytes / p50 / 1e6,
             total / count * 1e6, p50 * 1e6, p99 * 1e6, cpu[o] / count * 1e6, label.c_str());
    }
    fflush(stdout);
  }
}

}  // namespace

int main(int argc, char* argv[]) {
  Settings settings = Parse(argc, argv);
  Start(0);
  if (IsServer()) {
    auto* server = new SinkServer(settings);
    RegisterExitCallback([server] { delete server; });
  }
  if (IsWorker()) RunWorker(settings);
  Finalize(0, true);
  return 0;
}
