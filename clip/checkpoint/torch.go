package checkpoint

import (
	"archive/zip"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/pkg/errors"
	"golang.org/x/sync/errgroup"

	"github.com/softcpt/softcpt-go/tensor"
)

// maxTreeDepth bounds the nesting walked when collecting tensors.
const maxTreeDepth = 128

// storageRef is a persistent-id storage: ('storage', <Type>Storage, key,
// location, numel).
type storageRef struct {
	dt    dtype
	key   string
	numel int64
}

// tensorRef is a tensor rebuilt by torch._utils._rebuild_tensor_v2.
type tensorRef struct {
	st     *storageRef
	offset int64
	shape  []int
	stride []int
}

// torchZip is an opened torch zip archive.
type torchZip struct {
	r      io.ReaderAt
	size   int64
	files  map[string]*zip.File
	prefix string // "<name>/" of data.pkl
	lim    Limits
	budget int64 // lim.budget(size)
	// inflated counts the bytes inflated from compressed entries and
	// output the float32 bytes of the decoded tensors, each against
	// budget.
	inflated, output int64
}

func readTorchZip(r io.ReaderAt, size int64, lim Limits) (*StateDict, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, errors.Wrap(err, "open zip (truncated or corrupt file?)")
	}
	tz := &torchZip{r: r, size: size, files: map[string]*zip.File{}, lim: lim, budget: lim.budget(size)}
	var pkl *zip.File
	for _, f := range zr.File {
		tz.files[f.Name] = f
		// data.pkl lies one folder deep: <name>/data.pkl.
		if strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1 {
			if pkl == nil || f.Name < pkl.Name {
				pkl = f
			}
		}
	}
	if pkl == nil {
		if f, ok := tz.files["data.pkl"]; ok {
			pkl = f
		}
	}
	if pkl == nil {
		return nil, errors.New("zip has no data.pkl: not a PyTorch checkpoint")
	}
	tz.prefix = strings.TrimSuffix(pkl.Name, "data.pkl")
	_, scripted := tz.files[tz.prefix+"constants.pkl"]

	if pkl.UncompressedSize64 > uint64(lim.MaxPickleBytes) {
		return nil, errors.Errorf("%s is too large (%d bytes, limit %d: Limits.MaxPickleBytes)", pkl.Name, pkl.UncompressedSize64, lim.MaxPickleBytes)
	}
	data, err := tz.readEntry(pkl, pkl.UncompressedSize64)
	if err != nil {
		return nil, err
	}
	root, err := unpickleTorch(data, lim)
	if err != nil {
		return nil, errors.Wrapf(err, "unpickle %s", pkl.Name)
	}
	format := FormatTorchZip
	if _, ok := root.(*Object); ok || scripted {
		format = FormatTorchScript
	}
	sd := newStateDict(format)
	// The walk checks every tensor against its storage and the budgets,
	// in file order; then the tensors are allocated and their storages
	// read, in parallel (readStorages).
	prepared := map[*tensorRef]*storageJob{}
	var jobs []*storageJob
	keyJobs := map[string]*storageJob{}
	w := newWalker(pkl.Name, lim.MaxNodes, func(key string, tr *tensorRef) error {
		j, ok := prepared[tr]
		if !ok {
			var err error
			j, err = tz.prepare(tr)
			if err != nil {
				return errors.Wrapf(err, "tensor %q", key)
			}
			j.key = key
			prepared[tr] = j
			jobs = append(jobs, j)
		}
		keyJobs[key] = j
		return sd.add(key, tr.st.dt.name, nil)
	})
	if err := w.walk(root, 0); err != nil {
		return nil, err
	}
	if len(sd.Keys) == 0 {
		return nil, errors.Errorf("%s holds no tensors", pkl.Name)
	}
	allocate(jobs)
	for k, j := range keyJobs {
		sd.Tensors[k] = j.t
	}
	if err := readStorages(jobs); err != nil {
		return nil, err
	}
	return sd, nil
}

// allocate makes the tensors of jobs: views of one allocation (within
// the output budget that prepare charged), which the kernel is asked to
// back with huge pages (adviseHugePages) before anything touches it.
// Decoding touches every page of the tensors once; on fresh 4 KiB pages
// the page faults were most of the system time of loading an RN50, whose
// many small tensors would not fill a huge page each. Sharing one
// allocation, the tensors' memory is freed when the last of them is
// unreachable.
func allocate(jobs []*storageJob) {
	total := 0
	for _, j := range jobs {
		total += tensor.Numel(j.tr.shape)
	}
	arena := make([]float32, total)
	adviseHugePages(arena)
	for _, j := range jobs {
		n := tensor.Numel(j.tr.shape)
		j.t = tensor.FromSlice(arena[:n:n], j.tr.shape...)
		arena = arena[n:]
	}
}

// unpickleTorch runs the pickle machine with PyTorch's allow-list.
func unpickleTorch(data []byte, lim Limits) (any, error) {
	u := NewUnpickler(data)
	u.SetLimits(lim)
	storages := map[string]*storageRef{}
	u.PersistentLoad = func(pid any) (any, error) { return torchPersistentLoad(pid, storages) }
	u.Call = torchCall
	return u.Load()
}

func torchPersistentLoad(pid any, storages map[string]*storageRef) (any, error) {
	t, ok := pid.(Tuple)
	if !ok || len(t) < 5 {
		return nil, errors.Errorf("unsupported persistent id %v", describeValue(pid))
	}
	if s, _ := t[0].(string); s != "storage" {
		return nil, errors.Errorf("unsupported persistent id kind %v", describeValue(t[0]))
	}
	g, ok := t[1].(*Global)
	if !ok {
		return nil, errors.Errorf("storage type is a %T, not a class", t[1])
	}
	dt, ok := storageDTypes[g.Name]
	if !ok || (g.Module != "torch" && g.Module != "torch.cuda") {
		return nil, errors.Errorf("unsupported storage type (dtype) %s", g)
	}
	key, ok := t[2].(string)
	if !ok || key == "" || strings.Contains(key, "..") {
		return nil, errors.Errorf("bad storage key %v", describeValue(t[2]))
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 {
		return nil, errors.Errorf("bad storage size %v", describeValue(t[4]))
	}
	if s, ok := storages[key]; ok {
		if s.dt != dt || s.numel != numel {
			return nil, errors.Errorf("storage %q declared twice with different type or size", key)
		}
		return s, nil
	}
	s := &storageRef{dt: dt, key: key, numel: numel}
	storages[key] = s
	return s, nil
}

// identityLists are torch.jit._pickle helpers that return their argument.
var identityLists = map[string]bool{
	"build_intlist": true, "build_doublelist": true, "build_boollist": true,
	"build_tensorlist": true, "build_genericlist": true,
}

// torchCall is the allow-list of callables in PyTorch pickles.
func torchCall(g *Global, args Tuple, newobj bool) (any, error) {
	switch {
	case strings.HasPrefix(g.Module, "__torch__") && newobj:
		return &Object{Class: g, Args: args}, nil
	case g.Module == "collections" && g.Name == "OrderedDict", g.Module == "builtins" && g.Name == "dict":
		if len(args) != 0 {
			return nil, errors.Errorf("%s with arguments is not supported", g)
		}
		return &Dict{}, nil
	case g.Module == "torch._utils" && g.Name == "_rebuild_tensor_v2":
		return rebuildTensor(args)
	case g.Module == "torch._utils" && (g.Name == "_rebuild_parameter" || g.Name == "_rebuild_parameter_with_state"):
		if len(args) < 1 {
			return nil, errors.Errorf("%s needs arguments", g)
		}
		if _, ok := args[0].(*tensorRef); !ok {
			return nil, errors.Errorf("%s of a %T", g, args[0])
		}
		return args[0], nil
	case g.Module == "torch.jit._pickle" && g.Name == "restore_type_tag":
		if len(args) < 1 {
			return nil, errors.Errorf("%s needs arguments", g)
		}
		return args[0], nil
	case g.Module == "torch.jit._pickle" && identityLists[g.Name]:
		if len(args) != 1 {
			return nil, errors.Errorf("%s needs one argument", g)
		}
		return args[0], nil
	}
	return nil, errors.Errorf("unsupported pickle global %s", g)
}

func toInts(v any, what string) ([]int, error) {
	t, ok := v.(Tuple)
	if !ok {
		if l, ok := v.(*List); ok {
			t = l.Items
		} else {
			return nil, errors.Errorf("%s is a %T, not a tuple", what, v)
		}
	}
	if len(t) > 64 {
		return nil, errors.Errorf("%s has %d dimensions", what, len(t))
	}
	out := make([]int, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 || n > 1<<40 {
			return nil, errors.Errorf("%s has a bad entry %v", what, describeValue(x))
		}
		out[i] = int(n)
	}
	return out, nil
}

// rebuildTensor interprets _rebuild_tensor_v2(storage, storage_offset,
// size, stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensor(args Tuple) (any, error) {
	if len(args) < 4 {
		return nil, errors.Errorf("_rebuild_tensor_v2 with %d arguments", len(args))
	}
	st, ok := args[0].(*storageRef)
	if !ok {
		return nil, errors.Errorf("_rebuild_tensor_v2 storage is a %T", args[0])
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, errors.Errorf("_rebuild_tensor_v2 bad storage offset %v", describeValue(args[1]))
	}
	shape, err := toInts(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := toInts(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(shape) != len(stride) {
		return nil, errors.Errorf("size %v and stride %v differ in rank", shape, stride)
	}
	if _, _, err := stridedSpan(off, shape, stride, st.numel); err != nil {
		return nil, errors.Wrapf(err, "storage %q", st.key)
	}
	return &tensorRef{st: st, offset: off, shape: shape, stride: stride}, nil
}

// walker visits every tensor reachable from an unpickled value: dict
// entries and module attributes (Object states) give dotted names, list and
// tuple items their index. Other values (ints, strings, flags) are skipped.
// The containers on the current path are kept in a visited set (a cycle is
// an error), and every value visited counts against maxNodes, so that a
// graph of shared references cannot make the walk exponential.
type walker struct {
	entry    string // the pickle's name, for errors
	maxNodes int
	nodes    int
	onPath   map[any]bool // *Object, *Dict and *List on the current path
	path     []string
	visit    func(string, *tensorRef) error
}

func newWalker(entry string, maxNodes int, visit func(string, *tensorRef) error) *walker {
	return &walker{entry: entry, maxNodes: maxNodes, onPath: map[any]bool{}, visit: visit}
}

func (w *walker) name() string { return strings.Join(w.path, ".") }

func (w *walker) walk(v any, depth int) error {
	w.nodes++
	if w.nodes > w.maxNodes {
		return errors.Errorf("%s: object graph has more than %d nodes (Limits.MaxNodes; shared references are walked once per path) at %q", w.entry, w.maxNodes, w.name())
	}
	if depth > maxTreeDepth {
		return errors.Errorf("%s: object tree deeper than %d at %q", w.entry, maxTreeDepth, w.name())
	}
	switch v.(type) {
	case *Object, *Dict, *List:
		if w.onPath[v] {
			return errors.Errorf("%s: object graph has a cycle at %q", w.entry, w.name())
		}
		w.onPath[v] = true
		defer delete(w.onPath, v)
	}
	switch x := v.(type) {
	case *tensorRef:
		if len(w.path) == 0 {
			return errors.New("checkpoint is a single tensor, not a state dict")
		}
		return w.visit(w.name(), x)
	case *Object:
		return w.walk(x.State, depth+1)
	case *Dict:
		for i, k := range x.Keys {
			var name string
			switch kk := k.(type) {
			case string:
				name = kk
			case int64:
				name = strconv.FormatInt(kk, 10)
			default:
				continue
			}
			if err := w.child(x.Values[i], name, depth); err != nil {
				return err
			}
		}
	case *List:
		return w.items(x.Items, depth)
	case Tuple:
		return w.items(x, depth)
	}
	return nil
}

func (w *walker) items(items []any, depth int) error {
	for i, it := range items {
		if err := w.child(it, strconv.Itoa(i), depth); err != nil {
			return err
		}
	}
	return nil
}

// child walks v under the name k.
func (w *walker) child(v any, k string, depth int) error {
	w.path = append(w.path, k)
	err := w.walk(v, depth+1)
	w.path = w.path[:len(w.path)-1]
	return err
}

// readEntry reads the first n bytes of entry f (n at most its declared
// size) into memory (chargeEntry, then inflateEntry).
func (tz *torchZip) readEntry(f *zip.File, n uint64) ([]byte, error) {
	if err := tz.chargeEntry(f, n); err != nil {
		return nil, err
	}
	return inflateEntry(f, n)
}

// chargeEntry checks that the first n bytes of entry f can be read: a
// compressed entry is charged to the inflation budget before anything is
// inflated, and a stored one must lie within the file, so a small file
// cannot make the reader allocate much more than the budget.
func (tz *torchZip) chargeEntry(f *zip.File, n uint64) error {
	if n > f.UncompressedSize64 {
		return errors.Errorf("entry %s has %d bytes, %d needed", f.Name, f.UncompressedSize64, n)
	}
	if f.Method == zip.Store {
		if f.CompressedSize64 > uint64(tz.size) || n > f.CompressedSize64 {
			return errors.Errorf("entry %s of %d bytes extends past the end of the file (truncated?)", f.Name, f.UncompressedSize64)
		}
	} else {
		if n > uint64(tz.budget-tz.inflated) {
			return errors.Errorf("compressed entry %s inflates to %d bytes, beyond the inflation budget of %d bytes left of %d for a file of %d bytes (Limits.BudgetRatio %d × size, at least Limits.MinBudget %d); raise the limits to read it",
				f.Name, n, tz.budget-tz.inflated, tz.budget, tz.size, tz.lim.BudgetRatio, tz.lim.MinBudget)
		}
		tz.inflated += int64(n)
	}
	return nil
}

// inflateEntry reads the first n bytes of entry f, checked by
// chargeEntry.
func inflateEntry(f *zip.File, n uint64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, errors.Wrapf(err, "open %s", f.Name)
	}
	defer rc.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, errors.Wrapf(err, "read %s", f.Name)
	}
	return b, nil
}

// storageJob is a tensor to be read from its storage entry: checked and
// charged to the budgets by prepare, allocated by allocate, filled by
// readStorages.
type storageJob struct {
	key, name string // the first key naming the tensor, its storage entry
	tr        *tensorRef
	t         *tensor.Tensor
	// ra holds the storage from byte base: the file, for a stored entry;
	// nil for a compressed one, whose first need bytes are inflated
	// from entry when the job runs.
	ra    io.ReaderAt
	base  int64
	entry *zip.File
	need  uint64
}

// prepare checks a tensor's storage entry and view and charges the
// decoded tensor (and a compressed entry's inflation) to the budgets.
func (tz *torchZip) prepare(tr *tensorRef) (*storageJob, error) {
	name := tz.prefix + "data/" + tr.st.key
	if strings.Contains(tr.st.key, "/") {
		name = tz.prefix + tr.st.key
	}
	f, ok := tz.files[name]
	if !ok {
		return nil, errors.Errorf("missing storage entry %s", name)
	}
	if f.UncompressedSize64 > 1<<50 || uint64(tr.st.numel) > 1<<47 {
		return nil, errors.Errorf("storage entry %s: implausible size (%d bytes, %d elements)", name, f.UncompressedSize64, tr.st.numel)
	}
	need := uint64(tr.st.numel) * uint64(tr.st.dt.size)
	if f.UncompressedSize64 < need {
		return nil, errors.Errorf("storage entry %s has %d bytes, %d %s elements need %d", name, f.UncompressedSize64, tr.st.numel, tr.st.dt.name, need)
	}
	if _, _, err := stridedSpan(tr.offset, tr.shape, tr.stride, tr.st.numel); err != nil {
		return nil, errors.Wrapf(err, "storage entry %s", name)
	}
	// The decoded tensor is charged to the output budget before it is
	// allocated (views may repeat a storage's elements).
	out := int64(4 * max(1, tensor.Numel(tr.shape)))
	if out > tz.budget-tz.output {
		return nil, errors.Errorf("storage entry %s: tensor of shape %v (%d bytes as float32) is beyond the output budget of %d bytes left of %d for a file of %d bytes (Limits.BudgetRatio %d × size, at least Limits.MinBudget %d); raise the limits to read it",
			name, tr.shape, out, tz.budget-tz.output, tz.budget, tz.size, tz.lim.BudgetRatio, tz.lim.MinBudget)
	}
	tz.output += out
	j := &storageJob{name: name, tr: tr, entry: f, need: need}
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			return nil, errors.Wrapf(err, "storage entry %s", name)
		}
		if off < 0 || uint64(off)+f.UncompressedSize64 > uint64(tz.size) {
			return nil, errors.Errorf("storage entry %s extends past the end of the file (truncated?)", name)
		}
		j.ra, j.base = tz.r, off
	} else if err := tz.chargeEntry(f, need); err != nil {
		// Compressed storages (not written by PyTorch) are inflated into
		// memory, within the inflation budget.
		return nil, errors.Wrap(err, "storage")
	}
	return j, nil
}

// pieceElems is the most elements of a contiguous stored view that one
// goroutine of readStorages reads at a time.
const pieceElems = 1 << 20

// readStorages fills the tensors of jobs from their storages on up to
// GOMAXPROCS goroutines, large contiguous views of stored entries split
// into pieces of pieceElems. The error is that of the first failing job
// in file order, naming its tensor and entry.
func readStorages(jobs []*storageJob) error {
	type piece struct {
		j      *storageJob
		lo, hi int // elements of a contiguous stored view; hi 0: whole
	}
	var pieces []piece
	for _, j := range jobs {
		n := j.t.Numel()
		if j.ra == nil || n <= pieceElems || !isContiguous(j.tr.shape, j.tr.stride) {
			pieces = append(pieces, piece{j: j})
			continue
		}
		for lo := 0; lo < n; lo += pieceElems {
			pieces = append(pieces, piece{j, lo, min(n, lo+pieceElems)})
		}
	}
	errs := make([]error, len(pieces))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range pieces {
		g.Go(func() error {
			j, tr := p.j, p.j.tr
			if p.hi > 0 {
				size := int64(tr.st.dt.size)
				errs[i] = readElems(j.ra, j.base+(tr.offset+int64(p.lo))*size, tr.st.dt, j.t.Data()[p.lo:p.hi])
				return nil
			}
			ra, base := j.ra, j.base
			if ra == nil {
				b, err := inflateEntry(j.entry, j.need)
				if err != nil {
					errs[i] = errors.Wrap(err, "storage")
					return nil
				}
				ra, base = bytesReaderAt(b), 0
			}
			if err := readStrided(ra, base, tr.st.dt, tr.st.numel, tr.offset, tr.shape, tr.stride, j.t.Data()); err != nil {
				errs[i] = errors.Wrapf(err, "storage entry %s", j.name)
			}
			return nil
		})
	}
	g.Wait()
	for i, err := range errs {
		if err != nil {
			j := pieces[i].j
			if pieces[i].hi > 0 {
				err = errors.Wrapf(err, "storage entry %s", j.name)
			}
			return errors.Wrapf(err, "tensor %q", j.key)
		}
	}
	return nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// describeValue prints a short description of a pickle value for errors
// (scalars with their value, containers by type only).
func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		if len(x) > 60 {
			x = x[:60] + "..."
		}
		return strconv.Quote(x)
	case int64, bool, float64:
		return fmt.Sprint(x)
	case *Global:
		return x.String()
	}
	return fmt.Sprintf("%T", v)
}
