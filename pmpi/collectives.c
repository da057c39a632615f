/*
 * collectives.c - collective calls: pin the buffers each process's role
 * makes it use, and run the blocking ones as their MPI-3 nonblocking forms
 * (MPI_Ibcast, ...) completed by the blocking engine (wait.c).
 *
 * Which buffers are significant depends on the role: in a rooted
 * collective only the root's receive buffer (Gather, Reduce) or send
 * buffer (Scatter) is used; MPI_IN_PLACE means the other buffer is both;
 * on an intercommunicator the root passes MPI_ROOT and contributes
 * nothing, and the other processes of its group pass MPI_PROC_NULL.
 * Buffers that are not significant are not pinned (their pointers may be
 * anything).
 *
 * The nonblocking form of a collective may run a different algorithm than
 * the blocking one (Open MPI: libnbc instead of the tuned component), which
 * costs latency on small collectives. FIXME: measure; a size threshold under
 * which the blocking call is made directly (without releasing memory) may
 * pay.
 */
#include "config.h"

#include "pmpi_internal.h"

/* Roles, as bits: ROOT uses the root-side buffers, MEMBER contributes or
 * receives as an ordinary member. An intracommunicator's root is both. */
enum { ROLE_ROOT = 1, ROLE_MEMBER = 2 };

static int role(MPI_Comm comm, int root)
{
	int inter = 0, rank = -1;
	PMPI_Comm_test_inter(comm, &inter);
	if (inter)
		return root == MPI_ROOT ? ROLE_ROOT : root == MPI_PROC_NULL ? 0 : ROLE_MEMBER;
	PMPI_Comm_rank(comm, &rank);
	return rank == root ? ROLE_ROOT | ROLE_MEMBER : ROLE_MEMBER;
}

int pmpi__peers(MPI_Comm comm)
{
	int inter = 0, n = 0, r = 0;
	PMPI_Comm_size(comm, &n);
	PMPI_Comm_test_inter(comm, &inter);
	if (inter) {
		PMPI_Comm_remote_size(comm, &r);
		if (r > n)
			n = r;
	}
	return n;
}

/* Complete a blocking collective posted as request *r, then drop its pins. */
static int finish(int rc, MPI_Request *r, struct pmpi__pins *p)
{
	if (rc == MPI_SUCCESS)
		rc = pmpi__wait_request(r, MPI_STATUS_IGNORE);
	pmpi__unpin(p);
	return rc;
}

#define PINS(p)                                                                                                        \
	struct pmpi__pins p;                                                                                           \
	pmpi__pins_init(&p)

/* ---- Barrier ---- */

PMPI_EXPORT int MPI_Barrier(MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	MPI_Request r;
	return finish(PMPI_Ibarrier(comm, &r), &r, &p);
}

/* ---- Bcast ---- */

static void pins_bcast(struct pmpi__pins *p, void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
	if (!pmpi__have_arena())
		return;
	int r = role(comm, root);
	if (r & ROLE_ROOT)
		pmpi__pin_typed(p, PMPI__SEND, buf, count, type, SBMA_ACCESS_READ);
	else if (r)
		pmpi__pin_typed(p, PMPI__RECV, buf, count, type, SBMA_ACCESS_WRITE);
}

PMPI_EXPORT int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_bcast(&p, buffer, count, datatype, root, comm);
	MPI_Request r;
	return finish(PMPI_Ibcast(buffer, count, datatype, root, comm, &r), &r, &p);
}

PMPI_EXPORT int MPI_Ibcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm,
                           MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_bcast(&p, buffer, count, datatype, root, comm);
	return PMPI__POST_TRACKED(&p, request, 0, PMPI_Ibcast(buffer, count, datatype, root, comm, request));
}

/* ---- Reduce, Allreduce, Scan, Exscan ---- */

static void pins_reduce(struct pmpi__pins *p, const void *sendbuf, void *recvbuf, int count, MPI_Datatype type,
                        int root, MPI_Comm comm)
{
	if (!pmpi__have_arena())
		return;
	int r = role(comm, root);
	if ((r & ROLE_MEMBER) && sendbuf != MPI_IN_PLACE)
		pmpi__pin_typed(p, PMPI__SEND, sendbuf, count, type, SBMA_ACCESS_READ);
	if (r & ROLE_ROOT)
		pmpi__pin_typed(p, PMPI__RECV, recvbuf, count, type, SBMA_ACCESS_WRITE);
}

/* Every member sends and receives (Allreduce, Scan, Exscan). */
static void pins_allreduce(struct pmpi__pins *p, const void *sendbuf, void *recvbuf, int count, MPI_Datatype type)
{
	if (!pmpi__have_arena())
		return;
	pmpi__pin_typed(p, PMPI__SEND, sendbuf, count, type, SBMA_ACCESS_READ);
	pmpi__pin_typed(p, PMPI__RECV, recvbuf, count, type, SBMA_ACCESS_WRITE);
}

PMPI_EXPORT int MPI_Reduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, int root,
                           MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_reduce(&p, sendbuf, recvbuf, count, datatype, root, comm);
	MPI_Request r;
	return finish(PMPI_Ireduce(sendbuf, recvbuf, count, datatype, op, root, comm, &r), &r, &p);
}

PMPI_EXPORT int MPI_Ireduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, int root,
                            MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_reduce(&p, sendbuf, recvbuf, count, datatype, root, comm);
	return PMPI__POST_TRACKED(&p, request, 0,
	                          PMPI_Ireduce(sendbuf, recvbuf, count, datatype, op, root, comm, request));
}

#define ALLREDUCE_LIKE(name, iname, piname)                                                                            \
	PMPI_EXPORT int name(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,          \
	                     MPI_Comm comm)                                                                            \
	{                                                                                                              \
		PMPI__IN_MPI();                                                                                        \
		PINS(p);                                                                                               \
		pins_allreduce(&p, sendbuf, recvbuf, count, datatype);                                                 \
		MPI_Request r;                                                                                         \
		return finish(piname(sendbuf, recvbuf, count, datatype, op, comm, &r), &r, &p);                        \
	}                                                                                                              \
	PMPI_EXPORT int iname(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,         \
	                      MPI_Comm comm, MPI_Request *request)                                                     \
	{                                                                                                              \
		PMPI__IN_MPI();                                                                                        \
		PINS(p);                                                                                               \
		pins_allreduce(&p, sendbuf, recvbuf, count, datatype);                                                 \
		return PMPI__POST_TRACKED(&p, request, 0,                                                              \
		                          piname(sendbuf, recvbuf, count, datatype, op, comm, request));               \
	}

ALLREDUCE_LIKE(MPI_Allreduce, MPI_Iallreduce, PMPI_Iallreduce)
ALLREDUCE_LIKE(MPI_Scan, MPI_Iscan, PMPI_Iscan)
ALLREDUCE_LIKE(MPI_Exscan, MPI_Iexscan, PMPI_Iexscan)

/* ---- Reduce_scatter_block, Reduce_scatter ---- */

static void pins_reduce_scatter_block(struct pmpi__pins *p, const void *sendbuf, void *recvbuf, int recvcount,
                                      MPI_Datatype type, MPI_Comm comm)
{
	if (!pmpi__have_arena())
		return;
	int n = pmpi__peers(comm);
	/* In place: the input is recvcount * n elements at recvbuf. */
	if (sendbuf == MPI_IN_PLACE)
		pmpi__pin_typed(p, PMPI__RECV, recvbuf, (MPI_Aint)recvcount * n, type, SBMA_ACCESS_WRITE);
	else {
		pmpi__pin_typed(p, PMPI__SEND, sendbuf, (MPI_Aint)recvcount * n, type, SBMA_ACCESS_READ);
		pmpi__pin_typed(p, PMPI__RECV, recvbuf, recvcount, type, SBMA_ACCESS_WRITE);
	}
}

PMPI_EXPORT int MPI_Reduce_scatter_block(const void *sendbuf, void *recvbuf, int recvcount, MPI_Datatype datatype,
                                         MPI_Op op, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_reduce_scatter_block(&p, sendbuf, recvbuf, recvcount, datatype, comm);
	MPI_Request r;
	return finish(PMPI_Ireduce_scatter_block(sendbuf, recvbuf, recvcount, datatype, op, comm, &r), &r, &p);
}

PMPI_EXPORT int MPI_Ireduce_scatter_block(const void *sendbuf, void *recvbuf, int recvcount, MPI_Datatype datatype,
                                          MPI_Op op, MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_reduce_scatter_block(&p, sendbuf, recvbuf, recvcount, datatype, comm);
	return PMPI__POST_TRACKED(&p, request, 0,
	                          PMPI_Ireduce_scatter_block(sendbuf, recvbuf, recvcount, datatype, op, comm, request));
}

static void pins_reduce_scatter(struct pmpi__pins *p, const void *sendbuf, void *recvbuf, const int recvcounts[],
                                MPI_Datatype type, MPI_Comm comm)
{
	if (!pmpi__have_arena() || !recvcounts)
		return;
	/* recvcounts has one entry per process of the local group.
	 * FIXME: on an intercommunicator the send side's length follows the
	 * other group's counts, which this process cannot see; only the local
	 * sum is pinned. */
	int n = 0, rank = 0;
	PMPI_Comm_size(comm, &n);
	PMPI_Comm_rank(comm, &rank);
	MPI_Aint total = 0;
	for (int i = 0; i < n; i++)
		total += recvcounts[i] > 0 ? recvcounts[i] : 0;
	if (sendbuf == MPI_IN_PLACE)
		pmpi__pin_typed(p, PMPI__RECV, recvbuf, total, type, SBMA_ACCESS_WRITE);
	else {
		pmpi__pin_typed(p, PMPI__SEND, sendbuf, total, type, SBMA_ACCESS_READ);
		pmpi__pin_typed(p, PMPI__RECV, recvbuf, recvcounts[rank], type, SBMA_ACCESS_WRITE);
	}
}

PMPI_EXPORT int MPI_Reduce_scatter(const void *sendbuf, void *recvbuf, const int recvcounts[], MPI_Datatype datatype,
                                   MPI_Op op, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_reduce_scatter(&p, sendbuf, recvbuf, recvcounts, datatype, comm);
	MPI_Request r;
	return finish(PMPI_Ireduce_scatter(sendbuf, recvbuf, recvcounts, datatype, op, comm, &r), &r, &p);
}

PMPI_EXPORT int MPI_Ireduce_scatter(const void *sendbuf, void *recvbuf, const int recvcounts[], MPI_Datatype datatype,
                                    MPI_Op op, MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_reduce_scatter(&p, sendbuf, recvbuf, recvcounts, datatype, comm);
	return PMPI__POST_TRACKED(&p, request, 0,
	                          PMPI_Ireduce_scatter(sendbuf, recvbuf, recvcounts, datatype, op, comm, request));
}

/* ---- Gather, Gatherv ---- */

/* Gather and scatter are mirror images: every member moves its own block
 * (unless it is MPI_IN_PLACE), the root moves n blocks, or v-blocks. Send
 * buffers are pinned for reading, receive buffers for writing. */
struct rooted_side {
	const void *buf;
	MPI_Aint count;       /* the member's count; n times this at the root */
	const int *counts;    /* v-forms: the root's counts and displacements */
	const int *displs;
	MPI_Datatype type;
	int slot;             /* PMPI__SEND or PMPI__RECV */
};

static void pins_rooted(struct pmpi__pins *p, const struct rooted_side *member, const struct rooted_side *at_root,
                        int root, MPI_Comm comm)
{
	if (!pmpi__have_arena())
		return;
	int r = role(comm, root);
	int member_access = member->slot == PMPI__SEND ? SBMA_ACCESS_READ : SBMA_ACCESS_WRITE;
	int root_access = at_root->slot == PMPI__SEND ? SBMA_ACCESS_READ : SBMA_ACCESS_WRITE;
	if ((r & ROLE_MEMBER) && member->buf != MPI_IN_PLACE)
		pmpi__pin_typed(p, member->slot, member->buf, member->count, member->type, member_access);
	if (!(r & ROLE_ROOT))
		return;
	int n = pmpi__peers(comm);
	if (at_root->counts)
		pmpi__pin_v(p, at_root->slot, at_root->buf, at_root->counts, at_root->displs, n, at_root->type,
		            root_access);
	else
		pmpi__pin_typed(p, at_root->slot, at_root->buf, at_root->count * n, at_root->type, root_access);
}

static void pins_gather(struct pmpi__pins *p, const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                        int recvcount, MPI_Datatype recvtype, const int recvcounts[], const int displs[], int root,
                        MPI_Comm comm)
{
	struct rooted_side member = {sendbuf, sendcount, NULL, NULL, sendtype, PMPI__SEND};
	struct rooted_side at_root = {recvbuf, recvcount, recvcounts, displs, recvtype, PMPI__RECV};
	pins_rooted(p, &member, &at_root, root, comm);
}

PMPI_EXPORT int MPI_Gather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                           MPI_Datatype recvtype, int root, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_gather(&p, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, NULL, NULL, root, comm);
	MPI_Request r;
	return finish(PMPI_Igather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm, &r), &r, &p);
}

PMPI_EXPORT int MPI_Igather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                            MPI_Datatype recvtype, int root, MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_gather(&p, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, NULL, NULL, root, comm);
	return PMPI__POST_TRACKED(
	    &p, request, 0,
	    PMPI_Igather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm, request));
}

PMPI_EXPORT int MPI_Gatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                            const int recvcounts[], const int displs[], MPI_Datatype recvtype, int root, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_gather(&p, sendbuf, sendcount, sendtype, recvbuf, 0, recvtype, recvcounts, displs, root, comm);
	MPI_Request r;
	return finish(
	    PMPI_Igatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, root, comm, &r), &r, &p);
}

PMPI_EXPORT int MPI_Igatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                             const int recvcounts[], const int displs[], MPI_Datatype recvtype, int root, MPI_Comm comm,
                             MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_gather(&p, sendbuf, sendcount, sendtype, recvbuf, 0, recvtype, recvcounts, displs, root, comm);
	return PMPI__POST_TRACKED(
	    &p, request, 0,
	    PMPI_Igatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, root, comm, request));
}

/* ---- Scatter, Scatterv ---- */

static void pins_scatter(struct pmpi__pins *p, const void *sendbuf, int sendcount, const int sendcounts[],
                         const int displs[], MPI_Datatype sendtype, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                         int root, MPI_Comm comm)
{
	struct rooted_side member = {recvbuf, recvcount, NULL, NULL, recvtype, PMPI__RECV};
	struct rooted_side at_root = {sendbuf, sendcount, sendcounts, displs, sendtype, PMPI__SEND};
	pins_rooted(p, &member, &at_root, root, comm);
}

PMPI_EXPORT int MPI_Scatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                            MPI_Datatype recvtype, int root, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_scatter(&p, sendbuf, sendcount, NULL, NULL, sendtype, recvbuf, recvcount, recvtype, root, comm);
	MPI_Request r;
	return finish(PMPI_Iscatter(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm, &r), &r,
	              &p);
}

PMPI_EXPORT int MPI_Iscatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                             MPI_Datatype recvtype, int root, MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_scatter(&p, sendbuf, sendcount, NULL, NULL, sendtype, recvbuf, recvcount, recvtype, root, comm);
	return PMPI__POST_TRACKED(
	    &p, request, 0,
	    PMPI_Iscatter(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm, request));
}

PMPI_EXPORT int MPI_Scatterv(const void *sendbuf, const int sendcounts[], const int displs[], MPI_Datatype sendtype,
                             void *recvbuf, int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_scatter(&p, sendbuf, 0, sendcounts, displs, sendtype, recvbuf, recvcount, recvtype, root, comm);
	MPI_Request r;
	return finish(
	    PMPI_Iscatterv(sendbuf, sendcounts, displs, sendtype, recvbuf, recvcount, recvtype, root, comm, &r), &r,
	    &p);
}

PMPI_EXPORT int MPI_Iscatterv(const void *sendbuf, const int sendcounts[], const int displs[], MPI_Datatype sendtype,
                              void *recvbuf, int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm,
                              MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_scatter(&p, sendbuf, 0, sendcounts, displs, sendtype, recvbuf, recvcount, recvtype, root, comm);
	return PMPI__POST_TRACKED(
	    &p, request, 0,
	    PMPI_Iscatterv(sendbuf, sendcounts, displs, sendtype, recvbuf, recvcount, recvtype, root, comm, request));
}

/* ---- Allgather, Allgatherv ---- */

static void pins_allgather(struct pmpi__pins *p, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                           void *recvbuf, int recvcount, const int recvcounts[], const int displs[],
                           MPI_Datatype recvtype, MPI_Comm comm)
{
	if (!pmpi__have_arena())
		return;
	int n = pmpi__peers(comm);
	if (sendbuf != MPI_IN_PLACE)
		pmpi__pin_typed(p, PMPI__SEND, sendbuf, sendcount, sendtype, SBMA_ACCESS_READ);
	if (recvcounts)
		pmpi__pin_v(p, PMPI__RECV, recvbuf, recvcounts, displs, n, recvtype, SBMA_ACCESS_WRITE);
	else
		pmpi__pin_typed(p, PMPI__RECV, recvbuf, (MPI_Aint)recvcount * n, recvtype, SBMA_ACCESS_WRITE);
}

PMPI_EXPORT int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                              MPI_Datatype recvtype, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_allgather(&p, sendbuf, sendcount, sendtype, recvbuf, recvcount, NULL, NULL, recvtype, comm);
	MPI_Request r;
	return finish(PMPI_Iallgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm, &r), &r, &p);
}

PMPI_EXPORT int MPI_Iallgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                               MPI_Datatype recvtype, MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_allgather(&p, sendbuf, sendcount, sendtype, recvbuf, recvcount, NULL, NULL, recvtype, comm);
	return PMPI__POST_TRACKED(
	    &p, request, 0, PMPI_Iallgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm, request));
}

PMPI_EXPORT int MPI_Allgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                               const int recvcounts[], const int displs[], MPI_Datatype recvtype, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_allgather(&p, sendbuf, sendcount, sendtype, recvbuf, 0, recvcounts, displs, recvtype, comm);
	MPI_Request r;
	return finish(PMPI_Iallgatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, comm, &r),
	              &r, &p);
}

PMPI_EXPORT int MPI_Iallgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                                const int recvcounts[], const int displs[], MPI_Datatype recvtype, MPI_Comm comm,
                                MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_allgather(&p, sendbuf, sendcount, sendtype, recvbuf, 0, recvcounts, displs, recvtype, comm);
	return PMPI__POST_TRACKED(
	    &p, request, 0,
	    PMPI_Iallgatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, comm, request));
}

/* ---- Alltoall, Alltoallv, Alltoallw ---- */

static void pins_alltoall(struct pmpi__pins *p, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                          void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
	if (!pmpi__have_arena())
		return;
	int n = pmpi__peers(comm);
	if (sendbuf != MPI_IN_PLACE)
		pmpi__pin_typed(p, PMPI__SEND, sendbuf, (MPI_Aint)sendcount * n, sendtype, SBMA_ACCESS_READ);
	pmpi__pin_typed(p, PMPI__RECV, recvbuf, (MPI_Aint)recvcount * n, recvtype, SBMA_ACCESS_WRITE);
}

PMPI_EXPORT int MPI_Alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                             MPI_Datatype recvtype, MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_alltoall(&p, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
	MPI_Request r;
	return finish(PMPI_Ialltoall(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm, &r), &r, &p);
}

PMPI_EXPORT int MPI_Ialltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                              MPI_Datatype recvtype, MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_alltoall(&p, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
	return PMPI__POST_TRACKED(
	    &p, request, 0, PMPI_Ialltoall(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm, request));
}

static void pins_alltoallv(struct pmpi__pins *p, const void *sendbuf, const int sendcounts[], const int sdispls[],
                           MPI_Datatype sendtype, void *recvbuf, const int recvcounts[], const int rdispls[],
                           MPI_Datatype recvtype, MPI_Comm comm)
{
	if (!pmpi__have_arena())
		return;
	int n = pmpi__peers(comm);
	if (sendbuf != MPI_IN_PLACE)
		pmpi__pin_v(p, PMPI__SEND, sendbuf, sendcounts, sdispls, n, sendtype, SBMA_ACCESS_READ);
	pmpi__pin_v(p, PMPI__RECV, recvbuf, recvcounts, rdispls, n, recvtype, SBMA_ACCESS_WRITE);
}

PMPI_EXPORT int MPI_Alltoallv(const void *sendbuf, const int sendcounts[], const int sdispls[], MPI_Datatype sendtype,
                              void *recvbuf, const int recvcounts[], const int rdispls[], MPI_Datatype recvtype,
                              MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_alltoallv(&p, sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm);
	MPI_Request r;
	return finish(
	    PMPI_Ialltoallv(sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm, &r),
	    &r, &p);
}

PMPI_EXPORT int MPI_Ialltoallv(const void *sendbuf, const int sendcounts[], const int sdispls[], MPI_Datatype sendtype,
                               void *recvbuf, const int recvcounts[], const int rdispls[], MPI_Datatype recvtype,
                               MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_alltoallv(&p, sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm);
	return PMPI__POST_TRACKED(&p, request, 0,
	                          PMPI_Ialltoallv(sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls,
	                                          recvtype, comm, request));
}

static void pins_alltoallw(struct pmpi__pins *p, const void *sendbuf, const int sendcounts[], const int sdispls[],
                           const MPI_Datatype sendtypes[], void *recvbuf, const int recvcounts[], const int rdispls[],
                           const MPI_Datatype recvtypes[], MPI_Comm comm)
{
	if (!pmpi__have_arena())
		return;
	int n = pmpi__peers(comm);
	if (sendbuf != MPI_IN_PLACE)
		pmpi__pin_w(p, PMPI__SEND, sendbuf, sendcounts, sdispls, sendtypes, n, SBMA_ACCESS_READ);
	pmpi__pin_w(p, PMPI__RECV, recvbuf, recvcounts, rdispls, recvtypes, n, SBMA_ACCESS_WRITE);
}

PMPI_EXPORT int MPI_Alltoallw(const void *sendbuf, const int sendcounts[], const int sdispls[],
                              const MPI_Datatype sendtypes[], void *recvbuf, const int recvcounts[],
                              const int rdispls[], const MPI_Datatype recvtypes[], MPI_Comm comm)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_alltoallw(&p, sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm);
	MPI_Request r;
	return finish(
	    PMPI_Ialltoallw(sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm, &r),
	    &r, &p);
}

PMPI_EXPORT int MPI_Ialltoallw(const void *sendbuf, const int sendcounts[], const int sdispls[],
                               const MPI_Datatype sendtypes[], void *recvbuf, const int recvcounts[],
                               const int rdispls[], const MPI_Datatype recvtypes[], MPI_Comm comm, MPI_Request *request)
{
	PMPI__IN_MPI();
	PINS(p);
	pins_alltoallw(&p, sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm);
	return PMPI__POST_TRACKED(&p, request, 0,
	                          PMPI_Ialltoallw(sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls,
	                                          recvtypes, comm, request));
}
