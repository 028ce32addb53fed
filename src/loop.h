/* SPDX-License-Identifier: BSD-2-Clause */
/* loop.h - the library's event loop: an epoll reactor with nanosecond timers, non-blocking TCP streams and listeners. */
#ifndef TAPE_LOOP_H
#define TAPE_LOOP_H

/*
 * One loop per thread, no locking.  Everything the loop calls back runs on
 * the thread inside tape__loop_run().  The design and the reasons (why not
 * libuv, why timerfd and a short spin) are in doc/design/loop.md.
 *
 *   timers     caller-owned struct tape__timer in a binary min-heap, ordered
 *              by an absolute CLOCK_MONOTONIC due time in ns; the loop
 *              sleeps in epoll_wait() on a timerfd armed at the earliest due
 *              time (hrtimer precision, no timer slack), then spins the last
 *              spin_ns when asked to (tape__loop_set_spin()).
 *   streams    connected non-blocking TCP sockets: connect with a timeout,
 *              reads into one shared buffer handed to a callback, writes
 *              tried at once and the remainder queued (capped per stream),
 *              half-close after the queue drains, graceful or abortive close.
 *   listeners  accept(2) in a loop, each new socket handed to a callback.
 *
 * Handles closed from a callback are freed after the current batch of
 * events, so a callback may close any stream, including its own, and the
 * loop never touches freed memory.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tapedeck.h"

/* Caps. */
#define TAPE__LOOP_MAX_TIMERS (1u << 22)   /* timers armed at once */
#define TAPE__LOOP_READ_BUF (256u << 10)   /* shared read buffer: most bytes one read() returns */
#define TAPE__LOOP_READS_PER_WAKE 8u       /* reads of one stream per wakeup, for fairness */
#define TAPE__LOOP_EVENTS 256u             /* epoll events fetched at once */
#define TAPE__STREAM_WQ_DEFAULT (16u << 20) /* default cap of a stream's write queue */
#define TAPE__STREAM_WQ_MAX (1u << 30)     /* largest write queue cap accepted */
#define TAPE__LOOP_MAX_SPIN_NS 2000000u    /* longest busy-wait before a due timer */

/* Monotonic clock (CLOCK_MONOTONIC) in nanoseconds. */
uint64_t tape__clock_ns(void);

struct tape__loop;

/* Creates a loop (an epoll instance, a timerfd and an eventfd for
 * tape__loop_wakeup()).  0, or -errno / -ENOMEM. */
int tape__loop_new(struct tape__loop **out);
/* Frees the loop and every stream and listener still open on it (their
 * sockets are closed, no callbacks run).  Timers are caller-owned and
 * simply forgotten.  Accepts NULL. */
void tape__loop_free(struct tape__loop *l);
/* Runs until tape__loop_stop() is called or nothing is left to wait for (no
 * armed timer, no stream, no listener).  Returns 0, or -errno when
 * epoll_wait() fails for a reason other than EINTR. */
int tape__loop_run(struct tape__loop *l);
/* Makes tape__loop_run() return after the current batch of events. */
void tape__loop_stop(struct tape__loop *l);
/* Like tape__loop_stop(), but async-signal-safe and callable from another
 * thread: wakes the loop through its eventfd. */
void tape__loop_wakeup_stop(struct tape__loop *l);
/* Busy-wait (poll without sleeping) when the earliest timer is due within
 * spin_ns, for sub-100-microsecond timer accuracy at the cost of CPU; 0
 * (the default) never spins.  Capped at TAPE__LOOP_MAX_SPIN_NS. */
void tape__loop_set_spin(struct tape__loop *l, uint64_t spin_ns);

/* ---- timers ---------------------------------------------------------------- */
struct tape__timer;
typedef void (*tape__timer_fn)(struct tape__timer *t, void *arg);

/* Caller-owned; initialise once with tape__timer_init().  The fields are
 * the loop's. */
struct tape__timer {
	uint64_t due_ns;
	uint64_t seq; /* arming order, for ties */
	size_t slot;  /* index in the heap + 1; 0 when not armed */
	tape__timer_fn fn;
	void *arg;
};

void tape__timer_init(struct tape__timer *t, tape__timer_fn fn, void *arg);
/* Arms (or re-arms) t to fire once at the absolute monotonic time due_ns
 * (tape__clock_ns() scale; a time in the past fires on the next turn of
 * the loop).  Timers due at the same time fire in the order they were
 * armed.  0, -ENOMEM, or TAPE_ELIMIT past TAPE__LOOP_MAX_TIMERS. */
int tape__timer_start(struct tape__loop *l, struct tape__timer *t, uint64_t due_ns);
/* Disarms t; harmless when it is not armed. */
void tape__timer_stop(struct tape__loop *l, struct tape__timer *t);
static inline int tape__timer_armed(const struct tape__timer *t) { return t->slot != 0; }

/* ---- streams --------------------------------------------------------------- */
struct tape__stream;

/* What a stream reports.  Every callback may be NULL.  After error, or
 * after tape__stream_close()/tape__stream_abort(), no further callback runs
 * for that stream. */
struct tape__stream_cbs {
	/* connect finished: err 0, or -errno (-ETIMEDOUT after the connect
	 * timeout).  On error the stream is closed by the loop afterwards. */
	void (*connected)(struct tape__stream *s, int err, void *arg);
	/* bytes read; p is the loop's shared buffer, valid during the call. */
	void (*data)(struct tape__stream *s, const uint8_t *p, size_t n, void *arg);
	/* the peer ended its sending (read returned 0); reading stops, writing
	 * may go on. */
	void (*eof)(struct tape__stream *s, void *arg);
	/* a socket error (-ECONNRESET, -EPIPE...) on read or write; the stream
	 * is closed by the loop afterwards. */
	void (*error)(struct tape__stream *s, int err, void *arg);
	/* the write queue became empty after having held bytes. */
	void (*drained)(struct tape__stream *s, void *arg);
};

struct tape__stream_opts {
	size_t wq_max;               /* write queue cap; 0: TAPE__STREAM_WQ_DEFAULT */
	int nodelay;                 /* set TCP_NODELAY */
	uint64_t connect_timeout_ns; /* 0: the kernel's */
};

/* Starts a non-blocking connect to sa.  The stream exists at once (it can
 * be written to: bytes are queued until connected); the result comes
 * through cbs->connected.  0, or -errno when no socket could be made or the
 * connect failed at once other than with EINPROGRESS (ECONNREFUSED on
 * loopback often does): *out is then NULL.  cbs is copied; arg is
 * borrowed. */
int tape__stream_connect(struct tape__loop *l, struct tape__stream **out, const struct sockaddr *sa,
			 socklen_t salen, const struct tape__stream_opts *o,
			 const struct tape__stream_cbs *cbs, void *arg);
/* Wraps an already connected socket (from a listener); the stream owns fd
 * from then on, also on failure.  0, or -errno. */
int tape__stream_adopt(struct tape__loop *l, struct tape__stream **out, int fd,
		       const struct tape__stream_opts *o, const struct tape__stream_cbs *cbs, void *arg);
/* Sends p[0..n): writes what the socket takes now and queues a copy of the
 * rest.  0; TAPE_ELIMIT when the queue would pass its cap (nothing queued);
 * TAPE_EUSAGE after shutdown or close; or the stream's sticky -errno. */
int tape__stream_write(struct tape__stream *s, const void *p, size_t n);
/* Bytes queued and not yet handed to the kernel. */
size_t tape__stream_queued(const struct tape__stream *s);
/* Half-close: shutdown(SHUT_WR) once the write queue is empty (now when it
 * is).  0 or -errno. */
int tape__stream_shutdown(struct tape__stream *s);
/* Stops or resumes reading (back-pressure). */
void tape__stream_read_stop(struct tape__stream *s);
void tape__stream_read_start(struct tape__stream *s);
/* Closes the socket now (queued bytes are dropped; the kernel sends what it
 * already took, then FIN) and frees the stream after the current batch. */
void tape__stream_close(struct tape__stream *s);
/* Abortive close: SO_LINGER 0, so the peer gets an RST. */
void tape__stream_abort(struct tape__stream *s);
/* The socket, for getsockname() and the like. */
int tape__stream_fd(const struct tape__stream *s);
/* Changes the argument passed to the callbacks. */
void tape__stream_set_arg(struct tape__stream *s, void *arg);

/* ---- listeners ------------------------------------------------------------- */
struct tape__listener;

/* Called with each accepted socket (non-blocking, close-on-exec), which the
 * callback owns: adopt it or close it. */
typedef void (*tape__accept_fn)(struct tape__listener *ls, int fd, const struct sockaddr *peer,
				socklen_t peerlen, void *arg);

/* Binds sa (port 0: any free port) with SO_REUSEADDR and listens.  0, or
 * -errno. */
int tape__listener_new(struct tape__loop *l, struct tape__listener **out, const struct sockaddr *sa,
		       socklen_t salen, int backlog, tape__accept_fn fn, void *arg);
/* The bound port (host byte order). */
uint16_t tape__listener_port(const struct tape__listener *ls);
/* Stops listening and frees after the current batch; accepts NULL. */
void tape__listener_close(struct tape__listener *ls);

/* ---- addresses ------------------------------------------------------------- */
/* An endpoint as a sockaddr_in/sockaddr_in6 in ss; returns its length, or 0
 * for an endpoint of unknown family. */
socklen_t tape__endpoint_to_sockaddr(const struct tape_endpoint *ep, struct sockaddr_storage *ss);
/* The reverse; 0 or TAPE_EUSAGE for other families. */
int tape__endpoint_from_sockaddr(struct tape_endpoint *ep, const struct sockaddr *sa);

#endif
