/* SPDX-License-Identifier: BSD-2-Clause */
/* frag.c - IPv4 and IPv6 fragment reassembly under capture-time timeouts and memory caps. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

/*
 * Each datagram being reassembled owns one contiguous buffer holding its
 * fragmentable part at the fragments' offsets, grown (up to 64 KiB) as
 * higher fragments arrive, plus a bitmap of the 8-byte units received.
 * Fragment offsets are in 8-byte units in both IPv4 (RFC 791 section 3.1)
 * and IPv6 (RFC 8200 section 4.5), and every fragment but the last carries
 * a multiple of 8 bytes (the caller checks), so a unit is either wholly
 * received or is the tail of the last fragment.  A datagram is complete
 * when its last fragment (MF = 0) fixed the total length and every unit
 * below it is present: this is the RFC 815 hole test done on a bitmap,
 * which keeps overlap checks to a memcmp over the units already held.
 *
 * The completed buffer is handed to the caller in place (no copy) and
 * freed on the next call.  Datagrams sit in a hash table keyed by
 * (src, dst, proto, id) and on a list in order of creation, which is the
 * order of expiry and of eviction.
 *
 * Overlaps (policy, doc/design/decode.md): a fragment whose every byte is
 * already held with the same value is a duplicate and is absorbed.  IPv4
 * fragments that overlap held data are accepted when the overlapping bytes
 * agree.  Any disagreement, and for IPv6 any overlap that is not a
 * duplicate (RFC 5722), abandons the datagram: its fragments are counted as
 * dropped, and the datagram stays as a "dead" entry, holding no data, that
 * drops its later fragments until it times out.
 */

#define UNIT 8u
#define MAX_PART 65535u                       /* largest fragmentable part */
#define NUNITS ((MAX_PART + UNIT - 1) / UNIT) /* 8192 */

struct dgram {
	struct dgram *hnext;         /* hash chain */
	struct dgram *older, *newer; /* creation order */
	struct tape__frag_key key;
	uint64_t first_ns;           /* first fragment's capture time */
	uint8_t *buf;
	uint32_t cap;                /* allocated bytes of buf */
	uint32_t end;                /* highest byte offset received */
	uint32_t total;              /* length, once have_last */
	uint32_t units;              /* bits set in map */
	uint32_t nfrags;             /* fragments held: dropped if given up */
	uint8_t next;                /* first fragment's Next Header */
	uint8_t have_first, have_last, dead;
	uint8_t map[NUNITS / 8];
};

struct tape__frag {
	struct tape__frag_opts o;
	struct tape__decode_stats *st;
	struct dgram **bucket;
	size_t nbucket;                /* power of two */
	struct dgram *oldest, *newest;
	size_t count;                  /* datagrams in the table, dead ones included */
	size_t bytes;                  /* sum of cap */
	struct dgram *done;            /* last completed datagram, freed on the next call */
};

/* Creates an empty reassembler with opts' caps (NULL or zero fields: the
 * TAPE__FRAG_* defaults); its hash table is sized once, here.  Drops and
 * completions are added to *stats.  0 or -ENOMEM. */
int tape__frag_new(struct tape__frag **out, const struct tape__frag_opts *opts,
		   struct tape__decode_stats *stats)
{
	struct tape__frag *f = calloc(1, sizeof *f);

	if (!f)
		return -ENOMEM;
	if (opts)
		f->o = *opts;
	if (!f->o.max_datagrams)
		f->o.max_datagrams = TAPE__FRAG_MAX_DATAGRAMS;
	if (!f->o.max_bytes)
		f->o.max_bytes = TAPE__FRAG_MAX_BYTES;
	if (!f->o.timeout_ns)
		f->o.timeout_ns = TAPE__FRAG_TIMEOUT_NS;
	f->st = stats;
	f->nbucket = 16;
	while (f->nbucket < 2 * f->o.max_datagrams && f->nbucket < (1u << 20))
		f->nbucket *= 2;
	f->bucket = calloc(f->nbucket, sizeof *f->bucket);
	if (!f->bucket) {
		free(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

static void dgram_free(struct dgram *g)
{
	if (g) {
		free(g->buf);
		free(g);
	}
}

/* Frees f (NULL is fine) and everything it holds; held fragments are not
 * counted (tape__frag_flush() first for that). */
void tape__frag_free(struct tape__frag *f)
{
	struct dgram *g, *next;

	if (!f)
		return;
	for (g = f->oldest; g; g = next) {
		next = g->newer;
		dgram_free(g);
	}
	dgram_free(f->done);
	free(f->bucket);
	free(f);
}

/* Datagrams in the table (dead ones included) and bytes allocated for their
 * data; a completed datagram handed out is no longer counted. */
void tape__frag_usage(const struct tape__frag *f, size_t *datagrams, size_t *bytes)
{
	*datagrams = f->count;
	*bytes = f->bytes;
}

/* FNV-1a over the key's fields. */
static size_t key_hash(const struct tape__frag_key *k)
{
	uint32_t h = 2166136261u;
	uint8_t tail[6] = {(uint8_t)(k->id >> 24), (uint8_t)(k->id >> 16), (uint8_t)(k->id >> 8),
			   (uint8_t)k->id, k->family, k->proto};

	for (size_t i = 0; i < 16; i++)
		h = (h ^ k->src[i]) * 16777619u;
	for (size_t i = 0; i < 16; i++)
		h = (h ^ k->dst[i]) * 16777619u;
	for (size_t i = 0; i < sizeof tail; i++)
		h = (h ^ tail[i]) * 16777619u;
	return h;
}

static int key_equal(const struct tape__frag_key *a, const struct tape__frag_key *b)
{
	return a->id == b->id && a->family == b->family && a->proto == b->proto &&
	       memcmp(a->src, b->src, sizeof a->src) == 0 && memcmp(a->dst, b->dst, sizeof a->dst) == 0;
}

static struct dgram **slot(struct tape__frag *f, const struct tape__frag_key *k)
{
	struct dgram **pp = &f->bucket[key_hash(k) & (f->nbucket - 1)];

	while (*pp && !key_equal(&(*pp)->key, k))
		pp = &(*pp)->hnext;
	return pp;
}

/* Takes g out of the table and the age list and releases its byte count. */
static void unlink_dgram(struct tape__frag *f, struct dgram *g)
{
	struct dgram **pp = slot(f, &g->key);

	if (*pp == g)
		*pp = g->hnext;
	if (f->oldest == g)
		f->oldest = g->newer;
	else
		g->older->newer = g->newer;
	if (f->newest == g)
		f->newest = g->older;
	else
		g->newer->older = g->older;
	g->hnext = g->older = g->newer = NULL;
	f->count--;
	f->bytes -= g->cap;
}

/* Removes g, counting the fragments it held as dropped. */
static void give_up(struct tape__frag *f, struct dgram *g)
{
	f->st->frag_dropped += g->nfrags;
	unlink_dgram(f, g);
	dgram_free(g);
}

/* Abandons g's data but keeps the entry, so that its later fragments are
 * dropped too until it expires. */
static void abandon(struct tape__frag *f, struct dgram *g)
{
	f->st->frag_dropped += g->nfrags;
	f->bytes -= g->cap;
	free(g->buf);
	g->buf = NULL;
	g->cap = 0;
	g->nfrags = 0;
	g->units = 0;
	g->dead = 1;
}

/* Frees the last completed datagram, then gives up, oldest first, every
 * datagram whose first fragment came timeout_ns or more before now_ns.
 * Capture time may step backwards: such a step expires nothing. */
void tape__frag_expire(struct tape__frag *f, uint64_t now_ns)
{
	dgram_free(f->done);
	f->done = NULL;
	while (f->oldest && now_ns >= f->oldest->first_ns &&
	       now_ns - f->oldest->first_ns >= f->o.timeout_ns)
		give_up(f, f->oldest);
}

/* Gives up every datagram, counting its held fragments as dropped. */
void tape__frag_flush(struct tape__frag *f)
{
	dgram_free(f->done);
	f->done = NULL;
	while (f->oldest)
		give_up(f, f->oldest);
}

static struct dgram *create(struct tape__frag *f, const struct tape__frag_in *in)
{
	struct dgram *g, **pp;

	while (f->count >= f->o.max_datagrams && f->oldest)
		give_up(f, f->oldest);
	g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->key = in->key;
	g->first_ns = in->ts_ns;
	pp = slot(f, &g->key);
	g->hnext = *pp;
	*pp = g;
	g->older = f->newest;
	if (f->newest)
		f->newest->newer = g;
	else
		f->oldest = g;
	f->newest = g;
	f->count++;
	return g;
}

static int unit_held(const struct dgram *g, uint32_t u)
{
	return g->map[u / 8] >> (u % 8) & 1u;
}

/* Makes room for end bytes in g->buf within the byte cap, evicting older
 * datagrams first.  0, 1 when the cap cannot be met, or -ENOMEM. */
static int grow(struct tape__frag *f, struct dgram *g, uint32_t end)
{
	uint32_t want;
	uint8_t *nb;

	if (end <= g->cap)
		return 0;
	if (end > f->o.max_bytes)
		return 1; /* could never fit: evict nobody for it */
	want = g->cap * 2 > MAX_PART ? MAX_PART : g->cap * 2;
	if (want < end)
		want = end;
	if (f->bytes - g->cap + want > f->o.max_bytes)
		want = end;
	while (f->bytes - g->cap + want > f->o.max_bytes) {
		struct dgram *victim = f->oldest == g ? g->newer : f->oldest;
		if (!victim)
			return 1;
		give_up(f, victim);
	}
	nb = realloc(g->buf, want);
	if (!nb)
		return -ENOMEM;
	f->bytes += want - g->cap;
	g->buf = nb;
	g->cap = want;
	return 0;
}

/*
 * Adds one fragment.  The caller has checked that off is a multiple of 8,
 * that len is one unless this is the last fragment, and that the datagram
 * stays within 65535 bytes; it counts the fragment in st->fragments.
 * in->data is copied.  Returns 1 when this fragment completed its
 * datagram (out->data valid until the next call on f), 0 when it is held,
 * a duplicate, or dropped (conflict, dead datagram, byte cap: counted in
 * frag_dropped), -ENOMEM when memory ran out (counted too).
 */
int tape__frag_add(struct tape__frag *f, const struct tape__frag_in *in,
		   struct tape__frag_out *out)
{
	struct dgram *g;
	uint32_t end = in->off + in->len, u0 = in->off / UNIT, u1 = (end + UNIT - 1) / UNIT, held = 0;
	int rc;

	tape__frag_expire(f, in->ts_ns);
	if (in->off % UNIT || in->len > MAX_PART || in->off > MAX_PART - in->len ||
	    (in->more && in->len % UNIT)) {
		f->st->frag_dropped++; /* the caller's checks, repeated: memory safety rests on them */
		return 0;
	}
	g = *slot(f, &in->key);
	if (!g) {
		g = create(f, in);
		if (!g) {
			f->st->frag_dropped++;
			return -ENOMEM;
		}
	}
	if (g->dead) {
		f->st->frag_dropped++;
		return 0;
	}
	/* The last fragment fixes the length: nothing may lie beyond it, and
	 * another last fragment must agree. */
	if (g->have_last && (end > g->total || (!in->more && end != g->total)))
		goto conflict;
	if (!in->more && end < g->end)
		goto conflict;
	for (uint32_t u = u0; u < u1; u++) {
		uint32_t lo = u * UNIT, hi = lo + UNIT < end ? lo + UNIT : end;
		if (!unit_held(g, u))
			continue;
		held++;
		if (memcmp(g->buf + lo, in->data + (lo - in->off), hi - lo) != 0)
			goto conflict;
	}
	if (held && held == u1 - u0)
		return 0; /* a duplicate: every byte already held, identical */
	if (held && in->key.family == 6)
		goto conflict; /* RFC 5722 */
	rc = grow(f, g, end);
	if (rc < 0) {
		abandon(f, g);
		f->st->frag_dropped++;
		return rc;
	}
	if (rc > 0)
		goto conflict; /* alone over the byte cap: give it up the same way */
	if (in->len)
		memcpy(g->buf + in->off, in->data, in->len);
	for (uint32_t u = u0; u < u1; u++)
		if (!unit_held(g, u)) {
			g->map[u / 8] |= (uint8_t)(1u << (u % 8));
			g->units++;
		}
	g->nfrags++;
	if (end > g->end)
		g->end = end;
	if (in->off == 0) {
		g->have_first = 1;
		g->next = in->next;
	}
	if (!in->more) {
		g->have_last = 1;
		g->total = end;
	}
	if (!g->have_first || !g->have_last || g->units != (g->total + UNIT - 1) / UNIT)
		return 0;
	unlink_dgram(f, g);
	f->done = g;
	f->st->reassembled++;
	out->data = g->buf;
	out->len = g->total;
	out->next = g->next;
	return 1;

conflict:
	abandon(f, g);
	f->st->frag_dropped++;
	return 0;
}
