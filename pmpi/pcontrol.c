/*
 * pcontrol.c - MPI_Pcontrol: the standard's switch for profiling layers.
 *
 * MPI_Pcontrol(0) turns memory release around blocking calls off (pages
 * stay resident across waits: a phase whose waits are short and whose data
 * is reused at once), MPI_Pcontrol(1) (or any positive level) turns it back
 * on. Buffers are pinned either way: that is about correctness, not
 * policy. The same switch is sbma_pmpi_disable()/sbma_pmpi_enable().
 */
#include "config.h"

#include "pmpi_internal.h"

PMPI_EXPORT int MPI_Pcontrol(const int level, ...)
{
	PMPI__IN_MPI();
	if (level == 0)
		sbma_pmpi_disable();
	else if (level > 0)
		sbma_pmpi_enable();
	/* The MPI library's own Pcontrol does nothing; tools stacked below
	 * this one see the level (the variable arguments cannot be passed on
	 * portably). */
	return PMPI_Pcontrol(level);
}
