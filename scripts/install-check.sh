#!/usr/bin/env bash
# install-check.sh checks that a binary built the way `go install
# github.com/softcpt/softcpt-go/...@latest` builds it works from any folder:
# it serves the repository's committed tree (plus uncommitted changes to
# tracked files; untracked files are left out, as they would be from a
# release) as a module version from a local file proxy, builds from the
# module cache with nothing else of the repository around, and runs the
# result in an empty folder outside it. Offline: dependencies come from the
# local module cache.
#
#   scripts/install-check.sh                      # a program that opens the embedded model and benchmark
#   scripts/install-check.sh cmd/softcpt demo --quick   # go install that command, run it with these arguments
#
# It also reports the module zip size (the go command refuses zips over 500 MB)
# and the size of the built binary.
set -euo pipefail

root=$(git rev-parse --show-toplevel)
mod=github.com/softcpt/softcpt-go
ver=v0.0.0-installcheck
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
modcache=$(go env GOMODCACHE)

ref=$(git -C "$root" stash create)
ref=${ref:-HEAD}
proxy=$tmp/proxy/$mod/@v
mkdir -p "$proxy"
# As the module proxy does, leave out folders that hold another module.
excl=()
for m in $(git -C "$root" ls-tree -r --name-only "$ref" | grep '/go.mod$'); do
	excl+=(":(exclude)$(dirname "$m")")
done
git -C "$root" archive --format=zip --prefix="$mod@$ver/" "$ref" -- . "${excl[@]}" >"$proxy/$ver.zip"
git -C "$root" show "$ref:go.mod" >"$proxy/$ver.mod"
echo "$ver" >"$proxy/list"
printf '{"Version":"%s","Time":"2026-01-01T00:00:00Z"}\n' "$ver" >"$proxy/$ver.info"
echo "module zip: $(du -k "$proxy/$ver.zip" | cut -f1) KiB (limit 500 MB)"

export GOPROXY="file://$tmp/proxy,file://$modcache/cache/download"
export GOSUMDB=off GOFLAGS=-mod=mod GOMODCACHE=$tmp/modcache GOTOOLCHAIN=local GOWORK=off
mkdir -p "$tmp/bin" "$tmp/empty"

if [ $# -eq 0 ]; then
	mkdir -p "$tmp/probe"
	cat >"$tmp/probe/main.go" <<'EOF'
package main

import (
	"fmt"
	"log"

	"github.com/softcpt/softcpt-go/shipped"
)

func main() {
	m, err := shipped.OpenModel("", "")
	if err != nil {
		log.Fatal(err)
	}
	n, _, err := m.DefaultNCtx()
	if err != nil {
		log.Fatal(err)
	}
	b, src, err := shipped.OpenBenchmark("")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: context %d, n-ctx %d; %s: %d tasks, %d images\n", m.ModelSource, m.CLIP.Config.ContextLength, n, src, len(b.Tasks), b.Images.Len())
}
EOF
	(cd "$tmp/probe" && go mod init probe >/dev/null 2>&1 && go get "$mod@$ver" >/dev/null && go build -o "$tmp/bin/probe" .)
	bin=$tmp/bin/probe
	set --
else
	pkg=$1
	shift
	(cd "$tmp/empty" && GOBIN=$tmp/bin go install "$mod/$pkg@$ver")
	bin=$tmp/bin/$(basename "$pkg")
fi
echo "binary: $(du -k "$bin" | cut -f1) KiB"
cd "$tmp/empty"
"$bin" "$@"
echo "install-check: ok (ran from $PWD, outside the repository)"
