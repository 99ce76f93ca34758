#!/usr/bin/env bash
# Generates the Swift code of every service schema in Schemas/ (user-rpc-generate, Sources/UserRPCGenerator)
# and formats it: per schema, the messages, method descriptors and embedded schema in the schema's
# module, the service protocol and its registration in the server-side module, and the typed client
# in UserRPCClient. The output is committed; after editing a schema, run this script.
#
#   scripts/generate.sh           write the generated files
#   scripts/generate.sh --check   fail (naming the files) when a committed generated file differs
#                                 from what the schemas generate: what .ci/run checks
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
[ "${1:-}" = "--check" ] && check=1

swift build --product user-rpc-generate >/dev/null
generator="$(swift build --product user-rpc-generate --show-bin-path)/user-rpc-generate"

# One line per schema: its file, its namespace, the module of its messages, then the generator's
# other flags (the server-side module, the client's accessor, the names kept for compatibility).
schemas=(
  "Schemas/user.v1.json UserServiceV1 UserV1 --server-module UserService --client-accessor v1 --top-level-aliases --client-top-level"
  "Schemas/user.v2.json UserServiceV2 UserV2 --server-module UserService --client-accessor v2"
  "Schemas/health.v1.json HealthServiceV1 HealthV1 --server-module UserRPCServer --client-accessor health --top-level-aliases"
  "Schemas/reflection.v1.json ReflectionServiceV1 ReflectionV1 --server-module UserRPCServer --client-accessor reflection --top-level-aliases"
)
# Every schema must be listed: a new schema without generated code is a mistake.
for schema in Schemas/*.json; do
  printf '%s\n' "${schemas[@]}" | grep -q "^$schema " || { echo "scripts/generate.sh: $schema is not listed in this script" >&2; exit 1; }
done

root=.
if [ "$check" = 1 ]; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/Schemas" && cp Schemas/*.json "$root/Schemas/"
  cp .swift-format "$root/"
fi

generated=()
for line in "${schemas[@]}"; do
  read -r schema namespace module flags <<<"$line"
  # shellcheck disable=SC2086
  while IFS= read -r file; do generated+=("$file"); done < <("$generator" --root "$root" --schema "$schema" --namespace "$namespace" --messages-module "$module" $flags)
done
(cd "$root" && swift format format -i "${generated[@]}")

if [ "$check" = 1 ]; then
  stale=0
  for file in "${generated[@]}"; do
    if ! cmp -s "$root/$file" "$file"; then
      echo "stale generated file: $file (run scripts/generate.sh and commit the result)" >&2
      diff -u "$file" "$root/$file" | head -40 >&2 || true
      stale=1
    fi
  done
  # A generated file that no schema generates any more.
  while IFS= read -r file; do
    printf '%s\n' "${generated[@]}" | grep -qx "$file" || { echo "generated file without a schema: $file" >&2; stale=1; }
  done < <(find Sources -path '*/Generated/*.swift' | sort)
  [ "$stale" = 0 ] && echo "generated code is up to date (${#generated[@]} files)"
  exit "$stale"
fi
printf 'wrote %s\n' "${generated[@]}"
