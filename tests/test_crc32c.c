/* SPDX-License-Identifier: BSD-2-Clause */
/* test_crc32c.c - unit tests of the CRC-32C in src/crc32c.c against published vectors. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "randtape.h"
#include "tape-int.h"
#include "unit.h"

/* Bit-at-a-time reference, straight from the definition. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static void test_crc32c_check_value(void)
{
	CU_ASSERT_EQUAL(tape__crc32c(0, "123456789", 9), 0xE3069283u);
	CU_ASSERT_EQUAL(crc_ref(0, (const uint8_t *)"123456789", 9), 0xE3069283u);
}

static void test_crc32c_empty(void)
{
	CU_ASSERT_EQUAL(tape__crc32c(0, "", 0), 0u);
	CU_ASSERT_EQUAL(tape__crc32c(0, NULL, 0), 0u);
	CU_ASSERT_EQUAL(tape__crc32c(0xE3069283u, "x", 0), 0xE3069283u);
}

/* RFC 3720 (iSCSI) appendix B.4. */
static void test_crc32c_rfc3720(void)
{
	uint8_t b[32];

	memset(b, 0, sizeof b);
	CU_ASSERT_EQUAL(tape__crc32c(0, b, sizeof b), 0x8A9136AAu);
	memset(b, 0xff, sizeof b);
	CU_ASSERT_EQUAL(tape__crc32c(0, b, sizeof b), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(tape__crc32c(0, b, sizeof b), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	CU_ASSERT_EQUAL(tape__crc32c(0, b, sizeof b), 0x113FDB5Cu);
}

/* RFC 3720 B.4: an iSCSI SCSI Read (10) command PDU. */
static void test_crc32c_rfc3720_pdu(void)
{
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};

	CU_ASSERT_EQUAL(tape__crc32c(0, pdu, sizeof pdu), 0xD9963A56u);
}

/* Continuing a CRC over a split buffer gives the CRC of the whole, at every
 * split point (this crosses the 8-byte slicing boundary many ways). */
static void test_crc32c_incremental(void)
{
	uint8_t b[200];
	struct randtape_rng rng;

	randtape_rng_seed(&rng, 32);
	randtape_rng_bytes(&rng, b, sizeof b);
	uint32_t whole = tape__crc32c(0, b, sizeof b);
	CU_ASSERT_EQUAL(whole, crc_ref(0, b, sizeof b));
	for (size_t k = 0; k <= sizeof b; k++)
		CU_ASSERT_EQUAL(tape__crc32c(tape__crc32c(0, b, k), b + k, sizeof b - k), whole);
	/* Byte by byte. */
	uint32_t c = 0;
	for (size_t k = 0; k < sizeof b; k++)
		c = tape__crc32c(c, b + k, 1);
	CU_ASSERT_EQUAL(c, whole);
}

/* The sliced implementation equals the bitwise one for every length 0..600
 * at every alignment 0..7. */
static void test_crc32c_matches_reference(void)
{
	struct randtape_rng rng;
	uint8_t *b = malloc(608);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	randtape_rng_seed(&rng, 3720);
	randtape_rng_bytes(&rng, b, 608);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n <= 600; n++) {
			uint32_t seed = (uint32_t)randtape_rng_next(&rng);
			if (tape__crc32c(seed, b + off, n) != crc_ref(seed, b + off, n)) {
				CU_FAIL("tape__crc32c differs from the bitwise reference");
				free(b);
				return;
			}
		}
	CU_PASS("all lengths and alignments agree");
	free(b);
}

/* The SSE4.2 path (when the CPU has it) and the table agree on every
 * length and alignment, and on continuing a running CRC. */
static void test_crc32c_hw_matches_sw(void)
{
	uint8_t buf[300];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof buf; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; off + n <= sizeof buf; n += 7) {
			CU_ASSERT_EQUAL(tape__crc32c(0, buf + off, n), tape__crc32c_sw(0, buf + off, n));
			CU_ASSERT_EQUAL(tape__crc32c(0xdeadbeefu, buf + off, n),
					tape__crc32c_sw(0xdeadbeefu, buf + off, n));
		}
	CU_ASSERT_EQUAL(tape__crc32c_sw(0, "123456789", 9), 0xE3069283u);
}

/* Lengths around the three-lane cut of the SSE4.2 path (3 x 4096 bytes) and
 * its multiples, at every alignment, agree with the table, from fresh and
 * running states. */
static void test_crc32c_lanes(void)
{
	static const size_t lens[] = { 12287, 12288, 12289, 12295, 24575, 24576, 24577, 36871,
				       40000, 65536, 262144 };
	size_t cap = 262144 + 16;
	uint8_t *b = malloc(cap);
	struct randtape_rng rng;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	randtape_rng_seed(&rng, 4096);
	randtape_rng_bytes(&rng, b, cap);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		for (size_t off = 0; off < 9; off++) {
			uint32_t seed = (uint32_t)randtape_rng_next(&rng);
			CU_ASSERT_EQUAL(tape__crc32c(0, b + off, lens[i]), tape__crc32c_sw(0, b + off, lens[i]));
			CU_ASSERT_EQUAL(tape__crc32c(seed, b + off, lens[i]),
					tape__crc32c_sw(seed, b + off, lens[i]));
		}
	/* A zero buffer: the lanes' join must not depend on the data. */
	memset(b, 0, cap);
	CU_ASSERT_EQUAL(tape__crc32c(7, b, 3 * 4096 * 5 + 3), tape__crc32c_sw(7, b, 3 * 4096 * 5 + 3));
	free(b);
}

/* A large buffer (1 MiB) agrees with the reference too. */
static void test_crc32c_large(void)
{
	size_t n = 1u << 20;
	uint8_t *b = malloc(n);
	struct randtape_rng rng;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	randtape_rng_seed(&rng, 1);
	randtape_rng_bytes(&rng, b, n);
	CU_ASSERT_EQUAL(tape__crc32c(0, b, n), crc_ref(0, b, n));
	free(b);
}

void test_crc32c_register(void)
{
	static const struct unit_test tests[] = {
		{"test_crc32c_check_value", test_crc32c_check_value},
		{"test_crc32c_hw_matches_sw", test_crc32c_hw_matches_sw},
		{"test_crc32c_empty", test_crc32c_empty},
		{"test_crc32c_rfc3720", test_crc32c_rfc3720},
		{"test_crc32c_rfc3720_pdu", test_crc32c_rfc3720_pdu},
		{"test_crc32c_incremental", test_crc32c_incremental},
		{"test_crc32c_matches_reference", test_crc32c_matches_reference},
		{"test_crc32c_lanes", test_crc32c_lanes},
		{"test_crc32c_large", test_crc32c_large},
		{NULL, NULL},
	};
	unit_add_suite("crc32c", tests);
}
