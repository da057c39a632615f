/*
 * example_util.h - what the MPI examples share: start-up and the parsing of
 * their numeric options. Plain MPI, nothing of SBMA: the examples must run
 * the same with and without it.
 */
#ifndef SBMA_EXAMPLE_UTIL_H
#define SBMA_EXAMPLE_UTIL_H

#include <mpi.h>
#include <stdlib.h>

/* MPI_Init, then this rank and the number of ranks of MPI_COMM_WORLD. */
static inline void example_init(int *argc, char ***argv, int *rank, int *nranks)
{
	MPI_Init(argc, argv);
	MPI_Comm_rank(MPI_COMM_WORLD, rank);
	MPI_Comm_size(MPI_COMM_WORLD, nranks);
}

/* A whole number from 1 to max, or -1 for anything else (empty, trailing
 * characters, zero, negative, too large): the caller prints its usage. */
static inline long long example_parse_pos(const char *s, long long max)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || v <= 0 || v > max)
		return -1;
	return v;
}

#endif
