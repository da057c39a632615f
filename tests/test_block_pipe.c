/*
 * test_block_pipe.c - a process asleep in a pipe or socket call gives its
 * node budget to a peer (src/kernel_access.c, "blocking calls").
 *
 * Two processes of one job (SBMA_JOB) share a 16 MiB node budget. The
 * holder fills 20 MiB of SBMA memory, so that it holds the whole budget,
 * and then sleeps in a transfer with the other: writing 4 MiB of it into a
 * pipe nobody reads yet, or reading 4 MiB into it from a pipe that is still
 * empty (write/read, fwrite/fread on the same pipe, send/recv on a stream
 * socket pair). The other, with nothing of its own to evict, then touches
 * 8 MiB: it needs budget that only the sleeping holder can release, and
 * only then does its part of the transfer. Without the blocked state it
 * waits SBMA_NODE_TIMEOUT (10 s here) and loads past the budget. Each test
 * fails if the other loaded past the budget (over_budget), if the holder
 * answered no release request, or if any byte of the transfer or of either
 * process's memory is wrong. The time the other waited is printed (no
 * assertion on it: the machine is shared).
 *
 * Also: the semantics the wait must keep. A read that a signal interrupts
 * fails with EINTR when the handler lacks SA_RESTART and goes on with it; a
 * non-blocking descriptor still says EAGAIN at once; a socket's receive
 * timeout still ends the call; writes of PIPE_BUF bytes from two writers
 * into one pipe are never interleaved while the writers wait blocked.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "test_common.h"

#define BUDGET (16 * MiB)
#define HOLD   (20 * MiB)
#define NEED   (8 * MiB)
#define XFER   (4 * MiB)

enum how { VIA_RW, VIA_STDIO, VIA_SOCK };

/* One end of the channel and its transfer, as each side uses it. */
static ssize_t xfer(enum how how, int fd, FILE *f, char *buf, size_t n, int out)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r;
		if (how == VIA_STDIO)
			r = (ssize_t)(out ? fwrite(buf + done, 1, n - done, f) : fread(buf + done, 1, n - done, f));
		else if (how == VIA_SOCK)
			r = out ? send(fd, buf + done, n - done, 0) : recv(fd, buf + done, n - done, 0);
		else
			r = out ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	if (how == VIA_STDIO && out && fflush(f) != 0)
		return -1;
	return (ssize_t)done;
}

/* 0 if the child exited 0, else a message. */
static int reap(pid_t pid, const char *who)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	fprintf(stderr, "  %s: %s %d\n", who, WIFEXITED(st) ? "exit" : "signal",
		WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -1;
}

/*
 * The holder: fill HOLD (seed 1), tell the other it is about to sleep, then
 * write the first XFER bytes of it (out) or read XFER bytes into them (seed
 * 2 expected). Exit 0 if all its memory is right and it released budget.
 */
static int holder(enum how how, int fd, int sync_fd, int out)
{
	char *hold = malloc(HOLD);
	if (!hold)
		return 10;
	tc_fill(hold, HOLD, 1, 0, 0);
	FILE *f = how == VIA_STDIO ? fdopen(fd, out ? "w" : "r") : NULL;
	if (how == VIA_STDIO && !f)
		return 11;
	if (write(sync_fd, "s", 1) != 1)
		return 12;
	if (xfer(how, fd, f, hold, XFER, out) != (ssize_t)XFER)
		return 13;
	int bad = 0;
	if (out)
		bad += tc_check(hold, XFER, 1, 0, 0, "holder: sent data afterwards") != 0;
	else
		bad += tc_check(hold, XFER, 2, 0, 0, "holder: received data") != 0;
	bad += tc_check(hold + XFER, HOLD - XFER, 1, 0, XFER / 8, "holder: its memory") != 0;
	struct sbma_stats s;
	sbma_stats(&s);
	if (!s.releases) {
		fprintf(stderr, "  holder: answered no release request\n");
		bad++;
	}
	return bad ? 14 : 0;
}

/* The other: wait until the holder sleeps, touch NEED (seed 2), then the
 * other half of the transfer (into or out of its first XFER bytes). */
static int other(enum how how, int fd, int sync_fd, int holder_out)
{
	char c;
	if (read(sync_fd, &c, 1) != 1)
		return 20;
	usleep(100000); /* the holder is asleep in its call by now */
	double t0 = tc_now();
	char *need = malloc(NEED);
	if (!need)
		return 21;
	tc_fill(need, NEED, 2, 0, 0);
	double waited = tc_now() - t0;
	FILE *f = how == VIA_STDIO ? fdopen(fd, holder_out ? "r" : "w") : NULL;
	if (how == VIA_STDIO && !f)
		return 22;
	char *buf = holder_out ? malloc(XFER) : need;
	if (!buf || xfer(how, fd, f, buf, XFER, !holder_out) != (ssize_t)XFER)
		return 23;
	int bad = 0;
	if (holder_out)
		bad += tc_check(buf, XFER, 1, 0, 0, "other: received data") != 0;
	bad += tc_check(need, NEED, 2, 0, 0, "other: its memory") != 0;
	struct sbma_stats s;
	sbma_stats(&s);
	fprintf(stderr, "(other got %llu MiB in %.2f s, waited %llu ms) ", (unsigned long long)(NEED >> 20), waited,
		(unsigned long long)(s.wait_ns / 1000000));
	if (s.over_budget) {
		fprintf(stderr, "  other: loaded past the node budget %llu times\n",
			(unsigned long long)s.over_budget);
		bad++;
	}
	return bad ? 24 : 0;
}

static void run_pair(enum how how, int holder_out)
{
	int ch[2], sync[2];
	int made = how == VIA_SOCK ? socketpair(AF_UNIX, SOCK_STREAM, 0, ch) : pipe(ch);
	CU_ASSERT_FATAL(made == 0);
	CU_ASSERT_FATAL(pipe(sync) == 0);
	/* Pipe: ch[0] reads, ch[1] writes. Socket pair: either end. */
	int hfd = holder_out ? ch[1] : ch[0], ofd = holder_out ? ch[0] : ch[1];
	fflush(NULL);
	pid_t h = fork();
	CU_ASSERT_FATAL(h >= 0);
	if (h == 0) {
		close(ofd);
		close(sync[0]);
		_exit(holder(how, hfd, sync[1], holder_out));
	}
	pid_t o = fork();
	CU_ASSERT_FATAL(o >= 0);
	if (o == 0) {
		close(hfd);
		close(sync[1]);
		_exit(other(how, ofd, sync[0], holder_out));
	}
	close(ch[0]);
	close(ch[1]);
	close(sync[0]);
	close(sync[1]);
	CU_ASSERT(reap(h, "holder") == 0);
	CU_ASSERT(reap(o, "other") == 0);
}

static void test_write_pipe(void) { run_pair(VIA_RW, 1); }
static void test_read_pipe(void) { run_pair(VIA_RW, 0); }
static void test_fwrite_pipe(void) { run_pair(VIA_STDIO, 1); }
static void test_fread_pipe(void) { run_pair(VIA_STDIO, 0); }
static void test_send_socket(void) { run_pair(VIA_SOCK, 1); }
static void test_recv_socket(void) { run_pair(VIA_SOCK, 0); }

/* ------------------------------------------------------------- semantics */

static void on_alarm(int sig)
{
	(void)sig;
}

/* A read of an empty pipe in a process of the job, interrupted by SIGALRM
 * after 200 ms; the data comes after 500 ms. Returns what read returned,
 * errno in *err. */
static ssize_t interrupted_read(int restart, int *err)
{
	int p[2];
	if (pipe(p) != 0)
		return -2;
	pid_t w = fork();
	if (w == 0) {
		usleep(500000);
		_exit(write(p[1], "late", 4) == 4 ? 0 : 1);
	}
	close(p[1]);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, &old);
	struct itimerval it = {{0, 0}, {0, 200000}};
	setitimer(ITIMER_REAL, &it, NULL);
	char buf[8];
	errno = 0;
	ssize_t r = read(p[0], buf, sizeof buf);
	*err = errno;
	sigaction(SIGALRM, &old, NULL);
	close(p[0]);
	waitpid(w, NULL, 0);
	return r;
}

static void test_semantics(void)
{
	/* In the job, with the engine running: the wrappers act. */
	char *m = malloc(2 * MiB);
	CU_ASSERT_FATAL(m != NULL);
	memset(m, 1, 2 * MiB);
	struct sbma_stats s0 = tc_stats();

	int err;
	ssize_t r = interrupted_read(0, &err);
	CU_ASSERT(r == -1 && err == EINTR);
	r = interrupted_read(1, &err);
	CU_ASSERT(r == 4);

	/* Non-blocking stays non-blocking. */
	int p[2];
	CU_ASSERT_FATAL(pipe2(p, O_NONBLOCK) == 0);
	errno = 0;
	CU_ASSERT(read(p[0], m, 16) == -1 && errno == EAGAIN);
	close(p[0]);
	close(p[1]);

	/* A receive timeout still ends the call. */
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct timeval tv = {0, 200000};
	CU_ASSERT(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	double t0 = tc_now();
	errno = 0;
	CU_ASSERT(recv(sv[0], m, 16, 0) == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
	CU_ASSERT(tc_now() - t0 < 60); /* returned at all: a hang is the failure */
	close(sv[0]);
	close(sv[1]);

	/* The waits above were blocked ones (the process is in a job). */
	struct sbma_stats s1 = tc_stats();
	CU_ASSERT(s1.blocked_ns > s0.blocked_ns);
	free(m);
}

/* Two writers, 300 records of PIPE_BUF bytes each (all one byte value)
 * from SBMA memory, into one pipe that a slow reader drains: every record
 * arrives whole. */
static void test_atomic_records(void)
{
	int p[2];
	CU_ASSERT_FATAL(pipe(p) == 0);
	enum { RECS = 300 };
	pid_t w[2];
	for (int i = 0; i < 2; i++) {
		fflush(NULL);
		w[i] = fork();
		CU_ASSERT_FATAL(w[i] >= 0);
		if (w[i] == 0) {
			close(p[0]);
			char *rec = malloc(2 * MiB);
			if (!rec)
				_exit(2);
			for (int k = 0; k < RECS; k++) {
				memset(rec, 'a' + i * 13 + k % 13, PIPE_BUF);
				if (write(p[1], rec, PIPE_BUF) != PIPE_BUF)
					_exit(3);
			}
			_exit(0);
		}
	}
	close(p[1]);
	static char rec[PIPE_BUF];
	int whole = 0, torn = 0;
	for (;;) {
		usleep(200);
		size_t got = 0;
		while (got < PIPE_BUF) {
			ssize_t r = read(p[0], rec + got, PIPE_BUF - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		if (got < PIPE_BUF)
			break;
		int same = 1;
		for (size_t k = 1; k < PIPE_BUF; k++)
			same &= rec[k] == rec[0];
		whole += same;
		torn += !same;
	}
	close(p[0]);
	CU_ASSERT(reap(w[0], "writer 1") == 0);
	CU_ASSERT(reap(w[1], "writer 2") == 0);
	CU_ASSERT(whole == 2 * RECS);
	CU_ASSERT(torn == 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	char job[64];
	snprintf(job, sizeof job, "test-block-pipe-%d", (int)getpid());
	const char *defaults[] = {
		"SBMA_BUDGET", "16M", "SBMA_JOB", job, "SBMA_NODE_TIMEOUT", "10", "SBMA_DIR", "/dev/shm", NULL,
	};
	tc_env_defaults(argv, defaults);
	/* This process makes no SBMA allocation before the pairs fork: the
	 * children each start their engine and join the job's segment. */
	CU_TestInfo tests[] = {
		{"holder asleep in write(2) on a pipe", test_write_pipe},
		{"holder asleep in read(2) on a pipe", test_read_pipe},
		{"holder asleep in fwrite on a pipe", test_fwrite_pipe},
		{"holder asleep in fread on a pipe", test_fread_pipe},
		{"holder asleep in send on a socket", test_send_socket},
		{"holder asleep in recv on a socket", test_recv_socket},
		{"EINTR, SA_RESTART, O_NONBLOCK, SO_RCVTIMEO kept", test_semantics},
		{"PIPE_BUF writes stay whole", test_atomic_records},
		CU_TEST_INFO_NULL,
	};
	return tc_run("block_pipe", tests);
}
