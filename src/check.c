/* SPDX-License-Identifier: BSD-2-Clause */
/* check.c - the rules an event sequence must follow to be a tape. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"

/*
 * Live connections sit in an open-addressed hash map (linear probing,
 * tombstones, grown at 50% load).  Closed ids are remembered as sorted,
 * disjoint, inclusive ranges so that "ids are unique within a tape" can be
 * enforced: tapes number their connections 1, 2, 3 ... so the ranges
 * coalesce and memory stays a few words however long the tape is.
 */
#define ST_USED 0x01u
#define ST_TOMB 0x02u
#define ST_FIN0 0x04u /* c2s sent FIN */
#define ST_FIN1 0x08u
#define ST_RST0 0x10u /* c2s sent RST */
#define ST_RST1 0x20u

struct tape__conn_slot {
	uint64_t id;
	unsigned st;
};

void tape__check_init(struct tape__check *c)
{
	memset(c, 0, sizeof *c);
}

void tape__check_cleanup(struct tape__check *c)
{
	free(c->slots);
	free(c->closed);
	memset(c, 0, sizeof *c);
}

size_t tape__check_live(const struct tape__check *c)
{
	return c->nlive;
}

static size_t hash(uint64_t id)
{
	id ^= id >> 33;
	id *= UINT64_C(0xff51afd7ed558ccd);
	id ^= id >> 33;
	return (size_t)id;
}

static struct tape__conn_slot *find(struct tape__check *c, uint64_t id)
{
	if (!c->nslots)
		return NULL;
	for (size_t i = hash(id) & (c->nslots - 1);; i = (i + 1) & (c->nslots - 1)) {
		struct tape__conn_slot *s = &c->slots[i];
		if (!(s->st & (ST_USED | ST_TOMB)))
			return NULL;
		if ((s->st & ST_USED) && s->id == id)
			return s;
	}
}

/* Rebuilds the table at a size that leaves it at most a quarter full,
 * dropping tombstones. */
static int rehash(struct tape__check *c)
{
	size_t n = 64, oldn = c->nslots;
	struct tape__conn_slot *old = c->slots, *ns;

	while (n < (c->nlive + 1) * 4)
		n *= 2;
	ns = calloc(n, sizeof *ns);
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < oldn; i++) {
		if (!(old[i].st & ST_USED))
			continue;
		size_t j = hash(old[i].id) & (n - 1);
		while (ns[j].st & ST_USED)
			j = (j + 1) & (n - 1);
		ns[j] = old[i];
	}
	free(old);
	c->slots = ns;
	c->nslots = n;
	c->ntomb = 0;
	return 0;
}

static int insert(struct tape__check *c, uint64_t id)
{
	if (c->nlive >= TAPE_MAX_OPEN_CONNS)
		return TAPE_ELIMIT;
	if ((c->nlive + c->ntomb + 1) * 2 > c->nslots) {
		int rc = rehash(c);
		if (rc)
			return rc;
	}
	size_t i = hash(id) & (c->nslots - 1);
	while (c->slots[i].st & ST_USED)
		i = (i + 1) & (c->nslots - 1);
	if (c->slots[i].st & ST_TOMB)
		c->ntomb--;
	c->slots[i].id = id;
	c->slots[i].st = ST_USED;
	c->nlive++;
	return 0;
}

/* Index of the first range with hi >= id. */
static size_t range_lb(const struct tape__check *c, uint64_t id)
{
	size_t lo = 0, hi = c->nclosed;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->closed[mid][1] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int was_closed(const struct tape__check *c, uint64_t id)
{
	size_t i = range_lb(c, id);
	return i < c->nclosed && c->closed[i][0] <= id;
}

static int add_closed(struct tape__check *c, uint64_t id)
{
	size_t i = range_lb(c, id);

	/* Extend the range ending at id - 1 or the one starting at id + 1. */
	if (i > 0 && c->closed[i - 1][1] + 1 == id) {
		c->closed[i - 1][1] = id;
		if (i < c->nclosed && c->closed[i][0] == id + 1) {
			c->closed[i - 1][1] = c->closed[i][1];
			memmove(&c->closed[i], &c->closed[i + 1], (c->nclosed - i - 1) * sizeof c->closed[0]);
			c->nclosed--;
		}
		return 0;
	}
	if (i < c->nclosed && c->closed[i][0] == id + 1) {
		c->closed[i][0] = id;
		return 0;
	}
	if (c->nclosed == TAPE_MAX_CLOSED_RANGES)
		return TAPE_ELIMIT;
	if (c->nclosed == c->capclosed) {
		size_t n = c->capclosed ? c->capclosed * 2 : 16;
		void *nr = realloc(c->closed, n * sizeof c->closed[0]);
		if (!nr)
			return -ENOMEM;
		c->closed = nr;
		c->capclosed = n;
	}
	memmove(&c->closed[i + 1], &c->closed[i], (c->nclosed - i) * sizeof c->closed[0]);
	c->closed[i][0] = id;
	c->closed[i][1] = id;
	c->nclosed++;
	return 0;
}

#define FAIL(code, ...)                               \
	do {                                          \
		snprintf(err, errlen, __VA_ARGS__);   \
		return (code);                        \
	} while (0)

static int endpoint_ok(const struct tape_endpoint *ep)
{
	return ep->family == 4 || ep->family == 6;
}

int tape__check_event(struct tape__check *c, const struct tape_event *ev, char *err, size_t errlen)
{
	unsigned long long id = (unsigned long long)ev->conn;
	struct tape__conn_slot *s = NULL;
	unsigned fin_bit = ev->dir == TAPE_S2C ? ST_FIN1 : ST_FIN0;
	unsigned rst_bit = ev->dir == TAPE_S2C ? ST_RST1 : ST_RST0;
	const char *dn = tape_dir_name(ev->dir);
	int rc;

	if (ev->time_ns > TAPE_MAX_TIME)
		FAIL(TAPE_EFORMAT, "time %llu ns is beyond the largest tape time", (unsigned long long)ev->time_ns);
	if (ev->time_ns < c->last_time)
		FAIL(TAPE_ESEQ, "time goes backwards: %llu.%03u us after %llu.%03u us",
		     (unsigned long long)(ev->time_ns / 1000), (unsigned)(ev->time_ns % 1000),
		     (unsigned long long)(c->last_time / 1000), (unsigned)(c->last_time % 1000));
	if (ev->kind < TAPE_EV_OPEN || ev->kind > TAPE_EV_NOTE)
		FAIL(TAPE_EFORMAT, "unknown event kind %d", (int)ev->kind);
	if ((ev->kind == TAPE_EV_DATA || ev->kind == TAPE_EV_GAP || ev->kind == TAPE_EV_FIN ||
	     ev->kind == TAPE_EV_RST) &&
	    ev->dir != TAPE_C2S && ev->dir != TAPE_S2C)
		FAIL(TAPE_EFORMAT, "invalid direction %d", (int)ev->dir);
	if (ev->conn == 0 && ev->kind != TAPE_EV_NOTE)
		FAIL(TAPE_EFORMAT, "connection 0 carries only notes, not %s", tape_event_kind_name(ev->kind));
	if (ev->conn != 0) {
		s = find(c, ev->conn);
		if (ev->kind == TAPE_EV_OPEN) {
			if (s || was_closed(c, ev->conn))
				FAIL(TAPE_ESEQ, "connection %llu opened twice", id);
		} else if (!s) {
			if (was_closed(c, ev->conn))
				FAIL(TAPE_ESEQ, "%s on connection %llu after its close",
				     tape_event_kind_name(ev->kind), id);
			FAIL(TAPE_ESEQ, "%s on connection %llu before its open",
			     tape_event_kind_name(ev->kind), id);
		}
	}

	switch (ev->kind) {
	case TAPE_EV_OPEN:
		if (!endpoint_ok(&ev->client) || !endpoint_ok(&ev->server))
			FAIL(TAPE_EFORMAT, "open of connection %llu: address family must be 4 or 6", id);
		if (ev->client.family != ev->server.family)
			FAIL(TAPE_EFORMAT, "open of connection %llu mixes IPv4 and IPv6 endpoints", id);
		if (ev->flags & ~TAPE_OPEN_KNOWN_FLAGS)
			FAIL(TAPE_EFORMAT, "open of connection %llu: unknown flags 0x%x", id,
			     (unsigned)(ev->flags & ~TAPE_OPEN_KNOWN_FLAGS));
		rc = insert(c, ev->conn);
		if (rc == TAPE_ELIMIT)
			FAIL(rc, "more than %u connections open at once", TAPE_MAX_OPEN_CONNS);
		if (rc)
			FAIL(rc, "out of memory");
		break;
	case TAPE_EV_DATA:
	case TAPE_EV_GAP:
		if (ev->kind == TAPE_EV_DATA && (ev->len == 0 || !ev->data))
			FAIL(TAPE_EFORMAT, "empty %s data on connection %llu", dn, id);
		if (ev->kind == TAPE_EV_DATA && ev->len > TAPE_MAX_DATA)
			FAIL(TAPE_EFORMAT, "%s data of %zu bytes on connection %llu exceeds the %u-byte limit",
			     dn, ev->len, id, TAPE_MAX_DATA);
		if (ev->kind == TAPE_EV_GAP && (ev->gap == 0 || ev->gap > TAPE_MAX_GAP))
			FAIL(TAPE_EFORMAT, "%s gap of %llu bytes on connection %llu is out of range", dn,
			     (unsigned long long)ev->gap, id);
		if (s->st & fin_bit)
			FAIL(TAPE_ESEQ, "%s %s on connection %llu after its fin", dn,
			     ev->kind == TAPE_EV_DATA ? "data" : "gap", id);
		if (s->st & rst_bit)
			FAIL(TAPE_ESEQ, "%s %s on connection %llu after its rst", dn,
			     ev->kind == TAPE_EV_DATA ? "data" : "gap", id);
		break;
	case TAPE_EV_FIN:
		if (s->st & fin_bit)
			FAIL(TAPE_ESEQ, "second %s fin on connection %llu", dn, id);
		if (s->st & rst_bit)
			FAIL(TAPE_ESEQ, "%s fin on connection %llu after its rst", dn, id);
		s->st |= fin_bit;
		break;
	case TAPE_EV_RST:
		if (s->st & rst_bit)
			FAIL(TAPE_ESEQ, "second %s rst on connection %llu", dn, id);
		s->st |= rst_bit;
		break;
	case TAPE_EV_CLOSE:
		if ((unsigned)ev->reason >= TAPE_CLOSE__COUNT)
			FAIL(TAPE_EFORMAT, "close of connection %llu: unknown reason %d", id, (int)ev->reason);
		rc = add_closed(c, ev->conn);
		if (rc == TAPE_ELIMIT)
			FAIL(rc, "closed connection ids too scattered to remember (more than %u runs)",
			     TAPE_MAX_CLOSED_RANGES);
		if (rc)
			FAIL(rc, "out of memory");
		s->st = ST_TOMB;
		c->nlive--;
		c->ntomb++;
		break;
	case TAPE_EV_NOTE:
		if (ev->len > TAPE_MAX_NOTE)
			FAIL(TAPE_EFORMAT, "note of %zu bytes exceeds the %u-byte limit", ev->len, TAPE_MAX_NOTE);
		if (ev->len && (!ev->data || memchr(ev->data, '\0', ev->len)))
			FAIL(TAPE_EFORMAT, "note contains a NUL byte");
		break;
	}
	c->last_time = ev->time_ns;
	c->events++;
	return 0;
}
