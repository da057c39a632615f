/*
 * kernel_access_printf.c - the printf family, for strings in SBMA memory.
 *
 * glibc's printf copies a short %s argument into the stream's buffer (a
 * plain user-space copy: SBMA's fault handler serves it), but hands a long
 * one to write(2) from where it is, through its internal write, which no
 * interposer sees. If those pages are not resident, the kernel fails the
 * write with EFAULT: the output is lost and printf returns -1, which few
 * programs check. That happens whenever the string is larger than the
 * budget (printf's strlen brings its pages in, the last ones evicting the
 * first) or pages are evicted between that strlen and the write (another
 * thread; a blocking MPI call in another thread).
 *
 * So a call whose format has a string conversion (glibc's
 * parse_printf_format says which arguments are strings) with an argument
 * inside the arena is made as vasprintf, which reads the strings in user
 * space, then fwrite of the result, which kernel_access.c's fwrite pins
 * (and cuts into chunks of at most a quarter of the budget). Every other
 * call goes to glibc's function unchanged: a format without the letter s
 * costs one strchr, any other a parse and a walk of the arguments. The output and the return value are the same; the stream is
 * locked once, for the fwrite, as printf locks it once for the whole
 * output. The cost of the diverted calls: the output is built in memory
 * first (as large as the output; malloc'd, so SBMA memory when large).
 *
 * Covered: printf, fprintf, vprintf, vfprintf, dprintf, vdprintf and their
 * _FORTIFY_SOURCE forms (__printf_chk ... __vdprintf_chk, whose checks are
 * kept: the diverted call uses __vasprintf_chk with the same flag). Not
 * covered: the wide forms (wprintf...: a %s argument is converted through
 * a private buffer, never written from where it is), and obstack_printf
 * and the like, which never reach the kernel.
 */
#include "config.h"

#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <printf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "sbma_internal.h"

#define EXPORT __attribute__((visibility("default")))

/* Exported by glibc, declared by no header without _FORTIFY_SOURCE. */
int __printf_chk(int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
int __dprintf_chk(int fd, int flag, const char *fmt, ...);
int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);
int __vasprintf_chk(char **out, int flag, const char *fmt, va_list ap);

/* The next definitions (glibc's), looked up by a constructor that runs
 * before SBMA's start-up (as kernel_access.c's), or on the spot by a call
 * made before it (dlsym may allocate: preload.c's bootstrap arena serves
 * it). */
static __typeof__(vfprintf) *real_vfprintf;
static __typeof__(vdprintf) *real_vdprintf;
static __typeof__(__vfprintf_chk) *real_vfprintf_chk;
static __typeof__(__vdprintf_chk) *real_vdprintf_chk;
static __typeof__(__vasprintf_chk) *real_vasprintf_chk;

#define NEXT(name, var)                                                       \
	({                                                                    \
		if (SBMA_UNLIKELY(var == NULL))                               \
			var = (__typeof__(var))sbma__ka_next(name);           \
		var;                                                          \
	})

__attribute__((constructor(101))) static void resolve_printf(void)
{
	real_vfprintf = (__typeof__(real_vfprintf))dlsym(RTLD_NEXT, "vfprintf");
	real_vdprintf = (__typeof__(real_vdprintf))dlsym(RTLD_NEXT, "vdprintf");
	real_vfprintf_chk = (__typeof__(real_vfprintf_chk))dlsym(RTLD_NEXT, "__vfprintf_chk");
	real_vdprintf_chk = (__typeof__(real_vdprintf_chk))dlsym(RTLD_NEXT, "__vdprintf_chk");
	real_vasprintf_chk = (__typeof__(real_vasprintf_chk))dlsym(RTLD_NEXT, "__vasprintf_chk");
	/* No dlsym as a tail call: RTLD_NEXT looks after the object that the
	 * return address is in, which would be the dynamic linker's. */
	__asm__ volatile("" ::: "memory");
}

/* The most arguments looked at; a format with more is diverted unread. */
#define MAX_ARGS 64

/*
 * Whether the call must be diverted: a string argument that lies in the
 * arena. Walks a copy of the arguments by the types glibc's own parser
 * gives; a type it cannot step over (one registered by the program with
 * register_printf_type, say) diverts the call, which is always correct.
 */
static int has_sbma_string(const char *fmt, va_list ap)
{
	if (SBMA_LIKELY(!strchr(fmt, 's')))
		return 0;
	int types[MAX_ARGS];
	size_t n = parse_printf_format(fmt, MAX_ARGS, types);
	if (n > MAX_ARGS)
		return 1;
	int found = 0;
	va_list c;
	va_copy(c, ap);
	for (size_t i = 0; i < n && !found; i++) {
		int t = types[i];
		if (t & PA_FLAG_PTR) {
			(void)va_arg(c, void *);
			continue;
		}
		switch (t & ~PA_FLAG_MASK) {
		case PA_INT:
			if (t & PA_FLAG_LONG_LONG)
				(void)va_arg(c, long long);
			else if (t & PA_FLAG_LONG)
				(void)va_arg(c, long);
			else
				(void)va_arg(c, int);
			break;
		case PA_CHAR:
		case PA_WCHAR:
			(void)va_arg(c, int);
			break;
		case PA_STRING:
			found = sbma__in_arena(va_arg(c, const char *));
			break;
		case PA_WSTRING:
		case PA_POINTER:
			(void)va_arg(c, void *);
			break;
		case PA_FLOAT:
		case PA_DOUBLE:
			if (t & PA_FLAG_LONG_DOUBLE)
				(void)va_arg(c, long double);
			else
				(void)va_arg(c, double);
			break;
		default:
			found = 1;
		}
	}
	va_end(c);
	return found;
}

/* The output of a diverted call, built in user space; -1 if it could not be
 * (errno set). flag < 0: no _FORTIFY_SOURCE checks. */
static int build(char **out, int flag, const char *fmt, va_list ap)
{
	if (flag < 0)
		return vasprintf(out, fmt, ap);
	return NEXT("__vasprintf_chk", real_vasprintf_chk)(out, flag, fmt, ap);
}

static int diverted_to_stream(FILE *f, int flag, const char *fmt, va_list ap)
{
	char *s;
	int n = build(&s, flag, fmt, ap);
	if (n < 0)
		return -1;
	/* kernel_access.c's fwrite: pinned, cut into chunks. */
	size_t w = fwrite(s, 1, (size_t)n, f);
	int saved = errno;
	free(s);
	errno = saved;
	return w == (size_t)n ? n : -1;
}

static int diverted_to_fd(int fd, int flag, const char *fmt, va_list ap)
{
	char *s;
	int n = build(&s, flag, fmt, ap);
	if (n < 0)
		return -1;
	/* kernel_access.c's write; vdprintf also writes until done. */
	size_t done = 0;
	while (done < (size_t)n) {
		ssize_t w = write(fd, s + done, (size_t)n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	int saved = errno;
	free(s);
	errno = saved;
	return done == (size_t)n ? n : -1;
}

EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	if (has_sbma_string(fmt, ap))
		return diverted_to_stream(f, -1, fmt, ap);
	return NEXT("vfprintf", real_vfprintf)(f, fmt, ap);
}

EXPORT int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	if (has_sbma_string(fmt, ap))
		return diverted_to_stream(f, flag, fmt, ap);
	return NEXT("__vfprintf_chk", real_vfprintf_chk)(f, flag, fmt, ap);
}

EXPORT int vdprintf(int fd, const char *fmt, va_list ap)
{
	if (has_sbma_string(fmt, ap))
		return diverted_to_fd(fd, -1, fmt, ap);
	return NEXT("vdprintf", real_vdprintf)(fd, fmt, ap);
}

EXPORT int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
	if (has_sbma_string(fmt, ap))
		return diverted_to_fd(fd, flag, fmt, ap);
	return NEXT("__vdprintf_chk", real_vdprintf_chk)(fd, flag, fmt, ap);
}

EXPORT int vprintf(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
	return __vfprintf_chk(stdout, flag, fmt, ap);
}

/* The variadic forms, each over its v-form above. */
#define VARIADIC(call)                                                        \
	do {                                                                  \
		va_list ap;                                                   \
		va_start(ap, fmt);                                            \
		int r_ = call;                                                \
		va_end(ap);                                                   \
		return r_;                                                    \
	} while (0)

EXPORT int printf(const char *fmt, ...)
{
	VARIADIC(vfprintf(stdout, fmt, ap));
}

EXPORT int fprintf(FILE *f, const char *fmt, ...)
{
	VARIADIC(vfprintf(f, fmt, ap));
}

EXPORT int dprintf(int fd, const char *fmt, ...)
{
	VARIADIC(vdprintf(fd, fmt, ap));
}

EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
	VARIADIC(__vfprintf_chk(stdout, flag, fmt, ap));
}

EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	VARIADIC(__vfprintf_chk(f, flag, fmt, ap));
}

EXPORT int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	VARIADIC(__vdprintf_chk(fd, flag, fmt, ap));
}
