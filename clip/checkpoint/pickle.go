package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"github.com/pkg/errors"
)

// The pickle values produced by Unpickler. Python's None is nil, bool is
// bool, int is int64 (or *big.Int when it does not fit), float is float64,
// str is string and bytes are []byte.
type (
	// Tuple is a Python tuple.
	Tuple []any
	// List is a Python list (a pointer, so that APPEND mutates shared
	// references).
	List struct{ Items []any }
	// Dict is a Python dict or OrderedDict, keeping insertion order.
	Dict struct {
		Keys   []any
		Values []any
		// index maps each scalar key (string, int64, bool, float64,
		// None) to its position, so that SETITEM is O(1).
		index map[any]int
	}
	// Set is a Python set or frozenset.
	Set struct{ Items []any }
	// Global is a class or function reference (module.name).
	Global struct{ Module, Name string }
	// Object is an instance created by NEWOBJ (or an allowed REDUCE),
	// holding the constructor arguments and the BUILD state.
	Object struct {
		Class *Global
		Args  Tuple
		State any
	}
)

// String returns "module.name".
func (g *Global) String() string { return g.Module + "." + g.Name }

// Get returns the value stored under the string key k.
func (d *Dict) Get(k string) (any, bool) {
	if d.index != nil {
		if i, ok := d.index[k]; ok {
			return d.Values[i], true
		}
		return nil, false
	}
	for i, key := range d.Keys {
		if s, ok := key.(string); ok && s == k {
			return d.Values[i], true
		}
	}
	return nil, false
}

// set stores v under k, replacing an equal scalar key (in O(1) through
// the index).
func (d *Dict) set(k, v any) {
	if isScalarKey(k) {
		if d.index == nil {
			d.index = make(map[any]int, len(d.Keys)+1)
			for i, key := range d.Keys {
				if isScalarKey(key) {
					if _, dup := d.index[key]; !dup {
						d.index[key] = i
					}
				}
			}
		}
		if i, ok := d.index[k]; ok {
			d.Values[i] = v
			return
		}
		d.index[k] = len(d.Keys)
	}
	d.Keys = append(d.Keys, k)
	d.Values = append(d.Values, v)
}

func isScalarKey(k any) bool {
	switch k.(type) {
	case string, int64, bool, float64, nil:
		return true
	}
	return false
}

// mark is the value pushed by MARK.
type mark struct{}

// Limits bounds the resources that reading one checkpoint may use, so that
// a hostile file fails with an error naming the file, the entry and the
// limit instead of hanging the process or exhausting its memory. The
// defaults (DefaultLimits, built from the Default* constants) are far above
// what real checkpoints need; raise a field to read a genuinely huge file
// (LoadWithLimits, ReadWithLimits, Unpickler.SetLimits). A zero or
// negative field takes its default.
type Limits struct {
	// MaxStack bounds the values (and marks) on the pickle stack.
	MaxStack int
	// MaxMemo bounds the pickle memo entries.
	MaxMemo int
	// MaxNodes bounds the values visited when the unpickled object graph
	// is walked for tensors; a value shared by several parents (memo
	// GET) counts once per path, so a small pickle of shared lists
	// cannot make the walk exponential.
	MaxNodes int
	// MaxPickleBytes bounds the size of a checkpoint's data.pkl.
	MaxPickleBytes int64
	// BudgetRatio and MinBudget set a file's budget to
	// max(MinBudget, BudgetRatio × file size) bytes. It bounds the bytes
	// inflated from compressed zip entries (PyTorch stores its entries
	// uncompressed, so only re-zipped or hostile files have any) and,
	// separately, the float32 bytes of the decoded tensors (views may
	// repeat a storage's elements).
	BudgetRatio int64
	MinBudget   int64
}

// The default limits (see Limits).
const (
	DefaultMaxStack       = 1 << 20
	DefaultMaxMemo        = 1 << 22
	DefaultMaxNodes       = 1 << 22
	DefaultMaxPickleBytes = 1 << 30
	DefaultBudgetRatio    = 16
	DefaultMinBudget      = 64 << 20
)

// DefaultLimits are generous for PyTorch checkpoints and keep hostile input
// from hanging the reader or exhausting memory.
var DefaultLimits = Limits{MaxStack: DefaultMaxStack, MaxMemo: DefaultMaxMemo, MaxNodes: DefaultMaxNodes,
	MaxPickleBytes: DefaultMaxPickleBytes, BudgetRatio: DefaultBudgetRatio, MinBudget: DefaultMinBudget}

// withDefaults returns l with every unset field set to its default.
func (l Limits) withDefaults() Limits {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set64 := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&l.MaxStack, DefaultMaxStack)
	set(&l.MaxMemo, DefaultMaxMemo)
	set(&l.MaxNodes, DefaultMaxNodes)
	set64(&l.MaxPickleBytes, DefaultMaxPickleBytes)
	set64(&l.BudgetRatio, DefaultBudgetRatio)
	set64(&l.MinBudget, DefaultMinBudget)
	return l
}

// budget is the byte budget of a file of size bytes (see Limits).
func (l Limits) budget(size int64) int64 {
	if size > math.MaxInt64/l.BudgetRatio {
		return math.MaxInt64
	}
	return max(l.MinBudget, l.BudgetRatio*size)
}

// Unpickler is a small pickle virtual machine for the opcodes of protocols
// 0–5 that PyTorch writes. Callables are never executed: REDUCE, NEWOBJ and
// NEWOBJ_EX hand the class and arguments to Call, which decides what the
// result is (and rejects what it does not know).
type Unpickler struct {
	data   []byte
	pos    int
	stack  []any
	marks  []int
	memo   map[uint32]any
	limits Limits

	// Call builds the value of REDUCE/NEWOBJ (newobj true for NEWOBJ and
	// NEWOBJ_EX). A nil Call rejects every callable.
	Call func(g *Global, args Tuple, newobj bool) (any, error)
	// PersistentLoad resolves BINPERSID/PERSID ids. A nil PersistentLoad
	// rejects persistent ids.
	PersistentLoad func(pid any) (any, error)
}

// NewUnpickler returns an Unpickler over data with DefaultLimits.
func NewUnpickler(data []byte) *Unpickler {
	return &Unpickler{data: data, memo: map[uint32]any{}, limits: DefaultLimits}
}

// SetLimits replaces the resource limits (MaxStack and MaxMemo apply to
// the machine; unset fields take their defaults).
func (u *Unpickler) SetLimits(l Limits) { u.limits = l.withDefaults() }

func (u *Unpickler) errf(format string, args ...any) error {
	return errors.Errorf("pickle: at byte %d: %s", u.pos, fmt.Sprintf(format, args...))
}

func (u *Unpickler) need(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, u.errf("truncated data (need %d bytes, %d left)", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *Unpickler) u8() (int, error) {
	b, err := u.need(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (u *Unpickler) u16() (int, error) {
	b, err := u.need(2)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(b)), nil
}

func (u *Unpickler) u32() (uint32, error) {
	b, err := u.need(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (u *Unpickler) u64len() (int, error) {
	b, err := u.need(8)
	if err != nil {
		return 0, err
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(u.data)) {
		return 0, u.errf("length %d exceeds input size", n)
	}
	return int(n), nil
}

// line reads up to and excluding the next newline (text opcodes).
func (u *Unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", u.errf("truncated data (missing newline)")
}

func (u *Unpickler) push(v any) error {
	if len(u.stack) >= u.limits.MaxStack {
		return u.errf("stack exceeds %d values", u.limits.MaxStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *Unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, u.errf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *Unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, u.errf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops the values above the last MARK, and the mark.
func (u *Unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *Unpickler) memoPut(idx uint32, v any) error {
	if _, ok := u.memo[idx]; !ok && len(u.memo) >= u.limits.MaxMemo {
		return u.errf("memo exceeds %d entries", u.limits.MaxMemo)
	}
	u.memo[idx] = v
	return nil
}

func (u *Unpickler) memoGet(idx uint32) error {
	v, ok := u.memo[idx]
	if !ok {
		return u.errf("memo key %d not found", idx)
	}
	return u.push(v)
}

func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if b[len(b)-1]&0x80 != 0 && len(b) < 8 {
			v |= ^uint64(0) << (8 * uint(len(b)))
		}
		return int64(v)
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	z := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		z.Sub(z, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return z
}

// Load runs the machine to STOP and returns the unpickled value.
func (u *Unpickler) Load() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, u.errf("truncated data (no STOP opcode)")
		}
		op := u.data[u.pos]
		u.pos++
		if op == '.' { // STOP
			return u.pop()
		}
		if err := u.step(op); err != nil {
			return nil, err
		}
	}
}

func (u *Unpickler) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		p, err := u.u8()
		if err != nil {
			return err
		}
		if p > 5 {
			return u.errf("unsupported pickle protocol %d", p)
		}
		return nil
	case 0x95: // FRAME
		_, err := u.need(8)
		return err
	case '(': // MARK
		if len(u.marks) >= u.limits.MaxStack {
			return u.errf("too many MARKs")
		}
		u.marks = append(u.marks, len(u.stack))
		return nil
	case '0': // POP
		if len(u.stack) > 0 && (len(u.marks) == 0 || len(u.stack) > u.marks[len(u.marks)-1]) {
			u.stack = u.stack[:len(u.stack)-1]
			return nil
		}
		_, err := u.popMark() // POP of a mark
		return err
	case '1': // POP_MARK
		_, err := u.popMark()
		return err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.push(v)
	case 'N':
		return u.push(nil)
	case 0x88:
		return u.push(true)
	case 0x89:
		return u.push(false)
	case 'J': // BININT
		v, err := u.u32()
		if err != nil {
			return err
		}
		return u.push(int64(int32(v)))
	case 'K': // BININT1
		v, err := u.u8()
		if err != nil {
			return err
		}
		return u.push(int64(v))
	case 'M': // BININT2
		v, err := u.u16()
		if err != nil {
			return err
		}
		return u.push(int64(v))
	case 0x8a: // LONG1
		n, err := u.u8()
		if err != nil {
			return err
		}
		b, err := u.need(n)
		if err != nil {
			return err
		}
		return u.push(decodeLong(b))
	case 0x8b: // LONG4
		n, err := u.u32()
		if err != nil {
			return err
		}
		if n > 1<<16 {
			return u.errf("LONG4 of %d bytes is too large", n)
		}
		b, err := u.need(int(n))
		if err != nil {
			return err
		}
		return u.push(decodeLong(b))
	case 'G': // BINFLOAT (big-endian)
		b, err := u.need(8)
		if err != nil {
			return err
		}
		return u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'X', 'T', 'B': // BINUNICODE, BINSTRING, BINBYTES (4-byte length)
		n, err := u.u32()
		if err != nil {
			return err
		}
		b, err := u.need(int(n))
		if err != nil {
			return err
		}
		if op == 'B' {
			return u.push(append([]byte(nil), b...))
		}
		return u.push(string(b))
	case 0x8c, 'U', 'C': // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
		n, err := u.u8()
		if err != nil {
			return err
		}
		b, err := u.need(n)
		if err != nil {
			return err
		}
		if op == 'C' {
			return u.push(append([]byte(nil), b...))
		}
		return u.push(string(b))
	case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
		n, err := u.u64len()
		if err != nil {
			return err
		}
		b, err := u.need(n)
		if err != nil {
			return err
		}
		if op == 0x8d {
			return u.push(string(b))
		}
		return u.push(append([]byte(nil), b...))
	case ')':
		return u.push(Tuple{})
	case 't':
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(Tuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
			return u.errf("stack underflow")
		}
		t := append(Tuple(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
		return u.push(t)
	case ']':
		return u.push(&List{})
	case 'l':
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(&List{Items: items})
	case 'a': // APPEND
		v, err := u.pop()
		if err != nil {
			return err
		}
		return u.appendTo([]any{v})
	case 'e': // APPENDS
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.appendTo(items)
	case '}':
		return u.push(&Dict{})
	case 'd':
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := &Dict{}
		if err := u.setItems(d, items); err != nil {
			return err
		}
		return u.push(d)
	case 's': // SETITEM
		v, err := u.pop()
		if err != nil {
			return err
		}
		k, err := u.pop()
		if err != nil {
			return err
		}
		return u.setItemsOnTop([]any{k, v})
	case 'u': // SETITEMS
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.setItemsOnTop(items)
	case 0x8f: // EMPTY_SET
		return u.push(&Set{})
	case 0x90: // ADDITEMS
		items, err := u.popMark()
		if err != nil {
			return err
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		s, ok := t.(*Set)
		if !ok {
			return u.errf("ADDITEMS on %T", t)
		}
		s.Items = append(s.Items, items...)
		return nil
	case 0x91: // FROZENSET
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(&Set{Items: items})
	case 'c': // GLOBAL
		mod, err := u.line()
		if err != nil {
			return err
		}
		name, err := u.line()
		if err != nil {
			return err
		}
		return u.push(&Global{Module: mod, Name: name})
	case 0x93: // STACK_GLOBAL
		name, err := u.pop()
		if err != nil {
			return err
		}
		mod, err := u.pop()
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return u.errf("STACK_GLOBAL needs two strings, got %T and %T", mod, name)
		}
		return u.push(&Global{Module: ms, Name: ns})
	case 'R', 0x81: // REDUCE, NEWOBJ
		args, err := u.pop()
		if err != nil {
			return err
		}
		fn, err := u.pop()
		if err != nil {
			return err
		}
		return u.call(fn, args, op == 0x81)
	case 0x92: // NEWOBJ_EX
		if _, err := u.pop(); err != nil { // kwargs
			return err
		}
		args, err := u.pop()
		if err != nil {
			return err
		}
		fn, err := u.pop()
		if err != nil {
			return err
		}
		return u.call(fn, args, true)
	case 'b': // BUILD
		state, err := u.pop()
		if err != nil {
			return err
		}
		obj, err := u.top()
		if err != nil {
			return err
		}
		return u.build(obj, state)
	case 'p': // PUT (text)
		s, err := u.line()
		if err != nil {
			return err
		}
		var idx uint32
		if _, err := fmt.Sscanf(s, "%d", &idx); err != nil {
			return u.errf("bad PUT index %q", s)
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.memoPut(idx, v)
	case 'q': // BINPUT
		idx, err := u.u8()
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.memoPut(uint32(idx), v)
	case 'r': // LONG_BINPUT
		idx, err := u.u32()
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.memoPut(idx, v)
	case 0x94: // MEMOIZE
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.memoPut(uint32(len(u.memo)), v)
	case 'g': // GET (text)
		s, err := u.line()
		if err != nil {
			return err
		}
		var idx uint32
		if _, err := fmt.Sscanf(s, "%d", &idx); err != nil {
			return u.errf("bad GET index %q", s)
		}
		return u.memoGet(idx)
	case 'h': // BINGET
		idx, err := u.u8()
		if err != nil {
			return err
		}
		return u.memoGet(uint32(idx))
	case 'j': // LONG_BINGET
		idx, err := u.u32()
		if err != nil {
			return err
		}
		return u.memoGet(idx)
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return err
		}
		return u.persistent(pid)
	case 'P': // PERSID
		s, err := u.line()
		if err != nil {
			return err
		}
		return u.persistent(s)
	case 'I': // INT (text): also used for True/False in protocol 0
		s, err := u.line()
		if err != nil {
			return err
		}
		switch s {
		case "00":
			return u.push(false)
		case "01":
			return u.push(true)
		}
		var v int64
		if _, err := fmt.Sscanf(s, "%d", &v); err != nil {
			return u.errf("bad INT %q", s)
		}
		return u.push(v)
	}
	return u.errf("unsupported pickle opcode 0x%02x", op)
}

func (u *Unpickler) appendTo(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	l, ok := t.(*List)
	if !ok {
		return u.errf("APPEND to %T", t)
	}
	l.Items = append(l.Items, items...)
	return nil
}

func (u *Unpickler) setItems(d *Dict, items []any) error {
	if len(items)%2 != 0 {
		return u.errf("odd number of items for a dict")
	}
	for i := 0; i < len(items); i += 2 {
		d.set(items[i], items[i+1])
	}
	return nil
}

func (u *Unpickler) setItemsOnTop(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	d, ok := t.(*Dict)
	if !ok {
		return u.errf("SETITEM on %T", t)
	}
	return u.setItems(d, items)
}

func (u *Unpickler) call(fn, args any, newobj bool) error {
	g, ok := fn.(*Global)
	if !ok {
		return u.errf("call of a non-global %T", fn)
	}
	t, ok := args.(Tuple)
	if !ok {
		return u.errf("arguments of %s are a %T, not a tuple", g, args)
	}
	if u.Call == nil {
		return u.errf("unsupported global %s", g)
	}
	v, err := u.Call(g, t, newobj)
	if err != nil {
		return errors.Wrapf(err, "pickle: at byte %d", u.pos)
	}
	return u.push(v)
}

func (u *Unpickler) build(obj, state any) error {
	switch o := obj.(type) {
	case *Object:
		if o.State == nil {
			o.State = state
			return nil
		}
		// Merge dict states (BUILD may run more than once).
		od, ok1 := o.State.(*Dict)
		sd, ok2 := state.(*Dict)
		if !ok1 || !ok2 {
			o.State = state
			return nil
		}
		for i := range sd.Keys {
			od.set(sd.Keys[i], sd.Values[i])
		}
		return nil
	case *Dict:
		// BUILD on a dict sets instance attributes in Python, not items:
		// nothing in a checkpoint depends on them.
		return nil
	}
	return u.errf("BUILD on %T", obj)
}

func (u *Unpickler) persistent(pid any) error {
	if u.PersistentLoad == nil {
		return u.errf("persistent id without a loader")
	}
	v, err := u.PersistentLoad(pid)
	if err != nil {
		return errors.Wrapf(err, "pickle: at byte %d", u.pos)
	}
	return u.push(v)
}
