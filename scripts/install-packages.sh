#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing.
#   scripts/install-packages.sh            build packages: the C libraries the server links
#   scripts/install-packages.sh --test     also the PostgreSQL and Redis servers the tests run against
set -euo pipefail
packages=(pkg-config libpq-dev libhiredis-dev libsqlite3-dev)   # libpq (PostgreSQL store), hiredis (Redis cache), SQLite (the embedded store)
if [ "${1:-}" = "--test" ]; then packages+=(postgresql redis-server openssl sqlite3); fi   # openssl: test certificates; sqlite3: the backup test
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-packages: run as root, or install: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "install-packages: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
