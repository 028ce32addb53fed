/* SPDX-License-Identifier: BSD-2-Clause */
/* serve.c - `tapedeck serve`: a mock server that plays the server side of a tape's connections to live clients on the event loop. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytediff.h"
#include "framing.h"
#include "loop.h"
#include "tool.h"

/*
 * The tape is loaded whole: each recorded connection becomes a list of
 * items in recorded order: data (in raw mode consecutive c2s events are
 * merged), gaps, FINs and resets, each with its direction:
 *
 *   c2s data   compare with the client's bytes (framed: its next message)
 *   c2s gap    raw: take that many bytes unseen; framed: unplayable, stop
 *   c2s fin    the client must end its sending here (a reset will do)
 *   c2s rst    the client must end here, by a reset or a FIN
 *   s2c data   send it (after its recorded delay with --delay)
 *   s2c gap    unplayable: the recorder never saw those bytes; stop
 *   s2c fin    half-close, once the queued bytes are sent
 *   s2c rst    reset the client
 *
 * Each accepted client gets an sconn that walks one recorded connection:
 *
 *   client --data--> [deframer] --> got --compare--> c2s item, advance
 *                                                     s2c items --> client
 *
 * Raw mode compares bytes as they arrive (at once without --ignore, per
 * whole item with it); framed mode compares whole messages, one per c2s
 * event, and re-frames every s2c event.  The recorded connection is chosen
 * on the first bytes (see choose()), or at accept time when the next one in
 * recorded order starts with the server's greeting.  After the last item
 * the server half-closes if the recording did not (a capture that ended
 * first), and waits for the client's end unless it came already.
 */

#define SERVE_BACKLOG 128
#define SERVE_WQ_MAX ((size_t)TAPE_MAX_DATA + (16u << 20)) /* a whole framed message fits */
#define SERVE_MAX_BYTES ((uint64_t)1 << 32)               /* payload bytes loaded from a tape */
#define SERVE_MAX_GOT ((size_t)TAPE_MAX_DATA + (16u << 20)) /* bytes held from one client */
#define SERVE_SETTLE_NS (UINT64_C(100) * 1000000u) /* --ignore: quiet time before a difference counts */

enum item_kind { IT_DATA, IT_GAP, IT_FIN, IT_RST };

struct item {
	enum item_kind kind;
	enum tape_dir dir;
	uint64_t delta_ns; /* since the connection's previous event */
	uint8_t *data;     /* IT_DATA only */
	size_t len;        /* IT_DATA: bytes; IT_GAP: bytes never seen */
};

struct rconn {
	uint64_t id;
	struct item *items;
	size_t n, cap;
	uint64_t last_ns; /* time of the latest event, while loading */
	int used;
	int gap_noted;    /* the s2c gap was logged at load time */
};

struct serve;

struct sconn {
	struct serve *sv;
	uint64_t serial;
	struct tape__stream *s;
	struct tape__deframer *dec;
	struct tape_endpoint client;
	struct rconn *rc;    /* NULL until chosen */
	size_t item;         /* next item of rc */
	size_t item_off;     /* raw: bytes of the current c2s item matched */
	uint64_t c2s_off;    /* stream offset of got[0] */
	uint8_t *got;        /* raw: unmatched bytes; framed: [size_t len][bytes]... */
	size_t got_len, got_cap;
	size_t nmsg;         /* framed: messages in got */
	struct tape__timer delay;
	struct tape__timer settle; /* --ignore: armed while a difference may yet be masked */
	int settled;         /* it fired: the bytes so far are all that came */
	int delayed;         /* the delay of the current s2c item has passed */
	int waiting;         /* the delay timer is armed */
	int eof, shut, done;
	int reset;           /* the client's end was a reset */
	uint64_t bytes[2];
	struct sconn *prev, *next;
};

struct serve {
	struct tape__loop *loop;
	struct tape__listener *ls;
	struct tape__framing framing;
	int framed;
	struct tape__mask *mask;
	struct rconn *rcs;
	size_t nrc;
	size_t cursor;       /* next recorded connection in order */
	int assert_data, abort_first, once, delay, text_diff, quiet;
	int ret;             /* exit code decided by a connection (--once, --abort) */
	uint64_t serial, nconns, nmatched, nmismatched, nunplayable;
	struct sconn *conns;
};


/* The --help text; tests/cli/help.sh checks it against doc/tapedeck-serve.1. */
void tool_serve_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck serve TAPE --listen ADDR:PORT [options]\n"
		"\n"
		"A mock server: for each accepted client, play the server side of one of the\n"
		"tape's connections.  The client must send the recorded c2s bytes (with\n"
		"--framing, the recorded messages, one per c2s event); the recorded s2c bytes\n"
		"are sent in recorded order, each once the c2s bytes recorded before it have\n"
		"arrived (a greeting at once); recorded FINs and resets are played where they\n"
		"were.  The recorded connection is the first unused one whose first client\n"
		"bytes match what arrived, else the first used one that does, else the next\n"
		"unused one in recorded order; once all were used they all are again.  A\n"
		"mismatch is reported (expected and received bytes) and closes that\n"
		"connection; the others go on.  Runs until SIGINT or SIGTERM.\n"
		"\n"
		"Options:\n"
		"  -l, --listen ADDR:PORT  where to accept clients (port 0: any free port)\n"
		"      --framing F         raw (default), line, len:N (N 1..16), http1, iso8583\n"
		"      --max-payload BYTES largest message (default 16777216)\n"
		"      --no-assert         do not compare: count the client's bytes only\n"
		"      --abort             exit on the first mismatch (status 3)\n"
		"      --once              serve one connection, then exit\n"
		"      --delay             send s2c bytes at the recorded pace\n"
		"      --ignore REGEX      bytes matching REGEX may differ (repeatable)\n"
		"      --text-diff         show differences as line diffs\n"
		"  -q, --quiet             no log line per connection\n"
		"  -h, --help              show this help\n"
		"\n"
		"Options can also come from the environment: TAPEDECK_LISTEN,\n"
		"TAPEDECK_FRAMING, TAPEDECK_MAX_PAYLOAD, TAPEDECK_IGNORE (one expression),\n"
		"and TAPEDECK_NO_ASSERT, TAPEDECK_ABORT, TAPEDECK_ONCE, TAPEDECK_DELAY,\n"
		"TAPEDECK_TEXT_DIFF, TAPEDECK_QUIET (1 or true); the command line wins.\n"
		"\n"
		"Exit status: 0 stopped by a signal, or --once and the connection matched; 1\n"
		"--once and it mismatched; 2 usage error or unreadable tape, or --once and it\n"
		"stopped at bytes the recorder missed; 3 cannot listen, or --abort and a\n"
		"mismatch; 4 other failures.\n");
}


/* ---- loading ---------------------------------------------------------------- */

static struct rconn *rc_find(struct serve *sv, uint64_t id)
{
	for (size_t i = sv->nrc; i > 0; i--)
		if (sv->rcs[i - 1].id == id)
			return &sv->rcs[i - 1];
	return NULL;
}

/* Appends DATA, GAP, FIN or RST event ev to rc's items. */
static int rc_add(struct serve *sv, struct rconn *rc, const struct tape_event *ev)
{
	struct item *it = rc->n ? &rc->items[rc->n - 1] : NULL;
	uint8_t *p;

	if (ev->kind == TAPE_EV_DATA && !sv->framed && it && it->kind == IT_DATA &&
	    it->dir == TAPE_C2S && ev->dir == TAPE_C2S) {
		/* raw: one c2s item per run of client bytes */
		p = realloc(it->data, it->len + ev->len + 1);
		if (!p)
			return -ENOMEM;
		memcpy(p + it->len, ev->data, ev->len);
		it->data = p;
		it->len += ev->len;
		rc->last_ns = ev->time_ns;
		return 0;
	}
	if (rc->n == rc->cap) {
		size_t nc = rc->cap ? rc->cap * 2 : 8;
		struct item *ni = realloc(rc->items, nc * sizeof *ni);
		if (!ni)
			return -ENOMEM;
		rc->items = ni;
		rc->cap = nc;
	}
	it = &rc->items[rc->n];
	memset(it, 0, sizeof *it);
	it->dir = ev->dir;
	it->delta_ns = ev->time_ns > rc->last_ns ? ev->time_ns - rc->last_ns : 0;
	switch (ev->kind) {
	case TAPE_EV_DATA:
		it->kind = IT_DATA;
		it->len = ev->len;
		it->data = malloc(ev->len + 1);
		if (!it->data)
			return -ENOMEM;
		memcpy(it->data, ev->data, ev->len);
		break;
	case TAPE_EV_GAP:
		it->kind = IT_GAP;
		it->len = (size_t)ev->gap;
		break;
	case TAPE_EV_FIN:
		it->kind = IT_FIN;
		break;
	default:
		it->kind = IT_RST;
		break;
	}
	rc->n++;
	rc->last_ns = ev->time_ns;
	return 0;
}

/* Reads the whole tape.  0, or an exit code after a message. */
static int load(struct serve *sv, const char *path)
{
	struct tape_reader *r = NULL;
	struct tape_event ev;
	struct rconn *rc;
	uint64_t total = 0;
	size_t cap = 0;
	int rv, ret = TOOL_EXIT_OK;

	rv = tape_reader_open(&r, path, NULL);
	if (rv) {
		tool_err("serve: %s", r ? tape_reader_error(r) : tape_strerror(rv));
		ret = TOOL_EXIT_INPUT;
		goto out;
	}
	while ((rv = tape_reader_next(r, &ev)) == 1) {
		if (ev.kind == TAPE_EV_OPEN) {
			if (sv->nrc == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct rconn *nr = realloc(sv->rcs, nc * sizeof *nr);
				if (!nr) {
					rv = -ENOMEM;
					break;
				}
				sv->rcs = nr;
				cap = nc;
			}
			rc = &sv->rcs[sv->nrc++];
			memset(rc, 0, sizeof *rc);
			rc->id = ev.conn;
			rc->last_ns = ev.time_ns;
			continue;
		}
		if (ev.kind != TAPE_EV_DATA && ev.kind != TAPE_EV_GAP && ev.kind != TAPE_EV_FIN &&
		    ev.kind != TAPE_EV_RST)
			continue;
		if (!(rc = rc_find(sv, ev.conn)))
			continue;
		if (ev.kind == TAPE_EV_DATA && ev.len == 0 && !sv->framed)
			continue;
		if (ev.kind == TAPE_EV_GAP && ev.gap > SERVE_MAX_BYTES) {
			tool_err("serve: %s: recorded conn %llu: a gap of %llu bytes is more than %llu",
				 path, (unsigned long long)ev.conn, (unsigned long long)ev.gap,
				 (unsigned long long)SERVE_MAX_BYTES);
			ret = TOOL_EXIT_INPUT;
			goto out;
		}
		if (ev.kind == TAPE_EV_GAP && ev.dir == TAPE_S2C && !rc->gap_noted) {
			rc->gap_noted = 1;
			tool_log(sv->quiet, "serve", "recorded conn %llu misses %llu s2c bytes the recorder "
				 "never saw: clients playing it stop there",
				 (unsigned long long)ev.conn, (unsigned long long)ev.gap);
		}
		total += ev.len;
		if (total > SERVE_MAX_BYTES) {
			tool_err("serve: %s: more than %llu payload bytes", path,
				 (unsigned long long)SERVE_MAX_BYTES);
			ret = TOOL_EXIT_INPUT;
			goto out;
		}
		if ((rv = rc_add(sv, rc, &ev)) != 0)
			break;
	}
	if (rv < 0) {
		tool_err("serve: %s", rv == -ENOMEM ? tape_strerror(rv) : tape_reader_error(r));
		ret = rv == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
		goto out;
	}
	tool_report_reader_end(r, path);
	if (sv->nrc == 0) {
		tool_err("serve: %s has no connections", path);
		ret = TOOL_EXIT_INPUT;
	}
out:
	tape_reader_free(r);
	return ret;
}

static void rcs_free(struct serve *sv)
{
	for (size_t i = 0; i < sv->nrc; i++) {
		for (size_t j = 0; j < sv->rcs[i].n; j++)
			free(sv->rcs[i].items[j].data);
		free(sv->rcs[i].items);
	}
	free(sv->rcs);
}

/* ---- connections ---------------------------------------------------------- */

static void all_unused_if_needed(struct serve *sv)
{
	for (size_t i = 0; i < sv->nrc; i++)
		if (!sv->rcs[i].used)
			return;
	for (size_t i = 0; i < sv->nrc; i++)
		sv->rcs[i].used = 0;
	sv->cursor = 0;
}

/* The next unused recorded connection in recorded order. */
static struct rconn *next_unused(struct serve *sv)
{
	all_unused_if_needed(sv);
	for (size_t k = 0; k < sv->nrc; k++) {
		struct rconn *rc = &sv->rcs[(sv->cursor + k) % sv->nrc];
		if (!rc->used)
			return rc;
	}
	return NULL; /* not reached: all_unused_if_needed() freed one */
}

static void take(struct sconn *c, struct rconn *rc)
{
	struct serve *sv = c->sv;
	char cl[TAPE_ENDPOINT_STRLEN];

	rc->used = 1;
	sv->cursor = (size_t)(rc - sv->rcs) + 1;
	c->rc = rc;
	tape_endpoint_format(&c->client, cl, sizeof cl);
	tool_log(sv->quiet, "serve", "conn %llu from %s plays recorded conn %llu", (unsigned long long)c->serial, cl,
	     (unsigned long long)rc->id);
}

enum match { M_DIFF, M_PREFIX, M_FULL };

/*
 * Compares recorded bytes exp[0..elen) with the start of the received ones
 * got[0..glen) under the --ignore mask, whose matches may have other lengths
 * on either side ("Host: a:8081" against "Host: a:43211").  M_FULL: exp is
 * all there, as the first *used bytes of got; M_PREFIX: got is the start of
 * exp, more must come; M_DIFF: they differ, though with a mask more bytes
 * may still complete a match that makes them equal (see SERVE_SETTLE_NS).
 */
static enum match match_start(const struct tape__mask *mask, const uint8_t *exp, size_t elen,
			      const uint8_t *got, size_t glen, size_t *used)
{
	size_t eo = 0, go = 0;
	int r = tape__diff_compare(mask, exp, elen, got, glen, &eo, &go);

	if (r == 1) {
		*used = glen;
		return M_FULL;
	}
	if (r == 0 && eo == elen) {
		*used = go;
		return M_FULL;
	}
	if (r == 0 && go == glen)
		return M_PREFIX;
	return M_DIFF; /* or -ENOMEM: no way to say they match */
}

/* Among the recorded connections with used == want_used, the first whose
 * first c2s message starts like p[0..n) (framed: equals it); *matches
 * counts them up to the first that p covers whole (*first_full then). */
static struct rconn *first_match(struct serve *sv, const uint8_t *p, size_t n, int want_used,
				 size_t *matches, int *first_full)
{
	struct rconn *first = NULL;

	*matches = 0;
	for (size_t i = 0; i < sv->nrc; i++) {
		struct rconn *rc = &sv->rcs[i];
		const struct item *it0 = rc->n ? &rc->items[0] : NULL;
		size_t eo, go, used;
		enum match m;

		if (rc->used != want_used || !it0 || it0->dir != TAPE_C2S || it0->kind != IT_DATA)
			continue;
		if (sv->framed)
			m = tape__diff_compare(sv->mask, it0->data, it0->len, p, n, &eo, &go) == 1 ?
				    M_FULL : M_DIFF;
		else
			m = match_start(sv->mask, it0->data, it0->len, p, n, &used);
		if (m == M_DIFF)
			continue;
		if (!first) {
			first = rc;
			*first_full = m == M_FULL;
		}
		(*matches)++;
		/* Bytes that cover the first candidate's whole first message decide. */
		if (*first_full)
			break;
	}
	return first;
}

/*
 * Chooses on the first client bytes p[0..n): the first unused recorded
 * connection whose first c2s message starts like them; else, rather than a
 * certain mismatch, the first used one that does (two clients sending the
 * same first request to a tape that recorded it once); else the next unused
 * one in recorded order.  0 while undecided (final: no more bytes will come).
 */
static int choose(struct sconn *c, const uint8_t *p, size_t n, int final)
{
	struct serve *sv = c->sv;
	struct rconn *first, *reuse;
	size_t matches, reuse_matches;
	int full = 0, reuse_full = 0;

	final |= c->settled;
	all_unused_if_needed(sv);
	first = first_match(sv, p, n, 0, &matches, &full);
	reuse = first_match(sv, p, n, 1, &reuse_matches, &reuse_full);
	/* A client's first bytes can arrive in pieces: while they are a strict
	 * prefix of several candidates' first messages ("GE" for "GET a" and
	 * "GET b"), used ones included, wait for more rather than guess. */
	if (first) {
		if (!full && matches + reuse_matches > 1 && !final)
			return 0;
		take(c, first);
		return 1;
	}
	if (reuse) {
		if (!reuse_full && reuse_matches > 1 && !final)
			return 0;
		take(c, reuse);
		return 1;
	}
	/* Under a mask, bytes cut inside a masked field ("Da" of "Date: ...")
	 * may match nothing yet: give them SERVE_SETTLE_NS to complete. */
	if (sv->mask && !final) {
		tape__timer_start(sv->loop, &c->settle, tape__clock_ns() + SERVE_SETTLE_NS);
		return 0;
	}
	take(c, next_unused(sv));
	return 1;
}

static void conn_free(struct sconn *c)
{
	struct serve *sv = c->sv;

	if (c->prev)
		c->prev->next = c->next;
	else
		sv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	tape__timer_stop(sv->loop, &c->delay);
	tape__timer_stop(sv->loop, &c->settle);
	tape__deframer_free(c->dec);
	free(c->got);
	free(c);
}

enum outcome { MATCHED, MISMATCHED, UNPLAYABLE };

/* Ends c with that outcome (reset: abort it rather than close); frees it. */
static void conn_end(struct sconn *c, enum outcome how, int reset)
{
	static const char *const names[] = {"matched", "mismatched", "stopped at a recorded gap"};
	struct serve *sv = c->sv;
	char cl[TAPE_ENDPOINT_STRLEN];

	if (c->done)
		return;
	c->done = 1;
	if (c->s) {
		if (reset)
			tape__stream_abort(c->s);
		else
			tape__stream_close(c->s);
		c->s = NULL;
	}
	if (how == MATCHED)
		sv->nmatched++;
	else if (how == MISMATCHED)
		sv->nmismatched++;
	else
		sv->nunplayable++;
	tape_endpoint_format(&c->client, cl, sizeof cl);
	tool_log(sv->quiet, "serve", "conn %llu from %s closed (%s%s): %llu bytes c2s, %llu bytes s2c",
	     (unsigned long long)c->serial, cl, names[how], c->reset ? ", the client reset" : "",
	     (unsigned long long)c->bytes[TAPE_C2S], (unsigned long long)c->bytes[TAPE_S2C]);
	if (sv->once) {
		sv->ret = how == MATCHED ? TOOL_EXIT_OK :
			  how == MISMATCHED ? TOOL_EXIT_DIFFER : TOOL_EXIT_INPUT;
		tape__loop_stop(sv->loop);
	} else if (how == MISMATCHED && sv->abort_first) {
		sv->ret = TOOL_EXIT_NETWORK;
		tape__loop_stop(sv->loop);
	}
	conn_free(c);
}

/* Reports exp[0..elen) against got[0..glen) at stream offset base, and
 * ends c as mismatched.  Always printed, -q or not. */
static void mismatch(struct sconn *c, const uint8_t *exp, size_t elen, const uint8_t *got, size_t glen,
		     uint64_t base, const char *what)
{
	struct serve *sv = c->sv;
	struct tape__diff_view v;
	size_t eo = 0, go = 0;
	char *rep, cl[TAPE_ENDPOINT_STRLEN];

	if (tape__diff_compare(sv->mask, exp, elen, got, glen, &eo, &go) < 0)
		eo = go = 0;
	memset(&v, 0, sizeof v);
	v.mask = sv->mask;
	v.exp_base = v.got_base = base;
	v.text_diff = sv->text_diff;
	rep = tape__diff_report_ex(&v, exp, elen, got, glen, eo, go);
	tape_endpoint_format(&c->client, cl, sizeof cl);
	fprintf(stderr, "tapedeck serve: conn %llu from %s (recorded conn %llu): c2s mismatch%s%s:\n%s",
		(unsigned long long)c->serial, cl, (unsigned long long)(c->rc ? c->rc->id : 0),
		what ? ": " : "", what ? what : "", rep ? rep : "(no memory for the report)\n");
	free(rep);
	conn_end(c, MISMATCHED, 0);
}

/* The recording cannot be played past item it (a gap): says so, always,
 * and ends c. */
static void unplayable(struct sconn *c, const struct item *it)
{
	char cl[TAPE_ENDPOINT_STRLEN];

	tape_endpoint_format(&c->client, cl, sizeof cl);
	fprintf(stderr, "tapedeck serve: conn %llu from %s (recorded conn %llu): the recorder missed "
		"%zu %s bytes here%s; closing the connection\n",
		(unsigned long long)c->serial, cl, (unsigned long long)c->rc->id, it->len,
		tape_dir_name(it->dir), c->sv->framed ? " (framed: message bounds unknown)" : "");
	conn_end(c, UNPLAYABLE, 0);
}

static int send_item(struct sconn *c, const struct item *it)
{
	uint8_t hdr[TAPE__FRAMING_MAX_HDR];
	size_t hn = 0;
	int rc;

	if (c->sv->framed && (rc = tape__framing_encode(&c->sv->framing, it->len, hdr, &hn)) != 0)
		return rc;
	if (hn && (rc = tape__stream_write(c->s, hdr, hn)) != 0)
		return rc;
	if (it->len && (rc = tape__stream_write(c->s, it->data, it->len)) != 0)
		return rc;
	c->bytes[TAPE_S2C] += it->len;
	return 0;
}

static void got_drop(struct sconn *c, size_t n)
{
	if (n == 0)
		return;
	memmove(c->got, c->got + n, c->got_len - n);
	c->got_len -= n;
	c->c2s_off += n;
}

/* Raw mode, current item c2s: 1 advanced, 0 needs more bytes, -1 ended c. */
static int step_raw(struct sconn *c, const struct item *it)
{
	struct serve *sv = c->sv;
	size_t need = it->len - c->item_off, n = c->got_len < need ? c->got_len : need;

	if (!sv->assert_data || !sv->mask) {
		if (sv->assert_data && n && memcmp(it->data + c->item_off, c->got, n) != 0) {
			mismatch(c, it->data + c->item_off, need, c->got, c->got_len, c->c2s_off, NULL);
			return -1;
		}
		c->item_off += n;
		got_drop(c, n);
	} else {
		/* Masked: matches may change lengths, so the item is compared whole
		 * against however many bytes it takes (item_off stays 0 until). */
		size_t used = 0;
		enum match m = match_start(sv->mask, it->data, it->len, c->got, c->got_len, &used);
		if (m == M_DIFF && !c->eof && !c->settled) {
			tape__timer_start(sv->loop, &c->settle, tape__clock_ns() + SERVE_SETTLE_NS);
			return 0;
		}
		if (m == M_DIFF) {
			mismatch(c, it->data, it->len, c->got, c->got_len, c->c2s_off, NULL);
			return -1;
		}
		tape__timer_stop(sv->loop, &c->settle);
		c->settled = 0;
		if (m == M_FULL) {
			c->item_off = it->len;
			got_drop(c, used);
		}
	}
	if (c->item_off == it->len)
		return 1;
	if (c->eof) {
		if (sv->assert_data)
			mismatch(c, it->data + c->item_off, need, c->got, c->got_len, c->c2s_off,
				 "the client ended its sending early");
		else
			conn_end(c, MISMATCHED, 0);
		return -1;
	}
	return 0;
}

/* Framed mode, current item c2s: as step_raw(). */
static int step_framed(struct sconn *c, const struct item *it)
{
	struct serve *sv = c->sv;
	size_t mlen, eo, go;
	const uint8_t *m;

	if (c->nmsg == 0) {
		if (!c->eof)
			return 0;
		if (sv->assert_data)
			mismatch(c, it->data, it->len, (const uint8_t *)"", 0, c->c2s_off,
				 "the client ended its sending before this message");
		else
			conn_end(c, MISMATCHED, 0);
		return -1;
	}
	memcpy(&mlen, c->got, sizeof mlen);
	m = c->got + sizeof mlen;
	if (sv->assert_data && tape__diff_compare(sv->mask, it->data, it->len, m, mlen, &eo, &go) != 1) {
		mismatch(c, it->data, it->len, m, mlen, c->c2s_off, NULL);
		return -1;
	}
	memmove(c->got, m + mlen, c->got_len - sizeof mlen - mlen);
	c->got_len -= sizeof mlen + mlen;
	c->c2s_off += mlen;
	c->nmsg--;
	return 1;
}

static void on_delay(struct tape__timer *t, void *arg);

/* Raw mode, current item a c2s gap: takes its length in bytes unseen.
 * As step_raw(). */
static int step_gap(struct sconn *c, const struct item *it)
{
	size_t need = it->len - c->item_off, n = c->got_len < need ? c->got_len : need;

	c->item_off += n;
	got_drop(c, n);
	if (c->item_off == it->len)
		return 1;
	if (c->eof) {
		mismatch(c, (const uint8_t *)"", 0, (const uint8_t *)"", 0, c->c2s_off,
			 "the client ended its sending inside bytes the recorder missed");
		return -1;
	}
	return 0;
}

/* Client bytes (or messages) beyond what the recording expects: a mismatch
 * when asserting (-1), dropped otherwise (0). */
static int extra_bytes(struct sconn *c, const char *where)
{
	char what[96];

	if (!c->got_len)
		return 0;
	if (!c->sv->assert_data) {
		c->c2s_off += c->got_len;
		c->got_len = 0;
		c->nmsg = 0;
		return 0;
	}
	if (c->sv->framed) {
		size_t mlen;
		memcpy(&mlen, c->got, sizeof mlen);
		snprintf(what, sizeof what, "a message after %s", where);
		mismatch(c, (const uint8_t *)"", 0, c->got + sizeof mlen, mlen, c->c2s_off, what);
	} else {
		snprintf(what, sizeof what, "bytes after %s", where);
		mismatch(c, (const uint8_t *)"", 0, c->got, c->got_len, c->c2s_off, what);
	}
	return -1;
}

/* Current item a c2s FIN or RST: the client must end its sending here.
 * As step_raw(). */
static int step_client_end(struct sconn *c)
{
	if (extra_bytes(c, "the client's recorded end"))
		return -1;
	return c->eof ? 1 : 0;
}

/* Current item s2c: plays it.  1 advanced, 0 waiting for its delay, -1
 * ended c. */
static int step_server(struct sconn *c, const struct item *it)
{
	struct serve *sv = c->sv;
	int r;

	if (it->kind == IT_GAP) {
		unplayable(c, it);
		return -1;
	}
	if (sv->delay && it->delta_ns && !c->delayed) {
		c->waiting = 1;
		tape__timer_start(sv->loop, &c->delay, tape__clock_ns() + it->delta_ns);
		return 0;
	}
	c->delayed = 0;
	switch (it->kind) {
	case IT_DATA:
		if ((r = send_item(c, it)) != 0) {
			tool_err("serve: conn %llu: cannot send: %s", (unsigned long long)c->serial,
				 tape_strerror(r));
			conn_end(c, MISMATCHED, 1);
			return -1;
		}
		return 1;
	case IT_FIN:
		c->shut = 1;
		tape__stream_shutdown(c->s);
		return 1;
	default: /* IT_RST: the recorded server reset the connection */
		conn_end(c, MATCHED, 1);
		return -1;
	}
}

/* Walks c's recorded connection as far as the bytes received allow. */
static void drive(struct sconn *c)
{
	struct serve *sv = c->sv;

	while (!c->done && c->rc && !c->waiting) {
		const struct item *it;
		int r;

		if (c->item >= c->rc->n) {
			/* Recorded conversation over (a capture may end before
			 * the server's FIN): half-close, expect the client's end. */
			if (!c->shut) {
				c->shut = 1;
				tape__stream_shutdown(c->s);
			}
			if (extra_bytes(c, "the recorded conversation"))
				return;
			if (c->eof)
				conn_end(c, MATCHED, 0);
			return;
		}
		it = &c->rc->items[c->item];
		if (it->dir == TAPE_S2C)
			r = step_server(c, it);
		else if (it->kind == IT_FIN || it->kind == IT_RST)
			r = step_client_end(c);
		else if (it->kind == IT_GAP)
			r = sv->framed ? (unplayable(c, it), -1) : step_gap(c, it);
		else
			r = sv->framed ? step_framed(c, it) : step_raw(c, it);
		if (r <= 0)
			return;
		c->item++;
		c->item_off = 0;
	}
}

static void on_delay(struct tape__timer *t, void *arg)
{
	struct sconn *c = arg;

	(void)t;
	c->waiting = 0;
	c->delayed = 1;
	drive(c);
}

/* --ignore: no byte came for SERVE_SETTLE_NS after a difference, so the
 * bytes so far are what the client meant to send. */
static void on_settle(struct tape__timer *t, void *arg)
{
	struct sconn *c = arg;

	(void)t;
	c->settled = 1;
	if (!c->rc)
		choose(c, c->got, c->got_len, 1);
	drive(c);
}

static int got_append(struct sconn *c, const void *a, size_t an, const void *b, size_t bn)
{
	size_t need = c->got_len + an + bn;

	if (need > SERVE_MAX_GOT)
		return TAPE_ELIMIT;
	if (need > c->got_cap) {
		size_t nc = c->got_cap ? c->got_cap : 4096;
		uint8_t *p;
		while (nc < need)
			nc *= 2;
		p = realloc(c->got, nc);
		if (!p)
			return -ENOMEM;
		c->got = p;
		c->got_cap = nc;
	}
	memcpy(c->got + c->got_len, a, an);
	if (bn)
		memcpy(c->got + c->got_len + an, b, bn);
	c->got_len = need;
	return 0;
}

static int on_message(void *arg, const uint8_t *p, size_t n)
{
	struct sconn *c = arg;
	int rc;

	if (!c->rc)
		choose(c, p, n, 1);
	if ((rc = got_append(c, &n, sizeof n, p, n)) != 0)
		return rc;
	c->nmsg++;
	return 0;
}

static void framing_failed(struct sconn *c, int rc)
{
	const char *why = tape__deframer_error(c->dec);

	tool_err("serve: conn %llu: c2s: %s; closing the connection", (unsigned long long)c->serial,
		 *why ? why : tape_strerror(rc));
	conn_end(c, MISMATCHED, 1);
}

static void on_data(struct tape__stream *s, const uint8_t *p, size_t n, void *arg)
{
	struct sconn *c = arg;
	int rc;

	(void)s;
	if (c->done)
		return;
	c->bytes[TAPE_C2S] += n;
	if (c->sv->framed) {
		rc = tape__deframer_feed(c->dec, p, n, on_message, c);
		if (rc) {
			framing_failed(c, rc);
			return;
		}
	} else {
		if ((rc = got_append(c, p, n, NULL, 0)) != 0) {
			tool_err("serve: conn %llu: %s", (unsigned long long)c->serial, tape_strerror(rc));
			conn_end(c, MISMATCHED, 1);
			return;
		}
		if (!c->rc)
			choose(c, c->got, c->got_len, 0);
	}
	drive(c);
}

static void on_eof(struct tape__stream *s, void *arg)
{
	struct sconn *c = arg;
	int rc;

	(void)s;
	if (c->done || c->eof)
		return;
	if (c->sv->framed && (rc = tape__deframer_finish(c->dec, on_message, c)) != 0) {
		framing_failed(c, rc);
		return;
	}
	c->eof = 1;
	if (!c->rc)
		choose(c, c->sv->framed ? (const uint8_t *)"" : c->got,
		       c->sv->framed ? 0 : c->got_len, 1);
	drive(c);
}

/* Nothing but FINs and resets is left of c's recorded connection. */
static int only_ends_left(const struct sconn *c)
{
	for (size_t i = c->item; i < c->rc->n; i++)
		if (c->rc->items[i].kind == IT_DATA || c->rc->items[i].kind == IT_GAP)
			return 0;
	return 1;
}

/* The client's connection failed: a reset is its end, which is what the
 * recording shows when only FINs and resets are left to play (and no
 * unexpected bytes came before it). */
static void on_error(struct tape__stream *s, int err, void *arg)
{
	struct sconn *c = arg;

	(void)s;
	if (c->done)
		return;
	c->s = NULL; /* the loop closes it */
	c->reset = err == -ECONNRESET;
	if (c->rc && only_ends_left(c) && !(c->got_len && c->sv->assert_data)) {
		conn_end(c, MATCHED, 0);
		return;
	}
	tool_err("serve: conn %llu: %s before the recorded conversation ended",
		 (unsigned long long)c->serial, tape_strerror(err));
	conn_end(c, MISMATCHED, 0);
}

static const struct tape__stream_cbs conn_cbs = {
	.data = on_data,
	.eof = on_eof,
	.error = on_error,
};

static void on_accept(struct tape__listener *ls, int fd, const struct sockaddr *peer,
		      socklen_t peerlen, void *arg)
{
	struct serve *sv = arg;
	struct tape__stream_opts so = {.wq_max = SERVE_WQ_MAX, .nodelay = 1};
	struct sconn *c;
	struct rconn *rc;
	int r;

	(void)peerlen;
	if (sv->once && sv->nconns) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	c->sv = sv;
	c->serial = ++sv->serial;
	tape__timer_init(&c->delay, on_delay, c);
	tape__timer_init(&c->settle, on_settle, c);
	tape__endpoint_from_sockaddr(&c->client, peer);
	c->next = sv->conns;
	if (sv->conns)
		sv->conns->prev = c;
	sv->conns = c;
	sv->nconns++;
	if (sv->once) {
		tape__listener_close(ls); /* one connection only */
		sv->ls = NULL;
	}
	if (sv->framed && (r = tape__deframer_new(&c->dec, &sv->framing, TAPE_C2S)) != 0) {
		close(fd);
		goto fail;
	}
	if ((r = tape__stream_adopt(sv->loop, &c->s, fd, &so, &conn_cbs, c)) != 0) {
		c->s = NULL;
		goto fail;
	}
	/* Server speaks first: the greeting goes out at once. */
	rc = next_unused(sv);
	if (rc && rc->n && rc->items[0].dir == TAPE_S2C) {
		take(c, rc);
		drive(c);
	}
	return;
fail:
	tool_err("serve: cannot take a client: %s", tape_strerror(r));
	conn_end(c, MISMATCHED, 1);
}

/* The command.  Options: the environment first, then the command line. */
int tool_serve_main(int argc, char **argv)
{
	enum { OPT_FRAMING = 256, OPT_MAXPAY, OPT_NOASSERT, OPT_ABORT, OPT_ONCE, OPT_DELAY,
	       OPT_IGNORE, OPT_TEXTDIFF };
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"framing", required_argument, NULL, OPT_FRAMING},
		{"max-payload", required_argument, NULL, OPT_MAXPAY},
		{"no-assert", no_argument, NULL, OPT_NOASSERT},
		{"abort", no_argument, NULL, OPT_ABORT},
		{"once", no_argument, NULL, OPT_ONCE},
		{"delay", no_argument, NULL, OPT_DELAY},
		{"ignore", required_argument, NULL, OPT_IGNORE},
		{"text-diff", no_argument, NULL, OPT_TEXTDIFF},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct tool_cmd *self = tool_cmd_find("serve");
	const char *listen_s = getenv("TAPEDECK_LISTEN"), *framing_s = getenv("TAPEDECK_FRAMING");
	const char *maxpay_s = getenv("TAPEDECK_MAX_PAYLOAD"), *env_ignore = getenv("TAPEDECK_IGNORE");
	const char *tape;
	struct serve sv;
	struct tape_endpoint lep;
	struct sockaddr_storage lsa;
	socklen_t lsalen;
	struct tool_signals sigs;
	char why[512], ls[TAPE_ENDPOINT_STRLEN], fname[16];
	int c, rc, ret = TOOL_EXIT_OK, sig_set = 0, cli_ignore = 0;
	unsigned long long nopen = 0;

	memset(&sv, 0, sizeof sv);
	sv.assert_data = !tool_env_true(getenv("TAPEDECK_NO_ASSERT"));
	sv.abort_first = tool_env_true(getenv("TAPEDECK_ABORT"));
	sv.once = tool_env_true(getenv("TAPEDECK_ONCE"));
	sv.delay = tool_env_true(getenv("TAPEDECK_DELAY"));
	sv.text_diff = tool_env_true(getenv("TAPEDECK_TEXT_DIFF"));
	sv.quiet = tool_env_true(getenv("TAPEDECK_QUIET"));
	if (tape__mask_new(&sv.mask)) {
		tool_err("serve: %s", tape_strerror(-ENOMEM));
		return TOOL_EXIT_INTERNAL;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_s = optarg;
			break;
		case OPT_FRAMING:
			framing_s = optarg;
			break;
		case OPT_MAXPAY:
			maxpay_s = optarg;
			break;
		case OPT_NOASSERT:
			sv.assert_data = 0;
			break;
		case OPT_ABORT:
			sv.abort_first = 1;
			break;
		case OPT_ONCE:
			sv.once = 1;
			break;
		case OPT_DELAY:
			sv.delay = 1;
			break;
		case OPT_IGNORE:
			cli_ignore = 1;
			if (tape__mask_add(sv.mask, optarg, why, sizeof why)) {
				ret = tool_usage_error(self, "--ignore: %s", why);
				goto out;
			}
			break;
		case OPT_TEXTDIFF:
			sv.text_diff = 1;
			break;
		case 'q':
			sv.quiet = 1;
			break;
		case 'h':
			tool_serve_usage(stdout);
			goto out;
		default:
			ret = tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind >= argc) {
		ret = tool_usage_error(self, "a TAPE is required");
		goto out;
	}
	tape = argv[optind++];
	if (optind < argc) {
		ret = tool_usage_error(self, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!cli_ignore && env_ignore && *env_ignore &&
	    tape__mask_add(sv.mask, env_ignore, why, sizeof why)) {
		ret = tool_usage_error(self, "TAPEDECK_IGNORE: %s", why);
		goto out;
	}
	if (tape__mask_count(sv.mask) == 0) {
		tape__mask_free(sv.mask);
		sv.mask = NULL;
	}
	if (!listen_s || !*listen_s) {
		ret = tool_usage_error(self, "--listen ADDR:PORT is required (or TAPEDECK_LISTEN)");
		goto out;
	}
	if (tool_resolve(listen_s, &lep, why, sizeof why)) {
		ret = tool_usage_error(self, "--listen: %s", why);
		goto out;
	}
	if ((ret = tool_framing_options(self, framing_s, maxpay_s, &sv.framing)) != 0)
		goto out;
	sv.framed = sv.framing.kind != TAPE__FRAMING_RAW;
	if ((ret = load(&sv, tape)) != 0)
		goto out;

	lsalen = tape__endpoint_to_sockaddr(&lep, &lsa);
	rc = tape__loop_new(&sv.loop);
	if (rc) {
		tool_err("serve: %s", tape_strerror(rc));
		ret = TOOL_EXIT_INTERNAL;
		goto out;
	}
	rc = tape__listener_new(sv.loop, &sv.ls, (const struct sockaddr *)&lsa, lsalen, SERVE_BACKLOG,
				on_accept, &sv);
	if (rc) {
		tool_err("serve: cannot listen on %s: %s", listen_s, tape_strerror(rc));
		ret = TOOL_EXIT_NETWORK;
		goto out;
	}
	lep.port = tape__listener_port(sv.ls);
	tape_endpoint_format(&lep, ls, sizeof ls);
	tape__framing_name(&sv.framing, fname, sizeof fname);

	tool_signals_on(&sigs, sv.loop);
	sig_set = 1;

	/* Always said, -q or not: scripts read the port from it. */
	fprintf(stderr, "tapedeck serve: listening on %s, serving %zu connections of %s (framing %s)\n",
		ls, sv.nrc, tape, fname);
	rc = tape__loop_run(sv.loop);
	if (rc) {
		tool_err("serve: event loop: %s", tape_strerror(rc));
		ret = TOOL_EXIT_INTERNAL;
	} else {
		ret = sv.ret;
	}
	while (sv.conns) {
		struct sconn *cn = sv.conns;
		nopen++;
		if (cn->s)
			tape__stream_abort(cn->s);
		conn_free(cn);
	}
	fprintf(stderr, "tapedeck serve: stopped: %llu connections, %llu matched, %llu mismatched, "
		"%llu stopped at a recorded gap, %llu still open\n",
		(unsigned long long)sv.nconns, (unsigned long long)sv.nmatched,
		(unsigned long long)sv.nmismatched, (unsigned long long)sv.nunplayable,
		(unsigned long long)nopen);
out:
	if (sig_set)
		tool_signals_off(&sigs);
	tape__loop_free(sv.loop);
	tape__mask_free(sv.mask);
	rcs_free(&sv);
	return ret;
}
