package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// preTokenize splits cleaned text as the reference's
// regex.findall(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|
// [\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", text, regex.IGNORECASE): at each
// position the first alternative that matches wins, and positions where none
// matches (whitespace) are skipped.
func preTokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		if n := matchLiteralFold(s[i:], StartOfText); n > 0 {
			toks = append(toks, s[i:i+n])
			i += n
			continue
		}
		if n := matchLiteralFold(s[i:], EndOfText); n > 0 {
			toks = append(toks, s[i:i+n])
			i += n
			continue
		}
		if s[i] == '\'' {
			if n := matchContraction(s[i:]); n > 0 {
				toks = append(toks, s[i:i+n])
				i += n
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case isLetter(r):
			j := i + size
			for j < len(s) {
				r2, n := utf8.DecodeRuneInString(s[j:])
				if !isLetter(r2) {
					break
				}
				j += n
			}
			toks = append(toks, s[i:j])
			i = j
		case isNumber(r):
			toks = append(toks, s[i:i+size])
			i += size
		case isOther(r):
			j := i + size
			for j < len(s) {
				r2, n := utf8.DecodeRuneInString(s[j:])
				if !isOther(r2) {
					break
				}
				j += n
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			i += size
		}
	}
	return toks
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
	}
	return unicode.Is(reLetter, r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9'
	}
	return unicode.Is(reNumber, r)
}

func isOther(r rune) bool {
	return unicode.Is(reOther, r)
}

// foldASCII reports whether r matches the ASCII letter or symbol c under the
// regex module's IGNORECASE: the upper-case letter, and U+017F 'ſ' for 's'.
func foldASCII(r rune, c byte) bool {
	if r == rune(c) {
		return true
	}
	if c >= 'a' && c <= 'z' {
		return r == rune(c-'a'+'A') || (c == 's' && r == 0x17F)
	}
	return false
}

// matchLiteralFold returns the byte length of the prefix of s that matches
// lit case-insensitively, or 0.
func matchLiteralFold(s, lit string) int {
	i := 0
	for k := 0; k < len(lit); k++ {
		if i >= len(s) {
			return 0
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !foldASCII(r, lit[k]) {
			return 0
		}
		i += n
	}
	return i
}

var contractions = []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

func matchContraction(s string) int {
	for _, c := range contractions {
		if n := matchLiteralFold(s, c); n > 0 {
			return n
		}
	}
	return 0
}
