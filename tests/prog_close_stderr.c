/*
 * prog_close_stderr.c - a program that closes its standard error before it
 * exits, as GNU coreutils do (gnulib's close_stdout, an atexit handler).
 * Run under LD_PRELOAD=libsbma.so with SBMA_STATS=1 by
 * tests/test_stats_stderr.sh: SBMA's report at exit must still reach the
 * original standard error, and never a file that took fd 2's place.
 *
 *   prog_close_stderr close         close(2) in main, then exit
 *   prog_close_stderr atexit        close(1) and close(2) in an atexit handler
 *   prog_close_stderr reuse FILE    close(2), open FILE (it becomes fd 2),
 *                                   write one line into it, exit
 *
 * Each first mallocs 8 MiB and writes every byte (SBMA memory under the
 * preload, paged with a small budget), so that the report has something to
 * say. Not linked with SBMA.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void close_std(void)
{
	close(1);
	close(2);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s close|atexit|reuse FILE\n", argv[0]);
		return 2;
	}
	size_t n = 8u << 20;
	unsigned char *m = malloc(n);
	if (!m)
		return 3;
	for (size_t i = 0; i < n; i++)
		m[i] = (unsigned char)(i * 7);
	unsigned sum = 0;
	for (size_t i = 0; i < n; i += 4096)
		sum += m[i];
	printf("sum %u\n", sum);
	fflush(stdout);
	if (!strcmp(argv[1], "close")) {
		close(2);
	} else if (!strcmp(argv[1], "atexit")) {
		atexit(close_std);
	} else if (!strcmp(argv[1], "reuse") && argc > 2) {
		close(2);
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd != 2)
			return 4;
		static const char line[] = "the program's own data\n";
		if (write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1))
			return 5;
	} else {
		return 2;
	}
	return 0;
}
