#!/usr/bin/env bash
# Checks that every module a target imports is declared in its dependencies in Package.swift (a
# module reached only through another's dependencies builds today and breaks when that one changes).
set -euo pipefail
cd "$(dirname "$0")/.."
swift package dump-package > /tmp/user-rpc-manifest.json 2>/dev/null
python3 - <<'PY'
import json, os, re, sys
manifest = json.load(open("/tmp/user-rpc-manifest.json"))
system = {"Foundation", "FoundationEssentials", "Glibc", "Darwin", "Musl", "Dispatch", "Synchronization", "Testing", "XCTest", "_Concurrency"}
problems = []
for target in manifest["targets"]:
    if target["type"] in ("system", "plugin", "binary"):
        continue
    path = target.get("path") or ("Tests/" if target["type"] == "test" else "Sources/") + target["name"]
    declared = set()
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                declared.add(dependency[kind][0])
    imported = set()
    for directory, _, files in os.walk(path):
        for name in files:
            if name.endswith(".swift"):
                for line in open(os.path.join(directory, name)):
                    match = re.match(r"\s*(?:@testable\s+|@_exported\s+)?import\s+(?:(?:struct|class|enum|protocol|typealias|func|var|let)\s+)?(\w+)", line)
                    if match:
                        imported.add(match.group(1))
    missing = sorted(imported - declared - system - {target["name"]})
    if missing:
        problems.append(f"{target['name']} imports {', '.join(missing)} without declaring it")
for problem in problems:
    print(problem)
if problems:
    sys.exit(1)
print(f"imports: every target declares what it imports ({len(manifest['targets'])} targets)")
PY
