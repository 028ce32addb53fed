/* SPDX-License-Identifier: BSD-2-Clause */
/* bytediff.c - masked comparison of expected and received bytes, and readable reports of a difference. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"
#include "bytediff.h"

/*
 * Masks.  Each expression is compiled with REG_EXTENDED | REG_NEWLINE, in
 * the C locale whatever the program's locale is, so matching is bytewise:
 * "." and bracket expressions never match a newline ("Date: .*\r\n" stops
 * at the end of its line), "^" and "$" also match at line boundaries, and
 * "." does not match NUL either (glibc's POSIX syntax), though a negated
 * bracket such as "[^;]" does.  Payloads may hold NUL bytes: glibc's
 * REG_STARTEND gives regexec() explicit bounds instead of a C string.
 *
 * A match is looked for from a position p: the leftmost match starting at
 * or after p among all expressions, the longest at the same start, the
 * first added on a tie.  Matches never overlap: the next search starts at
 * the end of the last.  Expressions that match the empty string are
 * refused when added; an empty match found anyway (a "\b") masks nothing.
 *
 * Searches run on a copy of a window of the input, at most TAPE__MASK_WINDOW
 * bytes, slid along as the search moves on.  The copy starts with a NUL
 * because sanitizer runtimes' regexec() interceptors ignore REG_STARTEND
 * and strlen() the string (reading past a payload, and costing a whole
 * window per call); it also keeps offsets within glibc's int regoff_t.
 * Windows overlap by half their size, so a match shorter than half a window
 * is found exactly as in one piece; a longer one may be cut to a window's
 * length.  ^ and $ keep their line meaning at window edges (the byte before
 * the window is copied too; REG_NOTEOL from the byte after).
 */


struct tape__mask {
	regex_t re[TAPE__MASK_MAX];
	char *src[TAPE__MASK_MAX];
	size_t n;
	size_t window;
	locale_t c_locale; /* (locale_t)0: newlocale failed, use the current one */
};

int tape__mask_new(struct tape__mask **out)
{
	struct tape__mask *m = calloc(1, sizeof *m);

	*out = m;
	if (!m)
		return -ENOMEM;
	m->window = TAPE__MASK_WINDOW;
	m->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	return 0;
}

void tape__mask_free(struct tape__mask *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		regfree(&m->re[i]);
		free(m->src[i]);
	}
	if (m->c_locale)
		freelocale(m->c_locale);
	free(m);
}

size_t tape__mask_count(const struct tape__mask *m)
{
	return m ? m->n : 0;
}

const char *tape__mask_regex(const struct tape__mask *m, size_t i)
{
	return m && i < m->n ? m->src[i] : NULL;
}

void tape__mask_set_window(struct tape__mask *m, size_t bytes)
{
	if (bytes < 2)
		bytes = 2;
	m->window = bytes < TAPE__MASK_WINDOW ? bytes : TAPE__MASK_WINDOW;
}

/* The C locale for the duration of a regcomp()/regexec(). */
static locale_t enter_c(const struct tape__mask *m)
{
	return m->c_locale ? uselocale(m->c_locale) : (locale_t)0;
}

static void leave_c(const struct tape__mask *m, locale_t old)
{
	if (m->c_locale && old)
		uselocale(old);
}

int tape__mask_add(struct tape__mask *m, const char *regex, char *err, size_t errlen)
{
	regmatch_t pm[1];
	locale_t old;
	char why[256];
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (m->n >= TAPE__MASK_MAX) {
		if (err)
			snprintf(err, errlen, "too many masks: at most %u", TAPE__MASK_MAX);
		return TAPE_ELIMIT;
	}
	m->src[m->n] = strdup(regex);
	if (!m->src[m->n]) {
		if (err)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	old = enter_c(m);
	rc = regcomp(&m->re[m->n], regex, REG_EXTENDED | REG_NEWLINE);
	if (rc != 0) {
		regerror(rc, &m->re[m->n], why, sizeof why);
		leave_c(m, old);
		free(m->src[m->n]);
		m->src[m->n] = NULL;
		if (err)
			snprintf(err, errlen, "invalid regular expression \"%s\": %s", regex, why);
		return rc == REG_ESPACE ? -ENOMEM : TAPE_EUSAGE;
	}
	pm[0].rm_so = 0;
	pm[0].rm_eo = 0;
	rc = regexec(&m->re[m->n], "", 1, pm, REG_STARTEND);
	leave_c(m, old);
	if (rc == 0) {
		regfree(&m->re[m->n]);
		free(m->src[m->n]);
		m->src[m->n] = NULL;
		if (err)
			snprintf(err, errlen,
				 "regular expression \"%s\" matches the empty string, so it would mask "
				 "nothing (use + rather than *)",
				 regex);
		return TAPE_EUSAGE;
	}
	m->n++;
	return 0;
}

/*
 * Per-side search state: the window copy and the cached next match of each
 * expression.  The copy is laid out as
 *
 *   win[0]  NUL     so that an interceptor's strlen(win) stops at once
 *   win[1]  the byte before the window (LF at the start of the input),
 *           giving ^ and word boundaries their context at the window start
 *   win[2]  buf[wbase] ... buf[wend - 1], then a NUL
 *
 * and regexec() is given [2 + from - wbase, 2 + wend - wbase).
 */
#define WIN_HEAD 2u

struct scan {
	const struct tape__mask *m;
	const uint8_t *buf;
	size_t len;
	uint8_t *win;
	size_t wbase, wend;
	int wvalid;
	size_t s[TAPE__MASK_MAX], e[TAPE__MASK_MAX];
	unsigned char have[TAPE__MASK_MAX]; /* 0 not searched, 1 found, 2 none left */
};

static int scan_init(struct scan *sc, const struct tape__mask *m, const uint8_t *buf, size_t len)
{
	size_t w = m && m->n ? (len < m->window ? len : m->window) : 0;

	memset(sc, 0, sizeof *sc);
	sc->m = m;
	sc->buf = buf;
	sc->len = len;
	sc->win = malloc(w + WIN_HEAD + 1);
	return sc->win ? 0 : -ENOMEM;
}

static void scan_cleanup(struct scan *sc)
{
	free(sc->win);
	sc->win = NULL;
}

/* Copies the window starting at base. */
static void slide(struct scan *sc, size_t base)
{
	size_t w = sc->m->window;

	sc->wbase = base;
	sc->wend = sc->len - base > w ? base + w : sc->len;
	sc->win[0] = '\0';
	sc->win[1] = base > 0 ? sc->buf[base - 1] : '\n';
	memcpy(sc->win + WIN_HEAD, sc->buf + base, sc->wend - base);
	sc->win[WIN_HEAD + sc->wend - base] = '\0';
	sc->wvalid = 1;
}

/* Finds the leftmost-longest match of expression k starting at or after
 * from: 1 with [*s, *e), 0 for none, or -ENOMEM. */
static int find_one(struct scan *sc, size_t k, size_t from, size_t *s, size_t *e)
{
	const size_t half = sc->m->window / 2;
	regmatch_t pm[1];
	int rc;

	while (from <= sc->len) {
		int flags = REG_STARTEND;
		size_t ms, me;

		/* The window must hold from and, unless it reaches the end, half a
		 * window after it. */
		if (!sc->wvalid || from < sc->wbase || from > sc->wend ||
		    (sc->wend < sc->len && sc->wend - from < half))
			slide(sc, from);
		if (sc->wend < sc->len && sc->buf[sc->wend] != '\n')
			flags |= REG_NOTEOL;
		pm[0].rm_so = (regoff_t)(WIN_HEAD + from - sc->wbase);
		pm[0].rm_eo = (regoff_t)(WIN_HEAD + sc->wend - sc->wbase);
		rc = regexec(&sc->m->re[k], (const char *)sc->win, 1, pm, flags);
		if (rc != 0 && rc != REG_NOMATCH)
			return -ENOMEM;
		if (rc == REG_NOMATCH) {
			if (sc->wend == sc->len)
				return 0;
			/* No match that fits starts before the window's second
			 * half: go on from there, in a window starting there. */
			from = sc->wend - half > from ? sc->wend - half : from;
			slide(sc, from);
			continue;
		}
		ms = sc->wbase + (size_t)pm[0].rm_so - WIN_HEAD;
		me = sc->wbase + (size_t)pm[0].rm_eo - WIN_HEAD;
		if (sc->wend == sc->len || (ms < sc->wend - half && (me < sc->wend || ms == sc->wbase))) {
			*s = ms;
			*e = me;
			return 1;
		}
		if (ms < sc->wend - half) {
			slide(sc, ms); /* it may go on past the window: see all of it */
			from = ms;
			continue;
		}
		/* This late in the window an earlier match could have been cut
		 * off: look again from the second half, in a window starting
		 * there. */
		from = sc->wend - half > from ? sc->wend - half : from;
		slide(sc, from);
	}
	return 0;
}

/* Next non-empty mask match starting at or after p: 1 with [*s, *e), 0, or
 * -ENOMEM.  p never decreases between calls. */
static int scan_next(struct scan *sc, size_t p, size_t *s, size_t *e)
{
	const struct tape__mask *m = sc->m;
	int found = 0;
	locale_t old;

	if (!m || m->n == 0)
		return 0;
	old = enter_c(m);
	for (size_t k = 0; k < m->n; k++) {
		if (sc->have[k] == 2 || (sc->have[k] == 1 && sc->s[k] >= p))
			continue;
		size_t from = p;
		for (;;) {
			size_t ms, me;
			int rc = find_one(sc, k, from, &ms, &me);
			if (rc < 0) {
				leave_c(m, old);
				return rc;
			}
			if (rc == 0) {
				sc->have[k] = 2;
				break;
			}
			if (me > ms) {
				sc->have[k] = 1;
				sc->s[k] = ms;
				sc->e[k] = me;
				break;
			}
			from = ms + 1; /* an empty match masks nothing */
		}
	}
	leave_c(m, old);
	for (size_t k = 0; k < m->n; k++) {
		if (sc->have[k] != 1)
			continue;
		if (!found || sc->s[k] < *s || (sc->s[k] == *s && sc->e[k] > *e)) {
			*s = sc->s[k];
			*e = sc->e[k];
			found = 1;
		}
	}
	return found;
}

static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	/* memcmp() finds whether; narrow down in blocks for where. */
	while (n - i >= 4096 && memcmp(a + i, b + i, 4096) == 0)
		i += 4096;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

int tape__diff_compare(const struct tape__mask *m, const uint8_t *exp, size_t elen,
		       const uint8_t *got, size_t glen, size_t *exp_off, size_t *got_off)
{
	struct scan *se = NULL, *sg = NULL;
	size_t i = 0, j = 0;
	int rc;

	if (!exp)
		exp = (const uint8_t *)"";
	if (!got)
		got = (const uint8_t *)"";
	if (!m || m->n == 0) {
		size_t n = elen < glen ? elen : glen;
		size_t k = first_diff(exp, got, n);
		if (k == n && elen == glen)
			return 1;
		*exp_off = *got_off = k;
		return 0;
	}
	se = calloc(1, sizeof *se);
	sg = calloc(1, sizeof *sg);
	if (!se || !sg) {
		rc = -ENOMEM;
		goto out;
	}
	if (scan_init(se, m, exp, elen) || scan_init(sg, m, got, glen)) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		size_t es = 0, ee = 0, gs = 0, ge = 0, le, lg, n, k;
		int he, hg;

		he = scan_next(se, i, &es, &ee);
		hg = scan_next(sg, j, &gs, &ge);
		if (he < 0 || hg < 0) {
			rc = -ENOMEM;
			goto out;
		}
		/* Literal bytes up to the next match (or the end) on each side. */
		le = (he ? es : elen) - i;
		lg = (hg ? gs : glen) - j;
		n = le < lg ? le : lg;
		k = first_diff(exp + i, got + j, n);
		i += k;
		j += k;
		if (k < n)
			break;
		if (he && hg && i == es && j == gs) {
			i = ee; /* one placeholder each side: equal */
			j = ge;
			continue;
		}
		if (!he && !hg && i == elen && j == glen) {
			rc = 1;
			goto out;
		}
		break; /* a placeholder against a byte, or one side ended */
	}
	*exp_off = i;
	*got_off = j;
	rc = 0;
out:
	if (se)
		scan_cleanup(se);
	if (sg)
		scan_cleanup(sg);
	free(se);
	free(sg);
	return rc;
}

/* ---- the report ---------------------------------------------------------- */

/* Output text, capped at TAPE__DIFF_REPORT_MAX with room kept for the
 * truncation notice. */
#define NOTICE_ROOM 80u

struct sbuf {
	char *p;
	size_t len, cap;
	int full; /* the cap was hit: nothing more is added */
	int oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	const size_t lim = TAPE__DIFF_REPORT_MAX - NOTICE_ROOM;

	if (b->full || b->oom)
		return;
	if (b->len + n > lim) {
		b->full = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > TAPE__DIFF_REPORT_MAX)
			cap = TAPE__DIFF_REPORT_MAX;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

TAPE__PRINTF(2, 3) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The finished text, or NULL when memory ran out. */
static char *sb_finish(struct sbuf *b)
{
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	if (b->full) {
		char note[NOTICE_ROOM];
		/* Cut back to a whole line before saying so. */
		while (b->len > 0 && b->p[b->len - 1] != '\n')
			b->len--;
		int n = snprintf(note, sizeof note, "[report truncated at %u bytes]\n",
				 TAPE__DIFF_REPORT_MAX - NOTICE_ROOM);
		/* The room was kept: len <= cap - NOTICE_ROOM or cap can grow to it. */
		if (b->len + (size_t)n + 1 > b->cap) {
			char *np = realloc(b->p, b->len + (size_t)n + 1);
			if (!np) {
				free(b->p);
				return NULL;
			}
			b->p = np;
			b->cap = b->len + (size_t)n + 1;
		}
		memcpy(b->p + b->len, note, (size_t)n + 1);
		b->len += (size_t)n;
	}
	return b->p;
}

#define ROW 16u

/* Rows of TAPE__DIFF_CONTEXT bytes either side of off, hexdump -C style,
 * with a caret line under the byte at off (or the place just past the end).
 * Offsets are shown plus base, rows aligned on multiples of 16 of those,
 * in at least 8 hex digits. */
static void hex_rows(struct sbuf *b, const uint8_t *p, size_t len, size_t off, uint64_t base)
{
	size_t lo = off > TAPE__DIFF_CONTEXT ? off - TAPE__DIFF_CONTEXT : 0;
	size_t hi = len > off + TAPE__DIFF_CONTEXT ? off + TAPE__DIFF_CONTEXT : (len ? len - 1 : 0);
	uint64_t r0 = (base + lo) / ROW * ROW, r1 = (base + (hi > off ? hi : off)) / ROW * ROW;
	uint64_t at = base + off;
	char line[160];
	unsigned w = 8;

	while (w < 16 && (r1 >> (4 * w)) != 0)
		w++;
	for (uint64_t r = r0; r <= r1; r += ROW) {
		const size_t hex0 = 4 + w, ascii0 = hex0 + 3 * ROW + 3;
		size_t o;

		o = (size_t)snprintf(line, sizeof line, "  %0*llx  ", (int)w, (unsigned long long)r);
		for (size_t i = 0; i < ROW; i++) {
			uint64_t a = r + i;
			if (a >= base && a - base < len)
				snprintf(line + o, sizeof line - o, "%02x ", p[a - base]);
			else
				memcpy(line + o, "   ", 4);
			o += 3;
			if (i == 7)
				line[o++] = ' ';
		}
		line[o++] = ' ';
		line[o++] = '|';
		for (size_t i = 0; i < ROW; i++) {
			uint64_t a = r + i;
			uint8_t c = a >= base && a - base < len ? p[a - base] : ' ';
			line[o++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
		}
		line[o++] = '|';
		line[o++] = '\n';
		sb_put(b, line, o);
		if (at >= r && at < r + ROW) {
			size_t c = (size_t)(at - r), hc = hex0 + 3 * c + (c >= 8 ? 1 : 0);
			memset(line, ' ', sizeof line);
			line[hc] = '^';
			line[hc + 1] = '^';
			if (off < len) {
				line[ascii0 + c] = '^';
				o = ascii0 + c + 1;
			} else {
				memcpy(line + hc + 2, " end of data", 12);
				o = hc + 14;
			}
			line[o++] = '\n';
			sb_put(b, line, o);
		}
	}
}

/* "offset 20 (0x14): byte 0x68 'h'" or "...: end of data". */
static void side_label(struct sbuf *b, const char *name, const uint8_t *p, size_t len, size_t off,
		       uint64_t base)
{
	unsigned long long at = (unsigned long long)(base + off);

	sb_printf(b, "%s, offset %llu (0x%llx): ", name, at, at);
	if (off >= len)
		sb_printf(b, "end of data\n");
	else if (p[off] >= 0x20 && p[off] < 0x7f)
		sb_printf(b, "byte 0x%02x '%c'\n", p[off], p[off]);
	else
		sb_printf(b, "byte 0x%02x\n", p[off]);
}

static void headline(struct sbuf *b, const struct tape__diff_view *v, size_t elen, size_t glen,
		     size_t exp_off, size_t got_off)
{
	unsigned long long eo = (unsigned long long)(v->exp_base + exp_off);
	unsigned long long go = (unsigned long long)(v->got_base + got_off);

	sb_printf(b, "%s %zu byte%s, %s %zu byte%s; ", v->exp_name, elen, elen == 1 ? "" : "s",
		  v->got_name, glen, glen == 1 ? "" : "s");
	if (eo == go)
		sb_printf(b, "first difference at offset %llu\n", eo);
	else
		sb_printf(b, "first difference at offset %llu of %s, %llu of %s\n", eo, v->exp_name, go,
			  v->got_name);
}

/* ---- unified line diff --------------------------------------------------- */

/* One side of the text diff: a window of whole lines and the mask matches
 * inside it. */
struct side {
	const uint8_t *buf;
	size_t ws, we;          /* window [ws, we) of buf */
	uint64_t line0;         /* lines of buf before ws */
	size_t *ls;             /* nlines + 1 line starts (absolute); a line ends at the next start */
	uint64_t *hash;
	size_t nlines;
	size_t (*mt)[2];        /* mask matches [s, e) inside the window, in order */
	size_t nmt, capmt;
	size_t *mfirst;         /* per line: index of the first match ending after its start */
	int truncated;          /* the window stops before the end of buf */
};

static void side_free(struct side *s)
{
	free(s->ls);
	free(s->hash);
	free(s->mt);
	free(s->mfirst);
}

/* Start of the line holding off, moved back ctx more lines. */
static size_t back_lines(const uint8_t *buf, size_t off, unsigned ctx)
{
	size_t p = off;

	for (unsigned k = 0; k <= ctx; k++) {
		while (p > 0 && buf[p - 1] != '\n')
			p--;
		if (k == ctx || p == 0)
			break;
		p--; /* onto the previous line's newline */
	}
	return p;
}

static uint64_t count_lines(const uint8_t *buf, size_t n)
{
	uint64_t c = 0;
	const uint8_t *p = buf, *end = buf + n;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

#define FNV_OFF UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

/* Canonical token walk of a line: bytes, with each piece of a mask match
 * as one placeholder.  next_tok returns the token (0..255, 256 for a
 * placeholder) or -1 at the end of the line. */
struct tok {
	const struct side *sd;
	size_t p, end, mi;
};

static int next_tok(struct tok *t)
{
	const struct side *sd = t->sd;

	if (t->p >= t->end)
		return -1;
	while (t->mi < sd->nmt && sd->mt[t->mi][1] <= t->p)
		t->mi++;
	if (t->mi < sd->nmt && sd->mt[t->mi][0] <= t->p) {
		size_t e = sd->mt[t->mi][1];
		t->p = e < t->end ? e : t->end;
		return 256;
	}
	return sd->buf[t->p++];
}

static void tok_start(struct tok *t, const struct side *sd, size_t line)
{
	t->sd = sd;
	t->p = sd->ls[line];
	t->end = sd->ls[line + 1];
	t->mi = sd->mfirst ? sd->mfirst[line] : 0;
}

static int line_eq(const struct side *a, size_t i, const struct side *b, size_t j)
{
	struct tok ta, tb;
	int x, y;

	if (a->hash[i] != b->hash[j])
		return 0;
	tok_start(&ta, a, i);
	tok_start(&tb, b, j);
	do {
		x = next_tok(&ta);
		y = next_tok(&tb);
		if (x != y)
			return 0;
	} while (x >= 0);
	return 1;
}

/* Splits the window [off-back .. cap) of buf into lines and hashes their
 * canonical forms.  0 or -ENOMEM. */
static int side_load(struct side *sd, const struct tape__mask *m, const uint8_t *buf, size_t len,
		     size_t off)
{
	size_t p, cap;

	memset(sd, 0, sizeof *sd);
	sd->buf = buf;
	sd->ws = back_lines(buf, off < len ? off : len, 3);
	sd->line0 = count_lines(buf, sd->ws);
	sd->we = len - sd->ws > TAPE__DIFF_TEXT_MAX_BYTES ? sd->ws + TAPE__DIFF_TEXT_MAX_BYTES : len;
	sd->truncated = sd->we < len;
	cap = 64;
	sd->ls = malloc(cap * sizeof *sd->ls);
	if (!sd->ls)
		return -ENOMEM;
	for (p = sd->ws; p < sd->we && sd->nlines < TAPE__DIFF_TEXT_MAX_LINES;) {
		const uint8_t *nl = memchr(buf + p, '\n', sd->we - p);
		size_t e = nl ? (size_t)(nl - buf) + 1 : sd->we;
		if (sd->nlines + 2 > cap) {
			size_t *nls = realloc(sd->ls, 2 * cap * sizeof *nls);
			if (!nls)
				return -ENOMEM;
			sd->ls = nls;
			cap *= 2;
		}
		sd->ls[sd->nlines++] = p;
		p = e;
	}
	sd->ls[sd->nlines] = p;
	if (p < len) {
		sd->we = p;
		sd->truncated = 1;
	}
	/* Mask matches inside the window. */
	if (m && m->n) {
		struct scan *sc = malloc(sizeof *sc);
		size_t q = sd->ws, s, e;
		int rc = 0;
		if (!sc)
			return -ENOMEM;
		if (scan_init(sc, m, buf, len)) {
			free(sc);
			return -ENOMEM;
		}
		while ((rc = scan_next(sc, q, &s, &e)) == 1 && s < sd->we) {
			if (sd->nmt == sd->capmt) {
				size_t nc = sd->capmt ? 2 * sd->capmt : 16;
				size_t(*nm)[2] = realloc(sd->mt, nc * sizeof *nm);
				if (!nm) {
					rc = -ENOMEM;
					break;
				}
				sd->mt = nm;
				sd->capmt = nc;
			}
			sd->mt[sd->nmt][0] = s;
			sd->mt[sd->nmt][1] = e;
			sd->nmt++;
			q = e;
		}
		scan_cleanup(sc);
		free(sc);
		if (rc < 0)
			return rc;
		sd->mfirst = malloc((sd->nlines + 1) * sizeof *sd->mfirst);
		if (!sd->mfirst)
			return -ENOMEM;
		for (size_t i = 0, mi = 0; i < sd->nlines; i++) {
			while (mi < sd->nmt && sd->mt[mi][1] <= sd->ls[i])
				mi++;
			sd->mfirst[i] = mi;
		}
	}
	sd->hash = malloc((sd->nlines + 1) * sizeof *sd->hash);
	if (!sd->hash)
		return -ENOMEM;
	for (size_t i = 0; i < sd->nlines; i++) {
		struct tok t;
		uint64_t h = FNV_OFF;
		int c;
		tok_start(&t, sd, i);
		while ((c = next_tok(&t)) >= 0) {
			h ^= (uint64_t)c;
			h *= FNV_PRIME;
		}
		sd->hash[i] = h;
	}
	return 0;
}

enum { OP_EQ, OP_DEL, OP_INS };

struct op {
	unsigned char kind;
	size_t a, b; /* line indexes: a for EQ/DEL, b for EQ/INS */
};

struct ops {
	struct op *v;
	size_t n, cap;
};

static int ops_add(struct ops *o, int kind, size_t a, size_t b)
{
	if (o->n == o->cap) {
		size_t nc = o->cap ? 2 * o->cap : 64;
		struct op *nv = realloc(o->v, nc * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		o->v = nv;
		o->cap = nc;
	}
	o->v[o->n].kind = (unsigned char)kind;
	o->v[o->n].a = a;
	o->v[o->n].b = b;
	o->n++;
	return 0;
}

/*
 * Myers' O(ND) difference algorithm ("An O(ND) Difference Algorithm and Its
 * Variations", 1986) on lines a[a0..a1) and b[b0..b1), keeping the V array of
 * every step d (2d+1 entries) to trace the path back.  Gives up past
 * TAPE__DIFF_TEXT_MAX_EDITS edits: returns 1 then, 0 with the script
 * appended to o, or -ENOMEM.
 */
static int myers(const struct side *a, size_t a0, size_t a1, const struct side *b, size_t b0,
		 size_t b1, struct ops *o)
{
	const long n = (long)(a1 - a0), m = (long)(b1 - b0);
	const long maxd = TAPE__DIFF_TEXT_MAX_EDITS;
	long **trace = NULL, d, found = -1, ntrace = 0;
	struct op *rev = NULL;
	size_t nrev = 0;
	int rc = 0;

	trace = calloc((size_t)maxd + 1, sizeof *trace);
	if (!trace)
		return -ENOMEM;
	for (d = 0; d <= maxd && d <= n + m; d++) {
		long *v = malloc((size_t)(2 * d + 1) * sizeof *v);
		const long *pv = d ? trace[d - 1] : NULL; /* indexed k + (d - 1) */
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		trace[d] = v;
		ntrace = d + 1;
		for (long k = -d; k <= d; k += 2) {
			long x, y;
			if (d == 0)
				x = 0;
			else if (k == -d || (k != d && pv[k - 1 + d - 1] < pv[k + 1 + d - 1]))
				x = pv[k + 1 + d - 1]; /* down: an insertion */
			else
				x = pv[k - 1 + d - 1] + 1; /* right: a deletion */
			y = x - k;
			while (x < n && y < m && line_eq(a, a0 + (size_t)x, b, b0 + (size_t)y)) {
				x++;
				y++;
			}
			v[k + d] = x;
			if (x >= n && y >= m) {
				found = d;
				break;
			}
		}
		if (found >= 0)
			break;
	}
	if (found < 0) {
		rc = 1;
		goto out;
	}
	/* Walk back from (n, m), collecting operations in reverse. */
	rev = malloc((size_t)(n + m + 1) * sizeof *rev);
	if (!rev) {
		rc = -ENOMEM;
		goto out;
	}
	{
		long x = n, y = m;
		for (d = found; d > 0; d--) {
			const long *pv = trace[d - 1]; /* indexed k + (d - 1) */
			long k = x - y, pk, px, py, ex, ey;
			int down = k == -d || (k != d && pv[k - 1 + d - 1] < pv[k + 1 + d - 1]);
			pk = down ? k + 1 : k - 1;
			px = pv[pk + d - 1];
			py = px - pk;
			/* The edit leads from (px, py) to (ex, ey); a snake follows. */
			ex = down ? px : px + 1;
			ey = down ? py + 1 : py;
			while (x > ex && y > ey) {
				x--;
				y--;
				rev[nrev++] = (struct op){OP_EQ, a0 + (size_t)x, b0 + (size_t)y};
			}
			if (down)
				rev[nrev++] = (struct op){OP_INS, a0 + (size_t)px, b0 + (size_t)py};
			else
				rev[nrev++] = (struct op){OP_DEL, a0 + (size_t)px, b0 + (size_t)py};
			x = px;
			y = py;
		}
		while (x > 0 && y > 0) {
			x--;
			y--;
			rev[nrev++] = (struct op){OP_EQ, a0 + (size_t)x, b0 + (size_t)y};
		}
	}
	while (nrev > 0) {
		nrev--;
		if ((rc = ops_add(o, rev[nrev].kind, rev[nrev].a, rev[nrev].b)) != 0)
			goto out;
	}
out:
	for (long i = 0; i < ntrace; i++)
		free(trace[i]);
	free(trace);
	free(rev);
	return rc;
}

/* One line of the diff, prefixed, with \r, backslash, control and non-ASCII
 * bytes escaped so the report is plain text; the line's '\n' is implied. */
static void diff_line(struct sbuf *b, char prefix, const struct side *sd, size_t i)
{
	static const char hexd[] = "0123456789abcdef";
	size_t s = sd->ls[i], e = sd->ls[i + 1];
	int nl = e > s && sd->buf[e - 1] == '\n';
	char out[256];
	size_t o = 0;

	out[o++] = prefix;
	for (size_t p = s; p < e - (nl ? 1 : 0); p++) {
		uint8_t c = sd->buf[p];
		if (o + 5 > sizeof out) {
			sb_put(b, out, o);
			o = 0;
		}
		if (c == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (c == '\r') {
			out[o++] = '\\';
			out[o++] = 'r';
		} else if (c == '\t' || (c >= 0x20 && c < 0x7f)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hexd[c >> 4];
			out[o++] = hexd[c & 15];
		}
	}
	out[o++] = '\n';
	sb_put(b, out, o);
	if (!nl && e == sd->we && !sd->truncated)
		sb_str(b, "\\ No newline at end of file\n");
}

/* "l,n" of a unified hunk header: n omitted when 1; l the line before for
 * an empty range. */
static void range(struct sbuf *b, uint64_t first, size_t n)
{
	if (n == 1)
		sb_printf(b, "%llu", (unsigned long long)first);
	else
		sb_printf(b, "%llu,%zu", (unsigned long long)(n ? first : first - 1), n);
}

#define DIFF_CONTEXT 3u

static void print_hunks(struct sbuf *b, const struct ops *o, const struct side *a, const struct side *c)
{
	size_t i = 0;

	while (i < o->n) {
		size_t start, end, k;
		size_t na = 0, nb = 0, fa = SIZE_MAX, fb = SIZE_MAX;

		while (i < o->n && o->v[i].kind == OP_EQ)
			i++;
		if (i == o->n)
			break;
		start = i > DIFF_CONTEXT ? i - DIFF_CONTEXT : 0;
		/* Extend over changes at most twice the context apart. */
		end = i;
		for (;;) {
			while (end < o->n && o->v[end].kind != OP_EQ)
				end++;
			k = end;
			while (k < o->n && o->v[k].kind == OP_EQ)
				k++;
			if (k < o->n && k - end <= 2 * DIFF_CONTEXT) {
				end = k;
				continue;
			}
			end = end + DIFF_CONTEXT < o->n ? end + DIFF_CONTEXT : o->n;
			break;
		}
		for (k = start; k < end; k++) {
			const struct op *p = &o->v[k];
			if (p->kind != OP_INS) {
				na++;
				if (fa == SIZE_MAX)
					fa = p->a;
			}
			if (p->kind != OP_DEL) {
				nb++;
				if (fb == SIZE_MAX)
					fb = p->b;
			}
		}
		if (fa == SIZE_MAX)
			fa = o->v[start].a;
		if (fb == SIZE_MAX)
			fb = o->v[start].b;
		sb_str(b, "@@ -");
		range(b, a->line0 + fa + 1, na);
		sb_str(b, " +");
		range(b, c->line0 + fb + 1, nb);
		sb_str(b, " @@\n");
		for (k = start; k < end; k++) {
			const struct op *p = &o->v[k];
			if (p->kind == OP_EQ)
				diff_line(b, ' ', a, p->a);
			else if (p->kind == OP_DEL)
				diff_line(b, '-', a, p->a);
			else
				diff_line(b, '+', c, p->b);
		}
		i = end;
	}
}

static int text_diff(struct sbuf *b, const struct tape__diff_view *v, const uint8_t *exp, size_t elen,
		     const uint8_t *got, size_t glen, size_t exp_off, size_t got_off)
{
	struct side a, c;
	struct ops o = {0};
	size_t pre = 0, suf = 0, i;
	int rc;

	rc = side_load(&a, v->mask, exp, elen, exp_off);
	if (rc == 0)
		rc = side_load(&c, v->mask, got, glen, got_off);
	else
		memset(&c, 0, sizeof c);
	if (rc)
		goto out;
	while (pre < a.nlines && pre < c.nlines && line_eq(&a, pre, &c, pre))
		pre++;
	/* A common suffix counts only when both windows reach their ends. */
	while (!a.truncated && !c.truncated && suf < a.nlines - pre && suf < c.nlines - pre &&
	       line_eq(&a, a.nlines - 1 - suf, &c, c.nlines - 1 - suf))
		suf++;
	for (i = 0; i < pre && rc == 0; i++)
		rc = ops_add(&o, OP_EQ, i, i);
	if (rc)
		goto out;
	rc = myers(&a, pre, a.nlines - suf, &c, pre, c.nlines - suf, &o);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		/* Too many changes to find the shortest script: all out, all in. */
		for (i = pre; i < a.nlines - suf && rc >= 0; i++)
			rc = ops_add(&o, OP_DEL, i, pre);
		for (i = pre; i < c.nlines - suf && rc >= 0; i++)
			rc = ops_add(&o, OP_INS, a.nlines - suf, i);
		if (rc < 0)
			goto out;
		rc = 1;
	}
	for (i = 0; i < suf; i++) {
		int r2 = ops_add(&o, OP_EQ, a.nlines - suf + i, c.nlines - suf + i);
		if (r2) {
			rc = r2;
			goto out;
		}
	}
	sb_printf(b, "--- %s\n+++ %s\n", v->exp_name, v->got_name);
	if (a.ws > 0 || c.ws > 0)
		sb_printf(b, "(lines before %llu of %s and %llu of %s are equal and not shown)\n",
			  (unsigned long long)a.line0 + 1, v->exp_name, (unsigned long long)c.line0 + 1,
			  v->got_name);
	for (i = 0; i < o.n && o.v[i].kind == OP_EQ; i++)
		;
	if (i == o.n)
		sb_str(b, "(no line differs in the part compared)\n");
	print_hunks(b, &o, &a, &c);
	if (rc == 1)
		sb_printf(b, "(more than %u changed lines: not the shortest diff)\n",
			  TAPE__DIFF_TEXT_MAX_EDITS);
	if (a.truncated || c.truncated)
		sb_printf(b, "(text diff limited to %u lines or %u bytes of each side)\n",
			  TAPE__DIFF_TEXT_MAX_LINES, TAPE__DIFF_TEXT_MAX_BYTES);
	rc = 0;
out:
	free(o.v);
	side_free(&a);
	side_free(&c);
	return rc;
}

char *tape__diff_report_ex(const struct tape__diff_view *view, const uint8_t *exp, size_t elen,
			   const uint8_t *got, size_t glen, size_t exp_off, size_t got_off)
{
	struct tape__diff_view v = {0};
	struct sbuf b = {0};

	if (view)
		v = *view;
	if (!exp)
		exp = (const uint8_t *)"";
	if (!got)
		got = (const uint8_t *)"";
	if (!v.exp_name)
		v.exp_name = "expected";
	if (!v.got_name)
		v.got_name = "received";
	if (exp_off > elen)
		exp_off = elen;
	if (got_off > glen)
		got_off = glen;
	headline(&b, &v, elen, glen, exp_off, got_off);
	if (v.text_diff) {
		if (text_diff(&b, &v, exp, elen, got, glen, exp_off, got_off) < 0)
			b.oom = 1;
	} else {
		side_label(&b, v.exp_name, exp, elen, exp_off, v.exp_base);
		hex_rows(&b, exp, elen, exp_off, v.exp_base);
		side_label(&b, v.got_name, got, glen, got_off, v.got_base);
		hex_rows(&b, got, glen, got_off, v.got_base);
	}
	return sb_finish(&b);
}

char *tape__diff_report(const uint8_t *exp, size_t elen, const uint8_t *got, size_t glen,
			size_t exp_off, size_t got_off, int text_diff_on)
{
	struct tape__diff_view v = {0};

	v.text_diff = text_diff_on;
	return tape__diff_report_ex(&v, exp, elen, got, glen, exp_off, got_off);
}
