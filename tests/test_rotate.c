/* SPDX-License-Identifier: BSD-2-Clause */
/* test_rotate.c - CUnit suite for the rotating output of `tapedeck capture -i` (capture/rotate.c): names, size and time rotation, connections carried across files, no clobbering. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "unit.h"

#define SEC UINT64_C(1000000000)
#define MS UINT64_C(1000000)
#define T0_SEC INT64_C(1700000000)            /* start of every capture here */
#define T0 ((uint64_t)T0_SEC * SEC)
#define DIR_LEN 512u                          /* the temporary directory's path */

/* ---- helpers: a temporary directory ------------------------------------------ */

/* A fresh directory under $TMPDIR (or /tmp); NULL (and a failed assertion)
 * when it cannot be made. */
static char *tmpdir_new(char *buf, size_t size)
{
	const char *dir = getenv("TMPDIR");

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(buf, size, "%s/tapedeck-rotate-XXXXXX", dir) >= size) {
		CU_FAIL("$TMPDIR is too long");
		return NULL;
	}
	if (!mkdtemp(buf)) {
		perror(buf);
		CU_FAIL("mkdtemp");
		return NULL;
	}
	return buf;
}

/* Removes dir and everything under it. */
static void tmpdir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			tmpdir_remove(p);
		else
			unlink(p);
	}
	closedir(d);
	CU_ASSERT(rmdir(dir) == 0);
}

/* Entries of dir ("." and ".." aside). */
static size_t dir_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* dir + "/" + name with every '%' of dir doubled, so that strftime leaves
 * the directory alone whatever $TMPDIR holds. */
static void pattern_in(char *buf, size_t size, const char *dir, const char *name)
{
	size_t k = 0;

	for (const char *s = dir; *s && k + 2 < size; s++) {
		if (*s == '%')
			buf[k++] = '%';
		buf[k++] = *s;
	}
	snprintf(buf + k, size - k, "/%s", name);
}

/* ---- helpers: events as written and as read back ----------------------------- */

/* One event with an absolute time (ns since the epoch); its bytes are at
 * off in the owning list's pool. */
struct rec {
	enum tape_event_kind kind;
	uint64_t t;
	uint64_t conn;
	enum tape_dir dir;
	uint32_t flags;
	struct tape_endpoint client, server;
	enum tape_close_reason reason;
	uint64_t gap;
	size_t off, len;
};

struct recs {
	struct rec *v;
	size_t n, cap;
	uint8_t *pool;
	size_t plen, pcap;
};

static void recs_add(struct recs *l, const struct tape_event *ev, uint64_t abs)
{
	struct rec *r;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		CU_ASSERT_FATAL(l->v != NULL);
	}
	if (l->plen + ev->len > l->pcap) {
		while (l->plen + ev->len > l->pcap)
			l->pcap = l->pcap ? l->pcap * 2 : 65536;
		l->pool = realloc(l->pool, l->pcap);
		CU_ASSERT_FATAL(l->pool != NULL);
	}
	r = &l->v[l->n++];
	memset(r, 0, sizeof *r);
	r->kind = ev->kind;
	r->t = abs;
	r->conn = ev->conn;
	r->dir = ev->dir;
	r->flags = ev->flags;
	r->client = ev->client;
	r->server = ev->server;
	r->reason = ev->reason;
	r->gap = ev->gap;
	r->off = l->plen;
	r->len = ev->len;
	if (ev->len)
		memcpy(l->pool + l->plen, ev->data, ev->len);
	l->plen += ev->len;
}

/* Appends r, an event of the list src. */
static void recs_add_rec(struct recs *l, const struct recs *src, const struct rec *r)
{
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = r->kind;
	ev.conn = r->conn;
	ev.dir = r->dir;
	ev.flags = r->flags;
	ev.client = r->client;
	ev.server = r->server;
	ev.reason = r->reason;
	ev.gap = r->gap;
	ev.data = src->pool + r->off;
	ev.len = r->len;
	recs_add(l, &ev, r->t);
}

static void recs_free(struct recs *l)
{
	free(l->v);
	free(l->pool);
	memset(l, 0, sizeof *l);
}

static int ep_same(const struct tape_endpoint *a, const struct tape_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

/* The fields that matter for the kind of event; 1 when a and b agree. */
static int rec_same(const struct recs *la, const struct rec *a, const struct recs *lb,
		    const struct rec *b)
{
	if (a->kind != b->kind || a->t != b->t || a->conn != b->conn)
		return 0;
	switch (a->kind) {
	case TAPE_EV_OPEN:
		return a->flags == b->flags && ep_same(&a->client, &b->client) &&
		       ep_same(&a->server, &b->server);
	case TAPE_EV_DATA:
	case TAPE_EV_NOTE:
		return (a->kind == TAPE_EV_NOTE || a->dir == b->dir) && a->len == b->len &&
		       (a->len == 0 || memcmp(la->pool + a->off, lb->pool + b->off, a->len) == 0);
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

static void rec_print(const char *what, const struct rec *r)
{
	fprintf(stderr, "  %s: %s t=%llu conn=%llu dir=%d flags=0x%x reason=%s len=%zu gap=%llu\n",
		what, tape_event_kind_name(r->kind), (unsigned long long)r->t,
		(unsigned long long)r->conn, (int)r->dir, (unsigned)r->flags,
		r->kind == TAPE_EV_CLOSE ? tape_close_reason_name(r->reason) : "-", r->len,
		(unsigned long long)r->gap);
}

/* One file read back with the public reader. */
struct tape_file {
	struct recs ev;    /* times absolute: the file's start plus the event's time */
	uint64_t start;
	char part[24];     /* the "part" metadata, "" when absent */
	int finalised;
};

/* Reads path into f; 0, or -1 after saying why on stderr. */
static int tape_file_read(const char *path, struct tape_file *f)
{
	struct tape_reader *r = NULL;
	struct tape_reader_status st;
	struct tape_event ev;
	const char *part;
	int rc;

	memset(f, 0, sizeof *f);
	rc = tape_reader_open(&r, path, NULL);
	if (rc) {
		fprintf(stderr, "\n%s: cannot read: %s\n", path, r ? tape_reader_error(r) : tape_strerror(rc));
		tape_reader_free(r);
		return -1;
	}
	f->start = tape_meta_start(tape_reader_meta(r));
	part = tape_meta_get(tape_reader_meta(r), "part");
	snprintf(f->part, sizeof f->part, "%s", part ? part : "");
	while ((rc = tape_reader_next(r, &ev)) == 1)
		recs_add(&f->ev, &ev, f->start + ev.time_ns);
	tape_reader_status(r, &st);
	f->finalised = st.finalised && st.dropped_bytes == 0;
	if (rc < 0)
		fprintf(stderr, "\n%s: %s\n", path, tape_reader_error(r));
	else if (!f->finalised)
		fprintf(stderr, "\n%s: not finalised (%s)\n", path, st.dropped_why);
	tape_reader_free(r);
	return rc == 0 && f->finalised ? 0 : -1;
}

static struct tape_meta *capture_meta(void)
{
	struct tape_meta *m = NULL;

	CU_ASSERT_FATAL(tape_meta_new(&m) == 0);
	tape_meta_set_start(m, T0);
	CU_ASSERT(tape_meta_set(m, "source", "eth0 tcp") == 0);
	CU_ASSERT(tape_meta_set(m, "tool", "tapedeck unit test") == 0);
	return m;
}

/* ---- helpers: a workload written through capture_out --------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: the same numbers everywhere, for a reproducible workload */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Events written, with what was written (absolute times) kept in want. */
struct wl {
	struct capture_out *co;
	uint64_t t;       /* time of the next event, relative to the capture's start */
	uint64_t last;    /* absolute time of the last event written */
	struct recs want;
	int failed;
};

/* Writes ev at w->t (or, when w->t is earlier, at the last event's time,
 * as capture_out_write does) and keeps it. */
static void wl_put(struct wl *w, struct tape_event *ev)
{
	uint64_t abs = T0 + w->t;
	int rc;

	if (w->failed)
		return;
	ev->time_ns = w->t;
	rc = capture_out_write(w->co, ev);
	if (rc) {
		fprintf(stderr, "\ncapture_out_write (%s, conn %llu): %s\n", tape_event_kind_name(ev->kind),
			(unsigned long long)ev->conn, capture_out_error(w->co));
		CU_FAIL("capture_out_write");
		w->failed = 1;
		return;
	}
	if (abs < w->last)
		abs = w->last;
	w->last = abs;
	recs_add(&w->want, ev, abs);
}

static struct tape_event ev_of(enum tape_event_kind kind, uint64_t conn)
{
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.conn = conn;
	return ev;
}

/* Endpoints and flags of connection id: IPv4 and IPv6 mixed, flags varied. */
static void wl_open(struct wl *w, uint64_t id, uint32_t flags)
{
	struct tape_event ev = ev_of(TAPE_EV_OPEN, id);

	if (id % 5 == 0) {
		ev.client = unit_ep6((uint8_t)id, (uint16_t)(1024 + id % 50000));
		ev.server = unit_ep6((uint8_t)(id >> 8), 443);
	} else {
		ev.client = unit_ep4(10, (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id,
				     (uint16_t)(1024 + id % 60000));
		ev.server = unit_ep4(192, 0, 2, (uint8_t)(1 + id % 3), id % 2 ? 80 : 8080);
	}
	ev.flags = flags & (TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED | TAPE_OPEN_REUSED);
	wl_put(w, &ev);
}

static void wl_data(struct wl *w, uint64_t id, enum tape_dir dir, const uint8_t *p, size_t n)
{
	struct tape_event ev = ev_of(TAPE_EV_DATA, id);

	ev.dir = dir;
	ev.data = p;
	ev.len = n;
	wl_put(w, &ev);
}

static void wl_close(struct wl *w, uint64_t id, enum tape_close_reason why)
{
	struct tape_event ev = ev_of(TAPE_EV_CLOSE, id);

	ev.reason = why;
	wl_put(w, &ev);
}

static void wl_note(struct wl *w, const char *text)
{
	struct tape_event ev = ev_of(TAPE_EV_NOTE, 0);

	if (w->failed)
		return;
	if (capture_out_note(w->co, text) != 0) {
		fprintf(stderr, "\ncapture_out_note: %s\n", capture_out_error(w->co));
		CU_FAIL("capture_out_note");
		w->failed = 1;
		return;
	}
	ev.data = (const uint8_t *)text;
	ev.len = strlen(text);
	recs_add(&w->want, &ev, w->last); /* notes go at the last event's time */
}

/* Opens a capture with o (its meta starting at T0) and starts w on it;
 * w->last starts at T0 since the capture keeps no event before its file's
 * start. */
static void wl_start(struct wl *w, const struct capture_out_opts *o)
{
	memset(w, 0, sizeof *w);
	w->last = T0;
	CU_ASSERT_FATAL(capture_out_open(&w->co, o) == 0);
}

/* Closes and frees w's capture; the files it wrote.  w->want stays. */
static uint64_t wl_finish(struct wl *w)
{
	uint64_t files;

	CU_ASSERT(capture_out_close(w->co) == 0);
	files = capture_out_files(w->co);
	capture_out_free(w->co);
	w->co = NULL;
	return files;
}

/* ---- helpers: a capture into a temporary directory ----------------------------- */

/* What a test of one capture owns: its directory, the pattern of its files
 * there (borrowed by the capture, hence kept here), and the workload. */
struct fixture {
	char dir[DIR_LEN];
	char pattern[PATH_MAX];
	struct tape_meta *meta;
	struct wl w;
};

/* Makes a temporary directory and starts fx->w on a capture of name in it,
 * with capture_meta() and o's rotation, flushing and hooks (o's pattern and
 * meta are not used).  0, or -1 (a failed assertion, nothing to close) when
 * the directory cannot be made. */
static int fixture_open(struct fixture *fx, const char *name, const struct capture_out_opts *o)
{
	struct capture_out_opts opts = *o;

	if (!tmpdir_new(fx->dir, sizeof fx->dir))
		return -1;
	pattern_in(fx->pattern, sizeof fx->pattern, fx->dir, name);
	fx->meta = capture_meta();
	opts.pattern = fx->pattern;
	opts.meta = fx->meta;
	wl_start(&fx->w, &opts);
	return 0;
}

/* Frees what fixture_open() made, after the test has finished the capture
 * (wl_finish()), and removes the directory with the files. */
static void fixture_close(struct fixture *fx)
{
	recs_free(&fx->w.want);
	tape_meta_free(fx->meta);
	tmpdir_remove(fx->dir);
}

/* ---- the checker: files of a rotated capture against what was written ---------- */

struct carry_stats {
	size_t files;
	size_t carried;     /* continued opens over all files */
	size_t max_carried; /* the most in one rotation */
};

#define VFAIL(...)                                                                   \
	do {                                                                         \
		fprintf(stderr, "\n");                                               \
		fprintf(stderr, __VA_ARGS__);                                        \
		fprintf(stderr, "\n");                                               \
		goto out;                                                            \
	} while (0)

/* Reads paths[0..n) as the files of one rotated capture, in order, and
 * checks that: each is a valid finalised tape with part i+1; the first
 * starts at T0; every connection open at a file's end is closed `rotated`
 * (in id order, at the next file's start, nothing after) and is opened at
 * time 0 of the next file, before anything else, with flag continued and
 * the same endpoints and other flags; the last file closes nothing
 * `rotated`; no connection is opened again once closed; and the files
 * joined without those pairs are exactly want.  0, or -1 with the reason on
 * stderr. */
static int check_rotated(char **paths, size_t n, const struct recs *want, struct carry_stats *cs)
{
	struct recs joined = {0};
	struct tape_file f = {0};
	uint64_t max_id = 0, *prev = NULL, *rot = NULL, prev_t = 0;
	size_t nprev = 0, nrot = 0, *first = NULL;
	uint8_t *state = NULL, *here = NULL; /* state: 0 never seen, 1 open, 2 closed */
	int ok = -1;

	memset(cs, 0, sizeof *cs);
	for (size_t i = 0; i < want->n; i++)
		if (want->v[i].conn > max_id)
			max_id = want->v[i].conn;
	state = calloc(max_id + 1, 1);
	here = calloc(max_id + 1, 1);
	first = calloc(max_id + 1, sizeof *first);
	prev = calloc(max_id + 1, sizeof *prev);
	rot = calloc(max_id + 1, sizeof *rot);
	if (!state || !here || !first || !prev || !rot)
		VFAIL("out of memory");
	for (size_t fi = 0; fi < n; fi++) {
		char part[24];
		size_t i = 0, nhere = 0;

		recs_free(&f.ev);
		if (tape_file_read(paths[fi], &f) != 0)
			VFAIL("%s: not a valid finalised tape", paths[fi]);
		snprintf(part, sizeof part, "%zu", fi + 1);
		if (strcmp(f.part, part) != 0)
			VFAIL("%s: part \"%s\", want %s", paths[fi], f.part, part);
		/* A file starts where the rotated closes of the last one are,
		 * or, when nothing was carried, no earlier than its last event. */
		if (fi == 0 ? f.start != T0 : nprev ? f.start != prev_t : f.start < prev_t)
			VFAIL("%s: starts at %llu, want %s%llu", paths[fi], (unsigned long long)f.start,
			      fi && !nprev ? ">= " : "", (unsigned long long)(fi == 0 ? T0 : prev_t));
		/* The carried connections come first, as they were closed. */
		for (size_t k = 0; k < nprev; k++, i++) {
			const struct rec *r = i < f.ev.n ? &f.ev.v[i] : NULL;
			const struct rec *o;
			if (!r || r->kind != TAPE_EV_OPEN || r->conn != prev[k] || r->t != f.start) {
				if (r)
					rec_print("got", r);
				VFAIL("%s: event %zu: want the continued open of connection %llu at time 0",
				      paths[fi], i + 1, (unsigned long long)prev[k]);
			}
			o = &joined.v[first[r->conn]];
			if (r->flags != (o->flags | TAPE_OPEN_CONTINUED) || !ep_same(&r->client, &o->client) ||
			    !ep_same(&r->server, &o->server)) {
				rec_print("continued", r);
				rec_print("original", o);
				VFAIL("%s: connection %llu continued with other endpoints or flags", paths[fi],
				      (unsigned long long)r->conn);
			}
			here[r->conn] = 1;
			nhere++;
		}
		cs->carried += nprev;
		if (nprev > cs->max_carried)
			cs->max_carried = nprev;
		/* Then the file's own events, then `close rotated` of what is open. */
		nrot = 0;
		for (; i < f.ev.n; i++) {
			const struct rec *r = &f.ev.v[i];
			if (r->conn > max_id)
				VFAIL("%s: event %zu: connection %llu was never written", paths[fi], i + 1,
				      (unsigned long long)r->conn);
			if (r->kind == TAPE_EV_CLOSE && r->reason == TAPE_CLOSE_ROTATED) {
				if (!here[r->conn] || (nrot && r->conn <= rot[nrot - 1]) ||
				    (nrot && r->t != prev_t)) {
					rec_print("got", r);
					VFAIL("%s: event %zu: close rotated out of place", paths[fi], i + 1);
				}
				prev_t = r->t;
				rot[nrot++] = r->conn;
				continue;
			}
			prev_t = r->t;
			if (nrot) {
				rec_print("got", r);
				VFAIL("%s: event %zu after the rotated closes", paths[fi], i + 1);
			}
			if (r->kind == TAPE_EV_OPEN) {
				if (state[r->conn] != 0 || (r->flags & TAPE_OPEN_CONTINUED)) {
					rec_print("got", r);
					VFAIL("%s: event %zu: connection %llu opened again (it was %s)", paths[fi],
					      i + 1, (unsigned long long)r->conn,
					      state[r->conn] == 2 ? "closed" : state[r->conn] ? "open" : "new");
				}
				state[r->conn] = 1;
				first[r->conn] = joined.n;
				here[r->conn] = 1;
				nhere++;
			} else if (r->kind == TAPE_EV_CLOSE) {
				if (!here[r->conn])
					VFAIL("%s: event %zu: close of connection %llu, not open here", paths[fi],
					      i + 1, (unsigned long long)r->conn);
				state[r->conn] = 2;
				here[r->conn] = 0;
				nhere--;
			}
			recs_add_rec(&joined, &f.ev, r);
		}
		if (nrot != nhere)
			VFAIL("%s: %zu connections open at its end, %zu closed rotated", paths[fi], nhere, nrot);
		if (fi + 1 == n && nrot) {
			VFAIL("%s: the last file closes %zu connections rotated", paths[fi], nrot);
		}
		for (size_t k = 0; k < nrot; k++)
			here[rot[k]] = 0;
		memcpy(prev, rot, nrot * sizeof *rot);
		nprev = nrot;
	}
	cs->files = n;
	for (size_t i = 0; i < want->n || i < joined.n; i++) {
		if (i >= want->n || i >= joined.n || !rec_same(want, &want->v[i], &joined, &joined.v[i])) {
			if (i < want->n)
				rec_print("wrote", &want->v[i]);
			if (i < joined.n)
				rec_print("read ", &joined.v[i]);
			VFAIL("joined files differ from what was written at event %zu (%zu written, %zu read)",
			      i + 1, want->n, joined.n);
		}
	}
	ok = 0;
out:
	free(state);
	free(here);
	free(first);
	free(prev);
	free(rot);
	recs_free(&joined);
	recs_free(&f.ev);
	return ok;
}

/* The paths of a capture that wrote n files of pattern dir/name.ext
 * without conversions: dir/name.ext, dir/name.1.ext, ...  Caller frees. */
static char **counted_paths(const char *dir, const char *name, const char *ext, size_t n)
{
	char **v = calloc(n ? n : 1, sizeof *v);

	CU_ASSERT_FATAL(v != NULL);
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX];
		if (i)
			snprintf(p, sizeof p, "%s/%s.%zu.%s", dir, name, i, ext);
		else
			snprintf(p, sizeof p, "%s/%s.%s", dir, name, ext);
		v[i] = strdup(p);
		CU_ASSERT_FATAL(v[i] != NULL);
	}
	return v;
}

static void paths_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- capture_out_name ------------------------------------------------------------ */

/* capture_out_name into a buffer of size bytes followed by a guard that
 * must stay untouched; the name is copied to out (when it fits). */
static int name_of(char *out, size_t size, const char *pattern, int expand, int64_t t, uint64_t counter)
{
	char buf[PATH_MAX + 64];
	int rc;

	CU_ASSERT_FATAL(size + 16 <= sizeof buf);
	memset(buf, 'G', sizeof buf);
	rc = capture_out_name(buf, size, pattern, expand, t, counter);
	for (size_t i = size; i < size + 16; i++)
		CU_ASSERT(buf[i] == 'G');
	if (rc == 0) {
		CU_ASSERT(memchr(buf, '\0', size) != NULL);
		size_t len = strnlen(buf, PATH_MAX - 1);
		memcpy(out, buf, len);
		out[len] = '\0';
	} else {
		snprintf(out, PATH_MAX, "(error %d)", rc);
	}
	return rc;
}

static void test_rotate_name_counter(void)
{
	char got[PATH_MAX];

	CU_ASSERT(name_of(got, 256, "dir/x.tape", 0, 0, 0) == 0);
	CU_ASSERT_STRING_EQUAL(got, "dir/x.tape");
	CU_ASSERT(name_of(got, 256, "dir/x.tape", 0, 0, 3) == 0);
	CU_ASSERT_STRING_EQUAL(got, "dir/x.3.tape");
	CU_ASSERT(name_of(got, 256, "x.tsv", 1, T0_SEC, 12) == 0);
	CU_ASSERT_STRING_EQUAL(got, "x.12.tsv");
	/* no extension */
	CU_ASSERT(name_of(got, 256, "dir/x", 0, 0, 3) == 0);
	CU_ASSERT_STRING_EQUAL(got, "dir/x.3");
	CU_ASSERT(name_of(got, 256, "x", 0, 0, 1) == 0);
	CU_ASSERT_STRING_EQUAL(got, "x.1");
	/* dots in directory names are not extensions */
	CU_ASSERT(name_of(got, 256, "a.b/c.d/x", 0, 0, 2) == 0);
	CU_ASSERT_STRING_EQUAL(got, "a.b/c.d/x.2");
	CU_ASSERT(name_of(got, 256, "a.b/c.d/x.pcap", 0, 0, 2) == 0);
	CU_ASSERT_STRING_EQUAL(got, "a.b/c.d/x.2.pcap");
	CU_ASSERT(name_of(got, 256, "./x", 0, 0, 4) == 0);
	CU_ASSERT_STRING_EQUAL(got, "./x.4");
	/* a leading dot names a hidden file, not an extension */
	CU_ASSERT(name_of(got, 256, "d.d/.hidden", 0, 0, 5) == 0);
	CU_ASSERT_STRING_EQUAL(got, "d.d/.hidden.5");
	CU_ASSERT(name_of(got, 256, ".x.tape", 0, 0, 5) == 0);
	CU_ASSERT_STRING_EQUAL(got, ".x.5.tape");
	/* only the last extension names the format */
	CU_ASSERT(name_of(got, 256, "x.tsv.tape", 0, 0, 7) == 0);
	CU_ASSERT_STRING_EQUAL(got, "x.tsv.7.tape");
	CU_ASSERT(name_of(got, 256, "x.tape", 0, 0, UINT64_MAX) == 0);
	CU_ASSERT_STRING_EQUAL(got, "x.18446744073709551615.tape");
	/* without expansion a '%' is just a character */
	CU_ASSERT(name_of(got, 256, "d/%Y-%%.tape", 0, T0_SEC, 1) == 0);
	CU_ASSERT_STRING_EQUAL(got, "d/%Y-%%.1.tape");
}

static void test_rotate_name_strftime(void)
{
	char got[PATH_MAX], want[PATH_MAX], stamp[64];
	time_t t = (time_t)T0_SEC + 3661;
	struct tm tm;

	CU_ASSERT_FATAL(localtime_r(&t, &tm) != NULL);
	CU_ASSERT_FATAL(strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm) > 0);
	CU_ASSERT(name_of(got, 256, "cap.d/%Y%m%d-%H%M%S.tape", 1, (int64_t)t, 0) == 0);
	snprintf(want, sizeof want, "cap.d/%s.tape", stamp);
	CU_ASSERT_STRING_EQUAL(got, want);
	CU_ASSERT(name_of(got, 256, "cap.d/%Y%m%d-%H%M%S.tape", 1, (int64_t)t, 3) == 0);
	snprintf(want, sizeof want, "cap.d/%s.3.tape", stamp);
	CU_ASSERT_STRING_EQUAL(got, want);
	/* conversions in the directory, and a name without extension */
	CU_ASSERT(name_of(got, 256, "%Y%m%d-%H%M%S/x", 1, (int64_t)t, 2) == 0);
	snprintf(want, sizeof want, "%s/x.2", stamp);
	CU_ASSERT_STRING_EQUAL(got, want);
	/* a conversion that makes a dot is part of the name like any other */
	CU_ASSERT(name_of(got, 256, "x%%.%%", 1, (int64_t)t, 1) == 0);
	CU_ASSERT_STRING_EQUAL(got, "x%.1.%");
	/* the time matters */
	CU_ASSERT(name_of(got, 256, "%H%M%S", 1, (int64_t)t, 0) == 0);
	CU_ASSERT(name_of(want, 256, "%H%M%S", 1, (int64_t)t + 1, 0) == 0);
	CU_ASSERT_STRING_NOT_EQUAL(got, want);
}

static void test_rotate_name_limits(void)
{
	char got[PATH_MAX], *big;

	/* "x.tape" needs 7 bytes, "x.12.tape" 10 */
	CU_ASSERT(name_of(got, 7, "x.tape", 0, 0, 0) == 0);
	CU_ASSERT(name_of(got, 6, "x.tape", 0, 0, 0) == TAPE_ELIMIT);
	CU_ASSERT(name_of(got, 6, "x.tape", 1, T0_SEC, 0) == TAPE_ELIMIT);
	CU_ASSERT(name_of(got, 10, "x.tape", 0, 0, 12) == 0);
	CU_ASSERT_STRING_EQUAL(got, "x.12.tape");
	CU_ASSERT(name_of(got, 9, "x.tape", 0, 0, 12) == TAPE_ELIMIT);
	CU_ASSERT(name_of(got, 1, "x", 0, 0, 12) == TAPE_ELIMIT);
	/* a strftime expansion that is empty or too long */
	CU_ASSERT(name_of(got, 256, "", 1, T0_SEC, 0) == TAPE_ELIMIT);
	big = malloc(2 * PATH_MAX + 1);
	CU_ASSERT_FATAL(big != NULL);
	for (size_t i = 0; i < PATH_MAX; i += 2)
		memcpy(big + i, "%Y", 2); /* twice as long expanded */
	big[PATH_MAX] = '\0';
	CU_ASSERT(name_of(got, PATH_MAX, big, 1, T0_SEC, 0) == TAPE_ELIMIT);
	/* a pattern longer than any path, without expansion */
	memset(big, 'a', 2 * PATH_MAX);
	big[2 * PATH_MAX] = '\0';
	CU_ASSERT(name_of(got, PATH_MAX, big, 0, 0, 0) == TAPE_ELIMIT);
	CU_ASSERT(name_of(got, PATH_MAX, big, 0, 0, 1) == TAPE_ELIMIT);
	free(big);
}

/* ---- size rotation with many connections --------------------------------------------- */

#define SZ_CONNS 6000u      /* connections over the whole capture */
#define SZ_PHASE 1500u      /* opens per phase: busy, then quiet, and again */
#define SZ_BUSY 1400u       /* connections open the busy phases aim at */
#define SZ_QUIET 40u        /* ... and the quiet ones */

/* Per connection: whether each direction has ended (fin or rst). */
#define END_C2S 1u
#define END_S2C 2u

static void test_rotate_size_many_connections(void)
{
	struct fixture fx;
	struct wl *w = &fx.w;
	struct capture_out_opts o = {
		.rotate_bytes = 4096, /* one file per 64 KiB events block */
		.wo.flush = TAPE_FLUSH_CLOSE,
	};
	struct carry_stats cs;
	uint64_t rng = UINT64_C(0x7a9ed3c4b1e2f001), next_id = 1, *live = NULL;
	uint8_t *ended = NULL, buf[2048];
	size_t nlive = 0, peak = 0, opened = 0, nfiles = 0;
	char **paths = NULL;

	if (fixture_open(&fx, "s.tape", &o) != 0)
		return;
	live = calloc(SZ_CONNS, sizeof *live);
	ended = calloc(SZ_CONNS * 8, 1); /* ids go up by 1 to 5 */
	CU_ASSERT_FATAL(live != NULL && ended != NULL);

	while (!w->failed && (opened < SZ_CONNS || nlive)) {
		uint64_t r = rng_next(&rng);
		size_t target = (opened / SZ_PHASE) % 2 ? SZ_QUIET : SZ_BUSY;
		int open_now;

		/* time: often the same as the last event, otherwise up to 50 us on */
		w->t += r % 3 == 0 ? 0 : (r >> 8) % 50000;
		r = rng_next(&rng);
		if (opened == SZ_CONNS)
			open_now = 0;
		else if (nlive == 0)
			open_now = 1;
		else
			open_now = (int)(r % 100) < (nlive < target ? 65 : 8);
		if (open_now) {
			uint64_t id = next_id;
			next_id += r % 8 == 0 ? 1 + (r >> 3) % 5 : 1; /* ids increase, now and then skip */
			wl_open(w, id, (uint32_t)(r >> 20));
			live[nlive++] = id;
			opened++;
			if (nlive > peak)
				peak = nlive;
		} else {
			size_t li = (size_t)((r >> 8) % nlive);
			uint64_t id = live[li];
			unsigned act = (unsigned)((r >> 40) % 100);
			enum tape_dir d = (r >> 32) & 1 ? TAPE_S2C : TAPE_C2S;
			unsigned bit = d == TAPE_S2C ? END_S2C : END_C2S;

			if (ended[id] & bit) {
				d = d == TAPE_S2C ? TAPE_C2S : TAPE_S2C;
				bit ^= END_C2S | END_S2C;
			}
			if ((ended[id] & bit) || act >= 72) {
				static const enum tape_close_reason why[] = {
					TAPE_CLOSE_FIN, TAPE_CLOSE_RST, TAPE_CLOSE_TIMEOUT,
					TAPE_CLOSE_END, TAPE_CLOSE_EVICTED, TAPE_CLOSE_ERROR,
				};
				wl_close(w, id, why[(r >> 16) % 6]);
				live[li] = live[--nlive];
			} else if (act < 58) {
				size_t n = act < 2 ? 1 + (size_t)((r >> 9) % sizeof buf) : 1 + (size_t)((r >> 9) % 120);
				for (size_t i = 0; i < n; i++)
					buf[i] = (uint8_t)(rng_next(&rng) >> 56);
				wl_data(w, id, d, buf, n);
			} else if (act < 64) {
				struct tape_event ev = ev_of(TAPE_EV_GAP, id);
				ev.dir = d;
				ev.gap = 1 + (r >> 11) % 100000;
				wl_put(w, &ev);
			} else {
				struct tape_event ev = ev_of(act < 69 ? TAPE_EV_FIN : TAPE_EV_RST, id);
				ev.dir = d;
				wl_put(w, &ev);
				ended[id] |= bit;
			}
		}
		if (rng_next(&rng) % 1000 == 0) {
			char text[64];
			snprintf(text, sizeof text, "capture drops: %zu open", nlive);
			wl_note(w, text);
		}
	}
	nfiles = (size_t)wl_finish(w);
	/* The workload is what the test is about: tables grown to 4096
	 * slots (256 doubled at 129, 257, 513 and 1025 open), many files. */
	CU_ASSERT(peak > 1024);
	CU_ASSERT(nfiles >= 20);
	CU_ASSERT(dir_count(fx.dir) == nfiles);
	if (!w->failed) {
		paths = counted_paths(fx.dir, "s", "tape", nfiles);
		CU_ASSERT(check_rotated(paths, nfiles, &w->want, &cs) == 0);
		CU_ASSERT(cs.carried > 10000);
		CU_ASSERT(cs.max_carried > 512);
		paths_free(paths, nfiles);
	}
	free(live);
	free(ended);
	fixture_close(&fx);
}

/* ---- deletion from one long run of colliding slots ------------------------------------ */

/* Mirrors slot_of() in capture/rotate.c, to pick ids that collide.  Should
 * that hash change, this test still checks the table, only no longer aimed
 * at one run of slots. */
static size_t mirror_slot(uint64_t id, size_t cap)
{
	id ^= id >> 33;
	id *= UINT64_C(0xff51afd7ed558ccd);
	id ^= id >> 33;
	return (size_t)id & (cap - 1);
}

#define CL_IDS 110u /* below 128: the table keeps its first 256 slots */

static void test_rotate_colliding_slots(void)
{
	struct fixture fx;
	struct wl *w = &fx.w;
	struct capture_out_opts o = {
		.rotate_bytes = 1, /* a rotation before every event but a file's first */
	};
	struct carry_stats cs;
	uint64_t ids[CL_IDS], rng = 42, live[CL_IDS];
	size_t n = 0, nlive = 0, opened = 0, nfiles;
	char **paths;

	/* ids whose home slots are 250..255 and 0..1: one run that wraps */
	for (uint64_t id = 1; n < CL_IDS; id++)
		if (((mirror_slot(id, 256) - 250) & 255) < 8)
			ids[n++] = id;
	if (fixture_open(&fx, "c.tape", &o) != 0)
		return;
	/* Fill most of the run, then close at random places in it while the
	 * rest is opened, then close everything: every rotation lists what is
	 * open, and a close that misses its entry writes `close rotated` after
	 * a close, which the writer refuses. */
	while (!w->failed && (opened < CL_IDS || nlive)) {
		uint64_t r = rng_next(&rng);
		w->t += MS;
		if (opened < CL_IDS && (opened < 80 || nlive == 0 || r % 3 == 0)) {
			wl_open(w, ids[opened], (uint32_t)r);
			live[nlive++] = ids[opened++];
		} else {
			size_t li = (size_t)((r >> 8) % nlive);
			wl_close(w, live[li], TAPE_CLOSE_FIN);
			live[li] = live[--nlive];
		}
	}
	nfiles = (size_t)wl_finish(w);
	CU_ASSERT(nfiles == 2 * CL_IDS);
	if (!w->failed) {
		paths = counted_paths(fx.dir, "c", "tape", nfiles);
		CU_ASSERT(check_rotated(paths, nfiles, &w->want, &cs) == 0);
		CU_ASSERT(cs.max_carried >= 80);
		paths_free(paths, nfiles);
	}
	fixture_close(&fx);
}

/* ---- time rotation with a fake clock -------------------------------------------------- */

struct hook {
	struct capture_out *co;
	unsigned calls;
	int fail_next; /* the next call returns this */
};

/* before_rotate: a note in the old file, as the live loop's drop report. */
static int hook_note(void *ctx)
{
	struct hook *h = ctx;
	char text[64];

	h->calls++;
	if (h->fail_next) {
		int rc = h->fail_next;
		h->fail_next = 0;
		return rc;
	}
	snprintf(text, sizeof text, "before rotation %u", h->calls);
	return capture_out_note(h->co, text);
}

/* dir/prefix-HHMMSS[.counter].tape for t_sec, through strftime here. */
static void stamp_path(char *buf, size_t size, const char *dir, const char *prefix, int64_t t_sec,
		       unsigned counter)
{
	time_t t = (time_t)t_sec;
	struct tm tm;
	char s[32];

	CU_ASSERT_FATAL(localtime_r(&t, &tm) != NULL);
	CU_ASSERT_FATAL(strftime(s, sizeof s, "%H%M%S", &tm) > 0);
	if (counter)
		snprintf(buf, size, "%s/%s-%s.%u.tape", dir, prefix, s, counter);
	else
		snprintf(buf, size, "%s/%s-%s.tape", dir, prefix, s);
}

/* One expected event of a file: kind, connection, time in the file (ms),
 * and a detail: flags, reason, direction or note text. */
struct exp_ev {
	enum tape_event_kind kind;
	uint64_t conn;
	uint64_t ms;
	unsigned detail;
	const char *text;
};

/* Reads path and compares its events and metadata; 0 when they agree. */
static int file_is(const char *path, uint64_t start, const char *part, const struct exp_ev *e, size_t n)
{
	struct tape_file f;
	int ok = -1;

	if (tape_file_read(path, &f) != 0)
		VFAIL("%s: not a valid finalised tape", path);
	if (f.start != start || strcmp(f.part, part) != 0)
		VFAIL("%s: start %llu part \"%s\", want %llu \"%s\"", path, (unsigned long long)f.start,
		      f.part, (unsigned long long)start, part);
	if (f.ev.n != n)
		VFAIL("%s: %zu events, want %zu", path, f.ev.n, n);
	for (size_t i = 0; i < n; i++) {
		const struct rec *r = &f.ev.v[i];
		int same = r->kind == e[i].kind && r->conn == e[i].conn && r->t == start + e[i].ms * MS;
		switch (e[i].kind) {
		case TAPE_EV_OPEN:
			same = same && r->flags == e[i].detail;
			break;
		case TAPE_EV_CLOSE:
			same = same && r->reason == (enum tape_close_reason)e[i].detail;
			break;
		case TAPE_EV_DATA:
			same = same && r->dir == (enum tape_dir)e[i].detail;
			break;
		case TAPE_EV_NOTE:
			same = same && r->len == strlen(e[i].text) &&
			       memcmp(f.ev.pool + r->off, e[i].text, r->len) == 0;
			break;
		default:
			break;
		}
		if (!same) {
			rec_print("got", r);
			VFAIL("%s: event %zu is not the %s of connection %llu at %llu ms", path, i + 1,
			      tape_event_kind_name(e[i].kind), (unsigned long long)e[i].conn,
			      (unsigned long long)e[i].ms);
		}
	}
	ok = 0;
out:
	recs_free(&f.ev);
	return ok;
}

/* file_is() of the file that stamp_path() names, without a counter. */
static int stamped_file_is(const char *dir, const char *prefix, int64_t t_sec, uint64_t start,
			   const char *part, const struct exp_ev *e, size_t n)
{
	char p[PATH_MAX];

	stamp_path(p, sizeof p, dir, prefix, t_sec, 0);
	return file_is(p, start, part, e, n);
}

#define CONT TAPE_OPEN_CONTINUED
#define ROT TAPE_CLOSE_ROTATED

static void test_rotate_time_idle(void)
{
	char p[PATH_MAX];
	struct fixture fx;
	struct wl *w = &fx.w;
	struct hook h = {0};
	struct capture_out_opts o = {
		.rotate_ns = 10 * SEC,
		.wo.flush = TAPE_FLUSH_INTERVAL,
		.wo.flush_ms = 1000,
		.before_rotate = hook_note,
		.ctx = &h,
	};
	static const uint8_t hello[] = "hello", world[] = "world";

	if (fixture_open(&fx, "t-%H%M%S.tape", &o) != 0)
		return;
	h.co = w->co;
	stamp_path(p, sizeof p, fx.dir, "t", T0_SEC, 0);
	CU_ASSERT_STRING_EQUAL(capture_out_path(w->co), p);

	w->t = 1 * SEC;
	wl_open(w, 1, TAPE_OPEN_MIDSTREAM);
	w->t = 1500 * MS;
	wl_open(w, 2, TAPE_OPEN_INFERRED | TAPE_OPEN_REUSED);
	w->t = 2 * SEC;
	wl_data(w, 1, TAPE_C2S, hello, 5);
	/* not due yet */
	CU_ASSERT(capture_out_idle(w->co, T0 + 5 * SEC) == 0);
	CU_ASSERT(capture_out_files(w->co) == 1);
	CU_ASSERT(h.calls == 0);
	/* due, but the hook refuses: its error, no rotation */
	h.fail_next = -EIO;
	CU_ASSERT(capture_out_idle(w->co, T0 + 10 * SEC) == -EIO);
	CU_ASSERT(capture_out_files(w->co) == 1);
	CU_ASSERT(h.calls == 1);
	/* due: rotates at the clock's time, 10.5 s */
	CU_ASSERT(capture_out_idle(w->co, T0 + 10500 * MS) == 0);
	CU_ASSERT(capture_out_files(w->co) == 2);
	CU_ASSERT(h.calls == 2);
	stamp_path(p, sizeof p, fx.dir, "t", T0_SEC + 10, 0);
	CU_ASSERT_STRING_EQUAL(capture_out_path(w->co), p);
	/* long past due, but the file has no event of its own: no empty files */
	CU_ASSERT(capture_out_idle(w->co, T0 + 25 * SEC) == 0);
	CU_ASSERT(capture_out_idle(w->co, T0 + 60 * SEC) == 0);
	CU_ASSERT(capture_out_files(w->co) == 2);
	CU_ASSERT(h.calls == 2);
	/* an event late for the period goes into this file, which then rotates */
	w->t = 26 * SEC;
	wl_data(w, 2, TAPE_S2C, world, 5);
	CU_ASSERT(capture_out_files(w->co) == 2);
	CU_ASSERT(capture_out_idle(w->co, T0 + 27 * SEC) == 0);
	CU_ASSERT(capture_out_files(w->co) == 3);
	stamp_path(p, sizeof p, fx.dir, "t", T0_SEC + 27, 0);
	CU_ASSERT_STRING_EQUAL(capture_out_path(w->co), p);
	w->t = 27500 * MS;
	wl_close(w, 2, TAPE_CLOSE_FIN);
	/* an event from before that is kept at the last event's time */
	w->t = 20 * SEC;
	wl_data(w, 1, TAPE_C2S, hello, 5);
	CU_ASSERT(capture_out_files(w->co) == 3);
	/* rotation by an event: at its time, before it */
	w->t = 40 * SEC;
	wl_data(w, 1, TAPE_S2C, world, 5);
	CU_ASSERT(capture_out_files(w->co) == 4);
	stamp_path(p, sizeof p, fx.dir, "t", T0_SEC + 40, 0);
	CU_ASSERT_STRING_EQUAL(capture_out_path(w->co), p);
	wl_note(w, "last");
	w->t = 41 * SEC;
	wl_close(w, 1, TAPE_CLOSE_END);
	/* idle within the period: a flush, no rotation */
	CU_ASSERT(capture_out_idle(w->co, T0 + 45 * SEC) == 0);
	CU_ASSERT(wl_finish(w) == 4);
	CU_ASSERT(h.calls == 4);
	CU_ASSERT(!w->failed);
	CU_ASSERT(dir_count(fx.dir) == 4);

	{
		static const struct exp_ev f1[] = {
			{TAPE_EV_OPEN, 1, 1000, TAPE_OPEN_MIDSTREAM, NULL},
			{TAPE_EV_OPEN, 2, 1500, TAPE_OPEN_INFERRED | TAPE_OPEN_REUSED, NULL},
			{TAPE_EV_DATA, 1, 2000, TAPE_C2S, NULL},
			{TAPE_EV_NOTE, 0, 2000, 0, "before rotation 2"},
			{TAPE_EV_CLOSE, 1, 10500, ROT, NULL},
			{TAPE_EV_CLOSE, 2, 10500, ROT, NULL},
		};
		static const struct exp_ev f2[] = {
			{TAPE_EV_OPEN, 1, 0, TAPE_OPEN_MIDSTREAM | CONT, NULL},
			{TAPE_EV_OPEN, 2, 0, TAPE_OPEN_INFERRED | TAPE_OPEN_REUSED | CONT, NULL},
			{TAPE_EV_DATA, 2, 15500, TAPE_S2C, NULL},
			{TAPE_EV_NOTE, 0, 15500, 0, "before rotation 3"},
			{TAPE_EV_CLOSE, 1, 16500, ROT, NULL},
			{TAPE_EV_CLOSE, 2, 16500, ROT, NULL},
		};
		static const struct exp_ev f3[] = {
			{TAPE_EV_OPEN, 1, 0, TAPE_OPEN_MIDSTREAM | CONT, NULL},
			{TAPE_EV_OPEN, 2, 0, TAPE_OPEN_INFERRED | TAPE_OPEN_REUSED | CONT, NULL},
			{TAPE_EV_CLOSE, 2, 500, TAPE_CLOSE_FIN, NULL},
			{TAPE_EV_DATA, 1, 500, TAPE_C2S, NULL},
			{TAPE_EV_NOTE, 0, 500, 0, "before rotation 4"},
			{TAPE_EV_CLOSE, 1, 13000, ROT, NULL},
		};
		static const struct exp_ev f4[] = {
			{TAPE_EV_OPEN, 1, 0, TAPE_OPEN_MIDSTREAM | CONT, NULL},
			{TAPE_EV_DATA, 1, 0, TAPE_S2C, NULL},
			{TAPE_EV_NOTE, 0, 0, 0, "last"},
			{TAPE_EV_CLOSE, 1, 1000, TAPE_CLOSE_END, NULL},
		};
		CU_ASSERT(stamped_file_is(fx.dir, "t", T0_SEC, T0, "1",
					  f1, sizeof f1 / sizeof f1[0]) == 0);
		CU_ASSERT(stamped_file_is(fx.dir, "t", T0_SEC + 10, T0 + 10500 * MS, "2",
					  f2, sizeof f2 / sizeof f2[0]) == 0);
		CU_ASSERT(stamped_file_is(fx.dir, "t", T0_SEC + 27, T0 + 27 * SEC, "3",
					  f3, sizeof f3 / sizeof f3[0]) == 0);
		CU_ASSERT(stamped_file_is(fx.dir, "t", T0_SEC + 40, T0 + 40 * SEC, "4",
					  f4, sizeof f4 / sizeof f4[0]) == 0);
	}
	fixture_close(&fx);
}

/* A note (a drop report) is an event of the file's own: a file that holds
 * one besides its carried connections is rotated when due. */
static void test_rotate_time_note_is_own_event(void)
{
	struct fixture fx;
	struct wl *w = &fx.w;
	struct capture_out_opts o = {.rotate_ns = 10 * SEC};
	static const struct exp_ev f2[] = {
		{TAPE_EV_OPEN, 1, 0, CONT, NULL},
		{TAPE_EV_NOTE, 0, 0, 0, "capture drops: 3"},
		{TAPE_EV_CLOSE, 1, 21000, ROT, NULL},
	};
	static const struct exp_ev f3[] = {
		{TAPE_EV_OPEN, 1, 0, CONT, NULL},
		{TAPE_EV_CLOSE, 1, 1000, TAPE_CLOSE_FIN, NULL},
	};

	if (fixture_open(&fx, "n-%H%M%S.tape", &o) != 0)
		return;
	w->t = SEC;
	wl_open(w, 1, 0);
	CU_ASSERT(capture_out_idle(w->co, T0 + 10 * SEC) == 0);
	CU_ASSERT(capture_out_idle(w->co, T0 + 30 * SEC) == 0);
	CU_ASSERT(capture_out_files(w->co) == 2);
	CU_ASSERT(capture_out_note(w->co, "capture drops: 3") == 0);
	CU_ASSERT(capture_out_idle(w->co, T0 + 31 * SEC) == 0);
	CU_ASSERT(capture_out_files(w->co) == 3);
	w->t = 32 * SEC;
	wl_close(w, 1, TAPE_CLOSE_FIN);
	wl_finish(w);
	CU_ASSERT(!w->failed);
	CU_ASSERT(dir_count(fx.dir) == 3);
	CU_ASSERT(stamped_file_is(fx.dir, "n", T0_SEC + 10, T0 + 10 * SEC, "2",
				  f2, sizeof f2 / sizeof f2[0]) == 0);
	CU_ASSERT(stamped_file_is(fx.dir, "n", T0_SEC + 31, T0 + 31 * SEC, "3",
				  f3, sizeof f3 / sizeof f3[0]) == 0);
	fixture_close(&fx);
}

/* Rotations within one second of a %S pattern: the name this capture
 * used already gets a counter, which starts again with the next second. */
static void test_rotate_time_same_second(void)
{
	char p[PATH_MAX];
	struct fixture fx;
	struct wl *w = &fx.w;
	struct capture_out_opts o = {.rotate_ns = 400 * MS};
	struct carry_stats cs;
	char *paths[5];
	static const struct {
		uint64_t ms;
		int64_t sec;
		unsigned counter;
	} steps[] = {{100, 0, 0}, {500, 0, 1}, {950, 0, 2}, {1400, 1, 0}, {1850, 1, 1}};
	static const uint8_t x[] = "x";

	if (fixture_open(&fx, "u-%H%M%S.tape", &o) != 0)
		return;
	for (size_t i = 0; i < 5; i++) {
		w->t = steps[i].ms * MS;
		if (i == 0)
			wl_open(w, 7, 0);
		else
			wl_data(w, 7, TAPE_C2S, x, 1);
		stamp_path(p, sizeof p, fx.dir, "u", T0_SEC + steps[i].sec, steps[i].counter);
		CU_ASSERT_STRING_EQUAL(capture_out_path(w->co), p);
		paths[i] = strdup(p);
		CU_ASSERT_FATAL(paths[i] != NULL);
	}
	w->t = 1900 * MS;
	wl_close(w, 7, TAPE_CLOSE_RST);
	CU_ASSERT(wl_finish(w) == 5);
	CU_ASSERT(dir_count(fx.dir) == 5);
	CU_ASSERT(!w->failed && check_rotated(paths, 5, &w->want, &cs) == 0);
	CU_ASSERT(cs.carried == 4);
	for (size_t i = 0; i < 5; i++)
		free(paths[i]);
	fixture_close(&fx);
}

/* ---- files that exist already ---------------------------------------------------------- */

static void put_file(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	unit_write_file(p, text, strlen(text));
}

/* 1 when dir/name holds exactly text. */
static int file_holds(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];
	uint8_t *b;
	size_t n = 0;
	int same;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	b = unit_read_file(p, &n);
	same = b && n == strlen(text) && memcmp(b, text, n) == 0;
	free(b);
	return same;
}

/* A short rotating capture of pattern: one connection over three files
 * (rotation at 1 s); the paths it wrote go to out[0..3). */
static void three_files(const char *pattern, struct recs *want, char **out)
{
	struct tape_meta *meta = capture_meta();
	struct capture_out_opts o;
	struct wl w;
	static const uint8_t d[] = "data";

	memset(&o, 0, sizeof o);
	o.pattern = pattern;
	o.rotate_ns = SEC;
	o.meta = meta;
	wl_start(&w, &o);
	out[0] = strdup(capture_out_path(w.co));
	w.t = 100 * MS;
	wl_open(&w, 1, 0);
	w.t = 500 * MS;
	wl_data(&w, 1, TAPE_C2S, d, 4);
	w.t = 1200 * MS;
	wl_data(&w, 1, TAPE_S2C, d, 4);
	out[1] = strdup(capture_out_path(w.co));
	w.t = 2500 * MS;
	wl_data(&w, 1, TAPE_C2S, d, 4);
	out[2] = strdup(capture_out_path(w.co));
	w.t = 2600 * MS;
	wl_close(&w, 1, TAPE_CLOSE_FIN);
	CU_ASSERT_FATAL(out[0] && out[1] && out[2]);
	CU_ASSERT(wl_finish(&w) == 3);
	CU_ASSERT(!w.failed);
	tape_meta_free(meta);
	*want = w.want;
}

static void test_rotate_no_clobber(void)
{
	char dir[DIR_LEN], pattern[PATH_MAX], p[PATH_MAX];
	struct carry_stats cs;
	struct recs want;
	char *paths[3];
	static const char *const first[] = {"x.2.tape", "x.3.tape", "x.5.tape"};
	static const char *const again[] = {"x.6.tape", "x.7.tape", "x.8.tape"};
	uint8_t *kept[3];
	size_t nkept[3];

	if (!tmpdir_new(dir, sizeof dir))
		return;
	/* an earlier run's files, one of them past a hole in the numbers */
	put_file(dir, "x.tape", "earlier run, file 0\n");
	put_file(dir, "x.1.tape", "earlier run, file 1\n");
	put_file(dir, "x.4.tape", "earlier run, file 4\n");
	pattern_in(pattern, sizeof pattern, dir, "x.tape");
	three_files(pattern, &want, paths);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, first[i]);
		CU_ASSERT_STRING_EQUAL(paths[i], p);
	}
	CU_ASSERT(check_rotated(paths, 3, &want, &cs) == 0);
	CU_ASSERT(cs.carried == 2);
	CU_ASSERT(file_holds(dir, "x.tape", "earlier run, file 0\n"));
	CU_ASSERT(file_holds(dir, "x.1.tape", "earlier run, file 1\n"));
	CU_ASSERT(file_holds(dir, "x.4.tape", "earlier run, file 4\n"));
	CU_ASSERT(dir_count(dir) == 6);
	for (size_t i = 0; i < 3; i++) {
		kept[i] = unit_read_file(paths[i], &nkept[i]);
		CU_ASSERT(kept[i] != NULL);
		free(paths[i]);
	}
	recs_free(&want);

	/* a restart with the same pattern goes on after them */
	three_files(pattern, &want, paths);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, again[i]);
		CU_ASSERT_STRING_EQUAL(paths[i], p);
	}
	CU_ASSERT(check_rotated(paths, 3, &want, &cs) == 0);
	CU_ASSERT(dir_count(dir) == 9);
	for (size_t i = 0; i < 3; i++) {
		uint8_t *b;
		size_t n = 0;
		snprintf(p, sizeof p, "%s/%s", dir, first[i]);
		b = unit_read_file(p, &n);
		CU_ASSERT(b && kept[i] && n == nkept[i] && memcmp(b, kept[i], n) == 0);
		free(b);
		free(kept[i]);
		free(paths[i]);
	}
	CU_ASSERT(file_holds(dir, "x.tape", "earlier run, file 0\n"));
	recs_free(&want);
	tmpdir_remove(dir);
}

/* Without rotation the file is overwritten, as tcpdump -w does, and the
 * name is used as given: no strftime, no counter. */
static void test_rotate_single_file_overwrites(void)
{
	char dir[DIR_LEN], p[PATH_MAX];
	struct tape_meta *meta = capture_meta();
	struct capture_out_opts o;
	struct capture_out *co = NULL;
	struct wl w;
	struct tape_file f;
	static const uint8_t d[] = "abc";
	static const char *const names[] = {"y.tape", "z-%Y.tape"};

	if (!tmpdir_new(dir, sizeof dir)) {
		tape_meta_free(meta);
		return;
	}
	for (size_t k = 0; k < 2; k++) {
		put_file(dir, names[k], "an earlier recording\n");
		snprintf(p, sizeof p, "%s/%s", dir, names[k]);
		memset(&o, 0, sizeof o);
		o.pattern = p;
		o.meta = meta;
		wl_start(&w, &o);
		CU_ASSERT_STRING_EQUAL(capture_out_path(w.co), p);
		w.t = SEC;
		wl_open(&w, 1, 0);
		w.t = 5 * SEC;
		wl_data(&w, 1, TAPE_C2S, d, 3);
		CU_ASSERT(capture_out_idle(w.co, T0 + 100 * SEC) == 0);
		w.t = 200 * SEC;
		wl_close(&w, 1, TAPE_CLOSE_FIN);
		CU_ASSERT(wl_finish(&w) == 1);
		CU_ASSERT(tape_file_read(p, &f) == 0);
		CU_ASSERT(f.start == T0 && strcmp(f.part, "") == 0);
		CU_ASSERT(f.ev.n == 3 && w.want.n == 3);
		for (size_t i = 0; i < f.ev.n && i < w.want.n; i++)
			CU_ASSERT(rec_same(&f.ev, &f.ev.v[i], &w.want, &w.want.v[i]));
		recs_free(&f.ev);
		recs_free(&w.want);
	}
	CU_ASSERT(dir_count(dir) == 2);

	/* standard output cannot rotate */
	memset(&o, 0, sizeof o);
	o.pattern = "-";
	o.rotate_bytes = 1;
	o.meta = meta;
	CU_ASSERT(capture_out_open(&co, &o) == TAPE_EUSAGE);
	CU_ASSERT(*capture_out_error(co) != '\0');
	capture_out_free(co);
	tape_meta_free(meta);
	tmpdir_remove(dir);
}

/* ---- after a failed rotation ----------------------------------------------------------- */

/* Makes directories under top so that dir + "/" + leaf is exactly len
 * bytes long (components of at most 200 bytes); 0, or -1. */
static int deep_dir(char *dir, size_t size, const char *top, size_t len, const char *leaf)
{
	size_t want = len - 1 - strlen(leaf), n = strlen(top);

	if (n + 2 > want || want >= size)
		return -1;
	memcpy(dir, top, n + 1);
	while (n < want) {
		size_t k = want - n - 1; /* bytes of the next component, at most 200 */
		if (k > 200)
			k = k - 200 >= 2 ? 200 : 100; /* leaves room for "/" and a byte */
		dir[n++] = '/';
		memset(dir + n, 'd', k);
		n += k;
		dir[n] = '\0';
		if (mkdir(dir, 0700) != 0) {
			perror(dir);
			return -1;
		}
	}
	return 0;
}

/* A rotation that cannot name its next file fails, with the old file
 * finalised; what comes after is refused with an error, not a crash.  By
 * size (the next write checks the file's size) with a connection carried,
 * or by time with none (the next idle tick rotates). */
static void failed_rotation(const char *top, int by_size)
{
	char sub[DIR_LEN + 8], dir[PATH_MAX], path[PATH_MAX + 8], pattern[2 * PATH_MAX];
	struct tape_meta *meta = capture_meta();
	struct capture_out_opts o;
	struct tape_file f;
	struct tape_event ev;
	struct wl w;
	static const uint8_t d[] = "data";

	/* dir/x.tape fits in PATH_MAX; dir/x.1.tape does not */
	snprintf(sub, sizeof sub, "%s/%c", top, by_size ? 's' : 't');
	CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
	CU_ASSERT_FATAL(deep_dir(dir, sizeof dir, sub, PATH_MAX - 1, "x.tape") == 0);
	snprintf(path, sizeof path, "%s/x.tape", dir);
	CU_ASSERT_FATAL(strlen(path) == PATH_MAX - 1);
	pattern_in(pattern, sizeof pattern, dir, "x.tape");
	memset(&o, 0, sizeof o);
	o.pattern = pattern;
	o.rotate_bytes = by_size ? 1 : 0;
	o.rotate_ns = by_size ? 0 : 10 * SEC;
	o.meta = meta;
	wl_start(&w, &o);
	w.t = SEC;
	wl_open(&w, 1, 0);
	if (!by_size) {
		w.t = 2 * SEC;
		wl_close(&w, 1, TAPE_CLOSE_FIN);
	}
	CU_ASSERT(!w.failed);
	/* the rotation is due at this event, and fails */
	ev = ev_of(by_size ? TAPE_EV_DATA : TAPE_EV_OPEN, by_size ? 1 : 2);
	ev.time_ns = 11 * SEC;
	ev.data = d;
	ev.len = 4;
	ev.client = unit_ep4(10, 0, 0, 1, 1234);
	ev.server = unit_ep4(10, 0, 0, 2, 80);
	CU_ASSERT(capture_out_write(w.co, &ev) == TAPE_ELIMIT);
	CU_ASSERT(strstr(capture_out_error(w.co), "file name") != NULL);
	CU_ASSERT(capture_out_files(w.co) == 1);
	/* everything after is refused */
	if (by_size) {
		ev.time_ns = 12 * SEC;
		CU_ASSERT(capture_out_write(w.co, &ev) == TAPE_EUSAGE);
	}
	CU_ASSERT(capture_out_idle(w.co, T0 + 100 * SEC) == TAPE_EUSAGE);
	ev.time_ns = 101 * SEC;
	CU_ASSERT(capture_out_write(w.co, &ev) == TAPE_EUSAGE);
	CU_ASSERT(capture_out_note(w.co, "late") == TAPE_EUSAGE);
	CU_ASSERT(capture_out_close(w.co) == TAPE_EUSAGE);
	CU_ASSERT(capture_out_files(w.co) == 1);
	capture_out_free(w.co);
	/* the file is complete: by size it ends with the close rotated */
	CU_ASSERT(tape_file_read(path, &f) == 0);
	CU_ASSERT(f.ev.n == 2);
	if (f.ev.n == 2)
		CU_ASSERT(f.ev.v[1].kind == TAPE_EV_CLOSE &&
			  f.ev.v[1].reason == (by_size ? TAPE_CLOSE_ROTATED : TAPE_CLOSE_FIN) &&
			  f.ev.v[1].t == T0 + (by_size ? 11 : 2) * SEC);
	recs_free(&f.ev);
	recs_free(&w.want);
	tape_meta_free(meta);
}

static void test_rotate_after_failed_rotation(void)
{
	char top[DIR_LEN];

	if (!tmpdir_new(top, sizeof top))
		return;
	failed_rotation(top, 1);
	failed_rotation(top, 0);
	tmpdir_remove(top);
}

static const struct unit_test tests[] = {
	{"test_rotate_name_counter", test_rotate_name_counter},
	{"test_rotate_name_strftime", test_rotate_name_strftime},
	{"test_rotate_name_limits", test_rotate_name_limits},
	{"test_rotate_size_many_connections", test_rotate_size_many_connections},
	{"test_rotate_colliding_slots", test_rotate_colliding_slots},
	{"test_rotate_time_idle", test_rotate_time_idle},
	{"test_rotate_time_note_is_own_event", test_rotate_time_note_is_own_event},
	{"test_rotate_time_same_second", test_rotate_time_same_second},
	{"test_rotate_no_clobber", test_rotate_no_clobber},
	{"test_rotate_single_file_overwrites", test_rotate_single_file_overwrites},
	{"test_rotate_after_failed_rotation", test_rotate_after_failed_rotation},
	{NULL, NULL},
};

void test_rotate_register(void)
{
	unit_add_suite("rotate", tests);
}
