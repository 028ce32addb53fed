/* SPDX-License-Identifier: BSD-2-Clause */
/* test_roundtrip.c - random tapes through every writer and reader, and the I/O they sit on. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "randtape.h"
#include "tape-int.h"
#include "unit.h"

/* Seeds run by test_roundtrip_random_seeds. */
#define RT_SEEDS 200

/* ---- event lists --------------------------------------------------------- */

/* Events with their own copies of the bytes they point to. */
struct evlist {
	struct tape_event *v;
	size_t n, cap;
};

static int evlist_add(struct evlist *l, const struct tape_event *ev)
{
	struct tape_event e = *ev;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? 2 * l->cap : 64;
		void *nv = realloc(l->v, ncap * sizeof *l->v);
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = ncap;
	}
	if (e.len) {
		uint8_t *p = malloc(e.len);
		if (!p)
			return -1;
		memcpy(p, ev->data, e.len);
		e.data = p;
	} else {
		e.data = NULL;
	}
	l->v[l->n++] = e;
	return 0;
}

static void evlist_free(struct evlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((void *)(uintptr_t)l->v[i].data);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* 1 when a and b are the same event; else 0 with the difference in why. */
static int event_equal(const struct tape_event *a, const struct tape_event *b, char *why, size_t n)
{
#define DIFF(...)                              \
	do {                                   \
		snprintf(why, n, __VA_ARGS__); \
		return 0;                      \
	} while (0)
	if (a->kind != b->kind)
		DIFF("kind %d vs %d", (int)a->kind, (int)b->kind);
	if (a->time_ns != b->time_ns)
		DIFF("time %llu vs %llu", (unsigned long long)a->time_ns,
		     (unsigned long long)b->time_ns);
	if (a->conn != b->conn)
		DIFF("conn %llu vs %llu", (unsigned long long)a->conn, (unsigned long long)b->conn);
	switch (a->kind) {
	case TAPE_EV_OPEN:
		if (!tape_endpoint_equal(&a->client, &b->client) ||
		    memcmp(a->client.addr, b->client.addr, 16) != 0)
			DIFF("client endpoint");
		if (!tape_endpoint_equal(&a->server, &b->server) ||
		    memcmp(a->server.addr, b->server.addr, 16) != 0)
			DIFF("server endpoint");
		if (a->flags != b->flags)
			DIFF("flags %x vs %x", a->flags, b->flags);
		break;
	case TAPE_EV_DATA:
	case TAPE_EV_NOTE:
		if (a->kind == TAPE_EV_DATA && a->dir != b->dir)
			DIFF("dir %d vs %d", (int)a->dir, (int)b->dir);
		if (a->len != b->len)
			DIFF("len %zu vs %zu", a->len, b->len);
		if (a->len && memcmp(a->data, b->data, a->len) != 0)
			DIFF("bytes differ");
		break;
	case TAPE_EV_GAP:
		if (a->dir != b->dir || a->gap != b->gap)
			DIFF("gap %d/%llu vs %d/%llu", (int)a->dir, (unsigned long long)a->gap,
			     (int)b->dir, (unsigned long long)b->gap);
		break;
	case TAPE_EV_FIN:
	case TAPE_EV_RST:
		if (a->dir != b->dir)
			DIFF("dir %d vs %d", (int)a->dir, (int)b->dir);
		break;
	case TAPE_EV_CLOSE:
		if (a->reason != b->reason)
			DIFF("reason %d vs %d", (int)a->reason, (int)b->reason);
		break;
	}
	return 1;
#undef DIFF
}

static int meta_equal(const struct tape_meta *a, const struct tape_meta *b, char *why, size_t n)
{
	const char *ka, *va, *kb, *vb;

	if (tape_meta_start(a) != tape_meta_start(b)) {
		snprintf(why, n, "start %llu vs %llu", (unsigned long long)tape_meta_start(a),
			 (unsigned long long)tape_meta_start(b));
		return 0;
	}
	if (tape_meta_count(a) != tape_meta_count(b)) {
		snprintf(why, n, "%zu vs %zu pairs", tape_meta_count(a), tape_meta_count(b));
		return 0;
	}
	for (size_t i = 0; i < tape_meta_count(a); i++) {
		if (tape_meta_at(a, i, &ka, &va) || tape_meta_at(b, i, &kb, &vb) ||
		    strcmp(ka, kb) || strcmp(va, vb)) {
			snprintf(why, n, "pair %zu differs", i);
			return 0;
		}
	}
	return 1;
}

/* ---- generating, writing, reading ------------------------------------------ */

/* A random tape for seed: metadata plus a valid event sequence. */
static int make_tape(uint64_t seed, struct tape_meta **meta, struct evlist *l)
{
	struct randtape_opts o = {.seed = seed};
	struct randtape_rng rng;
	struct randtape *g = NULL;
	struct tape_event ev;
	uint64_t n;
	int rc = -1;

	randtape_rng_seed(&rng, ~seed);
	o.conns = 1 + randtape_rng_below(&rng, 40);
	o.max_live = 1 + (unsigned)randtape_rng_below(&rng, 12);
	o.max_data = 100000;
	o.max_note = seed % 17 == 0 ? TAPE_MAX_NOTE : 300;
	n = seed % 10 == 0 ? randtape_rng_below(&rng, 4) : 1 + randtape_rng_below(&rng, 200);
	o.events = n;
	*meta = NULL;
	if (randtape_new(&g, &o) || tape_meta_new(meta) || randtape_meta(g, *meta))
		goto out;
	for (uint64_t i = 0; i < n; i++) {
		randtape_next(g, &ev);
		if (evlist_add(l, &ev))
			goto out;
	}
	while (randtape_finish(g, &ev))
		if (evlist_add(l, &ev))
			goto out;
	rc = 0;
out:
	randtape_free(g);
	return rc;
}

static int write_tape(const char *path, const char *format, const struct tape_meta *meta,
		      const struct evlist *l)
{
	struct tape_writer *w = NULL;
	int rc = tape_writer_open(&w, path, format, meta, NULL);

	for (size_t i = 0; rc == 0 && i < l->n; i++)
		rc = tape_writer_write(w, &l->v[i]);
	if (rc == 0)
		rc = tape_writer_close(w);
	if (rc)
		fprintf(stderr, "\nwriting %s: %s\n", path, tape_writer_error(w));
	tape_writer_free(w);
	return rc;
}

/* Reads path (probing its format), expects format, meta and the events of
 * l, and a properly finalised end.  0 when all is equal. */
static int read_compare(const char *path, const char *format, const struct tape_meta *meta,
			const struct evlist *l, uint64_t seed)
{
	struct tape_reader *r = NULL;
	struct tape_reader_status st;
	struct tape_event ev;
	char why[128];
	size_t i = 0;
	int rc, bad = 0;

	rc = tape_reader_open(&r, path, NULL);
	if (rc) {
		fprintf(stderr, "\nseed %llu: opening %s: %s\n", (unsigned long long)seed, path,
			tape_reader_error(r));
		bad = 1;
		goto out;
	}
	if (strcmp(tape_reader_format(r), format) != 0) {
		fprintf(stderr, "\nseed %llu: %s probed as %s\n", (unsigned long long)seed, path,
			tape_reader_format(r));
		bad = 1;
	}
	if (!meta_equal(meta, tape_reader_meta(r), why, sizeof why)) {
		fprintf(stderr, "\nseed %llu: %s metadata: %s\n", (unsigned long long)seed, format,
			why);
		bad = 1;
	}
	while ((rc = tape_reader_next(r, &ev)) == 1) {
		if (i >= l->n) {
			fprintf(stderr, "\nseed %llu: %s has more than %zu events\n",
				(unsigned long long)seed, format, l->n);
			bad = 1;
			break;
		}
		if (!event_equal(&l->v[i], &ev, why, sizeof why)) {
			fprintf(stderr, "\nseed %llu: %s event %zu (%s): %s\n",
				(unsigned long long)seed, format, i,
				tape_event_kind_name(l->v[i].kind), why);
			bad = 1;
			break;
		}
		i++;
	}
	if (rc < 0) {
		fprintf(stderr, "\nseed %llu: reading %s: %s\n", (unsigned long long)seed, format,
			tape_reader_error(r));
		bad = 1;
	} else if (!bad && i != l->n) {
		fprintf(stderr, "\nseed %llu: %s: %zu of %zu events\n", (unsigned long long)seed,
			format, i, l->n);
		bad = 1;
	}
	if (!bad) {
		tape_reader_status(r, &st);
		if (st.events != l->n || !st.finalised || st.dropped_bytes != 0) {
			fprintf(stderr,
				"\nseed %llu: %s status: %llu events, finalised %d, dropped %llu\n",
				(unsigned long long)seed, format, (unsigned long long)st.events,
				st.finalised, (unsigned long long)st.dropped_bytes);
			bad = 1;
		}
		/* The end is sticky. */
		if (tape_reader_next(r, &ev) != 0)
			bad = 1;
	}
out:
	tape_reader_free(r);
	return bad ? -1 : 0;
}

/* What `tapedeck convert` does, through the public API only: every event
 * of in, with its metadata, into out in out_format. */
static int convert(const char *in, const char *out, const char *out_format)
{
	struct tape_reader *r = NULL;
	struct tape_writer *w = NULL;
	struct tape_event ev;
	int rc;

	rc = tape_reader_open(&r, in, NULL);
	if (rc) {
		fprintf(stderr, "\nconvert: %s\n", tape_reader_error(r));
		goto out;
	}
	rc = tape_writer_open(&w, out, out_format, tape_reader_meta(r), NULL);
	if (rc) {
		fprintf(stderr, "\nconvert: %s\n", tape_writer_error(w));
		goto out;
	}
	while ((rc = tape_reader_next(r, &ev)) == 1)
		if ((rc = tape_writer_write(w, &ev)) != 0) {
			fprintf(stderr, "\nconvert: %s\n", tape_writer_error(w));
			goto out;
		}
	if (rc < 0) {
		fprintf(stderr, "\nconvert: %s\n", tape_reader_error(r));
		goto out;
	}
	rc = tape_writer_close(w);
	if (rc)
		fprintf(stderr, "\nconvert: %s\n", tape_writer_error(w));
out:
	tape_writer_free(w);
	tape_reader_free(r);
	return rc;
}

/* 0 when the two files hold the same bytes. */
static int same_file(const char *a, const char *b)
{
	size_t na = 0, nb = 0;
	uint8_t *pa = unit_read_file(a, &na), *pb = unit_read_file(b, &nb);
	int rc = -1;

	if (pa && pb && na == nb && memcmp(pa, pb, na) == 0)
		rc = 0;
	else if (pa && pb) {
		size_t i = 0;
		while (i < na && i < nb && pa[i] == pb[i])
			i++;
		fprintf(stderr, "\n%s (%zu bytes) and %s (%zu bytes) differ at byte %zu\n", a, na,
			b, nb, i);
	}
	free(pa);
	free(pb);
	return rc;
}

/* Temporary files, named once and reused by every seed (unit.c removes
 * them at exit). */
enum { F_TAPE, F_TSV, F_TAPE2, F_TSV2, F_TAPE3, F_TSV3, NFILES };
static char files[NFILES][512];

static const char *file(int i)
{
	static const char *const suffix[NFILES] = {".tape", ".tsv",  ".tape",
						   ".tsv",  ".tape", ".tsv"};

	if (!files[i][0])
		snprintf(files[i], sizeof files[i], "%s", unit_tmpfile(suffix[i]));
	return files[i];
}

/* Everything one seed is checked for; 0 when all passes. */
static int round_trip_seed(uint64_t seed)
{
	struct tape_meta *meta = NULL;
	struct evlist l = {0};
	int rc = -1;

	if (make_tape(seed, &meta, &l)) {
		fprintf(stderr, "\nseed %llu: cannot generate\n", (unsigned long long)seed);
		goto out;
	}
	/* Written directly in both formats, each reads back equal. */
	if (write_tape(file(F_TAPE), NULL, meta, &l) || write_tape(file(F_TSV), NULL, meta, &l) ||
	    read_compare(file(F_TAPE), "tape", meta, &l, seed) ||
	    read_compare(file(F_TSV), "tsv", meta, &l, seed))
		goto out;
	/* tape -> tsv -> tape: the tsv is the one written directly and the
	 * tape comes back byte for byte. */
	if (convert(file(F_TAPE), file(F_TSV2), NULL) || same_file(file(F_TSV), file(F_TSV2)) ||
	    convert(file(F_TSV2), file(F_TAPE2), NULL) || same_file(file(F_TAPE), file(F_TAPE2))) {
		fprintf(stderr, "seed %llu: tape -> tsv -> tape\n", (unsigned long long)seed);
		goto out;
	}
	/* tsv -> tape -> tsv, likewise. */
	if (convert(file(F_TSV), file(F_TAPE3), "tape") || same_file(file(F_TAPE), file(F_TAPE3)) ||
	    convert(file(F_TAPE3), file(F_TSV3), "tsv") || same_file(file(F_TSV), file(F_TSV3))) {
		fprintf(stderr, "seed %llu: tsv -> tape -> tsv\n", (unsigned long long)seed);
		goto out;
	}
	rc = 0;
out:
	evlist_free(&l);
	tape_meta_free(meta);
	return rc;
}

/* RT_SEEDS seeds from 1; TAPE_TEST_SEEDS=N and TAPE_TEST_SEED_BASE=S in the
 * environment run N seeds from S instead, to hunt further or replay one. */
static void test_roundtrip_random_seeds(void)
{
	const char *ns = getenv("TAPE_TEST_SEEDS"), *bs = getenv("TAPE_TEST_SEED_BASE");
	uint64_t n = ns && *ns ? strtoull(ns, NULL, 10) : RT_SEEDS;
	uint64_t base = bs && *bs ? strtoull(bs, NULL, 10) : 1;
	unsigned failed = 0;

	for (uint64_t seed = base; seed - base < n; seed++)
		if (round_trip_seed(seed) && ++failed >= 3)
			break; /* enough to go on */
	CU_ASSERT_EQUAL(failed, 0);
}

/* The generator itself: valid (the writer's checker accepts everything),
 * every kind present, payloads up to the limit asked for. */
static void test_roundtrip_generator_coverage(void)
{
	struct randtape_opts o = {.seed = 99, .max_data = 100000, .max_live = 8};
	struct randtape *g = NULL;
	struct tape__check c;
	struct tape_event ev;
	char err[TAPE__ERRLEN];
	unsigned kinds = 0, v6 = 0, v4 = 0, conn0 = 0, bigdata = 0, onebyte = 0, flags = 0;
	size_t maxlive = 0;

	CU_ASSERT_EQUAL_FATAL(randtape_new(&g, &o), 0);
	tape__check_init(&c);
	for (int i = 0; i < 20000; i++) {
		randtape_next(g, &ev);
		if (tape__check_event(&c, &ev, err, sizeof err) != 0) {
			CU_FAIL(err);
			break;
		}
		kinds |= 1u << ev.kind;
		if (ev.kind == TAPE_EV_OPEN) {
			v4 += ev.client.family == 4;
			v6 += ev.client.family == 6;
			flags |= ev.flags;
		}
		conn0 += ev.kind == TAPE_EV_NOTE && ev.conn == 0;
		bigdata += ev.kind == TAPE_EV_DATA && ev.len == 100000;
		onebyte += ev.kind == TAPE_EV_DATA && ev.len == 1;
		if (randtape_live(g) > maxlive)
			maxlive = randtape_live(g);
	}
	while (randtape_finish(g, &ev))
		if (tape__check_event(&c, &ev, err, sizeof err) != 0) {
			CU_FAIL(err);
			break;
		}
	CU_ASSERT_EQUAL(randtape_live(g), 0);
	CU_ASSERT_EQUAL(kinds, 0xfeu); /* kinds 1..7 */
	CU_ASSERT(v4 > 0 && v6 > 0);
	CU_ASSERT(conn0 > 0);
	CU_ASSERT(bigdata > 0 && onebyte > 0);
	CU_ASSERT_EQUAL(flags, TAPE_OPEN_KNOWN_FLAGS);
	CU_ASSERT_EQUAL(maxlive, 8);
	tape__check_cleanup(&c);
	randtape_free(g);

	/* Same seed, same tape. */
	struct randtape *a = NULL, *b = NULL;
	struct tape_event ea, eb;
	char why[128];
	CU_ASSERT_EQUAL_FATAL(randtape_new(&a, &o), 0);
	CU_ASSERT_EQUAL_FATAL(randtape_new(&b, &o), 0);
	for (int i = 0; i < 2000; i++) {
		randtape_next(a, &ea);
		randtape_next(b, &eb);
		if (!event_equal(&ea, &eb, why, sizeof why)) {
			CU_FAIL("same seed, different events");
			break;
		}
	}
	randtape_free(a);
	randtape_free(b);
}

/* A tape with metadata and no events, in both formats and conversions. */
static void test_roundtrip_empty_tape(void)
{
	struct tape_meta *m = NULL;
	struct evlist l = {0};

	CU_ASSERT_EQUAL_FATAL(tape_meta_new(&m), 0);
	tape_meta_set_start(m, UINT64_C(1795255200000000000));
	CU_ASSERT_EQUAL(tape_meta_set(m, "source", "nothing\\here\t"), 0);
	CU_ASSERT_EQUAL(write_tape(file(F_TAPE), "tape", m, &l), 0);
	CU_ASSERT_EQUAL(write_tape(file(F_TSV), "tsv", m, &l), 0);
	CU_ASSERT_EQUAL(read_compare(file(F_TAPE), "tape", m, &l, 0), 0);
	CU_ASSERT_EQUAL(read_compare(file(F_TSV), "tsv", m, &l, 0), 0);
	CU_ASSERT_EQUAL(convert(file(F_TAPE), file(F_TSV2), "tsv"), 0);
	CU_ASSERT_EQUAL(same_file(file(F_TSV), file(F_TSV2)), 0);
	CU_ASSERT_EQUAL(convert(file(F_TSV), file(F_TAPE2), "tape"), 0);
	CU_ASSERT_EQUAL(same_file(file(F_TAPE), file(F_TAPE2)), 0);
	/* No metadata at all: a NULL meta is an empty one. */
	struct tape_meta *empty = NULL;
	CU_ASSERT_EQUAL_FATAL(tape_meta_new(&empty), 0);
	CU_ASSERT_EQUAL(write_tape(file(F_TAPE3), "tape", NULL, &l), 0);
	CU_ASSERT_EQUAL(read_compare(file(F_TAPE3), "tape", empty, &l, 0), 0);
	CU_ASSERT_EQUAL(write_tape(file(F_TSV3), "tsv", NULL, &l), 0);
	CU_ASSERT_EQUAL(read_compare(file(F_TSV3), "tsv", empty, &l, 0), 0);
	tape_meta_free(empty);
	tape_meta_free(m);
}

/* The canonical TSV time keeps every nanosecond: "12", "12.5" style
 * values are written as whole microseconds or with three digits. */
static void test_roundtrip_tsv_times(void)
{
	static const uint64_t times[] = {0,
					 1,
					 999,
					 1000,
					 1001,
					 12500,
					 999999999,
					 1000000000,
					 TAPE_MAX_TIME - 1,
					 TAPE_MAX_TIME};
	struct evlist l = {0};
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_NOTE;
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		ev.time_ns = times[i];
		CU_ASSERT_EQUAL_FATAL(evlist_add(&l, &ev), 0);
	}
	CU_ASSERT_EQUAL(write_tape(file(F_TSV), "tsv", NULL, &l), 0);
	struct tape_meta *empty = NULL;
	CU_ASSERT_EQUAL_FATAL(tape_meta_new(&empty), 0);
	CU_ASSERT_EQUAL(read_compare(file(F_TSV), "tsv", empty, &l, 0), 0);
	size_t n = 0;
	char *text = (char *)unit_read_file(file(F_TSV), &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	static const char want[] = "# tapedeck tsv v1\n"
				   "0\t0\tnote\t\n"
				   "0.001\t0\tnote\t\n"
				   "0.999\t0\tnote\t\n"
				   "1\t0\tnote\t\n"
				   "1.001\t0\tnote\t\n"
				   "12.500\t0\tnote\t\n"
				   "999999.999\t0\tnote\t\n"
				   "1000000\t0\tnote\t\n"
				   "4611686018427387.903\t0\tnote\t\n"
				   "4611686018427387.904\t0\tnote\t\n";
	CU_ASSERT_EQUAL(n, sizeof want - 1);
	CU_ASSERT_EQUAL(memcmp(text, want, n < sizeof want - 1 ? n : sizeof want - 1), 0);
	free(text);
	tape_meta_free(empty);
	evlist_free(&l);
}

/* ---- the public reader/writer API around the formats ---------------------------- */

static void test_roundtrip_format_names(void)
{
	CU_ASSERT_STRING_EQUAL(tape_format_from_path("a.tape"), "tape");
	CU_ASSERT_STRING_EQUAL(tape_format_from_path("dir/a.b.tsv"), "tsv");
	CU_ASSERT_STRING_EQUAL(tape_format_from_path("/x/rec.tsp"), "tsp");
	CU_ASSERT_PTR_NULL(tape_format_from_path("noext"));
	CU_ASSERT_PTR_NULL(tape_format_from_path("dir.tsv/noext"));
	CU_ASSERT_PTR_NULL(tape_format_from_path("trailing."));
	CU_ASSERT_PTR_NULL(tape_format_from_path("a.TSV"));
	CU_ASSERT_PTR_NULL(tape_format_from_path("a.txt"));
	CU_ASSERT_PTR_NULL(tape_format_from_path(NULL));
	CU_ASSERT_PTR_NULL(tape_format_from_path("-"));
	CU_ASSERT_TRUE(tape_format_readable("tape"));
	CU_ASSERT_TRUE(tape_format_readable("tsv"));
	CU_ASSERT_TRUE(tape_format_readable("tsp"));
	CU_ASSERT_TRUE(tape_format_writable("tape"));
	CU_ASSERT_TRUE(tape_format_writable("tsv"));
	CU_ASSERT_TRUE(tape_format_writable("tsp"));
	CU_ASSERT_FALSE(tape_format_readable("nope"));
	CU_ASSERT_FALSE(tape_format_writable("nope"));
	CU_ASSERT_FALSE(tape_format_readable(""));
	CU_ASSERT_FALSE(tape_format_readable(NULL));
	CU_ASSERT_FALSE(tape_format_writable(NULL));
}

static void test_roundtrip_open_errors(void)
{
	struct tape_reader *r = NULL;
	struct tape_writer *w = NULL;
	char want[600];
	const char *missing = "/nonexistent-dir-tapedeck/x.tape";

	CU_ASSERT_EQUAL(tape_reader_open(&r, missing, NULL), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	snprintf(want, sizeof want, "%s: %s", missing, strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(tape_reader_error(r), want);
	CU_ASSERT_STRING_EQUAL(tape_reader_format(r), "");
	struct tape_event ev;
	CU_ASSERT_EQUAL(tape_reader_next(r, &ev), -ENOENT); /* sticky */
	tape_reader_free(r);
	r = NULL;

	CU_ASSERT_EQUAL(tape_writer_open(&w, missing, NULL, NULL, NULL), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_STRING_EQUAL(tape_writer_error(w), want);
	tape_writer_free(w);
	w = NULL;

	/* An empty file, and one that is no tape. */
	const char *path = file(F_TSV);
	unit_write_file(path, "", 0);
	CU_ASSERT_EQUAL(tape_reader_open(&r, path, NULL), TAPE_ETRUNC);
	snprintf(want, sizeof want, "%s: empty file", path);
	CU_ASSERT_STRING_EQUAL(tape_reader_error(r), want);
	tape_reader_free(r);
	r = NULL;
	unit_write_file(path, "hello, world\n", 13);
	CU_ASSERT_EQUAL(tape_reader_open(&r, path, NULL), TAPE_EUNKNOWN);
	tape_reader_free(r);
	r = NULL;

	/* Unknown format names. */
	CU_ASSERT_EQUAL(tape_reader_open(&r, path, "nope"), TAPE_EUNKNOWN);
	snprintf(want, sizeof want, "%s: cannot read format \"nope\"", path);
	CU_ASSERT_STRING_EQUAL(tape_reader_error(r), want);
	tape_reader_free(r);
	CU_ASSERT_EQUAL(tape_writer_open(&w, path, "nope", NULL, NULL), TAPE_EUNKNOWN);
	snprintf(want, sizeof want, "%s: cannot write format \"nope\"", path);
	CU_ASSERT_STRING_EQUAL(tape_writer_error(w), want);
	tape_writer_free(w);

	/* Free functions accept NULL. */
	tape_reader_free(NULL);
	tape_writer_free(NULL);
}

/* The writer validates like the reader, names the event, and writes a
 * path without a known extension as "tape". */
static void test_roundtrip_writer_validates(void)
{
	struct tape_writer *w = NULL;
	struct tape_event ev;
	char want[600];
	const char *path = unit_tmpfile(".bin");
	char *p = strdup(path);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(tape_writer_open(&w, p, NULL, NULL, NULL), 0);
	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_NOTE;
	ev.time_ns = 5;
	CU_ASSERT_EQUAL(tape_writer_write(w, &ev), 0);
	ev.kind = TAPE_EV_FIN;
	ev.conn = 3;
	CU_ASSERT_EQUAL(tape_writer_write(w, &ev), TAPE_ESEQ);
	snprintf(want, sizeof want, "%s: event 2: fin on connection 3 before its open", p);
	CU_ASSERT_STRING_EQUAL(tape_writer_error(w), want);
	tape_writer_free(w);

	/* A fresh writer, closed properly, then used again. */
	w = NULL;
	CU_ASSERT_EQUAL_FATAL(tape_writer_open(&w, p, NULL, NULL, NULL), 0);
	ev.kind = TAPE_EV_NOTE;
	ev.conn = 0;
	CU_ASSERT_EQUAL(tape_writer_write(w, &ev), 0);
	CU_ASSERT_EQUAL(tape_writer_close(w), 0);
	CU_ASSERT_EQUAL(tape_writer_close(w), 0); /* again: nothing to do */
	CU_ASSERT_EQUAL(tape_writer_write(w, &ev), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape_writer_dropped(w), 0);
	tape_writer_free(w);

	struct tape_reader *r = NULL;
	CU_ASSERT_EQUAL(tape_reader_open(&r, p, NULL), 0);
	CU_ASSERT_STRING_EQUAL(tape_reader_format(r), "tape");
	CU_ASSERT_EQUAL(tape_reader_next(r, &ev), 1);
	CU_ASSERT_EQUAL(ev.kind, TAPE_EV_NOTE);
	CU_ASSERT_EQUAL(ev.time_ns, 5);
	CU_ASSERT_EQUAL(tape_reader_next(r, &ev), 0);
	tape_reader_free(r);
	unlink(p);
	free(p);
}

/* Reading and writing through descriptors (a pipe has no size and no seek). */
static void test_roundtrip_fd_pipe(void)
{
	struct tape_meta *meta = NULL;
	struct evlist l = {0};
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(make_tape(7, &meta, &l), 0);
	CU_ASSERT_EQUAL_FATAL(write_tape(file(F_TSV), "tsv", meta, &l), 0);
	size_t n = 0;
	uint8_t *text = unit_read_file(file(F_TSV), &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);

	/* The writer side: a child process feeds the pipe in one go. */
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		size_t off = 0;
		while (off < n) {
			ssize_t k = write(fds[1], text + off, n - off > 1000 ? 1000 : n - off);
			if (k <= 0)
				_exit(1);
			off += (size_t)k;
		}
		_exit(0);
	}
	close(fds[1]);
	struct tape_reader *r = NULL;
	struct tape_event ev;
	size_t i = 0;
	char why[128];
	int rc;
	CU_ASSERT_EQUAL(tape_reader_open_fd(&r, fds[0], "pipe", NULL), 0);
	CU_ASSERT_STRING_EQUAL(tape_reader_format(r), "tsv");
	while ((rc = tape_reader_next(r, &ev)) == 1) {
		if (i >= l.n || !event_equal(&l.v[i], &ev, why, sizeof why))
			break;
		i++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(i, l.n);
	tape_reader_free(r);
	CU_ASSERT_NOT_EQUAL(fcntl(fds[0], F_GETFD), -1); /* not closed by the reader */
	close(fds[0]);
	int status = -1;
	waitpid(pid, &status, 0);
	CU_ASSERT_EQUAL(status, 0);

	/* The same events written to a descriptor are the same bytes. */
	int fd = open(file(F_TSV2), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	struct tape_writer *w = NULL;
	CU_ASSERT_EQUAL(tape_writer_open_fd(&w, fd, "fd", "tsv", meta, NULL), 0);
	for (i = 0; i < l.n; i++)
		CU_ASSERT_EQUAL(tape_writer_write(w, &l.v[i]), 0);
	CU_ASSERT_EQUAL(tape_writer_close(w), 0);
	tape_writer_free(w);
	CU_ASSERT_NOT_EQUAL(fcntl(fd, F_GETFD), -1); /* not closed by the writer */
	close(fd);
	CU_ASSERT_EQUAL(same_file(file(F_TSV), file(F_TSV2)), 0);

	free(text);
	evlist_free(&l);
	tape_meta_free(meta);
}

/* Each flush policy gives the same readable tape. */
static void test_roundtrip_flush_policies(void)
{
	struct tape_meta *meta = NULL;
	struct evlist l = {0};
	static const struct tape_writer_opts opts[] = {
		{.flush = TAPE_FLUSH_EVENT},
		{.flush = TAPE_FLUSH_INTERVAL, .flush_ms = 0},
		{.flush = TAPE_FLUSH_INTERVAL, .flush_ms = 100000},
	};

	CU_ASSERT_EQUAL_FATAL(make_tape(11, &meta, &l), 0);
	for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
		for (int f = 0; f < 2; f++) {
			const char *path = file(f ? F_TSV : F_TAPE);
			struct tape_writer *w = NULL;
			CU_ASSERT_EQUAL_FATAL(tape_writer_open(&w, path, NULL, meta, &opts[k]), 0);
			for (size_t i = 0; i < l.n; i++) {
				CU_ASSERT_EQUAL(tape_writer_write(w, &l.v[i]), 0);
				if (i % 7 == 0)
					CU_ASSERT_EQUAL(tape_writer_tick(w), 0);
				if (i % 11 == 0)
					CU_ASSERT_EQUAL(tape_writer_flush(w), 0);
			}
			CU_ASSERT_EQUAL(tape_writer_close(w), 0);
			tape_writer_free(w);
			CU_ASSERT_EQUAL(read_compare(path, f ? "tsv" : "tape", meta, &l, 11), 0);
		}
	evlist_free(&l);
	tape_meta_free(meta);
}

/* A writer freed without closing leaves a tape that reads up to its last
 * complete block, reported as not finalised. */
static void test_roundtrip_unclosed_tape(void)
{
	struct tape_meta *meta = NULL;
	struct evlist l = {0};
	struct tape_writer *w = NULL;
	struct tape_reader *r = NULL;
	struct tape_reader_status st;
	struct tape_event ev;
	int rc;

	CU_ASSERT_EQUAL_FATAL(make_tape(13, &meta, &l), 0);
	CU_ASSERT_EQUAL_FATAL(tape_writer_open(&w, file(F_TAPE), NULL, meta, NULL), 0);
	for (size_t i = 0; i < l.n; i++)
		CU_ASSERT_EQUAL(tape_writer_write(w, &l.v[i]), 0);
	tape_writer_free(w);
	CU_ASSERT_EQUAL_FATAL(tape_reader_open(&r, file(F_TAPE), NULL), 0);
	size_t i = 0;
	while ((rc = tape_reader_next(r, &ev)) == 1)
		i++;
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(i, l.n); /* freeing flushed the last block */
	tape_reader_status(r, &st);
	CU_ASSERT_EQUAL(st.finalised, 0);
	tape_reader_free(r);
	evlist_free(&l);
	tape_meta_free(meta);
}

/* ---- io.c ------------------------------------------------------------------------- */

static int open_file_with(const void *p, size_t n)
{
	const char *path = file(F_TSV3);

	unit_write_file(path, p, n);
	return open(path, O_RDONLY);
}

static void test_roundtrip_io_lines(void)
{
	static const char text[] = "a\nbb\r\n\n\tx\tlast";
	struct tape__in in;
	const char *line;
	size_t len;
	int fd = open_file_with(text, sizeof text - 1);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(tape__in_init(&in, fd, 1), 0);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, 100), 1);
	CU_ASSERT_EQUAL(len, 1);
	CU_ASSERT_EQUAL(memcmp(line, "a", 1), 0);
	CU_ASSERT_EQUAL(in.off, 2);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, 100), 1);
	CU_ASSERT_EQUAL(len, 3); /* the '\r' is kept */
	CU_ASSERT_EQUAL(memcmp(line, "bb\r", 3), 0);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, 100), 1);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, 100), 2); /* no newline */
	CU_ASSERT_EQUAL(len, 7);
	CU_ASSERT_EQUAL(memcmp(line, "\tx\tlast", 7), 0);
	CU_ASSERT_EQUAL(in.off, sizeof text - 1);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, 100), 0);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, 100), 0);
	tape__in_cleanup(&in);
	CU_ASSERT_EQUAL(in.fd, -1);
}

/* A line longer than max is refused whether or not its newline has been
 * read yet; lines longer than the first buffer grow it. */
static void test_roundtrip_io_long_lines(void)
{
	size_t big = 3 * TAPE__IN_CHUNK + 17;
	char *text = malloc(big + 40);
	struct tape__in in;
	const char *line;
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	memcpy(text, "short\n", 6);
	memset(text + 6, 'x', big);
	text[6 + big] = '\n';
	memcpy(text + 7 + big, "0123456789ab\nend\n", 17);
	size_t total = 7 + big + 17;

	int fd = open_file_with(text, total);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(tape__in_init(&in, fd, 1), 0);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, big), 1);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, big), 1);
	CU_ASSERT_EQUAL(len, big);
	CU_ASSERT(len == big && line[0] == 'x' && line[big - 1] == 'x');
	/* 12 characters with max 10: the newline is already buffered. */
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, 10), TAPE_ELIMIT);
	tape__in_cleanup(&in);

	fd = open_file_with(text, total);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(tape__in_init(&in, fd, 1), 0);
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, big), 1);
	/* The long line with a smaller max: refused before its end is read. */
	CU_ASSERT_EQUAL(tape__in_line(&in, &line, &len, big - 1), TAPE_ELIMIT);
	tape__in_cleanup(&in);
	free(text);
}

static void test_roundtrip_io_need(void)
{
	uint8_t data[1000];
	struct tape__in in;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	int fd = open_file_with(data, sizeof data);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(tape__in_init(&in, fd, 0), 0);
	CU_ASSERT_EQUAL(tape__in_need(&in, 10, 100), 1000); /* reads what there is */
	CU_ASSERT_EQUAL(tape__in_ptr(&in)[9], 9);
	tape__in_skip(&in, 990);
	CU_ASSERT_EQUAL(in.off, 990);
	CU_ASSERT_EQUAL(tape__in_avail(&in), 10);
	CU_ASSERT_EQUAL(tape__in_need(&in, 20, 100), 10); /* short only at the end */
	CU_ASSERT_EQUAL(tape__in_ptr(&in)[0], (uint8_t)990);
	CU_ASSERT_EQUAL(tape__in_need(&in, (size_t)TAPE__IN_CHUNK + 1, TAPE__IN_CHUNK),
			TAPE_ELIMIT);
	tape__in_skip(&in, 10);
	CU_ASSERT_EQUAL(tape__in_need(&in, 1, 100), 0);
	tape__in_cleanup(&in);
	CU_ASSERT_NOT_EQUAL(fcntl(fd, F_GETFD), -1); /* own_fd 0: not closed */
	CU_ASSERT_EQUAL(close(fd), 0);

	/* Reading a descriptor that is not open is -EBADF, and stays so. */
	CU_ASSERT_EQUAL_FATAL(tape__in_init(&in, -1, 0), 0);
	CU_ASSERT_EQUAL(tape__in_need(&in, 1, 100), -EBADF);
	CU_ASSERT_EQUAL(tape__in_need(&in, 1, 100), -EBADF);
	tape__in_cleanup(&in);
}

static void test_roundtrip_io_out(void)
{
	struct tape__out out;
	const char *path = file(F_TSV3);
	size_t big = 3 * TAPE__OUT_CHUNK + 5;
	uint8_t *p = malloc(big);
	struct randtape_rng rng;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	randtape_rng_seed(&rng, 77);
	randtape_rng_bytes(&rng, p, big);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(tape__out_init(&out, fd, 1), 0);
	/* Small writes, a write bigger than the buffer, small writes again. */
	CU_ASSERT_EQUAL(tape__out_write(&out, p, 10), 0);
	CU_ASSERT_EQUAL(out.off, 0); /* still buffered */
	CU_ASSERT_EQUAL(tape__out_write(&out, p + 10, TAPE__OUT_CHUNK - 10), 0);
	CU_ASSERT_EQUAL(tape__out_write(&out, p + TAPE__OUT_CHUNK, 2 * TAPE__OUT_CHUNK), 0);
	CU_ASSERT_EQUAL(tape__out_write(&out, p + 3 * TAPE__OUT_CHUNK, 5), 0);
	CU_ASSERT_EQUAL(tape__out_write(&out, p, 0), 0);
	CU_ASSERT_EQUAL(tape__out_flush(&out), 0);
	CU_ASSERT_EQUAL(out.off, big);
	tape__out_cleanup(&out);
	size_t n = 0;
	uint8_t *back = unit_read_file(path, &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL(n, big);
	CU_ASSERT(n == big && memcmp(back, p, big) == 0);
	free(back);

	/* A failing descriptor: the error is reported and sticks. */
	CU_ASSERT_EQUAL_FATAL(tape__out_init(&out, -1, 0), 0);
	CU_ASSERT_EQUAL(tape__out_write(&out, p, 10), 0); /* only buffered */
	CU_ASSERT_EQUAL(tape__out_flush(&out), -EBADF);
	CU_ASSERT_EQUAL(tape__out_write(&out, p, 10), -EBADF);
	CU_ASSERT_EQUAL(tape__out_flush(&out), -EBADF);
	tape__out_cleanup(&out);
	free(p);
}

void test_roundtrip_register(void)
{
	static const struct unit_test tests[] = {
		{"test_roundtrip_generator_coverage", test_roundtrip_generator_coverage},
		{"test_roundtrip_empty_tape", test_roundtrip_empty_tape},
		{"test_roundtrip_tsv_times", test_roundtrip_tsv_times},
		{"test_roundtrip_random_seeds", test_roundtrip_random_seeds},
		{"test_roundtrip_format_names", test_roundtrip_format_names},
		{"test_roundtrip_open_errors", test_roundtrip_open_errors},
		{"test_roundtrip_writer_validates", test_roundtrip_writer_validates},
		{"test_roundtrip_fd_pipe", test_roundtrip_fd_pipe},
		{"test_roundtrip_flush_policies", test_roundtrip_flush_policies},
		{"test_roundtrip_unclosed_tape", test_roundtrip_unclosed_tape},
		{"test_roundtrip_io_lines", test_roundtrip_io_lines},
		{"test_roundtrip_io_long_lines", test_roundtrip_io_long_lines},
		{"test_roundtrip_io_need", test_roundtrip_io_need},
		{"test_roundtrip_io_out", test_roundtrip_io_out},
		{NULL, NULL},
	};
	unit_add_suite("roundtrip", tests);
}
