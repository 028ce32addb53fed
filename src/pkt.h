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

#endif /* TAPE_PKT_H */
