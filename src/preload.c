/*
 * preload.c - the libc allocator symbols. Linking libsbma, or preloading it,
 * makes these the program's malloc family.
 *
 * Requests of at least SBMA_MIN_ALLOC bytes become SBMA allocations; smaller
 * ones, and every request made while SBMA starts, go to glibc's own
 * allocator through its __libc_* entry points (no dlsym, which itself
 * allocates). A pointer is SBMA's iff it lies in the arena: one range check,
 * no lock, so free() of a small block costs almost nothing extra.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "sbma_internal.h"

#define EXPORT __attribute__((visibility("default")))

/* Whether a request of this size should be SBMA's. Large requests made
 * before the engine runs start it; those made while it starts (by hwloc,
 * say) go to libc. */
static inline int wants_sbma(size_t size)
{
	if (SBMA_LIKELY(size < sbma__opt.min_alloc || sbma__opt.min_alloc == 0))
		return 0;
	return sbma__ensure_ready() == 0;
}

EXPORT void *malloc(size_t size)
{
	if (wants_sbma(size))
		return sbma_malloc(size);
	return __libc_malloc(size);
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
	if (wants_sbma(total))
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

EXPORT void *realloc(void *ptr, size_t size)
{
	if (sbma__in_arena(ptr))
		return sbma_realloc(ptr, size);
	if (!ptr)
		return malloc(size);
	if (!wants_sbma(size))
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

EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(ptr, total);
}

EXPORT void *memalign(size_t alignment, size_t size)
{
	if (alignment == 0 || (alignment & (alignment - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (wants_sbma(size))
		return sbma_aligned_alloc(alignment, size);
	return __libc_memalign(alignment, size);
}

EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
	return memalign(alignment, size);
}

EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
	if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
		return EINVAL;
	int saved = errno;
	void *p = memalign(alignment, size);
	int rc = p ? 0 : errno;
	errno = saved;
	if (p)
		*memptr = p;
	return rc;
}

EXPORT void *valloc(size_t size)
{
	return memalign(sbma__os_page_size(), size);
}

EXPORT void *pvalloc(size_t size)
{
	size_t ps = sbma__os_page_size();
	if (size > SIZE_MAX - ps) {
		errno = ENOMEM;
		return NULL;
	}
	return memalign(ps, (size + ps - 1) & ~(ps - 1));
}

EXPORT size_t malloc_usable_size(void *ptr)
{
	if (sbma__in_arena(ptr))
		return sbma_malloc_usable_size(ptr);
	return ptr ? libc_usable_size(ptr) : 0;
}
