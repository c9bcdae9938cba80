package tokenizer

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file ports ftfy 6.3.1's fix_text with its default TextFixerConfig
// (ftfy is MIT-licensed, by Robyn Speer); see the package documentation for
// what is and is not reproduced.

// maxDecodeLength is ftfy's default max_decode_length, in code points.
const maxDecodeLength = 1000000

// charmap is one single-byte encoding tried by fix_encoding.
type charmap struct {
	name   string
	sloppy bool
	decode [256]rune
	encode map[rune]byte
}

func init() {
	for i := range charmapTables {
		cm := &charmapTables[i]
		cm.encode = make(map[rune]byte, 256)
		for b := 255; b >= 0; b-- {
			cm.encode[cm.decode[b]] = byte(b)
		}
	}
	initUTF8Clues()
}

// encodeText encodes s in the charmap; ok is false if a character has no
// byte (ftfy's possible_encoding).
func (cm *charmap) encodeText(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := cm.encode[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// FixText is ftfy.fix_text(text) of ftfy 6.3.1 with the default
// configuration, as far as this package reproduces it (see the package
// documentation). The text is fixed line by line; HTML entities are decoded
// until a line containing '<' is seen.
func FixText(text string) string {
	unescape := true
	var out strings.Builder
	out.Grow(len(text))
	for pos := 0; pos < len(text); {
		end := strings.IndexByte(text[pos:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += pos + 1
		}
		if n := utf8.RuneCountInString(text[pos:end]); n > maxDecodeLength {
			end = pos
			for k := 0; k < maxDecodeLength; k++ {
				_, size := utf8.DecodeRuneInString(text[end:])
				end += size
			}
		}
		seg := text[pos:end]
		if unescape && strings.IndexByte(seg, '<') >= 0 {
			unescape = false
		}
		out.WriteString(fixSegment(seg, unescape))
		pos = end
	}
	return out.String()
}

// maxFixRounds bounds the "until nothing changes" loops of ftfy. ftfy
// itself has no bound; every input seen needs a handful of rounds, and the
// bound only keeps a pathological input from looping forever.
const maxFixRounds = 64

// fixSegment is fix_and_explain: the fixers applied until nothing changes.
func fixSegment(text string, unescape bool) string {
	for round := 0; round < maxFixRounds; round++ {
		orig := text
		if unescape {
			text = ftfyUnescapeHTML(text)
		}
		text = fixEncoding(text)
		text = fixC1Controls(text)
		text = fixLatinLigatures(text)
		text = fixCharacterWidth(text)
		text = uncurlQuotes(text)
		text = fixLineBreaks(text)
		// fix_surrogates has nothing to do: a Go string holds no surrogate
		// code points (invalid UTF-8 was already replaced by U+FFFD).
		text = removeTerminalEscapes(text)
		text = removeControlChars(text)
		text = norm.NFC.String(text)
		if text == orig {
			break
		}
	}
	return text
}

// ftfyUnescapeHTML is ftfy's unescape_html: only complete references
// "&name;" / "&#num;" (pattern &#?[0-9A-Za-z]{1,24};) are decoded, plus
// all-caps names of lower-case entities such as &EACUTE;.
func ftfyUnescapeHTML(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] != '&' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		if j < len(s) && s[j] == '#' {
			j++
		}
		k := j
		for k < len(s) && isASCIIAlnum(s[k]) {
			k++
		}
		if k == j || k-j > 24 || k >= len(s) || s[k] != ';' {
			b.WriteByte('&')
			i++
			continue
		}
		ent := s[i : k+1]
		b.WriteString(ftfyEntity(ent))
		i = k + 1
	}
	return b.String()
}

func isASCIIAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func ftfyEntity(ent string) string {
	if v, ok := html5Entities[ent[1:]]; ok && ent[1] != '#' {
		return v
	}
	if v, ok := ftfyUpperEntities[ent]; ok {
		return v
	}
	if strings.HasPrefix(ent, "&#") {
		u := HTMLUnescape(ent)
		if strings.IndexByte(u, ';') >= 0 {
			return ent
		}
		return u
	}
	return ent
}

// fixEncoding is ftfy.fix_encoding: one-step fixes until nothing changes.
func fixEncoding(text string) string {
	for round := 0; round < maxFixRounds; round++ {
		prev := text
		text = fixEncodingOneStep(text)
		if text == prev {
			break
		}
	}
	return text
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fixEncodingOneStep is _fix_encoding_one_step_and_explain.
func fixEncodingOneStep(text string) string {
	if text == "" || isASCII(text) || !isBad(text) {
		return text
	}
	latin1Possible := false
	for i := range charmapTables {
		cm := &charmapTables[i]
		enc, ok := cm.encodeText(text)
		if !ok {
			continue
		}
		if cm.name == "latin-1" {
			latin1Possible = true
		}
		if cm.name != "macroman" && alteredUTF8Search(enc) {
			enc = restoreByteA0(enc)
		}
		if cm.sloppy {
			enc = replaceLossySequences(enc)
		}
		var fixed string
		if bytes.IndexByte(enc, 0xED) >= 0 || bytes.IndexByte(enc, 0xC0) >= 0 {
			fixed, ok = decodeUTF8Variants(enc)
		} else {
			ok = utf8.Valid(enc)
			fixed = string(enc)
		}
		if ok {
			return fixed
		}
	}
	if utf8DetectorFind(text, 0) >= 0 {
		if fixed := decodeInconsistentUTF8(text); fixed != text {
			return fixed
		}
	}
	// ftfy compares with "windows-1252", a name not in its list of
	// encodings, so Latin-1 text is always re-read as strict Windows-1252.
	if latin1Possible {
		var b strings.Builder
		ok := true
		for _, r := range text {
			d := windows1252Strict[r] // r < 256: the text is Latin-1
			if d < 0 {
				ok = false
				break
			}
			b.WriteRune(d)
		}
		if ok && b.String() != text {
			return b.String()
		}
	}
	if hasC1(text) {
		return fixC1Controls(text)
	}
	return text
}

// bytePattern is a sequence of byte classes, for ftfy's byte regexes.
type bytePattern []func(byte) bool

func bIn(lo, hi byte) func(byte) bool { return func(c byte) bool { return c >= lo && c <= hi } }
func bAny(set ...byte) func(byte) bool {
	return func(c byte) bool { return bytes.IndexByte(set, c) >= 0 }
}
func bOr(fs ...func(byte) bool) func(byte) bool {
	return func(c byte) bool {
		for _, f := range fs {
			if f(c) {
				return true
			}
		}
		return false
	}
}

// matchFirst returns the length of the first pattern (in order) matching at
// b[i:], or 0: a leftmost-first alternation of fixed-length patterns.
func matchFirst(b []byte, i int, pats []bytePattern) int {
	for _, p := range pats {
		if i+len(p) > len(b) {
			continue
		}
		ok := true
		for k, f := range p {
			if !f(b[i+k]) {
				ok = false
				break
			}
		}
		if ok {
			return len(p)
		}
	}
	return 0
}

var (
	cont      = bIn(0x80, 0xBF)
	contNoA0  = bOr(bIn(0x80, 0x84), bIn(0x86, 0x9F), bIn(0xA1, 0xBF))
	space     = bAny(' ')
	sub       = bAny(0x1A)
	subQ      = bAny(0x1A, '?')
	subCont   = bOr(sub, cont)
	subQCont  = bOr(subQ, cont)
	alteredRE = []bytePattern{
		{bAny(0xC2, 0xC3, 0xC5, 0xCE, 0xD0, 0xD9), space},
		{bAny(0xE2, 0xE3), space, contNoA0},
		{bIn(0xE0, 0xE3), contNoA0, space},
		{bAny(0xF0), space, cont, cont},
		{bAny(0xF0), cont, space, cont},
		{bAny(0xF0), cont, cont, space},
	}
	lossyRE = []bytePattern{
		{bIn(0xC2, 0xDF), sub},
		{bIn(0xC2, 0xC3), bAny('?')},
		{bAny(0xED), bIn(0xA0, 0xAF), subQ, bAny(0xED), bIn(0xB0, 0xBF), subQCont},
		{bAny(0xED), bIn(0xA0, 0xAF), subQCont, bAny(0xED), bIn(0xB0, 0xBF), subQ},
		{bIn(0xE0, 0xEF), subQ, subCont},
		{bIn(0xE0, 0xEF), subCont, subQ},
		{bIn(0xF0, 0xF4), subQ, subCont, subCont},
		{bIn(0xF0, 0xF4), subCont, subQ, subCont},
		{bIn(0xF0, 0xF4), subCont, subCont, subQ},
		{sub},
	}
)

func alteredUTF8Search(b []byte) bool {
	for i := range b {
		if matchFirst(b, i, alteredRE) > 0 {
			return true
		}
	}
	return false
}

// restoreByteA0 is ftfy's restore_byte_a0.
func restoreByteA0(b []byte) []byte {
	// A_GRAVE_WORD_RE: "\xc3 " not followed by " ", "quele", "quela",
	// "quilo" or "s " becomes "\xc3\xa0 ".
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == 0xC3 && i+1 < len(b) && b[i+1] == ' ' {
			rest := b[i+2:]
			if !(bytes.HasPrefix(rest, []byte(" ")) || bytes.HasPrefix(rest, []byte("quele")) ||
				bytes.HasPrefix(rest, []byte("quela")) || bytes.HasPrefix(rest, []byte("quilo")) ||
				bytes.HasPrefix(rest, []byte("s "))) {
				out = append(out, 0xC3, 0xA0, ' ')
				i++
				continue
			}
		}
		out = append(out, b[i])
	}
	// ALTERED_UTF8_RE matches get their spaces replaced by 0xA0.
	for i := 0; i < len(out); {
		n := matchFirst(out, i, alteredRE)
		if n == 0 {
			i++
			continue
		}
		for k := i; k < i+n; k++ {
			if out[k] == ' ' {
				out[k] = 0xA0
			}
		}
		i += n
	}
	return out
}

// replaceLossySequences is ftfy's replace_lossy_sequences: LOSSY_UTF8_RE
// matches become the UTF-8 bytes of U+FFFD.
func replaceLossySequences(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		n := matchFirst(b, i, lossyRE)
		if n == 0 {
			out = append(out, b[i])
			i++
			continue
		}
		out = append(out, 0xEF, 0xBF, 0xBD)
		i += n
	}
	return out
}

// decodeUTF8Variants decodes ftfy's "utf-8-variants": strict UTF-8 plus
// CESU-8 surrogate pairs and Java's C0 80 for U+0000.
func decodeUTF8Variants(b []byte) (string, bool) {
	var sb strings.Builder
	for i := 0; i < len(b); {
		c := b[i]
		if c == 0xC0 && i+1 < len(b) && b[i+1] == 0x80 {
			sb.WriteByte(0)
			i += 2
			continue
		}
		if c == 0xED && i+5 < len(b) && b[i+1] >= 0xA0 && b[i+1] <= 0xAF && cont(b[i+2]) &&
			b[i+3] == 0xED && b[i+4] >= 0xB0 && b[i+4] <= 0xBF && cont(b[i+5]) {
			cp := rune(b[i+1]&0x0F)<<16 | rune(b[i+2]&0x3F)<<10 | rune(b[i+4]&0x0F)<<6 | rune(b[i+5]&0x3F)
			sb.WriteRune(cp + 0x10000)
			i += 6
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return "", false
		}
		sb.WriteRune(r)
		i += n
	}
	return sb.String(), true
}

// UTF-8 "clue" classes of ftfy's chardata, derived from the same
// single-byte encodings ftfy's table was generated from.
var (
	utf8First2, utf8First3, utf8First4 map[rune]bool
	utf8Cont, utf8ContStrict           map[rune]bool
)

func initUTF8Clues() {
	utf8First2 = map[rune]bool{}
	utf8First3 = map[rune]bool{}
	utf8First4 = map[rune]bool{}
	utf8Cont = map[rune]bool{' ': true}
	utf8ContStrict = map[rune]bool{}
	for r := rune(0x80); r <= 0xBF; r++ {
		utf8Cont[r] = true
		utf8ContStrict[r] = true
	}
	clueEncodings := map[string]bool{
		"latin-1": true, "sloppy-windows-1252": true, "sloppy-windows-1251": true,
		"sloppy-windows-1250": true, "sloppy-windows-1253": true,
		"sloppy-windows-1254": true, "sloppy-windows-1257": true,
	}
	// Characters that stand for themselves next to mojibake are not
	// "strict" continuation clues.
	notStrict := map[rune]bool{
		0x2013: true, 0x2014: true, 0x2015: true, // dashes
		0x2018: true, 0x2019: true, 0x201A: true, 0x201C: true, 0x201D: true, 0x201E: true, // quotes
		0x2022: true, 0x2026: true, // bullet, ellipsis
	}
	for _, cm := range charmapTables {
		if !clueEncodings[cm.name] {
			continue
		}
		for b := 0x80; b <= 0xFF; b++ {
			r := cm.decode[b]
			if cm.sloppy && r == rune(b) && b < 0xA0 {
				continue // an unassigned byte, not a character of the encoding
			}
			switch {
			case b <= 0xBF:
				utf8Cont[r] = true
				if !notStrict[r] {
					utf8ContStrict[r] = true
				}
			case b >= 0xC2 && b <= 0xDF:
				utf8First2[r] = true
			case b >= 0xE0 && b <= 0xEF:
				utf8First3[r] = true
			case b == 0xF0 || b == 0xF3:
				utf8First4[r] = true
			}
		}
	}
}

// utf8DetectorMatch returns the length in runes of a UTF8_DETECTOR_RE match
// starting at rs[i] (0 if none).
func utf8DetectorMatch(rs []rune, i int) int {
	if i > 0 && utf8ContStrict[rs[i-1]] {
		return 0
	}
	j := i
	for j < len(rs) {
		n := 0
		switch {
		case utf8First2[rs[j]] && j+1 < len(rs) && utf8Cont[rs[j+1]]:
			n = 2
		case utf8First3[rs[j]] && j+2 < len(rs) && utf8Cont[rs[j+1]] && utf8Cont[rs[j+2]]:
			n = 3
		case utf8First4[rs[j]] && j+3 < len(rs) && utf8Cont[rs[j+1]] && utf8Cont[rs[j+2]] && utf8Cont[rs[j+3]]:
			n = 4
		}
		if n == 0 {
			break
		}
		j += n
	}
	return j - i
}

// utf8DetectorFind returns the index (in runes) of the first match at or
// after rune index from, or -1.
func utf8DetectorFind(text string, from int) int {
	rs := []rune(text)
	for i := from; i < len(rs); i++ {
		if utf8DetectorMatch(rs, i) > 0 {
			return i
		}
	}
	return -1
}

// decodeInconsistentUTF8 is ftfy's decode_inconsistent_utf8.
func decodeInconsistentUTF8(text string) string {
	rs := []rune(text)
	var b strings.Builder
	for i := 0; i < len(rs); {
		n := utf8DetectorMatch(rs, i)
		if n == 0 {
			b.WriteRune(rs[i])
			i++
			continue
		}
		sub := string(rs[i : i+n])
		if n < len(rs) && isBad(sub) {
			sub = fixEncoding(sub)
		}
		b.WriteString(sub)
		i += n
	}
	return b.String()
}

func hasC1(s string) bool {
	for _, r := range s {
		if r >= 0x80 && r <= 0x9F {
			return true
		}
	}
	return false
}

// fixC1Controls is ftfy's fix_c1_controls: U+0080-U+009F read as
// sloppy Windows-1252.
func fixC1Controls(s string) string {
	if !hasC1(s) {
		return s
	}
	w1252 := &charmapTables[1]
	return strings.Map(func(r rune) rune {
		if r >= 0x80 && r <= 0x9F {
			return w1252.decode[r]
		}
		return r
	}, s)
}

var ligatures = map[rune]string{
	'Ĳ': "IJ", 'ĳ': "ij", 'ŉ': "ʼn", 'Ǳ': "DZ", 'ǲ': "Dz", 'ǳ': "dz",
	'Ǆ': "DŽ", 'ǅ': "Dž", 'ǆ': "dž", 'Ǉ': "LJ", 'ǈ': "Lj", 'ǉ': "lj",
	'Ǌ': "NJ", 'ǋ': "Nj", 'ǌ': "nj", 'ﬀ': "ff", 'ﬁ': "fi", 'ﬂ': "fl",
	'ﬃ': "ffi", 'ﬄ': "ffl", 'ﬅ': "ſt", 'ﬆ': "st",
}

// translate maps each rune through m (str.translate with a dict of strings).
func translate(s string, m map[rune]string, maybe func(rune) bool) string {
	found := false
	for _, r := range s {
		if maybe(r) {
			if _, ok := m[r]; ok {
				found = true
				break
			}
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if v, ok := m[r]; ok && maybe(r) {
			b.WriteString(v)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func fixLatinLigatures(s string) string {
	return translate(s, ligatures, func(r rune) bool { return r >= 0x132 })
}

func fixCharacterWidth(s string) string {
	return translate(s, widthMap, func(r rune) bool { return r >= 0x3000 })
}

// uncurlQuotes maps U+02BC and U+2018-U+201B to "'" and U+201C-U+201F to '"'.
func uncurlQuotes(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == 0x2BC || (r >= 0x2018 && r <= 0x201B):
			return '\''
		case r >= 0x201C && r <= 0x201F:
			return '"'
		}
		return r
	}, s)
}

func fixLineBreaks(s string) string {
	if !strings.ContainsAny(s, "\r\u2028\u2029\u0085") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\u2028", "\n")
	s = strings.ReplaceAll(s, "\u2029", "\n")
	return strings.ReplaceAll(s, "\u0085", "\n")
}

// removeTerminalEscapes removes ANSI_RE matches: ESC '[' (\d|;)* [a-zA-Z],
// where \d is any Unicode decimal digit as in Python's re.
func removeTerminalEscapes(s string) string {
	if strings.IndexByte(s, 0x1B) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == 0x1B && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if r != ';' && !unicode.Is(pyDigit, r) {
					break
				}
				j += n
			}
			if j < len(s) && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')) {
				i = j + 1
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// isRemovedControl is ftfy's CONTROL_CHARS.
func isRemovedControl(r rune) bool {
	return r <= 0x08 || r == 0x0B || (r >= 0x0E && r <= 0x1F) || r == 0x7F ||
		(r >= 0x206A && r <= 0x206F) || r == 0xFEFF || (r >= 0xFFF9 && r <= 0xFFFC)
}

func removeControlChars(s string) string {
	return strings.Map(func(r rune) rune {
		if isRemovedControl(r) {
			return -1
		}
		return r
	}, s)
}
