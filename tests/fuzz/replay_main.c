/*
 * replay_main.c - runs tests/fuzz/fuzz_options.c without libFuzzer: each
 * file named on the command line (a directory: each file in it, in name
 * order) is one input, run in a forked child so that a failed check (an
 * abort) or a crash names its file and the others still run. The input is
 * copied into a buffer of exactly its size, as libFuzzer does, so that a
 * sanitizer build catches a read past its end.
 *
 * First the harness's self-test: its check of error lines must refuse the
 * bad lines it is shown, or a broken check would pass everything.
 *
 * Exit 0: every input passed; 1: a check failed; 99: a file could not be
 * read, or there were no inputs at all.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_options.h"

static int nrun, nfailed, nerrors;

static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	uint8_t *p = malloc(cap);

	if (!f || !p) {
		if (f)
			fclose(f);
		free(p);
		return -1;
	}
	for (;;) {
		n += fread(p + n, 1, cap - n, f);
		if (n < cap)
			break;
		uint8_t *q = realloc(p, cap *= 2);
		if (!q) {
			free(p);
			fclose(f);
			return -1;
		}
		p = q;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(p);
		return -1;
	}
	/* Exactly n bytes, so that a read past the end is out of bounds. */
	*data = malloc(n ? n : 1);
	if (!*data) {
		free(p);
		return -1;
	}
	memcpy(*data, p, n);
	free(p);
	*size = n;
	return 0;
}

static void run_one(const char *path)
{
	uint8_t *data;
	size_t size;
	int status;

	if (read_file(path, &data, &size) != 0) {
		fprintf(stderr, "ERROR: %s: %s\n", path, strerror(errno));
		nerrors++;
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "ERROR: fork: %s\n", strerror(errno));
		nerrors++;
		free(data);
		return;
	}
	if (pid == 0) {
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		exit(0);
	}
	free(data);
	nrun++;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		nfailed++;
		if (WIFSIGNALED(status))
			printf("FAIL: %s (signal %d)\n", path, WTERMSIG(status));
		else
			printf("FAIL: %s (exit %d)\n", path, WEXITSTATUS(status));
	} else {
		printf("PASS: %s\n", path);
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		fprintf(stderr, "ERROR: %s: %s\n", dir, strerror(errno));
		nerrors++;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **q = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
			if (!q)
				abort();
			names = q;
		}
		if (!(names[n++] = strdup(de->d_name)))
			abort();
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		run_one(path);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	int bad = fuzz_options_selftest();

	if (bad) {
		printf("FAIL: self-test: the error-line check gave %d wrong verdicts\n", bad);
		return 1;
	}
	printf("PASS: self-test of the error-line check\n");
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			run_one(argv[i]);
	}
	printf("replay: %d inputs, %d failed, %d unreadable\n", nrun, nfailed, nerrors);
	if (nerrors || nrun == 0)
		return 99;
	return nfailed ? 1 : 0;
}
