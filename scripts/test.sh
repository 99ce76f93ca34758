#!/usr/bin/env bash
# Runs the whole test suite from a fresh machine: installs what the tests need, builds, tests.
# Usage: scripts/test.sh            (as root, or with the packages below already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

# The Debian packages: the C libraries the build links, and the PostgreSQL and Redis servers.
./scripts/install-packages.sh --test

echo "== services: PostgreSQL and Redis on loopback (scripts/services.sh)"
eval "$(./scripts/services.sh start)"
stop_services() {
  ./scripts/services.sh stop >/dev/null 2>&1 || true
  # The fault tests' own instances, in case a failing test left them running.
  SERVICES_DIR=/tmp/user-rpc-fault-services/pg PG_PORT=15441 ./scripts/services.sh stop-postgres >/dev/null 2>&1 || true
  SERVICES_DIR=/tmp/user-rpc-fault-services/redis REDIS_PORT=16391 ./scripts/services.sh stop-redis >/dev/null 2>&1 || true
}
trap stop_services EXIT
echo "DATABASE_URL=${DATABASE_URL//:userrpc@/:***@} REDIS_URL=$REDIS_URL"

echo "== format check"
swift format lint --strict --recursive Package.swift Sources Tests Benchmarks/Package.swift Benchmarks/Benchmarks

echo "== every target declares the modules it imports"
./scripts/check-imports.sh

echo "== the generated code is what the schemas generate (scripts/generate.sh)"
./scripts/generate.sh --check

echo "== build (all products and tests)"
swift build --build-tests

echo "== tests (unit, end-to-end on both backends, integration, faults)"
swift test --skip-build

echo "== allocation gate: hot-path micro-benchmarks against Benchmarks/Thresholds"
./scripts/check-allocations.sh

echo "== every public symbol of the client product has a doc comment (from the build above)"
./scripts/check-docs.sh .build

echo "== the README's client examples, built as an outside package that depends on this one by path"
./scripts/check-readme-package.sh

echo "== the same tests under Thread Sanitizer"
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
# scripts/tsan.supp: one documented false positive of the Swift runtime's continuations, nothing of ours.
TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp${TSAN_OPTIONS:+ $TSAN_OPTIONS}" \
  swift test --skip-build --sanitize=thread --scratch-path .build-tsan

echo "== the same tests under Address Sanitizer"
# Leak reports at process exit are off (Swift runtime and detached tasks alive at exit are not
# leaks). The resident-memory test is left out of this pass only: ASan's quarantine and shadow
# memory make RSS meaningless; it runs in the plain pass above.
swift build --build-tests --sanitize=address --scratch-path .build-asan
ASAN_OPTIONS=detect_leaks=0 swift test --skip-build --sanitize=address --scratch-path .build-asan --skip ServerMemoryTests
