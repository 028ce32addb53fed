/* SPDX-License-Identifier: BSD-2-Clause */
/* framing.h - message framing codecs: cut a TCP byte stream into whole messages and put them back on the wire. */
#ifndef TAPE_FRAMING_H
#define TAPE_FRAMING_H

/*
 * A table of small backends, chosen by a spec string:
 *
 *   raw        the byte stream, one message per chunk as it was read
 *   line       newline-terminated lines, the '\n' (and any '\r') kept
 *   len:N      <N-byte big-endian payload length><payload>, N in 1..16
 *              (Trace Stream Proxy's framing; "len" alone is len:8).  The
 *              message is the payload only; the encoder regenerates the
 *              header.  Payloads above max_payload are refused.
 *   http1      HTTP/1.x requests or responses (RFC 9112): head, then a
 *              body by Content-Length, chunked transfer coding (with
 *              trailers) or, for a response, until the connection closes;
 *              1xx, 204, 304 and responses to HEAD have none.  The message
 *              is the whole wire form.  A response decoder linked to the
 *              request decoder of the same connection learns the request
 *              methods in order, so pipelining works.
 *   iso8583    <2-byte big-endian length><message>; the message includes
 *              its length header (identity encoding).
 *
 * Decoders accept arbitrary chunks (short reads) and call back once per
 * whole message with a pointer valid during the call.  They allocate one
 * buffer, grown up to the cap; they never print.
 */

#include <stddef.h>
#include <stdint.h>

#include "tapedeck.h"

/* Caps. */
#define TAPE__FRAMING_MAX_PAYLOAD_DEFAULT (16u << 20) /* len:N cap, as Trace Stream Proxy */
#define TAPE__FRAMING_MAX_HEAD (64u << 10)            /* http1 head, chunk-size and trailer lines */
#define TAPE__FRAMING_MAX_PAYLOAD (TAPE_MAX_DATA - TAPE__FRAMING_MAX_HEAD) /* largest cap accepted */
#define TAPE__FRAMING_MAX_PIPELINE 4096u              /* http1 requests awaiting their response */
#define TAPE__FRAMING_MAX_HDR 16u                     /* len:N header bytes */
#define TAPE__FRAMING_ERRLEN 256u

enum tape__framing_kind {
	TAPE__FRAMING_RAW = 0,
	TAPE__FRAMING_LINE,
	TAPE__FRAMING_LEN,
	TAPE__FRAMING_HTTP1,
	TAPE__FRAMING_ISO8583,
};

/* A parsed spec. */
struct tape__framing {
	enum tape__framing_kind kind;
	unsigned hdr_len;     /* len:N: N */
	size_t max_payload;   /* message cap (len:N: payload; others: whole message) */
};

/* Parses "raw", "line", "len", "len:N", "http1" or "iso8583" into f with
 * max_payload set to the default.  0, or TAPE_EUSAGE with the reason in
 * err. */
int tape__framing_parse(struct tape__framing *f, const char *spec, char *err, size_t errlen);
/* The spec string of f ("len:8"), in buf. */
const char *tape__framing_name(const struct tape__framing *f, char *buf, size_t size);
/* 1 when messages are the payload only and the encoder adds bytes. */
int tape__framing_has_header(const struct tape__framing *f);
/* The bytes to send before message p[0..n) (len:N: the length header;
 * others: none): writes *hdr_len bytes to hdr (room for
 * TAPE__FRAMING_MAX_HDR).  0, or TAPE_ELIMIT when n does not fit the
 * header or passes the cap. */
int tape__framing_encode(const struct tape__framing *f, size_t n, uint8_t *hdr, size_t *hdr_len);

/* Called with each whole message; p is valid during the call.  Returns 0,
 * or a negative error that stops the feed and is returned by it. */
typedef int (*tape__frame_fn)(void *arg, const uint8_t *p, size_t n);

struct tape__deframer;

/* A decoder for one direction of one connection.  dir says whether it
 * reads requests (TAPE_C2S) or responses (TAPE_S2C) for http1.  f is
 * copied.  0 or -ENOMEM. */
int tape__deframer_new(struct tape__deframer **out, const struct tape__framing *f, enum tape_dir dir);
/* Accepts NULL. */
void tape__deframer_free(struct tape__deframer *d);
/* http1: the request decoder req tells the response decoder resp the
 * method of every request it decodes (HEAD responses have no body).  Both
 * must outlive their use; unlinking is by freeing either last. */
void tape__deframer_link(struct tape__deframer *req, struct tape__deframer *resp);
/* Feeds p[0..n).  Returns 0, the callback's error, or TAPE_ELIMIT (a
 * message over the cap) / TAPE_EFORMAT (unparsable) with the reason in
 * tape__deframer_error(); errors are sticky. */
int tape__deframer_feed(struct tape__deframer *d, const uint8_t *p, size_t n, tape__frame_fn fn,
			void *arg);
/* The peer ended the stream: delivers what EOF completes (an http1
 * response delimited by the close, a last line without '\n').  0, the
 * callback's error, or TAPE_ETRUNC when the stream ended inside a
 * message. */
int tape__deframer_finish(struct tape__deframer *d, tape__frame_fn fn, void *arg);
/* Bytes held waiting for the rest of a message. */
size_t tape__deframer_pending(const struct tape__deframer *d);
/* Detail of the last error; "" if none. */
const char *tape__deframer_error(const struct tape__deframer *d);

#endif
