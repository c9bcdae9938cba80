#!/usr/bin/env bash
# The race detector over the packages that run goroutines above the
# kernels: the trainer and feature pipeline (softcpt), pretraining's
# image workers (pretrain), the experiment layer's feature cache and
# backends (experiment), the driver with its signal handling
# (cmd/softcpt) and sweep when present, in -short mode. scripts/test.sh
# runs it after the engine core's race run. On the project's 2-core
# machine, shared with other jobs, it took about 8 minutes of wall time
# (softcpt 2 min, pretrain 1 min, experiment 4 min, cmd/softcpt 1.5 min).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(./softcpt/... ./experiment/ ./cmd/softcpt/)
if [ -d sweep ]; then
	pkgs+=(./sweep/)
fi
echo "== go test -race -short ${pkgs[*]}"
go test -count=1 -race -short "${pkgs[@]}"
# TestTrainLearns (95 s under the race detector) trains long enough to
# learn, a check the plain runs make; its goroutines (image workers) are
# the ones TestBatchIndependentOfWorkers and TestResumeMatchesUninterrupted
# run here.
echo "== go test -race -short ./pretrain (without TestTrainLearns)"
go test -count=1 -race -short -skip '^TestTrainLearns$' ./pretrain/
