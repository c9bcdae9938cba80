package softcpt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/checkpoint"
)

// A checkpoint directory holds one consistent generation at every instant,
// whenever the process is killed. saveCheckpoint writes, in order:
//
//  1. the new tensors to checkpoint.next.safetensors (atomically), leaving
//     the previous generation (checkpoint.json + checkpoint.safetensors)
//     in place;
//  2. the new checkpoint.json (atomically): the manifest, which names the
//     epoch and is the commit point;
//  3. the rename of checkpoint.next.safetensors over
//     checkpoint.safetensors.
//
// readCheckpoint takes the tensor file whose epoch matches the manifest's:
// checkpoint.safetensors, or after a kill between 2 and 3 the next file
// (and completes the rename); after a kill between 1 and 2 the stale next
// file is ignored and the previous generation resumes. Both cases are
// reported through TrainOptions.Log. A manifest that matches neither file
// (a folder written by an older version and killed between its two
// renames, or edited by hand) is an error naming the folder.
const ckptNext = "checkpoint.next.safetensors"

// ckptHook, when set (by tests), is called between the steps of
// saveCheckpoint with "tensors" (after step 1) and "manifest" (after
// step 2), so that a test can kill the process there.
var ckptHook func(step string)

// removeStaleTemps deletes the temporary files that a killed atomic write
// of a checkpoint file left in dir.
func removeStaleTemps(dir string) {
	tmps, _ := filepath.Glob(filepath.Join(dir, ".checkpoint*.tmp*"))
	for _, t := range tmps {
		os.Remove(t)
	}
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ckptTensorsFor finds the tensors of the manifest's epoch in dir (see
// ckptNext): it returns them, the file they came from and a note for the
// log when the folder was left by an interrupted save.
func ckptTensorsFor(dir string, epoch int) (sd *checkpoint.StateDict, path, note string, err error) {
	want := fmt.Sprint(epoch)
	cur, next := filepath.Join(dir, ckptTensors), filepath.Join(dir, ckptNext)
	sd, err = checkpoint.Load(cur)
	if err == nil && sd.Metadata["epoch"] == want {
		if _, serr := os.Stat(next); serr == nil {
			note = fmt.Sprintf("checkpoint in %s: ignoring %s, left by a save interrupted before its manifest was written; resuming after epoch %d", dir, ckptNext, epoch)
		}
		return sd, cur, note, nil
	}
	nsd, nerr := checkpoint.Load(next)
	if nerr == nil && nsd.Metadata["epoch"] == want {
		note = fmt.Sprintf("checkpoint in %s: completing a save interrupted after its manifest was written (tensors of epoch %d in %s)", dir, epoch, ckptNext)
		return nsd, next, note, nil
	}
	if err != nil {
		return nil, cur, "", err
	}
	return nil, cur, "", errors.Errorf("checkpoint in %s is inconsistent: tensors from epoch %s, state from epoch %d (delete the folder, or train into another one, to start over)", dir, sd.Metadata["epoch"], epoch)
}

// rollForward completes a save interrupted between its manifest and its
// final rename (path is the next file), so that the next save starts from
// a folder in the steady state. It is best effort: a read-only folder
// still resumes from the next file.
func rollForward(dir, path string) {
	if !strings.HasSuffix(path, ckptNext) {
		return
	}
	if os.Rename(path, filepath.Join(dir, ckptTensors)) == nil {
		syncDir(dir)
	}
}
