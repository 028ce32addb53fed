/* SPDX-License-Identifier: BSD-2-Clause */
/* fmt_tsp.c - the "tsp" tape backend: Trace Stream Proxy recordings of one connection. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"

/*
 * A ts_proxy recording is the byte stream one client exchanged through the
 * proxy (doc/tsv-format.md, "ts_proxy recordings"):
 *
 *   # ts_proxy recording v1             first line, exactly
 *   123<TAB>c2s<TAB>68656c6c6f          ELAPSED_US, direction, payload hex
 *   456<TAB>s2c<TAB>776f726c64
 *
 * ELAPSED_US counts whole microseconds since the proxy started and never
 * decreases.  As a tape it is one connection, id 1, with unknown endpoints
 * (0.0.0.0:0): OPEN at time 0, one DATA event per line, CLOSE "end" at the
 * last event's time.  Writing keeps only what the format has room for:
 * FIN and NOTE events are dropped (counted), a second connection, GAP and
 * RST are refused, times are cut to whole microseconds.
 */

static const char tsp_magic[] = "# ts_proxy recording v1";
#define TSP_MAGIC_LEN (sizeof tsp_magic - 1)
#define TSP_CONN 1u

/* Yes only for the whole magic line and its newline. */
static int tsp_probe(const uint8_t *buf, size_t n)
{
	if (n < TSP_MAGIC_LEN + 1 || memcmp(buf, tsp_magic, TSP_MAGIC_LEN) != 0)
		return 0;
	if (buf[TSP_MAGIC_LEN] == '\n')
		return 1;
	return n >= TSP_MAGIC_LEN + 2 && buf[TSP_MAGIC_LEN] == '\r' && buf[TSP_MAGIC_LEN + 1] == '\n';
}

/* ---- reading ------------------------------------------------------------ */

enum tsp_phase { PH_OPEN, PH_DATA, PH_DONE };

struct tsp_rstate {
	enum tsp_phase phase;
	uint64_t line;      /* lines consumed so far */
	uint64_t last_time; /* of the last event returned, for the CLOSE */
	uint8_t *buf;       /* payload of the last DATA event */
	size_t cap;
};


/* Next line without its "\n" or "\r\n": 1, 0 at the end (an unterminated
 * last line is dropped and reported), or an error recorded on r. */
static int next_line(struct tape_reader *r, struct tsp_rstate *st, const char **line, size_t *len)
{
	int rc = tape__in_line(&r->in, line, len, TAPE__TEXT_MAX_LINE);

	if (rc == TAPE_ELIMIT || (rc == 1 && *len > TAPE__TEXT_MAX_LINE))
		return tape__rerr_line(r, TAPE_ELIMIT, st->line + 1, "line longer than %zu bytes",
				       TAPE__TEXT_MAX_LINE);
	if (rc < 0)
		return tape__rerr_line(r, rc, st->line + 1, "cannot read: %s", tape_strerror(rc));
	if (rc == 0) {
		r->st.finalised = 1; /* no end marker: a clean end is all there is */
		return 0;
	}
	st->line++;
	if (rc == 2) {
		tape__reader_dropped(r, *len, "incomplete last line %" PRIu64 " (no newline)", st->line);
		return 0;
	}
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	return 1;
}

static int tsp_read_open(struct tape_reader *r)
{
	struct tsp_rstate *st;
	const char *line;
	size_t len;
	char q[TAPE__QUOTE_BUF];
	int rc;

	st = calloc(1, sizeof *st);
	if (!st)
		return tape__rerr(r, -ENOMEM, "out of memory");
	r->state = st;
	if (!r->meta && (rc = tape_meta_new(&r->meta)) != 0)
		return tape__rerr(r, rc, "out of memory");
	rc = next_line(r, st, &line, &len);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (st->line == 0)
			return tape__rerr(r, TAPE_ETRUNC, "empty input: no \"%s\" header line", tsp_magic);
		return tape__rerr_line(r, TAPE_ETRUNC, 1, "incomplete header line (no newline)");
	}
	if (len != TSP_MAGIC_LEN || memcmp(line, tsp_magic, len) != 0)
		return tape__rerr_line(r, TAPE_EFORMAT, 1,
				       "not a ts_proxy recording: first line \"%s\", expected \"%s\"",
				       tape__quote(q, sizeof q, line, len), tsp_magic);
	rc = tape_meta_set(r->meta, "source", "ts_proxy recording");
	if (rc)
		return tape__rerr(r, rc, "cannot set metadata: %s", tape_strerror(rc));
	return 0;
}

/* One "ELAPSED_US<TAB>DIR<TAB>HEX" line into a DATA event. */
static int parse_line(struct tape_reader *r, struct tsp_rstate *st, const char *s, size_t n,
		      struct tape_event *ev)
{
	const uint64_t max_us = TAPE_MAX_TIME / 1000;
	const char *t1, *t2, *hex;
	size_t tn, dn, hn;
	uint64_t us = 0;
	long bad;
	char q[TAPE__QUOTE_BUF];

	if (n == 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "empty line (a recording has no blank lines)");
	if (s[0] == '#')
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "unexpected comment line (only the first line is one)");
	t1 = memchr(s, '\t', n);
	t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(s + n - t1 - 1)) : NULL;
	if (!t2 || memchr(t2 + 1, '\t', (size_t)(s + n - t2 - 1))) {
		size_t nf = 1;
		for (size_t i = 0; i < n; i++)
			nf += s[i] == '\t';
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "expected 3 fields (ELAPSED_US, c2s or s2c, HEX), got %zu", nf);
	}
	tn = (size_t)(t1 - s);
	dn = (size_t)(t2 - t1 - 1);
	hex = t2 + 1;
	hn = (size_t)(s + n - hex);

	if (tn == 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line, "empty time in column 1");
	for (size_t i = 0; i < tn; i++) {
		if (s[i] < '0' || s[i] > '9')
			return tape__rerr_line(r, TAPE_EFORMAT, st->line,
					       "invalid time \"%s\" in column 1: expected whole "
					       "microseconds",
					       tape__quote(q, sizeof q, s, tn));
		if (us <= max_us)
			us = us * 10 + (uint64_t)(s[i] - '0');
	}
	if (us > max_us)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "time \"%s\" in column 1 is beyond the largest tape time "
				       "(%" PRIu64 " us)",
				       tape__quote(q, sizeof q, s, tn), max_us);
	if (tape_dir_parse(t1 + 1, dn, &ev->dir) != 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "invalid direction \"%s\" in column 2: expected c2s or s2c",
				       tape__quote(q, sizeof q, t1 + 1, dn));
	if (hn == 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "empty payload in column 3: a zero-length frame cannot be a tape "
				       "data event");
	if (hn % 2)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "odd-length hex payload (%zu digits) in column 3", hn);
	if (hn / 2 > TAPE_MAX_DATA)
		return tape__rerr_line(r, TAPE_ELIMIT, st->line,
				       "hex payload of %zu bytes in column 3 exceeds the %u-byte limit",
				       hn / 2, TAPE_MAX_DATA);
	if (hn / 2 > st->cap) {
		size_t ncap = st->cap ? st->cap : 256;
		while (ncap < hn / 2)
			ncap *= 2;
		uint8_t *nb = realloc(st->buf, ncap);
		if (!nb)
			return tape__rerr_line(r, -ENOMEM, st->line, "out of memory for a %zu-byte payload",
					       hn / 2);
		st->buf = nb;
		st->cap = ncap;
	}
	bad = tape__hex_decode(st->buf, hex, hn / 2);
	if (bad < 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "non-hex character '%s' at column 3 position %ld",
				       tape__quote(q, sizeof q, hex - bad - 1, 1), -bad);
	ev->kind = TAPE_EV_DATA;
	ev->time_ns = us * 1000;
	ev->conn = TSP_CONN;
	ev->data = st->buf;
	ev->len = hn / 2;
	return 0;
}

static int tsp_read_next(struct tape_reader *r, struct tape_event *ev)
{
	struct tsp_rstate *st = r->state;
	const char *line;
	size_t len;
	int rc;

	memset(ev, 0, sizeof *ev);
	switch (st->phase) {
	case PH_OPEN:
		/* The recording says nothing about endpoints: 0.0.0.0:0 both. */
		ev->kind = TAPE_EV_OPEN;
		ev->conn = TSP_CONN;
		ev->client.family = 4;
		ev->server.family = 4;
		r->loc_line = 1;
		st->phase = PH_DATA;
		return 1;
	case PH_DATA:
		rc = next_line(r, st, &line, &len);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			ev->kind = TAPE_EV_CLOSE;
			ev->conn = TSP_CONN;
			ev->reason = TAPE_CLOSE_END;
			ev->time_ns = st->last_time;
			r->loc_line = st->line;
			st->phase = PH_DONE;
			return 1;
		}
		r->loc_line = st->line;
		rc = parse_line(r, st, line, len, ev);
		if (rc)
			return rc;
		st->last_time = ev->time_ns;
		return 1;
	case PH_DONE:
		break;
	}
	return 0;
}

static void tsp_read_free(struct tape_reader *r)
{
	struct tsp_rstate *st = r->state;

	if (st) {
		free(st->buf);
		free(st);
	}
	r->state = NULL;
}

/* ---- writing ------------------------------------------------------------ */

struct tsp_wstate {
	int have_conn;
	uint64_t conn; /* the one connection recorded */
};

#define TSP_CHUNK 2048

static int put(struct tape_writer *w, const void *p, size_t n)
{
	int rc = tape__out_write(&w->out, p, n);

	return rc ? tape__werr(w, rc, "cannot write: %s", tape_strerror(rc)) : 0;
}

static int tsp_write_open(struct tape_writer *w)
{
	struct tsp_wstate *st = calloc(1, sizeof *st);
	int rc;

	if (!st)
		return tape__werr(w, -ENOMEM, "out of memory");
	w->state = st;
	if ((rc = put(w, tsp_magic, TSP_MAGIC_LEN)) != 0)
		return rc;
	return put(w, "\n", 1);
}

static int tsp_write_event(struct tape_writer *w, const struct tape_event *ev)
{
	struct tsp_wstate *st = w->state;
	char head[64], hex[2 * TSP_CHUNK];
	const uint8_t *p;
	size_t left;
	int n, rc;

	switch (ev->kind) {
	case TAPE_EV_OPEN:
		if (st->have_conn)
			return tape__werr(w, TAPE_EUNSUP,
					  "ts_proxy recordings hold one connection; this tape has more "
					  "(conn %" PRIu64 ")",
					  ev->conn);
		st->have_conn = 1;
		st->conn = ev->conn;
		return 0;
	case TAPE_EV_GAP:
		return tape__werr(w, TAPE_EUNSUP,
				  "ts_proxy recordings cannot hold a gap (%" PRIu64 " %s bytes missing "
				  "on conn %" PRIu64 ")",
				  ev->gap, tape_dir_name(ev->dir), ev->conn);
	case TAPE_EV_RST:
		return tape__werr(w, TAPE_EUNSUP,
				  "ts_proxy recordings cannot hold a reset (%s rst on conn %" PRIu64 ")",
				  tape_dir_name(ev->dir), ev->conn);
	case TAPE_EV_FIN:
	case TAPE_EV_NOTE:
		w->dropped++;
		return 0;
	case TAPE_EV_CLOSE:
		return 0;
	case TAPE_EV_DATA:
		break;
	default:
		return tape__werr(w, TAPE_EUSAGE, "unknown event kind %d", (int)ev->kind);
	}
	/* Sub-microsecond parts are cut: the format has whole microseconds. */
	n = snprintf(head, sizeof head, "%" PRIu64 "\t%s\t", ev->time_ns / 1000,
		     tape_dir_name(ev->dir));
	if (n < 0 || (size_t)n >= sizeof head)
		return tape__werr(w, TAPE_EUSAGE, "line header too long");
	if ((rc = put(w, head, (size_t)n)) != 0)
		return rc;
	for (p = ev->data, left = ev->len; left > 0;) {
		size_t k = left > TSP_CHUNK ? TSP_CHUNK : left;
		tape__hex_encode(hex, p, k);
		if ((rc = put(w, hex, 2 * k)) != 0)
			return rc;
		p += k;
		left -= k;
	}
	return put(w, "\n", 1);
}

static int tsp_write_flush(struct tape_writer *w)
{
	return 0;
}

static int tsp_write_close(struct tape_writer *w)
{
	return 0;
}

static void tsp_write_free(struct tape_writer *w)
{
	free(w->state);
	w->state = NULL;
}

static const char *const tsp_exts[] = {"tsp", NULL};

/* The ts_proxy backend, probed last.  Events its reader returns borrow the
 * reader's payload buffer until the next read_next; its writer refuses what
 * a recording cannot hold and counts what it drops in w->dropped. */
const struct tape__format tape__format_tsp = {
	.name = "tsp",
	.exts = tsp_exts,
	.probe = tsp_probe,
	.read_open = tsp_read_open,
	.read_next = tsp_read_next,
	.read_free = tsp_read_free,
	.write_open = tsp_write_open,
	.write_event = tsp_write_event,
	.write_flush = tsp_write_flush,
	.write_close = tsp_write_close,
	.write_free = tsp_write_free,
};
