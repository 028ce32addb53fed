/* SPDX-License-Identifier: BSD-2-Clause */
/* test_fmt_tsv.c - unit tests of the tsv and tsp (ts_proxy) tape backends. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tape-int.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------- */

#define MAX_EVENTS 64

/* Everything a read produced, deep-copied so it outlives the reader. */
struct got {
	struct tape_event ev[MAX_EVENTS];
	uint8_t *data[MAX_EVENTS];
	size_t n;
	int rc; /* 0 after a clean end, else the error */
	char err[TAPE__ERRLEN];
	char path[512];
	char format[8];
	struct tape_reader_status st;
	struct tape_meta *meta;
};

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->data[i]);
	tape_meta_free(g->meta);
	memset(g, 0, sizeof *g);
}

/* Reads path to the end or the first error into g. */
static void read_path(struct got *g, const char *path, const char *format)
{
	struct tape_reader *r = NULL;
	struct tape_event ev;
	int rc;

	memset(g, 0, sizeof *g);
	snprintf(g->path, sizeof g->path, "%s", path);
	rc = tape_reader_open(&r, path, format);
	while (rc == 0) {
		rc = tape_reader_next(r, &ev);
		if (rc <= 0)
			break;
		rc = 0;
		if (g->n == MAX_EVENTS) {
			CU_FAIL("too many events");
			break;
		}
		g->ev[g->n] = ev;
		if ((ev.kind == TAPE_EV_DATA || ev.kind == TAPE_EV_NOTE)) {
			g->data[g->n] = malloc(ev.len + 1);
			CU_ASSERT_PTR_NOT_NULL_FATAL(g->data[g->n]);
			if (ev.len)
				memcpy(g->data[g->n], ev.data, ev.len);
			g->ev[g->n].data = g->data[g->n];
		} else {
			g->ev[g->n].data = NULL;
		}
		g->n++;
	}
	g->rc = rc;
	if (r) {
		snprintf(g->err, sizeof g->err, "%s", tape_reader_error(r));
		snprintf(g->format, sizeof g->format, "%s", tape_reader_format(r));
		tape_reader_status(r, &g->st);
		if (tape_meta_dup(&g->meta, tape_reader_meta(r)) != 0)
			CU_FAIL("meta dup");
	}
	tape_reader_free(r);
}

/* Writes text to a fresh temporary file and reads it. */
static void read_text(struct got *g, const char *text, const char *suffix, const char *format)
{
	char path[512];

	snprintf(path, sizeof path, "%s", unit_tmpfile(suffix));
	unit_write_file(path, text, strlen(text));
	read_path(g, path, format);
}

/* Writes the events (and meta) as format into a temporary file; returns the
 * file's bytes as a NUL-terminated string (caller frees) and the writer's
 * result in *rc, its error text in err, its drop count in *dropped. */
static char *write_events(const char *format, const char *suffix, const struct tape_meta *meta,
			  const struct tape_event *evs, size_t n, int *rc, char *err, size_t errlen,
			  uint64_t *dropped)
{
	struct tape_writer *w = NULL;
	const char *path = unit_tmpfile(suffix);
	char p[512];
	uint8_t *bytes;
	char *text;
	size_t len;
	int r;

	snprintf(p, sizeof p, "%s", path);
	r = tape_writer_open(&w, p, format, meta, NULL);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = tape_writer_write(w, &evs[i]);
	if (r == 0)
		r = tape_writer_close(w);
	if (err)
		snprintf(err, errlen, "%s", tape_writer_error(w));
	if (dropped)
		*dropped = w ? tape_writer_dropped(w) : 0;
	tape_writer_free(w);
	*rc = r;
	bytes = unit_read_file(p, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	text = malloc(len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	memcpy(text, bytes, len);
	text[len] = '\0';
	free(bytes);
	return text;
}

/* Copies every event of in (format in_fmt) to a new file in out_fmt; returns
 * its path in out (size 512). */
static void convert(const char *in, const char *in_fmt, const char *out_suffix, const char *out_fmt,
		    char *out)
{
	struct tape_reader *r = NULL;
	struct tape_writer *w = NULL;
	struct tape_event ev;
	int rc;

	snprintf(out, 512, "%s", unit_tmpfile(out_suffix));
	rc = tape_reader_open(&r, in, in_fmt);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	rc = tape_writer_open(&w, out, out_fmt, tape_reader_meta(r), NULL);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	while ((rc = tape_reader_next(r, &ev)) == 1) {
		rc = tape_writer_write(w, &ev);
		if (rc) {
			fprintf(stderr, "\nconvert: %s\n", tape_writer_error(w));
			break;
		}
	}
	if (rc < 0)
		fprintf(stderr, "\nconvert: %s\n", tape_reader_error(r));
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(tape_writer_close(w), 0);
	tape_writer_free(w);
	tape_reader_free(r);
}

static char *slurp(const char *path)
{
	size_t len;
	uint8_t *b = unit_read_file(path, &len);
	char *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	s = malloc(len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memcpy(s, b, len);
	s[len] = '\0';
	free(b);
	return s;
}

/* String equality that shows both sides when they differ. */
static int same(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "\n%s differs\n--- got ---\n%s\n--- want ---\n%s\n---\n", what, got, want);
	return 0;
}

static struct tape_endpoint ep(const char *s)
{
	struct tape_endpoint e;

	memset(&e, 0, sizeof e);
	CU_ASSERT_EQUAL(tape_endpoint_parse(s, strlen(s), &e), 0);
	return e;
}

static struct tape_event mk(enum tape_event_kind kind, uint64_t t, uint64_t conn)
{
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.time_ns = t;
	ev.conn = conn;
	return ev;
}

static struct tape_event mk_open(uint64_t t, uint64_t conn, struct tape_endpoint c,
				 struct tape_endpoint s, uint32_t flags)
{
	struct tape_event ev = mk(TAPE_EV_OPEN, t, conn);
	ev.client = c;
	ev.server = s;
	ev.flags = flags;
	return ev;
}

static struct tape_event mk_data(uint64_t t, uint64_t conn, enum tape_dir dir, const char *p,
				 size_t n)
{
	struct tape_event ev = mk(TAPE_EV_DATA, t, conn);
	ev.dir = dir;
	ev.data = (const uint8_t *)p;
	ev.len = n;
	return ev;
}

static struct tape_event mk_dir(enum tape_event_kind kind, uint64_t t, uint64_t conn,
				enum tape_dir dir)
{
	struct tape_event ev = mk(kind, t, conn);
	ev.dir = dir;
	return ev;
}

static struct tape_event mk_gap(uint64_t t, uint64_t conn, enum tape_dir dir, uint64_t gap)
{
	struct tape_event ev = mk_dir(TAPE_EV_GAP, t, conn, dir);
	ev.gap = gap;
	return ev;
}

static struct tape_event mk_close(uint64_t t, uint64_t conn, enum tape_close_reason reason)
{
	struct tape_event ev = mk(TAPE_EV_CLOSE, t, conn);
	ev.reason = reason;
	return ev;
}

static struct tape_event mk_note(uint64_t t, uint64_t conn, const char *text)
{
	struct tape_event ev = mk(TAPE_EV_NOTE, t, conn);
	ev.data = (const uint8_t *)text;
	ev.len = strlen(text);
	return ev;
}

/* Field-by-field comparison of the parts of an event its kind uses. */
static int same_event(const struct tape_event *a, const struct tape_event *b)
{
	if (a->kind != b->kind || a->time_ns != b->time_ns || a->conn != b->conn)
		return 0;
	switch (a->kind) {
	case TAPE_EV_OPEN:
		return tape_endpoint_equal(&a->client, &b->client) &&
		       tape_endpoint_equal(&a->server, &b->server) && a->flags == b->flags;
	case TAPE_EV_DATA:
		return a->dir == b->dir && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
	case TAPE_EV_GAP:
		return a->dir == b->dir && a->gap == b->gap;
	case TAPE_EV_FIN:
	case TAPE_EV_RST:
		return a->dir == b->dir;
	case TAPE_EV_CLOSE:
		return a->reason == b->reason;
	case TAPE_EV_NOTE:
		return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
	}
	return 0;
}

#define START_NS (UINT64_C(1795255200) * 1000000000u + 1u) /* 2026-11-21T10:00:00.000000001Z */

/* A tape with every event kind, awkward times and escaped text. */
static size_t sample_events(struct tape_event *evs)
{
	static const char get[] = "GET /\r\n";
	static const char bin[] = {0x00, (char)0xff};
	size_t n = 0;

	evs[n++] = mk_open(0, 1, unit_ep4(192, 0, 2, 1, 49152), unit_ep4(192, 0, 2, 2, 80), 0);
	evs[n++] = mk_data(1, 1, TAPE_C2S, get, sizeof get - 1);
	evs[n++] = mk_data(12500, 1, TAPE_S2C, bin, sizeof bin);
	evs[n++] = mk_open(13000, 2, ep("[2001:db8::1]:443"), ep("[2001:db8::2]:8443"),
			   TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	evs[n++] = mk_gap(14000, 1, TAPE_C2S, 100);
	evs[n++] = mk_dir(TAPE_EV_FIN, 15000, 1, TAPE_C2S);
	evs[n++] = mk_note(15000, 1, "tab\there\nnl\\bs\x01 \r");
	evs[n++] = mk_dir(TAPE_EV_RST, 16000, 2, TAPE_S2C);
	evs[n++] = mk_close(17000, 1, TAPE_CLOSE_FIN);
	evs[n++] = mk_close(17000, 2, TAPE_CLOSE_RST);
	evs[n++] = mk_note(UINT64_C(18000000123), 0, "capture dropped 0 packets");
	evs[n++] = mk_note(UINT64_C(18000000123), 0, "");
	return n;
}

static const char sample_text[] =
	"# tapedeck tsv v1\n"
	"# start: 2026-11-21T10:00:00.000000001Z\n"
	"# source: unit test\n"
	"# tool: fmt\\ttsv\\\\x\\n\n"
	"0\t1\topen\t192.0.2.1:49152\t192.0.2.2:80\n"
	"0.001\t1\tc2s\t474554202f0d0a\n"
	"12.500\t1\ts2c\t00ff\n"
	"13\t2\topen\t[2001:db8::1]:443\t[2001:db8::2]:8443\tmidstream,inferred\n"
	"14\t1\tgap\tc2s\t100\n"
	"15\t1\tfin\tc2s\n"
	"15\t1\tnote\ttab\\there\\nnl\\\\bs\\x01 \\r\n"
	"16\t2\trst\ts2c\n"
	"17\t1\tclose\tfin\n"
	"17\t2\tclose\trst\n"
	"18000000.123\t0\tnote\tcapture dropped 0 packets\n"
	"18000000.123\t0\tnote\t\n";

static const char tsp_example[] = "# ts_proxy recording v1\n"
				  "123\tc2s\t68656c6c6f\n"
				  "456\ts2c\t776f726c64\n";

static struct tape_meta *sample_meta(void)
{
	struct tape_meta *m = NULL;

	CU_ASSERT_EQUAL_FATAL(tape_meta_new(&m), 0);
	tape_meta_set_start(m, START_NS);
	CU_ASSERT_EQUAL(tape_meta_set(m, "source", "unit test"), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "tool", "fmt\ttsv\\x\n"), 0);
	return m;
}

/* ---- tsv: writing and reading back ------------------------------------------ */

static void test_fmt_tsv_write_canonical(void)
{
	struct tape_event evs[MAX_EVENTS];
	struct tape_meta *m = sample_meta();
	size_t n = sample_events(evs);
	char err[TAPE__ERRLEN];
	int rc;
	char *text = write_events("tsv", ".tsv", m, evs, n, &rc, err, sizeof err, NULL);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same("canonical tsv", text, sample_text));
	free(text);
	tape_meta_free(m);
}

static void test_fmt_tsv_read_every_event(void)
{
	struct tape_event evs[MAX_EVENTS];
	size_t n = sample_events(evs);
	struct got g;
	const char *k, *v;

	read_text(&g, sample_text, ".tsv", NULL);
	CU_ASSERT_STRING_EQUAL(g.format, "tsv");
	CU_ASSERT_EQUAL(g.rc, 0);
	if (g.rc)
		fprintf(stderr, "\n%s\n", g.err);
	CU_ASSERT_EQUAL_FATAL(g.n, n);
	for (size_t i = 0; i < n; i++) {
		if (!same_event(&g.ev[i], &evs[i]))
			fprintf(stderr, "\nevent %zu differs\n", i);
		CU_ASSERT(same_event(&g.ev[i], &evs[i]));
	}
	CU_ASSERT_EQUAL(tape_meta_start(g.meta), START_NS);
	CU_ASSERT_EQUAL_FATAL(tape_meta_count(g.meta), 2);
	CU_ASSERT_EQUAL(tape_meta_at(g.meta, 0, &k, &v), 0);
	CU_ASSERT_STRING_EQUAL(k, "source");
	CU_ASSERT_STRING_EQUAL(v, "unit test");
	CU_ASSERT_EQUAL(tape_meta_at(g.meta, 1, &k, &v), 0);
	CU_ASSERT_STRING_EQUAL(k, "tool");
	CU_ASSERT_STRING_EQUAL(v, "fmt\ttsv\\x\n");
	CU_ASSERT_EQUAL(g.st.events, n);
	CU_ASSERT_EQUAL(g.st.dropped_bytes, 0);
	CU_ASSERT_EQUAL(g.st.finalised, 1);
	got_free(&g);
}

/* Each kind alone, written and read back. */
static void test_fmt_tsv_each_kind_roundtrip(void)
{
	static const char one[] = "x";
	struct tape_event open1 = mk_open(5, 7, ep("[::1]:1"), ep("[::2]:2"), TAPE_OPEN_REUSED);
	struct tape_event cases[][3] = {
		{open1, mk_data(6, 7, TAPE_C2S, one, 1), mk_close(7, 7, TAPE_CLOSE_END)},
		{open1, mk_data(6, 7, TAPE_S2C, one, 1), mk_close(7, 7, TAPE_CLOSE_TIMEOUT)},
		{open1, mk_gap(6, 7, TAPE_S2C, TAPE_MAX_GAP), mk_close(7, 7, TAPE_CLOSE_EVICTED)},
		{open1, mk_dir(TAPE_EV_FIN, 6, 7, TAPE_S2C), mk_close(7, 7, TAPE_CLOSE_ERROR)},
		{open1, mk_dir(TAPE_EV_RST, 6, 7, TAPE_C2S), mk_close(7, 7, TAPE_CLOSE_ABORTED)},
		{open1, mk_note(6, 7, "\\"), mk_close(TAPE_MAX_TIME, 7, TAPE_CLOSE_FIN)},
	};

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char err[TAPE__ERRLEN], path[512];
		int rc;
		char *text = write_events("tsv", ".tsv", NULL, cases[c], 3, &rc, err, sizeof err, NULL);
		struct got g;

		CU_ASSERT_EQUAL(rc, 0);
		snprintf(path, sizeof path, "%s", unit_tmpfile(".tsv"));
		unit_write_file(path, text, strlen(text));
		read_path(&g, path, "tsv");
		CU_ASSERT_EQUAL(g.rc, 0);
		CU_ASSERT_EQUAL(g.n, 3);
		for (size_t i = 0; i < 3 && i < g.n; i++)
			CU_ASSERT(same_event(&g.ev[i], &cases[c][i]));
		got_free(&g);
		free(text);
	}
}

/* Canonical TSV through the binary format and back reproduces every byte. */
static void test_fmt_tsv_canonical_via_binary(void)
{
	char in[512], bin[512], back[512], again[512];
	char *text;

	snprintf(in, sizeof in, "%s", unit_tmpfile(".tsv"));
	unit_write_file(in, sample_text, strlen(sample_text));
	convert(in, "tsv", ".tape", "tape", bin);
	convert(bin, NULL, ".tsv", "tsv", back);
	text = slurp(back);
	CU_ASSERT(same("tsv -> tape -> tsv", text, sample_text));
	free(text);
	convert(in, NULL, ".tsv", NULL, again);
	text = slurp(again);
	CU_ASSERT(same("tsv -> tsv", text, sample_text));
	free(text);
}

static void test_fmt_tsv_note_escapes_survive(void)
{
	static const char nasty[] = "a\tb\nc\\d\\\\e\r\x1b[0m\x7f\\x41 end\\";
	struct tape_event evs[3] = {
		mk_note(0, 0, nasty),
		mk_note(1, 0, "\\t is not a tab"),
		mk_note(2, 0, "ünïcödé stays as is"),
	};
	char err[TAPE__ERRLEN], path[512];
	int rc;
	char *text = write_events("tsv", ".tsv", NULL, evs, 3, &rc, err, sizeof err, NULL);
	struct got g;

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same("escaped notes", text,
		       "# tapedeck tsv v1\n"
		       "0\t0\tnote\ta\\tb\\nc\\\\d\\\\\\\\e\\r\\x1b[0m\\x7f\\\\x41 end\\\\\n"
		       "0.001\t0\tnote\t\\\\t is not a tab\n"
		       "0.002\t0\tnote\tünïcödé stays as is\n"));
	snprintf(path, sizeof path, "%s", unit_tmpfile(".tsv"));
	unit_write_file(path, text, strlen(text));
	read_path(&g, path, NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 3);
	for (size_t i = 0; i < 3; i++)
		CU_ASSERT(same_event(&g.ev[i], &evs[i]));
	got_free(&g);
	free(text);
}

static void test_fmt_tsv_meta_escapes_roundtrip(void)
{
	struct tape_meta *m = NULL;
	struct tape_event evs[1] = {mk_note(0, 0, "x")};
	char err[TAPE__ERRLEN], path[512];
	const char *k, *v;
	int rc;
	char *text;
	struct got g;

	CU_ASSERT_EQUAL_FATAL(tape_meta_new(&m), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "cmd", "tapedeck\tconvert \\x\r\n\x01"), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "empty", ""), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "a.b-c_D9", "# not a comment: really"), 0);
	text = write_events("tsv", ".tsv", m, evs, 1, &rc, err, sizeof err, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same("escaped metadata", text,
		       "# tapedeck tsv v1\n"
		       "# cmd: tapedeck\\tconvert \\\\x\\r\\n\\x01\n"
		       "# empty: \n"
		       "# a.b-c_D9: # not a comment: really\n"
		       "0\t0\tnote\tx\n"));
	snprintf(path, sizeof path, "%s", unit_tmpfile(".tsv"));
	unit_write_file(path, text, strlen(text));
	read_path(&g, path, NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL(tape_meta_start(g.meta), 0);
	CU_ASSERT_EQUAL_FATAL(tape_meta_count(g.meta), 3);
	for (size_t i = 0; i < 3; i++) {
		const char *k0, *v0;
		CU_ASSERT_EQUAL(tape_meta_at(g.meta, i, &k, &v), 0);
		CU_ASSERT_EQUAL(tape_meta_at(m, i, &k0, &v0), 0);
		CU_ASSERT_STRING_EQUAL(k, k0);
		CU_ASSERT_STRING_EQUAL(v, v0);
	}
	got_free(&g);
	free(text);
	tape_meta_free(m);
}

/* A start time given as decimal seconds is read and written back as RFC 3339. */
static void test_fmt_tsv_meta_start_forms(void)
{
	struct got g;

	read_text(&g,
		  "# tapedeck tsv v1\n"
		  "# start: 1795255200.5\n"
		  "# source: x\n",
		  ".tsv", NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL(g.n, 0);
	CU_ASSERT_EQUAL(tape_meta_start(g.meta), UINT64_C(1795255200500000000));
	CU_ASSERT_STRING_EQUAL(tape_meta_get(g.meta, "source"), "x");
	got_free(&g);
}

static void test_fmt_tsv_fraction_digits(void)
{
	static const struct {
		const char *time;
		uint64_t ns;
	} ok[] = {
		{"12", 12000},   {"12.5", 12500}, {"12.50", 12500}, {"12.500", 12500},
		{"12.05", 12050}, {"0.001", 1},    {"007", 7000},
		{"4611686018427387.904", TAPE_MAX_TIME},
	};
	static const char *const bad[] = {"12.5000", "12.", ".5", "+1", "-1", "1e3", "1.2.3", "0x10",
					  " 1", "4611686018427387.905", "99999999999999999999999"};
	char text[256];
	struct got g;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		snprintf(text, sizeof text, "# tapedeck tsv v1\n%s\t0\tnote\tx\n", ok[i].time);
		read_text(&g, text, ".tsv", NULL);
		CU_ASSERT_EQUAL(g.rc, 0);
		CU_ASSERT_EQUAL(g.n, 1);
		if (g.n == 1)
			CU_ASSERT_EQUAL(g.ev[0].time_ns, ok[i].ns);
		got_free(&g);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "# tapedeck tsv v1\n%s\t0\tnote\tx\n", bad[i]);
		read_text(&g, text, ".tsv", NULL);
		CU_ASSERT_EQUAL(g.rc, TAPE_EFORMAT);
		CU_ASSERT_EQUAL(g.n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(g.err, ":2: "));
		CU_ASSERT_PTR_NOT_NULL(strstr(g.err, "column 1"));
		got_free(&g);
	}
	read_text(&g, "# tapedeck tsv v1\n1.1234\t0\tnote\tx\n", ".tsv", NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(g.err, "has 4 fraction digits; at most 3"));
	got_free(&g);
}

static void test_fmt_tsv_uppercase_hex(void)
{
	static const char in[] = "# tapedeck tsv v1\n"
				 "0\t1\topen\t10.0.0.1:1\t10.0.0.2:2\n"
				 "1\t1\tc2s\tDEADbeefC0\n";
	char path[512], out[512];
	char *text;
	struct got g;

	read_text(&g, in, ".tsv", NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	CU_ASSERT_EQUAL(g.ev[1].len, 5);
	CU_ASSERT(memcmp(g.ev[1].data, "\xde\xad\xbe\xef\xc0", 5) == 0);
	got_free(&g);

	snprintf(path, sizeof path, "%s", unit_tmpfile(".tsv"));
	unit_write_file(path, in, strlen(in));
	convert(path, NULL, ".tsv", "tsv", out);
	text = slurp(out);
	CU_ASSERT(same("lower-cased hex", text,
		       "# tapedeck tsv v1\n"
		       "0\t1\topen\t10.0.0.1:1\t10.0.0.2:2\n"
		       "1\t1\tc2s\tdeadbeefc0\n"));
	free(text);
}

static void test_fmt_tsv_crlf(void)
{
	struct got g;

	read_text(&g,
		  "# tapedeck tsv v1\r\n"
		  "# source: windows\r\n"
		  "0\t1\topen\t10.0.0.1:1\t10.0.0.2:2\tmidstream\r\n"
		  "1\t1\tc2s\t6869\r\n"
		  "2\t1\tnote\tend\r\n"
		  "3\t1\tclose\tend\r\n",
		  ".tsv", NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	if (g.rc)
		fprintf(stderr, "\n%s\n", g.err);
	CU_ASSERT_STRING_EQUAL(g.format, "tsv");
	CU_ASSERT_EQUAL_FATAL(g.n, 4);
	CU_ASSERT_STRING_EQUAL(tape_meta_get(g.meta, "source"), "windows");
	CU_ASSERT_EQUAL(g.ev[0].flags, TAPE_OPEN_MIDSTREAM);
	CU_ASSERT_EQUAL(g.ev[1].len, 2);
	CU_ASSERT_EQUAL(g.ev[2].len, 3);
	CU_ASSERT(memcmp(g.ev[2].data, "end", 3) == 0);
	CU_ASSERT_EQUAL(g.ev[3].reason, TAPE_CLOSE_END);
	got_free(&g);
}

static void test_fmt_tsv_unterminated_last_line_dropped(void)
{
	struct got g;

	/* "68" alone would parse: a cut-off line is dropped all the same. */
	read_text(&g,
		  "# tapedeck tsv v1\n"
		  "0\t1\topen\t10.0.0.1:1\t10.0.0.2:2\n"
		  "1\t1\tc2s\t6869\n"
		  "2\t1\tc2s\t68",
		  ".tsv", NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL(g.n, 2);
	CU_ASSERT_EQUAL(g.st.dropped_bytes, 10);
	CU_ASSERT_STRING_EQUAL(g.st.dropped_why, "incomplete last line 4 (no newline)");
	CU_ASSERT_EQUAL(g.st.finalised, 0);
	got_free(&g);

	/* Cut inside the metadata. */
	read_text(&g, "# tapedeck tsv v1\n# source: x\n# to", ".tsv", NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL(g.n, 0);
	CU_ASSERT_EQUAL(g.st.dropped_bytes, 4);
	CU_ASSERT_STRING_EQUAL(g.st.dropped_why, "incomplete last line 3 (no newline)");
	got_free(&g);

	/* Cut inside the header: there is no tape at all. */
	read_text(&g, "# tapedeck tsv v1", ".tsv", "tsv");
	CU_ASSERT_EQUAL(g.rc, TAPE_ETRUNC);
	CU_ASSERT_PTR_NOT_NULL(strstr(g.err, ":1: incomplete header line"));
	got_free(&g);
	read_text(&g, "", ".tsv", "tsv");
	CU_ASSERT_EQUAL(g.rc, TAPE_ETRUNC);
	got_free(&g);
}

static void test_fmt_tsv_empty_tape(void)
{
	int rc;
	char *text = write_events("tsv", ".tsv", NULL, NULL, 0, &rc, NULL, 0, NULL);
	struct got g;

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(text, "# tapedeck tsv v1\n");
	read_text(&g, text, ".tsv", NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL(g.n, 0);
	CU_ASSERT_EQUAL(g.st.finalised, 1);
	got_free(&g);
	free(text);
}

/* Payloads larger than the I/O and streaming chunks survive intact. */
static void test_fmt_tsv_large_payload(void)
{
	const size_t n = 300000;
	char *p = malloc(n);
	struct tape_event evs[2];
	char err[TAPE__ERRLEN], path[512];
	int rc;
	char *text;
	struct got g;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7 + i / 251);
	evs[0] = mk_open(0, 1, unit_ep4(10, 0, 0, 1, 1), unit_ep4(10, 0, 0, 2, 2), 0);
	evs[1] = mk_data(1000, 1, TAPE_S2C, p, n);
	text = write_events("tsv", ".tsv", NULL, evs, 2, &rc, err, sizeof err, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(strlen(text), strlen("# tapedeck tsv v1\n0\t1\topen\t10.0.0.1:1\t10.0.0.2:2\n"
					     "1\t1\ts2c\t\n") + 2 * n);
	snprintf(path, sizeof path, "%s", unit_tmpfile(".tsv"));
	unit_write_file(path, text, strlen(text));
	read_path(&g, path, NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	CU_ASSERT(same_event(&g.ev[1], &evs[1]));
	got_free(&g);
	free(text);
	free(p);
}

/* A tape cut at every byte offset (a writer killed mid-write) reads as its
 * complete lines, with the partial one reported, never as an error or a
 * shorter event. */
static void check_truncations(const char *text, const char *format, const char *suffix,
			      size_t extra_events)
{
	const size_t len = strlen(text);
	const size_t header = (size_t)(strchr(text, '\n') - text) + 1;
	char path[512];

	snprintf(path, sizeof path, "%s", unit_tmpfile(suffix));
	for (size_t k = 0; k <= len; k++) {
		size_t lines = 0, last_nl = 0;
		struct got g;

		for (size_t i = 0; i < k; i++)
			if (text[i] == '\n') {
				lines++;
				last_nl = i + 1;
			}
		unit_write_file(path, text, k);
		read_path(&g, path, format);
		if (k < header) {
			CU_ASSERT_EQUAL(g.rc, TAPE_ETRUNC);
		} else {
			size_t meta_lines = 0;
			for (const char *p = text + header; p < text + last_nl && *p == '#';
			     p = strchr(p, '\n') + 1)
				meta_lines++;
			CU_ASSERT_EQUAL(g.rc, 0);
			CU_ASSERT_EQUAL(g.n, lines - 1 - meta_lines + extra_events);
			CU_ASSERT_EQUAL(g.st.dropped_bytes, k - last_nl);
			CU_ASSERT_EQUAL(g.st.finalised, k == last_nl);
			if (g.rc || g.st.dropped_bytes != k - last_nl)
				fprintf(stderr, "\ncut at %zu: %s\n", k, g.err);
		}
		got_free(&g);
	}
}

static void test_fmt_tsv_truncated_everywhere(void)
{
	check_truncations(sample_text, "tsv", ".tsv", 0);
	/* ts_proxy: the OPEN and CLOSE come on top of the lines. */
	check_truncations("# ts_proxy recording v1\n1\tc2s\t6869\n2\ts2c\t6f6b21\n", "tsp", ".tsp",
			  2);
}

/* Random byte edits of valid files never crash a reader: each read ends
 * cleanly or with an error that names the file.  (Deterministic seed.) */
static void mutate_and_read(const char *text, const char *format, const char *suffix,
			    unsigned rounds)
{
	static const char alphabet[] = "0123456789abcdefABCDEFxg.:,#[]\\\t\n\r -";
	const size_t len = strlen(text);
	char *buf = malloc(len + 8);
	char path[512];
	uint32_t seed = 12345;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	snprintf(path, sizeof path, "%s", unit_tmpfile(suffix));
	for (unsigned round = 0; round < rounds; round++) {
		size_t n = len;
		struct got g;

		memcpy(buf, text, len);
		for (int edits = 1 + (int)(round % 3); edits > 0; edits--) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % n;
			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 8) % 3) {
			case 0: /* replace */
				buf[at] = alphabet[(seed >> 12) % (sizeof alphabet - 1)];
				break;
			case 1: /* delete */
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default: /* duplicate */
				if (n < len + 8) {
					memmove(buf + at + 1, buf + at, n - at);
					n++;
				}
				break;
			}
		}
		unit_write_file(path, buf, n);
		read_path(&g, path, format);
		CU_ASSERT(g.rc == 0 || g.rc < 0);
		if (g.rc < 0)
			CU_ASSERT(strncmp(g.err, path, strlen(path)) == 0);
		got_free(&g);
	}
	free(buf);
}

static void test_fmt_tsv_mutations(void)
{
	mutate_and_read(sample_text, NULL, ".tsv", 3000);
	mutate_and_read(tsp_example, "tsp", ".tsp", 1000);
}

/* ---- tsv: malformed input -------------------------------------------------------- */

struct bad_case {
	const char *body; /* after the header line */
	int code;
	unsigned line;
	const char *msg; /* the error text after "PATH:LINE: " */
};

static const struct bad_case bad_cases[] = {
	{"0\t1\tc2s\t6869686\n", TAPE_EFORMAT, 2, "odd-length hex payload (7 digits) in column 4"},
	{"0\t1\tc2s\t68g9\n", TAPE_EFORMAT, 2, "non-hex character 'g' at column 4 position 3"},
	{"0\t1\tc2s\t68\x01" "9\n", TAPE_EFORMAT, 2,
	 "non-hex character '\\x01' at column 4 position 3"},
	{"0\t1\tc2s\t\n", TAPE_EFORMAT, 2,
	 "empty hex payload in column 4 (data events carry at least one byte)"},
	{"0\t1\topn\t1.2.3.4:1\t1.2.3.4:2\n", TAPE_EFORMAT, 2, "unknown event \"opn\""},
	{"0\t1\tOPEN\t1.2.3.4:1\t1.2.3.4:2\n", TAPE_EFORMAT, 2, "unknown event \"OPEN\""},
	{"0\t1\t\n", TAPE_EFORMAT, 2, "empty event name in column 3"},
	{"0\t1\tgap\tc2s\n", TAPE_EFORMAT, 2, "expected 5 fields for gap, got 4"},
	{"0\t1\tc2s\t6869\t\n", TAPE_EFORMAT, 2, "expected 4 fields for c2s, got 5"},
	{"0\t1\tfin\n", TAPE_EFORMAT, 2, "expected 4 fields for fin, got 3"},
	{"0\t0\tnote\n", TAPE_EFORMAT, 2, "expected 4 fields for note, got 3"},
	{"0\t1\topen\t1.2.3.4:1\n", TAPE_EFORMAT, 2, "expected 5 or 6 fields for open, got 4"},
	{"0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\tmidstream\tx\n", TAPE_EFORMAT, 2,
	 "expected 5 or 6 fields for open, got 7"},
	{"0\t1\n", TAPE_EFORMAT, 2, "expected TIME, CONN and EVENT separated by tabs, got 2 fields"},
	{"0 1 note x\n", TAPE_EFORMAT, 2,
	 "expected TIME, CONN and EVENT separated by tabs, got 1 field"},
	{"\n", TAPE_EFORMAT, 2, "empty line"},
	{"0\t0\tnote\tx\n\n", TAPE_EFORMAT, 3, "empty line"},
	{"0\t0\tnote\tx\n# source: late\n", TAPE_EFORMAT, 3,
	 "'#' line after the first event (metadata must come before events)"},
	{"\t1\tfin\tc2s\n", TAPE_EFORMAT, 2, "empty time in column 1"},
	{"1\t\tfin\tc2s\n", TAPE_EFORMAT, 2, "empty connection id in column 2"},
	{"1\t-1\tfin\tc2s\n", TAPE_EFORMAT, 2,
	 "invalid connection id \"-1\" in column 2: expected decimal digits"},
	{"1\t18446744073709551616\tfin\tc2s\n", TAPE_EFORMAT, 2,
	 "connection id \"18446744073709551616\" in column 2 does not fit in 64 bits"},
	{"1\t0\tnote\tx\n0\t0\tnote\ty\n", TAPE_ESEQ, 3,
	 "time goes backwards: 0.000 us after 1.000 us"},
	{"0\t1\tc2s\t6869\n", TAPE_ESEQ, 2, "data on connection 1 before its open"},
	{"0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\n1\t1\tgap\tup\t1\n", TAPE_EFORMAT, 3,
	 "invalid direction \"up\" in column 4: expected c2s or s2c"},
	{"0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\n1\t1\tgap\tc2s\t1k\n", TAPE_EFORMAT, 3,
	 "invalid gap length \"1k\" in column 5: expected decimal digits"},
	{"0\t1\topen\t1.2.3.4\t1.2.3.4:2\n", TAPE_EFORMAT, 2,
	 "invalid client endpoint \"1.2.3.4\" in column 4: expected 192.0.2.1:80 or [2001:db8::1]:80"},
	{"0\t1\topen\t1.2.3.4:1\t[1.2.3.4]:2\n", TAPE_EFORMAT, 2,
	 "invalid server endpoint \"[1.2.3.4]:2\" in column 5: expected 192.0.2.1:80 or "
	 "[2001:db8::1]:80"},
	{"0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\t\n", TAPE_EFORMAT, 2,
	 "empty flags in column 6 (leave the column out when there are no flags)"},
	{"0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\tmidstream,bogus\n", TAPE_EFORMAT, 2,
	 "unknown flag \"bogus\" in column 6 (known: midstream, inferred, reused, continued)"},
	{"0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\tmidstream,,reused\n", TAPE_EFORMAT, 2,
	 "empty flag name in column 6 position 11"},
	{"0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\treused,reused\n", TAPE_EFORMAT, 2,
	 "flag \"reused\" repeated in column 6"},
	{"0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\n1\t1\tclose\tdone\n", TAPE_EFORMAT, 3,
	 "unknown close reason \"done\" in column 4 (known: fin, rst, timeout, end, evicted, error, "
	 "aborted, rotated)"},
	{"0\t0\tnote\tbad \\q escape\n", TAPE_EFORMAT, 2,
	 "bad escape \"\\\\q e\" in note text in column 4 at position 5 (known: \\\\ \\t \\n \\r "
	 "\\xHH)"},
	{"0\t0\tnote\tcut \\x4\n", TAPE_EFORMAT, 2,
	 "bad escape \"\\\\x4\" in note text in column 4 at position 5 (known: \\\\ \\t \\n \\r "
	 "\\xHH)"},
	{"0\t0\tnote\ttrailing \\\n", TAPE_EFORMAT, 2,
	 "bad escape \"\\\\\" in note text in column 4 at position 10 (known: \\\\ \\t \\n \\r "
	 "\\xHH)"},
	{"0\t0\tnote\traw\x01" "byte\n", TAPE_EFORMAT, 2,
	 "raw control byte 0x01 in note text in column 4 at position 4 (write it as \\x01)"},
	{"0\t0\tnote\tcr\rinside\n", TAPE_EFORMAT, 2,
	 "raw control byte 0x0d in note text in column 4 at position 3 (write it as \\x0d)"},
	{"0\t0\tnote\tnul \\x00\n", TAPE_EFORMAT, 2, "note contains a NUL byte"},
	{"0\t1\tnote\tx\n", TAPE_ESEQ, 2, "note on connection 1 before its open"},
	{"# source=x\n", TAPE_EFORMAT, 2,
	 "malformed metadata line \"# source=x\": expected \"# KEY: VALUE\" with KEY of letters, "
	 "digits, '_', '.', '-'"},
	{"#source: x\n", TAPE_EFORMAT, 2,
	 "malformed metadata line \"#source: x\": expected \"# KEY: VALUE\""},
	{"# source:x\n", TAPE_EFORMAT, 2,
	 "malformed metadata line \"# source:x\": expected \"# KEY: VALUE\" with KEY of letters, "
	 "digits, '_', '.', '-'"},
	{"# a b: x\n", TAPE_EFORMAT, 2,
	 "malformed metadata line \"# a b: x\": expected \"# KEY: VALUE\" with KEY of letters, "
	 "digits, '_', '.', '-'"},
	{"# source: a\n# source: b\n", TAPE_EFORMAT, 3, "duplicate metadata key \"source\""},
	{"# start: 1\n# start: 2\n", TAPE_EFORMAT, 3, "duplicate metadata key \"start\""},
	{"# start: yesterday\n", TAPE_EFORMAT, 2,
	 "invalid start time \"yesterday\" (expected RFC 3339 like 2026-11-21T10:00:00.000000000Z)"},
	{"# source: a\\qb\n", TAPE_EFORMAT, 2,
	 "bad escape \"\\\\qb\" in value of metadata key \"source\" at position 2 (known: \\\\ \\t "
	 "\\n \\r \\xHH)"},
	{"# source: a\\x00b\n", TAPE_EFORMAT, 2,
	 "metadata value for \"source\" contains a NUL byte"},
	{"# k123456789012345678901234567890123456789012345678901234567890123456789: x\n",
	 TAPE_ELIMIT, 2,
	 "metadata key \"k123456789012345678901234567890123456789...\" is longer than 64 bytes"},
};

static void check_bad(const struct bad_case *c)
{
	char text[512], want[1024];
	struct got g;

	snprintf(text, sizeof text, "# tapedeck tsv v1\n%s", c->body);
	read_text(&g, text, ".tsv", NULL);
	snprintf(want, sizeof want, "%s:%u: %s", g.path, c->line, c->msg);
	CU_ASSERT_EQUAL(g.rc, c->code);
	if (!same("error message", g.err, want) || g.rc != c->code)
		fprintf(stderr, "(input: \"%s\", code %s)\n", c->body, tape_err_name(g.rc));
	CU_ASSERT_STRING_EQUAL(g.err, want);
	got_free(&g);
}

static void test_fmt_tsv_malformed_lines(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
		check_bad(&bad_cases[i]);
}

static void test_fmt_tsv_bad_header(void)
{
	struct got g;
	char want[1024];

	/* Named explicitly, so the tsv backend itself judges the first line. */
	read_text(&g, "# tapedeck tsv v2\n", ".tsv", "tsv");
	CU_ASSERT_EQUAL(g.rc, TAPE_EVERSION);
	snprintf(want, sizeof want, "%s:1: unsupported tsv version \"v2\" (this library reads v1)",
		 g.path);
	CU_ASSERT(same("version", g.err, want));
	got_free(&g);

	read_text(&g, "# tapedeck tsv v1 \n", ".tsv", "tsv");
	CU_ASSERT_EQUAL(g.rc, TAPE_EFORMAT);
	snprintf(want, sizeof want,
		 "%s:1: not a tapedeck tsv file: first line \"# tapedeck tsv v1 \", expected \"# "
		 "tapedeck tsv v1\"",
		 g.path);
	CU_ASSERT(same("magic", g.err, want));
	got_free(&g);

	/* Probing finds no format for a near miss. */
	read_text(&g, "# tapedeck tsv v1 \n", ".tsv", NULL);
	CU_ASSERT_EQUAL(g.rc, TAPE_EUNKNOWN);
	got_free(&g);
}

/* A line over the cap fails before the reader buffers it all: TAPE_ELIMIT. */
static void test_fmt_tsv_line_too_long(void)
{
	const size_t max = 2 * (size_t)TAPE_MAX_DATA + 1024;
	const size_t n = max + 100;
	const char head[] = "# tapedeck tsv v1\n0\t1\topen\t1.2.3.4:1\t1.2.3.4:2\n1\t1\tc2s\t";
	char *text = malloc(sizeof head + n + 1);
	char path[512], want[1024];
	struct got g;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	memcpy(text, head, sizeof head - 1);
	memset(text + sizeof head - 1, 'a', n);
	memcpy(text + sizeof head - 1 + n, "\n", 2);
	snprintf(path, sizeof path, "%s", unit_tmpfile(".tsv"));
	unit_write_file(path, text, strlen(text));
	free(text);
	read_path(&g, path, NULL);
	CU_ASSERT_EQUAL(g.rc, TAPE_ELIMIT);
	CU_ASSERT_EQUAL(g.n, 1);
	snprintf(want, sizeof want, "%s:3: line longer than %zu bytes", path, max);
	CU_ASSERT(same("long line", g.err, want));
	got_free(&g);
	unlink(path);
}

/* ---- the hostile corpus ------------------------------------------------------------ */

/* tests/data/bad, found from $TOP_SRCDIR (make check) or this file's path. */
static void bad_dir(char *buf, size_t size)
{
	const char *top = getenv("TOP_SRCDIR");
	const char *slash;

	if (top && *top) {
		snprintf(buf, size, "%s/tests/data/bad", top);
		return;
	}
	slash = strrchr(__FILE__, '/');
	if (slash)
		snprintf(buf, size, "%.*s/data/bad", (int)(slash - __FILE__), __FILE__);
	else
		snprintf(buf, size, "data/bad");
}

static int code_by_name(const char *name)
{
#define CODE_BY_NAME(n, v, m) \
	if (strcmp(name, #n) == 0) \
		return TAPE_##n;
	TAPE_ERRNO_MAP(CODE_BY_NAME)
#undef CODE_BY_NAME
	return 0;
}

/* Every file in tests/data/bad fails exactly as EXPECT says, and every file
 * there is listed. */
static void test_fmt_tsv_bad_corpus(void)
{
	char dir[1024], path[2100], line[1024];
	char *names[128];
	size_t nnames = 0;
	FILE *f;
	DIR *d;
	struct dirent *de;

	bad_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/EXPECT", dir);
	f = fopen(path, "r");
	if (!f)
		fprintf(stderr, "\ncannot open %s: %s\n", path, strerror(errno));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof line, f)) {
		char *name = line, *code, *msg, *nl;
		struct tape_reader *r = NULL;
		struct tape_event ev;
		int fd, rc;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		nl = strchr(line, '\n');
		CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
		*nl = '\0';
		code = strchr(name, '\t');
		CU_ASSERT_PTR_NOT_NULL_FATAL(code);
		*code++ = '\0';
		msg = strchr(code, '\t');
		CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
		*msg++ = '\0';
		if (nnames < 128)
			names[nnames++] = strdup(name);

		snprintf(path, sizeof path, "%s/%s", dir, name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			fprintf(stderr, "\ncannot open %s: %s\n", path, strerror(errno));
		CU_ASSERT_FATAL(fd >= 0);
		rc = tape_reader_open_fd(&r, fd, name, NULL);
		while (rc == 0 && (rc = tape_reader_next(r, &ev)) == 1)
			rc = 0;
		CU_ASSERT_EQUAL(rc, code_by_name(code));
		if (!same(name, tape_reader_error(r), msg) || rc != code_by_name(code)) {
			fprintf(stderr, "(code %s, want %s)\n", tape_err_name(rc), code);
			CU_FAIL("unexpected error");
		}
		tape_reader_free(r);
		close(fd);
	}
	fclose(f);

	d = opendir(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL) {
		size_t i;
		if (de->d_name[0] == '.' || strcmp(de->d_name, "EXPECT") == 0)
			continue;
		for (i = 0; i < nnames; i++)
			if (strcmp(names[i], de->d_name) == 0)
				break;
		if (i == nnames)
			fprintf(stderr, "\n%s is not listed in EXPECT\n", de->d_name);
		CU_ASSERT(i < nnames);
	}
	closedir(d);
	CU_ASSERT(nnames >= 20);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
}

/* ---- probing ---------------------------------------------------------------------- */

static void test_fmt_tsv_probe(void)
{
	static const char tsv[] = "# tapedeck tsv v1\n0\t0\tnote\tx\n";
	static const char tsp[] = "# ts_proxy recording v1\n1\tc2s\t00\n";
	const uint8_t *t = (const uint8_t *)tsv, *p = (const uint8_t *)tsp;

	CU_ASSERT_EQUAL(tape__format_tsv.probe(t, strlen(tsv)), 1);
	CU_ASSERT_EQUAL(tape__format_tsv.probe(t, 18), 1);
	CU_ASSERT_EQUAL(tape__format_tsv.probe((const uint8_t *)"# tapedeck tsv v1\r\n", 19), 1);
	/* Every proper prefix of the magic line is a "no". */
	for (size_t n = 0; n < 18; n++)
		CU_ASSERT_EQUAL(tape__format_tsv.probe(t, n), 0);
	CU_ASSERT_EQUAL(tape__format_tsv.probe((const uint8_t *)"# tapedeck tsv v1\r", 18), 0);
	CU_ASSERT_EQUAL(tape__format_tsv.probe((const uint8_t *)"# tapedeck tsv v10\n", 19), 0);
	CU_ASSERT_EQUAL(tape__format_tsv.probe(p, strlen(tsp)), 0);

	CU_ASSERT_EQUAL(tape__format_tsp.probe(p, strlen(tsp)), 1);
	CU_ASSERT_EQUAL(tape__format_tsp.probe(p, 24), 1);
	for (size_t n = 0; n < 24; n++)
		CU_ASSERT_EQUAL(tape__format_tsp.probe(p, n), 0);
	CU_ASSERT_EQUAL(tape__format_tsp.probe((const uint8_t *)"# ts_proxy recording v2\n", 24), 0);
	CU_ASSERT_EQUAL(tape__format_tsp.probe(t, strlen(tsv)), 0);

	CU_ASSERT_STRING_EQUAL(tape__format_tsv.name, "tsv");
	CU_ASSERT_STRING_EQUAL(tape__format_tsp.name, "tsp");
	CU_ASSERT_STRING_EQUAL(tape_format_from_path("x/a.tsv"), "tsv");
	CU_ASSERT_STRING_EQUAL(tape_format_from_path("a.tsp"), "tsp");
}

/* ---- tsp: ts_proxy recordings -------------------------------------------------- */


static void test_fmt_tsv_tsp_read(void)
{
	struct tape_endpoint any = unit_ep4(0, 0, 0, 0, 0);
	struct tape_event want[4] = {
		mk_open(0, 1, any, any, 0),
		mk_data(123000, 1, TAPE_C2S, "hello", 5),
		mk_data(456000, 1, TAPE_S2C, "world", 5),
		mk_close(456000, 1, TAPE_CLOSE_END),
	};
	struct got g;

	read_text(&g, tsp_example, ".tsp", NULL);
	CU_ASSERT_STRING_EQUAL(g.format, "tsp");
	CU_ASSERT_EQUAL(g.rc, 0);
	if (g.rc)
		fprintf(stderr, "\n%s\n", g.err);
	CU_ASSERT_EQUAL_FATAL(g.n, 4);
	for (size_t i = 0; i < 4; i++)
		CU_ASSERT(same_event(&g.ev[i], &want[i]));
	CU_ASSERT_EQUAL(g.ev[0].client.family, 4);
	CU_ASSERT_STRING_EQUAL(tape_meta_get(g.meta, "source"), "ts_proxy recording");
	CU_ASSERT_EQUAL(tape_meta_start(g.meta), 0);
	CU_ASSERT_EQUAL(g.st.finalised, 1);
	got_free(&g);

	/* No frames: the connection still opens and closes. */
	read_text(&g, "# ts_proxy recording v1\n", ".tsp", NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	CU_ASSERT(same_event(&g.ev[0], &want[0]));
	CU_ASSERT(same_event(&g.ev[1], &(struct tape_event){.kind = TAPE_EV_CLOSE, .conn = 1,
							     .reason = TAPE_CLOSE_END}));
	got_free(&g);

	/* CRLF, upper-case hex, and a cut-off last line. */
	read_text(&g, "# ts_proxy recording v1\r\n5\tc2s\tFF00\r\n6\ts2c\t00", ".tsp", NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 3);
	CU_ASSERT(memcmp(g.ev[1].data, "\xff\x00", 2) == 0);
	CU_ASSERT_EQUAL(g.ev[2].kind, TAPE_EV_CLOSE);
	CU_ASSERT_EQUAL(g.ev[2].time_ns, 5000);
	CU_ASSERT_EQUAL(g.st.dropped_bytes, 8);
	CU_ASSERT_STRING_EQUAL(g.st.dropped_why, "incomplete last line 3 (no newline)");
	CU_ASSERT_EQUAL(g.st.finalised, 0);
	got_free(&g);
}

static void test_fmt_tsv_tsp_write(void)
{
	struct tape_event evs[] = {
		mk_open(0, 42, unit_ep4(192, 0, 2, 1, 5000), unit_ep4(192, 0, 2, 2, 80), TAPE_OPEN_MIDSTREAM),
		mk_note(1000, 0, "dropped: conn 0 note"),
		mk_data(123000, 42, TAPE_C2S, "hello", 5),
		mk_note(200000, 42, "dropped: note"),
		mk_data(456999, 42, TAPE_S2C, "world", 5), /* 456.999 us is cut to 456 */
		mk_dir(TAPE_EV_FIN, 500000, 42, TAPE_C2S),
		mk_close(600000, 42, TAPE_CLOSE_FIN),
	};
	struct tape_meta *m = sample_meta();
	char err[TAPE__ERRLEN], path[512], back[512];
	uint64_t dropped = 0;
	int rc;
	char *text = write_events("tsp", ".tsp", m, evs, sizeof evs / sizeof evs[0], &rc, err,
				  sizeof err, &dropped);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same("tsp", text, tsp_example));
	CU_ASSERT_EQUAL(dropped, 3);
	free(text);
	tape_meta_free(m);

	/* And the example survives tsp -> tsv -> tsp byte for byte. */
	snprintf(path, sizeof path, "%s", unit_tmpfile(".tsp"));
	unit_write_file(path, tsp_example, strlen(tsp_example));
	{
		char mid[512];
		convert(path, NULL, ".tsv", NULL, mid);
		text = slurp(mid);
		CU_ASSERT(same("tsp as tsv", text,
			       "# tapedeck tsv v1\n"
			       "# source: ts_proxy recording\n"
			       "0\t1\topen\t0.0.0.0:0\t0.0.0.0:0\n"
			       "123\t1\tc2s\t68656c6c6f\n"
			       "456\t1\ts2c\t776f726c64\n"
			       "456\t1\tclose\tend\n"));
		free(text);
		convert(mid, NULL, ".tsp", NULL, back);
	}
	text = slurp(back);
	CU_ASSERT(same("tsp round trip", text, tsp_example));
	free(text);
}

static void test_fmt_tsv_tsp_write_rejects(void)
{
	struct tape_endpoint a = unit_ep4(10, 0, 0, 1, 1), b = unit_ep4(10, 0, 0, 2, 2);
	struct reject {
		struct tape_event second;
		const char *msg;
	};
	static const struct reject cases[] = {
		{{.kind = TAPE_EV_OPEN, .time_ns = 2000, .conn = 8, .client = {4, {10}, 1},
		  .server = {4, {10}, 2}},
		 "ts_proxy recordings hold one connection; this tape has more (conn 8)"},
		{{.kind = TAPE_EV_GAP, .time_ns = 2000, .conn = 7, .dir = TAPE_S2C, .gap = 1400},
		 "ts_proxy recordings cannot hold a gap (1400 s2c bytes missing on conn 7)"},
		{{.kind = TAPE_EV_RST, .time_ns = 2000, .conn = 7, .dir = TAPE_C2S},
		 "ts_proxy recordings cannot hold a reset (c2s rst on conn 7)"},
	};

	for (const struct reject *c = cases; c < cases + sizeof cases / sizeof cases[0]; c++) {
		struct tape_event evs[3] = {
			mk_open(0, 7, a, b, 0),
			mk_data(1000, 7, TAPE_C2S, "hi", 2),
			c->second,
		};
		char err[TAPE__ERRLEN], want[TAPE__ERRLEN + 600];
		int rc;
		const char *path;
		char *text = write_events("tsp", ".tsp", NULL, evs, 3, &rc, err, sizeof err, NULL);

		CU_ASSERT_EQUAL(rc, TAPE_EUNSUP);
		/* The path is the last temporary file made. */
		path = strchr(err, ':');
		CU_ASSERT_PTR_NOT_NULL_FATAL(path);
		snprintf(want, sizeof want, "%.*s: %s", (int)(path - err), err, c->msg);
		CU_ASSERT(same("tsp rejection", err, want));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, ".tsp: "));
		free(text);
	}
}

struct tsp_bad {
	const char *body;
	int code;
	unsigned line;
	const char *msg;
};

static const struct tsp_bad tsp_bad_cases[] = {
	{"1\tc2s\t\n", TAPE_EFORMAT, 2,
	 "empty payload in column 3: a zero-length frame cannot be a tape data event"},
	{"1\tc2s\t00\n\n", TAPE_EFORMAT, 3, "empty line (a recording has no blank lines)"},
	{"# ts_proxy recording v1\n", TAPE_EFORMAT, 2,
	 "unexpected comment line (only the first line is one)"},
	{"1\tc2s\n", TAPE_EFORMAT, 2, "expected 3 fields (ELAPSED_US, c2s or s2c, HEX), got 2"},
	{"1\tc2s\t00\t\n", TAPE_EFORMAT, 2, "expected 3 fields (ELAPSED_US, c2s or s2c, HEX), got 4"},
	{"1.5\tc2s\t00\n", TAPE_EFORMAT, 2,
	 "invalid time \"1.5\" in column 1: expected whole microseconds"},
	{"\tc2s\t00\n", TAPE_EFORMAT, 2, "empty time in column 1"},
	{"4611686018427388\tc2s\t00\n", TAPE_EFORMAT, 2,
	 "time \"4611686018427388\" in column 1 is beyond the largest tape time (4611686018427387 us)"},
	{"1\tC2S\t00\n", TAPE_EFORMAT, 2, "invalid direction \"C2S\" in column 2: expected c2s or s2c"},
	{"1\tc2s\t001\n", TAPE_EFORMAT, 2, "odd-length hex payload (3 digits) in column 3"},
	{"1\tc2s\t0z\n", TAPE_EFORMAT, 2, "non-hex character 'z' at column 3 position 2"},
	{"9\tc2s\t00\n8\ts2c\t00\n", TAPE_ESEQ, 3, "time goes backwards: 8.000 us after 9.000 us"},
};

static void test_fmt_tsv_tsp_malformed(void)
{
	for (size_t i = 0; i < sizeof tsp_bad_cases / sizeof tsp_bad_cases[0]; i++) {
		const struct tsp_bad *c = &tsp_bad_cases[i];
		char text[256], want[1024];
		struct got g;

		snprintf(text, sizeof text, "# ts_proxy recording v1\n%s", c->body);
		read_text(&g, text, ".tsp", NULL);
		snprintf(want, sizeof want, "%s:%u: %s", g.path, c->line, c->msg);
		CU_ASSERT_EQUAL(g.rc, c->code);
		if (!same("tsp error", g.err, want))
			fprintf(stderr, "(input: \"%s\")\n", c->body);
		CU_ASSERT_STRING_EQUAL(g.err, want);
		got_free(&g);
	}
}

void test_fmt_tsv_register(void)
{
	static const struct unit_test tests[] = {
		{"test_fmt_tsv_write_canonical", test_fmt_tsv_write_canonical},
		{"test_fmt_tsv_read_every_event", test_fmt_tsv_read_every_event},
		{"test_fmt_tsv_each_kind_roundtrip", test_fmt_tsv_each_kind_roundtrip},
		{"test_fmt_tsv_canonical_via_binary", test_fmt_tsv_canonical_via_binary},
		{"test_fmt_tsv_note_escapes_survive", test_fmt_tsv_note_escapes_survive},
		{"test_fmt_tsv_meta_escapes_roundtrip", test_fmt_tsv_meta_escapes_roundtrip},
		{"test_fmt_tsv_meta_start_forms", test_fmt_tsv_meta_start_forms},
		{"test_fmt_tsv_fraction_digits", test_fmt_tsv_fraction_digits},
		{"test_fmt_tsv_uppercase_hex", test_fmt_tsv_uppercase_hex},
		{"test_fmt_tsv_crlf", test_fmt_tsv_crlf},
		{"test_fmt_tsv_unterminated_last_line_dropped",
		 test_fmt_tsv_unterminated_last_line_dropped},
		{"test_fmt_tsv_empty_tape", test_fmt_tsv_empty_tape},
		{"test_fmt_tsv_large_payload", test_fmt_tsv_large_payload},
		{"test_fmt_tsv_truncated_everywhere", test_fmt_tsv_truncated_everywhere},
		{"test_fmt_tsv_mutations", test_fmt_tsv_mutations},
		{"test_fmt_tsv_malformed_lines", test_fmt_tsv_malformed_lines},
		{"test_fmt_tsv_bad_header", test_fmt_tsv_bad_header},
		{"test_fmt_tsv_line_too_long", test_fmt_tsv_line_too_long},
		{"test_fmt_tsv_bad_corpus", test_fmt_tsv_bad_corpus},
		{"test_fmt_tsv_probe", test_fmt_tsv_probe},
		{"test_fmt_tsv_tsp_read", test_fmt_tsv_tsp_read},
		{"test_fmt_tsv_tsp_write", test_fmt_tsv_tsp_write},
		{"test_fmt_tsv_tsp_write_rejects", test_fmt_tsv_tsp_write_rejects},
		{"test_fmt_tsv_tsp_malformed", test_fmt_tsv_tsp_malformed},
		{NULL, NULL},
	};

	unit_add_suite("fmt_tsv", tests);
}
