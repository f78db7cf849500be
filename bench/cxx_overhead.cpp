// The C++ API's overhead per call against the C call it wraps (`make bench-cpp`).
//
// One executor (opened through the C++ API; the C side calls the same sf_executor through
// native_handle(), so both share the pool and the server), against $REDIS_URL. Each operation
// has a C loop and a C++ loop (c_<op>, cxx_<op> below); both hold their arguments in
// std::string, as a C++ caller would: the C side passes c_str(), the C++ side the strings
// themselves (copied into NUL-terminated stack buffers); each turns the result into what its
// caller uses (an int, a std::map).
//
// Timed (the default): per operation a warm-up, then `pairs` pairs of runs of `calls` calls,
// the C run and the C++ run alternating which goes first; a pair's ratio is C++ time / C time,
// and the figure is the median ratio (with the lowest and highest) and each side's median time
// per call.
//
// Counted (--instructions N, under valgrind --tool=callgrind; bench/cxx_instructions.py runs
// it): every loop once with N calls, so that callgrind's inclusive count of each loop function
// divided by N is the instructions per call on each side, repeatable whatever else the machine
// does.
//
//   cxx_overhead [--pairs N] [--calls N]      defaults: 21 pairs, 2000 calls per run
//   cxx_overhead --instructions N
#include <stateful_executor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace se = stateful_executor;

// A named namespace, so that callgrind's function names are plain: cxx_bench::c_get(...).
namespace cxx_bench {

struct Bench {
  const se::Executor &ex;
  const sf_executor *raw;
  std::string ns, uid, service;
};

inline volatile std::int64_t sink = 0;  // keeps the results alive

void fail_c(const char *what, sf_status status, const sf_error &err) {
  std::fprintf(stderr, "%s: %s: %s\n", what, sf_status_name(status), err.message);
  std::exit(1);
}

#define LOOP __attribute__((noinline))

LOOP void c_get(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) {
    sf_error err;
    std::int32_t pod;
    sf_status status = sf_get_linked_pod(b.raw, b.ns.c_str(), b.uid.c_str(), b.service.c_str(), &pod, &err);
    if (status != SF_OK) fail_c("sf_get_linked_pod", status, err);
    sink = sink + pod;
  }
}

LOOP void cxx_get(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) sink = sink + b.ex.get_linked_pod(b.ns, b.uid, b.service).value_or(-1);
}

LOOP void cxx_get_status(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) {
    se::Status st;
    auto pod = b.ex.get_linked_pod(b.ns, b.uid, b.service, st);
    if (!st.ok()) std::exit(1);
    sink = sink + pod.value_or(-1);
  }
}

LOOP void c_set(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) {
    sf_error err;
    std::int32_t previous;
    sf_status status =
        sf_set_linked_pod(b.raw, b.ns.c_str(), b.uid.c_str(), b.service.c_str(), 3, -1, &previous, &err);
    if (status != SF_OK) fail_c("sf_set_linked_pod", status, err);
    sink = sink + previous;
  }
}

LOOP void cxx_set(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) sink = sink + b.ex.set_linked_pod(b.ns, b.uid, b.service, 3, se::persistent).value_or(-1);
}

LOOP void c_states(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) {
    sf_error err;
    sf_pod_states *states = nullptr;
    sf_status status = sf_get_service_state(b.raw, b.ns.c_str(), b.service.c_str(), &states, &err);
    if (status != SF_OK) fail_c("sf_get_service_state", status, err);
    std::map<std::int32_t, std::string> out;  // what a C++ caller of the C API builds
    for (std::size_t k = 0; k < sf_pod_states_len(states); ++k)
      out.emplace_hint(out.end(), sf_pod_states_pod(states, k), sf_pod_states_state(states, k));
    sf_pod_states_free(states);
    sink = sink + static_cast<std::int64_t>(out.size());
  }
}

LOOP void cxx_states(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) sink = sink + static_cast<std::int64_t>(b.ex.get_service_state(b.ns, b.service).size());
}

LOOP void c_stats(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) {
    sf_error err;
    sf_stats stats;
    sf_status status = sf_executor_stats(b.raw, &stats, &err);
    if (status != SF_OK) fail_c("sf_executor_stats", status, err);
    sink = sink + static_cast<std::int64_t>(stats.calls);
  }
}

LOOP void cxx_stats(const Bench &b, int n) {
  for (int i = 0; i < n; ++i) sink = sink + static_cast<std::int64_t>(b.ex.stats().calls);
}

using Loop = void (*)(const Bench &, int);

struct Op {
  const char *name;
  Loop c, cxx;
  int calls_factor;  // the call without a round trip runs many more times
};

inline const Op ops[] = {
    {"get_linked_pod", c_get, cxx_get, 1},
    {"get_linked_pod (Status& form)", c_get, cxx_get_status, 1},
    {"set_linked_pod (script)", c_set, cxx_set, 1},
    {"get_service_state (8 pods, map)", c_states, cxx_states, 1},
    {"stats (no round trip)", c_stats, cxx_stats, 50},
};

double seconds(Loop loop, const Bench &b, int calls) {
  auto start = std::chrono::steady_clock::now();
  loop(b, calls);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void timed(const Bench &b, int pairs, int calls) {
  std::printf("stateful-executor %s: C++ API / C API, %d pairs of %d calls, alternated\n", se::version(), pairs,
              calls);
  std::printf("%-32s %10s %10s %9s %9s %9s\n", "operation", "C us/call", "C++ us", "median", "lowest", "highest");
  for (const Op &op : ops) {
    const int n = calls * op.calls_factor;
    seconds(op.c, b, n / 4 + 1);  // warm-up: connections open, caches warm
    seconds(op.cxx, b, n / 4 + 1);
    std::vector<double> ratios, c_times, cxx_times;
    for (int pair = 0; pair < pairs; ++pair) {
      double c, cxx;
      if (pair % 2 == 0) {
        c = seconds(op.c, b, n);
        cxx = seconds(op.cxx, b, n);
      } else {
        cxx = seconds(op.cxx, b, n);
        c = seconds(op.c, b, n);
      }
      ratios.push_back(cxx / c);
      c_times.push_back(c / n * 1e6);
      cxx_times.push_back(cxx / n * 1e6);
    }
    std::printf("%-32s %10.3f %10.3f %9.4f %9.4f %9.4f\n", op.name, median(c_times), median(cxx_times),
                median(ratios), *std::min_element(ratios.begin(), ratios.end()),
                *std::max_element(ratios.begin(), ratios.end()));
    std::fflush(stdout);
  }
}

}  // namespace cxx_bench

using namespace cxx_bench;

int main(int argc, char **argv) {
  int pairs = 21, calls = 2000, instructions = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--pairs") == 0) pairs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--instructions") == 0) instructions = std::atoi(argv[i + 1]);
  }
  if (pairs < 1 || calls < 1 || instructions < 0) {
    std::fprintf(stderr, "usage: cxx_overhead [--pairs N] [--calls N] | --instructions N\n");
    return 2;
  }
  const char *url = std::getenv("REDIS_URL");
  if (url == nullptr || url[0] == '\0') {
    std::fprintf(stderr, "cxx_overhead: set REDIS_URL (make bench-cpp starts a throwaway server)\n");
    return 2;
  }

  const se::Executor ex = se::Executor::open(se::Config::standalone(url));
  const Bench b{ex, ex.native_handle(), "bench-cxx", "user-42", "chat"};
  for (std::int32_t pod = 0; pod < 8; ++pod) ex.set_service_state(b.ns, b.service, pod, "Running");
  ex.set_linked_pod(b.ns, b.uid, b.service, 3, se::persistent);

  if (instructions == 0) {
    timed(b, pairs, calls);
    return 0;
  }
  // Each loop function once (c_get serves two rows), after the setup above warmed the pool.
  for (Loop loop : {c_get, cxx_get, cxx_get_status, c_set, cxx_set, c_states, cxx_states, c_stats, cxx_stats})
    loop(b, instructions);
  std::printf("{\"calls\": %d}\n", instructions);
  return 0;
}
