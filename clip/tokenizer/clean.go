package tokenizer

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText applies the reference's text cleaning before pre-tokenisation:
// basic_clean (ftfy.fix_text, html.unescape twice, strip), whitespace_clean
// (every run of regex-module \s becomes one space, strip) and str.lower().
// Invalid UTF-8 is first replaced as by Python's decode(errors="replace").
func CleanText(text string) string {
	if !utf8.ValidString(text) {
		text = pyDecodeUTF8([]byte(text))
	}
	text = FixText(text)
	text = HTMLUnescape(HTMLUnescape(text))
	text = pyStrip(text)
	text = collapseSpace(text)
	return PyLower(text)
}

// pyStrip is Python's str.strip() with no argument (str.isspace characters).
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.Is(pySpace, r) })
}

// collapseSpace is whitespace_clean: regex.sub(r'\s+', ' ', s).strip().
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if unicode.Is(reSpace, r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return pyStrip(b.String())
}

// PyLower is Python 3.11's str.lower(): the full Unicode 14 lower-case
// mapping (e.g. 'İ' becomes "i̇", two code points) with the Final_Sigma rule
// for 'Σ' (σ, or ς at the end of a word).
func PyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case r == 0x3A3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3C2)
			} else {
				b.WriteRune(0x3C3)
			}
		default:
			if l, ok := pyLowerMap[r]; ok {
				b.WriteString(l)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// finalSigma is CPython's handle_capital_sigma: rs[i] is final when a cased
// character precedes it (skipping case-ignorable ones) and none follows.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && unicode.Is(caseIgnorable, rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && unicode.Is(caseIgnorable, rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

func isCased(r rune) bool {
	return unicode.Is(casedChar, r)
}

// pyDecodeUTF8 decodes b as Python's bytes.decode("utf-8", "replace"): each
// maximal prefix of a valid sequence that is cut short, or each other
// invalid byte, becomes one U+FFFD.
func pyDecodeUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			sb.WriteRune(r)
			i += n
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += invalidPrefixLen(b[i:])
	}
	return sb.String()
}

// invalidPrefixLen returns how many bytes at the start of b (which does not
// start with a valid sequence) form one maximal invalid subpart (Unicode
// Table 3-7, as CPython's decoder).
func invalidPrefixLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 {
			if x < lo || x > hi {
				break
			}
		} else if x < 0x80 || x > 0xBF {
			break
		}
		n++
	}
	return n
}

// HTMLUnescape is Python 3.11's html.unescape: numeric character
// references (with the HTML5 replacements for invalid ones) and named
// references from the HTML5 table, including the longest-prefix rule for
// names written without ';'.
func HTMLUnescape(s string) string {
	amp := strings.IndexByte(s, '&')
	if amp < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:amp])
	i := amp
	for i < len(s) {
		if s[i] != '&' {
			j := strings.IndexByte(s[i:], '&')
			if j < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		rep, n := htmlCharref(s[i+1:])
		if n == 0 {
			b.WriteByte('&')
			i++
			continue
		}
		b.WriteString(rep)
		i += 1 + n
	}
	return b.String()
}

// htmlCharref matches the reference pattern after '&':
// #[0-9]+;? | #[xX][0-9a-fA-F]+;? | [^\t\n\f <&#;]{1,32};?
// and returns the replacement and the number of bytes consumed (0: none).
func htmlCharref(s string) (string, int) {
	if s == "" {
		return "", 0
	}
	if s[0] == '#' {
		hex := len(s) > 1 && (s[1] == 'x' || s[1] == 'X')
		start := 1
		if hex {
			start = 2
		}
		j := start
		for j < len(s) && isDigitFor(s[j], hex) {
			j++
		}
		if j == start {
			return "", 0 // '#' alone: the named branch excludes '#'
		}
		digits := s[start:j]
		if j < len(s) && s[j] == ';' {
			j++
		}
		base := 10
		if hex {
			base = 16
		}
		return numericCharref(digits, base), j
	}
	// Named: up to 32 characters that are not \t \n \f space < & # ;
	j, count := 0, 0
	for j < len(s) && count < 32 {
		r, size := utf8.DecodeRuneInString(s[j:])
		if r == '\t' || r == '\n' || r == '\f' || r == ' ' || r == '<' || r == '&' || r == '#' || r == ';' {
			break
		}
		j += size
		count++
	}
	if j == 0 {
		return "", 0
	}
	if j < len(s) && s[j] == ';' {
		j++
	}
	name := s[:j]
	if v, ok := html5Entities[name]; ok {
		return v, j
	}
	// Longest prefix of at least 2 characters (x from len-1 down to 2).
	rs := []rune(name)
	for x := len(rs) - 1; x > 1; x-- {
		prefix := string(rs[:x])
		if v, ok := html5Entities[prefix]; ok {
			return v + name[len(prefix):], j
		}
	}
	return "&" + name, j
}

func isDigitFor(c byte, hex bool) bool {
	if c >= '0' && c <= '9' {
		return true
	}
	return hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
}

func numericCharref(digits string, base int) string {
	num, err := strconv.ParseUint(digits, base, 64)
	if err != nil || num > 0x10FFFF {
		return "\uFFFD" // also overflow: larger than 0x10FFFF
	}
	if v, ok := htmlInvalidCharrefs[int(num)]; ok {
		return v
	}
	if num >= 0xD800 && num <= 0xDFFF {
		return "\uFFFD"
	}
	if htmlInvalidCodepoints[int(num)] {
		return ""
	}
	return string(rune(num))
}
