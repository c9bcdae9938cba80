#!/usr/bin/env bash
# The project's test command (README): default build, the pure-Go build
# without assembly, and the race detector on the engine core and (scripts/race.sh)
# on the packages above it that run goroutines. Fuzz targets
# run on their seed corpora as part of go test.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== go test ./... (assembly kernels)"
go test -count=1 ./...
echo "== go test -tags purego ./... (pure Go)"
go test -count=1 -tags purego ./...
echo "== go test -race ./tensor ./autograd ./kernels"
go test -count=1 -race ./tensor/ ./autograd/ ./kernels/
scripts/race.sh
