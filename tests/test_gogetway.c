/* SPDX-License-Identifier: BSD-2-Clause */
/* test_gogetway.c - unit tests of the gogetway recording reader, with a generator of such recordings. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"
#include "unit.h"

/* ---- a gogetway writer, as doc/gogetway.md describes it ------------------ */

#define T0 UINT64_C(1795255200000000000) /* 2026-11-21T10:00:00Z */

struct grec {
	uint64_t ts;
	unsigned type;       /* 1 TCP, 2 HTTP */
	const char *from, *to;
	const char *body;    /* may hold NULs: len says how long */
	size_t len;
	int raw;             /* write the body without escaping it */
	int64_t len_adjust;  /* added to the length field (hostile files) */
};

struct gbuf {
	uint8_t *p;
	size_t n, cap;
	size_t *starts; /* offset of each record */
};

static void put(struct gbuf *g, const void *p, size_t n)
{
	if (g->n + n > g->cap) {
		size_t cap = g->cap ? g->cap : 256;
		while (cap < g->n + n)
			cap *= 2;
		g->p = realloc(g->p, cap);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g->p);
		g->cap = cap;
	}
	if (n)
		memcpy(g->p + g->n, p, n);
	g->n += n;
}

static void put_le64(struct gbuf *g, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(g, b, 8);
}

/* The writer's escaping: every "\nt" becomes "\n\nt", scanning left to
 * right without overlaps (Go's bytes.ReplaceAll). */
static void escape(struct gbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' && i + 1 < n && s[i + 1] == 't') {
			put(out, "\n\nt", 3);
			i++;
		} else {
			put(out, s + i, 1);
		}
	}
}

/* Records into g (record starts in g->starts, caller frees both). */
static void gen(struct gbuf *g, const struct grec *recs, size_t n)
{
	memset(g, 0, sizeof *g);
	g->starts = calloc(n + 1, sizeof *g->starts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g->starts);
	for (size_t i = 0; i < n; i++) {
		const struct grec *r = &recs[i];
		struct gbuf body = {0};
		uint8_t type = (uint8_t)r->type;
		size_t blen = r->body ? (r->len ? r->len : strlen(r->body)) : 0;

		if (r->raw)
			put(&body, r->body, blen);
		else
			escape(&body, r->body ? r->body : "", blen);
		g->starts[i] = g->n;
		put(g, "--benbens--\nt", 13);
		put_le64(g, r->ts);
		put(g, &type, 1);
		put_le64(g, (uint64_t)((int64_t)body.n + r->len_adjust));
		put(g, r->from, strlen(r->from));
		put(g, "...", 3);
		put(g, r->to, strlen(r->to));
		put(g, "\n", 1);
		put(g, body.p, body.n);
		free(body.p);
	}
	g->starts[n] = g->n;
}

static void gfree(struct gbuf *g)
{
	free(g->p);
	free(g->starts);
}

/* ---- reading it back as tsv ---------------------------------------------- */

struct result {
	char *tsv;     /* the events read, as canonical tsv */
	int rc;        /* 0, or the reader's error */
	char err[TAPE__ERRLEN];
	char path[512];
	char format[16];
	struct tape_reader_status st;
};

static void result_free(struct result *res)
{
	free(res->tsv);
	memset(res, 0, sizeof *res);
}

/* Writes p[0..n) to a file and reads it as format (NULL: probed), writing
 * the events to tsv. */
static void read_bytes(struct result *res, const uint8_t *p, size_t n, const char *format)
{
	struct tape_reader *r = NULL;
	struct tape_writer *w = NULL;
	struct tape_event ev;
	char out[512];
	size_t len;
	uint8_t *text;
	int rc;

	memset(res, 0, sizeof *res);
	snprintf(res->path, sizeof res->path, "%s", unit_tmpfile(".ggw"));
	snprintf(out, sizeof out, "%s", unit_tmpfile(".tsv"));
	unit_write_file(res->path, p, n);
	rc = tape_reader_open(&r, res->path, format);
	if (rc == 0) {
		CU_ASSERT_EQUAL_FATAL(tape_writer_open(&w, out, "tsv", tape_reader_meta(r), NULL), 0);
		while ((rc = tape_reader_next(r, &ev)) == 1) {
			int wr = tape_writer_write(w, &ev);
			if (wr)
				fprintf(stderr, "\nwriter: %s\n", tape_writer_error(w));
			CU_ASSERT_EQUAL_FATAL(wr, 0);
		}
		CU_ASSERT_EQUAL(tape_writer_close(w), 0);
		tape_writer_free(w);
		text = unit_read_file(out, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		res->tsv = malloc(len + 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(res->tsv);
		memcpy(res->tsv, text, len);
		res->tsv[len] = '\0';
		free(text);
	}
	res->rc = rc;
	if (r) {
		snprintf(res->err, sizeof res->err, "%s", tape_reader_error(r));
		snprintf(res->format, sizeof res->format, "%s", tape_reader_format(r));
		tape_reader_status(r, &res->st);
	}
	tape_reader_free(r);
}

static int same(const char *what, const char *got, const char *want)
{
	if (got && strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "\n%s differs\n--- got ---\n%s\n--- want ---\n%s\n---\n", what, got ? got : "(null)",
		want);
	return 0;
}

/* Error text with the file name replaced by "F". */
static const char *err_of(const struct result *res)
{
	static char buf[TAPE__ERRLEN];
	size_t pl = strlen(res->path);

	if (strncmp(res->err, res->path, pl) == 0)
		snprintf(buf, sizeof buf, "F%s", res->err + pl);
	else
		snprintf(buf, sizeof buf, "%s", res->err);
	return buf;
}

#define HEAD "# tapedeck tsv v1\n# start: 2026-11-21T10:00:00.000000000Z\n# source: gogetway recording\n"

/* ---- tests ---------------------------------------------------------------- */

static const struct grec sample_recs[] = {
	{T0, 1, "192.0.2.1:40000", "192.0.2.2:80", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, 0},
	{T0 + 1500, 1, "[2001:db8::1]:50000", "[2001:db8::2]:443", "\x16\x03\x01\x00\x05hello", 10, 0, 0},
	{T0 + 2000, 2, "192.0.2.2:80", "192.0.2.1:40000", "HTTP/1.1 200 OK\r\n\r\nline\ntwo\n\nthree\n", 0, 0,
	 0},
	{T0 + 2500, 1, "[2001:db8::2]:443", "[2001:db8::1]:50000", "\x00\nt\x00", 4, 0, 0},
	{T0 + 3000, 1, "192.0.2.1:40000", "192.0.2.2:80", "bye\n", 0, 0, 0},
};

static const char sample_tsv[] =
	HEAD "0\t1\topen\t192.0.2.1:40000\t192.0.2.2:80\n"
	     "0\t1\tc2s\t474554202f20485454502f312e310d0a486f73743a20610d0a0d0a\n"
	     "1.500\t2\topen\t[2001:db8::1]:50000\t[2001:db8::2]:443\n"
	     "1.500\t2\tc2s\t160301000568656c6c6f\n"
	     "2\t1\ts2c\t485454502f312e3120323030204f4b0d0a0d0a6c696e650a74776f0a0a74687265650a\n"
	     "2.500\t2\ts2c\t000a7400\n"
	     "3\t1\tc2s\t6279650a\n"
	     "3\t1\tclose\tend\n"
	     "3\t2\tclose\tend\n"
	     "3\t0\tnote\tgogetway: 5 records; 1 of type 2 (HTTP), read as TCP\n";

static void test_gogetway_read_interleaved(void)
{
	struct gbuf g;
	struct result res;

	gen(&g, sample_recs, sizeof sample_recs / sizeof sample_recs[0]);
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL(res.rc, 0);
	CU_ASSERT_STRING_EQUAL(res.format, "gogetway");
	CU_ASSERT(same("interleaved connections", res.tsv, sample_tsv));
	CU_ASSERT_EQUAL(res.st.finalised, 1);
	CU_ASSERT_EQUAL(res.st.dropped_bytes, 0);
	CU_ASSERT_EQUAL(res.st.offset, g.n);
	result_free(&res);
	/* Probed without naming the format. */
	read_bytes(&res, g.p, g.n, NULL);
	CU_ASSERT_EQUAL(res.rc, 0);
	CU_ASSERT_STRING_EQUAL(res.format, "gogetway");
	CU_ASSERT(same("probed", res.tsv, sample_tsv));
	result_free(&res);
	gfree(&g);
}

/* The sample file in tests/data/gogetway is what gen() makes of
 * sample_recs; GOGETWAY_WRITE_SAMPLE=PATH writes it again. */
static void test_gogetway_sample_file(void)
{
	const char *src = getenv("TOP_SRCDIR"), *w = getenv("GOGETWAY_WRITE_SAMPLE");
	struct gbuf g;
	char path[1024];
	uint8_t *file;
	size_t n;

	gen(&g, sample_recs, sizeof sample_recs / sizeof sample_recs[0]);
	if (w)
		unit_write_file(w, g.p, g.n);
	if (src) {
		snprintf(path, sizeof path, "%s/tests/data/gogetway/sample.gogetway", src);
		file = unit_read_file(path, &n);
		CU_ASSERT_PTR_NOT_NULL(file);
		if (file) {
			CU_ASSERT_EQUAL(n, g.n);
			CU_ASSERT(n == g.n && memcmp(file, g.p, n) == 0);
		}
		free(file);
	}
	gfree(&g);
}

static void test_gogetway_escaping(void)
{
	/* Bodies around the escape, each alone on a connection; the reader
	 * must give back exactly what the writer was handed. */
	static const char *const bodies[] = {
		"\nt", "\n\nt", "\n\n\nt", "t\n", "\n", "\n\n", "t", "a\nt\nt\nb", "\nt\n\nt\n\n\nt",
		"x\n", "\nx\nt", "tt\n\ntt", "\n\n\n\n\n\n\nt\n",
	};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct grec r = {T0, 1, "192.0.2.1:1", "192.0.2.2:2", bodies[i], 0, 0, 0};
		char want[1024], hex[256];
		struct result res;
		struct gbuf g;

		gen(&g, &r, 1);
		tape__hex_encode(hex, (const uint8_t *)bodies[i], strlen(bodies[i]));
		hex[2 * strlen(bodies[i])] = '\0';
		snprintf(want, sizeof want, HEAD "0\t1\topen\t192.0.2.1:1\t192.0.2.2:2\n0\t1\tc2s\t%s\n0\t1\tclose\tend\n",
			 hex);
		read_bytes(&res, g.p, g.n, "gogetway");
		CU_ASSERT_EQUAL(res.rc, 0);
		if (!same("escaped body", res.tsv, want))
			fprintf(stderr, "(body %zu)\n", i);
		result_free(&res);
		gfree(&g);
	}
	/* What the file holds: "\n\nt" was written as "\n\n\nt". */
	{
		struct grec r = {T0, 1, "192.0.2.1:1", "192.0.2.2:2", "a\n\ntb", 0, 0, 0};
		struct gbuf g;
		gen(&g, &r, 1);
		CU_ASSERT_EQUAL(g.n, 30 + strlen("192.0.2.1:1...192.0.2.2:2\n") + 6);
		CU_ASSERT_EQUAL(memcmp(g.p + g.n - 6, "a\n\n\ntb", 6), 0);
		CU_ASSERT_EQUAL(g.p[22], 6); /* the length is the escaped one */
		gfree(&g);
	}
	/* Random bodies over the bytes that matter, escaped then read back. */
	{
		static const char alpha[] = "\nt\nx\0";
		uint32_t s = 99;
		for (int iter = 0; iter < 300; iter++) {
			char body[64], want[512], hex[160];
			size_t n = 1 + iter % 40;
			struct result res;
			struct gbuf g;
			for (size_t i = 0; i < n; i++) {
				s = s * 1103515245u + 12345u;
				body[i] = alpha[(s >> 16) % 5];
			}
			struct grec r = {T0, 1, "192.0.2.1:1", "192.0.2.2:2", body, n, 0, 0};
			gen(&g, &r, 1);
			tape__hex_encode(hex, (const uint8_t *)body, n);
			hex[2 * n] = '\0';
			snprintf(want, sizeof want,
				 HEAD "0\t1\topen\t192.0.2.1:1\t192.0.2.2:2\n0\t1\tc2s\t%s\n0\t1\tclose\tend\n", hex);
			read_bytes(&res, g.p, g.n, "gogetway");
			CU_ASSERT_EQUAL(res.rc, 0);
			CU_ASSERT(same("random body", res.tsv, want));
			result_free(&res);
			gfree(&g);
		}
	}
}

static void test_gogetway_bare_lf_t(void)
{
	/* "\nt" unescaped cannot come from the writer: kept, and counted. */
	static const struct grec recs[] = {
		{T0, 1, "192.0.2.1:1", "192.0.2.2:2", "a\ntb\n\ntc", 0, 1, 0},
	};
	struct result res;
	struct gbuf g;

	gen(&g, recs, 1);
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL(res.rc, 0);
	CU_ASSERT(same("bare LF t", res.tsv,
		       HEAD "0\t1\topen\t192.0.2.1:1\t192.0.2.2:2\n"
			    "0\t1\tc2s\t610a74620a7463\n"
			    "0\t1\tclose\tend\n"
			    "0\t0\tnote\tgogetway: 1 record; 1 unescaped LF-t sequence kept as it is\n"));
	result_free(&res);
	gfree(&g);
}

static void test_gogetway_empty_and_time(void)
{
	static const struct grec recs[] = {
		{T0 + 5000, 1, "192.0.2.1:1", "192.0.2.2:2", "", 0, 0, 0},
		{T0 + 4000, 1, "192.0.2.2:2", "192.0.2.1:1", "late", 0, 0, 0},
		{T0 + 7000, 1, "192.0.2.1:1", "192.0.2.2:2", "", 0, 0, 0},
		{T0 + 6000, 1, "192.0.2.1:3", "192.0.2.2:2", "x", 0, 0, 0},
	};
	struct result res;
	struct gbuf g;

	gen(&g, recs, 4);
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL(res.rc, 0);
	CU_ASSERT(same("empty bodies and time going back", res.tsv,
		       "# tapedeck tsv v1\n# start: 2026-11-21T10:00:00.000005000Z\n# source: gogetway recording\n"
		       "0\t1\topen\t192.0.2.1:1\t192.0.2.2:2\n"
		       "0\t1\ts2c\t6c617465\n"
		       "2\t2\topen\t192.0.2.1:3\t192.0.2.2:2\n"
		       "2\t2\tc2s\t78\n"
		       "2\t1\tclose\tend\n"
		       "2\t2\tclose\tend\n"
		       "2\t0\tnote\tgogetway: 4 records; 2 empty bodies skipped; 2 times earlier than the one "
		       "before, moved up to it\n"));
	result_free(&res);
	gfree(&g);

	/* A time more than 2^62 ns after the first. */
	{
		static const struct grec far[] = {
			{1, 1, "192.0.2.1:1", "192.0.2.2:2", "a", 0, 0, 0},
			{(UINT64_C(1) << 62) + 2, 1, "192.0.2.1:1", "192.0.2.2:2", "b", 0, 0, 0},
		};
		char want[256];
		gen(&g, far, 2);
		read_bytes(&res, g.p, g.n, "gogetway");
		CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
		snprintf(want, sizeof want,
			 "F: offset %zu: record time 4611686018427387906 ns is more than 2^62 ns after the first "
			 "record's (1)",
			 g.starts[1] + 13);
		CU_ASSERT_STRING_EQUAL(err_of(&res), want);
		result_free(&res);
		gfree(&g);
	}
}

static void test_gogetway_empty_file(void)
{
	struct result res;

	read_bytes(&res, (const uint8_t *)"", 0, "gogetway");
	CU_ASSERT_EQUAL(res.rc, 0);
	CU_ASSERT(same("empty recording", res.tsv, "# tapedeck tsv v1\n# source: gogetway recording\n"));
	CU_ASSERT_EQUAL(res.st.finalised, 1);
	result_free(&res);
	/* Not probed as anything. */
	read_bytes(&res, (const uint8_t *)"", 0, NULL);
	CU_ASSERT_EQUAL(res.rc, TAPE_ETRUNC);
	result_free(&res);
}

static void test_gogetway_truncated_everywhere(void)
{
	const size_t nrec = sizeof sample_recs / sizeof sample_recs[0];
	struct gbuf g;

	gen(&g, sample_recs, nrec);
	for (size_t cut = 0; cut <= g.n; cut++) {
		struct result res, whole;
		size_t k = 0;

		while (k < nrec && g.starts[k + 1] <= cut)
			k++; /* records 0..k-1 are complete */
		read_bytes(&res, g.p, cut, "gogetway");
		CU_ASSERT_EQUAL(res.rc, 0);
		if (res.rc)
			fprintf(stderr, "\ncut at %zu: %s\n", cut, res.err);
		CU_ASSERT_EQUAL(res.st.dropped_bytes, cut - g.starts[k]);
		CU_ASSERT_EQUAL(res.st.finalised, cut == g.starts[k]);
		if (cut > g.starts[k]) {
			char why[160];
			snprintf(why, sizeof why, "incomplete last record at offset %zu (%zu bytes)", g.starts[k],
				 cut - g.starts[k]);
			CU_ASSERT_STRING_EQUAL(res.st.dropped_why, why);
		}
		/* Exactly the events of the complete records. */
		read_bytes(&whole, g.p, g.starts[k], "gogetway");
		CU_ASSERT_EQUAL(whole.rc, 0);
		if (k == 0) {
			/* No complete record: no events (the start may be known). */
			CU_ASSERT_PTR_NOT_NULL(res.tsv);
			CU_ASSERT(res.tsv && strstr(res.tsv, "\t") == NULL);
		} else {
			CU_ASSERT(res.tsv && whole.tsv && strcmp(res.tsv, whole.tsv) == 0);
		}
		result_free(&res);
		result_free(&whole);
	}
	gfree(&g);
}

static void test_gogetway_bad_marker(void)
{
	struct gbuf g;
	struct result res;
	char want[256];

	gen(&g, sample_recs, 3);
	/* The second record's marker damaged. */
	g.p[g.starts[1] + 4] = 'X';
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
	snprintf(want, sizeof want,
		 "F: offset %zu: no record marker: expected \"--benbens--\\nt\", found \"--beXbens--\\nt\"",
		 g.starts[1]);
	CU_ASSERT_STRING_EQUAL(err_of(&res), want);
	/* What came before is read. */
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tsv, "0\t1\tc2s\t4745"));
	result_free(&res);
	/* A damaged partial marker at the end is damage, not truncation. */
	read_bytes(&res, g.p, g.starts[1] + 6, "gogetway");
	CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
	snprintf(want, sizeof want, "F: offset %zu: no record marker: expected \"--benbens--\\nt\", found \"--beXb\"",
		 g.starts[1]);
	CU_ASSERT_STRING_EQUAL(err_of(&res), want);
	result_free(&res);
	/* Not a recording at all, named as one; and not probed as one. */
	read_bytes(&res, (const uint8_t *)"# tapedeck tsv v1\n", 18, "gogetway");
	CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
	CU_ASSERT_STRING_EQUAL(err_of(&res),
			       "F: offset 0: no record marker: expected \"--benbens--\\nt\", found \"# tapedeck ts\"");
	result_free(&res);
	g.p[g.starts[1] + 4] = 'n';
	g.p[21] = 3; /* an unknown type: not probed */
	read_bytes(&res, g.p, g.n, NULL);
	CU_ASSERT_EQUAL(res.rc, TAPE_EUNKNOWN);
	result_free(&res);
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
	CU_ASSERT_STRING_EQUAL(err_of(&res), "F: offset 21: unknown record type 3 (1 is TCP, 2 HTTP)");
	result_free(&res);
	gfree(&g);
}

static void test_gogetway_absurd_length(void)
{
	struct grec recs[2] = {sample_recs[0], sample_recs[4]};
	struct gbuf g;
	struct result res;
	char want[256];

	recs[1].len_adjust = (int64_t)1 << 40;
	gen(&g, recs, 2);
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
	snprintf(want, sizeof want,
		 "F: offset %zu: record length 1099511627780 is beyond the 67108864-byte limit (a damaged file?)",
		 g.starts[1] + 22);
	CU_ASSERT_STRING_EQUAL(err_of(&res), want);
	result_free(&res);
	gfree(&g);
	/* A length a little too long, or too short: the next record is looked
	 * for in the wrong place, which is a marker error there. */
	recs[0].len_adjust = 2;
	recs[1].len_adjust = 0;
	gen(&g, recs, 2);
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
	snprintf(want, sizeof want, "F: offset %zu: no record marker: expected \"--benbens--\\nt\", found \"benbens--\\nt",
		 g.starts[1] + 2);
	if (strncmp(err_of(&res), want, strlen(want)) != 0)
		fprintf(stderr, "\ngot  %s\nwant %s\n", err_of(&res), want);
	CU_ASSERT_EQUAL(strncmp(err_of(&res), want, strlen(want)), 0);
	result_free(&res);
	gfree(&g);
	recs[0].len_adjust = -3;
	gen(&g, recs, 2);
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
	snprintf(want, sizeof want, "F: offset %zu: no record marker: expected \"--benbens--\\nt\", found \"\\n\\x0d\\n--benbens-\"",
		 g.starts[1] - 3);
	if (strncmp(err_of(&res), want, strlen(want)) != 0)
		fprintf(stderr, "\ngot  %s\nwant %s\n", err_of(&res), want);
	CU_ASSERT_EQUAL(strncmp(err_of(&res), want, strlen(want)), 0);
	result_free(&res);
	gfree(&g);
}

static void test_gogetway_bad_addresses(void)
{
	static const struct {
		const char *from, *to, *msg;
	} cases[] = {
		{"192.0.2.1:1", "", "F: offset 44: TO \"\" is not an address:port (IPv4, or [IPv6])"},
		{"host:80", "192.0.2.2:2",
		 "F: offset 30: FROM \"host:80\" is not an address:port (IPv4, or [IPv6])"},
		{"192.0.2.1:1", "[::1]:2",
		 "F: offset 30: FROM and TO are of different address families in \"192.0.2.1:1...[::1]:2\""},
		{"192.0.2.1:99999", "192.0.2.2:2",
		 "F: offset 30: FROM \"192.0.2.1:99999\" is not an address:port (IPv4, or [IPv6])"},
		{"[fe80::1%eth0]:1", "[fe80::2]:2",
		 "F: offset 30: FROM \"[fe80::1%eth0]:1\" is not an address:port (IPv4, or [IPv6])"},
	};
	struct result res;
	struct gbuf g;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct grec r = {T0, 1, cases[i].from, cases[i].to, "x", 0, 0, 0};
		gen(&g, &r, 1);
		read_bytes(&res, g.p, g.n, "gogetway");
		CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
		if (!same("address error", err_of(&res), cases[i].msg))
			fprintf(stderr, "(case %zu)\n", i);
		result_free(&res);
		gfree(&g);
	}
	/* The TO offset points at TO; no "..." at all. */
	{
		struct grec r = {T0, 1, "192.0.2.1:1", "192.0.2.2", "x", 0, 0, 0};
		gen(&g, &r, 1);
		read_bytes(&res, g.p, g.n, "gogetway");
		CU_ASSERT_STRING_EQUAL(err_of(&res),
				       "F: offset 44: TO \"192.0.2.2\" is not an address:port (IPv4, or [IPv6])");
		result_free(&res);
		gfree(&g);
		r.from = "192.0.2.1:1 192.0.2.2:2";
		r.to = "";
		gen(&g, &r, 1);
		memmove(g.p + 30 + 23, g.p + 30 + 26, g.n - 30 - 26); /* drop the "..." */
		g.n -= 3;
		read_bytes(&res, g.p, g.n, "gogetway");
		CU_ASSERT_STRING_EQUAL(err_of(&res),
				       "F: offset 30: no \"...\" between FROM and TO in \"192.0.2.1:1 192.0.2.2:2\"");
		result_free(&res);
		gfree(&g);
	}
	/* A line without an end within the cap. */
	{
		char longfrom[700];
		struct grec r = {T0, 1, longfrom, "192.0.2.2:2", "x", 0, 0, 0};
		memset(longfrom, '1', sizeof longfrom - 1);
		longfrom[sizeof longfrom - 1] = '\0';
		gen(&g, &r, 1);
		read_bytes(&res, g.p, g.n, "gogetway");
		CU_ASSERT_EQUAL(res.rc, TAPE_EFORMAT);
		CU_ASSERT_STRING_EQUAL(err_of(&res), "F: offset 30: no end of the FROM...TO line within 512 bytes");
		result_free(&res);
		/* ... and cut inside it: a truncated record. */
		read_bytes(&res, g.p, 300, "gogetway");
		CU_ASSERT_EQUAL(res.rc, 0);
		CU_ASSERT_EQUAL(res.st.dropped_bytes, 300);
		result_free(&res);
		gfree(&g);
	}
}

static void test_gogetway_many_connections(void)
{
	/* More connections than the table's first size, back and forth. */
	enum { N = 300 };
	static char from[N][32];
	static struct grec recs[2 * N];
	struct result res;
	struct gbuf g;

	for (int i = 0; i < N; i++) {
		snprintf(from[i], sizeof from[i], "10.0.%d.%d:%d", i / 200, i % 200, 1000 + i);
		recs[i] = (struct grec){T0 + (uint64_t)i, 1, from[i], "10.1.0.1:80", "q", 0, 0, 0};
	}
	for (int i = 0; i < N; i++)
		recs[N + i] = (struct grec){T0 + N + (uint64_t)i, 1, "10.1.0.1:80", from[N - 1 - i], "r", 0, 0, 0};
	gen(&g, recs, 2 * N);
	read_bytes(&res, g.p, g.n, "gogetway");
	CU_ASSERT_EQUAL_FATAL(res.rc, 0);
	/* Connection N-i gets the i-th answer, as s2c. */
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tsv, "\n0.300\t300\ts2c\t72\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tsv, "\n0.599\t1\ts2c\t72\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tsv, "\n0.599\t300\tclose\tend\n"));
	CU_ASSERT_PTR_NULL(strstr(res.tsv, "\t301\t"));
	result_free(&res);
	gfree(&g);
}

static void test_gogetway_mutations(void)
{
	/* Random damage to the sample: read to the end or to an error, never
	 * crash (the sanitizers watch), and never anything but a format error
	 * or a clean read. */
	struct gbuf g;
	uint32_t x = 7;

	gen(&g, sample_recs, sizeof sample_recs / sizeof sample_recs[0]);
	for (int iter = 0; iter < 1500; iter++) {
		uint8_t *m = malloc(g.n);
		struct result res;
		size_t n = g.n;
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		memcpy(m, g.p, g.n);
		for (int k = 0; k < 1 + iter % 4 && n > 0; k++) {
			x = x * 1103515245u + 12345u;
			size_t at = (x >> 8) % n;
			x = x * 1103515245u + 12345u;
			switch (x >> 29) {
			case 0: /* a length byte */
				m[g.starts[(x >> 8) % 5] + 22 + (x >> 16) % 2] ^= (uint8_t)(1u << ((x >> 20) % 8));
				break;
			case 1: /* cut short */
				n = at;
				break;
			case 2: /* an LF or a 't' */
				m[at] = (x >> 12) & 1 ? '\n' : 't';
				break;
			default:
				m[at] = (uint8_t)(x >> 12);
				break;
			}
		}
		read_bytes(&res, m, n, "gogetway");
		CU_ASSERT(res.rc == 0 || res.rc == TAPE_EFORMAT || res.rc == TAPE_ESEQ);
		if (!(res.rc == 0 || res.rc == TAPE_EFORMAT || res.rc == TAPE_ESEQ))
			fprintf(stderr, "\nmutation %d: %s\n", iter, res.err);
		result_free(&res);
		free(m);
	}
	gfree(&g);
}

void test_gogetway_register(void)
{
	static const struct unit_test tests[] = {
		{"test_gogetway_read_interleaved", test_gogetway_read_interleaved},
		{"test_gogetway_sample_file", test_gogetway_sample_file},
		{"test_gogetway_escaping", test_gogetway_escaping},
		{"test_gogetway_bare_lf_t", test_gogetway_bare_lf_t},
		{"test_gogetway_empty_and_time", test_gogetway_empty_and_time},
		{"test_gogetway_empty_file", test_gogetway_empty_file},
		{"test_gogetway_truncated_everywhere", test_gogetway_truncated_everywhere},
		{"test_gogetway_bad_marker", test_gogetway_bad_marker},
		{"test_gogetway_absurd_length", test_gogetway_absurd_length},
		{"test_gogetway_bad_addresses", test_gogetway_bad_addresses},
		{"test_gogetway_many_connections", test_gogetway_many_connections},
		{"test_gogetway_mutations", test_gogetway_mutations},
		{NULL, NULL},
	};

	unit_add_suite("gogetway", tests);
}
