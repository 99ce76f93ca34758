#!/usr/bin/env bash
# Checks that every public symbol an embedding program reaches through `import UserRPCClient` has a
# `///` doc comment of its own: the public symbols declared in the source files of UserRPCClient and
# of this package's modules it re-exports (the `@_exported import`s of Sources/UserRPCClient/Exports.swift:
# StrictJSON, UserRPCWire, UserV1, …). Fails listing those without one.
#
#   scripts/check-docs.sh [SCRATCH_PATH]     (default: /tmp/user-rpc-docs-build)
#
# It builds the UserRPCClient target in SCRATCH_PATH (a build directory of its own, so it never waits
# on another build's lock), then extracts each module's symbol graph from the built modules into
# SCRATCH_PATH/symbolgraphs, afresh on every run. (Graphs emitted while compiling are not used: an
# incremental build leaves some of them from an earlier compile.) Not counted: members the compiler
# synthesizes (automatic Equatable/Hashable/RawRepresentable members, default implementations of
# standard-library protocols), and anything declared outside these modules' own source files.
#
# The graphs also feed DocC: UserRPCClient's includes the symbols it re-exports, e.g.
#   docc convert Sources/UserRPCClient/Documentation.docc --additional-symbol-graph-dir DIR
# with DIR holding only SCRATCH_PATH/symbolgraphs/UserRPCClient*.symbols.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=${1:-/tmp/user-rpc-docs-build}
mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)

if ! swift build --scratch-path "$scratch" --target UserRPCClient >"$scratch/check-docs-build.log" 2>&1; then
    tail -n 40 "$scratch/check-docs-build.log"
    echo "check-docs: the build failed (full log: $scratch/check-docs-build.log)"
    exit 1
fi

python3 - "$root" "$scratch" <<'PY'
import glob, json, os, re, shutil, subprocess, sys
from urllib.parse import unquote, urlparse

root, scratch = sys.argv[1], sys.argv[2]
# UserRPCClient, and the modules of this package that it re-exports.
exports = open(os.path.join(root, "Sources/UserRPCClient/Exports.swift")).read()
reexported = re.findall(r"^\s*@_exported\s+import\s+(\w+)", exports, re.M)
modules = ["UserRPCClient"] + [m for m in reexported if os.path.isdir(os.path.join(root, "Sources", m))]
graphs = os.path.join(scratch, "symbolgraphs")
shutil.rmtree(graphs, ignore_errors=True)
os.makedirs(graphs)

# The search paths and C module maps the compiler was given for UserRPCClient (which imports the
# others), from SwiftPM's build manifest: the extractor loads the modules with the same ones.
manifest = open(os.path.join(scratch, "debug.yaml")).read()
command = re.search(r'"C\.UserRPCClient-[^"]*-debug\.module":\n(?:    .*\n)*?    args: (\[.*\])', manifest)
if not command:
    sys.exit(f"check-docs: no compile command for UserRPCClient in {scratch}/debug.yaml")
compile_args = json.loads(command.group(1))
search = []
index = 0
while index < len(compile_args):
    if compile_args[index] in ("-I", "-F", "-Xcc", "-target", "-sdk", "-resource-dir", "-module-cache-path"):
        search += compile_args[index:index + 2]
        index += 2
    else:
        index += 1
extractor = os.path.join(os.path.dirname(os.path.realpath(shutil.which("swift"))), "swift-symbolgraph-extract")
for module in modules:
    extra = ["-experimental-allowed-reexported-modules=" + ",".join(modules[1:])] if module == "UserRPCClient" else []
    result = subprocess.run(
        [extractor, "-module-name", module, "-minimum-access-level", "public", "-output-dir", graphs] + extra + search,
        capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"check-docs: cannot extract the symbol graph of {module}:\n{result.stderr}")

def path_of(uri):
    return os.path.realpath(unquote(urlparse(uri).path))

checked = {}  # precise identifier -> (file, line, title, documented)
for module in modules:
    source_dir = os.path.realpath(os.path.join(root, "Sources", module)) + os.sep
    files = [os.path.join(graphs, f"{module}.symbols.json")] + sorted(glob.glob(os.path.join(graphs, f"{module}@*.symbols.json")))
    for file in files:
        for symbol in json.load(open(file)).get("symbols", []):
            if symbol.get("accessLevel") not in ("public", "open"):
                continue
            precise = symbol["identifier"]["precise"]
            location = symbol.get("location")
            # Synthesized members have no place in the source, or an identifier marked so.
            if "::SYNTHESIZED::" in precise or not location:
                continue
            path = path_of(location["uri"])
            # Only what this module's own files declare (UserRPCClient's graph also lists what it re-exports).
            if not path.startswith(source_dir):
                continue
            # A comment the graph inherits from a protocol requirement is written elsewhere: it does not count.
            doc = symbol.get("docComment") or {}
            own = doc.get("uri") is None or path_of(doc["uri"]) == path
            text = "".join(line.get("text", "") for line in doc.get("lines", [])).strip() if own else ""
            title = ".".join(symbol.get("pathComponents", [])) or symbol["names"]["title"]
            checked[precise] = (os.path.relpath(path, root), location["position"]["line"] + 1, f"{symbol['kind']['displayName']} {title}", bool(text))

missing = sorted((p, l, t) for p, l, t, documented in checked.values() if not documented)
for path, line, title in missing:
    print(f"{path}:{line}: {title}")
print(f"check-docs: {len(checked)} public symbols checked in {', '.join(modules)}; {len(missing)} without a doc comment")
sys.exit(1 if missing else 0)
PY
