/* libexitorder.h - see tests/libexitorder.c. */
#ifndef SBMA_TEST_LIBEXITORDER_H
#define SBMA_TEST_LIBEXITORDER_H
#include <stddef.h>
#include <stdint.h>
/* The project builds with -fvisibility=hidden. */
#define EXITORDER_API __attribute__((visibility("default")))
/* Word i of a block at version ver. */
EXITORDER_API uint64_t exitorder_value(uint64_t seed, uint64_t ver, size_t i);
/* Register a block (bytes, a multiple of 8) now at version ver. */
EXITORDER_API void exitorder_add(void *p, size_t bytes, uint64_t seed, uint64_t ver);
/* Check, rewrite and check again every block; print "name ok ..." or exit 1. */
EXITORDER_API void exitorder_check(const char *name);
/* Flip one bit in the middle of the first block (a check that must fail). */
EXITORDER_API void exitorder_corrupt(void);
#endif
