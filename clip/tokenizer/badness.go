package tokenizer

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Character categories of ftfy 6.3.1's badness heuristic (ftfy/badness.py),
// written as regexp character-class contents.
const (
	mbCommon = `\x{a0}\x{ad}\x{b7}\x{b4}\x{2013}\x{2014}\x{2015}\x{2026}\x{2019}`
	mbC1     = `\x{80}-\x{9f}`
	mbBad    = `\x{a6}\x{a4}\x{a8}\x{ac}\x{af}\x{b8}\x{192}\x{2c6}\x{2c7}\x{2d8}\x{2db}\x{2dc}` +
		`\x{2020}\x{2021}\x{2030}\x{2310}\x{25ca}\x{fffd}\x{aa}\x{ba}`
	mbLaw      = `\x{b6}\x{a7}`
	mbCurrency = `\x{a2}\x{a3}\x{a5}\x{20a7}\x{20ac}`
	mbStart    = `\x{a1}\x{ab}\x{bf}\x{a9}\x{384}\x{385}\x{2018}\x{201a}\x{201c}\x{201e}\x{2022}\x{2039}\x{f8ff}`
	mbEnd      = `\x{ae}\x{bb}\x{2dd}\x{201d}\x{203a}\x{2122}`
	mbNumeric  = `\x{b2}\x{b3}\x{b9}\x{b1}\x{bc}\x{bd}\x{be}\x{d7}\x{b5}\x{f7}\x{2044}\x{2202}\x{2206}` +
		`\x{220f}\x{2211}\x{221a}\x{221e}\x{2229}\x{222b}\x{2248}\x{2260}\x{2261}\x{2264}\x{2265}\x{2116}`
	mbKaomoji = `\x{d2}-\x{d6}\x{d9}-\x{dc}\x{f2}-\x{f6}\x{f8}-\x{fc}\x{150}\x{14c}\x{16a}\x{172}\x{b0}`
	mbUpperAc = `\x{c0}-\x{d1}\x{d8}\x{dc}\x{dd}\x{102}\x{100}\x{104}\x{106}\x{10c}\x{10e}\x{110}\x{118}` +
		`\x{11a}\x{112}\x{116}\x{11e}\x{122}\x{130}\x{12a}\x{136}\x{139}\x{13d}\x{141}\x{13b}\x{143}` +
		`\x{147}\x{145}\x{152}\x{158}\x{15a}\x{15e}\x{160}\x{162}\x{164}\x{16e}\x{170}\x{178}\x{179}` +
		`\x{17b}\x{17d}\x{490}`
	mbLowerAc = `\x{df}\x{e0}-\x{f1}\x{103}\x{105}\x{101}\x{107}\x{10d}\x{10f}\x{111}\x{119}\x{11b}` +
		`\x{113}\x{117}\x{11f}\x{123}\x{12f}\x{12b}\x{137}\x{13a}\x{13e}\x{142}\x{13c}\x{153}\x{155}` +
		`\x{15b}\x{15f}\x{161}\x{165}\x{fc}\x{17a}\x{17c}\x{17e}\x{491}\x{fb01}\x{fb02}`
	mbUpperCommon = `\x{de}\x{391}-\x{3a9}\x{386}\x{388}\x{389}\x{38a}\x{38c}\x{38e}\x{38f}\x{3aa}\x{3ab}\x{401}-\x{42f}`
	mbLowerCommon = `\x{3b1}-\x{3c9}\x{3ac}\x{3ad}\x{3ae}\x{3af}\x{3b0}\x{430}-\x{45f}`
	mbBox         = `\x{2502}\x{250c}\x{2510}\x{2518}\x{251c}\x{2524}\x{252c}\x{253c}\x{2550}-\x{256c}` +
		`\x{2580}\x{2584}\x{2588}\x{258c}\x{2590}\x{2591}\x{2592}\x{2593}`
)

// badnessRE is ftfy's BADNESS_RE, with Python's Unicode \s and \w.
// badnessChars holds, for every alternative of it, the characters of one
// element that every match of that alternative must contain: text without
// any of them cannot match, and most text is rejected without the regexp.
var badnessRE, badnessChars = buildBadness()

func buildBadness() (*regexp.Regexp, map[rune]bool) {
	alts := badnessAlternatives()
	chars := map[rune]bool{}
	for _, alt := range alts {
		re, err := syntax.Parse(alt, syntax.Perl)
		if err != nil {
			panic(fmt.Sprintf("badness: alternative %q: %v", alt, err))
		}
		if !requiredChars(re, chars) {
			panic(fmt.Sprintf("badness: alternative %q has no required non-ASCII element", alt))
		}
	}
	return regexp.MustCompile(strings.Join(alts, "|")), chars
}

// requiredChars adds to set the runes of the first element of re that any
// match must contain and that holds only non-ASCII characters.
func requiredChars(re *syntax.Regexp, set map[rune]bool) bool {
	elems := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		elems = re.Sub
	}
	for _, e := range elems {
		switch e.Op {
		case syntax.OpLiteral:
			for _, r := range e.Rune {
				if r >= utf8.RuneSelf {
					set[r] = true
					return true
				}
			}
		case syntax.OpCharClass:
			if len(e.Rune) > 0 && e.Rune[0] >= utf8.RuneSelf {
				for i := 0; i < len(e.Rune); i += 2 {
					for r := e.Rune[i]; r <= e.Rune[i+1]; r++ {
						set[r] = true
					}
				}
				return true
			}
		}
	}
	return false
}

func badnessAlternatives() []string {
	s := "[" + classOf(pySpace) + "]"
	w := "[" + classOf(pyWord) + "]"
	alts := []string{
		`[{c1}]`,
		`[{bad}{la}{ua}{box}{sp}{ep}{cur}{num}{law}][{bad}]`,
		`[a-zA-Z][{lc}{uc}][{bad}]`,
		`[{bad}][{la}{ua}{box}{sp}{ep}{cur}{num}{law}]`,
		`[{la}{lc}{box}{ep}{cur}{num}][{ua}]`,
		`[{box}{ep}{cur}{num}][{la}]`,
		`[{la}{box}{ep}][{cur}]`,
		`{s}[{ua}][{cur}]`,
		`[{ua}{box}][{num}{law}]`,
		`[{la}{ua}{box}{cur}{ep}][{sp}][{num}]`,
		`[{la}{ua}{cur}{num}{box}{law}][{ep}][{sp}]`,
		`[{cur}{num}{box}][{sp}]`,
		`[a-z][{ua}][{sp}{cur}]`,
		`[{box}][{kao}]`,
		`[{la}{ua}{cur}{num}{sp}{ep}{law}][{box}]`,
		`[{box}][{ep}]`,
		`[{la}{ua}][{sp}{ep}]{w}`,
		`[Œœ][^A-Za-z]`,
		`[{ua}]°`,
		`[ÂÃÎÐ][€œŠš¢£Ÿž\x{a0}\x{ad}®©°·»{sp}{ep}–—´]`,
		`×[²³]`,
		`[ØÙ][{common}{cur}{bad}{num}{sp}ŸŠ®°µ»][ØÙ][{common}{cur}{bad}{num}{sp}ŸŠ®°µ»]`,
		`à[²µ¹¼½¾]`,
		`√[±∂†≠®™´≤≥¥µø]`,
		`≈[°¢]`,
		`‚Ä[ìîïòôúùû†°¢π]`,
		`‚[âó][àä°ê]`,
		`вЂ`,
		`[ВГРС][{c1}{bad}{sp}{ep}{cur}°µ][ВГРС]`,
		`ГўВЂВ.[A-Za-z ]`,
		`Ã[\x{a0}¡]`,
		`[a-z]{s}?[ÃÂ][ ]`,
		`^[ÃÂ][ ]`,
		`[a-z.,?!{ep}]Â[ {sp}{ep}]`,
		`β€[™\x{a0}Ά\x{ad}®°]`,
		`[ΒΓΞΟ][{c1}{bad}{sp}{ep}{cur}°][ΒΓΞΟ]`,
		`ā€`,
	}
	r := strings.NewReplacer(
		"{c1}", mbC1, "{bad}", mbBad, "{la}", mbLowerAc, "{ua}", mbUpperAc,
		"{box}", mbBox, "{sp}", mbStart, "{ep}", mbEnd, "{cur}", mbCurrency,
		"{num}", mbNumeric, "{law}", mbLaw, "{lc}", mbLowerCommon, "{uc}", mbUpperCommon,
		"{kao}", mbKaomoji, "{common}", mbCommon, "{s}", s, "{w}", w,
	)
	for i, a := range alts {
		alts[i] = r.Replace(a)
	}
	return alts
}

// classOf writes a range table as regexp character-class contents.
func classOf(t *unicode.RangeTable) string {
	var b strings.Builder
	for _, r := range t.R16 {
		fmt.Fprintf(&b, `\x{%x}-\x{%x}`, r.Lo, r.Hi)
	}
	for _, r := range t.R32 {
		fmt.Fprintf(&b, `\x{%x}-\x{%x}`, r.Lo, r.Hi)
	}
	return b.String()
}

// isBad is ftfy's is_bad: whether text contains a likely mojibake sequence.
func isBad(text string) bool {
	for _, r := range text {
		if badnessChars[r] {
			return badnessRE.MatchString(text)
		}
	}
	return false
}
