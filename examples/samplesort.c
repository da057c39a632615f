/*
 * samplesort.c - a parallel sample sort of uint64_t keys: the all-to-all
 * out-of-core workload (every key crosses the network once, every array is
 * streamed and scattered).
 *
 * Each rank generates n keys (-m MiB) from a hash of the key's global
 * index; one key in eight comes from a set of 1024 values, so that there
 * are many equal keys, also equal to splitters. Then:
 *   1. every rank takes 256 keys at pseudo-random places, MPI_Allgather of
 *      the samples, and every rank sorts them and picks the same P-1
 *      splitters;
 *   2. every rank counts its keys per destination (binary search over the
 *      splitters, equal keys go up), MPI_Alltoall of the counts, copies its
 *      keys into a send buffer grouped by destination, MPI_Alltoallv;
 *   3. every rank sorts what it received (LSD radix sort, -b bits a pass,
 *      8 by default).
 *
 * How it verifies: each rank reads its result once and checks that it is
 * in order; neighbours exchange their first and last keys (MPI_Sendrecv)
 * and check that the boundary is in order too, and an MPI_Exscan of the
 * largest key so far covers ranks that received nothing. The multiset is
 * preserved if the count, the sum and the sum of a 64-bit hash of all keys
 * are the same before (computed as the keys are generated) and after
 * (MPI_Allreduce of each): a lost, duplicated, stale or changed key changes
 * the hash sum except with probability ~2^-64.
 *
 * Usage: samplesort [-m MiB of keys per rank (4)] [-b radix bits a pass (8)]
 *
 * Memory: the keys and one buffer of the same size at any time, so about
 * twice -m per rank (a little more on a rank that receives more than its
 * share; the line reports the largest share).
 *
 * Output: rank 0 prints one line starting with PASS or FAIL with the times
 * (maximum over ranks); details go to stderr. Exit status 0 on PASS, 1 on
 * FAIL (reduced over all ranks), 2 on bad usage.
 *
 * EXAMPLE_CORRUPT=<what> (test only) makes the last rank damage its sorted
 * keys before the check; the run must then FAIL: bit (or 1) flips one bit
 * of one key, swap exchanges two unequal neighbouring keys.
 *
 * Plain MPI and malloc: SBMA comes from -lsbma-pmpi or LD_PRELOAD.
 */
#include <inttypes.h>
#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "example_util.h"

#define SAMPLES_PER_RANK 256

enum corruption { CORRUPT_NONE, CORRUPT_BIT, CORRUPT_SWAP };

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* Key number g of the whole input. */
static inline uint64_t make_key(uint64_t g)
{
	return (g & 7) == 0 ? mix64((g >> 3) % 1024 + 0xABCDEF) : mix64(g ^ 0x2545F4914F6CDD1DULL);
}

/* The hash that the multiset check sums (not make_key's). */
static inline uint64_t key_hash(uint64_t k)
{
	return mix64(k * 0xD6E8FEB86659FD93ULL + 0x8CB92BA72F3D8DD7ULL);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The rank a key goes to: the number of splitters <= key. */
static inline int destination(uint64_t key, const uint64_t *split, int nsplit)
{
	int lo = 0, hi = nsplit;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (split[mid] <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void *xmalloc(size_t bytes, int rank, const char *what)
{
	void *p = malloc(bytes ? bytes : 1);
	if (!p) {
		fprintf(stderr, "samplesort: rank %d: malloc of %zu MiB for %s failed\n", rank, bytes >> 20, what);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	return p;
}

#define MAX_DIGIT_BITS 16

/* Sort a[0..n) using tmp[0..n), `bits` bits a pass (1..MAX_DIGIT_BITS);
 * returns the buffer holding the result (a or tmp). Each pass reads one
 * stream and writes 2^bits streams: out of core, about 2^bits pages of the
 * destination must stay resident, which is what -b trades against the
 * number of passes. Passes where all keys share the digit are skipped. */
static uint64_t *radix_sort(uint64_t *a, uint64_t *tmp, size_t n, int bits, int rank)
{
	const int passes = (64 + bits - 1) / bits;
	const size_t nb = (size_t)1 << bits;
	const uint64_t mask = nb - 1;
	size_t *hist = xmalloc(passes * nb * sizeof *hist, rank, "histograms");
	memset(hist, 0, passes * nb * sizeof *hist);
	for (size_t i = 0; i < n; i++) {
		uint64_t k = a[i];
		for (int d = 0; d < passes; d++)
			hist[d * nb + ((k >> (bits * d)) & mask)]++;
	}
	uint64_t *src = a, *dst = tmp;
	for (int d = 0; d < passes; d++) {
		size_t *h = hist + d * nb, pos = 0;
		int trivial = 0;
		for (size_t b = 0; b < nb; b++) {
			if (h[b] == n)
				trivial = 1;
			size_t c = h[b];
			h[b] = pos;
			pos += c;
		}
		if (trivial)
			continue;
		const int shift = bits * d;
		for (size_t i = 0; i < n; i++) {
			uint64_t k = src[i];
			dst[h[(k >> shift) & mask]++] = k;
		}
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	free(hist);
	return src;
}

static void usage(int rank)
{
	if (rank == 0)
		fprintf(stderr, "usage: samplesort [-m MiB of keys per rank (4)] [-b radix bits a pass (8), 1..16]\n");
}

int main(int argc, char **argv)
{
	int rank, nranks;
	example_init(&argc, &argv, &rank, &nranks);

	/* Alltoallv counts and displacements are ints: at most 2^31 - 1 keys
	 * received by one rank, so 8 GiB of keys per rank at most (and half
	 * that leaves room for an unlucky split). */
	long long mib = 4, bits = 8;
	int opt, bad = 0;
	opterr = rank == 0;
	while ((opt = getopt(argc, argv, "m:b:")) != -1) {
		switch (opt) {
		case 'm':
			bad |= (mib = example_parse_pos(optarg, 4096)) < 0;
			break;
		case 'b':
			bad |= (bits = example_parse_pos(optarg, MAX_DIGIT_BITS)) < 0;
			break;
		default:
			bad = 1;
		}
	}
	if (optind != argc)
		bad = 1;
	enum corruption corrupt = CORRUPT_NONE;
	const char *ce = getenv("EXAMPLE_CORRUPT");
	if (ce && *ce && strcmp(ce, "0") != 0) {
		if (strcmp(ce, "1") == 0 || strcmp(ce, "bit") == 0)
			corrupt = CORRUPT_BIT;
		else if (strcmp(ce, "swap") == 0)
			corrupt = CORRUPT_SWAP;
		else {
			if (rank == 0)
				fprintf(stderr, "samplesort: EXAMPLE_CORRUPT=%s: expected bit or swap\n", ce);
			bad = 1;
		}
		if (rank != nranks - 1)
			corrupt = CORRUPT_NONE;
	}
	if (bad) {
		usage(rank);
		MPI_Finalize();
		return 2;
	}
	const size_t n = (size_t)mib * (1u << 20) / sizeof(uint64_t);

	double t0 = MPI_Wtime();
	uint64_t *keys = xmalloc(n * sizeof *keys, rank, "the keys");
	/* before: count, sum, hash sum; after: the same */
	uint64_t ms[6] = {n, 0, 0, 0, 0, 0};
	for (size_t i = 0; i < n; i++) {
		uint64_t k = make_key((uint64_t)rank * n + i);
		keys[i] = k;
		ms[1] += k;
		ms[2] += key_hash(k);
	}
	double t_gen = MPI_Wtime() - t0;

	/* 1. splitters */
	double ta = MPI_Wtime();
	const int nsample = SAMPLES_PER_RANK, nsplit = nranks - 1;
	uint64_t mysample[SAMPLES_PER_RANK];
	for (int s = 0; s < nsample; s++)
		mysample[s] = keys[mix64((uint64_t)rank * nsample + (uint64_t)s) % n];
	uint64_t *samples = xmalloc((size_t)nsample * nranks * sizeof *samples, rank, "samples");
	MPI_Allgather(mysample, nsample, MPI_UINT64_T, samples, nsample, MPI_UINT64_T, MPI_COMM_WORLD);
	double tb = MPI_Wtime();
	qsort(samples, (size_t)nsample * nranks, sizeof *samples, cmp_u64);
	uint64_t *split = xmalloc((nsplit + 1) * sizeof *split, rank, "splitters");
	for (int q = 0; q < nsplit; q++)
		split[q] = samples[(size_t)(q + 1) * nsample];
	free(samples);

	/* 2. partition and exchange */
	int *scount = xmalloc(nranks * sizeof(int), rank, "counts"),
	    *rcount = xmalloc(nranks * sizeof(int), rank, "counts");
	int *sdispl = xmalloc(nranks * sizeof(int), rank, "counts"),
	    *rdispl = xmalloc(nranks * sizeof(int), rank, "counts");
	size_t *fill = xmalloc(nranks * sizeof *fill, rank, "counts");
	memset(fill, 0, nranks * sizeof *fill);
	for (size_t i = 0; i < n; i++)
		fill[destination(keys[i], split, nsplit)]++;
	for (int q = 0, off = 0; q < nranks; q++) {
		scount[q] = (int)fill[q];
		sdispl[q] = off;
		fill[q] = (size_t)off;
		off += scount[q];
	}
	uint64_t *sendbuf = xmalloc(n * sizeof *sendbuf, rank, "the send buffer");
	for (size_t i = 0; i < n; i++) {
		uint64_t k = keys[i];
		sendbuf[fill[destination(k, split, nsplit)]++] = k;
	}
	free(keys);
	double tc = MPI_Wtime();
	MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, MPI_COMM_WORLD);
	long long m = 0;
	for (int q = 0; q < nranks; q++) {
		rdispl[q] = (int)m;
		m += rcount[q];
	}
	if (m > INT_MAX) {
		fprintf(stderr, "samplesort: rank %d would receive %lld keys, more than an int counts\n", rank, m);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	uint64_t *recvbuf = xmalloc((size_t)m * sizeof *recvbuf, rank, "the receive buffer");
	MPI_Alltoallv(sendbuf, scount, sdispl, MPI_UINT64_T, recvbuf, rcount, rdispl, MPI_UINT64_T, MPI_COMM_WORLD);
	double td = MPI_Wtime();
	free(sendbuf);

	/* 3. local sort */
	uint64_t *tmp = xmalloc((size_t)m * sizeof *tmp, rank, "the sort buffer");
	uint64_t *sorted = radix_sort(recvbuf, tmp, (size_t)m, (int)bits, rank);
	free(sorted == recvbuf ? tmp : recvbuf);
	double te = MPI_Wtime();

	if (corrupt == CORRUPT_BIT && m > 0)
		sorted[m / 2] ^= 1u << 3;
	if (corrupt == CORRUPT_SWAP)
		for (long long i = m / 2; i + 1 < m; i++)
			if (sorted[i] != sorted[i + 1]) {
				uint64_t t = sorted[i];
				sorted[i] = sorted[i + 1];
				sorted[i + 1] = t;
				break;
			}

	/* Verify: local order and multiset in one pass, then the boundaries. */
	long long disorder = 0;
	ms[3] = (uint64_t)m;
	for (long long i = 0; i < m; i++) {
		uint64_t k = sorted[i];
		if (i > 0 && sorted[i - 1] > k && disorder++ < 3)
			fprintf(stderr, "samplesort: rank %d: key %lld (%#" PRIx64 ") > key %lld (%#" PRIx64 ")\n",
			        rank, i - 1, sorted[i - 1], i, k);
		ms[4] += k;
		ms[5] += key_hash(k);
	}
	/* [has keys, first, last] to the neighbours */
	uint64_t mine[3] = {m > 0, m > 0 ? sorted[0] : 0, m > 0 ? sorted[m - 1] : 0}, fromleft[3] = {0, 0, 0},
	         fromright[3] = {0, 0, 0};
	const int left = rank > 0 ? rank - 1 : MPI_PROC_NULL, right = rank < nranks - 1 ? rank + 1 : MPI_PROC_NULL;
	MPI_Sendrecv(mine, 3, MPI_UINT64_T, right, 1, fromleft, 3, MPI_UINT64_T, left, 1, MPI_COMM_WORLD,
	             MPI_STATUS_IGNORE);
	MPI_Sendrecv(mine, 3, MPI_UINT64_T, left, 2, fromright, 3, MPI_UINT64_T, right, 2, MPI_COMM_WORLD,
	             MPI_STATUS_IGNORE);
	long long boundary = 0;
	if (fromleft[0] && mine[0] && fromleft[2] > mine[1])
		boundary++;
	if (fromright[0] && mine[0] && mine[2] > fromright[1])
		boundary++;
	uint64_t maxbefore = 0, mymax = mine[0] ? mine[2] : 0;
	MPI_Exscan(&mymax, &maxbefore, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
	if (rank > 0 && mine[0] && maxbefore > mine[1])
		boundary++;
	if (boundary)
		fprintf(stderr,
		        "samplesort: rank %d: out of order with a neighbour (%#" PRIx64 " .. %#" PRIx64
		        ", left ends at %#" PRIx64 ", right starts at %#" PRIx64 ")\n",
		        rank, mine[1], mine[2], fromleft[2], fromright[1]);
	double tf = MPI_Wtime();
	free(sorted);

	MPI_Allreduce(MPI_IN_PLACE, ms, 6, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
	long long errs[2] = {disorder, boundary};
	MPI_Allreduce(MPI_IN_PLACE, errs, 2, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
	long long mmax = m;
	MPI_Allreduce(MPI_IN_PLACE, &mmax, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
	const int same = ms[0] == ms[3] && ms[1] == ms[4] && ms[2] == ms[5];
	const int pass = same && errs[0] == 0 && errs[1] == 0;

	double times[6] = {MPI_Wtime() - t0, t_gen, (tb - ta) + (td - tc), (tc - tb), te - td, tf - te}, tmax[6];
	MPI_Reduce(times, tmax, 6, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	if (rank == 0) {
		if (!same)
			fprintf(stderr,
			        "samplesort: the multiset changed: count %" PRIu64 " -> %" PRIu64 ", sum %#" PRIx64
			        " -> %#" PRIx64 ", hash sum %#" PRIx64 " -> %#" PRIx64 "\n",
			        ms[0], ms[3], ms[1], ms[4], ms[2], ms[5]);
		printf("%s samplesort: %d ranks x %lld MiB, %" PRIu64
		       " keys, radix %lld bits: %lld out of order, %lld bad boundaries, "
		       "multiset %s, largest share %.3f x the mean; time %.3f s (generate %.3f, mpi %.3f, partition "
		       "%.3f, local sort %.3f, verify %.3f; max over ranks)\n",
		       pass ? "PASS" : "FAIL", nranks, mib, ms[0], bits, errs[0], errs[1], same ? "kept" : "CHANGED",
		       (double)mmax * nranks / (double)ms[0], tmax[0], tmax[1], tmax[2], tmax[3], tmax[4], tmax[5]);
		fflush(stdout);
	}
	free(split);
	free(scount);
	free(rcount);
	free(sdispl);
	free(rdispl);
	free(fill);
	MPI_Finalize();
	return pass ? 0 : 1;
}
