/* SPDX-License-Identifier: BSD-2-Clause */
/* test_hex.c - unit tests of the payload hex codec in src/hex.c. */
#include "config.h"

#include <string.h>

#include "tape-int.h"
#include "unit.h"

static void test_hex_encode_lower_case(void)
{
	const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff, 0x10};
	char out[2 * sizeof in + 1];

	memset(out, '#', sizeof out);
	tape__hex_encode(out, in, sizeof in);
	CU_ASSERT_EQUAL(memcmp(out, "00017f80abcdefff10", 2 * sizeof in), 0);
	CU_ASSERT_EQUAL(out[2 * sizeof in], '#'); /* no NUL, nothing past the end */
}

static void test_hex_encode_empty(void)
{
	char out[1] = {'#'};

	tape__hex_encode(out, (const uint8_t *)"", 0);
	CU_ASSERT_EQUAL(out[0], '#');
}

static void test_hex_decode_either_case(void)
{
	uint8_t out[6];

	CU_ASSERT_EQUAL(tape__hex_decode(out, "00ABcdEf9a5F", 6), 0);
	CU_ASSERT_EQUAL(memcmp(out, "\x00\xab\xcd\xef\x9a\x5f", 6), 0);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "", 0), 0);
}

/* Only 2n characters are read: what follows is not looked at. */
static void test_hex_decode_length(void)
{
	uint8_t out[2] = {0, 0x55};

	CU_ASSERT_EQUAL(tape__hex_decode(out, "41zz", 1), 0);
	CU_ASSERT_EQUAL(out[0], 0x41);
	CU_ASSERT_EQUAL(out[1], 0x55);
}

/* The result names the first bad character, 1-based, as a negative. */
static void test_hex_decode_bad_char(void)
{
	uint8_t out[4];

	CU_ASSERT_EQUAL(tape__hex_decode(out, "g0", 1), -1);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "0g", 1), -2);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "0011zz", 3), -5);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "00112z", 3), -6);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "00 1", 2), -3);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "0x12", 2), -2);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "-1", 1), -1);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "G0", 1), -1);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "0/", 1), -2); /* '0' - 1 */
	CU_ASSERT_EQUAL(tape__hex_decode(out, "0:", 1), -2); /* '9' + 1 */
	CU_ASSERT_EQUAL(tape__hex_decode(out, "0@", 1), -2); /* 'A' - 1 */
	CU_ASSERT_EQUAL(tape__hex_decode(out, "0`", 1), -2); /* 'a' - 1 */
	CU_ASSERT_EQUAL(tape__hex_decode(out,
					 "\xff"
					 "0",
					 1),
			-1);
	CU_ASSERT_EQUAL(tape__hex_decode(out, "0\x00", 1), -2);
}

/* Every byte value encodes to its two digits and decodes back. */
static void test_hex_all_bytes(void)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t in[256], back[256];
	char text[512], upper[512];

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	tape__hex_encode(text, in, sizeof in);
	for (int i = 0; i < 256; i++) {
		CU_ASSERT_EQUAL(text[2 * i], digits[i >> 4]);
		CU_ASSERT_EQUAL(text[2 * i + 1], digits[i & 15]);
	}
	memset(back, 0, sizeof back);
	CU_ASSERT_EQUAL(tape__hex_decode(back, text, sizeof back), 0);
	CU_ASSERT_EQUAL(memcmp(back, in, sizeof in), 0);
	for (size_t i = 0; i < sizeof text; i++)
		upper[i] = text[i] >= 'a' ? (char)(text[i] - 'a' + 'A') : text[i];
	memset(back, 0, sizeof back);
	CU_ASSERT_EQUAL(tape__hex_decode(back, upper, sizeof back), 0);
	CU_ASSERT_EQUAL(memcmp(back, in, sizeof in), 0);
}

/* Every character that is not a hex digit is refused in either position. */
static void test_hex_every_non_digit(void)
{
	uint8_t out;

	for (int c = 0; c < 256; c++) {
		int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		char hi[2] = {(char)c, '0'}, lo[2] = {'0', (char)c};
		CU_ASSERT_EQUAL(tape__hex_decode(&out, hi, 1), ok ? 0 : -1);
		CU_ASSERT_EQUAL(tape__hex_decode(&out, lo, 1), ok ? 0 : -2);
	}
}

void test_hex_register(void)
{
	static const struct unit_test tests[] = {
		{"test_hex_encode_lower_case", test_hex_encode_lower_case},
		{"test_hex_encode_empty", test_hex_encode_empty},
		{"test_hex_decode_either_case", test_hex_decode_either_case},
		{"test_hex_decode_length", test_hex_decode_length},
		{"test_hex_decode_bad_char", test_hex_decode_bad_char},
		{"test_hex_all_bytes", test_hex_all_bytes},
		{"test_hex_every_non_digit", test_hex_every_non_digit},
		{NULL, NULL},
	};
	unit_add_suite("hex", tests);
}
