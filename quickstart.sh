#!/usr/bin/env bash
# Quick start: install what is missing (Debian/Ubuntu, as root or with sudo),
# build, then run the out-of-core MPI demo (no argument) or the whole test
# suite (`./quickstart.sh check`).
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

packages=(build-essential autoconf automake libtool pkg-config libhwloc-dev libcunit1-dev rsync
	openmpi-bin libopenmpi-dev gfortran python3 procps netpipe-openmpi
	sqlite3 zstd xz-utils)
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

# The demo: 4 MPI ranks on this node, each sweeping an array of 128 MiB,
# share one node budget of 256 MiB (half their footprint); unmodified MPI
# code, SBMA preloaded.
budget=${SBMA_BUDGET:-256M}
echo "quickstart: out-of-core MPI demo: 4 ranks x 128 MiB, node budget SBMA_BUDGET=$budget"
# Open MPI refuses to run as root unless told that it is meant.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export SBMA_BUDGET=$budget SBMA_STATS=1
exec mpiexec -n 4 --oversubscribe -x SBMA_BUDGET -x SBMA_STATS \
	-x LD_PRELOAD="$PWD/.libs/libsbma-pmpi.so" ./examples/bsp_sweep -m 128 -s 4
