package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadGeneral10 loads one entry of the shipped general10 definition.
func loadGeneral10(t *testing.T, root, cache, name string) (*Task, error) {
	t.Helper()
	b, err := Load("general10", Options{Root: root, CacheDir: cache, Only: []string{name}})
	if err != nil {
		return nil, err
	}
	if len(b.Tasks) != 1 || b.Tasks[0].Name != name {
		t.Fatalf("got %d tasks", len(b.Tasks))
	}
	return b.Tasks[0], nil
}

// labelRuns returns the labels of items with consecutive repeats
// collapsed (the order in which the per-class groups appear).
func labelRuns(items []Item) []int {
	var runs []int
	for _, it := range items {
		if len(runs) == 0 || runs[len(runs)-1] != it.Label {
			runs = append(runs, it.Label)
		}
	}
	return runs
}

// officialWant is what a generated official split must look like.
type officialWant struct {
	classes              []string
	train, val, test     []int // per-class counts
	groupOrder           []int // label order of the per-class groups in train and val
	testPaths            []string
	testLabels           []int
	cacheName, splitFile string // cache file name; split_zhou file (dir-relative)
}

// checkOfficial loads entry name twice (two caches: the generated splits
// must agree, and a third load reads the cache back) and checks the split
// against want; it returns the task.
func checkOfficial(t *testing.T, root, name string, want officialWant) *Task {
	t.Helper()
	cache := t.TempDir()
	task, err := loadGeneral10(t, root, cache, name)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(task.Classes, want.classes) {
		t.Fatalf("classes %q, want %q", task.Classes, want.classes)
	}
	n := len(want.classes)
	for _, c := range []struct {
		name  string
		items []Item
		want  []int
	}{{"train", task.Train, want.train}, {"val", task.Val, want.val}, {"test", task.Test, want.test}} {
		if got := classCounts(c.items, n); !slices.Equal(got, c.want) {
			t.Errorf("%s counts %v, want %v", c.name, got, c.want)
		}
	}
	if got := labelRuns(task.Train); !slices.Equal(got, want.groupOrder) {
		t.Errorf("train groups in label order %v, want %v (first occurrence)", got, want.groupOrder)
	}
	if got := labelRuns(task.Val); !slices.Equal(got, want.groupOrder) {
		t.Errorf("val groups in label order %v, want %v", got, want.groupOrder)
	}
	if want.testPaths != nil {
		for i, it := range task.Test {
			if i >= len(want.testPaths) {
				break
			}
			if it.Path != filepath.Join(task.ImageDir, filepath.FromSlash(want.testPaths[i])) || it.Label != want.testLabels[i] {
				t.Errorf("test[%d] = %s label %d, want %s label %d", i, it.Path, it.Label, want.testPaths[i], want.testLabels[i])
			}
		}
	}
	seen := map[string]bool{}
	for _, it := range slices.Concat(task.Train, task.Val, task.Test) {
		if seen[it.Path] {
			t.Errorf("%s appears twice", it.Path)
		}
		seen[it.Path] = true
	}
	if err := VerifyFiles(task); err != nil {
		t.Errorf("VerifyFiles: %v", err)
	}

	// Reproducible: a fresh cache gives the same split.
	again, err := loadGeneral10(t, root, t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !itemsEqual(again.Train, task.Train) || !itemsEqual(again.Val, task.Val) || !itemsEqual(again.Test, task.Test) {
		t.Error("a second generation with the same seed differs")
	}
	// Cached: the split file in the cache holds the same split.
	cf := filepath.Join(cache, "splits", "general10", want.cacheName)
	classes, train, val, test, err := ReadSplitZhou(cf, task.ImageDir)
	if err != nil {
		t.Fatalf("cache: %v", err)
	}
	if !slices.Equal(classes, task.Classes) || !itemsEqual(train, task.Train) || !itemsEqual(val, task.Val) || !itemsEqual(test, task.Test) {
		t.Error("cached split differs from the generated one")
	}
	if _, err := os.Stat(filepath.Join(root, filepath.Dir(want.splitFile), filepath.Base(want.splitFile))); !os.IsNotExist(err) {
		t.Error("a split_zhou file was written into the dataset folder")
	}
	return task
}

// checkPrecedence writes a split_zhou file for entry name and checks that
// it is read instead of the official files.
func checkPrecedence(t *testing.T, root, name, splitFile, imgDir, rel string) {
	t.Helper()
	writeFile(t, filepath.Join(root, splitFile), fmt.Sprintf(`{"train": [[%q, 0, "only"]], "val": [], "test": [[%q, 0, "only"]]}`, rel, rel))
	defer os.Remove(filepath.Join(root, splitFile))
	task, err := loadGeneral10(t, root, t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(task.Classes, []string{"only"}) || len(task.Train) != 1 || task.Train[0].Path != filepath.Join(root, imgDir, filepath.FromSlash(rel)) {
		t.Errorf("split_zhou file not used: classes %q, train %v", task.Classes, task.Train)
	}
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	writeFile(t, path, strings.Join(lines, "\n")+"\n")
}

func TestOfficialPets(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "oxford_pets")
	// Breed (file prefix), class id, species, trainval count, test count.
	breeds := []struct {
		prefix        string
		id, species   int
		ntrain, ntest int
	}{{"Abyssinian", 1, 1, 10, 2}, {"american_bulldog", 2, 2, 3, 1}, {"Bengal", 3, 1, 13, 1}}
	var trainval, test []string
	// Bengal first, so that the groups follow first occurrence (3, 1, 2),
	// not label order.
	for _, k := range []int{2, 0, 1} {
		b := breeds[k]
		for i := 1; i <= b.ntrain+b.ntest; i++ {
			im := fmt.Sprintf("%s_%d", b.prefix, i)
			writeFile(t, filepath.Join(base, "images", im+".jpg"), "")
			line := fmt.Sprintf("%s %d %d %d", im, b.id, b.species, k+1)
			if i <= b.ntrain {
				trainval = append(trainval, line)
			} else {
				test = append(test, line)
			}
		}
	}
	writeLines(t, filepath.Join(base, "annotations", "trainval.txt"), trainval)
	writeLines(t, filepath.Join(base, "annotations", "test.txt"), append([]string{"#Image CLASS-ID SPECIES BREED ID", ""}, test...))
	// n_val = round(0.2·n): 10 → 2, 3 → round(0.6) = 1, 13 → round(2.6) = 3.
	checkOfficial(t, root, "oxford_pets", officialWant{
		classes:    []string{"abyssinian", "american_bulldog", "bengal"},
		train:      []int{8, 2, 10},
		val:        []int{2, 1, 3},
		test:       []int{2, 1, 1},
		groupOrder: []int{2, 0, 1},
		testPaths:  []string{"Bengal_14.jpg", "Abyssinian_11.jpg", "Abyssinian_12.jpg", "american_bulldog_4.jpg"},
		testLabels: []int{2, 0, 0, 1},
		cacheName:  "oxford_pets-seed_1.json", splitFile: "oxford_pets/split_zhou_OxfordPets.json",
	})
	checkPrecedence(t, root, "oxford_pets", "oxford_pets/split_zhou_OxfordPets.json", "oxford_pets/images", "Bengal_1.jpg")

	// Errors name the file (and line).
	writeLines(t, filepath.Join(base, "annotations", "test.txt"), []string{"Bengal_14 3 1"})
	_, err := loadGeneral10(t, root, t.TempDir(), "oxford_pets")
	mustErr(t, err, "split_zhou_OxfordPets.json", "is missing", filepath.Join(base, "annotations", "test.txt")+":1", "<breed id>")
	writeLines(t, filepath.Join(base, "annotations", "test.txt"), []string{"Bengal_14 1 1 3"})
	_, err = loadGeneral10(t, root, t.TempDir(), "oxford_pets")
	mustErr(t, err, "test.txt:1", `label 1 is "bengal", but earlier "abyssinian"`)
	writeLines(t, filepath.Join(base, "annotations", "test.txt"), []string{"Bengal_14 3 1 3"})
	// american_bulldog now has 2 trainval images: round(0.4) = 0 val images.
	trainval2 := slices.DeleteFunc(slices.Clone(trainval), func(l string) bool { return strings.HasPrefix(l, "american_bulldog_3 ") })
	writeLines(t, filepath.Join(base, "annotations", "trainval.txt"), trainval2)
	_, err = loadGeneral10(t, root, t.TempDir(), "oxford_pets")
	mustErr(t, err, `class 1 ("american_bulldog") has 2 training images`, "trainval.txt", "80/20")
	os.Remove(filepath.Join(base, "annotations", "trainval.txt"))
	_, err = loadGeneral10(t, root, t.TempDir(), "oxford_pets")
	mustErr(t, err, "split_zhou_OxfordPets.json", "DATASETS.md", filepath.Join(base, "annotations", "trainval.txt"))
}

func TestOfficialSUN397(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "sun397")
	classes := []string{"/a/abbey", "/b/bakery/shop", "/a/airport_terminal"}
	counts := [][2]int{{5, 2}, {3, 1}, {8, 1}} // trainval, test
	var train, test []string
	for i := 0; i < 8; i++ { // interleaved: first occurrence order is label order here
		for c, cl := range classes {
			if i < counts[c][0] {
				train = append(train, fmt.Sprintf("%s/sun_tr%d.jpg", cl, i))
			}
			if i < counts[c][1] {
				test = append(test, fmt.Sprintf("%s/sun_te%d.jpg", cl, i))
			}
		}
	}
	for _, l := range slices.Concat(train, test) {
		writeFile(t, filepath.Join(base, "SUN397", filepath.FromSlash(l[1:])), "")
	}
	writeLines(t, filepath.Join(base, "ClassName.txt"), classes)
	writeLines(t, filepath.Join(base, "Training_01.txt"), train)
	writeLines(t, filepath.Join(base, "Testing_01.txt"), test)
	// n_val: 5 → 1, 3 → 1, 8 → round(1.6) = 2.
	task := checkOfficial(t, root, "sun397", officialWant{
		classes:    []string{"abbey", "shop bakery", "airport_terminal"},
		train:      []int{4, 2, 6},
		val:        []int{1, 1, 2},
		test:       []int{2, 1, 1},
		groupOrder: []int{0, 1, 2},
		testPaths:  []string{"a/abbey/sun_te0.jpg", "b/bakery/shop/sun_te0.jpg", "a/airport_terminal/sun_te0.jpg", "a/abbey/sun_te1.jpg"},
		testLabels: []int{0, 1, 2, 0},
		cacheName:  "sun397-seed_1.json", splitFile: "sun397/split_zhou_SUN397.json",
	})
	if p := task.Prompt(2); p != "a photo of a airport terminal." {
		t.Errorf("prompt %q", p)
	}
	checkPrecedence(t, root, "sun397", "sun397/split_zhou_SUN397.json", "sun397/SUN397", "a/abbey/sun_tr0.jpg")

	writeLines(t, filepath.Join(base, "Testing_01.txt"), append(test, "/z/zoo/sun_1.jpg"))
	_, err := loadGeneral10(t, root, t.TempDir(), "sun397")
	mustErr(t, err, filepath.Join(base, "Testing_01.txt")+":5", `class folder "z/zoo"`, "ClassName.txt")
	writeLines(t, filepath.Join(base, "Testing_01.txt"), append(test, "/a/abbey/../../../x.jpg"))
	_, err = loadGeneral10(t, root, t.TempDir(), "sun397")
	mustErr(t, err, "Testing_01.txt:5")
	os.Remove(filepath.Join(base, "ClassName.txt"))
	_, err = loadGeneral10(t, root, t.TempDir(), "sun397")
	mustErr(t, err, "split_zhou_SUN397.json", filepath.Join(base, "ClassName.txt"))
}

func TestCamelWords(t *testing.T) {
	for in, want := range map[string]string{
		"ApplyEyeMakeup":   "Apply_Eye_Makeup",
		"YoYo":             "Yo_Yo",
		"HandstandPushups": "Handstand_Pushups",
		"Skiing":           "Skiing",
		"PlayingDaf":       "Playing_Daf",
		"iPhoneCall":       "Phone_Call", // leading lower-case letters dropped, as by CoOp's regex
		"TV2Show":          "T_V2_Show",
		"lower":            "",
	} {
		if got := camelWords(in); got != want {
			t.Errorf("camelWords(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"AM General Hummer SUV 2000": "2000 AM General Hummer SUV",
		"Single":                     "Single",
	} {
		if got := carsClassName(in); got != want {
			t.Errorf("carsClassName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOfficialUCF101(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "ucf101")
	list := filepath.Join(base, "ucfTrainTestlist")
	writeLines(t, filepath.Join(list, "classInd.txt"), []string{"1 ApplyEyeMakeup", "2 YoYo", "3 HandstandPushups"})
	actions := []string{"ApplyEyeMakeup", "YoYo", "HandstandPushups"}
	dirs := []string{"Apply_Eye_Makeup", "Yo_Yo", "Handstand_Pushups"}
	var train, test []string
	// Trainval counts 4 / 6 / 3 (first occurrence order 2, 3, 1), test 1 / 1 / 2.
	add := func(c, g int, isTest bool) {
		video := fmt.Sprintf("v_%s_g%02d_c01", strings.ReplaceAll(actions[c], "Handstand", "HandStand"), g)
		writeFile(t, filepath.Join(base, "UCF-101-midframes", dirs[c], video+".jpg"), "")
		if isTest {
			test = append(test, fmt.Sprintf("%s/%s.avi", actions[c], video))
		} else {
			train = append(train, fmt.Sprintf("%s/%s.avi %d\r", actions[c], video, c+1))
		}
	}
	for g := 8; g < 14; g++ {
		add(1, g, false)
	}
	for g := 8; g < 11; g++ {
		add(2, g, false)
	}
	for g := 8; g < 12; g++ {
		add(0, g, false)
	}
	add(2, 1, true)
	add(0, 1, true)
	add(1, 1, true)
	add(2, 2, true)
	writeLines(t, filepath.Join(list, "trainlist01.txt"), train)
	writeLines(t, filepath.Join(list, "testlist01.txt"), test)
	// n_val: 4 → round(0.8) = 1, 6 → round(1.2) = 1, 3 → 1.
	task := checkOfficial(t, root, "ucf101", officialWant{
		classes:    dirs,
		train:      []int{3, 5, 2},
		val:        []int{1, 1, 1},
		test:       []int{1, 1, 2},
		groupOrder: []int{1, 2, 0},
		testPaths:  []string{"Handstand_Pushups/v_HandStandPushups_g01_c01.jpg", "Apply_Eye_Makeup/v_ApplyEyeMakeup_g01_c01.jpg", "Yo_Yo/v_YoYo_g01_c01.jpg", "Handstand_Pushups/v_HandStandPushups_g02_c01.jpg"},
		testLabels: []int{2, 0, 1, 2},
		cacheName:  "ucf101-seed_1.json", splitFile: "ucf101/split_zhou_UCF101.json",
	})
	if p := task.Prompt(0); p != "a photo of a person doing Apply Eye Makeup." {
		t.Errorf("prompt %q", p)
	}
	checkPrecedence(t, root, "ucf101", "ucf101/split_zhou_UCF101.json", "ucf101/UCF-101-midframes", "Yo_Yo/v_YoYo_g08_c01.jpg")

	writeLines(t, filepath.Join(list, "testlist01.txt"), []string{"Surfing/v_Surfing_g01_c01.avi"})
	_, err := loadGeneral10(t, root, t.TempDir(), "ucf101")
	mustErr(t, err, filepath.Join(list, "testlist01.txt")+":1", `action "Surfing"`, "classInd.txt")
	writeLines(t, filepath.Join(list, "classInd.txt"), []string{"1 ApplyEyeMakeup", "1 YoYo"})
	_, err = loadGeneral10(t, root, t.TempDir(), "ucf101")
	mustErr(t, err, "classInd.txt:2", "duplicate class id 1")
	os.Remove(filepath.Join(list, "trainlist01.txt"))
	writeLines(t, filepath.Join(list, "classInd.txt"), []string{"1 ApplyEyeMakeup", "2 YoYo", "3 HandstandPushups"})
	_, err = loadGeneral10(t, root, t.TempDir(), "ucf101")
	mustErr(t, err, "split_zhou_UCF101.json", filepath.Join(list, "trainlist01.txt"))
}

// copyFixture copies a testdata/data file to dst.
func copyFixture(t *testing.T, name, dst string) {
	t.Helper()
	b, err := os.ReadFile(matFixture(name))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b))
}

func TestOfficialFlowers(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "oxford_flowers")
	// imagelabels.mat: labels 3 1 2 3 3 1 2 2 3 3 1 3 2 3 1 3 2 3 3 (19 images).
	copyFixture(t, "imagelabels.mat", filepath.Join(base, "imagelabels.mat"))
	writeFile(t, filepath.Join(base, "cat_to_name.json"), `{"2": "hard-leaved pocket orchid", "1": "pink primrose", "3": "canterbury bells", "99": "unused"}`)
	for i := 1; i <= 19; i++ {
		writeFile(t, filepath.Join(base, "jpg", fmt.Sprintf("image_%05d.jpg", i)), "")
	}
	// 50/20/30 per class: 4 → 2/1/1, 5 → round(2.5) = 2 / 1 / 2, 10 → 5/2/3.
	task := checkOfficial(t, root, "oxford_flowers", officialWant{
		classes:    []string{"pink primrose", "hard-leaved pocket orchid", "canterbury bells"},
		train:      []int{2, 2, 5},
		val:        []int{1, 1, 2},
		test:       []int{1, 2, 3},
		groupOrder: []int{2, 0, 1},
		cacheName:  "oxford_flowers-seed_1.json", splitFile: "oxford_flowers/split_zhou_OxfordFlowers.json",
	})
	if got := labelRuns(task.Test); !slices.Equal(got, []int{2, 0, 1}) {
		t.Errorf("test groups %v", got)
	}
	for _, it := range task.Train {
		if !strings.HasPrefix(filepath.Base(it.Path), "image_000") {
			t.Errorf("image name %s", it.Path)
		}
	}
	checkPrecedence(t, root, "oxford_flowers", "oxford_flowers/split_zhou_OxfordFlowers.json", "oxford_flowers/jpg", "image_00001.jpg")

	writeFile(t, filepath.Join(base, "cat_to_name.json"), `{"1": "pink primrose", "3": "canterbury bells"}`)
	_, err := loadGeneral10(t, root, t.TempDir(), "oxford_flowers")
	mustErr(t, err, filepath.Join(base, "cat_to_name.json"), `no class name for label "2"`)
	writeFile(t, filepath.Join(base, "cat_to_name.json"), `["pink primrose"]`)
	_, err = loadGeneral10(t, root, t.TempDir(), "oxford_flowers")
	mustErr(t, err, "cat_to_name.json")
	// Too few images of a class (the arrays fixture has no "labels").
	copyFixture(t, "arrays.mat", filepath.Join(base, "imagelabels.mat"))
	_, err = loadGeneral10(t, root, t.TempDir(), "oxford_flowers")
	mustErr(t, err, filepath.Join(base, "imagelabels.mat"), `no variable "labels"`)
	copyFixture(t, "v73_header.mat", filepath.Join(base, "imagelabels.mat"))
	_, err = loadGeneral10(t, root, t.TempDir(), "oxford_flowers")
	mustErr(t, err, "imagelabels.mat", "v7.3")
	os.Remove(filepath.Join(base, "imagelabels.mat"))
	_, err = loadGeneral10(t, root, t.TempDir(), "oxford_flowers")
	mustErr(t, err, "split_zhou_OxfordFlowers.json", "DATASETS.md", filepath.Join(base, "imagelabels.mat"))
}

func TestOfficialCars(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "stanford_cars")
	copyFixture(t, "cars_meta.mat", filepath.Join(base, "devkit", "cars_meta.mat"))
	copyFixture(t, "cars_train_annos.mat", filepath.Join(base, "devkit", "cars_train_annos.mat"))
	copyFixture(t, "cars_test_annos_withlabels.mat", filepath.Join(base, "cars_test_annos_withlabels.mat"))
	for i := 1; i <= 12; i++ {
		writeFile(t, filepath.Join(base, "cars_train", fmt.Sprintf("%05d.jpg", i)), "")
	}
	for i := 1; i <= 4; i++ {
		writeFile(t, filepath.Join(base, "cars_test", fmt.Sprintf("%05d.jpg", i)), "")
	}
	// Train classes 1 3 2 1 1 3 2 1 3 2 1 3 (5 / 3 / 4; n_val 1 each),
	// test classes 2 1 3 3.
	checkOfficial(t, root, "stanford_cars", officialWant{
		classes:    []string{"2000 AM General Hummer SUV", "2012 Acura RL Sedan", "2012 smart fortwo Convertible"},
		train:      []int{4, 2, 3},
		val:        []int{1, 1, 1},
		test:       []int{1, 1, 2},
		groupOrder: []int{0, 2, 1},
		testPaths:  []string{"cars_test/00001.jpg", "cars_test/00002.jpg", "cars_test/00003.jpg", "cars_test/00004.jpg"},
		testLabels: []int{1, 0, 2, 2},
		cacheName:  "stanford_cars-seed_1.json", splitFile: "stanford_cars/split_zhou_StanfordCars.json",
	})
	checkPrecedence(t, root, "stanford_cars", "stanford_cars/split_zhou_StanfordCars.json", "stanford_cars", "cars_train/00001.jpg")

	// Wrong variables / layouts are errors naming the file.
	copyFixture(t, "cars_meta.mat", filepath.Join(base, "cars_test_annos_withlabels.mat"))
	_, err := loadGeneral10(t, root, t.TempDir(), "stanford_cars")
	mustErr(t, err, filepath.Join(base, "cars_test_annos_withlabels.mat"), `no variable "annotations"`)
	copyFixture(t, "imagelabels.mat", filepath.Join(base, "devkit", "cars_meta.mat"))
	_, err = loadGeneral10(t, root, t.TempDir(), "stanford_cars")
	mustErr(t, err, filepath.Join(base, "devkit", "cars_meta.mat"), `no variable "class_names"`)
	os.Remove(filepath.Join(base, "devkit", "cars_meta.mat"))
	_, err = loadGeneral10(t, root, t.TempDir(), "stanford_cars")
	mustErr(t, err, "split_zhou_StanfordCars.json", filepath.Join(base, "devkit", "cars_meta.mat"))
}

// TestOfficialSeedAndCache checks that split_seed changes the draw and
// that a cache whose classes no longer match is an error.
func TestOfficialSeedAndCache(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "oxford_flowers")
	copyFixture(t, "imagelabels.mat", filepath.Join(base, "imagelabels.mat"))
	writeFile(t, filepath.Join(base, "cat_to_name.json"), `{"1": "a", "2": "b", "3": "c"}`)
	def := `{"name": "f", "tasks": [{"name": "flowers", "task_name": "flower image classification", "reader": "split_zhou",
	  "dir": "oxford_flowers", "image_dir": "jpg", "split_file": "split_zhou_OxfordFlowers.json", %s "template": "a photo of a {}."}]}`
	if err := os.MkdirAll(filepath.Join(base, "jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	b1, err := loadDef(t, root, cache, fmt.Sprintf(def, ""))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := loadDef(t, root, cache, fmt.Sprintf(def, `"split_seed": 2,`))
	if err != nil {
		t.Fatal(err)
	}
	if itemsEqual(b1.Tasks[0].Train, b2.Tasks[0].Train) {
		t.Error("split_seed 1 and 2 drew the same train split")
	}
	if _, err := os.Stat(filepath.Join(cache, "splits", "f", "flowers-seed_2.json")); err != nil {
		t.Errorf("seed-2 split not cached: %v", err)
	}
	writeFile(t, filepath.Join(base, "cat_to_name.json"), `{"1": "a", "2": "b", "3": "renamed"}`)
	_, err = loadDef(t, root, cache, fmt.Sprintf(def, ""))
	mustErr(t, err, filepath.Join(cache, "splits", "f", "flowers-seed_1.json"), "does not match")
}
