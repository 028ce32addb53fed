/* SPDX-License-Identifier: BSD-2-Clause */
/* tapedeck.h - public API of libtapedeck: the tape model and its readers and writers. */
#ifndef TAPEDECK_H
#define TAPEDECK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(TAPE_BUILDING_LIBRARY)
#define TAPE_API __attribute__((visibility("default")))
#else
#define TAPE_API
#endif

/* ---------------------------------------------------------------------------
 * Errors.  Fallible functions return 0 on success or a negative TAPE_E* code;
 * operating-system failures are returned as -errno.  The handle that failed
 * keeps a human-readable detail string (tape_reader_error() and friends).
 * ------------------------------------------------------------------------- */
#define TAPE_ERRNO_MAP(X)                                                        \
	X(EFORMAT, -1001, "malformed input")                                     \
	X(ECRC, -1002, "checksum mismatch")                                      \
	X(ETRUNC, -1003, "truncated input")                                      \
	X(EVERSION, -1004, "unsupported format version")                         \
	X(ELIMIT, -1005, "size limit exceeded")                                  \
	X(ESEQ, -1006, "event out of sequence")                                  \
	X(EUNSUP, -1007, "not representable in this format")                     \
	X(EUSAGE, -1008, "invalid argument")                                     \
	X(EUNKNOWN, -1009, "unknown format")

enum tape_errno {
#define TAPE__ERR_ENUM(name, value, msg) TAPE_##name = (value),
	TAPE_ERRNO_MAP(TAPE__ERR_ENUM)
#undef TAPE__ERR_ENUM
};

/* Static message for a TAPE_E* code or -errno; never NULL. */
TAPE_API const char *tape_strerror(int err);
/* Symbolic name ("EFORMAT", "ENOENT") for a code; never NULL. */
TAPE_API const char *tape_err_name(int err);

/* Library version string, e.g. "0.1.0". */
TAPE_API const char *tape_version(void);

/* ---------------------------------------------------------------------------
 * Limits.  Every growable buffer in the library has one of these caps.
 * ------------------------------------------------------------------------- */
#define TAPE_MAX_DATA (64u << 20)      /* bytes in one DATA event */
#define TAPE_MAX_NOTE (64u << 10)      /* bytes in one NOTE event */
#define TAPE_MAX_META_KEY 64u          /* bytes in a metadata key */
#define TAPE_MAX_META_VALUE 4096u      /* bytes in a metadata value */
#define TAPE_MAX_META_COUNT 256u       /* metadata pairs in a tape */
#define TAPE_MAX_GAP (UINT64_C(1) << 48) /* bytes in one GAP event */
#define TAPE_MAX_TIME (UINT64_C(1) << 62) /* largest relative timestamp, ns */
#define TAPE_MAX_OPEN_CONNS (1u << 24) /* connections open at once in a tape */
#define TAPE_MAX_CLOSED_RANGES (1u << 24) /* disjoint runs of closed ids remembered */

/* ---------------------------------------------------------------------------
 * The tape model.
 *
 * A tape is a time-ordered sequence of events over any number of TCP
 * connections.  Every event carries a nanosecond timestamp relative to the
 * tape's start (tape_meta.start_ns) and the id of its connection.  A
 * connection is introduced by exactly one OPEN and ended by at most one CLOSE;
 * ids are unique within a tape and start at 1.  Id 0 is the tape itself: it
 * carries only NOTE events (capture statistics, drops) that belong to no
 * connection.
 * ------------------------------------------------------------------------- */
enum tape_event_kind {
	TAPE_EV_OPEN = 1, /* client, server, flags */
	TAPE_EV_DATA,     /* dir, data, len: payload bytes */
	TAPE_EV_GAP,      /* dir, gap: bytes the recorder never saw */
	TAPE_EV_FIN,      /* dir: that side ended its sending */
	TAPE_EV_RST,      /* dir: that side sent a reset */
	TAPE_EV_CLOSE,    /* reason */
	TAPE_EV_NOTE,     /* data, len: free text (no NUL) */
};

enum tape_dir {
	TAPE_C2S = 0, /* client to server */
	TAPE_S2C = 1, /* server to client */
};

#define TAPE_CLOSE_REASON_MAP(X)                                                 \
	X(FIN, "fin")           /* both sides finished */                        \
	X(RST, "rst")           /* a reset ended it */                           \
	X(TIMEOUT, "timeout")   /* idle too long */                              \
	X(END, "end")           /* the recording ended with it still open */     \
	X(EVICTED, "evicted")   /* dropped by a memory cap */                    \
	X(ERROR, "error")       /* a socket or protocol error */                 \
	X(ABORTED, "aborted")   /* closed by the recorder's user or a mismatch */

enum tape_close_reason {
#define TAPE__CR_ENUM(name, str) TAPE_CLOSE_##name,
	TAPE_CLOSE_REASON_MAP(TAPE__CR_ENUM)
#undef TAPE__CR_ENUM
	TAPE_CLOSE__COUNT
};

/* OPEN flags. */
#define TAPE_OPEN_FLAG_MAP(X)                                                    \
	X(MIDSTREAM, 0x1, "midstream") /* picked up without its handshake */     \
	X(INFERRED, 0x2, "inferred")   /* client/server roles were guessed */    \
	X(REUSED, 0x4, "reused")       /* 4-tuple reused after a close */

enum tape_open_flag {
#define TAPE__OF_ENUM(name, bit, str) TAPE_OPEN_##name = (bit),
	TAPE_OPEN_FLAG_MAP(TAPE__OF_ENUM)
#undef TAPE__OF_ENUM
};
#define TAPE_OPEN_KNOWN_FLAGS 0x7u

/* An IPv4 or IPv6 transport endpoint; addr is in network byte order (IPv4
 * uses the first 4 bytes, the rest are zero). */
struct tape_endpoint {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[16];
	uint16_t port; /* host byte order */
};

/* One event.  Pointers in it are borrowed: for events returned by a reader
 * they are valid until the next tape_reader_next() or tape_reader_free(). */
struct tape_event {
	enum tape_event_kind kind;
	uint64_t time_ns; /* since the tape's start */
	uint64_t conn;
	enum tape_dir dir; /* DATA, GAP, FIN, RST */
	/* OPEN */
	struct tape_endpoint client, server;
	uint32_t flags; /* TAPE_OPEN_* */
	/* DATA, NOTE */
	const uint8_t *data;
	size_t len;
	/* GAP */
	uint64_t gap;
	/* CLOSE */
	enum tape_close_reason reason;
};

/* Names used in both text forms. */
TAPE_API const char *tape_event_kind_name(enum tape_event_kind kind);
TAPE_API const char *tape_dir_name(enum tape_dir dir); /* "c2s", "s2c" */
TAPE_API const char *tape_close_reason_name(enum tape_close_reason reason);
/* Parse a name back; 0 or TAPE_EFORMAT. */
TAPE_API int tape_dir_parse(const char *s, size_t n, enum tape_dir *out);
TAPE_API int tape_close_reason_parse(const char *s, size_t n, enum tape_close_reason *out);

/* Endpoints as text: "192.0.2.1:80" or "[2001:db8::1]:80".  format writes a
 * NUL-terminated string of at most TAPE_ENDPOINT_STRLEN bytes. */
#define TAPE_ENDPOINT_STRLEN 48
TAPE_API void tape_endpoint_format(const struct tape_endpoint *ep, char *buf, size_t size);
TAPE_API int tape_endpoint_parse(const char *s, size_t n, struct tape_endpoint *out);
TAPE_API int tape_endpoint_equal(const struct tape_endpoint *a, const struct tape_endpoint *b);

/* Flags as a comma-separated list ("midstream,inferred"); "" when none. */
#define TAPE_FLAGS_STRLEN 64
TAPE_API void tape_open_flags_format(uint32_t flags, char *buf, size_t size);
TAPE_API int tape_open_flags_parse(const char *s, size_t n, uint32_t *out);

/* ---------------------------------------------------------------------------
 * Metadata: the tape's absolute start time plus free "key: value" pairs, kept
 * in order through every conversion.  Keys are 1..TAPE_MAX_META_KEY bytes of
 * [A-Za-z0-9_.-]; values are text without NUL of at most TAPE_MAX_META_VALUE
 * bytes.  Conventional keys: "source", "tool".  The key "start" is reserved
 * for start_ns.
 * ------------------------------------------------------------------------- */
struct tape_meta;

TAPE_API int tape_meta_new(struct tape_meta **out);
TAPE_API void tape_meta_free(struct tape_meta *m);
/* Deep copy of src (NULL src gives an empty meta). */
TAPE_API int tape_meta_dup(struct tape_meta **out, const struct tape_meta *src);
/* Absolute start, nanoseconds since the Unix epoch; 0 when unknown. */
TAPE_API uint64_t tape_meta_start(const struct tape_meta *m);
TAPE_API void tape_meta_set_start(struct tape_meta *m, uint64_t start_ns);
/* Sets key to value, replacing an earlier value in place or appending.
 * TAPE_EFORMAT for an invalid key or value, TAPE_ELIMIT when too many keys. */
TAPE_API int tape_meta_set(struct tape_meta *m, const char *key, const char *value);
/* Value for key or NULL; valid until the meta is changed or freed. */
TAPE_API const char *tape_meta_get(const struct tape_meta *m, const char *key);
TAPE_API size_t tape_meta_count(const struct tape_meta *m);
/* The i-th pair in insertion order; 0 or TAPE_EUSAGE when out of range. */
TAPE_API int tape_meta_at(const struct tape_meta *m, size_t i, const char **key, const char **value);
/* Start time as RFC 3339 UTC with nanoseconds ("2026-11-21T10:00:00.000000001Z"). */
#define TAPE_TIME_STRLEN 40
TAPE_API void tape_time_format(uint64_t ns, char *buf, size_t size);
/* Parses RFC 3339 (UTC "Z" or +hh:mm offsets, 0-9 fraction digits) or plain
 * decimal seconds since the epoch with up to 9 fraction digits. */
TAPE_API int tape_time_parse(const char *s, size_t n, uint64_t *out);

/* ---------------------------------------------------------------------------
 * Formats.  Backends are probed in order on the first bytes of the input
 * when no format is named; writers choose by name or file extension.
 * ------------------------------------------------------------------------- */
/* "tape", "tsv", "tsp" ... from a file name's extension; NULL when unknown. */
TAPE_API const char *tape_format_from_path(const char *path);
/* 1 when name is a format this library can read (or write), else 0. */
TAPE_API int tape_format_readable(const char *name);
TAPE_API int tape_format_writable(const char *name);

/* ---------------------------------------------------------------------------
 * Reading.
 * ------------------------------------------------------------------------- */
struct tape_reader;

/* Opens path ("-" for standard input) as format (NULL: probe the content).
 * On failure *out is still set when the handle could be created, so the
 * caller can read tape_reader_error(); it must then be freed. */
TAPE_API int tape_reader_open(struct tape_reader **out, const char *path, const char *format);
/* The same on an open descriptor, which the reader does not close.  name is
 * used in messages. */
TAPE_API int tape_reader_open_fd(struct tape_reader **out, int fd, const char *name,
				 const char *format);
/* Metadata read from the header; valid until tape_reader_free(). */
TAPE_API const struct tape_meta *tape_reader_meta(const struct tape_reader *r);
/* Name of the format being read ("tape", "tsv", "tsp"). */
TAPE_API const char *tape_reader_format(const struct tape_reader *r);
/* Next event: 1 and *ev filled, 0 at the end, or a negative error with the
 * detail in tape_reader_error().  After an error every later call returns
 * the same error.  Events are validated: unknown connections, events after
 * CLOSE, time going backwards and the like are TAPE_ESEQ. */
TAPE_API int tape_reader_next(struct tape_reader *r, struct tape_event *ev);
/* "FILE: offset 5120: ..." or "FILE:12: ..." for the last error; "" if none. */
TAPE_API const char *tape_reader_error(const struct tape_reader *r);

/* ---------------------------------------------------------------------------
 * Captures.  A pcap or pcapng file is read as a tape by decoding its packets
 * and reassembling every TCP connection in it (doc/reassembly.md).  Opening
 * one with tape_reader_open() uses the defaults below; this gives control.
 * ------------------------------------------------------------------------- */
struct tape_capture_opts {
	const char *filter;   /* BPF expression as in tcpdump; NULL: every packet */
	uint64_t idle_ns;     /* close connections idle this long; 0: 600 s */
	size_t conn_mem;      /* out-of-order bytes held per connection; 0: 8 MiB */
	size_t total_mem;     /* out-of-order bytes held in all; 0: 512 MiB */
	size_t max_conns;     /* connections tracked at once; 0: 1000000 */
	int stats_note;       /* end the tape with a connection-0 note of the statistics */
};

struct tape_capture_stats {
	/* packets */
	uint64_t packets, bytes;     /* frames read (after the filter), their wire bytes */
	uint64_t tcp;                /* TCP segments */
	uint64_t non_tcp;            /* frames skipped: not TCP */
	uint64_t truncated;          /* frames cut short by the snaplen */
	uint64_t malformed;          /* frames with impossible headers */
	uint64_t fragments, reassembled, frag_dropped; /* IP fragments */
	/* streams */
	uint64_t conns, midstream;   /* connections, of which picked up mid-stream */
	uint64_t gaps, gap_bytes;    /* bytes never seen */
	uint64_t dup_bytes;          /* retransmitted bytes delivered once */
	uint64_t conflicts, conflict_bytes; /* retransmissions that differ */
	uint64_t after_fin_bytes;    /* data after FIN, ignored */
	uint64_t timeouts, evicted;  /* connections closed for idleness / memory caps */
	uint64_t ignored_segments;   /* segments of no connection (stray ACK/RST) */
	uint64_t dropped_bytes;      /* captured bytes not delivered for other reasons
					(arrived after their gap was declared, RST payload) */
	uint64_t unverified_bytes;   /* retransmitted bytes older than the comparison
					window: delivered once, not compared */
};

/* Opens a pcap or pcapng capture at path ("-" for standard input) as a
 * tape.  opts may be NULL.  TAPE_EUSAGE for a filter that does not compile
 * (the message says why). */
TAPE_API int tape_reader_open_capture(struct tape_reader **out, const char *path,
				      const struct tape_capture_opts *opts);
/* Statistics so far of a capture being read; TAPE_EUSAGE for other tapes. */
TAPE_API int tape_reader_capture_stats(const struct tape_reader *r, struct tape_capture_stats *st);

/* How a read ended, for tools that want to say so. */
struct tape_reader_status {
	uint64_t events;         /* events returned so far */
	uint64_t offset;         /* bytes consumed so far */
	int finalised;           /* the writer closed the tape properly */
	uint64_t dropped_bytes;  /* incomplete trailing bytes skipped at the end */
	char dropped_why[160];   /* why, when dropped_bytes != 0 */
};
TAPE_API void tape_reader_status(const struct tape_reader *r, struct tape_reader_status *st);
TAPE_API void tape_reader_free(struct tape_reader *r);

/* ---------------------------------------------------------------------------
 * Writing.
 * ------------------------------------------------------------------------- */
enum tape_flush_policy {
	TAPE_FLUSH_CLOSE = 0, /* when buffers fill up and on close */
	TAPE_FLUSH_EVENT,     /* after every event */
	TAPE_FLUSH_INTERVAL,  /* when flush_ms have passed since the last flush */
};

struct tape_writer_opts {
	enum tape_flush_policy flush;
	unsigned flush_ms; /* TAPE_FLUSH_INTERVAL */
	unsigned mss;      /* pcap/pcapng: payload bytes per packet; 0 = 1460 */
};

struct tape_writer;

/* Creates path ("-" for standard output) in format (NULL: from the path's
 * extension, "tape" when it has none, "tsv" for standard output).  meta may be NULL; it is copied.
 * opts may be NULL (TAPE_FLUSH_CLOSE).  As with readers, *out may be set on
 * failure for the error text and must then be freed with tape_writer_free(). */
TAPE_API int tape_writer_open(struct tape_writer **out, const char *path, const char *format,
			      const struct tape_meta *meta, const struct tape_writer_opts *opts);
/* The same on an open descriptor, which the writer does not close. */
TAPE_API int tape_writer_open_fd(struct tape_writer **out, int fd, const char *name,
				 const char *format, const struct tape_meta *meta,
				 const struct tape_writer_opts *opts);
/* Appends one event.  The event is validated as the reader validates it;
 * TAPE_ESEQ or TAPE_EFORMAT for events a tape cannot hold, TAPE_EUNSUP for
 * events the format cannot represent.  Errors are sticky: after one, every
 * later call on the writer returns it (what was written before stays). */
TAPE_API int tape_writer_write(struct tape_writer *w, const struct tape_event *ev);
/* Pushes everything written so far to the operating system. */
TAPE_API int tape_writer_flush(struct tape_writer *w);
/* Called periodically by callers using TAPE_FLUSH_INTERVAL that may be idle
 * between events; flushes when the interval has passed. */
TAPE_API int tape_writer_tick(struct tape_writer *w);
/* Finalises the tape (end marker, flush, close of a path opened here).  The
 * handle stays valid for tape_writer_error() until tape_writer_free(). */
TAPE_API int tape_writer_close(struct tape_writer *w);
/* Events the format could not hold and dropped by design (for example FIN
 * events in a ts_proxy recording); 0 for lossless formats. */
TAPE_API uint64_t tape_writer_dropped(const struct tape_writer *w);
TAPE_API const char *tape_writer_error(const struct tape_writer *w);
/* Frees the handle; closes (without finalising) when not yet closed. */
TAPE_API void tape_writer_free(struct tape_writer *w);

#ifdef __cplusplus
}
#endif
#endif /* TAPEDECK_H */
