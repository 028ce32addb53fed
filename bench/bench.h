/* SPDX-License-Identifier: BSD-2-Clause */
/* bench.h - argument parsing shared by the benchmark drivers. */
#ifndef TAPE_BENCH_H
#define TAPE_BENCH_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* A decimal argument that fits an unsigned int, or exit 2 naming it. */
static inline unsigned bench_uint(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > UINT_MAX) {
		fprintf(stderr, "not a number: '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

#endif
