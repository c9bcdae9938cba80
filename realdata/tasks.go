package realdata

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

var (
	fashionClasses = []string{"t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"}
	fashionKinds   = []string{"top", "clothing", "top", "clothing", "clothing", "footwear", "top", "footwear", "accessory", "footwear"}
	digitNames     = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
)

// Zero-shot templates (the pretraining captions use the same phrasings).
const (
	tmplEmoji     = "a picture of a {}."
	tmplFashion   = "a photo of a {}."
	tmplDigit     = "handwritten digit {}."
	tmplCard      = "a playing card: the {}."
	tmplSuit      = "a playing card of {}."
	tmplRank      = "a playing card of rank {}."
	tmplColour    = "a {} playing card."
	tmplCourt     = "a playing card that is a {}."
	tmplFlag      = "the flag of {}."
	tmplContinent = "a flag of a country in {}."
)

// fill substitutes name into a template.
func fill(tmpl, name string) string { return strings.Replace(tmpl, "{}", name, 1) }

// digitSet is one IDX dataset split.
type digitSet struct {
	imgs   [][]uint8
	labels []uint8
	side   int
}

func (b *builder) readDigits(mnistDir string) (map[string]digitSet, error) {
	fm := filepath.Join(b.f.Root(), "usr", "share", "datasets", "fashion-mnist")
	md := filepath.Join(mnistDir, "data")
	out := map[string]digitSet{}
	for _, s := range []struct{ key, dir, pre string }{
		{"fashion/train", fm, "train"}, {"fashion/test", fm, "t10k"},
		{"mnist/train", md, "train"}, {"mnist/test", md, "t10k"},
	} {
		imgs, labels, side, err := readIDX(filepath.Join(s.dir, s.pre+"-images-idx3-ubyte.gz"), filepath.Join(s.dir, s.pre+"-labels-idx1-ubyte.gz"))
		if err != nil {
			return nil, err
		}
		out[s.key] = digitSet{imgs, labels, side}
	}
	return out, nil
}

// digits adds the Fashion-MNIST and MNIST tasks: a training pool of
// TrainPerClass random training-split images per class and a test set of
// digitTestPerClass random test-split images per class, skipping any image
// whose pixels equal a pretraining image (MNIST holds a few duplicates).
func (b *builder) digits(mnistDir string) error {
	sets, err := b.readDigits(mnistDir)
	if err != nil {
		return err
	}
	b.digitTrainPool = map[string]map[int]bool{}
	for _, d := range []struct {
		name, id, phrase, tmpl string
		src                    int
		classes                []string
	}{
		{"fashion", "general/fashion-products", "fashion product", tmplFashion, srcFashion, fashionClasses},
		{"mnist", "general/handwritten-digits", "handwritten digit", tmplDigit, srcMNIST, digitNames},
	} {
		t := Task{ID: d.id, Group: "general", Phrase: d.phrase, Classes: d.classes, Template: d.tmpl, Metric: MetricAccuracy,
			Notes: fmt.Sprintf("train: %d random images per class of the official training split; test: official test split, capped", b.cfg.TrainPerClass)}
		tr := sets[d.name+"/train"]
		idx := drawPerClass(b.rng.Perm(len(tr.imgs)), tr.labels, b.cfg.TrainPerClass, b.digitInPairs(tr))
		sort.Ints(idx)
		pool := map[int]bool{}
		for _, i := range idx {
			pool[i] = true
			img := GrayToRGB(tr.imgs[i], tr.side, tr.side, b.cfg.Size)
			t.Train = append(t.Train, Item{b.bench.add(fmt.Sprintf("%s/train/%d", d.name, i), d.src, img, nil), int(tr.labels[i])})
		}
		b.digitTrainPool[d.name] = pool
		te := sets[d.name+"/test"]
		for _, i := range drawPerClass(b.rng.Perm(len(te.imgs)), te.labels, digitTestPerClass, b.digitInPairs(te)) {
			img := GrayToRGB(te.imgs[i], te.side, te.side, b.cfg.Size)
			t.Test = append(t.Test, Item{b.bench.add(fmt.Sprintf("%s/test/%d", d.name, i), d.src, img, nil), int(te.labels[i])})
		}
		b.tasks = append(b.tasks, t)
	}
	return nil
}

// drawPerClass walks perm and keeps, in perm order, the first perClass
// indices of every label (labels[i] is index i's label) for which skip is
// false. The digit pools and tests are these draws: which images they hold
// depends on the permutation (the seed and every earlier draw of the
// builder's generator) and on skip (the pretraining pairs the benchmark is
// held out from), so both must match the committed build's to reproduce it.
func drawPerClass(perm []int, labels []uint8, perClass int, skip func(i int) bool) []int {
	count := map[uint8]int{}
	var out []int
	for _, i := range perm {
		l := labels[i]
		if count[l] < perClass && !skip(i) {
			count[l]++
			out = append(out, i)
		}
	}
	return out
}

// digitInPairs reports whether image i of s, padded to the benchmark's
// size, equals an image of the pretraining pairs the benchmark is held out
// from (MNIST holds a few duplicates).
func (b *builder) digitInPairs(s digitSet) func(i int) bool {
	return func(i int) bool {
		return b.pairHashes[HashPixels(GrayToRGB(s.imgs[i], s.side, s.side, b.cfg.Size).Pix)]
	}
}

// pretrainDigits adds DigitsPretrain MNIST and Fashion-MNIST training
// images (outside the benchmark pools) with templated captions.
func (b *builder) pretrainDigits(mnistDir string) error {
	sets, err := b.readDigits(mnistDir)
	if err != nil {
		return err
	}
	for _, name := range []string{"fashion", "mnist"} {
		tr := sets[name+"/train"]
		n := 0
		for _, i := range b.rng.Perm(len(tr.imgs)) {
			if n == b.cfg.DigitsPretrain {
				break
			}
			if b.digitTrainPool[name][i] {
				continue
			}
			n++
			l := int(tr.labels[i])
			img := GrayToRGB(tr.imgs[i], tr.side, tr.side, b.cfg.Size)
			var caps []string
			src := srcMNIST
			if name == "fashion" {
				src = srcFashion
				c := fashionClasses[l]
				caps = []string{fill(tmplFashion, c), fmt.Sprintf("a greyscale product photo of %s %s.", article(c), c),
					fmt.Sprintf("%s %s, a kind of %s.", article(c), c, fashionKinds[l])}
			} else {
				caps = []string{fill(tmplDigit, digitNames[l]), fmt.Sprintf("the number %d written by hand.", l),
					fmt.Sprintf("a black and white image of the handwritten digit %s.", digitNames[l])}
			}
			b.pairs.add("", src, img, caps)
		}
	}
	return nil
}

// cardImage loads a rendered card, or nil if it failed to render.
func (b *builder) cardImage(render string, d deck, s, r int) (string, *imageproc.RGB) {
	p := filepath.Join(render, "cards", strings.ReplaceAll(d.name, "/", "-"), d.cardID(s, r)+".png")
	img, err := loadFit(p, b.cfg.Size)
	if err != nil {
		return p, nil
	}
	return p, img
}

// Per-class draws of the varied tasks (cards, flags, emoji): every class
// has PoolPerClass training images; the test draws per class are fixed for
// cards and flags and, for emoji, chosen per task (see emojiTestPerClass).
const (
	cardTestPerClass = 4
	flagTestPerClass = 12
	// flagClasses is the size of the seeded sample of countries of the
	// attributes set's flag tasks; generalFlagClasses of them (the first
	// draws of the same seeded permutation) make general/country-flags.
	flagClasses        = 52
	generalFlagClasses = 16
	// digitTestPerClass is the MNIST/Fashion-MNIST test images per class.
	digitTestPerClass = 30
)

// splitDraws labels a class's draws: the first pool images are training
// items, the next test images test items.
func splitDraws(idx []int, label, pool, test int) (train, tst []Item) {
	for i, im := range idx {
		switch {
		case i < pool:
			train = append(train, Item{im, label})
		case i < pool+test:
			tst = append(tst, Item{im, label})
		}
	}
	return train, tst
}

// sortItems orders items by image index.
func sortItems(items []Item) []Item {
	sort.Slice(items, func(i, j int) bool { return items[i].Image < items[j].Image })
	return items
}

// cards adds the playing-card tasks (general identity task and the five
// attribute tasks). Every card image is an i.i.d. draw of a benchmark deck
// and a render transform; train and test are disjoint draws of the same
// distribution, and all six tasks share the images.
func (b *builder) cards(decks []deck, render string) {
	var ident []string
	for s := range cardSuits {
		for r := range cardRanks {
			ident = append(ident, cardRanks[r]+" of "+cardSuits[s])
		}
	}
	type tdef struct {
		id, group, phrase, tmpl, metric string
		classes                         []string
		label                           func(s, r int) int
	}
	court := func(r int) int {
		if r >= 10 {
			return 0
		}
		return 1
	}
	defs := []tdef{
		{"general/playing-cards", "general", "playing card", tmplCard, MetricAccuracy, ident, func(s, r int) int { return s*13 + r }},
		{"attributes/card-identity", "attributes", "playing card", tmplCard, MetricAccuracy, ident, func(s, r int) int { return s*13 + r }},
		{"attributes/card-suit", "attributes", "playing card suit", tmplSuit, MetricAccuracy, cardSuits, func(s, r int) int { return s }},
		{"attributes/card-rank", "attributes", "playing card rank", tmplRank, MetricAccuracy, cardRanks, func(s, r int) int { return r }},
		{"attributes/card-colour", "attributes", "playing card color", tmplColour, MetricAccuracy, []string{"red", "black"}, func(s, r int) int {
			if s == 1 || s == 2 {
				return 0
			}
			return 1
		}},
		{"attributes/card-court", "attributes", "court card or pip card", tmplCourt, MetricMeanPerClass, []string{"court card", "pip card"}, func(s, r int) int { return court(r) }},
	}
	var jobs []drawJob
	var names []string
	for _, d := range decks {
		if d.split == "bench" {
			names = append(names, d.name)
		}
	}
	for s := range cardSuits {
		for r := range cardRanks {
			j := drawJob{key: "cards/" + ident[s*13+r], n: b.cfg.PoolPerClass + cardTestPerClass}
			for _, d := range decks {
				if d.split != "bench" {
					continue
				}
				src := srcGnomeCards
				if d.kde {
					src = srcKDECards
				}
				p := filepath.Join(render, "cards", strings.ReplaceAll(d.name, "/", "-"), d.cardID(s, r)+".png")
				if _, err := os.Stat(p); err == nil {
					j.styles = append(j.styles, styleSource{p, src})
				}
			}
			jobs = append(jobs, j)
		}
	}
	idx := b.drawAll(jobs, 2)
	notes := fmt.Sprintf("every image is an i.i.d. draw of (deck, render transform) over the %d benchmark decks (%s); train pool %d and test %d draws per card, disjoint",
		len(names), strings.Join(names, ", "), b.cfg.PoolPerClass, cardTestPerClass)
	for _, df := range defs {
		t := Task{ID: df.id, Group: df.group, Phrase: df.phrase, Classes: df.classes, Template: df.tmpl, Metric: df.metric, Notes: notes}
		for s := range cardSuits {
			for r := range cardRanks {
				tr, te := splitDraws(idx[s*13+r], df.label(s, r), b.cfg.PoolPerClass, cardTestPerClass)
				t.Train = append(t.Train, tr...)
				t.Test = append(t.Test, te...)
			}
		}
		t.Train, t.Test = sortItems(t.Train), sortItems(t.Test)
		b.tasks = append(b.tasks, t)
	}
}

// pretrainCards adds the cards of the pretraining decks with captions.
func (b *builder) pretrainCards(decks []deck, render string) {
	for _, d := range decks {
		if d.split != "pretrain" {
			continue
		}
		src := srcGnomeCards
		if d.kde {
			src = srcKDECards
		}
		style := strings.ReplaceAll(d.name[strings.Index(d.name, "/")+1:], "_", " ")
		for s := range cardSuits {
			for r := range cardRanks {
				_, img := b.cardImage(render, d, s, r)
				if img == nil {
					continue
				}
				id := cardRanks[r] + " of " + cardSuits[s]
				colour := "black"
				if s == 1 || s == 2 {
					colour = "red"
				}
				kind := "pip card"
				if r >= 10 {
					kind = "court card"
				}
				caps := []string{"the " + id + ".", fill(tmplCard, id), fill(tmplSuit, cardSuits[s]), fill(tmplRank, cardRanks[r]),
					fill(tmplColour, colour), fill(tmplCourt, kind), fmt.Sprintf("the %s in the %s deck style.", id, style)}
				b.pairs.add("", src, img, caps)
			}
		}
	}
}

// flags adds the country-flag tasks: country (general and attributes) and
// continent (attributes), over a seeded sample of flagClasses countries
// (generalFlagClasses of them for the general set)
// that have the three held-out flag styles flag-icons 4x3 and 1x1 and
// OpenMoji (famfamfam's 16x11 icons are too small to render at 128 pixels
// and cost the most bytes). Every image is an i.i.d. draw of (style,
// render transform); train and test are disjoint draws.
func (b *builder) flags(emojis []*emoji, countries []country, render string) {
	byISO := map[string]*emoji{}
	for _, e := range emojis {
		if e.iso != "" {
			byISO[e.iso] = e
		}
	}
	var cand []country
	var candJobs []drawJob
	for _, c := range countries {
		j := drawJob{key: "flags/" + c.code, n: b.cfg.PoolPerClass + flagTestPerClass}
		for _, st := range []styleSource{
			{filepath.Join(render, "flag-icons", c.code+".png"), srcFlagIcons},
			{filepath.Join(render, "flag-icons-1x1", c.code+".png"), srcFlagIcons},
		} {
			if _, err := os.Stat(st.path); err == nil {
				j.styles = append(j.styles, st)
			}
		}
		if e := byISO[c.code]; e != nil && e.files["openmoji"] != "" {
			if _, err := os.Stat(e.files["openmoji"]); err == nil {
				j.styles = append(j.styles, styleSource{e.files["openmoji"], srcOpenMoji})
			}
		}
		if len(j.styles) == 3 {
			cand = append(cand, c)
			candJobs = append(candJobs, j)
		}
	}
	pick := seededSample(len(cand), flagClasses, classRNG(b.cfg.Seed, "flags/sample"))
	inGeneral := map[int]bool{}
	for _, i := range seededSample(len(cand), generalFlagClasses, classRNG(b.cfg.Seed, "flags/sample")) {
		inGeneral[i] = true
	}
	var cs []country
	var jobs []drawJob
	var general []bool
	for _, i := range pick {
		cs = append(cs, cand[i])
		jobs = append(jobs, candJobs[i])
		general = append(general, inGeneral[i])
	}
	idx := b.drawAll(jobs, 3)
	var kept []country
	var keptIdx [][]int
	var keptGeneral []bool
	for i, c := range cs {
		if idx[i] != nil {
			kept = append(kept, c)
			keptIdx = append(keptIdx, idx[i])
			keptGeneral = append(keptGeneral, general[i])
		}
	}
	for _, id := range []string{"general/country-flags", "attributes/flag-country"} {
		isGeneral := id == "general/country-flags"
		var names []string
		for i, c := range kept {
			if keptGeneral[i] || !isGeneral {
				names = append(names, c.name)
			}
		}
		notes := fmt.Sprintf("a seeded sample of %d of the %d countries with the styles flag-icons 4x3, flag-icons 1x1 and OpenMoji (general/country-flags: %d of them, attributes: %d); every image an i.i.d. draw of (style, render transform); train pool %d and test %d draws per country, disjoint",
			len(names), len(cand), generalFlagClasses, flagClasses, b.cfg.PoolPerClass, flagTestPerClass)
		t := Task{ID: id, Group: id[:strings.Index(id, "/")], Phrase: "country flag", Classes: names, Template: tmplFlag, Metric: MetricAccuracy, Notes: notes}
		l := 0
		for i := range kept {
			if isGeneral && !keptGeneral[i] {
				continue
			}
			tr, te := splitDraws(keptIdx[i], l, b.cfg.PoolPerClass, flagTestPerClass)
			t.Train = append(t.Train, tr...)
			t.Test = append(t.Test, te...)
			l++
		}
		t.Train, t.Test = sortItems(t.Train), sortItems(t.Test)
		b.tasks = append(b.tasks, t)
	}
	// Continents with at least two countries.
	count := map[string]int{}
	for _, c := range kept {
		count[c.continent]++
	}
	var conts []string
	for k, n := range count {
		if k != "" && n >= 2 {
			conts = append(conts, k)
		}
	}
	sort.Strings(conts)
	ci := map[string]int{}
	for i, c := range conts {
		ci[c] = i
	}
	t := Task{ID: "attributes/flag-continent", Group: "attributes", Phrase: "continent of a country flag", Classes: conts, Template: tmplContinent, Metric: MetricMeanPerClass,
		Notes: "same images as attributes/flag-country; countries without a continent (or alone on theirs) are left out"}
	for i, c := range kept {
		if l, ok := ci[c.continent]; ok {
			tr, te := splitDraws(keptIdx[i], l, b.cfg.PoolPerClass, flagTestPerClass)
			t.Train = append(t.Train, tr...)
			t.Test = append(t.Test, te...)
		}
	}
	t.Train, t.Test = sortItems(t.Train), sortItems(t.Test)
	b.tasks = append(b.tasks, t)
}

// seededSample returns k of the indices 0..n-1 (all when n <= k), chosen
// with rng, in increasing order.
func seededSample(n, k int, rng *rand.Rand) []int {
	p := rng.Perm(n)
	if n > k {
		p = p[:k]
	}
	sort.Ints(p)
	return p
}

// emojiTask defines a task over emoji subcategories; max > 0 caps its
// classes at max: a nature task keeps a seeded sample of max, a general
// task keeps the classes the nature tasks use (a seeded sample of them when
// they are more than max) and fills up to max with a seeded sample of the
// others (so that the two sets share images).
type emojiTask struct {
	id, phrase string
	subcats    []string
	max        int
}

var emojiTaskDefs = []emojiTask{
	{"general/animals", "animal", []string{"animal-mammal", "animal-bird", "animal-marine", "animal-bug", "animal-reptile", "animal-amphibian"}, 16},
	{"general/food", "food", []string{"food-fruit", "food-vegetable", "food-prepared", "food-asian", "food-sweet", "drink"}, 16},
	{"general/vehicles", "vehicle", []string{"transport-ground", "transport-air", "transport-water"}, 12},
	{"nature/flowers", "flower", []string{"plant-flower"}, 0},
	{"nature/plants", "plant", []string{"plant-other"}, 0},
	{"nature/fruit", "fruit", []string{"food-fruit"}, 0},
	{"nature/vegetables", "vegetable", []string{"food-vegetable"}, 0},
	{"nature/mammals", "mammal", []string{"animal-mammal"}, 24},
	{"nature/birds", "bird", []string{"animal-bird"}, 16},
}

// benchSubcat holds the emoji subcategories the benchmark's tasks use.
var benchSubcat = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range emojiTaskDefs {
		for _, s := range d.subcats {
			m[s] = true
		}
	}
	return m
}()

// emojiDeny lists emoji of the subcategories above that are not instances
// of the task's concept (signs, body parts, places).
var emojiDeny = map[string]bool{
	"pig nose": true, "paw prints": true, "feather": true, "wing": true, "spider web": true, "microbe": true,
	"rosette": true, "empty nest": true, "nest with eggs": true,
	"station": true, "bus stop": true, "horizontal traffic light": true, "vertical traffic light": true, "construction": true,
	"police car light": true, "stop sign": true, "wheel": true, "oil drum": true, "motorway": true, "railway track": true,
	"fuel pump": true, "seat": true, "airplane departure": true, "airplane arrival": true, "ring buoy": true, "anchor": true,
	"oncoming bus": true, "oncoming police car": true, "oncoming taxi": true, "oncoming automobile": true,
}

// Emoji styles: the pretraining styles, and the held-out benchmark styles.
var (
	emojiBenchStyles = []string{"openmoji", "fluent", "fluent-color"}
	emojiStyleSrc    = map[string]int{"google": srcGoogle, "twitter": srcTwitter, "openmoji": srcOpenMoji, "fluent": srcFluent, "fluent-color": srcFluentColor}
)

// emojiTestPerClass is the test draws per class of an emoji task with n
// classes: enough for about 200 test images, between 4 and 16 per class.
func emojiTestPerClass(n int) int { return min(16, max(4, (200+n-1)/n)) }

// emojiTasks adds the emoji-based tasks (general animals/food/vehicles and
// the nature group). Every image is an i.i.d. draw of (held-out style,
// render transform); an emoji in several tasks has the same images in
// each, its first PoolPerClass draws the training pool and the next ones
// the test images.
func (b *builder) emojiTasks(emojis []*emoji) {
	classes := make([][]*emoji, len(emojiTaskDefs))
	need := map[*emoji]int{} // test draws an emoji needs
	var order []*emoji
	inNature := map[*emoji]bool{}
	// Nature tasks first: the general tasks reuse their classes.
	defOrder := make([]int, 0, len(emojiTaskDefs))
	for _, g := range []string{"nature/", "general/"} {
		for ti, def := range emojiTaskDefs {
			if strings.HasPrefix(def.id, g) {
				defOrder = append(defOrder, ti)
			}
		}
	}
	for _, ti := range defOrder {
		def := emojiTaskDefs[ti]
		subs := map[string]bool{}
		for _, s := range def.subcats {
			subs[s] = true
		}
		var cand []*emoji
		names := map[string]bool{}
		for _, e := range emojis {
			if subs[e.subcategory] && !emojiDeny[e.name] {
				cand = append(cand, e)
				names[e.name] = true
			}
		}
		var ok []*emoji
		for _, e := range cand {
			// "dog face" is dropped when "dog" is a class too.
			if base, found := strings.CutSuffix(e.name, " face"); found && names[base] {
				continue
			}
			n := 0
			for _, st := range emojiBenchStyles {
				if e.files[st] != "" {
					if _, err := os.Stat(e.files[st]); err == nil {
						n++
					}
				}
			}
			if n >= 2 {
				ok = append(ok, e)
			}
		}
		if def.max > 0 && len(ok) > def.max {
			// Keep the nature set's classes (general tasks), then a seeded sample.
			var keep, rest []*emoji
			for _, e := range ok {
				if inNature[e] && strings.HasPrefix(def.id, "general/") {
					keep = append(keep, e)
				} else {
					rest = append(rest, e)
				}
			}
			if len(keep) > def.max {
				rest, keep = keep, nil
			}
			pick := map[*emoji]bool{}
			for _, e := range keep {
				pick[e] = true
			}
			for _, i := range seededSample(len(rest), def.max-len(keep), classRNG(b.cfg.Seed, def.id+"/sample")) {
				pick[rest[i]] = true
			}
			var s []*emoji
			for _, e := range ok {
				if pick[e] {
					s = append(s, e)
				}
			}
			ok = s
		}
		classes[ti] = ok
		for _, e := range ok {
			if _, seen := need[e]; !seen {
				order = append(order, e)
			}
			need[e] = max(need[e], emojiTestPerClass(len(ok)))
			if strings.HasPrefix(def.id, "nature/") {
				inNature[e] = true
			}
		}
	}
	jobs := make([]drawJob, len(order))
	for i, e := range order {
		jobs[i] = drawJob{key: "emoji/" + e.code, n: b.cfg.PoolPerClass + need[e]}
		for _, st := range emojiBenchStyles {
			if e.files[st] != "" {
				jobs[i].styles = append(jobs[i].styles, styleSource{e.files[st], emojiStyleSrc[st]})
			}
		}
	}
	idx := b.drawAll(jobs, 2)
	at := map[*emoji][]int{}
	for i, e := range order {
		at[e] = idx[i]
	}
	for ti, def := range emojiTaskDefs {
		sample := ""
		if def.max > 0 && strings.HasPrefix(def.id, "general/") {
			sample = fmt.Sprintf(" (at most %d: the nature set's classes of these subcategories, then a seeded sample of the others)", def.max)
		} else if def.max > 0 {
			sample = fmt.Sprintf(" (a seeded sample of at most %d)", def.max)
		}
		t := Task{ID: def.id, Group: def.id[:strings.Index(def.id, "/")], Phrase: def.phrase, Template: tmplEmoji, Metric: MetricAccuracy}
		var kept []*emoji
		for _, e := range classes[ti] {
			if at[e] != nil {
				kept = append(kept, e)
			}
		}
		per := emojiTestPerClass(len(kept))
		for l, e := range kept {
			t.Classes = append(t.Classes, e.name)
			tr, te := splitDraws(at[e], l, b.cfg.PoolPerClass, per)
			t.Train = append(t.Train, tr...)
			t.Test = append(t.Test, te...)
		}
		t.Train, t.Test = sortItems(t.Train), sortItems(t.Test)
		t.Notes = fmt.Sprintf("emoji of subcategories %s%s; every image an i.i.d. draw of (style, render transform) over OpenMoji, Fluent flat and Fluent color; train pool %d and test %d draws per class, disjoint",
			strings.Join(def.subcats, ", "), sample, b.cfg.PoolPerClass, per)
		b.tasks = append(b.tasks, t)
	}
}

// orderTasks sorts tasks by group (general, nature, attributes), keeping
// the construction order within a group.
func (b *builder) orderTasks() {
	rank := map[string]int{"general": 0, "nature": 1, "attributes": 2}
	sort.SliceStable(b.tasks, func(i, j int) bool { return rank[b.tasks[i].Group] < rank[b.tasks[j].Group] })
}

// subcatWord turns an emoji subcategory into a caption word.
var subcatWord = map[string]string{
	"animal-mammal": "mammal", "animal-bird": "bird", "animal-marine": "sea animal", "animal-bug": "bug", "animal-reptile": "reptile",
	"animal-amphibian": "amphibian", "plant-flower": "flower", "plant-other": "plant", "food-fruit": "fruit", "food-vegetable": "vegetable",
	"food-prepared": "food", "food-asian": "food", "food-sweet": "sweet food", "drink": "drink", "transport-ground": "vehicle",
	"transport-air": "aircraft", "transport-water": "boat", "clothing": "piece of clothing", "musical-instrument": "musical instrument",
	"sport": "sport item", "game": "game", "household": "household object", "tool": "tool", "office": "office object",
	"computer": "computer item", "place-building": "building", "sky & weather": "weather symbol", "dishware": "kitchen object",
}

// pretrainEmoji adds every base emoji in the Google and Twitter styles.
func (b *builder) pretrainEmoji(emojis []*emoji, countries []country) {
	cByISO := map[string]country{}
	for _, c := range countries {
		cByISO[c.code] = c
	}
	for _, st := range []string{"google", "twitter"} {
		styleName := map[string]string{"google": "noto", "twitter": "twemoji"}[st]
		for _, e := range emojis {
			p := e.files[st]
			if p == "" {
				continue
			}
			img, err := loadFit(p, b.cfg.Size)
			if err != nil {
				continue
			}
			var caps []string
			if c, ok := cByISO[e.iso]; ok && e.iso != "" {
				caps = append(caps, fill(tmplFlag, c.name), "the national flag of "+c.name+".", fmt.Sprintf("a %s emoji of the flag of %s.", styleName, c.name))
				if c.continent != "" {
					caps = append(caps, fill(tmplContinent, c.continent))
				}
				if c.capital != "" {
					caps = append(caps, fmt.Sprintf("the flag of %s, whose capital is %s.", c.name, c.capital))
				}
			} else {
				n := e.name
				caps = append(caps, fill(tmplEmoji, n), fmt.Sprintf("an emoji of %s %s.", article(n), n), n+".")
				if w := subcatWord[e.subcategory]; w != "" {
					caps = append(caps, fmt.Sprintf("%s %s, a kind of %s.", article(n), n, w))
				}
				if len(e.tags) > 0 {
					k := min(len(e.tags), 4)
					caps = append(caps, fmt.Sprintf("a %s emoji: %s, %s.", styleName, n, strings.Join(e.tags[:k], ", ")))
				}
			}
			b.pairs.add("", emojiStyleSrc[st], img, caps)
		}
	}
}

// pretrainClipart adds OpenClipArt drawings.
func (b *builder) pretrainClipart() error {
	cl, err := b.f.loadClipart()
	if err != nil {
		return err
	}
	skipped := 0
	for _, c := range cl {
		img, err := loadFit(c.png, b.cfg.Size)
		if err != nil {
			skipped++
			continue
		}
		caps := []string{"clip art of " + c.title + ".", fmt.Sprintf("a drawing of %s, in the category %s.", c.title, c.folder)}
		if len(c.keywords) > 0 {
			caps = append(caps, c.title+": "+strings.Join(c.keywords, ", ")+".")
		}
		b.pairs.add("", srcClipart, img, caps)
	}
	b.cfg.Logf("OpenClipArt: %d drawings, %d skipped (too large or undecodable)", len(cl)-skipped, skipped)
	return nil
}

// pretrainStamps adds Tux Paint stamps.
func (b *builder) pretrainStamps() error {
	st, err := b.f.loadStamps()
	if err != nil {
		return err
	}
	for _, s := range st {
		img, err := loadFit(s.png, b.cfg.Size)
		if err != nil {
			continue
		}
		caps := []string{fmt.Sprintf("a picture of %s %s.", article(s.name), s.name), fmt.Sprintf("%s, from the %s collection.", s.name, s.folder)}
		if s.caption != "" {
			caps = append(caps, s.caption)
		}
		b.pairs.add("", srcTuxPaint, img, caps)
	}
	return nil
}

// article returns "an" before a vowel, else "a".
func article(s string) string {
	if s != "" && strings.ContainsRune("aeiouAEIOU", rune(s[0])) {
		return "an"
	}
	return "a"
}
