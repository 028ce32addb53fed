/* SPDX-License-Identifier: BSD-2-Clause */
/* test_synth.c - CUnit suite for the packet synthesiser and the pcap/pcapng writers, read back with libpcap. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkt.h"
#include "tape-int.h"
#include "unit.h"

#define START_NS UINT64_C(1700000000123456789) /* 2023-11-14T22:13:20.123456789Z */

/* ---- events ---------------------------------------------------------------- */

/* A growable list of events; data pointers are borrowed from the test. */
struct evlist {
	struct tape_event *ev;
	size_t n, cap;
};

static struct tape_event *add(struct evlist *l, enum tape_event_kind kind, uint64_t t,
			      uint64_t conn)
{
	struct tape_event *ev;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->ev = realloc(l->ev, l->cap * sizeof *l->ev);
		if (!l->ev)
			abort();
	}
	ev = &l->ev[l->n++];
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->time_ns = t;
	ev->conn = conn;
	return ev;
}

static void add_open(struct evlist *l, uint64_t t, uint64_t conn, struct tape_endpoint c,
		     struct tape_endpoint s, uint32_t flags)
{
	struct tape_event *ev = add(l, TAPE_EV_OPEN, t, conn);

	ev->client = c;
	ev->server = s;
	ev->flags = flags;
}

static void add_data(struct evlist *l, uint64_t t, uint64_t conn, enum tape_dir dir,
		     const void *p, size_t n)
{
	struct tape_event *ev = add(l, TAPE_EV_DATA, t, conn);

	ev->dir = dir;
	ev->data = p;
	ev->len = n;
}

static void add_gap(struct evlist *l, uint64_t t, uint64_t conn, enum tape_dir dir, uint64_t n)
{
	struct tape_event *ev = add(l, TAPE_EV_GAP, t, conn);

	ev->dir = dir;
	ev->gap = n;
}

static void add_dir(struct evlist *l, enum tape_event_kind kind, uint64_t t, uint64_t conn,
		    enum tape_dir dir)
{
	add(l, kind, t, conn)->dir = dir;
}

static void add_close(struct evlist *l, uint64_t t, uint64_t conn, enum tape_close_reason why)
{
	add(l, TAPE_EV_CLOSE, t, conn)->reason = why;
}

/* ---- synthesise into a capture file ---------------------------------------- */

static int to_pcap(void *ctx, uint64_t ts_ns, const uint8_t *frame, size_t len)
{
	return tape__pcapout_frame(ctx, ts_ns, frame, len);
}

/* Plays the events into path as pcap (ng 0) or pcapng (ng 1).  Returns the
 * first error of tape__synth_event, or 0. */
static int play(const char *path, const struct evlist *l, const struct tape__synth_opts *opts,
		int ng, uint32_t snaplen)
{
	struct tape__out o;
	struct tape__pcapout *po = NULL;
	struct tape__synth *s = NULL;
	int fd, rc;
	int lt = opts && opts->linktype ? opts->linktype : TAPE__LINKTYPE_ETHERNET;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(tape__out_init(&o, fd, 1) == 0);
	CU_ASSERT_FATAL(tape__pcapout_open(&po, &o, ng, lt, snaplen) == 0);
	CU_ASSERT_FATAL(tape__synth_new(&s, opts, to_pcap, po) == 0);
	rc = 0;
	for (size_t i = 0; i < l->n && !rc; i++)
		rc = tape__synth_event(s, START_NS, &l->ev[i]);
	CU_ASSERT_EQUAL(tape__out_flush(&o), 0);
	tape__synth_free(s);
	tape__pcapout_free(po);
	tape__out_cleanup(&o);
	return rc;
}

/* ---- read back with libpcap, parse independently --------------------------- */

/* RFC 1071 checksum, written separately from src/synth.c on purpose. */
static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct pk {
	uint64_t ts;            /* ns */
	uint32_t caplen, len;
	int dir;                /* from the MACs; -1 for raw IP */
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport, win, ip_id, mss, urg;
	uint32_t seq, ack;
	uint8_t flags, doff;
	int ip_ok, tcp_ok;      /* checksums verify */
	int hdr_ok;             /* fixed fields as documented */
	uint8_t *data;
	size_t dlen;
};

struct cap {
	struct pk *p;
	size_t n, cap;
	int dlt;
};

static void cap_free(struct cap *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->p[i].data);
	free(c->p);
	memset(c, 0, sizeof *c);
}

/* Parses a complete frame into k; 0, or -1 when it is not what synth makes. */
static int parse(const uint8_t *f, uint32_t n, int dlt, struct pk *k)
{
	static const uint8_t mac1[6] = {2, 0, 0, 0, 0, 1}, mac2[6] = {2, 0, 0, 0, 0, 2};
	uint8_t pseudo[40 + 65536];
	const uint8_t *ip = f, *th;
	size_t iplen, thl, tlen, plen;

	k->dir = -1;
	k->hdr_ok = 1;
	if (dlt == DLT_EN10MB) {
		uint16_t et;
		if (n < 14)
			return -1;
		if (!memcmp(f + 6, mac1, 6) && !memcmp(f, mac2, 6))
			k->dir = TAPE_C2S;
		else if (!memcmp(f + 6, mac2, 6) && !memcmp(f, mac1, 6))
			k->dir = TAPE_S2C;
		else
			return -1;
		et = be16(f + 12);
		ip = f + 14;
		n -= 14;
		if ((et == 0x0800) != ((ip[0] >> 4) == 4) || (et != 0x0800 && et != 0x86dd))
			return -1;
	}
	if (n < 20)
		return -1;
	if ((ip[0] >> 4) == 4) {
		k->family = 4;
		if (ip[0] != 0x45)
			return -1;
		iplen = be16(ip + 2);
		if (iplen != n)
			return -1;
		k->ip_id = be16(ip + 4);
		k->ip_ok = ref_csum(ip, 20) == 0;
		if (be16(ip + 6) != 0x4000 || ip[8] != 64 || ip[9] != 6 || ip[1] != 0)
			k->hdr_ok = 0;
		memcpy(k->src, ip + 12, 4);
		memcpy(k->dst, ip + 16, 4);
		th = ip + 20;
		tlen = n - 20;
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = 6;
		pseudo[10] = (uint8_t)(tlen >> 8);
		pseudo[11] = (uint8_t)tlen;
		plen = 12;
	} else if ((ip[0] >> 4) == 6) {
		k->family = 6;
		if (n < 40 || be16(ip + 4) != n - 40)
			return -1;
		k->ip_ok = 1;
		if (be32(ip) != 0x60000000u || ip[6] != 6 || ip[7] != 64)
			k->hdr_ok = 0;
		memcpy(k->src, ip + 8, 16);
		memcpy(k->dst, ip + 24, 16);
		th = ip + 40;
		tlen = n - 40;
		memcpy(pseudo, ip + 8, 32);
		pseudo[32] = 0;
		pseudo[33] = 0;
		pseudo[34] = (uint8_t)(tlen >> 8);
		pseudo[35] = (uint8_t)tlen;
		pseudo[36] = pseudo[37] = pseudo[38] = 0;
		pseudo[39] = 6;
		plen = 40;
	} else {
		return -1;
	}
	if (tlen < 20)
		return -1;
	thl = (size_t)(th[12] >> 4) * 4;
	if (thl < 20 || thl > tlen)
		return -1;
	memcpy(pseudo + plen, th, tlen);
	k->tcp_ok = ref_csum(pseudo, plen + tlen) == 0;
	k->sport = be16(th);
	k->dport = be16(th + 2);
	k->seq = be32(th + 4);
	k->ack = be32(th + 8);
	k->doff = th[12] >> 4;
	k->flags = th[13];
	k->win = be16(th + 14);
	k->urg = be16(th + 18);
	if ((th[12] & 0x0f) || k->urg || k->win != 65535)
		k->hdr_ok = 0;
	k->mss = 0;
	for (size_t i = 20; i < thl;) { /* options */
		if (th[i] == 0)
			break;
		if (th[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= thl || th[i + 1] < 2 || i + th[i + 1] > thl)
			return -1;
		if (th[i] == 2 && th[i + 1] == 4)
			k->mss = be16(th + i + 2);
		i += th[i + 1];
	}
	k->dlen = tlen - thl;
	k->data = malloc(k->dlen ? k->dlen : 1);
	if (!k->data)
		abort();
	memcpy(k->data, th + thl, k->dlen);
	return 0;
}

/* Reads path with libpcap at nanosecond precision (or microseconds when
 * nano is 0, still stored as ns); with tcp set every frame must parse as
 * synth's, otherwise (or when snaplen cut a frame) only the record header
 * is kept. */
static void readback_any(const char *path, int nano, int tcp, struct cap *c)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p;
	int rc;

	memset(c, 0, sizeof *c);
	p = nano ? pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf)
		 : pcap_open_offline(path, errbuf);
	if (!p)
		fprintf(stderr, "pcap: %s\n", errbuf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	c->dlt = pcap_datalink(p);
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		struct pk *k;
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 64;
			c->p = realloc(c->p, c->cap * sizeof *c->p);
			if (!c->p)
				abort();
		}
		k = &c->p[c->n++];
		memset(k, 0, sizeof *k);
		k->ts = (uint64_t)h->ts.tv_sec * 1000000000u +
			(uint64_t)h->ts.tv_usec * (nano ? 1u : 1000u);
		k->caplen = h->caplen;
		k->len = h->len;
		if (tcp && h->caplen == h->len) {
			int ok = parse(d, h->caplen, c->dlt, k) == 0;
			CU_ASSERT(ok);
		}
	}
	if (rc != -2)
		fprintf(stderr, "pcap_next_ex: %d %s\n", rc, pcap_geterr(p));
	CU_ASSERT_EQUAL(rc, -2);
	pcap_close(p);
}

static void readback(const char *path, int nano, struct cap *c)
{
	readback_any(path, nano, 1, c);
}

/* Every packet: checksums and fixed fields right. */
static void check_all_valid(const struct cap *c)
{
	for (size_t i = 0; i < c->n; i++) {
		CU_ASSERT(c->p[i].ip_ok);
		CU_ASSERT(c->p[i].tcp_ok);
		CU_ASSERT(c->p[i].hdr_ok);
		/* SYNs carry the MSS option (data offset 6), others none. */
		CU_ASSERT_EQUAL(c->p[i].doff, (c->p[i].flags & TAPE__TH_SYN) ? 6 : 5);
		if (!(c->p[i].flags & TAPE__TH_ACK))
			CU_ASSERT_EQUAL(c->p[i].ack, 0);
		if (i)
			CU_ASSERT(c->p[i].ts >= c->p[i - 1].ts);
	}
}

/* Expected packet: seq relative to the sender's ISN, ack relative to the
 * peer's ISN, ts relative to START_NS. */
struct exp {
	int dir;
	uint8_t flags;
	uint32_t seq, ack;
	size_t len;
	uint64_t ts;
};

#define F_S TAPE__TH_SYN
#define F_A TAPE__TH_ACK
#define F_P TAPE__TH_PSH
#define F_F TAPE__TH_FIN
#define F_R TAPE__TH_RST

/* Checks c against e[0..n): the sender's ISNs come from the first packet
 * of each direction. */
static void check_exp(const struct cap *c, const struct exp *e, size_t n, uint16_t cport,
		      uint32_t isn_out[2])
{
	uint32_t isn[2] = {0, 0};
	int have[2] = {0, 0};

	CU_ASSERT_EQUAL_FATAL(c->n, n);
	for (size_t i = 0; i < n; i++) {
		const struct pk *k = &c->p[i];
		int d = k->sport == cport ? TAPE_C2S : TAPE_S2C;
		if (!have[d]) {
			isn[d] = k->seq - e[i].seq;
			have[d] = 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct pk *k = &c->p[i];
		int d = k->sport == cport ? TAPE_C2S : TAPE_S2C;
		int ok = d == e[i].dir && k->flags == e[i].flags &&
			 k->seq == (uint32_t)(isn[d] + e[i].seq) &&
			 (!(k->flags & F_A) || k->ack == (uint32_t)(isn[!d] + e[i].ack)) &&
			 k->dlen == e[i].len && k->ts == START_NS + e[i].ts;
		if (k->dir >= 0)
			ok = ok && k->dir == d;
		if (!ok)
			fprintf(stderr,
				"packet %zu: dir %d flags %#x seq +%u ack +%u len %zu ts +%llu; "
				"want dir %d flags %#x seq +%u ack +%u len %zu ts +%llu\n",
				i, d, k->flags, k->seq - isn[d], k->ack - isn[!d], k->dlen,
				(unsigned long long)(k->ts - START_NS), e[i].dir, e[i].flags, e[i].seq,
				e[i].ack, e[i].len, (unsigned long long)e[i].ts);
		CU_ASSERT(ok);
	}
	if (isn_out) {
		isn_out[0] = isn[0];
		isn_out[1] = isn[1];
	}
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_synth_inet_csum(void)
{
	/* RFC 1071 section 3 example: sum ddf2, checksum 220d. */
	static const uint8_t ex[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint8_t b[1001];
	uint8_t with[10];

	CU_ASSERT_EQUAL(tape__inet_sum(0, ex, sizeof ex), 0xddf2u);
	CU_ASSERT_EQUAL(tape__inet_csum(ex, sizeof ex), 0x220du);
	/* odd length pads with a zero byte */
	CU_ASSERT_EQUAL(tape__inet_csum((const uint8_t[]){0x01}, 1), 0xfeffu);
	CU_ASSERT_EQUAL(tape__inet_csum(NULL, 0), 0xffffu);
	/* chaining even pieces equals one pass; agrees with the reference */
	fill(b, sizeof b, 3);
	CU_ASSERT_EQUAL(tape__inet_fold(tape__inet_sum(tape__inet_sum(0, b, 500), b + 500, 501)),
			tape__inet_csum(b, sizeof b));
	CU_ASSERT_EQUAL(tape__inet_csum(b, sizeof b), ref_csum(b, sizeof b));
	for (size_t n = 0; n < 40; n++)
		CU_ASSERT_EQUAL(tape__inet_csum(b + 1, n), ref_csum(b + 1, n));
	/* a buffer holding its own checksum sums to zero */
	memcpy(with, ex, 8);
	with[8] = 0x22;
	with[9] = 0x0d;
	CU_ASSERT_EQUAL(tape__inet_csum(with, sizeof with), 0);
	memset(b, 0xff, 64); /* all-ones sums to 0xffff: checksum 0 */
	CU_ASSERT_EQUAL(tape__inet_csum(b, 64), 0);
}

static void test_synth_build_headers(void)
{
	struct tape_endpoint a = unit_ep4(192, 0, 2, 1, 40000), b = unit_ep4(198, 51, 100, 2, 80);
	struct tape_endpoint a6 = unit_ep6(1, 40000), b6 = unit_ep6(2, 443);
	static const uint8_t mss_opt[4] = {2, 4, 0x05, 0xb4};
	uint8_t buf[70000], payload[65535];
	struct pk k;
	long n;

	fill(payload, sizeof payload, 1);
	n = tape__build_ip_tcp(buf, sizeof buf, &a, &b, 1000, 2000, F_A | F_P, 512, payload, 33,
			       77);
	CU_ASSERT_EQUAL_FATAL(n, 20 + 20 + 33);
	memset(&k, 0, sizeof k);
	CU_ASSERT_FATAL(parse(buf, (uint32_t)n, DLT_RAW, &k) == 0);
	CU_ASSERT(k.ip_ok && k.tcp_ok);
	CU_ASSERT_EQUAL(k.family, 4);
	CU_ASSERT_EQUAL(k.ip_id, 77);
	CU_ASSERT_EQUAL(k.sport, 40000);
	CU_ASSERT_EQUAL(k.dport, 80);
	CU_ASSERT_EQUAL(k.seq, 1000);
	CU_ASSERT_EQUAL(k.ack, 2000);
	CU_ASSERT_EQUAL(k.flags, F_A | F_P);
	CU_ASSERT_EQUAL(k.win, 512);
	CU_ASSERT_EQUAL(k.doff, 5);
	CU_ASSERT(!memcmp(k.src, a.addr, 4) && !memcmp(k.dst, b.addr, 4));
	CU_ASSERT(k.dlen == 33 && !memcmp(k.data, payload, 33));
	free(k.data);

	n = tape__build_ip_tcp_opt(buf, sizeof buf, &a6, &b6, 0xfffffff0u, 0, F_S, 65535,
				   mss_opt, 4, NULL, 0, 0);
	CU_ASSERT_EQUAL_FATAL(n, 40 + 24);
	memset(&k, 0, sizeof k);
	CU_ASSERT_FATAL(parse(buf, (uint32_t)n, DLT_RAW, &k) == 0);
	CU_ASSERT(k.tcp_ok && k.hdr_ok);
	CU_ASSERT_EQUAL(k.family, 6);
	CU_ASSERT_EQUAL(k.doff, 6);
	CU_ASSERT_EQUAL(k.mss, 1460);
	CU_ASSERT_EQUAL(k.seq, 0xfffffff0u);
	CU_ASSERT(!memcmp(k.src, a6.addr, 16) && !memcmp(k.dst, b6.addr, 16));
	free(k.data);

	/* the largest datagrams: IPv4 total length 65535, IPv6 payload 65535 */
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, sizeof buf, &a, &b, 1, 1, F_A, 1, payload, 65495,
					   1),
			65535);
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, sizeof buf, &a, &b, 1, 1, F_A, 1, payload, 65496,
					   1),
			TAPE_ELIMIT);
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, sizeof buf, &a6, &b6, 1, 1, F_A, 1, payload,
					   65515, 1),
			65575);
	memset(&k, 0, sizeof k);
	CU_ASSERT_FATAL(parse(buf, 65575, DLT_RAW, &k) == 0);
	CU_ASSERT(k.tcp_ok && k.dlen == 65515 && !memcmp(k.data, payload, 65515));
	free(k.data);
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, sizeof buf, &a6, &b6, 1, 1, F_A, 1, payload,
					   65516, 1),
			TAPE_ELIMIT);
	/* rejects */
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, 59, &a, &b, 1, 1, F_A, 1, payload, 20, 1),
			TAPE_ELIMIT);
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, 60, &a, &b, 1, 1, F_A, 1, payload, 20, 1), 60);
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, sizeof buf, &a, &b6, 1, 1, F_A, 1, NULL, 0, 1),
			TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__build_ip_tcp_opt(buf, sizeof buf, &a, &b, 1, 1, F_A, 1, mss_opt, 3,
					       NULL, 0, 1),
			TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__build_ip_tcp_opt(buf, sizeof buf, &a, &b, 1, 1, F_A, 1, payload, 44,
					       NULL, 0, 1),
			TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, sizeof buf, &a, &b, 1, 1, F_A, 1, NULL, 5, 1),
			TAPE_EUSAGE);
	a.family = 5;
	b.family = 5;
	CU_ASSERT_EQUAL(tape__build_ip_tcp(buf, sizeof buf, &a, &b, 1, 1, F_A, 1, NULL, 0, 1),
			TAPE_EUSAGE);

	CU_ASSERT_EQUAL(tape__build_eth(buf, sizeof buf, tape__synth_mac[1], tape__synth_mac[0],
					TAPE__ETHERTYPE_IPV6),
			14);
	CU_ASSERT(!memcmp(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x86\xdd", 14));
	CU_ASSERT_EQUAL(tape__build_eth(buf, 13, tape__synth_mac[1], tape__synth_mac[0], 0x800),
			TAPE_ELIMIT);
}

/* A whole IPv4 conversation over Ethernet: handshake, request, a response
 * split at the default MSS, FIN both ways. */
static void test_synth_session_ipv4(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"; /* 27 bytes */
	uint8_t resp[3000];
	struct evlist l = {0};
	struct cap c, cu;
	const char *path = unit_tmpfile(".pcap");
	uint32_t isn[2];
	const struct exp e[] = {
		{TAPE_C2S, F_S, 0, 0, 0, 1000},
		{TAPE_S2C, F_S | F_A, 0, 1, 0, 2000},
		{TAPE_C2S, F_A, 1, 1, 0, 3000},
		{TAPE_C2S, F_A | F_P, 1, 1, 27, 5001},
		{TAPE_S2C, F_A, 1, 28, 0, 6001},
		{TAPE_S2C, F_A, 1, 28, 1460, 3000000},
		{TAPE_S2C, F_A, 1461, 28, 1460, 3001000},
		{TAPE_S2C, F_A | F_P, 2921, 28, 80, 3002000},
		{TAPE_C2S, F_A, 28, 3001, 0, 3003000},
		{TAPE_C2S, F_F | F_A, 28, 3001, 0, 4000000},
		{TAPE_S2C, F_A, 3001, 29, 0, 4001000},
		{TAPE_S2C, F_F | F_A, 3001, 29, 0, 5000000},
		{TAPE_C2S, F_A, 29, 3002, 0, 5001000},
	};

	fill(resp, sizeof resp, 2);
	add_open(&l, 1000, 1, unit_ep4(192, 0, 2, 1, 40000), unit_ep4(198, 51, 100, 2, 80), 0);
	add_data(&l, 5001, 1, TAPE_C2S, req, 27);
	add_data(&l, 3000000, 1, TAPE_S2C, resp, sizeof resp);
	add_dir(&l, TAPE_EV_FIN, 4000000, 1, TAPE_C2S);
	add_dir(&l, TAPE_EV_FIN, 5000000, 1, TAPE_S2C);
	add_close(&l, 5000000, 1, TAPE_CLOSE_FIN);
	add(&l, TAPE_EV_NOTE, 6000000, 0)->len = 0;
	CU_ASSERT_EQUAL_FATAL(play(path, &l, NULL, 0, 0), 0);

	readback(path, 1, &c);
	CU_ASSERT_EQUAL(c.dlt, DLT_EN10MB);
	check_all_valid(&c);
	check_exp(&c, e, sizeof e / sizeof e[0], 40000, isn);
	if (c.n == 13) {
		CU_ASSERT_EQUAL(c.p[0].mss, 1460);
		CU_ASSERT_EQUAL(c.p[1].mss, 1460);
		CU_ASSERT(!memcmp(c.p[3].data, req, 27));
		CU_ASSERT(!memcmp(c.p[5].data, resp, 1460));
		CU_ASSERT(!memcmp(c.p[6].data, resp + 1460, 1460));
		CU_ASSERT(!memcmp(c.p[7].data, resp + 2920, 80));
		CU_ASSERT(!memcmp(c.p[0].src, "\xc0\x00\x02\x01", 4));
		CU_ASSERT(!memcmp(c.p[0].dst, "\xc6\x33\x64\x02", 4));
		CU_ASSERT_EQUAL(c.p[0].dport, 80);
		/* IPv4 ids count per sender from 1 */
		CU_ASSERT_EQUAL(c.p[0].ip_id, 1);
		CU_ASSERT_EQUAL(c.p[2].ip_id, 2);
		CU_ASSERT_EQUAL(c.p[3].ip_id, 3);
		CU_ASSERT_EQUAL(c.p[12].ip_id, 6);
		CU_ASSERT_EQUAL(c.p[1].ip_id, 1);
		CU_ASSERT_EQUAL(c.p[11].ip_id, 7);
		CU_ASSERT_EQUAL(c.p[0].caplen, 14 + 20 + 24);
		CU_ASSERT_EQUAL(c.p[5].len, 14 + 20 + 20 + 1460);
	}
	/* the same file at microsecond precision: libpcap truncates */
	readback(path, 0, &cu);
	CU_ASSERT_EQUAL_FATAL(cu.n, c.n);
	for (size_t i = 0; i < c.n; i++)
		CU_ASSERT_EQUAL(cu.p[i].ts, c.p[i].ts / 1000u * 1000u);
	cap_free(&cu);
	cap_free(&c);
	free(l.ev);
}

/* IPv6 over raw IP, a small MSS, data both ways. */
static void test_synth_ipv6_raw_mss(void)
{
	uint8_t up[5001], down[999];
	struct evlist l = {0};
	struct tape__synth_opts o = {.mss = 1000, .linktype = TAPE__LINKTYPE_RAW};
	struct cap c;
	const char *path = unit_tmpfile(".pcap");
	const struct exp e[] = {
		{TAPE_C2S, F_S, 0, 0, 0, 10},
		{TAPE_S2C, F_S | F_A, 0, 1, 0, 1010},
		{TAPE_C2S, F_A, 1, 1, 0, 2010},
		{TAPE_C2S, F_A, 1, 1, 1000, 10020},
		{TAPE_C2S, F_A, 1001, 1, 1000, 11020},
		{TAPE_C2S, F_A, 2001, 1, 1000, 12020},
		{TAPE_C2S, F_A, 3001, 1, 1000, 13020},
		{TAPE_C2S, F_A, 4001, 1, 1000, 14020},
		{TAPE_C2S, F_A | F_P, 5001, 1, 1, 15020},
		{TAPE_S2C, F_A, 1, 5002, 0, 16020},
		{TAPE_S2C, F_A | F_P, 1, 5002, 999, 100000},
		{TAPE_C2S, F_A, 5002, 1000, 0, 101000},
		{TAPE_S2C, F_R | F_A, 1000, 5002, 0, 200000},
	};

	fill(up, sizeof up, 4);
	fill(down, sizeof down, 5);
	add_open(&l, 10, 1, unit_ep6(1, 50000), unit_ep6(2, 443), 0);
	add_data(&l, 10020, 1, TAPE_C2S, up, sizeof up);
	add_data(&l, 100000, 1, TAPE_S2C, down, sizeof down);
	add_dir(&l, TAPE_EV_RST, 200000, 1, TAPE_S2C);
	add_close(&l, 200000, 1, TAPE_CLOSE_RST);
	CU_ASSERT_EQUAL_FATAL(play(path, &l, &o, 0, 0), 0);
	readback(path, 1, &c);
	CU_ASSERT(c.dlt == DLT_RAW || c.dlt == 101);
	check_all_valid(&c);
	check_exp(&c, e, sizeof e / sizeof e[0], 50000, NULL);
	if (c.n == sizeof e / sizeof e[0]) {
		CU_ASSERT_EQUAL(c.p[0].family, 6);
		CU_ASSERT_EQUAL(c.p[0].mss, 1000);
		CU_ASSERT(!memcmp(c.p[0].src, unit_ep6(1, 0).addr, 16));
		CU_ASSERT(!memcmp(c.p[1].src, unit_ep6(2, 0).addr, 16));
		for (size_t i = 0; i < 6; i++)
			CU_ASSERT(!memcmp(c.p[3 + i].data, up + i * 1000, c.p[3 + i].dlen));
		CU_ASSERT(!memcmp(c.p[10].data, down, 999));
		CU_ASSERT_EQUAL(c.p[3].len, 40 + 20 + 1000);
	}
	cap_free(&c);
	free(l.ev);
}

/* GAP: the sequence number jumps, the peer's next ACK covers the hole; a
 * trailing hole is revealed by an ACK at CLOSE. */
static void test_synth_gap(void)
{
	uint8_t a[100], b[10];
	struct evlist l = {0};
	struct cap c;
	const char *path = unit_tmpfile(".pcap");
	const struct exp e[] = {
		{TAPE_C2S, F_S, 0, 0, 0, 0},
		{TAPE_S2C, F_S | F_A, 0, 1, 0, 1000},
		{TAPE_C2S, F_A, 1, 1, 0, 2000},
		{TAPE_C2S, F_A | F_P, 1, 1, 100, 10000},
		{TAPE_S2C, F_A, 1, 101, 0, 11000},
		/* 500 bytes missing */
		{TAPE_C2S, F_A | F_P, 601, 1, 100, 30000},
		{TAPE_S2C, F_A, 1, 701, 0, 31000},
		/* a hole then data from the server: its ACK already covers c2s */
		{TAPE_S2C, F_A | F_P, 1, 1201, 10, 50000},
		{TAPE_C2S, F_A, 1201, 11, 0, 51000},
		/* trailing s2c hole of 20: acked at CLOSE */
		{TAPE_C2S, F_A, 1201, 31, 0, 70000},
	};

	fill(a, sizeof a, 6);
	fill(b, sizeof b, 7);
	add_open(&l, 0, 5, unit_ep4(10, 0, 0, 1, 1234), unit_ep4(10, 0, 0, 2, 5678), 0);
	add_data(&l, 10000, 5, TAPE_C2S, a, sizeof a);
	add_gap(&l, 20000, 5, TAPE_C2S, 500);
	add_data(&l, 30000, 5, TAPE_C2S, a, sizeof a);
	add_gap(&l, 40000, 5, TAPE_C2S, 500);
	add_data(&l, 50000, 5, TAPE_S2C, b, sizeof b);
	add_gap(&l, 60000, 5, TAPE_S2C, 20);
	add_close(&l, 70000, 5, TAPE_CLOSE_END);
	CU_ASSERT_EQUAL_FATAL(play(path, &l, NULL, 0, 0), 0);
	readback(path, 1, &c);
	check_all_valid(&c);
	check_exp(&c, e, sizeof e / sizeof e[0], 1234, NULL);
	cap_free(&c);
	free(l.ev);
}

/* A midstream OPEN emits nothing: the first packet is data, mid-sequence. */
static void test_synth_midstream(void)
{
	uint8_t a[10], b[5];
	struct evlist l = {0};
	struct cap c;
	const char *path = unit_tmpfile(".pcap");
	const struct exp e[] = {
		{TAPE_S2C, F_A | F_P, 0, 0, 10, 1000},
		{TAPE_C2S, F_A, 0, 10, 0, 2000},
		{TAPE_C2S, F_A | F_P, 0, 10, 5, 3000},
		{TAPE_S2C, F_A, 10, 5, 0, 4000},
		{TAPE_C2S, F_F | F_A, 5, 10, 0, 5000},
		{TAPE_S2C, F_A, 10, 6, 0, 6000},
	};

	fill(a, sizeof a, 8);
	fill(b, sizeof b, 9);
	add_open(&l, 0, 3, unit_ep4(10, 0, 0, 1, 1111), unit_ep4(10, 0, 0, 2, 2222),
		 TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED);
	add_data(&l, 1000, 3, TAPE_S2C, a, sizeof a);
	add_data(&l, 3000, 3, TAPE_C2S, b, sizeof b);
	add_dir(&l, TAPE_EV_FIN, 5000, 3, TAPE_C2S);
	add_close(&l, 9000, 3, TAPE_CLOSE_TIMEOUT);
	CU_ASSERT_EQUAL_FATAL(play(path, &l, NULL, 0, 0), 0);
	readback(path, 1, &c);
	check_all_valid(&c);
	for (size_t i = 0; i < c.n; i++)
		CU_ASSERT(!(c.p[i].flags & F_S));
	check_exp(&c, e, sizeof e / sizeof e[0], 1111, NULL);
	cap_free(&c);
	free(l.ev);
}

/* CLOSE adds the FINs or RST a tape did not carry as events (formats such
 * as ts_proxy drop them), and nothing for the other reasons. */
static void test_synth_close_reasons(void)
{
	struct evlist l = {0};
	struct cap c;
	const char *path = unit_tmpfile(".pcap");
	static const enum tape_close_reason quiet[] = {TAPE_CLOSE_TIMEOUT, TAPE_CLOSE_END,
						       TAPE_CLOSE_EVICTED, TAPE_CLOSE_ERROR,
						       TAPE_CLOSE_ABORTED};
	size_t want = 0;

	/* conn 1: reason fin, no FIN events */
	add_open(&l, 0, 1, unit_ep4(10, 0, 0, 1, 1001), unit_ep4(10, 0, 0, 2, 80), 0);
	add_close(&l, 1000000, 1, TAPE_CLOSE_FIN);
	want += 3 + 4;
	/* conn 2: server FIN only, then reason fin: the client's FIN follows */
	add_open(&l, 2000000, 2, unit_ep4(10, 0, 0, 1, 1002), unit_ep4(10, 0, 0, 2, 80), 0);
	add_dir(&l, TAPE_EV_FIN, 2100000, 2, TAPE_S2C);
	add_close(&l, 2200000, 2, TAPE_CLOSE_FIN);
	want += 3 + 2 + 2;
	/* conn 3: reason rst without RST: the client resets */
	add_open(&l, 3000000, 3, unit_ep4(10, 0, 0, 1, 1003), unit_ep4(10, 0, 0, 2, 80), 0);
	add_close(&l, 3100000, 3, TAPE_CLOSE_RST);
	want += 3 + 1;
	/* conn 4: an RST event, then reason fin: nothing more */
	add_open(&l, 4000000, 4, unit_ep4(10, 0, 0, 1, 1004), unit_ep4(10, 0, 0, 2, 80), 0);
	add_dir(&l, TAPE_EV_RST, 4100000, 4, TAPE_C2S);
	add_close(&l, 4200000, 4, TAPE_CLOSE_FIN);
	want += 3 + 1;
	/* conns 5..9: quiet reasons */
	for (uint64_t i = 0; i < 5; i++) {
		add_open(&l, 5000000 + i * 1000, 5 + i, unit_ep4(10, 0, 0, 1, (uint16_t)(1005 + i)),
			 unit_ep4(10, 0, 0, 2, 80), 0);
		add_close(&l, 5000500 + i * 1000, 5 + i, quiet[i]);
		want += 3;
	}
	CU_ASSERT_EQUAL_FATAL(play(path, &l, NULL, 0, 0), 0);
	readback(path, 1, &c);
	check_all_valid(&c);
	CU_ASSERT_EQUAL_FATAL(c.n, want);
	{
		const struct exp e1[] = {
			{TAPE_C2S, F_S, 0, 0, 0, 0},
			{TAPE_S2C, F_S | F_A, 0, 1, 0, 1000},
			{TAPE_C2S, F_A, 1, 1, 0, 2000},
			{TAPE_C2S, F_F | F_A, 1, 1, 0, 1000000},
			{TAPE_S2C, F_A, 1, 2, 0, 1001000},
			{TAPE_S2C, F_F | F_A, 1, 2, 0, 1002000},
			{TAPE_C2S, F_A, 2, 2, 0, 1003000},
		};
		const struct exp e2[] = {
			{TAPE_C2S, F_S, 0, 0, 0, 2000000},
			{TAPE_S2C, F_S | F_A, 0, 1, 0, 2001000},
			{TAPE_C2S, F_A, 1, 1, 0, 2002000},
			{TAPE_S2C, F_F | F_A, 1, 1, 0, 2100000},
			{TAPE_C2S, F_A, 1, 2, 0, 2101000},
			{TAPE_C2S, F_F | F_A, 1, 2, 0, 2200000},
			{TAPE_S2C, F_A, 2, 2, 0, 2201000},
		};
		const struct exp e3[] = {
			{TAPE_C2S, F_S, 0, 0, 0, 3000000},
			{TAPE_S2C, F_S | F_A, 0, 1, 0, 3001000},
			{TAPE_C2S, F_A, 1, 1, 0, 3002000},
			{TAPE_C2S, F_R | F_A, 1, 1, 0, 3100000},
		};
		const struct exp e4[] = {
			{TAPE_C2S, F_S, 0, 0, 0, 4000000},
			{TAPE_S2C, F_S | F_A, 0, 1, 0, 4001000},
			{TAPE_C2S, F_A, 1, 1, 0, 4002000},
			{TAPE_C2S, F_R | F_A, 1, 1, 0, 4100000},
		};
		struct cap part = c;
		part.n = 7;
		check_exp(&part, e1, 7, 1001, NULL);
		part.p += 7;
		check_exp(&part, e2, 7, 1002, NULL);
		part.p += 7;
		part.n = 4;
		check_exp(&part, e3, 4, 1003, NULL);
		part.p += 4;
		check_exp(&part, e4, 4, 1004, NULL);
		part.p += 4;
		for (size_t i = 0; i < 15; i++) /* handshakes only */
			CU_ASSERT_EQUAL(part.p[i].dlen + (part.p[i].flags & (F_F | F_R)), 0);
	}
	cap_free(&c);
	free(l.ev);
}

/* A burst bigger than the window: the receiver ACKs before the sender
 * would exceed 65535 unacknowledged bytes. */
static void test_synth_window(void)
{
	static uint8_t big[200000];
	struct evlist l = {0};
	struct cap c;
	const char *path = unit_tmpfile(".pcap");
	uint32_t isn_c = 0, acked = 0, nxt = 0;
	size_t got = 0, acks = 0;
	int ok = 1;

	fill(big, sizeof big, 10);
	add_open(&l, 0, 1, unit_ep4(10, 1, 1, 1, 4000), unit_ep4(10, 1, 1, 2, 80), 0);
	add_data(&l, 1000000, 1, TAPE_C2S, big, sizeof big);
	add_close(&l, 2000000, 1, TAPE_CLOSE_END);
	CU_ASSERT_EQUAL_FATAL(play(path, &l, NULL, 0, 0), 0);
	readback(path, 1, &c);
	check_all_valid(&c);
	CU_ASSERT_FATAL(c.n > 3);
	isn_c = c.p[0].seq;
	acked = nxt = isn_c + 1;
	for (size_t i = 3; i < c.n; i++) {
		const struct pk *k = &c.p[i];
		if (k->dir == TAPE_S2C) {
			CU_ASSERT_EQUAL(k->ack, nxt);
			acked = k->ack;
			acks++;
			continue;
		}
		ok &= k->seq == nxt;
		ok &= k->dlen <= 1460;
		ok &= (size_t)(k->seq - isn_c - 1) + k->dlen <= sizeof big &&
		      !memcmp(k->data, big + (k->seq - isn_c - 1), k->dlen);
		nxt += (uint32_t)k->dlen;
		ok &= nxt - acked <= 65535u;
		ok &= !!(k->flags & F_P) == (got + k->dlen == sizeof big);
		got += k->dlen;
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(got, sizeof big);
	CU_ASSERT_EQUAL(acks, 4); /* 3 inside the burst (every 44 segments) + 1 after */
	CU_ASSERT_EQUAL(c.p[c.n - 1].dir, TAPE_S2C);
	CU_ASSERT_EQUAL(c.p[c.n - 1].ack, isn_c + 1 + sizeof big);
	/* one event: 1 us apart */
	CU_ASSERT_EQUAL(c.p[3].ts, START_NS + 1000000);
	CU_ASSERT_EQUAL(c.p[c.n - 1].ts, START_NS + 1000000 + (c.n - 4) * 1000u);
	cap_free(&c);
	free(l.ev);
}

/* Timestamps never go backwards: an event that starts before the previous
 * event's packets ended follows them. */
static void test_synth_timestamps(void)
{
	static uint8_t d[14600];
	struct evlist l = {0};
	struct cap c;
	const char *path = unit_tmpfile(".pcapng");

	add_open(&l, 0, 1, unit_ep4(10, 1, 1, 1, 4000), unit_ep4(10, 1, 1, 2, 80), TAPE_OPEN_MIDSTREAM);
	add_open(&l, 0, 2, unit_ep4(10, 1, 1, 1, 4001), unit_ep4(10, 1, 1, 2, 80), TAPE_OPEN_MIDSTREAM);
	add_data(&l, 7, 1, TAPE_C2S, d, sizeof d); /* 10 segments + ACK: +7 ns .. +10.007 us */
	add_data(&l, 3000, 2, TAPE_C2S, d, 1);     /* clamped to +10.007 us, then +11.007 */
	add_data(&l, 999999999, 2, TAPE_S2C, d, 1);
	CU_ASSERT_EQUAL_FATAL(play(path, &l, NULL, 1, 0), 0);
	readback(path, 1, &c);
	check_all_valid(&c);
	CU_ASSERT_EQUAL_FATAL(c.n, 15);
	for (size_t i = 0; i < 11; i++)
		CU_ASSERT_EQUAL(c.p[i].ts, START_NS + 7 + i * 1000);
	CU_ASSERT_EQUAL(c.p[11].ts, START_NS + 10007);
	CU_ASSERT_EQUAL(c.p[12].ts, START_NS + 11007);
	CU_ASSERT_EQUAL(c.p[13].ts, START_NS + 999999999);
	CU_ASSERT_EQUAL(c.p[14].ts, START_NS + 1000000999);
	cap_free(&c);
	free(l.ev);
}

/* The same tape gives the same bytes; other connection ids, other ISNs. */
static void test_synth_deterministic(void)
{
	uint8_t d[3000];
	struct evlist l = {0};
	const char *p1, *p2;
	char path1[512];
	uint8_t *b1, *b2;
	size_t n1, n2;
	struct cap c;
	uint32_t isn[6];

	fill(d, sizeof d, 11);
	for (uint64_t id = 1; id <= 3; id++) {
		add_open(&l, id * 1000000, id, unit_ep4(10, 0, 0, 1, (uint16_t)(100 + id)),
			 unit_ep4(10, 0, 0, 2, 80), 0);
		add_data(&l, id * 1000000 + 50000, id, TAPE_C2S, d, sizeof d);
	}
	p1 = unit_tmpfile(".pcap");
	snprintf(path1, sizeof path1, "%s", p1);
	p2 = unit_tmpfile(".pcap");
	CU_ASSERT_EQUAL_FATAL(play(path1, &l, NULL, 0, 0), 0);
	CU_ASSERT_EQUAL_FATAL(play(p2, &l, NULL, 0, 0), 0);
	b1 = unit_read_file(path1, &n1);
	b2 = unit_read_file(p2, &n2);
	CU_ASSERT_FATAL(b1 && b2);
	CU_ASSERT(n1 == n2 && !memcmp(b1, b2, n1));
	free(b1);
	free(b2);
	readback(path1, 1, &c);
	CU_ASSERT_EQUAL_FATAL(c.n, 3 * 7); /* handshake, 3 segments, ACK */
	for (size_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(c.p[i * 7].flags, F_S);
		isn[2 * i] = c.p[i * 7].seq;
		isn[2 * i + 1] = c.p[i * 7 + 1].seq;
	}
	for (size_t i = 0; i < 6; i++)
		for (size_t j = i + 1; j < 6; j++)
			CU_ASSERT_NOT_EQUAL(isn[i], isn[j]);
	cap_free(&c);
	free(l.ev);
}

/* The pcap file header, byte for byte, and snaplen cutting. */
static void test_synth_pcap_header(void)
{
	const char *path = unit_tmpfile(".pcap");
	struct tape__out o;
	struct tape__pcapout *po;
	uint8_t frame[300], *b;
	uint32_t v32;
	uint16_t v16;
	size_t n;
	struct cap c;
	int fd;

	fill(frame, sizeof frame, 12);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(tape__out_init(&o, fd, 1) == 0);
	CU_ASSERT_FATAL(tape__pcapout_open(&po, &o, 0, 1, 100) == 0);
	CU_ASSERT_EQUAL(tape__pcapout_frame(po, UINT64_C(4294967295999999999), frame, 300), 0);
	CU_ASSERT_EQUAL(tape__pcapout_frame(po, UINT64_C(4294967296000000000), frame, 300),
			TAPE_EUNSUP);
	CU_ASSERT(strstr(tape__pcapout_error(po), "2106") != NULL);
	CU_ASSERT_EQUAL(tape__pcapout_frame(po, 5, frame, 0), 0);
	CU_ASSERT_EQUAL(tape__out_flush(&o), 0);
	tape__pcapout_free(po);
	tape__out_cleanup(&o);

	b = unit_read_file(path, &n);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_EQUAL_FATAL(n, 24 + 16 + 100 + 16);
	memcpy(&v32, b, 4);
	CU_ASSERT_EQUAL(v32, 0xa1b23c4du); /* host order, as libpcap writes */
	memcpy(&v16, b + 4, 2);
	CU_ASSERT_EQUAL(v16, 2);
	memcpy(&v16, b + 6, 2);
	CU_ASSERT_EQUAL(v16, 4);
	memcpy(&v32, b + 16, 4);
	CU_ASSERT_EQUAL(v32, 100);
	memcpy(&v32, b + 20, 4);
	CU_ASSERT_EQUAL(v32, 1);
	memcpy(&v32, b + 24, 4);
	CU_ASSERT_EQUAL(v32, 4294967295u);
	memcpy(&v32, b + 28, 4);
	CU_ASSERT_EQUAL(v32, 999999999u);
	memcpy(&v32, b + 32, 4);
	CU_ASSERT_EQUAL(v32, 100);
	memcpy(&v32, b + 36, 4);
	CU_ASSERT_EQUAL(v32, 300);
	CU_ASSERT(!memcmp(b + 40, frame, 100));
	free(b);

	readback_any(path, 1, 0, &c);
	CU_ASSERT_EQUAL_FATAL(c.n, 2);
	CU_ASSERT_EQUAL(c.p[0].caplen, 100);
	CU_ASSERT_EQUAL(c.p[0].len, 300);
	CU_ASSERT_EQUAL(c.p[1].caplen, 0);
	cap_free(&c);

	/* defaults and rejects */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(tape__out_init(&o, fd, 1) == 0);
	CU_ASSERT_EQUAL(tape__pcapout_open(&po, &o, 0, 1, TAPE__PCAP_SNAPLEN + 1), TAPE_EUSAGE);
	CU_ASSERT_PTR_NULL(po);
	CU_ASSERT_EQUAL(tape__pcapout_open(&po, &o, 0, -1, 0), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__pcapout_open(&po, &o, 0, 0x10000, 0), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__pcapout_open(&po, &o, 2, 1, 0), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__pcapout_open(&po, &o, 0, 101, 0), 0);
	CU_ASSERT_EQUAL(tape__out_flush(&o), 0);
	tape__pcapout_free(po);
	tape__pcapout_free(NULL);
	tape__out_cleanup(&o);
	b = unit_read_file(path, &n);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_EQUAL(n, 24);
	memcpy(&v32, b + 16, 4);
	CU_ASSERT_EQUAL(v32, 262144u);
	memcpy(&v32, b + 20, 4);
	CU_ASSERT_EQUAL(v32, 101u);
	free(b);
}

/* pcapng: block structure walked by hand, content read back by libpcap and
 * equal to the pcap of the same tape. */
static void test_synth_pcapng(void)
{
	uint8_t d[4000];
	struct evlist l = {0};
	char ppath[512];
	const char *ngpath;
	struct cap c, cn;
	uint8_t *b;
	size_t n, off = 0, epbs = 0;
	uint32_t v32;
	int tsresol = -1;

	fill(d, sizeof d, 13);
	add_open(&l, 0, 1, unit_ep6(1, 999), unit_ep6(2, 80), 0);
	add_data(&l, 10001, 1, TAPE_C2S, d, 1); /* padding of 3 bytes, 1, 2 ... */
	add_data(&l, 20002, 1, TAPE_S2C, d, 3);
	add_data(&l, 30003, 1, TAPE_S2C, d, 2);
	add_data(&l, 40004, 1, TAPE_C2S, d, 4000);
	add_dir(&l, TAPE_EV_FIN, 50005, 1, TAPE_S2C);
	add_dir(&l, TAPE_EV_RST, UINT64_C(86400000000000), 1, TAPE_C2S);
	add_close(&l, UINT64_C(86400000000000), 1, TAPE_CLOSE_RST);
	snprintf(ppath, sizeof ppath, "%s", unit_tmpfile(".pcap"));
	ngpath = unit_tmpfile(".pcapng");
	CU_ASSERT_EQUAL_FATAL(play(ppath, &l, NULL, 0, 0), 0);
	CU_ASSERT_EQUAL_FATAL(play(ngpath, &l, NULL, 1, 0), 0);

	b = unit_read_file(ngpath, &n);
	CU_ASSERT_FATAL(b != NULL);
	while (off + 12 <= n) {
		uint32_t type, len, len2;
		memcpy(&type, b + off, 4);
		memcpy(&len, b + off + 4, 4);
		CU_ASSERT_FATAL(len >= 12 && len % 4 == 0 && off + len <= n);
		memcpy(&len2, b + off + len - 4, 4);
		CU_ASSERT_EQUAL(len, len2);
		if (off == 0) {
			CU_ASSERT_EQUAL(type, 0x0A0D0D0Au);
			memcpy(&v32, b + 8, 4);
			CU_ASSERT_EQUAL(v32, 0x1A2B3C4Du);
			CU_ASSERT(!memcmp(b + 16, "\xff\xff\xff\xff\xff\xff\xff\xff", 8));
		} else if (type == 1) {
			uint16_t lt, code, olen;
			memcpy(&lt, b + off + 8, 2);
			CU_ASSERT_EQUAL(lt, 1);
			memcpy(&v32, b + off + 12, 4);
			CU_ASSERT_EQUAL(v32, 262144u);
			for (size_t o = off + 16; o + 4 <= off + len - 4;) {
				memcpy(&code, b + o, 2);
				memcpy(&olen, b + o + 2, 2);
				if (code == 0)
					break;
				if (code == 9 && olen == 1)
					tsresol = b[o + 4];
				o += 4 + ((olen + 3u) & ~3u);
			}
		} else {
			uint32_t caplen;
			CU_ASSERT_EQUAL(type, 6);
			memcpy(&caplen, b + off + 20, 4);
			CU_ASSERT_EQUAL(len, 32 + ((caplen + 3u) & ~3u));
			for (uint32_t i = caplen; i % 4; i++)
				CU_ASSERT_EQUAL(b[off + 28 + i], 0);
			epbs++;
		}
		off += len;
	}
	CU_ASSERT_EQUAL(off, n);
	CU_ASSERT_EQUAL(tsresol, 9);
	free(b);

	readback(ppath, 1, &c);
	readback(ngpath, 1, &cn);
	CU_ASSERT_EQUAL(epbs, c.n);
	CU_ASSERT_EQUAL_FATAL(cn.n, c.n);
	CU_ASSERT_EQUAL(cn.dlt, DLT_EN10MB);
	check_all_valid(&cn);
	for (size_t i = 0; i < c.n; i++) {
		CU_ASSERT_EQUAL(cn.p[i].ts, c.p[i].ts);
		CU_ASSERT_EQUAL(cn.p[i].len, c.p[i].len);
		CU_ASSERT_EQUAL(cn.p[i].seq, c.p[i].seq);
		CU_ASSERT(cn.p[i].dlen == c.p[i].dlen &&
			  !memcmp(cn.p[i].data, c.p[i].data, c.p[i].dlen));
	}
	CU_ASSERT_EQUAL(cn.p[cn.n - 1].ts, START_NS + UINT64_C(86400000000000));
	CU_ASSERT_EQUAL(cn.p[cn.n - 1].flags, F_R | F_A);
	cap_free(&c);
	cap_free(&cn);
	free(l.ev);
}

/* The largest MSS fills an IPv4 datagram to 65535 bytes; libpcap reads the
 * frames whole. */
static void test_synth_max_mss(void)
{
	static uint8_t d[70000];
	struct evlist l = {0};
	struct tape__synth_opts o = {.mss = TAPE__SYNTH_MAX_MSS};
	struct cap c;
	const char *path = unit_tmpfile(".pcap");

	fill(d, sizeof d, 14);
	add_open(&l, 0, 1, unit_ep4(10, 1, 1, 1, 4000), unit_ep4(10, 1, 1, 2, 80), 0);
	add_data(&l, 1000, 1, TAPE_C2S, d, sizeof d);
	CU_ASSERT_EQUAL_FATAL(play(path, &l, &o, 0, 0), 0);
	readback(path, 1, &c);
	check_all_valid(&c);
	/* handshake, 65495 bytes, ACK (window), 4505 bytes, ACK */
	CU_ASSERT_EQUAL_FATAL(c.n, 7);
	CU_ASSERT_EQUAL(c.p[0].mss, 65495);
	CU_ASSERT_EQUAL(c.p[3].len, 14 + 65535);
	CU_ASSERT(c.p[3].dlen == 65495 && !memcmp(c.p[3].data, d, 65495));
	CU_ASSERT_EQUAL(c.p[4].dir, TAPE_S2C);
	CU_ASSERT(c.p[5].dlen == 4505 && !memcmp(c.p[5].data, d + 65495, 4505));
	cap_free(&c);
	free(l.ev);
}

/* Thousands of interleaved connections: the map grows, deletes and still
 * finds every connection with its own sequence state. */
static void test_synth_many_conns(void)
{
	enum { N = 3000 };
	static uint32_t isn_c[N], isn_s[N];
	static int seen[N];
	uint8_t d[64];
	struct evlist l = {0};
	struct cap c;
	const char *path = unit_tmpfile(".pcap");
	uint64_t t = 0;
	size_t fins = 0;
	int ok = 1;

	fill(d, sizeof d, 15);
	for (unsigned i = 0; i < N; i++)
		add_open(&l, t++, i + 1, unit_ep4(10, 9, (uint8_t)(i >> 8), (uint8_t)i, 7000),
			 unit_ep4(10, 8, 0, 1, 80), 0);
	for (unsigned k = 0; k < N; k++) {
		unsigned i = (k * 7919u) % N;
		add_data(&l, t++, i + 1, TAPE_C2S, d, 1 + i % 64);
	}
	/* closes in another order; odd ones by FIN, which needs lookups
	 * after deletions */
	for (unsigned k = 0; k < N; k++) {
		unsigned i = (k * 104729u + 17u) % N;
		add_close(&l, t++, i + 1, (i & 1) ? TAPE_CLOSE_FIN : TAPE_CLOSE_END);
	}
	CU_ASSERT_EQUAL_FATAL(play(path, &l, NULL, 0, 0), 0);
	readback(path, 1, &c);
	CU_ASSERT_EQUAL_FATAL(c.n, (size_t)N * 5 + (size_t)(N / 2) * 4);
	for (size_t x = 0; x < c.n; x++) {
		const struct pk *k = &c.p[x];
		int cli = k->dir == TAPE_C2S;
		const uint8_t *a = cli ? k->src : k->dst;
		unsigned i = (unsigned)a[2] << 8 | a[3];
		if (i >= N || !k->tcp_ok || !k->ip_ok) {
			ok = 0;
			continue;
		}
		if (k->flags == F_S) {
			isn_c[i] = k->seq;
			seen[i] = 1;
		} else if (k->flags == (F_S | F_A)) {
			isn_s[i] = k->seq;
			ok &= k->ack == isn_c[i] + 1;
		} else if (k->dlen) {
			ok &= cli && k->seq == isn_c[i] + 1 && k->ack == isn_s[i] + 1;
			ok &= k->dlen == 1 + i % 64;
		} else if (k->flags & F_F) {
			uint32_t dl = 1 + i % 64;
			ok &= i & 1;
			ok &= cli ? k->seq == isn_c[i] + 1 + dl : k->seq == isn_s[i] + 1;
			fins++;
		}
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(fins, N);
	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_EQUAL(seen[i], 1);
	cap_free(&c);
	free(l.ev);
}

static int fail_frame(void *ctx, uint64_t ts_ns, const uint8_t *frame, size_t len)
{
	int *calls = ctx;

	(void)ts_ns;
	(void)frame;
	(void)len;
	return ++*calls == 2 ? -EIO : 0;
}

static int count_frame(void *ctx, uint64_t ts_ns, const uint8_t *frame, size_t len)
{
	(void)ts_ns;
	(void)frame;
	(void)len;
	++*(int *)ctx;
	return 0;
}

/* What the synthesiser refuses, with a message that names the connection. */
static void test_synth_errors(void)
{
	struct tape__synth *s;
	struct tape__synth_opts o = {0};
	struct evlist l = {0};
	int calls = 0;

	o.mss = TAPE__SYNTH_MAX_MSS + 1;
	CU_ASSERT_EQUAL(tape__synth_new(&s, &o, count_frame, &calls), TAPE_EUSAGE);
	CU_ASSERT_PTR_NULL(s);
	o.mss = 0;
	o.linktype = 113;
	CU_ASSERT_EQUAL(tape__synth_new(&s, &o, count_frame, &calls), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__synth_new(&s, NULL, NULL, NULL), TAPE_EUSAGE);
	tape__synth_free(NULL);

	CU_ASSERT_FATAL(tape__synth_new(&s, NULL, count_frame, &calls) == 0);
	add_data(&l, 0, 9, TAPE_C2S, "x", 1);                              /* 0 */
	add_open(&l, 0, 1, unit_ep4(10, 0, 0, 1, 1), unit_ep4(10, 0, 0, 2, 2), 0);   /* 1 */
	add_open(&l, 0, 1, unit_ep4(10, 0, 0, 1, 1), unit_ep4(10, 0, 0, 2, 2), 0);   /* 2 */
	add_open(&l, 0, 2, unit_ep4(10, 0, 0, 1, 1), unit_ep6(2, 2), 0);             /* 3 */
	add_gap(&l, 0, 1, TAPE_C2S, UINT64_C(0x80000000));                 /* 4 */
	add_gap(&l, 0, 1, TAPE_C2S, UINT64_C(0x7fffffff));                 /* 5 */
	add_gap(&l, 0, 1, TAPE_C2S, 1);                                    /* 6 */
	add_data(&l, 0, 1, TAPE_C2S, "x", 1);                              /* 7 */
	add_gap(&l, 0, 1, TAPE_C2S, 1);                                    /* 8 */
	add_dir(&l, TAPE_EV_FIN, 0, 1, (enum tape_dir)2);                  /* 9 */
	add_close(&l, 0, 1, TAPE_CLOSE_END);                               /* 10 */
	add_close(&l, 0, 1, TAPE_CLOSE_END);                               /* 11 */
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[0]), TAPE_ESEQ);
	CU_ASSERT(strstr(tape__synth_error(s), "conn 9") != NULL);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[1]), 0);
	CU_ASSERT_STRING_EQUAL(tape__synth_error(s), "");
	CU_ASSERT_EQUAL(calls, 3);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[2]), TAPE_ESEQ);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[3]), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[4]), TAPE_EUNSUP);
	CU_ASSERT(strstr(tape__synth_error(s), "conn 1") != NULL);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[5]), 0);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[6]), TAPE_EUNSUP); /* holes add up */
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[7]), 0);             /* a segment resets */
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[8]), 0);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[9]), TAPE_EFORMAT);
	l.ev[10].time_ns = 5;
	CU_ASSERT_EQUAL(tape__synth_event(s, UINT64_MAX - 4, &l.ev[10]), TAPE_EUSAGE);
	l.ev[10].time_ns = 0;
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[10]), 0);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[11]), TAPE_ESEQ);
	tape__synth_free(s);

	/* a frame callback's error stops the event and comes back */
	calls = 0;
	CU_ASSERT_FATAL(tape__synth_new(&s, NULL, fail_frame, &calls) == 0);
	CU_ASSERT_EQUAL(tape__synth_event(s, 0, &l.ev[1]), -EIO);
	CU_ASSERT_EQUAL(calls, 2);
	tape__synth_free(s);
	free(l.ev);
}

static const struct unit_test tests[] = {
	{"test_synth_inet_csum", test_synth_inet_csum},
	{"test_synth_build_headers", test_synth_build_headers},
	{"test_synth_session_ipv4", test_synth_session_ipv4},
	{"test_synth_ipv6_raw_mss", test_synth_ipv6_raw_mss},
	{"test_synth_gap", test_synth_gap},
	{"test_synth_midstream", test_synth_midstream},
	{"test_synth_close_reasons", test_synth_close_reasons},
	{"test_synth_window", test_synth_window},
	{"test_synth_timestamps", test_synth_timestamps},
	{"test_synth_deterministic", test_synth_deterministic},
	{"test_synth_pcap_header", test_synth_pcap_header},
	{"test_synth_pcapng", test_synth_pcapng},
	{"test_synth_max_mss", test_synth_max_mss},
	{"test_synth_many_conns", test_synth_many_conns},
	{"test_synth_errors", test_synth_errors},
	{NULL, NULL},
};

void test_synth_register(void)
{
	unit_add_suite("synth", tests);
}
