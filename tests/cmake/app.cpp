// Built by tests/cmake/CMakeLists.txt: the header from C++, linked through the CMake package.
#include <stateful_executor.h>

#include <cstdio>
#include <cstring>

int main() {
  sf_error err;
  sf_config *cfg = nullptr;
  if (sf_config_new("redis://127.0.0.1:1", &cfg, &err) != SF_OK) {
    std::fprintf(stderr, "sf_config_new: %s\n", err.message);
    return 1;
  }
  sf_config_free(cfg);
  if (std::strcmp(sf_version(), SF_VERSION_STRING) != 0) return 1;
  std::printf("stateful-executor %s via CMake\n", sf_version());
  return 0;
}
