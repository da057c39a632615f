/*
 * sbma-stat.c - a live, top-like view of the SBMA node segments of this
 * node: for every job its budget, and for every process its state, memory,
 * I/O and waiting (layout: src/node_segment.h; usage: docs/sbma-stat.md).
 *
 * Each sample lists /dev/shm, opens every sbma-<uid>-<job>-<host> of the
 * caller's uid (root: of every uid) read-only, checks its header, copies it
 * into a private snapshot with relaxed atomic loads and unmaps it at once:
 * everything printed comes from snapshots. Rates are the differences between
 * two snapshots of the same slot (same file, same creation time, same pid and
 * start time) over the time between the two samples.
 *
 * Trust. A segment is another process's data: possibly half made (the
 * creator writes the magic last), corrupt, or hostile. Nothing in it is used
 * before read_segment has checked the header against the file (type, owner,
 * mode, size) and against the layout this tool was built with; a bad segment
 * becomes one line with the reason, and the rest of the node is still shown.
 * The file may shrink while it is mapped (SIGBUS on access): the copy runs
 * under a SIGBUS guard that turns this into one more reason. Every byte of
 * text that comes from a segment or a file name is printed as printable ASCII
 * ('?' for anything else), so a job name can neither drive the terminal nor
 * break the CSV and JSON output.
 *
 * A snapshot is not atomic: the fields are read one by one without the
 * segment's lock (a viewer must never take a lock that the job's processes
 * need), so a slot that is being taken or given back may show a mix of two
 * moments; the next sample is right again.
 *
 * It links only libc: a tool that inspects SBMA must not run SBMA's allocator
 * in itself.
 *
 * Exit status: 0; 1 no valid segment with --once, or an error; 2 usage.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "node_segment.h"

#define SHM_DIR       "/dev/shm"
#define NAME_PREFIX   "sbma-"
#define ONCE_INTERVAL 0.2 /* seconds between the two samples of --once */
#define MIN_INTERVAL  0.05
#define MAX_INTERVAL  86400.0
#define MIB           (1024.0 * 1024.0)

#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define U64(v)      ((unsigned long long)(v))

/* ------------------------------------------------------------ snapshots */

enum liveness { ALIVE, DEAD_EXITED, DEAD_ZOMBIE, DEAD_REUSED, DEAD_BADPID };
static const char *const dead_word[] = {"", "exited", "zombie", "reused", "badpid"};

static const char *const state_word[] = {"free", "running", "blocked", "waiting"};

struct proc {
	unsigned slot;
	int32_t pid;
	uint32_t state;
	uint64_t start_time, charged, want, ticket, release_req;
	uint64_t resident, dirty, pinned, bytes_read, bytes_written, faults;
	uint64_t waits, wait_ns, releases, blocked_ns, updated_ns;
	enum liveness live;
	int has_rate;
	double read_bps, write_bps, faults_ps;
};

struct seg {
	char path[sizeof SHM_DIR + NAME_MAX + 1]; /* cleaned for printing */
	char job[SBMA_NODE_JOB_MAX];              /* cleaned */
	char host[NAME_MAX + 1];                  /* cleaned */
	unsigned uid;                             /* from the name (= the owner when valid) */
	char why[256];                            /* "" valid, else why it was skipped */
	dev_t dev;
	ino_t ino;
	uint64_t budget, charged, over_budget, recovered, created_ns;
	uint32_t closing;
	unsigned nprocs;
	struct proc *procs; /* nprocs, in slot order */
};

struct sample {
	struct seg *segs;
	size_t n, cap;
	uint64_t mono_ns, real_ns;
	int dir_errno; /* /dev/shm could not be listed */
	int have_rates;
	double dt; /* seconds since the previous sample, when have_rates */
};

struct config {
	double interval;
	int interval_set, once, json, csv;
	long count;                  /* samples to print, 0: until quit */
	char job[SBMA_NODE_JOB_MAX]; /* "" every job */
	unsigned uid;                /* the caller's */
	int all_uids;                /* root */
	char host[64];               /* this node, named as node.c names it */
};

static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("sbma-stat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Text from a segment or a file name, made safe to print anywhere. */
static void clean(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* A job or host name as node.c puts it into a segment name. */
static void sanitize(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < n; i++) {
		char c = src[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		         c == '_' || c == '-';
		dst[i] = ok ? c : '_';
	}
	dst[i] = '\0';
}

/* Field 22 of /proc/pid/stat (start time, clock ticks after boot) and
 * whether the process is a zombie; 0 if it cannot be read. */
static uint64_t proc_start_time(pid_t pid, int *zombie)
{
	char path[64], buf[1024];
	*zombie = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: count fields
	 * from the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return 0;
	p += 2; /* field 3: the state */
	*zombie = *p == 'Z' || *p == 'X';
	for (int field = 3; field < 22 && *p; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

/* The same test as node.c's recovery: gone, a zombie, or a newer process
 * with the same pid. A pid that cannot be signalled (EPERM: another user's
 * process) exists. */
static enum liveness liveness(int32_t pid, uint64_t start_time)
{
	if (pid <= 0)
		return DEAD_BADPID; /* never kill() it: -1 and -n mean groups */
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return DEAD_EXITED;
	int zombie;
	uint64_t st = proc_start_time(pid, &zombie);
	if (zombie)
		return DEAD_ZOMBIE;
	/* As node.c: a slot whose start time is not its pid's (0 included:
	 * spoilt) is dead; an unreadable /proc proves nothing. */
	if (st && st != start_time)
		return DEAD_REUSED;
	return ALIVE;
}

/* The file may be truncated while it is mapped: reading past its new end
 * raises SIGBUS, which must become a reason, not a crash. */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(bus_jmp, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int bad(struct seg *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->why, sizeof g->why, fmt, ap);
	va_end(ap);
	if (!g->why[0])
		snprintf(g->why, sizeof g->why, "invalid");
	return 1;
}

/* Whether the name rest "<job>-<host>" belongs to job `job`, for a segment
 * whose header cannot be trusted to say. Jobs and hosts may both contain
 * '-': a name that ends with this node's host is split exactly; another
 * host's name matches on the prefix "<job>-". */
static int name_is_job(const char *rest, const struct config *cfg)
{
	size_t jl = strlen(cfg->job), rl = strlen(rest), hl = strlen(cfg->host);
	if (strncmp(rest, cfg->job, jl) != 0 || rest[jl] != '-')
		return 0;
	if (hl && rl > hl && rest[rl - hl - 1] == '-' && strcmp(rest + rl - hl, cfg->host) == 0)
		return rl == jl + 1 + hl;
	return 1;
}

/* Copy the checked segment. Runs under the SIGBUS guard; every field is
 * read once, with a relaxed atomic load. */
static void copy_segment(struct seg *g, const struct sbma_node_segment *m)
{
	g->budget = LOAD(m->budget);
	g->charged = LOAD(m->charged);
	g->over_budget = LOAD(m->over_budget);
	g->recovered = LOAD(m->recovered);
	g->created_ns = LOAD(m->created_ns);
	g->closing = LOAD(m->closing);
	g->nprocs = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++) {
		const struct sbma_node_slot *s = &m->slots[i];
		int32_t pid = LOAD(s->pid);
		if (!pid)
			continue;
		struct proc *p = &g->procs[g->nprocs++];
		memset(p, 0, sizeof *p);
		p->slot = i;
		p->pid = pid;
		p->state = LOAD(s->state);
		p->start_time = LOAD(s->start_time);
		p->charged = LOAD(s->charged);
		p->want = LOAD(s->want);
		p->ticket = LOAD(s->ticket);
		p->release_req = LOAD(s->release_req);
		p->resident = LOAD(s->resident);
		p->dirty = LOAD(s->dirty);
		p->pinned = LOAD(s->pinned);
		p->bytes_read = LOAD(s->bytes_read);
		p->bytes_written = LOAD(s->bytes_written);
		p->faults = LOAD(s->faults);
		p->waits = LOAD(s->waits);
		p->wait_ns = LOAD(s->wait_ns);
		p->releases = LOAD(s->releases);
		p->blocked_ns = LOAD(s->blocked_ns);
		p->updated_ns = LOAD(s->updated_ns);
	}
}

/* Check the header of the mapped segment; fills g->job and g->host. Runs
 * under the SIGBUS guard. Returns 0 or 1 (bad: g->why says why). */
static int check_mapped(struct seg *g, const struct sbma_node_segment *m, const struct stat *st, const char *rest)
{
	/* Acquire: pairs with the creator's release store of the magic, the
	 * last thing it writes. */
	uint64_t magic = __atomic_load_n(&m->magic, __ATOMIC_ACQUIRE);
	if (magic == 0)
		return bad(g, "not initialised (magic 0): being created, or its creator died first");
	if (magic != SBMA_NODE_MAGIC)
		return bad(g, "wrong magic 0x%016llx: not an SBMA node segment", (unsigned long long)magic);
	uint32_t version = LOAD(m->version);
	if (version != SBMA_NODE_VERSION)
		return bad(g, "version %u not understood (this sbma-stat reads version %u)", version,
		           SBMA_NODE_VERSION);
	uint32_t header_size = LOAD(m->header_size);
	if (header_size != sizeof *m)
		return bad(g, "header size %u, version %u has %zu (corrupt)", header_size, SBMA_NODE_VERSION,
		           sizeof *m);
	uint32_t nslots = LOAD(m->nslots);
	if (nslots != SBMA_NODE_SLOTS)
		return bad(g, "%u slots, version %u has %u (corrupt)", nslots, SBMA_NODE_VERSION, SBMA_NODE_SLOTS);
	uint64_t size = LOAD(m->size);
	if (size != (uint64_t)st->st_size)
		return bad(g, "size field %llu differs from the file's %lld bytes (corrupt)", (unsigned long long)size,
		           (long long)st->st_size);
	uint32_t uid = LOAD(m->uid);
	if (uid != st->st_uid)
		return bad(g, "owner uid %u in the header, but the file belongs to uid %u", uid, (unsigned)st->st_uid);
	char job[SBMA_NODE_JOB_MAX];
	size_t len = 0;
	for (; len < sizeof job; len++)
		if (!(job[len] = LOAD(m->job[len])))
			break;
	if (len == sizeof job)
		return bad(g, "job name not terminated (corrupt)");
	if (len == 0)
		return bad(g, "empty job name (corrupt)");
	clean(g->job, sizeof g->job, job);
	if (strncmp(rest, job, len) != 0 || rest[len] != '-')
		return bad(g, "job '%s' in the header does not match the file name", g->job);
	clean(g->host, sizeof g->host, rest + len + 1);
	return 0;
}

/* Open, check and copy one segment. Returns 0 to leave it out (gone since
 * the listing, or another job), 1 to show it (valid, or with g->why). */
static int read_segment(struct seg *g, const char *name, unsigned name_uid, const char *rest, const struct config *cfg)
{
	memset(g, 0, sizeof *g);
	char raw[sizeof g->path];
	snprintf(raw, sizeof raw, SHM_DIR "/%s", name);
	clean(g->path, sizeof g->path, raw);
	g->uid = name_uid;
	/* A segment's name starts with its job: skip the others unopened.
	 * Until the header is trusted, the job is what the name says. */
	size_t jl = strlen(cfg->job);
	if (jl && (strncmp(rest, cfg->job, jl) != 0 || rest[jl] != '-'))
		return 0;
	int named_job = !jl || name_is_job(rest, cfg);

	int fd = open(raw, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (!named_job)
			return 0;
		return bad(g, errno == ELOOP ? "a symbolic link, not a segment" : "cannot open: %s", strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return named_job ? bad(g, "cannot stat: %s", strerror(e)) : 0;
	}
	g->dev = st.st_dev;
	g->ino = st.st_ino;
	const size_t need = sizeof(struct sbma_node_segment);
	struct sbma_node_segment *m = MAP_FAILED;
	struct proc *procs = NULL;
	int rc = 1;

	if (!S_ISREG(st.st_mode)) {
		bad(g, "not a regular file");
		goto out;
	}
	if (st.st_uid != name_uid) {
		bad(g, "named for uid %u but owned by uid %u", name_uid, (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_mode & 077) {
		bad(g, "mode %04o, not 0600 (SBMA refuses to use it)", (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size == 0) {
		bad(g, "empty: being created, or its creator died before sizing it");
		goto out;
	}
	if ((uint64_t)st.st_size < need) {
		/* Say "another version" rather than "too small" when the start
		 * of the header tells. */
		struct {
			uint64_t magic;
			uint32_t version;
		} pre;
		if (pread(fd, &pre, sizeof pre, 0) == (ssize_t)sizeof pre) {
			if (pre.magic == 0)
				bad(g, "not initialised (magic 0): being created, or its creator died first");
			else if (pre.magic != SBMA_NODE_MAGIC)
				bad(g, "wrong magic 0x%016llx: not an SBMA node segment",
				    (unsigned long long)pre.magic);
			else if (pre.version != SBMA_NODE_VERSION)
				bad(g, "version %u not understood (this sbma-stat reads version %u)", pre.version,
				    SBMA_NODE_VERSION);
		}
		if (!g->why[0])
			bad(g, "too small: %lld bytes, a version %u segment has %zu", (long long)st.st_size,
			    SBMA_NODE_VERSION, need);
		goto out;
	}
	m = mmap(NULL, need, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		bad(g, "cannot map: %s", strerror(errno));
		goto out;
	}
	procs = xrealloc(NULL, SBMA_NODE_SLOTS * sizeof *procs);
	if (sigsetjmp(bus_jmp, 1)) {
		bad(g, "shrank while being read (SIGBUS)");
		goto out;
	}
	bus_armed = 1;
	if (check_mapped(g, m, &st, rest) == 0) {
		g->procs = procs;
		copy_segment(g, m);
	}
	bus_armed = 0;
	if (!g->why[0]) {
		procs = NULL; /* now g's */
		if (cfg->job[0] && strcmp(g->job, cfg->job) != 0)
			rc = 0;
	}
out:
	bus_armed = 0;
	if (g->why[0]) {
		g->procs = NULL;
		g->nprocs = 0;
		if (!named_job)
			rc = 0;
	}
	free(procs);
	if (m != MAP_FAILED)
		munmap(m, need);
	close(fd);
	if (rc == 1 && !g->why[0])
		for (unsigned i = 0; i < g->nprocs; i++)
			g->procs[i].live = liveness(g->procs[i].pid, g->procs[i].start_time);
	if (rc == 0) {
		free(g->procs);
		g->procs = NULL;
	}
	return rc;
}

/* "sbma-<uid>-<rest>" with a canonical decimal uid: the uid and rest. */
static int parse_name(const char *name, unsigned *uid, const char **rest)
{
	if (strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0)
		return 0;
	const char *p = name + strlen(NAME_PREFIX);
	if (*p < '0' || *p > '9' || (*p == '0' && p[1] != '-'))
		return 0;
	unsigned long long v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	if (*p != '-' || !p[1])
		return 0;
	*uid = (unsigned)v;
	*rest = p + 1;
	return 1;
}

static int seg_order(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;
	if (!x->why[0] != !y->why[0])
		return x->why[0] ? 1 : -1; /* valid ones first */
	return strcmp(x->path, y->path);
}

static void free_sample(struct sample *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->segs[i].procs);
	free(s->segs);
	memset(s, 0, sizeof *s);
}

static void take_sample(struct sample *s, const struct config *cfg)
{
	memset(s, 0, sizeof *s);
	s->mono_ns = clock_ns(CLOCK_MONOTONIC);
	s->real_ns = clock_ns(CLOCK_REALTIME);
	DIR *d = opendir(SHM_DIR);
	if (!d) {
		s->dir_errno = errno;
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned uid;
		const char *rest;
		if (!parse_name(de->d_name, &uid, &rest))
			continue;
		if (!cfg->all_uids && uid != cfg->uid)
			continue;
		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 8;
			s->segs = xrealloc(s->segs, s->cap * sizeof *s->segs);
		}
		if (read_segment(&s->segs[s->n], de->d_name, uid, rest, cfg))
			s->n++;
	}
	closedir(d);
	if (s->n > 1)
		qsort(s->segs, s->n, sizeof *s->segs, seg_order);
}

static int valid_count(const struct sample *s)
{
	int n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += !s->segs[i].why[0];
	return n;
}

/* Rates of `cur` from the slots that are the same process in `prev`. */
static void compute_rates(struct sample *cur, const struct sample *prev)
{
	if (!prev->mono_ns || cur->mono_ns <= prev->mono_ns)
		return;
	double dt = (double)(cur->mono_ns - prev->mono_ns) / 1e9;
	cur->have_rates = 1;
	cur->dt = dt;
	for (size_t i = 0; i < cur->n; i++) {
		struct seg *g = &cur->segs[i];
		const struct seg *pg = NULL;
		if (g->why[0])
			continue;
		for (size_t j = 0; j < prev->n && !pg; j++) {
			const struct seg *c = &prev->segs[j];
			if (!c->why[0] && c->dev == g->dev && c->ino == g->ino && c->created_ns == g->created_ns)
				pg = c;
		}
		if (!pg)
			continue;
		unsigned k = 0; /* both in slot order: walk them together */
		for (unsigned n = 0; n < g->nprocs; n++) {
			struct proc *p = &g->procs[n];
			while (k < pg->nprocs && pg->procs[k].slot < p->slot)
				k++;
			if (k == pg->nprocs)
				break;
			const struct proc *q = &pg->procs[k];
			if (q->slot != p->slot || q->pid != p->pid || q->start_time != p->start_time)
				continue;
			if (p->bytes_read < q->bytes_read || p->bytes_written < q->bytes_written ||
			    p->faults < q->faults)
				continue; /* not monotonic: not the same counters */
			p->has_rate = 1;
			p->read_bps = (double)(p->bytes_read - q->bytes_read) / dt;
			p->write_bps = (double)(p->bytes_written - q->bytes_written) / dt;
			p->faults_ps = (double)(p->faults - q->faults) / dt;
		}
	}
}

/* --------------------------------------------------------------- output */

struct buf {
	char *p;
	size_t len, cap;
};

static void bput(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void bputs(struct buf *b, const char *s)
{
	bput(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void bprintf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	bput(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *state_name(uint32_t state)
{
	return state < sizeof state_word / sizeof state_word[0] ? state_word[state] : "unknown";
}

static char *fmt_size(char *b, size_t n, uint64_t v)
{
	static const char units[] = "KMGTPE";
	if (v < 1024) {
		snprintf(b, n, "%llu", (unsigned long long)v);
		return b;
	}
	double x = (double)v / 1024;
	int u = 0;
	while (x >= 1024 && units[u + 1]) {
		x /= 1024;
		u++;
	}
	snprintf(b, n, x < 10 ? "%.2f%c" : x < 100 ? "%.1f%c" : "%.0f%c", x, units[u]);
	return b;
}

static char *fmt_count(char *b, size_t n, double v)
{
	if (v < 999999.5)
		snprintf(b, n, v < 10 && v != (double)(long long)v ? "%.1f" : "%.0f", v);
	else if (v < 999.5e6)
		snprintf(b, n, "%.1fM", v / 1e6);
	else
		snprintf(b, n, "%.1fG", v / 1e9);
	return b;
}

static char *fmt_dur(char *b, size_t n, uint64_t ns)
{
	uint64_t s = ns / 1000000000u;
	if (s < 60)
		snprintf(b, n, "%.1fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(b, n, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(b, n, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
	else
		snprintf(b, n, "%llud%02uh", (unsigned long long)(s / 86400), (unsigned)(s / 3600 % 24));
	return b;
}

static char *fmt_rate(char *b, size_t n, const struct proc *p, double bps)
{
	if (!p->has_rate)
		snprintf(b, n, "-");
	else
		snprintf(b, n, "%.1f", bps / MIB);
	return b;
}

/* budget - charged, signed, without overflow. */
static char *fmt_free(char *b, size_t n, uint64_t budget, uint64_t charged, int human)
{
	char t[32];
	if (charged <= budget) {
		if (human)
			return fmt_size(b, n, budget - charged);
		snprintf(b, n, "%llu", (unsigned long long)(budget - charged));
	} else if (human) {
		snprintf(b, n, "-%s (over budget)", fmt_size(t, sizeof t, charged - budget));
	} else {
		snprintf(b, n, "-%llu", (unsigned long long)(charged - budget));
	}
	return b;
}

/* Seconds since the segment was created, or -1 if its clock is nonsense. */
static double seg_age(const struct seg *g, const struct sample *s)
{
	if (!g->created_ns || g->created_ns > s->real_ns)
		return -1;
	return (double)(s->real_ns - g->created_ns) / 1e9;
}

static void who_text(char *b, size_t n, const struct config *cfg)
{
	char job[SBMA_NODE_JOB_MAX + 16] = "";
	if (cfg->job[0])
		snprintf(job, sizeof job, ", job %s", cfg->job);
	if (cfg->all_uids)
		snprintf(b, n, "for any uid%s", job);
	else
		snprintf(b, n, "for uid %u%s", cfg->uid, job);
}

/* One process row: c[0] PID, c[1] STATE, c[2..12] the numbers, c[13] FLAG.
 * The FLAG column comes right after STATE, so that a narrow terminal cuts
 * numbers, not the news that a process is dead; it is there only when a
 * process of the segment is. */
static void table_row(struct buf *b, int flag_col, const char *const c[14])
{
	bprintf(b, "%7s %-7s ", c[0], c[1]);
	if (flag_col)
		bprintf(b, "%-11s ", c[13]);
	bprintf(b, "%7s %7s %7s %7s %8s %8s %8s %6s %7s %8s %7s\n", c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9],
	        c[10], c[11], c[12]);
}

static void render_table(struct buf *b, const struct sample *s, const struct config *cfg, int interactive)
{
	static const char *const heads[14] = {"PID",    "STATE",    "RES",      "CHARGED",  "DIRTY",
	                                      "PINNED", "RD_MiB/s", "WR_MiB/s", "FAULTS/s", "WAITS",
	                                      "WAITED", "RELEASES", "BLOCKED",  "FLAG"};
	char when[64], who[128], t[14][32];
	time_t now = (time_t)(s->real_ns / 1000000000u);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	bprintf(b, "sbma-stat on %s  %s  ", cfg->host, when);
	if (!s->have_rates)
		bputs(b, "rates: from the next sample");
	else
		bprintf(b, "rates over %.1f s", s->dt);
	if (interactive)
		bputs(b, "  (q: quit)");
	bputs(b, "\n\n");

	if (s->dir_errno)
		bprintf(b, "cannot list %s: %s\n", SHM_DIR, strerror(s->dir_errno));
	if (!valid_count(s)) {
		who_text(who, sizeof who, cfg);
		bprintf(b, "no SBMA segment %s in %s\n", who, SHM_DIR);
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->segs[i];
		if (g->why[0])
			continue;
		double age = seg_age(g, s);
		bprintf(b, "job %s  uid %u  host %s  age %s%s\n", g->job, g->uid, g->host,
		        age < 0 ? "?" : fmt_dur(t[0], 32, (uint64_t)(age * 1e9)), g->closing ? "  closing" : "");
		bprintf(b, "  budget %s  charged %s  free %s  procs %u  over_budget %llu  recovered %llu\n",
		        fmt_size(t[0], 32, g->budget), fmt_size(t[1], 32, g->charged),
		        fmt_free(t[2], 32, g->budget, g->charged, 1), g->nprocs, U64(g->over_budget),
		        U64(g->recovered));
		int flag_col = 0;
		for (unsigned k = 0; k < g->nprocs; k++)
			flag_col |= g->procs[k].live != ALIVE;
		if (g->nprocs)
			table_row(b, flag_col, heads);
		for (unsigned k = 0; k < g->nprocs; k++) {
			const struct proc *p = &g->procs[k];
			const char *c[14];
			snprintf(t[0], 32, "%d", (int)p->pid);
			c[0] = t[0];
			c[1] = state_name(p->state);
			c[2] = fmt_size(t[2], 32, p->resident);
			c[3] = fmt_size(t[3], 32, p->charged);
			c[4] = fmt_size(t[4], 32, p->dirty);
			c[5] = fmt_size(t[5], 32, p->pinned);
			c[6] = fmt_rate(t[6], 32, p, p->read_bps);
			c[7] = fmt_rate(t[7], 32, p, p->write_bps);
			c[8] = p->has_rate ? fmt_count(t[8], 32, p->faults_ps) : "-";
			c[9] = fmt_count(t[9], 32, (double)p->waits);
			c[10] = fmt_dur(t[10], 32, p->wait_ns);
			c[11] = fmt_count(t[11], 32, (double)p->releases);
			c[12] = fmt_dur(t[12], 32, p->blocked_ns);
			snprintf(t[13], 32, p->live != ALIVE ? "DEAD %s" : "%s", dead_word[p->live]);
			c[13] = t[13];
			table_row(b, flag_col, c);
		}
		bputs(b, "\n");
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->segs[i].why[0])
			bprintf(b, "skipped %s: %s\n", s->segs[i].path, s->segs[i].why);
}

/* CSV: one header, then per sample one row per segment, per process and
 * per skipped segment; the first column says which. */
enum csv_col {
	C_RECORD,
	C_TIME,
	C_SAMPLE,
	C_PATH,
	C_JOB,
	C_HOST,
	C_UID,
	C_BUDGET,
	C_CHARGED,
	C_FREE,
	C_NPROCS,
	C_OVER_BUDGET,
	C_RECOVERED,
	C_AGE,
	C_CLOSING,
	C_REASON,
	C_SLOT,
	C_PID,
	C_STATE,
	C_DEAD,
	C_DEAD_REASON,
	C_START_TIME,
	C_RESIDENT,
	C_WANT,
	C_TICKET,
	C_RELEASE_REQ,
	C_DIRTY,
	C_PINNED,
	C_BYTES_READ,
	C_BYTES_WRITTEN,
	C_READ_BPS,
	C_WRITE_BPS,
	C_FAULTS,
	C_FAULTS_PS,
	C_WAITS,
	C_WAIT_S,
	C_RELEASES,
	C_BLOCKED_S,
	C_UPDATED_AGO,
	NCOL
};
static const char *const csv_name[NCOL] = {
    "record",  "time",         "sample", "path",        "job",         "host",          "uid",          "budget",
    "charged", "free",         "nprocs", "over_budget", "recovered",   "age_s",         "closing",      "reason",
    "slot",    "pid",          "state",  "dead",        "dead_reason", "start_time",    "resident",     "want",
    "ticket",  "release_req",  "dirty",  "pinned",      "bytes_read",  "bytes_written", "read_Bps",     "write_Bps",
    "faults",  "faults_per_s", "waits",  "wait_s",      "releases",    "blocked_s",     "updated_ago_s"};

typedef char csv_row[NCOL][sizeof(((struct seg *)0)->why) + 16];

static void csv_emit(struct buf *b, csv_row row)
{
	for (int c = 0; c < NCOL; c++) {
		if (c)
			bputs(b, ",");
		if (strpbrk(row[c], ",\"")) {
			bputs(b, "\"");
			for (const char *q = row[c]; *q; q++)
				bputs(b, *q == '"' ? "\"\"" : (char[2]){*q, '\0'});
			bputs(b, "\"");
		} else {
			bputs(b, row[c]);
		}
	}
	bputs(b, "\n");
}

#define SETF(c, ...) snprintf(row[c], sizeof row[c], __VA_ARGS__)

static void render_csv(struct buf *b, const struct sample *s, long sample_no)
{
	static csv_row row;
	char time_s[40];
	snprintf(time_s, sizeof time_s, "%llu.%03llu", U64(s->real_ns / 1000000000u),
	         U64(s->real_ns / 1000000u % 1000u));
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->segs[i];
		memset(row, 0, sizeof row);
		SETF(C_TIME, "%s", time_s);
		SETF(C_SAMPLE, "%ld", sample_no);
		SETF(C_PATH, "%s", g->path);
		SETF(C_UID, "%u", g->uid);
		if (g->why[0]) {
			SETF(C_RECORD, "invalid");
			SETF(C_REASON, "%s", g->why);
			csv_emit(b, row);
			continue;
		}
		SETF(C_RECORD, "segment");
		SETF(C_JOB, "%s", g->job);
		SETF(C_HOST, "%s", g->host);
		SETF(C_BUDGET, "%llu", U64(g->budget));
		SETF(C_CHARGED, "%llu", U64(g->charged));
		fmt_free(row[C_FREE], sizeof row[C_FREE], g->budget, g->charged, 0);
		SETF(C_NPROCS, "%u", g->nprocs);
		SETF(C_OVER_BUDGET, "%llu", U64(g->over_budget));
		SETF(C_RECOVERED, "%llu", U64(g->recovered));
		double age = seg_age(g, s);
		if (age >= 0)
			SETF(C_AGE, "%.3f", age);
		SETF(C_CLOSING, "%u", g->closing ? 1u : 0u);
		csv_emit(b, row);
		for (unsigned k = 0; k < g->nprocs; k++) {
			const struct proc *p = &g->procs[k];
			for (int c = C_BUDGET; c < NCOL; c++)
				row[c][0] = '\0';
			SETF(C_RECORD, "process");
			SETF(C_CHARGED, "%llu", U64(p->charged));
			SETF(C_SLOT, "%u", p->slot);
			SETF(C_PID, "%d", (int)p->pid);
			SETF(C_STATE, "%s", state_name(p->state));
			SETF(C_DEAD, "%d", p->live != ALIVE);
			SETF(C_DEAD_REASON, "%s", dead_word[p->live]);
			SETF(C_START_TIME, "%llu", U64(p->start_time));
			SETF(C_RESIDENT, "%llu", U64(p->resident));
			SETF(C_WANT, "%llu", U64(p->want));
			SETF(C_TICKET, "%llu", U64(p->ticket));
			SETF(C_RELEASE_REQ, "%llu", U64(p->release_req));
			SETF(C_DIRTY, "%llu", U64(p->dirty));
			SETF(C_PINNED, "%llu", U64(p->pinned));
			SETF(C_BYTES_READ, "%llu", U64(p->bytes_read));
			SETF(C_BYTES_WRITTEN, "%llu", U64(p->bytes_written));
			if (p->has_rate) {
				SETF(C_READ_BPS, "%.0f", p->read_bps);
				SETF(C_WRITE_BPS, "%.0f", p->write_bps);
				SETF(C_FAULTS_PS, "%.1f", p->faults_ps);
			}
			SETF(C_FAULTS, "%llu", U64(p->faults));
			SETF(C_WAITS, "%llu", U64(p->waits));
			SETF(C_WAIT_S, "%.3f", (double)p->wait_ns / 1e9);
			SETF(C_RELEASES, "%llu", U64(p->releases));
			SETF(C_BLOCKED_S, "%.3f", (double)p->blocked_ns / 1e9);
			if (p->updated_ns && p->updated_ns <= s->mono_ns)
				SETF(C_UPDATED_AGO, "%.3f", (double)(s->mono_ns - p->updated_ns) / 1e9);
			csv_emit(b, row);
		}
	}
}

static void csv_header(struct buf *b)
{
	for (int c = 0; c < NCOL; c++) {
		if (c)
			bputs(b, ",");
		bputs(b, csv_name[c]);
	}
	bputs(b, "\n");
}

/* A JSON string from cleaned text (printable ASCII only). */
static void json_str(struct buf *b, const char *s)
{
	bputs(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			bputs(b, "\\");
		bput(b, s, 1);
	}
	bputs(b, "\"");
}

/* JSON: one object per sample, on one line (JSON Lines when sampling
 * repeatedly; one document with --once). */
static void render_json(struct buf *b, const struct sample *s, long sample_no, const struct config *cfg)
{
	bprintf(b, "{\"time\":%llu.%03llu,\"sample\":%ld,", U64(s->real_ns / 1000000000u),
	        U64(s->real_ns / 1000000u % 1000u), sample_no);
	if (s->have_rates)
		bprintf(b, "\"interval\":%.3f,", s->dt);
	else
		bputs(b, "\"interval\":null,");
	bputs(b, "\"host\":");
	json_str(b, cfg->host);
	if (cfg->all_uids)
		bputs(b, ",\"uid\":null");
	else
		bprintf(b, ",\"uid\":%u", cfg->uid);
	bputs(b, ",\"job\":");
	if (cfg->job[0])
		json_str(b, cfg->job);
	else
		bputs(b, "null");
	if (s->dir_errno) {
		bputs(b, ",\"error\":");
		json_str(b, strerror(s->dir_errno));
	}
	bputs(b, ",\"segments\":[");
	int first = 1;
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->segs[i];
		char fr[48];
		if (g->why[0])
			continue;
		bputs(b, first ? "{\"path\":" : ",{\"path\":");
		first = 0;
		json_str(b, g->path);
		bputs(b, ",\"job\":");
		json_str(b, g->job);
		bputs(b, ",\"host\":");
		json_str(b, g->host);
		bprintf(b, ",\"uid\":%u,\"budget\":%llu,\"charged\":%llu,\"free\":%s,\"nprocs\":%u,", g->uid,
		        U64(g->budget), U64(g->charged), fmt_free(fr, sizeof fr, g->budget, g->charged, 0), g->nprocs);
		bprintf(b, "\"over_budget\":%llu,\"recovered\":%llu,\"created\":%llu.%03llu,", U64(g->over_budget),
		        U64(g->recovered), U64(g->created_ns / 1000000000u), U64(g->created_ns / 1000000u % 1000u));
		double age = seg_age(g, s);
		if (age >= 0)
			bprintf(b, "\"age_s\":%.3f,", age);
		else
			bputs(b, "\"age_s\":null,");
		bprintf(b, "\"closing\":%s,\"processes\":[", g->closing ? "true" : "false");
		for (unsigned k = 0; k < g->nprocs; k++) {
			const struct proc *p = &g->procs[k];
			bprintf(b,
			        "%s{\"slot\":%u,\"pid\":%d,\"state\":\"%s\",\"dead\":%s,\"dead_reason\":", k ? "," : "",
			        p->slot, (int)p->pid, state_name(p->state), p->live != ALIVE ? "true" : "false");
			if (p->live != ALIVE)
				json_str(b, dead_word[p->live]);
			else
				bputs(b, "null");
			bprintf(b, ",\"start_time\":%llu,\"resident\":%llu,\"charged\":%llu,\"want\":%llu,",
			        U64(p->start_time), U64(p->resident), U64(p->charged), U64(p->want));
			bprintf(b, "\"ticket\":%llu,\"release_req\":%llu,\"dirty\":%llu,\"pinned\":%llu,",
			        U64(p->ticket), U64(p->release_req), U64(p->dirty), U64(p->pinned));
			bprintf(b, "\"bytes_read\":%llu,\"bytes_written\":%llu,\"faults\":%llu,", U64(p->bytes_read),
			        U64(p->bytes_written), U64(p->faults));
			if (p->has_rate)
				bprintf(b, "\"read_Bps\":%.0f,\"write_Bps\":%.0f,\"faults_per_s\":%.1f,", p->read_bps,
				        p->write_bps, p->faults_ps);
			else
				bputs(b, "\"read_Bps\":null,\"write_Bps\":null,\"faults_per_s\":null,");
			bprintf(b, "\"waits\":%llu,\"wait_s\":%.3f,\"releases\":%llu,\"blocked_s\":%.3f,",
			        U64(p->waits), (double)p->wait_ns / 1e9, U64(p->releases), (double)p->blocked_ns / 1e9);
			if (p->updated_ns && p->updated_ns <= s->mono_ns)
				bprintf(b, "\"updated_ago_s\":%.3f}", (double)(s->mono_ns - p->updated_ns) / 1e9);
			else
				bputs(b, "\"updated_ago_s\":null}");
		}
		bputs(b, "]}");
	}
	bputs(b, "],\"invalid\":[");
	first = 1;
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->segs[i];
		if (!g->why[0])
			continue;
		bputs(b, first ? "{\"path\":" : ",{\"path\":");
		first = 0;
		json_str(b, g->path);
		bprintf(b, ",\"uid\":%u,\"reason\":", g->uid);
		json_str(b, g->why);
		bputs(b, "}");
	}
	bputs(b, "]}\n");
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a closed pipe: SIGPIPE ends us */
		p += w;
		n -= (size_t)w;
	}
}

static void write_str(const char *s)
{
	write_all(STDOUT_FILENO, s, strlen(s));
}

/* ------------------------------------------------------------- terminal */

static volatile sig_atomic_t got_quit, got_winch, got_tstp;
static struct termios saved_tio;
static int have_tio, screen_on;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else if (sig == SIGTSTP)
		got_tstp = 1;
	else
		got_quit = sig;
}

static void catch_signal(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: poll and sleeps must return */
	sigaction(sig, &sa, NULL);
}

/* Alternate screen, no cursor, keys one at a time without echo; Ctrl-C
 * still raises SIGINT (ISIG is kept). */
static void term_enter(void)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		struct termios raw = saved_tio;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		have_tio = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	write_str("\033[?1049h\033[?25l\033[H\033[2J");
	screen_on = 1;
}

static void term_leave(void)
{
	if (!screen_on)
		return;
	screen_on = 0;
	write_str("\033[?25h\033[?1049l");
	if (have_tio)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	have_tio = 0;
}

static void term_size(int *w, int *h)
{
	struct winsize ws;
	*w = 80;
	*h = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*w = ws.ws_col;
		*h = ws.ws_row;
	}
}

/* Paint `text` over the screen: lines cut to the width (one column short,
 * so that no line wraps), as many as fit, the rest cleared. */
static void draw(const char *text)
{
	int w, h;
	term_size(&w, &h);
	int lines = 0;
	for (const char *q = text; *q; q++)
		lines += *q == '\n';
	struct buf o = {0};
	bputs(&o, "\033[H");
	int row = 0;
	for (const char *p = text; *p && row < h; row++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (row == h - 1 && lines > h) {
			char more[96];
			int n = snprintf(more, sizeof more, "... %d more lines: enlarge the window, or use -j JOB",
			                 lines - row);
			bput(&o, more, n < w - 1 ? (size_t)n : (size_t)(w - 1));
			bputs(&o, "\033[K");
			break;
		}
		bput(&o, p, len < (size_t)(w - 1) ? len : (size_t)(w - 1));
		bputs(&o, "\033[K");
		if (row < h - 1)
			bputs(&o, "\n"); /* the tty (OPOST, ONLCR) adds the CR */
		p = nl ? nl + 1 : p + len;
	}
	bputs(&o, "\033[J");
	write_all(STDOUT_FILENO, o.p, o.len);
	free(o.p);
}

/* Wait until `deadline` (CLOCK_MONOTONIC ns), a key or a signal. Returns 1
 * to quit, 0 to take the next sample. */
static int wait_interactive(uint64_t deadline, int *stdin_open)
{
	for (;;) {
		if (got_quit)
			return 1;
		if (got_winch) {
			got_winch = 0;
			return 0; /* repaint at the new size */
		}
		if (got_tstp) {
			got_tstp = 0;
			term_leave();
			signal(SIGTSTP, SIG_DFL);
			raise(SIGTSTP); /* stopped here until SIGCONT */
			catch_signal(SIGTSTP);
			term_enter();
			return 0;
		}
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now >= deadline)
			return 0;
		int ms = (int)((deadline - now + 999999) / 1000000);
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int n = poll(&pfd, *stdin_open ? 1 : 0, ms);
		if (n > 0) {
			char keys[64];
			ssize_t r = read(STDIN_FILENO, keys, sizeof keys);
			if (r <= 0) {
				*stdin_open = 0; /* EOF: only Ctrl-C quits now */
				continue;
			}
			for (ssize_t i = 0; i < r; i++)
				if (keys[i] == 'q' || keys[i] == 'Q')
					return 1;
			return 0; /* any other key: sample now */
		}
	}
}

/* Sleep until `deadline`; returns 1 if a signal asks to quit. */
static int wait_plain(uint64_t deadline)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000u), .tv_nsec = (long)(deadline % 1000000000u)};
	while (!got_quit && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	return got_quit != 0;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: sbma-stat [-i SECONDS] [-j JOB] [-n COUNT] [--once] [--json | --csv]\n"
	        "Show the SBMA node segments of this node (" SHM_DIR "/sbma-<uid>-<job>-<host>) live:\n"
	        "per job the node budget, per process its state, memory, I/O rates and waiting.\n"
	        "By default the segments of your uid; root sees every uid's.\n"
	        "\n"
	        "  -i, --interval SECONDS  time between samples (default 1; %g to %g)\n"
	        "  -j, --job JOB           only the segment of job JOB\n"
	        "  -n, --count COUNT       stop after COUNT samples\n"
	        "      --once              one sample and exit; rates are measured over %.1f s\n"
	        "                          (or over -i SECONDS if given)\n"
	        "      --json              one JSON object per sample, one per line\n"
	        "      --csv               CSV: a header, then rows of records segment, process, invalid\n"
	        "  -h, --help              this help\n"
	        "\n"
	        "On a terminal the screen is redrawn every interval: q or Ctrl-C quits, any other key\n"
	        "samples at once. Without a terminal, text tables are printed one after the other.\n"
	        "Rates (RD_MiB/s, WR_MiB/s, FAULTS/s) come from two samples: the first screen shows '-'.\n"
	        "FLAG 'DEAD' marks a process that is gone (or a zombie, or whose pid now belongs to\n"
	        "another process) while its slot still holds a charge: SBMA reclaims it when another\n"
	        "process of the job next needs budget.\n"
	        "\n"
	        "Exit status: 0 ok; 1 no segment found (with --once) or an error; 2 usage.\n"
	        "See docs/sbma-stat.md.\n",
	        MIN_INTERVAL, MAX_INTERVAL, ONCE_INTERVAL);
}

static void usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("sbma-stat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'sbma-stat -h'.\n", stderr);
	exit(2);
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
	    {"interval", required_argument, NULL, 'i'}, {"job", required_argument, NULL, 'j'},
	    {"count", required_argument, NULL, 'n'},    {"once", no_argument, NULL, 'o'},
	    {"json", no_argument, NULL, 'J'},           {"csv", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
	int c;
	char *end;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:j:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			errno = 0;
			cfg->interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(cfg->interval) ||
			    cfg->interval < MIN_INTERVAL || cfg->interval > MAX_INTERVAL)
				usage_error("-i '%s': expected seconds between samples, %g to %g", optarg, MIN_INTERVAL,
				            MAX_INTERVAL);
			cfg->interval_set = 1;
			break;
		case 'j':
			if (!optarg[0] || strlen(optarg) >= sizeof cfg->job)
				usage_error("-j '%s': expected a job name of 1 to %u characters", optarg,
				            SBMA_NODE_JOB_MAX - 1);
			/* The name as SBMA stores it: `-j "$PMIX_NAMESPACE"` works. */
			sanitize(cfg->job, sizeof cfg->job, optarg);
			break;
		case 'n':
			errno = 0;
			cfg->count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || cfg->count < 1)
				usage_error("-n '%s': expected a number of samples, 1 or more", optarg);
			break;
		case 'o':
			cfg->once = 1;
			break;
		case 'J':
			cfg->json = 1;
			break;
		case 'C':
			cfg->csv = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			usage_error("option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg->json && cfg->csv)
		usage_error("--json and --csv exclude each other");
	if (cfg->once && cfg->count)
		usage_error("--once and -n exclude each other");
}

int main(int argc, char **argv)
{
	struct config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.interval = 1.0;
	parse_args(argc, argv, &cfg);
	if (cfg.once && !cfg.interval_set)
		cfg.interval = ONCE_INTERVAL;
	cfg.uid = (unsigned)getuid();
	cfg.all_uids = geteuid() == 0;
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	char *dot = strchr(host, '.');
	if (dot)
		*dot = '\0';
	sanitize(cfg.host, sizeof cfg.host, host);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	catch_signal(SIGINT);
	catch_signal(SIGTERM);
	catch_signal(SIGHUP);

	int interactive = !cfg.once && !cfg.json && !cfg.csv && isatty(STDOUT_FILENO);
	int stdin_open = 1;
	if (interactive) {
		catch_signal(SIGWINCH);
		catch_signal(SIGTSTP);
		atexit(term_leave);
		term_enter();
	}

	struct sample prev, cur;
	memset(&prev, 0, sizeof prev);
	memset(&cur, 0, sizeof cur);
	struct buf out = {0};
	uint64_t step = (uint64_t)(cfg.interval * 1e9);
	uint64_t next = clock_ns(CLOCK_MONOTONIC);
	long samples = 0;
	int status = 0;

	if (cfg.csv) {
		csv_header(&out);
		write_all(STDOUT_FILENO, out.p, out.len);
		out.len = 0;
	}
	if (cfg.once) {
		/* Two samples, to have rates; print the second. */
		take_sample(&prev, &cfg);
		next += step;
		if (wait_plain(next))
			goto quit;
	}
	for (;;) {
		take_sample(&cur, &cfg);
		compute_rates(&cur, &prev);
		samples++;
		out.len = 0;
		if (cfg.json)
			render_json(&out, &cur, samples, &cfg);
		else if (cfg.csv)
			render_csv(&out, &cur, samples);
		else
			render_table(&out, &cur, &cfg, interactive);
		if (interactive) {
			draw(out.p);
		} else {
			if (!cfg.once && !cfg.json && !cfg.csv && samples > 1)
				write_all(STDOUT_FILENO, "\n", 1);
			write_all(STDOUT_FILENO, out.p, out.len);
		}
		if (cfg.once) {
			if (cur.dir_errno) {
				fprintf(stderr, "sbma-stat: cannot list %s: %s\n", SHM_DIR, strerror(cur.dir_errno));
				status = 1;
			} else if (!valid_count(&cur)) {
				char who[128];
				who_text(who, sizeof who, &cfg);
				fprintf(stderr, "no SBMA segment %s\n", who);
				status = 1;
			}
			break;
		}
		free_sample(&prev);
		prev = cur;
		memset(&cur, 0, sizeof cur);
		if (cfg.count && samples >= cfg.count)
			break;
		next += step;
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (next < now)
			next = now; /* fell behind (stopped, slow): do not catch up */
		if (interactive ? wait_interactive(next, &stdin_open) : wait_plain(next))
			break;
		if (interactive)
			next = clock_ns(CLOCK_MONOTONIC); /* a key or a resize: count from now */
	}
quit:
	free_sample(&prev);
	free_sample(&cur);
	free(out.p);
	term_leave();
	if (got_quit && !(interactive && got_quit == SIGINT)) {
		/* Ctrl-C is how one leaves the live view; anything else (or
		 * Ctrl-C on a script's stream) dies by the signal, once the
		 * terminal is back. */
		signal(got_quit, SIG_DFL);
		raise(got_quit);
	}
	return status;
}
