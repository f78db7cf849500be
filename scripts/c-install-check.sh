#!/usr/bin/env bash
# `make install-debug` into a temporary prefix, then check what a user gets: the layout (the
# shared library's links and SONAME, stripped, with its debug info beside it and a debug link
# to it), programs built with pkg-config against the shared and the static library (C, and the
# C++ API), and a CMake project using find_package(stateful_executor): shared, static, and the
# C++ API through stateful_executor::cxx. Removes the prefix after.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d -t sf-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
make=${MAKE:-make}
fail() { echo "install-check: $*" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
lib="$prefix/lib"

"$make" --no-print-directory install-debug PREFIX="$prefix" >/dev/null
for f in "lib/libstateful_executor.so.$version" lib/libstateful_executor.a \
  include/stateful_executor.h include/stateful_executor.hpp lib/pkgconfig/stateful_executor.pc \
  lib/pkgconfig/stateful_executor-static.pc \
  lib/cmake/stateful_executor/stateful_executorConfig.cmake \
  lib/cmake/stateful_executor/stateful_executorConfigVersion.cmake \
  "lib/.debug/libstateful_executor.so.$version.debug" share/doc/stateful_executor/c-api.md \
  share/doc/stateful_executor/data-model.md share/doc/stateful_executor/cpp.md \
  share/doc/stateful_executor/sfctl.md bin/sfctl; do
  [ -f "$prefix/$f" ] || fail "$f was not installed"
done
"$prefix/bin/sfctl" --version >/dev/null || fail "the installed sfctl does not run"
if grep -q '\.debug_info' <(readelf -S "$prefix/bin/sfctl"); then
  fail "the installed sfctl is not stripped"
fi
[ "$(readlink "$lib/libstateful_executor.so")" = "libstateful_executor.so.$major" ] ||
  fail "libstateful_executor.so does not link to libstateful_executor.so.$major"
[ "$(readlink "$lib/libstateful_executor.so.$major")" = "libstateful_executor.so.$version" ] ||
  fail "libstateful_executor.so.$major does not link to libstateful_executor.so.$version"
grep -q "SONAME.*\[libstateful_executor.so.$major\]" <(readelf -d "$lib/libstateful_executor.so.$version") || fail "SONAME is not libstateful_executor.so.$major"
if grep -q '\.debug_info' <(readelf -S "$lib/libstateful_executor.so.$version"); then
  fail "the installed shared library is not stripped"
fi
grep -q '\.debug_info' <(readelf -S "$lib/.debug/libstateful_executor.so.$version.debug") ||
  fail "the .debug file holds no debug info"
grep -q "libstateful_executor.so.$version.debug" <(readelf --string-dump=.gnu_debuglink "$lib/libstateful_executor.so.$version") || fail "no debug link to the .debug file"
if grep -rn 'shared/spec\|\.\./shared' "$prefix" >/dev/null 2>&1; then
  fail "an installed file names a path outside the repository"
fi
size=$(stat -c %s "$lib/libstateful_executor.so.$version")
echo "install-check: layout ok (shared library $((size / 1024)) KiB stripped, SONAME libstateful_executor.so.$major)"

export PKG_CONFIG_PATH="$lib/pkgconfig"
app=tests/c/pkgconfig_app.c
cc=${CC:-cc}

# Shared: exactly the command the README gives. The program records the SONAME.
# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Wextra -Werror -o "$prefix/app" "$app" \
  $(pkg-config --cflags --libs stateful_executor)
grep -q "NEEDED.*\[libstateful_executor.so.$major\]" <(readelf -d "$prefix/app") ||
  fail "the program does not depend on libstateful_executor.so.$major"
LD_LIBRARY_PATH="$lib" "$prefix/app"

# Static: the -static .pc names the archive itself (plain -l would pick the .so beside it).
static_app() {
  if grep -q 'libstateful_executor' <(readelf -d "$1"); then
    fail "$1 depends on the shared library"
  fi
  "$1"
}
# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Wextra -Werror -o "$prefix/app-static" "$app" \
  $(pkg-config --cflags --libs --static stateful_executor-static)
static_app "$prefix/app-static"
# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Wextra -Werror -o "$prefix/app-static2" "$app" \
  $(pkg-config --cflags --libs stateful_executor-static)
static_app "$prefix/app-static2"
# The C++ API through the same .pc file (the header sits beside the C one).
cxx=${CXX:-c++}
# shellcheck disable=SC2046
"$cxx" -std=c++17 -Wall -Wextra -Werror -pedantic -o "$prefix/app-cxx" tests/cmake/app_cxx.cpp \
  $(pkg-config --cflags --libs stateful_executor)
LD_LIBRARY_PATH="$lib" "$prefix/app-cxx"
echo "install-check: pkg-config builds (shared and static, C and C++) passed"

# CMake: find_package(stateful_executor) from the prefix, both targets.
cmake -S tests/cmake -B "$prefix/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix/cmake-build" >/dev/null
grep -q "NEEDED.*\[libstateful_executor.so.$major\]" <(readelf -d "$prefix/cmake-build/app_shared") ||
  fail "the CMake program does not depend on libstateful_executor.so.$major"
LD_LIBRARY_PATH="$lib" "$prefix/cmake-build/app_shared"
static_app "$prefix/cmake-build/app_static"
grep -q "NEEDED.*\[libstateful_executor.so.$major\]" <(readelf -d "$prefix/cmake-build/app_cxx") ||
  fail "the CMake C++ program does not depend on libstateful_executor.so.$major"
LD_LIBRARY_PATH="$lib" "$prefix/cmake-build/app_cxx"
# A major version it does not have is refused.
mkdir -p "$prefix/cmake-v99"
sed 's/find_package(stateful_executor 0.2 REQUIRED)/find_package(stateful_executor 99 REQUIRED)/' \
  tests/cmake/CMakeLists.txt >"$prefix/cmake-v99/CMakeLists.txt"
cp tests/cmake/app.cpp tests/cmake/app_cxx.cpp "$prefix/cmake-v99/"
if cmake -S "$prefix/cmake-v99" -B "$prefix/cmake-v99/build" -DCMAKE_PREFIX_PATH="$prefix" \
  >/dev/null 2>&1; then
  fail "find_package(stateful_executor 99) accepted version $version"
fi
echo "install-check: CMake find_package builds (shared, static, C++ via stateful_executor::cxx) passed"
