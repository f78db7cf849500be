#!/usr/bin/env bash
# Follows the README's "Using it from Go" steps in a new module outside the checkout: a replace
# directive to this checkout and go mod tidy, then a shared build (found at run time through
# its rpath, without LD_LIBRARY_PATH) and a static build (-tags sfexec_static: no
# libstateful_executor.so needed), each run against a throwaway redis-server (or $REDIS_URL).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
go=${GO:-go}
work=$(mktemp -d -t sfexec-quickstart-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$go" mod init example.com/myservice >/dev/null 2>&1
"$go" mod edit -replace github.com/stateful-executor/stateful-executor/bindings/go="$root/bindings/go"
cp "$root/bindings/go/examples/quickstart/main.go" .
"$go" mod tidy >/dev/null 2>&1 || "$go" mod tidy   # the package has no dependencies: nothing is downloaded

"$go" build -o app-shared .
"$go" build -tags sfexec_static -o app-static .
# ldd's output goes to a file first: under pipefail, `ldd | grep -q` fails whenever grep stops
# reading before ldd is done writing (ldd then dies of SIGPIPE).
ldd app-shared > ldd-shared.txt
ldd app-static > ldd-static.txt 2>&1 || true   # "not a dynamic executable" is fine too
if ! grep -q 'libstateful_executor.so.0 => /' ldd-shared.txt; then
  echo "quickstart-check: the shared build does not find libstateful_executor.so.0:" >&2
  cat ldd-shared.txt >&2
  exit 1
fi
if grep -q stateful_executor ldd-static.txt; then
  echo "quickstart-check: the static build still needs the shared library" >&2
  exit 1
fi
env -u LD_LIBRARY_PATH "$root/scripts/with-redis.sh" ./app-shared
env -u LD_LIBRARY_PATH "$root/scripts/with-redis.sh" ./app-static
echo "quickstart-check: a new module built the README's program with the shared and the static library, and both ran"
