package checkpoint

import (
	"archive/zip"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/tensor"
)

// maxPickleBytes bounds the size of data.pkl read into memory.
const maxPickleBytes = 1 << 30

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
}

func readTorchZip(r io.ReaderAt, size int64) (*StateDict, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, errors.Wrap(err, "open zip (truncated or corrupt file?)")
	}
	tz := &torchZip{r: r, size: size, files: map[string]*zip.File{}}
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

	if pkl.UncompressedSize64 > maxPickleBytes {
		return nil, errors.Errorf("%s is too large (%d bytes)", pkl.Name, pkl.UncompressedSize64)
	}
	rc, err := pkl.Open()
	if err != nil {
		return nil, errors.Wrapf(err, "open %s", pkl.Name)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxPickleBytes))
	rc.Close()
	if err != nil {
		return nil, errors.Wrapf(err, "read %s", pkl.Name)
	}
	root, err := unpickleTorch(data)
	if err != nil {
		return nil, errors.Wrapf(err, "unpickle %s", pkl.Name)
	}
	format := FormatTorchZip
	if _, ok := root.(*Object); ok || scripted {
		format = FormatTorchScript
	}
	sd := newStateDict(format)
	decoded := map[*tensorRef]*tensor.Tensor{}
	err = walkTensors(root, "", 0, func(key string, tr *tensorRef) error {
		t, ok := decoded[tr]
		if !ok {
			var err error
			t, err = tz.decode(tr)
			if err != nil {
				return errors.Wrapf(err, "tensor %q", key)
			}
			decoded[tr] = t
		}
		return sd.add(key, tr.st.dt.name, t)
	})
	if err != nil {
		return nil, err
	}
	if len(sd.Keys) == 0 {
		return nil, errors.Errorf("%s holds no tensors", pkl.Name)
	}
	return sd, nil
}

// unpickleTorch runs the pickle machine with PyTorch's allow-list.
func unpickleTorch(data []byte) (any, error) {
	u := NewUnpickler(data)
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

// walkTensors visits every tensor reachable from v: dict entries and
// module attributes (Object states) give dotted names, list and tuple
// items their index. Other values (ints, strings, flags) are skipped.
func walkTensors(v any, prefix string, depth int, visit func(string, *tensorRef) error) error {
	if depth > maxTreeDepth {
		return errors.Errorf("object tree deeper than %d at %q", maxTreeDepth, prefix)
	}
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case *tensorRef:
		if prefix == "" {
			return errors.New("checkpoint is a single tensor, not a state dict")
		}
		return visit(prefix, x)
	case *Object:
		return walkTensors(x.State, prefix, depth+1, visit)
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
			if err := walkTensors(x.Values[i], join(name), depth+1, visit); err != nil {
				return err
			}
		}
	case *List:
		for i, it := range x.Items {
			if err := walkTensors(it, join(strconv.Itoa(i)), depth+1, visit); err != nil {
				return err
			}
		}
	case Tuple:
		for i, it := range x {
			if err := walkTensors(it, join(strconv.Itoa(i)), depth+1, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

// decode reads a tensor's storage entry and converts the view to float32.
func (tz *torchZip) decode(tr *tensorRef) (*tensor.Tensor, error) {
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
	var ra io.ReaderAt
	var base int64
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			return nil, errors.Wrapf(err, "storage entry %s", name)
		}
		if off < 0 || uint64(off)+f.UncompressedSize64 > uint64(tz.size) {
			return nil, errors.Errorf("storage entry %s extends past the end of the file (truncated?)", name)
		}
		ra, base = tz.r, off
	} else {
		// Compressed storages (not written by PyTorch) are inflated into
		// memory; only small files use them.
		if need > 1<<30 {
			return nil, errors.Errorf("compressed storage entry %s is too large", name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, errors.Wrapf(err, "storage entry %s", name)
		}
		b, err := io.ReadAll(io.LimitReader(rc, int64(need)))
		rc.Close()
		if err != nil {
			return nil, errors.Wrapf(err, "storage entry %s", name)
		}
		ra, base = bytesReaderAt(b), 0
	}
	t, err := readStrided(ra, base, tr.st.dt, tr.st.numel, tr.offset, tr.shape, tr.stride)
	if err != nil {
		return nil, errors.Wrapf(err, "storage entry %s", name)
	}
	return t, nil
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
