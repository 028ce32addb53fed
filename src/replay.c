/* SPDX-License-Identifier: BSD-2-Clause */
/* replay.c - socket-level replay of a tape's client side against a live service, with causality, timing and verification. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bytediff.h"
#include "loop.h"
#include "tape-int.h"

/*
 * How a tape becomes a replay (doc/replay.md has the user's view).
 *
 * Loading turns every connection's events into a list of actions:
 *
 *   open            CONNECT
 *   c2s data        SEND      the chunk (its bytes kept in an arena)
 *   s2c data        WAIT      until the service has sent as many bytes as
 *                             the recording shows by then
 *   s2c gap         WAIT      (the bytes count, they are never compared)
 *   c2s gap         GAP       the connection stops there: bytes unknown
 *   c2s fin / rst   FIN / RST shutdown(SHUT_WR) / abortive close
 *   s2c fin / rst   WAIT_EOF  until the service ends its sending
 *   close           END       close our socket
 *
 * and the tape's order of all of them into one global list.  In the
 * default, ordered mode one cursor walks that list: an action is played
 * only once everything before it was played (connects established, chunks
 * handed to the kernel) and every earlier WAIT satisfied.  Unordered, each
 * connection walks its own list and connections start by their recorded
 * times (and the concurrency cap).
 *
 * Each connection's s2c stream is cut into replies: the bytes between two
 * of its client actions.  A reply is compared with the recording when the
 * next client action is played (or at END), under the --ignore mask.  A
 * wait ends when the reply has the recorded length; when verifying it also
 * ends once the service has been quiet for settle_ms and what it sent
 * already differs from the recording (so a service in another state costs
 * settle_ms, not a timeout).  Bytes beyond a reply's recorded length that
 * continue it exactly (the service ran ahead) are carried into the next
 * reply, so segmentation by time never causes a false mismatch.
 *
 * Timing: every action has a schedule offset (recorded gaps, divided by
 * speed, clamped by max_delay).  Timed actions (CONNECT, SEND, FIN, RST,
 * END) are not played before t0 + offset; the loop's timerfd wakes us and
 * a short spin absorbs the wakeup latency (doc/design/loop.md).  How late
 * connects and chunks went out goes into a log-linear histogram.
 */

#define ARENA_BLOCK (1u << 20)     /* payload arena block */
#define PROGRESS_NS 100000000u     /* progress callback period */
#define DEFAULT_TIMEOUT_MS 5000u
#define DEFAULT_SETTLE_MS 100u
#define DEFAULT_SPIN_NS 50000u
#define WINDOW_BEFORE 64u          /* mismatch windows: bytes before the difference */
#define WINDOW_SIZE 256u           /* mismatch windows: bytes kept */
#define HIST_SUB 32u               /* histogram: sub-buckets per power of two */
#define HIST_BUCKETS (64u + 58u * HIST_SUB)

enum act_kind { A_CONNECT, A_SEND, A_WAIT, A_WAIT_EOF, A_FIN, A_RST, A_GAP, A_END };

struct act {
	enum act_kind kind;
	uint64_t rec_ns;   /* recorded time */
	uint64_t sched_ns; /* offset in the schedule */
	uint64_t arg;      /* SEND: c2s offset; WAIT: s2c bytes through it; GAP: bytes; WAIT_EOF: 1 for rst */
	const uint8_t *data;
	size_t len;
};

/* A connection as recorded. */
struct rconn {
	uint64_t id;
	struct tape_endpoint client, server, target;
	struct act *acts;
	size_t nacts, capacts;
	uint8_t *exp; /* s2c payload without gap bytes (when verifying) */
	size_t explen, expcap;
	uint64_t (*gaps)[2]; /* s2c gaps: start offset, length */
	size_t ngaps, capgaps;
	uint64_t s2c, c2s, chunks; /* totals */
	int closed, selected;
};

struct gact {
	size_t conn, act;
};

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	uint8_t data[];
};

/* A connection being played. */
struct live {
	struct tape_replay *rp;
	struct rconn *rc;
	size_t pc;    /* next action */
	int phase;    /* 0: the action has not begun; 1: under way */
	int connected, finished, eof, peer_done, shut;
	int holds_slot; /* unordered: counted in rp->active */
	int sock_err; /* -errno reported by the stream */
	int opened;   /* an open event went to the record tape */
	int rec_fin_c2s, rec_fin_s2c;
	struct tape__stream *s;
	struct tape__timer timer;
	uint64_t shift_ns;   /* unordered: how late its start was held */
	uint64_t late_ns;    /* how late the action being played is */
	uint64_t wait_since; /* when the current wait began; 0 none */
	uint64_t last_rx;
	/* the open reply */
	uint64_t seg_exp_start; /* expected s2c offset it starts at */
	uint64_t exp_cum;       /* expected s2c offset the waits reached */
	uint64_t seg_recv;      /* bytes received in it */
	uint64_t seg_got_start; /* received s2c offset it starts at */
	uint8_t *rbuf;          /* its bytes, when verifying (at most TAPE_REPLAY_MAX_VERIFY) */
	size_t rlen, rcap;
	int seg_skip;           /* it answers a skipped chunk: not awaited nor compared */
	uint64_t chunk_index;
	uint64_t rec_id;
	struct tape_replay_result res;
	char *detail;
};

struct res {
	struct tape_replay_result r;
	char *detail; /* owned */
};

struct mm {
	struct tape_replay_mismatch m;
	uint8_t *exp_win, *got_win;
	char *report;
};

struct tape_replay {
	struct tape_replay_opts o;
	struct tape__mask *mask;
	struct rconn *conns;
	size_t nconns, capconns;
	uint64_t *hkeys; /* id -> conns index + 1 */
	size_t *hvals, hcap, hcount;
	struct arena_block *arena;
	uint64_t stored;
	struct gact *global;
	size_t nglobal, capglobal;
	size_t *sel; /* selected conns, in start order */
	size_t nsel;
	uint64_t rec_first, rec_last;
	struct tape_endpoint server;

	/* running */
	struct tape__loop *loop;
	struct live *lv;
	unsigned iter;
	uint64_t run_start, run_end, t0;
	size_t cursor, next_start, active, done;
	int in_drive, redrive, in_start;
	struct tape__timer iter_timer, start_timer, progress_timer;
	int fatal, ran, running;
	volatile sig_atomic_t stop_req;
	uint64_t rec_seq, rec_last_ns;
	struct tape_replay_edit edit;

	/* results */
	struct res *results;
	size_t nresults, capresults;
	struct mm *mms;
	size_t nmms, capmms;
	struct tape_replay_stats st;
	uint64_t hist[HIST_BUCKETS];
	char err[TAPE__ERRLEN];
};

TAPE__PRINTF(3, 4) static int rperr(struct tape_replay *rp, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rp->err, sizeof rp->err, fmt, ap);
	va_end(ap);
	return code;
}

/* Name of a connection status ("ok", "timeout"...); "?" when unknown. */
const char *tape_replay_status_name(enum tape_replay_status st)
{
	switch (st) {
#define TAPE__RS_NAME(name, str) \
	case TAPE_REPLAY_##name: \
		return str;
		TAPE_REPLAY_STATUS_MAP(TAPE__RS_NAME)
#undef TAPE__RS_NAME
	default:
		return "?";
	}
}

/* ---- loading ---------------------------------------------------------------- */

static uint8_t *arena_alloc(struct tape_replay *rp, size_t n)
{
	struct arena_block *b = rp->arena;

	if (!b || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = rp->arena;
		rp->arena = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Index of connection id, or SIZE_MAX. */
static size_t conn_find(const struct tape_replay *rp, uint64_t id)
{
	if (!rp->hcap)
		return SIZE_MAX;
	for (size_t i = mix64(id) & (rp->hcap - 1);; i = (i + 1) & (rp->hcap - 1)) {
		if (!rp->hvals[i])
			return SIZE_MAX;
		if (rp->hkeys[i] == id)
			return rp->hvals[i] - 1;
	}
}

static int hash_put(struct tape_replay *rp, uint64_t id, size_t idx)
{
	if ((rp->hcount + 1) * 2 > rp->hcap) {
		size_t ncap = rp->hcap ? rp->hcap * 2 : 1024;
		uint64_t *nk = calloc(ncap, sizeof *nk);
		size_t *nv = calloc(ncap, sizeof *nv);
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -ENOMEM;
		}
		for (size_t i = 0; i < rp->hcap; i++) {
			size_t j;
			if (!rp->hvals[i])
				continue;
			for (j = mix64(rp->hkeys[i]) & (ncap - 1); nv[j]; j = (j + 1) & (ncap - 1))
				;
			nk[j] = rp->hkeys[i];
			nv[j] = rp->hvals[i];
		}
		free(rp->hkeys);
		free(rp->hvals);
		rp->hkeys = nk;
		rp->hvals = nv;
		rp->hcap = ncap;
	}
	size_t i = mix64(id) & (rp->hcap - 1);
	while (rp->hvals[i])
		i = (i + 1) & (rp->hcap - 1);
	rp->hkeys[i] = id;
	rp->hvals[i] = idx + 1;
	rp->hcount++;
	return 0;
}

/* Grows *p (of *cap elements of size sz) to hold one more; 0 or -ENOMEM. */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
	void *np;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	np = realloc(*p, ncap * sz);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int add_act(struct tape_replay *rp, size_t ci, enum act_kind kind, uint64_t t, uint64_t arg,
		   const uint8_t *data, size_t len)
{
	struct rconn *c = &rp->conns[ci];
	struct act *a;

	if (grow((void **)&c->acts, &c->capacts, c->nacts, sizeof *c->acts) ||
	    grow((void **)&rp->global, &rp->capglobal, rp->nglobal, sizeof *rp->global))
		return rperr(rp, -ENOMEM, "out of memory loading the tape");
	a = &c->acts[c->nacts];
	memset(a, 0, sizeof *a);
	a->kind = kind;
	a->rec_ns = t;
	a->arg = arg;
	a->data = data;
	a->len = len;
	rp->global[rp->nglobal].conn = ci;
	rp->global[rp->nglobal].act = c->nacts;
	rp->nglobal++;
	c->nacts++;
	return 0;
}

static int load_event(struct tape_replay *rp, const struct tape_event *ev)
{
	struct rconn *c;
	size_t ci;

	if (ev->kind == TAPE_EV_NOTE)
		return 0;
	if (ev->kind == TAPE_EV_OPEN) {
		if (rp->nconns >= TAPE_REPLAY_MAX_CONNS)
			return rperr(rp, TAPE_ELIMIT, "more than %u connections on the tape",
				     TAPE_REPLAY_MAX_CONNS);
		if (grow((void **)&rp->conns, &rp->capconns, rp->nconns, sizeof *rp->conns) ||
		    hash_put(rp, ev->conn, rp->nconns))
			return rperr(rp, -ENOMEM, "out of memory loading the tape");
		ci = rp->nconns++;
		c = &rp->conns[ci];
		memset(c, 0, sizeof *c);
		c->id = ev->conn;
		c->client = ev->client;
		c->server = ev->server;
		return add_act(rp, ci, A_CONNECT, ev->time_ns, 0, NULL, 0);
	}
	ci = conn_find(rp, ev->conn);
	if (ci == SIZE_MAX)
		return rperr(rp, TAPE_ESEQ, "event on unknown connection %llu", (unsigned long long)ev->conn);
	c = &rp->conns[ci];
	switch (ev->kind) {
	case TAPE_EV_DATA:
		if (rp->stored + ev->len > TAPE_REPLAY_MAX_BYTES)
			return rperr(rp, TAPE_ELIMIT, "more than %llu payload bytes to hold in memory",
				     (unsigned long long)TAPE_REPLAY_MAX_BYTES);
		if (ev->dir == TAPE_C2S) {
			uint8_t *p = arena_alloc(rp, ev->len);
			if (!p)
				return rperr(rp, -ENOMEM, "out of memory loading the tape");
			memcpy(p, ev->data, ev->len);
			rp->stored += ev->len;
			c->chunks++;
			c->c2s += ev->len;
			return add_act(rp, ci, A_SEND, ev->time_ns, c->c2s - ev->len, p, ev->len);
		}
		if (rp->o.verify) {
			if (c->explen + ev->len > c->expcap) {
				size_t ncap = c->expcap ? c->expcap : 256;
				uint8_t *nb;
				while (ncap < c->explen + ev->len)
					ncap *= 2;
				nb = realloc(c->exp, ncap);
				if (!nb)
					return rperr(rp, -ENOMEM, "out of memory loading the tape");
				c->exp = nb;
				c->expcap = ncap;
			}
			memcpy(c->exp + c->explen, ev->data, ev->len);
			c->explen += ev->len;
			rp->stored += ev->len;
		}
		c->s2c += ev->len;
		return add_act(rp, ci, A_WAIT, ev->time_ns, c->s2c, NULL, 0);
	case TAPE_EV_GAP:
		if (ev->dir == TAPE_C2S)
			return add_act(rp, ci, A_GAP, ev->time_ns, ev->gap, NULL, (size_t)c->c2s);
		if (grow((void **)&c->gaps, &c->capgaps, c->ngaps, sizeof *c->gaps))
			return rperr(rp, -ENOMEM, "out of memory loading the tape");
		c->gaps[c->ngaps][0] = c->s2c;
		c->gaps[c->ngaps][1] = ev->gap;
		c->ngaps++;
		c->s2c += ev->gap;
		return add_act(rp, ci, A_WAIT, ev->time_ns, c->s2c, NULL, 0);
	case TAPE_EV_FIN:
		return add_act(rp, ci, ev->dir == TAPE_C2S ? A_FIN : A_WAIT_EOF, ev->time_ns, 0, NULL, 0);
	case TAPE_EV_RST:
		return add_act(rp, ci, ev->dir == TAPE_C2S ? A_RST : A_WAIT_EOF, ev->time_ns, 1, NULL, 0);
	case TAPE_EV_CLOSE:
		c->closed = 1;
		return add_act(rp, ci, A_END, ev->time_ns, 0, NULL, 0);
	default:
		return 0;
	}
}

/* Keeps connection i when the sample says so: a hash of the seed and the
 * id alone, so the same seed picks the same connections every time. */
static int sampled(const struct tape_replay *rp, uint64_t id)
{
	if (!(rp->o.sample > 0.0 && rp->o.sample < 1.0))
		return 1;
	uint64_t h = mix64(rp->o.seed ^ mix64(id)) >> 11; /* 53 bits */
	return (double)h < rp->o.sample * 9007199254740992.0;
}

static uint64_t endpoint_hash(const struct tape_endpoint *ep)
{
	uint8_t a[16] = {0};
	uint64_t h = ep->family;

	memcpy(a, ep->addr, ep->family == 6 ? 16 : 4); /* what tape_endpoint_equal() compares */
	for (size_t i = 0; i < 16; i += 8) {
		uint64_t w;
		memcpy(&w, a + i, 8);
		h = mix64(h ^ w);
	}
	return mix64(h ^ ep->port);
}

/* Index of the first connection to the tape's most frequent server (by
 * connections; the first seen wins a tie), or SIZE_MAX without memory. */
static size_t most_frequent_server(const struct tape_replay *rp)
{
	size_t cap = 16, best = 0;
	size_t *slot;  /* first connection with that server + 1 */
	uint64_t *cnt, bestn = 0;

	while (cap < rp->nconns * 2)
		cap *= 2;
	slot = calloc(cap, sizeof *slot);
	cnt = calloc(cap, sizeof *cnt);
	if (!slot || !cnt) {
		free(slot);
		free(cnt);
		return SIZE_MAX;
	}
	for (size_t i = 0; i < rp->nconns; i++) {
		const struct tape_endpoint *ep = &rp->conns[i].server;
		size_t j = endpoint_hash(ep) & (cap - 1);
		while (slot[j] && !tape_endpoint_equal(&rp->conns[slot[j] - 1].server, ep))
			j = (j + 1) & (cap - 1);
		if (!slot[j])
			slot[j] = i + 1;
		cnt[j]++;
		if (cnt[j] > bestn || (cnt[j] == bestn && slot[j] - 1 < best)) {
			bestn = cnt[j];
			best = slot[j] - 1;
		}
	}
	free(slot);
	free(cnt);
	return best;
}

static int select_conns(struct tape_replay *rp)
{
	const struct tape_endpoint *server = rp->o.server;
	size_t best = SIZE_MAX;

	if (!rp->nconns)
		return rperr(rp, TAPE_EUSAGE, "the tape has no connections");
	if (rp->o.nconns) {
		for (size_t i = 0; i < rp->o.nconns; i++) {
			size_t ci = conn_find(rp, rp->o.conns[i]);
			if (ci == SIZE_MAX)
				return rperr(rp, TAPE_EUSAGE, "connection %llu is not on the tape",
					     (unsigned long long)rp->o.conns[i]);
			if (!server || tape_endpoint_equal(&rp->conns[ci].server, server))
				rp->conns[ci].selected = 1;
		}
	} else if (rp->o.all) {
		for (size_t i = 0; i < rp->nconns; i++)
			rp->conns[i].selected = 1;
	} else {
		if (!server) {
			best = most_frequent_server(rp);
			if (best == SIZE_MAX)
				return rperr(rp, -ENOMEM, "out of memory");
			server = &rp->conns[best].server;
		}
		rp->server = *server;
		for (size_t i = 0; i < rp->nconns; i++)
			if (tape_endpoint_equal(&rp->conns[i].server, server))
				rp->conns[i].selected = 1;
	}
	rp->nsel = 0;
	for (size_t i = 0; i < rp->nconns; i++) {
		struct rconn *c = &rp->conns[i];
		if (c->selected && !sampled(rp, c->id))
			c->selected = 0;
		rp->nsel += c->selected;
	}
	if (!rp->nsel) {
		char ep[TAPE_ENDPOINT_STRLEN];
		if (rp->o.sample > 0.0 && rp->o.sample < 1.0)
			return rperr(rp, TAPE_EUSAGE, "the sample left no connection to replay");
		if (server) {
			tape_endpoint_format(server, ep, sizeof ep);
			return rperr(rp, TAPE_EUSAGE, "no selected connection of the tape goes to %s", ep);
		}
		return rperr(rp, TAPE_EUSAGE, "no connection selected");
	}
	rp->sel = malloc(rp->nsel * sizeof *rp->sel);
	if (!rp->sel)
		return rperr(rp, -ENOMEM, "out of memory");
	rp->nsel = 0;
	for (size_t i = 0; i < rp->nconns; i++) {
		struct rconn *c = &rp->conns[i];
		const struct tape_endpoint *to = NULL;
		if (!c->selected)
			continue;
		for (size_t m = 0; m < rp->o.nmaps && !to; m++)
			if (tape_endpoint_equal(&rp->o.maps[m].recorded, &c->server))
				to = &rp->o.maps[m].actual;
		if (!to && rp->o.target.family)
			to = &rp->o.target;
		if (!to) {
			char ep[TAPE_ENDPOINT_STRLEN];
			tape_endpoint_format(&c->server, ep, sizeof ep);
			return rperr(rp, TAPE_EUSAGE,
				     "connection %llu went to %s, which has no map, and there is no target",
				     (unsigned long long)c->id, ep);
		}
		c->target = *to;
		rp->sel[rp->nsel++] = i;
	}
	return 0;
}

/* Keeps the selected connections' actions in the global order and gives
 * every action its schedule offset. */
static void schedule(struct tape_replay *rp)
{
	size_t n = 0;
	uint64_t prev = 0, sched = 0;
	double speed = rp->o.speed > 0.0 ? rp->o.speed : 1.0;

	for (size_t i = 0; i < rp->nglobal; i++) {
		struct gact g = rp->global[i];
		struct act *a;
		if (!rp->conns[g.conn].selected)
			continue;
		a = &rp->conns[g.conn].acts[g.act];
		if (n == 0) {
			prev = a->rec_ns;
			rp->rec_first = a->rec_ns;
		}
		if (rp->o.timing == TAPE_REPLAY_TIMING_ORIGINAL) {
			uint64_t d = a->rec_ns - prev;
			if (speed != 1.0)
				d = (uint64_t)((double)d / speed);
			if (rp->o.max_delay_ns && d > rp->o.max_delay_ns)
				d = rp->o.max_delay_ns;
			sched += d;
		}
		prev = a->rec_ns;
		rp->rec_last = a->rec_ns;
		a->sched_ns = sched;
		rp->global[n++] = g;
	}
	rp->nglobal = n;
	rp->st.scheduled_ns = sched * (rp->o.loops ? rp->o.loops : 1);
	rp->st.recorded_ns = rp->rec_last - rp->rec_first;
}

/* Loads the tape, selects and schedules (see tapedeck.h); *out is set even
 * on failure so the caller can read tape_replay_error(), then free it. */
int tape_replay_new(struct tape_replay **out, struct tape_reader *r, const struct tape_replay_opts *opts)
{
	struct tape_replay *rp = calloc(1, sizeof *rp);
	struct tape_event ev;
	int rc;

	*out = rp;
	if (!rp)
		return -ENOMEM;
	rp->o = *opts;
	if (!rp->o.timeout_ms)
		rp->o.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!rp->o.settle_ms)
		rp->o.settle_ms = DEFAULT_SETTLE_MS;
	if (!rp->o.spin_ns)
		rp->o.spin_ns = DEFAULT_SPIN_NS;
	if (!rp->o.loops)
		rp->o.loops = 1;
	if (rp->o.loops > TAPE_REPLAY_MAX_LOOPS)
		return rperr(rp, TAPE_ELIMIT, "more than %u loops", TAPE_REPLAY_MAX_LOOPS);
	if (rp->o.nmaps > TAPE_REPLAY_MAX_MAPS)
		return rperr(rp, TAPE_ELIMIT, "more than %u maps", TAPE_REPLAY_MAX_MAPS);
	if (rp->o.speed < 0.0 || rp->o.sample < 0.0 || rp->o.sample > 1.0)
		return rperr(rp, TAPE_EUSAGE, "speed must be positive and sample between 0 and 1");
	if (rp->o.concurrency && !rp->o.unordered)
		return rperr(rp, TAPE_EUSAGE,
			     "a concurrency cap needs unordered replay (in order, connections overlap as recorded)");
	if (rp->o.nignore && !rp->o.verify)
		return rperr(rp, TAPE_EUSAGE, "ignore expressions only make sense when verifying");
	if (rp->o.nignore) {
		if ((rc = tape__mask_new(&rp->mask)))
			return rperr(rp, rc, "out of memory");
		for (size_t i = 0; i < rp->o.nignore; i++) {
			char why[256];
			rc = tape__mask_add(rp->mask, rp->o.ignore[i], why, sizeof why);
			if (rc)
				return rperr(rp, rc, "ignore expression '%s': %s", rp->o.ignore[i], why);
		}
	}
	while ((rc = tape_reader_next(r, &ev)) == 1)
		if ((rc = load_event(rp, &ev)))
			return rc;
	if (rc < 0)
		return rperr(rp, rc, "%s", tape_reader_error(r));
	/* Connections still open when the tape ends are closed there. */
	for (size_t i = 0; i < rp->nconns; i++)
		if (!rp->conns[i].closed) {
			uint64_t t = rp->nglobal ? rp->conns[rp->global[rp->nglobal - 1].conn]
							   .acts[rp->global[rp->nglobal - 1].act]
							   .rec_ns
						 : 0;
			if ((rc = add_act(rp, i, A_END, t, 0, NULL, 0)))
				return rc;
		}
	rp->st.tape_conns = rp->nconns;
	if ((rc = select_conns(rp)))
		return rc;
	schedule(rp);
	rp->st.selected = rp->nsel;
	rp->st.server = rp->server;
	return 0;
}

/* ---- results ------------------------------------------------------------------ */

static unsigned hist_bucket(uint64_t v)
{
	unsigned msb;

	if (v < 64)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return 64u + (msb - 6u) * HIST_SUB + (unsigned)((v >> (msb - 5u)) & (HIST_SUB - 1u));
}

/* Upper bound of bucket b. */
static uint64_t hist_value(unsigned b)
{
	unsigned msb, sub;

	if (b < 64)
		return b;
	msb = (b - 64u) / HIST_SUB + 6u;
	sub = (b - 64u) % HIST_SUB;
	return ((uint64_t)(HIST_SUB + sub + 1u) << (msb - 5u)) - 1u;
}

static void skew_sample(struct tape_replay *rp, uint64_t late)
{
	if (rp->o.timing != TAPE_REPLAY_TIMING_ORIGINAL)
		return;
	rp->hist[hist_bucket(late)]++;
	rp->st.skew_samples++;
	if (late > rp->st.skew_max_ns)
		rp->st.skew_max_ns = late;
}

static uint64_t hist_pct(const struct tape_replay *rp, double p)
{
	uint64_t want, sum = 0;

	if (!rp->st.skew_samples)
		return 0;
	want = (uint64_t)((double)rp->st.skew_samples * p);
	if (want < 1)
		want = 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		sum += rp->hist[b];
		if (sum >= want) {
			uint64_t v = hist_value(b);
			return v < rp->st.skew_max_ns ? v : rp->st.skew_max_ns;
		}
	}
	return rp->st.skew_max_ns;
}

/* A snapshot of the counters, with the skew percentiles computed from
 * the histogram; callable during the run (from the progress callback). */
void tape_replay_stats(const struct tape_replay *rp, struct tape_replay_stats *st)
{
	*st = rp->st;
	st->skew_p50_ns = hist_pct(rp, 0.50);
	st->skew_p99_ns = hist_pct(rp, 0.99);
	if (rp->running)
		st->duration_ns = tape__clock_ns() - rp->run_start;
	else if (rp->ran)
		st->duration_ns = rp->run_end - rp->run_start;
}

/* Connection results kept so far (at most TAPE_REPLAY_MAX_RESULTS). */
size_t tape_replay_result_count(const struct tape_replay *rp)
{
	return rp->nresults;
}

/* Copies result i; its pointers stay valid until tape_replay_free(). */
int tape_replay_result(const struct tape_replay *rp, size_t i, struct tape_replay_result *out)
{
	if (i >= rp->nresults)
		return TAPE_EUSAGE;
	*out = rp->results[i].r;
	return 0;
}

/* Mismatch records kept (at most TAPE_REPLAY_MAX_MISMATCHES). */
size_t tape_replay_mismatch_count(const struct tape_replay *rp)
{
	return rp->nmms;
}

/* Copies mismatch i; its pointers stay valid until tape_replay_free(). */
int tape_replay_mismatch(const struct tape_replay *rp, size_t i, struct tape_replay_mismatch *out)
{
	if (i >= rp->nmms)
		return TAPE_EUSAGE;
	*out = rp->mms[i].m;
	return 0;
}

/* The detail of the last error, "" when none; accepts NULL. */
const char *tape_replay_error(const struct tape_replay *rp)
{
	return rp ? rp->err : "";
}

/* Async-signal-safe request to stop: the run resets what is open and
 * leaves the rest PENDING. */
void tape_replay_stop(struct tape_replay *rp)
{
	rp->stop_req = 1;
	if (rp->loop)
		tape__loop_wakeup_stop(rp->loop);
}

/* ---- the record tape -------------------------------------------------------------- */

static int record(struct tape_replay *rp, struct live *c, struct tape_event *ev)
{
	uint64_t t;
	int rc;

	if (!rp->o.record || rp->fatal)
		return 0;
	t = tape__clock_ns() - rp->run_start;
	if (t < rp->rec_last_ns)
		t = rp->rec_last_ns;
	rp->rec_last_ns = t;
	ev->time_ns = t;
	ev->conn = c->rec_id;
	rc = tape_writer_write(rp->o.record, ev);
	if (rc) {
		rp->fatal = rc;
		rperr(rp, rc, "writing the record tape: %s", tape_writer_error(rp->o.record));
		tape__loop_stop(rp->loop);
	}
	return rc;
}

static void record_simple(struct tape_replay *rp, struct live *c, enum tape_event_kind kind,
			  enum tape_dir dir)
{
	struct tape_event ev;

	if (!c->opened)
		return;
	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.dir = dir;
	record(rp, c, &ev);
}

static void record_data(struct tape_replay *rp, struct live *c, enum tape_dir dir, const uint8_t *p,
			size_t n)
{
	struct tape_event ev;

	if (!c->opened || !n)
		return;
	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_DATA;
	ev.dir = dir;
	ev.data = p;
	ev.len = n;
	record(rp, c, &ev);
}

static void record_open(struct tape_replay *rp, struct live *c)
{
	struct tape_event ev;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (!rp->o.record)
		return;
	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_OPEN;
	ev.server = c->rc->target;
	if (getsockname(tape__stream_fd(c->s), (struct sockaddr *)&ss, &len) != 0 ||
	    tape__endpoint_from_sockaddr(&ev.client, (struct sockaddr *)&ss) != 0)
		ev.client = ev.server; /* cannot happen on a connected socket */
	if (record(rp, c, &ev) == 0)
		c->opened = 1;
}

/* ---- verification ---------------------------------------------------------------- */

static const uint8_t nothing[1];

/* The recorded s2c bytes from s2c offset off (not inside a gap) on. */
static const uint8_t *exp_at(const struct rconn *rc, uint64_t off)
{
	uint64_t sub = 0;

	if (!rc->exp)
		return nothing;
	for (size_t i = 0; i < rc->ngaps && rc->gaps[i][0] < off; i++)
		sub += rc->gaps[i][1];
	return rc->exp + (off - sub);
}

/* The open reply's bytes. */
static const uint8_t *got_bytes(const struct live *c)
{
	return c->rbuf ? c->rbuf : nothing;
}

static int has_gap(const struct rconn *rc, uint64_t from, uint64_t to)
{
	for (size_t i = 0; i < rc->ngaps; i++)
		if (rc->gaps[i][0] < to && rc->gaps[i][0] + rc->gaps[i][1] > from)
			return 1;
	return 0;
}

enum cmp { CMP_EQUAL, CMP_PREFIX, CMP_DIFFER, CMP_ERROR };

/* Compares the open reply with the recorded s2c bytes up to upto. */
static enum cmp reply_compare(struct tape_replay *rp, struct live *c, uint64_t upto, size_t *eo, size_t *go)
{
	const uint8_t *exp = exp_at(c->rc, c->seg_exp_start);
	size_t elen = (size_t)(upto - c->seg_exp_start);
	int rc;

	rc = tape__diff_compare(rp->mask, exp, elen, got_bytes(c), c->rlen, eo, go);
	if (rc < 0)
		return CMP_ERROR;
	if (rc == 1)
		return CMP_EQUAL;
	if (*go == c->rlen && c->rlen < elen)
		return CMP_PREFIX;
	return CMP_DIFFER;
}

static void add_mismatch(struct tape_replay *rp, struct live *c, uint64_t upto, size_t eo, size_t go)
{
	const uint8_t *exp = exp_at(c->rc, c->seg_exp_start);
	size_t elen = (size_t)(upto - c->seg_exp_start);
	struct tape__diff_view v;
	struct mm *m;
	size_t ws;

	rp->st.mismatches++;
	c->res.mismatches++;
	if (rp->nmms >= TAPE_REPLAY_MAX_MISMATCHES ||
	    grow((void **)&rp->mms, &rp->capmms, rp->nmms, sizeof *rp->mms)) {
		rp->st.mismatches_dropped++;
		return;
	}
	m = &rp->mms[rp->nmms];
	memset(m, 0, sizeof *m);
	m->m.conn = c->rc->id;
	m->m.loop = rp->iter;
	m->m.dir = TAPE_S2C;
	m->m.exp_offset = c->seg_exp_start + eo;
	m->m.got_offset = c->seg_got_start + go;
	m->m.exp_len = elen;
	m->m.got_len = c->seg_recv;
	ws = eo > WINDOW_BEFORE ? eo - WINDOW_BEFORE : 0;
	m->m.expected_at = c->seg_exp_start + ws;
	m->m.expected_size = elen - ws < WINDOW_SIZE ? elen - ws : WINDOW_SIZE;
	ws = go > WINDOW_BEFORE ? go - WINDOW_BEFORE : 0;
	m->m.received_at = c->seg_got_start + ws;
	m->m.received_size = c->rlen - ws < WINDOW_SIZE ? c->rlen - ws : WINDOW_SIZE;
	m->exp_win = malloc(m->m.expected_size + 1);
	m->got_win = malloc(m->m.received_size + 1);
	if (!m->exp_win || !m->got_win) {
		free(m->exp_win);
		free(m->got_win);
		rp->st.mismatches_dropped++;
		return;
	}
	memcpy(m->exp_win, exp + (m->m.expected_at - c->seg_exp_start), m->m.expected_size);
	memcpy(m->got_win, got_bytes(c) + (m->m.received_at - c->seg_got_start), m->m.received_size);
	m->m.expected = m->exp_win;
	m->m.received = m->got_win;
	memset(&v, 0, sizeof v);
	v.mask = rp->mask;
	v.exp_base = c->seg_exp_start;
	v.got_base = c->seg_got_start;
	v.text_diff = rp->o.text_diff;
	m->report = tape__diff_report_ex(&v, exp, elen, got_bytes(c), c->rlen, eo, go);
	m->m.report = m->report ? m->report : "(no memory for the report)";
	rp->nmms++;
}

/* Ends the open reply at the expected offset c->exp_cum: compares it when
 * verifying, and starts the next one.  final: nothing will follow (extra
 * bytes are then a difference, not the start of the next reply). */
static void close_reply(struct tape_replay *rp, struct live *c, int final)
{
	uint64_t upto = c->exp_cum, elen = upto - c->seg_exp_start, carry = 0;

	if (!c->seg_skip && c->seg_recv > elen && !final) {
		/* The service ran ahead: bytes past the recorded reply may
		 * begin the next one, when the reply itself is exact. */
		if (!rp->o.verify)
			carry = c->seg_recv - elen;
		else if (!rp->mask && c->rlen == c->seg_recv &&
			 memcmp(got_bytes(c), exp_at(c->rc, c->seg_exp_start), (size_t)elen) == 0 &&
			 !has_gap(c->rc, c->seg_exp_start, upto))
			carry = c->seg_recv - elen;
	}
	if (rp->o.verify && !c->seg_skip && !carry && (elen || c->seg_recv) &&
	    !has_gap(c->rc, c->seg_exp_start, upto)) {
		size_t eo, go;
		enum cmp r = reply_compare(rp, c, upto, &eo, &go);
		if (r == CMP_ERROR) {
			rp->fatal = -ENOMEM;
			rperr(rp, -ENOMEM, "out of memory comparing replies");
			tape__loop_stop(rp->loop);
		} else if (r != CMP_EQUAL) {
			add_mismatch(rp, c, upto, eo, go);
		}
	}
	c->seg_got_start += c->seg_recv - carry;
	c->seg_exp_start = upto;
	c->seg_recv = carry;
	if (rp->o.verify) {
		if (carry && c->rbuf)
			memmove(c->rbuf, c->rbuf + (c->rlen - carry), (size_t)carry);
		c->rlen = (size_t)carry;
	}
	c->seg_skip = 0;
}

/* ---- connections ----------------------------------------------------------------- */

static void drive(struct tape_replay *rp, struct live *c);

TAPE__PRINTF(5, 6)
static void finish(struct tape_replay *rp, struct live *c, enum tape_replay_status status, int err,
		   const char *fmt, ...)
{
	if (c->finished)
		return;
	c->finished = 1;
	tape__timer_stop(rp->loop, &c->timer);
	if (c->s) {
		if (status == TAPE_REPLAY_OK) {
			tape__stream_close(c->s);
		} else {
			tape__stream_abort(c->s);
			if (c->opened && !c->rec_fin_c2s)
				record_simple(rp, c, TAPE_EV_RST, TAPE_C2S);
		}
		c->s = NULL;
	}
	if (c->opened) {
		struct tape_event ev;
		memset(&ev, 0, sizeof ev);
		ev.kind = TAPE_EV_CLOSE;
		switch (status) {
		case TAPE_REPLAY_OK:
			ev.reason = c->rec_fin_c2s && c->rec_fin_s2c ? TAPE_CLOSE_FIN : TAPE_CLOSE_END;
			break;
		case TAPE_REPLAY_TIMEOUT:
			ev.reason = TAPE_CLOSE_TIMEOUT;
			break;
		case TAPE_REPLAY_RESET:
			ev.reason = TAPE_CLOSE_RST;
			break;
		case TAPE_REPLAY_ABORTED:
		case TAPE_REPLAY_PENDING:
			ev.reason = TAPE_CLOSE_ABORTED;
			break;
		default:
			ev.reason = TAPE_CLOSE_ERROR;
			break;
		}
		record(rp, c, &ev);
	}
	c->res.status = status;
	c->res.error = err;
	c->res.end_ns = tape__clock_ns() - rp->run_start;
	if (fmt) {
		va_list ap;
		char buf[512];
		va_start(ap, fmt);
		vsnprintf(buf, sizeof buf, fmt, ap);
		va_end(ap);
		c->detail = strdup(buf);
	}
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = c->rcap = 0;

	rp->st.conns_done++;
	switch (status) {
	case TAPE_REPLAY_OK:
		rp->st.conns_ok++;
		break;
	case TAPE_REPLAY_ABORTED:
		rp->st.conns_aborted++;
		break;
	case TAPE_REPLAY_CONNECT:
		rp->st.connect_failures++;
		rp->st.conns_failed++;
		break;
	case TAPE_REPLAY_TIMEOUT:
		rp->st.timeouts++;
		rp->st.conns_failed++;
		break;
	case TAPE_REPLAY_RESET:
	case TAPE_REPLAY_CLOSED:
		rp->st.resets++;
		rp->st.conns_failed++;
		break;
	case TAPE_REPLAY_GAP:
		rp->st.gaps++;
		break;
	default:
		break;
	}
	if (c->res.mismatches)
		rp->st.conns_mismatched++;
	if (rp->nresults < TAPE_REPLAY_MAX_RESULTS &&
	    !grow((void **)&rp->results, &rp->capresults, rp->nresults, sizeof *rp->results)) {
		struct res *r = &rp->results[rp->nresults++];
		r->r = c->res;
		r->detail = c->detail;
		r->r.detail = c->detail ? c->detail : "";
	} else {
		free(c->detail);
	}
	c->detail = NULL;
	rp->done++;
	if (c->holds_slot) {
		c->holds_slot = 0;
		rp->active--;
	}
}

static void conn_timer(struct tape__timer *t, void *arg)
{
	struct live *c = arg;

	(void)t;
	drive(c->rp, c);
}

static void on_connected(struct tape__stream *s, int err, void *arg)
{
	struct live *c = arg;
	struct tape_replay *rp = c->rp;

	if (err) {
		char ep[TAPE_ENDPOINT_STRLEN];
		c->s = NULL; /* the loop closes it */
		tape_endpoint_format(&c->rc->target, ep, sizeof ep);
		finish(rp, c, TAPE_REPLAY_CONNECT, err, "connect to %s: %s", ep, tape_strerror(err));
	} else {
		c->connected = 1;
		(void)s;
		record_open(rp, c);
	}
	drive(rp, c);
}

static void on_data(struct tape__stream *s, const uint8_t *p, size_t n, void *arg)
{
	struct live *c = arg;
	struct tape_replay *rp = c->rp;

	(void)s;
	c->last_rx = tape__clock_ns();
	c->seg_recv += n;
	c->res.received += n;
	rp->st.bytes_received += n;
	if (rp->o.verify && c->rlen < TAPE_REPLAY_MAX_VERIFY) {
		size_t take = n < TAPE_REPLAY_MAX_VERIFY - c->rlen ? n : TAPE_REPLAY_MAX_VERIFY - c->rlen;
		if (c->rlen + take > c->rcap) {
			size_t ncap = c->rcap ? c->rcap : 1024;
			uint8_t *nb;
			while (ncap < c->rlen + take)
				ncap *= 2;
			nb = realloc(c->rbuf, ncap);
			if (!nb) {
				rp->fatal = -ENOMEM;
				rperr(rp, -ENOMEM, "out of memory keeping replies");
				tape__loop_stop(rp->loop);
				return;
			}
			c->rbuf = nb;
			c->rcap = ncap;
		}
		memcpy(c->rbuf + c->rlen, p, take);
		c->rlen += take;
	}
	record_data(rp, c, TAPE_S2C, p, n);
	drive(rp, c);
}

static void on_eof(struct tape__stream *s, void *arg)
{
	struct live *c = arg;

	(void)s;
	c->eof = 1;
	c->last_rx = tape__clock_ns();
	if (!c->rec_fin_s2c) {
		record_simple(c->rp, c, TAPE_EV_FIN, TAPE_S2C);
		c->rec_fin_s2c = 1;
	}
	drive(c->rp, c);
}

static void on_error(struct tape__stream *s, int err, void *arg)
{
	struct live *c = arg;

	(void)s;
	c->s = NULL; /* the loop closes it */
	c->sock_err = err;
	c->last_rx = tape__clock_ns();
	if (!c->rec_fin_s2c) {
		record_simple(c->rp, c, TAPE_EV_RST, TAPE_S2C);
		c->rec_fin_s2c = 1;
	}
	drive(c->rp, c);
}

static void on_drained(struct tape__stream *s, void *arg)
{
	struct live *c = arg;

	(void)s;
	drive(c->rp, c);
}

static const struct tape__stream_cbs stream_cbs = {
	on_connected, on_data, on_eof, on_error, on_drained,
};

enum stepr { STEP_DONE, STEP_BLOCKED, STEP_FINISHED };

static void advance(struct live *c)
{
	c->pc++;
	c->phase = 0;
	c->wait_since = 0;
}

/* 1 when the timed action a must wait for its due time (the timer is
 * armed); else 0 with c->late_ns set. */
static int gate(struct tape_replay *rp, struct live *c, const struct act *a)
{
	uint64_t due, now;

	c->late_ns = 0;
	if (rp->o.timing != TAPE_REPLAY_TIMING_ORIGINAL)
		return 0;
	due = rp->t0 + c->shift_ns + a->sched_ns;
	now = tape__clock_ns();
	if (now >= due) {
		c->late_ns = now - due;
		return 0;
	}
	if (tape__timer_start(rp->loop, &c->timer, due)) {
		c->late_ns = 0;
		return 0; /* no room for the timer: play it now */
	}
	return 1;
}

/* The connection lost its socket (a reset); ends it unless the recording
 * has the service end the connection here. */
static enum stepr lost(struct tape_replay *rp, struct live *c)
{
	close_reply(rp, c, 1);
	finish(rp, c, TAPE_REPLAY_RESET, c->sock_err, "the service reset the connection: %s",
	       tape_strerror(c->sock_err));
	return STEP_FINISHED;
}

/* Decides a WAIT or WAIT_EOF; arms the timer when it must go on. */
static enum stepr wait_step(struct tape_replay *rp, struct live *c, const struct act *a)
{
	uint64_t now = tape__clock_ns(), ref, quiet, settle = (uint64_t)rp->o.settle_ms * 1000000u,
		 timeout = (uint64_t)rp->o.timeout_ms * 1000000u, next;
	int is_eof = a->kind == A_WAIT_EOF;
	size_t eo, go;

	if (!c->wait_since)
		c->wait_since = now;
	ref = c->last_rx > c->wait_since ? c->last_rx : c->wait_since;
	quiet = now - ref;
	if (is_eof) {
		if (c->eof || c->sock_err || c->seg_skip) {
			c->peer_done = 1;
			return STEP_DONE;
		}
	} else {
		uint64_t need = a->arg - c->seg_exp_start;
		int final = c->pc + 1 >= c->rc->nacts || c->rc->acts[c->pc + 1].kind != A_WAIT;
		if (c->seg_skip)
			return STEP_DONE;
		if (c->seg_recv >= need) {
			if (!final || !rp->o.verify || !rp->mask || quiet >= settle)
				return STEP_DONE;
			if (reply_compare(rp, c, a->arg, &eo, &go) == CMP_EQUAL)
				return STEP_DONE;
			tape__timer_start(rp->loop, &c->timer, ref + settle);
			return STEP_BLOCKED;
		}
		if (c->eof || c->sock_err) {
			if (rp->o.verify)
				return STEP_DONE; /* the reply is short: the comparison says so */
			if (c->sock_err)
				return lost(rp, c);
			finish(rp, c, TAPE_REPLAY_CLOSED, 0,
			       "the service closed its side after %llu of the %llu reply bytes recorded",
			       (unsigned long long)c->seg_recv, (unsigned long long)need);
			return STEP_FINISHED;
		}
	}
	if (rp->o.verify && quiet >= settle && !c->seg_skip &&
	    !has_gap(c->rc, c->seg_exp_start, is_eof ? c->exp_cum : a->arg)) {
		/* Quiet: when what came already differs, the service is in
		 * another state; stop waiting for bytes that will not come. */
		enum cmp r = reply_compare(rp, c, is_eof ? c->exp_cum : a->arg, &eo, &go);
		if (r == CMP_DIFFER || (r == CMP_EQUAL && !is_eof))
			return STEP_DONE;
	}
	if (quiet >= timeout) {
		char ep[TAPE_ENDPOINT_STRLEN];
		tape_endpoint_format(&c->rc->target, ep, sizeof ep);
		close_reply(rp, c, 1);
		if (is_eof)
			finish(rp, c, TAPE_REPLAY_TIMEOUT, -ETIMEDOUT,
			       "%s did not end its sending within %u ms (the recording shows a %s)", ep,
			       rp->o.timeout_ms, a->arg ? "reset" : "FIN");
		else
			finish(rp, c, TAPE_REPLAY_TIMEOUT, -ETIMEDOUT,
			       "%s sent %llu of the %llu reply bytes recorded, then nothing for %u ms", ep,
			       (unsigned long long)c->seg_recv, (unsigned long long)(a->arg - c->seg_exp_start),
			       rp->o.timeout_ms);
		return STEP_FINISHED;
	}
	next = ref + timeout;
	if (rp->o.verify && quiet < settle && ref + settle < next)
		next = ref + settle;
	tape__timer_start(rp->loop, &c->timer, next);
	return STEP_BLOCKED;
}

static int start_connect(struct tape_replay *rp, struct live *c)
{
	struct sockaddr_storage ss;
	socklen_t len = tape__endpoint_to_sockaddr(&c->rc->target, &ss);
	struct tape__stream_opts so;
	int rc;

	memset(&so, 0, sizeof so);
	so.nodelay = 1;
	so.wq_max = TAPE_MAX_DATA + (1u << 20);
	so.connect_timeout_ns = (uint64_t)rp->o.timeout_ms * 1000000u;
	if (!len)
		return TAPE_EUSAGE;
	rc = tape__stream_connect(rp->loop, &c->s, (struct sockaddr *)&ss, len, &so, &stream_cbs, c);
	return rc;
}

/* Runs the chunk callback; returns the step result, or STEP_DONE with
 * data and len set to what to send. */
static enum stepr call_hook(struct tape_replay *rp, struct live *c, const struct act *a,
			    const uint8_t **data, size_t *len)
{
	struct tape_replay_chunk ch;
	struct tape_replay_edit *e = &rp->edit;
	int rc;

	*data = a->data;
	*len = a->len;
	if (!rp->o.chunk_fn)
		return STEP_DONE;
	memset(&ch, 0, sizeof ch);
	ch.conn = c->rc->id;
	ch.loop = rp->iter;
	ch.index = c->chunk_index;
	ch.offset = a->arg;
	ch.time_ns = a->rec_ns;
	ch.dir = TAPE_C2S;
	ch.data = a->data;
	ch.len = a->len;
	memset(e, 0, sizeof *e);
	e->action = TAPE_REPLAY_SEND;
	e->data = a->data;
	e->len = a->len;
	rc = rp->o.chunk_fn(rp->o.chunk_ctx, &ch, e);
	e->reason[sizeof e->reason - 1] = '\0';
	if (rc < 0 || (e->action == TAPE_REPLAY_SEND && e->len > TAPE_MAX_DATA) ||
	    (e->action == TAPE_REPLAY_SEND && e->len && !e->data)) {
		if (rc >= 0) {
			rc = TAPE_EUSAGE;
			snprintf(e->reason, sizeof e->reason, "the chunk callback returned %zu bytes%s",
				 e->len, e->data ? " (more than a chunk may hold)" : " and no data");
		}
		rp->fatal = rc;
		rperr(rp, rc, "connection %llu chunk %llu: %s", (unsigned long long)c->rc->id,
		      (unsigned long long)c->chunk_index, e->reason[0] ? e->reason : tape_strerror(rc));
		tape__loop_stop(rp->loop);
		return STEP_BLOCKED;
	}
	switch (e->action) {
	case TAPE_REPLAY_SKIP:
		return STEP_FINISHED; /* meaning: skip, for the caller */
	case TAPE_REPLAY_ABORT:
		c->chunk_index++;
		close_reply(rp, c, 1);
		finish(rp, c, TAPE_REPLAY_ABORTED, 0, "aborted before chunk %llu: %s",
		       (unsigned long long)(c->chunk_index - 1), e->reason[0] ? e->reason : "by the chunk callback");
		return STEP_BLOCKED; /* finished: the caller sees it */
	default:
		if (e->data != a->data || e->len != a->len)
			rp->st.chunks_rewritten++;
		*data = e->data;
		*len = e->len;
		return STEP_DONE;
	}
}

/* Plays c's next action as far as it can go now. */
static enum stepr play(struct tape_replay *rp, struct live *c)
{
	const struct act *a;
	int rc;

	if (c->finished)
		return STEP_FINISHED;
	if (c->pc >= c->rc->nacts) {
		finish(rp, c, TAPE_REPLAY_OK, 0, NULL);
		return STEP_FINISHED;
	}
	a = &c->rc->acts[c->pc];
	if ((a->kind == A_SEND || a->kind == A_FIN) && c->connected && (!c->s || (c->sock_err && !c->peer_done))) {
		if (!c->sock_err)
			c->sock_err = -ECONNRESET;
		return lost(rp, c);
	}
	switch (a->kind) {
	case A_CONNECT:
		if (c->phase == 0) {
			if (gate(rp, c, a))
				return STEP_BLOCKED;
			skew_sample(rp, c->late_ns);
			c->res.start_ns = tape__clock_ns() - rp->run_start;
			c->phase = 1;
			rc = start_connect(rp, c);
			if (rc) {
				char ep[TAPE_ENDPOINT_STRLEN];
				tape_endpoint_format(&c->rc->target, ep, sizeof ep);
				finish(rp, c, TAPE_REPLAY_CONNECT, rc, "connect to %s: %s", ep, tape_strerror(rc));
				return STEP_FINISHED;
			}
			return STEP_BLOCKED;
		}
		if (!c->connected)
			return STEP_BLOCKED;
		advance(c);
		return STEP_DONE;

	case A_SEND:
		if (c->phase == 0) {
			const uint8_t *data;
			size_t len;
			enum stepr h;
			if (gate(rp, c, a))
				return STEP_BLOCKED;
			close_reply(rp, c, 0);
			h = call_hook(rp, c, a, &data, &len);
			if (c->finished)
				return STEP_FINISHED;
			if (rp->fatal)
				return STEP_BLOCKED;
			c->chunk_index++;
			if (h == STEP_FINISHED) { /* skipped */
				c->seg_skip = 1;
				c->res.skipped++;
				rp->st.chunks_skipped++;
				advance(c);
				return STEP_DONE;
			}
			skew_sample(rp, c->late_ns);
			if (len) {
				rc = tape__stream_write(c->s, data, len);
				if (rc) {
					finish(rp, c, TAPE_REPLAY_RESET, rc, "sending chunk %llu: %s",
					       (unsigned long long)(c->chunk_index - 1), tape_strerror(rc));
					return STEP_FINISHED;
				}
				record_data(rp, c, TAPE_C2S, data, len);
				c->res.sent += len;
				rp->st.bytes_sent += len;
			}
			c->res.chunks++;
			rp->st.chunks_sent++;
			c->phase = 1;
		}
		if (tape__stream_queued(c->s))
			return STEP_BLOCKED;
		advance(c);
		return STEP_DONE;

	case A_WAIT:
	case A_WAIT_EOF: {
		enum stepr r = wait_step(rp, c, a);
		if (r == STEP_DONE) {
			if (a->kind == A_WAIT)
				c->exp_cum = a->arg;
			tape__timer_stop(rp->loop, &c->timer);
			advance(c);
		}
		return r;
	}

	case A_FIN:
		if (gate(rp, c, a))
			return STEP_BLOCKED;
		close_reply(rp, c, 0);
		rc = tape__stream_shutdown(c->s);
		if (rc) {
			finish(rp, c, TAPE_REPLAY_RESET, rc, "shutting down: %s", tape_strerror(rc));
			return STEP_FINISHED;
		}
		c->shut = 1;
		record_simple(rp, c, TAPE_EV_FIN, TAPE_C2S);
		c->rec_fin_c2s = 1;
		advance(c);
		return STEP_DONE;

	case A_RST:
		if (gate(rp, c, a))
			return STEP_BLOCKED;
		close_reply(rp, c, 1);
		record_simple(rp, c, TAPE_EV_RST, TAPE_C2S);
		c->rec_fin_c2s = 1;
		tape__stream_abort(c->s);
		c->s = NULL;
		finish(rp, c, TAPE_REPLAY_OK, 0, NULL);
		return STEP_FINISHED;

	case A_GAP:
		close_reply(rp, c, 1);
		finish(rp, c, TAPE_REPLAY_GAP, 0,
		       "the recording misses %llu client bytes at c2s offset %llu: cannot send them",
		       (unsigned long long)a->arg, (unsigned long long)a->len);
		return STEP_FINISHED;

	case A_END:
		if (gate(rp, c, a))
			return STEP_BLOCKED;
		close_reply(rp, c, 1);
		finish(rp, c, TAPE_REPLAY_OK, 0, NULL);
		return STEP_FINISHED;
	}
	return STEP_BLOCKED;
}

/* ---- drivers --------------------------------------------------------------------- */

static void iteration_check(struct tape_replay *rp)
{
	if (rp->done == rp->nsel && !tape__timer_armed(&rp->iter_timer))
		tape__timer_start(rp->loop, &rp->iter_timer, 0);
}

static void drive_ordered(struct tape_replay *rp)
{
	if (rp->in_drive) {
		rp->redrive = 1;
		return;
	}
	rp->in_drive = 1;
	do {
		rp->redrive = 0;
		while (rp->cursor < rp->nglobal && !rp->fatal && !rp->stop_req) {
			struct gact g = rp->global[rp->cursor];
			struct live *c = &rp->lv[g.conn];
			if (c->finished) {
				rp->cursor++;
				continue;
			}
			if (play(rp, c) == STEP_BLOCKED)
				break;
			rp->cursor++;
		}
	} while (rp->redrive && !rp->fatal && !rp->stop_req);
	rp->in_drive = 0;
	iteration_check(rp);
}

static void start_more(struct tape_replay *rp);

static void drive_conn(struct tape_replay *rp, struct live *c)
{
	while (!c->finished && !rp->fatal && !rp->stop_req)
		if (play(rp, c) == STEP_BLOCKED)
			break;
}

static void drive(struct tape_replay *rp, struct live *c)
{
	if (rp->o.unordered) {
		drive_conn(rp, c);
		if (c->finished)
			start_more(rp);
		iteration_check(rp);
	} else {
		drive_ordered(rp);
	}
}

/* Unordered: starts connections whose time has come while slots are free. */
static void start_more(struct tape_replay *rp)
{
	if (rp->in_start)
		return;
	rp->in_start = 1;
	while (rp->next_start < rp->nsel && !rp->fatal && !rp->stop_req) {
		struct live *c = &rp->lv[rp->next_start];
		uint64_t now, due;
		if (rp->o.concurrency && rp->active >= rp->o.concurrency)
			break;
		if (rp->o.timing == TAPE_REPLAY_TIMING_ORIGINAL) {
			now = tape__clock_ns();
			due = rp->t0 + c->rc->acts[0].sched_ns;
			if (now < due) {
				tape__timer_start(rp->loop, &rp->start_timer, due);
				break;
			}
			if (rp->o.concurrency)
				c->shift_ns = now - due;
		}
		rp->next_start++;
		rp->active++;
		c->holds_slot = 1;
		drive_conn(rp, c);
		/* A connection that ended at once released its slot in finish(). */
	}
	rp->in_start = 0;
	iteration_check(rp);
}

static void start_timer_fired(struct tape__timer *t, void *arg)
{
	(void)t;
	start_more(arg);
}

static int start_iteration(struct tape_replay *rp)
{
	free(rp->lv);
	rp->lv = calloc(rp->nsel ? rp->nsel : 1, sizeof *rp->lv);
	if (!rp->lv)
		return rperr(rp, -ENOMEM, "out of memory");
	/* lv is indexed by position in sel; the global list by conn index:
	 * map it once. */
	for (size_t i = 0; i < rp->nsel; i++) {
		struct live *c = &rp->lv[i];
		c->rp = rp;
		c->rc = &rp->conns[rp->sel[i]];
		tape__timer_init(&c->timer, conn_timer, c);
		c->res.conn = c->rc->id;
		c->res.loop = rp->iter;
		c->res.status = TAPE_REPLAY_PENDING;
		c->res.target = c->rc->target;
		c->res.expected = c->rc->s2c;
		c->rec_id = rp->o.loops == 1 ? c->rc->id : ++rp->rec_seq;
		rp->st.bytes_expected += c->rc->s2c;
	}
	rp->t0 = tape__clock_ns();
	rp->cursor = rp->next_start = rp->active = rp->done = 0;
	if (rp->o.unordered)
		start_more(rp);
	else
		drive_ordered(rp);
	return 0;
}

static void stop_all(struct tape_replay *rp)
{
	if (!rp->lv)
		return;
	for (size_t i = 0; i < rp->nsel; i++) {
		struct live *c = &rp->lv[i];
		if (!c->finished)
			finish(rp, c, TAPE_REPLAY_PENDING, 0, "not finished: the replay was stopped");
	}
}

static void iter_fired(struct tape__timer *t, void *arg)
{
	struct tape_replay *rp = arg;
	int rc;

	(void)t;
	if (rp->fatal || rp->stop_req || rp->iter + 1 >= rp->o.loops) {
		tape__loop_stop(rp->loop);
		return;
	}
	rp->iter++;
	rc = start_iteration(rp);
	if (rc) {
		rp->fatal = rc;
		tape__loop_stop(rp->loop);
	}
}

static void progress_fired(struct tape__timer *t, void *arg)
{
	struct tape_replay *rp = arg;
	struct tape_replay_stats st;

	tape_replay_stats(rp, &st);
	rp->o.progress_fn(rp->o.progress_ctx, &st);
	tape__timer_start(rp->loop, t, tape__clock_ns() + PROGRESS_NS);
}

/* The global list names connections by their index in conns; while
 * playing it is looked up in lv by position in sel. */
static int reindex_global(struct tape_replay *rp)
{
	size_t *pos = malloc(rp->nconns * sizeof *pos);

	if (!pos)
		return rperr(rp, -ENOMEM, "out of memory");
	for (size_t i = 0; i < rp->nsel; i++)
		pos[rp->sel[i]] = i;
	for (size_t i = 0; i < rp->nglobal; i++)
		rp->global[i].conn = pos[rp->global[i].conn];
	free(pos);
	return 0;
}

/* Runs every loop of the selection on a fresh event loop; returns 0 or
 * the error that stopped it (see tapedeck.h). */
int tape_replay_run(struct tape_replay *rp)
{
	int rc;

	if (rp->ran)
		return rperr(rp, TAPE_EUSAGE, "a replay runs once");
	rp->ran = 1;
	if ((rc = reindex_global(rp)))
		return rc;
	if ((rc = tape__loop_new(&rp->loop)))
		return rperr(rp, rc, "cannot create the event loop: %s", tape_strerror(rc));
	if (rp->o.timing == TAPE_REPLAY_TIMING_ORIGINAL)
		tape__loop_set_spin(rp->loop, rp->o.spin_ns);
	tape__timer_init(&rp->iter_timer, iter_fired, rp);
	tape__timer_init(&rp->start_timer, start_timer_fired, rp);
	tape__timer_init(&rp->progress_timer, progress_fired, rp);
	rp->run_start = tape__clock_ns();
	rp->running = 1;
	if (rp->o.progress_fn)
		tape__timer_start(rp->loop, &rp->progress_timer, rp->run_start + PROGRESS_NS);
	rc = start_iteration(rp);
	if (!rc && !rp->stop_req)
		rc = tape__loop_run(rp->loop);
	if (rc && !rp->fatal) {
		rp->fatal = rc;
		if (!rp->err[0])
			rperr(rp, rc, "event loop: %s", tape_strerror(rc));
	}
	stop_all(rp);
	rp->run_end = tape__clock_ns();
	rp->running = 0;
	tape__loop_free(rp->loop);
	rp->loop = NULL;
	if (rp->o.progress_fn) {
		struct tape_replay_stats st;
		tape_replay_stats(rp, &st);
		rp->o.progress_fn(rp->o.progress_ctx, &st);
	}
	return rp->fatal;
}

/* Frees everything, results and mismatch records included; accepts NULL. */
void tape_replay_free(struct tape_replay *rp)
{
	if (!rp)
		return;
	if (rp->loop)
		tape__loop_free(rp->loop);
	if (rp->lv) {
		for (size_t i = 0; i < rp->nsel; i++) {
			free(rp->lv[i].rbuf);
			free(rp->lv[i].detail);
		}
		free(rp->lv);
	}
	for (size_t i = 0; i < rp->nconns; i++) {
		free(rp->conns[i].acts);
		free(rp->conns[i].exp);
		free(rp->conns[i].gaps);
	}
	free(rp->conns);
	while (rp->arena) {
		struct arena_block *b = rp->arena;
		rp->arena = b->next;
		free(b);
	}
	free(rp->hkeys);
	free(rp->hvals);
	free(rp->global);
	free(rp->sel);
	for (size_t i = 0; i < rp->nresults; i++)
		free(rp->results[i].detail);
	free(rp->results);
	for (size_t i = 0; i < rp->nmms; i++) {
		free(rp->mms[i].exp_win);
		free(rp->mms[i].got_win);
		free(rp->mms[i].report);
	}
	free(rp->mms);
	tape__mask_free(rp->mask);
	free(rp);
}
