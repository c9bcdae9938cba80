// Package data reads SoftCPT's few-shot benchmarks: image file lists and
// labels in the CoOp / SoftCPT folder layouts, benchmark definitions,
// train/val/test splits, few-shot sampling and the per-task metrics. It
// deals with file lists only; pixels are decoded by clip/imageproc
// (VerifyImages is the one function here that opens images).
//
// # Benchmarks and definitions
//
// A Benchmark is an ordered list of Tasks (the task id is the index).
// Benchmarks are described by JSON definition files; general10, plant6 and
// fashion20 are shipped (embedded, see ShippedDefinitions) and any other
// file can be given by path to LoadDefinition / Load. Schema:
//
//	{
//	  "name": "general10",                  // benchmark name (cache paths use it)
//	  "tasks": [                            // in task-id order
//	    {
//	      "name": "caltech101",             // task id: letters, digits, _ - .
//	      "task_name": "object image classification", // phrase fed to the task prompt learner
//	      "reader": "split_zhou",           // see Readers below
//	      "dir": "caltech-101",             // dataset folder, relative to the data root
//	      "image_dir": "101_ObjectCategories", // relative to dir; split paths are relative to it
//	      "split_file": "split_zhou_Caltech101.json", // relative to dir
//	      "fallback": "folder",             // split_zhou only: generate from class folders if split_file is missing
//	      "missing": "...",                 // appended to the missing-split-file error (where to get it)
//	      "metric": "mean_per_class",       // "accuracy" | "mean_per_class" (or "overall_acc" | "mean_acc")
//	      "template": "a photo of a {}.",   // zero-shot template; "{}" = class name, "{group}" = group
//	      "group": "",                      // optional tag
//	      "classes": ["..."],               // optional: expected class names (checked, after renaming)
//	      "rename": {"airplanes": "airplane"}, // optional: class (folder) name -> name used in prompts
//	      "ignore": ["BACKGROUND_Google"],  // optional: class folders to skip (folder readers)
//	      "split_seed": 1,                  // optional: seed of generated splits (default 1)
//	      "subsets": ["train", "test", "validation"], // folder_presplit: split folders, in order
//	      "task_info": "task_info.csv",     // fashion20: task table, relative to dir
//	      "subtasks": [{"name": "", "task_name": "", "template": "", "group": "", "metric": ""}]
//	                                        // split_dk / fashion20: per produced task overrides, by index
//	    }
//	  ]
//	}
//
// Unknown fields are errors. Paths must be relative and stay inside the
// data root. Class names keep their underscores; Task.Prompt and the
// prompt learners turn "_" into spaces as CoOp does.
//
// # Readers
//
//   - split_zhou: CoOp's split file {"train": [[impath, label, classname],
//     ...], "val": [...], "test": [...]}; classes ordered by label. With
//     "fallback": "folder" a missing file is replaced by a generated split
//     (as for "folder"). Without a fallback, CoOp's five fixed split files
//     (split_zhou_OxfordPets, _SUN397, _UCF101, _OxfordFlowers,
//     _StanfordCars) are replaced by splits generated from the dataset's
//     official files, as CoOp's dataset classes do (see README.md); any
//     other missing file is an error naming it and the "missing" hint.
//   - split_dk: SoftCPT's {"train": [[relpath, [label], [task]], ...],
//     "val", "test", "meta": {"taskid2cname": [[...], ...], "taskid2tname":
//     [...], "taskid2metric": [...], ...}}; one task per meta task.
//   - folder: image_dir/<class>/<images>; classes are the non-hidden
//     sub-folders sorted by name (minus "ignore"); each class's non-hidden
//     regular files, sorted by name and shuffled with a PCG generator
//     seeded by split_seed and the benchmark/task name, are split as CoOp's
//     read_and_split_data does: n_train = round(0.5·n), n_val = round(0.2·n)
//     (Python's round half to even), the rest test; every part must be
//     non-empty. If split_file is set and exists it is read instead.
//   - folder_presplit: image_dir/{train,test,validation}/<class>/...; each
//     subset is split 50/20/30 as above (one generator, subsets in order)
//     and the parts are concatenated (the authors' FruitVegetable and
//     KaggleVegetable procedure). All subsets must hold the same classes.
//   - aircraft: CoOp's FGVC-Aircraft files in dir: variants.txt (label =
//     line order) and images_variant_{train,val,test}.txt ("<id> <variant>"),
//     images at image_dir/<id>.jpg.
//   - fashion20: image_dir/<task id>/<class id>/* with integer folder names
//     and task_info.csv in dir (tab-separated, a header row; row i describes
//     task i: column 2 the task name, column 4 the comma-separated class
//     names; class id = label). Each task's images are split 50/20/30 as a
//     whole, as the authors do. Task ids are the task names lower-cased with
//     '_' for other characters.
//
// Splits generated by folder, folder_presplit, fashion20 and the
// split_zhou fallback are written as split_zhou JSON (paths relative to
// image_dir, class names as the folders / task table give them, before
// "rename") to <cache>/splits/<benchmark>/<task>-seed_<S>.json, and read
// back from there on later runs after checking their classes against the
// data. The cache directory is Options.CacheDir, by default
// <data root>/.softcpt-cache. Nothing is written into the dataset folders.
//
// # Few-shot sampling
//
// FewShot draws K items per class without replacement (all of a class
// with fewer); SampleFewShot does it for a task with K for train and
// min(K, 4) for val, seeded per (task name, seed) by TaskSeed, and caches
// the draw as JSON at <cache>/fewshot/<benchmark>/<task>/shot_K-seed_S.json,
// which is validated when read back. BaseNewSplit gives the base-to-new
// protocol's two halves of a task.
//
// # Metrics
//
// Score computes Accuracy (the authors' overall_acc) or MeanPerClass (their
// mean_acc, mean per-class recall from the confusion matrix) in percent;
// MeanScore averages task scores without weights (their overall_metric).
//
// Errors for bad input (missing folders or files, malformed split files,
// labels out of range, inconsistent class names, empty classes, bad
// task tables) name the file and, where there is one, the element index or
// line number. The package does not panic on bad files.
package data
