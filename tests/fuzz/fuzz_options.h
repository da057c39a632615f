/*
 * fuzz_options.h - what tests/fuzz/fuzz_options.c offers its drivers:
 * libFuzzer's entry point, and (for tests/fuzz/replay_main.c) the check of
 * an error line and a self-test showing that it refuses bad lines.
 */
#ifndef SBMA_FUZZ_OPTIONS_H
#define SBMA_FUZZ_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

/* One input: a made-up environment (see fuzz_options.c). Returns 0;
 * a failed check abort()s. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* NULL if line is a good error line for variable name refusing value
 * (NULL: not known) that came from origin ("", " (the default)", ...);
 * else what is wrong with it. */
const char *fuzz_options_check_line(const char *line, const char *name, const char *value,
				    const char *origin);

/* Feeds fuzz_options_check_line lines it must refuse and lines it must
 * accept; returns the number of wrong verdicts. */
int fuzz_options_selftest(void);

#endif
