// Built by tests/cmake/CMakeLists.txt through stateful_executor::cxx (which alone must bring the
// header, C++17 and the library): the C++ API's config builder, and an Error from a real call
// (nothing listens on port 1).
#include <stateful_executor.hpp>

#include <cstdio>
#include <cstring>

int main() {
  namespace se = stateful_executor;
  if (std::strcmp(se::version(), SF_VERSION_STRING) != 0) return 1;
  try {
    se::Executor ex = se::Executor::open(
        se::Config::standalone("redis://127.0.0.1:1").set_connect_timeout_ms(500).set_pool_max_size(2));
    std::fprintf(stderr, "opened an executor on a closed port\n");
    return 1;
  } catch (const se::Error &e) {
    if (e.status() != SF_CONNECTION) {
      std::fprintf(stderr, "expected SF_CONNECTION, got %s: %s\n", e.status_name(), e.what());
      return 1;
    }
  }
  se::Status st;
  se::Config bad = se::Config::standalone("ftp://nowhere", st);
  if (bad || st.code() != SF_CONFIG) return 1;
  std::printf("stateful-executor %s via CMake, C++ API\n", se::version());
  return 0;
}
