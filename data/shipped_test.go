package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestShippedDefinitionsParse(t *testing.T) {
	if got := ShippedDefinitions(); !slices.Equal(got, []string{"fashion20", "general10", "plant6"}) {
		t.Fatalf("shipped %q", got)
	}
	g, err := LoadDefinition("general10")
	if err != nil {
		t.Fatal(err)
	}
	var names, metrics []string
	for _, td := range g.Tasks {
		names = append(names, td.Name)
		m, _ := ParseMetric(td.Metric)
		metrics = append(metrics, string(m))
	}
	wantNames := []string{"caltech101", "dtd", "eurosat", "fgvc_aircraft", "food101", "oxford_flowers", "oxford_pets", "stanford_cars", "sun397", "ucf101"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("general10 order %q", names)
	}
	mp, acc := string(MeanPerClass), string(Accuracy)
	if want := []string{mp, acc, acc, mp, acc, mp, mp, acc, acc, acc}; !slices.Equal(metrics, want) {
		t.Errorf("general10 metrics %q", metrics)
	}
	p, err := LoadDefinition("plant6")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tasks) != 6 || len(p.Tasks[5].Rename) != 39 || p.Tasks[0].TaskName != "fruits and vegetables image classification" {
		t.Errorf("plant6: %d tasks, %d PlantVillage names", len(p.Tasks), len(p.Tasks[5].Rename))
	}
	f, err := LoadDefinition("fashion20")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tasks) != 1 || len(f.Tasks[0].Subtasks) != 20 {
		t.Errorf("fashion20 entries %d", len(f.Tasks))
	}
	if _, err := LoadDefinition("general11"); err == nil {
		t.Error("unknown name: want error")
	}
	// A definition file by path.
	file := filepath.Join(t.TempDir(), "mine.json")
	writeFile(t, file, `{"name": "mine", "tasks": [{"name": "x", "task_name": "x", "reader": "folder", "dir": "x", "image_dir": "", "template": "{}"}]}`)
	if d, err := LoadDefinition(file); err != nil || d.Name != "mine" || d.Source() != file {
		t.Errorf("by path: %v", err)
	}
}

func TestDefinitionErrors(t *testing.T) {
	base := `{"name": "x", "tasks": [{"name": "t", "task_name": "t", "reader": "folder", "dir": "d", "template": "{}"%s}]}`
	cases := []struct{ extra, want string }{
		{`, "colour": 1`, "unknown field"},
		{`, "metric": "f1"`, "unknown metric"},
		{`, "dir": "/abs"`, "relative"},
		{`, "dir": "../up"`, "relative"},
		{`, "fallback": "folder"`, "fallback"},
		{`, "subtasks": [{}]`, "subtasks"},
	}
	for _, c := range cases {
		_, err := ParseDefinition([]byte(fmt.Sprintf(base, c.extra)), "def.json")
		mustErr(t, err, "def.json", c.want)
	}
	for _, c := range []struct{ def, want string }{
		{`{"name": "x", "tasks": []}`, "no \"tasks\""},
		{`{"tasks": [{}]}`, "missing \"name\""},
		{`{"name": "x", "tasks": [{"name": "t", "reader": "zip"}]}`, "unknown reader"},
		{`{"name": "x", "tasks": [{"name": "t", "task_name": "t", "reader": "split_zhou", "template": "{}"}]}`, "split_file"},
		{`{"name": "x", "tasks": [{"name": "t", "task_name": "t", "reader": "folder", "template": "a photo"}]}`, "no \"{}\""},
		{`{"name": "x", "tasks": [{"name": "a b", "task_name": "t", "reader": "folder", "template": "{}"}]}`, "name must"},
		{`{"name": "x", "tasks": [{"name": "t", "reader": "folder", "template": "{}"}]}`, "task_name"},
		{`{"name": "x", "tasks": [{"name": "t", "task_name": "t", "reader": "folder", "template": "{}"}, {"name": "t", "task_name": "t", "reader": "folder", "template": "{}"}]}`, "duplicate"},
		{`{"name": "x", "tasks": [`, "parse"},
	} {
		_, err := ParseDefinition([]byte(c.def), "def.json")
		mustErr(t, err, "def.json", c.want)
	}
}

// zhouFile writes a split_zhou file with two classes, 2 train / 1 val /
// 1 test image each, and creates the images.
func zhouFile(t *testing.T, imgDir, splitFile string, classes [2]string) {
	var sb strings.Builder
	sb.WriteString("{")
	for s, n := range []int{2, 1, 1} {
		if s > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "%q: [", splitNames[s])
		k := 0
		for c, name := range classes {
			for i := 0; i < n; i++ {
				rel := fmt.Sprintf("c%d/%s_%d.jpg", c, splitNames[s], i)
				writeFile(t, filepath.Join(imgDir, filepath.FromSlash(rel)), "")
				if k > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "[%q, %d, %q]", rel, c, name)
				k++
			}
		}
		sb.WriteString("]")
	}
	sb.WriteString("}")
	writeFile(t, splitFile, sb.String())
}

func TestLoadShippedGeneral10(t *testing.T) {
	root := t.TempDir()
	def, err := LoadDefinition("general10")
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range def.Tasks {
		base := filepath.Join(root, td.Dir)
		img := filepath.Join(base, td.ImageDir)
		switch td.Reader {
		case ReaderSplitZhou:
			zhouFile(t, img, filepath.Join(base, td.SplitFile), [2]string{td.Name + "_x", td.Name + "_y"})
		case ReaderAircraft:
			writeFile(t, filepath.Join(base, "variants.txt"), "707-320\nA300B4\n")
			writeFile(t, filepath.Join(base, "images_variant_train.txt"), "1 707-320\n2 A300B4\n")
			writeFile(t, filepath.Join(base, "images_variant_val.txt"), "3 707-320\n4 A300B4\n")
			writeFile(t, filepath.Join(base, "images_variant_test.txt"), "5 707-320\n6 A300B4\n")
			if err := os.MkdirAll(img, 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected reader %s", td.Reader)
		}
	}
	// Caltech101 without its split file: generated from folders with CoOp's rules.
	os.Remove(filepath.Join(root, "caltech-101", "split_zhou_Caltech101.json"))
	os.RemoveAll(filepath.Join(root, "caltech-101", "101_ObjectCategories"))
	makeClassTree(t, filepath.Join(root, "caltech-101", "101_ObjectCategories"),
		map[string]int{"BACKGROUND_Google": 5, "Faces_easy": 5, "Faces": 5, "Leopards": 5, "Motorbikes": 5, "airplanes": 5, "ant": 5})
	b, err := Load("general10", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tasks) != 10 || b.Name != "general10" {
		t.Fatalf("%d tasks", len(b.Tasks))
	}
	cal := b.Task("caltech101")
	if !slices.Equal(cal.Classes, []string{"face", "leopard", "motorbike", "airplane", "ant"}) {
		t.Errorf("caltech classes %q", cal.Classes)
	}
	if _, err := os.Stat(filepath.Join(root, ".softcpt-cache", "splits", "general10", "caltech101-seed_1.json")); err != nil {
		t.Errorf("default cache dir not used: %v", err)
	}
	if p := b.Task("eurosat").Prompt(0); p != "a centered satellite photo of eurosat x." {
		t.Errorf("eurosat prompt %q", p)
	}
	if b.Task("ucf101").TaskName != "human action image classification" || b.Task("dtd").Template != "{} texture." {
		t.Error("task name / template not from the definition")
	}
	// Only some entries.
	only, err := Load("general10", Options{Root: root, Only: []string{"dtd", "fgvc_aircraft"}})
	if err != nil || len(only.Tasks) != 2 {
		t.Fatalf("Only: %v", err)
	}
	// Flowers without split file: an error saying where to get it.
	os.Remove(filepath.Join(root, "oxford_flowers", "split_zhou_OxfordFlowers.json"))
	_, err = Load("general10", Options{Root: root})
	mustErr(t, err, "split_zhou_OxfordFlowers.json", "DATASETS.md", ".mat")
}

func TestLoadShippedPlant6(t *testing.T) {
	root := t.TempDir()
	def, err := LoadDefinition("plant6")
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range def.Tasks {
		img := filepath.Join(root, td.Dir, td.ImageDir)
		counts := map[string]int{"alpha": 5, "beta": 6}
		if td.Name == "plant_village" {
			counts = map[string]int{"Tomato___Early_blight": 5, "Tomato___healthy": 5, "Background_without_leaves": 5}
		}
		if td.Reader == ReaderFolderPresplit {
			for _, s := range td.Subsets {
				makeClassTree(t, filepath.Join(img, s), counts)
			}
		} else {
			makeClassTree(t, img, counts)
		}
	}
	b, err := Load("plant6", Options{Root: root, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tasks) != 6 {
		t.Fatalf("%d tasks", len(b.Tasks))
	}
	pv := b.Task("plant_village")
	if !slices.Equal(pv.Classes, []string{"background without leaves", "tomato leaf with early blight", "healthy tomato leaf"}) {
		t.Errorf("PlantVillage classes %q", pv.Classes)
	}
	fv := b.Task("fruit_vegetable")
	if got := len(fv.Train) + len(fv.Val) + len(fv.Test); got != 33 {
		t.Errorf("fruit_vegetable has %d images, want 33", got)
	}
}

func TestLoadShippedFashion20(t *testing.T) {
	root := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id\ttask_name\ttask_desc\tlabel_name\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&csv, "%d\tattribute %d\tdesc\tone,two\n", i, i)
		makeClassTree(t, filepath.Join(root, "fashion20", "images", fmt.Sprint(i)), map[string]int{"0": 3, "1": 2})
	}
	writeFile(t, filepath.Join(root, "fashion20", "task_info.csv"), csv.String())
	b, err := Load("fashion20", Options{Root: root, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tasks) != 20 || b.NumClasses() != 40 {
		t.Fatalf("%d tasks, %d classes", len(b.Tasks), b.NumClasses())
	}
	groups := map[int]string{0: "pants", 3: "tops", 7: "shoes", 14: "hat", 15: "socks", 17: "skirt", 18: "tops", 19: "underwear"}
	for i, g := range groups {
		if want := "a photo of one, a type of " + g + "."; b.Tasks[i].Prompt(0) != want {
			t.Errorf("task %d prompt %q, want %q", i, b.Tasks[i].Prompt(0), want)
		}
	}
	if b.Tasks[4].Name != "attribute_4" || b.Tasks[4].Metric != MeanPerClass {
		t.Errorf("task 4 %q %q", b.Tasks[4].Name, b.Tasks[4].Metric)
	}
}
