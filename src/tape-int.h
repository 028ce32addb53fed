/* SPDX-License-Identifier: BSD-2-Clause */
/* tape-int.h - library-internal declarations shared by libtapedeck's modules. */
#ifndef TAPE_INT_H
#define TAPE_INT_H

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

#include "tapedeck.h"

/* Internal caps (public ones live in tapedeck.h). */
#define TAPE__IN_CHUNK (64u << 10)     /* read(2) size and initial input buffer */
#define TAPE__OUT_CHUNK (64u << 10)    /* output buffer flushed when this full */
#define TAPE__ERRLEN 512u              /* error text buffer in handles */
#define TAPE__NAMELEN 256u             /* file name kept for messages */
#define TAPE__BLOCK_TARGET (64u << 10) /* .tape: events block payload before a new block */
#define TAPE__BLOCK_MAX (TAPE_MAX_DATA + 4096u) /* .tape: largest block payload accepted */
#define TAPE__TEXT_MAX_LINE (2 * (size_t)TAPE_MAX_DATA + 1024) /* .tsv/.tsp: longest line */
#define TAPE__GOGETWAY_MAX_LINE 512u  /* gogetway: longest "FROM...TO" line */

#if defined(__GNUC__)
#define TAPE__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TAPE__PRINTF(a, b)
#endif

/* ---- varint.c: LEB128 unsigned varints (1 to 10 bytes for a uint64_t) ---- */
#define TAPE__VARINT_MAX 10u
/* Writes v at p (room for TAPE__VARINT_MAX bytes); returns bytes written. */
size_t tape__varint_put(uint8_t *p, uint64_t v);
/* Decodes from p[0..n); returns bytes used, 0 if n is too short, or
 * (size_t)-1 for an overlong or >64-bit encoding. */
size_t tape__varint_get(const uint8_t *p, size_t n, uint64_t *v);
size_t tape__varint_len(uint64_t v);

/* ---- crc32c.c: CRC-32C (Castagnoli, reflected 0x82F63B78) ---- */
/* Continues crc over p[0..n); start with crc = 0. */
uint32_t tape__crc32c(uint32_t crc, const void *p, size_t n);
/* The portable table-driven implementation (tape__crc32c uses SSE4.2 when
 * the CPU has it); exposed so tests check both give the same answers. */
uint32_t tape__crc32c_sw(uint32_t crc, const void *p, size_t n);

/* ---- hex.c ---- */
/* Writes 2n lower-case hex digits (no NUL). */
void tape__hex_encode(char *dst, const uint8_t *src, size_t n);
/* Decodes 2n hex digits of either case into n bytes; returns 0, or the
 * index (1-based) of the first bad character as a negative number. */
long tape__hex_decode(uint8_t *dst, const char *src, size_t n);

/* ---- io.c: buffered descriptor input and output with absolute offsets ---- */
struct tape__in {
	int fd;
	int own_fd;
	uint8_t *buf;
	size_t cap;    /* allocated */
	size_t pos;    /* first unconsumed byte */
	size_t len;    /* bytes valid in buf */
	uint64_t off;  /* absolute offset of buf[pos] */
	int eof;
	int err;       /* -errno of a failed read, sticky */
};
int tape__in_init(struct tape__in *in, int fd, int own_fd);
void tape__in_cleanup(struct tape__in *in);
/* Makes at least want bytes available at in->buf + in->pos (growing the
 * buffer up to max).  Returns the number available: less than want only at
 * end of input, or a negative -errno / TAPE_ELIMIT. */
long tape__in_need(struct tape__in *in, size_t want, size_t max);
static inline const uint8_t *tape__in_ptr(const struct tape__in *in) { return in->buf + in->pos; }
static inline size_t tape__in_avail(const struct tape__in *in) { return in->len - in->pos; }
void tape__in_skip(struct tape__in *in, size_t n);
/* Next line without its '\n' (a preceding '\r' is kept).  Returns 1 with
 * *line and *len set (valid until the next call), 0 at clean end of input, 2
 * when the input ends inside an unterminated line (the partial line is
 * returned), TAPE_ELIMIT when a line exceeds max, or -errno. */
int tape__in_line(struct tape__in *in, const char **line, size_t *len, size_t max);

struct tape__out {
	int fd;
	int own_fd;
	uint8_t *buf;
	size_t len, cap;
	uint64_t off; /* bytes handed to the OS so far */
	int err;      /* sticky -errno */
};
int tape__out_init(struct tape__out *out, int fd, int own_fd);
void tape__out_cleanup(struct tape__out *out);
int tape__out_write(struct tape__out *out, const void *p, size_t n);
int tape__out_flush(struct tape__out *out);

/* ---- check.c: the event-sequence rules every reader and writer enforces ---- */
struct tape__check {
	struct tape__conn_slot *slots; /* open-addressed map of live connections */
	size_t nslots, nlive, ntomb;
	uint64_t (*closed)[2];         /* sorted disjoint [lo, hi] ranges of closed ids */
	size_t nclosed, capclosed;
	uint64_t last_time;
	uint64_t events;
};
void tape__check_init(struct tape__check *c);
void tape__check_cleanup(struct tape__check *c);
/* Validates ev against the rules (fields in range, OPEN before use, unique
 * ids, nothing after CLOSE, no data after FIN or RST in that direction, time
 * never going backwards) and records it.  On failure returns TAPE_EFORMAT
 * (a field is invalid) or TAPE_ESEQ (out of sequence) with a message in err. */
int tape__check_event(struct tape__check *c, const struct tape_event *ev, char *err, size_t errlen);
/* Connections opened and not yet closed. */
size_t tape__check_live(const struct tape__check *c);

/* ---- format.c: the table of tape formats ---- */
struct tape_reader;
struct tape_writer;

struct tape__format {
	const char *name;           /* "tape", "tsv", "tsp" */
	const char *const *exts;    /* NULL-terminated list, without dots */
	/* 1 when buf[0..n) starts like this format.  n may be short. */
	int (*probe)(const uint8_t *buf, size_t n);
	/* Reader: open reads the header and metadata into r->meta; next returns
	 * 1/0/<0 like tape_reader_next() (validation is done by the caller). */
	int (*read_open)(struct tape_reader *r);
	int (*read_next)(struct tape_reader *r, struct tape_event *ev);
	void (*read_free)(struct tape_reader *r);
	/* Writer: open writes the header from w->meta; event writes one
	 * validated event; flush hands buffered records to w->out (the caller
	 * then flushes w->out); close finalises; free releases w->state. */
	int (*write_open)(struct tape_writer *w);
	int (*write_event)(struct tape_writer *w, const struct tape_event *ev);
	int (*write_flush)(struct tape_writer *w);
	int (*write_close)(struct tape_writer *w);
	void (*write_free)(struct tape_writer *w);
};

/* Probed in this order. */
extern const struct tape__format *const tape__formats[];
const struct tape__format *tape__format_by_name(const char *name);

extern const struct tape__format tape__format_tape;
extern const struct tape__format tape__format_tsv;
extern const struct tape__format tape__format_tsp;
extern const struct tape__format tape__format_pcap;
extern const struct tape__format tape__format_pcapng;
extern const struct tape__format tape__format_gogetway;

struct tape_reader {
	const struct tape__format *fmt;
	void *state;                /* backend's */
	struct tape__in in;
	struct tape_meta *meta;
	struct tape__check check;
	char name[TAPE__NAMELEN];
	char err[TAPE__ERRLEN];
	int err_code;               /* sticky once set */
	/* Where the event being returned starts: backends set one of these
	 * before returning an event, so validation errors can name it. */
	uint64_t loc_line;          /* 1-based line, 0 when not line-based */
	uint64_t loc_off;           /* byte offset */
	struct tape_reader_status st;
	const struct tape_capture_opts *capture_opts; /* while opening only; NULL: defaults */
};

struct tape_writer {
	const struct tape__format *fmt;
	void *state;
	struct tape__out out;
	struct tape_meta *meta;
	struct tape__check check;
	struct tape_writer_opts opts;
	uint64_t last_flush_ms;     /* monotonic, for TAPE_FLUSH_INTERVAL */
	uint64_t dropped;           /* events the format could not hold */
	int closed;
	char name[TAPE__NAMELEN];
	char err[TAPE__ERRLEN];
	int err_code;
};

/* tape_reader_open() with capture options for the pcap backend (borrowed
 * only during the call). */
int tape__reader_open_with(struct tape_reader **out, const char *path, const char *format,
			   const struct tape_capture_opts *copts);

/* Record an error on a handle and return code.  The _at form prefixes
 * "NAME: offset N: ", the _line form "NAME:N: ", the plain one "NAME: ". */
int tape__rerr(struct tape_reader *r, int code, const char *fmt, ...) TAPE__PRINTF(3, 4);
int tape__rerr_at(struct tape_reader *r, int code, uint64_t off, const char *fmt, ...)
	TAPE__PRINTF(4, 5);
int tape__rerr_line(struct tape_reader *r, int code, uint64_t line, const char *fmt, ...)
	TAPE__PRINTF(4, 5);
int tape__werr(struct tape_writer *w, int code, const char *fmt, ...) TAPE__PRINTF(3, 4);
/* Record that the last trailing bytes were dropped (incomplete record). */
void tape__reader_dropped(struct tape_reader *r, uint64_t bytes, const char *fmt, ...)
	TAPE__PRINTF(3, 4);

/* ---- model.c helpers for the text forms ---- */
/* Backslash escapes for notes and metadata values: \\ \t \n \r and \xHH
 * for other control bytes.  escape writes at most 4n bytes to dst and
 * returns the length; unescape decodes in place-safe fashion into dst (room
 * for n bytes) and returns the length or -1 - index of the bad escape. */
size_t tape__escape(char *dst, const uint8_t *src, size_t n);
long tape__unescape(uint8_t *dst, const char *src, size_t n);
/* Renders s[0..n) for an error message: printable ASCII as is, '"' and
 * '\\' with a backslash, other bytes as \xHH; input past TAPE__QUOTE_MAX
 * bytes is cut and marked "...".  buf needs TAPE__QUOTE_MAX * 4 + 8 bytes
 * to hold the longest rendering; returns buf. */
#define TAPE__QUOTE_MAX 40u
#define TAPE__QUOTE_BUF (TAPE__QUOTE_MAX * 4 + 8)
const char *tape__quote(char *buf, size_t size, const char *s, size_t n);
/* Monotonic milliseconds. */
uint64_t tape__now_ms(void);

#endif /* TAPE_INT_H */
