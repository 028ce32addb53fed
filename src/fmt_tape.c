/* SPDX-License-Identifier: BSD-2-Clause */
/* fmt_tape.c - the binary ".tape" backend: CRC-protected blocks of varint-packed events. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"

/*
 * The complete specification, with worked examples, is doc/tape-format.md.
 * All fixed-width integers are little-endian except the two TCP ports, which
 * are stored big-endian as they travel on the wire.  Varints are unsigned
 * LEB128 (varint.c).
 *
 * File header, 16 bytes, once:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------+---------------+---------------+---------------+
 *   |      0x89     |      'T'      |      'A'      |      'P'      |  0
 *   +---------------+---------------+---------------+---------------+
 *   |      'E'      |      \r       |      \n       |      0x1a     |  4
 *   +---------------+---------------+---------------+---------------+
 *   |        version (u16) = 1      |     header flags (u16) = 0    |  8
 *   +---------------+---------------+---------------+---------------+
 *   |                CRC32C of bytes 0..11 (u32)                    | 12
 *   +---------------+---------------+---------------+---------------+
 *
 * Then blocks, each a 13-byte header and a payload:
 *
 *   +------+----------------+----------------+----------------+---------
 *   | type | payload length | payload CRC32C | header CRC32C  | payload
 *   |  u8  |      u32       |      u32       | u32 (bytes 0-8)| ...
 *   +------+----------------+----------------+----------------+---------
 *
 *   'M' metadata, first and only once:
 *       start_ns varint, count varint, count x (key_len varint, key,
 *       value_len varint, value)
 *   'E' events:
 *       base_time varint (time of the last event before this block, 0 for
 *       the first), then event records up to the end of the payload:
 *       kind u8, time delta varint, conn varint, body (see KIND_* below)
 *   'Z' end, last: total event count varint.  Its presence marks a tape the
 *       writer closed properly.
 *
 * A tape whose input ends inside a block (the writer died) is readable: the
 * reader returns the events of every complete block and reports the
 * incomplete tail through tape__reader_dropped().  Everything else that is
 * wrong, including any checksum mismatch, is an error.
 */

/* Block sizes: TAPE__BLOCK_TARGET and TAPE__BLOCK_MAX in tape-int.h. */

#define FILE_HDR 16u
#define BLOCK_HDR 13u
#define TAPE_VERSION 1u

#define BLOCK_META 0x4D  /* 'M' */
#define BLOCK_EVENTS 0x45 /* 'E' */
#define BLOCK_END 0x5A   /* 'Z' */

/* Event record kinds on disk: the direction is folded into the kind. */
enum {
	KIND_OPEN = 1,      /* family u8, client addr, client port u16 BE,
			       server addr, server port u16 BE, flags varint */
	KIND_DATA_C2S = 2,  /* len varint, bytes */
	KIND_DATA_S2C = 3,
	KIND_GAP_C2S = 4,   /* bytes varint */
	KIND_GAP_S2C = 5,
	KIND_FIN_C2S = 6,   /* no body */
	KIND_FIN_S2C = 7,
	KIND_RST_C2S = 8,   /* no body */
	KIND_RST_S2C = 9,
	KIND_CLOSE = 10,    /* reason varint (TAPE_CLOSE_REASON_MAP order) */
	KIND_NOTE = 11,     /* len varint, bytes */
};

/* Longest record without its DATA/NOTE bytes: an IPv6 OPEN. */
#define REC_HEAD_MAX (1u + 2 * TAPE__VARINT_MAX + 1u + 2 * (16u + 2u) + TAPE__VARINT_MAX)

static const uint8_t magic[8] = {0x89, 'T', 'A', 'P', 'E', '\r', '\n', 0x1a};

static void put16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *block_name(int type)
{
	switch (type) {
	case BLOCK_META:
		return "metadata block";
	case BLOCK_EVENTS:
		return "events block";
	case BLOCK_END:
		return "end block";
	default:
		return "block";
	}
}

static int tape_probe(const uint8_t *buf, size_t n)
{
	if (n == 0)
		return 0;
	return memcmp(buf, magic, n < sizeof magic ? n : sizeof magic) == 0;
}

/* ===========================================================================
 * Reading
 * ========================================================================= */

struct rd {
	uint8_t *blk;     /* payload of the current block; event data points here */
	size_t cap;       /* allocated, at most TAPE__BLOCK_MAX */
	size_t len;       /* payload bytes in blk */
	size_t pos;       /* next undecoded byte of an events block */
	uint64_t blk_off; /* absolute offset of the current block's header */
	uint64_t time;    /* time of the last event decoded */
	uint64_t events;  /* events decoded so far */
	int done;         /* end block seen or input exhausted */
};

/* Bounds-checked cursor over a block payload; errors name absolute offsets. */
struct cur {
	struct tape_reader *r;
	const uint8_t *p;
	size_t pos, end;
	uint64_t base; /* absolute offset of p[0] */
};

static uint64_t cur_off(const struct cur *c)
{
	return c->base + c->pos;
}

static int cur_u8(struct cur *c, uint8_t *v, const char *what)
{
	if (c->pos >= c->end)
		return tape__rerr_at(c->r, TAPE_EFORMAT, cur_off(c),
				     "%s runs past the end of the block", what);
	*v = c->p[c->pos++];
	return 0;
}

static int cur_varint(struct cur *c, uint64_t *v, const char *what)
{
	size_t n = tape__varint_get(c->p + c->pos, c->end - c->pos, v);

	if (n == 0)
		return tape__rerr_at(c->r, TAPE_EFORMAT, cur_off(c),
				     "%s runs past the end of the block", what);
	if (n == (size_t)-1)
		return tape__rerr_at(c->r, TAPE_EFORMAT, cur_off(c), "%s: malformed varint", what);
	c->pos += n;
	return 0;
}

/* Takes n bytes; when they run past the block the error names at, the
 * offset of the length field that asked for them. */
static int cur_bytes(struct cur *c, uint64_t n, const uint8_t **out, const char *what, uint64_t at)
{
	if (n > c->end - c->pos)
		return tape__rerr_at(c->r, TAPE_EFORMAT, at,
				     "%s: %" PRIu64 " bytes run past the end of the block "
				     "(%zu left)", what, n, c->end - c->pos);
	*out = c->p + c->pos;
	c->pos += (size_t)n;
	return 0;
}

static void cur_init(struct cur *c, struct tape_reader *r, const struct rd *s)
{
	c->r = r;
	c->p = s->blk;
	c->pos = s->pos;
	c->end = s->len;
	c->base = s->blk_off + BLOCK_HDR;
}

static int read_failed(struct tape_reader *r, long rc, uint64_t off)
{
	return tape__rerr_at(r, (int)rc, off, "read failed: %s", tape_strerror((int)rc));
}

/*
 * Reads the next block into s->blk.  Returns 1 with *type set, 0 when the
 * input ends at a block boundary or inside a block (the incomplete tail is
 * recorded as dropped), or a negative error.  For the first block (meta)
 * an incomplete block is TAPE_ETRUNC instead, as nothing would be readable.
 */
static int read_block(struct tape_reader *r, struct rd *s, int first, int *type)
{
	struct tape__in *in = &r->in;
	uint64_t off = in->off;
	const uint8_t *h;
	uint32_t len, pcrc, hcrc, crc, got = 0;
	long n;

	n = tape__in_need(in, BLOCK_HDR, TAPE__IN_CHUNK);
	if (n < 0)
		return read_failed(r, n, off);
	if (n < (long)BLOCK_HDR) {
		if (first)
			return tape__rerr_at(r, TAPE_ETRUNC, off,
					     "incomplete metadata block: wanted %u header bytes, "
					     "got %ld", BLOCK_HDR, n);
		if (n > 0) {
			tape__in_skip(in, (size_t)n);
			tape__reader_dropped(r, (uint64_t)n,
					     "incomplete block header at offset %" PRIu64
					     ": wanted %u bytes, got %ld",
					     off, BLOCK_HDR, n);
		}
		return 0;
	}
	h = tape__in_ptr(in);
	len = get32le(h + 1);
	pcrc = get32le(h + 5);
	hcrc = get32le(h + 9);
	crc = tape__crc32c(0, h, 9);
	if (crc != hcrc)
		return tape__rerr_at(r, TAPE_ECRC, off, "block header CRC32C 0x%08" PRIx32
				     ", stored 0x%08" PRIx32, crc, hcrc);
	*type = h[0];
	if (*type != BLOCK_META && *type != BLOCK_EVENTS && *type != BLOCK_END) {
		char shown[8] = "";

		if (*type > 0x20 && *type < 0x7f)
			snprintf(shown, sizeof shown, " ('%c')", *type);
		return tape__rerr_at(r, TAPE_EFORMAT, off, "unknown block type 0x%02x%s", *type,
				     shown);
	}
	if (len > TAPE__BLOCK_MAX)
		return tape__rerr_at(r, TAPE_ELIMIT, off,
				     "absurd block length %" PRIu32 " (limit %u)", len,
				     TAPE__BLOCK_MAX);
	tape__in_skip(in, BLOCK_HDR);

	if (len > s->cap) {
		uint8_t *nb = realloc(s->blk, len);
		if (!nb)
			return tape__rerr_at(r, -ENOMEM, off,
					     "no memory for a %" PRIu32 "-byte block", len);
		s->blk = nb;
		s->cap = len;
	}
	/* Copy the payload a chunk at a time so the input buffer stays small. */
	while (got < len) {
		size_t want = len - got < TAPE__IN_CHUNK ? len - got : TAPE__IN_CHUNK;
		n = tape__in_need(in, want, TAPE__IN_CHUNK);
		if (n < 0)
			return read_failed(r, n, in->off);
		if (n == 0)
			break;
		if ((size_t)n > want)
			n = (long)want;
		memcpy(s->blk + got, tape__in_ptr(in), (size_t)n);
		tape__in_skip(in, (size_t)n);
		got += (uint32_t)n;
	}
	if (got < len) {
		if (first)
			return tape__rerr_at(r, TAPE_ETRUNC, off,
					     "incomplete metadata block: wanted %" PRIu32
					     " payload bytes, got %" PRIu32,
					     len, got);
		tape__reader_dropped(r, (uint64_t)BLOCK_HDR + got,
				     "incomplete block at offset %" PRIu64 ": wanted %" PRIu32
				     " payload bytes, got %" PRIu32,
				     off, len, got);
		return 0;
	}
	crc = tape__crc32c(0, s->blk, len);
	if (crc != pcrc)
		return tape__rerr_at(r, TAPE_ECRC, off,
				     "%s payload CRC32C 0x%08" PRIx32 ", stored 0x%08" PRIx32,
				     block_name(*type), crc, pcrc);
	s->blk_off = off;
	s->len = len;
	s->pos = 0;
	return 1;
}

/* Loads the 'M' payload into r->meta. */
static int parse_meta(struct tape_reader *r, struct rd *s)
{
	char key[TAPE_MAX_META_KEY + 1], value[TAPE_MAX_META_VALUE + 1];
	struct cur c;
	uint64_t start, count, klen, vlen;
	const uint8_t *kp = NULL, *vp = NULL;
	int rc;

	cur_init(&c, r, s);
	if ((rc = cur_varint(&c, &start, "metadata start time")) < 0 ||
	    (rc = cur_varint(&c, &count, "metadata pair count")) < 0)
		return rc;
	if (count > TAPE_MAX_META_COUNT)
		return tape__rerr_at(r, TAPE_EFORMAT, cur_off(&c) - tape__varint_len(count),
				     "%" PRIu64 " metadata pairs (limit %u)", count,
				     TAPE_MAX_META_COUNT);
	if (!r->meta && (rc = tape_meta_new(&r->meta)) < 0)
		return tape__rerr(r, rc, "no memory for metadata");
	tape_meta_set_start(r->meta, start);
	for (uint64_t i = 0; i < count; i++) {
		uint64_t pair_off = cur_off(&c);

		uint64_t len_off = pair_off;

		if ((rc = cur_varint(&c, &klen, "metadata key length")) < 0)
			return rc;
		if (klen == 0 || klen > TAPE_MAX_META_KEY)
			return tape__rerr_at(r, TAPE_EFORMAT, pair_off,
					     "metadata key length %" PRIu64 " (must be 1..%u)",
					     klen, TAPE_MAX_META_KEY);
		if ((rc = cur_bytes(&c, klen, &kp, "metadata key", len_off)) < 0)
			return rc;
		len_off = cur_off(&c);
		if ((rc = cur_varint(&c, &vlen, "metadata value length")) < 0)
			return rc;
		if (vlen > TAPE_MAX_META_VALUE)
			return tape__rerr_at(r, TAPE_EFORMAT, len_off,
					     "metadata value length %" PRIu64 " (limit %u)", vlen,
					     TAPE_MAX_META_VALUE);
		if ((rc = cur_bytes(&c, vlen, &vp, "metadata value", len_off)) < 0)
			return rc;
		if (memchr(kp, 0, (size_t)klen) || memchr(vp, 0, (size_t)vlen))
			return tape__rerr_at(r, TAPE_EFORMAT, pair_off,
					     "NUL byte in metadata pair %" PRIu64, i + 1);
		memcpy(key, kp, (size_t)klen);
		key[klen] = '\0';
		memcpy(value, vp, (size_t)vlen);
		value[vlen] = '\0';
		if (tape_meta_get(r->meta, key))
			return tape__rerr_at(r, TAPE_EFORMAT, pair_off,
					     "duplicate metadata key \"%s\"", key);
		rc = tape_meta_set(r->meta, key, value);
		if (rc == -ENOMEM)
			return tape__rerr(r, rc, "no memory for metadata");
		if (rc < 0)
			return tape__rerr_at(r, TAPE_EFORMAT, pair_off,
					     "metadata pair %" PRIu64 " rejected: %s", i + 1,
					     tape_strerror(rc));
	}
	if (c.pos != c.end)
		return tape__rerr_at(r, TAPE_EFORMAT, cur_off(&c),
				     "%zu stray bytes after the metadata pairs", c.end - c.pos);
	return 0;
}

static int tape_read_open(struct tape_reader *r)
{
	struct tape__in *in = &r->in;
	struct rd *s;
	const uint8_t *h;
	uint32_t crc, stored;
	unsigned version, flags;
	int type, rc;
	long n;

	s = calloc(1, sizeof *s);
	if (!s)
		return tape__rerr(r, -ENOMEM, "no memory for the reader");
	r->state = s;

	n = tape__in_need(in, FILE_HDR, TAPE__IN_CHUNK);
	if (n < 0)
		return read_failed(r, n, 0);
	h = tape__in_ptr(in);
	if (n == 0)
		return tape__rerr_at(r, TAPE_ETRUNC, 0, "empty input");
	if (memcmp(h, magic, (size_t)n < sizeof magic ? (size_t)n : sizeof magic) != 0)
		return tape__rerr_at(r, TAPE_EFORMAT, 0, "not a tape file (bad magic)");
	if (n < (long)FILE_HDR)
		return tape__rerr_at(r, TAPE_ETRUNC, 0, "file header: wanted %u bytes, got %ld",
				     FILE_HDR, n);
	/* The version comes before the checksum: a later version may lay out
	 * the rest of its header differently. */
	version = get16le(h + 8);
	if (version != TAPE_VERSION)
		return tape__rerr_at(r, TAPE_EVERSION, 8,
				     "unsupported tape version %u (this build reads version %u)",
				     version, TAPE_VERSION);
	crc = tape__crc32c(0, h, 12);
	stored = get32le(h + 12);
	if (crc != stored)
		return tape__rerr_at(r, TAPE_ECRC, 0,
				     "file header CRC32C 0x%08" PRIx32 ", stored 0x%08" PRIx32, crc,
				     stored);
	flags = get16le(h + 10);
	if (flags != 0)
		return tape__rerr_at(r, TAPE_EVERSION, 10,
				     "header flags 0x%04x unknown to tape version %u", flags,
				     TAPE_VERSION);
	tape__in_skip(in, FILE_HDR);

	rc = read_block(r, s, 1, &type);
	if (rc < 0)
		return rc;
	if (type != BLOCK_META)
		return tape__rerr_at(r, TAPE_EFORMAT, s->blk_off,
				     "first block is an %s, expected the metadata block",
				     block_name(type));
	rc = parse_meta(r, s);
	s->len = s->pos = 0;
	return rc;
}

/* Decodes the record at s->pos into ev. */
static int decode_event(struct tape_reader *r, struct rd *s, struct tape_event *ev)
{
	struct cur c;
	uint64_t rec_off, delta, v, field_off;
	const uint8_t *p = NULL;
	uint8_t kind, fam = 0;
	int rc;

	cur_init(&c, r, s);
	rec_off = cur_off(&c);
	memset(ev, 0, sizeof *ev);
	if ((rc = cur_u8(&c, &kind, "event kind")) < 0)
		return rc;
	if (kind < KIND_OPEN || kind > KIND_NOTE)
		return tape__rerr_at(r, TAPE_EFORMAT, rec_off, "unknown event kind %u", kind);
	field_off = cur_off(&c);
	if ((rc = cur_varint(&c, &delta, "event time delta")) < 0)
		return rc;
	if (delta > TAPE_MAX_TIME - s->time)
		return tape__rerr_at(r, TAPE_EFORMAT, field_off,
				     "time delta %" PRIu64 " after %" PRIu64
				     " ns takes the time past the limit",
				     delta, s->time);
	ev->time_ns = s->time + delta;
	if ((rc = cur_varint(&c, &ev->conn, "connection id")) < 0)
		return rc;

	switch (kind) {
	case KIND_OPEN:
		ev->kind = TAPE_EV_OPEN;
		field_off = cur_off(&c);
		if ((rc = cur_u8(&c, &fam, "address family")) < 0)
			return rc;
		if (fam != 4 && fam != 6)
			return tape__rerr_at(r, TAPE_EFORMAT, field_off,
					     "address family %u (must be 4 or 6)", fam);
		for (int side = 0; side < 2; side++) {
			struct tape_endpoint *ep = side ? &ev->server : &ev->client;
			size_t alen = fam == 4 ? 4 : 16;

			ep->family = fam;
			if ((rc = cur_bytes(&c, alen, &p, "address", cur_off(&c))) < 0)
				return rc;
			memcpy(ep->addr, p, alen);
			if ((rc = cur_bytes(&c, 2, &p, "port", cur_off(&c))) < 0)
				return rc;
			ep->port = (uint16_t)(p[0] << 8 | p[1]);
		}
		field_off = cur_off(&c);
		if ((rc = cur_varint(&c, &v, "open flags")) < 0)
			return rc;
		if (v > UINT32_MAX)
			return tape__rerr_at(r, TAPE_EFORMAT, field_off,
					     "open flags 0x%" PRIx64 " out of range", v);
		ev->flags = (uint32_t)v;
		break;
	case KIND_DATA_C2S:
	case KIND_DATA_S2C:
	case KIND_NOTE: {
		const char *what = kind == KIND_NOTE ? "note" : "data";
		uint64_t cap = kind == KIND_NOTE ? TAPE_MAX_NOTE : TAPE_MAX_DATA;

		ev->kind = kind == KIND_NOTE ? TAPE_EV_NOTE : TAPE_EV_DATA;
		ev->dir = kind == KIND_DATA_S2C ? TAPE_S2C : TAPE_C2S;
		field_off = cur_off(&c);
		if ((rc = cur_varint(&c, &v, what)) < 0)
			return rc;
		if (v > cap)
			return tape__rerr_at(r, TAPE_EFORMAT, field_off,
					     "%s length %" PRIu64 " over the limit %" PRIu64, what,
					     v, cap);
		if ((rc = cur_bytes(&c, v, &p, what, field_off)) < 0)
			return rc;
		ev->data = p;
		ev->len = (size_t)v;
		break;
	}
	case KIND_GAP_C2S:
	case KIND_GAP_S2C:
		ev->kind = TAPE_EV_GAP;
		ev->dir = kind == KIND_GAP_S2C ? TAPE_S2C : TAPE_C2S;
		field_off = cur_off(&c);
		if ((rc = cur_varint(&c, &ev->gap, "gap length")) < 0)
			return rc;
		if (ev->gap > TAPE_MAX_GAP)
			return tape__rerr_at(r, TAPE_EFORMAT, field_off,
					     "gap length %" PRIu64 " over the limit %" PRIu64,
					     ev->gap, TAPE_MAX_GAP);
		break;
	case KIND_FIN_C2S:
	case KIND_FIN_S2C:
		ev->kind = TAPE_EV_FIN;
		ev->dir = kind == KIND_FIN_S2C ? TAPE_S2C : TAPE_C2S;
		break;
	case KIND_RST_C2S:
	case KIND_RST_S2C:
		ev->kind = TAPE_EV_RST;
		ev->dir = kind == KIND_RST_S2C ? TAPE_S2C : TAPE_C2S;
		break;
	case KIND_CLOSE:
		ev->kind = TAPE_EV_CLOSE;
		field_off = cur_off(&c);
		if ((rc = cur_varint(&c, &v, "close reason")) < 0)
			return rc;
		if (v >= TAPE_CLOSE__COUNT)
			return tape__rerr_at(r, TAPE_EFORMAT, field_off, "close reason %" PRIu64
					     " out of range (0..%d)", v, TAPE_CLOSE__COUNT - 1);
		ev->reason = (enum tape_close_reason)v;
		break;
	}
	s->pos = c.pos;
	s->time = ev->time_ns;
	s->events++;
	r->loc_off = rec_off;
	return 1;
}

/* Checks the 'Z' payload and that nothing follows it. */
static int finish(struct tape_reader *r, struct rd *s)
{
	struct tape__in *in = &r->in;
	struct cur c;
	uint64_t count, after_off, after = 0;
	long n;
	int rc;

	cur_init(&c, r, s);
	if ((rc = cur_varint(&c, &count, "end block event count")) < 0)
		return rc;
	if (c.pos != c.end)
		return tape__rerr_at(r, TAPE_EFORMAT, cur_off(&c),
				     "%zu stray bytes after the end block's event count",
				     c.end - c.pos);
	if (count != s->events)
		return tape__rerr_at(r, TAPE_EFORMAT, s->blk_off,
				     "end block counts %" PRIu64 " events, the tape holds %" PRIu64,
				     count, s->events);
	after_off = in->off;
	for (;;) {
		n = tape__in_need(in, 1, TAPE__IN_CHUNK);
		if (n < 0)
			return read_failed(r, n, in->off);
		if (n == 0)
			break;
		after += (uint64_t)n;
		tape__in_skip(in, (size_t)n);
	}
	if (after)
		return tape__rerr_at(r, TAPE_EFORMAT, after_off,
				     "%" PRIu64 " bytes after end block at offset %" PRIu64, after,
				     s->blk_off);
	r->st.finalised = 1;
	return 0;
}

static int tape_read_next(struct tape_reader *r, struct tape_event *ev)
{
	struct rd *s = r->state;
	struct cur c;
	uint64_t base;
	int type, rc;

	for (;;) {
		if (s->done)
			return 0;
		if (s->pos < s->len)
			return decode_event(r, s, ev);
		rc = read_block(r, s, 0, &type);
		if (rc <= 0) {
			if (rc == 0)
				s->done = 1;
			return rc;
		}
		switch (type) {
		case BLOCK_META:
			return tape__rerr_at(r, TAPE_EFORMAT, s->blk_off, "second metadata block");
		case BLOCK_END:
			rc = finish(r, s);
			if (rc < 0)
				return rc;
			s->done = 1;
			return 0;
		default:
			cur_init(&c, r, s);
			if ((rc = cur_varint(&c, &base, "events block base time")) < 0)
				return rc;
			if (base != s->time)
				return tape__rerr_at(r, TAPE_EFORMAT, c.base,
						     "events block base time %" PRIu64
						     " ns, but the previous event is at %" PRIu64
						     " ns", base, s->time);
			s->pos = c.pos;
			break;
		}
	}
}

static void tape_read_free(struct tape_reader *r)
{
	struct rd *s = r->state;

	if (!s)
		return;
	free(s->blk);
	free(s);
	r->state = NULL;
}

/* ===========================================================================
 * Writing
 * ========================================================================= */

struct wr {
	/* The block being built: BLOCK_HDR bytes reserved for its header, then
	 * the payload.  len == 0 when no block is open.  Holds at most
	 * BLOCK_HDR + TAPE__BLOCK_TARGET bytes, except briefly the metadata
	 * block (bounded by the TAPE_MAX_META_* caps). */
	uint8_t *buf;
	size_t len, cap;
	uint64_t time;   /* time of the last event written */
	uint64_t events; /* events written */
};

static int wr_reserve(struct tape_writer *w, struct wr *s, size_t more)
{
	size_t want = s->len + more, ncap;
	uint8_t *nb;

	if (want <= s->cap)
		return 0;
	ncap = s->cap ? s->cap : 4096;
	while (ncap < want)
		ncap *= 2;
	nb = realloc(s->buf, ncap);
	if (!nb)
		return tape__werr(w, -ENOMEM, "no memory for a %zu-byte block", want);
	s->buf = nb;
	s->cap = ncap;
	return 0;
}

static void fill_header(uint8_t *h, int type, uint32_t len, uint32_t pcrc)
{
	h[0] = (uint8_t)type;
	put32le(h + 1, len);
	put32le(h + 5, pcrc);
	put32le(h + 9, tape__crc32c(0, h, 9));
}

static int out_write(struct tape_writer *w, const void *p, size_t n)
{
	int rc = tape__out_write(&w->out, p, n);

	if (rc < 0)
		return tape__werr(w, rc, "write failed: %s", tape_strerror(rc));
	return 0;
}

/* Writes the open block (header reserve plus payload in s->buf) as type. */
static int emit(struct tape_writer *w, struct wr *s, int type)
{
	size_t plen = s->len - BLOCK_HDR;
	int rc;

	fill_header(s->buf, type, (uint32_t)plen, tape__crc32c(0, s->buf + BLOCK_HDR, plen));
	rc = out_write(w, s->buf, s->len);
	s->len = 0;
	return rc;
}

static int tape_write_open(struct tape_writer *w)
{
	uint8_t h[FILE_HDR];
	struct wr *s;
	size_t count = w->meta ? tape_meta_count(w->meta) : 0;
	int rc;

	s = calloc(1, sizeof *s);
	if (!s)
		return tape__werr(w, -ENOMEM, "no memory for the writer");
	w->state = s;

	memcpy(h, magic, sizeof magic);
	put16le(h + 8, TAPE_VERSION);
	put16le(h + 10, 0);
	put32le(h + 12, tape__crc32c(0, h, 12));
	if ((rc = out_write(w, h, sizeof h)) < 0)
		return rc;

	if ((rc = wr_reserve(w, s, BLOCK_HDR + 2 * TAPE__VARINT_MAX)) < 0)
		return rc;
	s->len = BLOCK_HDR;
	s->len += tape__varint_put(s->buf + s->len, w->meta ? tape_meta_start(w->meta) : 0);
	s->len += tape__varint_put(s->buf + s->len, count);
	for (size_t i = 0; i < count; i++) {
		const char *k, *v;
		size_t kl, vl;

		if ((rc = tape_meta_at(w->meta, i, &k, &v)) < 0)
			return tape__werr(w, rc, "metadata pair %zu unreadable", i + 1);
		kl = strlen(k);
		vl = strlen(v);
		if ((rc = wr_reserve(w, s, 2 * TAPE__VARINT_MAX + kl + vl)) < 0)
			return rc;
		s->len += tape__varint_put(s->buf + s->len, kl);
		memcpy(s->buf + s->len, k, kl);
		s->len += kl;
		s->len += tape__varint_put(s->buf + s->len, vl);
		memcpy(s->buf + s->len, v, vl);
		s->len += vl;
	}
	rc = emit(w, s, BLOCK_META);
	if (s->cap > BLOCK_HDR + TAPE__BLOCK_TARGET) {
		/* A huge metadata block: don't keep its buffer for the events. */
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
	return rc;
}

/* Encodes ev's record up to its DATA/NOTE bytes into p (REC_HEAD_MAX room);
 * *body and *blen get the bytes that follow it. */
static size_t encode_head(uint8_t *p, const struct tape_event *ev, uint64_t prev,
			  const uint8_t **body, size_t *blen)
{
	size_t n = 1;
	int s2c = ev->dir == TAPE_S2C;

	*body = NULL;
	*blen = 0;
	n += tape__varint_put(p + n, ev->time_ns - prev);
	n += tape__varint_put(p + n, ev->conn);
	switch (ev->kind) {
	case TAPE_EV_OPEN: {
		size_t alen = ev->client.family == 4 ? 4 : 16;

		p[0] = KIND_OPEN;
		p[n++] = ev->client.family == 4 ? 4 : 6;
		memcpy(p + n, ev->client.addr, alen);
		n += alen;
		p[n++] = (uint8_t)(ev->client.port >> 8);
		p[n++] = (uint8_t)ev->client.port;
		memcpy(p + n, ev->server.addr, alen);
		n += alen;
		p[n++] = (uint8_t)(ev->server.port >> 8);
		p[n++] = (uint8_t)ev->server.port;
		n += tape__varint_put(p + n, ev->flags);
		break;
	}
	case TAPE_EV_DATA:
	case TAPE_EV_NOTE:
		p[0] = ev->kind == TAPE_EV_NOTE ? KIND_NOTE : s2c ? KIND_DATA_S2C : KIND_DATA_C2S;
		n += tape__varint_put(p + n, ev->len);
		*body = ev->data;
		*blen = ev->len;
		break;
	case TAPE_EV_GAP:
		p[0] = s2c ? KIND_GAP_S2C : KIND_GAP_C2S;
		n += tape__varint_put(p + n, ev->gap);
		break;
	case TAPE_EV_FIN:
		p[0] = s2c ? KIND_FIN_S2C : KIND_FIN_C2S;
		break;
	case TAPE_EV_RST:
		p[0] = s2c ? KIND_RST_S2C : KIND_RST_C2S;
		break;
	case TAPE_EV_CLOSE:
		p[0] = KIND_CLOSE;
		n += tape__varint_put(p + n, (uint64_t)ev->reason);
		break;
	}
	return n;
}

/* Writes one record too big for TAPE__BLOCK_TARGET as a block of its own,
 * straight from the caller's bytes. */
static int emit_alone(struct tape_writer *w, struct wr *s, const uint8_t *head, size_t hlen,
		      const uint8_t *body, size_t blen)
{
	uint8_t b[BLOCK_HDR + TAPE__VARINT_MAX + REC_HEAD_MAX];
	size_t n = BLOCK_HDR;
	uint32_t crc;
	int rc;

	n += tape__varint_put(b + n, s->time);
	memcpy(b + n, head, hlen);
	n += hlen;
	crc = tape__crc32c(0, b + BLOCK_HDR, n - BLOCK_HDR);
	crc = tape__crc32c(crc, body, blen);
	fill_header(b, BLOCK_EVENTS, (uint32_t)(n - BLOCK_HDR + blen), crc);
	if ((rc = out_write(w, b, n)) < 0)
		return rc;
	return blen ? out_write(w, body, blen) : 0;
}

static int tape_write_event(struct tape_writer *w, const struct tape_event *ev)
{
	struct wr *s = w->state;
	uint8_t head[REC_HEAD_MAX];
	const uint8_t *body;
	size_t hlen, blen, rec;
	int rc;

	if (ev->kind == TAPE_EV_OPEN && ev->client.family != ev->server.family)
		return tape__werr(w, TAPE_EUNSUP,
				  "connection %" PRIu64 " mixes IPv%u and IPv%u endpoints",
				  ev->conn, ev->client.family, ev->server.family);
	if ((ev->kind == TAPE_EV_DATA && ev->len > TAPE_MAX_DATA) ||
	    (ev->kind == TAPE_EV_NOTE && ev->len > TAPE_MAX_NOTE))
		return tape__werr(w, TAPE_ELIMIT, "event of %zu bytes over the limit", ev->len);
	hlen = encode_head(head, ev, s->time, &body, &blen);
	rec = hlen + blen;
	if (s->len && s->len - BLOCK_HDR + rec > TAPE__BLOCK_TARGET &&
	    (rc = emit(w, s, BLOCK_EVENTS)) < 0)
		return rc;
	if (!s->len) {
		if (tape__varint_len(s->time) + rec > TAPE__BLOCK_TARGET) {
			rc = emit_alone(w, s, head, hlen, body, blen);
			goto out;
		}
		if ((rc = wr_reserve(w, s, BLOCK_HDR + TAPE__VARINT_MAX)) < 0)
			return rc;
		s->len = BLOCK_HDR;
		s->len += tape__varint_put(s->buf + s->len, s->time);
	}
	if ((rc = wr_reserve(w, s, rec)) < 0)
		return rc;
	memcpy(s->buf + s->len, head, hlen);
	s->len += hlen;
	if (blen)
		memcpy(s->buf + s->len, body, blen);
	s->len += blen;
out:
	if (rc == 0) {
		s->time = ev->time_ns;
		s->events++;
	}
	return rc;
}

static int tape_write_flush(struct tape_writer *w)
{
	struct wr *s = w->state;

	return s->len ? emit(w, s, BLOCK_EVENTS) : 0;
}

static int tape_write_close(struct tape_writer *w)
{
	struct wr *s = w->state;
	int rc;

	if ((rc = tape_write_flush(w)) < 0)
		return rc;
	if ((rc = wr_reserve(w, s, BLOCK_HDR + TAPE__VARINT_MAX)) < 0)
		return rc;
	s->len = BLOCK_HDR;
	s->len += tape__varint_put(s->buf + s->len, s->events);
	return emit(w, s, BLOCK_END);
}

static void tape_write_free(struct tape_writer *w)
{
	struct wr *s = w->state;

	if (!s)
		return;
	free(s->buf);
	free(s);
	w->state = NULL;
}

static const char *const tape_exts[] = {"tape", NULL};

/* The "tape" backend for format.c's table.  Its reader accepts version 1
 * files only, returns the events of every complete block of a truncated
 * file and rejects any checksum mismatch; its writer produces the canonical
 * layout described in doc/tape-format.md. */

const struct tape__format tape__format_tape = {
	.name = "tape",
	.exts = tape_exts,
	.probe = tape_probe,
	.read_open = tape_read_open,
	.read_next = tape_read_next,
	.read_free = tape_read_free,
	.write_open = tape_write_open,
	.write_event = tape_write_event,
	.write_flush = tape_write_flush,
	.write_close = tape_write_close,
	.write_free = tape_write_free,
};
