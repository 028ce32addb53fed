/* SPDX-License-Identifier: BSD-2-Clause */
/* decode.c - captured frames (Ethernet, Linux SLL/SLL2, BSD loopback, raw IP) to TCP segments. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

/*
 * Every header is read through a cursor that knows how many bytes were
 * captured (avail) and how many were on the wire (wire).  A header that
 * does not fit in avail was cut by the snaplen when it would have fitted in
 * wire (counted as truncated), and is impossible otherwise (malformed).
 * Nothing is read before its length has been checked against avail, and
 * no checksum is verified: captures taken on a sending host with checksum
 * offload carry wrong ones (doc/design/decode.md).
 */
struct cur {
	const uint8_t *p;
	uint32_t avail; /* captured bytes from p on */
	uint32_t wire;  /* bytes from p on as sent (>= avail) */
};

/* What became of a frame; tape__decode() counts it. */
enum res {
	RES_NEXT = -1,  /* this layer is done: go on to the next */
	RES_HELD = 0,   /* a fragment: the fragment code counted it */
	RES_TCP,        /* *seg filled */
	RES_TCP_CUT,    /* *seg filled, payload cut by the snaplen */
	RES_NON_TCP,
	RES_MALFORMED,
	RES_TRUNCATED,  /* the snaplen cut a header we need */
	RES_NOMEM,
};

/* Network layers a link header can lead to. */
enum net {
	NET_IPV4,
	NET_IPV6,
	NET_IP, /* either: the version nibble says */
};

struct link {
	int linktype;
	enum res (*strip)(struct cur *c, enum net *net);
};

struct tape__decoder {
	const struct link *link;
	struct tape__frag *frag;
	struct tape__decode_stats st;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The header of n bytes at c does not fit in what was captured. */
static enum res short_of(const struct cur *c, uint32_t n)
{
	return c->wire >= n ? RES_TRUNCATED : RES_MALFORMED;
}

/* Steps over n bytes; n <= c->avail. */
static void skip(struct cur *c, uint32_t n)
{
	c->p += n;
	c->avail -= n;
	c->wire -= n;
}

/* Restricts c to the first n bytes, the length a header declared; n <= c->wire. */
static void clip(struct cur *c, uint32_t n)
{
	c->wire = n;
	if (c->avail > n)
		c->avail = n;
}

/* ---- link layers ------------------------------------------------------------ */

#define ETH_IPV4 0x0800u
#define ETH_IPV6 0x86ddu
#define ETH_8021Q 0x8100u  /* IEEE 802.1Q customer VLAN tag */
#define ETH_8021AD 0x88a8u /* IEEE 802.1ad service tag (QinQ) */
#define ETH_QINQ 0x9100u   /* pre-standard QinQ tag */

/*
 * Follows an EtherType, c being just after it, through any number of VLAN
 * tags (each consumes 4 bytes, so the loop ends with the frame):
 *
 *   +------+------+   +------+------+------+   +-------
 *   | 0x8100 etc. |   | TCI (2)     | type |...| payload
 *   +------+------+   +------+------+------+   +-------
 *
 * Types below 0x0600 are IEEE 802.3 lengths (LLC follows); they, like
 * every EtherType other than IPv4 and IPv6, carry no TCP for us.
 */
static enum res ethertype(struct cur *c, uint16_t type, enum net *net)
{
	while (type == ETH_8021Q || type == ETH_8021AD || type == ETH_QINQ) {
		if (c->avail < 4)
			return short_of(c, 4);
		type = be16(c->p + 2);
		skip(c, 4);
	}
	if (type == ETH_IPV4)
		*net = NET_IPV4;
	else if (type == ETH_IPV6)
		*net = NET_IPV6;
	else
		return RES_NON_TCP;
	return RES_NEXT;
}

/*
 * Ethernet II (LINKTYPE_ETHERNET 1), without the FCS:
 *
 *    0                   6                   12      14
 *   +-------------------+-------------------+-------+-------
 *   | destination (6)   | source (6)        | type  | payload (+ padding)
 *   +-------------------+-------------------+-------+-------
 *
 * Padding up to the 60-byte minimum is trimmed later by the IP length.
 */
static enum res link_ether(struct cur *c, enum net *net)
{
	uint16_t type;

	if (c->avail < 14)
		return short_of(c, 14);
	type = be16(c->p + 12);
	skip(c, 14);
	return ethertype(c, type, net);
}

#define ARPHRD_NETLINK 824u /* protocol field is a netlink family, not an EtherType */

/*
 * Linux cooked capture v1 (LINKTYPE_LINUX_SLL 113):
 *
 *    0       2       4       6                               14      16
 *   +-------+-------+-------+-------------------------------+-------+----
 *   |pkttype|ARPHRD |addrlen| link-layer address (8)        | proto | payload
 *   +-------+-------+-------+-------------------------------+-------+----
 *
 * proto is an EtherType (libpcap may re-insert VLAN tags after it), or a
 * small value (802.2 LLC, CAN, ...) that carries no IP.
 */
static enum res link_sll(struct cur *c, enum net *net)
{
	uint16_t hatype, proto;

	if (c->avail < 16)
		return short_of(c, 16);
	hatype = be16(c->p + 2);
	proto = be16(c->p + 14);
	skip(c, 16);
	if (hatype == ARPHRD_NETLINK)
		return RES_NON_TCP;
	return ethertype(c, proto, net);
}

/*
 * Linux cooked capture v2 (LINKTYPE_LINUX_SLL2 276):
 *
 *    0       2       4               8       10  11  12                      20
 *   +-------+-------+---------------+-------+---+---+-----------------------+----
 *   | proto | rsvd  | ifindex (4)   |ARPHRD |pkt|len| link-layer addr (8)   | payload
 *   +-------+-------+---------------+-------+---+---+-----------------------+----
 */
static enum res link_sll2(struct cur *c, enum net *net)
{
	uint16_t hatype, proto;

	if (c->avail < 20)
		return short_of(c, 20);
	proto = be16(c->p);
	hatype = be16(c->p + 8);
	skip(c, 20);
	if (hatype == ARPHRD_NETLINK)
		return RES_NON_TCP;
	return ethertype(c, proto, net);
}

/*
 * BSD loopback (LINKTYPE_NULL 0, host byte order of the capturing machine;
 * LINKTYPE_LOOP 108, network byte order):
 *
 *    0               4
 *   +---------------+--------
 *   | family (4)    | IP datagram
 *   +---------------+--------
 *
 * Families are small numbers, so a value with its high half set was
 * written in the other byte order: both orders are accepted for both link
 * types.  AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD,
 * BSD/OS), 28 (FreeBSD, DragonFly) or 30 (Darwin) per the libpcap link-type
 * list, and 10 (Linux), 26 (Solaris) or 23 (Windows) in some writers; 23
 * is also IPX, so it means IPv6 only when the version nibble says 6.
 */
static enum res link_null(struct cur *c, enum net *net)
{
	uint32_t fam;

	if (c->avail < 4)
		return short_of(c, 4);
	fam = be32(c->p);
	if (fam & 0xffff0000u)
		fam = (fam >> 24) | (fam >> 8 & 0xff00u) | (fam << 8 & 0xff0000u) | fam << 24;
	skip(c, 4);
	switch (fam) {
	case 2:
		*net = NET_IPV4;
		return RES_NEXT;
	case 10:
	case 24:
	case 26:
	case 28:
	case 30:
		*net = NET_IPV6;
		return RES_NEXT;
	case 23:
		if (c->avail < 1)
			return short_of(c, 1);
		if (c->p[0] >> 4 != 6)
			return RES_NON_TCP;
		*net = NET_IPV6;
		return RES_NEXT;
	default:
		return RES_NON_TCP;
	}
}

/* Raw IP (LINKTYPE_RAW 101, DLT_RAW 12 or 14): the version nibble decides. */
static enum res link_raw(struct cur *c, enum net *net)
{
	(void)c;
	*net = NET_IP;
	return RES_NEXT;
}

/* LINKTYPE_IPV4 228: IPv4 only (a version other than 4 is malformed). */
static enum res link_ipv4(struct cur *c, enum net *net)
{
	(void)c;
	*net = NET_IPV4;
	return RES_NEXT;
}

/* LINKTYPE_IPV6 229: IPv6 only. */
static enum res link_ipv6(struct cur *c, enum net *net)
{
	(void)c;
	*net = NET_IPV6;
	return RES_NEXT;
}

static const struct link links[] = {
	{0, link_null},    /* LINKTYPE_NULL */
	{1, link_ether},   /* LINKTYPE_ETHERNET */
	{12, link_raw},    /* DLT_RAW on most platforms */
	{14, link_raw},    /* DLT_RAW on OpenBSD */
	{101, link_raw},   /* LINKTYPE_RAW */
	{108, link_null},  /* LINKTYPE_LOOP */
	{113, link_sll},   /* LINKTYPE_LINUX_SLL */
	{228, link_ipv4},  /* LINKTYPE_IPV4 */
	{229, link_ipv6},  /* LINKTYPE_IPV6 */
	{276, link_sll2},  /* LINKTYPE_LINUX_SLL2 */
};

/* ---- TCP --------------------------------------------------------------------- */

/*
 * TCP header (RFC 9293 section 3.1), c covering the segment as the IP
 * header sized it:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Acknowledgment Number                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   |       |       |R|E|G|K|H|T|N|N|                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (Data Offset > 5)                  |
 *
 * A Data Offset below 5 or beyond the segment is malformed; options are
 * skipped.  CWR and ECE are not reported (seg->flags keeps the six
 * TAPE__TH_* bits).
 */
static enum res tcp(struct cur *c, struct tape__seg *seg)
{
	const uint8_t *p = c->p;
	uint32_t doff;

	if (c->avail < 20)
		return short_of(c, 20);
	doff = (uint32_t)(p[12] >> 4) * 4;
	if (doff < 20 || doff > c->wire)
		return RES_MALFORMED;
	if (doff > c->avail)
		return RES_TRUNCATED;
	seg->src.port = be16(p);
	seg->dst.port = be16(p + 2);
	seg->seq = be32(p + 4);
	seg->ack = be32(p + 8);
	seg->flags = p[13] & 0x3fu;
	seg->win = be16(p + 14);
	seg->payload = p + doff;
	seg->len = c->avail - doff;
	seg->wire_len = c->wire - doff;
	return seg->len < seg->wire_len ? RES_TCP_CUT : RES_TCP;
}

/* ---- IPv4 -------------------------------------------------------------------- */

#define IP_MAXLEN 65535u
#define PROTO_TCP 6u

/* Sends one fragment's data (c, hdrs bytes of headers before it) to the
 * reassembler.  RES_NEXT when it completed the datagram: whole then covers
 * the rebuilt fragmentable part and *next is its first fragment's Next
 * Header.  Malformed and cut fragments are dropped (and counted) here. */
static enum res reassemble(struct tape__decoder *d, struct cur *c, struct tape__frag_in *in,
			   uint32_t hdrs, uint8_t *next, struct cur *whole)
{
	struct tape__frag_out out;
	int rc;

	if (c->avail < c->wire) {
		d->st.frag_dropped++;
		return RES_TRUNCATED;
	}
	/* All fragments but the last carry whole 8-byte units (RFC 791
	 * section 3.2, RFC 8200 section 4.5), and the rebuilt datagram must
	 * fit in 65535 bytes ("ping of death"). */
	if ((in->more && c->wire % 8 != 0) || hdrs + in->off + c->wire > IP_MAXLEN) {
		d->st.frag_dropped++;
		return RES_MALFORMED;
	}
	in->data = c->p;
	in->len = c->wire;
	rc = tape__frag_add(d->frag, in, &out);
	if (rc < 0)
		return RES_NOMEM;
	if (rc == 0)
		return RES_HELD;
	whole->p = out.data;
	whole->avail = whole->wire = out.len;
	*next = out.next;
	return RES_NEXT;
}

/*
 * IPv4 header (RFC 791 section 3.1):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |Type of Service|          Total Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Identification        |Flags|      Fragment Offset    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Source Address                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (IHL > 5)          |    Padding    |
 *
 * Flags are 0 DF MF.  IHL < 5, a Total Length below the header or beyond
 * what the wire carried are malformed; bytes past Total Length (Ethernet
 * padding) are ignored; options are skipped.
 */
static enum res ipv4(struct tape__decoder *d, struct cur *c, uint64_t ts_ns, struct tape__seg *seg)
{
	const uint8_t *p = c->p;
	uint32_t hl, total;
	uint16_t frag;
	struct tape__frag_in in;
	struct cur whole;
	uint8_t proto;
	enum res r;

	if (c->avail < 20)
		return short_of(c, 20);
	if (p[0] >> 4 != 4)
		return RES_MALFORMED;
	hl = (uint32_t)(p[0] & 0x0fu) * 4;
	total = be16(p + 2);
	/* Captured on a host whose NIC segments TCP (TSO/GSO), a large
	 * outgoing datagram has Total Length 0: the stack left it to the
	 * hardware.  Take the length from the frame, as tshark does, rather
	 * than lose the bytes; counted so the user can see it happened. */
	if (total == 0 && hl >= 20 && !(be16(p + 6) & 0x3fffu) && c->wire >= hl) {
		total = c->wire;
		d->st.ip_len_zero++;
	}
	if (hl < 20 || total < hl || total > c->wire)
		return RES_MALFORMED;
	if (hl > c->avail)
		return RES_TRUNCATED;
	clip(c, total);
	proto = p[9];
	frag = be16(p + 6);
	seg->src.family = seg->dst.family = 4;
	memcpy(seg->src.addr, p + 12, 4);
	memcpy(seg->dst.addr, p + 16, 4);
	skip(c, hl);
	if (!(frag & 0x3fffu)) /* neither MF nor an offset: not a fragment */
		return proto == PROTO_TCP ? tcp(c, seg) : RES_NON_TCP;

	d->st.fragments++;
	if (proto != PROTO_TCP)
		return RES_NON_TCP; /* not worth holding */
	memset(&in, 0, sizeof in);
	memcpy(in.key.src, seg->src.addr, 4);
	memcpy(in.key.dst, seg->dst.addr, 4);
	in.key.id = be16(p + 4);
	in.key.family = 4;
	in.key.proto = proto;
	in.ts_ns = ts_ns;
	in.off = (uint32_t)(frag & 0x1fffu) * 8;
	in.more = (frag & 0x2000u) != 0;
	in.next = proto;
	r = reassemble(d, c, &in, hl, &proto, &whole);
	if (r != RES_NEXT)
		return r;
	return tcp(&whole, seg);
}

/* ---- IPv6 -------------------------------------------------------------------- */

#define NH_HOPOPTS 0u
#define NH_TCP 6u
#define NH_ROUTING 43u
#define NH_FRAGMENT 44u
#define NH_ESP 50u
#define NH_AH 51u
#define NH_NONE 59u
#define NH_DSTOPTS 60u
#define NH_MOBILITY 135u
#define NH_HIP 139u
#define NH_SHIM6 140u

/* Next Header values worth reassembling for: TCP, or an extension header
 * that may lead to it. */
static int may_carry_tcp(uint8_t nh)
{
	switch (nh) {
	case NH_TCP:
	case NH_ROUTING:
	case NH_AH:
	case NH_DSTOPTS:
	case NH_MOBILITY:
	case NH_HIP:
	case NH_SHIM6:
		return 1;
	default:
		return 0;
	}
}

/*
 * IPv6 header (RFC 8200 section 3):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Source Address (16 bytes)                    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                Destination Address (16 bytes)                 |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Extension headers (RFC 8200 section 4) are walked within Payload Length:
 *
 *   Hop-by-Hop 0, Routing 43, Destination Options 60, Mobility 135 (RFC
 *   6275), HIP 139, Shim6 140 -- the common layout, length in 8-byte
 *   units not counting the first 8:
 *   +-------------+-------------+-------------------------------------
 *   | Next Header | Hdr Ext Len | (Hdr Ext Len + 1) * 8 - 2 bytes ...
 *   +-------------+-------------+-------------------------------------
 *
 *   Authentication Header 51 (RFC 4302): the same two bytes, but the
 *   length is (Payload Len + 2) * 4 bytes.
 *
 *   Fragment 44 (RFC 8200 section 4.5), 8 bytes:
 *   +-------------+-------------+-------------------------+---+-+
 *   | Next Header |  Reserved   | Fragment Offset (13)    |Res|M|
 *   +-------------+-------------+-------------------------+---+-+
 *   |                     Identification (32)                    |
 *   +-------------+-------------+-------------------------+---+-+
 *
 *   ESP 50 (encrypted) and No Next Header 59 end the walk without TCP.
 *
 * Hop-by-Hop anywhere but first is malformed (RFC 8200 section 4.1), so is
 * a header running past Payload Length.  Jumbograms (RFC 2675: Payload
 * Length 0 and a Jumbo Payload option) are not supported: with Payload
 * Length 0 the Hop-by-Hop header runs past the payload, hence malformed.
 * An atomic fragment (offset 0, M 0) is processed in place (RFC 6946).
 */
static enum res ipv6(struct tape__decoder *d, struct cur *c, uint64_t ts_ns, struct tape__seg *seg)
{
	const uint8_t *p = c->p;
	uint32_t hdrs = 0, n;
	int first = 1, rebuilt = 0;
	uint8_t nh;

	if (c->avail < 40)
		return short_of(c, 40);
	if (p[0] >> 4 != 6)
		return RES_MALFORMED;
	n = be16(p + 4);
	if (40 + n > c->wire)
		return RES_MALFORMED;
	clip(c, 40 + n);
	nh = p[6];
	seg->src.family = seg->dst.family = 6;
	memcpy(seg->src.addr, p + 8, 16);
	memcpy(seg->dst.addr, p + 24, 16);
	skip(c, 40);

	for (;; first = 0) {
		if (nh == NH_TCP)
			return tcp(c, seg);
		if (nh == NH_HOPOPTS && !first)
			return RES_MALFORMED;
		if (nh == NH_FRAGMENT) {
			struct tape__frag_in in;
			uint16_t fo;
			enum res r;

			if (rebuilt)
				return RES_MALFORMED; /* a Fragment header inside a fragment */
			if (c->avail < 8)
				return short_of(c, 8);
			fo = be16(c->p + 2);
			memset(&in, 0, sizeof in);
			in.next = c->p[0];
			in.key.id = be32(c->p + 4);
			in.off = fo & 0xfff8u;
			in.more = fo & 1u;
			skip(c, 8);
			hdrs += 8;
			if (in.off == 0 && !in.more) { /* atomic fragment */
				nh = in.next;
				continue;
			}
			d->st.fragments++;
			if (in.next == NH_HOPOPTS || in.next == NH_FRAGMENT) {
				d->st.frag_dropped++;
				return RES_MALFORMED;
			}
			if (!may_carry_tcp(in.next))
				return RES_NON_TCP; /* not worth holding */
			memcpy(in.key.src, seg->src.addr, 16);
			memcpy(in.key.dst, seg->dst.addr, 16);
			in.key.family = 6;
			in.ts_ns = ts_ns;
			/* The rebuilt payload holds the headers before this one,
			 * not the Fragment header itself. */
			r = reassemble(d, c, &in, hdrs - 8, &nh, c);
			if (r != RES_NEXT)
				return r;
			rebuilt = 1;
			continue;
		}
		switch (nh) {
		case NH_HOPOPTS:
		case NH_ROUTING:
		case NH_DSTOPTS:
		case NH_MOBILITY:
		case NH_HIP:
		case NH_SHIM6:
			if (c->avail < 2)
				return short_of(c, 2);
			n = ((uint32_t)c->p[1] + 1) * 8;
			break;
		case NH_AH:
			if (c->avail < 2)
				return short_of(c, 2);
			n = ((uint32_t)c->p[1] + 2) * 4;
			break;
		default: /* ESP, No Next Header, UDP, ICMPv6, unknown */
			return RES_NON_TCP;
		}
		if (n > c->wire)
			return RES_MALFORMED;
		if (n > c->avail)
			return RES_TRUNCATED;
		nh = c->p[0];
		skip(c, n);
		hdrs += n;
	}
}

/* ---- the decoder ------------------------------------------------------------- */

/*
 * Creates a decoder for one pcap link type (a LINKTYPE_* or DLT_* value;
 * see the links[] table).  TAPE_EUNSUP for any other, -ENOMEM.  Fragment
 * caps start at the TAPE__FRAG_* defaults.  Free with tape__decoder_free().
 */
int tape__decoder_new(struct tape__decoder **out, int linktype)
{
	const struct link *link = NULL;
	struct tape__decoder *d;
	int rc;

	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (links[i].linktype == linktype)
			link = &links[i];
	if (!link)
		return TAPE_EUNSUP;
	d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->link = link;
	rc = tape__frag_new(&d->frag, NULL, &d->st);
	if (rc < 0) {
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

/* Frees d (NULL is fine) and any fragments it held, without counting them. */
void tape__decoder_free(struct tape__decoder *d)
{
	if (!d)
		return;
	tape__frag_free(d->frag);
	free(d);
}

/* Installs new fragment caps; held datagrams are given up and counted. */
int tape__decoder_frag_opts(struct tape__decoder *d, const struct tape__frag_opts *opts)
{
	struct tape__frag *f;
	int rc = tape__frag_new(&f, opts, &d->st);

	if (rc < 0)
		return rc;
	tape__frag_flush(d->frag);
	tape__frag_free(d->frag);
	d->frag = f;
	return 0;
}

/* End of input: incomplete datagrams are given up and counted. */
void tape__decoder_finish(struct tape__decoder *d)
{
	tape__frag_flush(d->frag);
}

/* Counters since tape__decoder_new(); valid until tape__decoder_free(). */
const struct tape__decode_stats *tape__decoder_stats(const struct tape__decoder *d)
{
	return &d->st;
}

/*
 * Decodes one frame of caplen captured bytes out of wirelen.  Every frame
 * is counted in packets and bytes, then by its fate: tcp (plus truncated
 * when the snaplen cut the payload: seg->len < seg->wire_len), non_tcp,
 * malformed, truncated (a needed header was cut), or, for a fragment, in
 * fragments until its datagram completes (reassembled, then tcp) or is given
 * up (frag_dropped).  Fragments time out in capture time: ts_ns drives the
 * expiry.  The segment's payload points into pkt or into the decoder's
 * fragment buffer, valid until the next call.
 */
int tape__decode(struct tape__decoder *d, uint64_t ts_ns, const uint8_t *pkt, uint32_t caplen,
		 uint32_t wirelen, struct tape__seg *seg)
{
	struct cur c;
	enum net net = NET_IP;
	enum res r;

	if (wirelen < caplen)
		wirelen = caplen;
	d->st.packets++;
	d->st.bytes += wirelen;
	tape__frag_expire(d->frag, ts_ns);
	memset(seg, 0, sizeof *seg);
	seg->ts_ns = ts_ns;
	c.p = pkt;
	c.avail = pkt ? caplen : 0;
	c.wire = wirelen;

	r = d->link->strip(&c, &net);
	if (r == RES_NEXT && net == NET_IP) {
		if (c.avail < 1)
			r = short_of(&c, 1);
		else if (c.p[0] >> 4 == 4)
			net = NET_IPV4;
		else if (c.p[0] >> 4 == 6)
			net = NET_IPV6;
		else
			r = RES_MALFORMED;
	}
	if (r == RES_NEXT)
		r = net == NET_IPV4 ? ipv4(d, &c, ts_ns, seg) : ipv6(d, &c, ts_ns, seg);

	switch (r) {
	case RES_TCP:
		d->st.tcp++;
		return 1;
	case RES_TCP_CUT:
		d->st.tcp++;
		d->st.truncated++;
		return 1;
	case RES_NON_TCP:
		d->st.non_tcp++;
		return 0;
	case RES_MALFORMED:
		d->st.malformed++;
		return 0;
	case RES_TRUNCATED:
		d->st.truncated++;
		return 0;
	case RES_NOMEM:
		return -ENOMEM;
	case RES_NEXT:
	case RES_HELD:
		break;
	}
	return 0;
}
