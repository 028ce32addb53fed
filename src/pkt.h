/* SPDX-License-Identifier: BSD-2-Clause */
/* pkt.h - internal interfaces between packet decoding, TCP reassembly and packet synthesis. */
#ifndef TAPE_PKT_H
#define TAPE_PKT_H

#include <stdint.h>
#include <stddef.h>

#include "tapedeck.h"

/* TCP header flags (RFC 9293 section 3.1). */
#define TAPE__TH_FIN 0x01u
#define TAPE__TH_SYN 0x02u
#define TAPE__TH_RST 0x04u
#define TAPE__TH_PSH 0x08u
#define TAPE__TH_ACK 0x10u
#define TAPE__TH_URG 0x20u

/* Caps for decoding and reassembly (defaults; options may lower them). */
#define TAPE__FRAG_MAX_DATAGRAMS 1024u        /* IPv4 datagrams being reassembled */
#define TAPE__FRAG_MAX_BYTES (64u << 20)     /* bytes held in fragments, all datagrams */
#define TAPE__FRAG_TIMEOUT_NS (UINT64_C(30) * 1000000000u) /* RFC 791 suggests 15 s+ */
#define TAPE__REASM_CONN_MEM (8u << 20)      /* out-of-order bytes per connection */
#define TAPE__REASM_TOTAL_MEM (512u << 20)   /* out-of-order bytes, all connections */
#define TAPE__REASM_MAX_CONNS 1000000u       /* connections tracked at once */
#define TAPE__REASM_IDLE_NS (UINT64_C(600) * 1000000000u) /* idle timeout */
#define TAPE__REASM_HISTORY (64u << 10)    /* delivered bytes kept per direction to check retransmissions */
#define TAPE__REASM_TIMEWAIT_NS (UINT64_C(240) * 1000000000u) /* closed tuples remembered: 2 MSL (RFC 9293) */

/* ---------------------------------------------------------------------------
 * decode.c: one captured frame -> at most one TCP segment.
 * ------------------------------------------------------------------------- */

/* A TCP segment as captured.  payload points into the caller's packet
 * buffer or the decoder's fragment buffer: valid until the next
 * tape__decode() call. */
struct tape__seg {
	uint64_t ts_ns; /* capture time, ns since the epoch */
	struct tape_endpoint src, dst;
	uint32_t seq, ack;
	uint8_t flags; /* TAPE__TH_* */
	uint16_t win;
	const uint8_t *payload;
	uint32_t len;      /* payload bytes captured */
	uint32_t wire_len; /* payload bytes on the wire (> len: snaplen cut it) */
};

struct tape__decode_stats {
	uint64_t packets, bytes;   /* frames seen, their wire bytes */
	uint64_t tcp;              /* TCP segments produced */
	uint64_t non_tcp;          /* valid frames that carry no TCP (ARP, UDP, ...) */
	uint64_t truncated;        /* frames cut by the snaplen */
	uint64_t malformed;        /* impossible headers, bad lengths */
	uint64_t fragments;        /* IPv4/IPv6 fragments seen */
	uint64_t reassembled;      /* datagrams rebuilt from fragments */
	uint64_t frag_dropped;     /* fragments given up (timeout, caps, overlap conflicts) */
	uint64_t ip_len_zero;      /* IPv4 Total Length 0 (segmentation offload): frame length used */
};

struct tape__decoder;

/* linktype is a pcap LINKTYPE_* / DLT_* value; TAPE_EUNSUP when not one of
 * Ethernet, Linux SLL, SLL2, BSD NULL/LOOP, raw IP (v4/v6). */
int tape__decoder_new(struct tape__decoder **out, int linktype);
void tape__decoder_free(struct tape__decoder *d);
/* Decodes one frame.  Returns 1 with *seg filled, 0 when the frame yields
 * no segment (not TCP, malformed, a fragment still incomplete: counted in
 * the stats), or -ENOMEM. */
int tape__decode(struct tape__decoder *d, uint64_t ts_ns, const uint8_t *pkt, uint32_t caplen,
		 uint32_t wirelen, struct tape__seg *seg);
const struct tape__decode_stats *tape__decoder_stats(const struct tape__decoder *d);

/* ---------------------------------------------------------------------------
 * frag.c: IPv4 (RFC 791) and IPv6 (RFC 8200) fragment reassembly for
 * decode.c (doc/design/decode.md).
 * ------------------------------------------------------------------------- */

/* Fragment caps; 0 in a field selects the TAPE__FRAG_* default. */
struct tape__frag_opts {
	size_t max_datagrams; /* 0: TAPE__FRAG_MAX_DATAGRAMS */
	size_t max_bytes;     /* 0: TAPE__FRAG_MAX_BYTES */
	uint64_t timeout_ns;  /* 0: TAPE__FRAG_TIMEOUT_NS */
};

/* Replaces the decoder's fragment caps (the default is all zeros).  Meant
 * to be called before the first frame: datagrams being reassembled are
 * given up and counted in frag_dropped.  0 or -ENOMEM. */
int tape__decoder_frag_opts(struct tape__decoder *d, const struct tape__frag_opts *opts);
/* End of input: gives up every incomplete datagram, counting its fragments
 * in frag_dropped.  Decoding may continue afterwards. */
void tape__decoder_finish(struct tape__decoder *d);

/* What identifies a datagram: (src, dst, protocol, id) for IPv4, (src,
 * dst, id) for IPv6 (proto 0). */
struct tape__frag_key {
	uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes, rest zero */
	uint32_t id;              /* IPv4: 16 bits; IPv6: 32 */
	uint8_t family;           /* 4 or 6 */
	uint8_t proto;
};

/* One fragment of a datagram's fragmentable part (IPv4: the payload after
 * the IP header; IPv6: what follows the Fragment header). */
struct tape__frag_in {
	struct tape__frag_key key;
	uint64_t ts_ns;
	uint32_t off;          /* byte offset in the fragmentable part */
	int more;              /* MF / M flag */
	uint8_t next;          /* IPv4 protocol / IPv6 Fragment header's Next Header */
	const uint8_t *data;
	uint32_t len;
};

/* A reassembled fragmentable part and the Next Header of its first fragment. */
struct tape__frag_out {
	const uint8_t *data;
	uint32_t len;
	uint8_t next;
};

struct tape__frag;

/* stats is the decoder's: frag.c adds to reassembled and frag_dropped and
 * must not outlive it.  opts may be NULL.  0 or -ENOMEM. */
int tape__frag_new(struct tape__frag **out, const struct tape__frag_opts *opts,
		   struct tape__decode_stats *stats);
/* Frees without counting held fragments as dropped (see tape__frag_flush). */
void tape__frag_free(struct tape__frag *f);
/* Adds one fragment (lengths already checked by the caller).  Returns 1 with
 * *out set when it completed its datagram (out->data valid until the next
 * tape__frag_* call on f), 0 when it is held or dropped (counted), or
 * -ENOMEM (the fragment is dropped and counted). */
int tape__frag_add(struct tape__frag *f, const struct tape__frag_in *in,
		   struct tape__frag_out *out);
/* Gives up datagrams whose first fragment is at least the timeout older
 * than now_ns. */
void tape__frag_expire(struct tape__frag *f, uint64_t now_ns);
/* Gives up every datagram being reassembled. */
void tape__frag_flush(struct tape__frag *f);
/* Datagrams held and bytes of fragment buffers allocated, for tests. */
void tape__frag_usage(const struct tape__frag *f, size_t *datagrams, size_t *bytes);

/* ---------------------------------------------------------------------------
 * reasm.c: TCP segments -> tape events (doc/reassembly.md).
 * ------------------------------------------------------------------------- */

/* Receives each event.  time_ns is absolute (ns since the epoch); data
 * pointers are valid only during the call.  A negative return stops the
 * reassembler and is passed back to its caller. */
typedef int (*tape__emit_fn)(void *ctx, const struct tape_event *ev);

struct tape__reasm_opts {
	uint64_t idle_ns;     /* 0: TAPE__REASM_IDLE_NS */
	size_t conn_mem;      /* 0: TAPE__REASM_CONN_MEM */
	size_t total_mem;     /* 0: TAPE__REASM_TOTAL_MEM */
	size_t max_conns;     /* 0: TAPE__REASM_MAX_CONNS */
};

struct tape__reasm_stats {
	uint64_t conns;              /* connections opened on the tape */
	uint64_t midstream;          /* of which picked up without a handshake */
	uint64_t gaps, gap_bytes;    /* holes never filled */
	uint64_t dup_bytes;          /* retransmitted bytes delivered once */
	uint64_t conflicts;          /* retransmissions whose bytes differ */
	uint64_t conflict_bytes;
	uint64_t after_fin_bytes;    /* data after FIN, ignored */
	uint64_t evicted, timeouts;  /* connections closed by caps / idleness */
	uint64_t dropped_bytes;      /* any other bytes not delivered (reason counted above) */
	uint64_t ignored_segments;   /* segments that belong to no connection (stray RST/ACK) */
	uint64_t unverified_bytes;   /* retransmitted bytes not compared (older than TAPE__REASM_HISTORY, keep-alives) */
};

struct tape__reasm;

int tape__reasm_new(struct tape__reasm **out, const struct tape__reasm_opts *opts,
		    tape__emit_fn emit, void *ctx);
/* Frees without emitting anything further. */
void tape__reasm_free(struct tape__reasm *ra);
/* Feeds one segment (in capture order).  Returns 0 or a negative error
 * (from emit, or -ENOMEM). */
int tape__reasm_segment(struct tape__reasm *ra, const struct tape__seg *seg);
/* Expires idle connections as of now_ns (called at least once per second of
 * capture time by the driver; segments also advance the clock). */
int tape__reasm_tick(struct tape__reasm *ra, uint64_t now_ns);
/* End of input: flushes buffered bytes (gaps where holes remain) and closes
 * every open connection with reason TAPE_CLOSE_END at now_ns. */
int tape__reasm_finish(struct tape__reasm *ra, uint64_t now_ns);
const struct tape__reasm_stats *tape__reasm_stats(const struct tape__reasm *ra);

/* ---------------------------------------------------------------------------
 * synth.c: tape events -> packets (for .pcap output and raw injection).
 * ------------------------------------------------------------------------- */

struct tape__synth_opts {
	uint32_t mss;      /* payload bytes per segment; 0: 1460 (IPv4) / 1440 (IPv6) */
	int linktype;      /* 1 (Ethernet) or 101 (raw IP); 0: Ethernet */
};

/* Receives one complete frame: ts_ns absolute, frame valid during the call. */
typedef int (*tape__frame_fn)(void *ctx, uint64_t ts_ns, const uint8_t *frame, size_t len);

struct tape__synth;

int tape__synth_new(struct tape__synth **out, const struct tape__synth_opts *opts,
		    tape__frame_fn frame, void *ctx);
void tape__synth_free(struct tape__synth *s);
/* Turns one (validated) tape event into zero or more frames.  start_ns is
 * added to ev->time_ns to give absolute timestamps. */
int tape__synth_event(struct tape__synth *s, uint64_t start_ns, const struct tape_event *ev);
/* Detail of the last error tape__synth_event() returned ("conn 7: DATA
 * before OPEN"); "" when none.  Valid until the next call or the free. */
const char *tape__synth_error(const struct tape__synth *s);

/* Limits and constants of the synthesiser (doc/design/synth.md). */
#define TAPE__SYNTH_MAX_MSS 65495u          /* 65535 - 20 (IPv4) - 20 (TCP) */
#define TAPE__SYNTH_MAX_CONNS (4u << 20)    /* connections open at once */
#define TAPE__SYNTH_MAX_HOLE 0x7fffffffu    /* unseen bytes between two segments (2^31 - 1) */
#define TAPE__SYNTH_STEP_NS 1000u           /* spacing of the packets of one event */
#define TAPE__SYNTH_WIN 65535u              /* window every segment advertises */
/* Ethernet addresses of the two sides: [TAPE_C2S] is the client's
 * (02:00:00:00:00:01), [TAPE_S2C] the server's (02:00:00:00:00:02). */
extern const uint8_t tape__synth_mac[2][6];

/* ---- Header building (synth.c): the one place that writes headers. ---- */
#define TAPE__LINKTYPE_ETHERNET 1
#define TAPE__LINKTYPE_RAW 101              /* raw IPv4/IPv6, version nibble decides */
#define TAPE__ETHERTYPE_IPV4 0x0800u
#define TAPE__ETHERTYPE_IPV6 0x86DDu
#define TAPE__ETH_HLEN 14u
#define TAPE__IP4_HLEN 20u
#define TAPE__IP6_HLEN 40u
#define TAPE__TCP_HLEN 20u                  /* without options */
#define TAPE__TCP_OPT_MAX 40u

/* Internet checksum (RFC 1071).  tape__inet_sum adds the big-endian 16-bit
 * words of p[0..n) to a running one's-complement sum (start with 0; only
 * the last piece may have odd length); tape__inet_fold turns the sum into
 * the checksum to store; tape__inet_csum does both for one buffer.  A
 * buffer that already holds its correct checksum gives 0. */
uint32_t tape__inet_sum(uint32_t sum, const void *p, size_t n);
uint16_t tape__inet_fold(uint32_t sum);
uint16_t tape__inet_csum(const void *p, size_t n);

/* Writes an IPv4 (no options, DF, TTL 64) or IPv6 (hop limit 64, no
 * extension headers) header, a TCP header and the payload at buf, with
 * correct lengths and checksums.  src and dst must both be family 4 or 6;
 * ports are host order.  The _opt form adds optlen bytes of TCP options
 * (a multiple of 4, at most TAPE__TCP_OPT_MAX).  payload must not overlap
 * buf.  ip_id is ignored for IPv6.  Returns the bytes written, TAPE_EUSAGE
 * for bad arguments, or TAPE_ELIMIT when the datagram would exceed 65535
 * bytes or cap. */
long tape__build_ip_tcp(uint8_t *buf, size_t cap, const struct tape_endpoint *src,
			const struct tape_endpoint *dst, uint32_t seq, uint32_t ack, uint8_t flags,
			uint16_t win, const uint8_t *payload, size_t len, uint16_t ip_id);
long tape__build_ip_tcp_opt(uint8_t *buf, size_t cap, const struct tape_endpoint *src,
			    const struct tape_endpoint *dst, uint32_t seq, uint32_t ack,
			    uint8_t flags, uint16_t win, const uint8_t *opt, size_t optlen,
			    const uint8_t *payload, size_t len, uint16_t ip_id);
/* Writes a 14-byte Ethernet II header; returns TAPE__ETH_HLEN or
 * TAPE_ELIMIT when cap is smaller. */
long tape__build_eth(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
		     uint16_t ethertype);

/* ---------------------------------------------------------------------------
 * pcapout.c: frames -> a pcap or pcapng file.
 * ------------------------------------------------------------------------- */
#define TAPE__PCAP_SNAPLEN 262144u          /* default and largest snaplen */
#define TAPE__PCAP_MAGIC_NS 0xa1b23c4du     /* pcap with nanosecond timestamps */

struct tape__pcapout;
struct tape__out; /* tape-int.h */

/* Writes the file header (pcap when ng is 0, pcapng when 1) to o, which is
 * borrowed: it must outlive the handle, and its owner flushes and closes
 * it.  linktype is a LINKTYPE_* value (0..65535); snaplen 0 means
 * TAPE__PCAP_SNAPLEN.  TAPE_EUSAGE for a bad linktype or a snaplen above
 * TAPE__PCAP_SNAPLEN, -ENOMEM, or the error of the write; after a write
 * error *out is still set (for tape__pcapout_error) and must be freed. */
int tape__pcapout_open(struct tape__pcapout **out, struct tape__out *o, int ng, int linktype,
		       uint32_t snaplen);
/* Appends one frame captured at ts_ns (ns since the epoch); frames longer
 * than the snaplen are cut to it, keeping the original length.  Has the
 * signature of tape__frame_fn when wrapped.  TAPE_EUNSUP for a pcap
 * timestamp past 2106 (32-bit seconds), or the error of the write. */
int tape__pcapout_frame(struct tape__pcapout *p, uint64_t ts_ns, const uint8_t *frame,
			size_t len);
/* Detail of the last error; "" when none. */
const char *tape__pcapout_error(const struct tape__pcapout *p);
/* Frees the handle (not the output).  Accepts NULL. */
void tape__pcapout_free(struct tape__pcapout *p);

#endif /* TAPE_PKT_H */
