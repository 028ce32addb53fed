/* SPDX-License-Identifier: BSD-2-Clause */
/* randtape.c - a seeded generator of random but valid tapes, shared by the tests and gen_tape. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "randtape.h"

/* ---- PRNG ----------------------------------------------------------------- */

void randtape_rng_seed(struct randtape_rng *r, uint64_t seed)
{
	r->s = seed ^ UINT64_C(0x5DEECE66D1234567);
}

uint64_t randtape_rng_next(struct randtape_rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

uint64_t randtape_rng_below(struct randtape_rng *r, uint64_t n)
{
	return n ? randtape_rng_next(r) % n : 0;
}

uint64_t randtape_rng_range(struct randtape_rng *r, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	if (lo == 0 && hi == UINT64_MAX)
		return randtape_rng_next(r);
	return lo + randtape_rng_below(r, hi - lo + 1);
}

void randtape_rng_bytes(struct randtape_rng *r, uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t x = randtape_rng_next(r);
		memcpy(p, &x, 8);
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t x = randtape_rng_next(r);
		memcpy(p, &x, n);
	}
}

/* ---- the generator --------------------------------------------------------- */

struct live_conn {
	uint64_t id;
	unsigned fin[2], rst[2];
};

struct randtape {
	struct randtape_opts o;
	struct randtape_rng rng;
	struct live_conn *live;
	size_t nlive;
	uint64_t opened;  /* connections opened so far */
	uint64_t next_id; /* id the next OPEN takes */
	uint64_t time;    /* of the last event */
	uint8_t *data;    /* payload of the last DATA event (max_data bytes) */
	uint8_t *note;    /* text of the last NOTE (max_note bytes, at least 1) */
	unsigned end_pm;  /* weight of FIN, RST and CLOSE, per mille */
};

int randtape_new(struct randtape **out, const struct randtape_opts *opts)
{
	struct randtape *g = calloc(1, sizeof *g);

	*out = NULL;
	if (!g)
		return -ENOMEM;
	if (opts)
		g->o = *opts;
	if (g->o.max_live == 0)
		g->o.max_live = 16;
	if (g->o.max_data == 0)
		g->o.max_data = 100000;
	if (g->o.max_data > TAPE_MAX_DATA)
		g->o.max_data = TAPE_MAX_DATA;
	if (g->o.max_note == 0)
		g->o.max_note = 300;
	if (g->o.max_note > TAPE_MAX_NOTE)
		g->o.max_note = TAPE_MAX_NOTE;
	randtape_rng_seed(&g->rng, g->o.seed);
	/* About 10 events a connection is the natural pace; with fewer
	 * connections than that for the events expected, they live longer. */
	g->end_pm = 1000;
	if (g->o.conns && g->o.events && g->o.conns * 8 < g->o.events)
		g->end_pm = (unsigned)((double)g->o.conns * 8000.0 / (double)g->o.events) + 1;
	g->next_id = 1;
	g->live = calloc(g->o.max_live, sizeof *g->live);
	g->data = malloc(g->o.max_data);
	g->note = malloc(g->o.max_note);
	if (!g->live || !g->data || !g->note) {
		randtape_free(g);
		return -ENOMEM;
	}
	*out = g;
	return 0;
}

void randtape_free(struct randtape *g)
{
	if (!g)
		return;
	free(g->live);
	free(g->data);
	free(g->note);
	free(g);
}

size_t randtape_live(const struct randtape *g)
{
	return g->nlive;
}

static uint64_t rnd(struct randtape *g, uint64_t n)
{
	return randtape_rng_below(&g->rng, n);
}

/* Text of len bytes from 1..255, biased towards the bytes escaping cares
 * about (backslash, tab, newline, CR, DEL, other controls, high bytes). */
static void fill_text(struct randtape *g, uint8_t *p, size_t len)
{
	static const uint8_t special[] = {'\\', '\t', '\n', '\r', 0x7f, 0x01, 0x1b, 0x1f,
					  0x80, 0xff, ' ',  '#',  ':',  'x',  '\\', 0xc3};
	unsigned mode = (unsigned)rnd(g, 3);

	for (size_t i = 0; i < len; i++) {
		uint64_t r = rnd(g, 16);
		if (mode == 0 || r < 3)
			p[i] = special[rnd(g, sizeof special)];
		else if (mode == 1)
			p[i] = (uint8_t)(0x20 + rnd(g, 0x5f)); /* printable ASCII */
		else
			p[i] = (uint8_t)(1 + rnd(g, 255));
	}
}

static void random_key(struct randtape *g, char *key)
{
	static const char chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	size_t len;

	do {
		len = rnd(g, 8) ? 1 + rnd(g, 12) : 1 + rnd(g, TAPE_MAX_META_KEY);
		for (size_t i = 0; i < len; i++)
			key[i] = chars[rnd(g, sizeof chars - 1)];
		key[len] = '\0';
	} while (strcmp(key, "start") == 0);
}

int randtape_meta(struct randtape *g, struct tape_meta *m)
{
	char key[TAPE_MAX_META_KEY + 1];
	char value[TAPE_MAX_META_VALUE + 1];
	uint64_t r = rnd(g, 100);
	size_t count;
	int rc;

	/* Start: unknown, tiny, the present era, or far in the future. */
	if (r < 10)
		tape_meta_set_start(m, 0);
	else if (r < 15)
		tape_meta_set_start(m, 1 + rnd(g, 2000000000u));
	else if (r < 95)
		tape_meta_set_start(m, randtape_rng_range(&g->rng, UINT64_C(1000000000000000000),
							  UINT64_C(2000000000000000000)));
	else
		tape_meta_set_start(m, randtape_rng_range(&g->rng, 1, UINT64_MAX));

	r = rnd(g, 100);
	if (r < 20)
		count = 0;
	else if (r < 97)
		count = 1 + rnd(g, 6);
	else
		count = TAPE_MAX_META_COUNT;
	while (tape_meta_count(m) < count) {
		size_t vlen;
		random_key(g, key);
		r = rnd(g, 100);
		if (r < 10)
			vlen = 0;
		else if (r < 98)
			vlen = 1 + rnd(g, 60);
		else
			vlen = TAPE_MAX_META_VALUE - rnd(g, 2);
		fill_text(g, (uint8_t *)value, vlen);
		value[vlen] = '\0';
		if (tape_meta_count(m) == 0 && rnd(g, 2)) {
			/* The conventional keys, now and then. */
			rc = tape_meta_set(m, "source", "randtape");
			if (rc == 0)
				rc = tape_meta_set(m, "tool", "gen_tape \\ test\tvalue");
		} else {
			rc = tape_meta_set(m, key, value);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static void advance_time(struct randtape *g, struct tape_event *ev)
{
	uint64_t r = rnd(g, 100), d;

	if (r < 35)
		d = 0;
	else if (r < 70)
		d = 1 + rnd(g, 999);
	else if (r < 85)
		d = 1000 * (1 + rnd(g, 1000));
	else if (r < 97)
		d = 1 + rnd(g, 1000000);
	else
		d = 1 + rnd(g, 1000000000);
	if (d > TAPE_MAX_TIME - g->time)
		d = 0;
	g->time += d;
	ev->time_ns = g->time;
}

static void random_endpoint(struct randtape *g, struct tape_endpoint *ep, int family)
{
	uint64_t r = rnd(g, 10);

	memset(ep, 0, sizeof *ep);
	ep->family = (uint8_t)family;
	if (family == 4) {
		if (r == 0)
			memset(ep->addr, rnd(g, 2) ? 0xff : 0, 4);
		else
			randtape_rng_bytes(&g->rng, ep->addr, 4);
	} else {
		switch (r) {
		case 0: /* :: or ::1 */
			ep->addr[15] = (uint8_t)rnd(g, 2);
			break;
		case 1: /* IPv4-mapped */
			ep->addr[10] = ep->addr[11] = 0xff;
			randtape_rng_bytes(&g->rng, ep->addr + 12, 4);
			break;
		case 2: /* 2001:db8::N, runs of zeros */
			ep->addr[0] = 0x20;
			ep->addr[1] = 0x01;
			ep->addr[2] = 0x0d;
			ep->addr[3] = 0xb8;
			randtape_rng_bytes(&g->rng, ep->addr + 14, 2);
			break;
		case 3: /* all ones: the longest text form */
			memset(ep->addr, 0xff, 16);
			break;
		default:
			randtape_rng_bytes(&g->rng, ep->addr, 16);
			/* Zero a random run of 16-bit groups. */
			if (rnd(g, 2)) {
				size_t a = 2 * rnd(g, 8), b = a + 2 * rnd(g, 8 - a / 2);
				memset(ep->addr + a, 0, b - a);
			}
		}
	}
	r = rnd(g, 10);
	ep->port = r == 0 ? (uint16_t)(rnd(g, 2) ? 0 : 65535) : (uint16_t)rnd(g, 65536);
}

static void make_open(struct randtape *g, struct tape_event *ev)
{
	struct live_conn *c = &g->live[g->nlive++];
	int family = rnd(g, 3) ? 4 : 6;
	uint64_t r = rnd(g, 100);

	memset(c, 0, sizeof *c);
	c->id = g->next_id;
	/* Mostly consecutive ids, sometimes skipping some, rarely far ahead. */
	if (r < 85 || g->next_id > (UINT64_C(1) << 62))
		g->next_id += 1;
	else if (r < 99)
		g->next_id += 2 + rnd(g, 1000);
	else
		g->next_id += 1 + rnd(g, UINT64_C(1) << 56);
	g->opened++;
	ev->kind = TAPE_EV_OPEN;
	ev->conn = c->id;
	random_endpoint(g, &ev->client, family);
	random_endpoint(g, &ev->server, family);
	ev->flags = (uint32_t)(rnd(g, 2) ? 0 : rnd(g, TAPE_OPEN_KNOWN_FLAGS + 1));
}

static size_t data_len(struct randtape *g)
{
	uint64_t r = rnd(g, 1000);
	size_t max = g->o.max_data, len;

	if (r < 5)
		return max;
	if (r < 10)
		return 1;
	if (r < 750)
		len = 1 + rnd(g, 100);
	else if (r < 970)
		len = 1 + rnd(g, 2000);
	else
		len = 1 + rnd(g, max);
	return len > max ? max : len;
}

static void fill_data(struct randtape *g, uint8_t *p, size_t len)
{
	switch (rnd(g, 4)) {
	case 0:
		fill_text(g, p, len);
		break;
	case 1:
		memset(p, (int)rnd(g, 256), len);
		break;
	default:
		randtape_rng_bytes(&g->rng, p, len);
	}
}

static void make_note(struct randtape *g, struct tape_event *ev, uint64_t conn)
{
	uint64_t r = rnd(g, 1000);
	size_t len;

	if (r < 100)
		len = 0;
	else if (r < 995)
		len = 1 + rnd(g, g->o.max_note < 80 ? g->o.max_note : 80);
	else
		len = g->o.max_note - rnd(g, 2);
	if (len > g->o.max_note)
		len = g->o.max_note;
	fill_text(g, g->note, len);
	ev->kind = TAPE_EV_NOTE;
	ev->conn = conn;
	ev->data = g->note;
	ev->len = len;
}

static void close_at(struct randtape *g, struct tape_event *ev, size_t i)
{
	ev->kind = TAPE_EV_CLOSE;
	ev->conn = g->live[i].id;
	ev->reason = (enum tape_close_reason)rnd(g, TAPE_CLOSE__COUNT);
	g->live[i] = g->live[--g->nlive];
}

void randtape_next(struct randtape *g, struct tape_event *ev)
{
	int can_open = g->nlive < g->o.max_live && (g->o.conns == 0 || g->opened < g->o.conns);
	uint64_t r = rnd(g, 100);

	memset(ev, 0, sizeof *ev);
	advance_time(g, ev);
	if (can_open && (g->nlive == 0 || r < 12)) {
		make_open(g, ev);
		return;
	}
	if (g->nlive == 0 || r >= 97) {
		make_note(g, ev, 0);
		return;
	}

	size_t i = (size_t)rnd(g, g->nlive);
	struct live_conn *c = &g->live[i];
	unsigned d = (unsigned)rnd(g, 2);
	if ((c->fin[d] || c->rst[d]) && !c->fin[!d] && !c->rst[!d])
		d = !d; /* prefer the side that can still send */
	int can_send = !c->fin[d] && !c->rst[d];
	int both_done = (c->fin[0] || c->rst[0]) && (c->fin[1] || c->rst[1]);

	ev->conn = c->id;
	ev->dir = d ? TAPE_S2C : TAPE_C2S;

	/* Weighted choice among what the rules allow; ending events are made
	 * rarer when few connections must carry many events. */
	unsigned s = g->end_pm, rst_ok = !c->rst[d] && !g->o.no_gap_rst;
	unsigned w[] = {
		can_send ? 650u : 0u,                       /* DATA */
		can_send && !g->o.no_gap_rst ? 50u : 0u,    /* GAP */
		can_send ? (100u * s + 999) / 1000 : 0u,    /* FIN */
		rst_ok ? (30u * s + 999) / 1000 : 0u,       /* RST */
		60u,                                        /* NOTE */
		both_done ? 1500u : (40u * s + 999) / 1000, /* CLOSE */
	};
	unsigned total = 0, k = 0;
	for (size_t j = 0; j < sizeof w / sizeof w[0]; j++)
		total += w[j];
	r = rnd(g, total);
	while (r >= w[k])
		r -= w[k++];
	switch (k) {
	case 0:
		ev->kind = TAPE_EV_DATA;
		ev->len = data_len(g);
		fill_data(g, g->data, ev->len);
		ev->data = g->data;
		break;
	case 1:
		ev->kind = TAPE_EV_GAP;
		r = rnd(g, 20);
		if (r == 0)
			ev->gap = TAPE_MAX_GAP;
		else if (r == 1)
			ev->gap = 1;
		else
			ev->gap = 1 + rnd(g, r < 10 ? 100000 : TAPE_MAX_GAP);
		break;
	case 2:
		ev->kind = TAPE_EV_FIN;
		c->fin[d] = 1;
		break;
	case 3:
		ev->kind = TAPE_EV_RST;
		c->rst[d] = 1;
		break;
	case 4:
		make_note(g, ev, c->id);
		break;
	default:
		close_at(g, ev, i);
	}
}

int randtape_finish(struct randtape *g, struct tape_event *ev)
{
	while (g->nlive > 0) {
		memset(ev, 0, sizeof *ev);
		/* Leave roughly one in four open, as a recording cut short does. */
		if (rnd(g, 4) == 0) {
			g->live[0] = g->live[--g->nlive];
			continue;
		}
		advance_time(g, ev);
		close_at(g, ev, (size_t)rnd(g, g->nlive));
		return 1;
	}
	return 0;
}
