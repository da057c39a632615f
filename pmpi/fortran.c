/*
 * fortran.c - the Fortran bindings of the wrapped calls.
 *
 * A Fortran entry point that calls the C functions MPI_* reaches the C
 * wrappers by itself; one that calls PMPI_* bypasses them, and must be
 * wrapped here. Which kind an MPI has is a matter of its Fortran library
 * (`nm -D`, `objdump -d`: what each mpi_recv_ calls):
 *
 *   - Open MPI: mpif.h and `use mpi` (libmpi_mpifh) call PMPI_* (mpi_recv_
 *     references PMPI_Recv, never MPI_Recv), and the mpi_f08 bindings
 *     (mpi_recv_f08_) call ompi_recv_f, the same function as mpi_recv_.
 *     Each call listed in docs/pmpi.md is defined here under the four
 *     usual manglings (mpi_recv, mpi_recv_, mpi_recv__, MPI_RECV) and as
 *     ompi_recv_f. So is any MPI that is not MPICH.
 *   - MPICH 4 (libmpichfort, checked with 4.0.2): mpif.h and `use mpi` call
 *     MPI_* (mpi_recv_ calls MPI_Recv): none of them is defined here, so
 *     MPICH's own bindings (its Fortran start-up, sentinels and LOGICAL
 *     values) stay in place and every C wrapper applies to Fortran as well.
 *     Its mpi_f08 bindings call MPI_* for calls with a buffer
 *     (mpi_send_f08ts_ calls MPI_Send) but PMPI_* for the others
 *     (mpi_wait_f08_ calls PMPI_Wait, mpi_init_f08_ PMPI_Init): those that
 *     the C layer wraps are defined here under MPICH's names,
 *     mpi_<call>_f08_ (init, init_thread, finalize, pcontrol, barrier,
 *     probe, mprobe, wait*, test*, request_free, buffer_detach).
 *
 * Each entry point converts the handles and calls the C wrapper (MPI_Recv),
 * so the same pinning and blocking logic applies. Defined here, before
 * MPI's Fortran library in the lookup order (LD_PRELOAD, or -lsbma-pmpi
 * ahead of the MPI libraries), they take precedence over MPI's
 * definitions.
 *
 * Conventions of the Fortran binding: every argument by reference; handles
 * are MPI_Fint (converted with MPI_*_f2c/c2f); a status is MPI_Fint[
 * MPI_STATUS_SIZE] (in MPICH's mpi_f08 an MPI_F08_status, which has the
 * same layout: checked below); an absent OPTIONAL argument (mpi_f08's
 * IERROR) is a null pointer; LOGICAL .TRUE. is written as 1 (gfortran's
 * value; FIXME: a compiler with another .TRUE., ifort's -1 by default,
 * would need MPI's configured value); indices are 1-based; the buffers
 * MPI_BOTTOM and MPI_IN_PLACE are the addresses of MPI's Fortran
 * sentinels.
 *
 * FIXME: the Fortran forms of calls not listed here (neighbour
 * collectives, RMA, I/O, most nonblocking collectives) go straight to
 * PMPI_* with Open MPI, their buffers unpinned. An MPICH older than 4 gets
 * no Fortran wrapper at all: its mpif.h bindings need none, its mpi_f08
 * bindings were not examined.
 */
#include "config.h"

#include <stddef.h>

#include "pmpi_internal.h"

#if !defined(MPICH)
#define WRAP_F77 1 /* Open MPI: mpif.h, use mpi, and ompi_*_f for mpi_f08 */
#elif MPI_VERSION >= 4
#define WRAP_MPICH_F08 1 /* MPICH: the mpi_f08 entry points that call PMPI_* */
#endif

#if defined(WRAP_F77) || defined(WRAP_MPICH_F08)

_Static_assert(sizeof(MPI_Fint) == sizeof(int), "count arrays are passed through: MPI_Fint must be an int");

#ifdef MPI_F_STATUS_SIZE
#define STATUS_SIZE MPI_F_STATUS_SIZE
#else
#define STATUS_SIZE ((int)(sizeof(MPI_Status) / sizeof(MPI_Fint)))
#endif

#ifdef WRAP_MPICH_F08
/* A TYPE(MPI_Status) of MPICH's mpi_f08 is mpif.h's status array under
 * another name: the code below handles both as MPI_Fint[STATUS_SIZE]; only
 * the sentinels of MPI_STATUS(ES)_IGNORE differ. */
_Static_assert(sizeof(MPI_F08_status) == STATUS_SIZE * sizeof(MPI_Fint) &&
                   offsetof(MPI_F08_status, MPI_SOURCE) == MPI_F_SOURCE * sizeof(MPI_Fint) &&
                   offsetof(MPI_F08_status, MPI_TAG) == MPI_F_TAG * sizeof(MPI_Fint) &&
                   offsetof(MPI_F08_status, MPI_ERROR) == MPI_F_ERROR * sizeof(MPI_Fint),
               "MPICH's MPI_F08_status must be laid out as its Fortran status array");
#define F_STATUS_IGNORE   ((MPI_Fint *)MPI_F08_STATUS_IGNORE)
#define F_STATUSES_IGNORE ((MPI_Fint *)MPI_F08_STATUSES_IGNORE)
#else
#define F_STATUS_IGNORE   MPI_F_STATUS_IGNORE
#define F_STATUSES_IGNORE MPI_F_STATUSES_IGNORE
#endif

#ifdef WRAP_F77
/* ---- MPI_BOTTOM and MPI_IN_PLACE as Fortran passes them ---- */

/* Open MPI: common blocks in libmpi, under the Fortran compiler's
 * mangling. Weak: absent ones are NULL. (MPICH's never get here: its
 * bindings that take buffers are its own.) */
#define WEAK_SENTINEL(name) extern int name __attribute__((weak))
WEAK_SENTINEL(mpi_fortran_bottom);
WEAK_SENTINEL(mpi_fortran_bottom_);
WEAK_SENTINEL(mpi_fortran_bottom__);
WEAK_SENTINEL(MPI_FORTRAN_BOTTOM);
WEAK_SENTINEL(mpi_fortran_in_place);
WEAK_SENTINEL(mpi_fortran_in_place_);
WEAK_SENTINEL(mpi_fortran_in_place__);
WEAK_SENTINEL(MPI_FORTRAN_IN_PLACE);

static int is_bottom(const void *p)
{
	return p && (p == &mpi_fortran_bottom || p == &mpi_fortran_bottom_ || p == &mpi_fortran_bottom__ ||
	             p == &MPI_FORTRAN_BOTTOM);
}

static int is_in_place(const void *p)
{
	return p && (p == &mpi_fortran_in_place || p == &mpi_fortran_in_place_ || p == &mpi_fortran_in_place__ ||
	             p == &MPI_FORTRAN_IN_PLACE);
}

/* A Fortran buffer argument as the C binding wants it. */
static void *buf_f2c(void *p)
{
	if (is_in_place(p))
		return MPI_IN_PLACE;
	if (is_bottom(p))
		return MPI_BOTTOM;
	return p;
}

#define TYPE(t) PMPI_Type_f2c(*(t))
#define OP(o)   PMPI_Op_f2c(*(o))
#endif /* WRAP_F77 */

#define COMM(c) PMPI_Comm_f2c(*(c))

static inline void set_ierr(MPI_Fint *ierr, int rc)
{
	if (ierr)
		*ierr = (MPI_Fint)rc;
}

/* ---- statuses and request arrays ---- */

static inline int status_ignored(const MPI_Fint *s)
{
	return s == NULL || s == F_STATUS_IGNORE;
}

static inline int statuses_ignored(const MPI_Fint *s)
{
	return s == NULL || s == F_STATUSES_IGNORE;
}

/* C copies of n Fortran requests (and statuses, unless ignored): on the
 * stack for small n. */
struct req_array {
	MPI_Request *reqs;
	MPI_Status *st;
	MPI_Request small_reqs[16];
	MPI_Status small_st[16];
};

static int reqs_f2c(struct req_array *a, int n, const MPI_Fint *freqs, int want_status)
{
	if (n < 0)
		n = 0;
	a->reqs = a->small_reqs;
	a->st = want_status ? a->small_st : MPI_STATUSES_IGNORE;
	if (n > 16) {
		a->reqs = __libc_malloc(sizeof(MPI_Request) * (size_t)n);
		if (want_status)
			a->st = __libc_malloc(sizeof(MPI_Status) * (size_t)n);
		if (!a->reqs || (want_status && !a->st)) {
			__libc_free(a->reqs);
			if (want_status)
				__libc_free(a->st);
			return MPI_ERR_NO_MEM;
		}
	}
	for (int i = 0; i < n; i++)
		a->reqs[i] = PMPI_Request_f2c(freqs[i]);
	return MPI_SUCCESS;
}

/* Copy the requests back (completed ones are now MPI_REQUEST_NULL), and
 * the statuses of the entries listed (all n if idx is NULL). */
static void reqs_c2f(struct req_array *a, int n, MPI_Fint *freqs, MPI_Fint *fst, int nidx, const int *idx)
{
	for (int i = 0; i < n; i++)
		freqs[i] = PMPI_Request_c2f(a->reqs[i]);
	if (a->st != MPI_STATUSES_IGNORE && fst) {
		int m = idx ? nidx : n;
		for (int k = 0; k < m; k++)
			PMPI_Status_c2f(&a->st[k], fst + (size_t)k * STATUS_SIZE);
	}
	if (a->reqs != a->small_reqs)
		__libc_free(a->reqs);
	if (a->st != a->small_st && a->st != MPI_STATUSES_IGNORE)
		__libc_free(a->st);
}

/* ---- the entry points of one call ---- */

#ifdef WRAP_F77
/*
 * F77(stem, UPPER, params, args) defines mpi_<stem>, mpi_<stem>_,
 * mpi_<stem>__ and UPPER, each calling f_<stem>(args); and ompi_<stem>_f,
 * the function Open MPI's mpi_f08 bindings call (mpi_recv_f08_ calls
 * ompi_recv_f with the same arguments as mpi_recv_, the f08 handle types
 * being one integer each), so that mpi_f08 programs are wrapped too when
 * this library comes first in the lookup order.
 */
#define F77(stem, upper, params, args)                                                                                 \
	PMPI_EXPORT void mpi_##stem params                                                                             \
	{                                                                                                              \
		f_##stem args;                                                                                         \
	}                                                                                                              \
	PMPI_EXPORT void mpi_##stem##_ params                                                                          \
	{                                                                                                              \
		f_##stem args;                                                                                         \
	}                                                                                                              \
	PMPI_EXPORT void mpi_##stem##__ params                                                                         \
	{                                                                                                              \
		f_##stem args;                                                                                         \
	}                                                                                                              \
	PMPI_EXPORT void upper params                                                                                  \
	{                                                                                                              \
		f_##stem args;                                                                                         \
	}                                                                                                              \
	PMPI_EXPORT void ompi_##stem##_f params                                                                        \
	{                                                                                                              \
		f_##stem args;                                                                                         \
	}
/* ENTRY: the entry points of a call both kinds of MPI need wrapped. */
#define ENTRY(stem, upper, params, args) F77(stem, upper, params, args)
#else
/* ENTRY(stem, UPPER, params, args) defines mpi_<stem>_f08_, gfortran's name
 * for MPICH's external procedure MPI_<Stem>_f08, calling f_<stem>(args). */
#define ENTRY(stem, upper, params, args)                                                                               \
	PMPI_EXPORT void mpi_##stem##_f08_ params                                                                      \
	{                                                                                                              \
		f_##stem args;                                                                                         \
	}
#endif

/* ---- start-up, shut-down, Pcontrol ---- */

static void f_init(MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Init(NULL, NULL));
}
ENTRY(init, MPI_INIT, (MPI_Fint * ierr), (ierr))

static void f_init_thread(MPI_Fint *required, MPI_Fint *provided, MPI_Fint *ierr)
{
	int prov = 0;
	int rc = MPI_Init_thread(NULL, NULL, *required, &prov);
	*provided = prov;
	set_ierr(ierr, rc);
}
ENTRY(init_thread, MPI_INIT_THREAD, (MPI_Fint * required, MPI_Fint *provided, MPI_Fint *ierr),
      (required, provided, ierr))

static void f_finalize(MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Finalize());
}
ENTRY(finalize, MPI_FINALIZE, (MPI_Fint * ierr), (ierr))

static void f_pcontrol(MPI_Fint *level, MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Pcontrol(*level));
}
#ifdef WRAP_F77
/* MPI_PCONTROL(LEVEL) has no IERROR argument. */
F77(pcontrol, MPI_PCONTROL, (MPI_Fint * level), (level, NULL))
#else
/* MPICH's MPI_Pcontrol_f08 has an optional IERROR. */
ENTRY(pcontrol, MPI_PCONTROL, (MPI_Fint * level, MPI_Fint *ierr), (level, ierr))
#endif

/* ---- point to point ---- */

#ifdef WRAP_F77

#define F_SEND(stem, upper, cname)                                                                                     \
	static void f_##stem(void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *dest, MPI_Fint *tag,                \
	                     MPI_Fint *comm, MPI_Fint *ierr)                                                           \
	{                                                                                                              \
		set_ierr(ierr, cname(buf_f2c(buf), *count, TYPE(type), *dest, *tag, COMM(comm)));                      \
	}                                                                                                              \
	F77(stem, upper,                                                                                               \
	    (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *dest, MPI_Fint *tag, MPI_Fint *comm,                \
	     MPI_Fint *ierr),                                                                                          \
	    (buf, count, type, dest, tag, comm, ierr))

F_SEND(send, MPI_SEND, MPI_Send)
F_SEND(ssend, MPI_SSEND, MPI_Ssend)
F_SEND(rsend, MPI_RSEND, MPI_Rsend)
F_SEND(bsend, MPI_BSEND, MPI_Bsend)

static void f_recv(void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *source, MPI_Fint *tag, MPI_Fint *comm,
                   MPI_Fint *status, MPI_Fint *ierr)
{
	MPI_Status st;
	int ign = status_ignored(status);
	int rc = MPI_Recv(buf_f2c(buf), *count, TYPE(type), *source, *tag, COMM(comm), ign ? MPI_STATUS_IGNORE : &st);
	if (!ign && rc == MPI_SUCCESS)
		PMPI_Status_c2f(&st, status);
	set_ierr(ierr, rc);
}
F77(recv, MPI_RECV,
    (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *source, MPI_Fint *tag, MPI_Fint *comm, MPI_Fint *status,
     MPI_Fint *ierr),
    (buf, count, type, source, tag, comm, status, ierr))

static void f_sendrecv(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, MPI_Fint *dest, MPI_Fint *stag, void *rbuf,
                       MPI_Fint *rcount, MPI_Fint *rtype, MPI_Fint *source, MPI_Fint *rtag, MPI_Fint *comm,
                       MPI_Fint *status, MPI_Fint *ierr)
{
	MPI_Status st;
	int ign = status_ignored(status);
	int rc = MPI_Sendrecv(buf_f2c(sbuf), *scount, TYPE(stype), *dest, *stag, buf_f2c(rbuf), *rcount, TYPE(rtype),
	                      *source, *rtag, COMM(comm), ign ? MPI_STATUS_IGNORE : &st);
	if (!ign && rc == MPI_SUCCESS)
		PMPI_Status_c2f(&st, status);
	set_ierr(ierr, rc);
}
F77(sendrecv, MPI_SENDRECV,
    (void *sbuf, MPI_Fint *scount, MPI_Fint *stype, MPI_Fint *dest, MPI_Fint *stag, void *rbuf, MPI_Fint *rcount,
     MPI_Fint *rtype, MPI_Fint *source, MPI_Fint *rtag, MPI_Fint *comm, MPI_Fint *status, MPI_Fint *ierr),
    (sbuf, scount, stype, dest, stag, rbuf, rcount, rtype, source, rtag, comm, status, ierr))

static void f_sendrecv_replace(void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *dest, MPI_Fint *stag,
                               MPI_Fint *source, MPI_Fint *rtag, MPI_Fint *comm, MPI_Fint *status, MPI_Fint *ierr)
{
	MPI_Status st;
	int ign = status_ignored(status);
	int rc = MPI_Sendrecv_replace(buf_f2c(buf), *count, TYPE(type), *dest, *stag, *source, *rtag, COMM(comm),
	                              ign ? MPI_STATUS_IGNORE : &st);
	if (!ign && rc == MPI_SUCCESS)
		PMPI_Status_c2f(&st, status);
	set_ierr(ierr, rc);
}
F77(sendrecv_replace, MPI_SENDRECV_REPLACE,
    (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *dest, MPI_Fint *stag, MPI_Fint *source, MPI_Fint *rtag,
     MPI_Fint *comm, MPI_Fint *status, MPI_Fint *ierr),
    (buf, count, type, dest, stag, source, rtag, comm, status, ierr))

#endif /* WRAP_F77 */

static void f_probe(MPI_Fint *source, MPI_Fint *tag, MPI_Fint *comm, MPI_Fint *status, MPI_Fint *ierr)
{
	MPI_Status st;
	int ign = status_ignored(status);
	int rc = MPI_Probe(*source, *tag, COMM(comm), ign ? MPI_STATUS_IGNORE : &st);
	if (!ign && rc == MPI_SUCCESS)
		PMPI_Status_c2f(&st, status);
	set_ierr(ierr, rc);
}
ENTRY(probe, MPI_PROBE, (MPI_Fint * source, MPI_Fint *tag, MPI_Fint *comm, MPI_Fint *status, MPI_Fint *ierr),
      (source, tag, comm, status, ierr))

#ifdef WRAP_MPICH_F08
static void f_mprobe(MPI_Fint *source, MPI_Fint *tag, MPI_Fint *comm, MPI_Fint *message, MPI_Fint *status,
                     MPI_Fint *ierr)
{
	MPI_Message m = MPI_MESSAGE_NULL;
	MPI_Status st;
	int ign = status_ignored(status);
	int rc = MPI_Mprobe(*source, *tag, COMM(comm), &m, ign ? MPI_STATUS_IGNORE : &st);
	if (rc == MPI_SUCCESS) {
		*message = PMPI_Message_c2f(m);
		if (!ign)
			PMPI_Status_c2f(&st, status);
	}
	set_ierr(ierr, rc);
}
ENTRY(mprobe, MPI_MPROBE,
      (MPI_Fint * source, MPI_Fint *tag, MPI_Fint *comm, MPI_Fint *message, MPI_Fint *status, MPI_Fint *ierr),
      (source, tag, comm, message, status, ierr))
#endif

#ifdef WRAP_F77
/* Nonblocking and persistent sends: (buf, count, type, peer, tag, comm,
 * request, ierr). */
#define F_ISEND(stem, upper, cname)                                                                                    \
	static void f_##stem(void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *peer, MPI_Fint *tag,                \
	                     MPI_Fint *comm, MPI_Fint *request, MPI_Fint *ierr)                                        \
	{                                                                                                              \
		MPI_Request r = MPI_REQUEST_NULL;                                                                      \
		int rc = cname(buf_f2c(buf), *count, TYPE(type), *peer, *tag, COMM(comm), &r);                         \
		if (rc == MPI_SUCCESS)                                                                                 \
			*request = PMPI_Request_c2f(r);                                                                \
		set_ierr(ierr, rc);                                                                                    \
	}                                                                                                              \
	F77(stem, upper,                                                                                               \
	    (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *peer, MPI_Fint *tag, MPI_Fint *comm,                \
	     MPI_Fint *request, MPI_Fint *ierr),                                                                       \
	    (buf, count, type, peer, tag, comm, request, ierr))

F_ISEND(isend, MPI_ISEND, MPI_Isend)
F_ISEND(issend, MPI_ISSEND, MPI_Issend)
F_ISEND(irsend, MPI_IRSEND, MPI_Irsend)
F_ISEND(ibsend, MPI_IBSEND, MPI_Ibsend)
F_ISEND(irecv, MPI_IRECV, MPI_Irecv)
F_ISEND(send_init, MPI_SEND_INIT, MPI_Send_init)
F_ISEND(ssend_init, MPI_SSEND_INIT, MPI_Ssend_init)
F_ISEND(rsend_init, MPI_RSEND_INIT, MPI_Rsend_init)
F_ISEND(bsend_init, MPI_BSEND_INIT, MPI_Bsend_init)
F_ISEND(recv_init, MPI_RECV_INIT, MPI_Recv_init)
#endif /* WRAP_F77 */

/* ---- completion ---- */

static void f_wait(MPI_Fint *request, MPI_Fint *status, MPI_Fint *ierr)
{
	MPI_Request r = PMPI_Request_f2c(*request);
	MPI_Status st;
	int ign = status_ignored(status);
	int rc = MPI_Wait(&r, ign ? MPI_STATUS_IGNORE : &st);
	*request = PMPI_Request_c2f(r);
	if (!ign && rc == MPI_SUCCESS)
		PMPI_Status_c2f(&st, status);
	set_ierr(ierr, rc);
}
ENTRY(wait, MPI_WAIT, (MPI_Fint * request, MPI_Fint *status, MPI_Fint *ierr), (request, status, ierr))

static void f_test(MPI_Fint *request, MPI_Fint *flag, MPI_Fint *status, MPI_Fint *ierr)
{
	MPI_Request r = PMPI_Request_f2c(*request);
	MPI_Status st;
	int f = 0, ign = status_ignored(status);
	int rc = MPI_Test(&r, &f, ign ? MPI_STATUS_IGNORE : &st);
	*request = PMPI_Request_c2f(r);
	*flag = f ? 1 : 0;
	if (!ign && rc == MPI_SUCCESS && f)
		PMPI_Status_c2f(&st, status);
	set_ierr(ierr, rc);
}
ENTRY(test, MPI_TEST, (MPI_Fint * request, MPI_Fint *flag, MPI_Fint *status, MPI_Fint *ierr),
      (request, flag, status, ierr))

static void f_waitall(MPI_Fint *count, MPI_Fint *requests, MPI_Fint *statuses, MPI_Fint *ierr)
{
	struct req_array a;
	int n = *count, rc = reqs_f2c(&a, n, requests, !statuses_ignored(statuses));
	if (rc == MPI_SUCCESS) {
		rc = MPI_Waitall(n, a.reqs, a.st);
		reqs_c2f(&a, n, requests, statuses, 0, NULL);
	}
	set_ierr(ierr, rc);
}
ENTRY(waitall, MPI_WAITALL, (MPI_Fint * count, MPI_Fint *requests, MPI_Fint *statuses, MPI_Fint *ierr),
      (count, requests, statuses, ierr))

static void f_testall(MPI_Fint *count, MPI_Fint *requests, MPI_Fint *flag, MPI_Fint *statuses, MPI_Fint *ierr)
{
	struct req_array a;
	int n = *count, f = 0, rc = reqs_f2c(&a, n, requests, !statuses_ignored(statuses));
	if (rc == MPI_SUCCESS) {
		rc = MPI_Testall(n, a.reqs, &f, a.st);
		reqs_c2f(&a, n, requests, f ? statuses : NULL, 0, NULL);
	}
	*flag = f ? 1 : 0;
	set_ierr(ierr, rc);
}
ENTRY(testall, MPI_TESTALL, (MPI_Fint * count, MPI_Fint *requests, MPI_Fint *flag, MPI_Fint *statuses, MPI_Fint *ierr),
      (count, requests, flag, statuses, ierr))

static void f_waitany(MPI_Fint *count, MPI_Fint *requests, MPI_Fint *index, MPI_Fint *status, MPI_Fint *ierr)
{
	struct req_array a;
	MPI_Status st;
	int n = *count, idx = MPI_UNDEFINED, ign = status_ignored(status);
	int rc = reqs_f2c(&a, n, requests, 0);
	if (rc == MPI_SUCCESS) {
		rc = MPI_Waitany(n, a.reqs, &idx, ign ? MPI_STATUS_IGNORE : &st);
		reqs_c2f(&a, n, requests, NULL, 0, NULL);
	}
	*index = idx == MPI_UNDEFINED ? MPI_UNDEFINED : idx + 1;
	if (!ign && rc == MPI_SUCCESS)
		PMPI_Status_c2f(&st, status);
	set_ierr(ierr, rc);
}
ENTRY(waitany, MPI_WAITANY, (MPI_Fint * count, MPI_Fint *requests, MPI_Fint *index, MPI_Fint *status, MPI_Fint *ierr),
      (count, requests, index, status, ierr))

static void f_testany(MPI_Fint *count, MPI_Fint *requests, MPI_Fint *index, MPI_Fint *flag, MPI_Fint *status,
                      MPI_Fint *ierr)
{
	struct req_array a;
	MPI_Status st;
	int n = *count, idx = MPI_UNDEFINED, f = 0, ign = status_ignored(status);
	int rc = reqs_f2c(&a, n, requests, 0);
	if (rc == MPI_SUCCESS) {
		rc = MPI_Testany(n, a.reqs, &idx, &f, ign ? MPI_STATUS_IGNORE : &st);
		reqs_c2f(&a, n, requests, NULL, 0, NULL);
	}
	*index = idx == MPI_UNDEFINED ? MPI_UNDEFINED : idx + 1;
	*flag = f ? 1 : 0;
	if (!ign && rc == MPI_SUCCESS && f)
		PMPI_Status_c2f(&st, status);
	set_ierr(ierr, rc);
}
ENTRY(testany, MPI_TESTANY,
      (MPI_Fint * count, MPI_Fint *requests, MPI_Fint *index, MPI_Fint *flag, MPI_Fint *status, MPI_Fint *ierr),
      (count, requests, index, flag, status, ierr))

/* Waitsome and Testsome: (incount, requests, outcount, indices, statuses). */
#define F_SOME(stem, upper, cname)                                                                                     \
	static void f_##stem(MPI_Fint *incount, MPI_Fint *requests, MPI_Fint *outcount, MPI_Fint *indices,             \
	                     MPI_Fint *statuses, MPI_Fint *ierr)                                                       \
	{                                                                                                              \
		struct req_array a;                                                                                    \
		int n = *incount, out = MPI_UNDEFINED;                                                                 \
		int rc = reqs_f2c(&a, n, requests, !statuses_ignored(statuses));                                       \
		if (rc == MPI_SUCCESS) {                                                                               \
			rc = cname(n, a.reqs, &out, (int *)indices, a.st);                                             \
			reqs_c2f(&a, n, requests, statuses, out == MPI_UNDEFINED ? 0 : out, (int *)indices);           \
		}                                                                                                      \
		*outcount = out;                                                                                       \
		for (int i = 0; out != MPI_UNDEFINED && i < out; i++)                                                  \
			indices[i] += 1;                                                                               \
		set_ierr(ierr, rc);                                                                                    \
	}                                                                                                              \
	ENTRY(stem, upper,                                                                                             \
	      (MPI_Fint * incount, MPI_Fint * requests, MPI_Fint * outcount, MPI_Fint * indices, MPI_Fint * statuses,  \
	       MPI_Fint * ierr),                                                                                       \
	      (incount, requests, outcount, indices, statuses, ierr))

F_SOME(waitsome, MPI_WAITSOME, MPI_Waitsome)
F_SOME(testsome, MPI_TESTSOME, MPI_Testsome)

static void f_request_free(MPI_Fint *request, MPI_Fint *ierr)
{
	MPI_Request r = PMPI_Request_f2c(*request);
	int rc = MPI_Request_free(&r);
	*request = PMPI_Request_c2f(r);
	set_ierr(ierr, rc);
}
ENTRY(request_free, MPI_REQUEST_FREE, (MPI_Fint * request, MPI_Fint *ierr), (request, ierr))

#ifdef WRAP_MPICH_F08
/* MPICH's mpi_f08 MPI_Buffer_detach: BUFFER_ADDR is a TYPE(C_PTR) that
 * receives the address (the C binding's void ** as void *). Not for
 * mpif.h, whose BUF argument is ignored by the standard. */
static void f_buffer_detach(void *buffer_addr, MPI_Fint *size, MPI_Fint *ierr)
{
	int sz = 0;
	int rc = MPI_Buffer_detach(buffer_addr, &sz);
	if (rc == MPI_SUCCESS)
		*size = sz;
	set_ierr(ierr, rc);
}
ENTRY(buffer_detach, MPI_BUFFER_DETACH, (void *buffer_addr, MPI_Fint *size, MPI_Fint *ierr), (buffer_addr, size, ierr))
#endif

/* ---- collectives ---- */

static void f_barrier(MPI_Fint *comm, MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Barrier(COMM(comm)));
}
ENTRY(barrier, MPI_BARRIER, (MPI_Fint * comm, MPI_Fint *ierr), (comm, ierr))

#ifdef WRAP_F77
static void f_bcast(void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Bcast(buf_f2c(buf), *count, TYPE(type), *root, COMM(comm)));
}
F77(bcast, MPI_BCAST, (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr),
    (buf, count, type, root, comm, ierr))

static void f_ibcast(void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *root, MPI_Fint *comm, MPI_Fint *request,
                     MPI_Fint *ierr)
{
	MPI_Request r = MPI_REQUEST_NULL;
	int rc = MPI_Ibcast(buf_f2c(buf), *count, TYPE(type), *root, COMM(comm), &r);
	if (rc == MPI_SUCCESS)
		*request = PMPI_Request_c2f(r);
	set_ierr(ierr, rc);
}
F77(ibcast, MPI_IBCAST,
    (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *root, MPI_Fint *comm, MPI_Fint *request, MPI_Fint *ierr),
    (buf, count, type, root, comm, request, ierr))

static void f_reduce(void *sbuf, void *rbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op, MPI_Fint *root,
                     MPI_Fint *comm, MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Reduce(buf_f2c(sbuf), buf_f2c(rbuf), *count, TYPE(type), OP(op), *root, COMM(comm)));
}
F77(reduce, MPI_REDUCE,
    (void *sbuf, void *rbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op, MPI_Fint *root, MPI_Fint *comm,
     MPI_Fint *ierr),
    (sbuf, rbuf, count, type, op, root, comm, ierr))

/* Allreduce, Scan, Exscan: (sbuf, rbuf, count, type, op, comm). */
#define F_ALLREDUCE(stem, upper, cname)                                                                                \
	static void f_##stem(void *sbuf, void *rbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op, MPI_Fint *comm,    \
	                     MPI_Fint *ierr)                                                                           \
	{                                                                                                              \
		set_ierr(ierr, cname(buf_f2c(sbuf), buf_f2c(rbuf), *count, TYPE(type), OP(op), COMM(comm)));           \
	}                                                                                                              \
	F77(stem, upper,                                                                                               \
	    (void *sbuf, void *rbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op, MPI_Fint *comm, MPI_Fint *ierr),   \
	    (sbuf, rbuf, count, type, op, comm, ierr))

F_ALLREDUCE(allreduce, MPI_ALLREDUCE, MPI_Allreduce)
F_ALLREDUCE(scan, MPI_SCAN, MPI_Scan)
F_ALLREDUCE(exscan, MPI_EXSCAN, MPI_Exscan)
F_ALLREDUCE(reduce_scatter_block, MPI_REDUCE_SCATTER_BLOCK, MPI_Reduce_scatter_block)

static void f_iallreduce(void *sbuf, void *rbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op, MPI_Fint *comm,
                         MPI_Fint *request, MPI_Fint *ierr)
{
	MPI_Request r = MPI_REQUEST_NULL;
	int rc = MPI_Iallreduce(buf_f2c(sbuf), buf_f2c(rbuf), *count, TYPE(type), OP(op), COMM(comm), &r);
	if (rc == MPI_SUCCESS)
		*request = PMPI_Request_c2f(r);
	set_ierr(ierr, rc);
}
F77(iallreduce, MPI_IALLREDUCE,
    (void *sbuf, void *rbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op, MPI_Fint *comm, MPI_Fint *request,
     MPI_Fint *ierr),
    (sbuf, rbuf, count, type, op, comm, request, ierr))

static void f_reduce_scatter(void *sbuf, void *rbuf, MPI_Fint *rcounts, MPI_Fint *type, MPI_Fint *op, MPI_Fint *comm,
                             MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Reduce_scatter(buf_f2c(sbuf), buf_f2c(rbuf), (const int *)rcounts, TYPE(type), OP(op),
	                                  COMM(comm)));
}
F77(reduce_scatter, MPI_REDUCE_SCATTER,
    (void *sbuf, void *rbuf, MPI_Fint *rcounts, MPI_Fint *type, MPI_Fint *op, MPI_Fint *comm, MPI_Fint *ierr),
    (sbuf, rbuf, rcounts, type, op, comm, ierr))

/* Gather, Scatter: (sbuf, scount, stype, rbuf, rcount, rtype, root, comm). */
#define F_ROOTED(stem, upper, cname)                                                                                   \
	static void f_##stem(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcount,              \
	                     MPI_Fint *rtype, MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr)                          \
	{                                                                                                              \
		set_ierr(ierr, cname(buf_f2c(sbuf), *scount, TYPE(stype), buf_f2c(rbuf), *rcount, TYPE(rtype), *root,  \
		                     COMM(comm)));                                                                     \
	}                                                                                                              \
	F77(stem, upper,                                                                                               \
	    (void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcount, MPI_Fint *rtype,             \
	     MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr),                                                          \
	    (sbuf, scount, stype, rbuf, rcount, rtype, root, comm, ierr))

F_ROOTED(gather, MPI_GATHER, MPI_Gather)
F_ROOTED(scatter, MPI_SCATTER, MPI_Scatter)

static void f_gatherv(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcounts, MPI_Fint *displs,
                      MPI_Fint *rtype, MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Gatherv(buf_f2c(sbuf), *scount, TYPE(stype), buf_f2c(rbuf), (const int *)rcounts,
	                           (const int *)displs, TYPE(rtype), *root, COMM(comm)));
}
F77(gatherv, MPI_GATHERV,
    (void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcounts, MPI_Fint *displs, MPI_Fint *rtype,
     MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr),
    (sbuf, scount, stype, rbuf, rcounts, displs, rtype, root, comm, ierr))

static void f_scatterv(void *sbuf, MPI_Fint *scounts, MPI_Fint *displs, MPI_Fint *stype, void *rbuf, MPI_Fint *rcount,
                       MPI_Fint *rtype, MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Scatterv(buf_f2c(sbuf), (const int *)scounts, (const int *)displs, TYPE(stype),
	                            buf_f2c(rbuf), *rcount, TYPE(rtype), *root, COMM(comm)));
}
F77(scatterv, MPI_SCATTERV,
    (void *sbuf, MPI_Fint *scounts, MPI_Fint *displs, MPI_Fint *stype, void *rbuf, MPI_Fint *rcount, MPI_Fint *rtype,
     MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr),
    (sbuf, scounts, displs, stype, rbuf, rcount, rtype, root, comm, ierr))

/* Allgather, Alltoall: (sbuf, scount, stype, rbuf, rcount, rtype, comm). */
#define F_ALLTO(stem, upper, cname)                                                                                    \
	static void f_##stem(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcount,              \
	                     MPI_Fint *rtype, MPI_Fint *comm, MPI_Fint *ierr)                                          \
	{                                                                                                              \
		set_ierr(ierr,                                                                                         \
		         cname(buf_f2c(sbuf), *scount, TYPE(stype), buf_f2c(rbuf), *rcount, TYPE(rtype), COMM(comm))); \
	}                                                                                                              \
	F77(stem, upper,                                                                                               \
	    (void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcount, MPI_Fint *rtype,             \
	     MPI_Fint *comm, MPI_Fint *ierr),                                                                          \
	    (sbuf, scount, stype, rbuf, rcount, rtype, comm, ierr))

F_ALLTO(allgather, MPI_ALLGATHER, MPI_Allgather)
F_ALLTO(alltoall, MPI_ALLTOALL, MPI_Alltoall)

static void f_allgatherv(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcounts, MPI_Fint *displs,
                         MPI_Fint *rtype, MPI_Fint *comm, MPI_Fint *ierr)
{
	set_ierr(ierr, MPI_Allgatherv(buf_f2c(sbuf), *scount, TYPE(stype), buf_f2c(rbuf), (const int *)rcounts,
	                              (const int *)displs, TYPE(rtype), COMM(comm)));
}
F77(allgatherv, MPI_ALLGATHERV,
    (void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcounts, MPI_Fint *displs, MPI_Fint *rtype,
     MPI_Fint *comm, MPI_Fint *ierr),
    (sbuf, scount, stype, rbuf, rcounts, displs, rtype, comm, ierr))

static void f_alltoallv(void *sbuf, MPI_Fint *scounts, MPI_Fint *sdispls, MPI_Fint *stype, void *rbuf,
                        MPI_Fint *rcounts, MPI_Fint *rdispls, MPI_Fint *rtype, MPI_Fint *comm, MPI_Fint *ierr)
{
	set_ierr(ierr,
	         MPI_Alltoallv(buf_f2c(sbuf), (const int *)scounts, (const int *)sdispls, TYPE(stype), buf_f2c(rbuf),
	                       (const int *)rcounts, (const int *)rdispls, TYPE(rtype), COMM(comm)));
}
F77(alltoallv, MPI_ALLTOALLV,
    (void *sbuf, MPI_Fint *scounts, MPI_Fint *sdispls, MPI_Fint *stype, void *rbuf, MPI_Fint *rcounts,
     MPI_Fint *rdispls, MPI_Fint *rtype, MPI_Fint *comm, MPI_Fint *ierr),
    (sbuf, scounts, sdispls, stype, rbuf, rcounts, rdispls, rtype, comm, ierr))
#endif /* WRAP_F77 */

#endif /* WRAP_F77 || WRAP_MPICH_F08 */
