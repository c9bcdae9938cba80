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
#          against the CPU kernels; the CLIP towers, ResNet and ViT, against
#          the CPU clip.Model; the training steps of the SoftCPT variants
#          (NATA, NATS, CATA, CSTA, CATS, CSTS) and CoOp-MT/CA/CS against
#          the CPU learner; BenchmarkSgemm TFLOP/s,
#          BenchmarkSoftmaxRows GB/s, the RN50 towers' and ViT-B/32 image
#          tower's throughput, the NATA/NATS/CoOp-MT/CoOp-CA step times);
#       3. python3 bench/py/gpu_peer.py (torch.mm fp32, TF32 off: the
#          cuBLAS peer);
#       4. python3 bench/py/gpu_clip_peer.py (OpenAI's RN50 towers in
#          PyTorch fp32, the peer of BenchmarkCLIPImageRN50 and
#          BenchmarkCLIPTextRN50) and the Go/PyTorch throughput ratios;
#       5. python3 bench/py/gpu_step_peer.py (the authors' SoftCPT-NATA
#          step in PyTorch eager fp32, the peer of BenchmarkNATAStepRN50)
#          and the Go/PyTorch step-time ratio;
#       6. python3 bench/py/gpu_vit_peer.py (OpenAI's ViT-B/32 image tower
#          in PyTorch fp32, the peer of BenchmarkCLIPImageViTB32) and the
#          Go/PyTorch throughput ratio;
#       7. the driver's checks below (DRIVER=0 skips them).
#       Environment: TESTS and BENCH are the -test.run and -test.bench
#       patterns (default: all); PEERS lists the Python peers to run
#       (default: all four; PEERS=0 runs none).
#       The log goes to bench/gpu-check.log, and also to $OUT/ when OUT
#       is set (the device tool's result folder). Exit status: that of the
#       test binary.
#   scripts/gpu-check.sh driver  (on the GPU host) only the driver checks:
#       1. `softcpt encode` of the fixture CLIPs (testdata/clip/rn.safetensors
#          and the ViT testdata/clip/vit_jit_fp16.pt, four test images,
#          three texts when DEMO_BPE exists) with --device cpu and --device
#          cuda, and the largest relative difference of the features
#          (max|cuda-cpu| / max|cpu|, must be <= 1e-3);
#       2. `softcpt demo --quick --methods $DEMO_METHODS` (default
#          zeroshot,coop-mt,coop-ca,nata,nats: every method trained on the
#          device) on DEMO_MODEL (default pretrained/model.safetensors;
#          skipped when absent) with --device cpu and --device cuda: wall
#          times and tables.
#       The log goes to bench/gpu-driver.log (and $OUT/). Exit status:
#       nonzero when a command fails or the features differ.
#
# From an agent session with the device tool, in one call:
#   scripts/gpu-check.sh build            # here
#   run(command="scripts/gpu-check.sh run", carry=[".cuda/bin"], timeout_s=300)
# then copy the figures into bench/RESULTS.md ("CUDA"). The device tool
# carries at most 64 MiB with the working tree (about 35 MiB): for the
# driver's demo, carry a folder with the binary and a model instead, e.g.
#   go build -tags cuda -ldflags "-s -w" -o .cuda/drv/softcpt ./cmd/softcpt
#   cp pretrained/model.safetensors pretrained/bpe.txt.gz .cuda/drv/
#   run(command="SOFTCPT=.cuda/drv/softcpt DEMO_MODEL=.cuda/drv/model.safetensors
#       DEMO_BPE=.cuda/drv/bpe.txt.gz scripts/gpu-check.sh driver", carry=[".cuda/drv"])
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# find_libcuda puts the driver's libcuda.so.1 on LD_LIBRARY_PATH (the
# binaries link it dynamically).
find_libcuda() {
	if ! ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 '; then
		for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/local/cuda/compat /usr/lib64; do
			[[ -e $d/libcuda.so.1 ]] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} && break
		done
	fi
	echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
}

# driver_checks runs `softcpt encode` and `softcpt demo` with --device cpu
# and --device cuda (see the usage above); it returns nonzero on failure.
driver_checks() {
	local bin=${SOFTCPT:-.cuda/bin/softcpt} status=0 tmp
	if [[ ! -x $bin ]]; then
		echo "== driver: $bin missing (scripts/gpu-check.sh build)"
		return 1
	fi
	tmp=$(mktemp -d)
	local model=${DEMO_MODEL:-pretrained/model.safetensors} bpe=${DEMO_BPE:-pretrained/bpe.txt.gz}
	local methods=${DEMO_METHODS:-zeroshot,coop-mt,coop-ca,nata,nats}
	local images=()
	for f in photo.q90_444.pil.png noise.q90_420.pil.png conv_rgba.png go_q50.420.progressive.pil.png; do
		images+=(--image testdata/imageproc/$f)
	done
	# The fixtures' vocabulary (49408) holds any smaller tokenizer's ids.
	[[ -f $bpe ]] && images+=(--bpe "$bpe" --text "a photo of a cat." --text "a diagram" --text "noise")
	local fixture
	for fixture in rn.safetensors vit_jit_fp16.pt; do
		echo "== driver: encode, fixture CLIP $fixture, --device cpu vs cuda"
		local ok=1
		for d in cpu cuda; do
			"$bin" encode --model testdata/clip/$fixture --vision-heads 2 --text-heads 2 "${images[@]}" --device $d --out "$tmp/encode-$d.json" ||
				{ echo "encode $fixture --device $d failed: $?"; status=1; ok=0; }
		done
		if [[ $ok == 1 ]]; then
			python3 - "$tmp/encode-cpu.json" "$tmp/encode-cuda.json" <<-'EOF' || status=1
				import json, sys
				cpu, gpu = (json.load(open(p)) for p in sys.argv[1:])
				worst = 0.0
				for k in ("image_features", "text_features", "similarity"):
				    a = [x for r in cpu[k] for x in r]
				    b = [x for r in gpu[k] for x in r]
				    if len(a) != len(b):
				        sys.exit(f"{k}: {len(b)} values on cuda, {len(a)} on cpu")
				    if not a:
				        continue
				    rel = max(abs(x - y) for x, y in zip(a, b)) / max(abs(x) for x in a)
				    worst = max(worst, rel) if k != "similarity" else worst
				    print(f"{k}: {len(cpu[k])} rows x {len(cpu[k][0])}, max|cuda-cpu|/max|cpu| = {rel:.3g}")
				if worst > 1e-3:
				    sys.exit(f"features differ by {worst:.3g} > 1e-3")
			EOF
		fi
	done
	if [[ -f $model && -f $bpe ]]; then
		for d in cpu cuda; do
			echo "== driver: demo --quick --methods $methods --device $d ($model)"
			local t0=$(date +%s%N)
			"$bin" demo --quick --methods "$methods" --model "$model" --bpe "$bpe" --device $d --out "$tmp/demo-$d" 2>&1 | grep -v "^warning: .*skipped as not results" || { echo "demo --device $d failed"; status=1; }
			echo "demo --device $d: $((($(date +%s%N) - t0) / 1000000)) ms wall"
			[[ -n ${OUT:-} ]] && cp -r "$tmp/demo-$d/summary" "$OUT/demo-$d-summary" 2>/dev/null
		done
	else
		echo "== driver: demo skipped ($model or $bpe absent; set DEMO_MODEL/DEMO_BPE)"
	fi
	rm -rf "$tmp"
	return $status
}

case ${1:-} in
build)
	set -e
	eval "$(scripts/setup-cuda.sh --env)"
	mkdir -p .cuda/bin
	go vet -tags cuda ./cuda/...
	go test -c -tags cuda -o .cuda/bin/cuda.test ./cuda/
	go vet -tags cuda ./cmd/softcpt/ ./experiment/
	go build -tags cuda -o .cuda/bin/softcpt ./cmd/softcpt
	ls -l .cuda/bin/cuda.test .cuda/bin/softcpt
	echo "built; on the GPU host run: scripts/gpu-check.sh run  (carry .cuda/bin)"
	;;
run)
	LOG=bench/gpu-check.log
	exec > >(tee "$LOG" ${OUT:+"$OUT/gpu-check.log"}) 2>&1
	echo "== gpu-check $(date -u +%FT%TZ) on $(hostname)"
	nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || true
	find_libcuda
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
	PEERS=${PEERS:-gpu_peer.py gpu_clip_peer.py gpu_step_peer.py gpu_vit_peer.py}
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
		/^BenchmarkCLIPImageViTB32/ { for (i = 1; i < NF; i++) if ($(i+1) == "images/s") gv = $i }
		/^torch ViT-B\/32 image tower/ { for (i = 1; i < NF; i++) if ($(i+1) == "images/s" && pv == "") pv = $i }
		/^BenchmarkNATAStepRN50/ { for (i = 1; i < NF; i++) if ($(i+1) == "s/step") gs = $i }
		/^torch NATA step/ { for (i = 1; i < NF; i++) if ($(i+1) == "s/step" && ps == "") ps = $i }
		END {
			print "== CLIP RN50 and ViT-B/32 go/torch (host to host)"
			if (gi != "" && pi != "") printf "image tower batch 32: go %s images/s, torch %s images/s, ratio %.2f\n", gi, pi, gi / pi
			if (gt != "" && pt != "") printf "text tower 100x77: go %s prompts/s, torch %s prompts/s, ratio %.2f\n", gt, pt, gt / pt
			if (gv != "" && pv != "") printf "ViT-B/32 image tower batch 32: go %s images/s, torch %s images/s, ratio %.2f\n", gv, pv, gv / pv
			if (gs != "" && ps != "") printf "NATA step RN50 2x100 batch 32: go %s s/step, torch %s s/step, time ratio go/torch %.2f (target <= 2)\n", gs, ps, gs / ps
		}' "$LOG"
	if [[ ${DRIVER:-1} != 0 ]]; then
		driver_checks || echo "driver checks failed: $?"
	fi
	exit $rc
	;;
driver)
	exec > >(tee bench/gpu-driver.log ${OUT:+"$OUT/gpu-driver.log"}) 2>&1
	echo "== gpu-check driver $(date -u +%FT%TZ) on $(hostname)"
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
	find_libcuda
	driver_checks
	;;
*)
	echo "usage: $0 build|run|driver" >&2
	exit 2
	;;
esac
