package softcpt

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/internal/setting"
	"github.com/softcpt/softcpt-go/tensor"
)

// Tokenizer is what prompt building needs from a BPE tokenizer.
type Tokenizer interface {
	Encode(text string) []int
	SOT() int
	EOT() int
}

// Position says where the class name goes relative to the learned
// context, as CoOp's CLASS_TOKEN_POSITION.
type Position int

const (
	// End is "[SOS][ctx][name][.][EOS]", CoOp's and SoftCPT's default.
	End Position = iota
	// Middle is "[SOS][ctx/2][name][ctx/2][.][EOS]".
	Middle
	// Front is "[SOS][name][ctx][.][EOS]".
	Front
)

// String returns the position as ParsePosition reads it: "end", "middle"
// or "front" (a number for an unknown position).
func (p Position) String() string {
	switch p {
	case End:
		return "end"
	case Middle:
		return "middle"
	case Front:
		return "front"
	}
	return strconv.Itoa(int(p))
}

// ParsePosition parses "end", "middle" or "front".
func ParsePosition(s string) (Position, error) {
	switch strings.ToLower(s) {
	case "end", "":
		return End, nil
	case "middle":
		return Middle, nil
	case "front":
		return Front, nil
	}
	return End, setting.Errorf("Config.Position", s, "must be end, middle or front (where the class name goes)")
}

// PromptGroup is a set of prompts "<n learned vectors> <name>." that are
// encoded together: the token embeddings of the fixed parts are computed
// once (the token embedding table is frozen) and the learned vectors are
// spliced in at each forward pass.
type PromptGroup struct {
	nCtx   int
	pos    Position
	width  int
	names  [][]int          // name tokens per prompt
	sot    *tensor.Tensor   // [1, W] embedding of SOT
	length int              // common sequence length 1 + nCtx + S
	eot    []int            // EOT position per prompt
	nameE  []*tensor.Tensor // [len(name), W] embeddings per prompt (front/middle)
	dotEOT *tensor.Tensor   // [2, W] embeddings of "." and EOT
	pad    *tensor.Tensor   // [1, W] embedding of token 0 (padding)
}

// NewPromptGroup tokenizes "<name>." for every name (underscores become
// spaces, as in CoOp) and prepares the fixed embeddings. It returns an
// error naming the prompt when it does not fit the context length.
func NewPromptGroup(m *clip.Model, tok Tokenizer, names []string, nCtx int, pos Position) (*PromptGroup, error) {
	g := &PromptGroup{nCtx: nCtx, pos: pos, width: m.Config.TransformerWidth}
	dot := tok.Encode(".")
	if len(dot) != 1 {
		return nil, errors.Errorf("tokenizer encodes \".\" as %d tokens", len(dot))
	}
	maxName := 0
	for _, n := range names {
		ids := tok.Encode(strings.ReplaceAll(n, "_", " "))
		g.names = append(g.names, ids)
		maxName = max(maxName, len(ids))
		if l := 1 + nCtx + len(ids) + 2; l > m.Config.ContextLength {
			return nil, errors.Errorf("prompt for %q needs %d tokens, more than the context length %d", n, l, m.Config.ContextLength)
		}
	}
	g.length = 1 + nCtx + maxName + 2
	emb := func(ids ...int) *tensor.Tensor {
		var out *autograd.Var
		autograd.NoGrad(func() { out = m.TokenEmbeddings(ids, 1, len(ids)) })
		return out.Value.Reshape(len(ids), g.width)
	}
	g.sot = emb(tok.SOT())
	g.dotEOT = emb(dot[0], tok.EOT())
	g.pad = emb(0)
	for _, ids := range g.names {
		g.nameE = append(g.nameE, emb(ids...))
		g.eot = append(g.eot, 1+nCtx+len(ids)+1)
	}
	return g, nil
}

// Len returns the number of prompts.
func (g *PromptGroup) Len() int { return len(g.names) }

// Length returns the (padded) sequence length of the group's prompts.
func (g *PromptGroup) Length() int { return g.length }

// EOT returns the EOT position of each prompt.
func (g *PromptGroup) EOT() []int { return g.eot }

// fixedRow writes the fixed embeddings of prompt i into row, leaving the
// context slots zero.
func (g *PromptGroup) fixedRow(i int, row []float32) {
	W := g.width
	put := func(slot int, t *tensor.Tensor) { copy(row[slot*W:], t.Data()) }
	put(0, g.sot)
	n := len(g.names[i])
	var nameAt int
	switch g.pos {
	case End:
		nameAt = 1 + g.nCtx
	case Front:
		nameAt = 1
	case Middle:
		nameAt = 1 + g.nCtx/2
	}
	put(nameAt, g.nameE[i])
	put(1+g.nCtx+n, g.dotEOT)
	for s := 1 + g.nCtx + n + 2; s < g.length; s++ {
		put(s, g.pad)
	}
}

// ctxSlots returns the sequence positions of the nCtx context vectors of
// prompt i.
func (g *PromptGroup) ctxSlots(i int) []int {
	n := len(g.names[i])
	slots := make([]int, 0, g.nCtx)
	for j := 0; j < g.nCtx; j++ {
		s := 1 + j
		switch {
		case g.pos == Front:
			s = 1 + n + j
		case g.pos == Middle && j >= g.nCtx/2:
			s = 1 + n + j
		}
		slots = append(slots, s)
	}
	return slots
}

// Embeddings assembles the input embeddings of prompts idx (all prompts
// when idx is nil) with context ctx, which is [nCtx, W] (shared by every
// prompt) or [len(idx), nCtx, W] (one context per prompt). The result is
// [len(idx), Length, W]; gradients flow into ctx.
func (g *PromptGroup) Embeddings(ctx *autograd.Var, idx []int) *autograd.Var {
	if idx == nil {
		idx = make([]int, g.Len())
		for i := range idx {
			idx[i] = i
		}
	}
	P, L, W := len(idx), g.length, g.width
	cs := ctx.Shape()
	shared := len(cs) == 2
	if !(shared && cs[0] == g.nCtx && cs[1] == W) && !(len(cs) == 3 && cs[0] == P && cs[1] == g.nCtx && cs[2] == W) {
		panic(fmt.Sprintf("softcpt.PromptGroup.Embeddings: context %v for %d prompts of %d×%d", cs, P, g.nCtx, W))
	}
	fixed := tensor.New(P, L, W)
	fd := fixed.Data()
	// rows[k] is the flat index into ctx rows ([P·nCtx] or [nCtx]) for each
	// context slot; the context is scattered into its slots by a gather.
	slotIdx := make([]int, 0, P*g.nCtx)
	for k, i := range idx {
		g.fixedRow(i, fd[k*L*W:(k+1)*L*W])
		for j := 0; j < g.nCtx; j++ {
			if shared {
				slotIdx = append(slotIdx, j)
			} else {
				slotIdx = append(slotIdx, k*g.nCtx+j)
			}
		}
	}
	if g.nCtx == 0 {
		return autograd.Const(fixed)
	}
	flat := autograd.Reshape(ctx, -1, W)
	gathered := autograd.IndexSelect(flat, 0, slotIdx) // [P·nCtx, W]
	// Scatter the context rows into their positions: out = fixed + S·ctx,
	// done as a gather of [fixed rows | context rows].
	all := autograd.Concat([]*autograd.Var{autograd.Const(fixed.Reshape(P*L, W)), gathered}, 0)
	order := make([]int, P*L)
	for k, i := range idx {
		for s := 0; s < L; s++ {
			order[k*L+s] = k*L + s
		}
		for j, s := range g.ctxSlots(i) {
			order[k*L+s] = P*L + k*g.nCtx + j
		}
	}
	return autograd.Reshape(autograd.IndexSelect(all, 0, order), P, L, W)
}

// EOTOf returns the EOT positions of prompts idx.
func (g *PromptGroup) EOTOf(idx []int) []int {
	if idx == nil {
		return g.eot
	}
	out := make([]int, len(idx))
	for k, i := range idx {
		out[k] = g.eot[i]
	}
	return out
}

// Prefix returns the shared prefix embeddings [G, 1+nCtx, W] (SOT then
// the context) for contexts ctx [G, nCtx, W]; only the End layout has a
// prefix shared by all prompts of a context.
func (g *PromptGroup) Prefix(ctx *autograd.Var) *autograd.Var {
	G := ctx.Shape()[0]
	sot := autograd.Const(g.sot.Reshape(1, 1, g.width).Expand(G, 1, g.width).Contiguous())
	return autograd.Concat([]*autograd.Var{sot, ctx}, 1)
}

// Suffix returns the fixed suffix embeddings [len(idx), S, W] of prompts
// idx (name, ".", EOT, padding; S fits the longest of them) and the EOT
// position of each prompt in the full sequence (End layout).
func (g *PromptGroup) Suffix(idx []int) (*tensor.Tensor, []int) {
	S := 0
	for _, i := range idx {
		S = max(S, len(g.names[i])+2)
	}
	W := g.width
	out := tensor.New(len(idx), S, W)
	od := out.Data()
	eot := make([]int, len(idx))
	for k, i := range idx {
		row := od[k*S*W : (k+1)*S*W]
		n := len(g.names[i])
		copy(row, g.nameE[i].Data())
		copy(row[n*W:], g.dotEOT.Data())
		for s := n + 2; s < S; s++ {
			copy(row[s*W:], g.pad.Data())
		}
		eot[k] = 1 + g.nCtx + n + 1
	}
	return out, eot
}

// lengthBuckets groups the positions of classes (indices into the slice,
// in increasing order within a bucket) by the token length of their
// names, shortest first.
func (g *PromptGroup) lengthBuckets(classes []int) [][]int {
	byLen := map[int][]int{}
	var lens []int
	for i, c := range classes {
		n := len(g.names[c])
		if _, ok := byLen[n]; !ok {
			lens = append(lens, n)
		}
		byLen[n] = append(byLen[n], i)
	}
	sort.Ints(lens)
	out := make([][]int, len(lens))
	for k, n := range lens {
		out[k] = byLen[n]
	}
	return out
}
