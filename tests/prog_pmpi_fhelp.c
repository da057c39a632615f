/*
 * prog_pmpi_fhelp.c - for the Fortran test programs (prog_pmpi_f,
 * prog_pmpi_f08): the bytes of SBMA memory this process has pinned.
 *
 * A buffer handed to a nonblocking call stays pinned until its request
 * completes in a wrapped MPI_Wait* or MPI_Test*; so a Fortran completion
 * call that reached MPI without going through the layer (an MPI whose
 * Fortran binding calls PMPI_Wait, not wrapped) leaves it pinned, and the
 * programs check that nothing is. sbma_stats is looked up at run time, as
 * in prog_pmpi.c: the same object serves the programs linked with
 * libsbma-pmpi and the plain ones run under LD_PRELOAD.
 */
#include "config.h"

#include <dlfcn.h>

#include "sbma.h"

/* Fortran: integer(c_long_long) function prog_pinned_bytes() bind(C).
 * -1: SBMA is not in this process. */
long long prog_pinned_bytes(void);

long long prog_pinned_bytes(void)
{
	int (*stats)(struct sbma_stats *) = (int (*)(struct sbma_stats *))dlsym(RTLD_DEFAULT, "sbma_stats");
	struct sbma_stats st;
	if (!stats || stats(&st) != 0)
		return -1;
	return (long long)st.pinned;
}
