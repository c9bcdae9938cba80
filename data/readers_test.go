package data

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const caltechDef = `{"name": "g", "tasks": [{
  "name": "caltech101", "task_name": "object image classification", "reader": "split_zhou",
  "dir": "caltech-101", "image_dir": "101_ObjectCategories", "split_file": "split_zhou_Caltech101.json",
  "ignore": ["BACKGROUND_Google", "Faces_easy"],
  "rename": {"airplanes": "airplane", "Faces": "face"},
  "metric": "mean_per_class", "template": "a photo of a {}."}]}`

func TestSplitZhouCoOpLayout(t *testing.T) {
	root := t.TempDir()
	makeClassTree(t, filepath.Join(root, "caltech-101", "101_ObjectCategories"), map[string]int{"accordion": 2, "airplanes": 2})
	writeFile(t, filepath.Join(root, "caltech-101", "split_zhou_Caltech101.json"), `{
  "train": [["accordion/img_000.jpg", 0, "accordion"], ["airplanes/img_000.jpg", 1, "airplane"]],
  "val": [["accordion/img_001.jpg", 0, "accordion"]],
  "test": [["airplanes/img_001.jpg", 1, "airplane"], ["accordion/img_001.jpg", 0, "accordion"]]}`)
	b, err := loadDef(t, root, t.TempDir(), caltechDef)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tasks) != 1 {
		t.Fatalf("%d tasks", len(b.Tasks))
	}
	task := b.Tasks[0]
	if !slices.Equal(task.Classes, []string{"accordion", "airplane"}) {
		t.Errorf("classes %q", task.Classes)
	}
	if task.Name != "caltech101" || task.TaskName != "object image classification" || task.Metric != MeanPerClass {
		t.Errorf("task fields %+v", task)
	}
	wantPath := filepath.Join(root, "caltech-101", "101_ObjectCategories", "airplanes", "img_000.jpg")
	if len(task.Train) != 2 || task.Train[1].Path != wantPath || task.Train[1].Label != 1 {
		t.Errorf("train %+v, want second = %s label 1", task.Train, wantPath)
	}
	if len(task.Val) != 1 || len(task.Test) != 2 {
		t.Errorf("val %d test %d", len(task.Val), len(task.Test))
	}
	if got := task.Prompt(1); got != "a photo of a airplane." {
		t.Errorf("prompt %q", got)
	}
	if err := VerifyFiles(task); err != nil {
		t.Errorf("VerifyFiles: %v", err)
	}
	os.Remove(wantPath)
	mustErr(t, VerifyFiles(task), "img_000.jpg", "train[1]")
}

func TestSplitZhouMalformed(t *testing.T) {
	cases := []struct{ name, content, want string }{
		{"bad json", `{"train": [`, "bad JSON"},
		{"not object", `[1, 2]`, "bad JSON"},
		{"missing test", `{"train": [], "val": []}`, `missing "test"`},
		{"list not list", `{"train": 3, "val": [], "test": []}`, `"train" is not a list`},
		{"short element", `{"train": [["a/x.jpg", 0]], "val": [], "test": []}`, "train[0]"},
		{"label string", `{"train": [["a/x.jpg", "0", "a"]], "val": [], "test": []}`, "train[0]: label"},
		{"label float", `{"train": [["a/x.jpg", 0.5, "a"]], "val": [], "test": []}`, "train[0]: label"},
		{"label negative", `{"train": [["a/x.jpg", -1, "a"]], "val": [], "test": []}`, "train[0]: label"},
		{"path not string", `{"train": [[7, 0, "a"]], "val": [], "test": []}`, "image path"},
		{"path escapes", `{"train": [["../x.jpg", 0, "a"]], "val": [], "test": []}`, "must be relative"},
		{"class not string", `{"train": [["a/x.jpg", 0, 5]], "val": [], "test": []}`, "class name"},
		{"inconsistent class", `{"train": [["a/x.jpg", 0, "a"]], "val": [], "test": [["a/y.jpg", 0, "b"]]}`, "test[0]: label 0 has class name \"b\""},
		{"label gap", `{"train": [["a/x.jpg", 0, "a"], ["c/x.jpg", 2, "c"]], "val": [], "test": []}`, "label 1 never occurs"},
		{"empty", `{"train": [], "val": [], "test": []}`, "no items"},
		{"duplicate name", `{"train": [["a/x.jpg", 0, "a"], ["b/x.jpg", 1, "a"]], "val": [], "test": []}`, "share the class name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			makeClassTree(t, filepath.Join(root, "caltech-101", "101_ObjectCategories"), map[string]int{"a": 1})
			sf := filepath.Join(root, "caltech-101", "split_zhou_Caltech101.json")
			writeFile(t, sf, c.content)
			_, err := loadDef(t, root, t.TempDir(), caltechDef)
			mustErr(t, err, sf, c.want)
		})
	}
}

func TestSplitZhouLabelsChecked(t *testing.T) {
	root := t.TempDir()
	makeClassTree(t, filepath.Join(root, "caltech-101", "101_ObjectCategories"), map[string]int{"a": 1})
	// A class that only occurs in val is fine; a test set that is empty is not.
	writeFile(t, filepath.Join(root, "caltech-101", "split_zhou_Caltech101.json"),
		`{"train": [["a/x.jpg", 0, "a"]], "val": [["b/x.jpg", 1, "b"]], "test": []}`)
	_, err := loadDef(t, root, t.TempDir(), caltechDef)
	mustErr(t, err, "empty test split")
	// The definition's "classes" are checked.
	writeFile(t, filepath.Join(root, "caltech-101", "split_zhou_Caltech101.json"),
		`{"train": [["a/x.jpg", 0, "a"]], "val": [], "test": [["a/y.jpg", 0, "a"]]}`)
	def := strings.Replace(caltechDef, `"metric"`, `"classes": ["zebra"], "metric"`, 1)
	_, err = loadDef(t, root, t.TempDir(), def)
	mustErr(t, err, `class 0 is "a" in the data, "zebra" in the definition`)
}

func TestMissingFilesAndFolders(t *testing.T) {
	root := t.TempDir()
	_, err := loadDef(t, root, t.TempDir(), caltechDef)
	mustErr(t, err, filepath.Join(root, "caltech-101", "101_ObjectCategories"), "does not exist")

	makeClassTree(t, filepath.Join(root, "caltech-101", "101_ObjectCategories"), map[string]int{"a": 5})
	def := strings.Replace(caltechDef, `"metric"`, `"missing": "see CoOp's DATASETS.md", "metric"`, 1)
	_, err = loadDef(t, root, t.TempDir(), def)
	mustErr(t, err, filepath.Join(root, "caltech-101", "split_zhou_Caltech101.json"), "is missing", "DATASETS.md")

	if _, err := LoadBenchmark(&Definition{Name: "x"}, Options{Root: filepath.Join(root, "nope")}); err == nil {
		t.Error("missing data root: want error")
	}
}

func TestSplitZhouFallbackCaltechRules(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "caltech-101", "101_ObjectCategories")
	makeClassTree(t, img, map[string]int{"BACKGROUND_Google": 10, "Faces_easy": 10, "Faces": 10, "airplanes": 7, "accordion": 5})
	writeFile(t, filepath.Join(img, ".DS_Store"), "")
	writeFile(t, filepath.Join(img, "accordion", ".hidden.jpg"), "")
	def := strings.Replace(caltechDef, `"reader": "split_zhou",`, `"reader": "split_zhou", "fallback": "folder",`, 1)
	cache := t.TempDir()
	b, err := loadDef(t, root, cache, def)
	if err != nil {
		t.Fatal(err)
	}
	task := b.Tasks[0]
	// Sorted folder names (byte order, as Python sorts str): "Faces" < "accordion" < "airplanes".
	if !slices.Equal(task.Classes, []string{"face", "accordion", "airplane"}) {
		t.Fatalf("classes %q", task.Classes)
	}
	// CoOp counts: n=10 → 5/2/3; n=5 → round(2.5)=2 (half to even), round(1.0)=1, 2; n=7 → round(3.5)=4, round(1.4)=1, 2.
	if got := classCounts(task.Train, 3); !slices.Equal(got, []int{5, 2, 4}) {
		t.Errorf("train counts %v", got)
	}
	if got := classCounts(task.Val, 3); !slices.Equal(got, []int{2, 1, 1}) {
		t.Errorf("val counts %v", got)
	}
	if got := classCounts(task.Test, 3); !slices.Equal(got, []int{3, 2, 2}) {
		t.Errorf("test counts %v", got)
	}
	for _, it := range append(append(task.Train, task.Val...), task.Test...) {
		if strings.Contains(it.Path, ".hidden") {
			t.Errorf("hidden file listed: %s", it.Path)
		}
	}
	// The generated split is cached as split_zhou JSON with folder names.
	cf := filepath.Join(cache, "splits", "g", "caltech101-seed_1.json")
	classes, train, _, _, err := ReadSplitZhou(cf, img)
	if err != nil {
		t.Fatalf("cache file: %v", err)
	}
	if !slices.Equal(classes, []string{"Faces", "accordion", "airplanes"}) || !itemsEqual(train, task.Train) {
		t.Errorf("cache holds classes %q and a different train list", classes)
	}
	if _, err := os.Stat(filepath.Join(root, "caltech-101", "split_zhou_Caltech101.json")); !os.IsNotExist(err) {
		t.Error("a split file was written into the dataset folder")
	}
}

const folderDef = `{"name": "p", "tasks": [{
  "name": "flowers", "task_name": "flower image classification", "reader": "folder",
  "dir": "kaggle_flower_recognition", "image_dir": "flowers", %s
  "metric": "accuracy", "template": "a photo of a {}, a type of flower."}]}`

func TestFolderReaderProportionsDeterminism(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "kaggle_flower_recognition", "flowers")
	counts := map[string]int{"daisy": 20, "rose": 11, "tulip": 4, "zzz_ignored": 2}
	makeClassTree(t, img, counts)
	def := fmt.Sprintf(folderDef, `"ignore": ["zzz_ignored"], "rename": {"rose": "red rose"},`)
	cacheA, cacheB := t.TempDir(), t.TempDir()
	a, err := loadDef(t, root, cacheA, def)
	if err != nil {
		t.Fatal(err)
	}
	ta := a.Tasks[0]
	if !slices.Equal(ta.Classes, []string{"daisy", "red rose", "tulip"}) {
		t.Fatalf("classes %q", ta.Classes)
	}
	// n=20: 10/4/6; n=11: round(5.5)=6, round(2.2)=2, 3; n=4: 2/1/1.
	for i, want := range [][]int{{10, 6, 2}, {4, 2, 1}, {6, 3, 1}} {
		got := classCounts([][]Item{ta.Train, ta.Val, ta.Test}[i], 3)
		if !slices.Equal(got, want) {
			t.Errorf("%s counts %v, want %v", splitNames[i], got, want)
		}
	}
	// Each image is in exactly one split.
	seen := map[string]bool{}
	for _, it := range append(append(slices.Clone(ta.Train), ta.Val...), ta.Test...) {
		if seen[it.Path] {
			t.Errorf("%s in two splits", it.Path)
		}
		seen[it.Path] = true
	}
	if len(seen) != 35 {
		t.Errorf("%d images split, want 35", len(seen))
	}
	// Same seed, fresh cache: the same split.
	b, err := loadDef(t, root, cacheB, def)
	if err != nil {
		t.Fatal(err)
	}
	if !itemsEqual(ta.Train, b.Tasks[0].Train) || !itemsEqual(ta.Test, b.Tasks[0].Test) {
		t.Error("same seed gave a different split")
	}
	// Another split seed: a different shuffle.
	c, err := loadDef(t, root, t.TempDir(), fmt.Sprintf(folderDef, `"ignore": ["zzz_ignored"], "split_seed": 7,`))
	if err != nil {
		t.Fatal(err)
	}
	if itemsEqual(ta.Train, c.Tasks[0].Train) {
		t.Error("split_seed 7 gave the same split as seed 1")
	}
	// The cache is reused: a split edited in the cache is what loads.
	cf := filepath.Join(cacheA, "splits", "p", "flowers-seed_1.json")
	edited := ta.Clone()
	edited.Train, edited.Test = edited.Test, edited.Train
	edited.Classes = []string{"daisy", "rose", "tulip"}
	if err := WriteSplitZhou(cf, edited); err != nil {
		t.Fatal(err)
	}
	d, err := loadDef(t, root, cacheA, def)
	if err != nil {
		t.Fatal(err)
	}
	if !itemsEqual(d.Tasks[0].Train, ta.Test) {
		t.Error("cached split was not reused")
	}
	// A cache whose classes do not match the folders is an error naming it.
	makeClassTree(t, img, map[string]int{"sunflower": 5})
	_, err = loadDef(t, root, cacheA, def)
	mustErr(t, err, cf, "does not match")
	writeFile(t, cf, "{")
	_, err = loadDef(t, root, cacheA, def)
	mustErr(t, err, cf, "bad JSON")
}

func TestFolderReaderErrors(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "kaggle_flower_recognition", "flowers")
	makeClassTree(t, img, map[string]int{"daisy": 20, "rose": 3})
	_, err := loadDef(t, root, t.TempDir(), fmt.Sprintf(folderDef, ""))
	mustErr(t, err, filepath.Join(img, "rose"), "3 images")

	root2 := t.TempDir()
	writeFile(t, filepath.Join(root2, "kaggle_flower_recognition", "flowers", "stray.jpg"), "")
	_, err = loadDef(t, root2, t.TempDir(), fmt.Sprintf(folderDef, ""))
	mustErr(t, err, "no class folders")
}

func TestFolderPresplit(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "fruit_vegetable", "images")
	makeClassTree(t, filepath.Join(img, "train"), map[string]int{"apple": 10, "banana": 20})
	makeClassTree(t, filepath.Join(img, "test"), map[string]int{"apple": 5, "banana": 4})
	makeClassTree(t, filepath.Join(img, "validation"), map[string]int{"apple": 4, "banana": 5})
	def := `{"name": "plant", "tasks": [{"name": "fruit_vegetable", "task_name": "fruits and vegetables image classification",
	  "reader": "folder_presplit", "dir": "fruit_vegetable", "image_dir": "images", "metric": "accuracy",
	  "template": "a photo of a {}, a type of fruit or vegetable."}]}`
	b, err := loadDef(t, root, t.TempDir(), def)
	if err != nil {
		t.Fatal(err)
	}
	task := b.Tasks[0]
	// apple: 10 → 5/2/3, 5 → 2/1/2, 4 → 2/1/1; banana: 20 → 10/4/6, 4 → 2/1/1, 5 → 2/1/2.
	if got := classCounts(task.Train, 2); !slices.Equal(got, []int{9, 14}) {
		t.Errorf("train %v", got)
	}
	if got := classCounts(task.Val, 2); !slices.Equal(got, []int{4, 6}) {
		t.Errorf("val %v", got)
	}
	if got := classCounts(task.Test, 2); !slices.Equal(got, []int{6, 9}) {
		t.Errorf("test %v", got)
	}
	// Parts keep their subset order: the first train items come from train/.
	if !strings.Contains(task.Train[0].Path, filepath.Join("images", "train")) {
		t.Errorf("first train item %s", task.Train[0].Path)
	}
	makeClassTree(t, filepath.Join(img, "test"), map[string]int{"cherry": 5})
	_, err = loadDef(t, root, t.TempDir(), def)
	mustErr(t, err, filepath.Join(img, "test"), "differ")
}

func TestAircraftReader(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "fgvc_aircraft")
	writeFile(t, filepath.Join(base, "variants.txt"), "707-320\nA300B4\nDC-10\n")
	writeFile(t, filepath.Join(base, "images_variant_train.txt"), "0034309 707-320\n0034958 A300B4\n1400322 DC-10\n")
	writeFile(t, filepath.Join(base, "images_variant_val.txt"), "0056978 A300B4\r\n")
	writeFile(t, filepath.Join(base, "images_variant_test.txt"), "0062765 DC-10\n0064117 707-320\n\n")
	if err := os.MkdirAll(filepath.Join(base, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	def := `{"name": "g", "tasks": [{"name": "fgvc_aircraft", "task_name": "aircraft model image classification",
	  "reader": "aircraft", "dir": "fgvc_aircraft", "image_dir": "images", "metric": "mean_acc",
	  "template": "a photo of a {}, a type of aircraft."}]}`
	b, err := loadDef(t, root, t.TempDir(), def)
	if err != nil {
		t.Fatal(err)
	}
	task := b.Tasks[0]
	if !slices.Equal(task.Classes, []string{"707-320", "A300B4", "DC-10"}) || task.Metric != MeanPerClass {
		t.Fatalf("classes %q metric %q", task.Classes, task.Metric)
	}
	want := Item{Path: filepath.Join(base, "images", "0064117.jpg"), Label: 0}
	if len(task.Train) != 3 || len(task.Val) != 1 || len(task.Test) != 2 || task.Test[1] != want {
		t.Errorf("splits %+v %+v %+v", task.Train, task.Val, task.Test)
	}
	bad := filepath.Join(base, "images_variant_test.txt")
	writeFile(t, bad, "0062765 DC-10\n0064117 Boeing 747\n")
	_, err = loadDef(t, root, t.TempDir(), def)
	mustErr(t, err, bad+":2", `"Boeing 747"`)
	os.Remove(filepath.Join(base, "variants.txt"))
	_, err = loadDef(t, root, t.TempDir(), def)
	mustErr(t, err, filepath.Join(base, "variants.txt"))
}

const fashionDef = `{"name": "fashion20", "tasks": [{"name": "fashion20", "reader": "fashion20", "dir": "fashion20",
  "image_dir": "images", "metric": "mean_per_class", "template": "a photo of {}, a type of {group}.",
  "subtasks": [{"group": "pants"}, {"group": "shoes", "task_name": "shoe style override"}]}]}`

func makeFashion(t *testing.T, root string) {
	writeFile(t, filepath.Join(root, "fashion20", "task_info.csv"),
		"task_id\ttask_name\ttask_desc\tlabel_name\n"+
			"0\tpants type\tclassify pants\tjeans, sweatpants\n"+
			"1\tshoe style\tclassify shoes\tboots,sandals, sneakers\n")
	img := filepath.Join(root, "fashion20", "images")
	makeClassTree(t, filepath.Join(img, "0"), map[string]int{"0": 6, "1": 4})
	makeClassTree(t, filepath.Join(img, "1"), map[string]int{"0": 7, "1": 7, "2": 6})
}

func TestFashion20Reader(t *testing.T) {
	root := t.TempDir()
	makeFashion(t, root)
	cache := t.TempDir()
	b, err := loadDef(t, root, cache, fashionDef)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tasks) != 2 {
		t.Fatalf("%d tasks", len(b.Tasks))
	}
	t0, t1 := b.Tasks[0], b.Tasks[1]
	if t0.Name != "pants_type" || t0.TaskName != "pants type" || !slices.Equal(t0.Classes, []string{"jeans", "sweatpants"}) {
		t.Errorf("task 0: %q %q %q", t0.Name, t0.TaskName, t0.Classes)
	}
	if t1.Name != "shoe_style" || t1.TaskName != "shoe style override" || !slices.Equal(t1.Classes, []string{"boots", "sandals", "sneakers"}) {
		t.Errorf("task 1: %q %q %q", t1.Name, t1.TaskName, t1.Classes)
	}
	if t0.Template != "a photo of {}, a type of pants." || t1.Prompt(2) != "a photo of sneakers, a type of shoes." || t1.Group != "shoes" {
		t.Errorf("templates %q / %q", t0.Template, t1.Prompt(2))
	}
	if t0.Metric != MeanPerClass {
		t.Errorf("metric %q", t0.Metric)
	}
	// 50/20/30 per task as a whole: 10 → 5/2/3, 20 → 10/4/6.
	if len(t0.Train) != 5 || len(t0.Val) != 2 || len(t0.Test) != 3 {
		t.Errorf("task 0 split %d/%d/%d", len(t0.Train), len(t0.Val), len(t0.Test))
	}
	if len(t1.Train) != 10 || len(t1.Val) != 4 || len(t1.Test) != 6 {
		t.Errorf("task 1 split %d/%d/%d", len(t1.Train), len(t1.Val), len(t1.Test))
	}
	for _, it := range t1.Test {
		want := filepath.Join(root, "fashion20", "images", "1", fmt.Sprint(it.Label))
		if filepath.Dir(it.Path) != want {
			t.Errorf("item %s has label %d", it.Path, it.Label)
		}
	}
	// Cached per task and reused.
	again, err := loadDef(t, root, cache, fashionDef)
	if err != nil {
		t.Fatal(err)
	}
	if !itemsEqual(again.Tasks[1].Train, t1.Train) {
		t.Error("reload gave a different split")
	}
	if _, err := os.Stat(filepath.Join(cache, "splits", "fashion20", "fashion20.task01-seed_1.json")); err != nil {
		t.Errorf("cache file: %v", err)
	}
}

func TestFashion20Errors(t *testing.T) {
	root := t.TempDir()
	makeFashion(t, root)
	csv := filepath.Join(root, "fashion20", "task_info.csv")
	writeFile(t, csv, "h\th\th\th\n0\tpants type\tjeans, sweatpants\n")
	_, err := loadDef(t, root, t.TempDir(), fashionDef)
	mustErr(t, err, csv+":2", "4 tab-separated columns")

	root = t.TempDir()
	makeFashion(t, root)
	makeClassTree(t, filepath.Join(root, "fashion20", "images", "0"), map[string]int{"x": 1})
	_, err = loadDef(t, root, t.TempDir(), fashionDef)
	mustErr(t, err, filepath.Join(root, "fashion20", "images", "0", "x"), "class index")

	root = t.TempDir()
	makeFashion(t, root)
	makeClassTree(t, filepath.Join(root, "fashion20", "images"), map[string]int{"7": 1})
	_, err = loadDef(t, root, t.TempDir(), fashionDef)
	mustErr(t, err, filepath.Join(root, "fashion20", "images", "7"), "task index")

	root = t.TempDir()
	makeFashion(t, root)
	os.RemoveAll(filepath.Join(root, "fashion20", "images", "1"))
	_, err = loadDef(t, root, t.TempDir(), fashionDef)
	mustErr(t, err, filepath.Join(root, "fashion20", "images", "1"), "does not exist")

	root = t.TempDir()
	makeFashion(t, root)
	csv = filepath.Join(root, "fashion20", "task_info.csv")
	os.Remove(csv)
	_, err = loadDef(t, root, t.TempDir(), fashionDef)
	mustErr(t, err, csv)
}

const dkDef = `{"name": "mt", "tasks": [{"name": "two", "reader": "split_dk", "dir": "two", "image_dir": "images",
  "split_file": "split_dk_Two.json", "template": "a photo of a {}."}]}`

func TestSplitDK(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "two", "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	sf := filepath.Join(root, "two", "split_dk_Two.json")
	writeFile(t, sf, `{
	  "train": [["a/1.jpg", [0], [0]], ["b/1.jpg", [1], [0]], ["c/1.jpg", [0], [1]]],
	  "val": [["a/2.jpg", [1], [0]]],
	  "test": [["a/3.jpg", [0], [0]], ["c/3.jpg", [0], [1]]],
	  "meta": {"taskid2cname": [["cat", "dog"], ["oak"]], "taskid2tname": ["pet_image classification", "tree classification"],
	           "taskid2metric": ["mean_acc", "overall_acc"], "taskid2desc": ["x", "y"], "taskid2type": ["sl", "sl"]}}`)
	b, err := loadDef(t, root, t.TempDir(), dkDef)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tasks) != 2 {
		t.Fatalf("%d tasks", len(b.Tasks))
	}
	t0, t1 := b.Tasks[0], b.Tasks[1]
	if t0.Name != "two_00" || t0.TaskName != "pet image classification" || t0.Metric != MeanPerClass || !slices.Equal(t0.Classes, []string{"cat", "dog"}) {
		t.Errorf("task 0 %q %q %q %q", t0.Name, t0.TaskName, t0.Metric, t0.Classes)
	}
	if t1.Name != "two_01" || t1.Metric != Accuracy || len(t1.Train) != 1 || len(t1.Test) != 1 || len(t1.Val) != 0 {
		t.Errorf("task 1 %+v", t1)
	}
	if t0.Train[1] != (Item{Path: filepath.Join(root, "two", "images", "b", "1.jpg"), Label: 1}) {
		t.Errorf("item %+v", t0.Train[1])
	}
	bad := []struct{ content, want string }{
		{`{"train": [], "val": [], "test": []}`, `missing "meta"`},
		{`{"train": [["a.jpg", [0], [2]]], "val": [], "test": [], "meta": {"taskid2cname": [["x"]]}}`, "train[0]: task 2 outside"},
		{`{"train": [["a.jpg", [3], [0]]], "val": [], "test": [], "meta": {"taskid2cname": [["x"]]}}`, "train[0]: label 3 outside"},
		{`{"train": [["a.jpg", [0, 1], [0]]], "val": [], "test": [], "meta": {"taskid2cname": [["x"]]}}`, "train[0]: label"},
		{`{"train": [], "val": [], "test": [], "meta": {"taskid2cname": [["x"]], "taskid2tname": ["a", "b"]}}`, "taskid2tname has 2 entries"},
		{`{"train": [], "val": [], "test": [], "meta": {"taskid2cname": [["x"]], "taskid2metric": ["auc"]}}`, "taskid2metric[0]"},
		{`{"train": [], "val": [], "test": [], "meta": {"taskid2cname": "x"}}`, `bad "meta"`},
	}
	for _, c := range bad {
		writeFile(t, sf, c.content)
		_, err := loadDef(t, root, t.TempDir(), dkDef)
		mustErr(t, err, sf, c.want)
	}
}

func TestVerifyImages(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "kaggle_flower_recognition", "flowers")
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		writeFile(t, filepath.Join(img, "daisy", fmt.Sprintf("img_%d.png", i)), buf.String())
	}
	b, err := loadDef(t, root, t.TempDir(), fmt.Sprintf(folderDef, ""))
	if err != nil {
		t.Fatal(err)
	}
	task := b.Tasks[0]
	if err := VerifyImages(task, 0); err != nil {
		t.Fatalf("valid PNGs: %v", err)
	}
	bad := task.Test[0].Path
	writeFile(t, bad, buf.String()[:20]) // truncated PNG
	mustErr(t, VerifyImages(task, 0), bad, "test[0]")
	if err := VerifyImages(task, 0); err == nil {
		t.Fatal("truncated PNG decoded")
	}
}
