// Package tokenizer is CLIP's byte-level BPE tokenizer in pure Go, a port of
// OpenAI's clip/simple_tokenizer.py (SimpleTokenizer) and clip.tokenize,
// including the text cleaning the reference applies before splitting.
//
// # Pipeline
//
// Encode reproduces SimpleTokenizer().encode(text) run under Python 3.11
// with ftfy 6.3.1 and regex 2022.10.31:
//
//  1. ftfy.fix_text(text) (FixText, see below);
//  2. html.unescape applied twice (HTMLUnescape, Python 3.11 semantics:
//     HTML5 names, names without ';' by longest prefix, numeric references
//     with the HTML5 replacements for invalid code points);
//  3. str.strip(), every run of the regex module's \s replaced by one space,
//     str.strip() again;
//  4. Python's str.lower() (PyLower: the full Unicode 14 mapping, so 'İ'
//     becomes "i̇", and the Final_Sigma rule for 'Σ');
//  5. the reference pattern
//     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//     under regex.IGNORECASE, as a hand-written scanner (so "'S" and "'ſ" are
//     contractions); the literal texts <|startoftext|> and <|endoftext|>
//     become the SOT and EOT ids, as the reference's BPE cache does;
//  6. byte-level BPE on the UTF-8 bytes of each piece (bytes_to_unicode
//     alphabet, "</w>" on the last symbol), with a bounded cache.
//
// The Unicode classes of steps 3-5 are generated tables (tables.go, made by
// testdata/gen_tables.py from Debian 12's Python 3.11.2, Unicode 14.0, and
// the regex module 2022.10.31 itself), not Go's unicode tables (Unicode
// 15.0 in Go 1.26): characters assigned after Unicode 14 are therefore
// classified exactly as by the reference, e.g. they are not lower-cased.
// Invalid UTF-8 input is replaced by U+FFFD per maximal invalid
// subsequence before anything else, as Python's decode(errors="replace").
//
// # ftfy
//
// FixText ports ftfy 6.3.1's fix_text with its default TextFixerConfig
// (ftfy is MIT-licensed, by Robyn Speer). Implemented, in ftfy's order and
// repeated per line until the text no longer changes:
//
//   - line segmentation, and unescape_html="auto": HTML entities are
//     decoded only as "&name;"/"&#n;" (pattern &#?[0-9A-Za-z]{1,24};), plus
//     all-caps names such as &EACUTE;, until a line containing '<' is seen;
//   - fix_encoding: the badness heuristic (BADNESS_RE with all its character
//     categories), re-encoding in latin-1, sloppy-windows-1252/1251/1250/
//     1253/1254/1257, iso-8859-2, macroman and cp437 (tables generated from
//     Python's codecs) and decoding as UTF-8 or ftfy's utf-8-variants (CESU-8
//     surrogate pairs, C0 80), with restore_byte_a0 (including the à-word
//     rule), replace_lossy_sequences, decode_inconsistent_utf8 (the
//     UTF8_DETECTOR_RE clue classes are derived from the same code pages),
//     the Latin-1 to Windows-1252 step and fix_c1_controls;
//   - fix_c1_controls, fix_latin_ligatures, fix_character_width (the NFKC
//     map of U+FF01-U+FFEF and U+3000, generated from Python's unicodedata),
//     uncurl_quotes, fix_line_breaks, remove_terminal_escapes,
//     remove_control_chars, and NFC normalisation (golang.org/x/text's
//     norm, Unicode 15.0, which agrees with Unicode 14 on every character
//     assigned in Unicode 14).
//
// The "until nothing changes" loops are bounded at 64 rounds (ftfy has no
// bound; real inputs need a few), so no input can loop forever.
//
// Not reproduced: fix_surrogates has no work to do, since a Go string
// cannot hold surrogate code points (invalid UTF-8, including encoded
// surrogates, becomes U+FFFD first, which is also what fix_surrogates
// makes of unpaired surrogates); the explanation/plan API and the
// non-default options of ftfy are not offered. Python's \s, \w and \d used
// inside ftfy's regular expressions come from the generated tables.
//
// # Results
//
// The package test TestReferenceCases encodes all 3,130 cases of the
// project's clip_tokenizer_cases.jsonl (made with the reference under
// Python 3.11.2, ftfy 6.3.1, regex 2022.10.31) and gets identical ids for
// every one; 413 of them differ when FixText is skipped.
//
// # Vocabularies
//
// Load reads OpenAI's bpe_simple_vocab_16e6.txt.gz (or any merges file in
// the same format, gzip-compressed or not: a header line, which is always
// skipped as the reference's merges[1:] does, then one "left right" merge
// per line) and, as the reference, uses at most CLIPMerges merges; New builds a tokenizer from any list of merges, so
// a smaller BPE learned elsewhere works with its own vocabulary size
// (512 + merges + 2).
package tokenizer
