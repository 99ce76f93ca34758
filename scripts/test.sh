#!/usr/bin/env bash
# Runs the whole test suite from a fresh machine: installs what the tests need, builds, tests.
# Usage: scripts/test.sh            (as root, or with the packages below already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the build and the tests need (Debian). Installed only when missing.
packages=()
missing=()
for package in "${packages[@]+"${packages[@]}"}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test.sh: please install: ${missing[*]} (apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== format check"
swift format lint --strict --recursive Package.swift Sources Tests

echo "== build (all products and tests)"
swift build --build-tests

echo "== tests"
swift test --skip-build
