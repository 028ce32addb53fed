/* SPDX-License-Identifier: BSD-2-Clause */
/* reasm.c - TCP reassembly: captured segments in, ordered per-connection tape events out. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkt.h"
#include "tape-int.h"

/*
 * The semantics are specified in doc/reassembly.md; this comment is the map.
 *
 * Each direction of a connection is a byte stream numbered by "stream
 * offset": offset 0 is the byte after the SYN (RFC 9293 section 3.4: the SYN
 * occupies the initial sequence number), or, for a direction picked up
 * mid-stream, the first sequence number learnt for it (its first segment's,
 * or the peer's ACK field if that came first).  32-bit sequence numbers are turned
 * into 64-bit offsets with serial-number arithmetic (RFC 1982) relative to
 * the next offset to deliver, so wrap-around costs nothing.
 *
 * Per direction:
 *
 *     delivered (DATA) or declared lost (GAP)   holes and out-of-order chunks
 *   |------------------------------------------|----[chunk]----[chunk]----->
 *   0                  hist->lo ....... hist->hi = next
 *
 * Everything below `next` has been emitted.  Bytes above it wait in a sorted
 * list of disjoint chunks (a chunk either holds captured bytes or marks bytes
 * a snaplen cut off).  The last TAPE__REASM_HISTORY stream positions below
 * next stay in a ring, with a short list of the gaps among them, so that
 * retransmissions can be compared with what was delivered.
 *
 * A hole is given up as lost when the peer acknowledges beyond the first
 * thing captured after it (RFC 9293 cumulative ACK; the ACK must be seen
 * after that byte, so an ACK overtaking the data it acknowledges, as mirror
 * ports that copy each direction separately produce, proves nothing yet),
 * when a cap needs the memory, or when the connection ends.
 *
 * Connections live in a chained hash table keyed by the unordered endpoint
 * pair, so both directions find the same entry.  Live connections are on an
 * LRU list ordered by last activity (idle timeout and eviction take the
 * tail); connections closed by FIN or RST stay as tombstones on a FIFO for
 * TIME-WAIT so that stragglers are recognised and a new SYN is seen as
 * reuse; connections holding history are on a third list so memory pressure
 * can drop history (a cache) before evicting anybody.  A connection that has
 * seen only its client's SYN keeps the record of the tuple's previous
 * connection (`prev`, out of the table) to recognise that one's stragglers.
 *
 * Errors (from the emit callback, or -ENOMEM) are sticky: processing of the
 * current call finishes so every structure stays consistent, no further
 * callback is made, and every later call returns the error.
 */

#define CHUNK_COST 64u           /* bookkeeping charged per buffered chunk besides its bytes */
#define HIST_MIN 256u            /* first history ring; doubles up to TAPE__REASM_HISTORY */
#define HASH_MIN 1024u           /* initial hash buckets (a power of two) */
#define SEQ_HALF UINT32_C(0x80000000)
#define NOTE_MAX 512u            /* our notes are short sentences */
/* Sequence distance within which a segment is still taken for the same
 * connection when the capture may have missed or reordered what lies in
 * between: a handshake captured late (ISN + 1 this far before offset 0), a
 * segment of a connection whose handshake the capture partly missed.  1 MiB:
 * more than is in flight on most paths, 1/4096 of the sequence space. */
#define NEAR_WIN (UINT32_C(1) << 20)

struct dlink {
	struct dlink *prev, *next;
};

struct chunk {
	struct chunk *next;
	uint64_t off;  /* stream offset of the first byte */
	uint32_t len;
	uint8_t gap;   /* 1: bytes a snaplen cut off (no data follows) */
	uint8_t data[];
};

/* The window [lo, hi) of stream positions just below next: bytes delivered
 * there are in ring[pos & (cap - 1)], except inside the listed gaps (sorted,
 * disjoint, within the window).  When a gap would overflow the list, the
 * window starts after the oldest one instead. */
#define HIST_GAPS 8u
struct hist {
	size_t cap;              /* a power of two, at most TAPE__REASM_HISTORY */
	uint64_t lo, hi;
	unsigned ngap;
	uint64_t gap[HIST_GAPS][2];
	uint8_t ring[];
};

struct half {
	uint32_t base_seq;       /* sequence number of stream offset 0 */
	uint32_t isn;            /* the SYN's sequence number, when seen */
	uint8_t have_base, have_isn, fin_seen, fin_done;
	uint64_t next;           /* first offset neither delivered nor declared lost */
	uint64_t fin_off;        /* offset the FIN occupies */
	struct chunk *head, *tail; /* out-of-order chunks, sorted, disjoint, all above next */
	size_t mem;              /* charge of the chunks */
	struct hist *hist;       /* recent positions below next, or NULL */
	uint64_t lgap_lo, lgap_hi; /* the most recent GAP */
	uint64_t pgap;           /* declared lost, not yet emitted: [next - pgap, next) */
	uint64_t pgap_t;         /* time for that GAP */
};

struct conn {
	struct conn *hnext;      /* hash chain */
	struct dlink lru;        /* ra->lru while live, ra->tw when a tombstone */
	struct dlink hl;         /* ra->hl while holding history */
	uint64_t hash;
	uint64_t id;
	uint64_t last_ns;        /* last activity; close time for a tombstone */
	struct tape_endpoint ep[2]; /* [TAPE_C2S] client, [TAPE_S2C] server */
	uint32_t flags;          /* TAPE_OPEN_* */
	uint8_t closed;          /* tombstone */
	uint8_t roles_noted;
	uint8_t syn_sent;        /* opened by a SYN without ACK: in SYN-SENT until the
				    server side has an offset 0 (syn_sent_straggler) */
	struct conn *prev;       /* the tuple's previous connection, released and out of
				    the table, kept while this one is in SYN-SENT */
	struct half h[2];
};

struct tape__reasm {
	tape__emit_fn emit;
	void *ctx;
	uint64_t idle_ns, timewait_ns;
	size_t conn_mem, total_mem, max_conns;
	struct conn **bucket;
	size_t nbucket, nconn, nlive; /* nconn counts tombstones too */
	uint64_t seed;
	struct dlink lru, tw, hl;
	size_t ooo_mem, hist_mem;
	uint64_t clock, last_time, last_id;
	int err;
	struct {                 /* the DATA event being assembled */
		struct conn *c;
		int d;
		uint64_t t, off;
		const uint8_t *p;
		size_t len;
		int copied;      /* p is scratch */
	} run;
	uint8_t *scratch;
	size_t scratch_cap;
	struct tape__reasm_stats st;
};

/* Bytes of one segment that start at the next offset to deliver:
 * captured bytes [off, dend), then bytes the snaplen cut [dend, wend). */
struct piece {
	uint64_t off;
	const uint8_t *data;
	uint64_t dend, wend;
};

#define CONN_OF(l, field) ((struct conn *)(void *)((char *)(l) - offsetof(struct conn, field)))

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* ---- lists ----------------------------------------------------------------- */

static void dl_init(struct dlink *l) { l->prev = l->next = l; }
static int dl_empty(const struct dlink *l) { return l->next == l; }

static void dl_del(struct dlink *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

/* Puts l first (most recent) on the list headed by head. */
static void dl_push(struct dlink *head, struct dlink *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

/* ---- the connection table --------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

static size_t addr_len(const struct tape_endpoint *ep)
{
	return ep->family == 4 ? 4 : 16;
}

static uint64_t ep_hash(const struct tape__reasm *ra, const struct tape_endpoint *ep)
{
	uint8_t a[16] = {0};
	uint64_t w0, w1;

	memcpy(a, ep->addr, addr_len(ep));
	memcpy(&w0, a, 8);
	memcpy(&w1, a + 8, 8);
	return mix(ra->seed ^ w0 ^ (w1 * UINT64_C(0x9e3779b97f4a7c15)) ^
		   (((uint64_t)ep->port << 8 | ep->family) * UINT64_C(0xc2b2ae3d27d4eb4f)));
}

/* The same value for (a, b) and (b, a). */
static uint64_t tuple_hash(const struct tape__reasm *ra, const struct tape_endpoint *a,
			   const struct tape_endpoint *b)
{
	uint64_t x = ep_hash(ra, a), y = ep_hash(ra, b);

	if (x > y) {
		uint64_t t = x;
		x = y;
		y = t;
	}
	return mix(x ^ mix(y + ra->seed));
}

static int ep_eq(const struct tape_endpoint *a, const struct tape_endpoint *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, addr_len(a));
}

static struct conn *lookup(const struct tape__reasm *ra, const struct tape_endpoint *src,
			   const struct tape_endpoint *dst, int *dir)
{
	uint64_t h = tuple_hash(ra, src, dst);

	for (struct conn *c = ra->bucket[h & (ra->nbucket - 1)]; c; c = c->hnext) {
		if (c->hash != h)
			continue;
		if (ep_eq(src, &c->ep[TAPE_C2S]) && ep_eq(dst, &c->ep[TAPE_S2C])) {
			*dir = TAPE_C2S;
			return c;
		}
		if (ep_eq(src, &c->ep[TAPE_S2C]) && ep_eq(dst, &c->ep[TAPE_C2S])) {
			*dir = TAPE_S2C;
			return c;
		}
	}
	return NULL;
}

/* Doubles the bucket array; on allocation failure the chains just get longer. */
static void table_grow(struct tape__reasm *ra)
{
	size_t n = ra->nbucket * 2;
	struct conn **nb = calloc(n, sizeof *nb);

	if (!nb)
		return;
	for (size_t i = 0; i < ra->nbucket; i++) {
		struct conn *c = ra->bucket[i], *next;
		for (; c; c = next) {
			next = c->hnext;
			c->hnext = nb[c->hash & (n - 1)];
			nb[c->hash & (n - 1)] = c;
		}
	}
	free(ra->bucket);
	ra->bucket = nb;
	ra->nbucket = n;
}

static void table_insert(struct tape__reasm *ra, struct conn *c)
{
	struct conn **b;

	if (ra->nconn + 1 > ra->nbucket)
		table_grow(ra);
	b = &ra->bucket[c->hash & (ra->nbucket - 1)];
	c->hnext = *b;
	*b = c;
	ra->nconn++;
}

static void table_remove(struct tape__reasm *ra, struct conn *c)
{
	struct conn **pp = &ra->bucket[c->hash & (ra->nbucket - 1)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	ra->nconn--;
}

/* ---- events ------------------------------------------------------------------ */

/* Every event goes through here: time never goes backwards (a capture whose
 * clock steps back is clamped to the last time emitted), and after an error
 * nothing more reaches the callback. */
static void emit(struct tape__reasm *ra, struct tape_event *ev, uint64_t t)
{
	int rc;

	if (t < ra->last_time)
		t = ra->last_time;
	ra->last_time = t;
	ev->time_ns = t;
	if (ra->err)
		return;
	rc = ra->emit(ra->ctx, ev);
	if (rc < 0)
		ra->err = rc;
}

static void ev_start(struct tape_event *ev, enum tape_event_kind kind, const struct conn *c, int d)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->conn = c->id;
	ev->dir = (enum tape_dir)d;
}

static void emit_simple(struct tape__reasm *ra, const struct conn *c, enum tape_event_kind kind,
			int d, uint64_t t)
{
	struct tape_event ev;

	ev_start(&ev, kind, c, d);
	emit(ra, &ev, t);
}

static void note(struct tape__reasm *ra, const struct conn *c, uint64_t t, const char *fmt, ...)
	TAPE__PRINTF(4, 5);
static void note(struct tape__reasm *ra, const struct conn *c, uint64_t t, const char *fmt, ...)
{
	char buf[NOTE_MAX];
	struct tape_event ev;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	ev_start(&ev, TAPE_EV_NOTE, c, TAPE_C2S);
	ev.data = (const uint8_t *)buf;
	ev.len = strlen(buf);
	emit(ra, &ev, t);
}

static const char *dname(int d)
{
	return tape_dir_name((enum tape_dir)d);
}

/* ---- out-of-order chunks ------------------------------------------------------ */

static size_t chunk_charge(const struct chunk *ch)
{
	return CHUNK_COST + (ch->gap ? 0 : ch->len);
}

/* A chunk for [off, off + len) holding data, or marking cut bytes when data
 * is NULL.  NULL (and the sticky error) when out of memory; the caller
 * counts the bytes it could not keep. */
static struct chunk *chunk_new(struct tape__reasm *ra, uint64_t off, uint64_t len, const uint8_t *data)
{
	struct chunk *ch = malloc(sizeof *ch + (data ? (size_t)len : 0));

	if (!ch) {
		ra->err = -ENOMEM;
		return NULL;
	}
	ch->next = NULL;
	ch->off = off;
	ch->len = (uint32_t)len;
	ch->gap = !data;
	if (data)
		memcpy(ch->data, data, (size_t)len);
	return ch;
}

static void charge(struct tape__reasm *ra, struct half *h, size_t add, size_t sub)
{
	h->mem = h->mem + add - sub;
	ra->ooo_mem = ra->ooo_mem + add - sub;
}

/* Links ch at *pp (prev is the chunk owning pp, NULL for the head). */
static void chunk_link(struct tape__reasm *ra, struct half *h, struct chunk **pp, struct chunk *ch)
{
	ch->next = *pp;
	*pp = ch;
	if (!ch->next)
		h->tail = ch;
	charge(ra, h, chunk_charge(ch), 0);
}

static void chunk_unlink(struct tape__reasm *ra, struct half *h, struct chunk **pp, struct chunk *prev)
{
	struct chunk *ch = *pp;

	*pp = ch->next;
	if (h->tail == ch)
		h->tail = prev;
	charge(ra, h, 0, chunk_charge(ch));
	free(ch);
}

static void chunks_free(struct tape__reasm *ra, struct half *h)
{
	while (h->head)
		chunk_unlink(ra, h, &h->head, NULL);
}

/* Drops what lies at or beyond lim (the FIN): those bytes came after the
 * sender's FIN and are counted in after_fin_bytes. */
static void chunks_trim(struct tape__reasm *ra, struct half *h, uint64_t lim)
{
	struct chunk **pp = &h->head, *prev = NULL, *ch;

	while ((ch = *pp)) {
		uint64_t end = ch->off + ch->len;
		if (ch->off >= lim) {
			if (!ch->gap)
				ra->st.after_fin_bytes += ch->len;
			chunk_unlink(ra, h, pp, prev);
			continue;
		}
		if (end > lim) {
			uint32_t k = (uint32_t)(end - lim);
			if (!ch->gap) {
				ra->st.after_fin_bytes += k;
				charge(ra, h, 0, k);
			}
			ch->len -= k;
		}
		prev = ch;
		pp = &ch->next;
	}
}

/* ---- history of delivered bytes ----------------------------------------------- */

static void ring_put(uint8_t *ring, size_t cap, uint64_t off, const uint8_t *p, size_t n)
{
	size_t pos = (size_t)(off & (cap - 1)), k = n < cap - pos ? n : cap - pos;

	memcpy(ring + pos, p, k);
	memcpy(ring, p + k, n - k);
}

/* Contiguous bytes of the ring starting at off, at most n. */
static const uint8_t *ring_span(const uint8_t *ring, size_t cap, uint64_t off, size_t n, size_t *k)
{
	size_t pos = (size_t)(off & (cap - 1));

	*k = n < cap - pos ? n : cap - pos;
	return ring + pos;
}

static void hist_drop(struct tape__reasm *ra, struct conn *c)
{
	for (int d = 0; d < 2; d++) {
		struct half *h = &c->h[d];
		if (h->hist)
			ra->hist_mem -= sizeof *h->hist + h->hist->cap;
		free(h->hist);
		h->hist = NULL;
	}
	dl_del(&c->hl);
}

/*
 * Extends the window of direction d from `from` (where it must end; if not,
 * it starts afresh there) to `to`, sliding its start.  The ring is first
 * allocated or grown toward TAPE__REASM_HISTORY for data (data set), and for
 * a gap shorter than that (a longer one leaves nothing else in the window,
 * so it never costs memory).  Returns the history or NULL: history is a
 * cache, and when it cannot be had older bytes simply become unverifiable.
 */
static struct hist *hist_reach(struct tape__reasm *ra, struct conn *c, int d, uint64_t from,
			       uint64_t to, int data)
{
	struct half *h = &c->h[d];
	struct hist *hs = h->hist;
	int grow = data || to - from < TAPE__REASM_HISTORY;
	size_t want;
	unsigned k;

	if (!hs && !grow)
		return NULL;
	if (hs && hs->hi != from) {
		hs->lo = hs->hi = from;
		hs->ngap = 0;
	}
	want = (size_t)min64(to - (hs ? hs->lo : from), TAPE__REASM_HISTORY);
	if (grow && (!hs || hs->cap < want)) {
		size_t cap = hs ? hs->cap : HIST_MIN;
		struct hist *ns;
		while (cap < want)
			cap *= 2;
		ns = malloc(sizeof *ns + cap);
		if (ns) {
			if (hs) {
				memcpy(ns, hs, sizeof *ns);
				for (uint64_t o = hs->lo; o < hs->hi;) {
					size_t n;
					const uint8_t *p = ring_span(hs->ring, hs->cap, o, (size_t)(hs->hi - o), &n);
					ring_put(ns->ring, cap, o, p, n);
					o += n;
				}
				ra->hist_mem -= sizeof *hs + hs->cap;
				free(hs);
			} else {
				ns->lo = ns->hi = from;
				ns->ngap = 0;
			}
			ns->cap = cap;
			ra->hist_mem += sizeof *ns + cap;
			h->hist = hs = ns;
		} else if (!hs) {
			return NULL;
		}
	}
	if (to - hs->lo > hs->cap)
		hs->lo = to - hs->cap;
	for (k = 0; k < hs->ngap && hs->gap[k][1] <= hs->lo; k++)
		;
	if (k) {
		memmove(hs->gap, hs->gap + k, (hs->ngap - k) * sizeof hs->gap[0]);
		hs->ngap -= k;
	}
	if (hs->ngap && hs->gap[0][0] < hs->lo)
		hs->gap[0][0] = hs->lo;
	dl_del(&c->hl);
	dl_push(&ra->hl, &c->hl);
	return hs;
}

/* Remembers n bytes delivered at off. */
static void hist_add(struct tape__reasm *ra, struct conn *c, int d, uint64_t off, const uint8_t *p,
		     size_t n)
{
	struct hist *hs = hist_reach(ra, c, d, off, off + n, 1);
	uint64_t end = off + n;

	if (!hs)
		return;
	if (n > hs->cap) {
		p += n - hs->cap;
		off += n - hs->cap;
		n = hs->cap;
	}
	ring_put(hs->ring, hs->cap, off, p, n);
	hs->hi = end;
}

/* Remembers that [from, to) was declared lost. */
static void hist_gap(struct tape__reasm *ra, struct conn *c, int d, uint64_t from, uint64_t to)
{
	struct hist *hs = hist_reach(ra, c, d, from, to, 0);

	if (!hs)
		return;
	from = max64(from, hs->lo);
	if (hs->ngap && hs->gap[hs->ngap - 1][1] == from) {
		hs->gap[hs->ngap - 1][1] = to;
	} else if (from < to) {
		if (hs->ngap == HIST_GAPS) {
			hs->lo = hs->gap[0][1];
			memmove(hs->gap, hs->gap + 1, (HIST_GAPS - 1) * sizeof hs->gap[0]);
			hs->ngap--;
		}
		hs->gap[hs->ngap][0] = from;
		hs->gap[hs->ngap][1] = to;
		hs->ngap++;
	}
	hs->hi = to;
}

/* ---- comparing retransmissions -------------------------------------------------- */

static size_t count_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t diffs = 0;

	if (!memcmp(a, b, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		diffs += a[i] != b[i];
	return diffs;
}

/* Accounts one comparison of n retransmitted bytes at off: equal bytes are
 * duplicates, different ones a conflict (first copy wins) with a note. */
static void compared(struct tape__reasm *ra, const struct conn *c, int d, uint64_t off, size_t n,
		     size_t diffs, const char *what, uint64_t t)
{
	ra->st.dup_bytes += n - diffs;
	if (!diffs)
		return;
	ra->st.conflicts++;
	ra->st.conflict_bytes += diffs;
	note(ra, c, t, "%s retransmission at stream offset %llu differs from the %s bytes (%zu of %zu bytes)",
	     dname(d), (unsigned long long)off, what, diffs, n);
}

/*
 * n retransmitted bytes at off, all below next.  Inside the history window
 * they are compared with what was delivered, or counted as dropped where
 * they fall in a gap already declared (too late to be used); below the
 * window, bytes in the most recent gap are dropped as well and the rest
 * cannot be verified.
 */
static void compare_old(struct tape__reasm *ra, const struct conn *c, int d, uint64_t off,
			const uint8_t *p, size_t n, uint64_t t)
{
	const struct half *h = &c->h[d];
	const struct hist *hs = h->hist;
	uint64_t end = off + n, wlo = end, whi = end, lo, hi;
	uint64_t first = 0, cmp = 0, late = 0;
	size_t diffs = 0;

	if (hs) {
		wlo = max64(off, hs->lo);
		whi = max64(wlo, min64(end, hs->hi));
	}
	for (uint64_t o = wlo; o < whi;) {
		uint64_t e = whi;
		unsigned g;
		for (g = 0; g < hs->ngap && hs->gap[g][1] <= o; g++)
			;
		if (g < hs->ngap && hs->gap[g][0] <= o) {
			e = min64(whi, hs->gap[g][1]);
			late += e - o;
			o = e;
			continue;
		}
		if (g < hs->ngap)
			e = min64(whi, hs->gap[g][0]);
		if (!cmp)
			first = o;
		cmp += e - o;
		while (o < e) {
			size_t k;
			const uint8_t *r = ring_span(hs->ring, hs->cap, o, (size_t)(e - o), &k);
			diffs += count_diff(p + (o - off), r, k);
			o += k;
		}
	}
	if (cmp)
		compared(ra, c, d, first, (size_t)cmp, diffs, "delivered", t);
	lo = max64(off, h->lgap_lo);
	hi = min64(min64(end, wlo), h->lgap_hi);
	if (lo < hi)
		late += hi - lo;
	ra->st.dropped_bytes += late;
	ra->st.unverified_bytes += n - cmp - late;
}

/* ---- delivery ---------------------------------------------------------------------- */

static void run_start(struct tape__reasm *ra, struct conn *c, int d, uint64_t t)
{
	ra->run.c = c;
	ra->run.d = d;
	ra->run.t = t;
	ra->run.off = c->h[d].next;
	ra->run.len = 0;
	ra->run.copied = 0;
}

static void gap_flush(struct tape__reasm *ra, struct conn *c, int d);

static void run_flush(struct tape__reasm *ra)
{
	struct tape_event ev;

	if (!ra->run.len)
		return;
	gap_flush(ra, ra->run.c, ra->run.d);
	ev_start(&ev, TAPE_EV_DATA, ra->run.c, ra->run.d);
	ev.data = ra->run.p;
	ev.len = ra->run.len;
	emit(ra, &ev, ra->run.t);
	hist_add(ra, ra->run.c, ra->run.d, ra->run.off, ra->run.p, ra->run.len);
	ra->run.off += ra->run.len;
	ra->run.len = 0;
	ra->run.copied = 0;
}

/* Appends n bytes to the DATA event being built.  stable bytes (the
 * caller's segment) may be passed on without a copy when they come first;
 * anything else is copied into the scratch buffer.  Events are split at
 * TAPE_MAX_DATA. */
static void run_add(struct tape__reasm *ra, const uint8_t *p, uint64_t n, int stable)
{
	while (n) {
		size_t k;
		if (ra->run.len == TAPE_MAX_DATA)
			run_flush(ra);
		k = (size_t)min64(n, TAPE_MAX_DATA - ra->run.len);
		if (!ra->run.len && stable) {
			ra->run.p = p;
			ra->run.len = k;
			ra->run.copied = 0;
		} else {
			size_t need = ra->run.len + k;
			if (need > ra->scratch_cap) {
				size_t cap = ra->scratch_cap ? ra->scratch_cap : 4096;
				uint8_t *ns;
				while (cap < need)
					cap *= 2;
				ns = realloc(ra->scratch, cap);
				if (!ns) {
					ra->err = -ENOMEM;
					ra->st.dropped_bytes += n;
					return;
				}
				ra->scratch = ns;
				ra->scratch_cap = cap;
				if (ra->run.copied)
					ra->run.p = ns;
			}
			if (!ra->run.copied && ra->run.len)
				memcpy(ra->scratch, ra->run.p, ra->run.len);
			memcpy(ra->scratch + ra->run.len, p, k);
			ra->run.p = ra->scratch;
			ra->run.copied = 1;
			ra->run.len += k;
		}
		p += k;
		n -= k;
	}
}

/* Emits the pending GAP of direction d, if any.  Adjacent declarations
 * (a hole, then bytes a snaplen cut) come out as one event. */
static void gap_flush(struct tape__reasm *ra, struct conn *c, int d)
{
	struct half *h = &c->h[d];

	while (h->pgap) {
		uint64_t n = min64(h->pgap, TAPE_MAX_GAP);
		struct tape_event ev;
		ev_start(&ev, TAPE_EV_GAP, c, d);
		ev.gap = n;
		emit(ra, &ev, h->pgap_t);
		ra->st.gaps++;
		ra->st.gap_bytes += n;
		h->pgap -= n;
	}
}

/* Declares [next, upto) lost: bytes the sender sent that were never
 * captured.  The GAP goes out before the next event of the direction (every
 * caller ends with deliver(), which flushes it). */
static void declare_gap(struct tape__reasm *ra, struct conn *c, int d, uint64_t upto, uint64_t t)
{
	struct half *h = &c->h[d];

	if (upto <= h->next)
		return;
	if (!h->pgap) {
		h->lgap_lo = h->next;
		h->pgap_t = t;
	}
	hist_gap(ra, c, d, h->next, upto);
	h->pgap += upto - h->next;
	h->next = upto;
	h->lgap_hi = upto;
}

/*
 * Delivers everything that is contiguous at next: the segment piece sp
 * (which then starts exactly at next) merged with buffered chunks, as one
 * DATA event per run of captured bytes and a GAP for each run of cut bytes.
 * Where the piece and a buffered chunk overlap, the chunk came first and
 * wins (the piece's bytes are compared); captured bytes replace bytes that
 * a chunk only marks as cut.  Emits the FIN once next reaches it.
 */
static void deliver(struct tape__reasm *ra, struct conn *c, int d, uint64_t t, const struct piece *sp)
{
	struct half *h = &c->h[d];

	run_start(ra, c, d, t);
	for (;;) {
		struct chunk *ch = h->head;
		uint64_t nx = h->next, lim;
		int seg_data = sp && nx < sp->dend;

		if (ch && ch->off == nx) {
			uint64_t cend = ch->off + ch->len;
			if (ch->gap && seg_data) {
				uint64_t k = min64(sp->dend, cend) - nx;
				run_add(ra, sp->data + (nx - sp->off), k, 1);
				h->next += k;
				ch->off += k;
				ch->len -= (uint32_t)k;
				if (!ch->len)
					chunk_unlink(ra, h, &h->head, NULL);
			} else if (ch->gap) {
				run_flush(ra);
				chunk_unlink(ra, h, &h->head, NULL);
				declare_gap(ra, c, d, cend, t);
				ra->run.off = h->next;
			} else {
				if (seg_data) {
					uint64_t e = min64(sp->dend, cend);
					compared(ra, c, d, nx, (size_t)(e - nx),
						 count_diff(sp->data + (nx - sp->off), ch->data, (size_t)(e - nx)),
						 "buffered", t);
				}
				run_add(ra, ch->data, ch->len, 0);
				h->next = cend;
				chunk_unlink(ra, h, &h->head, NULL);
			}
			continue;
		}
		lim = ch ? ch->off : UINT64_MAX;
		if (seg_data) {
			uint64_t k = min64(sp->dend, lim) - nx;
			run_add(ra, sp->data + (nx - sp->off), k, 1);
			h->next += k;
			continue;
		}
		if (sp && nx < sp->wend) {
			run_flush(ra);
			declare_gap(ra, c, d, min64(sp->wend, lim), t);
			ra->run.off = h->next;
			continue;
		}
		break;
	}
	run_flush(ra);
	gap_flush(ra, c, d);
	if (h->fin_seen && !h->fin_done && h->next == h->fin_off) {
		emit_simple(ra, c, TAPE_EV_FIN, d, t);
		h->fin_done = 1;
	}
}

/*
 * Buffers [off, end) out of order: data bytes when data is set, otherwise
 * bytes a snaplen cut.  Only the parts no chunk covers are added; where a
 * data chunk already covers them, the new bytes are compared and dropped
 * (first copy wins); captured bytes replace a cut-bytes marker.
 */
static void insert_range(struct tape__reasm *ra, struct conn *c, int d, uint64_t off, uint64_t end,
			 const uint8_t *data, uint64_t t)
{
	struct half *h = &c->h[d];
	struct chunk **pp = &h->head, *prev = NULL;
	uint64_t cur = off;

	if (h->tail && off >= h->tail->off + h->tail->len) {
		prev = h->tail;
		pp = &h->tail->next;
	}
	while (cur < end) {
		struct chunk *ch = *pp, *n;
		uint64_t cend, ov;

		if (!ch || ch->off > cur) {
			uint64_t lim = ch ? min64(ch->off, end) : end;
			n = chunk_new(ra, cur, lim - cur, data ? data + (cur - off) : NULL);
			if (!n)
				goto nomem;
			chunk_link(ra, h, pp, n);
			prev = n;
			pp = &n->next;
			cur = lim;
			continue;
		}
		cend = ch->off + ch->len;
		if (cend <= cur) {
			prev = ch;
			pp = &ch->next;
			continue;
		}
		ov = min64(end, cend);
		if (!ch->gap) {
			if (data)
				compared(ra, c, d, cur, (size_t)(ov - cur),
					 count_diff(data + (cur - off), ch->data + (cur - ch->off), (size_t)(ov - cur)),
					 "buffered", t);
			prev = ch;
			pp = &ch->next;
		} else if (!data) {
			prev = ch;
			pp = &ch->next;
		} else {
			/* Captured bytes [cur, ov) replace part of a cut-bytes marker. */
			struct chunk *rest = NULL;
			n = chunk_new(ra, cur, ov - cur, data + (cur - off));
			if (!n)
				goto nomem;
			if (ch->off < cur) {
				if (ov < cend && !(rest = chunk_new(ra, ov, cend - ov, NULL))) {
					free(n);
					goto nomem;
				}
				ch->len = (uint32_t)(cur - ch->off);
				chunk_link(ra, h, &ch->next, n);
				prev = n;
				if (rest) {
					chunk_link(ra, h, &n->next, rest);
					prev = rest;
				}
			} else if (ov < cend) {
				ch->len = (uint32_t)(cend - ov);
				ch->off = ov;
				chunk_link(ra, h, pp, n);
				prev = n;
			} else {
				chunk_unlink(ra, h, pp, prev);
				chunk_link(ra, h, pp, n);
				prev = n;
			}
			pp = &prev->next;
		}
		cur = ov;
	}
	return;
nomem:
	if (data) /* every byte is accounted for, even now */
		ra->st.dropped_bytes += end - cur;
}

/*
 * The peer of direction d acknowledged everything before offset a (RFC 9293
 * section 3.4: ACKs are cumulative).  A hole is proven lost only when a lies
 * beyond the first thing captured after it, the first buffered byte or the
 * FIN: the receiver had that byte and everything before it, so the sender
 * sent the hole's bytes, and since this ACK is seen after that byte was
 * captured, bytes sent before it that the capture still lacks are not
 * coming.  An ACK that merely covers the hole proves nothing yet: it may
 * have overtaken the data it acknowledges, which is normal on mirror ports
 * that copy each direction separately.  A proven hole is given up whole (one
 * GAP up to that first captured thing), and the run after it is delivered.
 */
static void ack_declare(struct tape__reasm *ra, struct conn *c, int d, int64_t a, uint64_t t)
{
	struct half *h = &c->h[d];

	while (a > (int64_t)h->next) {
		uint64_t bound;
		if (h->head)
			bound = h->head->off;
		else if (h->fin_seen && !h->fin_done)
			bound = h->fin_off;
		else
			break;
		if (bound <= h->next || a <= (int64_t)bound)
			break;
		declare_gap(ra, c, d, bound, t);
		deliver(ra, c, d, t, NULL);
	}
}

/* Gives up the first hole of direction d: a GAP up to the first buffered
 * chunk, then whatever became contiguous. */
static void skip_hole(struct tape__reasm *ra, struct conn *c, int d, uint64_t t)
{
	struct half *h = &c->h[d];

	if (h->head && h->head->off > h->next)
		declare_gap(ra, c, d, h->head->off, t);
	deliver(ra, c, d, t, NULL);
}

/* Everything buffered goes out, holes as gaps, up to and including a FIN
 * that was seen. */
static void flush_dir(struct tape__reasm *ra, struct conn *c, int d, uint64_t t)
{
	struct half *h = &c->h[d];

	while (h->head)
		skip_hole(ra, c, d, t);
	if (h->fin_seen && !h->fin_done) {
		declare_gap(ra, c, d, h->fin_off, t);
		deliver(ra, c, d, t, NULL);
	}
}

static void flush_all(struct tape__reasm *ra, struct conn *c, uint64_t t)
{
	flush_dir(ra, c, TAPE_C2S, t);
	flush_dir(ra, c, TAPE_S2C, t);
}

/* ---- connection life ----------------------------------------------------------------- */

static void set_base(struct half *h, uint32_t seq)
{
	h->base_seq = seq;
	h->have_base = 1;
	h->next = 0;
	h->lgap_lo = h->lgap_hi = 0;
}

/* Serial-number arithmetic (RFC 1982) around next: within 2^31 ahead is
 * ahead, anything else is behind.  Negative results lie before offset 0. */
static int64_t seq_off(const struct half *h, uint32_t seq)
{
	uint32_t ref = h->base_seq + (uint32_t)h->next;
	uint32_t d = seq - ref;

	if (d < SEQ_HALF)
		return (int64_t)h->next + (int64_t)d;
	return (int64_t)h->next - (int64_t)(UINT64_C(0x100000000) - d);
}

/* One past the last offset direction h is known to have used: bytes
 * delivered or buffered, and the FIN. */
static uint64_t extent(const struct half *h)
{
	uint64_t e = h->next;

	if (h->tail)
		e = max64(e, h->tail->off + h->tail->len);
	if (h->fin_seen)
		e = max64(e, h->fin_off + 1);
	return e;
}

static void prev_drop(struct conn *c)
{
	free(c->prev);
	c->prev = NULL;
}

static void conn_release(struct tape__reasm *ra, struct conn *c)
{
	chunks_free(ra, &c->h[0]);
	chunks_free(ra, &c->h[1]);
	hist_drop(ra, c);
	prev_drop(c);
}

/* What conn_close does with the record after the CLOSE. */
enum { FORGET, TOMB, DETACH };

/* Emits the CLOSE.  keep TOMB: a connection closed by FIN or RST becomes a
 * tombstone for TIME-WAIT, anything else is forgotten; DETACH: the released
 * record leaves the table and is returned, closed, for the caller to keep
 * as the next connection's prev or free.  c must not be used afterwards
 * unless it became a tombstone. */
static struct conn *conn_close(struct tape__reasm *ra, struct conn *c, enum tape_close_reason reason,
			       uint64_t t, int keep)
{
	struct tape_event ev;

	ev_start(&ev, TAPE_EV_CLOSE, c, TAPE_C2S);
	ev.reason = reason;
	emit(ra, &ev, t);
	conn_release(ra, c);
	dl_del(&c->lru);
	ra->nlive--;
	if (keep == TOMB && (reason == TAPE_CLOSE_FIN || reason == TAPE_CLOSE_RST)) {
		c->closed = 1;
		c->last_ns = ra->clock;
		dl_push(&ra->tw, &c->lru);
		return c;
	}
	table_remove(ra, c);
	if (keep == DETACH) {
		c->closed = 1;
		c->last_ns = ra->clock;
		c->hnext = NULL;
		return c;
	}
	free(c);
	return NULL;
}

/* Takes a tombstone out of the table and the TIME-WAIT list. */
static struct conn *tomb_detach(struct tape__reasm *ra, struct conn *c)
{
	dl_del(&c->lru);
	table_remove(ra, c);
	c->hnext = NULL;
	return c;
}

static void tomb_free(struct tape__reasm *ra, struct conn *c)
{
	free(tomb_detach(ra, c));
}

static void evict(struct tape__reasm *ra, struct conn *c, uint64_t t)
{
	flush_all(ra, c, t);
	conn_close(ra, c, TAPE_CLOSE_EVICTED, t, FORGET);
	ra->st.evicted++;
}

/* Closes with reason fin once both FINs are out (the last ACK is not
 * waited for).  Returns 1 when it did. */
static int maybe_close_fin(struct tape__reasm *ra, struct conn *c, uint64_t t)
{
	if (!c->h[0].fin_done || !c->h[1].fin_done)
		return 0;
	conn_close(ra, c, TAPE_CLOSE_FIN, t, TOMB);
	return 1;
}

/* Times out connections idle for idle_ns or more (at the moment they
 * became due) and forgets tombstones past TIME-WAIT. */
static void expire(struct tape__reasm *ra, uint64_t now)
{
	while (!dl_empty(&ra->lru)) {
		struct conn *c = CONN_OF(ra->lru.prev, lru);
		uint64_t due = sat_add(c->last_ns, ra->idle_ns);
		if (due > now)
			break;
		flush_all(ra, c, due);
		conn_close(ra, c, TAPE_CLOSE_TIMEOUT, due, FORGET);
		ra->st.timeouts++;
	}
	while (!dl_empty(&ra->tw)) {
		struct conn *c = CONN_OF(ra->tw.prev, lru);
		if (sat_add(c->last_ns, ra->timewait_ns) > now)
			break;
		tomb_free(ra, c);
	}
}

static void advance(struct tape__reasm *ra, uint64_t now)
{
	if (now > ra->clock)
		ra->clock = now;
	expire(ra, ra->clock);
}

/* Keeps the per-connection cap: the fuller direction gives up its first
 * hole until the buffered chunks fit. */
static void enforce_conn(struct tape__reasm *ra, struct conn *c, uint64_t t)
{
	while (!c->closed && c->h[0].mem + c->h[1].mem > ra->conn_mem) {
		int d = c->h[1].mem > c->h[0].mem;
		if (!c->h[d].head)
			break;
		skip_hole(ra, c, d, t);
		if (maybe_close_fin(ra, c, t))
			break;
	}
}

/* Keeps the global cap: drop the history of the least recently delivering
 * connections first (it only serves to verify retransmissions), then evict
 * the least recently active connection.  cur, the connection being worked
 * on (or NULL), is never evicted; it gives up holes instead. */
static void enforce_total(struct tape__reasm *ra, struct conn *cur, uint64_t t)
{
	while (ra->ooo_mem + ra->hist_mem > ra->total_mem) {
		struct conn *v;
		if (!dl_empty(&ra->hl)) {
			hist_drop(ra, CONN_OF(ra->hl.prev, hl));
			continue;
		}
		if (dl_empty(&ra->lru))
			break;
		v = CONN_OF(ra->lru.prev, lru);
		if (v != cur) {
			evict(ra, v, t);
			continue;
		}
		if (!cur->h[0].head && !cur->h[1].head)
			break;
		skip_hole(ra, cur, cur->h[1].mem > cur->h[0].mem, t);
		if (maybe_close_fin(ra, cur, t))
			cur = NULL;
	}
}

/* Makes room for one more tracked tuple: the oldest tombstone goes first,
 * then the least recently active connection is evicted. */
static void make_room(struct tape__reasm *ra, uint64_t t)
{
	while (ra->nconn >= ra->max_conns) {
		if (!dl_empty(&ra->tw))
			tomb_free(ra, CONN_OF(ra->tw.prev, lru));
		else if (!dl_empty(&ra->lru))
			evict(ra, CONN_OF(ra->lru.prev, lru), t);
		else
			break;
	}
}

/* Which side of a first segment is the client.  A SYN's sender is the
 * client and a SYN+ACK's the server (RFC 9293 section 3.5); otherwise the
 * roles are guessed from the ports: a well-known port (< 1024) facing an
 * ephemeral one is the server, else the lower port is, else the sender is
 * taken for the client. */
static int sender_is_client(const struct tape__seg *seg, uint32_t *flags)
{
	uint16_t sp = seg->src.port, dp = seg->dst.port;

	if (seg->flags & TAPE__TH_SYN)
		return !(seg->flags & TAPE__TH_ACK);
	*flags |= TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED;
	if ((sp < 1024) != (dp < 1024))
		return dp < 1024;
	if (sp != dp)
		return sp > dp;
	return 1;
}

static void ep_copy(struct tape_endpoint *dst, const struct tape_endpoint *src)
{
	*dst = *src;
	if (dst->family == 4)
		memset(dst->addr + 4, 0, 12);
}

static struct conn *conn_open(struct tape__reasm *ra, const struct tape__seg *seg, int reused, int *dir)
{
	struct tape_event ev;
	struct conn *c;
	uint32_t flags = reused ? TAPE_OPEN_REUSED : 0;
	int client;

	make_room(ra, seg->ts_ns);
	c = calloc(1, sizeof *c);
	if (!c) {
		ra->err = -ENOMEM;
		ra->st.dropped_bytes += seg->len;
		return NULL;
	}
	client = sender_is_client(seg, &flags);
	ep_copy(&c->ep[TAPE_C2S], client ? &seg->src : &seg->dst);
	ep_copy(&c->ep[TAPE_S2C], client ? &seg->dst : &seg->src);
	*dir = client ? TAPE_C2S : TAPE_S2C;
	c->hash = tuple_hash(ra, &seg->src, &seg->dst);
	c->id = ++ra->last_id;
	c->flags = flags;
	c->syn_sent = (seg->flags & (TAPE__TH_SYN | TAPE__TH_ACK)) == TAPE__TH_SYN;
	c->last_ns = ra->clock;
	dl_init(&c->hl);
	table_insert(ra, c);
	dl_push(&ra->lru, &c->lru);
	ra->nlive++;
	ra->st.conns++;
	if (flags & TAPE_OPEN_MIDSTREAM)
		ra->st.midstream++;
	ev_start(&ev, TAPE_EV_OPEN, c, TAPE_C2S);
	ev.client = c->ep[TAPE_C2S];
	ev.server = c->ep[TAPE_S2C];
	ev.flags = flags;
	emit(ra, &ev, seg->ts_ns);
	return c;
}

/* Counts a straggler of the closed connection c (a tombstone, or a
 * connection's prev) from its side d: ignored, its bytes binned by where
 * they fall in c's stream. */
static void straggler_count(struct tape__reasm *ra, const struct conn *c, int d, const struct tape__seg *seg)
{
	const struct half *h = &c->h[d];
	int syn = (seg->flags & TAPE__TH_SYN) != 0;
	int64_t off, end, s, e;

	ra->st.ignored_segments++;
	if (!seg->len)
		return;
	if (!h->have_base) {
		ra->st.dropped_bytes += seg->len;
		return;
	}
	off = seq_off(h, seg->seq + (syn ? 1u : 0u));
	end = off + seg->len;
	/* Before the stream and in the hole nobody filled: dropped; already
	 * delivered: unverifiable (history is gone); after the FIN: counted. */
	s = off, e = end;
	if (h->fin_seen && e > (int64_t)h->fin_off) {
		int64_t from = s > (int64_t)h->fin_off ? s : (int64_t)h->fin_off;
		ra->st.after_fin_bytes += (uint64_t)(e - from);
		e = from;
	}
	if (s < 0) {
		int64_t to = e < 0 ? e : 0;
		ra->st.dropped_bytes += (uint64_t)(to - s);
		s = to;
	}
	if (s < e && s < (int64_t)h->next) {
		int64_t to = e < (int64_t)h->next ? e : (int64_t)h->next;
		ra->st.unverified_bytes += (uint64_t)(to - s);
		s = to;
	}
	if (s < e)
		ra->st.dropped_bytes += (uint64_t)(e - s);
}

/* A segment on a tombstone.  Returns 1 when it is a SYN with a new initial
 * sequence number (a new connection on the reused tuple); otherwise the
 * segment is a straggler of the closed connection, ignored and its bytes
 * counted. */
static int tomb_segment(struct tape__reasm *ra, struct conn *c, int d, const struct tape__seg *seg)
{
	const struct half *h = &c->h[d];

	if ((seg->flags & TAPE__TH_SYN) && !(seg->flags & TAPE__TH_RST) && !(h->have_isn && h->isn == seg->seq))
		return 1;
	straggler_count(ra, c, d, seg);
	return 0;
}

/* Whether x lies in [lo, hi]. */
static int within(int64_t x, int64_t lo, int64_t hi)
{
	return x >= lo && x <= hi;
}

/*
 * Whether seg can be a segment of the closed connection p: a SYN repeating
 * one of p's ISNs, or a segment whose sequence number and acknowledgment
 * both lie within NEAR_WIN of what p's two sides used (as far as they are
 * known; at least one must be).
 */
static int prev_fits(const struct conn *p, const struct tape__seg *seg)
{
	int pd = ep_eq(&seg->src, &p->ep[TAPE_C2S]) ? TAPE_C2S : TAPE_S2C;
	const struct half *ph = &p->h[pd], *pp = &p->h[pd ^ 1];
	int known = 0;

	if (seg->flags & TAPE__TH_SYN)
		return ph->have_isn && ph->isn == seg->seq;
	if (ph->have_base) {
		if (!within(seq_off(ph, seg->seq), -(int64_t)NEAR_WIN, (int64_t)(extent(ph) + NEAR_WIN)))
			return 0;
		known = 1;
	}
	if ((seg->flags & TAPE__TH_ACK) && pp->have_base) {
		if (!within(seq_off(pp, seg->ack), -(int64_t)NEAR_WIN, (int64_t)(extent(pp) + NEAR_WIN)))
			return 0;
		known = 1;
	}
	return known;
}

/*
 * A connection in SYN-SENT has seen only its client's SYN (RFC 9293 section
 * 3.10.7.3): opened by a SYN without ACK, nothing known yet of the server's
 * sequence numbers.  Returns 1 when seg, from side d, is a straggler of the
 * tuple's previous connection rather than a segment of this one; it is then
 * counted (against c->prev when that is where it fits) and goes no further.
 *
 * First the RFC's acceptability test, as the observer can apply it: a
 * segment from the server must acknowledge the SYN, SND.UNA < SEG.ACK =<
 * SND.NXT (the offset of its ACK between 0 and what the client has sent: for
 * a bare SYN, ACK = ISN + 1), unless it is a SYN without ACK (simultaneous
 * open); one from the client must start within what it has sent (a SYN: the
 * same ISN).  A segment that passes belongs here.  One that fails is a
 * straggler when it fits the previous connection, or when it is too far
 * from this one's ISN to belong to it (beyond NEAR_WIN, or a server segment
 * without ACK); otherwise it is taken for this connection's, after packets
 * the capture missed (a lost SYN+ACK must not make a connection unusable).
 */
static int syn_sent_straggler(struct tape__reasm *ra, struct conn *c, int d, const struct tape__seg *seg)
{
	const struct half *ch = &c->h[TAPE_C2S];
	struct conn *p = c->prev;
	int64_t hi = (int64_t)extent(ch), x;
	uint8_t fl = seg->flags;
	int far;

	if (p && sat_add(p->last_ns, ra->timewait_ns) <= ra->clock) {
		prev_drop(c); /* past TIME-WAIT: nothing of it can still arrive */
		p = NULL;
	}
	if (d == TAPE_C2S) {
		if (fl & TAPE__TH_SYN) {
			if (seg->seq == ch->isn)
				return 0;
			far = 0; /* a new ISN: a new connection, unless p used it */
		} else {
			x = seq_off(ch, seg->seq);
			if (within(x, 0, hi))
				return 0;
			far = !within(x, 0, hi + NEAR_WIN);
		}
	} else {
		if ((fl & (TAPE__TH_SYN | TAPE__TH_ACK)) == TAPE__TH_SYN)
			return 0;
		if (fl & TAPE__TH_ACK) {
			x = seq_off(ch, seg->ack);
			if (within(x, 0, hi))
				return 0;
			far = !within(x, 0, hi + NEAR_WIN);
		} else {
			far = 1;
		}
	}
	if (p && prev_fits(p, seg)) {
		straggler_count(ra, p, ep_eq(&seg->src, &p->ep[TAPE_C2S]) ? TAPE_C2S : TAPE_S2C, seg);
		return 1;
	}
	if (!far)
		return 0;
	ra->st.ignored_segments++;
	ra->st.dropped_bytes += seg->len;
	return 1;
}

/*
 * A SYN from side d, whose sequence numbers are known only from a mid-stream
 * pickup, with ISN + 1 k bytes before that side's offset 0: the connection's
 * own handshake captured late, not a new connection, when the SYN lies that
 * shortly before everything the side has sent (k plus its extent within
 * NEAR_WIN) and, for a SYN+ACK, its ACK fits the peer's side too (at or
 * before the peer's offset 0, or exactly its ISN + 1 when that is known, up
 * to what the peer has sent).  A random new ISN passes by chance once in
 * 4096 tuple reuses (a SYN+ACK: practically never).  Then, if the side has
 * emitted nothing yet, offset 0 moves back to ISN + 1, so that the k bytes in
 * between are placed when they arrive and become a gap otherwise; if it has,
 * the numbering stays and those bytes, before the first one emitted, cannot
 * be placed (as for any mid-stream pickup).  Returns 1 when adopted.
 */
static int late_syn(struct conn *c, int d, const struct tape__seg *seg)
{
	struct half *h = &c->h[d];
	const struct half *p = &c->h[d ^ 1];
	uint32_t k = h->base_seq - (seg->seq + 1u);

	if (k == 0 || k > NEAR_WIN || extent(h) > NEAR_WIN - k)
		return 0;
	if ((seg->flags & TAPE__TH_ACK) && p->have_base &&
	    !within(seq_off(p, seg->ack), p->have_isn ? 0 : -(int64_t)NEAR_WIN, (int64_t)extent(p)))
		return 0;
	if (!h->next && !h->fin_done) {
		for (struct chunk *ch = h->head; ch; ch = ch->next)
			ch->off += k;
		if (h->fin_seen)
			h->fin_off += k;
		h->base_seq = seg->seq + 1u;
	}
	return 1;
}

/* A SYN on a live connection: 0 when it belongs to it (a retransmission,
 * the peer's SYN+ACK, a simultaneous open, or a handshake captured late),
 * 1 when it carries a different initial sequence number and so starts a
 * new connection on the tuple.  Contradicted role guesses get a note. */
static int syn_on_live(struct tape__reasm *ra, struct conn *c, int d, const struct tape__seg *seg)
{
	const struct half *h = &c->h[d];
	int says_client = !(seg->flags & TAPE__TH_ACK);

	if (h->have_isn) {
		if (h->isn != seg->seq)
			return 1;
	} else if (h->have_base && h->base_seq != seg->seq + 1 && !late_syn(c, d, seg)) {
		return 1;
	}
	if ((c->flags & TAPE_OPEN_INFERRED) && !c->roles_noted && says_client != (d == TAPE_C2S)) {
		char a[TAPE_ENDPOINT_STRLEN], b[TAPE_ENDPOINT_STRLEN];
		tape_endpoint_format(&seg->src, a, sizeof a);
		tape_endpoint_format(&seg->dst, b, sizeof b);
		note(ra, c, seg->ts_ns,
		     "roles corrected: %s sent a %s, so it is the %s and %s the %s; "
		     "this connection keeps the orientation of its open",
		     a, says_client ? "SYN" : "SYN+ACK", says_client ? "client" : "server", b,
		     says_client ? "server" : "client");
		c->roles_noted = 1;
	}
	return 0;
}

/* Ends live connection c for the new one seg's SYN starts; returns its
 * released record, closed and out of the table. */
static struct conn *supersede(struct tape__reasm *ra, struct conn *c, const struct tape__seg *seg)
{
	char a[TAPE_ENDPOINT_STRLEN];
	uint64_t t = seg->ts_ns;

	tape_endpoint_format(&seg->src, a, sizeof a);
	note(ra, c, t,
	     "tuple reused: %s sent a SYN with a new initial sequence number (%lu); this connection ends here",
	     a, (unsigned long)seg->seq);
	flush_all(ra, c, t);
	return conn_close(ra, c, c->h[0].fin_done && c->h[1].fin_done ? TAPE_CLOSE_FIN : TAPE_CLOSE_ABORTED, t,
			  DETACH);
}

/* The sender's FIN occupies offset pos (RFC 9293 section 3.4).  The first
 * one wins; a FIN before bytes already delivered is impossible to honour. */
static void fin_at(struct tape__reasm *ra, struct conn *c, int d, int64_t pos, uint64_t t)
{
	struct half *h = &c->h[d];

	if (h->fin_seen) {
		if (pos != (int64_t)h->fin_off)
			note(ra, c, t, "%s FIN at stream offset %lld ignored: the first FIN was at offset %llu",
			     dname(d), (long long)pos, (unsigned long long)h->fin_off);
		return;
	}
	if (pos < (int64_t)h->next) {
		note(ra, c, t, "%s FIN at stream offset %lld ignored: bytes up to offset %llu were already emitted",
		     dname(d), (long long)pos, (unsigned long long)h->next);
		return;
	}
	h->fin_seen = 1;
	h->fin_off = (uint64_t)pos;
	chunks_trim(ra, h, h->fin_off);
}

/* Takes in the payload of one segment at stream offset off: len captured
 * bytes, wlen on the wire. */
static void absorb(struct tape__reasm *ra, struct conn *c, int d, int64_t off, const uint8_t *p,
		   uint32_t len, uint32_t wlen, uint64_t t)
{
	struct half *h = &c->h[d];
	int64_t de = off + len, we = off + wlen;
	uint64_t s;
	struct piece sp;

	if (off < 0) { /* before the stream began: cannot be placed */
		int64_t to = de < 0 ? de : 0;
		ra->st.dropped_bytes += (uint64_t)(to - off);
		if (to > off && len)
			p += to - off;
		off = 0;
		if (de < 0)
			de = 0;
		if (we < 0)
			we = 0;
	}
	s = (uint64_t)off;
	sp.dend = (uint64_t)de;
	sp.wend = (uint64_t)we;
	if (h->fin_seen) {
		uint64_t from = max64(s, h->fin_off);
		if (sp.dend > from) {
			ra->st.after_fin_bytes += sp.dend - from;
			sp.dend = from;
		}
		sp.wend = max64(min64(sp.wend, h->fin_off), sp.dend);
	}
	if (s < h->next && s < sp.dend)
		compare_old(ra, c, d, s, p, (size_t)(min64(sp.dend, h->next) - s), t);
	sp.off = max64(s, h->next);
	sp.data = sp.off < sp.dend ? p + (sp.off - s) : NULL;
	sp.dend = max64(sp.dend, sp.off);
	sp.wend = max64(sp.wend, sp.dend);
	if (sp.wend == sp.off)
		return;
	if (sp.off == h->next) {
		deliver(ra, c, d, t, &sp);
		return;
	}
	if (sp.dend > sp.off)
		insert_range(ra, c, d, sp.off, sp.dend, sp.data, t);
	if (sp.wend > sp.dend)
		insert_range(ra, c, d, sp.dend, sp.wend, NULL, t);
}

/* One segment of a live connection, processed in the order RFC 9293
 * section 3.10.7.4 checks a segment: RST, SYN, ACK, then the text and FIN. */
static void conn_segment(struct tape__reasm *ra, struct conn *c, int d, const struct tape__seg *seg)
{
	struct half *h = &c->h[d];
	uint64_t t = seg->ts_ns;
	uint32_t dseq = seg->seq;
	uint32_t wlen = seg->wire_len > seg->len ? seg->wire_len : seg->len;
	int64_t off;

	c->last_ns = ra->clock;
	dl_del(&c->lru);
	dl_push(&ra->lru, &c->lru);

	if (seg->flags & TAPE__TH_RST) {
		/* RST payload is diagnostic text, not stream data (RFC 9293 3.5.3). */
		ra->st.dropped_bytes += seg->len;
		flush_all(ra, c, t);
		emit_simple(ra, c, TAPE_EV_RST, d, t);
		conn_close(ra, c, TAPE_CLOSE_RST, t, TOMB);
		return;
	}
	if (seg->flags & TAPE__TH_SYN) {
		if (!h->have_isn) {
			h->have_isn = 1;
			h->isn = seg->seq;
		}
		if (!h->have_base)
			set_base(h, seg->seq + 1);
		dseq++;
	}
	if (seg->flags & TAPE__TH_ACK) {
		struct half *p = &c->h[d ^ 1];
		if (!p->have_base)
			set_base(p, seg->ack);
		else if (p->head || (p->fin_seen && !p->fin_done))
			ack_declare(ra, c, d ^ 1, seq_off(p, seg->ack), t);
	}
	if (wlen || (seg->flags & TAPE__TH_FIN)) {
		if (!h->have_base)
			set_base(h, dseq);
		off = seq_off(h, dseq);
		if (seg->flags & TAPE__TH_FIN)
			fin_at(ra, c, d, off + wlen, t);
		if (seg->len == 1 && wlen == 1 && !(seg->flags & (TAPE__TH_SYN | TAPE__TH_FIN)) &&
		    h->next > 0 && off == (int64_t)h->next - 1) {
			/* A keep-alive probe (RFC 9293 3.8.4): one old byte, often garbage. */
			ra->st.unverified_bytes++;
		} else if (wlen) {
			absorb(ra, c, d, off, seg->payload, seg->len, wlen, t);
		}
	}
	deliver(ra, c, d, t, NULL);
	if (maybe_close_fin(ra, c, t))
		return;
	enforce_conn(ra, c, t);
}

/* ---- the interface ------------------------------------------------------------------ */

/* Creates a reassembler that hands each event to emit(ctx, ev).  opts may be
 * NULL; zero fields take the TAPE__REASM_* defaults, and a per-connection cap
 * above the global one is lowered to it.  0, TAPE_EUSAGE (no emit), or
 * -ENOMEM.  Free with tape__reasm_free(). */
int tape__reasm_new(struct tape__reasm **out, const struct tape__reasm_opts *opts, tape__emit_fn emit_fn,
		    void *ctx)
{
	struct tape__reasm *ra;
	struct timespec ts;

	*out = NULL;
	if (!emit_fn)
		return TAPE_EUSAGE;
	ra = calloc(1, sizeof *ra);
	if (!ra)
		return -ENOMEM;
	ra->bucket = calloc(HASH_MIN, sizeof *ra->bucket);
	if (!ra->bucket) {
		free(ra);
		return -ENOMEM;
	}
	ra->nbucket = HASH_MIN;
	ra->emit = emit_fn;
	ra->ctx = ctx;
	ra->idle_ns = opts && opts->idle_ns ? opts->idle_ns : TAPE__REASM_IDLE_NS;
	ra->conn_mem = opts && opts->conn_mem ? opts->conn_mem : TAPE__REASM_CONN_MEM;
	ra->total_mem = opts && opts->total_mem ? opts->total_mem : TAPE__REASM_TOTAL_MEM;
	ra->max_conns = opts && opts->max_conns ? opts->max_conns : TAPE__REASM_MAX_CONNS;
	if (ra->conn_mem > ra->total_mem)
		ra->conn_mem = ra->total_mem;
	ra->timewait_ns = min64(TAPE__REASM_TIMEWAIT_NS, ra->idle_ns);
	/* The seed only spreads the hash table against crafted tuples; output
	 * never depends on it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ra->seed = mix((uint64_t)(uintptr_t)ra ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec);
	dl_init(&ra->lru);
	dl_init(&ra->tw);
	dl_init(&ra->hl);
	*out = ra;
	return 0;
}

/* Frees everything, emitting nothing (buffered bytes are lost: call
 * tape__reasm_finish() first to get them out).  Accepts NULL. */
void tape__reasm_free(struct tape__reasm *ra)
{
	if (!ra)
		return;
	for (size_t i = 0; i < ra->nbucket; i++) {
		struct conn *c = ra->bucket[i], *next;
		for (; c; c = next) {
			next = c->hnext;
			conn_release(ra, c);
			free(c);
		}
	}
	free(ra->bucket);
	free(ra->scratch);
	free(ra);
}

/* Feeds one segment in capture order (doc/reassembly.md).  The segment and
 * its payload are only read during the call.  A segment without payload,
 * SYN or FIN-with-data on an unknown tuple, and any RST on one, is counted
 * in ignored_segments and opens nothing; so is a straggler of a closed
 * connection (on its tombstone, or, while the tuple's next connection is in
 * SYN-SENT, one that fails that state's acceptability test).  0, the emit
 * callback's negative return, -ENOMEM, or TAPE_EUSAGE for a segment with
 * bytes but no payload pointer; errors are sticky. */
int tape__reasm_segment(struct tape__reasm *ra, const struct tape__seg *seg)
{
	struct conn *c, *old = NULL;
	int d = TAPE_C2S, reused = 0;
	uint8_t fl = seg->flags;

	if (ra->err)
		return ra->err;
	if (seg->len && !seg->payload)
		return TAPE_EUSAGE;
	advance(ra, seg->ts_ns);
	c = lookup(ra, &seg->src, &seg->dst, &d);
	if (c && c->closed) {
		if (!tomb_segment(ra, c, d, seg))
			return ra->err;
		old = tomb_detach(ra, c);
		c = NULL;
		reused = 1;
	}
	if (c && c->syn_sent && !c->h[TAPE_S2C].have_base && syn_sent_straggler(ra, c, d, seg))
		return ra->err;
	if (c && (fl & TAPE__TH_SYN) && !(fl & TAPE__TH_RST) && syn_on_live(ra, c, d, seg)) {
		old = supersede(ra, c, seg);
		c = NULL;
		reused = 1;
	}
	if (!c) {
		/* Only a SYN can get here with old set: it opens a connection. */
		if ((fl & TAPE__TH_RST) || !((fl & TAPE__TH_SYN) || seg->wire_len || seg->len)) {
			ra->st.ignored_segments++;
			ra->st.dropped_bytes += seg->len;
			return ra->err;
		}
		c = conn_open(ra, seg, reused, &d);
		if (c && c->syn_sent) {
			c->prev = old; /* to recognise its stragglers while c is in SYN-SENT */
			old = NULL;
		}
		free(old);
		if (!c)
			return ra->err;
	}
	conn_segment(ra, c, d, seg);
	if (c->prev && c->h[TAPE_S2C].have_base)
		prev_drop(c); /* out of SYN-SENT */
	enforce_total(ra, c->closed ? NULL : c, seg->ts_ns);
	return ra->err;
}

/* Advances the clock to now_ns (never backwards) and times out connections
 * idle for idle_ns or more; their CLOSE carries the time they became due.
 * 0 or a sticky error. */
int tape__reasm_tick(struct tape__reasm *ra, uint64_t now_ns)
{
	if (ra->err)
		return ra->err;
	advance(ra, now_ns);
	return ra->err;
}

static int by_id(const void *a, const void *b)
{
	const struct conn *x = *(const struct conn *const *)a, *y = *(const struct conn *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* End of input: expires what is idle as of now_ns, then flushes every open
 * connection (holes become gaps, a FIN seen is emitted) and closes it with
 * reason end, in order of connection id.  Tombstones are forgotten; the
 * reassembler stays usable.  0 or a sticky error. */
int tape__reasm_finish(struct tape__reasm *ra, uint64_t now_ns)
{
	struct conn **all;
	size_t n = 0;

	if (ra->err)
		return ra->err;
	advance(ra, now_ns);
	all = ra->nlive ? malloc(ra->nlive * sizeof *all) : NULL;
	if (all) {
		for (struct dlink *l = ra->lru.next; l != &ra->lru; l = l->next)
			all[n++] = CONN_OF(l, lru);
		qsort(all, n, sizeof *all, by_id);
		for (size_t i = 0; i < n; i++) {
			flush_all(ra, all[i], now_ns);
			conn_close(ra, all[i], TAPE_CLOSE_END, now_ns, FORGET);
		}
		free(all);
	}
	while (!dl_empty(&ra->lru)) { /* only when the array could not be had */
		struct conn *c = CONN_OF(ra->lru.prev, lru);
		flush_all(ra, c, now_ns);
		conn_close(ra, c, TAPE_CLOSE_END, now_ns, FORGET);
	}
	while (!dl_empty(&ra->tw))
		tomb_free(ra, CONN_OF(ra->tw.prev, lru));
	return ra->err;
}

/* Counters so far; valid until tape__reasm_free(). */
const struct tape__reasm_stats *tape__reasm_stats(const struct tape__reasm *ra)
{
	return &ra->st;
}
