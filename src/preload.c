/*
 * preload.c - the libc allocator symbols. Linking libsbma, or preloading it,
 * makes these the program's malloc family.
 *
 * Requests of at least SBMA_MIN_ALLOC bytes become SBMA allocations; smaller
 * ones, every request made while SBMA starts, every request glibc's own code
 * makes (see libc_lo below: it hands some of that memory to the kernel
 * behind every wrapper's back), and every request made inside an MPI call
 * (sbma__libc_only) go to glibc's own allocator. A pointer is SBMA's iff it
 * lies in the arena: one range check, no lock, so free() of a small block
 * costs almost nothing extra. A pointer SBMA did not hand out goes to
 * glibc, whose it is.
 *
 * Why no static bootstrap arena (DESIGN.md 4, "dlsym allocates"): that trap
 * is for allocators that find the real malloc with dlsym, which itself calls
 * malloc before the answer is known. SBMA never looks glibc's allocator up:
 *  - it calls __libc_malloc, __libc_calloc, __libc_realloc, __libc_free and
 *    __libc_memalign, which libc.so.6 exports (GLIBC_2.2.5). The link
 *    editor binds them when libsbma is built and the dynamic linker resolves
 *    them before any code of the process runs, so malloc() works from its
 *    very first call, before SBMA's constructor;
 *  - until that constructor has read the settings, sbma__opt.min_alloc is 0
 *    and wants_sbma() sends every request to glibc; while the engine starts
 *    (SBMA_STARTING: hwloc, the store, the node segment) too. So whatever
 *    dlsym, dlopen, the dynamic linker or an earlier library's constructor
 *    allocates then is glibc's, whatever the size;
 *  - free() and realloc() tell the two apart by the arena range alone,
 *    which is empty until the engine runs: those early blocks go back to
 *    glibc whenever they are freed.
 * The dlsym calls that remain (malloc_usable_size and mallinfo of glibc,
 * looked up on first use) happen only in a running program; what they may
 * allocate is small and goes to glibc, without coming back here.
 * tests/test_preload.sh runs a program whose preinit function (before any
 * library constructor, SBMA's included) calls dlopen, dlsym and malloc.
 *
 * Left to glibc on purpose (not defined here, so a program's call binds to
 * glibc's): mallopt, malloc_trim, malloc_stats, malloc_info. They tune and
 * report glibc's heap, which holds every allocation below SBMA_MIN_ALLOC;
 * SBMA's own settings are the SBMA_* variables and its figures
 * sbma_stats()/SBMA_STATS. mallinfo and mallinfo2 are glibc's figures plus
 * SBMA's allocations counted as mmapped chunks (hblks, hblkhd), which is
 * where glibc itself counts a large request. docs/preload.md has the table.
 *
 * Alignment follows glibc: memalign rounds an alignment up to a power of two
 * and treats one of at most 16 as malloc; aligned_alloc refuses zero and
 * non-powers of two with EINVAL (C17, and glibc from 2.38);
 * posix_memalign refuses anything but a power-of-two multiple of
 * sizeof(void *).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <string.h>

#include "sbma_internal.h"

#define EXPORT __attribute__((visibility("default")))

/* Who called the allocator entry point (which must not be inlined into
 * another one for this to mean anything: each takes it itself). */
#define CALLER __builtin_return_address(0)

/* Nonzero while this thread's requests must all go to libc: the PMPI layer
 * sets it for the length of an MPI call, whose own temporary buffers the
 * kernel or a NIC fills behind SBMA's back (pmpi/pmpi_internal.h). */
__thread int sbma__libc_only;

/*
 * glibc's own code, [libc_lo, libc_hi). Memory that glibc allocates for
 * itself stays glibc's, whatever its size: glibc hands some of it to the
 * kernel through internal system calls that no wrapper sees (a DIR buffer
 * filled by getdents, up to 1 MiB on file systems with large blocks; stdio
 * buffers with SBMA_MIN_ALLOC lowered), which would fail with EFAULT once
 * evicted. Set by a constructor that runs before SBMA's settings are read
 * (until then every request is glibc's anyway); empty if not found.
 */
static uintptr_t libc_lo, libc_hi;

struct span {
	uintptr_t base, lo, hi;
};

static int find_span(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct span *s = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	int mine = 0;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		mine |= s->base >= a && s->base < a + ph->p_memsz;
		if (ph->p_flags & PF_X) {
			lo = a < lo ? a : lo;
			hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
		}
	}
	if (!mine || hi == 0)
		return 0;
	s->lo = lo;
	s->hi = hi;
	return 1;
}

__attribute__((constructor(101))) static void find_libc(void)
{
	Dl_info info;
	struct span s = { 0, 0, 0 };
	if (!dladdr((void *)__libc_malloc, &info) || !info.dli_fbase)
		return;
	s.base = (uintptr_t)info.dli_fbase;
	if (dl_iterate_phdr(find_span, &s) == 1) {
		libc_lo = s.lo;
		libc_hi = s.hi;
	}
}

/* Whether a request of this size, made from `caller`, should be SBMA's.
 * Large requests made before the engine runs start it; those made while it
 * starts (by hwloc, say) go to libc. */
static inline int wants_sbma(size_t size, const void *caller)
{
	if (SBMA_LIKELY(size < sbma__opt.min_alloc || sbma__opt.min_alloc == 0))
		return 0;
	if (sbma__libc_only || (uintptr_t)caller - libc_lo < libc_hi - libc_lo)
		return 0;
	return sbma__ensure_ready() == 0;
}

static void *do_malloc(size_t size, const void *caller)
{
	if (wants_sbma(size, caller))
		return sbma_malloc(size);
	return __libc_malloc(size);
}

EXPORT void *malloc(size_t size)
{
	return do_malloc(size, CALLER);
}

EXPORT void free(void *ptr)
{
	if (SBMA_UNLIKELY(sbma__in_arena(ptr)))
		sbma_free(ptr);
	else
		__libc_free(ptr);
}

EXPORT void *calloc(size_t nmemb, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (wants_sbma(total, CALLER))
		return sbma_calloc(nmemb, size);
	return __libc_calloc(nmemb, size);
}

/* glibc's malloc_usable_size, for blocks that libc handed out. */
static size_t libc_usable_size(void *ptr)
{
	static size_t (*real)(void *);
	if (!real)
		real = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
	return real ? real(ptr) : 0;
}

static void *do_realloc(void *ptr, size_t size, const void *caller)
{
	if (sbma__in_arena(ptr))
		return sbma_realloc(ptr, size);
	if (!ptr)
		return do_malloc(size, caller);
	if (!wants_sbma(size, caller))
		return __libc_realloc(ptr, size);
	/* A libc block grows past SBMA_MIN_ALLOC: it moves into SBMA. */
	size_t old = libc_usable_size(ptr);
	void *np = sbma_malloc(size);
	if (!np)
		return NULL;
	memcpy(np, ptr, old < size ? old : size);
	__libc_free(ptr);
	return np;
}

EXPORT void *realloc(void *ptr, size_t size)
{
	return do_realloc(ptr, size, CALLER);
}

EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return do_realloc(ptr, total, CALLER);
}

/* The largest alignment glibc's malloc gives anyway (MALLOC_ALIGNMENT). */
#define LIBC_ALIGN 16

/* memalign as glibc defines it (file header). */
static void *do_memalign(size_t alignment, size_t size, const void *caller)
{
	if (alignment <= LIBC_ALIGN)
		return do_malloc(size, caller);
	if (alignment > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (alignment & (alignment - 1))
		alignment = (size_t)1 << (64 - __builtin_clzll((unsigned long long)alignment));
	if (wants_sbma(size, caller))
		return sbma_aligned_alloc(alignment, size);
	return __libc_memalign(alignment, size);
}

EXPORT void *memalign(size_t alignment, size_t size)
{
	return do_memalign(alignment, size, CALLER);
}

EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
	if (alignment == 0 || (alignment & (alignment - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return do_memalign(alignment, size, CALLER);
}

EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
	if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
		return EINVAL; /* *memptr untouched, as glibc */
	int saved = errno;
	void *p = do_memalign(alignment, size, CALLER);
	int rc = p ? 0 : errno;
	errno = saved;
	if (p)
		*memptr = p;
	return rc;
}

EXPORT void *valloc(size_t size)
{
	return do_memalign(sbma__os_page_size(), size, CALLER);
}

EXPORT void *pvalloc(size_t size)
{
	size_t ps = sbma__os_page_size();
	if (size > SIZE_MAX - ps) {
		errno = ENOMEM;
		return NULL;
	}
	return do_memalign(ps, (size + ps - 1) & ~(ps - 1), CALLER);
}

EXPORT size_t malloc_usable_size(void *ptr)
{
	if (sbma__in_arena(ptr))
		return sbma_malloc_usable_size(ptr);
	return ptr ? libc_usable_size(ptr) : 0;
}

/* Removed from glibc's headers in 2.26 but still exported for old binaries,
 * which would otherwise hand SBMA pointers to glibc's free. */
void cfree(void *ptr);
EXPORT void cfree(void *ptr)
{
	free(ptr);
}

/* glibc's figures, then SBMA's allocations as mmapped chunks. The counters
 * are read without the engine lock: a snapshot, as glibc's own is. */
static void sbma_share(size_t *hblks, size_t *hblkhd)
{
	if (sbma__state != SBMA_READY)
		return;
	*hblks += (size_t)__atomic_load_n(&sbma__st.allocations, __ATOMIC_RELAXED);
	*hblkhd += (size_t)__atomic_load_n(&sbma__st.allocated, __ATOMIC_RELAXED);
}

EXPORT struct mallinfo2 mallinfo2(void)
{
	static struct mallinfo2 (*real)(void);
	struct mallinfo2 m;
	memset(&m, 0, sizeof m);
	if (!real)
		real = (struct mallinfo2(*)(void))dlsym(RTLD_NEXT, "mallinfo2");
	if (real)
		m = real();
	sbma_share(&m.hblks, &m.hblkhd);
	return m;
}

/* The old interface: int fields, which wrap past 2 GiB as glibc's do. */
EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo m;
	m.arena = (int)m2.arena;
	m.ordblks = (int)m2.ordblks;
	m.smblks = (int)m2.smblks;
	m.hblks = (int)m2.hblks;
	m.hblkhd = (int)m2.hblkhd;
	m.usmblks = (int)m2.usmblks;
	m.fsmblks = (int)m2.fsmblks;
	m.uordblks = (int)m2.uordblks;
	m.fordblks = (int)m2.fordblks;
	m.keepcost = (int)m2.keepcost;
	return m;
}
