/* SPDX-License-Identifier: BSD-2-Clause */
/* varint.c - LEB128 unsigned varints used by the binary tape format. */
#include "config.h"

#include "tape-int.h"

/*
 * Seven bits per byte, least significant group first, high bit set on every
 * byte but the last:  300 = 0b1_0010_1100 -> AC 02.
 */
size_t tape__varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t tape__varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Rejects encodings that do not fit 64 bits and non-minimal ones (a final
 * 0x00 continuation byte), so every value has exactly one encoding and a
 * byte-identical round trip is possible. */
size_t tape__varint_get(const uint8_t *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	for (size_t i = 0; i < TAPE__VARINT_MAX; i++) {
		if (i >= n)
			return 0;
		uint64_t b = p[i] & 0x7f;
		if (i == 9 && p[i] > 1)
			return (size_t)-1; /* more than 64 bits */
		x |= b << (7 * i);
		if (!(p[i] & 0x80)) {
			if (i > 0 && p[i] == 0)
				return (size_t)-1; /* overlong */
			*v = x;
			return i + 1;
		}
	}
	return (size_t)-1;
}
