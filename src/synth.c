/* SPDX-License-Identifier: BSD-2-Clause */
/* synth.c - turns tape events back into valid Ethernet or raw IP frames carrying TCP segments. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"
#include "tape-int.h"

/*
 * The synthesiser keeps, per connection, the sequence space of both
 * directions and plays each event as the packets a well-behaved TCP pair
 * would have exchanged (doc/design/synth.md has the full table):
 *
 *   OPEN   SYN, SYN+ACK, ACK            (nothing when the OPEN is midstream)
 *   DATA   ACK|PSH segments of <= mss bytes, PSH on the last, then the
 *          peer's ACK (and a peer ACK before any segment that would put
 *          more than a window in flight)
 *   GAP    nothing: the sender's sequence number jumps, so the bytes are
 *          "missing segments"; the peer's next ACK covers them
 *   FIN    FIN+ACK, then the peer's ACK
 *   RST    RST+ACK
 *   CLOSE  the FINs (reason fin) or the client's RST (reason rst) that
 *          the tape did not carry as events; otherwise nothing
 *   NOTE   nothing
 *
 * Packets of one event are stamped start_ns + time_ns + k * 1 us for the
 * k-th packet (k from 0).  When a big event's packets run past the next
 * event's time, that event starts at the last frame's time instead, so the
 * output is always in time order.
 */

const uint8_t tape__synth_mac[2][6] = {
	{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, /* client (locally administered) */
	{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}, /* server */
};

#define ST_FIN0 0x01u /* c2s has sent FIN; ST_FIN0 << dir */
#define ST_RST0 0x04u /* c2s has sent RST; ST_RST0 << dir */

struct conn {
	uint64_t id;
	int used;
	unsigned st;
	struct tape_endpoint ep[2]; /* sender of each direction: [C2S] client, [S2C] server */
	uint32_t nxt[2];            /* next sequence number each direction sends */
	uint64_t unacked[2];        /* bytes a direction sent that the peer has not ACKed */
	uint64_t hole[2];           /* unseen (GAP) bytes since that direction's last segment */
	uint16_t ip_id[2];          /* next IPv4 identification per sender */
};

struct tape__synth {
	tape__frame_fn frame;
	void *ctx;
	uint32_t mss;        /* as configured; 0 for the per-family default */
	int linktype;
	/* open-addressed map of live connections (linear probing, backward-shift
	 * deletion, at most half full) */
	struct conn *conns;
	size_t nslots, nlive;
	/* the frame being built: Ethernet + IPv6 + TCP with options + mss */
	uint8_t *buf;
	size_t cap;
	/* timestamps */
	uint64_t ev_ts;      /* absolute time of the event being played */
	uint64_t k;          /* packets of this event so far */
	uint64_t last_ts;    /* timestamp of the previous frame */
	char err[TAPE__ERRLEN];
};

/* ---- byte order helpers ---- */
static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------------------
 * Internet checksum, RFC 1071: the 16-bit one's-complement of the
 * one's-complement sum of the data taken as big-endian 16-bit words, an odd
 * last byte padded with a zero byte.  The sum is end-around-carry folded
 * before it is returned so that pieces can be chained without overflow.
 * ------------------------------------------------------------------------- */
uint32_t tape__inet_sum(uint32_t sum, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t acc = sum;

	while (n >= 8) { /* four words at a time; acc cannot overflow before the fold */
		acc += ((uint32_t)b[0] << 8 | b[1]) + ((uint32_t)b[2] << 8 | b[3]) +
		       ((uint32_t)b[4] << 8 | b[5]) + ((uint32_t)b[6] << 8 | b[7]);
		b += 8;
		n -= 8;
	}
	while (n >= 2) {
		acc += (uint32_t)b[0] << 8 | b[1];
		b += 2;
		n -= 2;
	}
	if (n)
		acc += (uint32_t)b[0] << 8;
	while (acc >> 16)
		acc = (acc & 0xffffu) + (acc >> 16);
	return (uint32_t)acc;
}

/* Folds the carries of a running sum and complements it: the value to
 * store in a checksum field (host order; write it big-endian). */
uint16_t tape__inet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Checksum of one buffer; 0 when the buffer holds its own valid checksum. */
uint16_t tape__inet_csum(const void *p, size_t n)
{
	return tape__inet_fold(tape__inet_sum(0, p, n));
}

/* ---------------------------------------------------------------------------
 * Ethernet II header (IEEE 802.3, "DIX" framing); no FCS, no padding to 60
 * bytes, as a capture on the sending host shows it.
 *
 *    0                   1                   2                   3
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   | destination MAC | source MAC      |type |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *    0              5  6             11 12  13
 * ------------------------------------------------------------------------- */
/* Writes the 14-byte header above; TAPE__ETH_HLEN or TAPE_ELIMIT. */
long tape__build_eth(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
		     uint16_t ethertype)
{
	if (cap < TAPE__ETH_HLEN)
		return TAPE_ELIMIT;
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	put16(buf + 12, ethertype);
	return TAPE__ETH_HLEN;
}

/* ---------------------------------------------------------------------------
 * IPv4 header, RFC 791 section 3.1 (no options, IHL 5):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------+-------+---------------+-------------------------------+
 *   |Ver=4  |IHL=5  |TOS = 0        |          Total Length         |
 *   +-------+-------+---------------+-----+-------------------------+
 *   |         Identification        |0|1|0|    Fragment Offset = 0  |  DF set
 *   +---------------+---------------+-----+-------------------------+
 *   |  TTL = 64     | Protocol = 6  |         Header Checksum       |
 *   +---------------+---------------+-------------------------------+
 *   |                       Source Address                          |
 *   +---------------------------------------------------------------+
 *   |                    Destination Address                        |
 *   +---------------------------------------------------------------+
 *
 * IPv6 header, RFC 8200 section 3:
 *
 *   +-------+---------------+---------------------------------------+
 *   |Ver=6  | Traffic Class |           Flow Label = 0              |
 *   +-------+---------------+-------+---------------+---------------+
 *   |         Payload Length        | Next Hdr = 6  | Hop Limit = 64|
 *   +-------------------------------+---------------+---------------+
 *   |                  Source Address (16 bytes)                    |
 *   +---------------------------------------------------------------+
 *   |               Destination Address (16 bytes)                  |
 *   +---------------------------------------------------------------+
 *
 * TCP header, RFC 9293 section 3.1:
 *
 *   +-------------------------------+-------------------------------+
 *   |          Source Port          |       Destination Port        |
 *   +-------------------------------+-------------------------------+
 *   |                        Sequence Number                        |
 *   +---------------------------------------------------------------+
 *   |                    Acknowledgment Number                      |
 *   +-------+-------+-+-+-+-+-+-+-+-+-------------------------------+
 *   | DOff  | Rsrvd |C|E|U|A|P|R|S|F|            Window             |
 *   +-------+-------+-+-+-+-+-+-+-+-+-------------------------------+
 *   |           Checksum            |         Urgent Pointer = 0    |
 *   +-------------------------------+-------------------------------+
 *   |                    Options (DOff*4 - 20 bytes)                |
 *   +---------------------------------------------------------------+
 *
 * The TCP checksum covers a pseudo-header, then the TCP header and data.
 * IPv4 (RFC 9293 section 3.1): source, destination (4 bytes each), a zero
 * byte, protocol 6, TCP length (2 bytes).  IPv6 (RFC 8200 section 8.1):
 * source, destination (16 bytes each), upper-layer length (4 bytes), three
 * zero bytes, next header 6.  Zero bytes add nothing to the sum, so both
 * reduce to sum(addresses) + 6 + TCP length.
 * ------------------------------------------------------------------------- */
/* Writes IP + TCP headers and payload at buf (pkt.h has the contract):
 * the TCP header and checksum first, then the IP header, whose IPv4
 * checksum covers only itself.  Returns bytes written or TAPE_EUSAGE /
 * TAPE_ELIMIT; buf is untouched on error. */
long tape__build_ip_tcp_opt(uint8_t *buf, size_t cap, const struct tape_endpoint *src,
			    const struct tape_endpoint *dst, uint32_t seq, uint32_t ack,
			    uint8_t flags, uint16_t win, const uint8_t *opt, size_t optlen,
			    const uint8_t *payload, size_t len, uint16_t ip_id)
{
	size_t iphl, alen, thl = TAPE__TCP_HLEN + optlen, total;
	uint8_t *th;
	uint32_t sum;

	if (!buf || !src || !dst || src->family != dst->family || optlen % 4 ||
	    optlen > TAPE__TCP_OPT_MAX || (optlen && !opt) || (len && !payload))
		return TAPE_EUSAGE;
	if (src->family == 4) {
		iphl = TAPE__IP4_HLEN;
		alen = 4;
		if (len > 65535u - iphl - thl) /* Total Length counts the IP header */
			return TAPE_ELIMIT;
	} else if (src->family == 6) {
		iphl = TAPE__IP6_HLEN;
		alen = 16;
		if (len > 65535u - thl) /* Payload Length does not; no jumbograms */
			return TAPE_ELIMIT;
	} else {
		return TAPE_EUSAGE;
	}
	total = iphl + thl + len;
	if (total > cap)
		return TAPE_ELIMIT;

	th = buf + iphl;
	put16(th, src->port);
	put16(th + 2, dst->port);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = flags;
	put16(th + 14, win);
	put16(th + 16, 0);
	put16(th + 18, 0);
	if (optlen)
		memcpy(th + TAPE__TCP_HLEN, opt, optlen);
	if (len)
		memcpy(th + thl, payload, len);
	sum = tape__inet_sum(0, src->addr, alen);
	sum = tape__inet_sum(sum, dst->addr, alen);
	sum += 6u + (uint32_t)(thl + len);
	sum = tape__inet_sum(sum, th, thl + len);
	put16(th + 16, tape__inet_fold(sum));

	if (src->family == 4) {
		buf[0] = 0x45;
		buf[1] = 0;
		put16(buf + 2, (uint32_t)total);
		put16(buf + 4, ip_id);
		put16(buf + 6, 0x4000u); /* DF, offset 0 */
		buf[8] = 64;
		buf[9] = 6;
		put16(buf + 10, 0);
		memcpy(buf + 12, src->addr, 4);
		memcpy(buf + 16, dst->addr, 4);
		put16(buf + 10, tape__inet_csum(buf, TAPE__IP4_HLEN));
	} else {
		put32(buf, UINT32_C(6) << 28);
		put16(buf + 4, (uint32_t)(thl + len));
		buf[6] = 6;
		buf[7] = 64;
		memcpy(buf + 8, src->addr, 16);
		memcpy(buf + 24, dst->addr, 16);
	}
	return (long)total;
}

/* tape__build_ip_tcp_opt() without TCP options (data offset 5). */
long tape__build_ip_tcp(uint8_t *buf, size_t cap, const struct tape_endpoint *src,
			const struct tape_endpoint *dst, uint32_t seq, uint32_t ack, uint8_t flags,
			uint16_t win, const uint8_t *payload, size_t len, uint16_t ip_id)
{
	return tape__build_ip_tcp_opt(buf, cap, src, dst, seq, ack, flags, win, NULL, 0, payload,
				      len, ip_id);
}

/* ---------------------------------------------------------------------------
 * The synthesiser.
 * ------------------------------------------------------------------------- */
static int serr(struct tape__synth *s, int code, const char *fmt, ...) TAPE__PRINTF(3, 4);
static int serr(struct tape__synth *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	return code;
}

/* Creates a synthesiser that hands every frame to frame(ctx, ...).  opts
 * may be NULL (Ethernet, default MSS).  The one frame buffer is allocated
 * here, so playing events never allocates except when the connection map
 * grows.  TAPE_EUSAGE for a NULL callback, an MSS above
 * TAPE__SYNTH_MAX_MSS or a linktype other than 1 and 101; -ENOMEM. */
int tape__synth_new(struct tape__synth **out, const struct tape__synth_opts *opts,
		    tape__frame_fn frame, void *ctx)
{
	struct tape__synth *s;
	uint32_t mss = opts ? opts->mss : 0;
	int linktype = opts ? opts->linktype : 0;

	*out = NULL;
	if (!frame || mss > TAPE__SYNTH_MAX_MSS)
		return TAPE_EUSAGE;
	if (linktype == 0)
		linktype = TAPE__LINKTYPE_ETHERNET;
	if (linktype != TAPE__LINKTYPE_ETHERNET && linktype != TAPE__LINKTYPE_RAW)
		return TAPE_EUSAGE;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->frame = frame;
	s->ctx = ctx;
	s->mss = mss;
	s->linktype = linktype;
	s->cap = TAPE__ETH_HLEN + TAPE__IP6_HLEN + TAPE__TCP_HLEN + TAPE__TCP_OPT_MAX +
		 (mss ? mss : 1460u);
	s->buf = malloc(s->cap);
	if (!s->buf) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

/* Frees the synthesiser and its connection state; emits nothing for
 * connections still open.  Accepts NULL. */
void tape__synth_free(struct tape__synth *s)
{
	if (!s)
		return;
	free(s->conns);
	free(s->buf);
	free(s);
}

/* The detail text of the last failed tape__synth_event(); never NULL. */
const char *tape__synth_error(const struct tape__synth *s)
{
	return s ? s->err : "";
}

/* ---- connection map ---- */
static size_t hash(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return (size_t)x;
}

static struct conn *conn_find(struct tape__synth *s, uint64_t id)
{
	if (!s->nslots)
		return NULL;
	for (size_t i = hash(id) & (s->nslots - 1);; i = (i + 1) & (s->nslots - 1)) {
		if (!s->conns[i].used)
			return NULL;
		if (s->conns[i].id == id)
			return &s->conns[i];
	}
}

static struct conn *slot_for(struct conn *tab, size_t n, uint64_t id)
{
	size_t i = hash(id) & (n - 1);

	while (tab[i].used)
		i = (i + 1) & (n - 1);
	return &tab[i];
}

/* A fresh zeroed slot for id (known absent), growing the table to stay at
 * most half full; NULL with *rc set when full or out of memory. */
static struct conn *conn_add(struct tape__synth *s, uint64_t id, int *rc)
{
	struct conn *c;

	if (s->nlive >= TAPE__SYNTH_MAX_CONNS) {
		*rc = serr(s, TAPE_ELIMIT, "conn %" PRIu64 ": more than %u connections open at once",
			   id, TAPE__SYNTH_MAX_CONNS);
		return NULL;
	}
	if ((s->nlive + 1) * 2 > s->nslots) {
		size_t n = s->nslots ? s->nslots * 2 : 64;
		struct conn *tab = calloc(n, sizeof *tab);
		if (!tab) {
			*rc = -ENOMEM;
			return NULL;
		}
		for (size_t i = 0; i < s->nslots; i++)
			if (s->conns[i].used)
				*slot_for(tab, n, s->conns[i].id) = s->conns[i];
		free(s->conns);
		s->conns = tab;
		s->nslots = n;
	}
	c = slot_for(s->conns, s->nslots, id);
	memset(c, 0, sizeof *c);
	c->used = 1;
	c->id = id;
	s->nlive++;
	return c;
}

/* Linear-probing deletion without tombstones: later members of the probe
 * run move back into the hole when their home slot allows it (Knuth, TAOCP
 * vol. 3, 6.4 Algorithm R). */
static void conn_del(struct tape__synth *s, struct conn *c)
{
	size_t mask = s->nslots - 1, i = (size_t)(c - s->conns), j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!s->conns[j].used)
			break;
		size_t home = hash(s->conns[j].id) & mask;
		/* move j to i unless home lies cyclically in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			s->conns[i] = s->conns[j];
			i = j;
		}
	}
	memset(&s->conns[i], 0, sizeof s->conns[i]);
	s->nlive--;
}

/* Initial sequence number of one direction: a fixed function of the
 * connection id (splitmix64's finaliser), so a tape always gives the same
 * packets. */
static uint32_t isn_for(uint64_t id, int dir)
{
	uint64_t x = id * 2 + (uint64_t)dir + UINT64_C(0x9e3779b97f4a7c15);

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return (uint32_t)(x >> 32);
}

static uint32_t mss_for(const struct tape__synth *s, const struct conn *c)
{
	if (s->mss)
		return s->mss;
	return c->ep[0].family == 4 ? 1460u : 1440u;
}

/* Builds and hands over one segment from direction d of c, then advances
 * that direction's state.  SYN and FIN consume a sequence number; any
 * segment with ACK acknowledges everything the peer sent. */
static int send_seg(struct tape__synth *s, struct conn *c, int d, uint8_t flags,
		    const uint8_t *payload, size_t len)
{
	uint8_t opt[4];
	size_t optlen = 0, off = 0;
	uint32_t ack = (flags & TAPE__TH_ACK) ? c->nxt[!d] : 0;
	uint64_t ts;
	long n;

	if (flags & TAPE__TH_SYN) { /* MSS option, RFC 9293 section 3.7.1: kind 2, length 4 */
		opt[0] = 2;
		opt[1] = 4;
		put16(opt + 2, mss_for(s, c));
		optlen = 4;
	}
	if (s->linktype == TAPE__LINKTYPE_ETHERNET)
		off = (size_t)tape__build_eth(s->buf, s->cap, tape__synth_mac[!d], tape__synth_mac[d],
					      c->ep[d].family == 4 ? TAPE__ETHERTYPE_IPV4
								   : TAPE__ETHERTYPE_IPV6);
	n = tape__build_ip_tcp_opt(s->buf + off, s->cap - off, &c->ep[d], &c->ep[!d], c->nxt[d],
				   ack, flags, TAPE__SYNTH_WIN, opt, optlen, payload, len,
				   c->ip_id[d]);
	if (n < 0) /* cannot happen: families checked at OPEN, len <= mss */
		return serr(s, (int)n, "conn %" PRIu64 ": cannot build a segment of %zu bytes", c->id,
			    len);
	c->ip_id[d]++;
	c->nxt[d] += (uint32_t)len + ((flags & TAPE__TH_SYN) ? 1u : 0u) +
		     ((flags & TAPE__TH_FIN) ? 1u : 0u);
	c->unacked[d] += len;
	c->hole[d] = 0;
	if (flags & TAPE__TH_ACK)
		c->unacked[!d] = 0;

	/* An event that starts before the previous frame starts at its time. */
	if (s->k == 0 && s->ev_ts < s->last_ts)
		s->ev_ts = s->last_ts;
	ts = s->ev_ts + s->k * TAPE__SYNTH_STEP_NS;
	if (ts < s->ev_ts) /* saturate rather than wrap */
		ts = UINT64_MAX;
	s->k++;
	s->last_ts = ts;
	return s->frame(s->ctx, ts, s->buf, off + (size_t)n);
}

/* The peer of d acknowledges everything d sent, unless it is gone (RST). */
static int peer_ack(struct tape__synth *s, struct conn *c, int d)
{
	if (c->st & (ST_RST0 << !d))
		return 0;
	return send_seg(s, c, !d, TAPE__TH_ACK, NULL, 0);
}

static int ev_open(struct tape__synth *s, const struct tape_event *ev)
{
	struct conn *c;
	int rc = 0;

	if (ev->client.family != ev->server.family ||
	    (ev->client.family != 4 && ev->client.family != 6))
		return serr(s, TAPE_EFORMAT,
			    "conn %" PRIu64 ": OPEN with address families %u and %u", ev->conn,
			    ev->client.family, ev->server.family);
	if (conn_find(s, ev->conn))
		return serr(s, TAPE_ESEQ, "conn %" PRIu64 ": second OPEN", ev->conn);
	c = conn_add(s, ev->conn, &rc);
	if (!c)
		return rc;
	c->ep[TAPE_C2S] = ev->client;
	c->ep[TAPE_S2C] = ev->server;
	for (int d = 0; d < 2; d++) {
		c->nxt[d] = isn_for(ev->conn, d);
		c->ip_id[d] = 1;
	}
	if (ev->flags & TAPE_OPEN_MIDSTREAM)
		return 0;
	/* Three-way handshake, RFC 9293 section 3.5. */
	rc = send_seg(s, c, TAPE_C2S, TAPE__TH_SYN, NULL, 0);
	if (!rc)
		rc = send_seg(s, c, TAPE_S2C, TAPE__TH_SYN | TAPE__TH_ACK, NULL, 0);
	if (!rc)
		rc = send_seg(s, c, TAPE_C2S, TAPE__TH_ACK, NULL, 0);
	return rc;
}

static int ev_data(struct tape__synth *s, struct conn *c, int d, const uint8_t *p, size_t len)
{
	uint32_t mss = mss_for(s, c);
	size_t off = 0;
	int rc;

	if (!len)
		return 0;
	while (off < len) {
		size_t n = len - off < mss ? len - off : mss;
		uint8_t flags = TAPE__TH_ACK | (off + n == len ? TAPE__TH_PSH : 0);
		/* Keep at most one window in flight: the receiver ACKs first. */
		if (c->unacked[d] + n > TAPE__SYNTH_WIN) {
			rc = peer_ack(s, c, d);
			if (rc)
				return rc;
		}
		rc = send_seg(s, c, d, flags, p + off, n);
		if (rc)
			return rc;
		off += n;
	}
	return peer_ack(s, c, d);
}

static int ev_gap(struct tape__synth *s, struct conn *c, int d, uint64_t gap)
{
	if (gap > TAPE__SYNTH_MAX_HOLE - c->hole[d])
		return serr(s, TAPE_EUNSUP,
			    "conn %" PRIu64 ": %" PRIu64 " unseen bytes in a row (%s) do not fit "
			    "TCP's sequence space (at most %u between two segments)",
			    c->id, gap + c->hole[d], tape_dir_name((enum tape_dir)d),
			    TAPE__SYNTH_MAX_HOLE);
	c->hole[d] += gap;
	c->unacked[d] += gap;
	c->nxt[d] += (uint32_t)gap;
	return 0;
}

static int ev_fin(struct tape__synth *s, struct conn *c, int d)
{
	int rc = send_seg(s, c, d, TAPE__TH_FIN | TAPE__TH_ACK, NULL, 0);

	c->st |= ST_FIN0 << d;
	return rc ? rc : peer_ack(s, c, d);
}

static int ev_rst(struct tape__synth *s, struct conn *c, int d)
{
	c->st |= ST_RST0 << d;
	/* RFC 9293 section 3.10.7: a reset on a synchronised connection carries
	 * the next sequence number; ACK lets tools tie it to the conversation. */
	return send_seg(s, c, d, TAPE__TH_RST | TAPE__TH_ACK, NULL, 0);
}

static int ev_close(struct tape__synth *s, struct conn *c, enum tape_close_reason reason)
{
	int rc = 0;

	if (c->st & (ST_RST0 | (ST_RST0 << 1)))
		return 0;
	if (reason == TAPE_CLOSE_FIN) {
		for (int d = 0; d < 2 && !rc; d++)
			if (!(c->st & (ST_FIN0 << d)))
				rc = ev_fin(s, c, d);
	} else if (reason == TAPE_CLOSE_RST) {
		rc = ev_rst(s, c, TAPE_C2S);
	} else {
		/* The capture just stops; an ACK still reveals a trailing gap. */
		for (int d = 0; d < 2 && !rc; d++)
			if (c->hole[d])
				rc = peer_ack(s, c, d);
	}
	return rc;
}

/* Plays one event (the table at the top of this file).  Events are
 * expected to be valid (tape__check_event); the checks here only keep the
 * synthesiser's own state consistent: TAPE_ESEQ for an event on a
 * connection that is not open or a second OPEN, TAPE_EFORMAT for a bad
 * family, direction or kind, TAPE_EUNSUP for unseen bytes that TCP's 32-bit
 * sequence space cannot express, TAPE_ELIMIT for too many connections, or
 * the first negative value the frame callback returned (the event's
 * remaining packets are then not sent).  Detail in tape__synth_error(). */
int tape__synth_event(struct tape__synth *s, uint64_t start_ns, const struct tape_event *ev)
{
	struct conn *c;
	int d, rc;

	s->err[0] = '\0';
	if (ev->time_ns > UINT64_MAX - start_ns)
		return serr(s, TAPE_EUSAGE, "conn %" PRIu64 ": time %" PRIu64 " + start %" PRIu64
			    " overflows", ev->conn, ev->time_ns, start_ns);
	s->ev_ts = start_ns + ev->time_ns;
	s->k = 0;
	if (ev->kind == TAPE_EV_NOTE)
		return 0;
	if (ev->kind == TAPE_EV_OPEN)
		return ev_open(s, ev);
	if (ev->kind < TAPE_EV_OPEN || ev->kind > TAPE_EV_NOTE)
		return serr(s, TAPE_EFORMAT, "conn %" PRIu64 ": unknown event kind %d", ev->conn,
			    (int)ev->kind);
	c = conn_find(s, ev->conn);
	if (!c)
		return serr(s, TAPE_ESEQ, "conn %" PRIu64 ": %s without OPEN", ev->conn,
			    tape_event_kind_name(ev->kind));
	if (ev->kind == TAPE_EV_CLOSE) {
		rc = ev_close(s, c, ev->reason);
		conn_del(s, c);
		return rc;
	}
	if (ev->dir != TAPE_C2S && ev->dir != TAPE_S2C)
		return serr(s, TAPE_EFORMAT, "conn %" PRIu64 ": direction %d", ev->conn,
			    (int)ev->dir);
	d = (int)ev->dir;
	switch (ev->kind) {
	case TAPE_EV_DATA:
		if (ev->len > TAPE_MAX_DATA || (ev->len && !ev->data))
			return serr(s, TAPE_EFORMAT, "conn %" PRIu64 ": DATA of %zu bytes", ev->conn,
				    ev->len);
		return ev_data(s, c, d, ev->data, ev->len);
	case TAPE_EV_GAP:
		return ev_gap(s, c, d, ev->gap);
	case TAPE_EV_FIN:
		return ev_fin(s, c, d);
	case TAPE_EV_RST:
		return ev_rst(s, c, d);
	default:
		return 0;
	}
}
