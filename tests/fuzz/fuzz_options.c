/*
 * fuzz_options.c - the SBMA_* option parser under libFuzzer (and under
 * tests/fuzz/replay_main.c, which feeds it the corpus in make check).
 *
 * An input is a made-up environment, one setting per line:
 *
 *   KEY=VALUE        (a line without '=' is KEY with an empty value)
 *
 * KEY is a variable of the table in src/options.c (SBMA_PAGE ...), TMPDIR
 * (the default of SBMA_DIR), or sbma_config.FIELD for a field of the
 * struct sbma_config layer (a decimal number, possibly negative and
 * wrapping, or a path for .dir). Any other KEY is mapped to one of these by
 * a hash, so that every line a mutation produces still reaches some
 * setting. VALUE is every byte up to the end of the line: "\n" in it stands
 * for a newline and "\\" for a backslash, and a NUL byte ends it (as it
 * would end an environment string). The last line for a KEY wins.
 *
 * The environment is handed to sbma__options_load_from(), the code the
 * library runs at start-up, through a lookup function (the process's own
 * environment is never touched). Then, besides the sanitizers' checks:
 *
 *   - the result is 0 or -EINVAL, and an error line comes exactly with
 *     -EINVAL;
 *   - only table variables and TMPDIR are read, each at most once;
 *   - accepted: every setting is in its documented range
 *     (docs/environment.md); every value given to a size, count or word
 *     variable has the documented syntax; and each setting is what the
 *     documentation says the value (or the config field, TMPDIR or the
 *     default) means. The harness computes that its own way: sizes in
 *     128-bit integers (up to 20 digits before the point and 18 after),
 *     words from the documented lists, names and paths verbatim. The
 *     SBMA_VERBOSE listing has one line per variable;
 *   - refused: the error line is one line of printable text, short enough
 *     that sbma__log never cuts it, starts with "NAME='" for a table
 *     variable NAME, says ": expected ", shows the value it refuses
 *     (verbatim when that is short and printable) and where it came from;
 *     the value refused, where the harness can compute it, is outside the
 *     documented range given the rows above it; and loading again without
 *     NAME (and its config field, and TMPDIR for SBMA_DIR) must succeed or
 *     fail at a later variable of the table: the variable named really was
 *     the first bad one;
 *   - loading the same input twice gives the same result (no state is
 *     carried from one load to the next).
 *
 * A failed check prints what was wrong and the input, then abort()s, which
 * libFuzzer reports as a crash and saves the input.
 *
 * The check of an error line returns a reason instead of aborting, so
 * that fuzz_options_selftest() can show it catches bad lines. The harness
 * keeps nothing between inputs: everything lives in what one call
 * allocates.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbma_internal.h"
#include "fuzz_options.h"

#define MIB ((uint64_t)1 << 20)
#define TIB ((uint64_t)1 << 40)
/* What sbma__log may add in front of a line ("sbma[4194304]: ") and the
 * size of its buffer: a longer line would be cut. */
#define LOG_PREFIX_MAX 24
#define LOG_LINE_MAX (1024 - LOG_PREFIX_MAX - 2)
/* Values at most this long, and printable, must be shown verbatim. */
#define SHOWN_MAX 100

/* The number fields of both structs are 8 bytes, or 4-byte ints
 * (sign-extended if is_signed). */
static uint64_t num_at(const void *base, size_t off, size_t size, int is_signed)
{
	const char *f = (const char *)base + off;
	uint64_t x;
	int32_t y;

	if (size == sizeof x) {
		memcpy(&x, f, sizeof x);
		return x;
	}
	memcpy(&y, f, sizeof y);
	return is_signed ? (uint64_t)(int64_t)y : (uint32_t)y;
}

static void num_put(void *base, size_t off, size_t size, uint64_t x)
{
	int32_t y = (int32_t)(uint32_t)x;

	if (size == sizeof x)
		memcpy((char *)base + off, &x, sizeof x);
	else
		memcpy((char *)base + off, &y, sizeof y);
}

/* ---- what a load produced ---- */

struct result {
	int rc;
	char msg[2048];
	struct sbma__options opt;
	unsigned reads[32]; /* lookups per key (env keys only) */
	int stray;          /* a lookup of a name that is not ours */
	char stray_name[64];
};

/* ---- the variables, as docs/environment.md describes them ---- */

enum kind {
	K_SIZE,   /* a size */
	K_BUDGET, /* a size or a percentage */
	K_COUNT,  /* a plain decimal number */
	K_WORD,   /* one of words[] */
	K_DIR,    /* a writable directory */
	K_JOB,    /* a job name */
};

struct word {
	const char *word;
	int value;
};

static const struct word bool_words[] = {
	{ "1", 1 }, { "yes", 1 }, { "true", 1 }, { "on", 1 },
	{ "0", 0 }, { "no", 0 }, { "false", 0 }, { "off", 0 }, { NULL, 0 },
};
static const struct word lazy_eager[] = { { "lazy", 0 }, { "eager", 1 }, { NULL, 0 } };
static const struct word direct_words[] = {
	{ "auto", -1 }, { "on", 1 }, { "1", 1 }, { "yes", 1 }, { "true", 1 },
	{ "off", 0 }, { "0", 0 }, { "no", 0 }, { "false", 0 }, { NULL, 0 },
};

struct env;
/* NULL if the setting in o is in its documented range, else why not. */
typedef const char *(*range_fn)(const struct env *e, const struct sbma__options *o);

/* One setting the harness knows, in no particular order: check_table()
 * makes sure this list and the table in src/options.c agree. */
struct var {
	const char *name;
	enum kind kind;
	const char *def;          /* documented default; NULL: computed */
	int round;                /* rounded up to whole SBMA pages: 1 the
				   * default only, 2 always */
	size_t off, size;         /* its field of struct sbma__options */
	const struct word *words; /* K_WORD */
	range_fn range;           /* NULL: K_WORD, one of the words */
	const char *cfg;          /* its field of struct sbma_config, or NULL */
	size_t cfg_off, cfg_size;
};

static const char *range_page(const struct env *e, const struct sbma__options *o);
static const char *range_budget(const struct env *e, const struct sbma__options *o);
static const char *range_min_alloc(const struct env *e, const struct sbma__options *o);
static const char *range_readahead(const struct env *e, const struct sbma__options *o);
static const char *range_arena(const struct env *e, const struct sbma__options *o);
static const char *range_dir(const struct env *e, const struct sbma__options *o);
static const char *range_max_maps(const struct env *e, const struct sbma__options *o);
static const char *range_job(const struct env *e, const struct sbma__options *o);
static const char *range_node_timeout(const struct env *e, const struct sbma__options *o);

#define OPT(f) offsetof(struct sbma__options, f), sizeof(((struct sbma__options *)0)->f)
#define CFG(f) #f, offsetof(struct sbma_config, f), sizeof(((struct sbma_config *)0)->f)
#define NO_CFG NULL, 0, 0

static const struct var vars[] = {
	{ "SBMA_PAGE", K_SIZE, "64K", 0, OPT(page_size), NULL, range_page, CFG(page_size) },
	{ "SBMA_BUDGET", K_BUDGET, "50%", 0, OPT(budget), NULL, range_budget, CFG(budget) },
	{ "SBMA_MIN_ALLOC", K_SIZE, "1M", 0, OPT(min_alloc), NULL, range_min_alloc, CFG(min_alloc) },
	{ "SBMA_READAHEAD", K_SIZE, "4M", 1, OPT(readahead), NULL, range_readahead, CFG(readahead) },
	{ "SBMA_ARENA", K_SIZE, "1T", 2, OPT(arena_size), NULL, range_arena, CFG(arena_size) },
	{ "SBMA_DIR", K_DIR, NULL, 0, OPT(dir), NULL, range_dir, CFG(dir) },
	{ "SBMA_READ", K_WORD, "lazy", 0, OPT(read_policy), lazy_eager, NULL, CFG(read_policy) },
	{ "SBMA_DIRECT", K_WORD, "auto", 0, OPT(direct_io), direct_words, NULL, CFG(direct_io) },
	{ "SBMA_MAX_MAPS", K_COUNT, NULL, 0, OPT(max_maps), NULL, range_max_maps, NO_CFG },
	{ "SBMA_JOB", K_JOB, "", 0, OPT(job), NULL, range_job, NO_CFG },
	{ "SBMA_EVICT", K_WORD, "lazy", 0, OPT(evict_policy), lazy_eager, NULL, NO_CFG },
	{ "SBMA_NODE_TIMEOUT", K_COUNT, "10", 0, OPT(node_timeout), NULL, range_node_timeout, NO_CFG },
	{ "SBMA_VERBOSE", K_WORD, "0", 0, OPT(verbose), bool_words, NULL, CFG(verbose) },
	{ "SBMA_STATS", K_WORD, "0", 0, OPT(print_stats), bool_words, NULL, CFG(print_stats) },
	{ "SBMA_CHECK", K_WORD, "0", 0, OPT(check), bool_words, NULL, NO_CFG },
	{ "SBMA_UNLOCKED_IO", K_WORD, "1", 0, OPT(unlocked_io), bool_words, NULL, NO_CFG },
};
#define NVARS (sizeof vars / sizeof vars[0])
#define KEY_TMPDIR NVARS             /* env keys: vars[], then TMPDIR */
#define NENV (NVARS + 1)
#define NCFG 10                      /* vars with a config field */
#define NKEYS (NENV + NCFG)
_Static_assert(NENV <= sizeof((struct result *)0)->reads / sizeof(unsigned), "reads[] too small");

/* ---- the made-up environment ---- */

struct env {
	const char *val[NENV];  /* NULL: unset */
	const char *cfg_text[NVARS]; /* the line that set a config field, for messages */
	int cfg_set[NVARS];     /* config field given non-zero */
	struct sbma_config cfg;
	int have_cfg;
	int hide;               /* env key (and TMPDIR, config) hidden; -1 none */
	struct result *res;     /* where lookups are counted */
	size_t os_page;
	uint64_t node_mem, max_map_count;
};

/* Key k of the input: 0..NVARS-1 the variables, NVARS TMPDIR, then the
 * config fields of the variables that have one, in vars[] order. */
static int cfg_var_of_key(size_t k)
{
	size_t n = NENV;
	for (size_t i = 0; i < NVARS; i++)
		if (vars[i].cfg && n++ == k)
			return (int)i;
	return -1;
}

static int key_of(const char *s, size_t len)
{
	char name[64];
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	if (len < sizeof name) {
		memcpy(name, s, len);
		name[len] = '\0';
		for (size_t i = 0; i < NVARS; i++)
			if (strcmp(name, vars[i].name) == 0)
				return (int)i;
		if (strcmp(name, "TMPDIR") == 0)
			return KEY_TMPDIR;
		if (strncmp(name, "sbma_config.", 12) == 0)
			for (size_t k = NENV; k < NKEYS; k++)
				if (strcmp(name + 12, vars[cfg_var_of_key(k)].cfg) == 0)
					return (int)k;
	}
	return (int)(h % NKEYS);
}

/* "-12" wraps like a C conversion: the config layer gets every bit
 * pattern, negative sizes included. */
static uint64_t cfg_number(const char *s)
{
	uint64_t v = 0;
	int neg = *s == '-';

	for (s += neg; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	return neg ? 0 - v : v;
}

static void set_cfg(struct env *e, int vi, const char *text)
{
	const struct var *v = &vars[vi];
	char *f = (char *)&e->cfg + v->cfg_off;

	e->have_cfg = 1;
	e->cfg_text[vi] = text;
	if (strcmp(v->cfg, "dir") == 0) {
		memcpy(f, &text, sizeof text);
		e->cfg_set[vi] = *text != '\0';
		return;
	}
	num_put(&e->cfg, v->cfg_off, v->cfg_size, cfg_number(text));
	e->cfg_set[vi] = num_at(&e->cfg, v->cfg_off, v->cfg_size, 0) != 0;
}

/* Decode data into e; the values live in buf (size + 1 bytes). */
static void decode(struct env *e, const uint8_t *data, size_t size, char *buf)
{
	size_t i = 0, o = 0;

	while (i < size) {
		size_t start = i, eq = SIZE_MAX;
		for (; i < size && data[i] != '\n'; i++)
			if (data[i] == '=' && eq == SIZE_MAX)
				eq = i;
		size_t end = i++, klen = (eq == SIZE_MAX ? end : eq) - start;
		if (end == start)
			continue;
		int k = key_of((const char *)data + start, klen);
		char *val = buf + o;
		int cut = 0;
		for (size_t j = eq == SIZE_MAX ? end : eq + 1; j < end; j++) {
			char c = (char)data[j];
			if (c == '\\' && j + 1 < end && (data[j + 1] == 'n' || data[j + 1] == '\\'))
				c = data[++j] == 'n' ? '\n' : '\\';
			if (c == '\0')
				cut = 1;
			if (!cut)
				buf[o++] = c;
		}
		buf[o++] = '\0';
		if (k < (int)NENV)
			e->val[k] = val;
		else
			set_cfg(e, cfg_var_of_key((size_t)k), val);
	}
}

static const char *env_get(void *arg, const char *name)
{
	struct env *e = arg;

	for (size_t k = 0; k < NENV; k++) {
		if (strcmp(name, k == KEY_TMPDIR ? "TMPDIR" : vars[k].name) == 0) {
			e->res->reads[k]++;
			if ((int)k == e->hide || (k == KEY_TMPDIR && e->hide >= 0 &&
						  strcmp(vars[e->hide].name, "SBMA_DIR") == 0))
				return NULL;
			return e->val[k];
		}
	}
	e->res->stray = 1;
	snprintf(e->res->stray_name, sizeof e->res->stray_name, "%s", name);
	return NULL;
}

/* Load e (hiding variable `hide` if >= 0) into r. */
static void load(struct env *e, int hide, struct result *r)
{
	struct sbma_config cfg = e->cfg;
	struct sbma__opt_source src = { env_get, e, r->msg, sizeof r->msg };

	memset(r, 0, sizeof *r);
	e->hide = hide;
	e->res = r;
	if (hide >= 0 && vars[hide].cfg)
		memset((char *)&cfg + vars[hide].cfg_off, 0, vars[hide].cfg_size);
	r->rc = sbma__options_load_from(e->have_cfg ? &cfg : NULL, &src);
	r->opt = sbma__opt;
	e->res = NULL;
}

/* ---- failing ---- */

static void dump_value(const char *v)
{
	for (; *v; v++)
		fprintf(stderr, *v >= 0x20 && *v < 0x7f ? "%c" : "\\x%02x", (unsigned char)*v);
}

static void fail(const struct env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(const struct env *e, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_options: CHECK FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  the environment:\n");
	for (size_t k = 0; e && k < NENV; k++) {
		if (!e->val[k])
			continue;
		fprintf(stderr, "    %s='", k == KEY_TMPDIR ? "TMPDIR" : vars[k].name);
		dump_value(e->val[k]);
		fprintf(stderr, "'\n");
	}
	for (size_t i = 0; e && i < NVARS; i++) {
		if (!e->cfg_text[i])
			continue;
		fprintf(stderr, "    sbma_config.%s = '", vars[i].cfg);
		dump_value(e->cfg_text[i]);
		fprintf(stderr, "'\n");
	}
	abort();
}

/* ---- the documented syntax and meaning of a value ---- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int set(const char *v)
{
	return v && *v;
}

/* digits [. digits] [K|M|G|T [B|iB] | B], any case; or 1-100 "%" when pct. */
static int size_syntax(const char *s, int pct)
{
	const char *p = s;

	while (is_digit(*p))
		p++;
	if (p == s)
		return 0;
	if (pct && p[0] == '%' && p[1] == '\0') {
		while (*s == '0')
			s++;
		return p - s <= 3 && strtoul(s, NULL, 10) >= 1 && strtoul(s, NULL, 10) <= 100;
	}
	if (*p == '.') {
		const char *f = ++p;
		while (is_digit(*p))
			p++;
		if (p == f)
			return 0;
	}
	if (*p && strchr("kKmMgGtT", *p)) {
		p++;
		if ((p[0] == 'i' || p[0] == 'I') && (p[1] == 'b' || p[1] == 'B'))
			p += 2;
		else if (*p == 'b' || *p == 'B')
			p++;
	} else if (*p == 'b' || *p == 'B') {
		p++;
	}
	return *p == '\0';
}

static int count_syntax(const char *s)
{
	const char *p = s;
	while (is_digit(*p))
		p++;
	return p > s && *p == '\0';
}

/*
 * The bytes a size stands for, rounded down, computed a way of its own (the
 * parser doubles decimal digits): whole * 2^shift + floor(frac * 2^shift /
 * 10^digits) in 128-bit integers. Leading zeros of the whole part and
 * trailing zeros of the fraction do not count; up to 20 digits remain
 * before the point and 18 after it, so nothing overflows. Returns 0 if s is
 * not a size, has more digits than that, or is 2^64 bytes or more.
 */
static int size_value(const char *s, uint64_t *out)
{
	const char *w, *f = "", *p;
	size_t nw, nf = 0;
	unsigned __int128 whole = 0, frac = 0, den = 1;
	unsigned shift = 0;

	if (!size_syntax(s, 0))
		return 0;
	for (w = s; *w == '0'; w++)
		;
	nw = strspn(w, "0123456789");
	p = w + nw;
	if (*p == '.') {
		f = ++p;
		nf = strspn(f, "0123456789");
		p += nf;
		while (nf && f[nf - 1] == '0')
			nf--;
	}
	if (nw > 20 || nf > 18)
		return 0;
	if (*p && *p != 'b' && *p != 'B')
		shift = 10 * (unsigned)(1 + (strchr("kKmMgGtT", *p) - "kKmMgGtT") / 2);
	for (size_t i = 0; i < nw; i++)
		whole = whole * 10 + (unsigned)(w[i] - '0');
	for (size_t i = 0; i < nf; i++) {
		frac = frac * 10 + (unsigned)(f[i] - '0');
		den *= 10;
	}
	whole = (whole << shift) + (frac << shift) / den;
	if (whole > UINT64_MAX)
		return 0;
	*out = (uint64_t)whole;
	return 1;
}

/* A count: decimal digits, leading zeros allowed; 0 if not one or 2^64
 * or more. */
static int count_value(const char *s, uint64_t *out)
{
	unsigned __int128 v = 0;

	if (!count_syntax(s))
		return 0;
	while (*s == '0' && s[1])
		s++;
	if (strlen(s) > 20)
		return 0;
	for (; *s; s++)
		v = v * 10 + (unsigned)(*s - '0');
	if (v > UINT64_MAX)
		return 0;
	*out = (uint64_t)v;
	return 1;
}

/* The words are ints and keep their sign; 4-byte counts are unsigned. */
static uint64_t field_get(const struct sbma__options *o, const struct var *v)
{
	return num_at(o, v->off, v->size, v->kind == K_WORD);
}

/* 0 if x does not fit the field. */
static int field_set(struct sbma__options *o, const struct var *v, uint64_t x)
{
	if (v->size == 4 && (v->kind == K_WORD ? (int64_t)x != (int32_t)x : x > UINT32_MAX))
		return 0;
	num_put(o, v->off, v->size, x);
	return 1;
}

/* x rounded up to whole SBMA pages of o; 0 if that overflows. */
static int round_up(const struct sbma__options *o, uint64_t *x)
{
	if (*x % o->page_size == 0)
		return 1;
	if (*x > UINT64_MAX - o->page_size)
		return 0;
	*x = (*x / o->page_size + 1) * o->page_size;
	return 1;
}

static int find_word(const struct word *w, const char *s, int *value)
{
	for (; w->word; w++) {
		if (strcasecmp(w->word, s) == 0) {
			*value = w->value;
			return 1;
		}
	}
	return 0;
}

static uint64_t percent_of_node(const struct env *e, unsigned pct);

/*
 * What the setting of v must be when text is its value (from the
 * environment, or a default), as the documentation says: written into o,
 * which holds the rows above v. Returns 0 when the harness cannot tell
 * (not valid syntax, or beyond what size_value computes).
 */
static int predict_text(const struct env *e, const struct var *v, const char *text, int is_default,
			int rounding, struct sbma__options *o)
{
	uint64_t x = 0;
	int w;

	switch (v->kind) {
	case K_BUDGET:
		if (strchr(text, '%')) {
			if (!size_syntax(text, 1))
				return 0;
			o->budget_pct = (unsigned)strtoul(text, NULL, 10);
			o->budget = percent_of_node(e, o->budget_pct);
			return 1;
		}
		o->budget_pct = 0;
		return size_value(text, &o->budget);
	case K_SIZE:
		if (!size_value(text, &x))
			return 0;
		/* The arena, and the default readahead (a larger page than
		 * it was chosen for), are rounded up to whole SBMA pages. */
		if (rounding && (v->round == 2 || (v->round == 1 && is_default)) && !round_up(o, &x))
			return 0;
		return field_set(o, v, x);
	case K_COUNT:
		return count_value(text, &x) && field_set(o, v, x);
	case K_WORD:
		return find_word(v->words, text, &w) && field_set(o, v, (uint64_t)(int64_t)w);
	case K_DIR:
	case K_JOB:
		if (strlen(text) >= v->size)
			return 0;
		memcpy((char *)o + v->off, text, strlen(text) + 1);
		return 1;
	}
	return 0;
}

/* The same for a field of struct sbma_config (cfg_set), as the program
 * wrote it: numbers are taken as they are, a bool field is on when not 0. */
static int predict_cfg(const struct env *e, const struct var *v, int rounding, struct sbma__options *o)
{
	uint64_t x = num_at(&e->cfg, v->cfg_off, v->cfg_size, 1);

	if (v->kind == K_DIR)
		return predict_text(e, v, e->cfg_text[v - vars], 0, rounding, o);
	if (v->words == bool_words)
		x = 1;
	if (rounding && v->round == 2 && !round_up(o, &x))
		return 0;
	if (v->kind == K_BUDGET)
		o->budget_pct = 0;
	return field_set(o, v, x);
}

/* Where the value of v comes from: the environment, the config, TMPDIR
 * (SBMA_DIR) or the default. */
enum origin { O_ENV, O_CFG, O_TMPDIR, O_DEFAULT };

static enum origin origin_of(const struct env *e, size_t vi)
{
	if (set(e->val[vi]))
		return O_ENV;
	if (vars[vi].cfg && e->cfg_set[vi])
		return O_CFG;
	if (vars[vi].kind == K_DIR && set(e->val[KEY_TMPDIR]))
		return O_TMPDIR;
	return O_DEFAULT;
}

/* Predict variable vi of e into o (see predict_text); rounding 0: the
 * value before it is rounded to whole pages, which is what the range
 * applies to. */
static int predict(const struct env *e, size_t vi, int rounding, struct sbma__options *o)
{
	const struct var *v = &vars[vi];
	char def[32];

	switch (origin_of(e, vi)) {
	case O_ENV:
		return predict_text(e, v, e->val[vi], 0, rounding, o);
	case O_CFG:
		return predict_cfg(e, v, rounding, o);
	case O_TMPDIR:
		return predict_text(e, v, e->val[KEY_TMPDIR], 0, rounding, o);
	case O_DEFAULT:
		break;
	}
	if (v->kind == K_DIR)
		return predict_text(e, v, "/tmp", 1, rounding, o);
	if (!v->def) {
		/* SBMA_MAX_MAPS: half of vm.max_map_count, at least 64. */
		uint64_t half = e->max_map_count / 2;
		snprintf(def, sizeof def, "%llu", (unsigned long long)(half < 64 ? 64 : half));
		return predict_text(e, v, def, 1, rounding, o);
	}
	return predict_text(e, v, v->def, 1, rounding, o);
}

/* ---- documented ranges ---- */

static uint64_t percent_of_node(const struct env *e, unsigned pct)
{
	return (uint64_t)((unsigned __int128)e->node_mem * pct / 100);
}

static const char *range_page(const struct env *e, const struct sbma__options *o)
{
	uint64_t p = o->page_size;

	if (p < e->os_page || p % e->os_page || (p & (p - 1)) || p > 64 * MIB)
		return "SBMA_PAGE is not a power-of-two multiple of the OS page, at most 64M";
	return NULL;
}

static const char *range_budget(const struct env *e, const struct sbma__options *o)
{
	if (o->budget < 4 * (uint64_t)o->page_size)
		return "SBMA_BUDGET is below 4 SBMA pages";
	if (o->budget_pct > 100 || (o->budget_pct && o->budget != percent_of_node(e, o->budget_pct)))
		return "SBMA_BUDGET is not its percentage of the node's memory";
	return NULL;
}

static const char *range_min_alloc(const struct env *e, const struct sbma__options *o)
{
	(void)e;
	return o->min_alloc < 4096 ? "SBMA_MIN_ALLOC is below 4096" : NULL;
}

static const char *range_readahead(const struct env *e, const struct sbma__options *o)
{
	(void)e;
	return o->readahead % o->page_size ? "SBMA_READAHEAD is not whole SBMA pages" : NULL;
}

static const char *range_arena(const struct env *e, const struct sbma__options *o)
{
	uint64_t a = o->arena_size;

	(void)e;
	if (a < 64 * MIB || a > 64 * TIB)
		return "SBMA_ARENA is not from 64M to 64T";
	return NULL;
}

static const char *range_dir(const struct env *e, const struct sbma__options *o)
{
	const char *d = o->dir;
	struct stat st;

	(void)e;
	if (!memchr(d, '\0', sizeof o->dir) || strlen(d) >= sizeof o->dir - 64)
		return "SBMA_DIR is not shorter than PATH_MAX - 64";
	if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode) || access(d, W_OK | X_OK) != 0)
		return "SBMA_DIR is not a writable directory";
	return NULL;
}

static const char *range_max_maps(const struct env *e, const struct sbma__options *o)
{
	if (o->max_maps < 64 || o->max_maps >= e->max_map_count)
		return "SBMA_MAX_MAPS is not from 64 to below vm.max_map_count";
	return NULL;
}

static const char *range_job(const struct env *e, const struct sbma__options *o)
{
	const char *j = o->job;
	size_t n = strlen(j);

	(void)e;
	if (n > 64 || (n && (j[0] == '.' || strspn(j, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						   "0123456789._-") != n)))
		return "SBMA_JOB is not 1-64 letters, digits, '.', '_', '-' not starting with '.'";
	return NULL;
}

static const char *range_node_timeout(const struct env *e, const struct sbma__options *o)
{
	(void)e;
	if (o->node_timeout < 1 || o->node_timeout > 86400)
		return "SBMA_NODE_TIMEOUT is not from 1 to 86400";
	return NULL;
}

static const char *in_range(const struct env *e, size_t vi, const struct sbma__options *o)
{
	const struct var *v = &vars[vi];
	int64_t x = (int64_t)field_get(o, v);

	if (v->range)
		return v->range(e, o);
	for (const struct word *w = v->words; w->word; w++)
		if (w->value == x)
			return NULL;
	return "a word setting holds a value none of its words has";
}

/* Accepted: in range, the value given has the documented syntax, and the
 * setting is the one the documentation predicts. */
static void check_accepted(const struct env *e, const struct result *r)
{
	for (size_t i = 0; i < NVARS; i++) {
		const struct var *v = &vars[i];
		const char *val = e->val[i], *why = in_range(e, i, &r->opt);
		struct sbma__options want = r->opt;
		int w;

		if (why)
			fail(e, "accepted, but %s", why);
		if (v->round == 2 && field_get(&r->opt, v) % r->opt.page_size)
			fail(e, "accepted, but %s is not whole SBMA pages", v->name);
		if (set(val) &&
		    (v->kind == K_SIZE	   ? !size_syntax(val, 0)
		     : v->kind == K_BUDGET			   ? !size_syntax(val, 1)
		     : v->kind == K_COUNT			   ? !count_syntax(val)
		     : v->kind == K_WORD			   ? !find_word(v->words, val, &w)
								   : 0))
			fail(e, "%s: accepted a value that does not have the documented syntax", v->name);
		if (predict(e, i, 1, &want) && memcmp(&want, &r->opt, sizeof want) != 0)
			fail(e, "%s: accepted as %llu, documented to be %llu", v->name,
			     (unsigned long long)field_get(&r->opt, v), (unsigned long long)field_get(&want, v));
	}
}

/* ---- the error line ---- */

static int shown_verbatim(const char *v)
{
	size_t n = strlen(v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return n <= SHOWN_MAX;
}

const char *fuzz_options_check_line(const char *line, const char *name, const char *value,
				    const char *origin)
{
	size_t n = strlen(line), nl = strlen(name);
	char head[SHOWN_MAX + 160];

	if (n == 0)
		return "empty error line";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return line[i] == '\n' ? "error line is more than one line"
					       : "error line has a control character";
	if (n > LOG_LINE_MAX)
		return "error line too long: sbma__log would cut it";
	if (strncmp(line, name, nl) != 0 || strncmp(line + nl, "='", 2) != 0)
		return "error line does not start with NAME='";
	if (!strstr(line, ": expected "))
		return "error line does not say what was expected";
	if (value && shown_verbatim(value)) {
		snprintf(head, sizeof head, "%s='%s'%s: expected ", name, value, origin);
		if (strncmp(line, head, strlen(head)) != 0)
			return "error line does not show the value refused and where it came from";
	} else if (*origin && !strstr(line, origin)) {
		return "error line does not say where the value came from";
	}
	return NULL;
}

/* Which variable an error line names, or -1. */
static int named(const char *line)
{
	for (size_t i = 0; i < NVARS; i++) {
		size_t nl = strlen(vars[i].name);
		if (strncmp(line, vars[i].name, nl) == 0 && strncmp(line + nl, "='", 2) == 0)
			return (int)i;
	}
	return -1;
}

/* Position in the table of src/options.c. */
static size_t table_pos(const char *name)
{
	size_t i = 0;
	for (const char *n; (n = sbma__option_name(i)) != NULL; i++)
		if (strcmp(n, name) == 0)
			return i;
	return SIZE_MAX;
}

static void check_refusal(struct env *e, const struct result *r)
{
	int vi = named(r->msg);
	char origin[64] = "", num[32];
	const char *value = NULL, *why;

	if (vi < 0)
		fail(e, "error line names no variable: '%s'", r->msg);
	const struct var *v = &vars[vi];
	enum origin from = origin_of(e, (size_t)vi);
	if (from == O_ENV) {
		value = e->val[vi];
	} else if (from == O_CFG) {
		snprintf(origin, sizeof origin, " (from sbma_config.%s)", v->cfg);
		/* Shown as the parser sees the field: sizes unsigned, ints signed. */
		uint64_t x = num_at(&e->cfg, v->cfg_off, v->cfg_size, 1);
		if (v->kind == K_DIR)
			value = e->cfg_text[vi];
		else if (v->cfg_size == sizeof x)
			snprintf(num, sizeof num, "%llu", (unsigned long long)x);
		else
			snprintf(num, sizeof num, "%lld", (long long)(int64_t)x);
		if (v->kind != K_DIR)
			value = num;
	} else if (from == O_TMPDIR) {
		snprintf(origin, sizeof origin, " (the default, from TMPDIR)");
		value = e->val[KEY_TMPDIR];
	} else {
		snprintf(origin, sizeof origin, " (the default)");
	}
	why = fuzz_options_check_line(r->msg, v->name, value, origin);
	if (why)
		fail(e, "%s: '%s'", why, r->msg);

	/* The rows above are in r->opt (a load stops at the first bad row):
	 * the value refused must be out of its documented range there. */
	struct sbma__options want = r->opt;
	if (predict(e, (size_t)vi, 0, &want) && !in_range(e, (size_t)vi, &want))
		fail(e, "refused a value the documentation accepts: '%s'", r->msg);

	/* Without the variable named, the rows above it load as before (they
	 * do not depend on later rows) and it takes its default: the load
	 * must now pass it. */
	struct result again;
	load(e, vi, &again);
	if (again.rc == 0)
		return;
	int vj = named(again.msg);
	if (vj < 0 || table_pos(vars[vj].name) <= table_pos(v->name))
		fail(e, "without %s the load fails at or before it: '%s' (first: '%s')", v->name, again.msg,
		     r->msg);
}

/* The SBMA_VERBOSE listing of an accepted load: one line per variable, in
 * table order. */
static void check_listing(const struct env *e)
{
	char out[8192];
	int fd = memfd_create("fuzz_options", 0);
	ssize_t n;
	size_t i = 0;

	if (fd < 0)
		fail(e, "memfd_create: %s", strerror(errno));
	sbma__options_print(fd);
	n = pread(fd, out, sizeof out - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	for (char *line = out; *line; i++) {
		const char *name = sbma__option_name(i);
		char *end = strchr(line, '\n');
		if (!name || !end || strncmp(line, name, strlen(name)) != 0 || line[strlen(name)] != ' ')
			fail(e, "SBMA_VERBOSE listing: line %zu is not %s", i + 1, name ? name : "(none)");
		line = end + 1;
	}
	if (sbma__option_name(i))
		fail(e, "SBMA_VERBOSE listing stops before %s", sbma__option_name(i));
}

static void check_reads(const struct env *e, const struct result *r)
{
	if (r->stray)
		fail(e, "the parser read %s, which is not a variable of the table", r->stray_name);
	for (size_t k = 0; k < NENV; k++)
		if (r->reads[k] > 1)
			fail(e, "%s read %u times", k == KEY_TMPDIR ? "TMPDIR" : vars[k].name, r->reads[k]);
	if (r->rc == 0)
		for (size_t k = 0; k < NVARS; k++)
			if (r->reads[k] != 1)
				fail(e, "%s not read in a load that succeeded", vars[k].name);
}

/* The table and vars[] agree: a new variable needs its checks here. */
static void check_table(const struct env *e)
{
	size_t i = 0;
	for (const char *n; (n = sbma__option_name(i)) != NULL; i++) {
		size_t j = 0;
		while (j < NVARS && strcmp(vars[j].name, n) != 0)
			j++;
		if (j == NVARS)
			fail(e, "%s is in the table but the harness has no checks for it", n);
	}
	if (i != NVARS)
		fail(e, "the harness knows %zu variables, the table has %zu", NVARS, i);
	for (i = 0; cfg_var_of_key(NENV + i) >= 0; i++)
		;
	if (i != NCFG)
		fail(e, "NCFG is %d, but %zu variables have a config field", NCFG, i);
}

static uint64_t read_max_map_count(void)
{
	char buf[32];
	unsigned long long m = 0;

	if (sbma__os_read_text("/proc/sys/vm/max_map_count", buf, sizeof buf) > 0)
		m = strtoull(buf, NULL, 10);
	return m ? m : 65530;
}

/* For tests/test_fuzz_corpus.sh, which checks that the corpus has every
 * variable both accepted and refused: "verdict: accepted NAME..." (the
 * variables given a value) or "verdict: refused NAME". */
static void print_verdict(const struct env *e, const struct result *r)
{
	if (r->rc) {
		printf("verdict: refused %s\n", vars[named(r->msg)].name);
		return;
	}
	printf("verdict: accepted");
	for (size_t i = 0; i < NVARS; i++)
		if (origin_of(e, i) == O_ENV)
			printf(" %s", vars[i].name);
	printf("\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct env *e = calloc(1, sizeof *e);
	struct result *r1 = malloc(sizeof *r1), *r2 = malloc(sizeof *r2);
	char *buf = malloc(size + 1);

	if (!e || !r1 || !r2 || !buf)
		abort();
	e->hide = -1;
	e->os_page = (size_t)sysconf(_SC_PAGESIZE);
	e->node_mem = sbma__node_memory();
	e->max_map_count = read_max_map_count();
	check_table(e);
	decode(e, data, size, buf);

	load(e, -1, r1);
	check_reads(e, r1);
	if (r1->rc != 0 && r1->rc != -EINVAL)
		fail(e, "sbma__options_load_from returned %d", r1->rc);
	if ((r1->rc == 0) != (r1->msg[0] == '\0'))
		fail(e, "result %d with error line '%s'", r1->rc, r1->msg);
	if (r1->rc == 0) {
		check_accepted(e, r1);
		check_listing(e);
	} else {
		check_refusal(e, r1);
	}

	load(e, -1, r2);
	if (r2->rc != r1->rc || strcmp(r2->msg, r1->msg) != 0 || memcmp(&r2->opt, &r1->opt, sizeof r1->opt) != 0)
		fail(e, "the same input loaded twice gave different results");
	if (getenv("FUZZ_OPTIONS_VERDICT"))
		print_verdict(e, r1);

	free(buf);
	free(e);
	free(r1);
	free(r2);
	return 0;
}

/* Lines each check must refuse, and one it must accept. */
int fuzz_options_selftest(void)
{
	static const struct {
		const char *line, *name, *value, *origin;
		int ok;
	} cases[] = {
		{ "SBMA_PAGE='abc': expected a size", "SBMA_PAGE", "abc", "", 1 },
		{ "SBMA_PAGE='abc' (from sbma_config.page_size): expected a size", "SBMA_PAGE", NULL,
		  " (from sbma_config.page_size)", 1 },
		{ "='abc': expected a size", "SBMA_PAGE", "abc", "", 0 },
		{ "SBMA_BUDGET='abc': expected a size", "SBMA_PAGE", "abc", "", 0 },
		{ "SBMA_PAGE='abc'", "SBMA_PAGE", "abc", "", 0 },
		{ "SBMA_PAGE='ab\nc': expected a size", "SBMA_PAGE", NULL, "", 0 },
		{ "SBMA_PAGE='ab\033c': expected a size", "SBMA_PAGE", NULL, "", 0 },
		{ "SBMA_PAGE='xyz': expected a size", "SBMA_PAGE", "abc", "", 0 },
		{ "SBMA_PAGE='abc': expected a size", "SBMA_PAGE", "abc", " (the default)", 0 },
		{ "SBMA_PAGE='abc': expected a size", "SBMA_PAGE", NULL, " (from sbma_config.page_size)", 0 },
	};
	char longline[LOG_LINE_MAX + 40];
	int bad = 0;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *why = fuzz_options_check_line(cases[i].line, cases[i].name, cases[i].value,
							  cases[i].origin);
		if ((why == NULL) != cases[i].ok) {
			fprintf(stderr, "selftest: line %zu ('%s') %s\n", i, cases[i].line,
				why ? why : "passed the check");
			bad++;
		}
	}
	snprintf(longline, sizeof longline, "SBMA_JOB='%0*d': expected a name", LOG_LINE_MAX, 7);
	if (!fuzz_options_check_line(longline, "SBMA_JOB", NULL, "")) {
		fprintf(stderr, "selftest: a line sbma__log would cut passed the check\n");
		bad++;
	}
	return bad;
}
