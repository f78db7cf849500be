#!/usr/bin/env bash
# Makes sure the programs the tests, demo and benchmarks run are installed: redis-server and
# redis-cli (Debian's redis-server and redis-tools), openssl (TLS test certificates), plus any extra Debian packages named as
# arguments ("valgrind", ...): one counts as present when a command of its name exists or dpkg
# has it installed (for packages without a command, such as libclang-rt-14-dev). Installs them with apt-get when run as root; otherwise says what
# to install and fails.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
# The TLS tests make their certificates with the openssl command-line tool.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
for pkg in "$@"; do
  command -v "$pkg" >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && continue
  missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${missing[*]}" >&2
  echo "install them first, e.g.: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's package may start a system redis-server on port 6379; we never use it.
