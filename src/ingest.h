/* SPDX-License-Identifier: BSD-2-Clause */
/* ingest.h - the capture pipeline shared by pcap files and live interfaces. */
#ifndef TAPE_INGEST_H
#define TAPE_INGEST_H

#include <pcap/pcap.h>

#include "pkt.h"
#include "tape-int.h"

struct tape__ingest;

/* Wraps an open libpcap handle (not owned: the caller closes it after
 * tape__ingest_free()).  err receives messages for failures of this and
 * later calls; it must outlive the handle. */
int tape__ingest_new(struct tape__ingest **out, pcap_t *p, const struct tape_capture_opts *opts,
		     char *err, size_t errlen);
/* Reads ahead to the first packet so that tape__ingest_start() is known
 * before any event is taken. */
int tape__ingest_prime(struct tape__ingest *g);
/* Absolute time of the first packet (the tape's start); 0 before any. */
uint64_t tape__ingest_start(const struct tape__ingest *g);
/* Next event, times relative to the start: 1 event (data valid until the
 * next call), 0 end of input (every connection closed), 2 nothing yet (a
 * live capture's read timeout), or a negative error with err set. */
int tape__ingest_next(struct tape__ingest *g, struct tape_event *ev);
/* Ends the input now: closes every connection (reason end); later
 * tape__ingest_next() calls drain the events and then return 0. */
int tape__ingest_stop(struct tape__ingest *g);
/* pos() is called after each complete packet to note the input position
 * (for a file: the offset where the next record starts). */
void tape__ingest_pos_hook(struct tape__ingest *g, uint64_t (*pos)(void *), void *ctx);
uint64_t tape__ingest_good_pos(const struct tape__ingest *g);
/* libpcap's message when the capture ended inside a record, else NULL. */
const char *tape__ingest_truncated(const struct tape__ingest *g);
void tape__ingest_stats(const struct tape__ingest *g, struct tape_capture_stats *st);

/* ---- live captures ---- */
/* Marks the handle as reading a live interface that was opened at start_ns
 * (the tape's start, instead of the first packet's time): its read errors
 * are -EIO rather than TAPE_EFORMAT, and its statistics carry the kernel's
 * drop counters. */
void tape__ingest_set_live(struct tape__ingest *g, uint64_t start_ns);
/* Advances the reassembler's clock to now_ns (absolute) when no packet
 * arrives, expiring idle connections; their events are queued. */
int tape__ingest_tick(struct tape__ingest *g, uint64_t now_ns);
/* Reads pcap_stats() into 64-bit totals (libpcap's counters are 32 bits
 * and wrap).  0, or -EIO with err set. */
int tape__ingest_drops(struct tape__ingest *g);
void tape__ingest_free(struct tape__ingest *g);

#endif
