package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pkg/errors"
)

const (
	// StartOfText is the text of the start-of-text special token.
	StartOfText = "<|startoftext|>"
	// EndOfText is the text of the end-of-text special token.
	EndOfText = "<|endoftext|>"

	// CLIPMerges is the number of merges OpenAI's CLIP vocabulary uses from
	// bpe_simple_vocab_16e6.txt.gz (49152-256-2); Load and LoadReader never
	// use more merges than this.
	CLIPMerges = 49152 - 256 - 2

	// DefaultContextLength is CLIP's text context length.
	DefaultContextLength = 77
)

// cacheLimit bounds the number of words kept in the BPE cache; the cache is
// emptied when it is full.
var cacheLimit = 1 << 16

// Tokenizer is CLIP's byte-level BPE tokenizer. It is safe for concurrent
// use by several goroutines.
type Tokenizer struct {
	// vocab[id] is the byte-encoded text of token id.
	vocab []string
	// encoder maps a token's byte-encoded text to its id (a later duplicate
	// wins, as in the reference's dict(zip(vocab, range(len(vocab))))).
	encoder map[string]int
	// ranks maps a pair of token ids to the rank of its merge and the id of
	// the merged token.
	ranks map[uint64]merge
	// byteSym[b] is the id of the single-byte token of byte b, and
	// byteSymEnd[b] the id of the same byte followed by "</w>".
	byteSym, byteSymEnd [256]int
	sot, eot            int

	mu    sync.Mutex
	cache map[string][]int
}

type merge struct {
	rank, id int
}

// byteEncoder is bytes_to_unicode() of the reference: printable bytes map to
// themselves, the rest to U+0100 onwards. byteOrder is the order in which
// the reference lists them (the order of the first 256 vocabulary entries).
var byteEncoder, byteOrder = bytesToUnicode()

// byteDecoder inverts byteEncoder.
var byteDecoder = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, r := range byteEncoder {
		m[r] = byte(b)
	}
	return m
}()

func bytesToUnicode() (enc [256]rune, order [256]byte) {
	var printable [256]bool
	n := 0
	for _, rg := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := rg[0]; b <= rg[1]; b++ {
			printable[b] = true
			enc[b] = rune(b)
			order[n] = byte(b)
			n++
		}
	}
	extra := 0
	for b := 0; b < 256; b++ {
		if !printable[b] {
			enc[b] = rune(256 + extra)
			order[n] = byte(b)
			extra++
			n++
		}
	}
	return enc, order
}

// Load reads a merges file: OpenAI's gzip-compressed
// bpe_simple_vocab_16e6.txt.gz, or the same format uncompressed (a header
// line, ignored whatever it holds, then one merge "left right" per line).
// At most CLIPMerges merges are used, as in the reference. Empty lines are
// skipped.
func Load(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrapf(err, "tokenizer: open merges file %s", path)
	}
	defer f.Close()
	t, err := LoadReader(f)
	if err != nil {
		return nil, errors.Wrapf(err, "tokenizer: merges file %s", path)
	}
	return t, nil
}

// maxMergesBytes bounds the (decompressed) bytes read from a merges file.
const maxMergesBytes = 16 << 20

// LoadReader reads a merges file, gzip-compressed or not, from r (see Load).
func LoadReader(r io.Reader) (*Tokenizer, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	var src io.Reader = br
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, errors.Wrap(err, "tokenizer: gzip header")
		}
		defer zr.Close()
		src = zr
	}
	// A merges file that has not given CLIPMerges merges within
	// maxMergesBytes (OpenAI's has them in its first 0.4 MB) is an error,
	// so that a gzip stream of blank lines cannot run for long.
	lr := &io.LimitedReader{R: src, N: maxMergesBytes + 1}
	var merges []string
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() && len(merges) < CLIPMerges {
		line++
		s := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			continue // the header line, skipped as the reference's merges[1:]
		}
		if s == "" {
			continue
		}
		if !utf8.ValidString(s) {
			return nil, errors.Errorf("tokenizer: line %d is not valid UTF-8", line)
		}
		merges = append(merges, s)
	}
	if err := sc.Err(); err != nil {
		return nil, errors.Wrapf(err, "tokenizer: reading line %d", line+1)
	}
	if lr.N <= 0 && len(merges) < CLIPMerges {
		return nil, errors.Errorf("tokenizer: %d merges in the first %d bytes (maxMergesBytes): not a merges file", len(merges), maxMergesBytes)
	}
	if len(merges) == 0 {
		return nil, errors.New("tokenizer: no merges found")
	}
	return New(merges)
}

// New builds a tokenizer from BPE merges, each "left right" (two symbols in
// the byte-encoded alphabet of bytes_to_unicode, the last symbol of a word
// carrying the suffix "</w>"), in priority order. All merges are used. The
// vocabulary is, as in the reference, the 256 byte symbols, the same with
// "</w>", one token per merge, then <|startoftext|> and <|endoftext|>.
func New(merges []string) (*Tokenizer, error) {
	vocab := make([]string, 0, 512+len(merges)+2)
	for _, b := range byteOrder {
		vocab = append(vocab, string(byteEncoder[b]))
	}
	for _, b := range byteOrder {
		vocab = append(vocab, string(byteEncoder[b])+"</w>")
	}
	pairs := make([][2]string, len(merges))
	for i, m := range merges {
		parts := strings.Fields(m) // merge.split() in the reference
		if len(parts) != 2 {
			return nil, errors.Errorf("tokenizer: merge %d %q is not two space-separated symbols", i+1, m)
		}
		pairs[i] = [2]string{parts[0], parts[1]}
		vocab = append(vocab, parts[0]+parts[1])
	}
	vocab = append(vocab, StartOfText, EndOfText)

	t := &Tokenizer{
		vocab:   vocab,
		encoder: make(map[string]int, len(vocab)),
		ranks:   make(map[uint64]merge, len(merges)),
		cache:   make(map[string][]int),
	}
	for id, s := range vocab {
		t.encoder[s] = id
	}
	for rank, p := range pairs {
		a, okA := t.encoder[p[0]]
		b, okB := t.encoder[p[1]]
		if !okA || !okB {
			continue // a pair of unknown symbols can never occur in a word
		}
		// dict(zip(merges, range(...))): a repeated merge keeps its last rank.
		t.ranks[pairKey(a, b)] = merge{rank: rank, id: t.encoder[p[0]+p[1]]}
	}
	for b := 0; b < 256; b++ {
		t.byteSym[b] = t.encoder[string(byteEncoder[b])]
		t.byteSymEnd[b] = t.encoder[string(byteEncoder[b])+"</w>"]
	}
	t.sot = t.encoder[StartOfText]
	t.eot = t.encoder[EndOfText]
	return t, nil
}

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// SOT returns the id of <|startoftext|> (49406 for CLIP).
func (t *Tokenizer) SOT() int { return t.sot }

// EOT returns the id of <|endoftext|> (49407 for CLIP), the largest id.
func (t *Tokenizer) EOT() int { return t.eot }

// VocabSize returns the number of tokens (49408 for CLIP).
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// Encode cleans text as the reference does (ftfy.fix_text, html.unescape
// twice, whitespace collapse, strip, str.lower), splits it with the
// reference pattern and returns the BPE token ids, without SOT and EOT, as
// SimpleTokenizer().encode. Invalid UTF-8 in text is first replaced by
// U+FFFD, one per maximal invalid subsequence, as Python's
// bytes.decode("utf-8", "replace") does.
func (t *Tokenizer) Encode(text string) []int {
	return t.encodeCleaned(CleanText(text))
}

// encodeCleaned pre-tokenises already cleaned text and applies BPE.
func (t *Tokenizer) encodeCleaned(clean string) []int {
	ids := []int{}
	buf := make([]byte, 0, 64)
	for _, tok := range preTokenize(clean) {
		switch tok {
		case StartOfText:
			ids = append(ids, t.sot)
			continue
		case EndOfText:
			ids = append(ids, t.eot)
			continue
		}
		buf = append(buf[:0], tok...)
		ids = append(ids, t.bpe(buf)...)
	}
	return ids
}

// bpe returns the token ids of one pre-token (its UTF-8 bytes).
func (t *Tokenizer) bpe(word []byte) []int {
	if len(word) == 0 {
		return nil
	}
	t.mu.Lock()
	if ids, ok := t.cache[string(word)]; ok {
		t.mu.Unlock()
		return ids
	}
	t.mu.Unlock()

	syms := make([]int, len(word))
	for i, b := range word {
		syms[i] = t.byteSym[b]
	}
	syms[len(syms)-1] = t.byteSymEnd[word[len(word)-1]]
	for len(syms) > 1 {
		best, bestRank := merge{}, -1
		var first, second int
		for i := 0; i+1 < len(syms); i++ {
			m, ok := t.ranks[pairKey(syms[i], syms[i+1])]
			if ok && (bestRank < 0 || m.rank < bestRank) {
				best, bestRank = m, m.rank
				first, second = syms[i], syms[i+1]
			}
		}
		if bestRank < 0 {
			break
		}
		out := syms[:0]
		for i := 0; i < len(syms); {
			if syms[i] == first && i+1 < len(syms) && syms[i+1] == second {
				out = append(out, best.id)
				i += 2
			} else {
				out = append(out, syms[i])
				i++
			}
		}
		syms = out
	}
	ids := append([]int(nil), syms...)

	t.mu.Lock()
	if len(t.cache) >= cacheLimit {
		clear(t.cache)
	}
	t.cache[string(word)] = ids
	t.mu.Unlock()
	return ids
}

// Decode maps ids back to text as SimpleTokenizer().decode: the bytes of
// the tokens, decoded as UTF-8 with U+FFFD for invalid sequences, with
// every "</w>" replaced by a space. Ids outside the vocabulary decode to
// U+FFFD.
func (t *Tokenizer) Decode(ids []int) string {
	var raw bytes.Buffer
	for _, id := range ids {
		if id < 0 || id >= len(t.vocab) {
			raw.WriteString("\uFFFD")
			continue
		}
		for _, r := range t.vocab[id] {
			if b, ok := byteDecoder[r]; ok {
				raw.WriteByte(b)
			}
		}
	}
	return strings.ReplaceAll(pyDecodeUTF8(raw.Bytes()), "</w>", " ")
}

// Token returns the byte-encoded text of token id ("" when out of range).
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.vocab) {
		return ""
	}
	return t.vocab[id]
}

// ID returns the id of a byte-encoded token text such as "photo</w>".
func (t *Tokenizer) ID(token string) (int, bool) {
	id, ok := t.encoder[token]
	return id, ok
}
