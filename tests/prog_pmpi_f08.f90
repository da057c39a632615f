! prog_pmpi_f08.f90 - libsbma-pmpi under the mpi_f08 bindings (Open MPI's
! mpi_xxx_f08_ call ompi_xxx_f, which libsbma-pmpi defines; MPICH's call
! MPI_Xxx for calls with a buffer and PMPI_Xxx for the others, whose
! mpi_xxx_f08_ libsbma-pmpi defines).
!
! Run on an even number of ranks (pairs rank, rank xor 1) with arrays of
! 2 MiB (SBMA memory). Checks, word for word: Isend/Irecv completed by
! Waitall (the buffers pinned while the requests are active, and no longer
! once MPI_Waitall returns: so it went through the layer;
! prog_pmpi_fhelp.c reads the count); a receive into a larger buffer (the
! elements past the message unchanged, MPI_Get_count right); Allreduce
! with MPI_IN_PLACE; and a blocking receive that waits about 0.3 s, which
! the script sees as blocked time in the SBMA_STATS table printed at
! MPI_Finalize.
! Rank 0 prints "prog_pmpi_f08: PASS" or "... FAIL"; exit status 1 on
! failure.
program prog_pmpi_f08
  use mpi_f08
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
  integer :: rank, nprocs, peer, i, m, cnt, bad, allbad
  type(MPI_Request) :: reqs(2)
  type(MPI_Status) :: st
  double precision :: t0
  integer(c_long_long) :: pinned0

  call MPI_Init()
  call MPI_Comm_rank(MPI_COMM_WORLD, rank)
  call MPI_Comm_size(MPI_COMM_WORLD, nprocs)
  if (mod(nprocs, 2) /= 0) then
    if (rank == 0) print '(a)', 'prog_pmpi_f08: needs an even number of ranks'
    call MPI_Finalize()
    stop 77
  end if
  peer = ieor(rank, 1)
  allocate(a(n), b(n))
  bad = 0
  pinned0 = prog_pinned_bytes()
  if (pinned0 < 0) then
    write (error_unit, '(a,i0,a)') 'prog_pmpi_f08: rank ', rank, ': no SBMA in this process'
    bad = bad + 1
  end if

  do i = 1, n
    a(i) = rank * 1000000.0d0 + i
  end do
  b = -1.0d0
  call MPI_Irecv(b, n, MPI_DOUBLE_PRECISION, peer, 1, MPI_COMM_WORLD, reqs(1))
  call MPI_Isend(a, n, MPI_DOUBLE_PRECISION, peer, 1, MPI_COMM_WORLD, reqs(2))
  if (prog_pinned_bytes() <= pinned0) then
    write (error_unit, '(a,i0,a)') 'prog_pmpi_f08: rank ', rank, ': MPI_Irecv/MPI_Isend buffers not pinned'
    bad = bad + 1
  end if
  call MPI_Waitall(2, reqs, MPI_STATUSES_IGNORE)
  if (prog_pinned_bytes() /= pinned0) then
    write (error_unit, '(a,i0,a)') 'prog_pmpi_f08: rank ', rank, ': buffers still pinned after MPI_Waitall'
    bad = bad + 1
  end if
  do i = 1, n
    if (b(i) /= peer * 1000000.0d0 + i) bad = bad + 1
  end do

  m = n / 2 + 7
  b = -2.0d0
  if (mod(rank, 2) == 0) then
    call MPI_Send(a, m, MPI_DOUBLE_PRECISION, peer, 3, MPI_COMM_WORLD)
  else
    call MPI_Recv(b, n, MPI_DOUBLE_PRECISION, peer, 3, MPI_COMM_WORLD, st)
    call MPI_Get_count(st, MPI_DOUBLE_PRECISION, cnt)
    if (cnt /= m .or. st%MPI_SOURCE /= peer) bad = bad + 1
    do i = 1, m
      if (b(i) /= peer * 1000000.0d0 + i) bad = bad + 1
    end do
    do i = m + 1, n
      if (b(i) /= -2.0d0) bad = bad + 1
    end do
  end if

  do i = 1, n
    a(i) = rank + i
  end do
  call MPI_Allreduce(MPI_IN_PLACE, a, n, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD)
  do i = 1, n
    if (a(i) /= nprocs * dble(i) + nprocs * (nprocs - 1) / 2) bad = bad + 1
  end do

  if (mod(rank, 2) == 0) then
    t0 = MPI_Wtime()
    do while (MPI_Wtime() - t0 < 0.3d0)
    end do
    call MPI_Send(a, n, MPI_DOUBLE_PRECISION, peer, 5, MPI_COMM_WORLD)
  else
    call MPI_Recv(b, n, MPI_DOUBLE_PRECISION, peer, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE)
    do i = 1, n
      if (b(i) /= a(i)) bad = bad + 1
    end do
  end if

  call MPI_Allreduce(bad, allbad, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD)
  if (rank == 0) then
    if (allbad == 0) then
      print '(a)', 'prog_pmpi_f08: PASS'
    else
      print '(a,i0,a)', 'prog_pmpi_f08: FAIL (', allbad, ' wrong values)'
    end if
  end if
  deallocate(a, b)
  call MPI_Finalize()
  if (allbad /= 0) stop 1
end program prog_pmpi_f08
