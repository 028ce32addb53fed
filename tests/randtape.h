/* SPDX-License-Identifier: BSD-2-Clause */
/* randtape.h - a seeded generator of random but valid tapes, shared by the tests and gen_tape. */
#ifndef TAPE_TEST_RANDTAPE_H
#define TAPE_TEST_RANDTAPE_H

#include <stddef.h>
#include <stdint.h>

#include "tapedeck.h"

/* A small deterministic PRNG (splitmix64): the same seed gives the same
 * tape on every platform, so a failing seed can be replayed. */
struct randtape_rng {
	uint64_t s;
};
void randtape_rng_seed(struct randtape_rng *r, uint64_t seed);
uint64_t randtape_rng_next(struct randtape_rng *r);
/* Uniform in [0, n); 0 when n is 0. */
uint64_t randtape_rng_below(struct randtape_rng *r, uint64_t n);
/* Uniform in [lo, hi] (inclusive). */
uint64_t randtape_rng_range(struct randtape_rng *r, uint64_t lo, uint64_t hi);
/* Fills n random bytes. */
void randtape_rng_bytes(struct randtape_rng *r, uint8_t *p, size_t n);

struct randtape_opts {
	uint64_t seed;
	uint64_t conns;    /* connections opened in all; 0 for no limit */
	uint64_t events;   /* events expected before randtape_finish(), 0 if unknown:
			      with conns, spreads them over the connections */
	unsigned max_live; /* connections open at once (0: 16) */
	size_t max_data;   /* largest DATA payload, 1..TAPE_MAX_DATA (0: 100000) */
	size_t max_note;   /* largest NOTE, 0..TAPE_MAX_NOTE (0: 300) */
	int no_gap_rst;    /* emit neither GAP nor RST (for ts_proxy output) */
};

struct randtape;

/* Creates a generator; opts may be NULL for the defaults with seed 0.
 * 0 or -ENOMEM; free with randtape_free(). */
int randtape_new(struct randtape **out, const struct randtape_opts *opts);
void randtape_free(struct randtape *g);
/* Fills m (which should be empty) with a random start time and random
 * "key: value" pairs, as the generator's seed dictates.  0 or a tape_meta_set()
 * error. */
int randtape_meta(struct randtape *g, struct tape_meta *m);
/* The next event of an endless valid sequence: OPENs (IPv4 and IPv6), DATA,
 * GAP, FIN, RST, NOTE (on connections and on connection 0) and CLOSE,
 * interleaved over up to max_live connections, time never decreasing.
 * ev->data is valid until the next call or randtape_free(). */
void randtape_next(struct randtape *g, struct tape_event *ev);
/* Ends the sequence: 1 with a CLOSE for a still-open connection (most get
 * one, some are left open as a recorder cut short would), 0 when done. */
int randtape_finish(struct randtape *g, struct tape_event *ev);
/* Connections currently open. */
size_t randtape_live(const struct randtape *g);

#endif
