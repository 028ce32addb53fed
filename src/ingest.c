/* SPDX-License-Identifier: BSD-2-Clause */
/* ingest.c - the capture pipeline: libpcap packets -> decoder -> reassembler -> queued tape events. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"

/*
 * One packet can make the reassembler emit several events (a hole filled
 * releases buffered data, FIN, CLOSE ...) and the end of input flushes every
 * connection at once, so events are queued: headers in an array, payloads
 * in one arena.  Both are reset whenever the queue drains, so their size is
 * bounded by the reassembler's memory caps, not by the capture's length.
 */
struct qev {
	struct tape_event ev;
	size_t off; /* payload offset in the arena */
};

struct tape__ingest {
	pcap_t *p;
	int nano;
	struct tape__decoder *dec;
	struct tape__reasm *ra;
	struct tape_capture_opts opts;

	/* the first packet, read ahead to learn the start time */
	int have_first;
	struct pcap_pkthdr *first_h;
	const u_char *first_data;

	uint64_t start_ns, last_ns, last_tick_ns, last_pkt_ns;
	uint64_t (*pos)(void *);
	void *pos_ctx;
	uint64_t good_pos; /* input position after the last complete packet */
	uint64_t npackets; /* packets read, for opts.max_packets */
	int started, finished;
	int live;
	/* pcap_stats() totals, widened from libpcap's wrapping 32-bit counters */
	uint64_t kernel_drops, if_drops;
	unsigned last_drop, last_ifdrop;
	char truncated[256];

	struct qev *q;
	size_t qn, qcap, qhead;
	uint8_t *arena;
	size_t alen, acap;

	char *err;
	size_t errlen;
};

static int qpush(void *ctx, const struct tape_event *ev)
{
	struct tape__ingest *g = ctx;
	struct qev *e;

	if (g->qn == g->qcap) {
		size_t n = g->qcap ? g->qcap * 2 : 64;
		struct qev *nq = realloc(g->q, n * sizeof *nq);
		if (!nq)
			return -ENOMEM;
		g->q = nq;
		g->qcap = n;
	}
	if (ev->len > g->acap - g->alen) {
		size_t n = g->acap ? g->acap : 65536;
		while (n - g->alen < ev->len)
			n *= 2;
		uint8_t *na = realloc(g->arena, n);
		if (!na)
			return -ENOMEM;
		g->arena = na;
		g->acap = n;
	}
	e = &g->q[g->qn++];
	e->ev = *ev;
	e->off = g->alen;
	if (ev->len)
		memcpy(g->arena + g->alen, ev->data, ev->len);
	g->alen += ev->len;
	/* Capture clocks can step backwards; a tape's time cannot. */
	if (e->ev.time_ns < g->start_ns)
		e->ev.time_ns = g->start_ns;
	e->ev.time_ns -= g->start_ns;
	if (e->ev.time_ns < g->last_ns)
		e->ev.time_ns = g->last_ns;
	g->last_ns = e->ev.time_ns;
	return 0;
}

int tape__ingest_new(struct tape__ingest **out, pcap_t *p, const struct tape_capture_opts *opts,
		     char *err, size_t errlen)
{
	struct tape__ingest *g = calloc(1, sizeof *g);
	struct tape__reasm_opts ro;
	int rc;

	*out = g;
	if (!g)
		return -ENOMEM;
	g->p = p;
	g->err = err;
	g->errlen = errlen;
	if (opts)
		g->opts = *opts;
	g->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	rc = tape__decoder_new(&g->dec, pcap_datalink(p));
	if (rc) {
		snprintf(err, errlen, "link type %d (%s) is not supported", pcap_datalink(p),
			 pcap_datalink_val_to_name(pcap_datalink(p)) ? pcap_datalink_val_to_name(pcap_datalink(p))
								       : "unknown");
		return rc;
	}
	memset(&ro, 0, sizeof ro);
	ro.idle_ns = g->opts.idle_ns;
	ro.conn_mem = g->opts.conn_mem;
	ro.total_mem = g->opts.total_mem;
	ro.max_conns = g->opts.max_conns;
	rc = tape__reasm_new(&g->ra, &ro, qpush, g);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	return 0;
}

static uint64_t ts_ns(const struct tape__ingest *g, const struct pcap_pkthdr *h)
{
	return (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec * (g->nano ? 1u : 1000u);
}

/* Reads one packet: 1 and the packet, 0 at the end, or an error. */
static int read_packet(struct tape__ingest *g, struct pcap_pkthdr **h, const u_char **data)
{
	if (g->have_first) {
		g->have_first = 0;
		*h = g->first_h;
		*data = g->first_data;
		return 1;
	}
	if (g->opts.max_packets && g->npackets >= g->opts.max_packets)
		return 0;
	for (;;) {
		int rc = pcap_next_ex(g->p, h, data);
		if (rc == 1) {
			g->npackets++;
			if (g->pos)
				g->good_pos = g->pos(g->pos_ctx);
			return 1;
		}
		if (rc == 0) /* live capture: buffer timeout; nothing this time */
			return 2;
		if (rc == PCAP_ERROR_BREAK)
			return 0;
		if (g->live) { /* the interface went away, the socket failed ... */
			snprintf(g->err, g->errlen, "%s", pcap_geterr(g->p));
			return -EIO;
		}
		/* A capture whose writer was killed ends inside a record: keep
		 * everything before it, like a tape's truncated tail. */
		const char *msg = pcap_geterr(g->p);
		if (strstr(msg, "truncated dump file") || strstr(msg, "truncated pcapng")) {
			snprintf(g->truncated, sizeof g->truncated, "%s", msg);
			return 0;
		}
		snprintf(g->err, g->errlen, "%s", msg);
		return TAPE_EFORMAT;
	}
}

int tape__ingest_prime(struct tape__ingest *g)
{
	int rc = read_packet(g, &g->first_h, &g->first_data);

	if (rc < 0)
		return rc;
	if (rc == 1) {
		g->have_first = 1;
		g->start_ns = ts_ns(g, g->first_h);
		g->started = 1;
	}
	return 0;
}

uint64_t tape__ingest_start(const struct tape__ingest *g)
{
	return g->start_ns;
}

static int finish(struct tape__ingest *g)
{
	int rc;

	g->finished = 1;
	tape__decoder_finish(g->dec); /* count fragments that never completed */
	rc = tape__reasm_finish(g->ra, g->last_pkt_ns > g->start_ns ? g->last_pkt_ns : g->start_ns);
	if (rc == 0 && g->opts.stats_note) {
		struct tape_capture_stats st;
		char text[768];
		struct tape_event ev;

		if (g->live)
			tape__ingest_drops(g); /* the final counts; a failure keeps the last ones */
		tape__ingest_stats(g, &st);
		int n = snprintf(text, sizeof text,
				 "capture statistics: packets %llu, bytes %llu, tcp segments %llu, "
				 "non-tcp %llu, truncated %llu, malformed %llu, connections %llu, gaps %llu "
				 "(%llu bytes), conflicting retransmissions %llu, data after fin %llu bytes, "
				 "other dropped %llu bytes",
				 (unsigned long long)st.packets, (unsigned long long)st.bytes,
				 (unsigned long long)st.tcp, (unsigned long long)st.non_tcp,
				 (unsigned long long)st.truncated, (unsigned long long)st.malformed,
				 (unsigned long long)st.conns, (unsigned long long)st.gaps,
				 (unsigned long long)st.gap_bytes, (unsigned long long)st.conflicts,
				 (unsigned long long)st.after_fin_bytes, (unsigned long long)st.dropped_bytes);
		if (g->live && n > 0 && (size_t)n < sizeof text)
			n += snprintf(text + n, sizeof text - (size_t)n,
				      ", kernel drops %llu packets, interface drops %llu packets",
				      (unsigned long long)st.kernel_drops, (unsigned long long)st.if_drops);
		if (n >= (int)sizeof text)
			n = (int)sizeof text - 1;
		memset(&ev, 0, sizeof ev);
		ev.kind = TAPE_EV_NOTE;
		ev.conn = 0;
		ev.time_ns = g->start_ns + g->last_ns; /* qpush makes it relative */
		ev.data = (const uint8_t *)text;
		ev.len = n > 0 ? (size_t)n : 0;
		rc = qpush(g, &ev);
	}
	return rc;
}

int tape__ingest_next(struct tape__ingest *g, struct tape_event *ev)
{
	for (;;) {
		if (g->qhead < g->qn) {
			struct qev *e = &g->q[g->qhead++];
			*ev = e->ev;
			if (ev->len)
				ev->data = g->arena + e->off;
			return 1;
		}
		g->qhead = g->qn = 0;
		g->alen = 0;
		if (g->finished)
			return 0;

		struct pcap_pkthdr *h;
		const u_char *data;
		struct tape__seg seg;
		int rc = read_packet(g, &h, &data);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			rc = finish(g);
			if (rc < 0) {
				snprintf(g->err, g->errlen, "%s", tape_strerror(rc));
				return rc;
			}
			continue;
		}
		if (rc == 2)
			return 2;
		uint64_t t = ts_ns(g, h);
		if (t > g->last_pkt_ns)
			g->last_pkt_ns = t;
		if (!g->started) {
			g->started = 1;
			g->start_ns = t;
		}
		rc = tape__decode(g->dec, t, data, h->caplen, h->len, &seg);
		if (rc == 1)
			rc = tape__reasm_segment(g->ra, &seg);
		if (rc == 0 && t >= g->last_tick_ns + 1000000000u) {
			g->last_tick_ns = t;
			rc = tape__reasm_tick(g->ra, t);
		}
		if (rc < 0) {
			snprintf(g->err, g->errlen, "%s", tape_strerror(rc));
			return rc;
		}
	}
}

int tape__ingest_stop(struct tape__ingest *g)
{
	if (g->finished)
		return 0;
	g->have_first = 0;
	return finish(g);
}

void tape__ingest_pos_hook(struct tape__ingest *g, uint64_t (*pos)(void *), void *ctx)
{
	g->pos = pos;
	g->pos_ctx = ctx;
}

uint64_t tape__ingest_good_pos(const struct tape__ingest *g)
{
	return g->good_pos;
}

const char *tape__ingest_truncated(const struct tape__ingest *g)
{
	return g->truncated[0] ? g->truncated : NULL;
}

void tape__ingest_stats(const struct tape__ingest *g, struct tape_capture_stats *st)
{
	const struct tape__decode_stats *d = tape__decoder_stats(g->dec);
	const struct tape__reasm_stats *r = tape__reasm_stats(g->ra);

	memset(st, 0, sizeof *st);
	st->packets = d->packets;
	st->bytes = d->bytes;
	st->tcp = d->tcp;
	st->non_tcp = d->non_tcp;
	st->truncated = d->truncated;
	st->malformed = d->malformed;
	st->fragments = d->fragments;
	st->reassembled = d->reassembled;
	st->frag_dropped = d->frag_dropped;
	st->ip_len_zero = d->ip_len_zero;
	st->conns = r->conns;
	st->midstream = r->midstream;
	st->gaps = r->gaps;
	st->gap_bytes = r->gap_bytes;
	st->dup_bytes = r->dup_bytes;
	st->conflicts = r->conflicts;
	st->conflict_bytes = r->conflict_bytes;
	st->after_fin_bytes = r->after_fin_bytes;
	st->timeouts = r->timeouts;
	st->evicted = r->evicted;
	st->ignored_segments = r->ignored_segments;
	st->dropped_bytes = r->dropped_bytes;
	st->unverified_bytes = r->unverified_bytes;
	st->kernel_drops = g->kernel_drops;
	st->if_drops = g->if_drops;
}

void tape__ingest_set_live(struct tape__ingest *g, uint64_t start_ns)
{
	g->live = 1;
	g->started = 1;
	g->start_ns = start_ns;
}

int tape__ingest_tick(struct tape__ingest *g, uint64_t now_ns)
{
	int rc;

	if (g->finished || !g->started)
		return 0;
	rc = tape__reasm_tick(g->ra, now_ns);
	if (rc < 0)
		snprintf(g->err, g->errlen, "%s", tape_strerror(rc));
	return rc;
}

int tape__ingest_drops(struct tape__ingest *g)
{
	struct pcap_stat ps;

	if (pcap_stats(g->p, &ps) != 0) {
		snprintf(g->err, g->errlen, "cannot read the capture's statistics: %s", pcap_geterr(g->p));
		return -EIO;
	}
	/* Unsigned subtraction gives the increase across a wrap as well. */
	g->kernel_drops += (unsigned)(ps.ps_drop - g->last_drop);
	g->if_drops += (unsigned)(ps.ps_ifdrop - g->last_ifdrop);
	g->last_drop = ps.ps_drop;
	g->last_ifdrop = ps.ps_ifdrop;
	return 0;
}

void tape__ingest_free(struct tape__ingest *g)
{
	if (!g)
		return;
	tape__reasm_free(g->ra);
	tape__decoder_free(g->dec);
	free(g->q);
	free(g->arena);
	free(g);
}
