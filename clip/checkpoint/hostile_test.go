package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/internal/hostile"
)

// sharedListPickle is a pickle of levels nested lists in which every list
// holds the one below it twice, through memo GET: 2^levels paths to the
// innermost list in a few hundred bytes.
func sharedListPickle(levels int) []byte {
	b := []byte{0x80, 2, ']', 'q', 0}
	for i := 1; i <= levels; i++ {
		b = append(b, '0', ']', '(', 'h', byte(i-1), 'h', byte(i-1), 'e', 'q', byte(i))
	}
	return append(b, '.')
}

// dictPickle is a pickle of one dict built by n SETITEMs with keys
// "k0", "k1", ... and int values.
func dictPickle(n int) []byte {
	b := []byte{0x80, 2, '}'}
	for i := range n {
		k := "k" + strconv.Itoa(i)
		b = append(b, 0x8c, byte(len(k)))
		b = append(b, k...)
		b = append(b, 'K', byte(i), 's')
	}
	return append(b, '.')
}

// stateDictPickle is the data.pkl of torch.save({"w": t}) where t is a
// float32 tensor of numel elements over storage "0" of numel elements.
func stateDictPickle(numel int32) []byte { return viewPickle(numel, numel) }

// viewPickle is the data.pkl of torch.save({"w": t}) where t is a float32
// tensor of n elements over storage "0" of numel elements.
func viewPickle(numel, n int32) []byte {
	b := []byte{0x80, 2, '}', 0x8c, 1, 'w'}
	b = append(b, "ctorch._utils\n_rebuild_tensor_v2\n("...)
	b = append(b, "(\x8c\x07storage"...)
	b = append(b, "ctorch\nFloatStorage\n"...)
	b = append(b, "\x8c\x010\x8c\x03cpu"...)
	b = append(b, 'J')
	b = binary.LittleEndian.AppendUint32(b, uint32(numel))
	b = append(b, "tQK\x00J"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, "\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs."...)
	return b
}

// zipEntry is one file of a test archive: raw deflate data with its
// declared size and checksum when deflated, plain bytes when stored.
type zipEntry struct {
	name     string
	data     []byte // stored content, or raw DEFLATE data
	deflated bool
	size     uint64 // declared uncompressed size of a deflated entry
	crc      uint32
}

func buildZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		var err error
		if e.deflated {
			var w interface{ Write([]byte) (int, error) }
			w, err = zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Deflate, CRC32: e.crc,
				CompressedSize64: uint64(len(e.data)), UncompressedSize64: e.size})
			if err == nil {
				_, err = w.Write(e.data)
			}
		} else {
			var w interface{ Write([]byte) (int, error) }
			w, err = zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
			if err == nil {
				_, err = w.Write(e.data)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func deflatedZeros(name string, n int64) zipEntry {
	return zipEntry{name: name, data: hostile.DeflateZeros(n), deflated: true, size: uint64(n), crc: hostile.CRC32Zeros(n)}
}

// bounded runs f once and fails unless it returns an error containing every
// one of want within maxTime, allocating at most maxAlloc bytes in total.
func bounded(t *testing.T, maxTime time.Duration, maxAlloc uint64, f func() error, want ...string) {
	t.Helper()
	el, alloc, err := hostile.Cost(f)
	t.Logf("%v in %v, %.1f MB allocated", err, el, float64(alloc)/1e6)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if el > maxTime {
		t.Errorf("took %v, want at most %v", el, maxTime)
	}
	if alloc > maxAlloc {
		t.Errorf("allocated %d bytes, want at most %d", alloc, maxAlloc)
	}
}

func readBytes(b []byte, name string) error {
	_, err := Read(bytes.NewReader(b), int64(len(b)), name)
	return err
}

// TestHostileSharedGraph: a 60-level graph of shared lists (619 bytes)
// must fail fast instead of walking its 2^60 paths.
func TestHostileSharedGraph(t *testing.T) {
	pkl := sharedListPickle(60)
	z := buildZip(t, zipEntry{name: "archive/data.pkl", data: pkl})
	bounded(t, 10*time.Second, 1<<30, func() error { return readBytes(z, "shared.pt") }, "shared.pt", "archive/data.pkl", "nodes")
}

// TestHostileDictSetItem: a dict of 300k keys built one SETITEM at a time
// loads in linear time.
func TestHostileDictSetItem(t *testing.T) {
	pkl := dictPickle(300_000)
	start := time.Now()
	v, err := unpickleTorch(pkl, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 10*time.Second { // quadratic: over 120 s
		t.Errorf("300k SETITEMs took %v", el)
	}
	d := v.(*Dict)
	if len(d.Keys) != 300_000 {
		t.Fatalf("%d keys", len(d.Keys))
	}
	if x, ok := d.Get("k299999"); !ok || x != int64(299999%256) {
		t.Errorf("Get(k299999) = %v, %v", x, ok)
	}
}

// TestHostilePickleBomb: a small zip whose data.pkl inflates to 1000 MiB
// fails before inflating.
func TestHostilePickleBomb(t *testing.T) {
	z := buildZip(t, deflatedZeros("archive/data.pkl", 1000<<20))
	t.Logf("archive of %d bytes", len(z))
	bounded(t, 5*time.Second, 64<<20, func() error { return readBytes(z, "bomb.pt") }, "bomb.pt", "archive/data.pkl", "budget")
}

// TestHostileStorageBomb: a small zip holding a deflated 1 GiB storage
// fails before inflating it.
func TestHostileStorageBomb(t *testing.T) {
	const numel = 1 << 28 // 1 GiB of float32
	z := buildZip(t, zipEntry{name: "archive/data.pkl", data: stateDictPickle(numel)}, deflatedZeros("archive/data/0", 4*numel))
	t.Logf("archive of %d bytes", len(z))
	bounded(t, 5*time.Second, 64<<20, func() error { return readBytes(z, "storage.pt") }, "storage.pt", "archive/data/0", "budget")
}

// TestHostileInflation: a small tensor over a deflated 1 GiB storage fails
// on the inflation budget before inflating.
func TestHostileInflation(t *testing.T) {
	const numel = 1 << 28
	z := buildZip(t, zipEntry{name: "archive/data.pkl", data: viewPickle(numel, 4)}, deflatedZeros("archive/data/0", 4*numel))
	bounded(t, 5*time.Second, 64<<20, func() error { return readBytes(z, "view.pt") }, "view.pt", "archive/data/0", "inflation budget")
}

// TestLimitsRaise: a deflated 16 MiB storage in a small zip loads within
// the default limits, fails within tighter ones (naming the limit) and
// loads again when they are raised.
func TestLimitsRaise(t *testing.T) {
	const numel = 4 << 20
	z := buildZip(t, zipEntry{name: "archive/data.pkl", data: stateDictPickle(numel)}, deflatedZeros("archive/data/0", 4*numel))
	sd, err := Read(bytes.NewReader(z), int64(len(z)), "zeros.pt")
	if err != nil {
		t.Fatal(err)
	}
	if w := sd.Tensors["w"]; w == nil || w.Numel() != numel {
		t.Fatalf("tensor w: %v", w)
	}
	tight := Limits{MinBudget: 1 << 20, BudgetRatio: 2}
	if _, err := ReadWithLimits(bytes.NewReader(z), int64(len(z)), "zeros.pt", tight); err == nil || !strings.Contains(err.Error(), "Limits.MinBudget") || !strings.Contains(err.Error(), "zeros.pt") {
		t.Errorf("tight limits: error %v", err)
	}
	tight.MinBudget = 64 << 20
	if _, err := ReadWithLimits(bytes.NewReader(z), int64(len(z)), "zeros.pt", tight); err != nil {
		t.Errorf("raised limits: %v", err)
	}
}

// TestWalkCycle: a list that holds itself is an error naming the cycle, not
// a deep recursion.
func TestWalkCycle(t *testing.T) {
	pkl := []byte{0x80, 2, '}', 0x8c, 1, 'a', ']', 'q', 0, 'h', 0, 'a', 's', '.'}
	v, err := unpickleTorch(pkl, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	err = newWalker("c.pkl", DefaultMaxNodes, func(string, *tensorRef) error { return nil }).walk(v, 0)
	if err == nil || !strings.Contains(err.Error(), "cycle") || !strings.Contains(err.Error(), "c.pkl") {
		t.Errorf("error %v, want a cycle in c.pkl", err)
	}
}

// TestDictSetReplaces: SETITEM on an existing scalar key replaces its value
// in place, keeping the insertion order, as Python does.
func TestDictSetReplaces(t *testing.T) {
	d := &Dict{}
	d.set("a", int64(1))
	d.set(int64(2), "x")
	d.set("a", int64(3))
	d.set(Tuple{int64(1)}, "t")
	d.set(Tuple{int64(1)}, "u") // unhashable here: kept twice
	if len(d.Keys) != 4 || d.Keys[0] != "a" || d.Values[0] != int64(3) {
		t.Errorf("dict %v %v", d.Keys, d.Values)
	}
	if v, ok := d.Get("a"); !ok || v != int64(3) {
		t.Errorf("Get(a) = %v %v", v, ok)
	}
}
