/*
 * options.c - the SBMA_* environment variables.
 *
 * Every setting is one row of the table opts[] below: its name, its type,
 * its default (written as a user would write it in the environment), a
 * one-line help text and where it lands in sbma__opt. Parsing, validation,
 * the SBMA_VERBOSE listing (sbma__options_print) and docs/environment.md all
 * follow from that row, so a new setting is one row plus, when its range
 * depends on other settings, one check function.
 *
 * Each setting is resolved in three layers: the default, then the non-zero
 * field of the struct sbma_config given to sbma_init() (if any), then the
 * environment. An empty variable counts as unset, so that `SBMA_PAGE= prog`
 * means "the default" rather than an error. The environment is read with
 * secure_getenv(): a setuid program must not let its caller choose where its
 * memory is written (SBMA_DIR) or how much of it is kept.
 *
 * Rows are resolved in table order, and a row's checks may rely on every
 * row above it being final (the budget, the readahead window and the arena
 * are checked against SBMA_PAGE, which comes first). The first bad value
 * stops the load: one line names the variable, the value and what was
 * expected, and sbma__options_load() returns -EINVAL.
 *
 * The library reads the environment and reports on stderr; a test (the fuzz
 * harness, tests/fuzz/fuzz_options.c) passes its own lookup function and
 * message buffer to sbma__options_load_from(), so that it runs this very
 * code on made-up environments without touching the process's own.
 *
 * This runs while the allocator starts, so it must not call malloc: buffers
 * are on the stack or static, and snprintf (which does not allocate for the
 * conversions used here) is the only stdio. It never runs in the signal
 * handler.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbma_internal.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define TIB ((uint64_t)1 << 40)

/* Limits that are not a matter of taste are explained where they are
 * checked; these are the numbers. */
#define PAGE_MAX (64 * MIB)         /* one fault should not move more */
#define MIN_ALLOC_MIN ((uint64_t)4096)
#define ARENA_MIN (64 * MIB)
#define ARENA_MAX (64 * TIB)        /* half the 47-bit x86-64 user space */
#define BUDGET_MIN_PAGES 4
#define MAX_MAPS_MIN 64
#define MAX_MAP_COUNT_DEFAULT 65530 /* the kernel's default vm.max_map_count */

struct sbma__options sbma__opt;

enum opt_type {
	OPT_SIZE,     /* bytes, with K M G T suffixes */
	OPT_SIZE_PCT, /* bytes, or a percentage of the node's memory */
	OPT_ENUM,     /* one word of a list */
	OPT_BOOL,     /* 0/1 yes/no true/false on/off */
	OPT_PATH,     /* a directory */
	OPT_COUNT,    /* a plain decimal number */
	OPT_NAME,     /* a short name: letters, digits, '.', '_', '-' */
};

/* Words of an enum (and of a bool). The first word listed for a value is
 * the one printed back; the others are accepted aliases. */
struct opt_word {
	const char *word;
	int value;
};

struct opt_desc;

/*
 * A range check for a number: always write what a good value looks like
 * into why (a phrase that follows "expected ", also used when the syntax is
 * wrong), then return 0 if *v is one, else -EINVAL. A check may adjust *v
 * to the nearest good value instead, but only where that can surprise no
 * one (rounding a default, or up to whole pages).
 */
typedef int (*opt_check_fn)(uint64_t *v, int from_default, char *why, size_t n);

struct opt_desc {
	const char *name;
	enum opt_type type;
	const char *def;     /* default as written in the environment; NULL: computed */
	const char *def_doc; /* how a computed default is described (def NULL) */
	const char *help;
	const char *expect;  /* syntax expected, after "expected " (NULL: from check) */
	size_t off, width;   /* the field of struct sbma__options */
	size_t cfg_off, cfg_width; /* the field of struct sbma_config; width 0: none */
	const char *cfg_name;
	const struct opt_word *words;
	opt_check_fn check;
};

#define FIELD(f) offsetof(struct sbma__options, f), sizeof(((struct sbma__options *)0)->f)
#define CFG(f) offsetof(struct sbma_config, f), sizeof(((struct sbma_config *)0)->f), #f
#define NO_CFG 0, 0, NULL

static const struct opt_word bool_words[] = {
	{ "1", 1 }, { "yes", 1 }, { "true", 1 }, { "on", 1 },
	{ "0", 0 }, { "no", 0 }, { "false", 0 }, { "off", 0 },
	{ NULL, 0 },
};
static const struct opt_word read_words[] = {
	{ "lazy", SBMA_READ_LAZY }, { "eager", SBMA_READ_EAGER }, { NULL, 0 },
};
static const struct opt_word evict_words[] = {
	{ "lazy", SBMA__EVICT_LAZY }, { "eager", SBMA__EVICT_EAGER }, { NULL, 0 },
};
static const struct opt_word direct_words[] = {
	{ "auto", -1 },
	{ "on", 1 }, { "1", 1 }, { "yes", 1 }, { "true", 1 },
	{ "off", 0 }, { "0", 0 }, { "no", 0 }, { "false", 0 },
	{ NULL, 0 },
};

static int check_page(uint64_t *v, int from_default, char *why, size_t n);
static int check_budget(uint64_t *v, int from_default, char *why, size_t n);
static int check_min_alloc(uint64_t *v, int from_default, char *why, size_t n);
static int check_readahead(uint64_t *v, int from_default, char *why, size_t n);
static int check_arena(uint64_t *v, int from_default, char *why, size_t n);
static int check_max_maps(uint64_t *v, int from_default, char *why, size_t n);
static int check_node_timeout(uint64_t *v, int from_default, char *why, size_t n);

/* The table. Order matters: see the file header. */
static const struct opt_desc opts[] = {
	{ "SBMA_PAGE", OPT_SIZE, "64K", NULL,
	  "SBMA page: unit of tracking and I/O, a power-of-two multiple of the OS page",
	  NULL, FIELD(page_size), CFG(page_size), NULL, check_page },
	{ "SBMA_BUDGET", OPT_SIZE_PCT, "50%", NULL,
	  "resident SBMA memory allowed: bytes, or a percentage of the node's memory",
	  NULL, FIELD(budget), CFG(budget), NULL, check_budget },
	{ "SBMA_MIN_ALLOC", OPT_SIZE, "1M", NULL,
	  "malloc below this size goes to libc",
	  NULL, FIELD(min_alloc), CFG(min_alloc), NULL, check_min_alloc },
	{ "SBMA_READAHEAD", OPT_SIZE, "4M", NULL,
	  "largest readahead window on sequential faults (0: off)",
	  NULL, FIELD(readahead), CFG(readahead), NULL, check_readahead },
	{ "SBMA_ARENA", OPT_SIZE, "1T", NULL,
	  "virtual address space reserved for SBMA memory",
	  NULL, FIELD(arena_size), CFG(arena_size), NULL, check_arena },
	{ "SBMA_DIR", OPT_PATH, NULL, "$TMPDIR, else /tmp",
	  "directory of the backing file",
	  "an existing, writable directory", FIELD(dir), CFG(dir), NULL, NULL },
	{ "SBMA_READ", OPT_ENUM, "lazy", NULL,
	  "how evicted pages come back: lazy (per fault) or eager (in bulk)",
	  "lazy or eager", FIELD(read_policy), CFG(read_policy), read_words, NULL },
	{ "SBMA_DIRECT", OPT_ENUM, "auto", NULL,
	  "O_DIRECT I/O to the backing file: auto, on or off",
	  "auto, on or off", FIELD(direct_io), CFG(direct_io), direct_words, NULL },
	{ "SBMA_MAX_MAPS", OPT_COUNT, NULL, "half of vm.max_map_count",
	  "protection runs allowed before SBMA coarsens them",
	  NULL, FIELD(max_maps), NO_CFG, NULL, check_max_maps },
	{ "SBMA_JOB", OPT_NAME, NULL, "the launcher's job (Open MPI, PMIx, Slurm), else none",
	  "processes with the same job name share one node budget ('none': a private budget)",
	  "a name of 1-64 letters, digits, '.', '_' or '-'", FIELD(job), NO_CFG, NULL, NULL },
	{ "SBMA_EVICT", OPT_ENUM, "lazy", NULL,
	  "in a blocking MPI call: eager (release all memory) or lazy (when asked)",
	  "lazy or eager", FIELD(evict_policy), NO_CFG, evict_words, NULL },
	{ "SBMA_NODE_TIMEOUT", OPT_COUNT, "10", NULL,
	  "seconds to wait for node budget before loading over budget",
	  NULL, FIELD(node_timeout), NO_CFG, NULL, check_node_timeout },
	{ "SBMA_VERBOSE", OPT_BOOL, "0", NULL,
	  "print the settings at start-up",
	  "0 or 1 (also yes/no, true/false, on/off)", FIELD(verbose), CFG(verbose), bool_words, NULL },
	{ "SBMA_STATS", OPT_BOOL, "0", NULL,
	  "print the statistics at exit",
	  "0 or 1 (also yes/no, true/false, on/off)", FIELD(print_stats), CFG(print_stats), bool_words, NULL },
	{ "SBMA_CHECK", OPT_BOOL, "0", NULL,
	  "diagnose frees of pointers SBMA did not return",
	  "0 or 1 (also yes/no, true/false, on/off)", FIELD(check), NO_CFG, bool_words, NULL },
	{ "SBMA_UNLOCKED_IO", OPT_BOOL, "1", NULL,
	  "threads read the backing file, reserve and punch it without holding SBMA's lock",
	  "0 or 1 (also yes/no, true/false, on/off)", FIELD(unlocked_io), NO_CFG, bool_words, NULL },
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* Facts about the system, read once per load. */
static size_t os_page;
static uint64_t max_map_count;

/* ---- sizes ---- */

/*
 * floor(0.<digits> * 2^shift), exactly. The fraction is doubled shift times
 * in decimal and each carry out of the first digit is one more bit. Only the
 * first 40 digits can matter: the rest add less than 10^-40 * 2^40 = 5^-40,
 * and the kept part times 2^shift is a multiple of 5^-40, so no integer
 * boundary lies between them.
 */
static uint64_t frac_times_pow2(const char *digits, size_t ndigits, unsigned shift)
{
	unsigned char d[40];
	size_t n = ndigits < sizeof d ? ndigits : sizeof d;
	uint64_t r = 0;

	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)(digits[i] - '0');
	for (unsigned s = 0; s < shift; s++) {
		unsigned carry = 0;
		for (size_t i = n; i-- > 0;) {
			unsigned x = d[i] * 2u + carry;
			d[i] = (unsigned char)(x % 10);
			carry = x / 10;
		}
		r = r * 2 + carry;
	}
	return r;
}

int sbma__parse_size(const char *s, uint64_t *out, unsigned *pct)
{
	const char *p = s, *frac = NULL;
	size_t nfrac = 0;
	uint64_t whole = 0;
	int overflow = 0;
	unsigned shift = 0;

	*out = 0;
	if (pct)
		*pct = 0;
	/* A sign, a blank or an empty string is never a size; '-' is spelled
	 * out here because strtoull would quietly accept it. */
	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned dgt = (unsigned)(*p - '0');
		if (whole > (UINT64_MAX - dgt) / 10)
			overflow = 1;
		else
			whole = whole * 10 + dgt;
	}
	if (*p == '.') {
		frac = ++p;
		for (; *p >= '0' && *p <= '9'; p++)
			nfrac++;
		if (nfrac == 0)
			return -EINVAL; /* "1." and "1.G" */
	}

	if (*p == '%') {
		if (!pct || frac || p[1] != '\0')
			return -EINVAL;
		if (overflow || whole < 1 || whole > 100)
			return -ERANGE;
		*pct = (unsigned)whole;
		return 0;
	}

	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default: break;
	}
	/* "iB" only after a prefix (KiB); "B" alone after a prefix or a
	 * number (64KB, 4096B). */
	if (shift && (p[0] == 'i' || p[0] == 'I') && (p[1] == 'b' || p[1] == 'B'))
		p += 2;
	else if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0')
		return -EINVAL;
	/* Only now: junk after a huge number is still junk, not overflow. */
	if (overflow || (shift && whole > (UINT64_MAX >> shift)))
		return -ERANGE;

	uint64_t v = whole << shift;
	if (frac) {
		uint64_t f = frac_times_pow2(frac, nfrac, shift);
		if (f > UINT64_MAX - v)
			return -ERANGE;
		v += f;
	}
	*out = v;
	return 0;
}

/* "64K", "1T" when that is exact and short, else the bytes and an
 * approximation: "12638251008 (11.8G)". */
static void format_size(char *buf, size_t n, uint64_t v)
{
	static const char suffix[] = "KMGT";
	int i;

	for (i = 3; i >= 0; i--) {
		uint64_t unit = (uint64_t)1 << (10 * (i + 1));
		if (v && v % unit == 0 && v / unit < 100000) {
			snprintf(buf, n, "%llu%c", (unsigned long long)(v / unit), suffix[i]);
			return;
		}
	}
	for (i = 3; i >= 0; i--) {
		uint64_t unit = (uint64_t)1 << (10 * (i + 1));
		if (v >= unit) {
			snprintf(buf, n, "%llu (%.1f%c)", (unsigned long long)v,
				 (double)v / (double)unit, suffix[i]);
			return;
		}
	}
	snprintf(buf, n, "%llu", (unsigned long long)v);
}

/* ---- checks (see opt_check_fn) ---- */

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int check_page(uint64_t *v, int from_default, char *why, size_t n)
{
	/* Whole OS pages, because protections and I/O are per OS page; a
	 * power of two, because the engine finds a page with a shift. */
	snprintf(why, n, "a size such as 64K, a multiple of the %zu-byte OS page "
		 "and a power of two, at most 64M", os_page);
	return *v == 0 || *v % os_page || !is_pow2(*v) || *v > PAGE_MAX ? -EINVAL : 0;
}

static int check_budget(uint64_t *v, int from_default, char *why, size_t n)
{
	/* Fewer pages than this and one memcpy between two SBMA buffers
	 * could evict the very page it is copying from, forever. */
	uint64_t min = BUDGET_MIN_PAGES * (uint64_t)sbma__opt.page_size;
	char page[48];

	format_size(page, sizeof page, sbma__opt.page_size);
	snprintf(why, n, "a size such as 8G or a percentage of the node's memory "
		 "from 1%% to 100%%, at least %d SBMA pages of %s (%llu bytes)",
		 BUDGET_MIN_PAGES, page, (unsigned long long)min);
	return *v < min ? -EINVAL : 0;
}

static int check_min_alloc(uint64_t *v, int from_default, char *why, size_t n)
{
	/* Below an OS page an SBMA allocation would waste most of its
	 * page; a size of 0 ("everything") is not a use case. */
	snprintf(why, n, "a size such as 1M, at least 4096");
	return *v < MIN_ALLOC_MIN ? -EINVAL : 0;
}

static int check_readahead(uint64_t *v, int from_default, char *why, size_t n)
{
	uint64_t psz = sbma__opt.page_size;
	char page[48];

	format_size(page, sizeof page, psz);
	snprintf(why, n, "0 (off) or a size such as 4M that is a multiple of the SBMA page (%s)", page);
	if (*v % psz == 0)
		return 0;
	/* The default was chosen for the default page: with a larger page,
	 * round it up rather than refuse a page size the user asked for. */
	if (from_default) {
		*v = (*v + psz - 1) / psz * psz;
		return 0;
	}
	return -EINVAL;
}

static int check_arena(uint64_t *v, int from_default, char *why, size_t n)
{
	uint64_t psz = sbma__opt.page_size;

	/* The arena is cut into whole SBMA pages; a ragged end would only be
	 * an unusable tail, so round up instead of refusing. */
	snprintf(why, n, "a size such as 1T, at least 64M and at most 64T");
	if (*v < ARENA_MIN || *v > ARENA_MAX)
		return -EINVAL;
	*v = (*v + psz - 1) / psz * psz;
	return 0;
}

static int check_node_timeout(uint64_t *v, int from_default, char *why, size_t n)
{
	/* Long enough for a blocked process to write its memory out, short
	 * enough that a hung peer costs minutes, not the job. */
	snprintf(why, n, "a number of seconds from 1 to 86400");
	return *v >= 1 && *v <= 86400 ? 0 : -EINVAL;
}

static int check_max_maps(uint64_t *v, int from_default, char *why, size_t n)
{
	/* The kernel refuses an mprotect that would split the address space
	 * past vm.max_map_count; libc, the loader and the program need some of
	 * those areas too, so SBMA's share must stay below the limit. */
	snprintf(why, n, "a count such as %llu, at least %d and below vm.max_map_count (%llu)",
		 (unsigned long long)(max_map_count / 2), MAX_MAPS_MIN,
		 (unsigned long long)max_map_count);
	return *v < MAX_MAPS_MIN || *v >= max_map_count ? -EINVAL : 0;
}

/* ---- one row ---- */

static void *field(const struct opt_desc *d)
{
	return (char *)&sbma__opt + d->off;
}

static void store_num(const struct opt_desc *d, uint64_t v)
{
	void *f = field(d);

	if (d->width == sizeof(uint64_t)) {
		uint64_t x = v;
		memcpy(f, &x, sizeof x);
	} else if (d->width == sizeof(uint32_t)) {
		uint32_t x = (uint32_t)v;
		memcpy(f, &x, sizeof x);
	} else {
		sbma__die("options: %s: field of unexpected width %zu", d->name, d->width);
	}
}

static uint64_t load_num(const struct opt_desc *d)
{
	const void *f = field(d);

	if (d->width == sizeof(uint64_t)) {
		uint64_t x;
		memcpy(&x, f, sizeof x);
		return x;
	}
	uint32_t x;
	memcpy(&x, f, sizeof x);
	return x;
}

/* The config field of d as a number (the fields are int or 64-bit sizes);
 * zero means "the default". */
static int64_t cfg_num(const struct opt_desc *d, const struct sbma_config *cfg)
{
	const char *f = (const char *)cfg + d->cfg_off;

	if (d->cfg_width == sizeof(int64_t)) {
		int64_t x;
		memcpy(&x, f, sizeof x);
		return x;
	}
	int32_t x;
	memcpy(&x, f, sizeof x);
	return x;
}

static int parse_word(const struct opt_word *w, const char *s, int *value)
{
	for (; w->word; w++) {
		if (strcasecmp(w->word, s) == 0) {
			*value = w->value;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *word_of(const struct opt_word *w, int value)
{
	for (; w->word; w++)
		if (w->value == value)
			return w->word;
	return "?";
}

/* Where the value being checked came from, for the error line. */
enum opt_from { FROM_DEFAULT, FROM_TMPDIR, FROM_CONFIG, FROM_ENV };

/*
 * The value as an error line shows it. The line must stay one line of
 * text that says what was expected, whatever the value holds: a control
 * byte (a newline would split the line, an escape sequence could rewrite
 * the terminal) is shown as \xHH, and a value longer than VALUE_SHOWN
 * bytes is cut ("...", and bad() adds its length), so that the line fits
 * sbma__log's buffer.
 */
#define VALUE_SHOWN 128
static void show_value(char *buf, size_t n, const char *text)
{
	size_t len = strlen(text), o = 0;

	for (size_t i = 0; i < len && i < VALUE_SHOWN && o + 5 < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)sbma__format(buf + o, n - o, "\\x%c%c", "0123456789abcdef"[c >> 4],
						  "0123456789abcdef"[c & 15]);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	if (len > VALUE_SHOWN)
		sbma__format(buf + o, n - o, "...");
}

/* "SBMA_X='value'[ (source)]: expected why" - the one line for a bad value,
 * on stderr or into the caller's buffer (src->msg). */
static int bad(const struct opt_desc *d, enum opt_from from, const char *text, const char *why,
	       const struct sbma__opt_source *src)
{
	char via[64] = "", line[1024], shown[4 * VALUE_SHOWN + 8], cut[32] = "";

	if (from == FROM_CONFIG)
		sbma__format(via, sizeof via, " (from sbma_config.%s)", d->cfg_name);
	else if (from == FROM_DEFAULT)
		sbma__format(via, sizeof via, " (the default)");
	else if (from == FROM_TMPDIR)
		sbma__format(via, sizeof via, " (the default, from TMPDIR)");
	show_value(shown, sizeof shown, text);
	if (strlen(text) > VALUE_SHOWN)
		sbma__format(cut, sizeof cut, " (%zu bytes)", strlen(text));
	sbma__format(line, sizeof line, "%s='%s'%s%s: expected %s", d->name, shown, cut, via, why);
	if (src->msg)
		sbma__format(src->msg, src->msg_size, "%s", line);
	else
		sbma__log("%s", line);
	return -EINVAL;
}

static const char *lookup(const struct sbma__opt_source *src, const char *name)
{
	return src->get ? src->get(src->arg, name) : sbma__getenv(name);
}

/* The default of a row whose default depends on the system; *from says
 * whether it came from TMPDIR, so that an error can say so. */
static const char *computed_default(const struct opt_desc *d, char *buf, size_t n,
				    enum opt_from *from, const struct sbma__opt_source *src)
{
	if (d->type == OPT_NAME)
		return "";
	if (d->type == OPT_PATH) {
		const char *t = lookup(src, "TMPDIR");
		if (t && *t) {
			*from = FROM_TMPDIR;
			return t;
		}
		return "/tmp";
	}
	/* SBMA_MAX_MAPS: half the limit leaves the other half to everything
	 * else in the process. */
	uint64_t half = max_map_count / 2;
	snprintf(buf, n, "%llu", (unsigned long long)(half < MAX_MAPS_MIN ? MAX_MAPS_MIN : half));
	return buf;
}

/* strerror() may translate, and translating may allocate. */
static const char *errno_text(int e)
{
	switch (e) {
	case ENOENT: return "it does not exist";
	case ENOTDIR: return "a part of it is not a directory";
	case EACCES: return "permission denied";
	case EROFS: return "read-only file system";
	case ELOOP: return "too many symbolic links";
	case ENAMETOOLONG: return "name too long";
	default: return "cannot access it";
	}
}

static int check_dir(const char *path, char *why, size_t n)
{
	struct stat st;

	if (strlen(path) >= sizeof sbma__opt.dir - 64) {
		snprintf(why, n, "a directory path shorter than %zu bytes", sizeof sbma__opt.dir - 64);
		return -EINVAL;
	}
	if (stat(path, &st) != 0) {
		snprintf(why, n, "an existing, writable directory (%s)", errno_text(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "an existing, writable directory (not a directory)");
		return -EINVAL;
	}
	/* The backing file is created at start-up; a directory we cannot
	 * write to would only fail later, further from the cause. */
	if (access(path, W_OK | X_OK) != 0) {
		snprintf(why, n, "an existing, writable directory (%s)", errno_text(errno));
		return -EINVAL;
	}
	return 0;
}

/* A job name becomes part of a file name in /dev/shm: keep it to a safe
 * alphabet, and short. */
static int valid_name(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= max && s[0] != '.';
}

/* Resolve, check and store one row. */
static int load_one(const struct opt_desc *d, const struct sbma_config *cfg,
		    const struct sbma__opt_source *src)
{
	char defbuf[32], cfgbuf[48], why[256];
	enum opt_from from = FROM_DEFAULT;
	const char *text = d->def ? d->def : computed_default(d, defbuf, sizeof defbuf, &from, src);
	const char *env = lookup(src, d->name);
	const char *cfg_dir = NULL;
	int64_t cfg_v = 0;
	uint64_t v = 0;
	unsigned pct = 0;
	int rc = 0;

	if (cfg && d->cfg_width) {
		if (d->type == OPT_PATH) {
			memcpy(&cfg_dir, (const char *)cfg + d->cfg_off, sizeof cfg_dir);
			if (cfg_dir && *cfg_dir) {
				from = FROM_CONFIG;
				text = cfg_dir;
			}
		} else if ((cfg_v = cfg_num(d, cfg)) != 0) {
			from = FROM_CONFIG;
			if (d->type == OPT_ENUM || d->type == OPT_BOOL)
				snprintf(cfgbuf, sizeof cfgbuf, "%lld", (long long)cfg_v);
			else
				snprintf(cfgbuf, sizeof cfgbuf, "%llu", (unsigned long long)cfg_v);
			text = cfgbuf;
		}
	}
	if (env && *env) {
		from = FROM_ENV;
		text = env;
	}

	switch (d->type) {
	case OPT_SIZE:
	case OPT_SIZE_PCT:
	case OPT_COUNT:
		if (from == FROM_CONFIG) {
			v = (uint64_t)cfg_v;
		} else if (d->type == OPT_COUNT) {
			/* A count is a plain number: "64K" maps makes no sense. */
			const char *p = text;
			while (*p >= '0' && *p <= '9')
				p++;
			rc = *p ? -EINVAL : sbma__parse_size(text, &v, NULL);
		} else {
			rc = sbma__parse_size(text, &v, d->type == OPT_SIZE_PCT ? &pct : NULL);
		}
		if (from != FROM_CONFIG && rc != 0) {
			/* The syntax is wrong: the check only describes a good
			 * value here, range included. */
			uint64_t dummy = 0;
			d->check(&dummy, 0, why, sizeof why);
			if (rc == -ERANGE && !strchr(text, '%'))
				strncat(why, " (this one is too large)", sizeof why - strlen(why) - 1);
			return bad(d, from, text, why, src);
		}
		if (pct) {
			/* A share of what this process may use at most, which
			 * already includes its memory cgroup's limit. */
			uint64_t node = sbma__node_memory();
			v = node / 100 * pct + node % 100 * pct / 100;
		}
		if (d->check(&v, from == FROM_DEFAULT, why, sizeof why) != 0)
			return bad(d, from, text, why, src);
		store_num(d, v);
		if (d->type == OPT_SIZE_PCT)
			sbma__opt.budget_pct = pct;
		return 0;

	case OPT_ENUM:
	case OPT_BOOL: {
		int value = 0;
		if (from == FROM_CONFIG) {
			/* A bool field is on when non-zero; an enum field must
			 * be one of its values. */
			value = d->type == OPT_BOOL ? 1 : (int)cfg_v;
			rc = strcmp(word_of(d->words, value), "?") == 0 ? -EINVAL : 0;
		} else {
			rc = parse_word(d->words, text, &value);
		}
		if (rc != 0)
			return bad(d, from, text, d->expect, src);
		store_num(d, (uint64_t)(int64_t)value);
		return 0;
	}

	case OPT_PATH:
		if (check_dir(text, why, sizeof why) != 0)
			return bad(d, from, text, why, src);
		snprintf(sbma__opt.dir, sizeof sbma__opt.dir, "%s", text);
		return 0;

	case OPT_NAME:
		/* Unset: stays empty (the caller's default applies). */
		if (from == FROM_DEFAULT)
			return 0;
		if (!valid_name(text, 64))
			return bad(d, from, text, d->expect, src);
		snprintf(sbma__opt.job, sizeof sbma__opt.job, "%s", text);
		return 0;
	}
	return -EINVAL;
}

int sbma__options_load(const struct sbma_config *cfg)
{
	const struct sbma__opt_source env = { NULL, NULL, NULL, 0 };

	return sbma__options_load_from(cfg, &env);
}

int sbma__options_load_from(const struct sbma_config *cfg, const struct sbma__opt_source *src)
{
	char buf[32];

	memset(&sbma__opt, 0, sizeof sbma__opt);
	os_page = sbma__os_page_size();
	/* Without /proc, assume the kernel's default limit. */
	max_map_count = MAX_MAP_COUNT_DEFAULT;
	if (sbma__os_read_text("/proc/sys/vm/max_map_count", buf, sizeof buf) > 0) {
		unsigned long long m = strtoull(buf, NULL, 10);
		if (m > 0)
			max_map_count = m;
	}
	for (size_t i = 0; i < NOPTS; i++) {
		int rc = load_one(&opts[i], cfg, src);
		if (rc != 0)
			return rc;
	}
	return 0;
}

const char *sbma__option_name(size_t i)
{
	return i < NOPTS ? opts[i].name : NULL;
}

/* The value of row d as it would be written in the environment. */
static void format_value(const struct opt_desc *d, char *buf, size_t n)
{
	char node[48], size[48];

	switch (d->type) {
	case OPT_SIZE_PCT:
		format_size(size, sizeof size, load_num(d));
		if (sbma__opt.budget_pct) {
			format_size(node, sizeof node, sbma__node_memory());
			snprintf(buf, n, "%u%% = %s of %s", sbma__opt.budget_pct, size, node);
		} else {
			snprintf(buf, n, "%s", size);
		}
		return;
	case OPT_SIZE:
		format_size(buf, n, load_num(d));
		return;
	case OPT_COUNT:
		snprintf(buf, n, "%llu", (unsigned long long)load_num(d));
		return;
	case OPT_ENUM:
	case OPT_BOOL:
		snprintf(buf, n, "%s", word_of(d->words, (int)(int32_t)load_num(d)));
		return;
	case OPT_PATH:
		/* Printed straight from sbma__opt.dir: see the caller. */
		buf[0] = '\0';
		return;
	case OPT_NAME:
		snprintf(buf, n, "%s", sbma__opt.job[0] ? sbma__opt.job : "(unset)");
		return;
	}
}

void sbma__options_print(int fd)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_desc *d = &opts[i];
		char value[256];

		format_value(d, value, sizeof value);
		/* sbma__fdprintf handles %s and a width: nothing here needs
		 * more, and it writes with one write(2). */
		sbma__fdprintf(fd, "%-15s = %s   (%s; default %s)\n", d->name,
			       d->type == OPT_PATH ? sbma__opt.dir : value, d->help,
			       d->def ? d->def : d->def_doc);
	}
}
