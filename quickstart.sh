#!/usr/bin/env bash
# Quick start: install what is missing (Debian/Ubuntu, as root or with sudo),
# build, then run the out-of-core demo (no argument) or the whole test suite
# (`./quickstart.sh check`).
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-demo}
case "$mode" in
demo | check) ;;
*)
	echo "usage: $0 [check]" >&2
	exit 2
	;;
esac

packages=(build-essential autoconf automake libtool pkg-config libhwloc-dev libcunit1-dev rsync)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "quickstart: installing ${missing[*]}"
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ]; then
	./configure
fi
make -j"$(nproc)"

if [ "$mode" = check ]; then
	exec make -j"$(nproc)" check
fi

# The demo: one process whose array is 4x its SBMA budget.
budget=${SBMA_BUDGET:-128M}
echo "quickstart: out-of-core demo with SBMA_BUDGET=$budget"
SBMA_BUDGET=$budget ./examples/ooc_demo
