/* SPDX-License-Identifier: BSD-2-Clause */
/* unit.h - registration hooks and helpers shared by the CUnit suites. */
#ifndef TAPE_TEST_UNIT_H
#define TAPE_TEST_UNIT_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>

#include "tapedeck.h"

/* Each tests/test_<module>.c defines one of these; it adds one suite. */
#define UNIT_SUITES(X) \
	X(varint) X(crc32c) X(hex) X(model) X(check) X(fmt_tape) X(fmt_tsv) X(roundtrip) \
	X(decode) X(reasm) X(synth) X(bytediff) X(gogetway) X(loop) X(replay) X(framing) \
	X(rotate)

#define UNIT__DECL(m) void test_##m##_register(void);
UNIT_SUITES(UNIT__DECL)
#undef UNIT__DECL

/* Adds a suite named name with the given NULL-terminated test list. */
struct unit_test {
	const char *name;
	void (*fn)(void);
};
void unit_add_suite(const char *name, const struct unit_test *tests);

/* Endpoints for tests: a.b.c.d:port, and [2001:db8::last]:port. */
struct tape_endpoint unit_ep4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
struct tape_endpoint unit_ep6(uint8_t last, uint16_t port);

/* A fresh temporary file path under $TMPDIR (or /tmp); the file is removed
 * by unit.c at exit.  Returns a static buffer overwritten by the next call. */
const char *unit_tmpfile(const char *suffix);
/* Writes n bytes to path; aborts the test run on failure. */
void unit_write_file(const char *path, const void *p, size_t n);
/* Reads a whole file; caller frees; *n gets the size.  NULL on failure. */
uint8_t *unit_read_file(const char *path, size_t *n);

#endif
