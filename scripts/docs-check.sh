#!/usr/bin/env bash
# docs-check.sh runs the fenced blocks of the documentation that are marked
# as runnable, in order, in a scratch copy of the repository (the committed
# tree plus uncommitted changes to tracked files), so that every marked
# command is known to work as written from a fresh checkout.
#
#   scripts/docs-check.sh [--all] [-v] [FILE.md ...]   (default: README.md)
#
# -v prints the output of the blocks that passed too.
#
# Markers, on the line just before the opening fence:
#
#   <!-- runnable -->                 ```sh block: run with bash -eu -o pipefail
#                                     ```go block: a main package, run with go run
#   <!-- runnable slow -->            run only with --all (listed as skipped otherwise)
#   <!-- runnable file=PATH -->       the block's text is written to PATH (relative
#                                     to the repository root) for later blocks to use
#
# Blocks run from the repository root of the scratch copy, one bash process
# per block, so a block must not rely on variables set by an earlier one.
# Fenced sh/go blocks without a marker are listed as "not run", so that what
# is not checked is visible. Exit status: 0 when every run block passed.
set -euo pipefail

all=0 verbose=0
files=()
for a in "$@"; do
	case $a in
	--all) all=1 ;;
	-v) verbose=1 ;;
	-h | --help)
		sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) files+=("$a") ;;
	esac
done
[ ${#files[@]} -gt 0 ] || files=(README.md)

root=$(git rev-parse --show-toplevel)
# Builds in the scratch copy share the build cache with earlier checks only
# when paths are trimmed.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
ref=$(git -C "$root" stash create)
ref=${ref:-HEAD}
mkdir -p "$tmp/repo" "$tmp/blocks"
git -C "$root" archive "$ref" | tar -x -C "$tmp/repo"

pass=0 fail=0 skip=0 notrun=0
for f in "${files[@]}"; do
	src=$root/$f
	[ -f "$src" ] || { echo "docs-check: no file $f" >&2; exit 2; }
	# Split the file into blocks: one manifest line per fenced block
	# (index, line, language, marker attributes or "-" for none), its text
	# in blocks/N.
	rm -f "$tmp/blocks/"*
	awk -v dir="$tmp/blocks" '
		function flush() { close(out) }
		!infence && /^<!-- runnable( [^>]*)? -->$/ { marker = $0; mline = NR; next }
		!infence && /^```/ {
			lang = substr($0, 4); n++
			if (lang == "") lang = "-"
			attrs = "-"
			if (marker != "" && mline == NR - 1) {
				attrs = marker; sub(/^<!-- runnable ?/, "", attrs); sub(/ ?-->$/, "", attrs)
				if (attrs == "") attrs = "run"
			} else if (marker != "") {
				printf "%d\t%d\t%s\t%s\n", 0, mline, "marker", "orphan"
			}
			marker = ""
			out = dir "/" n
			printf "" > out
			printf "%d\t%d\t%s\t%s\n", n, NR, lang, attrs
			infence = 1; next
		}
		infence && /^```/ { infence = 0; flush(); next }
		infence { print > out; next }
		marker != "" && mline < NR { printf "%d\t%d\t%s\t%s\n", 0, mline, "marker", "orphan"; marker = "" }
	' "$src" >"$tmp/manifest"
	while IFS=$'\t' read -r n line lang attrs; do
		where="$f:$line"
		if [ "$lang" = marker ]; then
			echo "FAIL  $where: runnable marker not followed by a fenced block"
			fail=$((fail + 1))
			continue
		fi
		first=$(head -n1 "$tmp/blocks/$n" | cut -c1-70)
		if [ "$attrs" = - ]; then
			case $lang in sh | bash | go)
				echo "      $where: not run ($lang: $first)"
				notrun=$((notrun + 1))
				;;
			esac
			continue
		fi
		case $attrs in
		file=*)
			dest=$tmp/repo/${attrs#file=}
			mkdir -p "$(dirname "$dest")"
			cp "$tmp/blocks/$n" "$dest"
			echo "wrote $where: ${attrs#file=}"
			continue
			;;
		slow)
			if [ $all = 0 ]; then
				echo "skip  $where: slow, run with --all ($first)"
				skip=$((skip + 1))
				continue
			fi
			;;
		run) ;;
		*)
			echo "FAIL  $where: unknown marker attributes \"$attrs\""
			fail=$((fail + 1))
			continue
			;;
		esac
		start=$(date +%s)
		log=$tmp/log.$n
		case $lang in
		sh | bash)
			(cd "$tmp/repo" && bash -eu -o pipefail "$tmp/blocks/$n") >"$log" 2>&1 && ok=1 || ok=0
			;;
		go)
			mkdir -p "$tmp/prog/$n"
			cp "$tmp/blocks/$n" "$tmp/prog/$n/main.go"
			(cd "$tmp/repo" && go run "$tmp/prog/$n/main.go") >"$log" 2>&1 && ok=1 || ok=0
			;;
		*)
			echo "FAIL  $where: cannot run a \"$lang\" block"
			fail=$((fail + 1))
			continue
			;;
		esac
		secs=$(($(date +%s) - start))
		if [ $ok = 1 ]; then
			echo "ok    $where (${secs}s): $first"
			[ $verbose = 0 ] || sed 's/^/        /' "$log"
			pass=$((pass + 1))
		else
			echo "FAIL  $where (${secs}s): $first"
			sed 's/^/        /' "$log" | tail -n 30
			fail=$((fail + 1))
		fi
	done <"$tmp/manifest"
done
# Every --flag in the last column of a Markdown table (the column that
# names our side in the mapping tables) must be a flag of some softcpt
# subcommand or of cmd/exportbench.
(cd "$tmp/repo" && go build -o "$tmp/softcpt" ./cmd/softcpt && go build -o "$tmp/exportbench" ./cmd/exportbench)
{
	for sub in $("$tmp/softcpt" help 2>&1 | awk '/^commands:/ {on = 1; next} on && NF {print $1} on && !NF {exit}'); do
		"$tmp/softcpt" "$sub" -h 2>&1 || true
	done
	"$tmp/exportbench" -h 2>&1 || true
} | grep -oE '^  -[a-z0-9-]+' | sed 's/^  -/--/' | sort -u >"$tmp/flags"
for f in "${files[@]}"; do
	awk '/^\|/ { n = split($0, c, / \| /); print FILENAME ":" NR "\t" c[n] }' "$root/$f" |
		while IFS=$'\t' read -r where cell; do
			for flag in $(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$cell" | sort -u); do
				if ! grep -qx -- "$flag" "$tmp/flags"; then
					echo "FAIL  ${where#"$root/"}: $flag is not a flag of any softcpt command"
					echo x >>"$tmp/badflags"
				fi
			done
		done
done
[ ! -f "$tmp/badflags" ] || fail=$((fail + $(wc -l <"$tmp/badflags")))
echo "docs-check: $pass passed, $fail failed, $skip skipped (slow), $notrun not marked runnable; table flags checked against $(wc -l <"$tmp/flags") known flags"
[ $fail = 0 ]
