#!/usr/bin/env bash
# Builds the README's client snippets as an outside program would: a package of its own, in a folder
# of its own, that depends on this checkout by path (the README's Package.swift lines) and contains
# the README's Swift examples verbatim. Fails when a snippet does not compile for an embedder.
#   scripts/check-readme-package.sh [WORK_DIR]     (default: a new folder under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-$(mktemp -d /tmp/user-rpc-readme.XXXXXX)}
mkdir -p "$work/Sources/ReadmeExamples"
python3 - "$root" "$work" <<'PY'
import os, re, sys
root, work = sys.argv[1], sys.argv[2]
readme = open(os.path.join(root, "README.md")).read()
blocks = re.findall(r"```swift\n(.*?)```", readme, re.S)
def dedent(block):
    lines = block.split("\n")
    indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    return "\n".join(l[indent:] for l in lines)
blocks = [dedent(b) for b in blocks]
manifest = next(b for b in blocks if ".package(path:" in b)
package_line = next(l for l in manifest.split("\n") if l.strip().startswith(".package(path:"))
product_line = next(l for l in manifest.split("\n") if l.strip().startswith(".product("))
# The README's lines, with its example folder name replaced by this checkout's.
folder = os.path.basename(root)
package_line = re.sub(r'path: "[^"]*"', f'path: "{root}"', package_line)
product_line = product_line.replace('package: "user-rpc"', f'package: "{folder}"')
open(os.path.join(work, "Package.swift"), "w").write(f"""// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "readme-examples",
    platforms: [.macOS(.v15)],
    dependencies: [
        {package_line.strip()}
    ],
    targets: [
        .executableTarget(name: "ReadmeExamples", dependencies: [{product_line.strip().rstrip(',')}])
    ]
)
""")
examples = [b for b in blocks if "client." in b or "UserRPCClient(" in b]
main = examples[0]
assert main.lstrip().startswith("import UserRPCClient"), "the first example starts with its import"
body = main.replace("import UserRPCClient\n", "")
# No `import Foundation`: `import UserRPCClient` must be all the examples need (UUID and Date included).
source = "import UserRPCClient\n\n"
source += "func example0() async {\n" + body + "\n}\n\n"
for index, example in enumerate(examples[1:], start=1):
    source += f"func example{index}(client: UserRPCClient, ids: [UUID]) async throws {{\n" + example + "\n}\n\n"
source += "print(\"compiled \\(" + str(len(examples)) + ") README examples\")\n"
open(os.path.join(work, "Sources/ReadmeExamples/main.swift"), "w").write(source)
print(f"README: {len(examples)} Swift examples and the Package.swift lines -> {work}")
PY
swift build --package-path "$work" --product ReadmeExamples 2>&1 | grep -v "prohibited flag" | tail -n 20
echo "README examples: built as an outside package ($work)"
