/* SPDX-License-Identifier: BSD-2-Clause */
/* test_decode.c - CUnit suite for frame decoding and IP fragment reassembly (decode.c, frag.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"
#include "unit.h"

#define SEC UINT64_C(1000000000)

/* ---- frames written out by hand ------------------------------------------------ */

/* Ethernet II / IPv4 / TCP carrying "hello". */
static const uint8_t eth_ipv4_tcp[] = {
	/* Ethernet: dst 00:11:22:33:44:55, src 66:77:88:99:aa:bb, type IPv4 */
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
	/* IPv4: v4 IHL 5, TOS 0, total 45, id 0x1234, DF, TTL 64, TCP, csum 0,
	 * 192.0.2.1 -> 198.51.100.2 */
	0x45, 0x00, 0x00, 0x2d, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
	192, 0, 2, 1, 198, 51, 100, 2,
	/* TCP: 40000 -> 80, seq 0x01020304, ack 0x0a0b0c0d, offset 5, PSH|ACK,
	 * window 0xfaf0, csum 0, urg 0 */
	0x9c, 0x40, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d,
	0x50, 0x18, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
	'h', 'e', 'l', 'l', 'o',
};
#define ETH_HDR 14u
#define V4_LEN 45u /* the IPv4 datagram in eth_ipv4_tcp */

/* Ethernet II / IPv6 / TCP carrying "hi!". */
static const uint8_t eth_ipv6_tcp[] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x86, 0xdd,
	/* IPv6: version 6, payload 23, next TCP, hop limit 64,
	 * 2001:db8::1 -> 2001:db8::2 */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x17, 0x06, 0x40,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	/* TCP: 443 -> 50000, seq 0xfffffff0, ack 0, offset 5, SYN, window 65535 */
	0x01, 0xbb, 0xc3, 0x50, 0xff, 0xff, 0xff, 0xf0, 0x00, 0x00, 0x00, 0x00,
	0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	'h', 'i', '!',
};
#define V6_LEN 63u

static const uint8_t addr4_a[4] = {192, 0, 2, 1}, addr4_b[4] = {198, 51, 100, 2};
static const uint8_t addr6_a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t addr6_b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

/* ---- helpers ------------------------------------------------------------------- */

static uint8_t got[1u << 17]; /* payload of the last segment, copied out */

static struct tape__decoder *mk(int linktype)
{
	struct tape__decoder *d = NULL;

	CU_ASSERT_FATAL(tape__decoder_new(&d, linktype) == 0);
	CU_ASSERT_FATAL(d != NULL);
	return d;
}

/* Decodes a heap copy of exactly caplen bytes (so that ASan sees any read
 * past the capture); the payload is copied to got[] and seg->payload
 * pointed there. */
static int run(struct tape__decoder *d, uint64_t ts, const uint8_t *frame, size_t caplen,
	       size_t wirelen, struct tape__seg *seg)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	int rc;

	CU_ASSERT_FATAL(copy != NULL);
	if (caplen)
		memcpy(copy, frame, caplen);
	rc = tape__decode(d, ts, copy, (uint32_t)caplen, (uint32_t)wirelen, seg);
	CU_ASSERT(rc == 0 || rc == 1);
	if (rc == 1) {
		CU_ASSERT(seg->len <= seg->wire_len);
		CU_ASSERT(seg->ts_ns == ts);
		CU_ASSERT_FATAL(seg->len <= sizeof got);
		if (seg->len)
			memcpy(got, seg->payload, seg->len);
		seg->payload = got;
	}
	free(copy);
	return rc;
}

/* Whole frame, nothing cut. */
static int run1(struct tape__decoder *d, uint64_t ts, const uint8_t *frame, size_t n,
		struct tape__seg *seg)
{
	return run(d, ts, frame, n, n, seg);
}

struct exp {
	uint64_t packets, tcp, non_tcp, truncated, malformed, fragments, reassembled, frag_dropped;
};

static void stat_eq(uint64_t have, uint64_t want, const char *name, unsigned line)
{
	char msg[160];

	snprintf(msg, sizeof msg, "stats.%s = %llu, want %llu", name, (unsigned long long)have,
		 (unsigned long long)want);
	CU_assertImplementation(have == want ? CU_TRUE : CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
}

static void check_stats(const struct tape__decoder *d, struct exp e, unsigned line)
{
	const struct tape__decode_stats *s = tape__decoder_stats(d);

	stat_eq(s->packets, e.packets, "packets", line);
	stat_eq(s->tcp, e.tcp, "tcp", line);
	stat_eq(s->non_tcp, e.non_tcp, "non_tcp", line);
	stat_eq(s->truncated, e.truncated, "truncated", line);
	stat_eq(s->malformed, e.malformed, "malformed", line);
	stat_eq(s->fragments, e.fragments, "fragments", line);
	stat_eq(s->reassembled, e.reassembled, "reassembled", line);
	stat_eq(s->frag_dropped, e.frag_dropped, "frag_dropped", line);
}
#define STATS(d, ...) check_stats((d), (struct exp){__VA_ARGS__}, __LINE__)

/* The fields of the segment in eth_ipv4_tcp. */
static void check_v4_seg(const struct tape__seg *seg, uint64_t ts)
{
	CU_ASSERT_EQUAL(seg->ts_ns, ts);
	CU_ASSERT_EQUAL(seg->src.family, 4);
	CU_ASSERT_EQUAL(seg->dst.family, 4);
	CU_ASSERT_EQUAL(memcmp(seg->src.addr, addr4_a, 4), 0);
	CU_ASSERT_EQUAL(memcmp(seg->dst.addr, addr4_b, 4), 0);
	for (int i = 4; i < 16; i++)
		CU_ASSERT_EQUAL(seg->src.addr[i] | seg->dst.addr[i], 0);
	CU_ASSERT_EQUAL(seg->src.port, 40000);
	CU_ASSERT_EQUAL(seg->dst.port, 80);
	CU_ASSERT_EQUAL(seg->seq, 0x01020304u);
	CU_ASSERT_EQUAL(seg->ack, 0x0a0b0c0du);
	CU_ASSERT_EQUAL(seg->flags, TAPE__TH_PSH | TAPE__TH_ACK);
	CU_ASSERT_EQUAL(seg->win, 0xfaf0);
	CU_ASSERT_EQUAL(seg->len, 5);
	CU_ASSERT_EQUAL(seg->wire_len, 5);
	CU_ASSERT_EQUAL(memcmp(seg->payload, "hello", 5), 0);
}

static void check_v6_seg(const struct tape__seg *seg)
{
	CU_ASSERT_EQUAL(seg->src.family, 6);
	CU_ASSERT_EQUAL(seg->dst.family, 6);
	CU_ASSERT_EQUAL(memcmp(seg->src.addr, addr6_a, 16), 0);
	CU_ASSERT_EQUAL(memcmp(seg->dst.addr, addr6_b, 16), 0);
	CU_ASSERT_EQUAL(seg->src.port, 443);
	CU_ASSERT_EQUAL(seg->dst.port, 50000);
	CU_ASSERT_EQUAL(seg->seq, 0xfffffff0u);
	CU_ASSERT_EQUAL(seg->ack, 0);
	CU_ASSERT_EQUAL(seg->flags, TAPE__TH_SYN);
	CU_ASSERT_EQUAL(seg->win, 0xffff);
	CU_ASSERT_EQUAL(seg->len, 3);
	CU_ASSERT_EQUAL(seg->wire_len, 3);
	CU_ASSERT_EQUAL(memcmp(seg->payload, "hi!", 3), 0);
}

/* dst = prefix + body; returns the length. */
static size_t cat(uint8_t *dst, const uint8_t *prefix, size_t np, const uint8_t *body, size_t nb)
{
	memcpy(dst, prefix, np);
	if (nb)
		memcpy(dst + np, body, nb);
	return np + nb;
}

static void put16(uint8_t *p, unsigned v)
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

/* A TCP segment (offset 5) with the given payload at p; returns its length. */
static size_t put_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags,
		      const uint8_t *pl, size_t n)
{
	memset(p, 0, 20);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, seq);
	put32(p + 8, 7);
	p[12] = 0x50;
	p[13] = flags;
	put16(p + 14, 1000);
	if (n)
		memcpy(p + 20, pl, n);
	return 20 + n;
}

/* An IPv4 header of ihl 32-bit words (options filled with NOPs); returns ihl * 4. */
static size_t put_ipv4(uint8_t *p, unsigned ihl, unsigned total, unsigned id, unsigned frag,
		       uint8_t proto, const uint8_t *src, const uint8_t *dst)
{
	memset(p, 0, ihl * 4);
	p[0] = (uint8_t)(0x40 | ihl);
	put16(p + 2, total);
	put16(p + 4, id);
	put16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	for (unsigned i = 20; i < ihl * 4; i++)
		p[i] = 1; /* NOP */
	return ihl * 4;
}

static size_t put_ipv6(uint8_t *p, unsigned plen, uint8_t nh, const uint8_t *src,
		       const uint8_t *dst)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	put16(p + 4, plen);
	p[6] = nh;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return 40;
}

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* ---- link types ---------------------------------------------------------------- */

static void test_decode_ethernet_ipv4(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;

	CU_ASSERT_EQUAL(run1(d, 1234567890123456789u, eth_ipv4_tcp, sizeof eth_ipv4_tcp, &seg), 1);
	check_v4_seg(&seg, 1234567890123456789u);
	STATS(d, .packets = 1, .tcp = 1);
	CU_ASSERT_EQUAL(tape__decoder_stats(d)->bytes, sizeof eth_ipv4_tcp);
	tape__decoder_free(d);
}

static void test_decode_ethernet_padding(void)
{
	/* A 60-byte minimum frame: the IP total length trims the padding. */
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[64];

	memset(f, 0xee, sizeof f);
	memcpy(f, eth_ipv4_tcp, sizeof eth_ipv4_tcp);
	CU_ASSERT_EQUAL(run1(d, 5, f, 64, &seg), 1);
	check_v4_seg(&seg, 5);
	STATS(d, .packets = 1, .tcp = 1);
	tape__decoder_free(d);
}

static void test_decode_ethernet_ipv6(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;

	CU_ASSERT_EQUAL(run1(d, 9, eth_ipv6_tcp, sizeof eth_ipv6_tcp, &seg), 1);
	check_v6_seg(&seg);
	STATS(d, .packets = 1, .tcp = 1);
	tape__decoder_free(d);
}

static void test_decode_vlan(void)
{
	static const uint8_t macs[12] = {0,    0x11, 0x22, 0x33, 0x44, 0x55,
					 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
	/* Tag stacks: 802.1Q; QinQ 802.1ad + 802.1Q; 0x9100 + two 802.1Q. */
	static const uint8_t q[] = {0x81, 0x00, 0x00, 0x64, 0x08, 0x00};
	static const uint8_t qinq[] = {0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x20, 0x64, 0x86, 0xdd};
	static const uint8_t q3[] = {0x91, 0x00, 0x00, 0x01, 0x81, 0x00, 0x00, 0x02,
				     0x81, 0x00, 0x00, 0x03, 0x08, 0x00};
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[256];
	size_t n;

	n = cat(f, macs, 12, q, sizeof q);
	n += cat(f + n, eth_ipv4_tcp + ETH_HDR, V4_LEN, NULL, 0);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 1);
	check_v4_seg(&seg, 1);

	n = cat(f, macs, 12, qinq, sizeof qinq);
	n += cat(f + n, eth_ipv6_tcp + ETH_HDR, V6_LEN, NULL, 0);
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 1);
	check_v6_seg(&seg);

	n = cat(f, macs, 12, q3, sizeof q3);
	n += cat(f + n, eth_ipv4_tcp + ETH_HDR, V4_LEN, NULL, 0);
	CU_ASSERT_EQUAL(run1(d, 3, f, n, &seg), 1);
	check_v4_seg(&seg, 3);
	STATS(d, .packets = 3, .tcp = 3);

	/* The snaplen cuts inside the third tag: truncated; a frame that
	 * really ends there: malformed. */
	CU_ASSERT_EQUAL(run(d, 4, f, 12 + 10, n, &seg), 0);
	CU_ASSERT_EQUAL(run1(d, 5, f, 12 + 10, &seg), 0);
	/* A VLAN carrying ARP. */
	f[12 + sizeof q3 - 2] = 0x08;
	f[12 + sizeof q3 - 1] = 0x06;
	CU_ASSERT_EQUAL(run1(d, 6, f, n, &seg), 0);
	STATS(d, .packets = 6, .tcp = 3, .truncated = 1, .malformed = 1, .non_tcp = 1);
	tape__decoder_free(d);
}

static void test_decode_sll(void)
{
	/* pkttype 0 (to us), ARPHRD_ETHER, 6-byte address, IPv4 */
	static const uint8_t sll[16] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x66, 0x77,
					0x88, 0x99, 0xaa, 0xbb, 0x00, 0x00, 0x08, 0x00};
	/* outgoing, ARPHRD_ETHER, VLAN re-inserted by libpcap */
	static const uint8_t sll_vlan[20] = {0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x66, 0x77, 0x88, 0x99,
					     0xaa, 0xbb, 0x00, 0x00, 0x81, 0x00, 0x00, 0x07, 0x86, 0xdd};
	/* ARPHRD_NETLINK (824 = 0x0338), protocol 0 */
	static const uint8_t sll_nl[16] = {0x00, 0x04, 0x03, 0x38, 0x00, 0x00, 0, 0,
					   0,    0,    0,    0,    0,    0,    0x08, 0x00};
	struct tape__decoder *d = mk(113);
	struct tape__seg seg;
	uint8_t f[256];
	size_t n;

	n = cat(f, sll, sizeof sll, eth_ipv4_tcp + ETH_HDR, V4_LEN);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 1);
	check_v4_seg(&seg, 1);
	n = cat(f, sll_vlan, sizeof sll_vlan, eth_ipv6_tcp + ETH_HDR, V6_LEN);
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 1);
	check_v6_seg(&seg);
	n = cat(f, sll_nl, sizeof sll_nl, eth_ipv4_tcp + ETH_HDR, V4_LEN);
	CU_ASSERT_EQUAL(run1(d, 3, f, n, &seg), 0);
	/* protocol 0x0004: 802.2 LLC */
	n = cat(f, sll, sizeof sll, eth_ipv4_tcp + ETH_HDR, V4_LEN);
	f[14] = 0x00;
	f[15] = 0x04;
	CU_ASSERT_EQUAL(run1(d, 4, f, n, &seg), 0);
	CU_ASSERT_EQUAL(run1(d, 5, f, 15, &seg), 0);
	STATS(d, .packets = 5, .tcp = 2, .non_tcp = 2, .malformed = 1);
	tape__decoder_free(d);
}

static void test_decode_sll2(void)
{
	/* protocol IPv4, reserved, ifindex 3, ARPHRD_ETHER, pkttype 0, addr len 6, address */
	static const uint8_t sll2[20] = {0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01,
					 0x00, 0x06, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x00, 0x00};
	static const uint8_t sll2_v6[20] = {0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x04,
					    0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}; /* ARPHRD_LOOPBACK */
	struct tape__decoder *d = mk(276);
	struct tape__seg seg;
	uint8_t f[256];
	size_t n;

	n = cat(f, sll2, sizeof sll2, eth_ipv4_tcp + ETH_HDR, V4_LEN);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 1);
	check_v4_seg(&seg, 1);
	n = cat(f, sll2_v6, sizeof sll2_v6, eth_ipv6_tcp + ETH_HDR, V6_LEN);
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 1);
	check_v6_seg(&seg);
	f[0] = 0x08;
	f[1] = 0x06; /* ARP */
	CU_ASSERT_EQUAL(run1(d, 3, f, n, &seg), 0);
	CU_ASSERT_EQUAL(run(d, 4, f, 19, n, &seg), 0);
	STATS(d, .packets = 4, .tcp = 2, .non_tcp = 1, .truncated = 1);
	tape__decoder_free(d);
}

static void test_decode_null_loop(void)
{
	static const uint8_t le2[4] = {2, 0, 0, 0}, be2[4] = {0, 0, 0, 2};
	static const uint8_t v6fam[][4] = {{24, 0, 0, 0}, {0, 0, 0, 28}, {30, 0, 0, 0}, {0, 0, 0, 24},
					   {10, 0, 0, 0}, {23, 0, 0, 0}};
	static const uint8_t osi[4] = {7, 0, 0, 0};
	static const int types[2] = {0, 108};
	struct tape__seg seg;
	uint8_t f[256];
	size_t n;

	for (int t = 0; t < 2; t++) {
		struct tape__decoder *d = mk(types[t]);
		uint64_t k = 0;

		n = cat(f, le2, 4, eth_ipv4_tcp + ETH_HDR, V4_LEN);
		CU_ASSERT_EQUAL(run1(d, ++k, f, n, &seg), 1);
		check_v4_seg(&seg, k);
		n = cat(f, be2, 4, eth_ipv4_tcp + ETH_HDR, V4_LEN);
		CU_ASSERT_EQUAL(run1(d, ++k, f, n, &seg), 1);
		check_v4_seg(&seg, k);
		for (size_t i = 0; i < sizeof v6fam / sizeof v6fam[0]; i++) {
			n = cat(f, v6fam[i], 4, eth_ipv6_tcp + ETH_HDR, V6_LEN);
			CU_ASSERT_EQUAL(run1(d, ++k, f, n, &seg), 1);
			check_v6_seg(&seg);
		}
		/* 23 is also IPX: only an IPv6 version nibble makes it IPv6. */
		n = cat(f, v6fam[5], 4, eth_ipv4_tcp + ETH_HDR, V4_LEN);
		CU_ASSERT_EQUAL(run1(d, ++k, f, n, &seg), 0);
		n = cat(f, osi, 4, eth_ipv4_tcp + ETH_HDR, V4_LEN);
		CU_ASSERT_EQUAL(run1(d, ++k, f, n, &seg), 0);
		/* family 24 with an IPv4 packet behind it */
		n = cat(f, v6fam[0], 4, eth_ipv4_tcp + ETH_HDR, V4_LEN);
		CU_ASSERT_EQUAL(run1(d, ++k, f, n, &seg), 0);
		CU_ASSERT_EQUAL(run(d, ++k, f, 3, n, &seg), 0);
		STATS(d, .packets = k, .tcp = 8, .non_tcp = 2, .malformed = 1, .truncated = 1);
		tape__decoder_free(d);
	}
}

static void test_decode_raw(void)
{
	static const int raw[] = {101, 12, 14};
	struct tape__seg seg;
	struct tape__decoder *d;
	uint8_t bad[V4_LEN];

	for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
		d = mk(raw[i]);
		CU_ASSERT_EQUAL(run1(d, 1, eth_ipv4_tcp + ETH_HDR, V4_LEN, &seg), 1);
		check_v4_seg(&seg, 1);
		CU_ASSERT_EQUAL(run1(d, 2, eth_ipv6_tcp + ETH_HDR, V6_LEN, &seg), 1);
		check_v6_seg(&seg);
		memcpy(bad, eth_ipv4_tcp + ETH_HDR, V4_LEN);
		bad[0] = 0x55; /* version 5 */
		CU_ASSERT_EQUAL(run1(d, 3, bad, V4_LEN, &seg), 0);
		CU_ASSERT_EQUAL(run1(d, 4, bad, 0, &seg), 0);
		CU_ASSERT_EQUAL(run(d, 5, bad, 0, V4_LEN, &seg), 0);
		STATS(d, .packets = 5, .tcp = 2, .malformed = 2, .truncated = 1);
		tape__decoder_free(d);
	}

	d = mk(228); /* IPv4 only */
	CU_ASSERT_EQUAL(run1(d, 1, eth_ipv4_tcp + ETH_HDR, V4_LEN, &seg), 1);
	check_v4_seg(&seg, 1);
	CU_ASSERT_EQUAL(run1(d, 2, eth_ipv6_tcp + ETH_HDR, V6_LEN, &seg), 0);
	STATS(d, .packets = 2, .tcp = 1, .malformed = 1);
	tape__decoder_free(d);

	d = mk(229); /* IPv6 only */
	CU_ASSERT_EQUAL(run1(d, 1, eth_ipv6_tcp + ETH_HDR, V6_LEN, &seg), 1);
	check_v6_seg(&seg);
	CU_ASSERT_EQUAL(run1(d, 2, eth_ipv4_tcp + ETH_HDR, V4_LEN, &seg), 0);
	STATS(d, .packets = 2, .tcp = 1, .malformed = 1);
	tape__decoder_free(d);
}

static void test_decode_unsupported_linktype(void)
{
	static const int bad[] = {-1, 2, 9, 105, 127, 1113, 277};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tape__decoder *d = NULL;
		CU_ASSERT_EQUAL(tape__decoder_new(&d, bad[i]), TAPE_EUNSUP);
		CU_ASSERT(d == NULL); /* untouched */
	}
	tape__decoder_free(NULL);
}

static void test_decode_non_tcp(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[256];
	size_t n;

	memcpy(f, eth_ipv4_tcp, sizeof eth_ipv4_tcp);
	f[12] = 0x08; /* ARP */
	f[13] = 0x06;
	CU_ASSERT_EQUAL(run1(d, 1, f, sizeof eth_ipv4_tcp, &seg), 0);
	f[12] = 0x00; /* IEEE 802.3 length */
	f[13] = 0x2e;
	CU_ASSERT_EQUAL(run1(d, 2, f, sizeof eth_ipv4_tcp, &seg), 0);
	memcpy(f, eth_ipv4_tcp, sizeof eth_ipv4_tcp);
	f[ETH_HDR + 9] = 17; /* UDP */
	CU_ASSERT_EQUAL(run1(d, 3, f, sizeof eth_ipv4_tcp, &seg), 0);
	/* a UDP datagram cut by the snaplen is still just non-TCP */
	CU_ASSERT_EQUAL(run(d, 4, f, ETH_HDR + 20, sizeof eth_ipv4_tcp, &seg), 0);
	/* IPv6: ICMPv6, ESP, No Next Header */
	n = sizeof eth_ipv6_tcp;
	memcpy(f, eth_ipv6_tcp, n);
	f[ETH_HDR + 6] = 58;
	CU_ASSERT_EQUAL(run1(d, 5, f, n, &seg), 0);
	f[ETH_HDR + 6] = 50;
	CU_ASSERT_EQUAL(run1(d, 6, f, n, &seg), 0);
	f[ETH_HDR + 6] = 59;
	CU_ASSERT_EQUAL(run1(d, 7, f, n, &seg), 0);
	STATS(d, .packets = 7, .non_tcp = 7);
	tape__decoder_free(d);
}

/* ---- IPv4 ---------------------------------------------------------------------- */

/* Total Length 0 (a capture taken before segmentation offload): the frame
 * gives the length; a fragment with Total Length 0 stays malformed. */
static void test_decode_ipv4_len_zero(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[sizeof eth_ipv4_tcp];

	memcpy(f, eth_ipv4_tcp, sizeof f);
	f[ETH_HDR + 2] = 0;
	f[ETH_HDR + 3] = 0;
	CU_ASSERT_EQUAL(run1(d, 7, f, sizeof f, &seg), 1);
	check_v4_seg(&seg, 7);
	CU_ASSERT_EQUAL(tape__decoder_stats(d)->ip_len_zero, 1);
	f[ETH_HDR + 6] = 0x20; /* MF: a fragment must say how long it is */
	CU_ASSERT_EQUAL(run1(d, 8, f, sizeof f, &seg), 0);
	STATS(d, .packets = 2, .tcp = 1, .malformed = 1);
	CU_ASSERT_EQUAL(tape__decoder_stats(d)->ip_len_zero, 1);
	tape__decoder_free(d);
}

static void test_decode_ipv4_options(void)
{
	struct tape__decoder *d = mk(101);
	struct tape__seg seg;
	uint8_t f[256];
	static const unsigned ihls[] = {6, 7, 15};

	for (size_t i = 0; i < sizeof ihls / sizeof ihls[0]; i++) {
		unsigned ihl = ihls[i];
		size_t n = put_ipv4(f, ihl, ihl * 4 + 25, 0x1234, 0x4000, 6, addr4_a, addr4_b);
		memcpy(f + n, eth_ipv4_tcp + ETH_HDR + 20, 25);
		if (ihl == 7) { /* a real option: record route, 7 bytes, then EOL */
			static const uint8_t rr[8] = {7, 7, 4, 0, 0, 0, 0, 0};
			memcpy(f + 20, rr, 8);
		}
		CU_ASSERT_EQUAL(run1(d, i, f, n + 25, &seg), 1);
		check_v4_seg(&seg, i);
	}
	STATS(d, .packets = 3, .tcp = 3);
	tape__decoder_free(d);
}

static void test_decode_ipv4_bad_header(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[sizeof eth_ipv4_tcp];
	const size_t n = sizeof f;

	for (unsigned ihl = 0; ihl < 5; ihl++) {
		memcpy(f, eth_ipv4_tcp, n);
		f[ETH_HDR] = (uint8_t)(0x40 | ihl);
		CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	}
	STATS(d, .packets = 5, .malformed = 5);
	/* total length below the header */
	memcpy(f, eth_ipv4_tcp, n);
	put16(f + ETH_HDR + 2, 19);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	/* IHL 15 (60 bytes) beyond the total length of 45 */
	memcpy(f, eth_ipv4_tcp, n);
	f[ETH_HDR] = 0x4f;
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	/* total length beyond what the frame carried */
	memcpy(f, eth_ipv4_tcp, n);
	put16(f + ETH_HDR + 2, V4_LEN + 1);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	put16(f + ETH_HDR + 2, 0xffff);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	/* ... but within the wire length when the snaplen cut the frame */
	CU_ASSERT_EQUAL(run(d, 1, f, n, 0xffff + ETH_HDR, &seg), 1);
	CU_ASSERT_EQUAL(seg.len, 5);
	CU_ASSERT_EQUAL(seg.wire_len, 0xffff - 40);
	/* version 6 behind EtherType IPv4 */
	memcpy(f, eth_ipv4_tcp, n);
	f[ETH_HDR] = 0x65;
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	STATS(d, .packets = 11, .tcp = 1, .truncated = 1, .malformed = 10);
	tape__decoder_free(d);
}

/* ---- IPv6 extension headers ------------------------------------------------------ */

/* Builds Ethernet / IPv6 / chain / TCP("hi!") into f; returns the length.
 * chain is a list of (next header, length) extension headers; each is
 * filled with the common layout (AH's length in 4-byte units). */
static size_t v6_chain(uint8_t *f, const uint8_t *types, size_t ntypes, const size_t *lens)
{
	size_t n = cat(f, eth_ipv6_tcp, ETH_HDR + 40, NULL, 0), start = n;

	f[ETH_HDR + 6] = ntypes ? types[0] : 6;
	for (size_t i = 0; i < ntypes; i++) {
		uint8_t next = i + 1 < ntypes ? types[i + 1] : 6;
		memset(f + n, 0, lens[i]);
		f[n] = next;
		if (types[i] == 51)
			f[n + 1] = (uint8_t)(lens[i] / 4 - 2);
		else
			f[n + 1] = (uint8_t)(lens[i] / 8 - 1);
		if (types[i] == 0 || types[i] == 60) { /* a PadN option fills the rest */
			f[n + 2] = 1;
			f[n + 3] = (uint8_t)(lens[i] - 4);
		}
		n += lens[i];
	}
	memcpy(f + n, eth_ipv6_tcp + ETH_HDR + 40, 23);
	n += 23;
	put16(f + ETH_HDR + 4, (unsigned)(n - start));
	return n;
}

static void test_decode_ipv6_ext_chain(void)
{
	static const uint8_t t1[] = {0, 43, 60, 51, 60};
	static const size_t l1[] = {8, 24, 16, 24, 8};
	static const uint8_t t2[] = {135};
	static const size_t l2[] = {16};
	static const uint8_t t3[] = {60, 43, 139, 140};
	static const size_t l3[] = {2048, 8, 8, 8};
	static const uint8_t t4[] = {51};
	static const size_t l4[] = {12}; /* AH: (1 + 2) * 4 */
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	static uint8_t f[4096];
	size_t n;

	n = v6_chain(f, t1, 5, l1);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 1);
	check_v6_seg(&seg);
	n = v6_chain(f, t2, 1, l2);
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 1);
	check_v6_seg(&seg);
	n = v6_chain(f, t3, 4, l3);
	CU_ASSERT_EQUAL(run1(d, 3, f, n, &seg), 1);
	check_v6_seg(&seg);
	n = v6_chain(f, t4, 1, l4);
	CU_ASSERT_EQUAL(run1(d, 4, f, n, &seg), 1);
	check_v6_seg(&seg);
	/* ESP or No Next Header inside the chain ends it */
	n = v6_chain(f, t1, 5, l1);
	f[ETH_HDR + 40 + 8 + 24] = 50; /* routing -> ESP */
	CU_ASSERT_EQUAL(run1(d, 5, f, n, &seg), 0);
	f[ETH_HDR + 40 + 8 + 24] = 59;
	CU_ASSERT_EQUAL(run1(d, 6, f, n, &seg), 0);
	STATS(d, .packets = 6, .tcp = 4, .non_tcp = 2);
	tape__decoder_free(d);
}

static void test_decode_ipv6_ext_errors(void)
{
	static const uint8_t hbh_late[] = {60, 0};
	static const size_t l2[] = {8, 8};
	static const uint8_t one[] = {43};
	static const size_t l1[] = {8};
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[512];
	size_t n;

	/* Hop-by-Hop not first */
	n = v6_chain(f, hbh_late, 2, l2);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	STATS(d, .packets = 1, .malformed = 1);
	/* an extension header longer than the payload */
	n = v6_chain(f, one, 1, l1);
	f[ETH_HDR + 41] = 200;
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 0);
	/* ... which the snaplen cut: still impossible by Payload Length */
	CU_ASSERT_EQUAL(run(d, 3, f, ETH_HDR + 44, n, &seg), 0);
	STATS(d, .packets = 3, .malformed = 3);
	/* a valid header cut by the snaplen */
	f[ETH_HDR + 41] = 0;
	CU_ASSERT_EQUAL(run(d, 4, f, ETH_HDR + 44, n, &seg), 0);
	CU_ASSERT_EQUAL(run(d, 5, f, ETH_HDR + 41, n, &seg), 0);
	STATS(d, .packets = 5, .malformed = 3, .truncated = 2);
	/* Jumbogram: Payload Length 0, Hop-by-Hop with a Jumbo Payload option */
	{
		static const uint8_t jumbo[8] = {6, 0, 0xc2, 4, 0x00, 0x01, 0x00, 0x00};
		n = cat(f, eth_ipv6_tcp, ETH_HDR + 40, jumbo, 8);
		n += cat(f + n, eth_ipv6_tcp + ETH_HDR + 40, 23, NULL, 0);
		f[ETH_HDR + 4] = 0;
		f[ETH_HDR + 5] = 0;
		f[ETH_HDR + 6] = 0;
		CU_ASSERT_EQUAL(run1(d, 6, f, n, &seg), 0);
	}
	/* Payload Length beyond the frame; version 4 behind EtherType IPv6 */
	n = cat(f, eth_ipv6_tcp, sizeof eth_ipv6_tcp, NULL, 0);
	f[ETH_HDR + 5]++;
	CU_ASSERT_EQUAL(run1(d, 7, f, n, &seg), 0);
	f[ETH_HDR + 5]--;
	f[ETH_HDR] = 0x40;
	CU_ASSERT_EQUAL(run1(d, 8, f, n, &seg), 0);
	/* TCP in a Payload Length of 0 */
	n = cat(f, eth_ipv6_tcp, sizeof eth_ipv6_tcp, NULL, 0);
	f[ETH_HDR + 5] = 0;
	CU_ASSERT_EQUAL(run1(d, 9, f, n, &seg), 0);
	STATS(d, .packets = 9, .malformed = 7, .truncated = 2);
	tape__decoder_free(d);
}

/* ---- TCP ----------------------------------------------------------------------- */

static void test_decode_tcp_options_flags(void)
{
	struct tape__decoder *d = mk(101);
	struct tape__seg seg;
	uint8_t f[128];
	size_t n = put_ipv4(f, 5, 20 + 32 + 4, 1, 0, 6, addr4_a, addr4_b);

	put_tcp(f + n, 1, 2, 3, 0xff, NULL, 0);
	f[n + 12] = 0x80; /* offset 8: 12 option bytes */
	memset(f + n + 20, 1, 12);
	memcpy(f + n + 32, "data", 4);
	CU_ASSERT_EQUAL(run1(d, 1, f, n + 36, &seg), 1);
	CU_ASSERT_EQUAL(seg.flags, 0x3f); /* CWR and ECE dropped */
	CU_ASSERT_EQUAL(seg.len, 4);
	CU_ASSERT_EQUAL(seg.wire_len, 4);
	CU_ASSERT_EQUAL(memcmp(seg.payload, "data", 4), 0);
	CU_ASSERT_EQUAL(seg.src.port, 1);
	CU_ASSERT_EQUAL(seg.dst.port, 2);
	CU_ASSERT_EQUAL(seg.seq, 3);
	CU_ASSERT_EQUAL(seg.ack, 7);
	CU_ASSERT_EQUAL(seg.win, 1000);
	/* offset 15, options fill the whole segment: no payload */
	put16(f + 2, 20 + 60);
	f[n + 12] = 0xf0;
	memset(f + n + 20, 0, 40);
	CU_ASSERT_EQUAL(run1(d, 2, f, n + 60, &seg), 1);
	CU_ASSERT_EQUAL(seg.len, 0);
	CU_ASSERT_EQUAL(seg.wire_len, 0);
	STATS(d, .packets = 2, .tcp = 2);
	tape__decoder_free(d);
}

static void test_decode_tcp_bad_offset(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[sizeof eth_ipv4_tcp];
	const size_t n = sizeof f, th = ETH_HDR + 20 + 12;

	for (unsigned off = 0; off < 5; off++) {
		memcpy(f, eth_ipv4_tcp, n);
		f[th] = (uint8_t)(off << 4);
		CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	}
	/* offset 6 and up: beyond the 25-byte segment */
	memcpy(f, eth_ipv4_tcp, n);
	f[th] = 0x70;
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	f[th] = 0xf0;
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	/* offset 6 fits the segment: the options are what the payload was */
	f[th] = 0x60;
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 1);
	CU_ASSERT_EQUAL(seg.len, 1);
	CU_ASSERT_EQUAL(memcmp(seg.payload, "o", 1), 0);
	/* a TCP header shorter than 20 bytes in an uncut frame */
	memcpy(f, eth_ipv4_tcp, n);
	put16(f + ETH_HDR + 2, 20 + 19);
	CU_ASSERT_EQUAL(run1(d, 1, f, ETH_HDR + 39, &seg), 0);
	STATS(d, .packets = 9, .tcp = 1, .malformed = 8);
	tape__decoder_free(d);
}

static void test_decode_snaplen_payload(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;

	/* snaplen 56: two of the five payload bytes */
	CU_ASSERT_EQUAL(run(d, 7, eth_ipv4_tcp, 56, sizeof eth_ipv4_tcp, &seg), 1);
	CU_ASSERT_EQUAL(seg.len, 2);
	CU_ASSERT_EQUAL(seg.wire_len, 5);
	CU_ASSERT_EQUAL(memcmp(seg.payload, "he", 2), 0);
	CU_ASSERT_EQUAL(seg.seq, 0x01020304u);
	/* snaplen at the end of the TCP header: no payload bytes at all */
	CU_ASSERT_EQUAL(run(d, 8, eth_ipv4_tcp, 54, sizeof eth_ipv4_tcp, &seg), 1);
	CU_ASSERT_EQUAL(seg.len, 0);
	CU_ASSERT_EQUAL(seg.wire_len, 5);
	/* a big segment cut at 96 bytes: wire_len per the IP header */
	CU_ASSERT_EQUAL(run(d, 9, eth_ipv6_tcp, 60, ETH_HDR + 40 + 20 + 1400, &seg), 0);
	STATS(d, .packets = 3, .tcp = 2, .truncated = 3, .malformed = 0);
	{
		static uint8_t big[ETH_HDR + 40 + 20 + 1400];
		memcpy(big, eth_ipv6_tcp, sizeof eth_ipv6_tcp);
		put16(big + ETH_HDR + 4, 20 + 1400);
		CU_ASSERT_EQUAL(run(d, 10, big, 96, sizeof big, &seg), 1);
		CU_ASSERT_EQUAL(seg.len, 96 - 74);
		CU_ASSERT_EQUAL(seg.wire_len, 1400);
		CU_ASSERT_EQUAL(memcmp(seg.payload, "hi!", 3), 0);
	}
	/* the snaplen cut only the Ethernet padding: nothing lost */
	{
		uint8_t pad[64];
		memset(pad, 0, sizeof pad);
		memcpy(pad, eth_ipv4_tcp, sizeof eth_ipv4_tcp);
		CU_ASSERT_EQUAL(run(d, 11, pad, 61, 64, &seg), 1);
		CU_ASSERT_EQUAL(seg.len, 5);
		CU_ASSERT_EQUAL(seg.wire_len, 5);
	}
	/* wirelen below caplen is taken as caplen */
	CU_ASSERT_EQUAL(run(d, 11, eth_ipv4_tcp, sizeof eth_ipv4_tcp, 3, &seg), 1);
	CU_ASSERT_EQUAL(seg.len, 5);
	CU_ASSERT_EQUAL(seg.wire_len, 5);
	STATS(d, .packets = 6, .tcp = 5, .truncated = 4);
	CU_ASSERT_EQUAL(tape__decoder_stats(d)->bytes,
			3 * sizeof eth_ipv4_tcp + 2 * (ETH_HDR + 40 + 20 + 1400) + 64);
	tape__decoder_free(d);
}

static void test_decode_snaplen_tcp_header(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;

	CU_ASSERT_EQUAL(run(d, 1, eth_ipv4_tcp, 53, sizeof eth_ipv4_tcp, &seg), 0);
	CU_ASSERT_EQUAL(run(d, 2, eth_ipv4_tcp, ETH_HDR + 20, sizeof eth_ipv4_tcp, &seg), 0);
	CU_ASSERT_EQUAL(run(d, 3, eth_ipv4_tcp, ETH_HDR + 19, sizeof eth_ipv4_tcp, &seg), 0);
	CU_ASSERT_EQUAL(run(d, 4, eth_ipv6_tcp, ETH_HDR + 40 + 10, sizeof eth_ipv6_tcp, &seg), 0);
	STATS(d, .packets = 4, .truncated = 4);
	/* TCP options cut off: header incomplete */
	{
		uint8_t f[sizeof eth_ipv4_tcp];
		memcpy(f, eth_ipv4_tcp, sizeof f);
		f[ETH_HDR + 20 + 12] = 0x60;
		CU_ASSERT_EQUAL(run(d, 5, f, 54, sizeof f, &seg), 0);
	}
	STATS(d, .packets = 5, .truncated = 5);
	tape__decoder_free(d);
}

/* ---- hostile input ---------------------------------------------------------------- */

struct sample {
	int linktype;
	uint8_t frame[160];
	size_t len, hdr; /* hdr: bytes up to the end of the TCP header */
	size_t payload;
};

static size_t samples(struct sample *s)
{
	static const uint8_t sll[16] = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00};
	static const uint8_t sll2[20] = {0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0};
	static const uint8_t null[4] = {2, 0, 0, 0}, loop[4] = {0, 0, 0, 30};
	static const uint8_t qinq[22] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
					 0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00};
	static const uint8_t t1[] = {0, 43, 60, 51};
	static const size_t l1[] = {8, 24, 16, 24};
	size_t n = 0;

	s[n].linktype = 1;
	s[n].len = cat(s[n].frame, eth_ipv4_tcp, sizeof eth_ipv4_tcp, NULL, 0);
	s[n].payload = 5;
	n++;
	s[n].linktype = 1;
	s[n].len = cat(s[n].frame, qinq, sizeof qinq, eth_ipv4_tcp + ETH_HDR, V4_LEN);
	s[n].payload = 5;
	n++;
	s[n].linktype = 1;
	s[n].len = v6_chain(s[n].frame, t1, 4, l1);
	s[n].payload = 3;
	n++;
	s[n].linktype = 113;
	s[n].len = cat(s[n].frame, sll, sizeof sll, eth_ipv4_tcp + ETH_HDR, V4_LEN);
	s[n].payload = 5;
	n++;
	s[n].linktype = 276;
	s[n].len = cat(s[n].frame, sll2, sizeof sll2, eth_ipv6_tcp + ETH_HDR, V6_LEN);
	s[n].payload = 3;
	n++;
	s[n].linktype = 0;
	s[n].len = cat(s[n].frame, null, 4, eth_ipv4_tcp + ETH_HDR, V4_LEN);
	s[n].payload = 5;
	n++;
	s[n].linktype = 108;
	s[n].len = cat(s[n].frame, loop, 4, eth_ipv6_tcp + ETH_HDR, V6_LEN);
	s[n].payload = 3;
	n++;
	s[n].linktype = 101;
	s[n].len = cat(s[n].frame, eth_ipv4_tcp + ETH_HDR, V4_LEN, NULL, 0);
	s[n].payload = 5;
	n++;
	s[n].linktype = 229;
	s[n].len = cat(s[n].frame, eth_ipv6_tcp + ETH_HDR, V6_LEN, NULL, 0);
	s[n].payload = 3;
	n++;
	s[n].linktype = 228;
	s[n].len = put_ipv4(s[n].frame, 8, 32 + 20 + 5, 9, 0, 6, addr4_a, addr4_b);
	s[n].len += cat(s[n].frame + 32, eth_ipv4_tcp + ETH_HDR + 20, 25, NULL, 0);
	s[n].payload = 5;
	n++;
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_FATAL(s[i].len <= sizeof s[i].frame);
		s[i].hdr = s[i].len - s[i].payload;
	}
	return n;
}

static void test_decode_every_truncation(void)
{
	static struct sample s[16];
	size_t ns = samples(s);

	for (size_t i = 0; i < ns; i++) {
		struct tape__decoder *cut = mk(s[i].linktype), *shrt = mk(s[i].linktype);
		struct tape__seg seg;
		size_t len = s[i].len, hdr = s[i].hdr;

		for (size_t n = 0; n <= len; n++) {
			/* the snaplen cut the frame at n */
			int rc = run(cut, n, s[i].frame, n, len, &seg);
			CU_ASSERT_EQUAL(rc, n >= hdr);
			if (rc == 1) {
				CU_ASSERT_EQUAL(seg.len, n - hdr);
				CU_ASSERT_EQUAL(seg.wire_len, s[i].payload);
				CU_ASSERT_EQUAL(memcmp(seg.payload, s[i].frame + hdr, seg.len), 0);
			}
			/* the frame really ended at n */
			rc = run(shrt, n, s[i].frame, n, n, &seg);
			CU_ASSERT_EQUAL(rc, n == len);
		}
		STATS(cut, .packets = len + 1, .tcp = len + 1 - hdr, .truncated = len);
		STATS(shrt, .packets = len + 1, .tcp = 1, .malformed = len);
		tape__decoder_free(cut);
		tape__decoder_free(shrt);
	}
}

/* Every frame lands in at least one counter; segments stay in bounds (run()
 * copies them out under ASan). */
static void check_accounting(const struct tape__decoder *d, uint64_t frames, uint64_t segs)
{
	const struct tape__decode_stats *s = tape__decoder_stats(d);

	CU_ASSERT_EQUAL(s->packets, frames);
	CU_ASSERT_EQUAL(s->tcp, segs);
	CU_ASSERT(s->tcp + s->non_tcp + s->malformed + s->truncated + s->fragments >= s->packets);
	CU_ASSERT(s->reassembled <= s->fragments);
}

static void test_decode_random_bytes(void)
{
	static const int types[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276};
	uint8_t f[512];

	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		struct tape__decoder *d = mk(types[t]);
		struct tape__seg seg;
		uint64_t segs = 0, frames = 20000;

		for (uint64_t i = 0; i < frames; i++) {
			size_t wire = rnd() % sizeof f, cap = rnd() % 4 ? wire : rnd() % (wire + 1);
			for (size_t k = 0; k < wire; k++)
				f[k] = (uint8_t)rnd();
			/* make the interesting paths likely */
			if (wire > 20 && rnd() % 2) {
				if (types[t] == 1) {
					f[12] = rnd() % 2 ? 0x08 : 0x86;
					f[13] = f[12] == 0x08 ? 0x00 : 0xdd;
				}
				if (types[t] == 101 || types[t] == 12)
					f[0] = (uint8_t)((rnd() % 2 ? 0x40 : 0x60) | (f[0] & 0x0f));
			}
			segs += (uint64_t)run(d, i * SEC / 10, f, cap, wire, &seg);
		}
		check_accounting(d, frames, segs);
		tape__decoder_finish(d);
		tape__decoder_free(d);
	}
}

static void test_decode_mutated_frames(void)
{
	static struct sample s[16];
	size_t ns = samples(s);
	uint8_t f[160];

	for (size_t i = 0; i < ns; i++) {
		struct tape__decoder *d = mk(s[i].linktype);
		struct tape__seg seg;
		uint64_t segs = 0, frames = 20000;

		for (uint64_t k = 0; k < frames; k++) {
			size_t len = s[i].len, flips = 1 + rnd() % 4;
			memcpy(f, s[i].frame, len);
			for (size_t j = 0; j < flips; j++)
				f[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			if (rnd() % 8 == 0)
				f[rnd() % len] = (uint8_t)rnd();
			segs += (uint64_t)run(d, k, f, rnd() % 3 ? len : rnd() % (len + 1), len, &seg);
		}
		check_accounting(d, frames, segs);
		tape__decoder_finish(d);
		tape__decoder_free(d);
	}
}

/* ---- IPv4 fragments ------------------------------------------------------------------ */

/* A TCP segment used as the datagram payload in fragment tests. */
static uint8_t dg[4096];
static size_t dg_len;

static void make_dg(size_t payload)
{
	uint8_t pl[4076];

	for (size_t i = 0; i < payload; i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	dg_len = put_tcp(dg, 1111, 2222, 0xabcdef01u, TAPE__TH_ACK | TAPE__TH_PSH, pl, payload);
}

/* Ethernet / IPv4 fragment carrying data[0..len) at byte offset off of the
 * datagram payload; returns the frame length. */
static size_t v4frag(uint8_t *f, unsigned id, uint8_t proto, unsigned off, int more,
		     const uint8_t *data, size_t len)
{
	static const uint8_t eth[14] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00};
	size_t n = cat(f, eth, 14, NULL, 0);

	n += put_ipv4(f + n, 5, (unsigned)(20 + len), id, (more ? 0x2000u : 0) | off / 8, proto, addr4_a,
		      addr4_b);
	if (len)
		memcpy(f + n, data, len);
	return n + len;
}

/* Sends fragment [off, off+len) of dg. */
static int send4(struct tape__decoder *d, uint64_t ts, unsigned id, unsigned off, size_t len,
		 struct tape__seg *seg)
{
	static uint8_t f[70000];
	size_t n = v4frag(f, id, 6, off, off + len < dg_len, dg + off, len);

	return run1(d, ts, f, n, seg);
}

static void check_dg_seg(const struct tape__seg *seg, uint64_t ts)
{
	CU_ASSERT_EQUAL(seg->ts_ns, ts);
	CU_ASSERT_EQUAL(seg->src.port, 1111);
	CU_ASSERT_EQUAL(seg->dst.port, 2222);
	CU_ASSERT_EQUAL(seg->seq, 0xabcdef01u);
	CU_ASSERT_EQUAL(seg->flags, TAPE__TH_ACK | TAPE__TH_PSH);
	CU_ASSERT_EQUAL(seg->len, dg_len - 20);
	CU_ASSERT_EQUAL(seg->wire_len, dg_len - 20);
	CU_ASSERT_EQUAL(memcmp(seg->payload, dg + 20, dg_len - 20), 0);
}

static void test_decode_frag_in_order(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;

	make_dg(40); /* 60 bytes: 24 + 24 + 12 */
	CU_ASSERT_EQUAL(send4(d, 10, 77, 0, 24, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 11, 77, 24, 24, &seg), 0);
	STATS(d, .packets = 2, .fragments = 2);
	CU_ASSERT_EQUAL(send4(d, 12, 77, 48, 12, &seg), 1);
	check_dg_seg(&seg, 12);
	CU_ASSERT_EQUAL(seg.src.family, 4);
	CU_ASSERT_EQUAL(memcmp(seg.src.addr, addr4_a, 4), 0);
	CU_ASSERT_EQUAL(memcmp(seg.dst.addr, addr4_b, 4), 0);
	STATS(d, .packets = 3, .tcp = 1, .fragments = 3, .reassembled = 1);
	/* the same id again later is a new datagram */
	CU_ASSERT_EQUAL(send4(d, 13, 77, 0, 24, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 14, 77, 24, 36, &seg), 1);
	check_dg_seg(&seg, 14);
	STATS(d, .packets = 5, .tcp = 2, .fragments = 5, .reassembled = 2);
	tape__decoder_free(d);
}

static void test_decode_frag_reverse(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;

	make_dg(1000);
	for (int off = 1016; off > 0; off -= 8)
		CU_ASSERT_EQUAL(send4(d, (uint64_t)(2000 - off), 5, (unsigned)off,
				      off + 8u <= dg_len ? 8 : dg_len - (size_t)off, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 5000, 5, 0, 8, &seg), 1);
	check_dg_seg(&seg, 5000);
	STATS(d, .packets = 128, .tcp = 1, .fragments = 128, .reassembled = 1);
	tape__decoder_free(d);
}

static void test_decode_frag_duplicate(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;

	make_dg(40);
	CU_ASSERT_EQUAL(send4(d, 1, 9, 0, 24, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 2, 9, 0, 24, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 3, 9, 48, 12, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 4, 9, 48, 12, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 5, 9, 24, 24, &seg), 1);
	check_dg_seg(&seg, 5);
	STATS(d, .packets = 5, .tcp = 1, .fragments = 5, .reassembled = 1);
	/* IPv4 overlap whose bytes agree: accepted */
	CU_ASSERT_EQUAL(send4(d, 6, 10, 0, 32, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 7, 10, 16, 32, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 8, 10, 40, 20, &seg), 1);
	check_dg_seg(&seg, 8);
	STATS(d, .packets = 8, .tcp = 2, .fragments = 8, .reassembled = 2);
	tape__decoder_free(d);
}

static void test_decode_frag_overlap_conflict(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[256], evil[24];
	size_t n;

	make_dg(40);
	CU_ASSERT_EQUAL(send4(d, 1, 3, 0, 24, &seg), 0);
	memcpy(evil, dg + 16, 24);
	evil[5] ^= 0xff; /* byte 21 of the datagram disagrees */
	n = v4frag(f, 3, 6, 16, 1, evil, 24);
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 0);
	STATS(d, .packets = 2, .fragments = 2, .frag_dropped = 2);
	/* the rest of that datagram is dropped too, even what would complete it */
	CU_ASSERT_EQUAL(send4(d, 3, 3, 24, 24, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 4, 3, 48, 12, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 5, 3, 0, 24, &seg), 0);
	STATS(d, .packets = 5, .fragments = 5, .frag_dropped = 5);
	/* a last fragment that disagrees on the total length */
	CU_ASSERT_EQUAL(send4(d, 6, 4, 48, 12, &seg), 0);
	n = v4frag(f, 4, 6, 40, 0, dg + 40, 8);
	CU_ASSERT_EQUAL(run1(d, 7, f, n, &seg), 0);
	/* data beyond a known end */
	CU_ASSERT_EQUAL(send4(d, 8, 5, 48, 12, &seg), 0);
	n = v4frag(f, 5, 6, 56, 1, dg, 8);
	CU_ASSERT_EQUAL(run1(d, 9, f, n, &seg), 0);
	STATS(d, .packets = 9, .fragments = 9, .frag_dropped = 9);
	/* once the dead entry times out, the id works again */
	CU_ASSERT_EQUAL(send4(d, TAPE__FRAG_TIMEOUT_NS + 1, 3, 0, 24, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, TAPE__FRAG_TIMEOUT_NS + 2, 3, 24, 36, &seg), 1);
	check_dg_seg(&seg, TAPE__FRAG_TIMEOUT_NS + 2);
	STATS(d, .packets = 11, .tcp = 1, .fragments = 11, .reassembled = 1, .frag_dropped = 9);
	tape__decoder_free(d);
}

static void test_decode_frag_timeout(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	const uint64_t t0 = 100 * SEC;

	make_dg(40);
	CU_ASSERT_EQUAL(send4(d, t0, 1, 0, 24, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, t0 + 1, 1, 24, 24, &seg), 0);
	/* one nanosecond short of the timeout: still held */
	CU_ASSERT_EQUAL(run1(d, t0 + TAPE__FRAG_TIMEOUT_NS - 1, eth_ipv4_tcp, sizeof eth_ipv4_tcp,
			     &seg),
			1);
	STATS(d, .packets = 3, .tcp = 1, .fragments = 2);
	/* any frame at the timeout expires it, measured from the first fragment */
	CU_ASSERT_EQUAL(run1(d, t0 + TAPE__FRAG_TIMEOUT_NS, eth_ipv4_tcp, sizeof eth_ipv4_tcp, &seg), 1);
	STATS(d, .packets = 4, .tcp = 2, .fragments = 2, .frag_dropped = 2);
	/* the last fragment, too late: a new datagram, never completed */
	CU_ASSERT_EQUAL(send4(d, t0 + TAPE__FRAG_TIMEOUT_NS + 5, 1, 48, 12, &seg), 0);
	STATS(d, .packets = 5, .tcp = 2, .fragments = 3, .frag_dropped = 2);
	tape__decoder_finish(d);
	STATS(d, .packets = 5, .tcp = 2, .fragments = 3, .frag_dropped = 3);
	/* time going backwards expires nothing */
	CU_ASSERT_EQUAL(send4(d, t0, 2, 0, 24, &seg), 0);
	CU_ASSERT_EQUAL(run1(d, 0, eth_ipv4_tcp, sizeof eth_ipv4_tcp, &seg), 1);
	CU_ASSERT_EQUAL(send4(d, t0 + 1, 2, 24, 36, &seg), 1);
	STATS(d, .packets = 8, .tcp = 4, .fragments = 5, .reassembled = 1, .frag_dropped = 3);
	tape__decoder_free(d);
}

static void test_decode_frag_cap_datagrams(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	const unsigned n = TAPE__FRAG_MAX_DATAGRAMS;

	make_dg(40);
	for (unsigned id = 0; id <= n; id++)
		CU_ASSERT_EQUAL(send4(d, id, id, 0, 24, &seg), 0);
	/* the oldest (id 0) made room for id n */
	STATS(d, .packets = n + 1, .fragments = n + 1, .frag_dropped = 1);
	CU_ASSERT_EQUAL(send4(d, n + 1, 0, 24, 36, &seg), 0); /* evicts id 1 */
	CU_ASSERT_EQUAL(send4(d, n + 2, 1, 24, 36, &seg), 0); /* evicts id 2 */
	CU_ASSERT_EQUAL(send4(d, n + 3, 3, 24, 36, &seg), 1);
	check_dg_seg(&seg, n + 3);
	STATS(d, .packets = n + 4, .tcp = 1, .fragments = n + 4, .reassembled = 1, .frag_dropped = 3);
	tape__decoder_finish(d);
	/* held: ids 4..n with one fragment each, and the tails of 0 and 1 */
	STATS(d, .packets = n + 4, .tcp = 1, .fragments = n + 4, .reassembled = 1,
	      .frag_dropped = 3 + (n - 3) + 2);
	tape__decoder_free(d);
}

static void test_decode_frag_cap_bytes(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__frag_opts o = {.max_bytes = 100};
	struct tape__seg seg;

	make_dg(400);
	CU_ASSERT_EQUAL(tape__decoder_frag_opts(d, &o), 0);
	CU_ASSERT_EQUAL(send4(d, 1, 1, 0, 48, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 2, 2, 0, 48, &seg), 0);
	STATS(d, .packets = 2, .fragments = 2);
	/* 48 more bytes do not fit: the oldest datagram goes */
	CU_ASSERT_EQUAL(send4(d, 3, 3, 0, 48, &seg), 0);
	STATS(d, .packets = 3, .fragments = 3, .frag_dropped = 1);
	/* a fragment at offset 200 needs 248 bytes: more than the cap alone */
	CU_ASSERT_EQUAL(send4(d, 4, 4, 200, 48, &seg), 0);
	STATS(d, .packets = 4, .fragments = 4, .frag_dropped = 2);
	/* a small datagram still gets through */
	make_dg(20);
	CU_ASSERT_EQUAL(send4(d, 5, 5, 0, 16, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 6, 5, 16, 24, &seg), 1);
	check_dg_seg(&seg, 6);
	/* new caps give up what is held (ids 2 and 3) */
	o.max_datagrams = 1;
	o.timeout_ns = 10;
	CU_ASSERT_EQUAL(tape__decoder_frag_opts(d, &o), 0);
	STATS(d, .packets = 6, .tcp = 1, .fragments = 6, .reassembled = 1, .frag_dropped = 4);
	CU_ASSERT_EQUAL(send4(d, 100, 6, 0, 16, &seg), 0);
	CU_ASSERT_EQUAL(send4(d, 101, 7, 0, 16, &seg), 0); /* max_datagrams 1: evicts 6 */
	CU_ASSERT_EQUAL(run1(d, 111, eth_ipv4_tcp, sizeof eth_ipv4_tcp, &seg), 1); /* times out 7 */
	STATS(d, .packets = 9, .tcp = 2, .fragments = 8, .reassembled = 1, .frag_dropped = 6);
	tape__decoder_free(d);
}

static void test_decode_frag_bad(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	static uint8_t f[70000];
	size_t n;

	make_dg(40);
	/* a fragment cut by the snaplen */
	n = v4frag(f, 1, 6, 0, 1, dg, 24);
	CU_ASSERT_EQUAL(run(d, 1, f, n - 1, n, &seg), 0);
	STATS(d, .packets = 1, .fragments = 1, .truncated = 1, .frag_dropped = 1);
	/* not the last, yet not a multiple of 8 bytes */
	n = v4frag(f, 2, 6, 0, 1, dg, 20);
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 0);
	/* ping of death: offset 65528 + 16 bytes > 65535 */
	n = v4frag(f, 3, 6, 65528, 0, dg, 16);
	CU_ASSERT_EQUAL(run1(d, 3, f, n, &seg), 0);
	STATS(d, .packets = 3, .fragments = 3, .truncated = 1, .malformed = 2, .frag_dropped = 3);
	/* the largest legal datagram: 65535 - 20 bytes at 65512 + 3 */
	n = v4frag(f, 4, 6, 65512, 0, dg, 3);
	CU_ASSERT_EQUAL(run1(d, 4, f, n, &seg), 0);
	STATS(d, .packets = 4, .fragments = 4, .truncated = 1, .malformed = 2, .frag_dropped = 3);
	/* UDP fragments are counted but not held */
	n = v4frag(f, 5, 17, 0, 1, dg, 24);
	CU_ASSERT_EQUAL(run1(d, 5, f, n, &seg), 0);
	n = v4frag(f, 5, 17, 24, 0, dg + 24, 36);
	CU_ASSERT_EQUAL(run1(d, 6, f, n, &seg), 0);
	STATS(d, .packets = 6, .fragments = 6, .non_tcp = 2, .truncated = 1, .malformed = 2,
	      .frag_dropped = 3);
	/* a first fragment too short for the TCP header: malformed once rebuilt */
	make_dg(0);
	n = v4frag(f, 6, 6, 0, 1, dg, 8);
	CU_ASSERT_EQUAL(run1(d, 7, f, n, &seg), 0);
	n = v4frag(f, 6, 6, 8, 0, dg + 8, 4);
	CU_ASSERT_EQUAL(run1(d, 8, f, n, &seg), 0);
	STATS(d, .packets = 8, .fragments = 8, .non_tcp = 2, .truncated = 1, .malformed = 3,
	      .reassembled = 1, .frag_dropped = 3);
	tape__decoder_finish(d); /* the one at 65512 */
	STATS(d, .packets = 8, .fragments = 8, .non_tcp = 2, .truncated = 1, .malformed = 3,
	      .reassembled = 1, .frag_dropped = 4);
	tape__decoder_free(d);
}

static void test_decode_frag_keys(void)
{
	/* Interleaved datagrams with the same id but different addresses. */
	struct tape__decoder *d = mk(101);
	struct tape__seg seg;
	uint8_t f[256];
	size_t n;

	make_dg(40);
	n = put_ipv4(f, 5, 20 + 24, 42, 0x2000, 6, addr4_a, addr4_b);
	memcpy(f + n, dg, 24);
	CU_ASSERT_EQUAL(run1(d, 1, f, n + 24, &seg), 0);
	n = put_ipv4(f, 5, 20 + 24, 42, 0x2000, 6, addr4_b, addr4_a);
	memcpy(f + n, dg, 24);
	CU_ASSERT_EQUAL(run1(d, 2, f, n + 24, &seg), 0);
	n = put_ipv4(f, 5, 20 + 36, 42, 3, 6, addr4_b, addr4_a);
	memcpy(f + n, dg + 24, 36);
	CU_ASSERT_EQUAL(run1(d, 3, f, n + 36, &seg), 1);
	check_dg_seg(&seg, 3);
	CU_ASSERT_EQUAL(memcmp(seg.src.addr, addr4_b, 4), 0);
	/* options on the last fragment do not matter */
	n = put_ipv4(f, 7, 28 + 36, 42, 3, 6, addr4_a, addr4_b);
	memcpy(f + n, dg + 24, 36);
	CU_ASSERT_EQUAL(run1(d, 4, f, n + 36, &seg), 1);
	check_dg_seg(&seg, 4);
	CU_ASSERT_EQUAL(memcmp(seg.src.addr, addr4_a, 4), 0);
	STATS(d, .packets = 4, .tcp = 2, .fragments = 4, .reassembled = 2);
	tape__decoder_free(d);
}

/* Splits dg into random 8-byte-multiple pieces, shuffles them with some
 * exact duplicates and checks that exactly the fragment completing the
 * set yields the segment. */
static void frag_shuffle(int family)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	static uint8_t f[8192];
	uint64_t fragments = 0, dropped = 0, tcp = 0;

	for (unsigned round = 0; round < 300; round++) {
		unsigned off[600], len[600], order[1200], nf = 0, no = 0, ndup, hits = 0;
		unsigned char seen_after[600];

		make_dg(rnd() % 2000);
		for (unsigned o = 0; o < dg_len; nf++) {
			unsigned l = 8 * (1 + rnd() % 40);
			if (o == 0 && l >= dg_len)
				l = 8; /* at least two fragments */
			off[nf] = o;
			len[nf] = o + l > dg_len ? (unsigned)dg_len - o : l;
			o += len[nf];
		}
		for (unsigned i = 0; i < nf; i++)
			order[no++] = i;
		ndup = rnd() % nf; /* fewer duplicates than fragments: never a second datagram */
		for (unsigned i = 0; i < ndup; i++)
			order[no++] = rnd() % nf;
		for (unsigned i = no - 1; i > 0; i--) {
			unsigned j = rnd() % (i + 1), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		memset(seen_after, 0, sizeof seen_after);
		for (unsigned i = 0; i < no; i++) {
			unsigned k = order[i];
			uint64_t ts = round * 1000u + i;
			size_t n;
			int rc;

			if (family == 4) {
				n = v4frag(f, round, 6, off[k], off[k] + len[k] < dg_len, dg + off[k], len[k]);
			} else {
				n = cat(f, eth_ipv6_tcp, ETH_HDR + 40, NULL, 0);
				put16(f + ETH_HDR + 4, 8 + len[k]);
				f[ETH_HDR + 6] = 44;
				f[n] = 6;
				f[n + 1] = 0;
				put16(f + n + 2, off[k] | (off[k] + len[k] < dg_len));
				put32(f + n + 4, 0x10000u + round);
				memcpy(f + n + 8, dg + off[k], len[k]);
				n += 8 + len[k];
			}
			rc = run1(d, ts, f, n, &seg);
			fragments++;
			if (rc == 1) {
				hits++;
				check_dg_seg(&seg, ts);
			} else if (hits) {
				seen_after[k] = 1;
			}
		}
		CU_ASSERT_EQUAL(hits, 1);
		tcp += hits;
		for (unsigned k = 0; k < nf; k++)
			dropped += seen_after[k];
		tape__decoder_finish(d);
		STATS(d, .packets = fragments, .tcp = tcp, .fragments = fragments, .reassembled = tcp,
		      .frag_dropped = dropped);
	}
	tape__decoder_free(d);
}

static void test_decode_frag_shuffled_v4(void)
{
	frag_shuffle(4);
}

static void test_decode_frag_shuffled_v6(void)
{
	frag_shuffle(6);
}

static void test_decode_frag_fuzz(void)
{
	/* Random fragments of a few datagrams: overlaps, conflicts, odd
	 * lengths, evictions under small caps.  Must stay in bounds and leave
	 * nothing behind. */
	struct tape__decoder *d = mk(101);
	struct tape__frag_opts o = {.max_datagrams = 4, .max_bytes = 4096, .timeout_ns = 500};
	struct tape__seg seg;
	static uint8_t f[70000];
	uint64_t segs = 0, frames = 40000;

	CU_ASSERT_EQUAL(tape__decoder_frag_opts(d, &o), 0);
	for (uint64_t i = 0; i < frames; i++) {
		unsigned off = 8 * (rnd() % 64), len = rnd() % 2 ? 8 * (rnd() % 8) : rnd() % 70;
		int more = rnd() % 3 != 0;
		size_t n;

		if (rnd() % 2) {
			n = put_ipv4(f, 5, 20 + len, rnd() % 3, (more ? 0x2000u : 0) | off / 8, 6, addr4_a,
				     addr4_b);
		} else {
			n = put_ipv6(f, 8 + len, 44, addr6_a, addr6_b);
			f[n] = rnd() % 4 ? 6 : 60;
			f[n + 1] = 0;
			put16(f + n + 2, off | (unsigned)more);
			put32(f + n + 4, rnd() % 3);
			n += 8;
		}
		for (unsigned k = 0; k < len; k++)
			f[n + k] = rnd() % 4 ? (uint8_t)(off + k) : (uint8_t)rnd();
		if (off == 0 && len >= 20)
			f[n + 12] = (uint8_t)((5 + rnd() % 11) << 4);
		segs += (uint64_t)run1(d, i * 10, f, n + len, &seg);
	}
	check_accounting(d, frames, segs);
	tape__decoder_finish(d);
	tape__decoder_free(d);
}

static void test_decode_frag_module(void)
{
	/* The reassembler on its own: memory accounting and buffer lifetime. */
	struct tape__decode_stats st;
	struct tape__frag_opts o = {.max_datagrams = 2, .max_bytes = 1000, .timeout_ns = 100};
	struct tape__frag *f = NULL;
	struct tape__frag_in in;
	struct tape__frag_out out;
	uint8_t data[512];
	size_t nd, nb;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	memset(&st, 0, sizeof st);
	CU_ASSERT_FATAL(tape__frag_new(&f, &o, &st) == 0);
	memset(&in, 0, sizeof in);
	in.key.family = 4;
	in.key.proto = 6;
	in.key.id = 1;
	in.next = 6;
	in.ts_ns = 10;
	in.off = 256;
	in.more = 0;
	in.data = data + 256;
	in.len = 100;
	CU_ASSERT_EQUAL(tape__frag_add(f, &in, &out), 0);
	tape__frag_usage(f, &nd, &nb);
	CU_ASSERT_EQUAL(nd, 1);
	CU_ASSERT_EQUAL(nb, 356);
	in.off = 0;
	in.more = 1;
	in.data = data;
	in.len = 256;
	in.ts_ns = 20;
	CU_ASSERT_EQUAL(tape__frag_add(f, &in, &out), 1);
	CU_ASSERT_EQUAL(out.len, 356);
	CU_ASSERT_EQUAL(out.next, 6);
	CU_ASSERT_EQUAL(memcmp(out.data, data, 356), 0);
	CU_ASSERT_EQUAL(st.reassembled, 1);
	/* handed over: no longer counted, yet readable until the next call */
	tape__frag_usage(f, &nd, &nb);
	CU_ASSERT_EQUAL(nd, 0);
	CU_ASSERT_EQUAL(nb, 0);
	/* a second key; the first fragment's next header wins */
	in.key.id = 2;
	in.next = 60;
	in.off = 0;
	in.len = 64;
	CU_ASSERT_EQUAL(tape__frag_add(f, &in, &out), 0);
	in.key.id = 3;
	CU_ASSERT_EQUAL(tape__frag_add(f, &in, &out), 0);
	tape__frag_usage(f, &nd, &nb);
	CU_ASSERT_EQUAL(nd, 2);
	CU_ASSERT_EQUAL(nb, 128);
	in.key.id = 4; /* over max_datagrams: id 2 goes */
	CU_ASSERT_EQUAL(tape__frag_add(f, &in, &out), 0);
	CU_ASSERT_EQUAL(st.frag_dropped, 1);
	in.key.id = 3;
	in.next = 6;
	in.off = 64;
	in.more = 0;
	in.data = data + 64;
	in.len = 1;
	CU_ASSERT_EQUAL(tape__frag_add(f, &in, &out), 1);
	CU_ASSERT_EQUAL(out.len, 65);
	CU_ASSERT_EQUAL(out.next, 60);
	CU_ASSERT_EQUAL(memcmp(out.data, data, 65), 0);
	/* expiry: id 4 was created at 20 */
	tape__frag_expire(f, 119);
	tape__frag_usage(f, &nd, &nb);
	CU_ASSERT_EQUAL(nd, 1);
	tape__frag_expire(f, 120);
	tape__frag_usage(f, &nd, &nb);
	CU_ASSERT_EQUAL(nd, 0);
	CU_ASSERT_EQUAL(nb, 0);
	CU_ASSERT_EQUAL(st.frag_dropped, 2);
	/* held datagrams are freed without being counted */
	in.key.id = 5;
	CU_ASSERT_EQUAL(tape__frag_add(f, &in, &out), 0);
	tape__frag_free(f);
	CU_ASSERT_EQUAL(st.frag_dropped, 2);
	tape__frag_free(NULL);
}

/* ---- IPv6 fragments -------------------------------------------------------------------- */

/* Ethernet / IPv6 / [routing header] / Fragment / data; returns the length. */
static size_t v6frag(uint8_t *f, int routing, uint8_t next, uint32_t id, unsigned off, int more,
		     const uint8_t *data, size_t len)
{
	size_t n = cat(f, eth_ipv6_tcp, ETH_HDR + 40, NULL, 0), start = n;

	f[ETH_HDR + 6] = routing ? 43 : 44;
	if (routing) { /* type 0 segments-left 0 routing header, 8 bytes */
		memset(f + n, 0, 8);
		f[n] = 44;
		n += 8;
	}
	f[n] = next;
	f[n + 1] = 0;
	put16(f + n + 2, off | (more ? 1u : 0));
	put32(f + n + 4, id);
	n += 8;
	if (len)
		memcpy(f + n, data, len);
	n += len;
	put16(f + ETH_HDR + 4, (unsigned)(n - start));
	return n;
}

static void test_decode_ipv6_frag(void)
{
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	static uint8_t f[70000], part[4096];
	size_t n;

	make_dg(100); /* 120 bytes: 48 + 48 + 24 */
	n = v6frag(f, 0, 6, 0xdeadbeef, 48, 1, dg + 48, 48);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	n = v6frag(f, 0, 6, 0xdeadbeef, 96, 0, dg + 96, 24);
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 0);
	n = v6frag(f, 0, 6, 0xdeadbeef, 0, 1, dg, 48);
	CU_ASSERT_EQUAL(run1(d, 3, f, n, &seg), 1);
	check_dg_seg(&seg, 3);
	CU_ASSERT_EQUAL(seg.src.family, 6);
	CU_ASSERT_EQUAL(memcmp(seg.src.addr, addr6_a, 16), 0);
	CU_ASSERT_EQUAL(memcmp(seg.dst.addr, addr6_b, 16), 0);
	STATS(d, .packets = 3, .tcp = 1, .fragments = 3, .reassembled = 1);

	/* Routing header before the Fragment header, Destination Options in
	 * the fragmentable part. */
	memset(part, 0, 8);
	part[0] = 6;
	part[2] = 1; /* PadN */
	part[3] = 4;
	memcpy(part + 8, dg, dg_len); /* 128 bytes: 64 + 64 */
	n = v6frag(f, 1, 60, 7, 64, 0, part + 64, 64);
	CU_ASSERT_EQUAL(run1(d, 4, f, n, &seg), 0);
	n = v6frag(f, 1, 60, 7, 0, 1, part, 64);
	CU_ASSERT_EQUAL(run1(d, 5, f, n, &seg), 1);
	check_dg_seg(&seg, 5);
	STATS(d, .packets = 5, .tcp = 2, .fragments = 5, .reassembled = 2);

	/* Atomic fragment (RFC 6946): decoded in place, not counted */
	n = v6frag(f, 1, 6, 8, 0, 0, dg, dg_len);
	CU_ASSERT_EQUAL(run1(d, 6, f, n, &seg), 1);
	check_dg_seg(&seg, 6);
	STATS(d, .packets = 6, .tcp = 3, .fragments = 5, .reassembled = 2);

	/* Exact duplicate: absorbed.  Partial overlap, even agreeing: the
	 * datagram is abandoned (RFC 5722). */
	n = v6frag(f, 0, 6, 9, 0, 1, dg, 48);
	CU_ASSERT_EQUAL(run1(d, 7, f, n, &seg), 0);
	CU_ASSERT_EQUAL(run1(d, 8, f, n, &seg), 0);
	STATS(d, .packets = 8, .tcp = 3, .fragments = 7, .reassembled = 2);
	n = v6frag(f, 0, 6, 9, 40, 1, dg + 40, 48);
	CU_ASSERT_EQUAL(run1(d, 9, f, n, &seg), 0);
	STATS(d, .packets = 9, .tcp = 3, .fragments = 8, .reassembled = 2, .frag_dropped = 2);
	n = v6frag(f, 0, 6, 9, 48, 1, dg + 48, 48);
	CU_ASSERT_EQUAL(run1(d, 10, f, n, &seg), 0);
	n = v6frag(f, 0, 6, 9, 96, 0, dg + 96, 24);
	CU_ASSERT_EQUAL(run1(d, 11, f, n, &seg), 0);
	STATS(d, .packets = 11, .tcp = 3, .fragments = 10, .reassembled = 2, .frag_dropped = 4);

	/* UDP fragments: not held; Hop-by-Hop after a Fragment header and
	 * odd-length middle fragments: malformed */
	n = v6frag(f, 0, 17, 10, 0, 1, dg, 48);
	CU_ASSERT_EQUAL(run1(d, 12, f, n, &seg), 0);
	n = v6frag(f, 0, 0, 11, 0, 1, dg, 48);
	CU_ASSERT_EQUAL(run1(d, 13, f, n, &seg), 0);
	n = v6frag(f, 0, 6, 12, 0, 1, dg, 44);
	CU_ASSERT_EQUAL(run1(d, 14, f, n, &seg), 0);
	/* reassembled payload over 65535: 8 (routing) + 65528 + 8 */
	n = v6frag(f, 1, 6, 13, 65528, 0, dg, 8);
	CU_ASSERT_EQUAL(run1(d, 15, f, n, &seg), 0);
	/* cut by the snaplen */
	n = v6frag(f, 0, 6, 14, 0, 1, dg, 48);
	CU_ASSERT_EQUAL(run(d, 16, f, n - 8, n, &seg), 0);
	/* Fragment header cut */
	CU_ASSERT_EQUAL(run(d, 17, f, ETH_HDR + 44, n, &seg), 0);
	STATS(d, .packets = 17, .tcp = 3, .fragments = 15, .reassembled = 2, .frag_dropped = 8,
	      .non_tcp = 1, .malformed = 3, .truncated = 2);
	tape__decoder_finish(d);
	STATS(d, .packets = 17, .tcp = 3, .fragments = 15, .reassembled = 2, .frag_dropped = 8,
	      .non_tcp = 1, .malformed = 3, .truncated = 2);
	tape__decoder_free(d);
}

static void test_decode_ipv6_nested_frag(void)
{
	/* A Fragment header inside a reassembled payload is malformed. */
	struct tape__decoder *d = mk(1);
	struct tape__seg seg;
	uint8_t f[512], part[64];
	size_t n;

	make_dg(20);
	memset(part, 0, 8);
	part[0] = 6;
	memcpy(part + 8, dg, 40); /* inner Fragment header (atomic) + TCP: 48 bytes */
	n = v6frag(f, 0, 44, 1, 0, 1, part, 24);
	CU_ASSERT_EQUAL(run1(d, 1, f, n, &seg), 0);
	n = v6frag(f, 0, 44, 1, 24, 0, part + 24, 24);
	CU_ASSERT_EQUAL(run1(d, 2, f, n, &seg), 0);
	STATS(d, .packets = 2, .fragments = 2, .malformed = 2, .frag_dropped = 2);
	tape__decoder_free(d);
}

static const struct unit_test tests[] = {
	{"test_decode_ethernet_ipv4", test_decode_ethernet_ipv4},
	{"test_decode_ethernet_padding", test_decode_ethernet_padding},
	{"test_decode_ethernet_ipv6", test_decode_ethernet_ipv6},
	{"test_decode_vlan", test_decode_vlan},
	{"test_decode_sll", test_decode_sll},
	{"test_decode_sll2", test_decode_sll2},
	{"test_decode_null_loop", test_decode_null_loop},
	{"test_decode_raw", test_decode_raw},
	{"test_decode_unsupported_linktype", test_decode_unsupported_linktype},
	{"test_decode_non_tcp", test_decode_non_tcp},
	{"test_decode_ipv4_options", test_decode_ipv4_options},
	{"test_decode_ipv4_len_zero", test_decode_ipv4_len_zero},
	{"test_decode_ipv4_bad_header", test_decode_ipv4_bad_header},
	{"test_decode_ipv6_ext_chain", test_decode_ipv6_ext_chain},
	{"test_decode_ipv6_ext_errors", test_decode_ipv6_ext_errors},
	{"test_decode_tcp_options_flags", test_decode_tcp_options_flags},
	{"test_decode_tcp_bad_offset", test_decode_tcp_bad_offset},
	{"test_decode_snaplen_payload", test_decode_snaplen_payload},
	{"test_decode_snaplen_tcp_header", test_decode_snaplen_tcp_header},
	{"test_decode_every_truncation", test_decode_every_truncation},
	{"test_decode_random_bytes", test_decode_random_bytes},
	{"test_decode_mutated_frames", test_decode_mutated_frames},
	{"test_decode_frag_in_order", test_decode_frag_in_order},
	{"test_decode_frag_reverse", test_decode_frag_reverse},
	{"test_decode_frag_duplicate", test_decode_frag_duplicate},
	{"test_decode_frag_overlap_conflict", test_decode_frag_overlap_conflict},
	{"test_decode_frag_timeout", test_decode_frag_timeout},
	{"test_decode_frag_cap_datagrams", test_decode_frag_cap_datagrams},
	{"test_decode_frag_cap_bytes", test_decode_frag_cap_bytes},
	{"test_decode_frag_bad", test_decode_frag_bad},
	{"test_decode_frag_keys", test_decode_frag_keys},
	{"test_decode_frag_shuffled_v4", test_decode_frag_shuffled_v4},
	{"test_decode_frag_shuffled_v6", test_decode_frag_shuffled_v6},
	{"test_decode_frag_fuzz", test_decode_frag_fuzz},
	{"test_decode_frag_module", test_decode_frag_module},
	{"test_decode_ipv6_frag", test_decode_ipv6_frag},
	{"test_decode_ipv6_nested_frag", test_decode_ipv6_nested_frag},
	{NULL, NULL},
};

/* Registers the "decode" suite. */
void test_decode_register(void)
{
	unit_add_suite("decode", tests);
}
