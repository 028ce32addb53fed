/* SPDX-License-Identifier: BSD-2-Clause */
/* fmt_tsv.c - the "tsv" tape backend: one tab-separated text line per event. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"

/*
 * The text form of a tape (doc/tsv-format.md is the full grammar):
 *
 *   # tapedeck tsv v1                        first line, exactly
 *   # start: 2026-11-21T10:00:00.000000000Z  metadata, before any event
 *   # source: pcap\tfile                     (values escaped like notes)
 *   0<TAB>1<TAB>open<TAB>192.0.2.1:4000<TAB>192.0.2.2:80[<TAB>midstream]
 *   12.500<TAB>1<TAB>c2s<TAB>68656c6c6f
 *   |         |     |      `- arguments, as many as the event takes
 *   |         |     `- event: open c2s s2c gap fin rst close note
 *   |         `- connection id, decimal (0: the tape itself, notes only)
 *   `- microseconds since the tape's start, ".ddd" when ns remain
 *
 * Lines end in "\n" (a "\r" before it is accepted).  Reading is strict:
 * anything the grammar does not allow is TAPE_EFORMAT naming the line and
 * the column, so a hand-edited tape fails loudly rather than half-loads.
 */

static const char tsv_magic[] = "# tapedeck tsv v1";

/* Every flag and close reason, for messages ("midstream, inferred, ..."),
 * from the model's tables so they never fall behind: skip the leading ", ". */
#define KNOWN_FLAG(name, bit, str) ", " str
#define KNOWN_REASON(name, str) ", " str
static const char known_flags[] = TAPE_OPEN_FLAG_MAP(KNOWN_FLAG);
static const char known_reasons[] = TAPE_CLOSE_REASON_MAP(KNOWN_REASON);
#undef KNOWN_FLAG
#undef KNOWN_REASON
#define TSV_MAGIC_LEN (sizeof tsv_magic - 1)

/* Longest line: a full DATA event in hex plus room for the other columns. */
/* Most columns any event has (open with flags); more are counted only. */
#define TSV_MAX_FIELDS 6
/* Source bytes quoted in a message before it is cut with "...". */

/* ---- probing ------------------------------------------------------------ */

/* Yes only for the complete magic line: a short buffer that merely begins
 * like it is not enough evidence. */
static int tsv_probe(const uint8_t *buf, size_t n)
{
	if (n < TSV_MAGIC_LEN + 1 || memcmp(buf, tsv_magic, TSV_MAGIC_LEN) != 0)
		return 0;
	if (buf[TSV_MAGIC_LEN] == '\n')
		return 1;
	return n >= TSV_MAGIC_LEN + 2 && buf[TSV_MAGIC_LEN] == '\r' && buf[TSV_MAGIC_LEN + 1] == '\n';
}

/* ---- reading ------------------------------------------------------------ */

struct tsv_rstate {
	uint64_t line;  /* lines consumed so far (the current line's number) */
	uint8_t *buf;   /* decoded payload or note of the last event */
	size_t cap;
	int at_end;     /* input exhausted (possibly after dropping a line) */
	int have_start; /* a "# start:" line was read */
};

enum tsv_ev { EV_OPEN, EV_C2S, EV_S2C, EV_GAP, EV_FIN, EV_RST, EV_CLOSE, EV_NOTE };

static const struct {
	const char *name;
	int min_fields, max_fields;
} ev_table[] = {
	[EV_OPEN] = {"open", 5, 6},  [EV_C2S] = {"c2s", 4, 4}, [EV_S2C] = {"s2c", 4, 4},
	[EV_GAP] = {"gap", 5, 5},    [EV_FIN] = {"fin", 4, 4}, [EV_RST] = {"rst", 4, 4},
	[EV_CLOSE] = {"close", 4, 4}, [EV_NOTE] = {"note", 4, 4},
};
#define N_EVENTS (sizeof ev_table / sizeof ev_table[0])

struct field {
	const char *p;
	size_t n;
};



/* Decimal uint64 without sign: 0, or -1 empty, -2 not a digit, -3 overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -2;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -3;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int grow(struct tsv_rstate *st, size_t want)
{
	if (want == 0)
		want = 1; /* so that empty notes still point somewhere */
	if (want <= st->cap)
		return 0;
	size_t ncap = st->cap ? st->cap : 256;
	while (ncap < want)
		ncap *= 2;
	uint8_t *nb = realloc(st->buf, ncap);
	if (!nb)
		return -ENOMEM;
	st->buf = nb;
	st->cap = ncap;
	return 0;
}

/* Next line with its line ending removed.  1 with the line set, 0 at the
 * end of input (an unterminated last line is dropped and reported), or an
 * error already recorded on r. */
static int next_line(struct tape_reader *r, struct tsv_rstate *st, const char **line, size_t *len)
{
	int rc;

	if (st->at_end)
		return 0;
	rc = tape__in_line(&r->in, line, len, TAPE__TEXT_MAX_LINE);
	if (rc == TAPE_ELIMIT || (rc == 1 && *len > TAPE__TEXT_MAX_LINE))
		return tape__rerr_line(r, TAPE_ELIMIT, st->line + 1, "line longer than %zu bytes",
				       TAPE__TEXT_MAX_LINE);
	if (rc < 0)
		return tape__rerr_line(r, rc, st->line + 1, "cannot read: %s", tape_strerror(rc));
	if (rc == 0) {
		/* TSV has no end marker: a clean end of input is all the
		 * evidence of a finished tape there is. */
		st->at_end = 1;
		r->st.finalised = 1;
		return 0;
	}
	st->line++;
	if (rc == 2) {
		/* The writer was cut off mid-line.  Even if what is there parses
		 * (a payload cut at an even digit does) it is not what was meant. */
		tape__reader_dropped(r, *len, "incomplete last line %" PRIu64 " (no newline)", st->line);
		st->at_end = 1;
		return 0;
	}
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	return 1;
}

/* Checks text for raw control bytes (which the writer always escapes) and
 * unescapes it into st->buf.  what names the text in messages ("note text in
 * column 4").  Returns the decoded length or an error recorded on r. */
static long decode_text(struct tape_reader *r, struct tsv_rstate *st, const char *what,
			const char *s, size_t n, size_t limit)
{
	long got;
	int rc;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line,
					       "raw control byte 0x%02x in %s at position %zu "
					       "(write it as \\x%02x)",
					       c, what, i + 1, c);
	}
	/* An escape is at most 4 characters for 1 byte, so this bounds the
	 * decoded length from below before anything is allocated. */
	if (n / 4 > limit)
		return tape__rerr_line(r, TAPE_ELIMIT, st->line, "%s is over the %zu-byte limit", what,
				       limit);
	rc = grow(st, n);
	if (rc)
		return tape__rerr_line(r, rc, st->line, "out of memory decoding %s", what);
	got = tape__unescape(st->buf, s, n);
	if (got < 0) {
		size_t at = (size_t)(-1 - got);
		size_t left = n - at > 4 ? 4 : n - at;
		char q[TAPE__QUOTE_BUF];
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "bad escape \"%s\" in %s at position %zu (known: \\\\ \\t \\n "
				       "\\r \\xHH)",
				       tape__quote(q, sizeof q, s + at, left), what, at + 1);
	}
	if ((size_t)got > limit)
		return tape__rerr_line(r, TAPE_ELIMIT, st->line,
				       "%s decodes to %ld bytes, over the %zu-byte limit", what, got,
				       limit);
	return got;
}

/* "# KEY: VALUE" into r->meta; "start" sets the start time. */
static int parse_meta(struct tape_reader *r, struct tsv_rstate *st, const char *s, size_t n)
{
	char key[TAPE_MAX_META_KEY + 1], q[TAPE__QUOTE_BUF], what[TAPE_MAX_META_KEY + 32];
	const char *v;
	size_t k = 2, vn;
	long got;
	int rc;

	if (n < 2 || s[1] != ' ')
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "malformed metadata line \"%s\": expected \"# KEY: VALUE\"",
				       tape__quote(q, sizeof q, s, n));
	while (k < n && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
			 (s[k] >= '0' && s[k] <= '9') || s[k] == '_' || s[k] == '.' || s[k] == '-'))
		k++;
	if (k == 2 || k + 1 >= n || s[k] != ':' || s[k + 1] != ' ')
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "malformed metadata line \"%s\": expected \"# KEY: VALUE\" with "
				       "KEY of letters, digits, '_', '.', '-'",
				       tape__quote(q, sizeof q, s, n));
	if (k - 2 > TAPE_MAX_META_KEY)
		return tape__rerr_line(r, TAPE_ELIMIT, st->line,
				       "metadata key \"%s\" is longer than %u bytes",
				       tape__quote(q, sizeof q, s + 2, k - 2), TAPE_MAX_META_KEY);
	memcpy(key, s + 2, k - 2);
	key[k - 2] = '\0';
	v = s + k + 2;
	vn = n - k - 2;

	if (strcmp(key, "start") == 0) {
		uint64_t start;
		if (st->have_start)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line, "duplicate metadata key \"start\"");
		if (tape_time_parse(v, vn, &start) != 0)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line,
					       "invalid start time \"%s\" (expected RFC 3339 like "
					       "2026-11-21T10:00:00.000000000Z)",
					       tape__quote(q, sizeof q, v, vn));
		tape_meta_set_start(r->meta, start);
		st->have_start = 1;
		return 0;
	}
	if (tape_meta_get(r->meta, key))
		return tape__rerr_line(r, TAPE_EFORMAT, st->line, "duplicate metadata key \"%s\"", key);
	snprintf(what, sizeof what, "value of metadata key \"%s\"", key);
	got = decode_text(r, st, what, v, vn, TAPE_MAX_META_VALUE);
	if (got < 0)
		return (int)got;
	if (memchr(st->buf, '\0', (size_t)got))
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "metadata value for \"%s\" contains a NUL byte", key);
	rc = grow(st, (size_t)got + 1);
	if (rc)
		return tape__rerr_line(r, rc, st->line, "out of memory");
	st->buf[got] = '\0';
	rc = tape_meta_set(r->meta, key, (const char *)st->buf);
	if (rc == TAPE_ELIMIT)
		return tape__rerr_line(r, rc, st->line, "more than %u metadata keys", TAPE_MAX_META_COUNT);
	if (rc)
		return tape__rerr_line(r, rc, st->line, "cannot store metadata \"%s\": %s", key,
				       tape_strerror(rc));
	return 0;
}

/* "# tapedeck tsv vN" for some N other than 1: a newer file, not garbage. */
static int is_other_version(const char *s, size_t n)
{
	const size_t pre = TSV_MAGIC_LEN - 1; /* "# tapedeck tsv v" */

	if (n <= pre || memcmp(s, tsv_magic, pre) != 0)
		return 0;
	for (size_t i = pre; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int tsv_read_open(struct tape_reader *r)
{
	struct tsv_rstate *st;
	const char *line;
	size_t len;
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
			return tape__rerr(r, TAPE_ETRUNC, "empty input: no \"%s\" header line", tsv_magic);
		return tape__rerr_line(r, TAPE_ETRUNC, 1, "incomplete header line (no newline)");
	}
	if (len != TSV_MAGIC_LEN || memcmp(line, tsv_magic, len) != 0) {
		char q[TAPE__QUOTE_BUF];
		if (is_other_version(line, len))
			return tape__rerr_line(r, TAPE_EVERSION, 1,
					       "unsupported tsv version \"%s\" (this library reads v1)",
					       tape__quote(q, sizeof q, line + 15, len - 15));
		return tape__rerr_line(r, TAPE_EFORMAT, 1, "not a tapedeck tsv file: first line \"%s\", "
				       "expected \"%s\"", tape__quote(q, sizeof q, line, len), tsv_magic);
	}

	/* Metadata lines run until the first line not starting with '#'; peek
	 * so that line is left for read_next. */
	for (;;) {
		long avail = tape__in_need(&r->in, 1, TAPE__TEXT_MAX_LINE);
		if (avail < 0)
			return tape__rerr_line(r, (int)avail, st->line + 1, "cannot read: %s",
					       tape_strerror((int)avail));
		if (avail == 0 || tape__in_ptr(&r->in)[0] != '#')
			return 0;
		rc = next_line(r, st, &line, &len);
		if (rc <= 0)
			return rc;
		rc = parse_meta(r, st, line, len);
		if (rc)
			return rc;
	}
}

/* TIME column: microseconds with an optional 1-3 digit fraction. */
static int parse_time(struct tape_reader *r, struct tsv_rstate *st, struct field f, uint64_t *out)
{
	const uint64_t max_us = TAPE_MAX_TIME / 1000;
	uint64_t us = 0, frac = 0;
	size_t i = 0, fd = 0;
	char q[TAPE__QUOTE_BUF];

	if (f.n == 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line, "empty time in column 1");
	while (i < f.n && f.p[i] >= '0' && f.p[i] <= '9') {
		if (us <= max_us) /* past max_us it only needs to stay big */
			us = us * 10 + (uint64_t)(f.p[i] - '0');
		i++;
	}
	if (i < f.n && f.p[i] == '.' && i > 0) {
		size_t j = i + 1;
		while (j < f.n && f.p[j] >= '0' && f.p[j] <= '9')
			j++;
		if (j == f.n) {
			fd = j - i - 1;
			if (fd == 0)
				return tape__rerr_line(r, TAPE_EFORMAT, st->line,
						       "time \"%s\" in column 1 has an empty fraction",
						       tape__quote(q, sizeof q, f.p, f.n));
			if (fd > 3)
				return tape__rerr_line(r, TAPE_EFORMAT, st->line,
						       "time \"%s\" in column 1 has %zu fraction digits; "
						       "at most 3 (nanoseconds)",
						       tape__quote(q, sizeof q, f.p, f.n), fd);
			for (size_t k = i + 1; k < j; k++)
				frac = frac * 10 + (uint64_t)(f.p[k] - '0');
			for (size_t k = fd; k < 3; k++)
				frac *= 10;
			i = j;
		}
	}
	if (i == 0 || i != f.n)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "invalid time \"%s\" in column 1: expected microseconds like 12 or "
				       "12.500",
				       tape__quote(q, sizeof q, f.p, f.n));
	if (us > max_us || us * 1000 + frac > TAPE_MAX_TIME)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "time \"%s\" in column 1 is beyond the largest tape time "
				       "(%" PRIu64 ".%03u us)",
				       tape__quote(q, sizeof q, f.p, f.n), max_us, (unsigned)(TAPE_MAX_TIME % 1000));
	*out = us * 1000 + frac;
	return 0;
}

/* A decimal column (connection id, gap length); what names it in errors. */
static int parse_num(struct tape_reader *r, struct tsv_rstate *st, struct field f, int col,
		     const char *what, uint64_t *out)
{
	char q[TAPE__QUOTE_BUF];

	switch (parse_u64(f.p, f.n, out)) {
	case 0:
		return 0;
	case -1:
		return tape__rerr_line(r, TAPE_EFORMAT, st->line, "empty %s in column %d", what, col);
	case -3:
		return tape__rerr_line(r, TAPE_EFORMAT, st->line, "%s \"%s\" in column %d does not fit "
				       "in 64 bits", what, tape__quote(q, sizeof q, f.p, f.n), col);
	default:
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "invalid %s \"%s\" in column %d: expected decimal digits", what,
				       tape__quote(q, sizeof q, f.p, f.n), col);
	}
}

static int parse_dir(struct tape_reader *r, struct tsv_rstate *st, struct field f, int col,
		     enum tape_dir *out)
{
	char q[TAPE__QUOTE_BUF];

	if (tape_dir_parse(f.p, f.n, out) != 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "invalid direction \"%s\" in column %d: expected c2s or s2c",
				       tape__quote(q, sizeof q, f.p, f.n), col);
	return 0;
}

static int parse_endpoint(struct tape_reader *r, struct tsv_rstate *st, struct field f, int col,
			  const char *what, struct tape_endpoint *out)
{
	char q[TAPE__QUOTE_BUF];

	if (tape_endpoint_parse(f.p, f.n, out) != 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "invalid %s endpoint \"%s\" in column %d: expected 192.0.2.1:80 or "
				       "[2001:db8::1]:80",
				       what, tape__quote(q, sizeof q, f.p, f.n), col);
	return 0;
}

/* Flags column; names the offending item rather than the whole list. */
static int parse_flags(struct tape_reader *r, struct tsv_rstate *st, struct field f, int col,
		       uint32_t *out)
{
	uint32_t seen = 0, bit;
	size_t i = 0;
	char q[TAPE__QUOTE_BUF];

	if (f.n == 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "empty flags in column %d (leave the column out when there are "
				       "no flags)",
				       col);
	while (i <= f.n) {
		size_t j = i;
		while (j < f.n && f.p[j] != ',')
			j++;
		if (j == i)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line,
					       "empty flag name in column %d position %zu", col, i + 1);
		if (tape_open_flags_parse(f.p + i, j - i, &bit) != 0)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line,
					       "unknown flag \"%s\" in column %d (known: %s)",
					       tape__quote(q, sizeof q, f.p + i, j - i), col, known_flags + 2);
		if (seen & bit)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line,
					       "flag \"%s\" repeated in column %d",
					       tape__quote(q, sizeof q, f.p + i, j - i), col);
		seen |= bit;
		i = j + 1;
	}
	*out = seen;
	return 0;
}

static int parse_hex(struct tape_reader *r, struct tsv_rstate *st, struct field f, int col,
		     size_t *len)
{
	long bad;
	int rc;

	if (f.n == 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "empty hex payload in column %d (data events carry at least one "
				       "byte)",
				       col);
	if (f.n % 2)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "odd-length hex payload (%zu digits) in column %d", f.n, col);
	if (f.n / 2 > TAPE_MAX_DATA)
		return tape__rerr_line(r, TAPE_ELIMIT, st->line,
				       "hex payload of %zu bytes in column %d exceeds the %u-byte limit",
				       f.n / 2, col, TAPE_MAX_DATA);
	rc = grow(st, f.n / 2);
	if (rc)
		return tape__rerr_line(r, rc, st->line, "out of memory for a %zu-byte payload", f.n / 2);
	bad = tape__hex_decode(st->buf, f.p, f.n / 2);
	if (bad < 0) {
		char q[TAPE__QUOTE_BUF];
		size_t at = (size_t)-bad;
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "non-hex character '%s' at column %d position %zu",
				       tape__quote(q, sizeof q, f.p + at - 1, 1), col, at);
	}
	*len = f.n / 2;
	return 0;
}

static int parse_event(struct tape_reader *r, struct tsv_rstate *st, const char *s, size_t n,
		       struct tape_event *ev)
{
	struct field f[TSV_MAX_FIELDS];
	size_t nf = 0, start = 0, e;
	char q[TAPE__QUOTE_BUF];
	int rc;

	if (n == 0)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line, "empty line");
	if (s[0] == '#')
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "'#' line after the first event (metadata must come before "
				       "events)");
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '\t')
			continue;
		if (nf < TSV_MAX_FIELDS) {
			f[nf].p = s + start;
			f[nf].n = i - start;
		}
		nf++;
		start = i + 1;
	}
	if (nf < 3)
		return tape__rerr_line(r, TAPE_EFORMAT, st->line,
				       "expected TIME, CONN and EVENT separated by tabs, got %zu field%s",
				       nf, nf == 1 ? "" : "s");

	memset(ev, 0, sizeof *ev);
	if ((rc = parse_time(r, st, f[0], &ev->time_ns)) != 0 ||
	    (rc = parse_num(r, st, f[1], 2, "connection id", &ev->conn)) != 0)
		return rc;
	for (e = 0; e < N_EVENTS; e++)
		if (strlen(ev_table[e].name) == f[2].n && memcmp(ev_table[e].name, f[2].p, f[2].n) == 0)
			break;
	if (e == N_EVENTS) {
		if (f[2].n == 0)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line, "empty event name in column 3");
		return tape__rerr_line(r, TAPE_EFORMAT, st->line, "unknown event \"%s\"",
				       tape__quote(q, sizeof q, f[2].p, f[2].n));
	}
	if (nf < (size_t)ev_table[e].min_fields || nf > (size_t)ev_table[e].max_fields) {
		if (ev_table[e].min_fields != ev_table[e].max_fields)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line,
					       "expected %d or %d fields for %s, got %zu",
					       ev_table[e].min_fields, ev_table[e].max_fields,
					       ev_table[e].name, nf);
		return tape__rerr_line(r, TAPE_EFORMAT, st->line, "expected %d fields for %s, got %zu",
				       ev_table[e].min_fields, ev_table[e].name, nf);
	}

	switch ((enum tsv_ev)e) {
	case EV_OPEN:
		ev->kind = TAPE_EV_OPEN;
		if ((rc = parse_endpoint(r, st, f[3], 4, "client", &ev->client)) != 0 ||
		    (rc = parse_endpoint(r, st, f[4], 5, "server", &ev->server)) != 0)
			return rc;
		if (nf == 6 && (rc = parse_flags(r, st, f[5], 6, &ev->flags)) != 0)
			return rc;
		break;
	case EV_C2S:
	case EV_S2C:
		ev->kind = TAPE_EV_DATA;
		ev->dir = e == EV_C2S ? TAPE_C2S : TAPE_S2C;
		if ((rc = parse_hex(r, st, f[3], 4, &ev->len)) != 0)
			return rc;
		ev->data = st->buf;
		break;
	case EV_GAP:
		ev->kind = TAPE_EV_GAP;
		if ((rc = parse_dir(r, st, f[3], 4, &ev->dir)) != 0 ||
		    (rc = parse_num(r, st, f[4], 5, "gap length", &ev->gap)) != 0)
			return rc;
		break;
	case EV_FIN:
	case EV_RST:
		ev->kind = e == EV_FIN ? TAPE_EV_FIN : TAPE_EV_RST;
		if ((rc = parse_dir(r, st, f[3], 4, &ev->dir)) != 0)
			return rc;
		break;
	case EV_CLOSE:
		ev->kind = TAPE_EV_CLOSE;
		if (tape_close_reason_parse(f[3].p, f[3].n, &ev->reason) != 0)
			return tape__rerr_line(r, TAPE_EFORMAT, st->line,
					       "unknown close reason \"%s\" in column 4 (known: %s)",
					       tape__quote(q, sizeof q, f[3].p, f[3].n), known_reasons + 2);
		break;
	case EV_NOTE: {
		long got = decode_text(r, st, "note text in column 4", f[3].p, f[3].n,
					TAPE_MAX_NOTE);
		if (got < 0)
			return (int)got;
		ev->kind = TAPE_EV_NOTE;
		ev->data = st->buf;
		ev->len = (size_t)got;
		break;
	}
	}
	return 0;
}

static int tsv_read_next(struct tape_reader *r, struct tape_event *ev)
{
	struct tsv_rstate *st = r->state;
	const char *line;
	size_t len;
	int rc = next_line(r, st, &line, &len);

	if (rc <= 0)
		return rc;
	r->loc_line = st->line;
	rc = parse_event(r, st, line, len, ev);
	return rc ? rc : 1;
}

static void tsv_read_free(struct tape_reader *r)
{
	struct tsv_rstate *st = r->state;

	if (st) {
		free(st->buf);
		free(st);
	}
	r->state = NULL;
}

/* ---- writing ------------------------------------------------------------ */

/* Source bytes handled per step when streaming hex or escaped text, so the
 * writer's memory stays bounded whatever the event size. */
#define TSV_CHUNK 2048

static int put(struct tape_writer *w, const void *p, size_t n)
{
	int rc = tape__out_write(&w->out, p, n);

	return rc ? tape__werr(w, rc, "cannot write: %s", tape_strerror(rc)) : 0;
}

static int put_hex(struct tape_writer *w, const uint8_t *p, size_t n)
{
	char buf[2 * TSV_CHUNK];

	while (n > 0) {
		size_t k = n > TSV_CHUNK ? TSV_CHUNK : n;
		tape__hex_encode(buf, p, k);
		int rc = put(w, buf, 2 * k);
		if (rc)
			return rc;
		p += k;
		n -= k;
	}
	return 0;
}

static int put_escaped(struct tape_writer *w, const uint8_t *p, size_t n)
{
	char buf[4 * TSV_CHUNK];

	while (n > 0) {
		size_t k = n > TSV_CHUNK ? TSV_CHUNK : n;
		int rc = put(w, buf, tape__escape(buf, p, k));
		if (rc)
			return rc;
		p += k;
		n -= k;
	}
	return 0;
}

/* Canonical TIME: integer microseconds, ".ddd" only when ns remain. */
static void format_time(char *buf, size_t size, uint64_t ns)
{
	if (ns % 1000)
		snprintf(buf, size, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
	else
		snprintf(buf, size, "%" PRIu64, ns / 1000);
}

static int tsv_write_open(struct tape_writer *w)
{
	char buf[TAPE_TIME_STRLEN + 16];
	uint64_t start = tape_meta_start(w->meta);
	const char *k, *v;
	int rc;

	if ((rc = put(w, tsv_magic, TSV_MAGIC_LEN)) != 0 || (rc = put(w, "\n", 1)) != 0)
		return rc;
	if (start != 0) {
		char t[TAPE_TIME_STRLEN];
		tape_time_format(start, t, sizeof t);
		snprintf(buf, sizeof buf, "# start: %s\n", t);
		if ((rc = put(w, buf, strlen(buf))) != 0)
			return rc;
	}
	for (size_t i = 0; tape_meta_at(w->meta, i, &k, &v) == 0; i++) {
		if ((rc = put(w, "# ", 2)) != 0 || (rc = put(w, k, strlen(k))) != 0 ||
		    (rc = put(w, ": ", 2)) != 0 ||
		    (rc = put_escaped(w, (const uint8_t *)v, strlen(v))) != 0 ||
		    (rc = put(w, "\n", 1)) != 0)
			return rc;
	}
	return 0;
}

static int tsv_write_event(struct tape_writer *w, const struct tape_event *ev)
{
	char t[32], head[256], cl[TAPE_ENDPOINT_STRLEN], sv[TAPE_ENDPOINT_STRLEN];
	char flags[TAPE_FLAGS_STRLEN];
	int n = 0, rc;

	format_time(t, sizeof t, ev->time_ns);
	switch (ev->kind) {
	case TAPE_EV_OPEN:
		tape_endpoint_format(&ev->client, cl, sizeof cl);
		tape_endpoint_format(&ev->server, sv, sizeof sv);
		tape_open_flags_format(ev->flags, flags, sizeof flags);
		n = snprintf(head, sizeof head, "%s\t%" PRIu64 "\topen\t%s\t%s%s%s\n", t, ev->conn, cl,
			     sv, ev->flags ? "\t" : "", ev->flags ? flags : "");
		break;
	case TAPE_EV_DATA:
		n = snprintf(head, sizeof head, "%s\t%" PRIu64 "\t%s\t", t, ev->conn,
			     tape_dir_name(ev->dir));
		break;
	case TAPE_EV_GAP:
		n = snprintf(head, sizeof head, "%s\t%" PRIu64 "\tgap\t%s\t%" PRIu64 "\n", t, ev->conn,
			     tape_dir_name(ev->dir), ev->gap);
		break;
	case TAPE_EV_FIN:
	case TAPE_EV_RST:
		n = snprintf(head, sizeof head, "%s\t%" PRIu64 "\t%s\t%s\n", t, ev->conn,
			     ev->kind == TAPE_EV_FIN ? "fin" : "rst", tape_dir_name(ev->dir));
		break;
	case TAPE_EV_CLOSE:
		n = snprintf(head, sizeof head, "%s\t%" PRIu64 "\tclose\t%s\n", t, ev->conn,
			     tape_close_reason_name(ev->reason));
		break;
	case TAPE_EV_NOTE:
		n = snprintf(head, sizeof head, "%s\t%" PRIu64 "\tnote\t", t, ev->conn);
		break;
	default:
		return tape__werr(w, TAPE_EUSAGE, "unknown event kind %d", (int)ev->kind);
	}
	if (n < 0 || (size_t)n >= sizeof head)
		return tape__werr(w, TAPE_EUSAGE, "event line header too long");
	if ((rc = put(w, head, (size_t)n)) != 0)
		return rc;
	if (ev->kind == TAPE_EV_DATA)
		rc = put_hex(w, ev->data, ev->len);
	else if (ev->kind == TAPE_EV_NOTE)
		rc = put_escaped(w, ev->data, ev->len);
	else
		return 0;
	return rc ? rc : put(w, "\n", 1);
}

/* Lines go straight to w->out: nothing is held back. */
static int tsv_write_flush(struct tape_writer *w)
{
	return 0;
}

static int tsv_write_close(struct tape_writer *w)
{
	return 0;
}

static void tsv_write_free(struct tape_writer *w)
{
	w->state = NULL;
}

static const char *const tsv_exts[] = {"tsv", NULL};

/* The tsv backend, probed after the binary format.  Events its reader
 * returns borrow the reader's decode buffer until the next read_next. */
const struct tape__format tape__format_tsv = {
	.name = "tsv",
	.exts = tsv_exts,
	.probe = tsv_probe,
	.read_open = tsv_read_open,
	.read_next = tsv_read_next,
	.read_free = tsv_read_free,
	.write_open = tsv_write_open,
	.write_event = tsv_write_event,
	.write_flush = tsv_write_flush,
	.write_close = tsv_write_close,
	.write_free = tsv_write_free,
};
