/* SPDX-License-Identifier: BSD-2-Clause */
/* test_fmt_tape.c - CUnit suite for the binary .tape backend: round trips and hostile input. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tape-int.h"
#include "unit.h"

/* Mirrors of fmt_tape.c's layout constants (doc/tape-format.md). */
#define FILE_HDR 16u
#define BLOCK_HDR 13u

/* ---- helpers --------------------------------------------------------------- */

/* A growable list of events that owns copies of their bytes. */
struct evlist {
	struct tape_event ev[64];
	uint8_t *own[64];
	size_t n;
};

static struct tape_event *add(struct evlist *l, enum tape_event_kind kind, uint64_t t,
			      uint64_t conn)
{
	struct tape_event *ev;

	CU_ASSERT_FATAL(l->n < 64);
	ev = &l->ev[l->n++];
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->time_ns = t;
	ev->conn = conn;
	return ev;
}

static void add_open(struct evlist *l, uint64_t t, uint64_t conn, struct tape_endpoint c,
		     struct tape_endpoint s, uint32_t flags)
{
	struct tape_event *ev = add(l, TAPE_EV_OPEN, t, conn);

	ev->client = c;
	ev->server = s;
	ev->flags = flags;
}

static void add_bytes(struct evlist *l, enum tape_event_kind kind, uint64_t t, uint64_t conn,
		      enum tape_dir dir, size_t len, uint8_t seed)
{
	struct tape_event *ev = add(l, kind, t, conn);
	uint8_t *p = malloc(len ? len : 1);

	CU_ASSERT_FATAL(p != NULL);
	for (size_t i = 0; i < len; i++)
		p[i] = kind == TAPE_EV_NOTE ? (uint8_t)('a' + (seed + i) % 26)
					    : (uint8_t)(seed + i * 7);
	l->own[l->n - 1] = p;
	ev->dir = dir;
	ev->data = p;
	ev->len = len;
}

static void add_dir(struct evlist *l, enum tape_event_kind kind, uint64_t t, uint64_t conn,
		    enum tape_dir dir)
{
	add(l, kind, t, conn)->dir = dir;
}

static void add_gap(struct evlist *l, uint64_t t, uint64_t conn, enum tape_dir dir, uint64_t gap)
{
	struct tape_event *ev = add(l, TAPE_EV_GAP, t, conn);

	ev->dir = dir;
	ev->gap = gap;
}

static void add_close(struct evlist *l, uint64_t t, uint64_t conn, enum tape_close_reason why)
{
	add(l, TAPE_EV_CLOSE, t, conn)->reason = why;
}

static void evlist_free(struct evlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->own[i]);
	l->n = 0;
}

static int ep_same(const struct tape_endpoint *a, const struct tape_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

static int ev_same(const struct tape_event *a, const struct tape_event *b)
{
	if (a->kind != b->kind || a->time_ns != b->time_ns || a->conn != b->conn)
		return 0;
	switch (a->kind) {
	case TAPE_EV_OPEN:
		return ep_same(&a->client, &b->client) && ep_same(&a->server, &b->server) &&
		       a->flags == b->flags;
	case TAPE_EV_DATA:
		return a->dir == b->dir && a->len == b->len &&
		       memcmp(a->data, b->data, a->len) == 0;
	case TAPE_EV_NOTE:
		return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
	case TAPE_EV_GAP:
		return a->dir == b->dir && a->gap == b->gap;
	case TAPE_EV_FIN:
	case TAPE_EV_RST:
		return a->dir == b->dir;
	case TAPE_EV_CLOSE:
		return a->reason == b->reason;
	}
	return 0;
}

static struct tape_meta *sample_meta(void)
{
	struct tape_meta *m = NULL;

	CU_ASSERT_FATAL(tape_meta_new(&m) == 0);
	tape_meta_set_start(m, UINT64_C(1795255200123456789));
	CU_ASSERT(tape_meta_set(m, "source", "eth0 port 80") == 0);
	CU_ASSERT(tape_meta_set(m, "tool", "tapedeck 0.1.0") == 0);
	CU_ASSERT(tape_meta_set(m, "empty", "") == 0);
	CU_ASSERT(tape_meta_set(m, "x.note-1_a", "tab\there") == 0);
	return m;
}

/* Writes events to path as a .tape with the given flush policy; closes it
 * unless finalise is 0 (then only frees the writer). */
static void write_tape(const char *path, const struct tape_meta *m, const struct evlist *l,
		       enum tape_flush_policy flush, int finalise)
{
	struct tape_writer_opts o = {.flush = flush, .flush_ms = 0};
	struct tape_writer *w = NULL;
	int rc = tape_writer_open(&w, path, "tape", m, &o);

	if (rc)
		fprintf(stderr, "\nwriter: %s\n", tape_writer_error(w));
	CU_ASSERT_FATAL(rc == 0);
	for (size_t i = 0; i < l->n; i++) {
		rc = tape_writer_write(w, &l->ev[i]);
		if (rc)
			fprintf(stderr, "\nwriter: event %zu: %s\n", i, tape_writer_error(w));
		CU_ASSERT_FATAL(rc == 0);
	}
	if (finalise)
		CU_ASSERT(tape_writer_close(w) == 0);
	tape_writer_free(w);
}

/* Reads path and checks it yields exactly l's first n events, then the end.
 * Returns the reader (for status checks); the caller frees it. */
static struct tape_reader *expect_events(const char *path, const char *format,
					 const struct evlist *l, size_t n)
{
	struct tape_reader *r = NULL;
	struct tape_event ev;
	int rc = tape_reader_open(&r, path, format);

	if (rc)
		fprintf(stderr, "\nreader: %s\n", tape_reader_error(r));
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT_STRING_EQUAL(tape_reader_format(r), "tape");
	for (size_t i = 0; i < n; i++) {
		rc = tape_reader_next(r, &ev);
		if (rc != 1)
			fprintf(stderr, "\nreader: event %zu: %d %s\n", i, rc,
				tape_reader_error(r));
		CU_ASSERT_FATAL(rc == 1);
		CU_ASSERT(ev_same(&ev, &l->ev[i]));
	}
	rc = tape_reader_next(r, &ev);
	if (rc != 0)
		fprintf(stderr, "\nreader: at end: %d %s\n", rc, tape_reader_error(r));
	CU_ASSERT(rc == 0);
	CU_ASSERT(tape_reader_next(r, &ev) == 0);
	return r;
}

/* Opens path as "tape" and reads until the end or an error; returns the
 * first error (0 when none) and the events read in *nev. */
static int read_to_end(const char *path, const char *format, size_t *nev,
		       struct tape_reader_status *st, char *err, size_t errlen)
{
	struct tape_reader *r = NULL;
	struct tape_event ev;
	int rc = tape_reader_open(&r, path, format);

	*nev = 0;
	if (rc == 0) {
		while ((rc = tape_reader_next(r, &ev)) == 1)
			(*nev)++;
	}
	if (r) {
		if (st)
			tape_reader_status(r, st);
		if (err)
			snprintf(err, errlen, "%s", tape_reader_error(r));
	}
	tape_reader_free(r);
	return rc;
}

/* The blocks of a well-formed tape image: offset, type and payload length. */
struct blk {
	size_t off;
	uint8_t type;
	uint32_t len;
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static size_t walk_blocks(const uint8_t *img, size_t n, struct blk *out, size_t max)
{
	size_t k = 0, off = FILE_HDR;

	while (off + BLOCK_HDR <= n && k < max) {
		out[k].off = off;
		out[k].type = img[off];
		out[k].len = rd32(img + off + 1);
		off += BLOCK_HDR + out[k].len;
		k++;
	}
	CU_ASSERT(off == n);
	return k;
}

/* Appends a block with correct CRCs to buf at *n. */
static void put_block(uint8_t *buf, size_t *n, uint8_t type, const void *payload, uint32_t len)
{
	uint8_t *h = buf + *n;

	h[0] = type;
	wr32(h + 1, len);
	wr32(h + 5, tape__crc32c(0, payload, len));
	wr32(h + 9, tape__crc32c(0, h, 9));
	memcpy(h + BLOCK_HDR, payload, len);
	*n += BLOCK_HDR + len;
}

/* A minimal valid prefix: file header and an empty metadata block. */
static size_t put_prefix(uint8_t *buf)
{
	static const uint8_t hdr[12] = {0x89, 'T', 'A', 'P', 'E', '\r', '\n', 0x1a, 1, 0, 0, 0};
	static const uint8_t meta[2] = {0, 0};
	size_t n = 12;

	memcpy(buf, hdr, 12);
	wr32(buf + 12, tape__crc32c(0, buf, 12));
	n = FILE_HDR;
	put_block(buf, &n, 'M', meta, sizeof meta);
	return n;
}

/* Writes an image to a temporary .tape file and returns its path. */
static const char *image_file(const uint8_t *img, size_t n)
{
	const char *path = unit_tmpfile(".tape");

	unit_write_file(path, img, n);
	return path;
}

/* The reader's verdict on an image: error code (0 when read cleanly). */
static int image_verdict(const uint8_t *img, size_t n, char *err, size_t errlen)
{
	size_t nev;

	return read_to_end(image_file(img, n), "tape", &nev, NULL, err, errlen);
}

static void expect_error(const uint8_t *img, size_t n, int code, const char *text)
{
	char err[TAPE__ERRLEN];
	int rc = image_verdict(img, n, err, sizeof err);

	if (rc != code || !strstr(err, text))
		fprintf(stderr, "\nwanted %s \"%s\", got %s \"%s\"\n", tape_err_name(code), text,
			tape_err_name(rc), err);
	CU_ASSERT(rc == code);
	CU_ASSERT(strstr(err, text) != NULL);
}

/* Every event kind, both directions, both families, every close reason. */
static void build_all_kinds(struct evlist *l)
{
	uint64_t t = 1000;

	add_bytes(l, TAPE_EV_NOTE, t, 0, TAPE_C2S, 0, 0);
	add_bytes(l, TAPE_EV_NOTE, t, 0, TAPE_C2S, 40, 3);
	for (uint64_t c = 1; c <= TAPE_CLOSE__COUNT; c++) {
		if (c % 2)
			add_open(l, t += 10, c, unit_ep4(192, 0, 2, (uint8_t)c, (uint16_t)(40000 + c)),
				 unit_ep4(198, 51, 100, 7, 80), c == 1 ? 0 : (uint32_t)(c & 7));
		else
			add_open(l, t += 10, c, unit_ep6((uint8_t)c, 0xfffe), unit_ep6(0xff, 443),
				 TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED | TAPE_OPEN_REUSED);
	}
	add_bytes(l, TAPE_EV_DATA, t += 1, 1, TAPE_C2S, 1, 9);
	add_bytes(l, TAPE_EV_DATA, t += 1, 1, TAPE_S2C, 200 << 10, 1); /* > one block */
	add_bytes(l, TAPE_EV_DATA, t, 2, TAPE_S2C, 100, 2);
	add_gap(l, t += 3, 1, TAPE_C2S, 1);
	add_gap(l, t += UINT64_C(1) << 40, 1, TAPE_S2C, TAPE_MAX_GAP);
	add_bytes(l, TAPE_EV_NOTE, t, 3, TAPE_C2S, 5, 7);
	add_dir(l, TAPE_EV_FIN, t += 1, 1, TAPE_C2S);
	add_dir(l, TAPE_EV_FIN, t += 1, 1, TAPE_S2C);
	add_dir(l, TAPE_EV_RST, t += 1, 2, TAPE_C2S);
	add_dir(l, TAPE_EV_RST, t += 1, 2, TAPE_S2C);
	add_dir(l, TAPE_EV_FIN, t, 3, TAPE_S2C);
	add_dir(l, TAPE_EV_RST, t, 3, TAPE_C2S);
	for (uint64_t c = 1; c <= TAPE_CLOSE__COUNT; c++)
		add_close(l, t += 5, c, (enum tape_close_reason)(c - 1));
	add_bytes(l, TAPE_EV_NOTE, TAPE_MAX_TIME, 0, TAPE_C2S, 1, 0);
}

/* A few small events, for the exhaustive truncation and bit-flip tests. */
static void build_small(struct evlist *l)
{
	add_open(l, 5, 1, unit_ep4(10, 0, 0, 1, 1234), unit_ep4(10, 0, 0, 2, 80), 0);
	add_bytes(l, TAPE_EV_DATA, 7, 1, TAPE_C2S, 3, 1);
	add_bytes(l, TAPE_EV_DATA, 300, 1, TAPE_S2C, 2, 2);
	add_gap(l, 301, 1, TAPE_S2C, 10);
	add_bytes(l, TAPE_EV_NOTE, 302, 0, TAPE_C2S, 4, 0);
	add_dir(l, TAPE_EV_FIN, 400, 1, TAPE_C2S);
	add_close(l, 401, 1, TAPE_CLOSE_RST);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_fmt_tape_roundtrip_all_kinds(void)
{
	struct evlist l = {.n = 0};
	struct tape_meta *m = sample_meta();
	const char *path = unit_tmpfile(".tape");
	struct tape_reader *r;
	struct tape_reader_status st;
	const struct tape_meta *rm;
	const char *k1, *v1, *k2, *v2;

	build_all_kinds(&l);
	write_tape(path, m, &l, TAPE_FLUSH_CLOSE, 1);
	r = expect_events(path, NULL, &l, l.n);
	rm = tape_reader_meta(r);
	CU_ASSERT(tape_meta_start(rm) == tape_meta_start(m));
	CU_ASSERT_FATAL(tape_meta_count(rm) == tape_meta_count(m));
	for (size_t i = 0; i < tape_meta_count(m); i++) {
		CU_ASSERT(tape_meta_at(m, i, &k1, &v1) == 0);
		CU_ASSERT(tape_meta_at(rm, i, &k2, &v2) == 0);
		CU_ASSERT_STRING_EQUAL(k1, k2);
		CU_ASSERT_STRING_EQUAL(v1, v2);
	}
	tape_reader_status(r, &st);
	CU_ASSERT(st.finalised == 1);
	CU_ASSERT(st.events == l.n);
	CU_ASSERT(st.dropped_bytes == 0);
	tape_reader_free(r);
	tape_meta_free(m);
	evlist_free(&l);
}

static void test_fmt_tape_empty_tape(void)
{
	struct evlist l = {.n = 0};
	const char *path = unit_tmpfile(".tape");
	struct tape_reader *r;
	struct tape_reader_status st;
	uint8_t *img;
	size_t n;

	write_tape(path, NULL, &l, TAPE_FLUSH_CLOSE, 1);
	img = unit_read_file(path, &n);
	CU_ASSERT_FATAL(img != NULL);
	/* header, 'M' with start 0 and no pairs, 'Z' with count 0 */
	CU_ASSERT(n == FILE_HDR + BLOCK_HDR + 2 + BLOCK_HDR + 1);
	free(img);
	r = expect_events(path, "tape", &l, 0);
	CU_ASSERT(tape_meta_count(tape_reader_meta(r)) == 0);
	CU_ASSERT(tape_meta_start(tape_reader_meta(r)) == 0);
	tape_reader_status(r, &st);
	CU_ASSERT(st.finalised == 1);
	tape_reader_free(r);
}

/* The exact bytes of a tiny tape: pins the format (doc/tape-format.md). */
static void test_fmt_tape_golden_bytes(void)
{
	static const uint8_t want[] = {
		/* file header: magic, version 1, flags 0, CRC32C */
		0x89, 0x54, 0x41, 0x50, 0x45, 0x0d, 0x0a, 0x1a, 0x01, 0x00, 0x00, 0x00,
		0x77, 0x99, 0xcb, 0xda,
		/* 'M' block header: 18-byte payload, payload CRC, header CRC */
		0x4d, 0x12, 0x00, 0x00, 0x00, 0xff, 0x09, 0xa9, 0x55, 0x3a, 0x8c, 0x92, 0x35,
		/* start 2000000000000000000, 1 pair, "tool" = "td" */
		0x80, 0x80, 0xa0, 0xf6, 0xf4, 0xac, 0xdb, 0xe0, 0x1b, 0x01,
		0x04, 0x74, 0x6f, 0x6f, 0x6c, 0x02, 0x74, 0x64,
		/* 'E' block header: 43-byte payload */
		0x45, 0x2b, 0x00, 0x00, 0x00, 0x1a, 0x26, 0x76, 0x92, 0x73, 0x56, 0x1e, 0xe1,
		/* base time 0 */
		0x00,
		/* OPEN +1000 conn 1, IPv4 192.0.2.1:50000 -> 198.51.100.7:80, flags 0 */
		0x01, 0xe8, 0x07, 0x01, 0x04, 0xc0, 0x00, 0x02, 0x01, 0xc3, 0x50, 0xc6, 0x33, 0x64,
		0x07, 0x00, 0x50, 0x00,
		/* DATA c2s +5000 conn 1 "hi" */
		0x02, 0x88, 0x27, 0x01, 0x02, 0x68, 0x69,
		/* DATA s2c +4000 conn 1 "ok" */
		0x03, 0xa0, 0x1f, 0x01, 0x02, 0x6f, 0x6b,
		/* FIN c2s +1, FIN s2c +0, CLOSE +1 reason fin */
		0x06, 0x01, 0x01,
		0x07, 0x00, 0x01,
		0x0a, 0x01, 0x01, 0x00,
		/* 'Z' block: 6 events */
		0x5a, 0x01, 0x00, 0x00, 0x00, 0xb9, 0xb4, 0xdc, 0x74, 0x3a, 0xcb, 0x80, 0x9e,
		0x06,
	};
	struct evlist l = {.n = 0};
	struct tape_meta *m = NULL;
	const char *path = unit_tmpfile(".tape");
	uint8_t *img;
	size_t n;

	CU_ASSERT_FATAL(tape_meta_new(&m) == 0);
	tape_meta_set_start(m, UINT64_C(2000000000000000000));
	CU_ASSERT(tape_meta_set(m, "tool", "td") == 0);
	add_open(&l, 1000, 1, unit_ep4(192, 0, 2, 1, 50000), unit_ep4(198, 51, 100, 7, 80), 0);
	add_bytes(&l, TAPE_EV_DATA, 6000, 1, TAPE_C2S, 2, 0);
	memcpy(l.own[l.n - 1], "hi", 2);
	add_bytes(&l, TAPE_EV_DATA, 10000, 1, TAPE_S2C, 2, 0);
	memcpy(l.own[l.n - 1], "ok", 2);
	add_dir(&l, TAPE_EV_FIN, 10001, 1, TAPE_C2S);
	add_dir(&l, TAPE_EV_FIN, 10001, 1, TAPE_S2C);
	add_close(&l, 10002, 1, TAPE_CLOSE_FIN);
	write_tape(path, m, &l, TAPE_FLUSH_CLOSE, 1);
	img = unit_read_file(path, &n);
	CU_ASSERT_FATAL(img != NULL);
	if (n != sizeof want || memcmp(img, want, n) != 0) {
		fprintf(stderr, "\ngot %zu bytes:", n);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%s%02x", i % 16 ? " " : "\n", img[i]);
		fprintf(stderr, "\n");
	}
	CU_ASSERT(n == sizeof want && memcmp(img, want, n) == 0);
	free(img);
	{
		/* The cuts described in the document. */
		struct tape_reader_status st;
		char err[TAPE__ERRLEN];
		size_t nev;
		const char *cut = image_file(want, 100);

		CU_ASSERT(read_to_end(cut, NULL, &nev, &st, err, sizeof err) == 0);
		CU_ASSERT(nev == 0 && st.dropped_bytes == 53 && !st.finalised);
		CU_ASSERT_STRING_EQUAL(st.dropped_why, "incomplete block at offset 47: "
						       "wanted 43 payload bytes, got 40");
		cut = image_file(want, 103);
		CU_ASSERT(read_to_end(cut, NULL, &nev, &st, err, sizeof err) == 0);
		CU_ASSERT(nev == 6 && st.dropped_bytes == 0 && !st.finalised);
		cut = image_file(want, 40);
		CU_ASSERT(read_to_end(cut, NULL, &nev, &st, err, sizeof err) == TAPE_ETRUNC);
	}
	tape_meta_free(m);
	evlist_free(&l);
}

static void test_fmt_tape_deterministic(void)
{
	struct evlist l = {.n = 0};
	struct tape_meta *m = sample_meta();
	char p1[512];
	const char *p2;
	uint8_t *a, *b;
	size_t na, nb;

	build_all_kinds(&l);
	snprintf(p1, sizeof p1, "%s", unit_tmpfile(".tape"));
	p2 = unit_tmpfile(".tape");
	write_tape(p1, m, &l, TAPE_FLUSH_CLOSE, 1);
	write_tape(p2, m, &l, TAPE_FLUSH_CLOSE, 1);
	a = unit_read_file(p1, &na);
	b = unit_read_file(p2, &nb);
	CU_ASSERT_FATAL(a && b);
	CU_ASSERT(na == nb && memcmp(a, b, na) == 0);
	free(a);
	free(b);
	tape_meta_free(m);
	evlist_free(&l);
}

/* Blocks fill up to 64 KiB of payload; a bigger event goes alone. */
static void test_fmt_tape_block_policy(void)
{
	struct evlist l = {.n = 0};
	const char *path = unit_tmpfile(".tape");
	struct blk b[64];
	uint8_t *img;
	size_t n, nb;

	add_open(&l, 1, 1, unit_ep4(10, 0, 0, 1, 1), unit_ep4(10, 0, 0, 2, 2), 0);
	for (int i = 0; i < 40; i++)
		add_bytes(&l, TAPE_EV_DATA, 2 + (uint64_t)i, 1, (enum tape_dir)(i % 2), 5000,
			  (uint8_t)i);
	add_bytes(&l, TAPE_EV_DATA, 100, 1, TAPE_C2S, TAPE__BLOCK_TARGET, 1);
	add_bytes(&l, TAPE_EV_DATA, 101, 1, TAPE_C2S, 10, 1);
	write_tape(path, NULL, &l, TAPE_FLUSH_CLOSE, 1);
	img = unit_read_file(path, &n);
	CU_ASSERT_FATAL(img != NULL);
	nb = walk_blocks(img, n, b, 64);
	/* Records: open 17 bytes, 5000-byte data 5005, the big one 65542, the
	 * last 14; each block starts with a 1-byte base time. */
	CU_ASSERT_FATAL(nb == 8);
	CU_ASSERT(b[0].type == 'M' && b[7].type == 'Z');
	for (size_t i = 1; i < 7; i++)
		CU_ASSERT(b[i].type == 'E');
	CU_ASSERT(b[1].len == 1 + 17 + 13 * 5005);
	CU_ASSERT(b[2].len == 1 + 13 * 5005);
	CU_ASSERT(b[3].len == 1 + 13 * 5005);
	CU_ASSERT(b[4].len == 1 + 5005);
	CU_ASSERT(b[5].len == 1 + 1 + 1 + 1 + 3 + TAPE__BLOCK_TARGET); /* alone, over the target */
	CU_ASSERT(b[6].len == 1 + 14);
	free(img);
	tape_reader_free(expect_events(path, "tape", &l, l.n));
	evlist_free(&l);
}

/* A writer that dies before close leaves complete blocks and no 'Z'. */
static void test_fmt_tape_unfinalised(void)
{
	struct evlist l = {.n = 0};
	const char *path = unit_tmpfile(".tape");
	struct tape_reader *r;
	struct tape_reader_status st;

	build_small(&l);
	write_tape(path, NULL, &l, TAPE_FLUSH_CLOSE, 0);
	r = expect_events(path, "tape", &l, l.n);
	tape_reader_status(r, &st);
	CU_ASSERT(st.finalised == 0);
	CU_ASSERT(st.dropped_bytes == 0);
	tape_reader_free(r);
	evlist_free(&l);
}

/* Cutting a tape anywhere yields exactly the events of its complete blocks. */
static void test_fmt_tape_truncate_every_offset(void)
{
	struct evlist l = {.n = 0};
	char full[512];
	const char *cut = NULL;
	struct blk b[32];
	uint8_t *img;
	size_t n, nb, meta_end;

	build_small(&l);
	snprintf(full, sizeof full, "%s", unit_tmpfile(".tape"));
	write_tape(full, NULL, &l, TAPE_FLUSH_EVENT, 1);
	img = unit_read_file(full, &n);
	CU_ASSERT_FATAL(img != NULL);
	nb = walk_blocks(img, n, b, 32);
	CU_ASSERT_FATAL(nb == l.n + 2); /* one block per event, plus 'M' and 'Z' */
	meta_end = b[0].off + BLOCK_HDR + b[0].len;
	cut = unit_tmpfile(".tape");
	for (size_t k = 0; k <= 2 * n + 1; k++) {
		size_t len = k % (n + 1);
		int pass = k > n;
		struct tape_reader_status st;
		char err[TAPE__ERRLEN];
		size_t nev, whole = 0, end = meta_end;
		int rc;

		unit_write_file(cut, img, len);
		memset(&st, 0, sizeof st);
		/* probed the first time round, named the second */
		rc = read_to_end(cut, pass ? "tape" : NULL, &nev, &st, err, sizeof err);
		if (len < meta_end) {
			CU_ASSERT(rc == TAPE_ETRUNC);
			CU_ASSERT(nev == 0);
			continue;
		}
		for (size_t i = 1; i < nb; i++) {
			size_t e = b[i].off + BLOCK_HDR + b[i].len;
			if (e > len)
				break;
			end = e;
			if (b[i].type == 'E')
				whole++;
		}
		if (rc != 0 || nev != whole || st.dropped_bytes != len - end)
			fprintf(stderr, "\ncut at %zu: rc %d (%s), %zu events, dropped %llu\n",
				len, rc, err, nev, (unsigned long long)st.dropped_bytes);
		CU_ASSERT(rc == 0);
		CU_ASSERT(nev == whole);
		CU_ASSERT(st.events == whole);
		CU_ASSERT(st.dropped_bytes == len - end);
		CU_ASSERT((st.dropped_why[0] != '\0') == (len != end));
		CU_ASSERT(st.finalised == (len == n));
	}
	free(img);
	evlist_free(&l);
}

/* A single flipped bit anywhere in a complete tape is an error. */
static void test_fmt_tape_every_bit_flip(void)
{
	struct evlist l = {.n = 0};
	const char *path = unit_tmpfile(".tape"), *bad;
	uint8_t *img;
	size_t n;
	unsigned undetected = 0;

	build_small(&l);
	write_tape(path, NULL, &l, TAPE_FLUSH_EVENT, 1);
	img = unit_read_file(path, &n);
	CU_ASSERT_FATAL(img != NULL);
	bad = unit_tmpfile(".tape");
	for (size_t bit = 0; bit < n * 8; bit++) {
		size_t nev;
		int rc;

		img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		unit_write_file(bad, img, n);
		rc = read_to_end(bad, "tape", &nev, NULL, NULL, 0);
		img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (rc != TAPE_ECRC && rc != TAPE_EFORMAT && rc != TAPE_EVERSION) {
			if (undetected++ < 5)
				fprintf(stderr, "\nbit %zu (byte %zu): got %d\n", bit, bit / 8, rc);
		}
	}
	CU_ASSERT(undetected == 0);
	free(img);
	evlist_free(&l);
}

/* Random changes behind valid CRCs reach the record parser: whatever it
 * makes of them, it must neither crash nor leak (ASan watches). */
static void test_fmt_tape_mutations_with_valid_crcs(void)
{
	struct evlist l = {.n = 0};
	const char *path = unit_tmpfile(".tape"), *bad;
	struct blk b[32];
	uint8_t *img, *mut;
	uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
	size_t n, nb, ok = 0;
	struct tape_meta *m = sample_meta();

	build_small(&l);
	write_tape(path, m, &l, TAPE_FLUSH_EVENT, 1);
	tape_meta_free(m);
	img = unit_read_file(path, &n);
	CU_ASSERT_FATAL(img != NULL);
	nb = walk_blocks(img, n, b, 32);
	mut = malloc(n);
	CU_ASSERT_FATAL(mut != NULL);
	bad = unit_tmpfile(".tape");
	for (int iter = 0; iter < 3000; iter++) {
		size_t nev, blk, changes;
		int rc;

		memcpy(mut, img, n);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		changes = 1 + x % 3;
		for (size_t k = 0; k < changes; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			blk = x % nb;
			if (b[blk].len == 0)
				continue;
			mut[b[blk].off + BLOCK_HDR + (x >> 8) % b[blk].len] = (uint8_t)(x >> 40);
		}
		for (size_t i = 0; i < nb; i++) {
			uint8_t *h = mut + b[i].off;
			wr32(h + 5, tape__crc32c(0, h + BLOCK_HDR, b[i].len));
			wr32(h + 9, tape__crc32c(0, h, 9));
		}
		unit_write_file(bad, mut, n);
		rc = read_to_end(bad, "tape", &nev, NULL, NULL, 0);
		CU_ASSERT(rc == 0 || rc == TAPE_EFORMAT || rc == TAPE_ESEQ);
		ok += rc == 0;
	}
	CU_ASSERT(ok < 3000);
	free(mut);
	free(img);
	evlist_free(&l);
}

static void test_fmt_tape_unknown_version(void)
{
	uint8_t buf[256];
	size_t n = put_prefix(buf);

	buf[8] = 7;
	wr32(buf + 12, tape__crc32c(0, buf, 12));
	expect_error(buf, n, TAPE_EVERSION,
		     "unsupported tape version 7 (this build reads version 1)");
	/* Checked before the CRC: a later version may change the header. */
	buf[8] = 0;
	buf[9] = 1;
	expect_error(buf, n, TAPE_EVERSION, "unsupported tape version 256");
}

static void test_fmt_tape_header_flags(void)
{
	uint8_t buf[256];
	size_t n = put_prefix(buf);

	buf[10] = 1;
	wr32(buf + 12, tape__crc32c(0, buf, 12));
	expect_error(buf, n, TAPE_EVERSION, "header flags 0x0001");
	buf[13] ^= 0x40;
	expect_error(buf, n, TAPE_ECRC, "file header CRC32C");
}

static void test_fmt_tape_bad_magic_and_short(void)
{
	uint8_t buf[256];
	size_t n = put_prefix(buf);

	buf[1] = 't';
	expect_error(buf, n, TAPE_EFORMAT, "offset 0: not a tape file (bad magic)");
	buf[1] = 'T';
	expect_error(buf, 0, TAPE_ETRUNC, "empty input");
	expect_error(buf, 9, TAPE_ETRUNC, "file header: wanted 16 bytes, got 9");
	expect_error(buf, FILE_HDR, TAPE_ETRUNC, "offset 16: incomplete metadata block");
	expect_error(buf, n - 1, TAPE_ETRUNC, "wanted 2 payload bytes, got 1");
	/* A text-mode transfer that turned \r\n into \n. */
	memmove(buf + 5, buf + 6, n - 6);
	expect_error(buf, n - 1, TAPE_EFORMAT, "bad magic");
}

static void test_fmt_tape_bytes_after_end(void)
{
	struct evlist l = {.n = 0};
	const char *path = unit_tmpfile(".tape");
	uint8_t *img;
	size_t n;
	char want[128];

	build_small(&l);
	write_tape(path, NULL, &l, TAPE_FLUSH_CLOSE, 1);
	img = unit_read_file(path, &n);
	CU_ASSERT_FATAL(img != NULL);
	img = realloc(img, n + 3);
	CU_ASSERT_FATAL(img != NULL);
	memcpy(img + n, "xyz", 3);
	snprintf(want, sizeof want, "offset %zu: 3 bytes after end block at offset %zu", n,
		 n - BLOCK_HDR - 1);
	expect_error(img, n + 3, TAPE_EFORMAT, want);
	free(img);
	evlist_free(&l);
}

static void test_fmt_tape_absurd_length(void)
{
	uint8_t buf[256], *h;
	size_t n = put_prefix(buf);

	h = buf + n;
	h[0] = 'E';
	wr32(h + 1, TAPE__BLOCK_MAX + 1);
	wr32(h + 5, 0);
	wr32(h + 9, tape__crc32c(0, h, 9));
	n += BLOCK_HDR;
	expect_error(buf, n, TAPE_ELIMIT, "absurd block length");
	/* The largest allowed length is merely truncated. */
	wr32(h + 1, TAPE__BLOCK_MAX);
	wr32(h + 9, tape__crc32c(0, h, 9));
	CU_ASSERT(image_verdict(buf, n, NULL, 0) == 0);
	/* As the metadata block: nothing readable at all. */
	n = FILE_HDR;
	memmove(buf + n, h, BLOCK_HDR);
	buf[n] = 'M';
	wr32(buf + n + 1, UINT32_MAX);
	wr32(buf + n + 9, tape__crc32c(0, buf + n, 9));
	expect_error(buf, n + BLOCK_HDR, TAPE_ELIMIT, "offset 16: absurd block length 4294967295");
}

/* Hand-made blocks with valid CRCs and bad contents. */
static void test_fmt_tape_hostile_blocks(void)
{
	uint8_t buf[512], p[64];
	size_t n0, n;
	char want[128];

#define EV_BLOCK(...)                                                  \
	do {                                                           \
		static const uint8_t pl_[] = {__VA_ARGS__};            \
		n = n0;                                                \
		put_block(buf, &n, 'E', pl_, sizeof pl_);              \
	} while (0)

	n0 = put_prefix(buf);
	/* payload offsets: block at n0, payload at n0 + 13 */
#define AT(i) (snprintf(want, sizeof want, "offset %zu: ", n0 + BLOCK_HDR + (i)), want)

	EV_BLOCK(0, 12, 0x80);
	expect_error(buf, n, TAPE_EFORMAT, AT(1));
	expect_error(buf, n, TAPE_EFORMAT, "unknown event kind 12");
	EV_BLOCK(0, 0, 0, 0);
	expect_error(buf, n, TAPE_EFORMAT, "unknown event kind 0");
	/* open, then data whose length runs past the block */
	EV_BLOCK(0, 1, 1, 1, 4, 1, 2, 3, 4, 0, 1, 5, 6, 7, 8, 0, 2, 0, 2, 1, 1, 5, 'a', 'b');
	expect_error(buf, n, TAPE_EFORMAT, AT(21));
	expect_error(buf, n, TAPE_EFORMAT, "data: 5 bytes run past the end of the block (2 left)");
	/* an open cut short inside its server address */
	EV_BLOCK(0, 1, 1, 1, 4, 1, 2, 3, 4, 0, 1, 5, 6);
	expect_error(buf, n, TAPE_EFORMAT, AT(11));
	/* address family 5 */
	EV_BLOCK(0, 1, 1, 1, 5, 1, 2, 3, 4, 0, 1, 5, 6, 7, 8, 0, 2, 0);
	expect_error(buf, n, TAPE_EFORMAT, "address family 5");
	/* varint over 64 bits in the time delta */
	EV_BLOCK(0, 11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0);
	expect_error(buf, n, TAPE_EFORMAT, AT(2));
	expect_error(buf, n, TAPE_EFORMAT, "malformed varint");
	/* a varint cut by the end of the block */
	EV_BLOCK(0, 11, 0x80);
	expect_error(buf, n, TAPE_EFORMAT, "event time delta runs past the end of the block");
	/* time past TAPE_MAX_TIME: 2^62 + 1 */
	EV_BLOCK(0, 11, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0, 0);
	expect_error(buf, n, TAPE_EFORMAT, AT(2));
	expect_error(buf, n, TAPE_EFORMAT, "past the limit");
	/* note longer than TAPE_MAX_NOTE (65537) */
	EV_BLOCK(0, 11, 0, 0, 0x81, 0x80, 0x04);
	expect_error(buf, n, TAPE_EFORMAT, AT(4));
	expect_error(buf, n, TAPE_EFORMAT, "note length 65537 over the limit 65536");
	/* data longer than TAPE_MAX_DATA (2^26 + 1) */
	EV_BLOCK(0, 1, 1, 1, 4, 1, 2, 3, 4, 0, 1, 5, 6, 7, 8, 0, 2, 0, 2, 1, 1, 0x81, 0x80, 0x80,
		 0x20);
	expect_error(buf, n, TAPE_EFORMAT, AT(21));
	expect_error(buf, n, TAPE_EFORMAT, "data length 67108865 over the limit 67108864");
	/* gap longer than TAPE_MAX_GAP (2^48 + 1) */
	EV_BLOCK(0, 1, 1, 1, 4, 1, 2, 3, 4, 0, 1, 5, 6, 7, 8, 0, 2, 0, 5, 0, 1, 0x81, 0x80, 0x80,
		 0x80, 0x80, 0x80, 0x40);
	expect_error(buf, n, TAPE_EFORMAT, AT(21));
	expect_error(buf, n, TAPE_EFORMAT, "gap length 281474976710657 over the limit");
	/* close reason 8 */
	EV_BLOCK(0, 1, 1, 1, 4, 1, 2, 3, 4, 0, 1, 5, 6, 7, 8, 0, 2, 0, 10, 0, 1, 8);
	expect_error(buf, n, TAPE_EFORMAT, AT(21));
	expect_error(buf, n, TAPE_EFORMAT, "close reason 8 out of range");
	/* the same with reason 7 (rotated, the last one) is fine */
	EV_BLOCK(0, 1, 1, 1, 4, 1, 2, 3, 4, 0, 1, 5, 6, 7, 8, 0, 2, 0, 10, 0, 1, 7);
	CU_ASSERT(image_verdict(buf, n, NULL, 0) == 0);
	/* open flags over 32 bits */
	EV_BLOCK(0, 1, 1, 1, 4, 1, 2, 3, 4, 0, 1, 5, 6, 7, 8, 0, 2, 0x80, 0x80, 0x80, 0x80, 0x10);
	expect_error(buf, n, TAPE_EFORMAT, "open flags 0x100000000 out of range");
	/* events the generic validation rejects name the record's offset */
	EV_BLOCK(0, 6, 0, 1);
	expect_error(buf, n, TAPE_ESEQ, AT(1));
	/* the first block's base time must be 0 */
	EV_BLOCK(5, 11, 0, 0, 0);
	expect_error(buf, n, TAPE_EFORMAT, AT(0));
	expect_error(buf, n, TAPE_EFORMAT, "base time 5 ns, but the previous event is at 0 ns");
	/* an empty payload has no base time */
	n = n0;
	put_block(buf, &n, 'E', p, 0);
	expect_error(buf, n, TAPE_EFORMAT, "events block base time runs past the end");

	/* a second block must continue from the first one's last time */
	n = n0;
	p[0] = 0, p[1] = 11, p[2] = 100, p[3] = 0, p[4] = 0;
	put_block(buf, &n, 'E', p, 5);
	{
		size_t b2 = n;
		p[0] = 99;
		put_block(buf, &n, 'E', p, 5);
		snprintf(want, sizeof want, "offset %zu: events block base time 99 ns",
			 b2 + BLOCK_HDR);
		expect_error(buf, n, TAPE_EFORMAT, want);
		n = b2;
		p[0] = 100;
		put_block(buf, &n, 'E', p, 5);
		CU_ASSERT(image_verdict(buf, n, NULL, 0) == 0);
		/* end block with the wrong count, then the right one */
		p[0] = 3;
		put_block(buf, &n, 'Z', p, 1);
		expect_error(buf, n, TAPE_EFORMAT, "end block counts 3 events, the tape holds 2");
		n -= BLOCK_HDR + 1;
		p[0] = 2;
		put_block(buf, &n, 'Z', p, 1);
		CU_ASSERT(image_verdict(buf, n, NULL, 0) == 0);
		/* an end block with stray bytes */
		n -= BLOCK_HDR + 1;
		p[1] = 0;
		put_block(buf, &n, 'Z', p, 2);
		expect_error(buf, n, TAPE_EFORMAT, "1 stray bytes after the end block");
	}
	/* unknown block type, second metadata block, events before metadata */
	n = n0;
	put_block(buf, &n, 'Q', p, 1);
	snprintf(want, sizeof want, "offset %zu: unknown block type 0x51 ('Q')", n0);
	expect_error(buf, n, TAPE_EFORMAT, want);
	n = n0;
	put_block(buf, &n, 0x00, p, 1);
	expect_error(buf, n, TAPE_EFORMAT, "unknown block type 0x00");
	n = n0;
	p[0] = 0, p[1] = 0;
	put_block(buf, &n, 'M', p, 2);
	expect_error(buf, n, TAPE_EFORMAT, "second metadata block");
	n = FILE_HDR;
	put_block(buf, &n, 'E', p, 1);
	expect_error(buf, n, TAPE_EFORMAT, "offset 16: first block is an events block");
	n = FILE_HDR;
	put_block(buf, &n, 'Z', p, 1);
	expect_error(buf, n, TAPE_EFORMAT, "first block is an end block");
	/* CRC mismatches name both values */
	n = put_prefix(buf);
	p[0] = 0, p[1] = 11, p[2] = 1, p[3] = 0, p[4] = 0;
	put_block(buf, &n, 'E', p, 5);
	buf[n - 1] ^= 1;
	snprintf(want, sizeof want, "offset %zu: events block payload CRC32C 0x%08x, stored 0x%08x",
		 n0, tape__crc32c(0, buf + n0 + BLOCK_HDR, 5), rd32(buf + n0 + 5));
	expect_error(buf, n, TAPE_ECRC, want);
	buf[n - 1] ^= 1;
	buf[n0 + 2] ^= 0x80;
	expect_error(buf, n, TAPE_ECRC, "block header CRC32C");
#undef EV_BLOCK
#undef AT
}

static void test_fmt_tape_hostile_meta(void)
{
	uint8_t buf[512];
	size_t n;

	put_prefix(buf);
#define META(...)                                                      \
	do {                                                           \
		static const uint8_t pl_[] = {__VA_ARGS__};            \
		n = FILE_HDR;                                          \
		put_block(buf, &n, 'M', pl_, sizeof pl_);              \
	} while (0)

	META(0, 1, 1, 'a', 1, 'b');
	CU_ASSERT(image_verdict(buf, n, NULL, 0) == 0);
	META(0, 2, 1, 'a', 1, 'b', 1, 'a', 1, 'c');
	expect_error(buf, n, TAPE_EFORMAT, "offset 35: duplicate metadata key \"a\"");
	META(0, 1, 1, 'a', 2, 'b', 0);
	expect_error(buf, n, TAPE_EFORMAT, "NUL byte in metadata pair 1");
	META(0, 1, 1, 'a', 1, 'b', 9);
	expect_error(buf, n, TAPE_EFORMAT, "1 stray bytes after the metadata pairs");
	META(0, 1, 0, 1, 'b');
	expect_error(buf, n, TAPE_EFORMAT, "metadata key length 0");
	META(0, 1, 1, '!', 1, 'b');
	expect_error(buf, n, TAPE_EFORMAT, "metadata pair 1 rejected");
	META(0, 1, 5, 's', 't', 'a', 'r', 't', 1, '1');
	expect_error(buf, n, TAPE_EFORMAT, "metadata pair 1 rejected");
	META(0, 0x81, 0x02);
	expect_error(buf, n, TAPE_EFORMAT, "257 metadata pairs (limit 256)");
	META(0, 1, 1, 'a', 5, 'b');
	expect_error(buf, n, TAPE_EFORMAT, "metadata value: 5 bytes run past the end");
	META(0, 1, 1, 'a', 0x81, 0x20);
	expect_error(buf, n, TAPE_EFORMAT, "metadata value length 4097 (limit 4096)");
	META(0x80);
	expect_error(buf, n, TAPE_EFORMAT, "metadata start time runs past the end of the block");
#undef META
}

/* Reading works without seeking: through a pipe, with the format probed. */
static void test_fmt_tape_pipe(void)
{
	struct evlist l = {.n = 0};
	const char *path = unit_tmpfile(".tape");
	struct tape_reader *r = NULL;
	struct tape_event ev;
	struct tape_reader_status st;
	uint8_t *img;
	size_t n, i = 0;
	int fds[2], fd, rc, status;
	pid_t pid;

	build_all_kinds(&l); /* over 200 KiB: more than a pipe holds */
	write_tape(path, NULL, &l, TAPE_FLUSH_CLOSE, 1);

	/* a plain descriptor from open(2) */
	fd = open(path, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(tape_reader_open_fd(&r, fd, "fd", NULL) == 0);
	while ((rc = tape_reader_next(r, &ev)) == 1)
		CU_ASSERT(i < l.n && ev_same(&ev, &l.ev[i++]));
	CU_ASSERT(rc == 0 && i == l.n);
	tape_reader_free(r);
	close(fd);

	/* a pipe fed by a child a few bytes at a time */
	img = unit_read_file(path, &n);
	CU_ASSERT_FATAL(img != NULL);
	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		size_t off = 0;

		close(fds[0]);
		while (off < n) {
			size_t chunk = n - off < 7777 ? n - off : 7777;
			ssize_t put = write(fds[1], img + off, chunk);
			if (put <= 0)
				_exit(1);
			off += (size_t)put;
		}
		_exit(0);
	}
	close(fds[1]);
	rc = tape_reader_open_fd(&r, fds[0], "pipe", NULL);
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT_STRING_EQUAL(tape_reader_format(r), "tape");
	i = 0;
	while ((rc = tape_reader_next(r, &ev)) == 1)
		CU_ASSERT(i < l.n && ev_same(&ev, &l.ev[i++]));
	CU_ASSERT(rc == 0 && i == l.n);
	tape_reader_status(r, &st);
	CU_ASSERT(st.finalised == 1);
	CU_ASSERT(st.offset == n);
	tape_reader_free(r);
	close(fds[0]);
	CU_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(img);
	evlist_free(&l);
}

static void test_fmt_tape_probe_and_ext(void)
{
	CU_ASSERT_STRING_EQUAL(tape_format_from_path("dir.x/a.tape"), "tape");
	CU_ASSERT(tape_format_readable("tape"));
	CU_ASSERT(tape_format_writable("tape"));
	CU_ASSERT(tape__format_tape.probe((const uint8_t *)"\x89TAPE\r\n\x1a\x01", 9) == 1);
	CU_ASSERT(tape__format_tape.probe((const uint8_t *)"\x89TA", 3) == 1);
	CU_ASSERT(tape__format_tape.probe((const uint8_t *)"\x89TAPE\n\x1a\x01", 9) == 0);
	CU_ASSERT(tape__format_tape.probe((const uint8_t *)"# tape", 6) == 0);
	CU_ASSERT(tape__format_tape.probe((const uint8_t *)"", 0) == 0);
}

static const struct unit_test tests[] = {
	{"test_fmt_tape_roundtrip_all_kinds", test_fmt_tape_roundtrip_all_kinds},
	{"test_fmt_tape_empty_tape", test_fmt_tape_empty_tape},
	{"test_fmt_tape_golden_bytes", test_fmt_tape_golden_bytes},
	{"test_fmt_tape_deterministic", test_fmt_tape_deterministic},
	{"test_fmt_tape_block_policy", test_fmt_tape_block_policy},
	{"test_fmt_tape_unfinalised", test_fmt_tape_unfinalised},
	{"test_fmt_tape_truncate_every_offset", test_fmt_tape_truncate_every_offset},
	{"test_fmt_tape_every_bit_flip", test_fmt_tape_every_bit_flip},
	{"test_fmt_tape_mutations_with_valid_crcs", test_fmt_tape_mutations_with_valid_crcs},
	{"test_fmt_tape_unknown_version", test_fmt_tape_unknown_version},
	{"test_fmt_tape_header_flags", test_fmt_tape_header_flags},
	{"test_fmt_tape_bad_magic_and_short", test_fmt_tape_bad_magic_and_short},
	{"test_fmt_tape_bytes_after_end", test_fmt_tape_bytes_after_end},
	{"test_fmt_tape_absurd_length", test_fmt_tape_absurd_length},
	{"test_fmt_tape_hostile_blocks", test_fmt_tape_hostile_blocks},
	{"test_fmt_tape_hostile_meta", test_fmt_tape_hostile_meta},
	{"test_fmt_tape_pipe", test_fmt_tape_pipe},
	{"test_fmt_tape_probe_and_ext", test_fmt_tape_probe_and_ext},
	{NULL, NULL},
};

void test_fmt_tape_register(void)
{
	unit_add_suite("fmt_tape", tests);
}
