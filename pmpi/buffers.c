/*
 * buffers.c - which bytes an MPI buffer covers, and pinning the SBMA part.
 *
 * An MPI buffer is (address, count, datatype). The bytes MPI may touch are
 * those of the datatype's true extent (MPI_Type_get_true_extent: the
 * lowest and highest byte of the type map, whatever the lower bound and
 * extent were set to), repeated count times at a stride of the extent.
 * v- and w-collectives repeat that per process at the given displacements.
 * The layer pins the one range from the lowest to the highest such byte:
 * holes inside a strided type are pinned too (a few pages more resident,
 * never a page too few).
 *
 * Pinning a receive buffer asks for write access: the pages are loaded
 * (their old contents kept: a message shorter than the buffer leaves the
 * bytes past it unchanged) and marked dirty. Nothing is ever discarded.
 *
 * A range with no SBMA memory in it costs one comparison against the arena;
 * before the first SBMA allocation, not even that.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "pmpi_internal.h"

/* Report the first failed pin only: a failure means the engine cannot load
 * a page (I/O error, no memory), and MPI then takes its chances. */
static void pin_failed(const void *addr, size_t len, int rc)
{
	static int reported;
	if (__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
		return;
	sbma__log("pmpi: cannot pin the MPI buffer %p (%zu bytes): %s; a single-copy or RDMA transfer may fail", addr,
	          len, strerror(-rc));
}

/* Pin [lo, hi) into slot (which must be empty). */
static void pin_range(struct pmpi__pins *p, int slot, uintptr_t lo, uintptr_t hi, int access)
{
	uintptr_t alo = (uintptr_t)sbma__A.app, ahi = alo + sbma__A.size;
	if (hi <= lo || hi <= alo || lo >= ahi)
		return;
	if (lo < alo)
		lo = alo;
	if (hi > ahi)
		hi = ahi;
	int rc = sbma_pin((void *)lo, hi - lo, access);
	if (rc == 0) {
		p->s[slot].addr = (char *)lo;
		p->s[slot].len = hi - lo;
	} else if (rc != -EINVAL) {
		pin_failed((void *)lo, hi - lo, rc);
	}
}

/* The bytes of count elements of a type whose true extent is
 * [tlb, tlb+text) and whose extent is ext, at base: [*lo, *hi). Returns 0,
 * or -1 if empty or on overflow. */
static int span(intptr_t base, MPI_Aint count, MPI_Aint tlb, MPI_Aint text, MPI_Aint ext, intptr_t *lo, intptr_t *hi)
{
	if (count <= 0 || text <= 0)
		return -1;
	intptr_t a, b, step;
	if (__builtin_add_overflow(base, (intptr_t)tlb, &a) || __builtin_add_overflow(a, (intptr_t)text, &b) ||
	    __builtin_mul_overflow((intptr_t)(count - 1), (intptr_t)ext, &step))
		return -1;
	if (step >= 0) {
		if (__builtin_add_overflow(b, step, &b))
			return -1;
	} else if (__builtin_add_overflow(a, step, &a)) {
		return -1;
	}
	*lo = a;
	*hi = b;
	return 0;
}

/* The true extent and extent of type; -1 for a type we cannot ask about
 * (asking MPI about an invalid type would raise the error here, not in the
 * user's call). */
static int extents(MPI_Datatype type, MPI_Aint *tlb, MPI_Aint *text, MPI_Aint *ext)
{
	MPI_Aint lb;
	if (type == MPI_DATATYPE_NULL)
		return -1;
	if (PMPI_Type_get_true_extent(type, tlb, text) != MPI_SUCCESS ||
	    PMPI_Type_get_extent(type, &lb, ext) != MPI_SUCCESS)
		return -1;
	return 0;
}

void pmpi__pin_typed(struct pmpi__pins *p, int slot, const void *buf, MPI_Aint count, MPI_Datatype type, int access)
{
	if (!pmpi__have_arena() || count <= 0 || buf == MPI_IN_PLACE)
		return;
	MPI_Aint tlb, text, ext;
	intptr_t lo, hi;
	if (extents(type, &tlb, &text, &ext) || span((intptr_t)buf, count, tlb, text, ext, &lo, &hi))
		return;
	pin_range(p, slot, (uintptr_t)lo, (uintptr_t)hi, access);
}

void pmpi__pin_v(struct pmpi__pins *p, int slot, const void *buf, const int counts[], const int displs[], int n,
                 MPI_Datatype type, int access)
{
	if (!pmpi__have_arena() || buf == MPI_IN_PLACE || !counts || !displs)
		return;
	MPI_Aint tlb, text, ext;
	if (extents(type, &tlb, &text, &ext))
		return;
	intptr_t lo = INTPTR_MAX, hi = INTPTR_MIN;
	for (int i = 0; i < n; i++) {
		intptr_t a, b, base;
		if (counts[i] <= 0)
			continue;
		if (__builtin_mul_overflow((intptr_t)displs[i], (intptr_t)ext, &base) ||
		    __builtin_add_overflow(base, (intptr_t)buf, &base) || span(base, counts[i], tlb, text, ext, &a, &b))
			continue;
		if (a < lo)
			lo = a;
		if (b > hi)
			hi = b;
	}
	if (lo < hi)
		pin_range(p, slot, (uintptr_t)lo, (uintptr_t)hi, access);
}

void pmpi__pin_w(struct pmpi__pins *p, int slot, const void *buf, const int counts[], const int displs[],
                 const MPI_Datatype types[], int n, int access)
{
	if (!pmpi__have_arena() || buf == MPI_IN_PLACE || !counts || !displs || !types)
		return;
	intptr_t lo = INTPTR_MAX, hi = INTPTR_MIN;
	for (int i = 0; i < n; i++) {
		MPI_Aint tlb, text, ext;
		intptr_t a, b, base;
		if (counts[i] <= 0 || extents(types[i], &tlb, &text, &ext))
			continue;
		if (__builtin_add_overflow((intptr_t)buf, (intptr_t)displs[i], &base) ||
		    span(base, counts[i], tlb, text, ext, &a, &b))
			continue;
		if (a < lo)
			lo = a;
		if (b > hi)
			hi = b;
	}
	if (lo < hi)
		pin_range(p, slot, (uintptr_t)lo, (uintptr_t)hi, access);
}

void pmpi__pin_bytes(struct pmpi__pins *p, int slot, const void *addr, size_t len, int access)
{
	if (!pmpi__have_arena() || !len)
		return;
	uintptr_t lo = (uintptr_t)addr, hi;
	if (__builtin_add_overflow(lo, len, &hi))
		return;
	pin_range(p, slot, lo, hi, access);
}

void pmpi__unpin(struct pmpi__pins *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->s[i].len)
			sbma_unpin(p->s[i].addr, p->s[i].len);
		p->s[i].len = 0;
	}
}
