/* SPDX-License-Identifier: BSD-2-Clause */
/* test_reasm.c - CUnit suite for TCP reassembly: hand-built segments in, exact event lists out. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkt.h"
#include "tape-int.h"
#include "unit.h"

/* Mirror of reasm.c's per-chunk bookkeeping charge (doc/reassembly.md). */
#define CHUNK_COST 64u
/* Mirror of reasm.c's NEAR_WIN: how far before offset 0 a late handshake
 * may lie, how far a segment may stray and still be a connection's own. */
#define NEAR_WIN (1u << 20)

#define SYN TAPE__TH_SYN
#define ACK TAPE__TH_ACK
#define FIN TAPE__TH_FIN
#define RST TAPE__TH_RST
#define PSH TAPE__TH_PSH
#define C2S TAPE_C2S
#define S2C TAPE_S2C
#define ANYT UINT64_MAX

/* ---- collecting events ------------------------------------------------------ */

struct rec {
	struct tape_event *ev;
	uint8_t **own;
	size_t n, cap;
	int keep;            /* store events (0: only validate and count) */
	struct tape__check chk;
	unsigned bad;        /* events tape__check_event rejected */
	char why[320];
	long fail_at;        /* return an error at this event index (-1: never) */
	size_t calls;
	int (*hook)(void *hctx, const struct tape_event *ev);
	void *hctx;
};

static struct rec R;
static struct tape__reasm *RA;

static int collect(void *ctx, const struct tape_event *ev)
{
	struct rec *r = ctx;
	char err[256];

	if (r->fail_at >= 0 && (long)r->calls == r->fail_at) {
		r->calls++;
		return -EIO;
	}
	r->calls++;
	if (tape__check_event(&r->chk, ev, err, sizeof err) != 0) {
		if (!r->bad)
			snprintf(r->why, sizeof r->why, "event %zu: %s", r->calls - 1, err);
		r->bad++;
	}
	if (r->hook) {
		int rc = r->hook(r->hctx, ev);
		if (rc < 0)
			return rc;
	}
	if (!r->keep)
		return 0;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		struct tape_event *ne = realloc(r->ev, nc * sizeof *ne);
		uint8_t **no;
		if (!ne)
			return -ENOMEM;
		r->ev = ne;
		no = realloc(r->own, nc * sizeof *no);
		if (!no)
			return -ENOMEM;
		r->own = no;
		r->cap = nc;
	}
	r->ev[r->n] = *ev;
	r->own[r->n] = NULL;
	if (ev->len) {
		r->own[r->n] = malloc(ev->len);
		if (!r->own[r->n])
			return -ENOMEM;
		memcpy(r->own[r->n], ev->data, ev->len);
		r->ev[r->n].data = r->own[r->n];
	}
	r->n++;
	return 0;
}

static void begin_opts(const struct tape__reasm_opts *opts)
{
	memset(&R, 0, sizeof R);
	R.keep = 1;
	R.fail_at = -1;
	tape__check_init(&R.chk);
	CU_ASSERT_FATAL(tape__reasm_new(&RA, opts, collect, &R) == 0);
}

static void begin(void)
{
	begin_opts(NULL);
}

static void end(void)
{
	if (R.bad)
		fprintf(stderr, "\n  tape check: %s\n", R.why);
	CU_ASSERT_EQUAL(R.bad, 0);
	tape__reasm_free(RA);
	RA = NULL;
	for (size_t i = 0; i < R.n; i++)
		free(R.own[i]);
	free(R.own);
	free(R.ev);
	tape__check_cleanup(&R.chk);
	memset(&R, 0, sizeof R);
}

static const struct tape__reasm_stats *stats(void)
{
	return tape__reasm_stats(RA);
}

/* ---- segments ------------------------------------------------------------------ */

static struct tape_endpoint ep4(uint8_t last, uint16_t port)
{
	struct tape_endpoint ep;

	memset(&ep, 0, sizeof ep);
	ep.family = 4;
	ep.addr[0] = 10;
	ep.addr[3] = last;
	ep.port = port;
	return ep;
}

static int seg_full(uint64_t t, const struct tape_endpoint *src, const struct tape_endpoint *dst,
		    uint32_t seq, uint32_t ack, uint8_t flags, const void *p, uint32_t len, uint32_t wire)
{
	struct tape__seg s;

	memset(&s, 0, sizeof s);
	s.ts_ns = t;
	s.src = *src;
	s.dst = *dst;
	s.seq = seq;
	s.ack = ack;
	s.flags = flags;
	s.win = 65535;
	s.payload = p;
	s.len = len;
	s.wire_len = wire;
	return tape__reasm_segment(RA, &s);
}

#define SEG(t, src, dst, seq, ack, fl, str)                                                     \
	CU_ASSERT_EQUAL(seg_full((t), &(src), &(dst), (seq), (ack), (fl), (str),                 \
				 (uint32_t)strlen(str), (uint32_t)strlen(str)), 0)
#define SEGW(t, src, dst, seq, ack, fl, str, wire)                                              \
	CU_ASSERT_EQUAL(seg_full((t), &(src), &(dst), (seq), (ack), (fl), (str),                 \
				 (uint32_t)strlen(str), (wire)), 0)

/* The usual cast: client A 10.0.0.1:40000 (ISN 1000), server B 10.0.0.2:80 (ISN 5000). */
static struct tape_endpoint A, B;

static void cast(void)
{
	A = ep4(1, 40000);
	B = ep4(2, 80);
}

/* SYN at 1000, SYN+ACK at 2000, ACK at 3000: connection 1 is open and
 * offset 0 of c2s is seq 1001, of s2c 5001. */
static void handshake(void)
{
	cast();
	SEG(1000, A, B, 1000, 0, SYN, "");
	SEG(2000, B, A, 5000, 1001, SYN | ACK, "");
	SEG(3000, A, B, 1001, 5001, ACK, "");
}

/* ---- expectations ----------------------------------------------------------------- */

struct exp {
	enum tape_event_kind kind;
	uint64_t conn, t;
	int dir;
	const char *s;  /* DATA bytes, or a substring of a NOTE */
	uint64_t n;     /* DATA length when s is NULL; GAP size */
	uint32_t x;     /* OPEN flags; CLOSE reason */
};

#define X_OPEN(c, t, fl) {TAPE_EV_OPEN, (c), (t), 0, NULL, 0, (fl)}
#define X_DATA(c, t, d, str) {TAPE_EV_DATA, (c), (t), (d), (str), 0, 0}
#define X_DATAN(c, t, d, n) {TAPE_EV_DATA, (c), (t), (d), NULL, (n), 0}
#define X_GAP(c, t, d, n) {TAPE_EV_GAP, (c), (t), (d), NULL, (n), 0}
#define X_FIN(c, t, d) {TAPE_EV_FIN, (c), (t), (d), NULL, 0, 0}
#define X_RST(c, t, d) {TAPE_EV_RST, (c), (t), (d), NULL, 0, 0}
#define X_CLOSE(c, t, r) {TAPE_EV_CLOSE, (c), (t), 0, NULL, 0, (r)}
#define X_NOTE(c, t, str) {TAPE_EV_NOTE, (c), (t), 0, (str), 0, 0}

static void dump(void)
{
	for (size_t i = 0; i < R.n; i++) {
		const struct tape_event *e = &R.ev[i];
		fprintf(stderr, "    [%zu] %s conn %llu t %llu", i, tape_event_kind_name(e->kind),
			(unsigned long long)e->conn, (unsigned long long)e->time_ns);
		switch (e->kind) {
		case TAPE_EV_OPEN:
			fprintf(stderr, " flags 0x%x client port %u server port %u", (unsigned)e->flags,
				(unsigned)e->client.port, (unsigned)e->server.port);
			break;
		case TAPE_EV_DATA:
			fprintf(stderr, " %s %zu \"%.*s\"", tape_dir_name(e->dir), e->len,
				(int)(e->len > 40 ? 40 : e->len), (const char *)e->data);
			break;
		case TAPE_EV_GAP:
			fprintf(stderr, " %s %llu", tape_dir_name(e->dir), (unsigned long long)e->gap);
			break;
		case TAPE_EV_FIN:
		case TAPE_EV_RST:
			fprintf(stderr, " %s", tape_dir_name(e->dir));
			break;
		case TAPE_EV_CLOSE:
			fprintf(stderr, " %s", tape_close_reason_name(e->reason));
			break;
		case TAPE_EV_NOTE:
			fprintf(stderr, " \"%.*s\"", (int)e->len, (const char *)e->data);
			break;
		}
		fputc('\n', stderr);
	}
}

static int match(const struct tape_event *e, const struct exp *x)
{
	if (e->kind != x->kind || e->conn != x->conn || (x->t != ANYT && e->time_ns != x->t))
		return 0;
	switch (x->kind) {
	case TAPE_EV_OPEN:
		return e->flags == x->x;
	case TAPE_EV_DATA:
		if ((int)e->dir != x->dir)
			return 0;
		if (x->s)
			return e->len == strlen(x->s) && !memcmp(e->data, x->s, e->len);
		return e->len == x->n;
	case TAPE_EV_GAP:
		return (int)e->dir == x->dir && e->gap == x->n;
	case TAPE_EV_FIN:
	case TAPE_EV_RST:
		return (int)e->dir == x->dir;
	case TAPE_EV_CLOSE:
		return (uint32_t)e->reason == x->x;
	case TAPE_EV_NOTE: {
		size_t k = strlen(x->s);
		for (size_t i = 0; i + k <= e->len; i++)
			if (!memcmp(e->data + i, x->s, k))
				return 1;
		return 0;
	}
	}
	return 0;
}

#define EXPECT(arr) expect((arr), sizeof(arr) / sizeof((arr)[0]), __LINE__)

static void expect(const struct exp *x, size_t n, int line)
{
	int ok = R.n == n;

	for (size_t i = 0; ok && i < n; i++)
		if (!match(&R.ev[i], &x[i])) {
			fprintf(stderr, "\n  line %d: event %zu differs from the expectation\n", line, i);
			ok = 0;
		}
	if (R.n != n)
		fprintf(stderr, "\n  line %d: %zu events, expected %zu\n", line, R.n, n);
	if (!ok)
		dump();
	CU_ASSERT(ok);
}

/* ---- behaviours ----------------------------------------------------------------------- */

static void test_reasm_handshake_in_order(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK | PSH, "hello");
	SEG(5000, B, A, 5001, 1006, ACK | PSH, "world!");
	SEG(6000, A, B, 1006, 5007, FIN | ACK, "");
	SEG(7000, B, A, 5007, 1007, FIN | ACK, "");
	SEG(8000, A, B, 1007, 5008, ACK, "");
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 9000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "hello"),
		X_DATA(1, 5000, S2C, "world!"),
		X_FIN(1, 6000, C2S),
		X_FIN(1, 7000, S2C),
		X_CLOSE(1, 7000, TAPE_CLOSE_FIN),
	};
	EXPECT(x);
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].client, &A));
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].server, &B));
	CU_ASSERT_EQUAL(stats()->conns, 1);
	CU_ASSERT_EQUAL(stats()->midstream, 0);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 1); /* the last ACK, after the close */
	CU_ASSERT_EQUAL(stats()->gaps, 0);
	end();
}

static void test_reasm_reordered(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1007, 5001, ACK, "ghi"); /* offset 6: waits */
	SEG(5000, A, B, 1001, 5001, ACK, "abc"); /* offset 0 */
	SEG(6000, A, B, 1004, 5001, ACK, "def"); /* fills the hole: one event with ghi */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 7000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 5000, C2S, "abc"),
		X_DATA(1, 6000, C2S, "defghi"),
		X_CLOSE(1, 7000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->gaps, 0);
	end();
}

static void test_reasm_hole_filled_late(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "ab");
	SEG(5000, A, B, 1005, 5001, ACK, "ef");  /* hole [2, 4) */
	SEG(6000, A, B, 1009, 5001, ACK, "ij");  /* hole [6, 8) */
	SEG(7000, A, B, 1007, 5001, ACK, "gh");  /* second hole filled first */
	SEG(8000, B, A, 5001, 1003, ACK, "ok");  /* ACK only up to the first hole */
	SEG(9000, A, B, 1003, 5003, ACK, "cd");  /* everything after it follows */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 10000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "ab"),
		X_DATA(1, 8000, S2C, "ok"),
		X_DATA(1, 9000, C2S, "cdefghij"),
		X_CLOSE(1, 10000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->gaps, 0);
	end();
}

static void test_reasm_duplicates(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "abcdef");
	SEG(5000, A, B, 1001, 5001, ACK, "abcdef"); /* exact duplicate */
	SEG(6000, A, B, 1004, 5001, ACK, "defghi"); /* half old, half new */
	SEG(7000, A, B, 1013, 5001, ACK, "mno");    /* buffered */
	SEG(8000, A, B, 1013, 5001, ACK, "mno");    /* duplicate of buffered bytes */
	SEG(9000, A, B, 1010, 5001, ACK, "jklm");   /* overlaps the buffered m */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 10000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "abcdef"),
		X_DATA(1, 6000, C2S, "ghi"),
		X_DATA(1, 9000, C2S, "jklmno"),
		X_CLOSE(1, 10000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->dup_bytes, 6 + 3 + 3 + 1);
	CU_ASSERT_EQUAL(stats()->conflicts, 0);
	end();
}

/* Buffered chunks never overlap, however a new segment straddles them. */
static void test_reasm_overlapping_buffered(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1006, 5001, ACK, "fghij");   /* [5, 10) */
	SEG(5000, A, B, 1010, 5001, ACK, "jkl");     /* [9, 12): overlaps the tail's last byte */
	SEG(6000, A, B, 1004, 5001, ACK, "defghi");  /* [3, 9): in front and over */
	SEG(7000, A, B, 1015, 5001, ACK, "op");      /* [14, 16) */
	SEG(8000, A, B, 1012, 5001, ACK, "lmnopq");  /* [11, 17): spans a hole and a chunk */
	SEG(9000, A, B, 1001, 5001, ACK, "abc");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 9000, C2S, "abcdefghijklmnopq"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->dup_bytes, 1 + 4 + 1 + 2);
	CU_ASSERT_EQUAL(stats()->conflicts, 0);
	end();
}

/* RFC 1982: up to 2^31 - 1 ahead is ahead; 2^31 and beyond is behind. */
static void test_reasm_seq_serial_boundary(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001 + 0x7FFFFFFFu, 5001, ACK, "far");  /* ahead: buffered */
	SEG(5000, A, B, 1001 + 0x80000000u, 5001, ACK, "back"); /* behind offset 0 */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 6000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_GAP(1, 6000, C2S, 0x7FFFFFFFu),
		X_DATA(1, 6000, C2S, "far"),
		X_CLOSE(1, 6000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 4);
	end();
}

static void test_reasm_conflict_delivered(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "hello world");
	SEG(5000, A, B, 1007, 5001, ACK, "WORLD");
	SEG(6000, A, B, 1001, 5001, ACK, "hello");
	SEG(7000, A, B, 1007, 5001, ACK, "worXd");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "hello world"),
		X_NOTE(1, 5000, "c2s retransmission at stream offset 6 differs from the delivered bytes (5 of 5 bytes)"),
		X_NOTE(1, 7000, "c2s retransmission at stream offset 6 differs from the delivered bytes (1 of 5 bytes)"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->conflicts, 2);
	CU_ASSERT_EQUAL(stats()->conflict_bytes, 6);
	CU_ASSERT_EQUAL(stats()->dup_bytes, 5 + 4);
	end();
}

static void test_reasm_conflict_buffered(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1006, 5001, ACK, "world"); /* offset 5, buffered */
	SEG(5000, A, B, 1006, 5001, ACK, "wOrld"); /* differs from the buffered copy */
	SEG(6000, A, B, 1001, 5001, ACK, "hello"); /* first copy wins */
	SEG(7000, A, B, 1013, 5001, ACK, "ab");    /* offset 12, buffered */
	SEG(8000, A, B, 1011, 5001, ACK, "xyAB");  /* in order, overlapping it differently */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_NOTE(1, 5000, "c2s retransmission at stream offset 5 differs from the buffered bytes (1 of 5 bytes)"),
		X_DATA(1, 6000, C2S, "helloworld"),
		X_NOTE(1, 8000, "c2s retransmission at stream offset 12 differs from the buffered bytes (2 of 2 bytes)"),
		X_DATA(1, 8000, C2S, "xyab"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->conflicts, 2);
	CU_ASSERT_EQUAL(stats()->conflict_bytes, 3);
	CU_ASSERT_EQUAL(stats()->dup_bytes, 4);
	end();
}

static void test_reasm_loss_never_filled(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "abc");
	SEG(5000, A, B, 1007, 5001, ACK, "ghi");   /* [3, 6) never arrives */
	SEG(6000, A, B, 1010, 5001, FIN | ACK, ""); /* FIN at offset 9 waits for the hole */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 9000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "abc"),
		X_GAP(1, 9000, C2S, 3),
		X_DATA(1, 9000, C2S, "ghi"),
		X_FIN(1, 9000, C2S),
		X_CLOSE(1, 9000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->gaps, 1);
	CU_ASSERT_EQUAL(stats()->gap_bytes, 3);
	end();
}

/* A hole is proven lost by an ACK beyond the first byte captured after it,
 * seen after that byte; then it goes whole, as one GAP. */
static void test_reasm_gap_from_ack(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "abc");
	SEG(5000, A, B, 1010, 5001, ACK, "jkl");  /* offset 9: hole [3, 9) */
	SEG(6000, B, A, 5001, 1006, ACK, "");     /* covers part of the hole: proves nothing */
	SEG(6500, B, A, 5001, 1010, ACK, "");     /* up to the hole's end, not beyond: nothing */
	SEG(7000, B, A, 5001, 1011, ACK, "");     /* B has byte 9: [3, 9) lost, one GAP */
	SEG(8000, A, B, 1005, 5001, ACK, "efgh"); /* too late: [4, 8) was declared lost */
	SEG(9000, B, A, 5001, 1020, ACK, "");     /* acked beyond anything captured: no evidence yet */
	SEG(10000, A, B, 1017, 5001, ACK, "qrs"); /* offset 16, captured after that ACK: waits */
	SEG(10500, B, A, 5001, 1020, ACK, "");    /* the same ACK again, now after it: [12, 16) lost */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 11000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "abc"),
		X_GAP(1, 7000, C2S, 6),
		X_DATA(1, 7000, C2S, "jkl"),
		X_GAP(1, 10500, C2S, 4),
		X_DATA(1, 10500, C2S, "qrs"),
		X_CLOSE(1, 11000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->gaps, 2);
	CU_ASSERT_EQUAL(stats()->gap_bytes, 10);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 4);
	CU_ASSERT_EQUAL(stats()->unverified_bytes, 0);
	end();
}

/* Finding 3 of doc/conformance.md (tcpflow-local2, adjacent packets
 * swapped): the receiver's ACKs overtake the data they acknowledge, as on a
 * mirror port that copies each direction separately.  Nothing is lost. */
static void test_reasm_ack_overtakes_data(void)
{
	begin();
	handshake();
	SEG(4000, B, A, 5001, 1001, ACK, "0123456789");   /* s2c [0, 10) */
	SEG(5000, B, A, 5019, 1001, ACK, "IJKLMNOP");     /* [18, 26): hole [10, 18) */
	SEG(6000, A, B, 1001, 5015, ACK, "");             /* ACKs of bytes not captured yet */
	SEG(7000, A, B, 1001, 5019, ACK, "");             /* up to the queued bytes, not beyond */
	SEG(8000, B, A, 5011, 1001, ACK, "ABCD");         /* [10, 14) */
	SEG(9000, B, A, 5015, 1001, ACK, "EFGH");         /* [14, 18): releases the rest */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 10000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, S2C, "0123456789"),
		X_DATA(1, 8000, S2C, "ABCD"),
		X_DATA(1, 9000, S2C, "EFGHIJKLMNOP"),
		X_CLOSE(1, 10000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->gaps, 0);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 0);
	end();
}

/* Adjacent lost ranges make one GAP, however many ACKs covered parts of
 * the hole before one proved it. */
static void test_reasm_ack_gap_whole(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "ab");
	SEG(5000, A, B, 1021, 5001, ACK, "uv");   /* hole [2, 20) */
	SEG(6000, B, A, 5001, 1008, ACK, "");
	SEG(7000, B, A, 5001, 1015, ACK, "");
	SEG(8000, B, A, 5001, 1023, ACK, "");     /* beyond u: the whole hole at once */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "ab"),
		X_GAP(1, 8000, C2S, 18),
		X_DATA(1, 8000, C2S, "uv"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->gaps, 1);
	end();
}

/* A hole before a FIN is proven by the ACK of the FIN, not by an ACK of
 * the bytes before it; several holes go in turn, each whole. */
static void test_reasm_ack_gap_fin(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "ab");
	SEG(5000, A, B, 1005, 5001, ACK, "ef");         /* hole [2, 4) */
	SEG(6000, A, B, 1009, 5001, FIN | ACK, "");     /* hole [6, 8), FIN at 8 */
	SEG(7000, B, A, 5001, 1007, ACK, "");           /* beyond e: [2, 4) lost */
	SEG(8000, B, A, 5001, 1009, ACK, "");           /* the hole, not the FIN: nothing */
	SEG(9000, B, A, 5001, 1010, ACK, "");           /* the FIN: [6, 8) lost */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "ab"),
		X_GAP(1, 7000, C2S, 2),
		X_DATA(1, 7000, C2S, "ef"),
		X_GAP(1, 9000, C2S, 2),
		X_FIN(1, 9000, C2S),
	};
	EXPECT(x);
	end();
}

static void test_reasm_midstream_server_first(void)
{
	begin();
	cast();
	SEG(1000, B, A, 7000, 3000, ACK, "HTTP/1.1 200");
	SEG(2000, A, B, 3000, 7012, ACK, "GET /");
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 3000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(1, 1000, S2C, "HTTP/1.1 200"),
		X_DATA(1, 2000, C2S, "GET /"),
		X_CLOSE(1, 3000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].client, &A));
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].server, &B));
	CU_ASSERT_EQUAL(stats()->midstream, 1);
	end();
}

static void test_reasm_midstream_client_first(void)
{
	begin();
	cast();
	SEG(1000, A, B, 3000, 7000, ACK, "GET /");
	SEG(2000, B, A, 7000, 3005, ACK, "HTTP/1.1 200");
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 3000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(1, 1000, C2S, "GET /"),
		X_DATA(1, 2000, S2C, "HTTP/1.1 200"),
		X_CLOSE(1, 3000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].client, &A));
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].server, &B));
	end();
}

/* The port rules for both-ephemeral, both-well-known and equal ports. */
static void test_reasm_midstream_port_rules(void)
{
	struct tape_endpoint e5000 = ep4(1, 5000), e6000 = ep4(2, 6000);
	struct tape_endpoint e22 = ep4(3, 22), e80 = ep4(4, 80);
	struct tape_endpoint p1 = ep4(5, 7000), p2 = ep4(6, 7000);

	begin();
	SEG(1000, e5000, e6000, 1, 1, ACK, "x");  /* lower port (5000) is the server */
	SEG(2000, e80, e22, 1, 1, ACK, "y");      /* both well-known: 22 is the server */
	SEG(3000, p1, p2, 1, 1, ACK, "z");        /* equal ports: the sender is the client */
	CU_ASSERT_EQUAL_FATAL(R.n, 6);
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].server, &e5000));
	CU_ASSERT_EQUAL(R.ev[1].dir, S2C);
	CU_ASSERT(tape_endpoint_equal(&R.ev[2].server, &e22));
	CU_ASSERT_EQUAL(R.ev[3].dir, C2S);
	CU_ASSERT(tape_endpoint_equal(&R.ev[4].client, &p1));
	CU_ASSERT_EQUAL(R.ev[5].dir, C2S);
	CU_ASSERT_EQUAL(stats()->midstream, 3);
	end();
}

static void test_reasm_syn_ack_first(void)
{
	begin();
	cast();
	SEG(1000, B, A, 5000, 1001, SYN | ACK, ""); /* the client's SYN was not captured */
	SEG(2000, A, B, 1001, 5001, ACK | PSH, "hi");
	SEG(3000, B, A, 5001, 1003, ACK | PSH, "yo");
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 4000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 2000, C2S, "hi"),
		X_DATA(1, 3000, S2C, "yo"),
		X_CLOSE(1, 4000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].client, &A));
	CU_ASSERT_EQUAL(stats()->midstream, 0);
	end();
}

/* A SYN decides the roles whatever the ports say. */
static void test_reasm_syn_decides_roles(void)
{
	struct tape_endpoint c = ep4(1, 80), s = ep4(2, 50000);

	begin();
	SEG(1000, c, s, 100, 0, SYN, "");
	SEG(2000, s, c, 900, 101, SYN | ACK, "");
	SEG(3000, c, s, 101, 901, ACK, "q");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 3000, C2S, "q"),
	};
	EXPECT(x);
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].client, &c));
	end();
}

static void test_reasm_simultaneous_open(void)
{
	begin();
	cast();
	SEG(1000, A, B, 1000, 0, SYN, "");
	SEG(2000, B, A, 5000, 0, SYN, "");
	SEG(3000, A, B, 1000, 5001, SYN | ACK, "");
	SEG(4000, B, A, 5000, 1001, SYN | ACK, "");
	SEG(5000, A, B, 1001, 5001, ACK, "a");
	SEG(6000, B, A, 5001, 1002, ACK, "b");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 5000, C2S, "a"),
		X_DATA(1, 6000, S2C, "b"),
	};
	EXPECT(x);
	end();
}

static void test_reasm_roles_corrected(void)
{
	struct tape_endpoint a = ep4(1, 1000), b = ep4(2, 2000);

	begin();
	/* a (port 1000) is really the client, but the ports say server. */
	SEG(1000, a, b, 501, 9001, ACK, "hi");
	SEG(2000, a, b, 500, 0, SYN, "");  /* its SYN, captured late: ISN + 1 = 501 */
	SEG(3000, b, a, 9001, 503, ACK, "yo");
	static const struct exp x[] = {
		X_OPEN(1, 1000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(1, 1000, S2C, "hi"),
		X_NOTE(1, 2000, "roles corrected: 10.0.0.1:1000 sent a SYN, so it is the client and "
				"10.0.0.2:2000 the server; this connection keeps the orientation of its open"),
		X_DATA(1, 3000, C2S, "yo"),
	};
	EXPECT(x);
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].server, &a));
	end();
}

static void test_reasm_seq_wraparound(void)
{
	const uint32_t ci = 0xFFFFFFF0u, si = 0x7FFFFFFFu;
	const char *d = "0123456789ABCDEFGHIJabcdefghijKLMNOPQRST";

	begin();
	cast();
	SEG(1000, A, B, ci, 0, SYN, "");
	SEG(2000, B, A, si, ci + 1, SYN | ACK, "");
	/* Four 10-byte segments at offsets 0, 10, 20, 30; the second crosses 2^32. */
	CU_ASSERT_EQUAL(seg_full(3000, &A, &B, ci + 11, si + 1, ACK, d + 10, 10, 10), 0);
	CU_ASSERT_EQUAL(seg_full(4000, &A, &B, ci + 31, si + 1, ACK, d + 30, 10, 10), 0);
	CU_ASSERT_EQUAL(seg_full(5000, &A, &B, ci + 1, si + 1, ACK, d, 10, 10), 0);
	CU_ASSERT_EQUAL(seg_full(6000, &A, &B, ci + 21, si + 1, ACK, d + 20, 10, 10), 0);
	SEG(7000, A, B, ci + 41, si + 1, FIN | ACK, "");
	SEG(8000, B, A, si + 1, ci + 42, FIN | ACK, "");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 5000, C2S, "0123456789ABCDEFGHIJ"),
		X_DATA(1, 6000, C2S, "abcdefghijKLMNOPQRST"),
		X_FIN(1, 7000, C2S),
		X_FIN(1, 8000, S2C),
		X_CLOSE(1, 8000, TAPE_CLOSE_FIN),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(ci + 21, 5u); /* the third segment's seq did wrap */
	end();
}

static void test_reasm_fin_then_data(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK | PSH | FIN, "abc"); /* FIN at offset 3 */
	SEG(5000, A, B, 1004, 5001, ACK, "def");             /* after the FIN */
	SEG(6000, A, B, 1001, 5001, ACK, "abcdef");          /* 3 old, 3 after the FIN */
	SEG(7000, B, A, 5001, 1005, ACK, "ok");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "abc"),
		X_FIN(1, 4000, C2S),
		X_DATA(1, 7000, S2C, "ok"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->after_fin_bytes, 6);
	CU_ASSERT_EQUAL(stats()->dup_bytes, 3);
	end();
}

static void test_reasm_fin_waits_for_data(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1011, 5001, ACK, "klmno"); /* offset 10, buffered past the coming FIN */
	SEG(5000, A, B, 1009, 5001, FIN | ACK, ""); /* FIN at offset 8: klmno was after it */
	SEG(6000, A, B, 1004, 5001, ACK, "defgh");
	SEG(7000, A, B, 1001, 5001, ACK, "abc");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 7000, C2S, "abcdefgh"),
		X_FIN(1, 7000, C2S),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->after_fin_bytes, 5);
	end();
}

static void test_reasm_rst(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "abc");
	SEG(5000, A, B, 1007, 5001, ACK, "ghi");
	SEG(6000, B, A, 5001, 1004, RST | ACK, "");
	SEG(7000, A, B, 1010, 5001, ACK, "jkl"); /* straggler of the dead connection */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 8000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "abc"),
		X_GAP(1, 6000, C2S, 3),
		X_DATA(1, 6000, C2S, "ghi"),
		X_RST(1, 6000, S2C),
		X_CLOSE(1, 6000, TAPE_CLOSE_RST),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 1);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 3);
	end();
}

static void test_reasm_reuse_new_syn(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "one");
	SEG(5000, A, B, 1004, 5001, FIN | ACK, "");
	SEG(6000, B, A, 5001, 1005, FIN | ACK, "");
	SEG(7000, B, A, 5001, 1005, FIN | ACK, ""); /* retransmitted FIN: a straggler */
	SEG(8000, A, B, 1000, 0, SYN, "");          /* the old SYN again: a straggler */
	SEG(9000, A, B, 77777, 0, SYN, "");         /* a new connection on the same tuple */
	SEG(10000, B, A, 333, 77778, SYN | ACK, "");
	SEG(11000, A, B, 77778, 334, ACK, "two");
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 12000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "one"),
		X_FIN(1, 5000, C2S),
		X_FIN(1, 6000, S2C),
		X_CLOSE(1, 6000, TAPE_CLOSE_FIN),
		X_OPEN(2, 9000, TAPE_OPEN_REUSED),
		X_DATA(2, 11000, C2S, "two"),
		X_CLOSE(2, 12000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 2);
	CU_ASSERT_EQUAL(stats()->conns, 2);
	end();
}

static void test_reasm_syn_on_live_midstream(void)
{
	begin();
	cast();
	SEG(1000, A, B, 3000, 7000, ACK, "abc");
	SEG(2000, A, B, 3006, 7000, ACK, "ghi");   /* hole [3, 6) */
	SEG(3000, A, B, 2000000000, 0, SYN, ""); /* unrelated ISN: a new connection */
	static const struct exp x[] = {
		X_OPEN(1, 1000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(1, 1000, C2S, "abc"),
		X_NOTE(1, 3000, "tuple reused: 10.0.0.1:40000 sent a SYN with a new initial sequence number (2000000000)"),
		X_GAP(1, 3000, C2S, 3),
		X_DATA(1, 3000, C2S, "ghi"),
		X_CLOSE(1, 3000, TAPE_CLOSE_ABORTED),
		X_OPEN(2, 3000, TAPE_OPEN_REUSED),
	};
	EXPECT(x);
	end();
}

/* A SYN with a new ISN on an established connection: the old one ends. */
static void test_reasm_new_syn_on_live(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "old");
	SEG(5000, A, B, 1000, 0, SYN, "");      /* its own SYN again: nothing */
	SEG(6000, A, B, 9999, 0, SYN, "");      /* a new ISN */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "old"),
		X_NOTE(1, 6000, "tuple reused: 10.0.0.1:40000 sent a SYN with a new initial sequence number (9999)"),
		X_CLOSE(1, 6000, TAPE_CLOSE_ABORTED),
		X_OPEN(2, 6000, TAPE_OPEN_REUSED),
	};
	EXPECT(x);
	end();
}

/* A SYN shortly before a mid-stream direction's offset 0 is that
 * direction's own handshake captured late (ISN + 1 plus what the side sent
 * within NEAR_WIN), one just further is a new connection. */
static void test_reasm_late_syn_window(void)
{
	struct tape_endpoint a2 = ep4(1, 40002);
	const uint32_t o = 3000000;

	begin();
	cast();
	SEG(1000, A, B, o, 7000, ACK, "abc");                    /* c2s: offset 0 at o, 3 bytes */
	SEG(2000, A, B, o - 1 - (NEAR_WIN - 3), 0, SYN, "");     /* k + 3 = NEAR_WIN: its own */
	SEG(3000, A, B, o + 3, 7000, ACK, "def");
	SEG(4000, a2, B, o, 7000, ACK, "abc");
	SEG(5000, a2, B, o - 1 - (NEAR_WIN - 2), 0, SYN, "");    /* one byte further: a new one */
	static const struct exp x[] = {
		X_OPEN(1, 1000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(1, 1000, C2S, "abc"),
		X_DATA(1, 3000, C2S, "def"),
		X_OPEN(2, 4000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(2, 4000, C2S, "abc"),
		X_NOTE(2, 5000, "tuple reused"),
		X_CLOSE(2, 5000, TAPE_CLOSE_ABORTED),
		X_OPEN(3, 5000, TAPE_OPEN_REUSED),
	};
	EXPECT(x);
	end();
}

/* Finding 4 of doc/conformance.md (tcpflow-airsnort, swapped): only the
 * server's side captured, its third segment first, then the SYN+ACK 20
 * bytes before it.  The same connection: the 20 bytes, before the first
 * byte emitted, cannot be placed, but nothing is aborted or reopened. */
static void test_reasm_late_syn_ack_adopted(void)
{
	begin();
	cast();
	SEG(1000, B, A, 5021, 1001, ACK, "KLMNOPQRST");    /* s2c: offset 0 at 5021 */
	SEG(2000, B, A, 5000, 1001, SYN | ACK, "");        /* ISN + 1 = 5001: 20 bytes before */
	SEG(3000, B, A, 5001, 1001, ACK, "ABCDEFGHIJ");    /* before offset 0 */
	SEG(4000, B, A, 5011, 1001, ACK, "0123456789");
	SEG(5000, B, A, 5031, 1001, ACK | FIN, "UVWXYZ");
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 6000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(1, 1000, S2C, "KLMNOPQRST"),
		X_DATA(1, 5000, S2C, "UVWXYZ"),
		X_FIN(1, 5000, S2C),
		X_CLOSE(1, 6000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->conns, 1);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 20);
	CU_ASSERT_EQUAL(stats()->gaps, 0);
	end();
}

/* A late SYN+ACK for a direction that has emitted nothing yet moves its
 * offset 0 back to ISN + 1: the bytes in between are placed when they come,
 * or become a gap. */
static void test_reasm_late_syn_ack_rebased(void)
{
	struct tape_endpoint a2 = ep4(1, 40002);

	begin();
	cast();
	SEG(1000, A, B, 1001, 5011, ACK, "GET");        /* c2s at 1001; s2c at 5011 from its ACK */
	SEG(2000, B, A, 5016, 1004, ACK, "pqrst");      /* s2c offset 5: waits */
	SEG(3000, B, A, 5000, 1001, SYN | ACK, "");     /* ISN + 1 = 5001: the hole is now [0, 15) */
	SEG(4000, B, A, 5001, 1004, ACK, "abcdefghij");
	SEG(5000, B, A, 5011, 1004, ACK, "klmno");      /* releases the rest */
	/* The same, but [0, 5) and [10, 15) never come: the client's ACK
	 * beyond the queued bytes proves them lost. */
	SEG(6000, a2, B, 1001, 5011, ACK, "GET");
	SEG(7000, B, a2, 5016, 1004, ACK, "pqrst");
	SEG(8000, B, a2, 5000, 1001, SYN | ACK, "");
	SEG(9000, B, a2, 5006, 1004, ACK, "fghij");
	SEG(10000, a2, B, 1004, 5021, ACK, "");
	static const struct exp x[] = {
		X_OPEN(1, 1000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(1, 1000, C2S, "GET"),
		X_DATA(1, 4000, S2C, "abcdefghij"),
		X_DATA(1, 5000, S2C, "klmnopqrst"),
		X_OPEN(2, 6000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(2, 6000, C2S, "GET"),
		X_GAP(2, 10000, S2C, 5),
		X_DATA(2, 10000, S2C, "fghij"),
		X_GAP(2, 10000, S2C, 5),
		X_DATA(2, 10000, S2C, "pqrst"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 0);
	end();
}

/* Finding 5 of doc/conformance.md (tcpflow-flow_test, swapped): a new SYN
 * on a closed tuple, then segments of the closed connection.  While the new
 * connection has seen only its SYN (SYN-SENT), a segment that does not
 * acknowledge that SYN, or does not start where its client is, is a
 * straggler of the old one: counted, not taken for the new one's. */
static void test_reasm_syn_sent_stragglers(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK | PSH, "hello");
	SEG(5000, B, A, 5001, 1006, ACK, "");
	SEG(6000, A, B, 1006, 5001, FIN | ACK, "");
	SEG(7000, B, A, 5001, 1007, FIN | ACK, "");       /* closed: a tombstone */
	SEG(8000, A, B, 90000, 0, SYN, "");               /* a new connection on the tuple */
	SEG(9000, A, B, 1007, 5002, ACK, "");             /* the old last ACK */
	SEG(9100, B, A, 5001, 1007, FIN | ACK, "");       /* the old FIN again */
	SEG(9200, B, A, 5000, 1001, SYN | ACK, "");       /* the old SYN+ACK again */
	SEG(9300, A, B, 1000, 0, SYN, "");                /* the old SYN again */
	SEG(9400, A, B, 1001, 5001, ACK, "hello");        /* old data again */
	SEG(10000, B, A, 70000, 90001, SYN | ACK, "");    /* the new SYN+ACK */
	SEG(11000, A, B, 90001, 70001, ACK, "again");
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 12000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "hello"),
		X_FIN(1, 6000, C2S),
		X_FIN(1, 7000, S2C),
		X_CLOSE(1, 7000, TAPE_CLOSE_FIN),
		X_OPEN(2, 8000, TAPE_OPEN_REUSED),
		X_DATA(2, 11000, C2S, "again"),
		X_CLOSE(2, 12000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->conns, 2);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 5);
	CU_ASSERT_EQUAL(stats()->unverified_bytes, 5);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 0);
	end();
}

/* The same when the new SYN comes before the old connection's end: the old
 * one is superseded (aborted), and what was left of it is still recognised. */
static void test_reasm_syn_sent_after_supersede(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "hello");
	SEG(5000, A, B, 1006, 5001, FIN | ACK, "");
	SEG(6000, A, B, 90000, 0, SYN, "");              /* before the server's FIN */
	SEG(7000, B, A, 5001, 1007, FIN | ACK, "");      /* the old server FIN */
	SEG(8000, A, B, 1007, 5002, ACK, "");            /* the old last ACK */
	SEG(9000, B, A, 70000, 90001, SYN | ACK, "");
	SEG(10000, A, B, 90001, 70001, ACK, "again");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "hello"),
		X_FIN(1, 5000, C2S),
		X_NOTE(1, 6000, "tuple reused: 10.0.0.1:40000 sent a SYN with a new initial sequence number (90000)"),
		X_CLOSE(1, 6000, TAPE_CLOSE_ABORTED),
		X_OPEN(2, 6000, TAPE_OPEN_REUSED),
		X_DATA(2, 10000, C2S, "again"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 2);
	end();
}

/* A straggler whose numbers happen to lie near the new connection's ISN is
 * still recognised when it fits the old connection. */
static void test_reasm_syn_sent_near_straggler(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "hello");
	SEG(5000, A, B, 1006, 5001, FIN | ACK, "");
	SEG(6000, B, A, 5001, 1007, FIN | ACK, "");
	SEG(7000, A, B, 900, 0, SYN, "");                /* a new ISN just below the old one */
	SEG(8000, A, B, 1007, 5002, ACK, "");            /* offset 106 of the new: near, but the old's */
	SEG(9000, B, A, 40000, 901, SYN | ACK, "");
	SEG(10000, A, B, 901, 40001, ACK, "new");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "hello"),
		X_FIN(1, 5000, C2S),
		X_FIN(1, 6000, S2C),
		X_CLOSE(1, 6000, TAPE_CLOSE_FIN),
		X_OPEN(2, 7000, TAPE_OPEN_REUSED),
		X_DATA(2, 10000, C2S, "new"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 1);
	end();
}

/* With no previous connection known (it timed out long ago: tcpflow-bug5,
 * swapped), segments far from the SYN's numbers cannot be its connection's:
 * an old RST does not reset it. */
static void test_reasm_syn_sent_far_rst(void)
{
	begin();
	cast();
	SEG(1000, A, B, 1000, 0, SYN, "");
	SEG(2000, A, B, 3777777777u, 888888, RST | ACK, ""); /* the client's RST of an earlier connection */
	SEG(3000, B, A, 888888, 0, RST, "");             /* a server RST without ACK: no answer to the SYN */
	SEG(3500, B, A, 888888, 2000000000, ACK, "xyz"); /* data acknowledging nothing the client sent */
	SEG(4000, B, A, 5000, 1001, SYN | ACK, "");
	SEG(5000, A, B, 1001, 5001, ACK, "go");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 5000, C2S, "go"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 3);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 3);
	end();
}

/* What SYN-SENT accepts: a refusal (RST acknowledging the SYN), and, when
 * the capture missed the handshake, the connection's own segments near its
 * ISN. */
static void test_reasm_syn_sent_accepts(void)
{
	struct tape_endpoint a2 = ep4(1, 40002);

	begin();
	cast();
	SEG(1000, A, B, 1000, 0, SYN, "");
	SEG(2000, A, B, 1101, 5001, ACK, "more");        /* SYN+ACK, ACK, first 100 bytes missed */
	SEG(3000, B, A, 5001, 1105, ACK, "reply");       /* proves [0, 100) lost */
	SEG(4000, a2, B, 2000, 0, SYN, "");
	SEG(5000, B, a2, 0, 2001, RST | ACK, "");        /* refused */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_GAP(1, 3000, C2S, 100),
		X_DATA(1, 3000, C2S, "more"),
		X_DATA(1, 3000, S2C, "reply"),
		X_OPEN(2, 4000, 0),
		X_RST(2, 5000, S2C),
		X_CLOSE(2, 5000, TAPE_CLOSE_RST),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 0);
	end();
}

/* finish closes in order of id, whatever the order of activity. */
static void test_reasm_finish_order(void)
{
	struct tape_endpoint a1 = ep4(1, 40001), a2 = ep4(1, 40002), a3 = ep4(1, 40003);

	begin();
	cast();
	SEG(1000, a1, B, 100, 0, SYN, "");
	SEG(2000, a2, B, 200, 0, SYN, "");
	SEG(3000, a3, B, 300, 0, SYN, "");
	SEG(4000, a2, B, 201, 0, 0, "2");
	SEG(5000, a1, B, 101, 0, 0, "1");
	SEG(6000, a3, B, 301, 0, 0, "3");
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 7000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_OPEN(2, 2000, 0),
		X_OPEN(3, 3000, 0),
		X_DATA(2, 4000, C2S, "2"),
		X_DATA(1, 5000, C2S, "1"),
		X_DATA(3, 6000, C2S, "3"),
		X_CLOSE(1, 7000, TAPE_CLOSE_END),
		X_CLOSE(2, 7000, TAPE_CLOSE_END),
		X_CLOSE(3, 7000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	end();
}

static void test_reasm_idle_timeout(void)
{
	struct tape__reasm_opts o = {.idle_ns = 10000000000u};
	const uint64_t due = 5000 + 10000000000u;

	begin_opts(&o);
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "abc");
	SEG(5000, A, B, 1007, 5001, ACK, "ghi");
	CU_ASSERT_EQUAL(tape__reasm_tick(RA, due - 1), 0);
	CU_ASSERT_EQUAL(R.n, 2);
	CU_ASSERT_EQUAL(tape__reasm_tick(RA, due), 0); /* idle for exactly idle_ns: due */
	CU_ASSERT_EQUAL(R.n, 5);
	CU_ASSERT_EQUAL(tape__reasm_tick(RA, due + 500), 0);
	SEG(due + 1000, A, B, 1010, 5001, ACK, "jkl"); /* picked up again, mid-stream */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "abc"),
		X_GAP(1, due, C2S, 3),
		X_DATA(1, due, C2S, "ghi"),
		X_CLOSE(1, due, TAPE_CLOSE_TIMEOUT),
		X_OPEN(2, due + 1000, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED),
		X_DATA(2, due + 1000, C2S, "jkl"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->timeouts, 1);
	end();
}

static char pat(uint64_t off)
{
	return (char)('a' + off % 26);
}

/* Sends stream bytes [off, off + n) of the c2s pattern. */
static void send_pat(uint64_t t, uint32_t off, uint32_t n)
{
	char buf[2048];

	CU_ASSERT_FATAL(n <= sizeof buf);
	for (uint32_t i = 0; i < n; i++)
		buf[i] = pat(off + i);
	CU_ASSERT_EQUAL(seg_full(t, &A, &B, 1001 + off, 5001, ACK, buf, n, n), 0);
}

static void check_pat(size_t i, uint64_t off, size_t n)
{
	const struct tape_event *e = &R.ev[i];

	CU_ASSERT_EQUAL_FATAL(e->kind, TAPE_EV_DATA);
	CU_ASSERT_EQUAL_FATAL(e->len, n);
	for (size_t k = 0; k < n; k++)
		CU_ASSERT_EQUAL_FATAL(e->data[k], (uint8_t)pat(off + k));
}

static void test_reasm_conn_cap_overflow(void)
{
	struct tape__reasm_opts o = {.conn_mem = 3 * CHUNK_COST + 80};

	begin_opts(&o);
	handshake();
	send_pat(4000, 0, 10);
	send_pat(5000, 20, 40);  /* charge 64 + 40 */
	send_pat(5500, 110, 1);  /* charge 64 + 1 */
	send_pat(6000, 70, 39);  /* charge 64 + 39: exactly the cap, still fine */
	CU_ASSERT_EQUAL(R.n, 2);
	send_pat(6500, 109, 1);  /* one byte more: the first hole goes */
	send_pat(7000, 60, 10);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATAN(1, 4000, C2S, 10),
		X_GAP(1, 6500, C2S, 10),
		X_DATAN(1, 6500, C2S, 40),
		X_DATAN(1, 7000, C2S, 51),
	};
	EXPECT(x);
	check_pat(1, 0, 10);
	check_pat(3, 20, 40);
	check_pat(4, 60, 51);
	end();
}

static void test_reasm_evict_max_conns(void)
{
	struct tape__reasm_opts o = {.max_conns = 2};
	struct tape_endpoint a1 = ep4(1, 40001), a2 = ep4(1, 40002), a3 = ep4(1, 40003);

	begin_opts(&o);
	cast();
	SEG(1000, a1, B, 100, 0, SYN, "");
	SEG(2000, a2, B, 200, 0, SYN, "");
	SEG(3000, a2, B, 204, 0, 0, "def");  /* buffered at offset 3 */
	SEG(4000, a1, B, 101, 0, 0, "x");    /* a1, the older, is now the most recent */
	SEG(5000, a3, B, 300, 0, SYN, "");   /* a2 must go */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_OPEN(2, 2000, 0),
		X_DATA(1, 4000, C2S, "x"),
		X_GAP(2, 5000, C2S, 3),
		X_DATA(2, 5000, C2S, "def"),
		X_CLOSE(2, 5000, TAPE_CLOSE_EVICTED),
		X_OPEN(3, 5000, 0),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->evicted, 1);
	end();
}

static void test_reasm_evict_total_mem(void)
{
	struct tape__reasm_opts o = {.total_mem = 2 * CHUNK_COST + 150};
	struct tape_endpoint a1 = ep4(1, 40001), a2 = ep4(1, 40002);
	char buf[100];

	memset(buf, 'z', sizeof buf);
	begin_opts(&o);
	cast();
	SEG(1000, a1, B, 100, 0, SYN, "");
	SEG(2000, a2, B, 200, 0, SYN, "");
	CU_ASSERT_EQUAL(seg_full(3000, &a1, &B, 111, 0, 0, buf, 100, 100), 0); /* offset 10 */
	CU_ASSERT_EQUAL(seg_full(4000, &a2, &B, 211, 0, 0, buf, 100, 100), 0); /* over the cap */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_OPEN(2, 2000, 0),
		X_GAP(1, 4000, C2S, 10),
		X_DATAN(1, 4000, C2S, 100),
		X_CLOSE(1, 4000, TAPE_CLOSE_EVICTED),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->evicted, 1);
	end();
}

/* Under memory pressure history goes first: nobody is evicted, a later
 * retransmission just cannot be checked. */
static void test_reasm_history_shed_before_evict(void)
{
	/* Chunks alone fit; chunks plus a 256-byte ring (and its header of
	 * less than 200 bytes) do not. */
	struct tape__reasm_opts o = {.total_mem = 256 + 200};
	struct tape_endpoint a2 = ep4(1, 40002);
	char buf[100];

	memset(buf, 'z', sizeof buf);
	begin_opts(&o);
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "hello");
	SEG(5000, a2, B, 200, 0, SYN, "");
	CU_ASSERT_EQUAL(seg_full(6000, &a2, &B, 211, 0, 0, buf, 100, 100), 0); /* buffered */
	SEG(7000, A, B, 1001, 5001, ACK, "HELLO");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "hello"),
		X_OPEN(2, 5000, 0),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->evicted, 0);
	CU_ASSERT_EQUAL(stats()->conflicts, 0);
	CU_ASSERT_EQUAL(stats()->unverified_bytes, 5);
	end();
}

/* A direction whose SYN was missed starts where the peer's ACK says, so its
 * first segments may arrive in any order. */
static void test_reasm_base_from_peer_ack(void)
{
	begin();
	cast();
	SEG(1000, A, B, 1000, 0, SYN, "");          /* the SYN+ACK is not captured */
	SEG(2000, A, B, 1001, 5001, ACK, "");       /* s2c starts at 5001 */
	SEG(3000, B, A, 5004, 1001, ACK, "def");    /* arrives first, waits */
	SEG(4000, B, A, 5001, 1001, ACK, "abc");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, S2C, "abcdef"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 0);
	end();
}

static void test_reasm_fin_conflicts(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "0123456789");
	SEG(5000, A, B, 1006, 5001, FIN | ACK, "");   /* a FIN inside delivered bytes */
	SEG(6000, A, B, 1013, 5001, FIN | ACK, "");   /* FIN at offset 12 */
	SEG(7000, A, B, 1015, 5001, FIN | ACK, "");   /* a second FIN elsewhere */
	SEG(8000, A, B, 1013, 5001, FIN | ACK, "");   /* the same FIN again: nothing */
	SEG(9000, A, B, 1011, 5001, ACK, "ab");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "0123456789"),
		X_NOTE(1, 5000, "c2s FIN at stream offset 5 ignored: bytes up to offset 10 were already emitted"),
		X_NOTE(1, 7000, "c2s FIN at stream offset 14 ignored: the first FIN was at offset 12"),
		X_DATA(1, 9000, C2S, "ab"),
		X_FIN(1, 9000, C2S),
	};
	EXPECT(x);
	end();
}

struct bigrun {
	size_t lens[8];
	size_t n;
	uint64_t bytes;
	int wrong;
};

static int big_hook(void *ctx, const struct tape_event *ev)
{
	struct bigrun *b = ctx;

	if (ev->kind != TAPE_EV_DATA)
		return 0;
	if (b->n < 8)
		b->lens[b->n] = ev->len;
	b->n++;
	for (size_t k = 0; k < ev->len; k += 4093)
		if (ev->data[k] != (uint8_t)((b->bytes + k) * 131u >> 3))
			b->wrong++;
	b->bytes += ev->len;
	return 0;
}

/* One delivery larger than TAPE_MAX_DATA is split into several DATA events. */
static void test_reasm_data_split_at_max(void)
{
	struct tape__reasm_opts o = {.conn_mem = TAPE_MAX_DATA + (8u << 20), .total_mem = TAPE_MAX_DATA + (16u << 20)};
	const uint32_t seglen = 65536, total = TAPE_MAX_DATA + 1000;
	struct bigrun b;
	uint8_t *buf = malloc(seglen);

	CU_ASSERT_FATAL(buf != NULL);
	memset(&b, 0, sizeof b);
	begin_opts(&o);
	R.keep = 0;
	R.hook = big_hook;
	R.hctx = &b;
	handshake();
	for (uint32_t off = 1; off < total; off += seglen) {
		uint32_t n = total - off < seglen ? total - off : seglen;
		for (uint32_t k = 0; k < n; k++)
			buf[k] = (uint8_t)((uint64_t)(off + k) * 131u >> 3);
		CU_ASSERT_EQUAL(seg_full(4000, &A, &B, 1001 + off, 5001, ACK, buf, n, n), 0);
	}
	CU_ASSERT_EQUAL(b.n, 0);
	buf[0] = 0;
	CU_ASSERT_EQUAL(seg_full(5000, &A, &B, 1001, 5001, ACK, buf, 1, 1), 0);
	CU_ASSERT_EQUAL(b.n, 2);
	CU_ASSERT_EQUAL(b.lens[0], TAPE_MAX_DATA);
	CU_ASSERT_EQUAL(b.lens[1], 1000);
	CU_ASSERT_EQUAL(b.bytes, total);
	CU_ASSERT_EQUAL(b.wrong, 0);
	free(buf);
	end();
}

static void test_reasm_snaplen_truncated(void)
{
	begin();
	handshake();
	SEGW(4000, A, B, 1001, 5001, ACK, "abcd", 10);   /* [0, 4) captured, [4, 10) cut */
	SEG(5000, A, B, 1011, 5001, ACK, "klm");         /* offset 10 */
	SEGW(6000, A, B, 1020, 5001, ACK, "tu", 5);      /* [19, 21) + cut [21, 24), buffered */
	SEG(7000, A, B, 1014, 5001, ACK, "nopqrs");      /* [13, 19) */
	SEG(8000, A, B, 1022, 5001, ACK, "vwx");         /* the cut bytes, too late */
	SEGW(9000, A, B, 1031, 5001, ACK, "EF", 6);      /* [30, 32) + cut [32, 36) */
	SEG(10000, A, B, 1033, 5001, ACK, "GHIJ");       /* real bytes replace the cut marker */
	SEG(11000, A, B, 1025, 5001, ACK, "yzABCD");     /* [24, 30) */
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "abcd"),
		X_GAP(1, 4000, C2S, 6),
		X_DATA(1, 5000, C2S, "klm"),
		X_DATA(1, 7000, C2S, "nopqrstu"),
		X_GAP(1, 7000, C2S, 3),
		X_DATA(1, 11000, C2S, "yzABCDEFGHIJ"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->gap_bytes, 9);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 3);
	end();
}

/* A hole and the bytes a snaplen cut right after it make one GAP. */
static void test_reasm_adjacent_gaps_merge(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "ab");
	SEGW(5000, A, B, 1006, 5001, ACK, "", 4);  /* hole [2, 5), then [5, 9) cut entirely */
	SEG(6000, A, B, 1010, 5001, ACK, "jk");    /* [9, 11) */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 7000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "ab"),
		X_GAP(1, 7000, C2S, 7),
		X_DATA(1, 7000, C2S, "jk"),
		X_CLOSE(1, 7000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->gaps, 1);
	end();
}

/* Holes and cut bytes between captured bytes alternate GAP and DATA. */
static void test_reasm_gap_data_gap(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "ab");
	SEGW(5000, A, B, 1006, 5001, ACK, "fg", 6); /* hole [2, 5), data [5, 7), cut [7, 11) */
	SEG(6000, A, B, 1012, 5001, ACK, "lm");     /* [11, 13) */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 7000), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "ab"),
		X_GAP(1, 7000, C2S, 3),
		X_DATA(1, 7000, C2S, "fg"),
		X_GAP(1, 7000, C2S, 4),
		X_DATA(1, 7000, C2S, "lm"),
		X_CLOSE(1, 7000, TAPE_CLOSE_END),
	};
	EXPECT(x);
	end();
}

static void test_reasm_stray_segments_ignored(void)
{
	begin();
	cast();
	SEG(1000, A, B, 1, 1, ACK, "");
	SEG(2000, A, B, 1, 1, FIN | ACK, "");
	SEG(3000, A, B, 1, 1, RST, "");
	SEG(4000, A, B, 1, 1, RST | ACK, "why"); /* RST text is no stream data */
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 5000), 0);
	CU_ASSERT_EQUAL(R.n, 0);
	CU_ASSERT_EQUAL(stats()->ignored_segments, 4);
	CU_ASSERT_EQUAL(stats()->dropped_bytes, 3);
	CU_ASSERT_EQUAL(stats()->conns, 0);
	end();
}

static void test_reasm_time_backwards(void)
{
	begin();
	cast();
	SEG(10000, A, B, 1000, 0, SYN, "");
	SEG(11000, B, A, 5000, 1001, SYN | ACK, "");
	SEG(20000, A, B, 1001, 5001, ACK, "on time ");
	SEG(15000, A, B, 1009, 5001, ACK, "late clock"); /* the capture clock stepped back */
	static const struct exp x[] = {
		X_OPEN(1, 10000, 0),
		X_DATA(1, 20000, C2S, "on time "),
		X_DATA(1, 20000, C2S, "late clock"),
	};
	EXPECT(x);
	end();
}

static void test_reasm_history_window(void)
{
	char buf[1000];

	begin();
	handshake();
	for (uint32_t off = 0; off < 70000; off += 1000) {
		for (int i = 0; i < 1000; i++)
			buf[i] = (char)(off / 1000 + i);
		CU_ASSERT_EQUAL(seg_full(4000 + off, &A, &B, 1001 + off, 5001, ACK, buf, 1000, 1000), 0);
	}
	memset(buf, 0, sizeof buf);
	/* Offset 0 is beyond the 64 KiB kept: cannot be verified. */
	CU_ASSERT_EQUAL(seg_full(100000, &A, &B, 1001, 5001, ACK, buf, 1000, 1000), 0);
	CU_ASSERT_EQUAL(R.n, 71);
	CU_ASSERT_EQUAL(stats()->unverified_bytes, 1000);
	CU_ASSERT_EQUAL(stats()->conflicts, 0);
	/* The last kilobyte is: all but the bytes that happen to be 0 differ. */
	CU_ASSERT_EQUAL(seg_full(100001, &A, &B, 1001 + 69000, 5001, ACK, buf, 1000, 1000), 0);
	CU_ASSERT_EQUAL(stats()->conflicts, 1);
	CU_ASSERT_EQUAL(R.n, 72);
	CU_ASSERT_EQUAL(R.ev[71].kind, TAPE_EV_NOTE);
	CU_ASSERT_EQUAL(stats()->conflict_bytes + stats()->dup_bytes, 1000);
	CU_ASSERT_EQUAL(stats()->dup_bytes, 4); /* (char)(69 + i) == 0 for i = 187, 443, 699, 955 */
	end();
}

static void test_reasm_keepalive_probe(void)
{
	begin();
	handshake();
	SEG(4000, A, B, 1001, 5001, ACK, "abc");
	CU_ASSERT_EQUAL(seg_full(5000, &A, &B, 1003, 5001, ACK, "\0", 1, 1), 0);
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 4000, C2S, "abc"),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(stats()->conflicts, 0);
	CU_ASSERT_EQUAL(stats()->unverified_bytes, 1);
	end();
}

static void test_reasm_ipv6(void)
{
	struct tape_endpoint c, s;

	memset(&c, 0, sizeof c);
	c.family = 6;
	c.addr[0] = 0x20;
	c.addr[1] = 0x01;
	c.addr[15] = 1;
	c.port = 50000;
	s = c;
	s.addr[15] = 2;
	s.port = 443;
	begin();
	SEG(1000, c, s, 10, 0, SYN, "");
	SEG(2000, s, c, 20, 11, SYN | ACK, "");
	SEG(3000, c, s, 11, 21, ACK, "v6");
	SEG(4000, s, c, 21, 13, ACK | FIN, "ok");
	SEG(5000, c, s, 13, 24, ACK | FIN, "");
	static const struct exp x[] = {
		X_OPEN(1, 1000, 0),
		X_DATA(1, 3000, C2S, "v6"),
		X_DATA(1, 4000, S2C, "ok"),
		X_FIN(1, 4000, S2C),
		X_FIN(1, 5000, C2S),
		X_CLOSE(1, 5000, TAPE_CLOSE_FIN),
	};
	EXPECT(x);
	CU_ASSERT_EQUAL(R.ev[0].client.family, 6);
	CU_ASSERT(tape_endpoint_equal(&R.ev[0].server, &s));
	end();
}

static void test_reasm_emit_error_sticky(void)
{
	begin();
	R.fail_at = 1;
	cast();
	SEG(1000, A, B, 1000, 0, SYN, "");
	SEG(2000, B, A, 5000, 1001, SYN | ACK, "");
	CU_ASSERT_EQUAL(seg_full(3000, &A, &B, 1001, 5001, ACK, "x", 1, 1), -EIO);
	CU_ASSERT_EQUAL(seg_full(4000, &A, &B, 1002, 5001, ACK, "y", 1, 1), -EIO);
	CU_ASSERT_EQUAL(tape__reasm_tick(RA, 5000), -EIO);
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, 6000), -EIO);
	CU_ASSERT_EQUAL(R.n, 1);
	end();
}

/* ---- generated traffic ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint32_t rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static uint8_t gen_byte(uint32_t conn, int dir, uint64_t off)
{
	uint64_t x = ((uint64_t)conn << 40) ^ ((uint64_t)dir << 39) ^ off;

	x *= UINT64_C(0x9E3779B97F4A7C15);
	x ^= x >> 29;
	return (uint8_t)(x >> 24);
}

/* A segment to be captured: stream offsets are turned into sequence
 * numbers when fed. */
struct gseg {
	uint32_t conn;
	uint8_t dir, flags;
	uint64_t off;     /* first byte (SYN: ignored) */
	uint32_t len, wire;
	uint64_t ack;     /* offset in the peer's stream the ACK names */
};

struct gconn {
	struct tape_endpoint ep[2];
	uint32_t isn[2];
	uint64_t len[2];
	struct gseg *seg;
	size_t nseg, capseg, cur;
	/* what the tape said */
	uint64_t id, pos[2];
	int fin[2], closed, reason, bad;
};

struct gen {
	struct gconn *c;
	uint32_t n;
	uint64_t *id2conn; /* tape id -> index + 1 */
	size_t nid;
	uint64_t captured; /* payload bytes fed */
	uint64_t data, gap;
};

static void gpush(struct gconn *g, struct gseg s)
{
	if (g->nseg == g->capseg) {
		g->capseg = g->capseg ? g->capseg * 2 : 32;
		g->seg = realloc(g->seg, g->capseg * sizeof *g->seg);
		CU_ASSERT_FATAL(g->seg != NULL);
	}
	g->seg[g->nseg++] = s;
}

static void ginsert(struct gconn *g, size_t at, struct gseg s)
{
	gpush(g, s);
	if (at >= g->nseg)
		return;
	memmove(&g->seg[at + 1], &g->seg[at], (g->nseg - 1 - at) * sizeof *g->seg);
	g->seg[at] = s;
}

/* One connection's capture: handshake, interleaved data with reordering,
 * duplicates, capture loss (sometimes retransmitted, sometimes not),
 * snaplen cuts and lagging ACKs, then FIN both ways and the last ACK.  The
 * SYNs and FINs are always captured. */
static void gen_conn(struct gen *G, uint32_t i, uint64_t maxlen)
{
	struct gconn *g = &G->c[i];
	uint64_t sent[2] = {0, 0};
	struct gseg s;
	size_t first_data;

	memset(g, 0, sizeof *g);
	g->ep[0] = ep4((uint8_t)(1 + i % 200), (uint16_t)(1024 + i));
	g->ep[0].addr[2] = (uint8_t)(i / 200);
	g->ep[1] = ep4(250, 80);
	g->isn[0] = (uint32_t)rnd();
	g->isn[1] = i % 7 == 0 ? 0xFFFFFFFFu - rndn(3000) : (uint32_t)rnd();
	g->len[0] = rnd() % (maxlen + 1);
	g->len[1] = rnd() % (maxlen + 1);

	memset(&s, 0, sizeof s);
	s.conn = i;
	s.dir = 0, s.flags = SYN;
	gpush(g, s);
	s.dir = 1, s.flags = SYN | ACK, s.ack = 0;
	gpush(g, s);
	s.dir = 0, s.flags = ACK, s.ack = 0, s.off = 0;
	gpush(g, s);
	first_data = g->nseg;
	while (sent[0] < g->len[0] || sent[1] < g->len[1]) {
		int d = sent[0] >= g->len[0] ? 1 : sent[1] >= g->len[1] ? 0 : (int)rndn(2);
		uint32_t n = 1 + rndn(1460);
		if (n > g->len[d] - sent[d])
			n = (uint32_t)(g->len[d] - sent[d]);
		s.dir = (uint8_t)d;
		s.flags = ACK | PSH;
		s.off = sent[d];
		s.len = s.wire = n;
		s.ack = sent[d ^ 1];
		if (rndn(4) == 0)
			s.ack -= rndn((uint32_t)s.ack + 1); /* an older ACK */
		gpush(g, s);
		sent[d] += n;
	}
	/* Perturb the data segments. */
	for (size_t k = first_data; k < g->nseg; k++) {
		uint32_t r = rndn(100);
		struct gseg x = g->seg[k];
		if (x.flags & 0x80)
			continue; /* already perturbed copy */
		if (r < 8) {
			/* lost; maybe retransmitted later, maybe re-cut in two */
			memmove(&g->seg[k], &g->seg[k + 1], (g->nseg - k - 1) * sizeof *g->seg);
			g->nseg--;
			if (rndn(2)) {
				size_t at = k + rndn(20);
				x.flags |= 0x80;
				if (x.len > 1 && rndn(2)) {
					struct gseg y = x;
					uint32_t cut = 1 + rndn(x.len - 1);
					x.len = x.wire = cut;
					y.off += cut;
					y.len = y.wire = y.len - cut;
					ginsert(g, at > g->nseg ? g->nseg : at, y);
				}
				ginsert(g, at > g->nseg ? g->nseg : at, x);
			}
			k--;
		} else if (r < 12) {
			size_t at = k + 1 + rndn(10);
			x.flags |= 0x80;
			ginsert(g, at > g->nseg ? g->nseg : at, x);
		} else if (r < 16 && x.len > 1) {
			g->seg[k].len = rndn(x.len); /* the snaplen cut it */
		} else if (r < 26 && k + 1 < g->nseg) {
			struct gseg t = g->seg[k + 1];
			g->seg[k + 1] = g->seg[k];
			g->seg[k] = t;
			k++;
		}
	}
	s.flags = FIN | ACK;
	s.dir = 0, s.off = g->len[0], s.len = s.wire = 0, s.ack = g->len[1];
	gpush(g, s);
	s.dir = 1, s.off = g->len[1], s.ack = g->len[0] + 1;
	gpush(g, s);
	s.flags = ACK;
	s.dir = 0, s.off = g->len[0] + 1, s.ack = g->len[1] + 1;
	gpush(g, s);
}

static int gen_hook(void *ctx, const struct tape_event *ev)
{
	struct gen *G = ctx;
	struct gconn *g = NULL;

	if (ev->kind == TAPE_EV_OPEN) {
		uint32_t i = (uint32_t)(ev->client.port - 1024);
		CU_ASSERT_FATAL(i < G->n);
		g = &G->c[i];
		CU_ASSERT(tape_endpoint_equal(&ev->client, &g->ep[0]));
		CU_ASSERT(tape_endpoint_equal(&ev->server, &g->ep[1]));
		CU_ASSERT_EQUAL(ev->flags, 0);
		CU_ASSERT_EQUAL(g->id, 0);
		g->id = ev->conn;
		CU_ASSERT_FATAL(ev->conn < G->nid);
		G->id2conn[ev->conn] = i + 1;
		return 0;
	}
	if (ev->conn == 0 || ev->conn >= G->nid || !G->id2conn[ev->conn]) {
		CU_FAIL("event for an unknown connection");
		return 0;
	}
	g = &G->c[G->id2conn[ev->conn] - 1];
	switch (ev->kind) {
	case TAPE_EV_DATA:
		for (size_t k = 0; k < ev->len; k++)
			if (ev->data[k] != gen_byte((uint32_t)(g - G->c), ev->dir, g->pos[ev->dir] + k)) {
				g->bad++;
				break;
			}
		g->pos[ev->dir] += ev->len;
		G->data += ev->len;
		break;
	case TAPE_EV_GAP:
		g->pos[ev->dir] += ev->gap;
		G->gap += ev->gap;
		break;
	case TAPE_EV_FIN:
		g->fin[ev->dir] = 1;
		CU_ASSERT_EQUAL(g->pos[ev->dir], g->len[ev->dir]);
		break;
	case TAPE_EV_CLOSE:
		g->closed = 1;
		g->reason = (int)ev->reason;
		break;
	case TAPE_EV_NOTE:
		fprintf(stderr, "\n  unexpected note: %.*s\n", (int)ev->len, (const char *)ev->data);
		g->bad++;
		break;
	default:
		g->bad++;
		break;
	}
	return 0;
}

static void gen_feed(struct gen *G, const struct gseg *s, uint64_t t)
{
	struct gconn *g = &G->c[s->conn];
	static uint8_t buf[2048];
	uint32_t seq;

	for (uint32_t k = 0; k < s->len; k++)
		buf[k] = gen_byte(s->conn, s->dir, s->off + k);
	seq = (s->flags & SYN) ? g->isn[s->dir] : g->isn[s->dir] + 1 + (uint32_t)s->off;
	G->captured += s->len;
	CU_ASSERT_EQUAL(seg_full(t, &g->ep[s->dir], &g->ep[s->dir ^ 1], seq,
				 g->isn[s->dir ^ 1] + 1 + (uint32_t)s->ack, s->flags & 0x7f, buf, s->len,
				 s->wire), 0);
}

/* Thousands of connections, interleaved at random; every byte checked. */
static void run_generated(uint32_t nconn, uint64_t maxlen, uint64_t seed)
{
	struct gen G;
	uint32_t *live, nlive = nconn;
	uint64_t t = 1000000;
	const struct tape__reasm_stats *st;

	memset(&G, 0, sizeof G);
	rng_state = seed;
	G.n = nconn;
	G.c = calloc(nconn, sizeof *G.c);
	G.nid = (size_t)nconn + 2;
	G.id2conn = calloc(G.nid, sizeof *G.id2conn);
	live = malloc(nconn * sizeof *live);
	CU_ASSERT_FATAL(G.c && G.id2conn && live);
	for (uint32_t i = 0; i < nconn; i++) {
		gen_conn(&G, i, maxlen);
		live[i] = i;
	}
	begin();
	R.keep = 0;
	R.hook = gen_hook;
	R.hctx = &G;
	while (nlive) {
		uint32_t k = rndn(nlive);
		struct gconn *g = &G.c[live[k]];
		gen_feed(&G, &g->seg[g->cur++], t);
		t += 1000;
		if (g->cur == g->nseg)
			live[k] = live[--nlive];
	}
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, t), 0);
	st = stats();
	CU_ASSERT_EQUAL(st->conns, nconn);
	CU_ASSERT_EQUAL(st->midstream, 0);
	CU_ASSERT_EQUAL(st->conflicts, 0);
	CU_ASSERT_EQUAL(st->gap_bytes, G.gap);
	/* Every captured byte is in exactly one bin. */
	CU_ASSERT_EQUAL(G.captured, G.data + st->dup_bytes + st->unverified_bytes + st->conflict_bytes +
					    st->after_fin_bytes + st->dropped_bytes);
	for (uint32_t i = 0; i < nconn; i++) {
		struct gconn *g = &G.c[i];
		CU_ASSERT_EQUAL(g->bad, 0);
		CU_ASSERT(g->closed);
		CU_ASSERT_EQUAL(g->reason, TAPE_CLOSE_FIN);
		/* data + gap == the stream, for both directions */
		CU_ASSERT_EQUAL(g->pos[0], g->len[0]);
		CU_ASSERT_EQUAL(g->pos[1], g->len[1]);
		CU_ASSERT(g->fin[0] && g->fin[1]);
		free(g->seg);
	}
	CU_ASSERT(st->gaps > 0 && st->dup_bytes > 0 && st->dropped_bytes > 0);
	/* Copies come back within 30 segments, well inside the 64 KiB history
	 * window, so every late byte is classified exactly: a duplicate, or
	 * dropped because its gap was already declared. */
	CU_ASSERT_EQUAL(st->unverified_bytes, 0);
	if (getenv("REASM_VERBOSE"))
		fprintf(stderr, " [captured %llu data %llu gaps %llu/%llu dup %llu unverified %llu dropped %llu after_fin %llu ignored %llu] ",
			(unsigned long long)G.captured, (unsigned long long)G.data,
			(unsigned long long)st->gaps, (unsigned long long)st->gap_bytes,
			(unsigned long long)st->dup_bytes, (unsigned long long)st->unverified_bytes,
			(unsigned long long)st->dropped_bytes, (unsigned long long)st->after_fin_bytes,
			(unsigned long long)st->ignored_segments);
	end();
	free(G.c);
	free(G.id2conn);
	free(live);
}

static void test_reasm_generated_interleaved(void)
{
	run_generated(3000, 8000, UINT64_C(0x1234567887654321));
}

static void test_reasm_generated_long_streams(void)
{
	run_generated(40, 400000, UINT64_C(0x0badc0ffee15600d));
}

/* ---- generated tuple reuse ------------------------------------------------------ */

#define RU_TUPLES 300u
#define RU_CONNS 3u                /* connections per tuple, one after the other */
#define RU_SEGS 16u                /* segments of one connection at most */

struct ruseg {
	uint8_t dir, flags;
	uint32_t seq, ack, off, len;  /* off: stream offset of the payload */
};

struct ruconn {
	uint32_t isn[2], len[2];
	struct ruseg seg[RU_SEGS];
	unsigned nseg, ncore;         /* ncore: up to the last ACK; then maybe a copy */
	unsigned moved;               /* last core segments captured after the next SYN */
	/* what the tape said */
	uint64_t id, pos[2];
	int reason, bad;
};

struct rutuple {
	struct tape_endpoint ep[2];
	struct ruconn c[RU_CONNS];
	struct ruseg *order[RU_CONNS * RU_SEGS];
	unsigned n, next, opened;
};

struct rugen {
	struct rutuple *t;
	struct ruconn *byid[RU_TUPLES * RU_CONNS + 2]; /* tape id -> connection */
	unsigned tuple_of[RU_TUPLES * RU_CONNS + 2];
	uint64_t data, captured;
};

static uint8_t ru_byte(unsigned tu, unsigned k, int dir, uint64_t off)
{
	return gen_byte(tu * RU_CONNS + k, dir, off);
}

static void ru_push(struct ruconn *c, int dir, uint8_t flags, uint32_t off, uint32_t len, uint32_t ackoff)
{
	struct ruseg *g = &c->seg[c->nseg++];

	CU_ASSERT_FATAL(c->nseg <= RU_SEGS);
	g->dir = (uint8_t)dir;
	g->flags = flags;
	g->off = off;
	g->len = len;
	g->seq = (flags & SYN) ? c->isn[dir] : c->isn[dir] + 1 + off;
	g->ack = (flags & ACK) ? c->isn[dir ^ 1] + 1 + ackoff : 0;
}

static int ru_hook(void *ctx, const struct tape_event *ev)
{
	struct rugen *G = ctx;
	struct ruconn *c;

	if (ev->kind == TAPE_EV_OPEN) {
		unsigned tu = (unsigned)(ev->client.port - 20000);
		struct rutuple *t;
		CU_ASSERT_FATAL(tu < RU_TUPLES && ev->conn < RU_TUPLES * RU_CONNS + 2);
		t = &G->t[tu];
		CU_ASSERT_FATAL(t->opened < RU_CONNS);
		c = &t->c[t->opened];
		CU_ASSERT_EQUAL(ev->flags, t->opened ? TAPE_OPEN_REUSED : 0u);
		t->opened++;
		c->id = ev->conn;
		G->byid[ev->conn] = c;
		G->tuple_of[ev->conn] = tu;
		return 0;
	}
	if (ev->conn == 0 || ev->conn >= RU_TUPLES * RU_CONNS + 2 || !G->byid[ev->conn]) {
		CU_FAIL("event for an unknown connection");
		return 0;
	}
	c = G->byid[ev->conn];
	switch (ev->kind) {
	case TAPE_EV_DATA: {
		unsigned tu = G->tuple_of[ev->conn], k = (unsigned)(c - G->t[tu].c);
		for (size_t i = 0; i < ev->len; i++)
			if (ev->data[i] != ru_byte(tu, k, ev->dir, c->pos[ev->dir] + i)) {
				c->bad++;
				break;
			}
		c->pos[ev->dir] += ev->len;
		G->data += ev->len;
		break;
	}
	case TAPE_EV_CLOSE:
		c->reason = (int)ev->reason;
		break;
	case TAPE_EV_NOTE:
		if (ev->len < 12 || memcmp(ev->data, "tuple reused", 12) != 0) {
			fprintf(stderr, "\n  unexpected note: %.*s\n", (int)ev->len, (const char *)ev->data);
			c->bad++;
		}
		break;
	case TAPE_EV_FIN:
		break;
	default: /* no gap, no reset: nothing was lost */
		c->bad++;
		break;
	}
	return 0;
}

/*
 * Hundreds of tuples, each used by three connections in turn (random ISNs,
 * a request and a response, FINs both ways and the last ACK), interleaved.
 * Often the next connection's SYN is captured before the previous one's
 * last ACK, FINs or a retransmission of its data (finding 5 of
 * doc/conformance.md): every one of them is a straggler, so each connection
 * appears exactly once with all its bytes, closed by its FINs, or aborted
 * with a note when the new SYN came before both FINs were out.
 */
static void test_reasm_generated_reuse(void)
{
	struct rugen G;
	unsigned live[RU_TUPLES], nlive = RU_TUPLES;
	uint64_t t = 1000000;
	static uint8_t buf[2048];
	const struct tape__reasm_stats *st;

	memset(&G, 0, sizeof G);
	rng_state = UINT64_C(0x5eed0f7e05e0ff1c);
	G.t = calloc(RU_TUPLES, sizeof *G.t);
	CU_ASSERT_FATAL(G.t != NULL);
	for (unsigned tu = 0; tu < RU_TUPLES; tu++) {
		struct rutuple *tp = &G.t[tu];
		tp->ep[0] = ep4((uint8_t)(1 + tu % 200), (uint16_t)(20000 + tu));
		tp->ep[1] = ep4(250, 443);
		for (unsigned k = 0; k < RU_CONNS; k++) {
			struct ruconn *c = &tp->c[k];
			uint32_t sent;
			c->isn[0] = (uint32_t)rnd();
			c->isn[1] = (uint32_t)rnd();
			c->len[0] = 1 + rndn(3000);
			c->len[1] = 1 + rndn(3000);
			ru_push(c, 0, SYN, 0, 0, 0);
			ru_push(c, 1, SYN | ACK, 0, 0, 0);
			ru_push(c, 0, ACK, 0, 0, 0);
			for (sent = 0; sent < c->len[0]; sent += 1460)
				ru_push(c, 0, ACK | PSH, sent, c->len[0] - sent < 1460 ? c->len[0] - sent : 1460, 0);
			for (sent = 0; sent < c->len[1]; sent += 1460)
				ru_push(c, 1, ACK | PSH, sent, c->len[1] - sent < 1460 ? c->len[1] - sent : 1460,
					c->len[0]);
			ru_push(c, 0, FIN | ACK, c->len[0], 0, c->len[1]);
			ru_push(c, 1, FIN | ACK, c->len[1], 0, c->len[0] + 1);
			ru_push(c, 0, ACK, c->len[0] + 1, 0, c->len[1] + 1);
			c->ncore = c->nseg;
			if (k && rndn(4)) {
				/* the previous connection's last 1-3 segments, and
				 * maybe a copy of its first data segment, after this SYN */
				struct ruconn *p = &tp->c[k - 1];
				p->moved = 1 + rndn(3);
				if (rndn(3) == 0)
					p->seg[p->nseg++] = p->seg[3];
			}
		}
		for (unsigned k = 0; k < RU_CONNS; k++) {
			/* c's segments but the moved ones (and the copy), the
			 * next connection's SYN, then those; the next one's SYN
			 * is not repeated in its own turn */
			struct ruconn *c = &tp->c[k];
			unsigned keep = c->moved ? c->ncore - c->moved : c->nseg;
			for (unsigned i = k && tp->c[k - 1].moved ? 1 : 0; i < keep; i++)
				tp->order[tp->n++] = &c->seg[i];
			if (c->moved) {
				tp->order[tp->n++] = &tp->c[k + 1].seg[0];
				for (unsigned i = keep; i < c->nseg; i++)
					tp->order[tp->n++] = &c->seg[i];
			}
		}
		live[tu] = tu;
	}
	begin();
	R.keep = 0;
	R.hook = ru_hook;
	R.hctx = &G;
	while (nlive) {
		unsigned j = rndn(nlive);
		struct rutuple *tp = &G.t[live[j]];
		struct ruseg *g = tp->order[tp->next++];
		unsigned k = 0;
		while (!(g >= tp->c[k].seg && g < tp->c[k].seg + RU_SEGS))
			k++;
		for (uint32_t i = 0; i < g->len; i++)
			buf[i] = ru_byte(live[j], k, g->dir, g->off + i);
		G.captured += g->len;
		CU_ASSERT_EQUAL(seg_full(t, &tp->ep[g->dir], &tp->ep[g->dir ^ 1], g->seq, g->ack, g->flags, buf,
					 g->len, g->len), 0);
		t += 1000;
		if (tp->next == tp->n)
			live[j] = live[--nlive];
	}
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, t), 0);
	st = stats();
	CU_ASSERT_EQUAL(st->conns, RU_TUPLES * RU_CONNS);
	CU_ASSERT_EQUAL(st->gaps, 0);
	CU_ASSERT_EQUAL(G.captured, G.data + st->dup_bytes + st->unverified_bytes + st->conflict_bytes +
					    st->after_fin_bytes + st->dropped_bytes);
	for (unsigned tu = 0; tu < RU_TUPLES; tu++)
		for (unsigned k = 0; k < RU_CONNS; k++) {
			struct ruconn *c = &G.t[tu].c[k];
			CU_ASSERT_EQUAL(c->bad, 0);
			CU_ASSERT_EQUAL(c->pos[0], c->len[0]);
			CU_ASSERT_EQUAL(c->pos[1], c->len[1]);
			/* moved 1: only the last ACK came late; 2 or 3: a FIN too */
			CU_ASSERT_EQUAL(c->reason, c->moved >= 2 ? TAPE_CLOSE_ABORTED : TAPE_CLOSE_FIN);
		}
	if (getenv("REASM_VERBOSE"))
		fprintf(stderr, " [ignored %llu unverified %llu dropped %llu after_fin %llu] ",
			(unsigned long long)st->ignored_segments, (unsigned long long)st->unverified_bytes,
			(unsigned long long)st->dropped_bytes, (unsigned long long)st->after_fin_bytes);
	end();
	free(G.t);
}

/* 100k connections open at once, each with a handshake, a request, a
 * response and FINs both ways. */
static void test_reasm_many_concurrent(void)
{
	const uint32_t n = 100000;
	uint64_t t = 1000;
	struct timespec t0, t1;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	begin();
	R.keep = 0;
	for (int phase = 0; phase < 6; phase++)
		for (uint32_t i = 0; i < n; i++) {
			struct tape_endpoint c = ep4((uint8_t)(i % 250), (uint16_t)(1024 + i % 60000));
			struct tape_endpoint s = ep4(251, 80);
			uint32_t ci = i * 7919u, si = ~i;
			c.addr[1] = (uint8_t)(i / 60000);
			t += 100;
			switch (phase) {
			case 0: seg_full(t, &c, &s, ci, 0, SYN, NULL, 0, 0); break;
			case 1: seg_full(t, &s, &c, si, ci + 1, SYN | ACK, NULL, 0, 0); break;
			case 2: seg_full(t, &c, &s, ci + 1, si + 1, ACK, "GET / HTTP/1.0\r\n\r\n", 18, 18); break;
			case 3: seg_full(t, &s, &c, si + 1, ci + 19, ACK, "HTTP/1.0 200 OK\r\n\r\n", 19, 19); break;
			case 4: seg_full(t, &c, &s, ci + 19, si + 20, FIN | ACK, NULL, 0, 0); break;
			default: seg_full(t, &s, &c, si + 20, ci + 20, FIN | ACK, NULL, 0, 0); break;
			}
		}
	CU_ASSERT_EQUAL(tape__reasm_finish(RA, t), 0);
	CU_ASSERT_EQUAL(stats()->conns, n);
	CU_ASSERT_EQUAL(R.calls, (size_t)n * 6); /* OPEN DATA DATA FIN FIN CLOSE */
	CU_ASSERT_EQUAL(tape__check_live(&R.chk), 0);
	end();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (getenv("REASM_VERBOSE"))
		fprintf(stderr, " [%u connections, %.2f s] ", n, secs);
}

static const struct unit_test tests[] = {
	{"test_reasm_handshake_in_order", test_reasm_handshake_in_order},
	{"test_reasm_reordered", test_reasm_reordered},
	{"test_reasm_hole_filled_late", test_reasm_hole_filled_late},
	{"test_reasm_duplicates", test_reasm_duplicates},
	{"test_reasm_overlapping_buffered", test_reasm_overlapping_buffered},
	{"test_reasm_seq_serial_boundary", test_reasm_seq_serial_boundary},
	{"test_reasm_conflict_delivered", test_reasm_conflict_delivered},
	{"test_reasm_conflict_buffered", test_reasm_conflict_buffered},
	{"test_reasm_loss_never_filled", test_reasm_loss_never_filled},
	{"test_reasm_gap_from_ack", test_reasm_gap_from_ack},
	{"test_reasm_ack_overtakes_data", test_reasm_ack_overtakes_data},
	{"test_reasm_ack_gap_whole", test_reasm_ack_gap_whole},
	{"test_reasm_ack_gap_fin", test_reasm_ack_gap_fin},
	{"test_reasm_midstream_server_first", test_reasm_midstream_server_first},
	{"test_reasm_midstream_client_first", test_reasm_midstream_client_first},
	{"test_reasm_midstream_port_rules", test_reasm_midstream_port_rules},
	{"test_reasm_syn_ack_first", test_reasm_syn_ack_first},
	{"test_reasm_syn_decides_roles", test_reasm_syn_decides_roles},
	{"test_reasm_simultaneous_open", test_reasm_simultaneous_open},
	{"test_reasm_roles_corrected", test_reasm_roles_corrected},
	{"test_reasm_seq_wraparound", test_reasm_seq_wraparound},
	{"test_reasm_fin_then_data", test_reasm_fin_then_data},
	{"test_reasm_fin_waits_for_data", test_reasm_fin_waits_for_data},
	{"test_reasm_rst", test_reasm_rst},
	{"test_reasm_reuse_new_syn", test_reasm_reuse_new_syn},
	{"test_reasm_syn_on_live_midstream", test_reasm_syn_on_live_midstream},
	{"test_reasm_new_syn_on_live", test_reasm_new_syn_on_live},
	{"test_reasm_late_syn_window", test_reasm_late_syn_window},
	{"test_reasm_late_syn_ack_adopted", test_reasm_late_syn_ack_adopted},
	{"test_reasm_late_syn_ack_rebased", test_reasm_late_syn_ack_rebased},
	{"test_reasm_syn_sent_stragglers", test_reasm_syn_sent_stragglers},
	{"test_reasm_syn_sent_after_supersede", test_reasm_syn_sent_after_supersede},
	{"test_reasm_syn_sent_near_straggler", test_reasm_syn_sent_near_straggler},
	{"test_reasm_syn_sent_far_rst", test_reasm_syn_sent_far_rst},
	{"test_reasm_syn_sent_accepts", test_reasm_syn_sent_accepts},
	{"test_reasm_finish_order", test_reasm_finish_order},
	{"test_reasm_idle_timeout", test_reasm_idle_timeout},
	{"test_reasm_conn_cap_overflow", test_reasm_conn_cap_overflow},
	{"test_reasm_evict_max_conns", test_reasm_evict_max_conns},
	{"test_reasm_evict_total_mem", test_reasm_evict_total_mem},
	{"test_reasm_history_shed_before_evict", test_reasm_history_shed_before_evict},
	{"test_reasm_base_from_peer_ack", test_reasm_base_from_peer_ack},
	{"test_reasm_fin_conflicts", test_reasm_fin_conflicts},
	{"test_reasm_data_split_at_max", test_reasm_data_split_at_max},
	{"test_reasm_snaplen_truncated", test_reasm_snaplen_truncated},
	{"test_reasm_adjacent_gaps_merge", test_reasm_adjacent_gaps_merge},
	{"test_reasm_gap_data_gap", test_reasm_gap_data_gap},
	{"test_reasm_stray_segments_ignored", test_reasm_stray_segments_ignored},
	{"test_reasm_time_backwards", test_reasm_time_backwards},
	{"test_reasm_history_window", test_reasm_history_window},
	{"test_reasm_keepalive_probe", test_reasm_keepalive_probe},
	{"test_reasm_ipv6", test_reasm_ipv6},
	{"test_reasm_emit_error_sticky", test_reasm_emit_error_sticky},
	{"test_reasm_generated_interleaved", test_reasm_generated_interleaved},
	{"test_reasm_generated_long_streams", test_reasm_generated_long_streams},
	{"test_reasm_generated_reuse", test_reasm_generated_reuse},
	{"test_reasm_many_concurrent", test_reasm_many_concurrent},
	{NULL, NULL},
};

/* Adds the "reasm" suite. */
void test_reasm_register(void)
{
	unit_add_suite("reasm", tests);
}
