#!/usr/bin/env bash
# Adopts the released Go module (make go-dist) as a service team would, with nothing of this
# checkout but the proxy folder: in a scratch module, with a clean environment whose PATH holds
# Go and a C compiler but no cargo or rustc, GOPROXY=file://<proxy folder> and a scratch module
# cache, `go get MODULE@vVERSION`, then build the README's quickstart and a program that calls
# every method (bindings/go/examples/allmethods), both statically linked, run them against a
# throwaway redis-server, and build once more from `go mod vendor`.
#
#   scripts/go-dist-check.sh DIST_DIR MODULE VERSION
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "$1" && pwd)
module=$2
version=$3
go=$(command -v "${GO:-go}")

# The generated files are gofmt-clean like the rest.
unformatted=$("$(dirname "$go")/gofmt" -l "$dist/module")
[ -z "$unformatted" ] || { echo "go-dist-check: gofmt needed: $unformatted" >&2; exit 1; }

work=$(mktemp -d -t sfexec-go-dist-XXXXXX)
# The module cache is read-only by design: make it writable before removing it.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# The PATH of a machine without Rust: every directory of ours that holds cargo, rustc or rustup
# is left out, and Go's own directory is put first.
clean_path=$(dirname "$go")
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] && [ -d "$d" ] || continue
  [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ] && continue
  clean_path=$clean_path:$d
done
for tool in cargo rustc; do
  if PATH=$clean_path command -v "$tool" >/dev/null 2>&1; then
    echo "go-dist-check: $tool is still on the clean PATH" >&2
    exit 1
  fi
done

# Nothing of the caller's environment (no CGO_CFLAGS/CGO_LDFLAGS pointing at this checkout, no
# LD_LIBRARY_PATH, no go env file): only what a consumer sets for a private module.
gocache=$("$go" env GOCACHE) # the build cache is content-addressed: sharing it only saves time
run() {
  env -i HOME="$work/home" PATH="$clean_path" TMPDIR="${TMPDIR:-/tmp}" GOENV=off \
    GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod" GOCACHE="$gocache" \
    GOPROXY="file://$dist/proxy" GONOSUMDB="$module" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
    CGO_ENABLED=1 "$@"
}
mkdir -p "$work/home" "$work/app/quickstart" "$work/app/allmethods"
cd "$work/app"
run go mod init example.com/consumer >/dev/null 2>&1
run go get "$module@v$version"
# The examples import the package by the repository's module path; a release under another path
# (make go-dist GO_MODULE=...) is imported by that one.
repo_module=$(sed -n 's/^module //p' "$root/bindings/go/go.mod")
for example in quickstart allmethods; do
  sed "s#\"$repo_module/sfexec\"#\"$module/sfexec\"#" "$root/bindings/go/examples/$example/main.go" >"$example/main.go"
done
run go build -o bin/quickstart ./quickstart
run go build -o bin/allmethods ./allmethods
# The module as downloaded is what the proxy's zip and go.sum say.
run go mod verify

for bin in bin/quickstart bin/allmethods; do
  if grep -q stateful_executor <(ldd "$bin"); then
    echo "go-dist-check: $bin needs a shared stateful_executor library:" >&2
    ldd "$bin" >&2
    exit 1
  fi
done
cc=$(PATH=$clean_path command -v cc || PATH=$clean_path command -v gcc)
echo "go-dist-check: built with $(run go version | cut -d' ' -f3) and $cc, PATH without cargo/rustc"

env -i PATH="$clean_path" "$root/scripts/with-redis.sh" sh -c \
  'bin/quickstart && bin/allmethods' | tee "$work/output.txt"
grep -q "^native library version $version\$" "$work/output.txt" || {
  echo "go-dist-check: the program did not report native library version $version" >&2
  exit 1
}
grep -q '^allmethods: every sfexec function and method answered as documented$' "$work/output.txt"

# On a platform the release lacks, the build stops at the one error that names the problem.
if run env GOOS=freebsd GOARCH=riscv64 CGO_ENABLED=0 go build -o /dev/null ./allmethods 2>"$work/other.err"; then
  echo "go-dist-check: a freebsd/riscv64 build succeeded without a native library" >&2
  exit 1
fi
grep -q 'undefined: sfexec_has_no_prebuilt_native_library_for_this_GOOS_GOARCH' "$work/other.err" || {
  echo "go-dist-check: a freebsd/riscv64 build did not name the missing library:" >&2
  cat "$work/other.err" >&2
  exit 1
}

# go mod vendor keeps the lib folder (through its placeholder package), and a vendored build links.
run go mod vendor
vendored="vendor/$module/sfexec/lib/$(run go env GOOS)_$(run go env GOARCH)/libstateful_executor.a"
[ -f "$vendored" ] || { echo "go-dist-check: go mod vendor left out $vendored" >&2; exit 1; }
env -i HOME="$work/home" PATH="$clean_path" GOENV=off GOPATH="$work/gopath" GOCACHE="$gocache" \
  GOFLAGS=-mod=vendor GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=1 go build -o bin/allmethods-vendored ./allmethods
env -i PATH="$clean_path" "$root/scripts/with-redis.sh" bin/allmethods-vendored >/dev/null

echo "go-dist-check: go get $module@v$version from the proxy folder, built and ran the quickstart and every method, also vendored"
