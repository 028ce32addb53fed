/* SPDX-License-Identifier: BSD-2-Clause */
/* test_framing.c - unit tests of the framing codecs in src/framing.c: every codec whole, byte by byte and in random splits, caps and malformed input. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "tape-int.h"
#include "unit.h"

#define MAXMSG 64

struct got {
	size_t n;
	size_t len[MAXMSG];
	uint8_t *msg[MAXMSG];
};

static int collect(void *arg, const uint8_t *p, size_t n)
{
	struct got *g = arg;

	if (g->n == MAXMSG)
		return TAPE_ELIMIT;
	g->msg[g->n] = malloc(n ? n : 1);
	if (n)
		memcpy(g->msg[g->n], p, n);
	g->len[g->n++] = n;
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->msg[i]);
	g->n = 0;
}

/* Split modes: 0 whole, 1 byte by byte, 2.. random splits seeded by mode. */
static int feed_split(struct tape__deframer *d, const uint8_t *p, size_t n, unsigned mode,
		      struct got *g)
{
	size_t off = 0;
	unsigned seed = mode;
	int rc;

	while (off < n) {
		size_t k;

		if (mode == 0)
			k = n - off;
		else if (mode == 1)
			k = 1;
		else {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 23;
		}
		if (k > n - off)
			k = n - off;
		rc = tape__deframer_feed(d, p + off, k, collect, g);
		if (rc)
			return rc;
		off += k;
	}
	return 0;
}

/* Decodes input with spec in every split mode and checks the messages
 * (expected: NUL-separated list of nexp messages with lengths lens). */
static void check_codec(const char *spec, enum tape_dir dir, const void *in, size_t n,
			const char *const *exp, const size_t *lens, size_t nexp, int finish)
{
	for (unsigned mode = 0; mode < 12; mode++) {
		struct tape__framing f;
		struct tape__deframer *d;
		struct got g = {0};
		char err[128];

		CU_ASSERT_EQUAL_FATAL(tape__framing_parse(&f, spec, err, sizeof err), 0);
		CU_ASSERT_EQUAL_FATAL(tape__deframer_new(&d, &f, dir), 0);
		CU_ASSERT_EQUAL(feed_split(d, in, n, mode, &g), 0);
		if (finish)
			CU_ASSERT_EQUAL(tape__deframer_finish(d, collect, &g), 0);
		CU_ASSERT_EQUAL(g.n, nexp);
		for (size_t i = 0; i < g.n && i < nexp; i++) {
			CU_ASSERT_EQUAL(g.len[i], lens[i]);
			if (g.len[i] == lens[i])
				CU_ASSERT_EQUAL(memcmp(g.msg[i], exp[i], lens[i]), 0);
		}
		CU_ASSERT_EQUAL(tape__deframer_pending(d), 0);
		got_free(&g);
		tape__deframer_free(d);
	}
}

static void test_framing_parse_specs(void)
{
	struct tape__framing f;
	char err[128], name[16];

	CU_ASSERT_EQUAL(tape__framing_parse(&f, "raw", err, sizeof err), 0);
	CU_ASSERT_EQUAL(f.kind, TAPE__FRAMING_RAW);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len", err, sizeof err), 0);
	CU_ASSERT_EQUAL(f.hdr_len, 8);
	CU_ASSERT_EQUAL(f.max_payload, 16u << 20);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:1", err, sizeof err), 0);
	CU_ASSERT_EQUAL(f.hdr_len, 1);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:16", err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(tape__framing_name(&f, name, sizeof name), "len:16");
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "iso8583", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "http1", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "line", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:0", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "1 to 16"));
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:17", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:8x", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:0008", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "http2", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown framing 'http2'"));
}

/* The README examples of Trace Stream Proxy: "hello" with 8-, 1- and
 * 10-byte headers. */
static void test_framing_tsp_examples(void)
{
	static const struct {
		const char *spec;
		const char *wire;
		size_t n;
	} ex[] = {
		{"len:8", "\x00\x00\x00\x00\x00\x00\x00\x05hello", 13},
		{"len", "\x00\x00\x00\x00\x00\x00\x00\x05hello", 13},
		{"len:1", "\x05hello", 6},
		{"len:10", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05hello", 15},
	};
	const char *const exp[] = {"hello"};
	const size_t lens[] = {5};

	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
		struct tape__framing f;
		uint8_t hdr[TAPE__FRAMING_MAX_HDR];
		size_t hn;
		char err[64];

		check_codec(ex[i].spec, TAPE_C2S, ex[i].wire, ex[i].n, exp, lens, 1, 1);
		CU_ASSERT_EQUAL(tape__framing_parse(&f, ex[i].spec, err, sizeof err), 0);
		CU_ASSERT_TRUE(tape__framing_has_header(&f));
		CU_ASSERT_EQUAL(tape__framing_encode(&f, 5, hdr, &hn), 0);
		CU_ASSERT_EQUAL(hn + 5, ex[i].n);
		CU_ASSERT_EQUAL(memcmp(hdr, ex[i].wire, hn), 0);
	}
}

static void test_framing_len_pipelined(void)
{
	static const uint8_t wire[] = "\x00\x02hi\x00\x00\x00\x03" "abc\x00\x05world";
	const char *const exp[] = {"hi", "", "abc", "world"};
	const size_t lens[] = {2, 0, 3, 5};

	check_codec("len:2", TAPE_C2S, wire, sizeof wire - 1, exp, lens, 4, 1);
}

static void test_framing_len_cap(void)
{
	struct tape__framing f;
	struct tape__deframer *d;
	struct got g = {0};
	char err[64];
	uint8_t hdr[16];
	size_t hn;
	static const uint8_t ok[] = "\x00\x00\x00\x04" "abcd";
	static const uint8_t big[] = "\x00\x00\x00\x05" "abcde";

	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:4", err, sizeof err), 0);
	f.max_payload = 4;
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, ok, 8, collect, &g), 0);
	CU_ASSERT_EQUAL(g.n, 1);
	/* Refused as soon as the header is in, before the payload. */
	CU_ASSERT_EQUAL(tape__deframer_feed(d, big, 4, collect, &g), TAPE_ELIMIT);
	CU_ASSERT_STRING_EQUAL(tape__deframer_error(d),
			       "len:4 frame announces 5 payload bytes, over the cap of 4");
	CU_ASSERT_EQUAL(tape__deframer_feed(d, ok, 8, collect, &g), TAPE_ELIMIT); /* sticky */
	CU_ASSERT_EQUAL(g.n, 1);
	tape__deframer_free(d);
	got_free(&g);
	/* The default cap: 16 MiB exactly. */
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:8", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"\0\0\0\0\x01\0\0\0", 8, collect, &g), 0);
	CU_ASSERT_EQUAL(tape__deframer_pending(d), 8);
	tape__deframer_free(d);
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"\0\0\0\0\x01\0\0\x01", 8, collect, &g),
			TAPE_ELIMIT);
	tape__deframer_free(d);
	/* 16-byte headers with a value past 2^64. */
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:16", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01",
					    16, collect, &g),
			TAPE_ELIMIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(tape__deframer_error(d), "2^64"));
	tape__deframer_free(d);
	/* The encoder refuses what the header cannot hold. */
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:1", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__framing_encode(&f, 255, hdr, &hn), 0);
	CU_ASSERT_EQUAL(hdr[0], 255);
	CU_ASSERT_EQUAL(tape__framing_encode(&f, 256, hdr, &hn), TAPE_ELIMIT);
	CU_ASSERT_EQUAL(g.n, 0);
}

static void test_framing_len_truncated(void)
{
	struct tape__framing f;
	struct tape__deframer *d;
	struct got g = {0};
	char err[64];

	CU_ASSERT_EQUAL(tape__framing_parse(&f, "len:8", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"\0\0\0", 3, collect, &g), 0);
	CU_ASSERT_EQUAL(tape__deframer_finish(d, collect, &g), TAPE_ETRUNC);
	CU_ASSERT_STRING_EQUAL(tape__deframer_error(d),
			       "stream ended inside a len:8 frame header: 3 of 8 bytes");
	tape__deframer_free(d);
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"\0\0\0\0\0\0\0\x05hel", 11, collect, &g), 0);
	CU_ASSERT_EQUAL(tape__deframer_finish(d, collect, &g), TAPE_ETRUNC);
	CU_ASSERT_EQUAL(g.n, 0);
	tape__deframer_free(d);
}

static void test_framing_raw_and_line(void)
{
	static const char lines[] = "one\r\ntwo\n\nlast";
	const char *const exp[] = {"one\r\n", "two\n", "\n", "last"};
	const size_t lens[] = {5, 4, 1, 4};
	struct tape__framing f;
	struct tape__deframer *d;
	struct got g = {0};
	char err[64];
	uint8_t hdr[16];
	size_t hn = 99;

	check_codec("line", TAPE_C2S, lines, sizeof lines - 1, exp, lens, 4, 1);
	/* raw: chunks as fed, identity encoding. */
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "raw", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_S2C), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"abc", 3, collect, &g), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"de", 2, collect, &g), 0);
	CU_ASSERT_EQUAL(tape__deframer_finish(d, collect, &g), 0);
	CU_ASSERT_EQUAL(g.n, 2);
	CU_ASSERT_EQUAL(g.len[1], 2);
	CU_ASSERT_EQUAL(tape__framing_encode(&f, 5, hdr, &hn), 0);
	CU_ASSERT_EQUAL(hn, 0);
	tape__deframer_free(d);
	got_free(&g);
	/* A line over the cap. */
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "line", err, sizeof err), 0);
	f.max_payload = 8;
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"1234567\n", 8, collect, &g), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"123456789\n", 10, collect, &g),
			TAPE_ELIMIT);
	CU_ASSERT_STRING_EQUAL(tape__deframer_error(d), "line longer than the cap of 8 bytes");
	CU_ASSERT_EQUAL(g.n, 1);
	tape__deframer_free(d);
	got_free(&g);
}

static void test_framing_iso8583(void)
{
	static const uint8_t wire[] = "\x00\x04" "0800\x00\x06" "0810AB";
	const char *const exp[] = {"\x00\x04" "0800", "\x00\x06" "0810AB"};
	const size_t lens[] = {6, 8};
	struct tape__framing f;
	uint8_t hdr[16];
	size_t hn = 9;
	char err[64];

	check_codec("iso8583", TAPE_C2S, wire, sizeof wire - 1, exp, lens, 2, 1);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "iso8583", err, sizeof err), 0);
	CU_ASSERT_FALSE(tape__framing_has_header(&f));
	CU_ASSERT_EQUAL(tape__framing_encode(&f, 6, hdr, &hn), 0);
	CU_ASSERT_EQUAL(hn, 0);
}

static void test_framing_http1_requests(void)
{
	static const char in[] =
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
		"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
		"PUT /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		"5;ext=1\r\nhello\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n"
		"HEAD /h HTTP/1.0\r\n\r\n";
	const char *const exp[] = {
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
		"PUT /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		"5;ext=1\r\nhello\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n",
		"HEAD /h HTTP/1.0\r\n\r\n",
	};
	size_t lens[4];

	for (size_t i = 0; i < 4; i++)
		lens[i] = strlen(exp[i]);
	check_codec("http1", TAPE_C2S, in, sizeof in - 1, exp, lens, 4, 1);
}

/* Responses, as a linked request decoder announces HEAD. */
static void test_framing_http1_pipelined_head(void)
{
	static const char req[] = "GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\n"
				  "GET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n";
	static const char resp[] =
		"HTTP/1.1 100 Continue\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
		"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" /* HEAD: no body */
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
	const char *const exp[] = {
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	};

	for (unsigned mode = 0; mode < 12; mode++) {
		struct tape__framing f;
		struct tape__deframer *rq, *rs;
		struct got gq = {0}, gs = {0};
		char err[64];

		CU_ASSERT_EQUAL_FATAL(tape__framing_parse(&f, "http1", err, sizeof err), 0);
		CU_ASSERT_EQUAL_FATAL(tape__deframer_new(&rq, &f, TAPE_C2S), 0);
		CU_ASSERT_EQUAL_FATAL(tape__deframer_new(&rs, &f, TAPE_S2C), 0);
		tape__deframer_link(rq, rs);
		CU_ASSERT_EQUAL(feed_split(rq, (const uint8_t *)req, sizeof req - 1, mode, &gq), 0);
		CU_ASSERT_EQUAL(gq.n, 4);
		CU_ASSERT_EQUAL(feed_split(rs, (const uint8_t *)resp, sizeof resp - 1, mode, &gs), 0);
		CU_ASSERT_EQUAL(gs.n, 5);
		for (size_t i = 0; i < gs.n && i < 5; i++) {
			CU_ASSERT_EQUAL(gs.len[i], strlen(exp[i]));
			if (gs.len[i] == strlen(exp[i]))
				CU_ASSERT_EQUAL(memcmp(gs.msg[i], exp[i], gs.len[i]), 0);
		}
		CU_ASSERT_EQUAL(tape__deframer_finish(rs, collect, &gs), 0);
		got_free(&gq);
		got_free(&gs);
		tape__deframer_free(rs); /* either order */
		tape__deframer_free(rq);
	}
}

/* After 101 both directions pass bytes through as they come. */
static void test_framing_http1_upgrade(void)
{
	static const char req[] = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
	static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";
	struct tape__framing f;
	struct tape__deframer *rq, *rs;
	struct got gq = {0}, gs = {0};
	char err[64];

	CU_ASSERT_EQUAL_FATAL(tape__framing_parse(&f, "http1", err, sizeof err), 0);
	CU_ASSERT_EQUAL_FATAL(tape__deframer_new(&rq, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL_FATAL(tape__deframer_new(&rs, &f, TAPE_S2C), 0);
	tape__deframer_link(rq, rs);
	CU_ASSERT_EQUAL(tape__deframer_feed(rq, (const uint8_t *)req, sizeof req - 1, collect, &gq), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(rs, (const uint8_t *)resp, sizeof resp - 1, collect, &gs), 0);
	CU_ASSERT_EQUAL(gs.n, 2);
	CU_ASSERT_EQUAL(gs.len[1], 4);
	CU_ASSERT_EQUAL(tape__deframer_feed(rq, (const uint8_t *)"\x81\x82xy", 4, collect, &gq), 0);
	CU_ASSERT_EQUAL(gq.n, 2);
	CU_ASSERT_EQUAL(gq.len[1], 4);
	CU_ASSERT_EQUAL(tape__deframer_finish(rq, collect, &gq), 0);
	got_free(&gq);
	got_free(&gs);
	tape__deframer_free(rq);
	tape__deframer_free(rs);
}

/* A response without length runs until the close; 204 has no body. */
static void test_framing_http1_until_close(void)
{
	static const char in[] = "HTTP/1.1 204 No Content\r\n\r\n"
				 "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close";
	const char *const exp[] = {"HTTP/1.1 204 No Content\r\n\r\n",
				   "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close"};
	const size_t lens[] = {strlen(exp[0]), strlen(exp[1])};

	check_codec("http1", TAPE_S2C, in, sizeof in - 1, exp, lens, 2, 1);
}

static void expect_error(const char *spec, enum tape_dir dir, const char *in, size_t max, int code,
			 const char *msg)
{
	struct tape__framing f;
	struct tape__deframer *d;
	struct got g = {0};
	char err[64];
	int rc;

	CU_ASSERT_EQUAL_FATAL(tape__framing_parse(&f, spec, err, sizeof err), 0);
	if (max)
		f.max_payload = max;
	CU_ASSERT_EQUAL_FATAL(tape__deframer_new(&d, &f, dir), 0);
	rc = tape__deframer_feed(d, (const uint8_t *)in, strlen(in), collect, &g);
	if (rc == 0)
		rc = tape__deframer_finish(d, collect, &g);
	CU_ASSERT_EQUAL(rc, code);
	if (!strstr(tape__deframer_error(d), msg))
		fprintf(stderr, "\n  error was: %s\n", tape__deframer_error(d));
	CU_ASSERT_PTR_NOT_NULL(strstr(tape__deframer_error(d), msg));
	got_free(&g);
	tape__deframer_free(d);
}

static void test_framing_http1_malformed(void)
{
	expect_error("http1", TAPE_C2S, "GET /\r\n\r\n", 0, TAPE_EFORMAT,
		     "malformed request line \"GET /\"");
	expect_error("http1", TAPE_C2S, "G@T / HTTP/1.1\r\n\r\n", 0, TAPE_EFORMAT,
		     "malformed request line");
	expect_error("http1", TAPE_S2C, "HTTP/1.1 2x0 OK\r\n\r\n", 0, TAPE_EFORMAT,
		     "malformed status line \"HTTP/1.1 2x0 OK\"");
	expect_error("http1", TAPE_S2C, "GET / HTTP/1.1\r\n\r\n", 0, TAPE_EFORMAT,
		     "expected a response");
	expect_error("http1", TAPE_C2S, "HTTP/1.1 200 OK\r\n\r\n", 0, TAPE_EFORMAT,
		     "expected a request");
	expect_error("http1", TAPE_C2S, "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 0,
		     TAPE_EFORMAT, "invalid Content-Length \"1x\"");
	expect_error("http1", TAPE_C2S,
		     "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0,
		     TAPE_EFORMAT, "conflicting Content-Length headers (1 and 2)");
	expect_error("http1", TAPE_C2S, "POST / HTTP/1.1\r\nBad header\r\n\r\n", 0, TAPE_EFORMAT,
		     "malformed header line \"Bad header\"");
	expect_error("http1", TAPE_C2S,
		     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, TAPE_EFORMAT,
		     "malformed chunk-size line \"zz\"");
	expect_error("http1", TAPE_C2S,
		     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX", 0,
		     TAPE_EFORMAT, "chunk data not followed by CRLF");
	expect_error("http1", TAPE_C2S, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0,
		     TAPE_EFORMAT, "does not end in chunked");
	expect_error("http1", TAPE_C2S, "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 10,
		     TAPE_ELIMIT, "Content-Length 11 is over the cap of 10 bytes");
	expect_error("http1", TAPE_C2S,
		     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 0,
		     TAPE_ELIMIT, "chunk size too large");
	expect_error("http1", TAPE_C2S, "GET / HTTP/1.1\r\nHost: a\r\n", 0, TAPE_ETRUNC,
		     "stream ended inside an http1 message");
	expect_error("len:2", TAPE_C2S, "\x01", 0, TAPE_ETRUNC, "1 of 2 bytes");
}

/* A head past TAPE__FRAMING_MAX_HEAD is refused without waiting for its end. */
static void test_framing_http1_head_cap(void)
{
	struct tape__framing f;
	struct tape__deframer *d;
	struct got g = {0};
	char err[64];
	size_t n = TAPE__FRAMING_MAX_HEAD + 100;
	uint8_t *big = malloc(n);
	int rc = 0;

	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', n - 19);
	CU_ASSERT_EQUAL(tape__framing_parse(&f, "http1", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	for (size_t off = 0; off < n && rc == 0; off += 1000)
		rc = tape__deframer_feed(d, big + off, n - off < 1000 ? n - off : 1000, collect, &g);
	CU_ASSERT_EQUAL(rc, TAPE_ELIMIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(tape__deframer_error(d), "longer than 65536 bytes"));
	tape__deframer_free(d);
	free(big);
}

/* A callback's error stops the feed and is returned. */
static int stop_cb(void *arg, const uint8_t *p, size_t n)
{
	(*(int *)arg)++;
	return -42;
}

static void test_framing_callback_error(void)
{
	struct tape__framing f;
	struct tape__deframer *d;
	char err[64];
	int calls = 0;

	CU_ASSERT_EQUAL(tape__framing_parse(&f, "line", err, sizeof err), 0);
	CU_ASSERT_EQUAL(tape__deframer_new(&d, &f, TAPE_C2S), 0);
	CU_ASSERT_EQUAL(tape__deframer_feed(d, (const uint8_t *)"a\nb\n", 4, stop_cb, &calls), -42);
	CU_ASSERT_EQUAL(calls, 1);
	tape__deframer_free(d);
}

void test_framing_register(void)
{
	static const struct unit_test tests[] = {
		{"parse_specs", test_framing_parse_specs},
		{"tsp_examples", test_framing_tsp_examples},
		{"len_pipelined", test_framing_len_pipelined},
		{"len_cap", test_framing_len_cap},
		{"len_truncated", test_framing_len_truncated},
		{"raw_and_line", test_framing_raw_and_line},
		{"iso8583", test_framing_iso8583},
		{"http1_requests", test_framing_http1_requests},
		{"http1_pipelined_head", test_framing_http1_pipelined_head},
		{"http1_until_close", test_framing_http1_until_close},
		{"http1_upgrade", test_framing_http1_upgrade},
		{"http1_malformed", test_framing_http1_malformed},
		{"http1_head_cap", test_framing_http1_head_cap},
		{"callback_error", test_framing_callback_error},
		{NULL, NULL},
	};

	unit_add_suite("framing", tests);
}
