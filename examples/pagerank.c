/*
 * pagerank.c - PageRank by power iteration over a generated graph: the
 * irregular out-of-core workload (streamed CSR arrays, random reads of a
 * replicated vector, large collectives).
 *
 * The graph: N vertices, block-distributed over the ranks. Each rank
 * generates the in-edges of its own vertices straight into CSR arrays
 * (row_ptr, col): vertex v has an edge from v-1 (a ring, so that no vertex is
 * dangling) and about d-1 more (exponentially distributed count) whose
 * sources are pseudo-random and skewed, N r^2 for r uniform in [0,1), then
 * scattered over the ranks by a bijection x -> (a x + b) mod N: a few hubs
 * have many out-edges, reads of the vector have some locality and much
 * randomness. Everything comes from hashes of (vertex, edge number), so the
 * graph depends only on N and d, not on the number of ranks. Out-degrees
 * are counted where the edges are generated and summed to the owners with
 * MPI_Reduce_scatter.
 *
 * The iteration, in exact integer arithmetic so that it can be checked
 * exactly: ranks are fixed-point numbers summing to about SCALE = 2^56.
 *     c[u] = x[u] / outdeg(u)                   (integer division)
 *     C    = MPI_Allgatherv of every rank's c   (in place, N entries)
 *     S[v] = sum of C[u] over the in-edges u of v
 *     x[v] = floor(0.15 SCALE / N) + floor(85 S[v] / 100)
 *
 * How it verifies, every iteration, with O(1) extra memory:
 *  - Freivalds' check of the sparse product against the generator: with a
 *    pseudo-random weight r(v) per vertex and R(u) = sum of r(v) over u's
 *    out-edges (summed when the graph was generated), in integers mod 2^64
 *        sum_v r(v) S[v]  ==  sum_u c[u] R(u)
 *    The left side uses the CSR arrays and the gathered vector as they are
 *    now; the right side uses only each owner's own c, computed just before
 *    the gather. Any changed col entry, row boundary, gathered value or R
 *    makes the two differ (except with probability ~2^-64 per event).
 *  - The rank vector x and the per-vertex constants (outdeg, R) carry
 *    checksums (sum of a hash of (vertex, value)) computed when they are
 *    written and recomputed when they are read: a page that comes back
 *    stale, zeroed or from elsewhere between two iterations is caught.
 *  - The total rank stays in [SCALE - 6E - 14N, SCALE] (each integer
 *    division loses less than one unit; proof in check_mass()).
 * So no in-core reference is needed and the check scales with the run.
 *
 * Usage: pagerank [-m MiB per rank (4) | -n vertices in all] [-d average degree (16)]
 *                 [-i iterations (10)]
 *
 * Memory: -m sizes the arrays that live through the iterations (row_ptr,
 * col, out-degrees, R, x and the N-entry gathered vector: 28 + 4d + 8P
 * bytes per vertex of a rank); building the graph needs 4N bytes more.
 *
 * Output: rank 0 prints one line starting with PASS or FAIL with the times
 * (maximum over ranks); details go to stderr. Exit status 0 on PASS, 1 on
 * FAIL (reduced over all ranks), 2 on bad usage.
 *
 * EXAMPLE_CORRUPT=<what> (test only) makes the last rank damage one datum
 * in the middle of the run; the run must then FAIL: col (or 1), rowptr,
 * deg, x, gathered.
 *
 * Plain MPI and malloc: SBMA comes from -lsbma-pmpi or LD_PRELOAD.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "example_util.h"

#define SCALE    (1ULL << 56)
#define DAMP_NUM 85
#define DAMP_DEN 100

/* Reads of the gathered vector are random and bound by memory latency: ask
 * for the one this many edges ahead (about 1.4x faster in core here). A
 * prefetch is a hint: it never faults, not even on a page that is not
 * resident, and a damaged col entry only makes it useless. */
#define PREFETCH_AHEAD 16
#if defined(__GNUC__)
#define prefetch(p) __builtin_prefetch(p)
#else
#define prefetch(p) ((void)0)
#endif

enum corruption { CORRUPT_NONE, CORRUPT_COL, CORRUPT_ROWPTR, CORRUPT_DEG, CORRUPT_X, CORRUPT_GATHERED };

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static uint64_t hash2(uint64_t a, uint64_t b)
{
	return mix64(a ^ mix64(b + 0x632BE59BD9B4E019ULL));
}

/* Freivalds weight of vertex v. */
static inline uint64_t weight(uint64_t v)
{
	return mix64(v ^ 0x5851F42D4C957F2DULL);
}

/* The checksum term of vertex v holding value x. */
static inline uint64_t ck(uint64_t v, uint64_t x)
{
	return mix64(x ^ (v * 0xD6E8FEB86659FD93ULL));
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* The first vertex of rank q. */
static uint64_t block_first(uint64_t nglobal, int q, int nranks)
{
	return nglobal * (uint64_t)q / (uint64_t)nranks;
}

struct graph {
	uint64_t nglobal, first, n; /* all vertices, my first one, how many are mine */
	uint64_t nedges;            /* my in-edges: row_ptr[n] */
	uint64_t *row_ptr;          /* n + 1 */
	uint32_t *col;              /* source of each in-edge */
	uint32_t *deg;              /* out-degree of each of my vertices */
	uint64_t *rsum;             /* R(u): sum of weight(v) over the out-edges u->v */
	uint64_t static_ck;         /* checksum of deg and rsum */
};

/* In-degree of v: the ring edge plus an exponentially distributed count of
 * mean about degree - 1, capped. */
static uint64_t in_degree(uint64_t v, double degree)
{
	double u = (double)((hash2(v, 0xFFFFFFFFu) >> 11) + 1) * 0x1p-53; /* (0, 1] */
	double extra = floor(-(degree - 0.5) * log(u));
	double cap = 64 * degree;
	return 1 + (uint64_t)(extra < cap ? extra : cap);
}

static void *xmalloc(size_t bytes, int rank, const char *what)
{
	void *p = malloc(bytes ? bytes : 1);
	if (!p) {
		fprintf(stderr, "pagerank: rank %d: malloc of %zu MiB for %s failed\n", rank, bytes >> 20, what);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	return p;
}

/* Generate my rows, count out-degrees and R(u) of every vertex, and leave
 * each rank the ones of its own vertices. `scratch` has room for nglobal
 * uint64_t (the gathered-vector buffer, not yet in use). */
static void build_graph(struct graph *gr, double degree, int rank, const int *counts, uint64_t *scratch)
{
	const uint64_t nglobal = gr->nglobal, first = gr->first, n = gr->n;
	gr->row_ptr = xmalloc((n + 1) * sizeof *gr->row_ptr, rank, "row_ptr");
	gr->row_ptr[0] = 0;
	for (uint64_t v = 0; v < n; v++)
		gr->row_ptr[v + 1] = gr->row_ptr[v] + in_degree(first + v, degree);
	gr->nedges = gr->row_ptr[n];
	gr->col = xmalloc(gr->nedges * sizeof *gr->col, rank, "col");

	/* Hub scattering: x -> (a x + b) mod N, a bijection since gcd(a, N) = 1. */
	uint64_t pa = 2654435761u % nglobal, pb = 0x7F4A7C15u % nglobal;
	if (pa == 0)
		pa = 1;
	while (gcd(pa, nglobal) != 1)
		pa = (pa + 1) % nglobal;

	uint32_t *degpart = xmalloc(nglobal * sizeof *degpart, rank, "out-degree counts");
	uint64_t *rpart = scratch;
	memset(degpart, 0, nglobal * sizeof *degpart);
	memset(rpart, 0, nglobal * sizeof *rpart);
	uint64_t e = 0;
	for (uint64_t v = 0; v < n; v++) {
		const uint64_t gv = first + v, wv = weight(gv);
		const uint64_t end = gr->row_ptr[v + 1];
		uint64_t u = (gv + nglobal - 1) % nglobal; /* the ring edge */
		for (uint64_t j = 0; e < end; j++, e++) {
			if (j > 0) {
				double r = (double)(hash2(gv, j) >> 11) * 0x1p-53;
				uint64_t t = (uint64_t)(r * r * (double)nglobal);
				if (t >= nglobal)
					t = nglobal - 1;
				u = (pa * t + pb) % nglobal;
			}
			gr->col[e] = (uint32_t)u;
			degpart[u]++;
			rpart[u] += wv;
		}
	}
	gr->deg = xmalloc(n * sizeof *gr->deg, rank, "deg");
	gr->rsum = xmalloc(n * sizeof *gr->rsum, rank, "rsum");
	MPI_Reduce_scatter(degpart, gr->deg, counts, MPI_UINT32_T, MPI_SUM, MPI_COMM_WORLD);
	MPI_Reduce_scatter(rpart, gr->rsum, counts, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
	free(degpart);
	gr->static_ck = 0;
	for (uint64_t u = 0; u < n; u++)
		gr->static_ck += ck(first + u, gr->rsum[u] ^ ((uint64_t)gr->deg[u] << 40));
}

/*
 * The total rank M_k after k iterations stays in [SCALE - L, SCALE], with
 * L = 6E + 14N. Upper bound: N base <= 0.15 SCALE, and sum_v S[v] =
 * sum_u outdeg(u) c[u] <= M_k, so M_{k+1} <= 0.15 SCALE + 0.85 M_k <= SCALE.
 * Lower bound: N base >= 0.15 SCALE - N, each floor loses < 1, and
 * outdeg(u) floor(x/outdeg(u)) >= x - outdeg(u) + 1, so sum_v S[v] >= M_k - E
 * and M_{k+1} >= SCALE - 0.85 L - 0.85 E - 2N >= SCALE - L whenever
 * 0.15 L >= 0.85 E + 2N. M_0 >= SCALE - N.
 */
static int check_mass(uint64_t mass, uint64_t nglobal, uint64_t edges)
{
	uint64_t slack = 6 * edges + 14 * nglobal;
	return mass <= SCALE && mass >= SCALE - slack;
}

static void usage(int rank)
{
	if (rank == 0)
		fprintf(stderr, "usage: pagerank [-m MiB per rank (4) | -n vertices in all] [-d average degree (16)] "
		                "[-i iterations (10)]\n");
}

int main(int argc, char **argv)
{
	int rank, nranks;
	example_init(&argc, &argv, &rank, &nranks);

	long long mib = 4, nopt = 0, degree = 16, iters = 10;
	int opt, bad = 0;
	opterr = rank == 0;
	while ((opt = getopt(argc, argv, "m:n:d:i:")) != -1) {
		switch (opt) {
		case 'm':
			bad |= (mib = example_parse_pos(optarg, INT32_MAX)) < 0;
			break;
		case 'n':
			bad |= (nopt = example_parse_pos(optarg, INT_MAX)) < 0;
			break;
		case 'd':
			bad |= (degree = example_parse_pos(optarg, 10000)) < 0;
			break;
		case 'i':
			bad |= (iters = example_parse_pos(optarg, INT32_MAX)) < 0;
			break;
		default:
			bad = 1;
		}
	}
	if (optind != argc)
		bad = 1;
	/* Bytes per vertex of one rank: row_ptr, col, deg, rsum, x, and the
	 * gathered vector (N entries on every rank). */
	uint64_t per_vertex = 8 + 4 * (uint64_t)degree + 4 + 8 + 8 + 8 * (uint64_t)nranks;
	uint64_t nglobal = nopt ? (uint64_t)nopt : (uint64_t)nranks * ((uint64_t)mib * (1u << 20) / per_vertex);
	/* FIXME: more than 2^31 - 1 vertices would need 64-bit Allgatherv
	 * displacements (a derived datatype); col entries are 32-bit anyway. */
	if (!bad && (nglobal < (uint64_t)nranks || nglobal > INT_MAX)) {
		if (rank == 0)
			fprintf(stderr,
			        "pagerank: %" PRIu64 " vertices: need at least one per rank and at most 2^31 - 1\n",
			        nglobal);
		bad = 1;
	}
	enum corruption corrupt = CORRUPT_NONE;
	const char *ce = getenv("EXAMPLE_CORRUPT");
	if (ce && *ce && strcmp(ce, "0") != 0) {
		static const char *const names[] = {"", "col", "rowptr", "deg", "x", "gathered"};
		corrupt = strcmp(ce, "1") == 0 ? CORRUPT_COL : CORRUPT_NONE;
		for (int k = 1; k < 6; k++)
			if (strcmp(ce, names[k]) == 0)
				corrupt = (enum corruption)k;
		if (corrupt == CORRUPT_NONE) {
			if (rank == 0)
				fprintf(stderr,
				        "pagerank: EXAMPLE_CORRUPT=%s: expected col, rowptr, deg, x or gathered\n", ce);
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

	double t0 = MPI_Wtime();
	int *counts = xmalloc(nranks * sizeof *counts, rank, "counts");
	int *displs = xmalloc(nranks * sizeof *displs, rank, "displs");
	for (int q = 0; q < nranks; q++) {
		displs[q] = (int)block_first(nglobal, q, nranks);
		counts[q] = (int)(block_first(nglobal, q + 1, nranks) - block_first(nglobal, q, nranks));
	}
	struct graph gr = {.nglobal = nglobal, .first = block_first(nglobal, rank, nranks)};
	gr.n = block_first(nglobal, rank + 1, nranks) - gr.first;
	uint64_t *gathered = xmalloc(nglobal * sizeof *gathered, rank, "the gathered vector");
	build_graph(&gr, (double)degree, rank, counts, gathered);
	const uint64_t n = gr.n, first = gr.first, nedges = gr.nedges;

	uint64_t edges_all = nedges, maxdeg = 0;
	for (uint64_t u = 0; u < n; u++)
		if (gr.deg[u] > maxdeg)
			maxdeg = gr.deg[u];
	MPI_Allreduce(MPI_IN_PLACE, &edges_all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
	MPI_Allreduce(MPI_IN_PLACE, &maxdeg, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);

	uint64_t *x = xmalloc(n * sizeof *x, rank, "x");
	uint64_t x_ck = 0; /* checksum of x as last written */
	for (uint64_t v = 0; v < n; v++) {
		x[v] = SCALE / nglobal;
		x_ck += ck(first + v, x[v]);
	}
	const uint64_t base = SCALE * (DAMP_DEN - DAMP_NUM) / DAMP_DEN / nglobal;
	MPI_Barrier(MPI_COMM_WORLD);
	double t_build = MPI_Wtime() - t0, t_compute = 0, t_mpi = 0;

	/* Iterations with a wrong product, a wrong stored checksum, a wrong
	 * total. The pass after the last iteration only reads and checks. */
	long long bad_products = 0, bad_checksums = 0, bad_mass = 0;
	int first_bad = -1;
	double final_mass = 0;
	for (int it = 0;; it++) {
		double ta = MPI_Wtime();
		const int damage = it == iters / 2 ? (int)corrupt : CORRUPT_NONE;
		if (damage == CORRUPT_COL)
			gr.col[nedges / 2] = (uint32_t)((gr.col[nedges / 2] + nglobal / 2) % nglobal);
		else if (damage == CORRUPT_ROWPTR)
			gr.row_ptr[n / 2] += 1;
		else if (damage == CORRUPT_DEG)
			gr.deg[n / 2] += 1;
		else if (damage == CORRUPT_X)
			x[n / 2] ^= 1u << 20;

		/* Read x and the constants once, checking them against what was
		 * written, and put my contributions in place in `gathered`. */
		uint64_t rck = 0, sck = 0, mass = 0, rhs = 0, local_bad = 0;
		uint64_t *mine = gathered + first;
		for (uint64_t u = 0; u < n; u++) {
			const uint64_t xv = x[u], dg = gr.deg[u], rs = gr.rsum[u];
			rck += ck(first + u, xv);
			sck += ck(first + u, rs ^ (dg << 40));
			mass += xv;
			const uint64_t c = dg ? xv / dg : 0;
			mine[u] = c;
			rhs += c * rs;
		}
		if (rck != x_ck || sck != gr.static_ck) {
			fprintf(stderr, "pagerank: rank %d: before iteration %d: the checksum of %s is wrong\n", rank,
			        it, rck != x_ck ? "the rank vector" : "the out-degrees and R");
			local_bad++;
		}

		uint64_t lhs = 0;
		double tb = MPI_Wtime(), tc = tb;
		if (it < iters) {
			MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, gathered, counts, displs, MPI_UINT64_T,
			               MPI_COMM_WORLD);
			tc = MPI_Wtime();
			if (damage == CORRUPT_GATHERED)
				gathered[gr.col[nedges / 2]] ^= 1u << 20;

			/* The sparse product. A damaged row_ptr or col must give a
			 * wrong answer, not a crash: rows and sources are clamped. */
			uint64_t new_ck = 0, e = 0;
			for (uint64_t v = 0; v < n; v++) {
				uint64_t end = gr.row_ptr[v + 1], s = 0;
				if (end > nedges || end < e) {
					local_bad++;
					end = end > nedges ? nedges : e;
				}
				for (; e < end; e++) {
					if (e + PREFETCH_AHEAD < nedges)
						prefetch(&gathered[gr.col[e + PREFETCH_AHEAD]]);
					uint32_t u = gr.col[e];
					s += u < nglobal ? gathered[u] : 0;
				}
				lhs += weight(first + v) * s;
				const uint64_t xn = base + s * DAMP_NUM / DAMP_DEN;
				x[v] = xn;
				new_ck += ck(first + v, xn);
			}
			x_ck = new_ck;
		}
		double td = MPI_Wtime();

		uint64_t sums[4] = {lhs, rhs, mass, local_bad};
		MPI_Allreduce(MPI_IN_PLACE, sums, 4, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
		double te = MPI_Wtime();
		t_compute += (tb - ta) + (td - tc);
		t_mpi += (tc - tb) + (te - td);

		const int wrong_product = it < iters && sums[0] != sums[1];
		const int wrong_mass = !check_mass(sums[2], nglobal, edges_all);
		bad_products += wrong_product;
		bad_mass += wrong_mass;
		bad_checksums += sums[3] != 0;
		if ((wrong_product || wrong_mass || sums[3]) && first_bad < 0) {
			first_bad = it;
			if (rank == 0)
				fprintf(stderr,
				        "pagerank: iteration %d: sum r(v) S[v] = %#" PRIx64
				        ", sum c[u] R(u) = %#" PRIx64 "%s, mass %.12f%s, %" PRIu64
				        " ranks saw wrong checksums\n",
				        it, sums[0], sums[1], wrong_product ? " (differ)" : "",
				        (double)sums[2] / (double)SCALE, wrong_mass ? " (out of bounds)" : "", sums[3]);
		}
		if (it == iters) {
			final_mass = (double)sums[2] / (double)SCALE;
			break;
		}
	}
	double t_total = MPI_Wtime() - t0;
	free(x);
	free(gathered);
	free(gr.row_ptr);
	free(gr.col);
	free(gr.deg);
	free(gr.rsum);
	free(counts);
	free(displs);

	double times[4] = {t_total, t_build, t_compute, t_mpi}, tmax[4];
	MPI_Reduce(times, tmax, 4, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	/* Every counter comes from an Allreduce: all ranks agree. */
	int pass = bad_products == 0 && bad_checksums == 0 && bad_mass == 0;
	if (rank == 0) {
		printf("%s pagerank: %d ranks, %" PRIu64 " vertices, %" PRIu64 " edges (max out-degree %" PRIu64
		       "), %lld iterations: %lld wrong products, %lld wrong checksums, %lld wrong masses "
		       "(final mass %.9f); time %.3f s (build %.3f, compute %.3f, mpi %.3f; max over ranks)\n",
		       pass ? "PASS" : "FAIL", nranks, nglobal, edges_all, maxdeg, iters, bad_products, bad_checksums,
		       bad_mass, final_mass, tmax[0], tmax[1], tmax[2], tmax[3]);
		fflush(stdout);
	}
	MPI_Finalize();
	return pass ? 0 : 1;
}
