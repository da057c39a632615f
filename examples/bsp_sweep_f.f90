! bsp_sweep_f.f90 - the bulk-synchronous sweep of bsp_sweep.c in Fortran,
! for the Fortran MPI bindings (Open MPI's call PMPI_* directly, so a C
! wrapper library alone does not see them) and for Fortran's ALLOCATE
! (which SBMA must take as it takes malloc).
!
! Each rank owns n = MiB * 2^20 / 8 consecutive int64 elements of a global
! array of N = P * n, in an ALLOCATABLE array with h ghost elements on each
! side. Each superstep s: MPI_SENDRECV of the first and last h elements
! with the neighbours, straight from and into the array; the received
! ghosts are checked against their closed form; the slice is updated in
! place with the three-point stencil
!     a'(g) = a(g-1) + a(g+1) - a(g) + c(s)    (mod p = 2^31 - 1)
! then MPI_ALLREDUCE of (sum of the slice, its expected value) and
! MPI_BARRIER.
!
! Why every element can be checked exactly: the array starts as the
! quadratic v0(g) = A g^2 + B g + G (mod p), and for a quadratic with
! leading coefficient A, v(g-1) + v(g+1) - v(g) = v(g) + 2A, so after s
! supersteps every element is v_s(g) = A g^2 + B g + G + 2 A s + C_s, with
! C_s = c(0) + ... + c(s-1), all mod p (the global ends take their ghosts
! from the same formula). Arithmetic mod p keeps every intermediate value
! well inside int64: no overflow, so no processor-dependent behaviour. The
! end checks EVERY element against v_S(g).
!
! Usage: bsp_sweep_f [-m MiB per rank (4)] [-s supersteps (10)] [-h halo (1024)]
! Rank 0 prints one line starting with PASS or FAIL, with the times
! (maximum over ranks). Exit status 0 on PASS, 1 on FAIL (the verdict is
! reduced over all ranks), 2 on bad usage.
! EXAMPLE_CORRUPT=1 (test only): the last rank changes one element after the
! middle superstep; the run must then FAIL.
! Plain MPI and ALLOCATE: SBMA comes from LD_PRELOAD.

program bsp_sweep_f
  use mpi
  use iso_fortran_env, only: int64, output_unit, error_unit
  implicit none
  integer(int64), parameter :: p = 2147483647_int64
  integer(int64), parameter :: ca = 48271_int64, cb = 16807_int64, cg = 1234567_int64
  integer(int64), allocatable :: a(:)
  integer(int64) :: mib, steps, h, n, first, nglobal, i, k, g, s, cs, c, prev, cur, sum, want
  integer(int64) :: sum_g, sum_g2, wrong, ghost_bad, sum_bad, sums(2), counts(2), totals(2)
  integer :: ierr, rank, nranks, left, right, argi, ios, stat, bad, pass
  character(len=64) :: arg, val
  logical :: corrupt
  double precision :: t0, ta, tb, tc, td, te, times(5), tmax(5)

  call MPI_INIT(ierr)
  call MPI_COMM_RANK(MPI_COMM_WORLD, rank, ierr)
  call MPI_COMM_SIZE(MPI_COMM_WORLD, nranks, ierr)

  mib = 4
  steps = 10
  h = 1024
  bad = 0
  argi = 1
  do while (argi <= command_argument_count())
    call get_command_argument(argi, arg)
    if (argi + 1 > command_argument_count()) then
      bad = 1
      exit
    end if
    call get_command_argument(argi + 1, val)
    select case (trim(arg))
    case ('-m')
      read (val, *, iostat=ios) mib
      if (ios /= 0 .or. mib <= 0 .or. mib > 16384) bad = 1
    case ('-s')
      read (val, *, iostat=ios) steps
      if (ios /= 0 .or. steps <= 0 .or. steps > 2147483647_int64) bad = 1
    case ('-h')
      read (val, *, iostat=ios) h
      if (ios /= 0 .or. h <= 0 .or. h > 2147483647_int64) bad = 1
    case default
      bad = 1
    end select
    argi = argi + 2
  end do
  n = mib * 131072_int64
  nglobal = n * nranks
  if (bad == 0 .and. (h > n .or. nglobal + h > 3000000000_int64)) bad = 1
  if (bad /= 0) then
    if (rank == 0) write (error_unit, '(a)') &
      'usage: bsp_sweep_f [-m MiB per rank (4)] [-s supersteps (10)] [-h halo elements (1024), at most a slice]'
    call MPI_FINALIZE(ierr)
    stop 2
  end if
  call get_environment_variable('EXAMPLE_CORRUPT', val, status=stat)
  corrupt = stat == 0 .and. len_trim(val) > 0 .and. trim(val) /= '0' .and. rank == nranks - 1

  t0 = MPI_WTIME()
  ! a(1-h:0) left ghosts, a(1:n) this rank's slice, a(n+1:n+h) right ghosts
  allocate (a(1 - h:n + h), stat=stat)
  if (stat /= 0) then
    write (error_unit, '(a,i0,a)') 'bsp_sweep_f: rank ', rank, ': ALLOCATE failed'
    call MPI_ABORT(MPI_COMM_WORLD, 2, ierr)
  end if
  first = rank * n              ! global index of a(1)
  left = rank - 1
  right = rank + 1
  if (rank == 0) left = MPI_PROC_NULL
  if (rank == nranks - 1) right = MPI_PROC_NULL

  ! Sums of g and g^2 over the slice give every superstep's expected
  ! checksum without reading the array.
  sum_g = 0
  sum_g2 = 0
  do i = 1, n
    g = first + i - 1
    a(i) = closed_form(g, 0_int64, 0_int64)
    sum_g = sum_g + g
    sum_g2 = sum_g2 + modulo(g * g, p)
  end do
  sum_g = modulo(sum_g, p)
  sum_g2 = modulo(sum_g2, p)
  times = 0
  times(2) = MPI_WTIME() - t0

  cs = 0
  ghost_bad = 0
  sum_bad = 0
  do s = 0, steps - 1
    ta = MPI_WTIME()
    call MPI_SENDRECV(a(1), int(h), MPI_INTEGER8, left, 1, a(n + 1), int(h), MPI_INTEGER8, right, 1, &
                      MPI_COMM_WORLD, MPI_STATUS_IGNORE, ierr)
    call MPI_SENDRECV(a(n - h + 1), int(h), MPI_INTEGER8, right, 2, a(1 - h), int(h), MPI_INTEGER8, left, 2, &
                      MPI_COMM_WORLD, MPI_STATUS_IGNORE, ierr)
    tb = MPI_WTIME()
    do k = 1, h
      g = first - k
      want = closed_form(g, s, cs)
      if (left == MPI_PROC_NULL) then
        a(1 - k) = want
      else if (a(1 - k) /= want) then
        ghost_bad = ghost_bad + 1
      end if
      g = first + n + k - 1
      want = closed_form(g, s, cs)
      if (right == MPI_PROC_NULL) then
        a(n + k) = want
      else if (a(n + k) /= want) then
        ghost_bad = ghost_bad + 1
      end if
    end do
    tc = MPI_WTIME()

    c = step_const(s)
    prev = a(0)
    sum = 0
    do i = 1, n
      cur = a(i)
      a(i) = modulo(prev + a(i + 1) - cur + c, p)
      sum = sum + a(i)          ! < n * 2^31 < 2^63
      prev = cur
    end do
    cs = modulo(cs + c, p)
    if (corrupt .and. s == steps / 2) a(n / 2 + 1) = modulo(a(n / 2 + 1) + 1, p)
    td = MPI_WTIME()

    sums(1) = modulo(sum, p)
    sums(2) = modulo(modulo(ca * sum_g2, p) + modulo(cb * sum_g, p) + &
                     modulo(modulo(n, p) * modulo(cg + modulo(2 * ca * (s + 1), p) + cs, p), p), p)
    call MPI_ALLREDUCE(MPI_IN_PLACE, sums, 2, MPI_INTEGER8, MPI_SUM, MPI_COMM_WORLD, ierr)
    if (modulo(sums(1), p) /= modulo(sums(2), p)) sum_bad = sum_bad + 1
    call MPI_BARRIER(MPI_COMM_WORLD, ierr)
    te = MPI_WTIME()
    times(3) = times(3) + (td - tc)
    times(4) = times(4) + (tb - ta) + (te - td)
  end do

  ta = MPI_WTIME()
  wrong = 0
  do i = 1, n
    want = closed_form(first + i - 1, steps, cs)
    if (a(i) /= want) then
      if (wrong < 3) write (error_unit, '(a,i0,a,i0,a,i0,a,i0)') 'bsp_sweep_f: rank ', rank, ': element ', &
        first + i - 1, ' is ', a(i), ', expected ', want
      wrong = wrong + 1
    end if
  end do
  times(5) = MPI_WTIME() - ta
  deallocate (a)
  times(1) = MPI_WTIME() - t0

  counts(1) = wrong
  counts(2) = ghost_bad
  call MPI_ALLREDUCE(counts, totals, 2, MPI_INTEGER8, MPI_SUM, MPI_COMM_WORLD, ierr)
  call MPI_REDUCE(times, tmax, 5, MPI_DOUBLE_PRECISION, MPI_MAX, 0, MPI_COMM_WORLD, ierr)
  pass = 0
  if (totals(1) == 0 .and. totals(2) == 0 .and. sum_bad == 0) pass = 1
  if (rank == 0) then
    if (pass == 1) then
      arg = 'PASS'
    else
      arg = 'FAIL'
    end if
    write (output_unit, '(a,i0,a,i0,a,i0,a,i0,a,i0,a,i0,a,i0,a,i0,a)') &
      trim(arg)//' bsp_sweep_f: ', nranks, ' ranks x ', mib, ' MiB (', nglobal, ' elements), ', steps, &
      ' supersteps, halo ', h, ': ', totals(1), ' wrong elements, ', totals(2), ' wrong ghosts, ', sum_bad, &
      ' wrong checksums; time '//seconds(tmax(1))//' s (init '//seconds(tmax(2))//', compute '// &
      seconds(tmax(3))//', mpi '//seconds(tmax(4))//', verify '//seconds(tmax(5))//'; max over ranks)'
    flush (output_unit)
  end if
  call MPI_FINALIZE(ierr)
  ! (STOP prints "STOP 1"; QUIET= would need Fortran 2018.)
  if (pass /= 1) stop 1

contains

  ! v_s(g) with C_s = cs (0 <= cs < p): the value of global element g after
  ! s supersteps. Needs |g| < 3e9 (g*g fits int64).
  pure function closed_form(g, s, cs) result(v)
    integer(int64), intent(in) :: g, s, cs
    integer(int64) :: v
    v = modulo(ca * modulo(g * g, p) + cb * modulo(g, p) + cg + modulo(2 * ca * s, p) + cs, p)
  end function closed_form

  ! The constant added by superstep s.
  pure function step_const(s) result(c)
    integer(int64), intent(in) :: s
    integer(int64) :: c
    c = modulo(1103515245_int64 * (s + 1), p)
  end function step_const

  ! Seconds with three decimals and a leading zero.
  function seconds(t) result(str)
    double precision, intent(in) :: t
    character(len=:), allocatable :: str
    character(len=24) :: buf
    write (buf, '(f24.3)') t
    str = trim(adjustl(buf))
  end function seconds
end program bsp_sweep_f
