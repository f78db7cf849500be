// A gateway in front of a stateful chat service, in C++17 through stateful_executor.hpp, against
// the Redis at $REDIS_URL: the scenario of the C demo (examples-c/demo.c), with the same output.
//
// Pods publish their states, users are linked to the least-loaded running pod, reconnects
// stick, a pod drains and its users are released with a grace period, and a batch lookup shows
// where everyone is. The library's warnings go to stderr through set_logger, and the executor's
// statistics are printed at the end. Run with `make demo-cpp`.
#include <stateful_executor.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace se = stateful_executor;

namespace {

constexpr std::string_view ns = "demo";
constexpr std::string_view service = "chat";
// The connected users; user-7 arrives later.
const std::vector<std::string> users = {"user-1", "user-2", "user-3", "user-4", "user-5", "user-6"};

std::string show(std::optional<std::int32_t> pod) { return pod ? std::to_string(*pod) : "none"; }

// Candidates for a new user: the running pods, loaded by how many connected users each serves.
std::vector<se::Candidate> running_candidates(const se::Executor &ex) {
  const std::map<std::int32_t, std::string> states = ex.get_service_state(ns, service);
  const std::vector<std::optional<std::int32_t>> placed = ex.batch_get_linked_pods(ns, service, users);
  std::vector<se::Candidate> candidates;
  for (const auto &[pod, state] : states) {
    if (state != "Running") continue;
    std::int64_t load = 0;
    for (const auto &user_pod : placed) load += user_pod == pod;
    candidates.push_back({pod, load});
  }
  return candidates;
}

void run(const std::string &url) {
  // The library's log records (retries, reloaded scripts, dropped connections) on stderr; the
  // callable may be called from the library's threads at the same time.
  se::set_logger(
      [](se::LogLevel level, std::string_view target, std::string_view message) {
        static const char *const names[] = {"?", "error", "warn", "info", "debug", "trace"};
        const auto index = static_cast<std::size_t>(level);
        std::cerr << "[" << names[index <= 5 ? index : 0] << "] " << target << ": " << message << "\n";
      },
      se::LogLevel::warn);

  const se::Executor ex = se::Executor::open(se::Config::standalone(url));
  ex.ping();
  std::cout << "== gateway connected (stateful-executor " << se::version() << ")\n";
  {
    // Start from a clean slate when run twice against the same Redis: independent removals,
    // one round trip.
    se::Batch cleanup;
    std::vector<se::Batch::Entry<bool>> removals;
    for (const std::string &user : users) removals.push_back(cleanup.remove_linked_pod(ns, user, service, -1));
    removals.push_back(cleanup.remove_linked_pod(ns, "user-7", service, -1));
    ex.execute_batch(cleanup);
    for (const auto &removal : removals) (void)cleanup.get(removal);  // throws if one failed
  }

  std::cout << "\n== pods of " << ns << "/" << service << " publish their states\n";
  for (std::int32_t pod = 0; pod < 3; ++pod) ex.set_service_state(ns, service, pod, "Running");
  ex.set_workload_state(ns, service, "Available");
  for (const auto &[pod, state] : ex.get_service_state(ns, service))
    std::cout << "   pod " << pod << ": " << state << "\n";
  std::cout << "   workload: " << ex.get_workload_state(ns, service).value_or("") << "\n";

  std::cout << "\n== users connect and go to the least-loaded running pod\n";
  for (const std::string &user : users) {
    const auto pod = ex.compute_linked_pod(ns, user, service, se::persistent, running_candidates(ex));
    std::cout << "   " << user << " -> pod " << show(pod) << "\n";
  }

  std::cout << "\n== user-1 reconnects: the link sticks\n";
  const auto again = ex.compute_linked_pod(ns, "user-1", service, se::persistent, running_candidates(ex));
  std::cout << "   user-1 -> pod " << show(again) << " (unchanged)\n";
  std::cout << "   user-1's persistent links:";
  for (const auto &[linked_service, pod] : ex.get_link_services(ns, "user-1"))
    std::cout << " " << linked_service << " -> pod " << pod;
  std::cout << "\n";

  std::cout << "\n== pod 2 drains: its users are released with a 30 s grace period\n";
  ex.set_service_state(ns, service, 2, "Draining");
  const auto placed = ex.batch_get_linked_pods(ns, service, users);
  for (std::size_t i = 0; i < users.size(); ++i) {
    if (placed[i] != 2) continue;
    const bool released = ex.remove_linked_pod_with_id(ns, users[i], service, 30, 2);
    const auto now = ex.get_linked_pod(ns, users[i], service);
    const auto persistent = ex.get_linked_pod_if_persist(ns, users[i], service);
    std::cout << "   " << users[i] << ": released=" << (released ? "true" : "false") << "; still on pod "
              << show(now) << " for the grace period, persistent now: " << show(persistent) << "\n";
  }

  std::cout << "\n== a new user cannot land on the draining pod\n";
  const auto newcomer = ex.compute_linked_pod(ns, "user-7", service, 600, running_candidates(ex));
  std::cout << "   user-7 -> pod " << show(newcomer) << " (temporary link, 600 s)\n";

  std::cout << "\n== another gateway tries to move user-1, but its persistent link wins\n";
  const se::TrySetResult moved = ex.try_set_linked_pod(ns, "user-1", service, 1, se::persistent);
  std::cout << "   linked=" << (moved.linked ? "true" : "false") << " current pod " << moved.current << "\n";

  std::cout << "\n== batch lookup of every user\n";
  std::vector<std::string> everyone = users;
  everyone.push_back("user-7");
  // Grouped by pod, in pod order, users in input order (a user without a link is left out).
  for (const auto &[pod, on_pod] : ex.batch_get_linked_pods_by_pod(ns, service, everyone)) {
    std::cout << "   pod " << pod << ": ";
    for (std::size_t i = 0; i < on_pod.size(); ++i) std::cout << (i > 0 ? ", " : "") << on_pod[i];
    std::cout << "\n";
  }

  const se::Stats stats = ex.stats();
  std::cout << "\n== statistics: " << stats.calls << " calls, " << stats.failed_calls << " failed, " << stats.retries
            << " retried, " << stats.connections << " connections (" << stats.idle_connections << " idle)\n";
  std::cout << "\ndone\n";
}

}  // namespace

int main() {
  const char *url = std::getenv("REDIS_URL");
  try {
    run(url != nullptr && url[0] != '\0' ? url : "redis://127.0.0.1:6379");
    se::clear_logger();
    return EXIT_SUCCESS;
  } catch (const se::Error &e) {
    std::cerr << "gateway failed: " << e.status_name() << ": " << e.what() << "\n";
    return EXIT_FAILURE;
  }
}
