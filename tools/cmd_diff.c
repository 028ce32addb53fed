/* SPDX-License-Identifier: BSD-2-Clause */
/* cmd_diff.c - `tapedeck diff`: compare two tapes connection by connection, byte stream by byte stream. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "tape-int.h"
#include "bytediff.h"

/* Caps: payload kept per connection and direction, and gap runs kept per
 * connection and direction (tapedeck-diff(1), LIMITS). */
#define DIFF_MAX_STREAM (256u << 20)
#define DIFF_MAX_GAPS (1u << 20)
/* Not-compared regions listed per direction in the text output. */
#define DIFF_SHOW_REGIONS 8u

void tool_diff_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck diff [--ignore REGEX]... [--text-diff] [--by-endpoints] [--json] [--quiet] A B\n"
		"\n"
		"Compare two tapes connection by connection: for each pair, the bytes the client\n"
		"sent (c2s) and the bytes the server sent (s2c), each as one stream, and how the\n"
		"connection ended.  Times, notes, metadata and how the bytes were split into\n"
		"events are not compared.  Connections are paired in the order they were opened\n"
		"(the first of A with the first of B, ...).  Bytes a tape never saw (gaps) are\n"
		"not compared, and are listed.  A or B may be '-' for standard input.\n"
		"\n"
		"Options:\n"
		"  -I, --ignore REGEX   bytes matching REGEX (POSIX extended, per line) in both\n"
		"                       tapes compare equal, whatever their length; repeatable\n"
		"  -t, --text-diff      show differences as a unified diff of lines instead\n"
		"                       of hex dumps\n"
		"  -e, --by-endpoints   pair connections with the same client and server\n"
		"                       endpoints (in order among those) instead\n"
		"  -j, --json           print the result as one JSON object\n"
		"  -q, --quiet          print nothing; only the exit status tells\n"
		"  -h, --help           show this help\n"
		"\n"
		"Exit status: 0 the tapes are the same; 1 they differ; 2 usage error, an invalid\n"
		"REGEX, or a tape that could not be read or is too large to compare; 4 out of\n"
		"memory, or the output could not be written.\n");
}

/* ---- loading a tape -------------------------------------------------------- */

struct gap {
	uint64_t off, len; /* stream offset and length */
	size_t data_off;   /* bytes of data before it */
};

/* One direction of a connection: its bytes, and where gaps interrupt them. */
struct stream {
	uint8_t *data;
	size_t len, cap;
	struct gap *gaps;
	size_t ngaps, capgaps;
	uint64_t total; /* data and gap bytes */
};

struct dconn {
	uint64_t id;
	struct tape_endpoint client, server;
	struct stream s[2];
	unsigned fin, rst; /* bit per direction */
	int closed;
	enum tape_close_reason reason;
};

struct dtape {
	const char *path;
	struct dconn *v;
	size_t n, cap;
	size_t *idx; /* id hash: index + 1 */
	size_t nidx;
};

static size_t hash_id(uint64_t id)
{
	id ^= id >> 31;
	id *= UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(id ^ (id >> 29));
}

static int rehash(struct dtape *t, size_t n)
{
	size_t *idx = calloc(n, sizeof *idx);

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = hash_id(t->v[i].id) & (n - 1);
		while (idx[j])
			j = (j + 1) & (n - 1);
		idx[j] = i + 1;
	}
	free(t->idx);
	t->idx = idx;
	t->nidx = n;
	return 0;
}

static struct dconn *conn_find(struct dtape *t, uint64_t id)
{
	if (!t->nidx)
		return NULL;
	for (size_t j = hash_id(id) & (t->nidx - 1); t->idx[j]; j = (j + 1) & (t->nidx - 1))
		if (t->v[t->idx[j] - 1].id == id)
			return &t->v[t->idx[j] - 1];
	return NULL;
}

static struct dconn *conn_add(struct dtape *t, const struct tape_event *ev)
{
	struct dconn *c;
	size_t j;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct dconn *v = realloc(t->v, cap * sizeof *v);
		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	if ((t->n + 1) * 2 > t->nidx && rehash(t, t->nidx ? 2 * t->nidx : 64))
		return NULL;
	c = &t->v[t->n];
	memset(c, 0, sizeof *c);
	c->id = ev->conn;
	c->client = ev->client;
	c->server = ev->server;
	j = hash_id(c->id) & (t->nidx - 1);
	while (t->idx[j])
		j = (j + 1) & (t->nidx - 1);
	t->idx[j] = ++t->n;
	return c;
}

static void tape_free(struct dtape *t)
{
	for (size_t i = 0; i < t->n; i++)
		for (int d = 0; d < 2; d++) {
			free(t->v[i].s[d].data);
			free(t->v[i].s[d].gaps);
		}
	free(t->v);
	free(t->idx);
	memset(t, 0, sizeof *t);
}

static int stream_data(struct stream *s, const uint8_t *p, size_t n)
{
	if (n > DIFF_MAX_STREAM - s->len)
		return TAPE_ELIMIT;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n)
			cap = cap > DIFF_MAX_STREAM / 2 ? DIFF_MAX_STREAM : 2 * cap;
		uint8_t *np = realloc(s->data, cap);
		if (!np)
			return -ENOMEM;
		s->data = np;
		s->cap = cap;
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
	s->total += n;
	return 0;
}

static int stream_gap(struct stream *s, uint64_t n)
{
	if (s->ngaps && s->gaps[s->ngaps - 1].off + s->gaps[s->ngaps - 1].len == s->total) {
		s->gaps[s->ngaps - 1].len += n; /* adjacent gaps are one */
		s->total += n;
		return 0;
	}
	if (s->ngaps >= DIFF_MAX_GAPS)
		return TAPE_ELIMIT;
	if (s->ngaps == s->capgaps) {
		size_t cap = s->capgaps ? 2 * s->capgaps : 8;
		struct gap *ng = realloc(s->gaps, cap * sizeof *ng);
		if (!ng)
			return -ENOMEM;
		s->gaps = ng;
		s->capgaps = cap;
	}
	s->gaps[s->ngaps].off = s->total;
	s->gaps[s->ngaps].len = n;
	s->gaps[s->ngaps].data_off = s->len;
	s->ngaps++;
	s->total += n;
	return 0;
}

/* Reads the whole tape at path: 0, or the exit status after a message. */
static int load(struct dtape *t, const char *path)
{
	struct tape_reader *r = NULL;
	struct tape_event ev;
	int rc, status = TOOL_EXIT_OK;

	t->path = strcmp(path, "-") == 0 ? "(stdin)" : path;
	rc = tape_reader_open(&r, path, NULL);
	if (rc) {
		tool_err("%s", tape_reader_error(r));
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
		goto out;
	}
	while ((rc = tape_reader_next(r, &ev)) == 1) {
		struct dconn *c;
		if (ev.conn == 0)
			continue;
		if (ev.kind == TAPE_EV_OPEN) {
			if (!conn_add(t, &ev)) {
				rc = -ENOMEM;
				break;
			}
			continue;
		}
		c = conn_find(t, ev.conn);
		if (!c) /* the reader guarantees the open came first */
			continue;
		switch (ev.kind) {
		case TAPE_EV_DATA:
			rc = stream_data(&c->s[ev.dir], ev.data, ev.len);
			break;
		case TAPE_EV_GAP:
			rc = stream_gap(&c->s[ev.dir], ev.gap);
			break;
		case TAPE_EV_FIN:
			c->fin |= 1u << ev.dir;
			break;
		case TAPE_EV_RST:
			c->rst |= 1u << ev.dir;
			break;
		case TAPE_EV_CLOSE:
			c->closed = 1;
			c->reason = ev.reason;
			break;
		default:
			break;
		}
		if (rc == TAPE_ELIMIT) {
			if (ev.kind == TAPE_EV_DATA)
				tool_err("%s: connection %" PRIu64 " has more than %u bytes of %s data, too many "
					 "to compare",
					 path, ev.conn, DIFF_MAX_STREAM, tape_dir_name(ev.dir));
			else
				tool_err("%s: connection %" PRIu64 " has more than %u %s gaps, too many to compare",
					 path, ev.conn, DIFF_MAX_GAPS, tape_dir_name(ev.dir));
			status = TOOL_EXIT_INPUT;
			goto out;
		}
		if (rc < 0)
			break;
	}
	if (rc == -ENOMEM && !tape_reader_error(r)[0]) {
		tool_err("out of memory reading %s", path);
		status = TOOL_EXIT_INTERNAL;
	} else if (rc < 0) {
		tool_err("%s", tape_reader_error(r));
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
	} else {
		tool_report_reader_end(r, path);
	}
out:
	tape_reader_free(r);
	return status;
}

/* ---- comparing ------------------------------------------------------------- */

/* A stretch of stream offsets that was not compared. */
struct region {
	uint64_t from, to;
	unsigned in; /* 1: a gap in A, 2: in B, 3: both */
};

struct dir_result {
	int same;
	uint64_t a_off, b_off; /* first difference, stream offsets */
	char *report;          /* malloc'd */
	struct region *nc;     /* not compared */
	size_t nnc, capnc;
	uint64_t nc_bytes;
};

struct pair {
	long a, b; /* indexes, -1 for none */
	int same;
	struct dir_result d[2];
	int ending_same;
};

/* Where offset off is in s: 1 inside a gap (*next: its end), 0 in data
 * (*next: the next gap's start, or the end). */
static int locate(const struct stream *s, uint64_t off, uint64_t *next)
{
	size_t lo = 0, hi = s->ngaps;

	/* The last gap starting at or before off. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->gaps[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && off < s->gaps[lo - 1].off + s->gaps[lo - 1].len) {
		*next = s->gaps[lo - 1].off + s->gaps[lo - 1].len;
		return 1;
	}
	*next = lo < s->ngaps ? s->gaps[lo].off : s->total;
	return 0;
}

/* Pointer to the data byte off (never NULL, also for empty streams). */
static const uint8_t *at(const struct stream *s, size_t off)
{
	return s->data ? s->data + off : (const uint8_t *)"";
}

/* Data offset of stream offset off, which is not in a gap. */
static size_t data_at(const struct stream *s, uint64_t off)
{
	size_t lo = 0, hi = s->ngaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->gaps[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return (size_t)off;
	return s->gaps[lo - 1].data_off + (size_t)(off - s->gaps[lo - 1].off - s->gaps[lo - 1].len);
}

static int add_region(struct dir_result *r, uint64_t from, uint64_t to, unsigned in)
{
	r->nc_bytes += to - from;
	if (r->nnc && r->nc[r->nnc - 1].to == from && r->nc[r->nnc - 1].in == in) {
		r->nc[r->nnc - 1].to = to;
		return 0;
	}
	if (r->nnc == r->capnc) {
		size_t cap = r->capnc ? 2 * r->capnc : 4;
		struct region *nr = realloc(r->nc, cap * sizeof *nr);
		if (!nr)
			return -ENOMEM;
		r->nc = nr;
		r->capnc = cap;
	}
	r->nc[r->nnc].from = from;
	r->nc[r->nnc].to = to;
	r->nc[r->nnc].in = in;
	r->nnc++;
	return 0;
}

/* Compares A's and B's stream of one direction; 0 or -ENOMEM.  Stretches
 * where either has a gap are skipped (and listed); the others are compared
 * under the mask one stretch at a time, offsets aligned by position in the
 * stream; past the shorter stream, whatever the longer has differs. */
static int compare_streams(const struct stream *a, const struct stream *b, const struct tape__mask *m,
			   int text, struct dir_result *res)
{
	uint64_t off = 0, common = a->total < b->total ? a->total : b->total;
	struct tape__diff_view v = {0};

	memset(res, 0, sizeof *res);
	res->same = 1;
	v.mask = m;
	v.exp_name = "A";
	v.got_name = "B";
	v.text_diff = text;
	while (off < common) {
		uint64_t na, nb, end;
		size_t da, db, la, lb, eo, go;
		int ga, gb, rc, whole = 0;

		ga = locate(a, off, &na);
		gb = locate(b, off, &nb);
		end = na < nb ? na : nb;
		if (end > common)
			end = common;
		if (ga || gb) {
			if (add_region(res, off, end, (ga ? 1u : 0u) | (gb ? 2u : 0u)))
				return -ENOMEM;
			off = end;
			continue;
		}
		/* Known on both sides up to end.  When neither has a gap left,
		 * the rest of each is compared whole, so that masked bytes of
		 * different lengths near the end still compare equal. */
		da = data_at(a, off);
		db = data_at(b, off);
		la = lb = (size_t)(end - off);
		if (na == a->total && nb == b->total) {
			la = a->len - da;
			lb = b->len - db;
			whole = 1;
		}
		rc = tape__diff_compare(m, at(a, da), la, at(b, db), lb, &eo, &go);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			res->same = 0;
			res->a_off = off + eo;
			res->b_off = off + go;
			v.exp_base = v.got_base = off;
			res->report = tape__diff_report_ex(&v, at(a, da), la, at(b, db), lb, eo, go);
			return res->report ? 0 : -ENOMEM;
		}
		if (whole)
			return 0;
		off = end;
	}
	if (a->total != b->total) {
		/* Only the longer goes on past common: it differs there. */
		const struct stream *l = a->total > b->total ? a : b;
		uint64_t nx;
		size_t dl;

		res->same = 0;
		res->a_off = res->b_off = common;
		if (locate(l, common, &nx)) {
			char buf[200];
			snprintf(buf, sizeof buf,
				 "%s ends at offset %" PRIu64 "; %s goes on with %" PRIu64 " bytes never seen (a gap)\n",
				 l == a ? "B" : "A", common, l == a ? "A" : "B", nx - common);
			res->report = strdup(buf);
			return res->report ? 0 : -ENOMEM;
		}
		dl = data_at(l, common);
		v.exp_base = v.got_base = common;
		if (l == a)
			res->report = tape__diff_report_ex(&v, at(a, dl), (size_t)(nx - common), at(b, b->len),
							   0, 0, 0);
		else
			res->report = tape__diff_report_ex(&v, at(a, a->len), 0, at(b, dl),
							   (size_t)(nx - common), 0, 0);
		return res->report ? 0 : -ENOMEM;
	}
	return 0;
}

static void ending_text(char *buf, size_t size, const struct dconn *c)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int d = 0; d < 2; d++)
		if (c->fin & (1u << d))
			o += (size_t)snprintf(buf + o, size - o, "%sfin %s", o ? ", " : "", tape_dir_name((enum tape_dir)d));
	for (int d = 0; d < 2; d++)
		if (c->rst & (1u << d))
			o += (size_t)snprintf(buf + o, size - o, "%srst %s", o ? ", " : "", tape_dir_name((enum tape_dir)d));
	if (c->closed)
		snprintf(buf + o, size - o, "%sclose %s", o ? ", " : "", tape_close_reason_name(c->reason));
	else
		snprintf(buf + o, size - o, "%sstill open", o ? ", " : "");
}

static int ending_same(const struct dconn *a, const struct dconn *b)
{
	return a->fin == b->fin && a->rst == b->rst && a->closed == b->closed &&
	       (!a->closed || a->reason == b->reason);
}

/* ---- pairing --------------------------------------------------------------- */

static int ep_cmp(const struct tape_endpoint *x, const struct tape_endpoint *y)
{
	int d = (int)x->family - (int)y->family;

	if (d)
		return d;
	d = memcmp(x->addr, y->addr, sizeof x->addr);
	if (d)
		return d;
	return (int)x->port - (int)y->port;
}

/* qsort context: the tape being sorted (qsort has none of its own). */
static const struct dtape *sort_tape;

static int by_endpoints(const void *p, const void *q)
{
	const struct dconn *x = &sort_tape->v[*(const size_t *)p], *y = &sort_tape->v[*(const size_t *)q];
	int d = ep_cmp(&x->client, &y->client);

	if (!d)
		d = ep_cmp(&x->server, &y->server);
	if (!d)
		d = *(const size_t *)p < *(const size_t *)q ? -1 : 1;
	return d;
}

static int by_position(const void *p, const void *q)
{
	const struct pair *x = p, *y = q;
	/* Pairs and A-only in A's order, then B-only in B's order. */
	long kx = x->a >= 0 ? x->a : LONG_MAX / 2 + x->b, ky = y->a >= 0 ? y->a : LONG_MAX / 2 + y->b;

	return kx < ky ? -1 : kx > ky;
}

static struct pair *make_pairs(const struct dtape *a, const struct dtape *b, int endpoints, size_t *np)
{
	struct pair *p = calloc(a->n + b->n + 1, sizeof *p);
	size_t n = 0;

	if (!p)
		return NULL;
	if (!endpoints) {
		for (size_t i = 0; i < a->n || i < b->n; i++) {
			p[n].a = i < a->n ? (long)i : -1;
			p[n].b = i < b->n ? (long)i : -1;
			n++;
		}
	} else {
		size_t *sa = malloc((a->n + 1) * sizeof *sa), *sb = malloc((b->n + 1) * sizeof *sb);
		size_t i = 0, j = 0;
		if (!sa || !sb) {
			free(sa);
			free(sb);
			free(p);
			return NULL;
		}
		for (size_t k = 0; k < a->n; k++)
			sa[k] = k;
		for (size_t k = 0; k < b->n; k++)
			sb[k] = k;
		sort_tape = a;
		qsort(sa, a->n, sizeof *sa, by_endpoints);
		sort_tape = b;
		qsort(sb, b->n, sizeof *sb, by_endpoints);
		while (i < a->n || j < b->n) {
			int d;
			if (i == a->n)
				d = 1;
			else if (j == b->n)
				d = -1;
			else {
				d = ep_cmp(&a->v[sa[i]].client, &b->v[sb[j]].client);
				if (!d)
					d = ep_cmp(&a->v[sa[i]].server, &b->v[sb[j]].server);
			}
			p[n].a = d <= 0 ? (long)sa[i++] : -1;
			p[n].b = d >= 0 ? (long)sb[j++] : -1;
			n++;
		}
		free(sa);
		free(sb);
		qsort(p, n, sizeof *p, by_position);
	}
	*np = n;
	return p;
}

/* ---- output ---------------------------------------------------------------- */

static void put_indented(FILE *out, const char *text)
{
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) + 1 : strlen(text);
		fputs("  ", out);
		fwrite(text, 1, n, out);
		if (!nl)
			fputc('\n', out);
		text += n;
	}
}

static void conn_label(FILE *out, const struct pair *p, const struct dtape *a, const struct dtape *b)
{
	if (p->a >= 0)
		fprintf(out, "conn %" PRIu64, a->v[p->a].id);
	else
		fputs("conn -", out);
	if (p->b >= 0)
		fprintf(out, " / %" PRIu64, b->v[p->b].id);
	else
		fputs(" / -", out);
}

static const char *in_name(unsigned in)
{
	return in == 1 ? "A" : in == 2 ? "B" : "A and B";
}

static void print_text(FILE *out, const struct pair *ps, size_t n, const struct dtape *a, const struct dtape *b)
{
	char ea[160], eb[160], ca[TAPE_ENDPOINT_STRLEN], sa[TAPE_ENDPOINT_STRLEN];

	for (size_t i = 0; i < n; i++) {
		const struct pair *p = &ps[i];
		if (p->a < 0 || p->b < 0) {
			const struct dconn *c = p->a >= 0 ? &a->v[p->a] : &b->v[p->b];
			tape_endpoint_format(&c->client, ca, sizeof ca);
			tape_endpoint_format(&c->server, sa, sizeof sa);
			conn_label(out, p, a, b);
			fprintf(out, ": only in %s: %s -> %s\n", p->a >= 0 ? "A" : "B", ca, sa);
			continue;
		}
		for (int d = 0; d < 2; d++) {
			const struct dir_result *r = &p->d[d];
			if (r->nnc) {
				conn_label(out, p, a, b);
				fprintf(out, ": %s: %" PRIu64 " bytes not compared (gaps):", tape_dir_name((enum tape_dir)d),
					r->nc_bytes);
				for (size_t k = 0; k < r->nnc && k < DIFF_SHOW_REGIONS; k++)
					fprintf(out, "%s offsets %" PRIu64 "-%" PRIu64 " in %s", k ? ";" : "", r->nc[k].from,
						r->nc[k].to - 1, in_name(r->nc[k].in));
				if (r->nnc > DIFF_SHOW_REGIONS)
					fprintf(out, "; %zu more", r->nnc - DIFF_SHOW_REGIONS);
				fputc('\n', out);
			}
			if (!r->same) {
				conn_label(out, p, a, b);
				if (r->a_off == r->b_off)
					fprintf(out, ": %s differs at offset %" PRIu64 "\n",
						tape_dir_name((enum tape_dir)d), r->a_off);
				else
					fprintf(out, ": %s differs at offset %" PRIu64 " of A, %" PRIu64 " of B\n",
						tape_dir_name((enum tape_dir)d), r->a_off, r->b_off);
				if (r->report)
					put_indented(out, r->report);
			}
		}
		if (!p->ending_same) {
			ending_text(ea, sizeof ea, &a->v[p->a]);
			ending_text(eb, sizeof eb, &b->v[p->b]);
			conn_label(out, p, a, b);
			fprintf(out, ": ending differs: A %s; B %s\n", ea, eb);
		}
	}
}

static void json_dir(FILE *out, const struct dir_result *r, const struct stream *sa, const struct stream *sb)
{
	fprintf(out, "{\"same\":%s,\"a_bytes\":%" PRIu64 ",\"b_bytes\":%" PRIu64, r->same ? "true" : "false",
		sa->total, sb->total);
	if (r->same)
		fputs(",\"a_offset\":null,\"b_offset\":null", out);
	else
		fprintf(out, ",\"a_offset\":%" PRIu64 ",\"b_offset\":%" PRIu64, r->a_off, r->b_off);
	fputs(",\"not_compared\":[", out);
	for (size_t k = 0; k < r->nnc; k++)
		fprintf(out, "%s{\"from\":%" PRIu64 ",\"to\":%" PRIu64 ",\"gap_in\":\"%s\"}", k ? "," : "",
			r->nc[k].from, r->nc[k].to, r->nc[k].in == 1 ? "a" : r->nc[k].in == 2 ? "b" : "both");
	fputs("],\"report\":", out);
	if (r->report)
		tool_json_str(out, r->report, strlen(r->report));
	else
		fputs("null", out);
	fputc('}', out);
}

static void json_conn(FILE *out, const char *key, const struct dconn *c)
{
	char e[TAPE_ENDPOINT_STRLEN];

	fprintf(out, "\"%s\":{\"conn\":%" PRIu64 ",\"client\":", key, c->id);
	tape_endpoint_format(&c->client, e, sizeof e);
	tool_json_str(out, e, strlen(e));
	fputs(",\"server\":", out);
	tape_endpoint_format(&c->server, e, sizeof e);
	tool_json_str(out, e, strlen(e));
	fputc('}', out);
}

static void print_json(FILE *out, const struct pair *ps, size_t n, const struct dtape *a, const struct dtape *b,
		       int endpoints, int same, size_t differ, size_t only_a, size_t only_b)
{
	char ea[160], eb[160];
	int first = 1;

	fputs("{\"a\":", out);
	tool_json_str(out, a->path, strlen(a->path));
	fputs(",\"b\":", out);
	tool_json_str(out, b->path, strlen(b->path));
	fprintf(out,
		",\"paired_by\":\"%s\",\"same\":%s,\"a_connections\":%zu,\"b_connections\":%zu,"
		"\"pairs_differ\":%zu,\"only_in_a_count\":%zu,\"only_in_b_count\":%zu,\"pairs\":[",
		endpoints ? "endpoints" : "order", same ? "true" : "false", a->n, b->n, differ, only_a, only_b);
	for (size_t i = 0; i < n; i++) {
		const struct pair *p = &ps[i];
		if (p->a < 0 || p->b < 0)
			continue;
		fputs(first ? "{" : ",{", out);
		first = 0;
		json_conn(out, "a", &a->v[p->a]);
		fputc(',', out);
		json_conn(out, "b", &b->v[p->b]);
		fprintf(out, ",\"same\":%s,\"c2s\":", p->same ? "true" : "false");
		json_dir(out, &p->d[0], &a->v[p->a].s[0], &b->v[p->b].s[0]);
		fputs(",\"s2c\":", out);
		json_dir(out, &p->d[1], &a->v[p->a].s[1], &b->v[p->b].s[1]);
		ending_text(ea, sizeof ea, &a->v[p->a]);
		ending_text(eb, sizeof eb, &b->v[p->b]);
		fprintf(out, ",\"ending\":{\"same\":%s,\"a\":", p->ending_same ? "true" : "false");
		tool_json_str(out, ea, strlen(ea));
		fputs(",\"b\":", out);
		tool_json_str(out, eb, strlen(eb));
		fputs("}}", out);
	}
	for (int side = 0; side < 2; side++) {
		fprintf(out, "],\"%s\":[", side ? "only_in_b" : "only_in_a");
		first = 1;
		for (size_t i = 0; i < n; i++) {
			const struct pair *p = &ps[i];
			if (side == 0 ? !(p->a >= 0 && p->b < 0) : !(p->b >= 0 && p->a < 0))
				continue;
			fputs(first ? "{" : ",{", out);
			first = 0;
			json_conn(out, side ? "b" : "a", side ? &b->v[p->b] : &a->v[p->a]);
			fputc('}', out);
		}
	}
	fputs("]}\n", out);
}

/* ---- main -------------------------------------------------------------------- */

int tool_diff_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ignore", required_argument, NULL, 'I'},
		{"text-diff", no_argument, NULL, 't'},
		{"by-endpoints", no_argument, NULL, 'e'},
		{"json", no_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct tool_cmd *self = tool_cmd_find("diff");
	struct tape__mask *mask = NULL;
	struct dtape ta = {0}, tb = {0};
	struct pair *pairs = NULL;
	size_t npairs = 0, differ = 0, only_a = 0, only_b = 0;
	int text = 0, endpoints = 0, json = 0, quiet = 0, c, status = TOOL_EXIT_OK;
	char err[512];

	if (tape__mask_new(&mask)) {
		tool_err("out of memory");
		return TOOL_EXIT_INTERNAL;
	}
	optind = 1;
	opterr = 0; /* one message, ours */
	while ((c = getopt_long(argc, argv, "+I:tejqh", opts, NULL)) != -1) {
		switch (c) {
		case 'I': {
			int rc = tape__mask_add(mask, optarg, err, sizeof err);
			if (rc == -ENOMEM) {
				tool_err("out of memory");
				status = TOOL_EXIT_INTERNAL;
				goto out;
			}
			if (rc) {
				status = tool_usage_error(self, "--ignore: %s", err);
				goto out;
			}
			break;
		}
		case 't':
			text = 1;
			break;
		case 'e':
			endpoints = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			tool_diff_usage(stdout);
			goto out;
		default:
			if (optopt == 'I' || (optind > 0 && strcmp(argv[optind - 1], "--ignore") == 0))
				status = tool_usage_error(self, "option '%s' needs a REGEX", argv[optind - 1]);
			else
				status = tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (argc - optind != 2) {
		status = tool_usage_error(self, "expected two tapes A and B, got %d argument%s", argc - optind,
					  argc - optind == 1 ? "" : "s");
		goto out;
	}
	if (strcmp(argv[optind], "-") == 0 && strcmp(argv[optind + 1], "-") == 0) {
		status = tool_usage_error(self, "A and B cannot both be standard input");
		goto out;
	}
	if ((status = load(&ta, argv[optind])) != 0 || (status = load(&tb, argv[optind + 1])) != 0)
		goto out;

	pairs = make_pairs(&ta, &tb, endpoints, &npairs);
	if (!pairs)
		goto oom;
	for (size_t i = 0; i < npairs; i++) {
		struct pair *p = &pairs[i];
		if (p->a < 0 || p->b < 0) {
			if (p->a >= 0)
				only_a++;
			else
				only_b++;
			continue;
		}
		for (int d = 0; d < 2; d++)
			if (compare_streams(&ta.v[p->a].s[d], &tb.v[p->b].s[d], mask, text, &p->d[d]))
				goto oom;
		p->ending_same = ending_same(&ta.v[p->a], &tb.v[p->b]);
		p->same = p->d[0].same && p->d[1].same && p->ending_same;
		if (!p->same)
			differ++;
	}
	status = differ || only_a || only_b ? TOOL_EXIT_DIFFER : TOOL_EXIT_OK;
	if (json) {
		print_json(stdout, pairs, npairs, &ta, &tb, endpoints, status == TOOL_EXIT_OK, differ, only_a, only_b);
	} else if (!quiet) {
		print_text(stdout, pairs, npairs, &ta, &tb);
		if (status == TOOL_EXIT_OK)
			printf("%s and %s are the same: %zu connection%s\n", ta.path, tb.path, npairs,
			       npairs == 1 ? "" : "s");
		else
			printf("%s and %s differ: %zu connection%s in A, %zu in B; %zu of %zu pair%s differ; "
			       "%zu only in A, %zu only in B\n",
			       ta.path, tb.path, ta.n, ta.n == 1 ? "" : "s", tb.n, differ, npairs - only_a - only_b,
			       npairs - only_a - only_b == 1 ? "" : "s", only_a, only_b);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tool_err("writing the result failed");
		status = TOOL_EXIT_INTERNAL;
	}
	goto out;
oom:
	tool_err("out of memory");
	status = TOOL_EXIT_INTERNAL;
out:
	for (size_t i = 0; pairs && i < npairs; i++)
		for (int d = 0; d < 2; d++) {
			free(pairs[i].d[d].report);
			free(pairs[i].d[d].nc);
		}
	free(pairs);
	tape_free(&ta);
	tape_free(&tb);
	tape__mask_free(mask);
	return status;
}
