#!/usr/bin/env bash
# Builds and runs user-rpc-server, installing the packages the build needs first.
# With no DATABASE_URL it serves at 127.0.0.1:50051 on the durable embedded store in ./user-rpc-data
# (--data-dir to choose another directory, --in-memory for a throwaway store).
# Extra arguments go to the server: scripts/run-server.sh --port 6000 --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-packages.sh
exec swift run -c release user-rpc-server "$@"
