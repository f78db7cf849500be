// The C++ API's overhead per call against the C call it wraps (`make bench-cpp`).
//
// One executor (opened through the C++ API; the C side calls the same sf_executor through
// native_handle(), so both share the pool and the server), against $REDIS_URL. For each
// operation: a warm-up, then `pairs` pairs of runs of `calls` calls each, the C run and the
// C++ run alternating which goes first; the ratio of a pair is C++ time / C time, and the
// figure is the median ratio over the pairs (with the lowest and highest) and the median time
// per call of each side. Both sides hold their arguments in std::string, as a C++ caller would;
// the C side passes c_str(), the C++ side the strings themselves (copied into NUL-terminated
// stack buffers), and each side turns the result into what its caller uses (an int, a map).
//
//   cxx_overhead [--pairs N] [--calls N]      defaults: 15 pairs, 2000 calls per run
#include <stateful_executor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace se = stateful_executor;

namespace {

using Clock = std::chrono::steady_clock;

double seconds(const std::function<void()> &run, int calls) {
  Clock::time_point start = Clock::now();
  for (int i = 0; i < calls; ++i) run();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void fail_c(const char *what, sf_status status, const sf_error &err) {
  std::fprintf(stderr, "%s: %s: %s\n", what, sf_status_name(status), err.message);
  std::exit(1);
}

void compare(const char *name, int pairs, int calls, const std::function<void()> &c_call,
             const std::function<void()> &cxx_call) {
  seconds(c_call, calls / 4 + 1);  // warm-up: connections open, caches warm
  seconds(cxx_call, calls / 4 + 1);
  std::vector<double> ratios, c_times, cxx_times;
  for (int pair = 0; pair < pairs; ++pair) {
    double c, cxx;
    if (pair % 2 == 0) {
      c = seconds(c_call, calls);
      cxx = seconds(cxx_call, calls);
    } else {
      cxx = seconds(cxx_call, calls);
      c = seconds(c_call, calls);
    }
    ratios.push_back(cxx / c);
    c_times.push_back(c / calls * 1e6);
    cxx_times.push_back(cxx / calls * 1e6);
  }
  std::printf("%-34s %10.3f %10.3f %9.4f %9.4f %9.4f\n", name, median(c_times), median(cxx_times), median(ratios),
              *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char **argv) {
  int pairs = 15, calls = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--pairs") == 0) pairs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[i + 1]);
  }
  if (pairs < 1 || calls < 1) {
    std::fprintf(stderr, "usage: cxx_overhead [--pairs N] [--calls N]\n");
    return 2;
  }
  const char *url = std::getenv("REDIS_URL");
  if (url == nullptr || url[0] == '\0') {
    std::fprintf(stderr, "cxx_overhead: set REDIS_URL (make bench-cpp starts a throwaway server)\n");
    return 2;
  }

  const se::Executor ex = se::Executor::open(se::Config::standalone(url));
  const sf_executor *raw = ex.native_handle();
  const std::string ns = "bench-cxx", uid = "user-42", service = "chat";
  for (int32_t pod = 0; pod < 8; ++pod) ex.set_service_state(ns, service, pod, "Running");
  ex.set_linked_pod(ns, uid, service, 3, se::persistent);

  std::printf("stateful-executor %s: C++ API / C API, %d pairs of %d calls, alternated\n", se::version(), pairs,
              calls);
  std::printf("%-34s %10s %10s %9s %9s %9s\n", "operation", "C us/call", "C++ us", "median", "lowest", "highest");

  volatile int64_t sink = 0;  // keeps the results alive
  const auto c_get_linked_pod = [&] {
    sf_error err;
    int32_t pod;
    sf_status status = sf_get_linked_pod(raw, ns.c_str(), uid.c_str(), service.c_str(), &pod, &err);
    if (status != SF_OK) fail_c("sf_get_linked_pod", status, err);
    sink = sink + pod;
  };
  compare("get_linked_pod", pairs, calls, c_get_linked_pod,
          [&] { sink = sink + ex.get_linked_pod(ns, uid, service).value_or(-1); });
  compare(
      "get_linked_pod (Status& form)", pairs, calls, c_get_linked_pod,
      [&] {
        se::Status st;
        auto pod = ex.get_linked_pod(ns, uid, service, st);
        if (!st.ok()) std::exit(1);
        sink = sink + pod.value_or(-1);
      });
  compare(
      "set_linked_pod (script)", pairs, calls,
      [&] {
        sf_error err;
        int32_t previous;
        sf_status status = sf_set_linked_pod(raw, ns.c_str(), uid.c_str(), service.c_str(), 3, -1, &previous, &err);
        if (status != SF_OK) fail_c("sf_set_linked_pod", status, err);
        sink = sink + previous;
      },
      [&] { sink = sink + ex.set_linked_pod(ns, uid, service, 3, se::persistent).value_or(-1); });
  compare(
      "get_service_state (8 pods, to a map)", pairs, calls,
      [&] {
        sf_error err;
        sf_pod_states *states = nullptr;
        sf_status status = sf_get_service_state(raw, ns.c_str(), service.c_str(), &states, &err);
        if (status != SF_OK) fail_c("sf_get_service_state", status, err);
        std::map<int32_t, std::string> out;  // what a C++ caller of the C API builds
        for (size_t i = 0; i < sf_pod_states_len(states); ++i)
          out.emplace_hint(out.end(), sf_pod_states_pod(states, i), sf_pod_states_state(states, i));
        sf_pod_states_free(states);
        sink = sink + static_cast<int64_t>(out.size());
      },
      [&] { sink = sink + static_cast<int64_t>(ex.get_service_state(ns, service).size()); });
  // No round trip: the wrapper's cost in absolute terms.
  compare(
      "stats (no round trip)", pairs, calls * 50,
      [&] {
        sf_error err;
        sf_stats stats;
        sf_status status = sf_executor_stats(raw, &stats, &err);
        if (status != SF_OK) fail_c("sf_executor_stats", status, err);
        sink = sink + static_cast<int64_t>(stats.calls);
      },
      [&] { sink = sink + static_cast<int64_t>(ex.stats().calls); });
  return 0;
}
