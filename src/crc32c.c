/* SPDX-License-Identifier: BSD-2-Clause */
/* crc32c.c - CRC-32C (Castagnoli), the checksum of binary tape blocks. */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "tape-int.h"

/*
 * CRC-32C as in RFC 3720 (iSCSI) section 12.1 and ext4/btrfs: reflected
 * polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF.  The check
 * value of "123456789" is 0xE3069283.  Table-driven, slicing by 8; the
 * tables are built once on first use.
 */
#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t tape__crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	pthread_once(&table_once, build_table);
	crc = ~crc;
	while (n >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
		      table[4][lo >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
		      table[0][p[7]];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
/*
 * SSE4.2 has CRC-32C as an instruction (same reflected polynomial, same
 * state).  One instruction takes 8 bytes but its result is ready only three
 * cycles later, so a single dependent chain runs at a third of what the unit
 * can do.  Long buffers are therefore cut into three lanes of LANE bytes
 * computed side by side, the second and third from a zero state, and joined:
 * the register is linear, so the state after A then B is the state after A
 * advanced over len(B) zero bytes, XOR the state after B from zero.
 * Advancing over LANE zero bytes is a fixed linear map of the 32-bit state,
 * kept as four 256-entry tables (one per state byte), built once from the
 * table-driven code.  This is what profile showed: 19% of the recording
 * proxy's time in the one-chain loop.
 */
#define LANE 4096u

static uint32_t lane_shift[4][256];

/* The raw register advanced over n zero bytes, bit by bit: init only. */
static uint32_t zeros_slow(uint32_t c, size_t n)
{
	while (n--)
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
	return c;
}

static void build_lane_shift(void)
{
	uint32_t basis[32];

	for (int i = 0; i < 32; i++)
		basis[i] = zeros_slow(UINT32_C(1) << i, LANE);
	for (int byte = 0; byte < 4; byte++)
		for (uint32_t v = 0; v < 256; v++) {
			uint32_t r = 0;
			for (int b = 0; b < 8; b++)
				if (v & (1u << b))
					r ^= basis[byte * 8 + b];
			lane_shift[byte][v] = r;
		}
}

static uint32_t shift_lane(uint32_t c)
{
	return lane_shift[0][c & 0xff] ^ lane_shift[1][(c >> 8) & 0xff] ^
	       lane_shift[2][(c >> 16) & 0xff] ^ lane_shift[3][c >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf,
							     size_t n)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 3 * LANE) {
		uint64_t c1 = 0, c2 = 0;
		for (size_t i = 0; i < LANE; i += 8) {
			uint64_t v0, v1, v2;
			memcpy(&v0, p + i, 8);
			memcpy(&v1, p + LANE + i, 8);
			memcpy(&v2, p + 2 * LANE + i, 8);
			c = __builtin_ia32_crc32di(c, v0);
			c1 = __builtin_ia32_crc32di(c1, v1);
			c2 = __builtin_ia32_crc32di(c2, v2);
		}
		c = shift_lane(shift_lane((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
		p += 3 * LANE;
		n -= 3 * LANE;
	}
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

static int have_hw;
static pthread_once_t hw_once = PTHREAD_ONCE_INIT;

static void detect_hw(void)
{
	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2");
	if (have_hw)
		build_lane_shift();
}

uint32_t tape__crc32c(uint32_t crc, const void *buf, size_t n)
{
	pthread_once(&hw_once, detect_hw);
	return have_hw ? crc32c_hw(crc, buf, n) : tape__crc32c_sw(crc, buf, n);
}
#else
uint32_t tape__crc32c(uint32_t crc, const void *buf, size_t n)
{
	return tape__crc32c_sw(crc, buf, n);
}
#endif
