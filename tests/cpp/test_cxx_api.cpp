// Tests of the C++ API (include/stateful_executor.hpp) against real redis-server processes that
// the C test harness (tests/c/harness.c) starts on free loopback ports, never 6379: every method
// in both forms, moves, absence, an Error carrying each status a caller can provoke
// (SF_INTERNAL, a caught panic, cannot be provoked through the API), the logger hook, and 16
// threads sharing one executor. `make cxx-test` builds it with g++ and clang++-14, at C++17 and
// C++20, -Wall -Wextra -Werror -pedantic, and runs it under AddressSanitizer and UBSan.
#include "stateful_executor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <list>
#include <set>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "harness.h"
}

namespace se = stateful_executor;
using std::int32_t;
using std::int64_t;

namespace {

// ---- servers and raw commands ----

class Redis {
 public:
  explicit Redis(std::vector<const char *> args = {}) {
    args.push_back(nullptr);
    started_ = server_start(&server_, args.data()) == 0;
  }
  ~Redis() { server_stop(&server_); }
  Redis(const Redis &) = delete;
  Redis &operator=(const Redis &) = delete;

  bool started() const { return started_; }
  int port() const { return server_.port; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(server_.port); }
  void kill() { server_kill(&server_); }

  // One command on its own connection; the reply's first token ("OK", "5", bulk text, "(nil)").
  std::string cmd(const std::vector<std::string> &argv) const {
    std::vector<const char *> args;
    std::vector<size_t> lens;
    for (const std::string &a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    char reply[4096];
    char type = raw_commandv(&server_, static_cast<int>(args.size()), args.data(), lens.data(), reply, sizeof reply);
    EXPECT_NE(type, 0) << "raw command " << argv[0] << " failed";
    return reply;
  }

  long long connected_clients() const {
    std::string info = cmd({"INFO", "clients"});
    size_t at = info.find("connected_clients:");
    return at == std::string::npos ? -1 : std::atoll(info.c_str() + at + 18);
  }

 private:
  server server_{};
  bool started_ = false;
};

Redis *shared_redis = nullptr;  // most tests share one server, each in its own namespace

// The current test's namespace: "cxx-<TestName>" (a valid NS: no ':' or braces).
std::string test_ns() {
  const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string("cxx-") + info->test_suite_name() + "-" + info->name();
}

se::Executor open_on(const Redis &redis, uint32_t command_ms = 1000) {
  return se::Executor::open(se::Config::standalone(redis.url()).set_command_timeout_ms(command_ms));
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Runs a statement that must throw se::Error with `code` (and a message).
#define EXPECT_SF_ERROR(expected, stmt)                                                                           \
  do {                                                                                                       \
    try {                                                                                                    \
      (void)(stmt);                                                                                          \
      ADD_FAILURE() << #stmt " did not throw";                                                               \
    } catch (const se::Error &error_) {                                                                      \
      EXPECT_EQ(error_.status(), (expected)) << #stmt ": " << error_.status_name() << ": " << error_.what();     \
      EXPECT_STRNE(error_.what(), "") << #stmt;                                                              \
    }                                                                                                        \
  } while (0)

// A Status that must hold `code` and a message.
#define EXPECT_SF_STATUS(expected, status)                                                   \
  do {                                                                                      \
    EXPECT_EQ((status).code(), (expected)) << (status).name() << ": " << (status).message(); \
    EXPECT_STRNE((status).message(), "");                                                   \
  } while (0)

// ---- values, errors, config ----

// A null pointer for "no username/password" does not compile (std::nullopt says it).
template <class U, class P, class = void>
struct takes_master_auth : std::false_type {};
template <class U, class P>
struct takes_master_auth<U, P,
                         std::void_t<decltype(std::declval<se::Config &>().set_sentinel_master_auth(
                             std::declval<U>(), std::declval<P>()))>> : std::true_type {};
static_assert(takes_master_auth<std::nullopt_t, const char *>::value, "std::nullopt and a string");
static_assert(takes_master_auth<std::string, std::nullopt_t>::value, "a string and std::nullopt");
static_assert(!takes_master_auth<std::nullptr_t, const char *>::value, "nullptr as the username");
static_assert(!takes_master_auth<const char *, std::nullptr_t>::value, "nullptr as the password");

TEST(Basics, VersionStatusNamesAndErrorTypes) {
  EXPECT_STREQ(se::version(), SF_VERSION_STRING);
  EXPECT_STREQ(se::status_name(SF_TIMEOUT), "SF_TIMEOUT");
  EXPECT_STREQ(se::error_category().name(), "stateful_executor");
  EXPECT_EQ(se::error_category().message(SF_AUTH), "SF_AUTH");

  se::Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), SF_OK);
  EXPECT_STREQ(ok.message(), "");
  EXPECT_FALSE(ok.error_code());
  se::Status bad(SF_TIMEOUT, "slow");
  EXPECT_FALSE(bad.ok());
  EXPECT_STREQ(bad.name(), "SF_TIMEOUT");
  EXPECT_EQ(bad.error_code(), std::error_code(SF_TIMEOUT, se::error_category()));
  bad.clear();
  EXPECT_TRUE(bad.ok());
  EXPECT_STREQ(bad.message(), "");

  // A message longer than sf_error holds is cut, never inside a UTF-8 character.
  std::string long_message(SF_ERROR_MESSAGE_SIZE - 2, 'x');
  long_message += "\xc3\xa9\xc3\xa9";  // "éé": the first one straddles the limit
  se::Status cut(SF_REDIS, long_message);
  EXPECT_EQ(std::strlen(cut.message()), SF_ERROR_MESSAGE_SIZE - 2u);

  se::Error error(se::Status(SF_AUTH, "refused"));
  const std::runtime_error &as_runtime = error;
  EXPECT_STREQ(as_runtime.what(), "refused");
  EXPECT_EQ(error.status(), SF_AUTH);
  EXPECT_STREQ(error.status_name(), "SF_AUTH");
  EXPECT_EQ(error.code().value(), SF_AUTH);
  EXPECT_EQ(&error.code().category(), &se::error_category());
}

TEST(Config, FactoriesAndEverySetter) {
  se::Config cfg = se::Config::standalone("redis://127.0.0.1:1");
  ASSERT_TRUE(cfg);
  cfg.set_pool_max_size(8)
      .set_pool_min_idle(2)
      .set_connect_timeout_ms(300)
      .set_command_timeout_ms(400)
      .set_pool_wait_timeout_ms(500)
      .set_pipelining(false)
      .set_pipelining(true)
      .set_pipelining_min_in_flight(4);

  // Each setter's refusal, thrown with the library's status; the config stays usable.
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, cfg.set_pool_max_size(0));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, cfg.set_pool_min_idle(9));  // above max size 8
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, cfg.set_connect_timeout_ms(0));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, cfg.set_command_timeout_ms(0));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, cfg.set_pool_wait_timeout_ms(0));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, cfg.set_pipelining_min_in_flight(0));
  EXPECT_SF_ERROR(SF_CONFIG, cfg.set_sentinel_master_auth("user", "pw"));  // not a sentinel config
  EXPECT_SF_ERROR(SF_CONFIG, cfg.set_tls_ca_file("/nonexistent/ca.pem"));
  EXPECT_SF_ERROR(SF_CONFIG, cfg.set_tls_client_cert("/nonexistent/c.pem", "/nonexistent/k.pem"));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, cfg.set_tls_ca_file(std::string_view("a\0b", 3)));
  cfg.set_pool_max_size(16);
  EXPECT_NE(cfg.native_handle(), nullptr);

  // Factories: malformed URLs, topologies.
  EXPECT_SF_ERROR(SF_CONFIG, se::Config::standalone("ftp://nowhere"));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, se::Config::standalone(std::string_view("redis://h\0:1", 12)));
  std::vector<std::string> seeds = {"redis://127.0.0.1:7000", "redis://127.0.0.1:7001"};
  EXPECT_TRUE(se::Config::cluster(seeds));
  EXPECT_TRUE(se::Config::cluster({"redis://127.0.0.1:7000"}));
  EXPECT_SF_ERROR(SF_CONFIG, se::Config::cluster(std::vector<std::string>{}));
  EXPECT_SF_ERROR(SF_CONFIG, se::Config::cluster({"unix:///tmp/redis.sock"}));
  se::Config sentinel = se::Config::sentinel({"redis://127.0.0.1:26379"}, "mymaster");
  ASSERT_TRUE(sentinel);
  sentinel.set_sentinel_master_auth(std::nullopt, "pw").set_sentinel_master_auth("app", std::nullopt);
  sentinel.set_sentinel_master_auth(std::string("app"), std::string("pw"));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, sentinel.set_sentinel_master_auth(std::nullopt, std::string_view("p\0w", 3)));
  EXPECT_SF_ERROR(SF_CONFIG, se::Config::sentinel({"redis://127.0.0.1:26379"}, ""));
  EXPECT_SF_ERROR(SF_CONFIG, se::Config::sentinel(std::vector<std::string_view>{}, "mymaster"));

  // The non-throwing form: the same statuses, an empty config on failure.
  se::Status st;
  se::Config none = se::Config::standalone("ftp://nowhere", st);
  EXPECT_FALSE(none);
  EXPECT_SF_STATUS(SF_CONFIG, st);
  se::Config fine = se::Config::standalone("redis://127.0.0.1:1", st);
  EXPECT_TRUE(st.ok());
  // A chain keeps its first failure and skips the rest.
  fine.set_pool_max_size(0, st).set_command_timeout_ms(0, st).set_pool_wait_timeout_ms(250, st);
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);
  se::Status first;
  fine.set_pool_max_size(0, first);
  EXPECT_STREQ(st.message(), first.message());
  se::Status cluster_status;
  EXPECT_FALSE(se::Config::cluster(std::vector<std::string>{}, cluster_status));
  EXPECT_SF_STATUS(SF_CONFIG, cluster_status);
  se::Status sentinel_status;
  EXPECT_TRUE(se::Config::sentinel({"redis://127.0.0.1:26379"}, "m", sentinel_status));
  EXPECT_TRUE(sentinel_status.ok());

  // A setter on an empty config fails cleanly.
  se::Config empty;
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, empty.set_pool_max_size(4));
}

TEST(Config, MovesAndOwnership) {
  se::Config a = se::Config::standalone(shared_redis->url());
  sf_config *raw = a.native_handle();
  se::Config b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT: moved from on purpose
  EXPECT_EQ(b.native_handle(), raw);
  se::Config c;
  c = std::move(b);
  EXPECT_FALSE(b);  // NOLINT
  EXPECT_EQ(c.native_handle(), raw);
  c = se::Config::standalone(shared_redis->url());  // frees the first one
  EXPECT_NE(c.native_handle(), nullptr);
  // A moved-from config opens nothing, with a clear error.
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, se::Executor::open(a));
  // release() hands the C object over; adoption takes it back.
  sf_config *released = c.release();
  EXPECT_FALSE(c);
  se::Config adopted(released);
  se::Executor ex = se::Executor::open(adopted);
  ex.ping();
}

// ---- executor lifecycle ----

TEST(Executor, OpenPingStatsClose) {
  se::Executor ex = open_on(*shared_redis);
  ASSERT_TRUE(ex);
  ex.ping();
  se::Stats before = ex.stats();
  ex.ping();
  (void)ex.get_linked_pod(test_ns(), "u", "chat");
  se::Stats after = ex.stats();
  EXPECT_EQ(after.calls, before.calls + 2);
  EXPECT_EQ(after.failed_calls, before.failed_calls);
  EXPECT_GE(after.connects, 1u);
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.get_linked_pod(test_ns(), "u", "bad{svc}"));
  EXPECT_EQ(ex.stats().failed_calls, after.failed_calls + 1);

  ex.close();
  EXPECT_FALSE(ex);
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.ping());
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.stats());
  ex.close();  // twice: nothing
}

TEST(Executor, ClientCacheAndExtendedStats) {
  const std::string ns = test_ns();
  const std::string key = "sf:{" + ns + ":lk:u}chat";
  shared_redis->cmd({"SET", key, "3"});
  se::Config cfg = se::Config::standalone(shared_redis->url());
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, cfg.set_client_cache(100, 0));
  cfg.set_client_cache(100, 60000);
  se::Executor ex = se::Executor::open(cfg);
  for (int i = 0; i < 10; i++) EXPECT_EQ(ex.get_linked_pod(ns, "u", "chat"), std::optional<std::int32_t>(3));
  se::StatsExt stats = ex.stats_ext();
  EXPECT_EQ(stats.size, sizeof(se::StatsExt));
  EXPECT_EQ(stats.cache_misses, 1u);
  EXPECT_EQ(stats.cache_hits, 9u);
  EXPECT_EQ(stats.base.calls, 10u);
  // Another client's write reaches the cache.
  shared_redis->cmd({"SET", key, "5"});
  std::optional<std::int32_t> pod;
  for (int i = 0; i < 1000 && pod != std::optional<std::int32_t>(5); i++) {
    pod = ex.get_linked_pod(ns, "u", "chat");
    if (pod != std::optional<std::int32_t>(5)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(pod, std::optional<std::int32_t>(5));
  EXPECT_GE(ex.stats_ext().cache_invalidations, 1u);
}

TEST(Executor, OpenFailuresCarryTheirStatus) {
  // Nothing listens on a free port: SF_CONNECTION.
  std::string closed = "redis://127.0.0.1:" + std::to_string(free_port());
  EXPECT_SF_ERROR(SF_CONNECTION, se::Executor::open(se::Config::standalone(closed).set_connect_timeout_ms(500)));
  se::Status st;
  se::Executor none = se::Executor::open(se::Config::standalone(closed), st);
  EXPECT_FALSE(none);
  EXPECT_SF_STATUS(SF_CONNECTION, st);

  // A password refused: SF_AUTH, and the password never shows.
  Redis locked({"--requirepass", "s3cret-pw"});
  ASSERT_TRUE(locked.started());
  std::string wrong = "redis://:wrong-pw@127.0.0.1:" + std::to_string(locked.port());
  try {
    (void)se::Executor::open(se::Config::standalone(wrong));
    ADD_FAILURE() << "opened with a wrong password";
  } catch (const se::Error &e) {
    EXPECT_EQ(e.status(), SF_AUTH) << e.what();
    EXPECT_EQ(std::string(e.what()).find("wrong-pw"), std::string::npos) << e.what();
  }
  se::Executor right =
      se::Executor::open(se::Config::standalone("redis://:s3cret-pw@127.0.0.1:" + std::to_string(locked.port())));
  right.ping();

  // An empty config: SF_INVALID_ARGUMENT.
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, se::Executor::open(se::Config()));
}

TEST(Executor, MovesCloseExactlyOnce) {
  Redis redis;
  ASSERT_TRUE(redis.started());
  const long long idle = redis.connected_clients();  // our own raw connection
  // The server's count of clients once `done(count)` holds (the server sees a close a little
  // later), or the last count after 5 s.
  auto clients_once = [&](auto done) {
    long long deadline = now_ms() + 5000, seen = -1;
    while (!done(seen = redis.connected_clients()) && now_ms() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return seen;
  };
  se::Executor a = open_on(redis);
  a.ping();
  const long long one = redis.connected_clients();  // one executor's connections, and ours
  ASSERT_GT(one, idle);

  se::Executor b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT: moved from on purpose
  EXPECT_TRUE(b);
  b.ping();
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, a.ping());
  se::Status st;
  a.ping(st);
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);

  se::Executor c = open_on(redis);
  c.ping();
  EXPECT_GT(redis.connected_clients(), one);
  c = std::move(b);  // closes c's own executor, takes b's
  EXPECT_LE(clients_once([&](long long n) { return n <= one; }), one);
  c.ping();
  se::Executor &alias = c;
  c = std::move(alias);  // self-move: keeps it
  c.ping();

  // release() hands the C executor over; adoption closes it.
  {
    se::Executor adopted(c.release());
    EXPECT_FALSE(c);
    adopted.ping();
  }
  EXPECT_EQ(clients_once([&](long long n) { return n == idle; }), idle);
}

TEST(Executor, EmptyExecutorFailsEveryCallCleanly) {
  const se::Executor ex;
  const std::string ns = test_ns();
  se::Status st;
  auto expect_invalid = [&](const char *what) {
    EXPECT_EQ(st.code(), SF_INVALID_ARGUMENT) << what << ": " << st.message();
    st.clear();
  };
  ex.ping(st);
  expect_invalid("ping");
  se::Stats stats = ex.stats(st);
  expect_invalid("stats");
  EXPECT_EQ(stats.calls, 0u);
  ex.set_service_state(ns, "chat", 0, "Running", st);
  expect_invalid("set_service_state");
  EXPECT_TRUE(ex.get_service_state(ns, "chat", st).empty());
  expect_invalid("get_service_state");
  ex.set_workload_state(ns, "chat", "Available", st);
  expect_invalid("set_workload_state");
  EXPECT_EQ(ex.get_workload_state(ns, "chat", st), std::nullopt);
  expect_invalid("get_workload_state");
  EXPECT_TRUE(ex.get_workload_states(ns, {"chat"}, st).empty());
  expect_invalid("get_workload_states");
  EXPECT_EQ(ex.set_linked_pod(ns, "u", "chat", 1, se::persistent, st), std::nullopt);
  expect_invalid("set_linked_pod");
  EXPECT_EQ(ex.try_set_linked_pod(ns, "u", "chat", 1, se::persistent, st), (se::TrySetResult{false, se::no_pod}));
  expect_invalid("try_set_linked_pod");
  EXPECT_EQ(ex.set_linked_pod_if_absent(ns, "u", "chat", 1, se::persistent, st), se::no_pod);
  expect_invalid("set_linked_pod_if_absent");
  EXPECT_EQ(ex.get_linked_pod(ns, "u", "chat", st), std::nullopt);
  expect_invalid("get_linked_pod");
  EXPECT_EQ(ex.get_linked_pod_if_persist(ns, "u", "chat", st), std::nullopt);
  expect_invalid("get_linked_pod_if_persist");
  EXPECT_TRUE(ex.batch_get_linked_pods(ns, "chat", {"u"}, st).empty());
  expect_invalid("batch_get_linked_pods");
  EXPECT_TRUE(ex.batch_get_linked_pods_by_pod(ns, "chat", {"u"}, st).empty());
  expect_invalid("batch_get_linked_pods_by_pod");
  EXPECT_FALSE(ex.remove_linked_pod(ns, "u", "chat", -1, st));
  expect_invalid("remove_linked_pod");
  EXPECT_FALSE(ex.remove_linked_pod_with_id(ns, "u", "chat", -1, 1, st));
  expect_invalid("remove_linked_pod_with_id");
  EXPECT_TRUE(ex.get_link_services(ns, "u", st).empty());
  expect_invalid("get_link_services");
  EXPECT_EQ(ex.compute_linked_pod(ns, "u", "chat", se::persistent, {{0, 1}}, st), std::nullopt);
  expect_invalid("compute_linked_pod");
  se::Packed packed;
  ex.get_service_state_packed(ns, "chat", packed, st);
  expect_invalid("get_service_state_packed");
  ex.get_workload_states_packed(ns, {"chat"}, packed, st);
  expect_invalid("get_workload_states_packed");
  ex.get_link_services_packed(ns, "u", packed, st);
  expect_invalid("get_link_services_packed");
  EXPECT_TRUE(packed.empty());
  se::Batch batch;
  auto entry = batch.get_linked_pod(ns, "u", "chat");
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.execute_batch(batch));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, batch.get(entry));  // every entry gets the batch's status
}

// ---- states ----

TEST(States, ServiceStatesAndAbsence) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  EXPECT_TRUE(ex.get_service_state(ns, "chat").empty());  // absence: an empty map, no error
  ex.set_service_state(ns, "chat", 2, "Pending");
  ex.set_service_state(ns, "chat", 0, "Running");
  ex.set_service_state(ns, std::string("chat"), 10, std::string("Running"));
  shared_redis->cmd({"HSET", "sf:{" + ns + ":state:chat}", "not-a-pod", "x"});  // skipped when read
  const std::map<int32_t, std::string> expected = {{0, "Running"}, {2, "Pending"}, {10, "Running"}};
  EXPECT_EQ(ex.get_service_state(ns, "chat"), expected);

  se::Status st;
  EXPECT_EQ(ex.get_service_state(ns, "chat", st), expected);
  EXPECT_TRUE(st.ok());
  EXPECT_STREQ(st.message(), "");
  ex.set_service_state(ns, "chat", -1, "Running", st);
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.set_service_state(ns, "chat", 1, ""));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.get_service_state("bad:ns", "chat"));

  // Packed: the same entries, sorted by pod.
  se::Packed packed;
  ex.get_service_state_packed(ns, "chat", packed);
  std::map<int32_t, std::string> from_packed;
  for (const se::Packed::Entry &entry : packed) {
    ASSERT_TRUE(entry.text.has_value());
    from_packed.emplace(entry.key, std::string(*entry.text));
  }
  EXPECT_EQ(from_packed, expected);
  EXPECT_EQ(packed.size(), 3u);
  ex.get_service_state_packed(ns, "nothing-here", packed);
  EXPECT_TRUE(packed.empty());
  EXPECT_EQ(packed.begin(), packed.end());
}

TEST(States, WorkloadStatesInInputOrder) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  EXPECT_EQ(ex.get_workload_state(ns, "chat"), std::nullopt);
  ex.set_workload_state(ns, "chat", "Available");
  ex.set_workload_state(ns, "game:v2", "Draining");
  EXPECT_EQ(ex.get_workload_state(ns, "chat"), std::optional<std::string>("Available"));

  using States = std::vector<std::optional<std::string>>;
  const States expected = {std::string("Draining"), std::nullopt, std::string("Available"), std::string("Draining")};
  // Any range of names, or a braced list; duplicates and absences keep their places.
  std::vector<std::string> strings = {"game:v2", "absent", "chat", "game:v2"};
  std::vector<std::string_view> views(strings.begin(), strings.end());
  std::array<const char *, 4> pointers = {"game:v2", "absent", "chat", "game:v2"};
  std::list<std::string> linked(strings.begin(), strings.end());
  EXPECT_EQ(ex.get_workload_states(ns, strings), expected);
  EXPECT_EQ(ex.get_workload_states(ns, views), expected);
  EXPECT_EQ(ex.get_workload_states(ns, pointers), expected);
  EXPECT_EQ(ex.get_workload_states(ns, linked), expected);
  EXPECT_EQ(ex.get_workload_states(ns, {"game:v2", "absent", "chat", "game:v2"}), expected);
  EXPECT_TRUE(ex.get_workload_states(ns, std::vector<std::string>{}).empty());

  // More names than the stack holds (32 entries, 1 KiB): the heap path, same answer.
  std::vector<std::string> many;
  for (int i = 0; i < 300; ++i)
    many.push_back(i % 3 == 0 ? "chat" : "absent-service-with-a-long-name-" + std::to_string(i));
  States many_states = ex.get_workload_states(ns, many);
  ASSERT_EQ(many_states.size(), many.size());
  for (size_t i = 0; i < many.size(); ++i)
    EXPECT_EQ(many_states[i], i % 3 == 0 ? std::optional<std::string>("Available") : std::nullopt) << i;

  // A bad name anywhere fails the whole call.
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.get_workload_states(ns, {"chat", "bad}"}));
  se::Status st;
  std::vector<std::string> with_nul = {"chat", std::string("ch\0at", 5)};
  EXPECT_TRUE(ex.get_workload_states(ns, with_nul, st).empty());
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);
  EXPECT_NE(std::string(st.message()).find("services[1]"), std::string::npos) << st.message();

  // Packed: key = index in the input, absent text where none.
  se::Packed packed;
  ex.get_workload_states_packed(ns, strings, packed);
  States from_packed;
  int32_t index = 0;
  for (const auto &entry : packed) {
    EXPECT_EQ(entry.key, index++);
    from_packed.push_back(entry.text ? std::optional<std::string>(*entry.text) : std::nullopt);
  }
  EXPECT_EQ(from_packed, expected);
}

TEST(States, NulBytesAreRefusedAndNothingIsSent) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  const std::string dbsize = shared_redis->cmd({"DBSIZE"});
  const uint64_t calls = ex.stats().calls;
  const std::string_view nul_state("Run\0ning", 8);
  const std::string_view nul_name("ch\0at", 5);
  try {
    ex.set_service_state(ns, "chat", 0, nul_state);
    ADD_FAILURE() << "a state with a NUL byte was accepted";
  } catch (const se::Error &e) {
    EXPECT_EQ(e.status(), SF_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(e.what()), "state holds a NUL byte, which a C string cannot carry");
  }
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.set_workload_state(ns, nul_name, "Available"));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.set_linked_pod(std::string_view("n\0s", 3), "u", "chat", 1, -1));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.set_linked_pod_if_absent(ns, std::string_view("u\0", 2), "chat", 1, -1));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.compute_linked_pod(ns, "u", nul_name, -1, {{1, 0}}));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.batch_get_linked_pods(ns, "chat", {"a", std::string_view("b\0", 2)}));
  // Refused before the library: not even counted as a call, and Redis untouched.
  EXPECT_EQ(ex.stats().calls, calls);
  EXPECT_EQ(shared_redis->cmd({"DBSIZE"}), dbsize);
}

// ---- links ----

TEST(Links, EveryLinkOperation) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  const std::string link_key = "sf:{" + ns + ":lk:u1}chat";

  EXPECT_EQ(ex.get_linked_pod(ns, "u1", "chat"), std::nullopt);
  EXPECT_EQ(ex.set_linked_pod(ns, "u1", "chat", 3, se::persistent), std::nullopt);  // no previous
  EXPECT_EQ(ex.set_linked_pod(ns, "u1", "chat", 4, se::persistent), 3);              // previous 3
  EXPECT_EQ(ex.get_linked_pod(ns, "u1", "chat"), 4);
  EXPECT_EQ(ex.get_linked_pod_if_persist(ns, "u1", "chat"), 4);
  EXPECT_EQ(shared_redis->cmd({"TTL", link_key}), "-1");

  // A persistent link to another pod refuses try_set; to the same pod it is written.
  EXPECT_EQ(ex.try_set_linked_pod(ns, "u1", "chat", 5, 600), (se::TrySetResult{false, 4}));
  EXPECT_EQ(ex.try_set_linked_pod(ns, "u1", "chat", 4, 600), (se::TrySetResult{true, 4}));
  // Now temporary: not "if persist", with a TTL, and try_set overwrites it.
  EXPECT_EQ(ex.get_linked_pod_if_persist(ns, "u1", "chat"), std::nullopt);
  EXPECT_GT(std::stoi(shared_redis->cmd({"TTL", link_key})), 500);
  EXPECT_EQ(ex.try_set_linked_pod(ns, "u1", "chat", 6, se::persistent), (se::TrySetResult{true, 6}));

  // if_absent: the existing link wins; without one, the given pod.
  EXPECT_EQ(ex.set_linked_pod_if_absent(ns, "u1", "chat", 9, se::persistent), 6);
  EXPECT_EQ(ex.set_linked_pod_if_absent(ns, "u2", "chat", 9, 120), 9);
  EXPECT_EQ(ex.get_linked_pod(ns, "u2", "chat"), 9);

  // Link services: the persistent links only.
  ex.set_linked_pod(ns, "u1", "game:v2", 1, se::persistent);
  ex.set_linked_pod(ns, "u1", "temp", 2, 60);
  const std::map<std::string, int32_t> links = {{"chat", 6}, {"game:v2", 1}};
  EXPECT_EQ(ex.get_link_services(ns, "u1"), links);
  EXPECT_TRUE(ex.get_link_services(ns, "nobody").empty());
  se::Packed packed;
  ex.get_link_services_packed(ns, "u1", packed);
  std::map<std::string, int32_t> from_packed;
  for (const auto &entry : packed) from_packed.emplace(std::string(entry.text.value()), entry.key);
  EXPECT_EQ(from_packed, links);

  // Removes: with an id only when it matches; a grace period keeps a temporary link.
  EXPECT_FALSE(ex.remove_linked_pod_with_id(ns, "u1", "chat", -1, 7));
  EXPECT_EQ(ex.get_linked_pod(ns, "u1", "chat"), 6);
  EXPECT_TRUE(ex.remove_linked_pod_with_id(ns, "u1", "chat", 30, 6));
  EXPECT_EQ(ex.get_linked_pod(ns, "u1", "chat"), 6);  // for the grace period
  EXPECT_EQ(ex.get_linked_pod_if_persist(ns, "u1", "chat"), std::nullopt);
  EXPECT_TRUE(ex.remove_linked_pod(ns, "u1", "chat", 0));
  EXPECT_EQ(ex.get_linked_pod(ns, "u1", "chat"), std::nullopt);
  EXPECT_FALSE(ex.remove_linked_pod(ns, "u1", "chat", -1));

  // Argument rules come from the library, in both forms.
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.set_linked_pod(ns, "u1", "chat", -2, se::persistent));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.set_linked_pod(ns, "u1", "chat", 1, 0));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.remove_linked_pod(ns, "u1", "chat", -2));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.get_linked_pod(ns, "u{1}", "chat"));
  se::Status st;
  EXPECT_EQ(ex.set_linked_pod(ns, "u1", "chat", 1, 0, st), std::nullopt);
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);
  EXPECT_EQ(ex.get_linked_pod(ns, "u2", "chat", st), 9);
  EXPECT_TRUE(st.ok());
}

TEST(Links, BatchReadsInInputOrderAndGrouped) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  ex.set_linked_pod(ns, "a", "chat", 1, se::persistent);
  ex.set_linked_pod(ns, "b", "chat", 0, 60);
  ex.set_linked_pod(ns, "d", "chat", 1, se::persistent);
  std::vector<std::string> uids = {"a", "b", "c", "d", "a"};
  const std::vector<std::optional<int32_t>> expected = {1, 0, std::nullopt, 1, 1};
  EXPECT_EQ(ex.batch_get_linked_pods(ns, "chat", uids), expected);
  EXPECT_EQ(ex.batch_get_linked_pods(ns, "chat", {"a", "b", "c", "d", "a"}), expected);
  EXPECT_TRUE(ex.batch_get_linked_pods(ns, "chat", std::vector<std::string>{}).empty());
  const std::map<int32_t, std::vector<std::string>> grouped = {{0, {"b"}}, {1, {"a", "d", "a"}}};
  EXPECT_EQ(ex.batch_get_linked_pods_by_pod(ns, "chat", uids), grouped);
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.batch_get_linked_pods(ns, "chat", {"a", ""}));
  se::Status st;
  EXPECT_TRUE(ex.batch_get_linked_pods_by_pod(ns, "chat", {"a", "b}"}, st).empty());
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);
}

TEST(Links, ComputeLinkedPodTakesAnyCandidateView) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  // No link, no candidates: none, nothing written.
  EXPECT_EQ(ex.compute_linked_pod(ns, "u0", "chat", se::persistent, {}), std::nullopt);
  EXPECT_EQ(ex.get_linked_pod(ns, "u0", "chat"), std::nullopt);

  // The least loaded (ties: lowest pod), through every view.
  std::vector<se::Candidate> vec = {{0, 5}, {1, 2}, {2, 2}};
  EXPECT_EQ(ex.compute_linked_pod(ns, "u1", "chat", se::persistent, vec), 1);
  std::array<se::Candidate, 2> arr = {{{3, 9}, {4, 1}}};
  EXPECT_EQ(ex.compute_linked_pod(ns, "u2", "chat", se::persistent, arr), 4);
  se::Candidate c_array[2] = {{5, 1}, {6, 0}};
  EXPECT_EQ(ex.compute_linked_pod(ns, "u3", "chat", 60, c_array), 6);
  EXPECT_EQ(ex.compute_linked_pod(ns, "u4", "chat", 60, se::Candidates(c_array, 1)), 5);
  EXPECT_EQ(ex.compute_linked_pod(ns, "u5", "chat", 60, {{7, 3}, {8, -1}}), 8);
  const int32_t pods[3] = {9, 10, 11};
  const int64_t loads[3] = {4, 4, 3};
  EXPECT_EQ(ex.compute_linked_pod(ns, "u6", "chat", 60, {pods, loads, 3}), 11);
  // More candidates than the stack holds: the heap path.
  std::vector<se::Candidate> many;
  for (int32_t pod = 0; pod < 500; ++pod) many.push_back({pod, 1000 - (pod % 250)});
  EXPECT_EQ(ex.compute_linked_pod(ns, "u7", "chat", 60, many), 249);

  // An existing link wins over any candidate.
  EXPECT_EQ(ex.compute_linked_pod(ns, "u1", "chat", se::persistent, {{0, -100}}), 1);
  EXPECT_EQ(ex.compute_linked_pod(ns, "u1", "chat", se::persistent, {}), 1);
  EXPECT_EQ(ex.get_linked_pod_if_persist(ns, "u3", "chat"), std::nullopt);  // temporary

  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.compute_linked_pod(ns, "u8", "chat", se::persistent, {{-3, 0}}));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.compute_linked_pod(ns, "u8", "chat", 0, {{1, 0}}));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.compute_linked_pod(ns, "u8", "chat", 60, se::Candidates(nullptr, nullptr,
                                                                                                  2)));
  EXPECT_EQ(ex.get_linked_pod(ns, "u8", "chat"), std::nullopt);
}

TEST(Links, LongArgumentsTakeTheHeapPath) {
  se::Executor ex = open_on(*shared_redis);
  // 200 + 512 + 253 bytes with their NULs exceed the 1 KiB kept on the stack.
  const std::string ns = test_ns() + std::string(200 - test_ns().size(), 'n');
  const std::string uid(512, 'u');
  const std::string service(253, 's');
  EXPECT_EQ(ex.set_linked_pod(ns, uid, service, 7, se::persistent), std::nullopt);
  EXPECT_EQ(ex.get_linked_pod(ns, uid, service), 7);
  EXPECT_EQ(ex.get_link_services(ns, uid), (std::map<std::string, int32_t>{{service, 7}}));
  const std::string state(4096, 'x');
  ex.set_workload_state(ns, service, state);
  EXPECT_EQ(ex.get_workload_state(ns, service), state);
  // One byte more than the rules allow: the library's own refusal.
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.get_linked_pod(ns, uid + "u", service));
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.set_workload_state(ns, service, state + "x"));
}

TEST(Links, TouchLinkedPod) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  const std::string key = "sf:{" + ns + ":lk:u1}chat";
  EXPECT_FALSE(ex.touch_linked_pod(ns, "u1", "chat", 3, 60));  // no link: nothing
  EXPECT_EQ(shared_redis->cmd({"EXISTS", key}), "0");
  ex.set_linked_pod(ns, "u1", "chat", 3, 10);
  EXPECT_FALSE(ex.touch_linked_pod(ns, "u1", "chat", 4, 600));  // another pod: left alone
  EXPECT_LE(std::stoi(shared_redis->cmd({"TTL", key})), 10);
  EXPECT_TRUE(ex.touch_linked_pod(ns, "u1", "chat", 3, 600));
  EXPECT_GT(std::stoi(shared_redis->cmd({"TTL", key})), 500);
  ex.set_linked_pod(ns, "u2", "chat", 1, se::persistent);
  EXPECT_TRUE(ex.touch_linked_pod(ns, "u2", "chat", 1, 600));  // persistent: stays so
  EXPECT_EQ(ex.get_linked_pod_if_persist(ns, "u2", "chat"), 1);
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, ex.touch_linked_pod(ns, "u1", "chat", 3, -1));
  se::Status st;
  EXPECT_FALSE(ex.touch_linked_pod(ns, "u1", "chat", -1, 60, st));
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);

  se::Batch batch;
  auto touched = batch.touch_linked_pod(ns, "u1", "chat", 3, 900);
  auto missed = batch.touch_linked_pod(ns, "u1", "chat", 4, 900);
  ex.execute_batch(batch);
  EXPECT_TRUE(batch.get(touched));
  EXPECT_FALSE(batch.get(missed));
  EXPECT_GT(std::stoi(shared_redis->cmd({"TTL", key})), 800);
}

// ---- each status a caller can provoke ----

TEST(Errors, UnexpectedReplyOnCorruptData) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  shared_redis->cmd({"SET", "sf:{" + ns + ":lk:u1}chat", "not-a-pod"});
  EXPECT_SF_ERROR(SF_UNEXPECTED_REPLY, ex.get_linked_pod(ns, "u1", "chat"));
  EXPECT_SF_ERROR(SF_UNEXPECTED_REPLY, ex.set_linked_pod(ns, "u1", "chat", 1, se::persistent));
  EXPECT_SF_ERROR(SF_UNEXPECTED_REPLY, ex.batch_get_linked_pods(ns, "chat", {"u0", "u1"}));
  se::Status st;
  EXPECT_EQ(ex.get_linked_pod(ns, "u1", "chat", st), std::nullopt);
  EXPECT_SF_STATUS(SF_UNEXPECTED_REPLY, st);
  // The thrown message is the library's, exactly as the Status carries it.
  try {
    (void)ex.get_linked_pod(ns, "u1", "chat");
  } catch (const se::Error &e) {
    EXPECT_STREQ(e.what(), st.message());
  }
  shared_redis->cmd({"HSET", "sf:{" + ns + ":lk:u2}", "chat", "x"});
  EXPECT_SF_ERROR(SF_UNEXPECTED_REPLY, ex.get_link_services(ns, "u2"));
}

TEST(Errors, ConnectionLost) {
  Redis redis;
  ASSERT_TRUE(redis.started());
  se::Executor ex = se::Executor::open(
      se::Config::standalone(redis.url()).set_connect_timeout_ms(300).set_pool_wait_timeout_ms(200));
  ex.ping();
  redis.kill();
  EXPECT_SF_ERROR(SF_CONNECTION, ex.ping());
  EXPECT_SF_ERROR(SF_CONNECTION, ex.get_workload_state("ns", "chat"));
  se::Status st;
  ex.set_linked_pod("ns", "u", "chat", 1, se::persistent, st);
  EXPECT_SF_STATUS(SF_CONNECTION, st);
}

TEST(Errors, CommandTimeout) {
  Redis redis;
  ASSERT_TRUE(redis.started());
  se::Executor ex = open_on(redis, 200);
  ex.ping();  // a pooled connection, ready before the pause
  redis.cmd({"CLIENT", "PAUSE", "700", "ALL"});
  const long long started = now_ms();
  EXPECT_SF_ERROR(SF_TIMEOUT, ex.ping());
  while (now_ms() - started < 800) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ex.ping();  // works again
}

TEST(Errors, PoolTimeout) {
  Redis redis;
  ASSERT_TRUE(redis.started());
  // One connection, held by a call the pause stalls; the other waits 200 ms for it.
  se::Executor ex = se::Executor::open(se::Config::standalone(redis.url())
                                           .set_pool_max_size(1)
                                           .set_pipelining(false)
                                           .set_command_timeout_ms(5000)
                                           .set_pool_wait_timeout_ms(200));
  ex.ping();
  redis.cmd({"CLIENT", "PAUSE", "800", "ALL"});
  const long long started = now_ms();
  se::Status statuses[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i) threads[i] = std::thread([&, i] { ex.ping(statuses[i]); });
  for (std::thread &t : threads) t.join();
  int ok = 0, pool_timeouts = 0;
  for (const se::Status &st : statuses) {
    ok += st.ok();
    pool_timeouts += st.code() == SF_POOL_TIMEOUT && st.message()[0] != '\0';
  }
  EXPECT_EQ(ok, 1) << statuses[0].message() << " / " << statuses[1].message();
  EXPECT_EQ(pool_timeouts, 1);
  EXPECT_GE(ex.stats().pool_timeouts, 1u);
  while (now_ms() - started < 900) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

TEST(Errors, RedisErrorWhenOutOfMemory) {
  Redis redis({"--maxmemory-policy", "noeviction"});
  ASSERT_TRUE(redis.started());
  se::Executor ex = open_on(redis);
  redis.cmd({"CONFIG", "SET", "maxmemory", "1"});
  try {
    ex.set_workload_state("ns", "chat", "Available");
    ADD_FAILURE() << "a write succeeded out of memory";
  } catch (const se::Error &e) {
    EXPECT_EQ(e.status(), SF_REDIS) << e.what();
    EXPECT_NE(std::string(e.what()).find("OOM"), std::string::npos) << e.what();
  }
  EXPECT_SF_ERROR(SF_REDIS, ex.set_linked_pod("ns", "u", "chat", 1, se::persistent));
  EXPECT_EQ(ex.get_workload_state("ns", "chat"), std::nullopt);  // reads still work
  redis.cmd({"CONFIG", "SET", "maxmemory", "0"});
  ex.set_workload_state("ns", "chat", "Available");
}

// ---- batches ----

TEST(Batch, EveryKindWithItsOwnOutcome) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  ex.set_linked_pod(ns, "old", "chat", 4, se::persistent);
  ex.set_linked_pod(ns, "gone", "chat", 2, se::persistent);
  ex.set_workload_state(ns, "game", "Ready");
  ex.set_service_state(ns, "game", 1, "Running");

  se::Batch batch;
  EXPECT_TRUE(batch.empty());
  auto set_state = batch.set_service_state(ns, "chat", 0, "Running");
  auto get_states = batch.get_service_state(ns, "game");
  auto set_workload = batch.set_workload_state(ns, "chat", "Available");
  auto get_workload = batch.get_workload_state(ns, "game");
  auto get_absent = batch.get_workload_state(ns, "absent");
  auto set_link = batch.set_linked_pod(ns, "old", "chat", 5, se::persistent);
  auto try_set = batch.try_set_linked_pod(ns, "new", "chat", 3, 60);
  auto if_absent = batch.set_linked_pod_if_absent(ns, "other", "chat", 6, se::persistent);
  auto get_link = batch.get_linked_pod(ns, "gone", "chat");
  auto if_persist = batch.get_linked_pod_if_persist(ns, "nobody", "chat");
  auto remove = batch.remove_linked_pod(ns, "nobody", "chat", -1);
  auto remove_id = batch.remove_linked_pod_with_id(ns, "gone", "chat", -1, 9);
  auto services = batch.get_link_services(ns, "gone");
  auto bad_pod = batch.set_linked_pod(ns, "x", "chat", -5, se::persistent);
  auto nul_uid = batch.get_linked_pod(ns, std::string_view("x\0y", 3), "chat");
  EXPECT_EQ(batch.size(), 15u);
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, batch.get(get_link));  // not executed yet

  ex.execute_batch(batch);
  EXPECT_TRUE(batch.executed());
  batch.get(set_state);
  batch.get(set_workload);
  EXPECT_EQ(batch.get(get_states), (std::map<int32_t, std::string>{{1, "Running"}}));
  EXPECT_EQ(batch.get(get_workload), std::optional<std::string>("Ready"));
  EXPECT_EQ(batch.get(get_absent), std::nullopt);
  EXPECT_EQ(batch.get(set_link), 4);
  EXPECT_EQ(batch.get(try_set), (se::TrySetResult{true, 3}));
  EXPECT_EQ(batch.get(if_absent), 6);
  EXPECT_EQ(batch.get(get_link), 2);
  EXPECT_EQ(batch.get(if_persist), std::nullopt);
  EXPECT_FALSE(batch.get(remove));
  EXPECT_FALSE(batch.get(remove_id));
  EXPECT_EQ(batch.get(services), (std::map<std::string, int32_t>{{"chat", 2}}));
  EXPECT_TRUE(batch.status(get_link).ok());
  // Bad entries fail alone.
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, batch.get(bad_pod));
  se::Status st;
  EXPECT_EQ(batch.get(nul_uid, st), std::nullopt);
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);
  EXPECT_STREQ(st.message(), "uid holds a NUL byte, which a C string cannot carry");
  EXPECT_EQ(batch.status(bad_pod).code(), SF_INVALID_ARGUMENT);
  EXPECT_EQ(batch.status(99).code(), SF_INVALID_ARGUMENT);
  // The effects are there.
  EXPECT_EQ(ex.get_service_state(ns, "chat"), (std::map<int32_t, std::string>{{0, "Running"}}));
  EXPECT_EQ(ex.get_linked_pod(ns, "old", "chat"), 5);
  EXPECT_EQ(ex.get_linked_pod(ns, "x", "chat"), std::nullopt);
  EXPECT_EQ(batch.native()[get_link.index()].out_pod, 2);

  // A handle used on a batch where its index holds another kind is refused, not misread.
  se::Batch other;
  (void)other.get_link_services(ns, "gone");
  ex.execute_batch(other);
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, other.get(set_state));  // index 0: another kind
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, other.get(get_link));   // index 8: out of range

  // Run again: every entry runs again; then grow it and clear it for reuse.
  ex.execute_batch(batch);
  EXPECT_EQ(batch.get(set_link), 5);
  EXPECT_EQ(batch.get(try_set), (se::TrySetResult{true, 3}));
  auto later = batch.get_linked_pod(ns, "old", "chat");
  EXPECT_FALSE(batch.executed());  // growing discards the outcomes
  EXPECT_SF_ERROR(SF_INVALID_ARGUMENT, batch.get(set_link));
  ex.execute_batch(batch);
  EXPECT_EQ(batch.get(later), 5);
  batch.clear();
  EXPECT_TRUE(batch.empty());
  auto again = batch.get_workload_state(ns, "chat");
  se::Batch moved(std::move(batch));
  EXPECT_TRUE(batch.empty());  // NOLINT: moved from on purpose
  ex.execute_batch(moved);
  EXPECT_EQ(moved.get(again), std::optional<std::string>("Available"));
  se::Batch assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.get(again), std::optional<std::string>("Available"));

  // An empty batch runs and does nothing.
  se::Batch nothing;
  ex.execute_batch(nothing);
  EXPECT_TRUE(nothing.executed());
}

// ---- packed buffers ----

TEST(Packed, AReusedPackedStopsAllocating) {
  se::Executor ex = open_on(*shared_redis);
  const std::string ns = test_ns();
  for (int32_t pod = 0; pod < 20; ++pod) ex.set_service_state(ns, "chat", pod, std::string(100, 'a' + pod % 26));
  se::Packed packed;
  EXPECT_EQ(packed.capacity(), 0u);
  ex.get_service_state_packed(ns, "chat", packed);
  EXPECT_NE(packed.native().allocated, nullptr);  // did not fit: the library's block
  EXPECT_GE(packed.capacity(), packed.native().size);  // ... and the buffer grew for next time
  ex.get_service_state_packed(ns, "chat", packed);
  EXPECT_EQ(packed.native().allocated, nullptr);  // fits now: no allocation
  EXPECT_EQ(packed.size(), 20u);
  int32_t expected_pod = 0;
  for (auto it = packed.begin(); it != packed.end(); it++) {
    EXPECT_EQ(it->key, expected_pod);
    EXPECT_EQ(it->text, std::string(100, 'a' + expected_pod % 26));
    ++expected_pod;
  }
  EXPECT_EQ(expected_pod, 20);

  se::Packed moved(std::move(packed));
  EXPECT_EQ(moved.size(), 20u);
  EXPECT_TRUE(packed.empty());  // NOLINT: moved from on purpose
  se::Packed reserved(1 << 16);
  EXPECT_EQ(reserved.capacity(), 1u << 16);
  ex.get_link_services_packed(ns, "nobody", reserved);
  EXPECT_TRUE(reserved.empty());
  reserved = std::move(moved);
  EXPECT_EQ(reserved.size(), 20u);
  reserved.clear();
  EXPECT_TRUE(reserved.empty());
  // A failed read leaves it empty.
  se::Status st;
  ex.get_service_state_packed("bad:ns", "chat", reserved, st);
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);
  EXPECT_TRUE(reserved.empty());
}

// ---- logging ----

struct Records {
  std::mutex mutex;
  std::vector<std::string> targets;
  int debug = 0;
};

TEST(Logger, AnyCallableReceivesRecordsAndIsDestroyedWhenReplaced) {
  se::Executor ex = open_on(*shared_redis);
  auto records = std::make_shared<Records>();
  std::weak_ptr<Records> watch = records;
  se::set_logger(
      [records](se::LogLevel level, std::string_view target, std::string_view message) {
        std::lock_guard<std::mutex> lock(records->mutex);
        records->targets.emplace_back(target);
        if (level == se::LogLevel::debug && !message.empty()) records->debug++;
      },
      se::LogLevel::debug);
  records.reset();  // the library's copy keeps it alive
  ASSERT_FALSE(watch.expired());
  ex.set_workload_state(test_ns(), "chat", "Available");
  (void)ex.get_workload_state(test_ns(), "chat");
  {
    auto alive = watch.lock();
    std::lock_guard<std::mutex> lock(alive->mutex);
    EXPECT_GE(alive->debug, 2);  // a DEBUG record per operation
    ASSERT_FALSE(alive->targets.empty());
    EXPECT_EQ(alive->targets.front().rfind("stateful_executor", 0), 0u) << alive->targets.front();
  }

  // A std::function replaces it: the lambda (and what it holds) is destroyed.
  std::atomic<int> calls{0};
  std::function<void(se::LogLevel, std::string_view, std::string_view)> fn =
      [&calls](se::LogLevel, std::string_view, std::string_view) { calls++; };
  se::set_logger(fn, se::LogLevel::debug);
  EXPECT_TRUE(watch.expired());
  ex.ping();
  EXPECT_GT(calls.load(), 0);

  // An exception from the callable is dropped with the record; calls go on.
  std::atomic<int> thrown{0};
  se::set_logger(
      [&thrown](se::LogLevel, std::string_view, std::string_view) {
        thrown++;
        throw std::runtime_error("from the logger");
      },
      se::LogLevel::debug);
  ex.ping();
  ex.set_workload_state(test_ns(), "chat", "Draining");
  EXPECT_GT(thrown.load(), 0);

  // set_logger from inside the callable fails there (instead of waiting for itself).
  std::atomic<sf_status> inner{SF_OK};
  se::set_logger(
      [&inner](se::LogLevel, std::string_view, std::string_view) {
        se::Status st;
        se::clear_logger(st);
        inner = st.code();
      },
      se::LogLevel::debug);
  ex.ping();
  EXPECT_EQ(inner.load(), SF_INVALID_ARGUMENT);

  // A plain function, then off.
  struct Plain {
    static void log(se::LogLevel, std::string_view, std::string_view) {}
  };
  se::set_logger(&Plain::log);
  se::Status st;
  se::set_logger(Plain::log, static_cast<se::LogLevel>(42), st);
  EXPECT_SF_STATUS(SF_INVALID_ARGUMENT, st);
  se::clear_logger();
  const int before = calls.load();
  ex.ping();
  EXPECT_EQ(calls.load(), before);
}

// ---- one executor, 16 threads ----

TEST(Threads, SixteenThreadsShareOneExecutorByReference) {
  constexpr int threads = 16;
  constexpr int rounds = 20;
  se::Executor shared = open_on(*shared_redis, 5000);
  const se::Executor &ex = shared;
  const std::string ns = test_ns();
  ex.set_service_state(ns, "chat", 0, "Running");
  std::atomic<int> failures{0};
  std::vector<int32_t> winners(threads * rounds, se::no_pod);
  std::vector<std::thread> pool;
  auto fail = [&](int t, int r, const std::string &what) {
    failures++;
    ADD_FAILURE() << "thread " << t << " round " << r << ": " << what;
  };
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      se::Packed packed;
      se::Batch batch;
      for (int r = 0; r < rounds; ++r) {
        const std::string uid = "t" + std::to_string(t) + "-r" + std::to_string(r);
        try {
          // Every thread races for the same uid of the round: one pod wins for all.
          winners[t * rounds + r] = ex.set_linked_pod_if_absent(ns, "race-" + std::to_string(r), "chat", t, 60);
          // Its own uid: written, read back, removed.
          if (ex.set_linked_pod(ns, uid, "chat", t, se::persistent) != std::nullopt) fail(t, r, "previous link");
          if (ex.get_linked_pod(ns, uid, "chat") != t) fail(t, r, "read back");
          if (ex.get_link_services(ns, uid) != std::map<std::string, int32_t>{{"chat", t}}) fail(t, r, "services");
          ex.get_service_state_packed(ns, "chat", packed);
          if (packed.size() != 1) fail(t, r, "packed");
          batch.clear();
          auto a = batch.get_linked_pod(ns, uid, "chat");
          auto b = batch.remove_linked_pod(ns, uid, "chat", -1);
          ex.execute_batch(batch);
          if (batch.get(a) != t || !batch.get(b)) fail(t, r, "batch");
          if (ex.get_linked_pod(ns, uid, "chat") != std::nullopt) fail(t, r, "removed");
          // Errors are per call: a bad call on one thread fails only there.
          try {
            (void)ex.get_linked_pod(ns, uid, "bad}");
            fail(t, r, "bad service accepted");
          } catch (const se::Error &e) {
            if (e.status() != SF_INVALID_ARGUMENT) fail(t, r, e.what());
          }
          se::Status st;
          if (ex.get_workload_state(ns, "chat", st) != std::nullopt || !st.ok()) fail(t, r, st.message());
          (void)ex.stats();
        } catch (const se::Error &e) {
          fail(t, r, std::string(e.status_name()) + ": " + e.what());
        }
      }
    });
  }
  for (std::thread &thread : pool) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (int r = 0; r < rounds; ++r) {
    const int32_t pod = winners[r];
    EXPECT_GE(pod, 0);
    for (int t = 0; t < threads; ++t) EXPECT_EQ(winners[t * rounds + r], pod) << "round " << r << " thread " << t;
    EXPECT_EQ(ex.get_linked_pod(ns, "race-" + std::to_string(r), "chat"), pod);
  }
}

}  // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::atexit(servers_stop_all);
  std::printf("C++ API tests, stateful-executor %s\n", se::version());
  Redis redis;
  if (!redis.started()) {
    std::printf("cannot start redis-server\n");
    return 1;
  }
  shared_redis = &redis;
  int code = RUN_ALL_TESTS();
  shared_redis = nullptr;
  return code;
}
