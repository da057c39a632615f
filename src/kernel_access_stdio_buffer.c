/*
 * kernel_access_stdio_buffer.c - stream buffers the program gives stdio.
 *
 * setvbuf(f, buf, mode, size) makes stdio keep f's data in buf, and stdio
 * moves it between buf and the kernel with its internal read and write,
 * which no interposer sees. A large buffer in SBMA memory (at least
 * SBMA_MIN_ALLOC) could be evicted between two calls on the stream; the
 * next refill or flush then fails with EFAULT: the data is lost and the
 * stream's error flag set, and at exit nobody looks.
 *
 * So such a buffer is pinned (resident, writable, never evicted) from
 * setvbuf until fclose of its stream; setbuffer and setbuf are setvbuf
 * under other names. A pinned buffer counts in the budget, and may push
 * resident memory over it (sbma_pin). The streams with a pinned buffer are
 * remembered in a small table, so that fclose (or a later setvbuf of the
 * same stream) unpins; a stream the table has no room for keeps its pin
 * until the buffer is freed (free drops every pin of the pages it frees).
 * A stream still open at exit keeps its pin: glibc flushes it after
 * SBMA's destructors, from the buffer.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "sbma_internal.h"

#define EXPORT __attribute__((visibility("default")))

/* Streams with a pinned buffer at once that fclose unpins. */
#define HELD_MAX 64

static struct held {
	FILE *f;
	char *buf;
	size_t size;
} held[HELD_MAX];
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

static __typeof__(setvbuf) *real_setvbuf;
static __typeof__(fclose) *real_fclose;

/* Looked up before SBMA's start-up, or on the spot by an earlier call. */
__attribute__((constructor(101))) static void resolve_stdio_buffer(void)
{
	real_setvbuf = (__typeof__(real_setvbuf))dlsym(RTLD_NEXT, "setvbuf");
	real_fclose = (__typeof__(real_fclose))dlsym(RTLD_NEXT, "fclose");
	/* No dlsym as a tail call (RTLD_NEXT would look after the caller of
	 * this constructor, the dynamic linker). */
	__asm__ volatile("" ::: "memory");
}

/* Take f's entry out of the table (an empty one if it has none). */
static struct held take(FILE *f)
{
	struct held h = {NULL, NULL, 0};
	pthread_mutex_lock(&held_lock);
	for (int i = 0; i < HELD_MAX; i++)
		if (held[i].f == f) {
			h = held[i];
			held[i] = (struct held){NULL, NULL, 0};
			break;
		}
	pthread_mutex_unlock(&held_lock);
	return h;
}

static void unpin(struct held h)
{
	if (h.f)
		sbma_unpin(h.buf, h.size);
}

/* Remember f's pinned buffer; 0 if the table is full (the pin stays). */
static int remember(FILE *f, char *buf, size_t size)
{
	int ok = 0;
	pthread_mutex_lock(&held_lock);
	for (int i = 0; i < HELD_MAX && !ok; i++)
		if (!held[i].f) {
			held[i] = (struct held){f, buf, size};
			ok = 1;
		}
	pthread_mutex_unlock(&held_lock);
	return ok;
}

EXPORT int setvbuf(FILE *f, char *buf, int mode, size_t size)
{
	if (!real_setvbuf)
		real_setvbuf = (__typeof__(real_setvbuf))sbma__ka_next("setvbuf");
	int pin = buf && size && mode != _IONBF && (sbma__in_arena(buf) || sbma__in_arena(buf + size - 1));
	if (pin) {
		int rc = sbma_pin(buf, size, SBMA_ACCESS_WRITE);
		if (rc) {
			sbma__log("setvbuf: cannot pin the stream buffer at %p (%zu bytes of SBMA memory): %s; "
				  "the stream's reads and writes fail with EFAULT if it is evicted",
				  (void *)buf, size, strerror(-rc));
			pin = 0;
		}
	}
	int r = real_setvbuf(f, buf, mode, size);
	if (r == 0)
		unpin(take(f)); /* the buffer it had, if pinned */
	if (pin && r != 0)
		sbma_unpin(buf, size);
	else if (pin && !remember(f, buf, size))
		sbma__log("setvbuf: more than %d streams with a buffer in SBMA memory: the buffer at %p stays "
			  "pinned until it is freed",
			  HELD_MAX, (void *)buf);
	return r;
}

EXPORT void setbuffer(FILE *f, char *buf, size_t size)
{
	setvbuf(f, buf, buf ? _IOFBF : _IONBF, size);
}

EXPORT void setbuf(FILE *f, char *buf)
{
	setvbuf(f, buf, buf ? _IOFBF : _IONBF, BUFSIZ);
}

EXPORT int fclose(FILE *f)
{
	if (!real_fclose)
		real_fclose = (__typeof__(real_fclose))sbma__ka_next("fclose");
	/* Out of the table before the close (a stream opened meanwhile in
	 * another thread may get the same address), unpinned after it (its
	 * last flush writes from the buffer). */
	struct held h = take(f);
	int r = real_fclose(f);
	unpin(h);
	return r;
}
