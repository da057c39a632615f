/*
 * node_segment.h - the layout of the node segment: the POSIX shared memory
 * that the processes of one job on one node share (src/node.c) and that
 * tools/sbma-stat reads.
 *
 * Name: /sbma-<uid>-<job>-<host> (shm_open; /dev/shm/sbma-... on Linux).
 * Mode 0600, created with O_EXCL by the first process of the job.
 *
 * Trust: nothing here is used before the header is checked (magic, version,
 * header size, segment size, slot count, owner, budget). The creator writes
 * the magic last, so a reader that sees it sees an initialised segment.
 * Any process of the user can still write anything here later: node.c
 * compares the header and its own slot with private copies at every lock
 * and repairs them, and reads other slots' fields clamped ("Trust" in
 * node.c); slot indexes never come from the segment (nslots is checked,
 * never used as a bound).
 *
 * Concurrency: the fields marked [lock] change only under `lock` (a robust,
 * process-shared mutex). The fields marked [owner] are written by the
 * process that owns the slot, with relaxed atomic stores, and read by
 * anyone without the lock (statistics: a reader may see them a moment old,
 * never torn). `release_req` is written by any process under the lock and
 * read by the owner without it.
 */
#ifndef SBMA_NODE_SEGMENT_H
#define SBMA_NODE_SEGMENT_H

#include <pthread.h>
#include <stdint.h>

#define SBMA_NODE_MAGIC 0x45444f4e414d4253ULL /* "SBMANODE" little-endian */
#define SBMA_NODE_VERSION 1u
#define SBMA_NODE_SLOTS 256u    /* processes of one job on one node */
#define SBMA_NODE_JOB_MAX 72u
#define SBMA_NODE_PREFIX "/sbma-"
/* A segment being made, before it gets its name (node.c create_linked):
 * hidden, so that sbma-stat does not list it. */
#define SBMA_NODE_NEW_PREFIX "/.sbma-new-"

enum sbma_node_slot_state {
	SBMA_SLOT_FREE = 0,
	SBMA_SLOT_RUNNING = 1, /* computing */
	SBMA_SLOT_BLOCKED = 2, /* in a blocking call: answers release requests */
	SBMA_SLOT_WAITING = 3, /* waiting for node budget */
};

struct sbma_node_slot {
	int32_t pid;            /* [lock] 0: free */
	uint32_t state;         /* [owner] enum sbma_node_slot_state */
	uint64_t start_time;    /* [lock] the process's start time (clock ticks
				 * since boot, /proc/pid/stat field 22): tells
				 * a dead process from a reused pid */
	uint64_t charged;       /* [lock] bytes of node budget held */
	uint64_t want;          /* [lock] bytes waited for (state WAITING) */
	uint64_t ticket;        /* [lock] place in the wait queue (0: none) */
	uint64_t release_req;   /* [lock] bytes others asked it to release */
	/* Statistics, [owner]: */
	uint64_t resident;      /* SBMA memory in RAM */
	uint64_t dirty;
	uint64_t pinned;
	uint64_t bytes_read;    /* from its backing store */
	uint64_t bytes_written;
	uint64_t faults;
	uint64_t waits;         /* times it waited for node budget */
	uint64_t wait_ns;
	uint64_t releases;      /* release requests answered */
	uint64_t blocked_ns;    /* time in blocking calls */
	uint64_t updated_ns;    /* CLOCK_MONOTONIC of the last update */
};

struct sbma_node_segment {
	uint64_t magic;          /* SBMA_NODE_MAGIC, written last */
	uint32_t version;        /* SBMA_NODE_VERSION */
	uint32_t header_size;    /* sizeof(struct sbma_node_segment) */
	uint64_t size;           /* bytes of the whole segment */
	uint32_t uid;            /* owner */
	uint32_t nslots;         /* SBMA_NODE_SLOTS */
	uint32_t closing;        /* [lock] the last process is removing it */
	uint32_t futex;          /* bumped (and woken) whenever budget is freed */
	uint64_t budget;         /* bytes of resident SBMA memory for the node */
	uint64_t charged;        /* [lock] sum of the slots' charges */
	uint64_t next_ticket;    /* [lock] wait queue: next ticket to hand out */
	uint64_t over_budget;    /* [lock] loads granted past the budget */
	uint64_t recovered;      /* [lock] dead processes whose charge was reclaimed */
	uint64_t created_ns;     /* CLOCK_REALTIME at creation */
	char job[SBMA_NODE_JOB_MAX];
	pthread_mutex_t lock;    /* robust, process-shared */
	struct sbma_node_slot slots[SBMA_NODE_SLOTS];
};

#endif /* SBMA_NODE_SEGMENT_H */
