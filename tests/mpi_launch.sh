# mpi_launch.sh - sourced by the MPI test scripts: which MPI MPIEXEC
# launches, and how to start NP ranks with it.
#
# Sets MPI_IS_OPENMPI (1 or 0) and LAUNCH ("$MPIEXEC -n $NP" and the flags
# that MPI needs); exits 99 if the launcher is not of the MPI the programs
# were built with (MPI_FLAVOUR, from configure through make check). Open
# MPI (whose launcher calls itself OpenRTE in --version) refuses more ranks
# than cores without --oversubscribe and root without
# OMPI_ALLOW_RUN_AS_ROOT*; MPICH's hydra needs neither.
# Needs: MPIEXEC, NP.

launcher=mpich
"$MPIEXEC" --version 2>&1 | grep -qi 'open mpi\|openrte\|open-mpi' && launcher=openmpi
case ${MPI_FLAVOUR:-} in
openmpi | mpich)
	if [ "$launcher" != "$MPI_FLAVOUR" ]; then
		echo "$0: $MPIEXEC launches $launcher programs, these are built with $MPI_FLAVOUR (make check MPIEXEC=...)" >&2
		exit 99
	fi
	;;
esac
if [ "$launcher" = openmpi ]; then
	MPI_IS_OPENMPI=1
	LAUNCH="$MPIEXEC -n $NP --oversubscribe"
	: "${OMPI_ALLOW_RUN_AS_ROOT:=1}" "${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:=1}"
	export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
else
	MPI_IS_OPENMPI=0
	LAUNCH="$MPIEXEC -n $NP"
fi
