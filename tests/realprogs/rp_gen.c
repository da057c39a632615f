/*
 * rp_gen.c - deterministic input data for tests/test_realprogs.sh.
 *
 * The real-program tests need a few hundred MiB of input that is the same
 * on every machine and every run (the output of each program is compared
 * byte for byte between a run with SBMA and one without, and the sizes
 * decide how much paging happens), made fast (no python, no /dev/urandom),
 * and realistic enough that sort, diff, the compressors and awk do real
 * work: text lines with random keys, numbers and words from a fixed
 * vocabulary (so it compresses about as well as prose, 3-4x).
 *
 *   rp_gen text BYTES SEED [EDIT]   lines "key<TAB>number<TAB>words..." up
 *                                   to BYTES (suffixes K, M); EDIT = n > 0
 *                                   changes every n-th line (diff's input)
 *   rp_gen log BYTES SEED           a log: "time level component message",
 *                                   times increasing with local disorder
 *                                   (a few hundred lines out of place)
 *   rp_gen csrc NFUNC SEED [NTAB]   a C file of NFUNC functions, a table of
 *                                   NTAB constants (a large initializer:
 *                                   cc1 keeps it in one growing array),
 *                                   and a main that prints a sum of all
 *   rp_gen mutate FILE              change one byte in the middle of FILE
 *                                   (a letter or digit into another one):
 *                                   RP_MUTATE=1 of the test uses it to show
 *                                   that every comparison can fail
 *
 * Output on stdout. Exit 0, 1 on an I/O error, 2 on a usage error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

/* splitmix64: tiny, fast, and the same sequence everywhere. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned long long parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end) {
		fprintf(stderr, "rp_gen: bad size '%s'\n", s);
		exit(2);
	}
	return v;
}

#define NWORDS 4096
static char words[NWORDS][12];

/* The vocabulary does not depend on the seed: files made with different
 * seeds share words, as real text does. */
static void make_words(void)
{
	static const char cons[] = "bcdfghjklmnprstvwz", vow[] = "aeiou";
	rng_state = 42;
	for (int i = 0; i < NWORDS; i++) {
		int syl = 1 + (int)(rnd() % 4);
		char *w = words[i];
		for (int s = 0; s < syl; s++) {
			*w++ = cons[rnd() % (sizeof cons - 1)];
			*w++ = vow[rnd() % (sizeof vow - 1)];
		}
		if (rnd() % 3 == 0)
			*w++ = cons[rnd() % (sizeof cons - 1)];
		*w = 0;
	}
}

static void gen_text(unsigned long long bytes, uint64_t seed, unsigned long long edit)
{
	make_words();
	rng_state = seed * 0x2545f4914f6cdd1dull + 1;
	unsigned long long out = 0, lineno = 0;
	char line[256];
	while (out < bytes) {
		lineno++;
		char *p = line;
		for (int i = 0; i < 10; i++)
			*p++ = (char)('a' + rnd() % 26);
		/* Zipf-like word choice: a few words are frequent, as in text,
		 * which gives awk and perl a skewed histogram to count. */
		p += sprintf(p, "\t%" PRIu64, rnd() % 1000000);
		int nw = 3 + (int)(rnd() % 6);
		for (int i = 0; i < nw; i++) {
			uint64_t r = rnd();
			unsigned idx = (unsigned)((r % NWORDS) * ((r >> 32) % NWORDS) / NWORDS);
			p += sprintf(p, "%c%s", i ? ' ' : '\t', words[idx]);
		}
		if (edit && lineno % edit == 0)
			p += sprintf(p, " edited%llu", lineno);
		*p++ = '\n';
		fwrite(line, 1, (size_t)(p - line), stdout);
		out += (unsigned long long)(p - line);
	}
}

/* Nearly sorted input: what sorting or merging logs looks like. Sorting it
 * touches the buffer in a few sequential streams, where random keys make
 * every comparison a random access (see docs/realprogs.md). */
static void gen_log(unsigned long long bytes, uint64_t seed)
{
	static const char *lvl[] = {"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"};
	make_words();
	rng_state = seed * 0x2545f4914f6cdd1dull + 3;
	unsigned long long out = 0, lineno = 0;
	char line[256];
	while (out < bytes) {
		lineno++;
		uint64_t t = 1700000000000ull + lineno * 20 + rnd() % 4000;
		char *p = line;
		p += sprintf(p, "%" PRIu64 ".%03u %s %s[%u]:", t / 1000, (unsigned)(t % 1000), lvl[rnd() % 6],
		             words[rnd() % 64], (unsigned)(rnd() % 32768));
		int nw = 4 + (int)(rnd() % 8);
		for (int i = 0; i < nw; i++)
			p += sprintf(p, " %s", words[rnd() % NWORDS]);
		*p++ = '\n';
		fwrite(line, 1, (size_t)(p - line), stdout);
		out += (unsigned long long)(p - line);
	}
}

static void gen_csrc(unsigned long nfunc, uint64_t seed, unsigned long ntab)
{
	rng_state = seed * 0x2545f4914f6cdd1dull + 7;
	static const char *ops[] = {"+", "-", "*", "^", "|", "&"};
	printf("#include <stdio.h>\n#include <stdint.h>\n\n");
	printf("static const uint32_t tab[%lu] = {\n", ntab + 1);
	for (unsigned long i = 0; i < ntab; i++)
		printf("%" PRIu32 "u,%s", (uint32_t)rnd(), i % 8 == 7 ? "\n" : " ");
	printf("0u};\n\n");
	for (unsigned long f = 0; f < nfunc; f++) {
		printf("static uint64_t f%lu(uint64_t x, const uint64_t *t)\n{\n", f);
		printf("\tuint64_t a = x, b = x * %" PRIu64 "u;\n", rnd() % 1000 + 1);
		printf("\tfor (int i = 0; i < %d; i++) {\n", (int)(rnd() % 7) + 2);
		int n = 6 + (int)(rnd() % 10);
		for (int s = 0; s < n; s++) {
			const char *v = (rnd() & 1) ? "a" : "b";
			printf("\t\t%s = (%s %s %" PRIu64 "u) %s t[(%s + i) & 15];\n", v, (rnd() & 1) ? "a" : "b",
			       ops[rnd() % 6], rnd() % 100000, ops[rnd() % 3], v);
			if (rnd() % 4 == 0)
				printf("\t\tif (%s > %" PRIu64 "u) %s >>= %d;\n", v, rnd(), v, (int)(rnd() % 13) + 1);
		}
		printf("\t}\n\treturn a ^ (b << 1);\n}\n\n");
	}
	printf("int main(void)\n{\n\tuint64_t t[16], s = 0;\n");
	printf("\tfor (int i = 0; i < 16; i++)\n\t\tt[i] = (uint64_t)i * 0x9e3779b97f4a7c15u;\n");
	for (unsigned long f = 0; f < nfunc; f++)
		printf("\ts += f%lu(s + %lu, t);\n", f, f);
	printf("\tfor (unsigned long i = 0; i < %lu; i++)\n\t\ts = s * 31 + tab[i];\n", ntab + 1);
	printf("\tprintf(\"%%llu\\n\", (unsigned long long)s);\n\treturn 0;\n}\n");
}

static int mutate(const char *path)
{
	FILE *f = fopen(path, "r+b");
	if (!f || fseek(f, 0, SEEK_END) != 0) {
		perror(path);
		return 1;
	}
	long size = ftell(f);
	for (long off = size / 2; off < size; off++) {
		int c;
		if (fseek(f, off, SEEK_SET) != 0 || (c = fgetc(f)) == EOF)
			break;
		int d = c >= 'a' && c <= 'z'   ? 'a' + (c - 'a' + 1) % 26
		        : c >= 'A' && c <= 'Z' ? 'A' + (c - 'A' + 1) % 26
		        : c >= '0' && c <= '9' ? '0' + (c - '0' + 1) % 10
		                               : -1;
		if (d < 0)
			continue;
		if (fseek(f, off, SEEK_SET) != 0 || fputc(d, f) == EOF)
			break;
		return fclose(f) == 0 ? 0 : 1;
	}
	fprintf(stderr, "rp_gen: %s: nothing to change\n", path);
	fclose(f);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "text")) {
		gen_text(parse_size(argv[2]), strtoull(argv[3], NULL, 10), argc > 4 ? strtoull(argv[4], NULL, 10) : 0);
	} else if (argc == 4 && !strcmp(argv[1], "log")) {
		gen_log(parse_size(argv[2]), strtoull(argv[3], NULL, 10));
	} else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "csrc")) {
		gen_csrc(strtoul(argv[2], NULL, 10), strtoull(argv[3], NULL, 10),
		         argc > 4 ? strtoul(argv[4], NULL, 10) : 0);
	} else if (argc == 3 && !strcmp(argv[1], "mutate")) {
		return mutate(argv[2]);
	} else {
		fprintf(stderr, "usage: rp_gen text BYTES SEED [EDIT] | log BYTES SEED | csrc NFUNC SEED\n");
		return 2;
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
