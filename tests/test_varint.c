/* SPDX-License-Identifier: BSD-2-Clause */
/* test_varint.c - unit tests of the LEB128 varints in src/varint.c. */
#include "config.h"

#include <string.h>

#include "randtape.h"
#include "tape-int.h"
#include "unit.h"

#define BAD ((size_t)-1)

struct vec {
	uint64_t v;
	size_t n;
	uint8_t b[TAPE__VARINT_MAX];
};

/* Every boundary where the encoding grows a byte, and the values either
 * side of it. */
static const struct vec vecs[] = {
	{0, 1, {0x00}},
	{1, 1, {0x01}},
	{127, 1, {0x7f}},
	{128, 2, {0x80, 0x01}},
	{129, 2, {0x81, 0x01}},
	{300, 2, {0xac, 0x02}},
	{16383, 2, {0xff, 0x7f}},
	{16384, 3, {0x80, 0x80, 0x01}},
	{2097151, 3, {0xff, 0xff, 0x7f}},
	{2097152, 4, {0x80, 0x80, 0x80, 0x01}},
	{268435455, 4, {0xff, 0xff, 0xff, 0x7f}},
	{268435456, 5, {0x80, 0x80, 0x80, 0x80, 0x01}},
	{UINT32_MAX, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
	{UINT64_C(34359738367), 5, {0xff, 0xff, 0xff, 0xff, 0x7f}},
	{UINT64_C(34359738368), 6, {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	{(UINT64_C(1) << 42) - 1, 6, {0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
	{UINT64_C(1) << 42, 7, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	{(UINT64_C(1) << 49) - 1, 7, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
	{UINT64_C(1) << 49, 8, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	{(UINT64_C(1) << 56) - 1, 8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
	{UINT64_C(1) << 56, 9, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	{(UINT64_C(1) << 63) - 1, 9, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
	{UINT64_C(1) << 63, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	{UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
};
#define NVECS (sizeof vecs / sizeof vecs[0])

static void test_varint_put_vectors(void)
{
	for (size_t i = 0; i < NVECS; i++) {
		uint8_t buf[TAPE__VARINT_MAX + 4];
		memset(buf, 0xee, sizeof buf);
		size_t n = tape__varint_put(buf, vecs[i].v);
		CU_ASSERT_EQUAL(n, vecs[i].n);
		CU_ASSERT_EQUAL(memcmp(buf, vecs[i].b, vecs[i].n), 0);
		CU_ASSERT_EQUAL(buf[n], 0xee); /* nothing written past the end */
		CU_ASSERT_EQUAL(tape__varint_len(vecs[i].v), vecs[i].n);
	}
}

static void test_varint_get_vectors(void)
{
	for (size_t i = 0; i < NVECS; i++) {
		uint64_t v = 12345;
		CU_ASSERT_EQUAL(tape__varint_get(vecs[i].b, vecs[i].n, &v), vecs[i].n);
		CU_ASSERT_EQUAL(v, vecs[i].v);
	}
}

/* Bytes after the varint are not looked at. */
static void test_varint_get_stops_at_end(void)
{
	const uint8_t b[] = {0xac, 0x02, 0xff, 0xff};
	uint64_t v = 0;

	CU_ASSERT_EQUAL(tape__varint_get(b, sizeof b, &v), 2);
	CU_ASSERT_EQUAL(v, 300);
	CU_ASSERT_EQUAL(tape__varint_get(b + 2, 2, &v), 0); /* ff ff: truncated */
}

/* Every proper prefix of a valid encoding is "need more" (0), never an
 * error and never a value. */
static void test_varint_truncated(void)
{
	for (size_t i = 0; i < NVECS; i++)
		for (size_t n = 0; n < vecs[i].n; n++) {
			uint64_t v = 777;
			CU_ASSERT_EQUAL(tape__varint_get(vecs[i].b, n, &v), 0);
			CU_ASSERT_EQUAL(v, 777);
		}
	uint64_t v = 5;
	CU_ASSERT_EQUAL(tape__varint_get((const uint8_t *)"", 0, &v), 0);
	CU_ASSERT_EQUAL(v, 5);
}

/* Only the minimal encoding is accepted: a final 0x00 after continuation
 * bytes is an overlong encoding of a shorter value. */
static void test_varint_overlong(void)
{
	static const struct {
		size_t n;
		uint8_t b[TAPE__VARINT_MAX];
	} bad[] = {
		{2, {0x80, 0x00}}, /* 0 in two bytes */
		{2, {0x81, 0x00}}, /* 1 in two bytes */
		{2, {0xff, 0x00}}, /* 127 in two bytes */
		{3, {0x80, 0x80, 0x00}},
		{3, {0xac, 0x82, 0x00}}, /* 300 in three bytes */
		{10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}},
		{10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}},
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t v = 99;
		CU_ASSERT_EQUAL(tape__varint_get(bad[i].b, bad[i].n, &v), BAD);
		CU_ASSERT_EQUAL(v, 99);
		/* Extra bytes available change nothing. */
		uint8_t more[TAPE__VARINT_MAX + 4] = {0};
		memcpy(more, bad[i].b, bad[i].n);
		CU_ASSERT_EQUAL(tape__varint_get(more, sizeof more, &v), BAD);
	}
}

/* A tenth byte may only add bit 63; anything more, or an eleventh byte, is
 * more than 64 bits. */
static void test_varint_too_big(void)
{
	uint8_t b[12];
	uint64_t v = 42;

	memset(b, 0xff, 9);
	for (unsigned last = 2; last < 0x80; last++) {
		b[9] = (uint8_t)last;
		CU_ASSERT_EQUAL(tape__varint_get(b, 10, &v), BAD);
	}
	b[9] = 0x81; /* continuation into an eleventh byte */
	b[10] = 0x00;
	CU_ASSERT_EQUAL(tape__varint_get(b, 11, &v), BAD);
	memset(b, 0x80, 11);
	b[11] = 0x01;
	CU_ASSERT_EQUAL(tape__varint_get(b, 12, &v), BAD);
	CU_ASSERT_EQUAL(v, 42);
	/* Ten continuation bytes are already too many, however many follow. */
	memset(b, 0xff, 12);
	CU_ASSERT_EQUAL(tape__varint_get(b, 10, &v), BAD);
	CU_ASSERT_EQUAL(tape__varint_get(b, 12, &v), BAD);
	/* ... but nine are only "need more". */
	CU_ASSERT_EQUAL(tape__varint_get(b, 9, &v), 0);
}

static void test_varint_max_round_trip(void)
{
	uint8_t b[TAPE__VARINT_MAX];
	uint64_t v = 0;

	CU_ASSERT_EQUAL(tape__varint_put(b, UINT64_MAX), TAPE__VARINT_MAX);
	CU_ASSERT_EQUAL(tape__varint_get(b, sizeof b, &v), TAPE__VARINT_MAX);
	CU_ASSERT_EQUAL(v, UINT64_MAX);
}

/* Values of every bit length, and each 2^k - 1, 2^k, 2^k + 1. */
static void test_varint_round_trip(void)
{
	struct randtape_rng rng;
	uint8_t b[TAPE__VARINT_MAX];

	randtape_rng_seed(&rng, 7);
	for (unsigned k = 0; k < 64; k++) {
		uint64_t p = UINT64_C(1) << k;
		uint64_t vals[] = {p - 1, p, p + 1, p | (randtape_rng_next(&rng) & (p - 1))};
		for (size_t i = 0; i < 4; i++) {
			uint64_t v = ~vals[i];
			size_t n = tape__varint_put(b, vals[i]);
			size_t want = 1;
			for (uint64_t x = vals[i]; x >= 0x80; x >>= 7)
				want++;
			CU_ASSERT_EQUAL(n, want);
			CU_ASSERT_EQUAL(tape__varint_len(vals[i]), n);
			CU_ASSERT_EQUAL(tape__varint_get(b, n, &v), n);
			CU_ASSERT_EQUAL(v, vals[i]);
			/* The last byte never has the high bit, all others do. */
			for (size_t j = 0; j < n; j++)
				CU_ASSERT_EQUAL(!!(b[j] & 0x80), j + 1 < n);
		}
	}
}

void test_varint_register(void)
{
	static const struct unit_test tests[] = {
		{"test_varint_put_vectors", test_varint_put_vectors},
		{"test_varint_get_vectors", test_varint_get_vectors},
		{"test_varint_get_stops_at_end", test_varint_get_stops_at_end},
		{"test_varint_truncated", test_varint_truncated},
		{"test_varint_overlong", test_varint_overlong},
		{"test_varint_too_big", test_varint_too_big},
		{"test_varint_max_round_trip", test_varint_max_round_trip},
		{"test_varint_round_trip", test_varint_round_trip},
		{NULL, NULL},
	};
	unit_add_suite("varint", tests);
}
