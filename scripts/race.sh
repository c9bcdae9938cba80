#!/usr/bin/env bash
# The race detector over the packages that run goroutines above the
# kernels: the trainer and feature pipeline (softcpt), pretraining's
# image workers (pretrain), the experiment layer's feature cache and
# backends (experiment), the driver with its signal handling
# (cmd/softcpt) and sweep when present, in -short mode. scripts/test.sh
# runs it after the engine core's race run.
#
# Two accuracy checks are left to the plain runs: they spend most of
# their time in single-goroutine arithmetic, 4-6 times slower under the
# detector, on goroutines that other tests here run too:
# TestTrainLearns (pretrain; 95 s here; image workers, also in
# TestBatchIndependentOfWorkers and TestResumeMatchesUninterrupted) and
# TestShippedZeroShot (experiment; 82 s; the featurizer, also in
# TestFeaturizerEncodeMatches and TestFeatureCacheSharedAcrossProcesses).
#
# On the project's 2-core machine, shared with other jobs (load average
# 10-12), the whole script took 156 s of wall time with a warm build
# cache; the packages one by one with the two tests above took 10 min.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(./softcpt/... ./pretrain/ ./experiment/ ./cmd/softcpt/)
if [ -d sweep ]; then
	pkgs+=(./sweep/)
fi
echo "== go test -race -short ${pkgs[*]}"
go test -count=1 -race -short -skip '^(TestTrainLearns|TestShippedZeroShot)$' "${pkgs[@]}"
