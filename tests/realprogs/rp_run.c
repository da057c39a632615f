/*
 * rp_run.c - run one command for tests/test_realprogs.sh and report what
 * the kernel saw of it: wall time, peak RSS, and the peak of the memory
 * that SBMA keeps in RAM.
 *
 *   rp_run [-o FILE] [-t SECONDS] [-e NAME=VALUE]... -- COMMAND [ARG]...
 *
 * COMMAND runs in a process group of its own with the NAME=VALUE settings
 * added to its environment (only there: rp_run itself runs without
 * LD_PRELOAD). After SECONDS (default 120) the group gets SIGTERM, 5 s
 * later SIGKILL, and rp_run exits 124, as timeout(1) does: a program that
 * hangs under SBMA fails its test instead of stalling make check.
 * Otherwise rp_run exits with COMMAND's status (128 + signal if killed).
 *
 * FILE receives one line, "elapsed=S maxrss_kb=K shmem_kb=K shmem_sum_kb=K
 * status=N":
 *  - maxrss_kb: ru_maxrss from wait4(), the kernel's peak resident set of
 *    COMMAND or of the largest of the descendants it waited for;
 *  - shmem_kb: the largest RssShmem of any process of the tree, sampled
 *    every 5 ms from /proc. SBMA's memory is a memfd, so its resident pages
 *    are exactly what the kernel counts as RssShmem: this is the kernel's
 *    own check of the budget, independent of SBMA's counters;
 *  - shmem_sum_kb: the largest sum of RssShmem over the tree at one sample
 *    (what a budget shared by the processes of a pipeline must bound).
 * Sampling can miss a peak shorter than 5 ms; it never overstates one.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENV  32
#define MAX_TREE 256

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* RssShmem of one process in KiB, or 0 if it is gone. */
static long shmem_kb(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	long kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "RssShmem: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Appends the children of every thread of pid to tree[]. */
static void add_children(int pid, int *tree, int *n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char cpath[300];
		snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", pid, e->d_name);
		FILE *f = fopen(cpath, "re");
		if (!f)
			continue;
		int c;
		while (*n < MAX_TREE && fscanf(f, "%d", &c) == 1)
			tree[(*n)++] = c;
		fclose(f);
	}
	closedir(d);
}

static void sample(int root, long *peak, long *peak_sum)
{
	int tree[MAX_TREE], n = 0;
	tree[n++] = root;
	long sum = 0;
	for (int i = 0; i < n; i++) {
		add_children(tree[i], tree, &n);
		long kb = shmem_kb(tree[i]);
		sum += kb;
		if (kb > *peak)
			*peak = kb;
	}
	if (sum > *peak_sum)
		*peak_sum = sum;
}

static void usage(void)
{
	fprintf(stderr, "usage: rp_run [-o FILE] [-t SECONDS] [-e NAME=VALUE]... -- COMMAND [ARG]...\n");
	exit(125);
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	char *env[MAX_ENV];
	int nenv = 0, opt;
	double limit = 120;
	while ((opt = getopt(argc, argv, "+o:t:e:")) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 't':
			limit = atof(optarg);
			break;
		case 'e':
			if (nenv == MAX_ENV || !strchr(optarg, '='))
				usage();
			env[nenv++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("rp_run: fork");
		return 125;
	}
	if (pid == 0) {
		setpgid(0, 0);
		for (int i = 0; i < nenv; i++)
			putenv(env[i]);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "rp_run: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no race with the first sample */

	long peak = 0, peak_sum = 0;
	int status = 0, timed_out = 0;
	struct rusage ru;
	double killed_at = 0;
	for (;;) {
		pid_t w = wait4(pid, &status, WNOHANG, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			perror("rp_run: wait4");
			return 125;
		}
		sample(pid, &peak, &peak_sum);
		double t = now() - t0;
		if (!timed_out && t > limit) {
			timed_out = 1;
			killed_at = t;
			kill(-pid, SIGTERM);
		} else if (timed_out && t > killed_at + 5) {
			kill(-pid, SIGKILL);
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	double elapsed = now() - t0;
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (timed_out) {
		kill(-pid, SIGKILL); /* what is left of the group */
		rc = 124;
	}
	if (out) {
		FILE *f = fopen(out, "w");
		if (!f) {
			perror(out);
			return 125;
		}
		fprintf(f, "elapsed=%.2f maxrss_kb=%ld shmem_kb=%ld shmem_sum_kb=%ld status=%d\n", elapsed,
		        ru.ru_maxrss, peak, peak_sum, rc);
		fclose(f);
	}
	return rc;
}
