// The C++ API built with -fno-exceptions -fno-rtti: only the Status& forms exist, and they work
// against a throwaway redis-server (tests/c/harness.c). Run by `make cxx-test`; prints
// "C++ without exceptions: N checks passed" or the failed checks and exits 1.
#include "stateful_executor.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

extern "C" {
#include "harness.h"
}

namespace se = stateful_executor;

static_assert(STATEFUL_EXECUTOR_EXCEPTIONS == 0, "compile this test with -fno-exceptions");

namespace {

// The throwing forms must not be declared at all without exceptions.
template <class T, class = void>
struct has_throwing_ping : std::false_type {};
template <class T>
struct has_throwing_ping<T, std::void_t<decltype(std::declval<const T &>().ping())>> : std::true_type {};
static_assert(!has_throwing_ping<se::Executor>::value, "Executor::ping() without a Status is declared");

int checks = 0;
int failures = 0;

void check(bool ok, const char *what, int line) {
  ++checks;
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "no_exceptions.cpp:%d: check failed: %s\n", line, what);
  }
}
#define CHECK_THAT(cond) check((cond), #cond, __LINE__)

}  // namespace

int main() {
  server redis;
  if (server_start(&redis, nullptr) != 0) {
    std::printf("cannot start redis-server\n");
    return 1;
  }
  const std::string url = "redis://127.0.0.1:" + std::to_string(redis.port);
  se::Status st;

  // Factories and a setter chain that stops at its first failure.
  se::Config bad = se::Config::standalone("ftp://nowhere", st);
  CHECK_THAT(!bad && st.code() == SF_CONFIG && st.message()[0] != '\0');
  se::Config cfg = se::Config::standalone(url, st);
  CHECK_THAT(cfg && st.ok());
  cfg.set_pool_max_size(0, st).set_command_timeout_ms(500, st);
  CHECK_THAT(st.code() == SF_INVALID_ARGUMENT);
  st.clear();
  cfg.set_pool_max_size(4, st).set_command_timeout_ms(500, st).set_pipelining(true, st);
  CHECK_THAT(st.ok());

  se::Executor ex = se::Executor::open(cfg, st);
  CHECK_THAT(ex && st.ok());
  ex.ping(st);
  CHECK_THAT(st.ok());

  // Values, absence, and errors as Status.
  CHECK_THAT(ex.get_linked_pod("ns", "u1", "chat", st) == std::nullopt && st.ok());
  CHECK_THAT(ex.set_linked_pod("ns", "u1", "chat", 3, se::persistent, st) == std::nullopt && st.ok());
  CHECK_THAT(ex.get_linked_pod("ns", "u1", "chat", st) == 3 && st.ok());
  CHECK_THAT(ex.try_set_linked_pod("ns", "u1", "chat", 4, 60, st) == (se::TrySetResult{false, 3}));
  CHECK_THAT(ex.set_linked_pod_if_absent("ns", "u2", "chat", 5, 60, st) == 5 && st.ok());
  CHECK_THAT(ex.compute_linked_pod("ns", "u3", "chat", 60, {{1, 9}, {2, 1}}, st) == 2 && st.ok());
  ex.set_workload_state("ns", "chat", "Available", st);
  CHECK_THAT(ex.get_workload_states("ns", {"chat", "none"}, st).size() == 2 && st.ok());
  CHECK_THAT(ex.get_link_services("ns", "u1", st).at("chat") == 3);
  CHECK_THAT(ex.get_linked_pod("ns", "u1", "bad}", st) == std::nullopt && st.code() == SF_INVALID_ARGUMENT);
  CHECK_THAT(std::strlen(st.message()) > 0);
  CHECK_THAT(ex.remove_linked_pod("ns", "u1", "chat", -1, st) && st.ok());
  CHECK_THAT(ex.stats(st).calls > 0 && st.ok());

  // A batch, a packed read, and the logger.
  se::Batch batch;
  auto pod = batch.get_linked_pod("ns", "u2", "chat");
  auto bad_entry = batch.set_linked_pod("ns", "u2", "chat", -1, se::persistent);
  ex.execute_batch(batch, st);
  CHECK_THAT(st.ok());
  CHECK_THAT(batch.get(pod, st) == 5 && st.ok());
  CHECK_THAT(batch.get(bad_entry, st) == std::nullopt && st.code() == SF_INVALID_ARGUMENT);
  se::Packed packed;
  ex.set_service_state("ns", "chat", 0, "Running", st);
  ex.get_service_state_packed("ns", "chat", packed, st);
  CHECK_THAT(st.ok() && packed.size() == 1 && packed.begin()->text == std::string_view("Running"));
  std::atomic<int> records{0};  // called from the library's threads too
  se::set_logger([&records](se::LogLevel, std::string_view, std::string_view) { ++records; }, se::LogLevel::debug,
                 st);
  CHECK_THAT(st.ok());
  ex.ping(st);
  CHECK_THAT(records > 0);
  se::clear_logger(st);
  CHECK_THAT(st.ok());

  ex.close();
  ex.ping(st);
  CHECK_THAT(st.code() == SF_INVALID_ARGUMENT);
  server_stop(&redis);

  if (failures != 0) return 1;
  std::printf("C++ without exceptions: %d checks passed\n", checks);
  return 0;
}
