#!/usr/bin/env bash
# gpu-check.sh: the CUDA backend's device checks in one script.
#
#   scripts/gpu-check.sh build   (here, on a machine with Go but no GPU)
#       builds the cuda test binary into .cuda/bin/cuda.test, with cuda.h
#       and libcuda.so from scripts/setup-cuda.sh (run it first).
#   scripts/gpu-check.sh run     (on the GPU host, which has no Go)
#       1. ptxas -v on the committed PTX for the device's architecture,
#          when ptxas is installed (syntax check, registers, spills);
#       2. .cuda/bin/cuda.test -test.v -test.bench . (kernel correctness
#          against the CPU kernels, BenchmarkSgemm TFLOP/s,
#          BenchmarkSoftmaxRows GB/s);
#       3. python3 bench/py/gpu_peer.py (torch.mm fp32, TF32 off: the
#          cuBLAS peer);
#       4. python3 bench/py/gpu_clip_peer.py (OpenAI's RN50 towers in
#          PyTorch fp32, the peer of BenchmarkCLIPImageRN50 and
#          BenchmarkCLIPTextRN50) and the Go/PyTorch throughput ratios;
#       5. python3 bench/py/gpu_step_peer.py (the authors' SoftCPT-NATA
#          step in PyTorch eager fp32, the peer of BenchmarkNATAStepRN50)
#          and the Go/PyTorch step-time ratio.
#       Environment: TESTS and BENCH are the -test.run and -test.bench
#       patterns (default: all); PEERS lists the Python peers to run
#       (default: all three; PEERS=0 runs none).
#       The log goes to bench/gpu-check.log, and also to $OUT/ when OUT
#       is set (the device tool's result folder). Exit status: that of the
#       test binary.
#
# From an agent session with the device tool, in one call:
#   scripts/gpu-check.sh build            # here
#   run(command="scripts/gpu-check.sh run", carry=[".cuda/bin"], timeout_s=300)
# then copy the figures into bench/RESULTS.md ("CUDA").
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

case ${1:-} in
build)
	set -e
	eval "$(scripts/setup-cuda.sh --env)"
	mkdir -p .cuda/bin
	go vet -tags cuda ./cuda/...
	go test -c -tags cuda -o .cuda/bin/cuda.test ./cuda/
	ls -l .cuda/bin/cuda.test
	echo "built; on the GPU host run: scripts/gpu-check.sh run  (carry .cuda/bin)"
	;;
run)
	LOG=bench/gpu-check.log
	exec > >(tee "$LOG" ${OUT:+"$OUT/gpu-check.log"}) 2>&1
	echo "== gpu-check $(date -u +%FT%TZ) on $(hostname)"
	nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || true
	# The binary links libcuda.so.1 dynamically: find the driver's copy.
	if ! ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 '; then
		for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/local/cuda/compat /usr/lib64; do
			[[ -e $d/libcuda.so.1 ]] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} && break
		done
	fi
	echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
	PTXAS=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas 2>/dev/null || true)
	if [[ -n $PTXAS ]]; then
		arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
		arch=sm_${arch:-90}
		echo "== ptxas -v -arch=$arch"
		for f in cuda/kernels/*.ptx; do
			"$PTXAS" -v -arch="$arch" -o /tmp/$(basename "$f").cubin "$f" 2>&1 | sed "s|^|$(basename "$f"): |"
		done
	else
		echo "== ptxas not found; the driver JIT compiles the PTX at load time"
	fi
	echo "== cuda.test"
	chmod +x .cuda/bin/cuda.test
	(cd cuda && ../.cuda/bin/cuda.test -test.v -test.run "${TESTS:-.}" -test.bench "${BENCH:-.}" -test.benchtime 20x -test.timeout 240s)
	rc=$?
	echo "== cuda.test exit status $rc"
	PEERS=${PEERS:-gpu_peer.py gpu_clip_peer.py gpu_step_peer.py}
	if [[ $PEERS != 0 ]]; then
		for peer in $PEERS; do
			echo "== $peer"
			PYTHONUNBUFFERED=1 python3 bench/py/$peer || echo "$peer failed: $?"
		done
	fi
	# Go / PyTorch throughput ratios of the CLIP towers (host to host).
	awk '
		/^BenchmarkCLIPImageRN50/ { for (i = 1; i < NF; i++) if ($(i+1) == "images/s") gi = $i }
		/^BenchmarkCLIPTextRN50/ { for (i = 1; i < NF; i++) if ($(i+1) == "prompts/s") gt = $i }
		/^torch RN50 image tower/ { for (i = 1; i < NF; i++) if ($(i+1) == "images/s" && pi == "") pi = $i }
		/^torch RN50 text tower/ { for (i = 1; i < NF; i++) if ($(i+1) == "prompts/s" && pt == "") pt = $i }
		/^BenchmarkNATAStepRN50/ { for (i = 1; i < NF; i++) if ($(i+1) == "s/step") gs = $i }
		/^torch NATA step/ { for (i = 1; i < NF; i++) if ($(i+1) == "s/step" && ps == "") ps = $i }
		END {
			print "== CLIP RN50 go/torch (host to host)"
			if (gi != "" && pi != "") printf "image tower batch 32: go %s images/s, torch %s images/s, ratio %.2f\n", gi, pi, gi / pi
			if (gt != "" && pt != "") printf "text tower 100x77: go %s prompts/s, torch %s prompts/s, ratio %.2f\n", gt, pt, gt / pt
			if (gs != "" && ps != "") printf "NATA step RN50 2x100 batch 32: go %s s/step, torch %s s/step, time ratio go/torch %.2f (target <= 2)\n", gs, ps, gs / ps
		}' "$LOG"
	exit $rc
	;;
*)
	echo "usage: $0 build|run" >&2
	exit 2
	;;
esac
