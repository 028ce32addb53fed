/* SPDX-License-Identifier: BSD-2-Clause */
/* fmt_gogetway.c - the "gogetway" tape backend: reading traffic recordings made by gogetway. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"

/*
 * A gogetway recording is a sequence of records with no file header
 * (doc/gogetway.md):
 *
 *   offset  size  field
 *        0    13  marker "--benbens--\nt"
 *       13     8  time, nanoseconds since the Unix epoch, little-endian
 *       21     1  type: 1 TCP, 2 HTTP
 *       22     8  L, length of the escaped body, little-endian
 *       30     n  "FROM...TO\n": sender and receiver as host:port / [v6]:port
 *     31+n     L  the body, escaped: the writer replaces every "\nt" by
 *                 "\n\nt" so the marker cannot appear inside it
 *
 * Records are framed by L, never by looking for the marker.  Unescaping is
 * the inverse of the writer's replace-all: each maximal run of k >= 2 LF
 * bytes followed by 't' loses one LF (the same as replacing every "\n\nt" by
 * "\nt" left to right).  A run of one LF before 't' cannot come from that
 * writer; it is kept as it is and counted.
 *
 * As a tape: records between the same two endpoints (in either direction)
 * are one connection, whose client is the FROM of its first record.  The
 * connection opens at its first record; each non-empty body is a DATA
 * event, c2s when FROM is the client; at the end of the file every
 * connection closes with reason "end".  The first record's time is the
 * tape's start.  Times that go backwards are held at the latest time seen.
 * Empty bodies, HTTP-typed records, clamped times and bare "\nt" sequences
 * are counted in one connection-0 note at the end.  A record cut short by
 * the end of the file (its writer was killed) is dropped and reported
 * through tape_reader_status().
 */

static const char ggw_marker[] = "--benbens--\nt";
#define GGW_MARKER_LEN 13u
#define GGW_HEAD 30u /* marker, time, type, length */
#define GGW_TYPE_TCP 1u
#define GGW_TYPE_HTTP 2u
#define GGW_QUOTE_MAX 40u

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The whole marker, and a known type when it is there. */
static int ggw_probe(const uint8_t *buf, size_t n)
{
	if (n < GGW_MARKER_LEN || memcmp(buf, ggw_marker, GGW_MARKER_LEN) != 0)
		return 0;
	return n < 22 || buf[21] == GGW_TYPE_TCP || buf[21] == GGW_TYPE_HTTP;
}

/* ---- reading ------------------------------------------------------------ */

struct ggw_conn {
	struct tape_endpoint client, server;
};

enum ggw_phase { PH_RECORDS, PH_CLOSE, PH_NOTE, PH_DONE };

struct ggw_rstate {
	enum ggw_phase phase;
	int started;              /* a record has been read: start_ns is set */
	uint64_t start_ns;        /* time of the first record */
	uint64_t last_abs;        /* latest record time seen */
	uint64_t last_ns;         /* time of the last event returned */
	struct ggw_conn *conns;   /* connection id - 1 */
	size_t nconns, capconns;
	size_t *idx;              /* hash of the endpoint pair: index + 1, 0 empty */
	size_t nidx;
	uint8_t *body;            /* the current record's unescaped body */
	size_t capbody;
	int pending;              /* a DATA event waits behind an OPEN */
	struct tape_event pend;
	size_t closing;           /* next connection to close */
	char note[512];           /* the final note */
	/* counted for the final note */
	uint64_t records, http, empty, clamped, bare;
};

/* One parsed record; data points into st->body. */
struct ggw_rec {
	uint64_t off;
	uint64_t time;
	unsigned type;
	struct tape_endpoint from, to;
	size_t len;
};

/* Printable ASCII as is, other bytes as \xHH, cut with "...". */
static const char *quote(char *buf, size_t size, const uint8_t *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t o = 0, lim = n > GGW_QUOTE_MAX ? GGW_QUOTE_MAX : n;

	for (size_t i = 0; i < lim && o + 8 < size; i++) {
		uint8_t c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hexd[c >> 4];
			buf[o++] = hexd[c & 15];
		}
	}
	if (lim < n && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

#define QBUF (GGW_QUOTE_MAX * 4 + 8)

static int ggw_read_open(struct tape_reader *r)
{
	struct ggw_rstate *st = calloc(1, sizeof *st);
	long got;
	int rc;

	if (!st)
		return tape__rerr(r, -ENOMEM, "out of memory");
	r->state = st;
	if (!r->meta && (rc = tape_meta_new(&r->meta)) != 0)
		return tape__rerr(r, rc, "out of memory");
	rc = tape_meta_set(r->meta, "source", "gogetway recording");
	if (rc)
		return tape__rerr(r, rc, "cannot set metadata: %s", tape_strerror(rc));
	/* The first record's time is the tape's start: peek at it.  Anything
	 * wrong with the record is reported when it is read. */
	got = tape__in_need(&r->in, GGW_HEAD, GGW_HEAD);
	if (got < 0)
		return tape__rerr(r, (int)got, "cannot read: %s", tape_strerror((int)got));
	if ((size_t)got >= 21 && memcmp(tape__in_ptr(&r->in), ggw_marker, GGW_MARKER_LEN) == 0) {
		st->start_ns = le64(tape__in_ptr(&r->in) + 13);
		st->last_abs = st->start_ns;
		st->started = 1;
		tape_meta_set_start(r->meta, st->start_ns);
	}
	return 0;
}

static size_t hash_pair(const struct tape_endpoint *a, const struct tape_endpoint *b)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325), ha = 0, hb = 0;
	const struct tape_endpoint *e[2] = {a, b};
	uint64_t *out[2] = {&ha, &hb};

	/* Symmetric: hash each endpoint, then combine in a fixed order. */
	for (int k = 0; k < 2; k++) {
		uint64_t x = h;
		x = (x ^ e[k]->family) * UINT64_C(0x100000001b3);
		for (int i = 0; i < 16; i++)
			x = (x ^ e[k]->addr[i]) * UINT64_C(0x100000001b3);
		x = (x ^ (e[k]->port >> 8)) * UINT64_C(0x100000001b3);
		x = (x ^ (e[k]->port & 0xff)) * UINT64_C(0x100000001b3);
		*out[k] = x;
	}
	h = (ha < hb ? ha : hb) * UINT64_C(0x9e3779b97f4a7c15) ^ (ha < hb ? hb : ha);
	return (size_t)(h ^ (h >> 29));
}

static int conn_is(const struct ggw_conn *c, const struct tape_endpoint *from, const struct tape_endpoint *to)
{
	return (tape_endpoint_equal(&c->client, from) && tape_endpoint_equal(&c->server, to)) ||
	       (tape_endpoint_equal(&c->client, to) && tape_endpoint_equal(&c->server, from));
}

/* The index of the connection between from and to, or (size_t)-1. */
static size_t conn_find(const struct ggw_rstate *st, const struct tape_endpoint *from,
			const struct tape_endpoint *to)
{
	if (!st->nidx)
		return (size_t)-1;
	for (size_t j = hash_pair(from, to) & (st->nidx - 1); st->idx[j]; j = (j + 1) & (st->nidx - 1))
		if (conn_is(&st->conns[st->idx[j] - 1], from, to))
			return st->idx[j] - 1;
	return (size_t)-1;
}

static int conn_rehash(struct ggw_rstate *st, size_t n)
{
	size_t *idx = calloc(n, sizeof *idx);

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < st->nconns; i++) {
		size_t j = hash_pair(&st->conns[i].client, &st->conns[i].server) & (n - 1);
		while (idx[j])
			j = (j + 1) & (n - 1);
		idx[j] = i + 1;
	}
	free(st->idx);
	st->idx = idx;
	st->nidx = n;
	return 0;
}

/* A new connection with client from; its index, or -ENOMEM / TAPE_ELIMIT. */
static long conn_add(struct ggw_rstate *st, const struct tape_endpoint *from, const struct tape_endpoint *to)
{
	size_t j;

	if (st->nconns >= TAPE_MAX_OPEN_CONNS)
		return TAPE_ELIMIT;
	if (st->nconns == st->capconns) {
		size_t cap = st->capconns ? 2 * st->capconns : 16;
		struct ggw_conn *nc = realloc(st->conns, cap * sizeof *nc);
		if (!nc)
			return -ENOMEM;
		st->conns = nc;
		st->capconns = cap;
	}
	if ((st->nconns + 1) * 2 > st->nidx && conn_rehash(st, st->nidx ? 2 * st->nidx : 64) != 0)
		return -ENOMEM;
	st->conns[st->nconns].client = *from;
	st->conns[st->nconns].server = *to;
	j = hash_pair(from, to) & (st->nidx - 1);
	while (st->idx[j])
		j = (j + 1) & (st->nidx - 1);
	st->idx[j] = st->nconns + 1;
	return (long)st->nconns++;
}

/* Unescapes src[0..n) into st->body (see the top of the file); sets *out. */
static int unescape(struct tape_reader *r, struct ggw_rstate *st, const uint8_t *src, size_t n,
		    size_t *out)
{
	size_t i = 0, o = 0;

	if (n > st->capbody) {
		size_t cap = st->capbody ? st->capbody : 4096;
		while (cap < n)
			cap *= 2;
		uint8_t *nb = realloc(st->body, cap);
		if (!nb)
			return tape__rerr(r, -ENOMEM, "out of memory for a %zu-byte record", n);
		st->body = nb;
		st->capbody = cap;
	}
	while (i < n) {
		const uint8_t *nl = memchr(src + i, '\n', n - i);
		size_t j, k;

		if (!nl) {
			memcpy(st->body + o, src + i, n - i);
			o += n - i;
			break;
		}
		k = (size_t)(nl - (src + i));
		memcpy(st->body + o, src + i, k);
		o += k;
		i += k;
		for (j = i; j < n && src[j] == '\n'; j++)
			;
		k = j - i; /* a run of k LFs */
		if (j < n && src[j] == 't') {
			if (k >= 2)
				k--;
			else
				st->bare++;
		}
		memset(st->body + o, '\n', k);
		o += k;
		i = j;
	}
	*out = o;
	return 0;
}

/* Parses "FROM...TO" of the record at off. */
static int parse_addrs(struct tape_reader *r, const uint8_t *s, size_t n, uint64_t off, struct ggw_rec *rec)
{
	const uint8_t *dots = NULL;
	char q[QBUF];

	for (size_t i = 0; i + 3 <= n; i++)
		if (s[i] == '.' && s[i + 1] == '.' && s[i + 2] == '.') {
			dots = s + i;
			break;
		}
	if (!dots)
		return tape__rerr_at(r, TAPE_EFORMAT, off, "no \"...\" between FROM and TO in \"%s\"",
				     quote(q, sizeof q, s, n));
	if (tape_endpoint_parse((const char *)s, (size_t)(dots - s), &rec->from) != 0)
		return tape__rerr_at(r, TAPE_EFORMAT, off,
				     "FROM \"%s\" is not an address:port (IPv4, or [IPv6])",
				     quote(q, sizeof q, s, (size_t)(dots - s)));
	if (tape_endpoint_parse((const char *)dots + 3, (size_t)(s + n - dots - 3), &rec->to) != 0)
		return tape__rerr_at(r, TAPE_EFORMAT, off + (uint64_t)(dots + 3 - s),
				     "TO \"%s\" is not an address:port (IPv4, or [IPv6])",
				     quote(q, sizeof q, dots + 3, (size_t)(s + n - dots - 3)));
	if (rec->from.family != rec->to.family)
		return tape__rerr_at(r, TAPE_EFORMAT, off, "FROM and TO are of different address families in \"%s\"",
				     quote(q, sizeof q, s, n));
	return 0;
}

/* Reads the next record: 1, 0 at the end (a cut-off last record is dropped
 * and reported), or an error recorded on r. */
static int read_record(struct tape_reader *r, struct ggw_rstate *st, struct ggw_rec *rec)
{
	const uint64_t off = r->in.off;
	const size_t line_max = TAPE__GOGETWAY_MAX_LINE;
	const uint8_t *p, *nl;
	uint64_t len;
	size_t avail, line, total;
	char q[QBUF];
	long got;

	got = tape__in_need(&r->in, GGW_HEAD, GGW_HEAD);
	if (got < 0)
		return tape__rerr_at(r, (int)got, off, "cannot read: %s", tape_strerror((int)got));
	if (got == 0) {
		r->st.finalised = 1; /* no end marker: a clean end is all there is */
		return 0;
	}
	p = tape__in_ptr(&r->in);
	avail = (size_t)got;
	if (memcmp(p, ggw_marker, avail < GGW_MARKER_LEN ? avail : GGW_MARKER_LEN) != 0)
		return tape__rerr_at(r, TAPE_EFORMAT, off,
				     "no record marker: expected \"--benbens--\\nt\", found \"%s\"",
				     quote(q, sizeof q, p, avail < GGW_MARKER_LEN ? avail : GGW_MARKER_LEN));
	if (avail < GGW_HEAD)
		goto cut;
	rec->off = off;
	rec->time = le64(p + 13);
	rec->type = p[21];
	len = le64(p + 22);
	if (rec->type != GGW_TYPE_TCP && rec->type != GGW_TYPE_HTTP)
		return tape__rerr_at(r, TAPE_EFORMAT, off + 21, "unknown record type %u (1 is TCP, 2 HTTP)",
				     rec->type);
	if (len > TAPE_MAX_DATA)
		return tape__rerr_at(r, TAPE_EFORMAT, off + 22,
				     "record length %" PRIu64 " is beyond the %u-byte limit (a damaged file?)",
				     len, TAPE_MAX_DATA);
	/* The FROM...TO line. */
	got = tape__in_need(&r->in, GGW_HEAD + line_max, GGW_HEAD + line_max);
	if (got < 0)
		return tape__rerr_at(r, (int)got, off, "cannot read: %s", tape_strerror((int)got));
	p = tape__in_ptr(&r->in);
	avail = (size_t)got;
	nl = memchr(p + GGW_HEAD, '\n', (avail < GGW_HEAD + line_max ? avail : GGW_HEAD + line_max) - GGW_HEAD);
	if (!nl) {
		if (avail < GGW_HEAD + line_max)
			goto cut;
		return tape__rerr_at(r, TAPE_EFORMAT, off + GGW_HEAD,
				     "no end of the FROM...TO line within %zu bytes", line_max);
	}
	line = (size_t)(nl - (p + GGW_HEAD));
	if (parse_addrs(r, p + GGW_HEAD, line, off + GGW_HEAD, rec) != 0)
		return r->err_code;
	/* The body. */
	total = GGW_HEAD + line + 1 + (size_t)len;
	got = tape__in_need(&r->in, total, total);
	if (got < 0) {
		if (got == -ENOMEM)
			return tape__rerr_at(r, -ENOMEM, off, "out of memory for a %zu-byte record", total);
		return tape__rerr_at(r, (int)got, off, "cannot read: %s", tape_strerror((int)got));
	}
	avail = (size_t)got;
	if (avail < total)
		goto cut;
	p = tape__in_ptr(&r->in);
	if (unescape(r, st, p + GGW_HEAD + line + 1, (size_t)len, &rec->len) != 0)
		return r->err_code;
	tape__in_skip(&r->in, total);
	return 1;
cut:
	/* The writer was stopped mid-record. */
	tape__in_skip(&r->in, avail);
	tape__reader_dropped(r, avail, "incomplete last record at offset %" PRIu64 " (%zu bytes)", off, avail);
	return 0;
}

/* Appends "; "-separated parts to the final note. */
static void note_part(char *buf, size_t size, size_t *o, uint64_t n, const char *what)
{
	int k;

	if (*o >= size)
		return;
	k = snprintf(buf + *o, size - *o, "%s%" PRIu64 " %s", *o ? "; " : "gogetway: ", n, what);
	if (k > 0)
		*o += (size_t)k < size - *o ? (size_t)k : size - *o - 1;
}

static int ggw_read_next(struct tape_reader *r, struct tape_event *ev)
{
	struct ggw_rstate *st = r->state;
	struct ggw_rec rec;
	int rc;

	memset(ev, 0, sizeof *ev);
	if (st->pending) {
		*ev = st->pend;
		ev->data = st->body;
		st->pending = 0;
		return 1;
	}
	while (st->phase == PH_RECORDS) {
		size_t ci;
		uint64_t t;

		rc = read_record(r, st, &rec);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			st->phase = PH_CLOSE;
			break;
		}
		r->loc_off = rec.off;
		st->records++;
		if (rec.type == GGW_TYPE_HTTP)
			st->http++;
		if (!st->started) { /* the open-time peek saw no record */
			st->start_ns = st->last_abs = rec.time;
			st->started = 1;
		}
		if (rec.time < st->last_abs)
			st->clamped++;
		else
			st->last_abs = rec.time;
		t = st->last_abs - st->start_ns;
		if (t > TAPE_MAX_TIME)
			return tape__rerr_at(r, TAPE_EFORMAT, rec.off + 13,
					     "record time %" PRIu64 " ns is more than 2^62 ns after the "
					     "first record's (%" PRIu64 ")",
					     rec.time, st->start_ns);
		st->last_ns = t;
		ci = conn_find(st, &rec.from, &rec.to);
		if (ci == (size_t)-1) {
			long k = conn_add(st, &rec.from, &rec.to);
			if (k == TAPE_ELIMIT)
				return tape__rerr_at(r, TAPE_ELIMIT, rec.off, "more than %u connections",
						     TAPE_MAX_OPEN_CONNS);
			if (k < 0)
				return tape__rerr_at(r, (int)k, rec.off, "out of memory");
			ev->kind = TAPE_EV_OPEN;
			ev->time_ns = t;
			ev->conn = (uint64_t)k + 1;
			ev->client = rec.from;
			ev->server = rec.to;
			ci = (size_t)k;
		}
		if (rec.len == 0) {
			st->empty++;
			if (ev->kind == TAPE_EV_OPEN)
				return 1;
			continue;
		}
		{
			struct tape_event *d = ev->kind == TAPE_EV_OPEN ? &st->pend : ev;
			memset(d, 0, sizeof *d);
			d->kind = TAPE_EV_DATA;
			d->time_ns = t;
			d->conn = (uint64_t)ci + 1;
			d->dir = tape_endpoint_equal(&st->conns[ci].client, &rec.from) &&
					 tape_endpoint_equal(&st->conns[ci].server, &rec.to)
				 ? TAPE_C2S
				 : TAPE_S2C;
			d->data = st->body;
			d->len = rec.len;
			st->pending = d == &st->pend;
		}
		return 1;
	}
	if (st->phase == PH_CLOSE) {
		if (st->closing < st->nconns) {
			ev->kind = TAPE_EV_CLOSE;
			ev->time_ns = st->last_ns;
			ev->conn = (uint64_t)++st->closing;
			ev->reason = TAPE_CLOSE_END;
			return 1;
		}
		st->phase = PH_NOTE;
	}
	if (st->phase == PH_NOTE) {
		char *note = st->note;
		const size_t size = sizeof st->note;
		size_t o = 0;

		st->phase = PH_DONE;
		if (!st->http && !st->empty && !st->clamped && !st->bare)
			return 0;
		note_part(note, size, &o, st->records,
			  st->records == 1 ? "record" : "records");
		if (st->http)
			note_part(note, size, &o, st->http,
				  "of type 2 (HTTP), read as TCP");
		if (st->empty)
			note_part(note, size, &o, st->empty,
				  st->empty == 1 ? "empty body skipped" : "empty bodies skipped");
		if (st->clamped)
			note_part(note, size, &o, st->clamped,
				  st->clamped == 1 ? "time earlier than the one before, moved up to it"
						   : "times earlier than the one before, moved up to it");
		if (st->bare)
			note_part(note, size, &o, st->bare,
				  st->bare == 1 ? "unescaped LF-t sequence kept as it is"
						: "unescaped LF-t sequences kept as they are");
		ev->kind = TAPE_EV_NOTE;
		ev->time_ns = st->last_ns;
		ev->conn = 0;
		ev->data = (const uint8_t *)note;
		ev->len = o;
		return 1;
	}
	return 0;
}

static void ggw_read_free(struct tape_reader *r)
{
	struct ggw_rstate *st = r->state;

	if (st) {
		free(st->conns);
		free(st->idx);
		free(st->body);
		free(st);
	}
	r->state = NULL;
}

/* The gogetway backend: read-only, probed on its record marker.  Events
 * borrow the reader's body buffer until the next read_next. */
const struct tape__format tape__format_gogetway = {
	.name = "gogetway",
	.exts = NULL,
	.probe = ggw_probe,
	.read_open = ggw_read_open,
	.read_next = ggw_read_next,
	.read_free = ggw_read_free,
};
