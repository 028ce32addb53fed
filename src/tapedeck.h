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
	X(ABORTED, "aborted")   /* closed by the recorder's user or a mismatch */ \
	X(ROTATED, "rotated")   /* continued in the next file of a rotated recording */

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
	X(REUSED, 0x4, "reused")       /* 4-tuple reused after a close */        \
	X(CONTINUED, 0x8, "continued") /* carried over from the previous file */

enum tape_open_flag {
#define TAPE__OF_ENUM(name, bit, str) TAPE_OPEN_##name = (bit),
	TAPE_OPEN_FLAG_MAP(TAPE__OF_ENUM)
#undef TAPE__OF_ENUM
};
#define TAPE_OPEN_KNOWN_FLAGS 0xfu

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
	uint64_t max_packets; /* end after this many packets (after the filter); 0: no limit */
};

struct tape_capture_stats {
	/* packets */
	uint64_t packets, bytes;     /* frames read (after the filter), their wire bytes */
	uint64_t tcp;                /* TCP segments */
	uint64_t non_tcp;            /* frames skipped: not TCP */
	uint64_t truncated;          /* frames cut short by the snaplen */
	uint64_t malformed;          /* frames with impossible headers */
	uint64_t fragments, reassembled, frag_dropped; /* IP fragments */
	uint64_t ip_len_zero;        /* IPv4 Total Length 0 (captured before segmentation
					offload): length taken from the frame */
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
	/* live captures only (0 for files), as of the last tape_live_poll_drops() */
	uint64_t kernel_drops;       /* packets the kernel dropped: the capture buffer was full */
	uint64_t if_drops;           /* packets the interface or its driver dropped */
};

/* Opens a pcap or pcapng capture at path ("-" for standard input) as a
 * tape.  opts may be NULL.  TAPE_EUSAGE for a filter that does not compile
 * (the message says why). */
TAPE_API int tape_reader_open_capture(struct tape_reader **out, const char *path,
				      const struct tape_capture_opts *opts);
/* Statistics so far of a capture being read; TAPE_EUSAGE for other tapes. */
TAPE_API int tape_reader_capture_stats(const struct tape_reader *r, struct tape_capture_stats *st);

/* ---------------------------------------------------------------------------
 * Live capture.  An interface is captured through libpcap and every TCP
 * connection on it reassembled as for a capture file, the events coming out
 * as they happen.  The caller runs the loop: it waits on tape_live_fd(),
 * takes events with tape_live_next(), calls tape_live_tick() when nothing
 * arrives, and ends with tape_live_stop() (doc/live-capture.md).
 * ------------------------------------------------------------------------- */
struct tape_live_opts {
	const char *device;      /* interface name; "any": all of them (Linux) */
	unsigned snaplen;        /* bytes kept of each packet; 0: 262144 */
	unsigned buffer_kib;     /* kernel capture buffer in KiB; 0: libpcap's default */
	int no_promisc;          /* leave the interface out of promiscuous mode */
	int no_immediate;        /* let the kernel batch packets (less CPU, more latency) */
	unsigned timeout_ms;     /* batch timeout without immediate mode; 0: 100 */
	struct tape_capture_opts capture; /* filter, reassembly caps, packet limit */
};

struct tape_live;

/* Opens and activates the capture (this is the step that needs privileges:
 * the caller may drop them afterwards).  Errors: TAPE_EUSAGE for bad options
 * or a filter that does not compile, -ENODEV for no such interface, -EPERM
 * when not permitted to capture (or to enable promiscuous mode), -ENETDOWN
 * for an interface that is down, TAPE_EUNSUP for a link type that cannot be
 * decoded, -EIO for other libpcap failures.  *out is set even on failure
 * (for tape_live_error()) and must be freed. */
TAPE_API int tape_live_open(struct tape_live **out, const struct tape_live_opts *opts);
/* Metadata for the tapes of this capture: start (when it was opened),
 * source, tool, linktype, snaplen, filter.  Valid until tape_live_free(). */
TAPE_API const struct tape_meta *tape_live_meta(const struct tape_live *lv);
/* A descriptor that becomes readable when packets may be waiting; -1 when
 * the platform has none (then poll with a short timeout). */
TAPE_API int tape_live_fd(const struct tape_live *lv);
/* Next event, times relative to the start in tape_live_meta(): 1 and *ev
 * (pointers valid until the next call on lv), 0 after tape_live_stop() (or
 * the packet limit) once every event is out, 2 when nothing is waiting now,
 * or a negative error (-EIO: the capture failed, say the interface went
 * away; tape_live_stop() then still closes what was open). */
TAPE_API int tape_live_next(struct tape_live *lv, struct tape_event *ev);
/* Advances the capture clock to now_ns (ns since the epoch) while no
 * packet arrives, so idle connections time out; events it causes come out
 * of tape_live_next(). */
TAPE_API int tape_live_tick(struct tape_live *lv, uint64_t now_ns);
/* Reads the kernel's drop counters (pcap_stats) into the statistics. */
TAPE_API int tape_live_poll_drops(struct tape_live *lv);
/* Statistics so far, drops as of the last tape_live_poll_drops(). */
TAPE_API void tape_live_stats(const struct tape_live *lv, struct tape_capture_stats *st);
/* Ends the capture: buffered bytes are flushed (gaps where holes remain),
 * every open connection is closed with reason end and the statistics note
 * (with the final drop counts) is queued; tape_live_next() hands them out
 * and then returns 0. */
TAPE_API int tape_live_stop(struct tape_live *lv);
/* Detail of the last error; "" if none. */
TAPE_API const char *tape_live_error(const struct tape_live *lv);
/* libpcap's warning when the capture was opened with one (say, promiscuous
 * mode not supported); "" if none. */
TAPE_API const char *tape_live_warning(const struct tape_live *lv);
TAPE_API void tape_live_free(struct tape_live *lv);

/* Interfaces that can be captured, in libpcap's order: fn is called with
 * each name, its description (NULL when none) and TAPE_LIVE_IF_* flags; a
 * non-zero return stops the listing and is returned.  -EIO when libpcap
 * cannot list them (message in err). */
#define TAPE_LIVE_IF_LOOPBACK 0x1u
#define TAPE_LIVE_IF_UP 0x2u
#define TAPE_LIVE_IF_RUNNING 0x4u
TAPE_API int tape_live_list(int (*fn)(void *ctx, const char *name, const char *desc, unsigned flags),
			    void *ctx, char *err, size_t errlen);

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
/* Bytes of the file so far: handed to the operating system or buffered
 * for it (an events block still being filled is not counted; it is at most
 * 64 KiB).  For size-based rotation. */
TAPE_API uint64_t tape_writer_bytes(const struct tape_writer *w);
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

/* ---------------------------------------------------------------------------
 * Replay.  A tape's client side is played against a live service through
 * ordinary sockets: each selected connection is opened to a target, sends
 * its recorded c2s bytes in order, and before a chunk the recording shows
 * after server bytes it waits until the service has sent at least as many.
 * By default the tape's global order is kept across connections too; the
 * service's answers can be compared with the recorded s2c bytes, and the
 * whole exchange written as a new tape.  The rules are in doc/replay.md.
 * ------------------------------------------------------------------------- */
#define TAPE_REPLAY_MAX_BYTES (UINT64_C(4) << 30) /* recorded payload bytes loaded */
#define TAPE_REPLAY_MAX_CONNS (1u << 22)          /* connections in a tape to replay */
#define TAPE_REPLAY_MAX_MAPS 1024u                /* recorded->actual endpoint maps */
#define TAPE_REPLAY_MAX_VERIFY (64u << 20)        /* s2c bytes kept for comparison per reply */
#define TAPE_REPLAY_MAX_RESULTS (1u << 20)        /* per-connection results kept */
#define TAPE_REPLAY_MAX_MISMATCHES 1000u          /* mismatch records kept (the rest counted) */
#define TAPE_REPLAY_MAX_LOOPS 1000000u            /* --loop */

/* How the schedule follows the recorded times. */
enum tape_replay_timing {
	TAPE_REPLAY_TIMING_ORIGINAL = 0, /* recorded gaps, scaled by speed */
	TAPE_REPLAY_TIMING_NONE,         /* as fast as causality allows */
};

/* A recorded server endpoint and where its connections go instead. */
struct tape_replay_map {
	struct tape_endpoint recorded, actual;
};

/* One c2s chunk about to be sent, as the chunk callback sees it.  data is
 * the recorded payload, borrowed for the duration of the call. */
struct tape_replay_chunk {
	uint64_t conn;     /* recorded connection id */
	unsigned loop;     /* iteration, from 0 */
	uint64_t index;    /* chunk number in its connection, from 0 */
	uint64_t offset;   /* offset of its first byte in the recorded c2s stream */
	uint64_t time_ns;  /* recorded time */
	enum tape_dir dir; /* TAPE_C2S */
	const uint8_t *data;
	size_t len;
};

enum tape_replay_action {
	TAPE_REPLAY_SEND = 0, /* send data[0..len) of the edit (initially the recorded bytes) */
	TAPE_REPLAY_SKIP,     /* send nothing; the reply recorded after it is not awaited */
	TAPE_REPLAY_ABORT,    /* reset the connection; reason says why */
};

#define TAPE_REPLAY_REASON_LEN 256
/* What the callback decides.  It is prefilled with action SEND and the
 * recorded bytes; to rewrite the chunk, point data at other bytes (at most
 * TAPE_MAX_DATA; len 0 sends nothing), which must stay valid until the
 * callback is called again or tape_replay_run() returns. */
struct tape_replay_edit {
	enum tape_replay_action action;
	const uint8_t *data;
	size_t len;
	char reason[TAPE_REPLAY_REASON_LEN]; /* ABORT, or the error when returning < 0 */
};

/* Called for every chunk just before it is sent (after the timing and the
 * causality waits).  Returns 0, or a negative error that stops the whole
 * replay: tape_replay_run() then returns it, with edit->reason (or the
 * code's message) in tape_replay_error(). */
typedef int (*tape_replay_chunk_fn)(void *ctx, const struct tape_replay_chunk *chunk,
				    struct tape_replay_edit *edit);

struct tape_replay_stats;
/* Called about every 100 ms of the replay, and once at its end. */
typedef void (*tape_replay_progress_fn)(void *ctx, const struct tape_replay_stats *st);

struct tape_replay_opts {
	/* Where connections go: target, unless a map names their recorded
	 * server.  A connection with neither is a usage error. */
	struct tape_endpoint target;          /* family 0: none */
	const struct tape_replay_map *maps;
	size_t nmaps;
	/* Which connections: the ids in conns when given; otherwise every
	 * connection with all, or those whose recorded server is server (NULL:
	 * the most frequent server of the tape, by connections, the first seen
	 * on a tie).  With conns, server (if set) narrows the list.  Then
	 * sample (0 or 1: all) keeps each connection with that probability,
	 * decided by a hash of seed and the connection id alone. */
	const uint64_t *conns;
	size_t nconns;
	int all;
	const struct tape_endpoint *server;
	double sample;
	uint64_t seed;
	/* Order and timing. */
	int unordered;                 /* only per-connection causality */
	enum tape_replay_timing timing;
	double speed;                  /* TIMING_ORIGINAL: 2 plays twice as fast; 0: 1 */
	uint64_t max_delay_ns;         /* longest wait between two events; 0: no clamp */
	unsigned concurrency;          /* unordered: connections open at once; 0: no limit */
	unsigned loops;                /* play the selection this many times; 0: once */
	unsigned timeout_ms;           /* connect and per-wait timeout; 0: 5000 */
	unsigned settle_ms;            /* quiet time that ends a differing reply; 0: 100 */
	uint64_t spin_ns;              /* busy-wait before a due event; 0: 50 us */
	/* Verification. */
	int verify;                    /* compare s2c with the recording */
	const char *const *ignore;     /* POSIX extended regexes masking bytes that may change */
	size_t nignore;
	int text_diff;                 /* mismatch reports as line diffs */
	/* Hooks and output.  record, when set, receives the actual exchange as
	 * a tape (the caller opened it and closes it). */
	struct tape_writer *record;
	tape_replay_chunk_fn chunk_fn;
	void *chunk_ctx;
	tape_replay_progress_fn progress_fn;
	void *progress_ctx;
};

/* How one replayed connection ended. */
#define TAPE_REPLAY_STATUS_MAP(X)                                                \
	X(OK, "ok")                   /* played to its end */                    \
	X(PENDING, "pending")         /* not played (the replay stopped first) */ \
	X(CONNECT, "connect-failed")  /* the connect failed or timed out */      \
	X(TIMEOUT, "timeout")         /* the service did not answer in time */   \
	X(RESET, "reset")             /* an unexpected reset or socket error */  \
	X(CLOSED, "closed")           /* the service closed before answering (not verifying) */ \
	X(ABORTED, "aborted")         /* the chunk callback aborted it */        \
	X(GAP, "gap")                 /* stopped at c2s bytes the recorder missed */

enum tape_replay_status {
#define TAPE__RS_ENUM(name, str) TAPE_REPLAY_##name,
	TAPE_REPLAY_STATUS_MAP(TAPE__RS_ENUM)
#undef TAPE__RS_ENUM
	TAPE_REPLAY__STATUS_COUNT
};
TAPE_API const char *tape_replay_status_name(enum tape_replay_status st);

/* One connection's result; pointers valid until tape_replay_free(). */
struct tape_replay_result {
	uint64_t conn;              /* recorded id */
	unsigned loop;
	enum tape_replay_status status;
	int error;                  /* -errno or TAPE_E* behind a failure; 0 */
	const char *detail;         /* what went wrong; "" when nothing did */
	struct tape_endpoint target;
	uint64_t chunks, skipped;   /* chunks sent, chunks skipped */
	uint64_t sent, received, expected; /* bytes */
	uint64_t mismatches;
	uint64_t start_ns, end_ns;  /* since the replay's start */
};

/* A reply that differs from the recording.  Offsets are in the connection's
 * byte stream in direction dir (s2c); expected/received are windows of the
 * two around the first difference, starting at expected_at/received_at.
 * report is the rendered comparison (hex+ASCII rows, or a line diff).  All
 * valid until tape_replay_free(). */
struct tape_replay_mismatch {
	uint64_t conn;
	unsigned loop;
	enum tape_dir dir;
	uint64_t exp_offset, got_offset;   /* first difference */
	uint64_t exp_len, got_len;         /* lengths of the compared replies */
	const uint8_t *expected, *received;
	size_t expected_size, received_size;
	uint64_t expected_at, received_at;
	const char *report;
};

struct tape_replay_stats {
	uint64_t tape_conns;        /* connections in the tape */
	uint64_t selected;          /* connections selected (per loop) */
	struct tape_endpoint server; /* the selected recorded server (family 0 with conns/all) */
	uint64_t conns_done, conns_ok, conns_failed, conns_mismatched, conns_aborted;
	uint64_t connect_failures, timeouts, resets, gaps;
	uint64_t chunks_sent, chunks_skipped, chunks_rewritten;
	uint64_t bytes_sent, bytes_received, bytes_expected;
	uint64_t mismatches, mismatches_dropped;
	uint64_t skew_samples;      /* timed events (connects and chunks) */
	uint64_t skew_p50_ns, skew_p99_ns, skew_max_ns; /* late versus the schedule */
	uint64_t recorded_ns;       /* the selection's span on the tape */
	uint64_t scheduled_ns;      /* the schedule's span after speed and max delay, all loops */
	uint64_t duration_ns;       /* the replay's, so far */
};

struct tape_replay;

/* Reads the whole tape from r (borrowed during the call), selects the
 * connections and computes the schedule.  opts is copied (what it points
 * to is borrowed until tape_replay_free(): conns, maps, ignore, record).
 * TAPE_EUSAGE for contradictory options or a connection without a target,
 * TAPE_ELIMIT past a TAPE_REPLAY_MAX_* cap, the reader's errors.  As with
 * readers, *out is set on failure when possible, for tape_replay_error(). */
TAPE_API int tape_replay_new(struct tape_replay **out, struct tape_reader *r,
			     const struct tape_replay_opts *opts);
/* Plays the selection (opts.loops times).  Returns 0 when it ran, whatever
 * the connections' fate (see the results and stats), or a negative error
 * that stopped it: the chunk callback's, TAPE_EUSAGE when called twice,
 * the record writer's, -ENOMEM. */
TAPE_API int tape_replay_run(struct tape_replay *rp);
/* Asks a running replay to stop soon (open connections are reset, the rest
 * stay PENDING).  Async-signal-safe. */
TAPE_API void tape_replay_stop(struct tape_replay *rp);
TAPE_API void tape_replay_stats(const struct tape_replay *rp, struct tape_replay_stats *st);
TAPE_API size_t tape_replay_result_count(const struct tape_replay *rp);
/* The i-th result, in the order connections started; 0 or TAPE_EUSAGE. */
TAPE_API int tape_replay_result(const struct tape_replay *rp, size_t i, struct tape_replay_result *out);
TAPE_API size_t tape_replay_mismatch_count(const struct tape_replay *rp);
TAPE_API int tape_replay_mismatch(const struct tape_replay *rp, size_t i,
				  struct tape_replay_mismatch *out);
/* Detail of the last error; "" if none. */
TAPE_API const char *tape_replay_error(const struct tape_replay *rp);
TAPE_API void tape_replay_free(struct tape_replay *rp);

#ifdef __cplusplus
}
#endif
#endif /* TAPEDECK_H */
