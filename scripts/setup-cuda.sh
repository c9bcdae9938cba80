#!/usr/bin/env bash
# setup-cuda.sh: fetch what `go build -tags cuda` needs on a Debian 12
# machine without the CUDA toolkit or a GPU, into a project-local .cuda/.
#
#   .cuda/include/cuda.h (+ any header it includes)  from nvidia-cuda-dev
#   .cuda/lib/libcuda.so, libcuda.so.1, libcuda.so.<ver>  from libcuda1
#
# Nothing is installed: the .debs are downloaded with `apt-get download`
# and only the named files are extracted. nvidia-cuda-dev is a 774 MB
# .deb (CUDA 11.8 headers; 11.8/12.x headers suit gorgonia.org/cu v0.9.6,
# CUDA 13 headers do not). The .debs are deleted afterwards unless
# KEEP_DEBS=1.
#
# Needs root (or sudo) only to add the contrib/non-free components to apt
# when they are missing; it then writes
# /etc/apt/sources.list.d/softcpt-nonfree.sources and runs apt-get update.
#
# Usage: scripts/setup-cuda.sh            # then eval the printed exports
#        eval "$(scripts/setup-cuda.sh --env)"  # only print the exports
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$ROOT/.cuda

print_env() {
	echo "export CGO_CFLAGS=\"-I$DEST/include\""
	echo "export CGO_LDFLAGS=\"-L$DEST/lib\""
}

if [[ ${1:-} == --env ]]; then
	print_env
	exit 0
fi

if [[ -f $DEST/include/cuda.h && -e $DEST/lib/libcuda.so ]]; then
	echo "setup-cuda: $DEST already populated" >&2
	print_env
	exit 0
fi

SUDO=
if [[ $(id -u) -ne 0 ]]; then
	SUDO=sudo
fi

# 1. contrib/non-free components.
# apt knows libcuda1 only when non-free is among the components.
if ! apt-cache policy libcuda1 2>/dev/null | grep -qE "Candidate: [0-9]"; then
	. /etc/os-release
	codename=${VERSION_CODENAME:-bookworm}
	echo "setup-cuda: adding contrib non-free components for $codename" >&2
	$SUDO tee /etc/apt/sources.list.d/softcpt-nonfree.sources >/dev/null <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	$SUDO apt-get update -qq
fi

# 2. download and extract.
WORK=$DEST/debs
mkdir -p "$WORK" "$DEST/include" "$DEST/lib"
cd "$WORK"
# apt-get download runs as the _apt user when it can; make the folder writable.
chmod 777 "$WORK" 2>/dev/null || true

if ! ls libcuda1_*.deb >/dev/null 2>&1; then
	apt-get download libcuda1 >&2
fi
if ! ls nvidia-cuda-dev_*.deb >/dev/null 2>&1; then
	echo "setup-cuda: downloading nvidia-cuda-dev (about 774 MB)" >&2
	apt-get download nvidia-cuda-dev >&2
fi

x=$WORK/x
rm -rf "$x"
mkdir -p "$x"

# cuda.h and, transitively, every header it includes with "..." or <...>
# that the package ships under usr/include.
dev=$(ls nvidia-cuda-dev_*.deb | head -1)
dpkg-deb --fsys-tarfile "$dev" | tar -t >"$x/list"
dpkg-deb --fsys-tarfile "$dev" | tar -x -C "$x" ./usr/include/cuda.h
todo=(cuda.h)
done_list=" "
while ((${#todo[@]})); do
	h=${todo[0]}
	todo=("${todo[@]:1}")
	[[ $done_list == *" $h "* ]] && continue
	done_list+="$h "
	install -m 0644 "$x/usr/include/$h" "$DEST/include/$h"
	for inc in $(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/p' "$x/usr/include/$h"); do
		if grep -qx "./usr/include/$inc" "$x/list"; then
			dpkg-deb --fsys-tarfile "$dev" | tar -x -C "$x" "./usr/include/$inc"
			todo+=("$inc")
		else
			echo "setup-cuda: $h includes <$inc>, taken from the system" >&2
		fi
	done
done
echo "setup-cuda: headers:$done_list" >&2

lib=$(ls libcuda1_*.deb | head -1)
dpkg-deb -x "$lib" "$x/lib"
find "$x/lib" -name 'libcuda.so*' -exec cp -P {} "$DEST/lib/" \;
# The dev link libcuda.so may point at libcuda.so.1, which in the package is
# itself a link; make sure both resolve inside $DEST/lib.
real=$(cd "$DEST/lib" && ls libcuda.so.[0-9]*.* | head -1)
ln -sf "$real" "$DEST/lib/libcuda.so.1"
ln -sf libcuda.so.1 "$DEST/lib/libcuda.so"
ls -l "$DEST/lib" >&2

rm -rf "$x"
if [[ ${KEEP_DEBS:-0} != 1 ]]; then
	rm -f "$WORK"/*.deb
	rmdir "$WORK" 2>/dev/null || true
fi

print_env
