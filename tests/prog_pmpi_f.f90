! prog_pmpi_f.f90 - the Fortran bindings of libsbma-pmpi (`use mpi`, whose
! calls Open MPI's libmpi_mpifh would otherwise send straight to PMPI_*;
! MPICH's bindings call the C MPI_* wrappers themselves).
!
! Run on an even number of ranks (pairs rank, rank xor 1), with arrays of
! 2 MiB (ALLOCATE calls malloc: SBMA memory). Checks, word for word:
! Isend/Irecv completed by Waitall; Irecv completed by Waitany (the
! buffers pinned while the requests are active and no longer once
! MPI_WAITALL and MPI_WAITANY return: so those went through the layer,
! whether its own Fortran wrappers or the MPI's bindings catch them;
! prog_pmpi_fhelp.c reads the count); a receive into a larger buffer
! (elements past the message unchanged, MPI_Get_count right); Allreduce,
! Allreduce with MPI_IN_PLACE (the Fortran sentinel must be recognised),
! Bcast, Sendrecv; and a blocking receive that waits about 0.3 s (the even
! rank delays its send), which the script sees as blocked time in the
! SBMA_STATS table printed at MPI_FINALIZE (that table, printed once by
! rank 0, also shows that mpi_finalize went through the wrapper).
! Rank 0 prints "prog_pmpi_f: PASS" or "prog_pmpi_f: FAIL"; exit status 1
! on failure (STOP 1 on every rank).
program prog_pmpi_f
  use mpi
  use, intrinsic :: iso_c_binding, only : c_long_long
  use, intrinsic :: iso_fortran_env, only : error_unit
  implicit none
  interface
    function prog_pinned_bytes() bind(C, name='prog_pinned_bytes')
      import :: c_long_long
      integer(c_long_long) :: prog_pinned_bytes
    end function prog_pinned_bytes
  end interface
  integer, parameter :: n = 262144
  double precision, allocatable :: a(:), b(:)
  integer :: ierr, rank, nprocs, peer, i, m, cnt, idx, bad, allbad
  integer :: reqs(2), st(MPI_STATUS_SIZE)
  double precision :: t0
  integer(c_long_long) :: pinned0

  call MPI_INIT(ierr)
  call MPI_COMM_RANK(MPI_COMM_WORLD, rank, ierr)
  call MPI_COMM_SIZE(MPI_COMM_WORLD, nprocs, ierr)
  if (mod(nprocs, 2) /= 0) then
    if (rank == 0) print '(a)', 'prog_pmpi_f: needs an even number of ranks'
    call MPI_FINALIZE(ierr)
    stop 77
  end if
  peer = ieor(rank, 1)
  allocate(a(n), b(n))
  bad = 0
  pinned0 = prog_pinned_bytes()
  if (pinned0 < 0) then
    write (error_unit, '(a,i0,a)') 'prog_pmpi_f: rank ', rank, ': no SBMA in this process'
    bad = bad + 1
  end if

  ! Isend/Irecv, Waitall.
  do i = 1, n
    a(i) = rank * 1000000.0d0 + i
  end do
  b = -1.0d0
  call MPI_IRECV(b, n, MPI_DOUBLE_PRECISION, peer, 1, MPI_COMM_WORLD, reqs(1), ierr)
  call MPI_ISEND(a, n, MPI_DOUBLE_PRECISION, peer, 1, MPI_COMM_WORLD, reqs(2), ierr)
  if (prog_pinned_bytes() <= pinned0) then
    write (error_unit, '(a,i0,a)') 'prog_pmpi_f: rank ', rank, ': MPI_IRECV/MPI_ISEND buffers not pinned'
    bad = bad + 1
  end if
  call MPI_WAITALL(2, reqs, MPI_STATUSES_IGNORE, ierr)
  if (prog_pinned_bytes() /= pinned0) then
    write (error_unit, '(a,i0,a)') 'prog_pmpi_f: rank ', rank, ': buffers still pinned after MPI_WAITALL'
    bad = bad + 1
  end if
  do i = 1, n
    if (b(i) /= peer * 1000000.0d0 + i) bad = bad + 1
  end do
  if (reqs(1) /= MPI_REQUEST_NULL .or. reqs(2) /= MPI_REQUEST_NULL) bad = bad + 1

  ! Irecv completed by Waitany (index is 1-based), Send.
  b = -1.0d0
  call MPI_IRECV(b, n, MPI_DOUBLE_PRECISION, peer, 2, MPI_COMM_WORLD, reqs(1), ierr)
  call MPI_SEND(a, n, MPI_DOUBLE_PRECISION, peer, 2, MPI_COMM_WORLD, ierr)
  call MPI_WAITANY(1, reqs, idx, st, ierr)
  if (idx /= 1) bad = bad + 1
  if (prog_pinned_bytes() /= pinned0) then
    write (error_unit, '(a,i0,a)') 'prog_pmpi_f: rank ', rank, ': buffer still pinned after MPI_WAITANY'
    bad = bad + 1
  end if
  do i = 1, n
    if (b(i) /= peer * 1000000.0d0 + i) bad = bad + 1
  end do

  ! A message shorter than the receive buffer.
  m = n / 2 + 7
  b = -2.0d0
  if (mod(rank, 2) == 0) then
    call MPI_SEND(a, m, MPI_DOUBLE_PRECISION, peer, 3, MPI_COMM_WORLD, ierr)
  else
    call MPI_RECV(b, n, MPI_DOUBLE_PRECISION, peer, 3, MPI_COMM_WORLD, st, ierr)
    call MPI_GET_COUNT(st, MPI_DOUBLE_PRECISION, cnt, ierr)
    if (cnt /= m) bad = bad + 1
    if (st(MPI_SOURCE) /= peer) bad = bad + 1
    do i = 1, m
      if (b(i) /= peer * 1000000.0d0 + i) bad = bad + 1
    end do
    do i = m + 1, n
      if (b(i) /= -2.0d0) bad = bad + 1
    end do
  end if

  ! Allreduce, then in place.
  do i = 1, n
    a(i) = rank + i
  end do
  call MPI_ALLREDUCE(a, b, n, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD, ierr)
  do i = 1, n
    if (b(i) /= nprocs * dble(i) + nprocs * (nprocs - 1) / 2) bad = bad + 1
  end do
  call MPI_ALLREDUCE(MPI_IN_PLACE, a, n, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD, ierr)
  do i = 1, n
    if (a(i) /= b(i)) bad = bad + 1
  end do

  ! Bcast from the last rank; Sendrecv with the pair.
  if (rank == nprocs - 1) then
    do i = 1, n
      a(i) = 3.0d0 * i
    end do
  else
    a = 0.0d0
  end if
  call MPI_BCAST(a, n, MPI_DOUBLE_PRECISION, nprocs - 1, MPI_COMM_WORLD, ierr)
  do i = 1, n
    if (a(i) /= 3.0d0 * i) bad = bad + 1
  end do
  a = rank + 0.5d0
  call MPI_SENDRECV(a, n, MPI_DOUBLE_PRECISION, peer, 4, b, n, MPI_DOUBLE_PRECISION, peer, 4, &
                    MPI_COMM_WORLD, st, ierr)
  do i = 1, n
    if (b(i) /= peer + 0.5d0) bad = bad + 1
  end do

  ! A receive that waits: the odd rank blocks about 0.3 s.
  if (mod(rank, 2) == 0) then
    t0 = MPI_WTIME()
    do while (MPI_WTIME() - t0 < 0.3d0)
    end do
    call MPI_SEND(a, n, MPI_DOUBLE_PRECISION, peer, 5, MPI_COMM_WORLD, ierr)
  else
    call MPI_RECV(b, n, MPI_DOUBLE_PRECISION, peer, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE, ierr)
    do i = 1, n
      if (b(i) /= peer + 0.5d0) bad = bad + 1
    end do
  end if

  call MPI_ALLREDUCE(bad, allbad, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, ierr)
  if (rank == 0) then
    if (allbad == 0) then
      print '(a)', 'prog_pmpi_f: PASS'
    else
      print '(a,i0,a)', 'prog_pmpi_f: FAIL (', allbad, ' wrong values)'
    end if
  end if
  deallocate(a, b)
  call MPI_FINALIZE(ierr)
  if (allbad /= 0) stop 1
end program prog_pmpi_f
