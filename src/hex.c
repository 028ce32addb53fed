/* SPDX-License-Identifier: BSD-2-Clause */
/* hex.c - hexadecimal payload encoding for the text tape forms. */
#include "config.h"

#include "tape-int.h"

static const char digits[] = "0123456789abcdef";

void tape__hex_encode(char *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 0xf];
	}
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long tape__hex_decode(uint8_t *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = nibble(src[2 * i]), lo = nibble(src[2 * i + 1]);
		if (hi < 0)
			return -(long)(2 * i + 1);
		if (lo < 0)
			return -(long)(2 * i + 2);
		dst[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
