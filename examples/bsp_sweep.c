/*
 * bsp_sweep.c - a bulk-synchronous stencil sweep over one large array per
 * MPI rank: the regular, streaming out-of-core workload.
 *
 * The ranks hold consecutive slices of one global array of N = P * n
 * uint64_t (n from -m). Each superstep s:
 *   1. every rank sends the first and the last H elements of its slice
 *      (-h) to its left and right neighbours with MPI_Sendrecv, straight
 *      from and into the large array (the ghost zones are part of it), so a
 *      library that moves the array's pages must keep MPI's buffers intact;
 *   2. it checks every received ghost element against its closed form;
 *   3. it updates its whole slice in place with the three-point stencil
 *          a'[g] = a[g-1] + a[g+1] - a[g] + c(s)      (mod 2^64)
 *      summing the new values as it goes;
 *   4. MPI_Allreduce of (sum, expected sum) and an MPI_Barrier.
 *
 * Why this verifies every element bit-exactly: the array starts as the
 * quadratic v0(g) = A g^2 + B g + G, and in the ring of integers mod 2^64
 *     v(g-1) + v(g+1) - v(g) = v(g) + 2A    for any quadratic with leading A,
 * so after s supersteps every element is
 *     v_s(g) = A g^2 + B g + G + 2 A s + C_s,   C_s = c(0) + ... + c(s-1).
 * The global ends use ghost values from the same formula (g = -1 and g = N,
 * taken mod 2^64, satisfy it too). Any stale, lost, zeroed or misplaced page
 * changes values (each element's value depends on g and s) and the change
 * spreads to its neighbours on later supersteps; the end checks EVERY
 * element against v_S(g), and the per-superstep checksum (whose expected
 * value comes from sums of g and g^2 computed once at the start) names the
 * first superstep after which something went wrong.
 *
 * Usage: bsp_sweep [-m MiB per rank (4)] [-s supersteps (10)] [-h halo elements (1024)]
 *
 * Memory: -m MiB per rank plus 2H elements of ghosts, nothing else.
 *
 * Output: rank 0 prints one line starting with PASS or FAIL, with the times
 * (maximum over ranks); details of failures go to stderr. Exit status 0 on
 * PASS, 1 on FAIL (the verdict is reduced over all ranks), 2 on bad usage.
 *
 * EXAMPLE_CORRUPT=1 (test only): the last rank flips one bit of one element
 * after the middle superstep; the run must then FAIL.
 *
 * Plain MPI and malloc: SBMA comes from -lsbma-pmpi or LD_PRELOAD.
 */
#include <inttypes.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "example_util.h"

#define COEF_A 0x9E3779B97F4A7C15ULL
#define COEF_B 0xC2B2AE3D27D4EB4FULL
#define COEF_G 0x165667B19E3779F9ULL

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* The constant added by superstep s. */
static uint64_t step_const(int s)
{
	return mix64((uint64_t)s + 1000);
}

/* v_s(g) with C_s given: the value of global element g after s supersteps. */
static inline uint64_t closed_form(uint64_t g, uint64_t s, uint64_t cs)
{
	return COEF_A * g * g + COEF_B * g + COEF_G + 2 * COEF_A * s + cs;
}

static void usage(int rank)
{
	if (rank == 0)
		fprintf(stderr,
		        "usage: bsp_sweep [-m MiB per rank (4)] [-s supersteps (10)] [-h halo elements (1024)]\n");
}

int main(int argc, char **argv)
{
	int rank, nranks;
	example_init(&argc, &argv, &rank, &nranks);

	long long mib = 4, steps = 10, halo = 1024;
	int opt, bad = 0;
	opterr = rank == 0;
	while ((opt = getopt(argc, argv, "m:s:h:")) != -1) {
		switch (opt) {
		case 'm':
			bad |= (mib = example_parse_pos(optarg, INT32_MAX)) < 0;
			break;
		case 's':
			bad |= (steps = example_parse_pos(optarg, INT32_MAX)) < 0;
			break;
		case 'h':
			bad |= (halo = example_parse_pos(optarg, INT32_MAX)) < 0;
			break;
		default:
			bad = 1;
		}
	}
	uint64_t n = (uint64_t)mib * (1u << 20) / sizeof(uint64_t);
	if (!bad && optind != argc)
		bad = 1;
	if (!bad && (uint64_t)halo > n) {
		if (rank == 0)
			fprintf(stderr, "bsp_sweep: the halo (%lld) is larger than the slice (%" PRIu64 " elements)\n",
			        halo, n);
		bad = 1;
	}
	if (bad) {
		usage(rank);
		MPI_Finalize();
		return 2;
	}
	const uint64_t h = (uint64_t)halo;
	const char *corrupt = getenv("EXAMPLE_CORRUPT");
	int do_corrupt = corrupt && *corrupt && strcmp(corrupt, "0") != 0 && rank == nranks - 1;

	double t0 = MPI_Wtime();
	/* [0, h) left ghosts, [h, h+n) this rank's slice, [h+n, 2h+n) right ghosts */
	uint64_t *buf = malloc((n + 2 * h) * sizeof *buf);
	if (!buf) {
		fprintf(stderr, "bsp_sweep: rank %d: malloc of %" PRIu64 " MiB failed\n", rank,
		        ((n + 2 * h) * sizeof *buf) >> 20);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	uint64_t *a = buf + h;
	const uint64_t first = (uint64_t)rank * n, nglobal = (uint64_t)nranks * n;
	const int left = rank > 0 ? rank - 1 : MPI_PROC_NULL;
	const int right = rank < nranks - 1 ? rank + 1 : MPI_PROC_NULL;

	/* Sums of g and g^2 over the slice give every superstep's expected
	 * checksum without touching the array again. */
	uint64_t sum_g = 0, sum_g2 = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t g = first + i;
		a[i] = closed_form(g, 0, 0);
		sum_g += g;
		sum_g2 += g * g;
	}
	double t_init = MPI_Wtime() - t0, t_compute = 0, t_mpi = 0, t_check = 0;

	uint64_t cs = 0; /* C_s */
	long long ghost_errors = 0, sum_errors = 0;
	int first_bad_step = -1;
	for (int s = 0; s < steps; s++) {
		double ta = MPI_Wtime();
		/* to the left neighbour my first h, from the right one its first h */
		MPI_Sendrecv(a, (int)h, MPI_UINT64_T, left, 1, a + n, (int)h, MPI_UINT64_T, right, 1, MPI_COMM_WORLD,
		             MPI_STATUS_IGNORE);
		MPI_Sendrecv(a + n - h, (int)h, MPI_UINT64_T, right, 2, buf, (int)h, MPI_UINT64_T, left, 2,
		             MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		double tb = MPI_Wtime();

		/* The global ends have no neighbour: their ghosts follow the closed
		 * form. Received ghosts must match it (they are the neighbours'
		 * values before this superstep). */
		long long gbad = 0;
		for (uint64_t k = 0; k < h; k++) {
			uint64_t gl = first - h + k, gr = first + n + k;
			if (left == MPI_PROC_NULL)
				buf[k] = closed_form(gl, (uint64_t)s, cs);
			else if (buf[k] != closed_form(gl, (uint64_t)s, cs))
				gbad++;
			if (right == MPI_PROC_NULL)
				a[n + k] = closed_form(gr, (uint64_t)s, cs);
			else if (a[n + k] != closed_form(gr, (uint64_t)s, cs))
				gbad++;
		}
		if (gbad && ghost_errors == 0)
			fprintf(stderr, "bsp_sweep: rank %d: %lld wrong ghost elements received in superstep %d\n",
			        rank, gbad, s);
		ghost_errors += gbad;
		double tc = MPI_Wtime();

		const uint64_t c = step_const(s);
		uint64_t prev = a[-1], sum = 0;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t cur = a[i];
			uint64_t v = prev + a[i + 1] - cur + c;
			a[i] = v;
			sum += v;
			prev = cur;
		}
		cs += c;
		if (do_corrupt && s == steps / 2)
			a[n / 2] ^= 1u << 7;
		double td = MPI_Wtime();

		uint64_t s1 = (uint64_t)s + 1;
		uint64_t sums[2] = {sum, COEF_A * sum_g2 + COEF_B * sum_g + n * (COEF_G + 2 * COEF_A * s1 + cs)};
		MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
		if (sums[0] != sums[1]) {
			if (first_bad_step < 0)
				first_bad_step = s;
			sum_errors++;
		}
		MPI_Barrier(MPI_COMM_WORLD);
		double te = MPI_Wtime();
		t_mpi += (tb - ta) + (te - td);
		t_check += tc - tb;
		t_compute += td - tc;
	}
	if (rank == 0 && first_bad_step >= 0)
		fprintf(stderr, "bsp_sweep: the checksum first went wrong in superstep %d (%lld of %lld supersteps)\n",
		        first_bad_step, sum_errors, steps);

	/* Every element against the closed form. */
	double tv = MPI_Wtime();
	long long wrong = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t want = closed_form(first + i, (uint64_t)steps, cs);
		if (a[i] != want) {
			if (wrong < 3)
				fprintf(stderr,
				        "bsp_sweep: rank %d: element %" PRIu64 " (global %" PRIu64 ") is %#" PRIx64
				        ", expected %#" PRIx64 "\n",
				        rank, i, first + i, a[i], want);
			wrong++;
		}
	}
	double t_verify = MPI_Wtime() - tv;
	free(buf);

	long long counts[2] = {wrong, ghost_errors}, total[2];
	MPI_Reduce(counts, total, 2, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
	double times[6] = {MPI_Wtime() - t0, t_init, t_compute, t_mpi, t_check, t_verify}, tmax[6];
	MPI_Reduce(times, tmax, 6, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	int pass = 0;
	if (rank == 0) {
		pass = total[0] == 0 && total[1] == 0 && sum_errors == 0;
		printf(
		    "%s bsp_sweep: %d ranks x %lld MiB (%" PRIu64 " elements), %lld supersteps, halo %" PRIu64
		    ": %lld wrong elements, %lld wrong ghosts, %lld wrong checksums; "
		    "time %.3f s (init %.3f, compute %.3f, mpi %.3f, ghost check %.3f, verify %.3f; max over ranks)\n",
		    pass ? "PASS" : "FAIL", nranks, mib, nglobal, steps, h, total[0], total[1], sum_errors, tmax[0],
		    tmax[1], tmax[2], tmax[3], tmax[4], tmax[5]);
		fflush(stdout);
	}
	MPI_Bcast(&pass, 1, MPI_INT, 0, MPI_COMM_WORLD);
	MPI_Finalize();
	return pass ? 0 : 1;
}
