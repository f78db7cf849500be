// The public header from C++: it compiles with g++ -Wall -Wextra -Werror -pedantic, its
// declarations have C linkage (the program links against the C library), and a few calls work
// without a server. Run by `make cpp-test` (part of `make test`).
#include "stateful_executor.h"

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

  if (failures == 0) std::printf("C++ header check: 1 passed, 0 failed\n");
  return failures == 0 ? 0 : 1;
}
