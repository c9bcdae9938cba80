package realdata

import (
	"fmt"
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
// TrainPerClass random training-split images per class and a capped test
// set from the official test split.
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
		{"fashion", "general/fashion-products", "fashion product recognition", tmplFashion, srcFashion, fashionClasses},
		{"mnist", "general/handwritten-digits", "handwritten digit recognition", tmplDigit, srcMNIST, digitNames},
	} {
		t := Task{ID: d.id, Group: "general", Phrase: d.phrase, Classes: d.classes, Template: d.tmpl, Metric: MetricAccuracy,
			Notes: fmt.Sprintf("train: %d random images per class of the official training split; test: official test split, capped", b.cfg.TrainPerClass)}
		tr := sets[d.name+"/train"]
		pool := map[int]bool{}
		count := make([]int, 10)
		for _, i := range b.rng.Perm(len(tr.imgs)) {
			l := int(tr.labels[i])
			if count[l] < b.cfg.TrainPerClass {
				count[l]++
				pool[i] = true
			}
		}
		idx := make([]int, 0, len(pool))
		for i := range pool {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			img := GrayToRGB(tr.imgs[i], tr.side, tr.side, b.cfg.Size)
			t.Train = append(t.Train, Item{b.bench.add(fmt.Sprintf("%s/train/%d", d.name, i), d.src, img, nil), int(tr.labels[i])})
		}
		b.digitTrainPool[d.name] = pool
		te := sets[d.name+"/test"]
		var items []Item
		perm := b.rng.Perm(len(te.imgs))
		count = make([]int, 10)
		for _, i := range perm {
			l := int(te.labels[i])
			if count[l] < testCap(10) {
				count[l]++
				img := GrayToRGB(te.imgs[i], te.side, te.side, b.cfg.Size)
				items = append(items, Item{b.bench.add(fmt.Sprintf("%s/test/%d", d.name, i), d.src, img, nil), l})
			}
		}
		t.Test = b.capTest(items, 10)
		b.tasks = append(b.tasks, t)
	}
	return nil
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

// cards adds the playing-card tasks (general identity task and the five
// attribute tasks) from the train and test decks.
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
		{"general/playing-cards", "general", "playing card recognition", tmplCard, MetricAccuracy, ident, func(s, r int) int { return s*13 + r }},
		{"attributes/card-identity", "attributes", "playing card recognition", tmplCard, MetricAccuracy, ident, func(s, r int) int { return s*13 + r }},
		{"attributes/card-suit", "attributes", "playing card suit recognition", tmplSuit, MetricAccuracy, cardSuits, func(s, r int) int { return s }},
		{"attributes/card-rank", "attributes", "playing card rank recognition", tmplRank, MetricAccuracy, cardRanks, func(s, r int) int { return r }},
		{"attributes/card-colour", "attributes", "playing card colour recognition", tmplColour, MetricAccuracy, []string{"red", "black"}, func(s, r int) int {
			if s == 1 || s == 2 {
				return 0
			}
			return 1
		}},
		{"attributes/card-court", "attributes", "court card versus pip card recognition", tmplCourt, MetricMeanPerClass, []string{"court card", "pip card"}, func(s, r int) int { return court(r) }},
	}
	type cardItem struct{ img, s, r int }
	var train, test []cardItem
	var trainDecks, testDecks []string
	for _, d := range decks {
		if d.split == "pretrain" {
			continue
		}
		src := srcGnomeCards
		if d.kde {
			src = srcKDECards
		}
		n := 0
		for s := range cardSuits {
			for r := range cardRanks {
				p, img := b.cardImage(render, d, s, r)
				if img == nil {
					continue
				}
				n++
				ci := cardItem{b.bench.add(p, src, img, nil), s, r}
				if d.split == "train" {
					train = append(train, ci)
				} else {
					test = append(test, ci)
				}
			}
		}
		if d.split == "train" {
			trainDecks = append(trainDecks, fmt.Sprintf("%s (%d)", d.name, n))
		} else {
			testDecks = append(testDecks, fmt.Sprintf("%s (%d)", d.name, n))
		}
	}
	for _, df := range defs {
		t := Task{ID: df.id, Group: df.group, Phrase: df.phrase, Classes: df.classes, Template: df.tmpl, Metric: df.metric,
			Notes: "train decks: " + strings.Join(trainDecks, ", ") + "; test decks: " + strings.Join(testDecks, ", ")}
		for _, c := range train {
			t.Train = append(t.Train, Item{c.img, df.label(c.s, c.r)})
		}
		var items []Item
		for _, c := range test {
			items = append(items, Item{c.img, df.label(c.s, c.r)})
		}
		t.Test = b.capTest(items, len(df.classes))
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

// flagItem is one flag image of a country.
type flagItem struct {
	img, country int
}

// flags adds the country-flag tasks: country (general and attributes) and
// continent (attributes).
func (b *builder) flags(emojis []*emoji, countries []country, render string) {
	byISO := map[string]*emoji{}
	for _, e := range emojis {
		if e.iso != "" {
			byISO[e.iso] = e
		}
	}
	fam := filepath.Join(b.f.Root(), "usr", "share", "flags", "countries", "16x11")
	var names []string
	var cs []country
	var train, test []flagItem
	for _, c := range countries {
		e := byISO[c.code]
		if e == nil || e.files["google"] == "" || e.files["twitter"] == "" {
			continue
		}
		testPath := filepath.Join(render, "flag-icons", c.code+".png")
		timg, err := loadFit(testPath, b.cfg.Size)
		if err != nil {
			continue
		}
		var tr []flagItem
		for _, st := range []struct {
			path string
			src  int
		}{{filepath.Join(fam, c.code+".png"), srcFamfamfam}, {e.files["google"], srcGoogle}, {e.files["twitter"], srcTwitter}, {e.files["openmoji"], srcOpenMoji}} {
			img, err := loadFit(st.path, b.cfg.Size)
			if err != nil {
				continue
			}
			tr = append(tr, flagItem{b.bench.add(st.path, st.src, img, nil), len(cs)})
		}
		if len(tr) < 3 {
			continue
		}
		train = append(train, tr...)
		test = append(test, flagItem{b.bench.add(testPath, srcFlagIcons, timg, nil), len(cs)})
		names = append(names, c.name)
		cs = append(cs, c)
	}
	for _, id := range []string{"general/country-flags", "attributes/flag-country"} {
		g := id[:strings.Index(id, "/")]
		t := Task{ID: id, Group: g, Phrase: "country flag recognition", Classes: names, Template: tmplFlag, Metric: MetricAccuracy,
			Notes: "train: famfamfam 16x11, Google, Twitter and OpenMoji flag emoji; test: flag-icons 4x3"}
		for _, f := range train {
			t.Train = append(t.Train, Item{f.img, f.country})
		}
		var items []Item
		for _, f := range test {
			items = append(items, Item{f.img, f.country})
		}
		t.Test = b.capTest(items, len(names))
		b.tasks = append(b.tasks, t)
	}
	// Continents with at least two countries.
	count := map[string]int{}
	for _, c := range cs {
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
	t := Task{ID: "attributes/flag-continent", Group: "attributes", Phrase: "flag continent recognition", Classes: conts, Template: tmplContinent, Metric: MetricMeanPerClass,
		Notes: "same images as attributes/flag-country; countries without a continent (or alone on theirs) are left out"}
	for _, f := range train {
		if l, ok := ci[cs[f.country].continent]; ok {
			t.Train = append(t.Train, Item{f.img, l})
		}
	}
	var items []Item
	for _, f := range test {
		if l, ok := ci[cs[f.country].continent]; ok {
			items = append(items, Item{f.img, l})
		}
	}
	t.Test = b.capTest(items, len(conts))
	b.tasks = append(b.tasks, t)
}

// emojiTask defines a task over emoji subcategories.
type emojiTask struct {
	id, phrase string
	subcats    []string
}

var emojiTaskDefs = []emojiTask{
	{"general/animals", "animal recognition", []string{"animal-mammal", "animal-bird", "animal-marine", "animal-bug", "animal-reptile", "animal-amphibian"}},
	{"general/food", "food recognition", []string{"food-fruit", "food-vegetable", "food-prepared", "food-asian", "food-sweet", "drink"}},
	{"general/vehicles", "vehicle recognition", []string{"transport-ground", "transport-air", "transport-water"}},
	{"nature/flowers", "flower recognition", []string{"plant-flower"}},
	{"nature/plants", "plant recognition", []string{"plant-other"}},
	{"nature/fruit", "fruit recognition", []string{"food-fruit"}},
	{"nature/vegetables", "vegetable recognition", []string{"food-vegetable"}},
	{"nature/mammals", "mammal recognition", []string{"animal-mammal"}},
	{"nature/birds", "bird recognition", []string{"animal-bird"}},
}

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

// emojiStyles are the benchmark's emoji styles: training styles, then the test style.
var (
	emojiTrainStyles = []string{"google", "twitter", "openmoji"}
	emojiStyleSrc    = map[string]int{"google": srcGoogle, "twitter": srcTwitter, "openmoji": srcOpenMoji, "fluent": srcFluent}
)

// emojiTasks adds the emoji-based tasks (general animals/food/vehicles and
// the nature group).
func (b *builder) emojiTasks(emojis []*emoji) {
	for _, def := range emojiTaskDefs {
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
		t := Task{ID: def.id, Group: def.id[:strings.Index(def.id, "/")], Phrase: def.phrase, Template: tmplEmoji, Metric: MetricAccuracy,
			Notes: "emoji subcategories " + strings.Join(def.subcats, ", ") + "; train: Google, Twitter, OpenMoji styles; test: Microsoft Fluent flat style"}
		var test []Item
		for _, e := range cand {
			// "dog face" is dropped when "dog" is a class too.
			if base, ok := strings.CutSuffix(e.name, " face"); ok && names[base] {
				continue
			}
			if e.files["fluent"] == "" {
				continue
			}
			timg, err := loadFit(e.files["fluent"], b.cfg.Size)
			if err != nil {
				continue
			}
			var tr []Item
			label := len(t.Classes)
			for _, st := range emojiTrainStyles {
				if e.files[st] == "" {
					continue
				}
				img, err := loadFit(e.files[st], b.cfg.Size)
				if err != nil {
					continue
				}
				tr = append(tr, Item{b.bench.add(e.files[st], emojiStyleSrc[st], img, nil), label})
			}
			if len(tr) < 2 {
				continue
			}
			t.Train = append(t.Train, tr...)
			test = append(test, Item{b.bench.add(e.files["fluent"], srcFluent, timg, nil), label})
			t.Classes = append(t.Classes, e.name)
		}
		t.Test = b.capTest(test, len(t.Classes))
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
