// The public header from C++: it compiles with g++ -Wall -Wextra -Werror -pedantic, its
// declarations have C linkage (the program links against the C library), and a few calls work
// without a server. Run by `make cpp-test` (part of `make test`).
#include "stateful_executor.h"

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>

namespace {

int failures = 0;

void check(bool ok, const char *what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "C++ check failed: %s\n", what);
  }
}

// The layout every binding mirrors (see also test_layout.c).
static_assert(sizeof(sf_status) == 4 && static_cast<sf_status>(-1) < 0, "sf_status is int32_t");
static_assert(sizeof(sf_error) == 260 && offsetof(sf_error, message) == 4, "sf_error layout");
static_assert(sizeof(sf_stats) == 64 && offsetof(sf_stats, script_reloads) == 56,
              "sf_stats layout");

void log_to_nowhere(void *, int32_t, const char *, const char *) {}

struct ConfigDeleter {
  void operator()(sf_config *cfg) const { sf_config_free(cfg); }
};

}  // namespace

int main() {
  check(std::strlen(sf_version()) > 0, "sf_version");
  check(std::strcmp(sf_status_name(SF_TIMEOUT), "SF_TIMEOUT") == 0, "sf_status_name");
  check(SF_NO_POD == -1, "SF_NO_POD");

  sf_error err;
  sf_config *raw = nullptr;
  check(sf_config_new("ftp://nowhere", &raw, &err) == SF_CONFIG, "malformed URL");
  check(raw == nullptr && err.code == SF_CONFIG && err.message[0] != '\0', "error detail");

  check(sf_config_new("redis://127.0.0.1:1", &raw, &err) == SF_OK, "sf_config_new");
  std::unique_ptr<sf_config, ConfigDeleter> cfg(raw);
  check(sf_config_set_pool_max_size(cfg.get(), 4, &err) == SF_OK, "pool max size");
  check(sf_config_set_command_timeout_ms(cfg.get(), 0, nullptr) == SF_INVALID_ARGUMENT,
        "zero timeout");

  sf_string_free(nullptr);
  sf_pod_states_free(nullptr);
  sf_service_links_free(nullptr);
  sf_executor_close(nullptr);

  sf_log_fn callback = log_to_nowhere;
  check(sf_set_logger(callback, nullptr, SF_LOG_WARN, &err) == SF_OK, "sf_set_logger");
  check(sf_set_logger(nullptr, nullptr, 0, &err) == SF_OK, "logger off");
  sf_stats stats;
  check(sf_executor_stats(nullptr, &stats, &err) == SF_INVALID_ARGUMENT, "stats of NULL");
  check(std::strcmp(SF_VERSION_STRING, sf_version()) == 0, "SF_VERSION_STRING");

  if (failures == 0) std::printf("C++ header check: 1 passed, 0 failed\n");
  return failures == 0 ? 0 : 1;
}
