/* SPDX-License-Identifier: BSD-2-Clause */
/* gen_pcap.c - writes captures of scripted TCP conversations plus the exact tape reassembly must make of them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkt.h"
#include "randtape.h"
#include "tape-int.h"
#include "tapedeck.h"

/*
 * Each scenario is a short script that plays both ends of one or more TCP
 * conversations packet by packet and, right after the packet that causes
 * them, writes the events reassembly must produce (doc/reassembly.md): an
 * OPEN at the first segment of a connection, DATA when bytes become
 * contiguous (timestamped by the packet that made them deliverable, one
 * event per run of bytes that packet released), GAP before the bytes after
 * a hole once the hole is known to be lost, FIN when the stream reaches
 * the FIN, CLOSE after both FINs or a RST, and at the end of the capture
 * what is still open is flushed and closed with reason "end" at the time
 * of the last packet.  Expected statistics (struct tape_capture_stats) are
 * written too, for the counters a scenario pins down.
 *
 * Headers: IP and TCP come from tape__build_ip_tcp*(), Ethernet from
 * tape__build_eth(); the few headers the library has no builder for
 * (802.1Q tags, Linux cooked headers, BSD loopback, IPv4 options and
 * fragments, IPv6 extension and fragment headers) are written here, each
 * in one small helper next to a drawing of its layout.
 */

/* Exit codes. */
enum { GEN_OK = 0, GEN_FAIL = 1, GEN_USAGE = 2 };

#define FRAME_MAX 4096u          /* largest frame any scenario builds */
#define T0_NS UINT64_C(1795255200000000000) /* 2026-11-21T10:00:00Z, the first frame */
#define STEP_NS 10250u           /* default spacing of frames: not a whole microsecond */
#define WIN 65535u
#define ACK_AUTO UINT64_MAX      /* ack what the peer has sent so far */

/* Link layers a scenario can write. */
enum link {
	L_ETH,  /* LINKTYPE_ETHERNET */
	L_VLAN, /* Ethernet + one 802.1Q tag */
	L_QINQ, /* Ethernet + 802.1ad service tag + 802.1Q customer tag */
	L_SLL,  /* LINKTYPE_LINUX_SLL */
	L_SLL2, /* LINKTYPE_LINUX_SLL2 */
	L_NULL, /* LINKTYPE_NULL (BSD loopback, host byte order) */
	L_RAW,  /* LINKTYPE_RAW */
};

/* Per-conversation header variations. */
#define CV_IPOPT 0x1u /* IPv4 options (Router Alert + NOPs) on every packet */
#define CV_EXT6 0x2u  /* IPv6 Hop-by-Hop, Destination, Routing, Destination headers */

static const uint8_t mac[2][6] = {
	{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, /* client */
	{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}, /* server */
};

/* One TCP conversation: [0] is the client, [1] the server. */
struct conv {
	struct tape_endpoint ep[2];
	uint32_t isn[2];
	uint8_t *txt[2];   /* what each side sends, by stream offset */
	size_t txtlen[2];
	uint64_t hi[2];    /* highest offset each side has sent, FIN included */
	uint16_t ipid[2];
	unsigned opts;     /* CV_* */
	uint64_t id;       /* expected connection id, set by ex_open() */
};

struct gen {
	const char *name;
	enum link link;
	int ng;
	uint32_t snaplen;
	struct tape__out out;
	struct tape__pcapout *po;
	struct tape_writer *w;
	uint64_t t0;       /* time of the first frame: the tape's start */
	uint64_t t;        /* time of the next frame */
	uint64_t last;     /* time of the last frame written */
	uint64_t step;
	uint64_t next_id;
	uint64_t ex_last;  /* time of the last expected event */
	int clamp;         /* the clock stepped back: clamp events to ex_last */
	struct tape_capture_stats st; /* expected counters */
	uint8_t frame[FRAME_MAX + 64];
	uint8_t ip[FRAME_MAX];
	uint8_t tmp[FRAME_MAX];
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("gen_pcap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(GEN_FAIL);
}

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

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* ---- conversations ---------------------------------------------------------- */

static void ep_set(struct tape_endpoint *ep, const char *addr_port)
{
	if (tape_endpoint_parse(addr_port, strlen(addr_port), ep) != 0)
		die("bad endpoint %s", addr_port);
}

/* Fills n bytes of recognisable text: a line per 32 bytes naming the side
 * and the offset, so a misplaced byte shows in a diff of the hex. */
static void fill_text(uint8_t *p, size_t n, char side, unsigned tag)
{
	char line[40];

	for (size_t off = 0; off < n; off += 32) {
		int k = snprintf(line, sizeof line, "%c%02u %06zu abcdefghijklmnopqrs\r\n", side, tag % 100, off);
		size_t take = n - off < 32 ? n - off : 32;
		if (k < 32)
			die("internal: text line too short");
		memcpy(p + off, line, take);
	}
}

/* A conversation between client and server ("192.0.2.1:49152",
 * "[2001:db8::1]:80") with initial sequence numbers isn_c and isn_s and
 * len_c / len_s bytes of text to send. */
static void conv_init(struct conv *c, const char *client, const char *server, uint32_t isn_c,
		      uint32_t isn_s, size_t len_c, size_t len_s, unsigned tag)
{
	memset(c, 0, sizeof *c);
	ep_set(&c->ep[0], client);
	ep_set(&c->ep[1], server);
	c->isn[0] = isn_c;
	c->isn[1] = isn_s;
	c->txtlen[0] = len_c;
	c->txtlen[1] = len_s;
	for (int d = 0; d < 2; d++) {
		c->txt[d] = malloc(c->txtlen[d] ? c->txtlen[d] : 1);
		if (!c->txt[d])
			die("out of memory");
		fill_text(c->txt[d], c->txtlen[d], d ? 'S' : 'C', tag);
	}
	c->ipid[0] = (uint16_t)(0x1000u + tag * 16u);
	c->ipid[1] = (uint16_t)(0x8000u + tag * 16u);
}

static void conv_free(struct conv *c)
{
	free(c->txt[0]);
	free(c->txt[1]);
	c->txt[0] = c->txt[1] = NULL;
}

/* ---- headers this file writes itself ----------------------------------------- */

/*
 * IPv4 options (RFC 791 section 3.1), inserted after the 20-byte header:
 *
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *   | 0x94   | 4      | 0      0        | NOP    | NOP    | NOP    | EOL    |
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *     Router Alert (RFC 2113)             padding to a 32-bit boundary
 *
 * IHL grows to 7 and Total Length by 8; the TCP checksum does not change
 * (its pseudo-header has the TCP length, not the IP one).
 */
static size_t add_ip4_options(uint8_t *ip, size_t len)
{
	static const uint8_t opt[8] = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};

	if (len + sizeof opt > FRAME_MAX)
		die("internal: datagram too long for options");
	memmove(ip + 20 + sizeof opt, ip + 20, len - 20);
	memcpy(ip + 20, opt, sizeof opt);
	ip[0] = 0x47;
	put16(ip + 2, (uint32_t)(len + sizeof opt));
	put16(ip + 10, 0);
	put16(ip + 10, tape__inet_csum(ip, 28));
	return len + sizeof opt;
}

/*
 * IPv6 extension headers (RFC 8200 section 4) between the fixed header and
 * TCP, in the recommended order:
 *
 *   Hop-by-Hop (8)    | NH=60 | 0 | PadN: 1 4 0 0 0 0 |
 *   Destination (8)   | NH=43 | 0 | PadN: 1 4 0 0 0 0 |
 *   Routing (24)      | NH=60 | 2 | type 4 | left 0 | last 0 | flags 0 | tag (2) |
 *                     | segment list[0] = the destination (16)                  |
 *                       (a Segment Routing Header, RFC 8754, with nothing left
 *                       to visit: the pseudo-header uses the same destination)
 *   Destination (8)   | NH=6  | 0 | PadN: 1 4 0 0 0 0 |
 */
#define EXT6_LEN 48u
static size_t add_ip6_ext(uint8_t *ip, size_t len)
{
	uint8_t *e = ip + 40;

	if (len + EXT6_LEN > FRAME_MAX)
		die("internal: datagram too long for extension headers");
	memmove(ip + 40 + EXT6_LEN, ip + 40, len - 40);
	memset(e, 0, EXT6_LEN);
	e[0] = 60, e[2] = 1, e[3] = 4;           /* Hop-by-Hop -> Destination */
	e[8] = 43, e[10] = 1, e[11] = 4;         /* Destination -> Routing */
	e[16] = 60, e[17] = 2, e[18] = 4;        /* Routing (SRH) -> Destination */
	memcpy(e + 24, ip + 24, 16);
	e[40] = 6, e[42] = 1, e[43] = 4;         /* Destination -> TCP */
	ip[6] = 0;                               /* Next Header: Hop-by-Hop */
	put16(ip + 4, (uint32_t)(len - 40 + EXT6_LEN));
	return len + EXT6_LEN;
}

/* ---- frames -------------------------------------------------------------------- */

/* What a frame is, for the expected statistics. */
enum fkind {
	F_TCP,     /* decodes to a TCP segment */
	F_CUT,     /* a TCP segment whose payload the snaplen cut */
	F_NONTCP,  /* not TCP */
	F_FRAG,    /* a fragment that does not complete its datagram */
	F_FRAGEND, /* the fragment that completes it: a TCP segment */
};

static int linktype_of(enum link l)
{
	switch (l) {
	case L_ETH:
	case L_VLAN:
	case L_QINQ:
		return 1;
	case L_SLL:
		return 113;
	case L_SLL2:
		return 276;
	case L_NULL:
		return 0;
	case L_RAW:
		return 101;
	}
	return 1;
}

/*
 * Writes the link header for a packet from side d (0 client, 1 server)
 * carrying ethertype; returns its length.
 *
 *   802.1Q tag (after the Ethernet addresses, before the inner type):
 *   | 0x8100 (or 0x88a8 outer) | PCP(3) DEI(1) VID(12) | inner type |
 *
 *   Linux SLL (16):  | pkttype | ARPHRD (1) | addrlen 6 | addr (8) | proto |
 *   Linux SLL2 (20): | proto | 0 | ifindex (4) | ARPHRD (2) | pkttype | addrlen | addr (8) |
 *     pkttype: 4 "outgoing" for the client (the capturing host), 0 "to us"
 *     for the server's packets.
 *   BSD NULL (4): the address family in the capturing host's byte order:
 *     2 for IPv4, 30 (Darwin's AF_INET6) for IPv6.
 */
static size_t link_header(struct gen *g, uint8_t *f, int d, uint16_t ethertype)
{
	uint32_t fam;

	switch (g->link) {
	case L_ETH:
		if (tape__build_eth(f, 64, mac[d ^ 1], mac[d], ethertype) < 0)
			die("internal: tape__build_eth");
		return 14;
	case L_VLAN:
		if (tape__build_eth(f, 64, mac[d ^ 1], mac[d], 0x8100u) < 0)
			die("internal: tape__build_eth");
		put16(f + 14, 100);        /* PCP 0, VID 100 */
		put16(f + 16, ethertype);
		return 18;
	case L_QINQ:
		if (tape__build_eth(f, 64, mac[d ^ 1], mac[d], 0x88a8u) < 0)
			die("internal: tape__build_eth");
		put16(f + 14, 0x2000u | 200); /* PCP 1, VID 200 */
		put16(f + 16, 0x8100u);
		put16(f + 18, 100);
		put16(f + 20, ethertype);
		return 22;
	case L_SLL:
		memset(f, 0, 16);
		put16(f, d == 0 ? 4 : 0);
		put16(f + 2, 1);
		put16(f + 4, 6);
		memcpy(f + 6, mac[d], 6);
		put16(f + 14, ethertype);
		return 16;
	case L_SLL2:
		memset(f, 0, 20);
		put16(f, ethertype);
		put32(f + 4, 2);
		put16(f + 8, 1);
		f[10] = d == 0 ? 4 : 0;
		f[11] = 6;
		memcpy(f + 12, mac[d], 6);
		return 20;
	case L_NULL:
		fam = ethertype == 0x86ddu ? 30u : 2u;
		memcpy(f, &fam, 4);
		return 4;
	case L_RAW:
		return 0;
	}
	return 0;
}

/* Writes one frame of payload p (an IP datagram, or ARP) at the current
 * time and advances the clock. */
static void frame(struct gen *g, int d, uint16_t ethertype, const uint8_t *p, size_t n, enum fkind kind)
{
	size_t h = link_header(g, g->frame, d, ethertype), len;
	int rc;

	if (h + n > sizeof g->frame)
		die("internal: frame too long");
	memcpy(g->frame + h, p, n);
	len = h + n;
	if (g->link <= L_QINQ && len < 60) { /* Ethernet minimum, padding after the datagram */
		memset(g->frame + len, 0, 60 - len);
		len = 60;
	}
	rc = tape__pcapout_frame(g->po, g->t, g->frame, len);
	if (rc)
		die("%s: %s", g->name, tape__pcapout_error(g->po));
	g->last = g->t;
	g->t += g->step;
	g->st.packets++;
	g->st.bytes += len;
	switch (kind) {
	case F_CUT:
		g->st.truncated++;
		/* fall through */
	case F_TCP:
		g->st.tcp++;
		break;
	case F_NONTCP:
		g->st.non_tcp++;
		break;
	case F_FRAGEND:
		g->st.reassembled++;
		g->st.tcp++;
		/* fall through */
	case F_FRAG:
		g->st.fragments++;
		break;
	}
}

static uint16_t ethertype_of(const struct conv *c)
{
	return c->ep[0].family == 4 ? 0x0800u : 0x86ddu;
}

/* Builds the IP datagram of one segment from side d into out: seq is the
 * SYN's ISN or the stream offset off, ack (when flags has ACK) the peer's
 * offset ackoff (ACK_AUTO: everything the peer sent).  p/n is the payload
 * (NULL: the side's text at off).  SYNs carry MSS, SACK-permitted and
 * window-scale options. */
static size_t build(struct conv *c, int d, uint8_t flags, uint64_t off, const uint8_t *p, size_t n,
		    uint64_t ackoff, uint8_t *out)
{
	static const uint8_t synopt[12] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
	uint32_t seq = flags & TAPE__TH_SYN ? c->isn[d] : c->isn[d] + 1u + (uint32_t)off;
	uint32_t ack = 0;
	long len;

	if (flags & TAPE__TH_ACK) {
		if (ackoff == ACK_AUTO)
			ackoff = c->hi[d ^ 1];
		ack = c->isn[d ^ 1] + 1u + (uint32_t)ackoff;
	}
	if (!p && n) {
		if (off + n > c->txtlen[d])
			die("internal: segment [%" PRIu64 ", %" PRIu64 ") beyond the %zu bytes of text",
			    off, off + n, c->txtlen[d]);
		p = c->txt[d] + off;
	}
	len = tape__build_ip_tcp_opt(out, FRAME_MAX, &c->ep[d], &c->ep[d ^ 1], seq, ack, flags, WIN,
				     flags & TAPE__TH_SYN ? synopt : NULL,
				     flags & TAPE__TH_SYN ? sizeof synopt : 0, p, n, c->ipid[d]++);
	if (len < 0)
		die("internal: tape__build_ip_tcp_opt: %s", tape_strerror((int)len));
	if (!(flags & TAPE__TH_RST)) /* data on a SYN starts at offset 0 */
		c->hi[d] = max64(c->hi[d], off + n + (flags & TAPE__TH_FIN ? 1u : 0u));
	if ((c->opts & CV_IPOPT) && c->ep[0].family == 4)
		len = (long)add_ip4_options(out, (size_t)len);
	if ((c->opts & CV_EXT6) && c->ep[0].family == 6)
		len = (long)add_ip6_ext(out, (size_t)len);
	return (size_t)len;
}

/* Sends a segment (see build()); kind F_CUT when the snaplen will cut it. */
static void seg_k(struct gen *g, struct conv *c, int d, uint8_t flags, uint64_t off, const uint8_t *p,
		  size_t n, uint64_t ackoff, enum fkind kind)
{
	size_t len = build(c, d, flags, off, p, n, ackoff, g->ip);

	frame(g, d, ethertype_of(c), g->ip, len, kind);
}

static void seg(struct gen *g, struct conv *c, int d, uint8_t flags, uint64_t off, size_t n, uint64_t ackoff)
{
	seg_k(g, c, d, flags, off, NULL, n, ackoff, F_TCP);
}

#define A TAPE__TH_ACK
#define PA (TAPE__TH_PSH | TAPE__TH_ACK)
#define FA (TAPE__TH_FIN | TAPE__TH_ACK)
#define RA (TAPE__TH_RST | TAPE__TH_ACK)
#define SYN TAPE__TH_SYN
#define SA (TAPE__TH_SYN | TAPE__TH_ACK)

/* Data from side d: text [off, off + n), acking ACK_AUTO. */
static void data(struct gen *g, struct conv *c, int d, uint64_t off, size_t n)
{
	seg(g, c, d, PA, off, n, ACK_AUTO);
}

/* A pure ACK from side d. */
static void ack(struct gen *g, struct conv *c, int d)
{
	seg(g, c, d, A, c->hi[d], 0, ACK_AUTO);
}

/* Records bytes [off, off + n) of side d as sent but never captured (so
 * later ACK_AUTO acks cover them). */
static void lost(struct conv *c, int d, uint64_t off, size_t n)
{
	c->hi[d] = max64(c->hi[d], off + n);
}

/*
 * One IP datagram sent as fragments.  frag_out() writes the fragment that
 * carries bytes [from, to) of the fragmentable part (the TCP header and
 * payload); all but the last must be multiples of 8.
 *
 *   IPv4 (RFC 791): the header with MF set unless to is the end, Fragment
 *   Offset = from / 8, DF cleared, Total Length and checksum redone.
 *
 *   IPv6 (RFC 8200 section 4.5): the fixed header with Next Header 44,
 *   then the Fragment header:
 *   | NH (6) | 0 | Fragment Offset (13 bits) | 0 0 | M | Identification (32) |
 */
struct dgram {
	uint8_t b[FRAME_MAX];
	size_t len, hl;
	int d;
	uint16_t ethertype;
	uint32_t id6;
};

static void dg_build(struct dgram *dg, struct conv *c, int d, uint8_t flags, uint64_t off, size_t n,
		     uint64_t ackoff)
{
	if (c->opts)
		die("internal: fragments of conversations with extra headers are not scripted");
	dg->len = build(c, d, flags, off, NULL, n, ackoff, dg->b);
	dg->d = d;
	dg->ethertype = ethertype_of(c);
	dg->hl = c->ep[0].family == 4 ? 20 : 40;
	dg->id6 = 0x51000000u + c->ipid[d];
}

static void frag_out(struct gen *g, const struct dgram *dg, size_t from, size_t to, enum fkind kind)
{
	size_t plen = dg->len - dg->hl, n = to - from, len;
	uint8_t *b = g->tmp;

	if (from >= to || to > plen || (to < plen && n % 8) || from % 8)
		die("internal: bad fragment [%zu, %zu) of %zu", from, to, plen);
	if (dg->hl == 20) {
		memcpy(b, dg->b, 20);
		memcpy(b + 20, dg->b + 20 + from, n);
		len = 20 + n;
		put16(b + 2, (uint32_t)len);
		put16(b + 6, (uint32_t)((to < plen ? 0x2000u : 0u) | (from / 8)));
		put16(b + 10, 0);
		put16(b + 10, tape__inet_csum(b, 20));
	} else {
		memcpy(b, dg->b, 40);
		b[6] = 44;
		b[40] = dg->b[6];
		b[41] = 0;
		put16(b + 42, (uint32_t)(from | (to < plen ? 1u : 0u)));
		put32(b + 44, dg->id6);
		memcpy(b + 48, dg->b + 40 + from, n);
		len = 48 + n;
		put16(b + 4, (uint32_t)(len - 40));
	}
	frame(g, dg->d, dg->ethertype, b, len, kind);
}

/* An ARP request (RFC 826) from the client: a frame that is not IP. */
static void arp(struct gen *g)
{
	uint8_t a[28] = {0, 1, 0x08, 0x00, 6, 4, 0, 1};

	memcpy(a + 8, mac[0], 6);
	a[14] = 192, a[15] = 0, a[16] = 2, a[17] = 1;
	a[24] = 192, a[25] = 0, a[26] = 2, a[27] = 2;
	frame(g, 0, 0x0806u, a, sizeof a, F_NONTCP);
}

/* ---- expected events ------------------------------------------------------------- */

static void ex_at(struct gen *g, struct tape_event *ev, uint64_t t)
{
	int rc;

	if (g->clamp && t < g->ex_last)
		t = g->ex_last;
	if (t < g->t0)
		die("internal: event before the first frame");
	g->ex_last = t;
	ev->time_ns = t - g->t0;
	rc = tape_writer_write(g->w, ev);
	if (rc)
		die("%s: expected tape: %s", g->name, tape_writer_error(g->w));
}

static void ex_start(struct tape_event *ev, enum tape_event_kind kind, const struct conv *c, int d)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->conn = c->id;
	ev->dir = (enum tape_dir)d;
}

/* Each of these is timestamped by the last frame written. */
static void ex_open(struct gen *g, struct conv *c, uint32_t flags)
{
	struct tape_event ev;

	c->id = ++g->next_id;
	ex_start(&ev, TAPE_EV_OPEN, c, 0);
	ev.client = c->ep[0];
	ev.server = c->ep[1];
	ev.flags = flags;
	g->st.conns++;
	if (flags & TAPE_OPEN_MIDSTREAM)
		g->st.midstream++;
	ex_at(g, &ev, g->last);
}

static void ex_bytes(struct gen *g, const struct conv *c, int d, const uint8_t *p, size_t n)
{
	struct tape_event ev;

	ex_start(&ev, TAPE_EV_DATA, c, d);
	ev.data = p;
	ev.len = n;
	ex_at(g, &ev, g->last);
}

/* DATA of side d's text [off, off + n). */
static void ex_data(struct gen *g, const struct conv *c, int d, uint64_t off, size_t n)
{
	if (off + n > c->txtlen[d])
		die("internal: expected data beyond the text");
	ex_bytes(g, c, d, c->txt[d] + off, n);
}

static void ex_gap(struct gen *g, const struct conv *c, int d, uint64_t n)
{
	struct tape_event ev;

	ex_start(&ev, TAPE_EV_GAP, c, d);
	ev.gap = n;
	g->st.gaps++;
	g->st.gap_bytes += n;
	ex_at(g, &ev, g->last);
}

static void ex_simple(struct gen *g, const struct conv *c, enum tape_event_kind kind, int d)
{
	struct tape_event ev;

	ex_start(&ev, kind, c, d);
	ex_at(g, &ev, g->last);
}

static void ex_close_at(struct gen *g, const struct conv *c, enum tape_close_reason reason, uint64_t t)
{
	struct tape_event ev;

	ex_start(&ev, TAPE_EV_CLOSE, c, 0);
	ev.reason = reason;
	ex_at(g, &ev, t);
}

static void ex_close(struct gen *g, const struct conv *c, enum tape_close_reason reason)
{
	ex_close_at(g, c, reason, g->last);
}

static void ex_note(struct gen *g, const struct conv *c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ex_note(struct gen *g, const struct conv *c, const char *fmt, ...)
{
	char buf[512];
	struct tape_event ev;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ex_start(&ev, TAPE_EV_NOTE, c, 0);
	ev.data = (const uint8_t *)buf;
	ev.len = strlen(buf);
	ex_at(g, &ev, g->last);
}

/* A conflicting retransmission: the note reassembly writes, and its count
 * (diffs of n compared bytes differ; the rest are duplicates). */
static void ex_conflict(struct gen *g, const struct conv *c, int d, uint64_t off, size_t diffs, size_t n,
			const char *what)
{
	ex_note(g, c, "%s retransmission at stream offset %" PRIu64 " differs from the %s bytes (%zu of %zu bytes)",
		tape_dir_name((enum tape_dir)d), off, what, diffs, n);
	g->st.conflicts++;
	g->st.conflict_bytes += diffs;
	g->st.dup_bytes += n - diffs;
}

/* ---- building blocks ----------------------------------------------------------------- */

/* SYN, SYN+ACK, ACK; the OPEN comes with the SYN. */
static void handshake(struct gen *g, struct conv *c)
{
	seg(g, c, 0, SYN, 0, 0, 0);
	ex_open(g, c, 0);
	seg(g, c, 1, SA, 0, 0, 0);
	ack(g, c, 0);
}

/* In-order data from d with its DATA event. */
static void say(struct gen *g, struct conv *c, int d, uint64_t off, size_t n)
{
	data(g, c, d, off, n);
	ex_data(g, c, d, off, n);
}

/* FIN from d at offset off, expected to be delivered at once. */
static void fin(struct gen *g, struct conv *c, int d, uint64_t off)
{
	seg(g, c, d, FA, off, 0, ACK_AUTO);
	ex_simple(g, c, TAPE_EV_FIN, d);
}

/* Client FIN, server FIN, client's last ACK: fin, fin, close fin.  The
 * last ACK reaches a closed connection and makes no event. */
static void close_both(struct gen *g, struct conv *c)
{
	fin(g, c, 0, c->hi[0]);
	fin(g, c, 1, c->hi[1]);
	ex_close(g, c, TAPE_CLOSE_FIN);
	ack(g, c, 0);
}

/* A short request/response exchange with a clean close. */
static void exchange(struct gen *g, struct conv *c)
{
	handshake(g, c);
	say(g, c, 0, 0, c->txtlen[0]);
	ack(g, c, 1);
	say(g, c, 1, 0, c->txtlen[1]);
	ack(g, c, 0);
	close_both(g, c);
}

/* ---- scenarios ------------------------------------------------------------------------- */

static void sc_basic(struct gen *g)
{
	struct conv c;

	conv_init(&c, "192.0.2.1:49152", "192.0.2.2:80", 1000, 500000, 40, 120, 1);
	handshake(g, &c);
	say(g, &c, 0, 0, 40);
	ack(g, &c, 1);
	say(g, &c, 1, 0, 100);
	say(g, &c, 1, 100, 20);
	ack(g, &c, 0);
	close_both(g, &c);
	conv_free(&c);
}

static void sc_reorder(struct gen *g)
{
	struct conv c;

	conv_init(&c, "192.0.2.1:49153", "192.0.2.2:80", 20000, 7000000, 60, 90, 2);
	handshake(g, &c);
	/* c2s A [0,20) B [20,40) C [40,60) captured A C B: B releases B and C. */
	say(g, &c, 0, 0, 20);
	data(g, &c, 0, 40, 20);
	data(g, &c, 0, 20, 20);
	ex_data(g, &c, 0, 20, 40);
	seg(g, &c, 1, A, 0, 0, 60);
	/* s2c D [0,30) E [30,60) F [60,90) FIN@90 captured F FIN D E:
	 * D is delivered alone, E releases E, F and the FIN. */
	data(g, &c, 1, 60, 30);
	seg(g, &c, 1, FA, 90, 0, 60);
	data(g, &c, 1, 0, 30);
	ex_data(g, &c, 1, 0, 30);
	data(g, &c, 1, 30, 30);
	ex_data(g, &c, 1, 30, 60);
	ex_simple(g, &c, TAPE_EV_FIN, 1);
	/* The client acks, then closes: a FIN ACK then the last ACK. */
	seg(g, &c, 0, A, 60, 0, 91);
	fin(g, &c, 0, 60);
	ex_close(g, &c, TAPE_CLOSE_FIN);
	seg(g, &c, 1, A, 91, 0, 61);
	conv_free(&c);
}

static void sc_duplicates(struct gen *g)
{
	struct conv c;

	conv_init(&c, "192.0.2.1:49154", "192.0.2.2:80", 300, 4000, 30, 80, 3);
	seg(g, &c, 0, SYN, 0, 0, 0);
	ex_open(g, &c, 0);
	seg(g, &c, 0, SYN, 0, 0, 0);      /* retransmitted SYN */
	seg(g, &c, 1, SA, 0, 0, 0);
	seg(g, &c, 1, SA, 0, 0, 0);       /* retransmitted SYN+ACK */
	ack(g, &c, 0);
	say(g, &c, 0, 0, 30);
	data(g, &c, 0, 0, 30);            /* exact duplicate of delivered bytes */
	g->st.dup_bytes += 30;
	/* A keep-alive probe: one garbage byte just before next, not compared. */
	seg_k(g, &c, 0, A, 29, (const uint8_t *)"", 1, ACK_AUTO, F_TCP);
	data(g, &c, 1, 40, 40);           /* ahead of time: buffered */
	data(g, &c, 1, 40, 40);           /* duplicate of buffered bytes */
	g->st.dup_bytes += 40;
	data(g, &c, 1, 0, 40);            /* fills the hole: [0,80) at once */
	ex_data(g, &c, 1, 0, 80);
	data(g, &c, 1, 0, 40);            /* duplicate again, now delivered */
	g->st.dup_bytes += 40;
	fin(g, &c, 0, 30);
	seg(g, &c, 0, FA, 30, 0, ACK_AUTO); /* retransmitted FIN */
	fin(g, &c, 1, 80);
	ex_close(g, &c, TAPE_CLOSE_FIN);
	ack(g, &c, 0);
	conv_free(&c);
}

static void sc_overlap_same(struct gen *g)
{
	struct conv c;

	conv_init(&c, "192.0.2.1:49155", "192.0.2.2:80", 123456, 654321, 30, 50, 4);
	handshake(g, &c);
	/* c2s in order, each segment overlapping the previous one by 5. */
	say(g, &c, 0, 0, 10);
	data(g, &c, 0, 5, 15);
	ex_data(g, &c, 0, 10, 10);
	data(g, &c, 0, 15, 15);
	ex_data(g, &c, 0, 20, 10);
	g->st.dup_bytes += 10;
	/* s2c out of order with overlaps: [20,30), [15,25), then [0,16)
	 * releases [0,30); [40,45) then [30,50) covering it releases [30,50). */
	data(g, &c, 1, 20, 10);
	data(g, &c, 1, 15, 10);
	data(g, &c, 1, 0, 16);
	ex_data(g, &c, 1, 0, 30);
	data(g, &c, 1, 40, 5);
	data(g, &c, 1, 30, 20);
	ex_data(g, &c, 1, 30, 20);
	g->st.dup_bytes += 5 + 1 + 5;
	close_both(g, &c);
	conv_free(&c);
}

static void sc_overlap_conflict(struct gen *g)
{
	struct conv c;
	uint8_t alt[64];

	conv_init(&c, "192.0.2.1:49156", "192.0.2.2:80", 77, 88, 50, 50, 5);
	handshake(g, &c);
	say(g, &c, 0, 0, 20);
	/* Retransmission [10,30) whose bytes 12, 13, 17 differ from the
	 * delivered ones: a note, the old bytes stand, [20,30) is new. */
	memcpy(alt, c.txt[0] + 10, 20);
	alt[2] ^= 0x20, alt[3] ^= 0x20, alt[7] ^= 0x20;
	seg_k(g, &c, 0, PA, 10, alt, 20, ACK_AUTO, F_TCP);
	ex_conflict(g, &c, 0, 10, 3, 10, "delivered");
	ex_data(g, &c, 0, 20, 10);
	/* s2c: [20,40) buffered, then [30,50) differing in 2 of the 10
	 * overlapping bytes (note; the buffered copy wins), then [0,20)
	 * releases [0,50) with the first copy's bytes. */
	data(g, &c, 1, 20, 20);
	memcpy(alt, c.txt[1] + 30, 20);
	alt[0] ^= 0x01, alt[9] ^= 0x01;
	seg_k(g, &c, 1, PA, 30, alt, 20, ACK_AUTO, F_TCP);
	ex_conflict(g, &c, 1, 30, 2, 10, "buffered");
	data(g, &c, 1, 0, 20);
	ex_data(g, &c, 1, 0, 50);
	/* c2s: [40,50) buffered, then [30,50) that differs from it in one
	 * byte: the note comes as the hole is filled, the buffered copy wins. */
	data(g, &c, 0, 40, 10);
	memcpy(alt, c.txt[0] + 30, 20);
	alt[15] ^= 0x40;
	seg_k(g, &c, 0, PA, 30, alt, 20, ACK_AUTO, F_TCP);
	ex_conflict(g, &c, 0, 40, 1, 10, "buffered");
	ex_data(g, &c, 0, 30, 20);
	close_both(g, &c);
	conv_free(&c);
}

static void sc_loss_gap(struct gen *g)
{
	struct conv c;

	conv_init(&c, "192.0.2.1:49157", "192.0.2.2:80", 5555, 6666, 40, 25, 6);
	handshake(g, &c);
	say(g, &c, 0, 0, 10);
	lost(&c, 0, 10, 10);              /* [10,20) never captured */
	seg(g, &c, 0, PA, 20, 10, 0);     /* buffered behind the hole */
	seg(g, &c, 0, PA, 30, 10, 0);
	/* The server answers but only ever acks 10 (duplicate ACKs): the hole
	 * is never known to be lost while packets flow. */
	seg(g, &c, 1, PA, 0, 15, 10);
	ex_data(g, &c, 1, 0, 15);
	seg(g, &c, 1, PA, 15, 10, 10);
	ex_data(g, &c, 1, 15, 10);
	seg(g, &c, 0, A, 40, 0, 25);
	/* End of capture: the hole becomes a 10-byte gap, the bytes after it
	 * are delivered, and the connection closes with reason end. */
	ex_gap(g, &c, 0, 10);
	ex_data(g, &c, 0, 20, 20);
	ex_close(g, &c, TAPE_CLOSE_END);
	conv_free(&c);
}

static void sc_loss_ack(struct gen *g)
{
	struct conv c;

	conv_init(&c, "192.0.2.1:49158", "192.0.2.2:80", 42, 4242, 100, 30, 7);
	handshake(g, &c);
	say(g, &c, 0, 0, 10);
	lost(&c, 0, 10, 10);
	data(g, &c, 0, 20, 10);           /* buffered behind [10,20) */
	/* The server acks 30, beyond byte 20, the first captured after the
	 * hole: it got [10,20), the capture did not. */
	seg(g, &c, 1, A, 0, 0, 30);
	ex_gap(g, &c, 0, 10);
	ex_data(g, &c, 0, 20, 10);
	/* [10,20) turns up after all: too late, it changes nothing. */
	data(g, &c, 0, 10, 10);
	/* [30,40) lost and acked before anything after it was captured: an
	 * ACK may overtake the data it acknowledges, so it proves nothing;
	 * the ACK of 41 after [40,50) is captured does. */
	lost(&c, 0, 30, 10);
	seg(g, &c, 1, A, 0, 0, 40);
	data(g, &c, 0, 40, 10);
	seg(g, &c, 1, A, 0, 0, 41);
	ex_gap(g, &c, 0, 10);
	ex_data(g, &c, 0, 40, 10);
	/* Holes [50,60) and [70,80) around [60,70), [80,90) after them: an
	 * ACK of 75 proves the first hole (it acks byte 60), not the second
	 * (75 is not beyond 80), which waits whole for the ACK of 90. */
	lost(&c, 0, 50, 10);
	data(g, &c, 0, 60, 10);
	lost(&c, 0, 70, 10);
	data(g, &c, 0, 80, 10);
	seg(g, &c, 1, A, 0, 0, 75);
	ex_gap(g, &c, 0, 10);
	ex_data(g, &c, 0, 60, 10);
	seg(g, &c, 1, A, 0, 0, 90);
	ex_gap(g, &c, 0, 10);
	ex_data(g, &c, 0, 80, 10);
	/* [90,100) lost just before the FIN: an ACK of 100 covers the hole
	 * only; the ACK of the FIN releases it. */
	lost(&c, 0, 90, 10);
	seg(g, &c, 0, FA, 100, 0, 0);
	seg(g, &c, 1, A, 0, 0, 100);
	seg(g, &c, 1, PA, 0, 30, 101);
	ex_gap(g, &c, 0, 10);
	ex_simple(g, &c, TAPE_EV_FIN, 0);
	ex_data(g, &c, 1, 0, 30);
	fin(g, &c, 1, 30);
	ex_close(g, &c, TAPE_CLOSE_FIN);
	ack(g, &c, 0);
	conv_free(&c);
}

static void sc_midstream(struct gen *g)
{
	struct conv c, d, e, f;

	/* Picked up while the server talks: the port-80 side is the server
	 * even though it sent the first captured packet.  Its ACK field names
	 * the client's offset 0: client byte 10 of the script. */
	conv_init(&c, "192.0.2.1:49159", "192.0.2.2:80", 0x10000000u, 0x20000000u, 40, 70, 8);
	seg(g, &c, 1, PA, 0, 40, 10);
	ex_open(g, &c, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &c, 1, 0, 40);
	say(g, &c, 1, 40, 30);
	/* A client segment starting 10 bytes before offset 0: those bytes
	 * cannot be placed, the rest are delivered; then one wholly before
	 * offset 0 changes nothing. */
	data(g, &c, 0, 0, 40);
	ex_data(g, &c, 0, 10, 30);
	data(g, &c, 0, 0, 10);
	close_both(g, &c);
	/* Picked up at the SYN+ACK: its receiver is the client; no flags. */
	conv_init(&e, "192.0.2.6:50003", "192.0.2.2:80", 0x50000000u, 0x60000000u, 20, 30, 10);
	seg(g, &e, 1, SA, 0, 0, 0);
	ex_open(g, &e, 0);
	ack(g, &e, 0);
	say(g, &e, 0, 0, 20);
	say(g, &e, 1, 0, 30);
	close_both(g, &e);
	/* A bare FIN of an unknown tuple opens nothing. */
	conv_init(&f, "192.0.2.4:50002", "192.0.2.2:80", 0x70000000u, 0x01000000u, 0, 0, 11);
	seg(g, &f, 0, FA, 0, 0, 0);
	/* A pure ACK opens nothing; the data after it does. */
	conv_init(&d, "192.0.2.3:50001", "192.0.2.2:80", 0x30000000u, 0x40000000u, 20, 20, 9);
	seg(g, &d, 0, A, 0, 0, 0);
	data(g, &d, 0, 0, 20);
	ex_open(g, &d, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &d, 0, 0, 20);
	say(g, &d, 1, 0, 20);
	/* Still open at the end of the capture. */
	ex_close(g, &d, TAPE_CLOSE_END);
	conv_free(&c);
	conv_free(&d);
	conv_free(&e);
	conv_free(&f);
}

static void sc_roles(struct gen *g)
{
	struct conv c, d;

	/* 10.0.0.1:1000 is the real client, but the first segment captured
	 * is the server's data, and port 1000 < 1024 looks like a server:
	 * the guess (side 0 here) is wrong.  The late handshake belongs to
	 * the connection (ISN + 1 is offset 0) and corrects the roles with
	 * one note; the orientation of the OPEN stays. */
	conv_init(&c, "10.0.0.2:2000", "10.0.0.1:1000", 0x11111111u, 0x22222222u, 20, 10, 30);
	data(g, &c, 0, 0, 20);
	ex_open(g, &c, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &c, 0, 0, 20);
	seg(g, &c, 1, SYN, 0, 0, 0);
	ex_note(g, &c, "roles corrected: 10.0.0.1:1000 sent a SYN, so it is the client and "
		       "10.0.0.2:2000 the server; this connection keeps the orientation of its open");
	seg(g, &c, 0, SA, 0, 0, 0);       /* says the same: no second note */
	say(g, &c, 1, 0, 10);
	close_both(g, &c);
	/* Simultaneous open: both send SYN; the first SYN's sender stays the
	 * client, without a note. */
	conv_init(&d, "10.0.0.3:3000", "10.0.0.4:4000", 0x33333333u, 0x44444444u, 15, 25, 31);
	seg(g, &d, 0, SYN, 0, 0, 0);
	ex_open(g, &d, 0);
	seg(g, &d, 1, SYN, 0, 0, 0);
	seg(g, &d, 0, SA, 0, 0, 0);
	seg(g, &d, 1, SA, 0, 0, 0);
	say(g, &d, 0, 0, 15);
	say(g, &d, 1, 0, 25);
	close_both(g, &d);
	conv_free(&c);
	conv_free(&d);
}

static void sc_syn_data(struct gen *g)
{
	struct conv c;

	/* Data on the SYN (TCP Fast Open, RFC 7413) starts at offset 0. */
	conv_init(&c, "192.0.2.1:49175", "192.0.2.2:80", 0xabcdef01u, 0x10fedcbau, 40, 30, 32);
	seg(g, &c, 0, SYN, 0, 20, 0);
	ex_open(g, &c, 0);
	ex_data(g, &c, 0, 0, 20);
	seg(g, &c, 0, SYN, 0, 20, 0);     /* the SYN again, data and all */
	g->st.dup_bytes += 20;
	seg(g, &c, 1, SA, 0, 0, ACK_AUTO);
	ack(g, &c, 0);
	say(g, &c, 0, 20, 20);
	say(g, &c, 1, 0, 30);
	close_both(g, &c);
	conv_free(&c);
}

static void sc_midstream_highports(struct gen *g)
{
	struct conv c, d;

	/* Both ports >= 1024: the lower one is the server, whoever spoke first. */
	conv_init(&c, "198.51.100.10:50000", "198.51.100.20:6000", 0x7ffffff0u, 0x0badcafeu, 25, 35, 10);
	seg(g, &c, 1, PA, 0, 35, 0);
	ex_open(g, &c, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &c, 1, 0, 35);
	say(g, &c, 0, 0, 25);
	close_both(g, &c);
	/* Equal ports: the sender of the first segment is taken for the client. */
	conv_init(&d, "198.51.100.30:7000", "198.51.100.40:7000", 0xdeadbeefu, 0x01234567u, 20, 10, 11);
	data(g, &d, 0, 0, 20);
	ex_open(g, &d, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &d, 0, 0, 20);
	say(g, &d, 1, 0, 10);
	close_both(g, &d);
	conv_free(&c);
	conv_free(&d);
}

/* The basic exchange, in whatever link layer and family g and the
 * conversation say, with a second data segment each way. */
static void two_way(struct gen *g, struct conv *c)
{
	handshake(g, c);
	say(g, c, 0, 0, c->txtlen[0] / 2);
	say(g, c, 0, c->txtlen[0] / 2, c->txtlen[0] - c->txtlen[0] / 2);
	ack(g, c, 1);
	say(g, c, 1, 0, c->txtlen[1]);
	ack(g, c, 0);
	close_both(g, c);
}

static void sc_ipv6(struct gen *g)
{
	struct conv c;

	conv_init(&c, "[2001:db8::1]:49160", "[2001:db8::2]:443", 0xfeedf00du, 0x0000abcdu, 64, 200, 12);
	two_way(g, &c);
	conv_free(&c);
}

static void sc_ipv6_ext(struct gen *g)
{
	struct conv c;

	conv_init(&c, "[2001:db8::1]:49161", "[2001:db8:ffff::2]:80", 31337, 271828, 48, 96, 13);
	c.opts = CV_EXT6;
	two_way(g, &c);
	conv_free(&c);
}

/* One IPv4 and one IPv6 conversation, interleaved (for link layers). */
static void v4_and_v6(struct gen *g, unsigned tag)
{
	struct conv c, d;

	conv_init(&c, "10.0.0.1:40000", "10.0.0.2:8080", 1111, 2222, 36, 52, tag);
	conv_init(&d, "[fd00::1]:40001", "[fd00::2]:8080", 3333, 4444, 44, 28, tag + 1);
	handshake(g, &c);
	handshake(g, &d);
	say(g, &c, 0, 0, 36);
	say(g, &d, 0, 0, 44);
	say(g, &c, 1, 0, 52);
	say(g, &d, 1, 0, 28);
	close_both(g, &c);
	close_both(g, &d);
	conv_free(&c);
	conv_free(&d);
}

static void sc_vlan(struct gen *g)
{
	arp(g);
	v4_and_v6(g, 20);
}

static void sc_linktypes(struct gen *g)
{
	v4_and_v6(g, 22);
}

static void sc_ipopts(struct gen *g)
{
	struct conv c;

	conv_init(&c, "192.0.2.1:49162", "192.0.2.2:80", 9, 99, 33, 77, 14);
	c.opts = CV_IPOPT;
	two_way(g, &c);
	conv_free(&c);
}

static void sc_wraparound(struct gen *g)
{
	struct conv c;

	/* The client's bytes 15.. and the server's from the first have
	 * sequence numbers past 2^32 - 1. */
	conv_init(&c, "192.0.2.1:49163", "192.0.2.2:80", 0xfffffff0u, 0xffffffffu, 30, 100, 15);
	handshake(g, &c);
	say(g, &c, 0, 0, 10);
	data(g, &c, 0, 20, 10);           /* after the wrap, ahead of time */
	data(g, &c, 0, 10, 10);           /* straddles the wrap: releases both */
	ex_data(g, &c, 0, 10, 20);
	say(g, &c, 1, 0, 60);
	say(g, &c, 1, 60, 40);
	ack(g, &c, 0);
	close_both(g, &c);
	conv_free(&c);
}

static void sc_reuse(struct gen *g)
{
	struct conv c;
	char who[TAPE_ENDPOINT_STRLEN];
	uint32_t isn3 = 0x60000000u;

	conv_init(&c, "192.0.2.1:49164", "192.0.2.2:80", 1000, 2000, 30, 30, 16);
	exchange(g, &c);
	/* Stragglers of the closed connection make no event: a late
	 * retransmission and the old SYN again. */
	data(g, &c, 1, 0, 30);
	seg(g, &c, 0, SYN, 0, 0, 0);
	/* A SYN with a new ISN on the closed tuple: a new connection. */
	c.isn[0] = 0x50000000u, c.isn[1] = 0x0a000000u;
	c.hi[0] = c.hi[1] = 0;
	seg(g, &c, 0, SYN, 0, 0, 0);
	ex_open(g, &c, TAPE_OPEN_REUSED);
	seg(g, &c, 1, SA, 0, 0, 0);
	ack(g, &c, 0);
	say(g, &c, 0, 0, 20);
	/* Another new SYN while that one is still open: it ends (aborted),
	 * with a note, and a third connection starts. */
	tape_endpoint_format(&c.ep[0], who, sizeof who);
	c.isn[0] = isn3, c.isn[1] = 0x0b000000u;
	c.hi[0] = c.hi[1] = 0;
	seg(g, &c, 0, SYN, 0, 0, 0);
	ex_note(g, &c, "tuple reused: %s sent a SYN with a new initial sequence number (%" PRIu32
		"); this connection ends here", who, isn3);
	ex_close(g, &c, TAPE_CLOSE_ABORTED);
	ex_open(g, &c, TAPE_OPEN_REUSED);
	seg(g, &c, 1, SA, 0, 0, 0);
	ack(g, &c, 0);
	say(g, &c, 0, 0, 30);
	say(g, &c, 1, 0, 10);
	seg(g, &c, 1, RA, 10, 0, ACK_AUTO);
	ex_simple(g, &c, TAPE_EV_RST, 1);
	ex_close(g, &c, TAPE_CLOSE_RST);
	/* A SYN+ACK with a new ISN on that tombstone (its SYN not captured):
	 * a new connection whose client is the SYN+ACK's receiver. */
	c.isn[0] = 0x0c000000u, c.isn[1] = 0x0d000000u;
	c.hi[0] = c.hi[1] = 0;
	seg(g, &c, 1, SA, 0, 0, 0);
	ex_open(g, &c, TAPE_OPEN_REUSED);
	ack(g, &c, 0);
	say(g, &c, 0, 0, 25);
	ex_close(g, &c, TAPE_CLOSE_END);
	conv_free(&c);
}

static void sc_fragments(struct gen *g)
{
	struct conv c;
	struct dgram *dg = malloc(sizeof *dg), *dg2 = malloc(sizeof *dg2);

	if (!dg || !dg2)
		die("out of memory");
	conv_init(&c, "192.0.2.1:49165", "192.0.2.2:80", 1234567, 7654321, 1100, 600, 17);
	handshake(g, &c);
	/* c2s [0,1000): 1020 bytes of TCP split 16 | 504 | 500, the first
	 * cutting the TCP header in two; sent 3, 1, 1 again, 2. */
	dg_build(dg, &c, 0, PA, 0, 1000, ACK_AUTO);
	frag_out(g, dg, 520, 1020, F_FRAG);
	frag_out(g, dg, 0, 16, F_FRAG);
	frag_out(g, dg, 0, 16, F_FRAG);
	frag_out(g, dg, 16, 520, F_FRAGEND);
	ex_data(g, &c, 0, 0, 1000);
	/* s2c [0,600) in two fragments, last first, interleaved with the
	 * second half of a c2s datagram [1000,1100) whose first half is
	 * never captured: it stays incomplete and is given up. */
	dg_build(dg2, &c, 0, PA, 1000, 100, ACK_AUTO);
	dg_build(dg, &c, 1, PA, 0, 600, ACK_AUTO);
	frag_out(g, dg, 312, 620, F_FRAG);
	frag_out(g, dg2, 64, 120, F_FRAG);
	g->st.frag_dropped++;
	frag_out(g, dg, 0, 312, F_FRAGEND);
	ex_data(g, &c, 1, 0, 600);
	/* The server acks [1000,1100); the client's FIN then tells where the
	 * lost bytes end, and the server's FIN, acknowledging the client's,
	 * proves them lost. */
	seg(g, &c, 1, A, 600, 0, 1100);
	seg(g, &c, 0, FA, 1100, 0, ACK_AUTO);
	seg(g, &c, 1, FA, 600, 0, ACK_AUTO);
	ex_gap(g, &c, 0, 100);
	ex_simple(g, &c, TAPE_EV_FIN, 0);
	ex_simple(g, &c, TAPE_EV_FIN, 1);
	ex_close(g, &c, TAPE_CLOSE_FIN);
	ack(g, &c, 0);
	conv_free(&c);
	free(dg);
	free(dg2);
}

static void sc_fragments6(struct gen *g)
{
	struct conv c;
	struct dgram *dg = malloc(sizeof *dg);

	if (!dg)
		die("out of memory");
	conv_init(&c, "[2001:db8::10]:49166", "[2001:db8::20]:80", 0xc0000000u, 0x0c000000u, 700, 300, 18);
	handshake(g, &c);
	/* c2s [0,700): 720 bytes of TCP as 8 | 352 | 360, sent 2, 3, 1. */
	dg_build(dg, &c, 0, PA, 0, 700, ACK_AUTO);
	frag_out(g, dg, 8, 360, F_FRAG);
	frag_out(g, dg, 360, 720, F_FRAG);
	frag_out(g, dg, 0, 8, F_FRAGEND);
	ex_data(g, &c, 0, 0, 700);
	/* s2c [0,300) whole, then FINs. */
	say(g, &c, 1, 0, 300);
	close_both(g, &c);
	conv_free(&c);
	free(dg);
}

static void sc_snaplen(struct gen *g)
{
	struct conv c;

	/* Snaplen 96 on Ethernet: 14 + 20 + 20 bytes of headers leave 42
	 * bytes of payload; what lies past it is a gap. */
	conv_init(&c, "192.0.2.1:49167", "192.0.2.2:80", 100, 200, 30, 400, 19);
	handshake(g, &c);
	say(g, &c, 0, 0, 30);             /* 84 bytes: whole */
	seg_k(g, &c, 1, PA, 0, NULL, 200, ACK_AUTO, F_CUT);
	ex_data(g, &c, 1, 0, 42);
	ex_gap(g, &c, 1, 158);
	/* [300,400) cut, ahead of [200,300) cut.  A retransmission of
	 * [342,380), small enough to be captured whole, replaces that part of
	 * the cut.  [200,300) then releases data 42, gap 58, data 80, gap 20. */
	seg_k(g, &c, 1, PA, 300, NULL, 100, ACK_AUTO, F_CUT);
	seg_k(g, &c, 1, PA, 342, NULL, 38, ACK_AUTO, F_TCP);
	seg_k(g, &c, 1, PA, 200, NULL, 100, ACK_AUTO, F_CUT);
	ex_data(g, &c, 1, 200, 42);
	ex_gap(g, &c, 1, 58);
	ex_data(g, &c, 1, 300, 80);
	ex_gap(g, &c, 1, 20);
	close_both(g, &c);
	conv_free(&c);
}

static void sc_rst(struct gen *g)
{
	struct conv c, d, e, stray;
	static const uint8_t why[] = "connection refused by policy";

	/* The server resets after the request. */
	conv_init(&c, "192.0.2.1:49168", "192.0.2.2:80", 1, 2, 20, 0, 20);
	handshake(g, &c);
	say(g, &c, 0, 0, 20);
	seg(g, &c, 1, RA, 0, 0, ACK_AUTO);
	ex_simple(g, &c, TAPE_EV_RST, 1);
	ex_close(g, &c, TAPE_CLOSE_RST);
	data(g, &c, 0, 0, 20);            /* a retransmission after the reset: nothing */
	/* The client resets with a hole pending: the hole becomes a gap and
	 * the buffered bytes are delivered before the RST. */
	conv_init(&d, "192.0.2.1:49169", "192.0.2.2:80", 3, 4, 30, 25, 21);
	handshake(g, &d);
	say(g, &d, 0, 0, 10);
	lost(&d, 0, 10, 10);
	seg(g, &d, 0, PA, 20, 10, ACK_AUTO);
	seg(g, &d, 1, PA, 0, 15, 10);
	ex_data(g, &d, 1, 0, 15);
	/* The server's [15,20) is lost too, and its FIN seen behind it. */
	lost(&d, 1, 15, 5);
	seg(g, &d, 1, FA | TAPE__TH_PSH, 20, 5, 10);
	/* Both directions are flushed, then the RST. */
	seg(g, &d, 0, RA, 30, 0, ACK_AUTO);
	ex_gap(g, &d, 0, 10);
	ex_data(g, &d, 0, 20, 10);
	ex_gap(g, &d, 1, 5);
	ex_data(g, &d, 1, 20, 5);
	ex_simple(g, &d, TAPE_EV_FIN, 1);
	ex_simple(g, &d, TAPE_EV_RST, 0);
	ex_close(g, &d, TAPE_CLOSE_RST);
	/* A RST of no known connection: nothing. */
	conv_init(&stray, "192.0.2.9:1234", "192.0.2.2:80", 5, 6, 0, 0, 22);
	seg(g, &stray, 0, RA, 0, 0, 0);
	/* A RST with text in it (RFC 9293 3.5.3): the text is no stream data. */
	conv_init(&e, "192.0.2.1:49170", "192.0.2.2:80", 7, 8, 10, 10, 23);
	handshake(g, &e);
	say(g, &e, 0, 0, 10);
	seg_k(g, &e, 1, RA, 0, why, sizeof why - 1, ACK_AUTO, F_TCP);
	ex_simple(g, &e, TAPE_EV_RST, 1);
	ex_close(g, &e, TAPE_CLOSE_RST);
	conv_free(&c);
	conv_free(&d);
	conv_free(&e);
	conv_free(&stray);
}

static void sc_after_fin(struct gen *g)
{
	struct conv c;

	conv_init(&c, "192.0.2.1:49171", "192.0.2.2:80", 400, 800, 25, 40, 24);
	handshake(g, &c);
	say(g, &c, 0, 0, 10);
	fin(g, &c, 0, 10);
	/* Bytes after the FIN are ignored and counted; a second FIN further
	 * on gets a note. */
	data(g, &c, 0, 10, 10);
	seg(g, &c, 0, FA | TAPE__TH_PSH, 20, 5, ACK_AUTO);
	ex_note(g, &c, "c2s FIN at stream offset 25 ignored: the first FIN was at offset 10");
	g->st.after_fin_bytes += 15;
	/* The server still talks.  A FIN before bytes already emitted is
	 * ignored with a note. */
	say(g, &c, 1, 0, 20);
	seg(g, &c, 1, FA, 10, 0, ACK_AUTO);
	ex_note(g, &c, "s2c FIN at stream offset 10 ignored: bytes up to offset 20 were already emitted");
	/* [25,40) is buffered, then [20,30) comes with the FIN at 30: the
	 * buffered bytes at and after the FIN are dropped, the rest are
	 * delivered with the segment, then the FIN. */
	data(g, &c, 1, 25, 15);
	seg(g, &c, 1, FA | TAPE__TH_PSH, 20, 10, ACK_AUTO);
	ex_data(g, &c, 1, 20, 10);
	ex_simple(g, &c, TAPE_EV_FIN, 1);
	ex_close(g, &c, TAPE_CLOSE_FIN);
	g->st.after_fin_bytes += 10;
	g->st.dup_bytes += 5;
	seg(g, &c, 0, A, 26, 0, 31);
	conv_free(&c);
}

static void sc_pcapng(struct gen *g)
{
	struct conv c;

	v4_and_v6(g, 25);
	conv_init(&c, "192.0.2.1:49172", "192.0.2.2:80", 0x89abcdefu, 0x01020304u, 50, 3000, 27);
	handshake(g, &c);
	say(g, &c, 0, 0, 50);
	say(g, &c, 1, 0, 1460);
	say(g, &c, 1, 1460, 1460);
	say(g, &c, 1, 2920, 80);
	ack(g, &c, 0);
	close_both(g, &c);
	conv_free(&c);
}

static void sc_timeout(struct gen *g)
{
	struct conv c, d;
	uint64_t idle = UINT64_C(600) * 1000000000u, quiet;

	/* Idle for longer than the default 600 s: closed at last packet +
	 * 600 s, before anything the next packet causes. */
	conv_init(&c, "192.0.2.1:49173", "192.0.2.2:80", 10, 20, 40, 20, 28);
	handshake(g, &c);
	say(g, &c, 0, 0, 20);
	say(g, &c, 1, 0, 20);
	quiet = g->last;
	g->t = quiet + idle + UINT64_C(100) * 1000000000u;
	conv_init(&d, "192.0.2.5:49174", "192.0.2.2:80", 30, 40, 10, 10, 29);
	seg(g, &d, 0, SYN, 0, 0, 0);
	ex_close_at(g, &c, TAPE_CLOSE_TIMEOUT, quiet + idle);
	g->st.timeouts++;
	ex_open(g, &d, 0);
	seg(g, &d, 1, SA, 0, 0, 0);
	ack(g, &d, 0);
	say(g, &d, 0, 0, 10);
	/* The first client wakes up: its tuple was forgotten, so this is a
	 * new connection picked up mid-stream. */
	data(g, &c, 0, 20, 20);
	ex_open(g, &c, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &c, 0, 20, 20);
	say(g, &d, 1, 0, 10);
	close_both(g, &d);
	/* 250 s later d's tombstone is past TIME-WAIT (240 s) and forgotten:
	 * a late retransmission of the server's data opens a new connection,
	 * picked up mid-stream. */
	g->t = g->last + UINT64_C(250) * 1000000000u;
	data(g, &d, 1, 0, 10);
	ex_open(g, &d, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &d, 1, 0, 10);
	/* c and d are still open at the end, closed in order of id. */
	ex_close(g, &c, TAPE_CLOSE_END);
	ex_close(g, &d, TAPE_CLOSE_END);
	conv_free(&c);
	conv_free(&d);
}

static void sc_supersede(struct gen *g)
{
	struct conv c;
	char who[TAPE_ENDPOINT_STRLEN];

	/* Both FINs captured, the client's behind a hole nobody acked.  A SYN
	 * with a new ISN ends the connection: the flush declares the hole and
	 * emits the FIN, so the close is fin, not aborted. */
	conv_init(&c, "192.0.2.1:49176", "192.0.2.2:80", 0x01010101u, 0x02020202u, 20, 10, 33);
	handshake(g, &c);
	say(g, &c, 0, 0, 10);
	lost(&c, 0, 10, 10);
	seg(g, &c, 0, FA, 20, 0, ACK_AUTO);
	seg(g, &c, 1, PA, 0, 10, 10);
	ex_data(g, &c, 1, 0, 10);
	seg(g, &c, 1, FA, 10, 0, 10);
	ex_simple(g, &c, TAPE_EV_FIN, 1);
	tape_endpoint_format(&c.ep[0], who, sizeof who);
	c.isn[0] = 0x03030303u, c.isn[1] = 0x04040404u;
	c.hi[0] = c.hi[1] = 0;
	seg(g, &c, 0, SYN, 0, 0, 0);
	ex_note(g, &c, "tuple reused: %s sent a SYN with a new initial sequence number (%" PRIu32
		"); this connection ends here", who, c.isn[0]);
	ex_gap(g, &c, 0, 10);
	ex_simple(g, &c, TAPE_EV_FIN, 0);
	ex_close(g, &c, TAPE_CLOSE_FIN);
	ex_open(g, &c, TAPE_OPEN_REUSED);
	seg(g, &c, 1, SA, 0, 0, 0);
	ack(g, &c, 0);
	say(g, &c, 0, 0, 20);
	ex_close(g, &c, TAPE_CLOSE_END);
	conv_free(&c);
}

static void sc_history(struct gen *g)
{
	struct conv c;
	uint8_t alt[100];
	const uint64_t total = 70000, lo = total - 65536; /* the 64 KiB history window */

	/* 70000 bytes, then retransmissions compared only where they fall in
	 * the last 64 KiB delivered: a changed copy of [0,100) goes unnoticed
	 * (unverifiable), one of [4400,4500) is compared from 4464 on. */
	conv_init(&c, "192.0.2.1:49177", "192.0.2.2:80", 0x7fff0000u, 0x00007fffu, (size_t)total, 10, 34);
	handshake(g, &c);
	for (uint64_t off = 0; off < total; off += 1460)
		say(g, &c, 0, off, (size_t)(total - off < 1460 ? total - off : 1460));
	ack(g, &c, 1);
	memcpy(alt, c.txt[0], 100);
	alt[50] ^= 0xff;
	seg_k(g, &c, 0, PA, 0, alt, 100, ACK_AUTO, F_TCP);
	memcpy(alt, c.txt[0] + 4400, 100);
	alt[10] ^= 0xff;                  /* offset 4410: outside the window */
	alt[80] ^= 0xff;                  /* offset 4480: inside */
	seg_k(g, &c, 0, PA, 4400, alt, 100, ACK_AUTO, F_TCP);
	ex_conflict(g, &c, 0, lo, 1, (size_t)(4500 - lo), "delivered");
	data(g, &c, 0, total - 100, 100); /* the newest bytes again: duplicates */
	g->st.dup_bytes += 100;
	say(g, &c, 1, 0, 10);
	close_both(g, &c);
	conv_free(&c);
}

static void sc_clock_back(struct gen *g)
{
	struct conv c, d;
	uint64_t t1;

	/* The capture's clock steps back: events are clamped to the last
	 * time emitted (not to the last packet's). */
	conv_init(&c, "192.0.2.1:49178", "192.0.2.2:80", 500, 600, 20, 30, 35);
	conv_init(&d, "192.0.2.7:49179", "192.0.2.2:80", 700, 800, 10, 10, 36);
	handshake(g, &c);
	say(g, &c, 0, 0, 20);
	t1 = g->last;
	ack(g, &c, 1);                    /* no event at this later time */
	g->clamp = 1;
	g->t = t1 - 5000;
	say(g, &c, 1, 0, 30);             /* 5 us before t1: emitted at t1 */
	g->t = g->t0 - UINT64_C(1000000000); /* even before the first frame */
	seg(g, &d, 0, SYN, 0, 0, 0);
	ex_open(g, &d, 0);
	g->t = t1 + 3 * STEP_NS;
	g->clamp = 0;
	seg(g, &d, 1, SA, 0, 0, 0);
	ack(g, &d, 0);
	say(g, &d, 0, 0, 10);
	say(g, &d, 1, 0, 10);
	close_both(g, &c);
	close_both(g, &d);
	conv_free(&c);
	conv_free(&d);
}

static void sc_evict(struct gen *g)
{
	struct conv a, b, c, d;

	/* Run with --max-conns 2. */
	conv_init(&a, "192.0.2.11:40001", "192.0.2.2:80", 1, 2, 40, 10, 37);
	conv_init(&b, "192.0.2.12:40002", "192.0.2.2:80", 3, 4, 30, 10, 38);
	conv_init(&c, "192.0.2.13:40003", "192.0.2.2:80", 5, 6, 10, 10, 39);
	conv_init(&d, "192.0.2.14:40004", "192.0.2.2:80", 7, 8, 10, 10, 40);
	handshake(g, &a);
	say(g, &a, 0, 0, 20);
	handshake(g, &b);
	say(g, &b, 0, 0, 10);
	lost(&b, 0, 10, 10);
	data(g, &b, 0, 20, 10);
	say(g, &a, 0, 20, 20);            /* b is now the least recently active */
	/* A third connection: b is evicted, flushed first. */
	seg(g, &c, 0, SYN, 0, 0, 0);
	ex_gap(g, &b, 0, 10);
	ex_data(g, &b, 0, 20, 10);
	ex_close(g, &b, TAPE_CLOSE_EVICTED);
	g->st.evicted++;
	ex_open(g, &c, 0);
	seg(g, &c, 1, SA, 0, 0, 0);
	ack(g, &c, 0);
	say(g, &a, 1, 0, 10);
	close_both(g, &a);
	/* A fourth: the table holds a's tombstone and c; the tombstone goes. */
	handshake(g, &d);
	say(g, &c, 0, 0, 10);
	say(g, &d, 0, 0, 10);
	ex_close(g, &c, TAPE_CLOSE_END);
	ex_close(g, &d, TAPE_CLOSE_END);
	conv_free(&a);
	conv_free(&b);
	conv_free(&c);
	conv_free(&d);
}

static void sc_conn_mem(struct gen *g)
{
	struct conv c;

	/* Run with --conn-mem 1024: each buffered chunk costs its bytes plus
	 * 64, so the third 300-byte chunk (3 x 364 = 1092) overflows and the
	 * hole before them is given up. */
	conv_init(&c, "192.0.2.1:49180", "192.0.2.2:80", 0x0f0f0f0fu, 0xf0f0f0f0u, 1000, 10, 41);
	handshake(g, &c);
	say(g, &c, 0, 0, 10);
	lost(&c, 0, 10, 10);
	seg(g, &c, 0, PA, 20, 300, 0);
	seg(g, &c, 0, PA, 320, 300, 0);
	seg(g, &c, 0, PA, 620, 300, 0);
	ex_gap(g, &c, 0, 10);
	ex_data(g, &c, 0, 20, 900);
	say(g, &c, 0, 920, 80);
	say(g, &c, 1, 0, 10);
	close_both(g, &c);
	conv_free(&c);
}

static void sc_ack_overtake(struct gen *g)
{
	struct conv c;

	/* Finding 3 of doc/conformance.md, from a copy of tcpflow-local2 with
	 * adjacent packets swapped: the client's ACKs are captured before the
	 * server's data they acknowledge (mirror ports copying each direction
	 * separately do this all the time).  An ACK that covers a hole but not
	 * the first byte captured after it proves nothing: nothing is lost. */
	conv_init(&c, "192.0.2.1:49181", "192.0.2.2:80", 0x0a0b0c0du, 0xd0c0b0a0u, 20, 400, 43);
	handshake(g, &c);
	say(g, &c, 0, 0, 20);
	say(g, &c, 1, 0, 100);
	lost(&c, 1, 100, 200);            /* on their way, behind: */
	data(g, &c, 1, 300, 64);          /* [300,364) captured first */
	seg(g, &c, 0, A, 20, 0, 200);     /* acks of [100,200) and [200,300) */
	seg(g, &c, 0, A, 20, 0, 300);
	data(g, &c, 1, 100, 100);
	ex_data(g, &c, 1, 100, 100);
	data(g, &c, 1, 200, 100);         /* releases the queued bytes */
	ex_data(g, &c, 1, 200, 164);
	/* A real loss: [364,400) never captured; the ACK of 300 again proves
	 * nothing, the ACK beyond the FIN does, and the hole goes as one GAP. */
	lost(&c, 1, 364, 36);
	seg(g, &c, 1, FA, 400, 0, ACK_AUTO);
	seg(g, &c, 0, A, 20, 0, 300);
	seg(g, &c, 0, FA, 20, 0, ACK_AUTO);
	ex_gap(g, &c, 1, 36);
	ex_simple(g, &c, TAPE_EV_FIN, 1);
	ex_simple(g, &c, TAPE_EV_FIN, 0);
	ex_close(g, &c, TAPE_CLOSE_FIN);
	seg(g, &c, 1, A, 401, 0, ACK_AUTO); /* the last ACK: a straggler */
	g->st.ignored_segments++;
	conv_free(&c);
}

static void sc_late_handshake(struct gen *g)
{
	struct conv c, d;

	/* Finding 4 of doc/conformance.md, from a swapped copy of
	 * tcpflow-airsnort-linux-browser_page_load: only the server's side is
	 * captured, its third segment first (offset 0 is its sequence number),
	 * then the SYN+ACK with ISN + 1 2000 bytes before: the connection's own
	 * handshake, captured late, not a new connection.  Bytes already
	 * emitted cannot be preceded: the first two segments cannot be placed. */
	conv_init(&c, "192.0.2.1:49182", "192.0.2.2:80", 0x00c0ffeeu, 0xfffffc00u, 0, 3500, 44);
	data(g, &c, 1, 2000, 1000);
	ex_open(g, &c, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &c, 1, 2000, 1000);
	seg(g, &c, 1, SA, 0, 0, 0);
	data(g, &c, 1, 0, 1000);
	data(g, &c, 1, 1000, 1000);
	g->st.dropped_bytes += 2000;
	seg(g, &c, 1, FA | TAPE__TH_PSH, 3000, 500, 0);
	ex_data(g, &c, 1, 3000, 500);
	ex_simple(g, &c, TAPE_EV_FIN, 1);
	/* SMTP through a mirror whose copy of the server's packets lags: the
	 * client's ACK of the handshake (opens nothing), then its EHLO
	 * acknowledging the 40-byte banner open the connection mid-stream,
	 * the server's offset 0 at the banner's end.  The SYN+ACK comes 40
	 * bytes before it: the server's side has emitted nothing yet, so its
	 * offset 0 moves back to ISN + 1 and the banner finds its place. */
	conv_init(&d, "192.0.2.3:49183", "192.0.2.4:25", 0x7ffffff0u, 0x01000000u, 24, 100, 45);
	lost(&d, 1, 0, 40);
	seg(g, &d, 0, A, 0, 0, 0);
	g->st.ignored_segments++;
	data(g, &d, 0, 0, 24);
	ex_open(g, &d, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	ex_data(g, &d, 0, 0, 24);
	seg(g, &d, 1, SA, 0, 0, 0);
	seg(g, &d, 1, PA, 0, 40, 0);
	ex_data(g, &d, 1, 0, 40);
	say(g, &d, 1, 40, 60);
	close_both(g, &d);
	g->st.ignored_segments++;
	ex_close(g, &c, TAPE_CLOSE_END);
	conv_free(&c);
	conv_free(&d);
}

static void sc_syn_sent(struct gen *g)
{
	struct conv c, n, e, m, o, p;
	char who[TAPE_ENDPOINT_STRLEN];

	/* Finding 5 of doc/conformance.md, from a swapped copy of
	 * tcpflow-flow_test: a connection closes, the next one's SYN on the
	 * same tuple comes before the old one's last segments.  Until the new
	 * connection hears from the server (SYN-SENT, RFC 9293 3.10.7.3), a
	 * segment that does not acknowledge its SYN, or does not start where
	 * its client is, and that fits the old connection, is a straggler:
	 * counted, not taken for the new connection's. */
	conv_init(&c, "192.0.2.5:5678", "192.0.2.6:9999", 4208283782u, 1352205121u, 28, 0, 46);
	handshake(g, &c);
	say(g, &c, 0, 0, 28);
	ack(g, &c, 1);
	fin(g, &c, 0, 28);
	fin(g, &c, 1, 0);
	ex_close(g, &c, TAPE_CLOSE_FIN);
	conv_init(&n, "192.0.2.5:5678", "192.0.2.6:9999", 3118125201u, 275416128u, 28, 0, 47);
	seg(g, &n, 0, SYN, 0, 0, 0);
	ex_open(g, &n, TAPE_OPEN_REUSED);
	ack(g, &c, 0);                    /* the old last ACK */
	seg(g, &c, 1, FA, 0, 0, ACK_AUTO); /* the old FIN again */
	data(g, &c, 0, 0, 28);            /* old data again */
	seg(g, &c, 0, SYN, 0, 0, 0);      /* the old SYN again */
	g->st.ignored_segments += 4;
	g->st.unverified_bytes += 28;
	seg(g, &n, 1, SA, 0, 0, 0);
	ack(g, &n, 0);
	say(g, &n, 0, 0, 28);
	ack(g, &n, 1);
	close_both(g, &n);
	g->st.ignored_segments++;
	/* The new SYN before the old server's FIN: the old connection is
	 * superseded (aborted), and its last segments are still recognised. */
	conv_init(&e, "192.0.2.7:5678", "192.0.2.6:9999", 100, 200, 28, 0, 48);
	handshake(g, &e);
	say(g, &e, 0, 0, 28);
	fin(g, &e, 0, 28);
	conv_init(&m, "192.0.2.7:5678", "192.0.2.6:9999", 0x90000000u, 0x0a000000u, 28, 0, 49);
	tape_endpoint_format(&m.ep[0], who, sizeof who);
	seg(g, &m, 0, SYN, 0, 0, 0);
	ex_note(g, &e, "tuple reused: %s sent a SYN with a new initial sequence number (%" PRIu32
		"); this connection ends here", who, m.isn[0]);
	ex_close(g, &e, TAPE_CLOSE_ABORTED);
	ex_open(g, &m, TAPE_OPEN_REUSED);
	seg(g, &e, 1, FA, 0, 0, ACK_AUTO); /* the old server's FIN */
	ack(g, &e, 0);                    /* and the last ACK */
	g->st.ignored_segments += 2;
	seg(g, &m, 1, SA, 0, 0, 0);
	ack(g, &m, 0);
	say(g, &m, 0, 0, 28);
	close_both(g, &m);
	g->st.ignored_segments++;
	/* No previous connection known (from tcpflow-bug5: it timed out long
	 * before): an old RST far from the new SYN's numbers does not reset
	 * the new connection. */
	conv_init(&p, "192.0.2.8:27339", "192.0.2.6:80", 4118025647u, 3599234557u, 20, 10, 50);
	conv_init(&o, "192.0.2.8:27339", "192.0.2.6:80", 2283464615u, 2452641258u, 68, 0, 51);
	seg(g, &p, 0, SYN, 0, 0, 0);
	ex_open(g, &p, 0);
	seg(g, &o, 0, RA, 68, 0, 1);
	g->st.ignored_segments++;
	seg(g, &p, 1, SA, 0, 0, 0);
	ack(g, &p, 0);
	say(g, &p, 0, 0, 20);
	say(g, &p, 1, 0, 10);
	seg(g, &p, 0, RA, 20, 0, ACK_AUTO);
	ex_simple(g, &p, TAPE_EV_RST, 0);
	ex_close(g, &p, TAPE_CLOSE_RST);
	conv_free(&c);
	conv_free(&n);
	conv_free(&e);
	conv_free(&m);
	conv_free(&o);
	conv_free(&p);
}

/* ---- many: thousands of interleaved connections ---------------------------------- */

#define MANY_CONNS 3000u
#define MANY_LIVE 100u            /* connections in progress at once */
#define MANY_SEED UINT64_C(20261121)
#define MANY_MSS 536u            /* small, for messages of several segments */
#define MANY_PORT 40999u          /* the servers' port: registered to nothing */

/* Expected events of one step. */
#define E_OPEN 0x01u    /* OPEN (no flags) */
#define E_OPENMID 0x02u /* OPEN midstream,inferred */
#define E_DATA 0x04u
#define E_FIN 0x08u
#define E_CLOSE 0x10u   /* CLOSE fin */
#define E_RST 0x20u     /* RST and CLOSE rst */
#define E_DUP 0x40u     /* a duplicate: no event, counted */
#define E_GAP 0x80u     /* a GAP of gap bytes (before the DATA) */

/* One packet of a connection's script, or (lost) one the capture misses,
 * and the events it causes: DATA of [ex_off, ex_off + ex_n), which may be
 * more than the segment when it fills a hole. */
struct step {
	uint8_t d, flags, ev, lost;
	uint32_t off, n;
	uint32_t ex_off, ex_n, gap;
};

struct mconn {
	struct conv c;
	struct step *s;
	size_t ns, caps, next;
	int open_at_end;
};

static struct step *push_step(struct mconn *m, int d, uint8_t flags, uint32_t off, uint32_t n, uint8_t ev)
{
	if (m->ns == m->caps) {
		size_t cap = m->caps ? m->caps * 2 : 16;
		struct step *ns = realloc(m->s, cap * sizeof *ns);
		if (!ns)
			die("out of memory");
		m->s = ns;
		m->caps = cap;
	}
	m->s[m->ns].d = (uint8_t)d;
	m->s[m->ns].flags = flags;
	m->s[m->ns].off = off;
	m->s[m->ns].n = n;
	m->s[m->ns].ev = ev;
	m->s[m->ns].lost = 0;
	m->s[m->ns].ex_off = off;
	m->s[m->ns].ex_n = n;
	m->s[m->ns].gap = 0;
	return &m->s[m->ns++];
}

/* Scripts one message of n bytes from d at offset off, cut at the MSS,
 * then the peer's ACK.  Now and then (never for the segment that opens a
 * mid-stream connection) two adjacent segments are captured swapped (the
 * second-sent one releases both), or a segment before the last is lost (the
 * peer's ACK after the message declares the gap and releases the rest), or
 * a segment is captured twice. */
static void many_message(struct mconn *m, int d, uint32_t off, uint32_t n, uint8_t first_ev,
			 struct randtape_rng *r)
{
	uint32_t nseg = (n + MANY_MSS - 1) / MANY_MSS, k = 0;
	unsigned how = nseg >= 2 && !first_ev ? (unsigned)randtape_rng_below(r, 8) : 7;
	uint32_t pick = nseg >= 2 ? (uint32_t)randtape_rng_below(r, nseg - 1) : 0;
	size_t first = m->ns;

	for (uint32_t o = off; o < off + n; o += MANY_MSS, k++) {
		uint32_t len = off + n - o < MANY_MSS ? off + n - o : MANY_MSS;
		push_step(m, d, PA, o, len, (uint8_t)(E_DATA | (k == 0 ? first_ev : 0)));
		if (how >= 2 && len > 1 && randtape_rng_below(r, 16) == 0)
			push_step(m, d, PA, o, len, E_DUP);
	}
	if (how == 0) {
		/* swap segments pick and pick + 1: the later one first, no event;
		 * the earlier one then releases both */
		struct step a = m->s[first + pick], b = m->s[first + pick + 1];
		b.ev = 0;
		a.ex_n = a.n + b.n;
		m->s[first + pick] = b;
		m->s[first + pick + 1] = a;
	} else if (how == 1) {
		/* segment pick is lost; the rest wait for the peer's ACK, which
		 * declares the gap and releases them (events in d's direction) */
		struct step *l = &m->s[first + pick], *ackst;
		uint32_t end = l->off + l->n, gap = l->n;
		l->lost = 1;
		l->ev = 0;
		for (uint32_t j = pick + 1; j < nseg; j++)
			m->s[first + j].ev = 0;
		ackst = push_step(m, d ^ 1, A, UINT32_MAX, 0, E_GAP | E_DATA);
		ackst->gap = gap;
		ackst->ex_off = end;
		ackst->ex_n = off + n - end;
		return;
	}
	push_step(m, d ^ 1, A, UINT32_MAX, 0, 0);
}

/* Scripts connection i: handshake (or a mid-stream pick-up), one to three
 * request/response rounds of random sizes (see many_message), and a FIN
 * close, a reset, or nothing (still open at the end). */
static void many_script(struct mconn *m, unsigned i, struct randtape_rng *r)
{
	char cli[64], srv[64];
	uint32_t sizes[2][3], tot[2] = {0, 0}, off[2] = {0, 0};
	unsigned rounds = 1 + (unsigned)randtape_rng_below(r, 3), end = (unsigned)randtape_rng_below(r, 100);
	int mid = randtape_rng_below(r, 20) == 0;

	for (unsigned k = 0; k < rounds; k++)
		for (int d = 0; d < 2; d++) {
			sizes[d][k] = randtape_rng_below(r, 4) == 0 ? (uint32_t)randtape_rng_range(r, 1000, 4000)
								     : (uint32_t)randtape_rng_range(r, 1, 600);
			tot[d] += sizes[d][k];
		}
	if (i % 10 == 9) {
		snprintf(cli, sizeof cli, "[2001:db8:1::%x]:%u", i + 1, 49152 + i % 16000);
		snprintf(srv, sizeof srv, "[2001:db8:2::%x]:%u", 1 + i % 7, MANY_PORT);
	} else {
		snprintf(cli, sizeof cli, "10.%u.%u.%u:%u", 1 + i / 62500, i / 250 % 250, 1 + i % 250,
			 49152 + i % 16000);
		snprintf(srv, sizeof srv, "10.200.0.%u:%u", 1 + i % 7, MANY_PORT);
	}
	conv_init(&m->c, cli, srv, (uint32_t)randtape_rng_next(r), (uint32_t)randtape_rng_next(r), tot[0],
		  tot[1], i % 100);
	randtape_rng_bytes(r, m->c.txt[0], tot[0]);
	randtape_rng_bytes(r, m->c.txt[1], tot[1]);
	if (!mid) {
		push_step(m, 0, SYN, 0, 0, E_OPEN);
		push_step(m, 1, SA, 0, 0, 0);
		push_step(m, 0, A, 0, 0, 0);
	}
	for (unsigned k = 0; k < rounds; k++)
		for (int d = 0; d < 2; d++) {
			many_message(m, d, off[d], sizes[d][k], k == 0 && d == 0 && mid ? E_OPENMID : 0, r);
			off[d] += sizes[d][k];
		}
	if (end < 80) {
		push_step(m, 0, FA, off[0], 0, E_FIN);
		push_step(m, 1, FA, off[1], 0, E_FIN | E_CLOSE);
		push_step(m, 0, A, UINT32_MAX, 0, 0);
	} else if (end < 90) {
		int d = (int)(end & 1);
		push_step(m, d, RA, off[d], 0, E_RST);
	} else {
		m->open_at_end = 1;
	}
}

static void many_step(struct gen *g, struct mconn *m)
{
	const struct step *s = &m->s[m->next++];
	struct conv *c = &m->c;
	/* off UINT32_MAX: a pure ACK at the sender's current offset, whose
	 * events (a gap it declares) are in the peer's direction */
	int evd = s->off == UINT32_MAX ? s->d ^ 1 : s->d;

	if (s->lost) {
		lost(c, s->d, s->off, s->n);
		return;
	}
	seg(g, c, s->d, s->flags, s->off == UINT32_MAX ? c->hi[s->d] : s->off, s->n, ACK_AUTO);
	if (s->ev & E_OPEN)
		ex_open(g, c, 0);
	if (s->ev & E_OPENMID)
		ex_open(g, c, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	if (s->ev & E_GAP)
		ex_gap(g, c, evd, s->gap);
	if (s->ev & E_DATA)
		ex_data(g, c, evd, s->ex_off, s->ex_n);
	if (s->ev & E_DUP)
		g->st.dup_bytes += s->n;
	if (s->ev & E_FIN)
		ex_simple(g, c, TAPE_EV_FIN, s->d);
	if (s->ev & E_CLOSE)
		ex_close(g, c, TAPE_CLOSE_FIN);
	if (s->ev & E_RST) {
		ex_simple(g, c, TAPE_EV_RST, s->d);
		ex_close(g, c, TAPE_CLOSE_RST);
	}
}

static void sc_many(struct gen *g)
{
	struct mconn *all = calloc(MANY_CONNS, sizeof *all);
	size_t live[MANY_LIVE], nlive = 0, started = 0;
	struct randtape_rng r;

	if (!all)
		die("out of memory");
	randtape_rng_seed(&r, MANY_SEED);
	while (started < MANY_CONNS || nlive) {
		if (started < MANY_CONNS && nlive < MANY_LIVE && (nlive == 0 || randtape_rng_below(&r, 4) == 0)) {
			many_script(&all[started], (unsigned)started, &r);
			live[nlive++] = started++;
			continue;
		}
		size_t j = (size_t)randtape_rng_below(&r, nlive);
		struct mconn *m = &all[live[j]];
		many_step(g, m);
		if (m->next == m->ns)
			live[j] = live[--nlive];
	}
	/* What is still open closes at the end, in order of connection id. */
	for (uint64_t id = 1; id <= g->next_id; id++)
		for (size_t i = 0; i < MANY_CONNS; i++)
			if (all[i].c.id == id && all[i].open_at_end)
				ex_close(g, &all[i].c, TAPE_CLOSE_END);
	for (size_t i = 0; i < MANY_CONNS; i++) {
		conv_free(&all[i].c);
		free(all[i].s);
	}
	free(all);
}

/* ---- the table ------------------------------------------------------------------------ */

struct scenario {
	const char *name;
	void (*run)(struct gen *g);
	enum link link;
	int ng;
	uint32_t snaplen;
	const char *what;
	size_t max_conns, conn_mem; /* capture options; 0: the default */
	int extra;                  /* the statistics include EXTRA_FIELDS too */
};

static const struct scenario scenarios[] = {
	{"basic", sc_basic, L_ETH, 0, 0, "handshake, data both ways, FIN both ways", 0, 0, 0},
	{"reorder", sc_reorder, L_ETH, 0, 0, "segments and a FIN captured out of order", 0, 0, 0},
	{"duplicates", sc_duplicates, L_ETH, 0, 0,
	 "retransmitted SYN, SYN+ACK, data (delivered and buffered), FIN; a keep-alive probe", 0, 0, 0},
	{"overlap-same", sc_overlap_same, L_ETH, 0, 0, "overlapping segments that agree, in and out of order", 0, 0, 0},
	{"overlap-conflict", sc_overlap_conflict, L_ETH, 0, 0,
	 "overlaps that disagree with delivered and buffered bytes: first copy wins, noted", 0, 0, 0},
	{"loss-gap", sc_loss_gap, L_ETH, 0, 0, "a hole never filled nor acked: gap at the end, data after it", 0, 0, 0},
	{"loss-ack", sc_loss_ack, L_ETH, 0, 0,
	 "holes proven lost by an ACK beyond the next captured byte, each whole, one before a FIN; late bytes ignored",
	 0, 0, 0},
	{"midstream", sc_midstream, L_ETH, 0, 0,
	 "no handshake: roles from the well-known port, bytes before offset 0; SYN+ACK pick-up; "
	 "a lone ACK or FIN opens nothing", 0, 0, 0},
	{"midstream-highports", sc_midstream_highports, L_ETH, 0, 0,
	 "no handshake, both ports >= 1024: lower port serves; equal ports: first sender is client", 0, 0, 0},
	{"roles", sc_roles, L_ETH, 0, 0, "a wrong role guess corrected by a late SYN (note); simultaneous open", 0, 0, 0},
	{"syn-data", sc_syn_data, L_ETH, 0, 0, "data on the SYN (TCP Fast Open), retransmitted", 0, 0, 0},
	{"ipv6", sc_ipv6, L_ETH, 0, 0, "an IPv6 conversation", 0, 0, 0},
	{"ipv6-ext", sc_ipv6_ext, L_ETH, 0, 0, "IPv6 with Hop-by-Hop, Destination and Routing headers before TCP", 0, 0, 0},
	{"vlan", sc_vlan, L_VLAN, 0, 0, "802.1Q-tagged IPv4 and IPv6, and a tagged ARP frame", 0, 0, 0},
	{"qinq", sc_linktypes, L_QINQ, 0, 0, "802.1ad + 802.1Q double-tagged IPv4 and IPv6", 0, 0, 0},
	{"sll", sc_linktypes, L_SLL, 0, 0, "Linux cooked capture v1", 0, 0, 0},
	{"sll2", sc_linktypes, L_SLL2, 0, 0, "Linux cooked capture v2", 0, 0, 0},
	{"null", sc_linktypes, L_NULL, 0, 0, "BSD loopback (host byte order family)", 0, 0, 0},
	{"raw", sc_linktypes, L_RAW, 0, 0, "LINKTYPE_RAW IPv4 and IPv6", 0, 0, 0},
	{"ipopts", sc_ipopts, L_ETH, 0, 0, "IPv4 with options (IHL 7)", 0, 0, 0},
	{"wraparound", sc_wraparound, L_ETH, 0, 0, "sequence numbers wrapping past 2^32, with reorder across the wrap", 0, 0, 0},
	{"reuse", sc_reuse, L_ETH, 0, 0,
	 "4-tuple reused after a close, stragglers ignored, a new SYN superseding a live connection", 0, 0, 0},
	{"fragments", sc_fragments, L_ETH, 0, 0,
	 "IPv4-fragmented segments out of order, a duplicate fragment, an incomplete datagram", 0, 0, 0},
	{"fragments6", sc_fragments6, L_ETH, 0, 0, "an IPv6-fragmented segment out of order", 0, 0, 0},
	{"snaplen", sc_snaplen, L_ETH, 0, 96, "payloads cut by a 96-byte snaplen: data then gap, also out of order", 0, 0, 0},
	{"rst", sc_rst, L_ETH, 0, 0, "resets from either side, with a hole pending, with text; a stray RST", 0, 0, 0},
	{"after-fin", sc_after_fin, L_ETH, 0, 0, "data and a second FIN after a FIN, ignored", 0, 0, 0},
	{"pcapng", sc_pcapng, L_ETH, 1, 0, "pcapng: IPv4 and IPv6, full-size segments", 0, 0, 0},
	{"timeout", sc_timeout, L_ETH, 0, 0, "idle timeout, and the timed-out tuple picked up again mid-stream", 0, 0, 0},
	{"supersede", sc_supersede, L_ETH, 0, 0, "a new SYN on a live connection whose flush completes both FINs", 0, 0, 0},
	{"history", sc_history, L_ETH, 0, 0, "retransmissions compared only within the last 64 KiB", 0, 0, 0},
	{"clock-back", sc_clock_back, L_ETH, 0, 0, "the capture clock stepping back: event times clamped", 0, 0, 0},
	{"evict", sc_evict, L_ETH, 0, 0, "--max-conns 2: the least recently active is evicted, a tombstone dropped", 2, 0, 0},
	{"conn-mem", sc_conn_mem, L_ETH, 0, 0, "--conn-mem 1024: buffered bytes over the cap give up the hole", 0, 1024, 0},
	{"many", sc_many, L_ETH, 0, 0, "3000 interleaved connections of random sizes (seed 20261121)", 0, 0, 0},
	{"ack-overtake", sc_ack_overtake, L_ETH, 0, 0,
	 "ACKs captured before the data they acknowledge: no gap; a real loss proven by a later ACK", 0, 0, 1},
	{"late-handshake", sc_late_handshake, L_ETH, 0, 0,
	 "a SYN+ACK captured after the data it precedes: the same connection, renumbered if nothing was emitted", 0, 0, 1},
	{"syn-sent", sc_syn_sent, L_ETH, 0, 0,
	 "segments of the previous connection after a new SYN on the tuple: stragglers, not the new one's", 0, 0, 1},
};

/* ---- main ---------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: gen_pcap SCENARIO OUT.pcap EXPECTED.tsv [EXPECTED.stats]\n"
	      "       gen_pcap --list\n"
	      "       gen_pcap --args SCENARIO\n"
	      "       gen_pcap --stats SCENARIO CAPTURE\n"
	      "Writes the capture of a scripted scenario (pcap or pcapng as the scenario\n"
	      "says, whatever OUT's name), the tape reassembly must make of it as tsv, and\n"
	      "optionally the capture statistics it must count (\"name value\" lines).\n"
	      "--args prints the `tapedeck capture` options the scenario is meant for\n"
	      "(often none).  --stats reads CAPTURE through the library with those options\n"
	      "and prints its statistics in the same form as EXPECTED.stats.\n"
	      "Exit status: 0 written, 1 failed, 2 usage error.\n",
	      f);
}

static const struct scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	fprintf(stderr, "gen_pcap: unknown scenario \"%s\" (see --list)\n", name);
	return NULL;
}

static void print_args(const struct scenario *sc)
{
	const char *sep = "";

	if (sc->max_conns)
		printf("%s--max-conns %zu", sep, sc->max_conns), sep = " ";
	if (sc->conn_mem)
		printf("%s--conn-mem %zu", sep, sc->conn_mem), sep = " ";
	printf("\n");
}

#define STAT_FIELDS(X)                                                                              \
	X(packets) X(bytes) X(tcp) X(non_tcp) X(truncated) X(malformed) X(fragments) X(reassembled)   \
	X(frag_dropped) X(conns) X(midstream) X(gaps) X(gap_bytes) X(dup_bytes) X(conflicts)           \
	X(conflict_bytes) X(after_fin_bytes) X(timeouts) X(evicted)

/* Counters only the scenarios marked extra keep track of. */
#define EXTRA_FIELDS(X) X(ignored_segments) X(dropped_bytes) X(unverified_bytes)

static int print_stats(FILE *f, const struct tape_capture_stats *st, int extra)
{
#define PRINT_FIELD(name) fprintf(f, "%s %" PRIu64 "\n", #name, (uint64_t)st->name);
	STAT_FIELDS(PRINT_FIELD)
	if (extra) {
		EXTRA_FIELDS(PRINT_FIELD)
	}
#undef PRINT_FIELD
	return ferror(f) ? -1 : 0;
}

/* Reads a capture through the library with the scenario's options and
 * prints its statistics. */
static int stats_of(const struct scenario *sc, const char *path)
{
	struct tape_capture_opts o;
	struct tape_capture_stats st;
	struct tape_reader *r = NULL;
	struct tape_event ev;
	int rc;

	memset(&o, 0, sizeof o);
	o.max_conns = sc->max_conns;
	o.conn_mem = sc->conn_mem;
	rc = tape_reader_open_capture(&r, path, &o);
	if (rc == 0) {
		while ((rc = tape_reader_next(r, &ev)) == 1)
			;
	}
	if (rc < 0) {
		fprintf(stderr, "gen_pcap: %s\n", r ? tape_reader_error(r) : tape_strerror(rc));
		tape_reader_free(r);
		return GEN_FAIL;
	}
	rc = tape_reader_capture_stats(r, &st);
	tape_reader_free(r);
	if (rc || print_stats(stdout, &st, sc->extra))
		return GEN_FAIL;
	return GEN_OK;
}

int main(int argc, char **argv)
{
	const struct scenario *sc = NULL;
	struct gen *g;
	struct tape_meta *m = NULL;
	char src[128];
	int fd, rc;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
			printf("%-20s %s\n", scenarios[i].name, scenarios[i].what);
		return GEN_OK;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return GEN_OK;
	}
	if (argc == 3 && strcmp(argv[1], "--args") == 0) {
		if (!(sc = find_scenario(argv[2])))
			return GEN_USAGE;
		print_args(sc);
		return GEN_OK;
	}
	if (argc == 4 && strcmp(argv[1], "--stats") == 0) {
		if (!(sc = find_scenario(argv[2])))
			return GEN_USAGE;
		return stats_of(sc, argv[3]);
	}
	if ((argc != 4 && argc != 5) || argv[1][0] == '-') {
		usage(stderr);
		return GEN_USAGE;
	}
	if (!(sc = find_scenario(argv[1])))
		return GEN_USAGE;

	g = calloc(1, sizeof *g);
	if (!g)
		die("out of memory");
	g->name = sc->name;
	g->link = sc->link;
	g->ng = sc->ng;
	g->snaplen = sc->snaplen;
	g->t0 = g->t = T0_NS;
	g->step = STEP_NS;

	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %s", argv[2], strerror(errno));
	if (tape__out_init(&g->out, fd, 1) != 0)
		die("out of memory");
	rc = tape__pcapout_open(&g->po, &g->out, g->ng, linktype_of(g->link), g->snaplen);
	if (rc)
		die("%s: %s", argv[2], g->po ? tape__pcapout_error(g->po) : tape_strerror(rc));

	snprintf(src, sizeof src, "gen_pcap %s", sc->name);
	if (tape_meta_new(&m) != 0 || tape_meta_set(m, "source", src) != 0)
		die("out of memory");
	tape_meta_set_start(m, g->t0);
	rc = tape_writer_open(&g->w, argv[3], "tsv", m, NULL);
	if (rc)
		die("%s", g->w ? tape_writer_error(g->w) : tape_strerror(rc));
	tape_meta_free(m);

	sc->run(g);

	if (tape_writer_close(g->w) != 0)
		die("%s", tape_writer_error(g->w));
	tape_writer_free(g->w);
	tape__pcapout_free(g->po);
	if (tape__out_flush(&g->out) != 0)
		die("%s: %s", argv[2], strerror(-g->out.err));
	tape__out_cleanup(&g->out);

	if (argc == 5) {
		FILE *f = fopen(argv[4], "w");
		if (!f || print_stats(f, &g->st, sc->extra) || fclose(f) != 0)
			die("%s: cannot write", argv[4]);
	}
	free(g);
	return GEN_OK;
}
