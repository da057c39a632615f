/*
 * prog_pmpi.c - the PMPI layer (libsbma-pmpi) under mpiexec, on buffers
 * that are SBMA memory (plain malloc of at least SBMA_MIN_ALLOC).
 *
 * Run with an even number of ranks (4 in make check; pairs rank, rank^1)
 * and a small node budget (SBMA_BUDGET=24M for the node), it checks:
 *   - nonblocking receives and sends whose buffers are evicted
 *     (sbma_evict_all) between post and completion deliver the right data,
 *     and the posted buffers are pinned until completion (the pinned count
 *     covers them, eviction leaves them, completion releases them);
 *   - a receive into a buffer larger than the message changes no byte past
 *     the message, bit for bit, also after an eviction (blocking and
 *     nonblocking);
 *   - MPI_Probe and MPI_Recv with MPI_ANY_SOURCE;
 *   - with MPI_THREAD_MULTIPLE (when the MPI provides it), two threads of
 *     one rank blocked at once (MPI_Recv and MPI_Irecv+MPI_Wait);
 *   - collectives on SBMA buffers (Bcast, Allreduce, also in place, Reduce,
 *     Gather, Gatherv, Scatter, Allgather, Alltoall, Alltoallv,
 *     Reduce_scatter_block, Scan, Sendrecv_replace, and Ibcast/Iallreduce
 *     with an eviction while in flight);
 *   - persistent requests over three Start/Wait rounds with evictions, their
 *     buffers pinned until MPI_Request_free;
 *   - a request freed while active (MPI_Request_free after MPI_Isend)
 *     keeps its buffer pinned, and its message arrives intact;
 *   - a rank that waits counts blocked time (sbma_stats().blocked_ns); with
 *     SBMA_PMPI_EXPECT_EVICT=1 (the scripts set it with SBMA_EVICT=eager)
 *     its unpinned pages are evicted while it waits, and not while
 *     MPI_Pcontrol(0) is in force;
 *   - at the end nothing is left pinned.
 *
 * Built twice: tests/prog_pmpi links libsbma-pmpi; tests/prog_pmpi_plain
 * (-DSBMA_TEST_PLAIN) links MPI only and is run under
 * LD_PRELOAD=libsbma-pmpi.so: it finds the sbma_* calls with dlsym.
 * Rank 0 prints "N passed, M failed"; the exit status is 0 only if every
 * check passed on every rank (77: fewer than 2 or an odd number of ranks).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <mpi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbma.h" /* types only in the plain build: the calls go through dlsym */

#if defined(MPICH) && defined(__GNUC__) && !defined(__clang__)
/* MPICH declares statuses as array parameters (MPI_Status
 * array_of_statuses[]) and defines MPI_STATUSES_IGNORE as (MPI_Status *)1:
 * GCC reads the first as a size hint and warns that MPI_Waitall "accesses
 * 20 bytes in a region of size 0". The sentinel is never dereferenced. */
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

#define MiB (1u << 20)

static int rank, nprocs, peer, provided;
static int passed, failed;

/* The SBMA calls this program makes, bound at start. */
static int64_t (*p_evict_all)(void);
static int (*p_stats)(struct sbma_stats *);
static int (*p_owns)(const void *);

static void bind_sbma(void)
{
#ifdef SBMA_TEST_PLAIN
	p_evict_all = (int64_t(*)(void))dlsym(RTLD_DEFAULT, "sbma_evict_all");
	p_stats = (int (*)(struct sbma_stats *))dlsym(RTLD_DEFAULT, "sbma_stats");
	p_owns = (int (*)(const void *))dlsym(RTLD_DEFAULT, "sbma_owns");
#else
	p_evict_all = sbma_evict_all;
	p_stats = sbma_stats;
	p_owns = sbma_owns;
#endif
}

#define CHECK(cond, ...)                                                                                               \
	do {                                                                                                           \
		if (cond) {                                                                                            \
			passed++;                                                                                      \
		} else {                                                                                               \
			failed++;                                                                                      \
			fprintf(stderr, "prog_pmpi[%d]: FAIL %s:%d: ", rank, __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                                                  \
			fputc('\n', stderr);                                                                           \
		}                                                                                                      \
	} while (0)

static void evict_all(void)
{
	if (p_evict_all)
		CHECK(p_evict_all() >= 0, "sbma_evict_all failed");
}

static struct sbma_stats stats(void)
{
	struct sbma_stats s;
	memset(&s, 0, sizeof s);
	if (p_stats)
		p_stats(&s);
	return s;
}

static uint8_t byte_at(uint32_t seed, size_t i)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed << 32 | seed);
	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ULL;
	return (uint8_t)(x >> 56);
}

static void fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		b[i] = byte_at(seed, i);
}

/* First offset in [from, to) that differs from the pattern (index i of the
 * pattern is i - base), or -1. */
static long differs(const void *buf, size_t from, size_t to, uint32_t seed, size_t base)
{
	const uint8_t *b = buf;
	for (size_t i = from; i < to; i++)
		if (b[i] != byte_at(seed, i - base))
			return (long)i;
	return -1;
}

static void *big(size_t len)
{
	void *p = malloc(len);
	if (!p) {
		fprintf(stderr, "prog_pmpi[%d]: malloc(%zu) failed\n", rank, len);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	return p;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* PROG_PMPI_TRACE=2: each rank prints a line after each step of a test. */
static double trace_t0;
static void step(const char *what)
{
	const char *tr = getenv("PROG_PMPI_TRACE");
	if (tr && tr[0] == '2') {
		struct sbma_stats s = stats();
		fprintf(stderr, "prog_pmpi[%d]: %-22s %6.2f s  wait %.2f s  pinned %llu  resident %llu\n", rank, what,
		        MPI_Wtime() - trace_t0, s.wait_ns / 1e9, (unsigned long long)s.pinned,
		        (unsigned long long)s.resident);
	}
}

/* ---- the allocator is SBMA's ---- */

static void test_owned(void)
{
	void *p = big(2 * MiB);
	CHECK(p_owns && p_owns(p), "a 2 MiB malloc is not SBMA memory (is libsbma-pmpi linked or preloaded?)");
	free(p);
}

/* ---- nonblocking calls, buffers evicted in flight ---- */

static void test_nonblocking_evicted(void)
{
	const size_t len = 2 * MiB;
	uint8_t *buf = big(len);
	uint64_t pinned0 = stats().pinned;
	if (rank & 1) {
		memset(buf, 0xEE, len);
		MPI_Request r;
		MPI_Irecv(buf, (int)len, MPI_BYTE, peer, 10, MPI_COMM_WORLD, &r);
		CHECK(stats().pinned >= pinned0 + len, "posted receive buffer not pinned (pinned %llu)",
		      (unsigned long long)stats().pinned);
		evict_all();
		CHECK(stats().pinned >= pinned0 + len, "receive buffer unpinned by eviction");
		MPI_Barrier(MPI_COMM_WORLD); /* the sender starts now */
		MPI_Wait(&r, MPI_STATUS_IGNORE);
		CHECK(stats().pinned == pinned0, "receive buffer still pinned after completion (%llu, was %llu)",
		      (unsigned long long)stats().pinned, (unsigned long long)pinned0);
		long d = differs(buf, 0, len, 100 + peer, 0);
		CHECK(d < 0, "nonblocking receive wrong at byte %ld", d);
	} else {
		fill(buf, len, 100 + rank);
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Request r;
		MPI_Isend(buf, (int)len, MPI_BYTE, peer, 10, MPI_COMM_WORLD, &r);
		CHECK(stats().pinned >= pinned0 + len, "posted send buffer not pinned");
		evict_all();
		MPI_Wait(&r, MPI_STATUS_IGNORE);
		CHECK(stats().pinned == pinned0, "send buffer still pinned after completion");
	}
	/* Both directions at once, completed with Waitall/Testall. */
	uint8_t *out = big(len);
	fill(out, len, 200 + rank);
	memset(buf, 0, len);
	MPI_Request rq[2];
	MPI_Irecv(buf, (int)len, MPI_BYTE, peer, 11, MPI_COMM_WORLD, &rq[0]);
	MPI_Isend(out, (int)len, MPI_BYTE, peer, 11, MPI_COMM_WORLD, &rq[1]);
	evict_all();
	int flag = 0;
	MPI_Testall(2, rq, &flag, MPI_STATUSES_IGNORE);
	if (!flag)
		MPI_Waitall(2, rq, MPI_STATUSES_IGNORE);
	long d = differs(buf, 0, len, 200 + peer, 0);
	CHECK(d < 0, "exchange wrong at byte %ld", d);
	CHECK(stats().pinned == pinned0, "exchange buffers still pinned after Waitall");
	/* Waitany and Waitsome unpin what they complete. */
	MPI_Irecv(buf, (int)len, MPI_BYTE, peer, 12, MPI_COMM_WORLD, &rq[0]);
	MPI_Isend(out, (int)len, MPI_BYTE, peer, 12, MPI_COMM_WORLD, &rq[1]);
	int idx, n, done = 0, indices[2];
	MPI_Waitany(2, rq, &idx, MPI_STATUS_IGNORE);
	done++;
	while (done < 2) {
		MPI_Waitsome(2, rq, &n, indices, MPI_STATUSES_IGNORE);
		if (n == MPI_UNDEFINED)
			break;
		done += n;
	}
	CHECK(done == 2, "Waitany+Waitsome completed %d of 2", done);
	CHECK(stats().pinned == pinned0, "buffers still pinned after Waitany/Waitsome");
	free(out);
	free(buf);
}

/* ---- a message shorter than the receive buffer ---- */

static void check_tail(const uint8_t *buf, size_t msg, size_t len, uint32_t msg_seed, const char *what)
{
	long d = differs(buf, 0, msg, msg_seed, 0);
	CHECK(d < 0, "%s: message wrong at byte %ld", what, d);
	d = differs(buf, msg, len, 77, 0);
	CHECK(d < 0, "%s: byte %ld past the %zu-byte message changed", what, d, msg);
}

static void test_short_message(void)
{
	const size_t len = 3 * MiB, msg = MiB + 12345;
	uint8_t *buf = big(len);
	for (int round = 0; round < 2; round++) {
		int receiver = (rank & 1) == round;
		if (receiver) {
			fill(buf, len, 77);
			evict_all(); /* the buffer's pages are on disk when the message comes */
			MPI_Status st;
			int count = -1;
			if (round == 0) {
				MPI_Recv(buf, (int)len, MPI_BYTE, peer, 20, MPI_COMM_WORLD, &st);
			} else {
				MPI_Request r;
				MPI_Irecv(buf, (int)len, MPI_BYTE, peer, 20, MPI_COMM_WORLD, &r);
				evict_all();
				MPI_Wait(&r, &st);
			}
			MPI_Get_count(&st, MPI_BYTE, &count);
			CHECK(count == (int)msg, "received %d bytes, expected %zu", count, msg);
			check_tail(buf, msg, len, 300 + peer, round ? "Irecv" : "Recv");
			evict_all();
			check_tail(buf, msg, len, 300 + peer, round ? "Irecv, after eviction" : "Recv, after eviction");
		} else {
			uint8_t *m = big(msg);
			fill(m, msg, 300 + rank);
			MPI_Send(m, (int)msg, MPI_BYTE, peer, 20, MPI_COMM_WORLD);
			free(m);
		}
	}
	free(buf);
}

/* ---- MPI_ANY_SOURCE ---- */

static void test_any_source(void)
{
	const size_t len = 3 * MiB / 2;
	uint8_t *buf = big(len);
	if (rank == 0) {
		int seen = 0;
		for (int i = 1; i < nprocs; i++) {
			MPI_Status st;
			memset(buf, 0, len);
			evict_all();
			MPI_Probe(MPI_ANY_SOURCE, 30, MPI_COMM_WORLD, &st);
			int src = st.MPI_SOURCE;
			MPI_Recv(buf, (int)len, MPI_BYTE, i % 2 ? MPI_ANY_SOURCE : src, 30, MPI_COMM_WORLD, &st);
			CHECK(st.MPI_SOURCE > 0 && st.MPI_SOURCE < nprocs, "ANY_SOURCE: source %d", st.MPI_SOURCE);
			if (st.MPI_SOURCE <= 0 || st.MPI_SOURCE >= nprocs)
				continue;
			seen |= 1 << st.MPI_SOURCE;
			long d = differs(buf, 0, len, 400 + st.MPI_SOURCE, 0);
			CHECK(d < 0, "ANY_SOURCE message from %d wrong at byte %ld", st.MPI_SOURCE, d);
		}
		CHECK(seen == ((1 << nprocs) - 2), "ANY_SOURCE: senders seen %#x", seen);
	} else {
		fill(buf, len, 400 + rank);
		MPI_Send(buf, (int)len, MPI_BYTE, 0, 30, MPI_COMM_WORLD);
	}
	free(buf);
}

/* ---- two threads blocked at once ---- */

struct thr {
	int tag;
	int nonblocking;
	uint8_t *buf;
	size_t len;
	int started; /* set just before the receive is posted */
};

static void *receiver_thread(void *arg)
{
	struct thr *t = arg;
	__atomic_store_n(&t->started, 1, __ATOMIC_RELEASE);
	if (t->nonblocking) {
		MPI_Request r;
		MPI_Irecv(t->buf, (int)t->len, MPI_BYTE, peer, t->tag, MPI_COMM_WORLD, &r);
		MPI_Wait(&r, MPI_STATUS_IGNORE);
	} else {
		MPI_Recv(t->buf, (int)t->len, MPI_BYTE, peer, t->tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	}
	return NULL;
}

static void test_threads(void)
{
	if (provided < MPI_THREAD_MULTIPLE) {
		if (rank == 0)
			printf("prog_pmpi: MPI_THREAD_MULTIPLE not provided: thread test skipped\n");
		return;
	}
	const size_t len = MiB + 4096;
	if (rank & 1) {
		struct thr t[2];
		pthread_t th[2];
		uint64_t blocked0 = stats().blocked_ns;
		for (int i = 0; i < 2; i++) {
			t[i] = (struct thr){40 + i, i, big(len), len};
			memset(t[i].buf, 0, len);
			pthread_create(&th[i], NULL, receiver_thread, &t[i]);
		}
		/* The sender starts only once both threads are at their
		 * receive and have had time to pass the spin phase and
		 * block: a fixed sleep on the sender's side alone was too
		 * short on a loaded machine (the messages arrived before the
		 * threads posted their receives, and nothing blocked). */
		for (int i = 0; i < 2; i++)
			while (!__atomic_load_n(&t[i].started, __ATOMIC_ACQUIRE))
				sleep_ms(1);
		sleep_ms(200);
		int go = 1;
		MPI_Send(&go, 1, MPI_INT, peer, 39, MPI_COMM_WORLD);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < 2; i++) {
			long d = differs(t[i].buf, 0, len, 500 + 40 + i, 0);
			CHECK(d < 0, "thread %d received wrong data at byte %ld", i, d);
			free(t[i].buf);
		}
		CHECK(stats().blocked_ns > blocked0, "two blocked threads counted no blocked time");
	} else {
		uint8_t *m = big(len);
		int go;
		MPI_Recv(&go, 1, MPI_INT, peer, 39, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		for (int i = 1; i >= 0; i--) {
			fill(m, len, 500 + 40 + i);
			MPI_Send(m, (int)len, MPI_BYTE, peer, 40 + i, MPI_COMM_WORLD);
		}
		free(m);
	}
}

/* ---- collectives ---- */

static void test_collectives(void)
{
	const int n = 256 * 1024; /* ints: 1 MiB */
	int *a = big((size_t)n * sizeof(int) * (size_t)nprocs);
	int *b = big((size_t)n * sizeof(int) * (size_t)nprocs);
	long bad;

	/* Bcast from rank 1. */
	if (rank == 1)
		fill(a, (size_t)n * 4, 600);
	else
		memset(a, 0, (size_t)n * 4);
	evict_all();
	MPI_Bcast(a, n * 4, MPI_BYTE, 1, MPI_COMM_WORLD);
	bad = differs(a, 0, (size_t)n * 4, 600, 0);
	CHECK(bad < 0, "Bcast wrong at byte %ld", bad);
	step("Bcast");

	/* Allreduce, then in place. */
	for (int i = 0; i < n; i++)
		a[i] = rank + i;
	evict_all();
	MPI_Allreduce(a, b, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	bad = -1;
	for (int i = 0; i < n && bad < 0; i++)
		if (b[i] != nprocs * i + nprocs * (nprocs - 1) / 2)
			bad = i;
	CHECK(bad < 0, "Allreduce wrong at element %ld", bad);
	step("Allreduce");
	evict_all();
	MPI_Allreduce(MPI_IN_PLACE, a, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	CHECK(memcmp(a, b, (size_t)n * 4) == 0, "Allreduce in place differs");

	/* Reduce to the last rank. */
	for (int i = 0; i < n; i++)
		a[i] = rank * i;
	memset(b, 0, (size_t)n * 4);
	evict_all();
	MPI_Reduce(a, b, n, MPI_INT, MPI_MAX, nprocs - 1, MPI_COMM_WORLD);
	if (rank == nprocs - 1) {
		bad = -1;
		for (int i = 0; i < n && bad < 0; i++)
			if (b[i] != (nprocs - 1) * i)
				bad = i;
		CHECK(bad < 0, "Reduce wrong at element %ld", bad);
		step("Reduce");
	}

	/* Gather to 0, Scatter back from 0, Allgather. */
	for (int i = 0; i < n; i++)
		a[i] = rank * n + i;
	evict_all();
	MPI_Gather(a, n, MPI_INT, b, n, MPI_INT, 0, MPI_COMM_WORLD);
	if (rank == 0) {
		bad = -1;
		for (int i = 0; i < n * nprocs && bad < 0; i++)
			if (b[i] != i)
				bad = i;
		CHECK(bad < 0, "Gather wrong at element %ld", bad);
		step("Gather");
		for (int i = 0; i < n * nprocs; i++)
			b[i] = -i;
	}
	memset(a, 0, (size_t)n * 4);
	evict_all();
	MPI_Scatter(b, n, MPI_INT, a, n, MPI_INT, 0, MPI_COMM_WORLD);
	bad = -1;
	for (int i = 0; i < n && bad < 0; i++)
		if (a[i] != -(rank * n + i))
			bad = i;
	CHECK(bad < 0, "Scatter wrong at element %ld", bad);
	step("Scatter");
	for (int i = 0; i < n; i++)
		a[i] = rank * n + i;
	memset(b, 0, (size_t)n * 4 * (size_t)nprocs);
	evict_all();
	MPI_Allgather(a, n, MPI_INT, b, n, MPI_INT, MPI_COMM_WORLD);
	bad = -1;
	for (int i = 0; i < n * nprocs && bad < 0; i++)
		if (b[i] != i)
			bad = i;
	CHECK(bad < 0, "Allgather wrong at element %ld", bad);
	step("Allgather");

	/* Gatherv: rank r sends n - r elements, placed in reverse rank order. */
	int counts[64], displs[64];
	for (int r = 0, off = 0; r < nprocs; r++) {
		counts[nprocs - 1 - r] = n - (nprocs - 1 - r);
		displs[nprocs - 1 - r] = off;
		off += n - (nprocs - 1 - r);
	}
	for (int i = 0; i < n; i++)
		a[i] = rank * 1000003 + i;
	evict_all();
	MPI_Gatherv(a, n - rank, MPI_INT, b, counts, displs, MPI_INT, 0, MPI_COMM_WORLD);
	if (rank == 0) {
		bad = -1;
		for (int r = 0; r < nprocs && bad < 0; r++)
			for (int i = 0; i < counts[r] && bad < 0; i++)
				if (b[displs[r] + i] != r * 1000003 + i)
					bad = displs[r] + i;
		CHECK(bad < 0, "Gatherv wrong at element %ld", bad);
		step("Gatherv");
	}

	/* Alltoall and Alltoallv on blocks of m ints. */
	const int m = n / nprocs;
	for (int i = 0; i < m * nprocs; i++)
		a[i] = rank * 7 + (i / m) * 1000 + i % m;
	evict_all();
	MPI_Alltoall(a, m, MPI_INT, b, m, MPI_INT, MPI_COMM_WORLD);
	bad = -1;
	for (int i = 0; i < m * nprocs && bad < 0; i++)
		if (b[i] != (i / m) * 7 + rank * 1000 + i % m)
			bad = i;
	CHECK(bad < 0, "Alltoall wrong at element %ld", bad);
	step("Alltoall");
	/* Rank r sends m - (r + j) % nprocs elements to rank j: symmetric, so
	 * one count array serves both sides. */
	for (int r = 0; r < nprocs; r++) {
		counts[r] = m - (r + rank) % nprocs;
		displs[r] = r * m;
	}
	memset(b, 0xFF, (size_t)n * 4);
	evict_all();
	MPI_Alltoallv(a, counts, displs, MPI_INT, b, counts, displs, MPI_INT, MPI_COMM_WORLD);
	bad = -1;
	for (int r = 0; r < nprocs && bad < 0; r++)
		for (int i = 0; i < m && bad < 0; i++) {
			int want = i < m - (r + rank) % nprocs ? r * 7 + rank * 1000 + i : -1;
			if (b[r * m + i] != want)
				bad = r * m + i;
		}
	CHECK(bad < 0, "Alltoallv wrong at element %ld", bad);
	step("Alltoallv");

	/* Reduce_scatter_block and Scan. */
	for (int i = 0; i < m * nprocs; i++)
		a[i] = i + rank;
	evict_all();
	MPI_Reduce_scatter_block(a, b, m, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	bad = -1;
	for (int i = 0; i < m && bad < 0; i++)
		if (b[i] != nprocs * (rank * m + i) + nprocs * (nprocs - 1) / 2)
			bad = i;
	CHECK(bad < 0, "Reduce_scatter_block wrong at element %ld", bad);
	step("Reduce_scatter_block");
	for (int i = 0; i < n; i++)
		a[i] = i + 1;
	evict_all();
	MPI_Scan(a, b, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	bad = -1;
	for (int i = 0; i < n && bad < 0; i++)
		if (b[i] != (rank + 1) * (i + 1))
			bad = i;
	CHECK(bad < 0, "Scan wrong at element %ld", bad);
	step("Scan");

	/* Sendrecv_replace around the ring. */
	fill(a, (size_t)n * 4, 700 + rank);
	evict_all();
	MPI_Sendrecv_replace(a, n * 4, MPI_BYTE, (rank + 1) % nprocs, 70, (rank + nprocs - 1) % nprocs, 70,
	                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	bad = differs(a, 0, (size_t)n * 4, 700 + (rank + nprocs - 1) % nprocs, 0);
	CHECK(bad < 0, "Sendrecv_replace wrong at byte %ld", bad);
	step("Sendrecv_replace");

	/* Sendrecv with the pair. */
	fill(a, (size_t)n * 4, 750 + rank);
	memset(b, 0, (size_t)n * 4);
	evict_all();
	MPI_Sendrecv(a, n * 4, MPI_BYTE, peer, 75, b, n * 4, MPI_BYTE, peer, 75, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	bad = differs(b, 0, (size_t)n * 4, 750 + peer, 0);
	CHECK(bad < 0, "Sendrecv wrong at byte %ld", bad);
	step("Sendrecv");

	/* Nonblocking collectives, evicted in flight. */
	uint64_t pinned0 = stats().pinned;
	MPI_Request r[2];
	if (rank == 2 % nprocs)
		fill(a, (size_t)n * 4, 800);
	for (int i = 0; i < n; i++)
		b[n + i] = rank - i;
	MPI_Ibcast(a, n * 4, MPI_BYTE, 2 % nprocs, MPI_COMM_WORLD, &r[0]);
	MPI_Iallreduce(MPI_IN_PLACE, b + n, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &r[1]);
	CHECK(stats().pinned > pinned0, "nonblocking collective buffers not pinned");
	evict_all();
	MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
	bad = differs(a, 0, (size_t)n * 4, 800, 0);
	CHECK(bad < 0, "Ibcast wrong at byte %ld", bad);
	step("Ibcast");
	bad = -1;
	for (int i = 0; i < n && bad < 0; i++)
		if (b[n + i] != nprocs * (nprocs - 1) / 2 - nprocs * i)
			bad = i;
	CHECK(bad < 0, "Iallreduce in place wrong at element %ld", bad);
	step("Iallreduce in place");
	CHECK(stats().pinned == pinned0, "nonblocking collective buffers still pinned after Waitall");
	free(a);
	free(b);
}

/* ---- persistent requests ---- */

static void test_persistent(void)
{
	const size_t len = MiB + 100;
	uint8_t *buf = big(len);
	uint64_t pinned0 = stats().pinned;
	MPI_Request r;
	if (rank & 1)
		MPI_Recv_init(buf, (int)len, MPI_BYTE, peer, 60, MPI_COMM_WORLD, &r);
	else
		MPI_Send_init(buf, (int)len, MPI_BYTE, peer, 60, MPI_COMM_WORLD, &r);
	for (int it = 0; it < 3; it++) {
		if (rank & 1)
			memset(buf, 0, len);
		else
			fill(buf, len, 900 + it);
		MPI_Start(&r);
		evict_all();
		CHECK(stats().pinned >= pinned0 + len, "persistent request %d: buffer not pinned", it);
		MPI_Wait(&r, MPI_STATUS_IGNORE);
		CHECK(r != MPI_REQUEST_NULL, "persistent request freed by MPI_Wait");
		CHECK(stats().pinned >= pinned0 + len, "persistent request %d: unpinned before MPI_Request_free", it);
		if (rank & 1) {
			long d = differs(buf, 0, len, 900 + it, 0);
			CHECK(d < 0, "persistent round %d wrong at byte %ld", it, d);
		}
	}
	MPI_Request_free(&r);
	CHECK(stats().pinned == pinned0, "persistent request's buffer pinned after MPI_Request_free");
	free(buf);
}

/* ---- MPI_Request_free of an active request ---- */

/* Nothing tells the layer when MPI is done with the buffer of a request
 * freed while active: its pages must stay pinned (until the program frees
 * the buffer, which drops the pins with the memory). */
static void test_request_free_active(void)
{
	const size_t len = 2 * MiB; /* rendezvous: not complete before the receive */
	uint8_t *buf = big(len);
	uint64_t pinned0 = stats().pinned;
	if (rank & 1) {
		memset(buf, 0, len);
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Recv(buf, (int)len, MPI_BYTE, peer, 90, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		long d = differs(buf, 0, len, 1200 + peer, 0);
		CHECK(d < 0, "message of a freed request wrong at byte %ld", d);
		MPI_Barrier(MPI_COMM_WORLD);
	} else {
		fill(buf, len, 1200 + rank);
		MPI_Request r;
		MPI_Isend(buf, (int)len, MPI_BYTE, peer, 90, MPI_COMM_WORLD, &r);
		MPI_Request_free(&r);
		CHECK(r == MPI_REQUEST_NULL, "MPI_Request_free left the handle");
		evict_all();
		CHECK(stats().pinned >= pinned0 + len, "buffer of a request freed while active was unpinned");
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Barrier(MPI_COMM_WORLD); /* the receiver has it all */
	}
	free(buf);
	CHECK(stats().pinned == pinned0, "pins of a freed request outlive the buffer");
}

/* ---- blocked time, and eviction while blocked ---- */

/* The receiver tells the sender when it is about to receive, and only then
 * does the sender wait 200 ms: touching d and buf may itself wait for node
 * budget (up to SBMA_NODE_TIMEOUT on a busy node), and a receiver that came
 * later than the message would find it complete at once, blocked for no
 * time. */
static void blocked_round(int tag, int expect_evict, const char *what)
{
	const size_t len = MiB, dlen = 2 * MiB;
	uint8_t *buf = big(len);
	if (rank & 1) {
		uint8_t *d = big(dlen); /* resident, dirty, not involved in MPI */
		fill(d, dlen, 1000 + tag);
		memset(buf, 0, len); /* resident: pinning it for the receive loads nothing */
		/* The ready message itself must not block and evict: with
		 * SBMA_READ=eager, leaving that call waits for node budget to
		 * reload, and on a loaded machine that wait can outlast the
		 * sender's 200 ms, so that the receive below finds its message
		 * already there and blocks for no time. */
		MPI_Pcontrol(0);
		MPI_Send(NULL, 0, MPI_BYTE, peer, tag + 100, MPI_COMM_WORLD); /* ready */
		MPI_Pcontrol(expect_evict == 0 ? 0 : 1);
		struct sbma_stats s0 = stats();
		MPI_Recv(buf, (int)len, MPI_BYTE, peer, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		struct sbma_stats s1 = stats();
		CHECK(s1.blocked_ns > s0.blocked_ns, "%s: waiting 200 ms counted no blocked time", what);
		if (expect_evict > 0)
			CHECK(s1.pages_evicted > s0.pages_evicted,
			      "%s: nothing evicted while blocked (SBMA_EVICT=eager)", what);
		else if (expect_evict == 0)
			CHECK(s1.pages_evicted == s0.pages_evicted, "%s: %llu pages evicted while blocked", what,
			      (unsigned long long)(s1.pages_evicted - s0.pages_evicted));
		long bad = differs(buf, 0, len, 1100 + tag, 0);
		CHECK(bad < 0, "%s: message wrong at byte %ld", what, bad);
		bad = differs(d, 0, dlen, 1000 + tag, 0);
		CHECK(bad < 0, "%s: data evicted while blocked came back wrong at byte %ld", what, bad);
		free(d);
	} else {
		fill(buf, len, 1100 + tag);
		MPI_Recv(NULL, 0, MPI_BYTE, peer, tag + 100, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		sleep_ms(200);
		MPI_Send(buf, (int)len, MPI_BYTE, peer, tag, MPI_COMM_WORLD);
	}
	free(buf);
}

static void test_blocked(void)
{
	const char *e = getenv("SBMA_PMPI_EXPECT_EVICT");
	int eager = e && e[0] == '1';
	blocked_round(80, eager ? 1 : -1, "release on");
	if (eager) {
		MPI_Pcontrol(0);
		blocked_round(81, 0, "MPI_Pcontrol(0)");
		MPI_Pcontrol(1);
		blocked_round(82, 1, "MPI_Pcontrol(1)");
	}
}

int main(int argc, char **argv)
{
	MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
	if (nprocs < 2 || nprocs % 2 || nprocs > 32) {
		if (rank == 0)
			fprintf(stderr, "prog_pmpi: needs an even number of ranks from 2 to 32\n");
		MPI_Finalize();
		return 77;
	}
	peer = rank ^ 1;
	bind_sbma();
	uint64_t pinned0 = stats().pinned;

	/* PROG_PMPI_TRACE=1: each rank prints when each test ends. */
	const char *tr = getenv("PROG_PMPI_TRACE");
	double t0 = MPI_Wtime();
	trace_t0 = t0;
#define RUN(test)                                                                                                      \
	do {                                                                                                           \
		test();                                                                                                \
		if (tr && tr[0] == '1')                                                                                \
			fprintf(stderr, "prog_pmpi[%d]: %-26s done at %6.2f s (wait %.2f s)\n", rank, #test,           \
			        MPI_Wtime() - t0, stats().wait_ns / 1e9);                                              \
	} while (0)
	RUN(test_owned);
	RUN(test_nonblocking_evicted);
	RUN(test_short_message);
	RUN(test_any_source);
	RUN(test_threads);
	RUN(test_collectives);
	RUN(test_persistent);
	RUN(test_request_free_active);
	RUN(test_blocked);

	CHECK(stats().pinned == pinned0, "%llu bytes left pinned at the end",
	      (unsigned long long)(stats().pinned - pinned0));
	int counts[2] = {passed, failed}, total[2];
	MPI_Reduce(counts, total, 2, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
	int status = failed != 0, any;
	MPI_Allreduce(&status, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (rank == 0) {
		printf("prog_pmpi: %d ranks, thread level %d\n", nprocs, provided);
		printf("%d passed, %d failed\n", total[0], total[1]);
		fflush(stdout);
	}
	MPI_Finalize();
	return any;
}
