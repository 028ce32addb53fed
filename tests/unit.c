/* SPDX-License-Identifier: BSD-2-Clause */
/* unit.c - runs every CUnit suite in one binary; `unit SUITE...` runs a few. */
#include "unit.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNIT_MAX_TMP 256

static char *tmp_paths[UNIT_MAX_TMP];
static size_t ntmp;

void unit_add_suite(const char *name, const struct unit_test *tests)
{
	CU_pSuite s = CU_add_suite(name, NULL, NULL);
	if (!s) {
		fprintf(stderr, "unit: cannot add suite %s: %s\n", name, CU_get_error_msg());
		exit(1);
	}
	for (; tests->name; tests++)
		if (!CU_add_test(s, tests->name, tests->fn)) {
			fprintf(stderr, "unit: cannot add %s: %s\n", tests->name, CU_get_error_msg());
			exit(1);
		}
}

const char *unit_tmpfile(const char *suffix)
{
	static char path[512];
	const char *dir = getenv("TMPDIR");
	static unsigned seq;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof path, "%s/tapedeck-unit-%ld-%u%s", dir, (long)getpid(), seq++,
		 suffix ? suffix : "");
	if (ntmp < UNIT_MAX_TMP)
		tmp_paths[ntmp++] = strdup(path);
	return path;
}

void unit_write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

uint8_t *unit_read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	*n = len;
	return buf;
}

struct tape_endpoint unit_ep4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct tape_endpoint ep;

	memset(&ep, 0, sizeof ep);
	ep.family = 4;
	ep.addr[0] = a;
	ep.addr[1] = b;
	ep.addr[2] = c;
	ep.addr[3] = d;
	ep.port = port;
	return ep;
}

struct tape_endpoint unit_ep6(uint8_t last, uint16_t port)
{
	struct tape_endpoint ep;
	static const uint8_t prefix[4] = {0x20, 0x01, 0x0d, 0xb8}; /* 2001:db8::/32, RFC 3849 */

	memset(&ep, 0, sizeof ep);
	ep.family = 6;
	memcpy(ep.addr, prefix, sizeof prefix);
	ep.addr[15] = last;
	ep.port = port;
	return ep;
}

static void cleanup_tmp(void)
{
	for (size_t i = 0; i < ntmp; i++) {
		unlink(tmp_paths[i]);
		free(tmp_paths[i]);
	}
	ntmp = 0;
}

int main(int argc, char **argv)
{
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	atexit(cleanup_tmp);
#define UNIT__REG(m) test_##m##_register();
	UNIT_SUITES(UNIT__REG)
#undef UNIT__REG
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			CU_pSuite s = CU_get_suite(argv[i]);
			if (!s) {
				fprintf(stderr, "unit: no suite %s\n", argv[i]);
				CU_cleanup_registry();
				return 2;
			}
			CU_basic_run_suite(s);
		}
	} else {
		CU_basic_run_tests();
	}
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	if (CU_get_error() != CUE_SUCCESS)
		failed++;
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
