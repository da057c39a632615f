/*
 * log.c - messages that never allocate.
 *
 * The engine reports from places where malloc and stdio are off limits: the
 * SIGSEGV handler, and the allocator itself while it starts. So formatting
 * is done here into a stack buffer and written with one write(2). Only the
 * conversions the engine uses are supported: %s %c %d %i %u %x %p %%, with
 * the length modifiers l, ll, z and a field width.
 *
 * Where messages go: the process's standard error as it was when SBMA
 * started, which is not always fd 2 at the end. GNU coreutils close fd 2 in
 * an atexit handler (gnulib's close_stdout), before library destructors
 * print the SBMA_STATS report; a program that closes fd 2 and opens a file
 * gets that file as fd 2, and SBMA's messages would land in its data. So
 * with SBMA_STATS, sbma__log_keep_stderr() (called once the options are
 * read) records which file fd 2 is and keeps a duplicate of it
 * (close-on-exec, at fd 100 or above, out of the way of programs that
 * expect low numbers). Messages go to fd 2 while it is still that file;
 * else to the duplicate while that is still it; else to whatever fd 2 is
 * now, as without SBMA_STATS (a program that points fd 2 at a log file with dup2 or
 * freopen wants SBMA's messages there too, and without the duplicate there
 * is no telling that from a file that took a closed fd 2's place).
 * Why the duplicate only with SBMA_STATS: an extra descriptor is visible
 * to the program (a listing of /proc/self/fd, a test that counts its
 * descriptors, a daemon that closes them all), and only the report is sure
 * to be written after the program has closed fd 2 (other messages are rare,
 * and a fatal one still ends the process with SIGABRT). With it, the report
 * also never lands in a data file that became fd 2.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbma_internal.h"

struct outbuf {
	char *p;
	size_t size, len;
};

static void put(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->p[o->len] = c;
	o->len++;
}

static void put_num(struct outbuf *o, unsigned long long v, unsigned base, int neg, int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

static int vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = {buf, size, 0};
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0, left = 0;
		if (*fmt == '-') {
			left = 1;
			fmt++;
		}
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng += *fmt == 'z' ? 2 : 1;
			fmt++;
		}
		unsigned long long u;
		long long s;
		switch (*fmt) {
		case 'd':
		case 'i':
			s = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
			put_num(&o, s < 0 ? -(unsigned long long)s : (unsigned long long)s, 10, s < 0, width, pad);
			break;
		case 'u':
		case 'x':
			u = lng >= 2 ? va_arg(ap, unsigned long long)
			    : lng    ? va_arg(ap, unsigned long)
				     : va_arg(ap, unsigned);
			put_num(&o, u, *fmt == 'x' ? 16 : 10, 0, width, pad);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, 0, 0, '0');
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int n = (int)strlen(str);
			if (!left)
				for (int i = n; i < width; i++)
					put(&o, ' ');
			while (*str)
				put(&o, *str++);
			if (left)
				for (int i = n; i < width; i++)
					put(&o, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '?');
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int sbma__format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

#define KEEP_FD_MIN 100

static int kept_fd = -1; /* the duplicate, or -1 */
static int recorded;     /* sbma__log_keep_stderr has run */
static dev_t err_dev;
static ino_t err_ino;

void sbma__log_keep_stderr(void)
{
	if (recorded)
		return;
	recorded = 1;
	struct stat st;
	if (!sbma__opt.print_stats || fstat(2, &st) != 0)
		return;
	err_dev = st.st_dev;
	err_ino = st.st_ino;
	kept_fd = fcntl(2, F_DUPFD_CLOEXEC, KEEP_FD_MIN);
}

static int is_stderr(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_dev == err_dev && st.st_ino == err_ino;
}

/* The descriptor to write fd 2's messages to (file header). */
static int err_fd(void)
{
	if (kept_fd < 0)
		return 2;
	int saved = errno;
	int fd = !is_stderr(2) && is_stderr(kept_fd) ? kept_fd : 2;
	errno = saved;
	return fd;
}

static void write_all(int fd, const char *p, size_t len)
{
	if (fd == 2)
		fd = err_fd();
	int saved = errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
	errno = saved;
}

void sbma__fdprintf(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vformat(buf, sizeof buf, fmt, ap);
	va_end(ap);
	write_all(fd, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n = (size_t)sbma__format(buf, sizeof buf, "sbma[%d]: %s", (int)getpid(), prefix);
	if (n >= sizeof buf)
		n = sizeof buf - 1;
	size_t m = (size_t)vformat(buf + n, sizeof buf - n - 1, fmt, ap);
	n = n + m < sizeof buf - 2 ? n + m : sizeof buf - 2;
	buf[n++] = '\n';
	write_all(2, buf, n);
}

void sbma__log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void sbma__die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("fatal: ", fmt, ap);
	va_end(ap);
	abort();
}
