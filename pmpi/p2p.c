/*
 * p2p.c - point-to-point calls: pin the buffers, and make the blocking
 * calls nonblocking calls completed by the blocking engine (wait.c).
 *
 * Send buffers are pinned for reading, receive buffers for writing, before
 * the call is posted (a transfer may start inside the posting call) and
 * until it completes: for blocking calls here, for nonblocking ones when
 * the request completes (requests.c), for persistent ones at
 * MPI_Request_free.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pmpi_internal.h"

/* ---- blocking sends and receives ---- */

typedef int (*isend_fn)(const void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Request *);

static int send_blocking(isend_fn isend, const void *buf, int count, MPI_Datatype type, int dest, int tag,
                         MPI_Comm comm)
{
	struct pmpi__pins p;
	pmpi__pins_init(&p);
	pmpi__pin_typed(&p, PMPI__SEND, buf, count, type, SBMA_ACCESS_READ);
	MPI_Request r;
	int rc = isend(buf, count, type, dest, tag, comm, &r);
	if (rc == MPI_SUCCESS)
		rc = pmpi__wait_request(&r, MPI_STATUS_IGNORE);
	pmpi__unpin(&p);
	return rc;
}

PMPI_EXPORT int MPI_Send(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm)
{
	PMPI__IN_MPI();
	return send_blocking(PMPI_Isend, buf, count, datatype, dest, tag, comm);
}

PMPI_EXPORT int MPI_Ssend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm)
{
	PMPI__IN_MPI();
	return send_blocking(PMPI_Issend, buf, count, datatype, dest, tag, comm);
}

PMPI_EXPORT int MPI_Rsend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm)
{
	PMPI__IN_MPI();
	return send_blocking(PMPI_Irsend, buf, count, datatype, dest, tag, comm);
}

PMPI_EXPORT int MPI_Bsend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm)
{
	PMPI__IN_MPI();
	return send_blocking(PMPI_Ibsend, buf, count, datatype, dest, tag, comm);
}

PMPI_EXPORT int MPI_Recv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
                         MPI_Status *status)
{
	PMPI__IN_MPI();
	struct pmpi__pins p;
	pmpi__pins_init(&p);
	pmpi__pin_typed(&p, PMPI__RECV, buf, count, datatype, SBMA_ACCESS_WRITE);
	MPI_Request r;
	int rc = PMPI_Irecv(buf, count, datatype, source, tag, comm, &r);
	if (rc == MPI_SUCCESS)
		rc = pmpi__wait_request(&r, status);
	pmpi__unpin(&p);
	return rc;
}

/* Wait for a receive (reqs[0]) and a send (reqs[1]); the receive's status
 * to *status; MPI_ERR_IN_STATUS becomes the failed request's error, as the
 * blocking call would have returned it. */
static int wait_pair(MPI_Request reqs[2], MPI_Status *status)
{
	MPI_Status st[2];
	int rc = pmpi__wait_requests(2, reqs, st);
	if (rc == MPI_ERR_IN_STATUS)
		rc = st[0].MPI_ERROR != MPI_SUCCESS ? st[0].MPI_ERROR : st[1].MPI_ERROR;
	if (status != MPI_STATUS_IGNORE)
		*status = st[0];
	return rc;
}

PMPI_EXPORT int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag,
                             void *recvbuf, int recvcount, MPI_Datatype recvtype, int source, int recvtag,
                             MPI_Comm comm, MPI_Status *status)
{
	PMPI__IN_MPI();
	struct pmpi__pins p;
	pmpi__pins_init(&p);
	pmpi__pin_typed(&p, PMPI__SEND, sendbuf, sendcount, sendtype, SBMA_ACCESS_READ);
	pmpi__pin_typed(&p, PMPI__RECV, recvbuf, recvcount, recvtype, SBMA_ACCESS_WRITE);
	MPI_Request reqs[2];
	int rc = PMPI_Irecv(recvbuf, recvcount, recvtype, source, recvtag, comm, &reqs[0]);
	if (rc == MPI_SUCCESS) {
		rc = PMPI_Isend(sendbuf, sendcount, sendtype, dest, sendtag, comm, &reqs[1]);
		if (rc == MPI_SUCCESS) {
			rc = wait_pair(reqs, status);
		} else {
			/* The receive must not outlive the call. */
			PMPI_Cancel(&reqs[0]);
			PMPI_Wait(&reqs[0], MPI_STATUS_IGNORE);
		}
	}
	pmpi__unpin(&p);
	return rc;
}

/*
 * Sendrecv_replace: the message sent must be the buffer's contents before
 * the receive overwrites them, so they are packed into a scratch buffer
 * first (as MPI implementations do themselves); the packed message matches
 * any receive with the same type signature.
 */
PMPI_EXPORT int MPI_Sendrecv_replace(void *buf, int count, MPI_Datatype datatype, int dest, int sendtag, int source,
                                     int recvtag, MPI_Comm comm, MPI_Status *status)
{
	PMPI__IN_MPI();
	int size = 0, pos = 0;
	int rc = PMPI_Pack_size(count, datatype, comm, &size);
	if (rc != MPI_SUCCESS)
		return rc;
	/* Inside a wrapper malloc is libc's (PMPI__IN_MPI): the scratch
	 * buffer is not SBMA memory, and pinning it below costs one range
	 * check. */
	char *tmp = malloc(size > 0 ? (size_t)size : 1);
	if (!tmp)
		return PMPI_Sendrecv_replace(buf, count, datatype, dest, sendtag, source, recvtag, comm, status);
	rc = PMPI_Pack(buf, count, datatype, tmp, size, &pos, comm);
	if (rc != MPI_SUCCESS) {
		free(tmp);
		return rc;
	}
	struct pmpi__pins p;
	pmpi__pins_init(&p);
	pmpi__pin_bytes(&p, PMPI__SEND, tmp, (size_t)pos, SBMA_ACCESS_READ);
	pmpi__pin_typed(&p, PMPI__RECV, buf, count, datatype, SBMA_ACCESS_WRITE);
	MPI_Request reqs[2];
	rc = PMPI_Irecv(buf, count, datatype, source, recvtag, comm, &reqs[0]);
	if (rc == MPI_SUCCESS) {
		rc = PMPI_Isend(tmp, pos, MPI_PACKED, dest, sendtag, comm, &reqs[1]);
		if (rc == MPI_SUCCESS) {
			rc = wait_pair(reqs, status);
		} else {
			PMPI_Cancel(&reqs[0]);
			PMPI_Wait(&reqs[0], MPI_STATUS_IGNORE);
		}
	}
	pmpi__unpin(&p);
	free(tmp);
	return rc;
}

/* ---- probes and matched receives ---- */

struct probe_ctx {
	int source, tag;
	MPI_Comm comm;
	MPI_Message *message; /* NULL: MPI_Probe */
	MPI_Status *status;
};

static int test_probe(void *ctx, int *done)
{
	struct probe_ctx *c = ctx;
	if (c->message)
		return PMPI_Improbe(c->source, c->tag, c->comm, done, c->message, c->status);
	return PMPI_Iprobe(c->source, c->tag, c->comm, done, c->status);
}

PMPI_EXPORT int MPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status *status)
{
	PMPI__IN_MPI();
	struct probe_ctx c = {source, tag, comm, NULL, status};
	return pmpi__wait(test_probe, &c);
}

PMPI_EXPORT int MPI_Mprobe(int source, int tag, MPI_Comm comm, MPI_Message *message, MPI_Status *status)
{
	PMPI__IN_MPI();
	struct probe_ctx c = {source, tag, comm, message, status};
	return pmpi__wait(test_probe, &c);
}

PMPI_EXPORT int MPI_Mrecv(void *buf, int count, MPI_Datatype datatype, MPI_Message *message, MPI_Status *status)
{
	PMPI__IN_MPI();
	struct pmpi__pins p;
	pmpi__pins_init(&p);
	pmpi__pin_typed(&p, PMPI__RECV, buf, count, datatype, SBMA_ACCESS_WRITE);
	MPI_Request r;
	int rc = PMPI_Imrecv(buf, count, datatype, message, &r);
	if (rc == MPI_SUCCESS)
		rc = pmpi__wait_request(&r, status);
	pmpi__unpin(&p);
	return rc;
}

/* ---- nonblocking and persistent: pinned until the request completes
 * (nonblocking) or until MPI_Request_free (persistent) ---- */

/* One buffer, pinned for what the call does with it: read for sends, write
 * for receives. */
static void pin_one(struct pmpi__pins *p, int slot, const void *buf, int count, MPI_Datatype datatype)
{
	pmpi__pins_init(p);
	pmpi__pin_typed(p, slot, buf, count, datatype, slot == PMPI__SEND ? SBMA_ACCESS_READ : SBMA_ACCESS_WRITE);
}

#define SEND_POSTED(name, pname, persistent)                                                                           \
	PMPI_EXPORT int name(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,      \
	                     MPI_Request *request)                                                                     \
	{                                                                                                              \
		PMPI__IN_MPI();                                                                                        \
		struct pmpi__pins p;                                                                                   \
		pin_one(&p, PMPI__SEND, buf, count, datatype);                                                         \
		return PMPI__POST_TRACKED(&p, request, persistent,                                                     \
		                          pname(buf, count, datatype, dest, tag, comm, request));                      \
	}

SEND_POSTED(MPI_Isend, PMPI_Isend, 0)
SEND_POSTED(MPI_Issend, PMPI_Issend, 0)
SEND_POSTED(MPI_Irsend, PMPI_Irsend, 0)
SEND_POSTED(MPI_Ibsend, PMPI_Ibsend, 0)
SEND_POSTED(MPI_Send_init, PMPI_Send_init, 1)
SEND_POSTED(MPI_Ssend_init, PMPI_Ssend_init, 1)
SEND_POSTED(MPI_Rsend_init, PMPI_Rsend_init, 1)
SEND_POSTED(MPI_Bsend_init, PMPI_Bsend_init, 1)

PMPI_EXPORT int MPI_Irecv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
                          MPI_Request *request)
{
	PMPI__IN_MPI();
	struct pmpi__pins p;
	pin_one(&p, PMPI__RECV, buf, count, datatype);
	return PMPI__POST_TRACKED(&p, request, 0, PMPI_Irecv(buf, count, datatype, source, tag, comm, request));
}

PMPI_EXPORT int MPI_Imrecv(void *buf, int count, MPI_Datatype datatype, MPI_Message *message, MPI_Request *request)
{
	PMPI__IN_MPI();
	struct pmpi__pins p;
	pin_one(&p, PMPI__RECV, buf, count, datatype);
	return PMPI__POST_TRACKED(&p, request, 0, PMPI_Imrecv(buf, count, datatype, message, request));
}

PMPI_EXPORT int MPI_Recv_init(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
                              MPI_Request *request)
{
	PMPI__IN_MPI();
	struct pmpi__pins p;
	pin_one(&p, PMPI__RECV, buf, count, datatype);
	return PMPI__POST_TRACKED(&p, request, 1, PMPI_Recv_init(buf, count, datatype, source, tag, comm, request));
}

/* ---- the buffer of buffered sends: MPI copies out of it in the background
 * while it is attached ---- */

static struct pmpi__pins attached;
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

PMPI_EXPORT int MPI_Buffer_attach(void *buffer, int size)
{
	PMPI__IN_MPI();
	pthread_mutex_lock(&attach_lock);
	struct pmpi__pins p;
	pmpi__pins_init(&p);
	pmpi__pin_bytes(&p, PMPI__SEND, buffer, size > 0 ? (size_t)size : 0, SBMA_ACCESS_WRITE);
	int rc = PMPI_Buffer_attach(buffer, size);
	if (rc == MPI_SUCCESS) {
		attached = p;
	} else {
		pmpi__unpin(&p);
	}
	pthread_mutex_unlock(&attach_lock);
	return rc;
}

PMPI_EXPORT int MPI_Buffer_detach(void *buffer_addr, int *size)
{
	PMPI__IN_MPI();
	/* Detach waits until the buffered messages are out: a blocking call,
	 * but one with no nonblocking form. */
	int rc = PMPI_Buffer_detach(buffer_addr, size);
	if (rc == MPI_SUCCESS) {
		pthread_mutex_lock(&attach_lock);
		pmpi__unpin(&attached);
		pthread_mutex_unlock(&attach_lock);
	}
	return rc;
}
