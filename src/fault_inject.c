/*
 * fault_inject.c - random failures of the primitive layer, for tests.
 *
 * Compiled only with ./configure --enable-fault-inject (SBMA_FAULT_INJECT);
 * a normal build has none of this, and the variables below mean nothing to
 * it (they are not SBMA_* options: src/options.c does not know them).
 *
 *   SBMA_FAULT_INJECT=rate        probability that one call fails, 0..1
 *                                 (0.001, 1e-3); unset or 0: never
 *   SBMA_FAULT_INJECT_SEED=n      seed (decimal); default 0. The same seed,
 *                                 rate and program fail the same calls
 *                                 (single-threaded programs: the n-th call
 *                                 of the process decides).
 *   SBMA_FAULT_INJECT_OPS=list    only these calls, comma-separated:
 *                                 mprotect madvise mmap pread pwrite sync
 *                                 fallocate punch tmpfile (default: all
 *                                 but tmpfile)
 *
 * src/os.c asks sbma__fi_check() before each kernel call it makes on memory
 * and files, and fails the call the way the kernel would:
 *
 *   mprotect, mmap   ENOMEM
 *   madvise          EAGAIN
 *   pread, pwrite    EINTR, a short transfer (half, in whole OS pages), or
 *                    EIO, one third each; os.c retries the first two
 *   sync             EIO (write-back of a buffered write failed)
 *   fallocate        ENOSPC or EINTR (retried)
 *   punch            EIO or EINTR (retried)
 *   tmpfile          EOPNOTSUPP: O_TMPFILE refused, as by an old kernel or
 *                    file system, so the backing file takes the fallback
 *                    path (a name created with O_EXCL and unlinked at once).
 *                    Only when named in the list. While it is injected the
 *                    fallback names are predictable (src/store.c), so that
 *                    a test can pre-create them.
 *
 * Read at the first call (getenv: no malloc; the parsers below do not
 * allocate either), and again from a constructor so that a bad value stops
 * the program before main. A bad value stops the process with a message:
 * a test that believes it injects faults must not run without them. At exit
 * one line reports what was injected (tests/test_inject.sh reads it).
 *
 * Everything on the check path is async-signal-safe: one atomic counter,
 * a hash of (seed, counter), atomic statistics.
 */
#include "config.h"

#ifdef SBMA_FAULT_INJECT

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "sbma_internal.h"

static const char *const op_names[SBMA__FI_NOPS] = {
    "mprotect", "madvise", "mmap", "pread", "pwrite", "sync", "fallocate", "punch", "tmpfile",
};

enum { FI_UNREAD = 0, FI_READING, FI_READY };
static int fi_state;
static uint64_t fi_threshold; /* a call fails if its hash is below this */
static uint64_t fi_seed;
static unsigned fi_ops = ((1u << SBMA__FI_NOPS) - 1) & ~(1u << SBMA__FI_TMPFILE);
static char fi_rate_text[32];
static uint64_t fi_calls, fi_failed, fi_eintr, fi_short, fi_errors;
static uint64_t fi_by_op[SBMA__FI_NOPS];

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static void fi_bad(const char *name, const char *value, const char *expected)
{
	sbma__log("%s='%s': expected %s (fault-injection build)", name, value, expected);
	_exit(EXIT_FAILURE);
}

/* A rate: digits [. digits] [e [+-] digits], 0 <= rate <= 1. Returns
 * 2^64 * rate, saturated. */
static int parse_rate(const char *s, uint64_t *threshold)
{
	const char *p = s;
	uint64_t mant = 0;
	int digits = 0, scale = 0, exp = 0, eneg = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		if (mant < 100000000000000000ULL)
			mant = mant * 10 + (uint64_t)(*p - '0');
		else
			scale++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (mant < 100000000000000000ULL) {
				mant = mant * 10 + (uint64_t)(*p - '0');
				scale--;
			}
	if (!digits)
		return -EINVAL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			eneg = *p++ == '-';
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++)
			if (exp < 1000)
				exp = exp * 10 + (*p - '0');
	}
	if (*p)
		return -EINVAL;
	scale += eneg ? -exp : exp;
	double v = (double)mant;
	for (; scale > 0 && v <= 1.0; scale--)
		v *= 10.0;
	for (; scale < 0 && v != 0.0; scale++)
		v /= 10.0;
	if (v > 1.0)
		return -ERANGE;
	*threshold = v >= 1.0 ? UINT64_MAX : (uint64_t)(v * 18446744073709551616.0);
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int parse_ops(const char *s, unsigned *mask)
{
	unsigned m = 0;
	while (*s) {
		const char *e = s;
		while (*e && *e != ',')
			e++;
		int found = 0;
		for (int i = 0; i < SBMA__FI_NOPS; i++) {
			const char *n = op_names[i];
			size_t k = 0;
			while (n[k] && s + k < e && n[k] == s[k])
				k++;
			if (!n[k] && s + k == e) {
				m |= 1u << i;
				found = 1;
			}
		}
		if (!found && e > s)
			return -EINVAL;
		s = *e ? e + 1 : e;
	}
	*mask = m;
	return 0;
}

static void fi_read_env(void)
{
	int expect = FI_UNREAD;
	/* Being read by another thread, or by the code this signal handler
	 * interrupted: no failure meanwhile (never wait here). */
	if (!__atomic_compare_exchange_n(&fi_state, &expect, FI_READING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	const char *rate = sbma__getenv("SBMA_FAULT_INJECT");
	const char *seed = sbma__getenv("SBMA_FAULT_INJECT_SEED");
	const char *ops = sbma__getenv("SBMA_FAULT_INJECT_OPS");
	if (rate && *rate) {
		if (parse_rate(rate, &fi_threshold))
			fi_bad("SBMA_FAULT_INJECT", rate, "a rate from 0 to 1, such as 0.001 or 1e-3");
		size_t i = 0;
		for (; rate[i] && i + 1 < sizeof fi_rate_text; i++)
			fi_rate_text[i] = rate[i];
		fi_rate_text[i] = '\0';
	}
	if (seed && *seed && parse_u64(seed, &fi_seed))
		fi_bad("SBMA_FAULT_INJECT_SEED", seed, "a decimal number");
	if (ops && *ops && parse_ops(ops, &fi_ops))
		fi_bad("SBMA_FAULT_INJECT_OPS", ops,
		       "a comma-separated list of mprotect, madvise, mmap, pread, pwrite, sync, fallocate, punch, "
		       "tmpfile");
	__atomic_store_n(&fi_state, FI_READY, __ATOMIC_RELEASE);
}

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

int sbma__fi_check(enum sbma__fi_op op)
{
	if (SBMA_UNLIKELY(__atomic_load_n(&fi_state, __ATOMIC_ACQUIRE) != FI_READY)) {
		fi_read_env();
		if (__atomic_load_n(&fi_state, __ATOMIC_ACQUIRE) != FI_READY)
			return 0;
	}
	if (!fi_threshold || !(fi_ops & (1u << op)))
		return 0;
	uint64_t n = __atomic_fetch_add(&fi_calls, 1, __ATOMIC_RELAXED);
	uint64_t h = mix(fi_seed ^ mix(n));
	if (h >= fi_threshold)
		return 0;
	count(&fi_failed);
	count(&fi_by_op[op]);
	unsigned pick = (unsigned)(mix(h) % 3);
	switch (op) {
	case SBMA__FI_MPROTECT:
	case SBMA__FI_MMAP:
		count(&fi_errors);
		return ENOMEM;
	case SBMA__FI_MADVISE:
		count(&fi_errors);
		return EAGAIN;
	case SBMA__FI_PREAD:
	case SBMA__FI_PWRITE:
		if (pick == 0) {
			count(&fi_eintr);
			return EINTR;
		}
		if (pick == 1) {
			count(&fi_short);
			return SBMA__FI_SHORT;
		}
		count(&fi_errors);
		return EIO;
	case SBMA__FI_SYNC:
		count(&fi_errors);
		return EIO;
	case SBMA__FI_RESERVE:
		if (pick == 0) {
			count(&fi_eintr);
			return EINTR;
		}
		count(&fi_errors);
		return ENOSPC;
	case SBMA__FI_PUNCH:
		if (pick == 0) {
			count(&fi_eintr);
			return EINTR;
		}
		count(&fi_errors);
		return EIO;
	case SBMA__FI_TMPFILE:
		count(&fi_errors);
		return EOPNOTSUPP;
	default:
		return 0;
	}
}

int sbma__fi_on(enum sbma__fi_op op)
{
	if (__atomic_load_n(&fi_state, __ATOMIC_ACQUIRE) != FI_READY)
		fi_read_env();
	return fi_threshold && (fi_ops & (1u << op));
}

__attribute__((constructor)) static void fi_constructor(void)
{
	if (__atomic_load_n(&fi_state, __ATOMIC_ACQUIRE) != FI_READY)
		fi_read_env();
}

/* The report tests/test_inject.sh parses: keep its shape. */
__attribute__((destructor)) static void fi_report(void)
{
	if (!fi_threshold)
		return;
	char ops[160];
	size_t len = 0;
	for (int i = 0; i < SBMA__FI_NOPS; i++)
		if (fi_by_op[i] && len < sizeof ops)
			len += (size_t)sbma__format(ops + len, sizeof ops - len, " %s %llu", op_names[i],
			                            (unsigned long long)fi_by_op[i]);
	if (len >= sizeof ops)
		len = sizeof ops - 1;
	ops[len] = '\0';
	sbma__log("fault injection: rate %s seed %llu: %llu calls, %llu failed (eintr %llu, short %llu, "
	          "errors %llu;%s)",
	          fi_rate_text, (unsigned long long)fi_seed, (unsigned long long)fi_calls,
	          (unsigned long long)fi_failed, (unsigned long long)fi_eintr, (unsigned long long)fi_short,
	          (unsigned long long)fi_errors, len ? ops : " none");
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int sbma__fault_inject_disabled;
#endif /* SBMA_FAULT_INJECT */
