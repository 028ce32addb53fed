/* SPDX-License-Identifier: BSD-2-Clause */
/* framing.c - message framing codecs (raw, line, len:N, http1, iso8583): stream chunks in, whole messages out. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "tape-int.h"

/*
 * Wire forms.
 *
 *   len:N (Trace Stream Proxy), "hello" with N = 8:
 *     00 00 00 00 00 00 00 05 | 68 65 6c 6c 6f
 *     <-- N bytes, big-endian payload length --> <-- payload -->
 *   iso8583: the same with N = 2, the header being part of the message.
 *   http1 (RFC 9112): start-line CRLF *(field-line CRLF) CRLF [body], the
 *     body framed by section 6.3: Transfer-Encoding ending in chunked wins
 *     over Content-Length; responses to HEAD, 1xx, 204 and 304 have none;
 *     a response with neither runs until the connection closes.
 *       chunked-body = *chunk last-chunk trailer-section CRLF
 *       chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *
 * One buffer per decoder holds the message being assembled, from offset 0;
 * complete messages are handed out straight from it and the remainder is
 * moved to the front after each feed.  Parsing resumes at pos, so a message
 * fed one byte at a time costs O(size), not O(size^2).
 */

enum h1_state {
	H1_HEAD = 0,   /* looking for the empty line that ends the head */
	H1_BODY_LEN,   /* remain body bytes by Content-Length */
	H1_CHUNK_SIZE, /* a chunk-size line */
	H1_CHUNK_DATA, /* remain chunk bytes */
	H1_CHUNK_CRLF, /* the CRLF after chunk data */
	H1_TRAILER,    /* trailer lines up to the empty one */
	H1_BODY_EOF,   /* until the stream ends */
	H1_TUNNEL,     /* after 101 or a CONNECT 2xx: bytes as they come */
};

#define H1_REQ_HEAD 0x1u    /* the request was HEAD */
#define H1_REQ_CONNECT 0x2u /* the request was CONNECT */

struct tape__deframer {
	struct tape__framing f;
	enum tape_dir dir;
	uint8_t *buf;
	size_t len, cap;
	size_t limit;        /* most bytes buffered for one message */
	size_t pos;          /* parsing resumes here */
	/* http1 */
	enum h1_state st;
	int have_line0;      /* the start line has been seen */
	size_t line0;        /* its offset */
	uint64_t remain;
	struct tape__deframer *peer; /* request decoder <-> response decoder */
	uint8_t q[TAPE__FRAMING_MAX_PIPELINE]; /* response decoder: H1_REQ_* of requests in order */
	size_t qhead, qlen;
	int err;
	char errbuf[TAPE__FRAMING_ERRLEN];
};

static int ferr(struct tape__deframer *d, int code, const char *fmt, ...) TAPE__PRINTF(3, 4);
static int ferr(struct tape__deframer *d, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->errbuf, sizeof d->errbuf, fmt, ap);
	va_end(ap);
	d->err = code;
	return code;
}

/* ---- specs and encoding ------------------------------------------------------- */

/* Spec string to struct; the accepted names are listed in framing.h. */
int tape__framing_parse(struct tape__framing *f, const char *spec, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	f->max_payload = TAPE__FRAMING_MAX_PAYLOAD_DEFAULT;
	if (strcmp(spec, "raw") == 0) {
		f->kind = TAPE__FRAMING_RAW;
	} else if (strcmp(spec, "line") == 0) {
		f->kind = TAPE__FRAMING_LINE;
	} else if (strcmp(spec, "http1") == 0) {
		f->kind = TAPE__FRAMING_HTTP1;
	} else if (strcmp(spec, "iso8583") == 0) {
		f->kind = TAPE__FRAMING_ISO8583;
		f->hdr_len = 2;
	} else if (strcmp(spec, "len") == 0) {
		f->kind = TAPE__FRAMING_LEN;
		f->hdr_len = 8;
	} else if (strncmp(spec, "len:", 4) == 0) {
		const char *s = spec + 4;
		unsigned v = 0;
		size_t i;

		for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 3; i++)
			v = v * 10 + (unsigned)(s[i] - '0');
		if (i == 0 || s[i] != '\0' || v < 1 || v > TAPE__FRAMING_MAX_HDR) {
			snprintf(err, errlen, "framing '%s': the header length must be 1 to %u bytes",
				 spec, TAPE__FRAMING_MAX_HDR);
			return TAPE_EUSAGE;
		}
		f->kind = TAPE__FRAMING_LEN;
		f->hdr_len = v;
	} else {
		snprintf(err, errlen, "unknown framing '%s' (raw, line, len:N, http1 or iso8583)", spec);
		return TAPE_EUSAGE;
	}
	return 0;
}

/* The canonical spec of f, for messages and tape metadata. */
const char *tape__framing_name(const struct tape__framing *f, char *buf, size_t size)
{
	static const char *const names[] = {"raw", "line", "len", "http1", "iso8583"};

	if (f->kind == TAPE__FRAMING_LEN)
		snprintf(buf, size, "len:%u", f->hdr_len);
	else
		snprintf(buf, size, "%s", names[f->kind]);
	return buf;
}

/* Only len:N strips a header that the encoder must put back. */
int tape__framing_has_header(const struct tape__framing *f)
{
	return f->kind == TAPE__FRAMING_LEN;
}

/* The len:N header for an n-byte payload, big-endian, leading zeros for
 * N > 8; refuses lengths the header cannot hold or the cap forbids. */
int tape__framing_encode(const struct tape__framing *f, size_t n, uint8_t *hdr, size_t *hdr_len)
{
	uint64_t v = n;

	*hdr_len = 0;
	if (f->kind != TAPE__FRAMING_LEN)
		return 0;
	if (n > f->max_payload)
		return TAPE_ELIMIT;
	if (f->hdr_len < 8 && (v >> (8 * f->hdr_len)) != 0)
		return TAPE_ELIMIT;
	for (unsigned i = f->hdr_len; i > 0; i--) {
		hdr[i - 1] = (uint8_t)v;
		v >>= 8;
	}
	*hdr_len = f->hdr_len;
	return 0;
}

/* ---- decoders -------------------------------------------------------------------- */

/* A decoder with an empty buffer (allocated on first use); the cap is
 * clamped to TAPE__FRAMING_MAX_PAYLOAD so a message fits one DATA event. */
int tape__deframer_new(struct tape__deframer **out, const struct tape__framing *f, enum tape_dir dir)
{
	struct tape__deframer *d;

	*out = NULL;
	d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->f = *f;
	if (d->f.max_payload == 0)
		d->f.max_payload = TAPE__FRAMING_MAX_PAYLOAD_DEFAULT;
	if (d->f.max_payload > TAPE__FRAMING_MAX_PAYLOAD)
		d->f.max_payload = TAPE__FRAMING_MAX_PAYLOAD;
	d->dir = dir;
	switch (d->f.kind) {
	case TAPE__FRAMING_LEN:
	case TAPE__FRAMING_ISO8583:
		d->limit = d->f.hdr_len + d->f.max_payload;
		break;
	case TAPE__FRAMING_HTTP1:
		d->limit = d->f.max_payload + TAPE__FRAMING_MAX_HEAD;
		break;
	default:
		d->limit = d->f.max_payload;
		break;
	}
	*out = d;
	return 0;
}

/* Frees d and unlinks its http1 partner. */
void tape__deframer_free(struct tape__deframer *d)
{
	if (!d)
		return;
	if (d->peer)
		d->peer->peer = NULL;
	free(d->buf);
	free(d);
}

/* Joins the two directions of one http1 connection. */
void tape__deframer_link(struct tape__deframer *req, struct tape__deframer *resp)
{
	req->peer = resp;
	resp->peer = req;
}

/* Bytes of an incomplete message held. */
size_t tape__deframer_pending(const struct tape__deframer *d)
{
	return d->len;
}

/* The last error, with its numbers. */
const char *tape__deframer_error(const struct tape__deframer *d)
{
	return d->errbuf;
}

/* Makes room for n more bytes (the caller keeps len + n within limit). */
static int reserve(struct tape__deframer *d, size_t n)
{
	size_t want = d->len + n, cap = d->cap ? d->cap : 4096;
	uint8_t *p;

	if (want <= d->cap)
		return 0;
	while (cap < want)
		cap = cap > d->limit / 2 ? d->limit : cap * 2;
	p = realloc(d->buf, cap);
	if (!p)
		return ferr(d, -ENOMEM, "out of memory for a %zu-byte message", want);
	d->buf = p;
	d->cap = cap;
	return 0;
}

static const char *quote(char *q, size_t qsize, const uint8_t *p, size_t n)
{
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	return tape__quote(q, qsize, (const char *)p, n);
}

/* len:N and iso8583: whole frames from buf[*start..len). */
static int parse_len(struct tape__deframer *d, size_t *start, tape__frame_fn fn, void *arg)
{
	const unsigned h = d->f.hdr_len;
	const int keep_hdr = d->f.kind == TAPE__FRAMING_ISO8583;
	char name[16];

	for (;;) {
		size_t avail = d->len - *start;
		const uint8_t *p = d->buf + *start;
		uint64_t plen = 0;
		int big = 0;
		int rc;

		if (avail < h)
			return 0;
		for (unsigned i = 0; i < h; i++) {
			if (plen > (UINT64_MAX >> 8))
				big = 1;
			plen = (plen << 8) | p[i];
		}
		if (big)
			return ferr(d, TAPE_ELIMIT,
				    "%s frame announces more than 2^64 payload bytes, over the cap of %zu",
				    tape__framing_name(&d->f, name, sizeof name), d->f.max_payload);
		if (plen > d->f.max_payload)
			return ferr(d, TAPE_ELIMIT,
				    "%s frame announces %llu payload bytes, over the cap of %zu",
				    tape__framing_name(&d->f, name, sizeof name),
				    (unsigned long long)plen, d->f.max_payload);
		if (avail - h < plen)
			return 0;
		if (keep_hdr)
			rc = fn(arg, p, h + (size_t)plen);
		else
			rc = fn(arg, p + h, (size_t)plen);
		*start += h + (size_t)plen;
		if (rc)
			return rc;
	}
}

static int parse_line(struct tape__deframer *d, size_t *start, tape__frame_fn fn, void *arg)
{
	for (;;) {
		const uint8_t *nl;
		size_t end;
		int rc;

		if (d->pos < *start)
			d->pos = *start;
		nl = memchr(d->buf + d->pos, '\n', d->len - d->pos);
		if (!nl) {
			d->pos = d->len;
			return 0;
		}
		end = (size_t)(nl - d->buf) + 1;
		rc = fn(arg, d->buf + *start, end - *start);
		*start = end;
		d->pos = end;
		if (rc)
			return rc;
	}
}

/* ---- http1 ---- */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* p[0..n) equals the lower-case word w, ignoring case. */
static int ieq(const uint8_t *p, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n && w[i]; i++)
		if (lower(p[i]) != w[i])
			return 0;
	return i == n && w[i] == '\0';
}

static int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void trim(const uint8_t **p, size_t *n)
{
	while (*n && ((*p)[0] == ' ' || (*p)[0] == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r'))
		(*n)--;
}

/* Content-Length value: 1*DIGIT, or a list of identical ones. */
static int parse_cl(struct tape__deframer *d, const uint8_t *v, size_t n, uint64_t *out)
{
	uint64_t first = 0;
	int have = 0;
	char q[TAPE__QUOTE_BUF];
	size_t i = 0;

	while (i <= n) {
		size_t j = i;
		uint64_t x = 0;
		const uint8_t *e;
		size_t en;

		while (j < n && v[j] != ',')
			j++;
		e = v + i;
		en = j - i;
		trim(&e, &en);
		if (en == 0)
			goto bad;
		for (size_t k = 0; k < en; k++) {
			if (e[k] < '0' || e[k] > '9')
				goto bad;
			if (x > (UINT64_MAX - 9) / 10)
				return ferr(d, TAPE_ELIMIT, "http1: Content-Length %s is too large",
					    quote(q, sizeof q, v, n));
			x = x * 10 + (uint64_t)(e[k] - '0');
		}
		if (have && x != first)
			goto bad;
		first = x;
		have = 1;
		i = j + 1;
	}
	*out = first;
	return 0;
bad:
	return ferr(d, TAPE_EFORMAT, "http1: invalid Content-Length \"%s\"", quote(q, sizeof q, v, n));
}

/* Parses the head buf[line0..hend) and chooses how the body is framed:
 * sets d->st (H1_HEAD when the message is complete) and d->remain. */
static int parse_head(struct tape__deframer *d, size_t hend)
{
	const uint8_t *p = d->buf + d->line0, *end = d->buf + hend;
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
	size_t l0 = (size_t)(nl - p);
	char q[TAPE__QUOTE_BUF];
	int is_resp, chunked = 0, te = 0, have_cl = 0;
	unsigned status = 0, flags = 0;
	uint64_t cl = 0;
	int rc;

	if (l0 && p[l0 - 1] == '\r')
		l0--;
	is_resp = l0 >= 5 && memcmp(p, "HTTP/", 5) == 0;
	if (is_resp) {
		/* HTTP/d.d SP 3DIGIT [SP reason] */
		if (l0 < 12 || p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9' ||
		    p[8] != ' ' || (l0 > 12 && p[12] != ' '))
			goto bad_status;
		for (int i = 9; i < 12; i++) {
			if (p[i] < '0' || p[i] > '9')
				goto bad_status;
			status = status * 10 + (unsigned)(p[i] - '0');
		}
		if (status < 100)
			goto bad_status;
		if (d->dir == TAPE_C2S)
			return ferr(d, TAPE_EFORMAT, "http1: expected a request, got \"%s\"",
				    quote(q, sizeof q, p, l0));
	} else {
		/* method SP request-target SP HTTP/d.d */
		size_t m = 0, sp2;

		while (m < l0 && is_tchar(p[m]))
			m++;
		if (m == 0 || m >= l0 || p[m] != ' ')
			goto bad_request;
		sp2 = l0;
		while (sp2 > m && p[sp2 - 1] != ' ')
			sp2--;
		if (sp2 <= m + 1 || l0 - sp2 != 8 || memcmp(p + sp2, "HTTP/", 5) != 0 ||
		    p[sp2 + 5] < '0' || p[sp2 + 5] > '9' || p[sp2 + 6] != '.' || p[sp2 + 7] < '0' ||
		    p[sp2 + 7] > '9')
			goto bad_request;
		if (d->dir == TAPE_S2C)
			return ferr(d, TAPE_EFORMAT, "http1: expected a response, got \"%s\"",
				    quote(q, sizeof q, p, l0));
		if (m == 4 && memcmp(p, "HEAD", 4) == 0)
			flags |= H1_REQ_HEAD;
		if (m == 7 && memcmp(p, "CONNECT", 7) == 0)
			flags |= H1_REQ_CONNECT;
	}

	/* Field lines. */
	for (const uint8_t *line = nl + 1; line < end;) {
		const uint8_t *e = memchr(line, '\n', (size_t)(end - line));
		size_t ln = (size_t)(e - line);
		const uint8_t *colon, *v;
		size_t vn;

		if (ln && line[ln - 1] == '\r')
			ln--;
		if (ln == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t') { /* obs-fold: part of the previous value */
			line = e + 1;
			continue;
		}
		colon = memchr(line, ':', ln);
		if (!colon || colon == line)
			return ferr(d, TAPE_EFORMAT, "http1: malformed header line \"%s\"",
				    quote(q, sizeof q, line, ln));
		for (const uint8_t *c = line; c < colon; c++)
			if (!is_tchar(*c))
				return ferr(d, TAPE_EFORMAT, "http1: malformed header name in \"%s\"",
					    quote(q, sizeof q, line, ln));
		v = colon + 1;
		vn = (size_t)(line + ln - v);
		trim(&v, &vn);
		if (ieq(line, (size_t)(colon - line), "content-length")) {
			uint64_t x = 0;

			rc = parse_cl(d, v, vn, &x);
			if (rc)
				return rc;
			if (have_cl && x != cl)
				return ferr(d, TAPE_EFORMAT,
					    "http1: conflicting Content-Length headers (%llu and %llu)",
					    (unsigned long long)cl, (unsigned long long)x);
			cl = x;
			have_cl = 1;
		} else if (ieq(line, (size_t)(colon - line), "transfer-encoding")) {
			/* The last coding decides; codings accumulate over lines. */
			size_t k = vn;
			const uint8_t *last;
			size_t lastn;

			while (k && v[k - 1] != ',')
				k--;
			last = v + k;
			lastn = vn - k;
			trim(&last, &lastn);
			te = 1;
			chunked = ieq(last, lastn, "chunked");
		}
		line = e + 1;
	}

	d->remain = 0;
	if (!is_resp) {
		struct tape__deframer *r = d->peer;

		if (r) {
			if (r->qlen == TAPE__FRAMING_MAX_PIPELINE)
				return ferr(d, TAPE_ELIMIT,
					    "http1: more than %u requests awaiting their response",
					    TAPE__FRAMING_MAX_PIPELINE);
			r->q[(r->qhead + r->qlen) % TAPE__FRAMING_MAX_PIPELINE] = (uint8_t)flags;
			r->qlen++;
		}
		if (te && !chunked)
			return ferr(d, TAPE_EFORMAT,
				    "http1: request with a Transfer-Encoding that does not end in chunked");
		if (chunked) {
			d->st = H1_CHUNK_SIZE;
		} else if (have_cl && cl) {
			if (cl > d->f.max_payload)
				goto too_big;
			d->st = H1_BODY_LEN;
			d->remain = cl;
		} else {
			d->st = H1_HEAD;
		}
		return 0;
	}
	/* Responses. */
	if (status == 101)
		goto tunnel;
	if (status < 200) {
		d->st = H1_HEAD;
		return 0;
	}
	if (d->qlen) {
		flags = d->q[d->qhead];
		d->qhead = (d->qhead + 1) % TAPE__FRAMING_MAX_PIPELINE;
		d->qlen--;
	}
	if ((flags & H1_REQ_CONNECT) && status < 300)
		goto tunnel;
	if ((flags & H1_REQ_HEAD) || status == 204 || status == 304) {
		d->st = H1_HEAD;
	} else if (chunked) {
		d->st = H1_CHUNK_SIZE;
	} else if (te) {
		d->st = H1_BODY_EOF;
	} else if (have_cl) {
		if (cl > d->f.max_payload)
			goto too_big;
		d->remain = cl;
		d->st = cl ? H1_BODY_LEN : H1_HEAD;
	} else {
		d->st = H1_BODY_EOF;
	}
	return 0;
tunnel:
	/* Both directions stop being HTTP (the client waits for this answer
	 * before it sends the new protocol). */
	d->st = H1_TUNNEL;
	if (d->peer) {
		d->peer->st = H1_TUNNEL;
		d->peer->have_line0 = 0;
	}
	return 0;
too_big:
	return ferr(d, TAPE_ELIMIT, "http1: Content-Length %llu is over the cap of %zu bytes",
		    (unsigned long long)cl, d->f.max_payload);
bad_status:
	return ferr(d, TAPE_EFORMAT, "http1: malformed status line \"%s\"", quote(q, sizeof q, p, l0));
bad_request:
	return ferr(d, TAPE_EFORMAT, "http1: malformed request line \"%s\"", quote(q, sizeof q, p, l0));
}

/* The next line from d->pos: 1 with its end (past '\n') in *eol, 0 when
 * incomplete (an error when it already passes the head cap). */
static int next_line(struct tape__deframer *d, size_t *eol, const char *what)
{
	const uint8_t *nl = memchr(d->buf + d->pos, '\n', d->len - d->pos);

	if (!nl) {
		if (d->len - d->pos > TAPE__FRAMING_MAX_HEAD)
			return ferr(d, TAPE_ELIMIT, "http1: %s longer than %u bytes", what,
				    TAPE__FRAMING_MAX_HEAD);
		return 0;
	}
	*eol = (size_t)(nl - d->buf) + 1;
	return 1;
}

static int is_empty_line(const uint8_t *p, size_t n)
{
	return n == 1 || (n == 2 && p[0] == '\r');
}

static int parse_http1(struct tape__deframer *d, size_t *start, tape__frame_fn fn, void *arg)
{
	size_t eol;
	int rc;

	for (;;) {
		if (d->pos < *start)
			d->pos = *start;
		switch (d->st) {
		case H1_HEAD:
			rc = next_line(d, &eol, "message head");
			if (rc <= 0)
				return rc;
			if (is_empty_line(d->buf + d->pos, eol - d->pos)) {
				if (!d->have_line0) { /* empty lines before a start line are kept with it */
					d->pos = eol;
					continue;
				}
				if (eol - d->line0 > TAPE__FRAMING_MAX_HEAD)
					return ferr(d, TAPE_ELIMIT, "http1: message head longer than %u bytes",
						    TAPE__FRAMING_MAX_HEAD);
				rc = parse_head(d, eol);
				if (rc)
					return rc;
				d->have_line0 = 0;
				d->pos = eol;
				if (d->st == H1_HEAD || d->st == H1_TUNNEL)
					goto emit;
				continue;
			}
			if (!d->have_line0) {
				d->have_line0 = 1;
				d->line0 = d->pos;
			}
			if (eol - d->line0 > TAPE__FRAMING_MAX_HEAD)
				return ferr(d, TAPE_ELIMIT, "http1: message head longer than %u bytes",
					    TAPE__FRAMING_MAX_HEAD);
			d->pos = eol;
			continue;
		case H1_BODY_LEN:
		case H1_CHUNK_DATA: {
			size_t have = d->len - d->pos;

			if (have < d->remain) {
				d->remain -= have;
				d->pos = d->len;
				return 0;
			}
			d->pos += (size_t)d->remain;
			d->remain = 0;
			if (d->st == H1_CHUNK_DATA) {
				d->st = H1_CHUNK_CRLF;
				continue;
			}
			d->st = H1_HEAD;
			goto emit;
		}
		case H1_CHUNK_SIZE: {
			uint64_t size = 0;
			size_t i = d->pos, digits = 0;
			char q[TAPE__QUOTE_BUF];

			rc = next_line(d, &eol, "chunk-size line");
			if (rc <= 0)
				return rc;
			for (; i < eol; i++, digits++) {
				int c = lower(d->buf[i]), v;

				if (c >= '0' && c <= '9')
					v = c - '0';
				else if (c >= 'a' && c <= 'f')
					v = c - 'a' + 10;
				else
					break;
				if (size > (UINT64_MAX >> 4))
					return ferr(d, TAPE_ELIMIT, "http1: chunk size too large");
				size = size << 4 | (uint64_t)v;
			}
			if (digits == 0 || (d->buf[i] != ';' && d->buf[i] != '\r' && d->buf[i] != '\n' &&
					    d->buf[i] != ' ' && d->buf[i] != '\t'))
				return ferr(d, TAPE_EFORMAT, "http1: malformed chunk-size line \"%s\"",
					    quote(q, sizeof q, d->buf + d->pos, eol - d->pos));
			if (size > d->limit || eol - *start + size > d->limit)
				return ferr(d, TAPE_ELIMIT,
					    "http1: chunked message longer than the cap of %zu bytes",
					    d->f.max_payload);
			d->pos = eol;
			d->remain = size;
			d->st = size ? H1_CHUNK_DATA : H1_TRAILER;
			continue;
		}
		case H1_CHUNK_CRLF:
			if (d->len - d->pos < 1)
				return 0;
			if (d->buf[d->pos] == '\n') {
				d->pos++;
			} else if (d->buf[d->pos] == '\r') {
				if (d->len - d->pos < 2)
					return 0;
				if (d->buf[d->pos + 1] != '\n')
					goto no_crlf;
				d->pos += 2;
			} else {
				goto no_crlf;
			}
			d->st = H1_CHUNK_SIZE;
			continue;
		case H1_TRAILER:
			rc = next_line(d, &eol, "trailer line");
			if (rc <= 0)
				return rc;
			if (is_empty_line(d->buf + d->pos, eol - d->pos)) {
				d->pos = eol;
				d->st = H1_HEAD;
				goto emit;
			}
			d->pos = eol;
			continue;
		case H1_BODY_EOF:
			d->pos = d->len;
			return 0;
		case H1_TUNNEL:
			d->pos = d->len;
			if (d->pos == *start)
				return 0;
			goto emit;
		}
		return 0;
emit:
		rc = fn(arg, d->buf + *start, d->pos - *start);
		*start = d->pos;
		if (rc)
			return rc;
	}
no_crlf:
	return ferr(d, TAPE_EFORMAT, "http1: chunk data not followed by CRLF (byte 0x%02x)",
		    d->buf[d->pos]);
}

static int parse(struct tape__deframer *d, tape__frame_fn fn, void *arg)
{
	size_t start = 0;
	int rc;

	switch (d->f.kind) {
	case TAPE__FRAMING_LINE:
		rc = parse_line(d, &start, fn, arg);
		break;
	case TAPE__FRAMING_HTTP1:
		rc = parse_http1(d, &start, fn, arg);
		break;
	default:
		rc = parse_len(d, &start, fn, arg);
		break;
	}
	if (start) {
		memmove(d->buf, d->buf + start, d->len - start);
		d->len -= start;
		d->pos = d->pos > start ? d->pos - start : 0;
		d->line0 = d->line0 > start ? d->line0 - start : 0;
	}
	if (rc < 0 && !d->err)
		d->err = rc; /* the callback's: sticky too */
	return rc;
}

/* Appends at most what the cap leaves room for, parses, and repeats:
 * a chunk holding many messages never needs more than one message of
 * buffer.  raw skips the buffer altogether. */
int tape__deframer_feed(struct tape__deframer *d, const uint8_t *p, size_t n, tape__frame_fn fn,
			void *arg)
{
	int rc;

	if (d->err)
		return d->err;
	if (d->f.kind == TAPE__FRAMING_RAW) {
		rc = n ? fn(arg, p, n) : 0;
		if (rc < 0)
			d->err = rc;
		return rc;
	}
	while (n) {
		size_t take = d->limit - d->len;

		if (take == 0) {
			if (d->f.kind == TAPE__FRAMING_LINE)
				return ferr(d, TAPE_ELIMIT, "line longer than the cap of %zu bytes",
					    d->f.max_payload);
			return ferr(d, TAPE_ELIMIT, "http1 message longer than the cap of %zu bytes",
				    d->f.max_payload);
		}
		if (take > n)
			take = n;
		rc = reserve(d, take);
		if (rc)
			return rc;
		memcpy(d->buf + d->len, p, take);
		d->len += take;
		p += take;
		n -= take;
		rc = parse(d, fn, arg);
		if (rc)
			return rc;
	}
	return 0;
}

/* End of stream: what the close completes, or TAPE_ETRUNC. */
int tape__deframer_finish(struct tape__deframer *d, tape__frame_fn fn, void *arg)
{
	char name[16];
	int rc = 0;

	if (d->err)
		return d->err;
	if (d->len == 0)
		return 0;
	switch (d->f.kind) {
	case TAPE__FRAMING_RAW:
		return 0;
	case TAPE__FRAMING_LINE:
		rc = fn(arg, d->buf, d->len);
		break;
	case TAPE__FRAMING_HTTP1:
		if (d->st == H1_BODY_EOF) {
			rc = fn(arg, d->buf, d->len);
			break;
		}
		if (d->st == H1_HEAD && !d->have_line0)
			return ferr(d, TAPE_ETRUNC, "stream ended after %zu bytes of empty lines", d->len);
		return ferr(d, TAPE_ETRUNC, "stream ended inside an http1 message (%zu bytes held)",
			    d->len);
	default:
		if (d->len < d->f.hdr_len)
			return ferr(d, TAPE_ETRUNC,
				    "stream ended inside a %s frame header: %zu of %u bytes",
				    tape__framing_name(&d->f, name, sizeof name), d->len, d->f.hdr_len);
		return ferr(d, TAPE_ETRUNC, "stream ended inside a %s frame: %zu bytes held",
			    tape__framing_name(&d->f, name, sizeof name), d->len);
	}
	d->len = 0;
	d->pos = 0;
	if (rc < 0)
		d->err = rc;
	return rc;
}
