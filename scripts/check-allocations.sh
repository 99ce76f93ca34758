#!/usr/bin/env bash
# The allocation gate: runs the hot-path micro-benchmarks (Benchmarks/, ordo-one/benchmark) and fails
# when any benchmark allocates more than recorded in Benchmarks/Thresholds/: one more allocation per
# call fails; the odd stray allocation per thousand calls (the runtime's lazy caches) does not (the
# tolerances are in Benchmarks/Benchmarks/HotPath/HotPath.swift). After a deliberate change, record
# new figures with
#   (cd Benchmarks && swift package --allow-writing-to-package-directory benchmark thresholds update --metric mallocCountTotal)
set -uo pipefail
cd "$(dirname "$0")/../Benchmarks"
output=$(swift package benchmark thresholds check --metric mallocCountTotal --no-progress 2>&1)
status=$?
echo "$output" | grep -v '^\[\|prohibited flag' | grep -v '^$'
if echo "$output" | grep -q "WORSE than the defined thresholds"; then
  echo "allocation gate: FAILED — a hot-path benchmark allocates more than Benchmarks/Thresholds records" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  if echo "$output" | grep -q "BETTER than the defined thresholds"; then
    echo "allocation gate: passed with fewer allocations than recorded — update Benchmarks/Thresholds"
    exit 0
  fi
  echo "allocation gate: the benchmark run itself failed (status $status)" >&2
  exit 1
fi
echo "allocation gate: passed"
