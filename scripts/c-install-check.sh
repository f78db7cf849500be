#!/usr/bin/env bash
# `make install` into a temporary prefix, then build a C program the way a user would, with
# pkg-config, against the shared and against the static library, and run both. Removes the
# prefix afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d -t sf-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT

make --no-print-directory install PREFIX="$prefix" >/dev/null
for f in lib/libstateful_executor.so lib/libstateful_executor.a include/stateful_executor.h \
  lib/pkgconfig/stateful_executor.pc; do
  [ -f "$prefix/$f" ] || { echo "install-check: $f was not installed" >&2; exit 1; }
done

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
app=tests/c/pkgconfig_app.c
cc=${CC:-cc}

# Shared: exactly the command the README gives.
# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Wextra -Werror -o "$prefix/app" "$app" \
  $(pkg-config --cflags --libs stateful_executor)
LD_LIBRARY_PATH="$prefix/lib" "$prefix/app"

# Static: the archive, plus what it needs (Libs.private, from pkg-config --static).
libdir=$(pkg-config --variable=libdir stateful_executor)
private=$(pkg-config --static --libs-only-l stateful_executor | sed 's/-lstateful_executor//')
# shellcheck disable=SC2046,SC2086
"$cc" -std=c99 -Wall -Wextra -Werror -o "$prefix/app-static" "$app" \
  $(pkg-config --cflags stateful_executor) "$libdir/libstateful_executor.a" $private
if readelf -d "$prefix/app-static" | grep -q 'libstateful_executor'; then
  echo "install-check: the static program depends on the shared library" >&2
  exit 1
fi
"$prefix/app-static"
echo "install-check: pkg-config builds (shared and static) passed"
