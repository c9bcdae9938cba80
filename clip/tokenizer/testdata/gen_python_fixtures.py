#!/usr/bin/python3
"""Writes python_fixtures.jsonl (one case per line): what Python 3.11 (html.unescape, str.lower,
str.strip) and the regex module 2022.10.31 (whitespace_clean's \\s+ and the
CLIP pre-tokenizer pattern under IGNORECASE) return for seeded random
strings, so that the Go ports are checked beyond the tokenizer cases.

    cd clip/tokenizer && /usr/bin/python3 testdata/gen_python_fixtures.py
"""
import html
import json
import random
import sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import regex

assert sys.version_info[:2] == (3, 11)
assert regex.__version__ == "2.5.123"  # regex 2022.10.31

PAT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)

rng = random.Random(20240614)
pieces = [
    "a", "Z", "s", "S", "ſ", "'", "’", "&", "#", ";", "x", "X", "1", "9", "0", "<", ">", "|",
    " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u1680", "\u2000",
    "\u2028", "\u3000", "\u200b", "\ufeff", "İ", "I", "Σ", "σ", "ς", "Ω", "ΑΣ", "ΣΑ", "\u0345",
    "\u0301", "ẞ", "ß", "ǅ", "Ⅻ", "ⅻ", "Ⓐ", "Ａ", "ｚ", "١", "²", "½", "〇", "日本", "🇺🇳", "👍🏽",
    "Ꭰ", "ꭰ", "Ω", "K", "Å", "\U0001e900", "\U00010400",
    "&amp;", "&amp", "&AMP;", "&lt", "&notit;", "&notin;", "&#65;", "&#x41;", "&#X41", "&#0;",
    "&#128;", "&#x80;", "&#1;", "&#xD800;", "&#1114112;", "&#99999999999999999999;", "&#;",
    "&#x;", "&eacute", "&Eacute;", "&EACUTE;", "&zwj;", "&nbsp;", "&nbsp", "&NotANamedEntity;",
    "<|startoftext|>", "<|endoftext|>", "<|ENDOFTEXT|>", "'S", "'LL", "'ve", "'Re", "'D", "'m",
    "...", "--", "@#$", "http://x.y/z?a=1", ":-)", "\u00ad", "\u0378", "\U000e0041",
]


def sample():
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))


cases = []
seen = set()
while len(cases) < 400:
    s = sample()
    if s in seen:
        continue
    seen.add(s)
    cases.append({
        "text": s,
        "unescape": html.unescape(s),
        "lower": s.lower(),
        "strip": s.strip(),
        "ws": regex.sub(r"\s+", " ", s).strip(),
        "pretok": PAT.findall(s),
    })
with open("testdata/python_fixtures.jsonl", "w", encoding="utf-8") as f:
    for c in cases:
        f.write(json.dumps(c, ensure_ascii=True) + "\n")
