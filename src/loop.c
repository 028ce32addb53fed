/* SPDX-License-Identifier: BSD-2-Clause */
/* loop.c - the epoll reactor: timer heap on a timerfd, non-blocking TCP streams with capped write queues, listeners. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "tape-int.h"

/* What an epoll registration points at: the first member of each handle. */
enum watch_kind { W_TIMERFD, W_WAKE, W_STREAM, W_LISTENER };

struct watch {
	int fd;
	enum watch_kind kind;
	uint32_t events; /* registered interest; 0 when not in the epoll set */
	void *owner;     /* the stream or listener */
};

struct tape__stream {
	struct watch w;
	struct tape__loop *loop;
	struct tape__stream_cbs cbs;
	void *arg;
	size_t wq_max;
	uint8_t *wq; /* queued bytes are wq[head .. head + len) */
	size_t wq_head, wq_len, wq_cap;
	int connecting, eof, paused, shut_pending, shut_done, closed;
	int err; /* sticky -errno */
	struct tape__timer ctimer; /* connect timeout, or an immediate connect's report */
	int connect_result;        /* for the deferred report */
	struct tape__stream *prev, *next; /* live list, then the dead list */
};

struct tape__listener {
	struct watch w;
	struct tape__loop *loop;
	tape__accept_fn fn;
	void *arg;
	uint16_t port;
	int closed;
	struct tape__timer retry; /* out of descriptors: accepting pauses */
	struct tape__listener *prev, *next;
};

struct tape__loop {
	int ep;
	struct watch tw; /* the timerfd */
	struct watch ew; /* the eventfd */
	struct tape__timer **heap;
	size_t nheap, capheap;
	uint64_t seq;
	uint64_t armed_ns; /* absolute time the timerfd is set to; UINT64_MAX when not */
	uint64_t spin_ns;
	volatile int stop;
	uint8_t *rbuf;
	struct tape__stream *streams, *dead_streams;
	struct tape__listener *listeners, *dead_listeners;
};

/* Pause after accept() runs out of descriptors, so a level-triggered
 * listener does not spin. */
#define ACCEPT_RETRY_NS 10000000u

/* CLOCK_MONOTONIC now, in nanoseconds: the time base of every due time. */
uint64_t tape__clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- epoll registrations -------------------------------------------------- */

/* Makes the registration of w match want (0: out of the set, since epoll
 * reports HUP and ERR even for an empty interest). */
static int watch_set(struct tape__loop *l, struct watch *w, uint32_t want)
{
	struct epoll_event ev;
	int op;

	if (want == w->events)
		return 0;
	memset(&ev, 0, sizeof ev);
	ev.events = want;
	ev.data.ptr = w;
	if (!want)
		op = EPOLL_CTL_DEL;
	else if (!w->events)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(l->ep, op, w->fd, &ev) != 0)
		return -errno;
	w->events = want;
	return 0;
}

/* ---- timers ----------------------------------------------------------------- */

static int timer_before(const struct tape__timer *a, const struct tape__timer *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_place(struct tape__loop *l, size_t i, struct tape__timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct tape__loop *l, size_t i)
{
	struct tape__timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(t, l->heap[parent]))
			break;
		heap_place(l, i, l->heap[parent]);
		i = parent;
	}
	heap_place(l, i, t);
}

static void sift_down(struct tape__loop *l, size_t i)
{
	struct tape__timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

/* Zeroes t and binds its callback; t is not armed. */
void tape__timer_init(struct tape__timer *t, tape__timer_fn fn, void *arg)
{
	memset(t, 0, sizeof *t);
	t->fn = fn;
	t->arg = arg;
}

/* Takes t out of the heap (O(log n)); harmless when it is not armed. */
void tape__timer_stop(struct tape__loop *l, struct tape__timer *t)
{
	size_t i;

	if (!t->slot)
		return;
	i = t->slot - 1;
	t->slot = 0;
	l->nheap--;
	if (i == l->nheap)
		return;
	heap_place(l, i, l->heap[l->nheap]);
	if (i > 0 && timer_before(l->heap[i], l->heap[(i - 1) / 2]))
		sift_up(l, i);
	else
		sift_down(l, i);
}

/* Arms t at an absolute due time, re-arming it if armed; fails only when
 * the heap cannot grow (TAPE_ELIMIT past TAPE__LOOP_MAX_TIMERS, -ENOMEM). */
int tape__timer_start(struct tape__loop *l, struct tape__timer *t, uint64_t due_ns)
{
	tape__timer_stop(l, t);
	if (l->nheap == l->capheap) {
		size_t ncap = l->capheap ? l->capheap * 2 : 64;
		struct tape__timer **nh;
		if (l->capheap >= TAPE__LOOP_MAX_TIMERS)
			return TAPE_ELIMIT;
		if (ncap > TAPE__LOOP_MAX_TIMERS)
			ncap = TAPE__LOOP_MAX_TIMERS;
		nh = realloc(l->heap, ncap * sizeof *nh);
		if (!nh)
			return -ENOMEM;
		l->heap = nh;
		l->capheap = ncap;
	}
	t->due_ns = due_ns;
	t->seq = l->seq++;
	heap_place(l, l->nheap++, t);
	sift_up(l, l->nheap - 1);
	return 0;
}

/* Fires the timers due by now that were armed before this turn began, so a
 * callback re-arming itself in the past cannot starve the sockets. */
static void run_timers(struct tape__loop *l)
{
	uint64_t now = tape__clock_ns(), limit = l->seq;

	while (l->nheap && !l->stop) {
		struct tape__timer *t = l->heap[0];
		if (t->due_ns > now || t->seq >= limit)
			break;
		tape__timer_stop(l, t);
		t->fn(t, t->arg);
	}
}

/* Sets the timerfd to fire at the absolute time at (UINT64_MAX: never). */
static void arm_timerfd(struct tape__loop *l, uint64_t at)
{
	struct itimerspec its;

	if (at == l->armed_ns)
		return;
	memset(&its, 0, sizeof its);
	if (at != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(at / 1000000000u);
		its.it_value.tv_nsec = (long)(at % 1000000000u);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1; /* all-zero would disarm */
	}
	if (timerfd_settime(l->tw.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		l->armed_ns = at;
}

/* ---- the loop ---------------------------------------------------------------- */

/* Creates the epoll set with its timerfd and eventfd; on failure nothing
 * is left open and *out is NULL. */
int tape__loop_new(struct tape__loop **out)
{
	struct tape__loop *l = calloc(1, sizeof *l);
	int rc;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->ep = l->tw.fd = l->ew.fd = -1;
	l->armed_ns = UINT64_MAX;
	l->rbuf = malloc(TAPE__LOOP_READ_BUF);
	if (!l->rbuf) {
		rc = -ENOMEM;
		goto fail;
	}
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->tw.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	l->ew.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->ep < 0 || l->tw.fd < 0 || l->ew.fd < 0) {
		rc = -errno;
		goto fail;
	}
	l->tw.kind = W_TIMERFD;
	l->ew.kind = W_WAKE;
	if ((rc = watch_set(l, &l->tw, EPOLLIN)) || (rc = watch_set(l, &l->ew, EPOLLIN)))
		goto fail;
	*out = l;
	return 0;
fail:
	tape__loop_free(l);
	return rc;
}

static void stream_release(struct tape__stream *s)
{
	free(s->wq);
	free(s);
}

static void free_dead(struct tape__loop *l)
{
	while (l->dead_streams) {
		struct tape__stream *s = l->dead_streams;
		l->dead_streams = s->next;
		stream_release(s);
	}
	while (l->dead_listeners) {
		struct tape__listener *ls = l->dead_listeners;
		l->dead_listeners = ls->next;
		free(ls);
	}
}

/* Closes every stream and listener left (no callbacks), frees the loop;
 * accepts NULL.  Caller-owned timers are forgotten, not touched. */
void tape__loop_free(struct tape__loop *l)
{
	if (!l)
		return;
	while (l->streams)
		tape__stream_close(l->streams);
	while (l->listeners)
		tape__listener_close(l->listeners);
	free_dead(l);
	if (l->ep >= 0)
		close(l->ep);
	if (l->tw.fd >= 0)
		close(l->tw.fd);
	if (l->ew.fd >= 0)
		close(l->ew.fd);
	free(l->heap);
	free(l->rbuf);
	free(l);
}

/* Ends tape__loop_run() after the batch being handled. */
void tape__loop_stop(struct tape__loop *l)
{
	l->stop = 1;
}

/* Async-signal-safe stop: a flag and an eventfd write. */
void tape__loop_wakeup_stop(struct tape__loop *l)
{
	uint64_t one = 1;
	ssize_t n;

	l->stop = 1;
	n = write(l->ew.fd, &one, sizeof one);
	(void)n;
}

/* How long before a due timer the loop stops sleeping and polls; capped. */
void tape__loop_set_spin(struct tape__loop *l, uint64_t spin_ns)
{
	l->spin_ns = spin_ns > TAPE__LOOP_MAX_SPIN_NS ? TAPE__LOOP_MAX_SPIN_NS : spin_ns;
}

static void stream_event(struct tape__stream *s, uint32_t ev);
static void listener_event(struct tape__listener *ls);
static int stream_flush(struct tape__stream *s);

/* The reactor: fire due timers, free closed handles, sleep in epoll_wait()
 * on the timerfd (or poll while spinning), dispatch.  Returns 0 when stopped
 * or idle, -errno if epoll_wait() fails. */
int tape__loop_run(struct tape__loop *l)
{
	struct epoll_event evs[TAPE__LOOP_EVENTS];
	uint64_t drain;

	l->stop = 0;
	for (;;) {
		int timeout = -1, n;

		run_timers(l);
		free_dead(l);
		if (l->stop)
			break;
		if (!l->nheap && !l->streams && !l->listeners)
			break;
		if (l->nheap) {
			uint64_t due = l->heap[0]->due_ns, now = tape__clock_ns();
			if (due <= now + l->spin_ns)
				timeout = 0; /* due, or close enough to spin */
			else
				arm_timerfd(l, due - l->spin_ns);
		}
		n = epoll_wait(l->ep, evs, TAPE__LOOP_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct watch *w = evs[i].data.ptr;
			switch (w->kind) {
			case W_TIMERFD:
				if (read(w->fd, &drain, sizeof drain) == (ssize_t)sizeof drain)
					l->armed_ns = UINT64_MAX;
				break;
			case W_WAKE:
				if (read(w->fd, &drain, sizeof drain) < 0)
					break;
				break;
			case W_STREAM:
				stream_event(w->owner, evs[i].events);
				break;
			case W_LISTENER:
				listener_event(w->owner);
				break;
			}
		}
		free_dead(l);
		if (l->stop)
			break;
	}
	free_dead(l);
	return 0;
}

/* ---- streams ------------------------------------------------------------------ */

static uint32_t stream_interest(const struct tape__stream *s)
{
	uint32_t want = 0;

	if (s->closed)
		return 0;
	if (s->connecting || s->wq_len)
		want |= EPOLLOUT;
	if (!s->connecting && !s->eof && !s->paused)
		want |= EPOLLIN;
	return want;
}

static void stream_update(struct tape__stream *s)
{
	int rc = watch_set(s->loop, &s->w, stream_interest(s));
	if (rc && !s->err)
		s->err = rc;
}

/* Unlinks s from the live list and puts it on the dead one. */
static void stream_bury(struct tape__stream *s)
{
	struct tape__loop *l = s->loop;

	if (s->prev)
		s->prev->next = s->next;
	else
		l->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = NULL;
	s->next = l->dead_streams;
	l->dead_streams = s;
}

static void stream_shut_close(struct tape__stream *s, int abortive)
{
	if (s->closed)
		return;
	s->closed = 1;
	tape__timer_stop(s->loop, &s->ctimer);
	watch_set(s->loop, &s->w, 0);
	if (abortive) {
		struct linger lg = {1, 0};
		setsockopt(s->w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	close(s->w.fd);
	s->w.fd = -1;
	stream_bury(s);
}

/* Graceful close now; the memory goes after the current batch. */
void tape__stream_close(struct tape__stream *s)
{
	if (s)
		stream_shut_close(s, 0);
}

/* Close with SO_LINGER 0: the peer sees a reset. */
void tape__stream_abort(struct tape__stream *s)
{
	if (s)
		stream_shut_close(s, 1);
}

/* Reports a socket error and closes the stream. */
static void stream_fail(struct tape__stream *s, int err)
{
	if (s->closed)
		return;
	s->err = err;
	if (s->cbs.error)
		s->cbs.error(s, err, s->arg);
	tape__stream_close(s);
}

static void connect_done(struct tape__stream *s, int err)
{
	tape__timer_stop(s->loop, &s->ctimer);
	s->connecting = 0;
	if (!err)
		err = stream_flush(s);
	if (err) {
		s->err = err;
		if (s->cbs.connected)
			s->cbs.connected(s, err, s->arg);
		tape__stream_close(s);
		return;
	}
	stream_update(s);
	if (s->cbs.connected)
		s->cbs.connected(s, 0, s->arg);
}

static void ctimer_fired(struct tape__timer *t, void *arg)
{
	struct tape__stream *s = arg;

	(void)t;
	if (s->connecting)
		connect_done(s, s->connect_result);
}

/* Hands queued bytes to the kernel; 0, or -errno for a failed send. */
static int stream_flush(struct tape__stream *s)
{
	while (s->wq_len) {
		ssize_t n = send(s->w.fd, s->wq + s->wq_head, s->wq_len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		s->wq_head += (size_t)n;
		s->wq_len -= (size_t)n;
	}
	s->wq_head = 0;
	if (s->wq_cap > (256u << 10)) { /* give a burst's memory back */
		free(s->wq);
		s->wq = NULL;
		s->wq_cap = 0;
	}
	if (s->shut_pending && !s->shut_done) {
		s->shut_done = 1;
		if (shutdown(s->w.fd, SHUT_WR) != 0)
			return -errno;
	}
	return 0;
}

static void stream_writable(struct tape__stream *s)
{
	int had = s->wq_len != 0, rc = stream_flush(s);

	if (rc) {
		stream_fail(s, rc);
		return;
	}
	stream_update(s);
	if (had && !s->wq_len && s->cbs.drained)
		s->cbs.drained(s, s->arg);
}

static void stream_readable(struct tape__stream *s)
{
	struct tape__loop *l = s->loop;

	for (unsigned i = 0; i < TAPE__LOOP_READS_PER_WAKE && !s->closed && !s->eof && !s->paused; i++) {
		ssize_t n = recv(s->w.fd, l->rbuf, TAPE__LOOP_READ_BUF, 0);
		if (n > 0) {
			if (s->cbs.data)
				s->cbs.data(s, l->rbuf, (size_t)n, s->arg);
			if ((size_t)n < TAPE__LOOP_READ_BUF)
				break; /* most likely drained: let epoll say */
			continue;
		}
		if (n == 0) {
			s->eof = 1;
			stream_update(s);
			if (s->cbs.eof)
				s->cbs.eof(s, s->arg);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			stream_fail(s, -errno);
		return;
	}
}

static void stream_event(struct tape__stream *s, uint32_t ev)
{
	if (s->closed)
		return;
	if (s->connecting) {
		int err = 0;
		socklen_t len = sizeof err;
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(s->w.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		connect_done(s, -err);
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (!s->eof && !s->paused)
			stream_readable(s);
		else if (ev & (EPOLLHUP | EPOLLERR)) {
			int err = 0;
			socklen_t len = sizeof err;
			if (getsockopt(s->w.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
				stream_fail(s, -err);
				return;
			}
			/* Hung up with nothing to read or write: leave the
			 * epoll set until the caller acts. */
			if (!s->wq_len)
				watch_set(s->loop, &s->w, 0);
		}
	}
	if (!s->closed && (ev & EPOLLOUT))
		stream_writable(s);
}

static int stream_make(struct tape__loop *l, struct tape__stream **out, int fd,
		       const struct tape__stream_opts *o, const struct tape__stream_cbs *cbs, void *arg)
{
	struct tape__stream *s = calloc(1, sizeof *s);

	if (!s)
		return -ENOMEM;
	s->w.fd = fd;
	s->w.kind = W_STREAM;
	s->w.owner = s;
	s->loop = l;
	if (cbs)
		s->cbs = *cbs;
	s->arg = arg;
	s->wq_max = o && o->wq_max ? o->wq_max : TAPE__STREAM_WQ_DEFAULT;
	if (s->wq_max > TAPE__STREAM_WQ_MAX)
		s->wq_max = TAPE__STREAM_WQ_MAX;
	tape__timer_init(&s->ctimer, ctimer_fired, s);
	if (o && o->nodelay) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	s->next = l->streams;
	if (l->streams)
		l->streams->prev = s;
	l->streams = s;
	*out = s;
	return 0;
}

int tape__stream_connect(struct tape__loop *l, struct tape__stream **out, const struct sockaddr *sa,
			 socklen_t salen, const struct tape__stream_opts *o,
			 const struct tape__stream_cbs *cbs, void *arg)
{
	struct tape__stream *s;
	int fd, rc;

	*out = NULL;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = stream_make(l, &s, fd, o, cbs, arg);
	if (rc) {
		close(fd);
		return rc;
	}
	s->connecting = 1;
	if (connect(fd, sa, salen) == 0) {
		/* Connected at once: report it from the loop, not from here. */
		s->connect_result = 0;
		rc = tape__timer_start(l, &s->ctimer, 0);
	} else if (errno == EINPROGRESS || errno == EINTR) {
		rc = watch_set(l, &s->w, EPOLLOUT);
		if (!rc && o && o->connect_timeout_ns) {
			s->connect_result = -ETIMEDOUT;
			rc = tape__timer_start(l, &s->ctimer, tape__clock_ns() + o->connect_timeout_ns);
		}
	} else {
		rc = -errno;
	}
	if (rc) {
		s->cbs.connected = NULL;
		tape__stream_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

int tape__stream_adopt(struct tape__loop *l, struct tape__stream **out, int fd,
		       const struct tape__stream_opts *o, const struct tape__stream_cbs *cbs, void *arg)
{
	struct tape__stream *s;
	int rc, fl;

	*out = NULL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = stream_make(l, &s, fd, o, cbs, arg);
	if (rc) {
		close(fd);
		return rc;
	}
	stream_update(s);
	if (s->err) {
		rc = s->err;
		tape__stream_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Appends p[0..n) to the queue, compacting or growing it. */
static int queue_append(struct tape__stream *s, const uint8_t *p, size_t n)
{
	if (s->wq_head + s->wq_len + n > s->wq_cap) {
		if (s->wq_len + n <= s->wq_cap) {
			memmove(s->wq, s->wq + s->wq_head, s->wq_len);
		} else {
			size_t ncap = s->wq_cap ? s->wq_cap : 4096;
			uint8_t *nb;
			while (ncap < s->wq_len + n)
				ncap *= 2;
			nb = malloc(ncap);
			if (!nb)
				return -ENOMEM;
			if (s->wq_len)
				memcpy(nb, s->wq + s->wq_head, s->wq_len);
			free(s->wq);
			s->wq = nb;
			s->wq_cap = ncap;
		}
		s->wq_head = 0;
	}
	memcpy(s->wq + s->wq_head + s->wq_len, p, n);
	s->wq_len += n;
	return 0;
}

/* Direct send first, the rest queued within the cap (all or nothing);
 * see loop.h for the results. */
int tape__stream_write(struct tape__stream *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	int rc;

	if (s->err)
		return s->err;
	if (s->closed || s->shut_pending)
		return TAPE_EUSAGE;
	if (s->wq_len + n > s->wq_max)
		return TAPE_ELIMIT;
	if (!s->connecting && !s->wq_len) {
		while (n) {
			ssize_t k = send(s->w.fd, b, n, MSG_NOSIGNAL);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				s->err = -errno;
				return s->err;
			}
			b += k;
			n -= (size_t)k;
		}
		if (!n)
			return 0;
	}
	rc = queue_append(s, b, n);
	if (rc)
		return rc;
	stream_update(s);
	return s->err;
}

/* Bytes still in the write queue. */
size_t tape__stream_queued(const struct tape__stream *s)
{
	return s->wq_len;
}

/* Half-close, deferred until the write queue is empty. */
int tape__stream_shutdown(struct tape__stream *s)
{
	if (s->err)
		return s->err;
	if (s->closed)
		return TAPE_EUSAGE;
	if (s->shut_pending)
		return 0;
	s->shut_pending = 1;
	if (!s->connecting && !s->wq_len) {
		s->shut_done = 1;
		if (shutdown(s->w.fd, SHUT_WR) != 0)
			return s->err = -errno;
	}
	return 0;
}

/* Stops reading (back-pressure) until tape__stream_read_start(). */
void tape__stream_read_stop(struct tape__stream *s)
{
	s->paused = 1;
	stream_update(s);
}

/* Resumes reading after tape__stream_read_stop(). */
void tape__stream_read_start(struct tape__stream *s)
{
	s->paused = 0;
	stream_update(s);
}

/* The stream's socket, still owned by the stream. */
int tape__stream_fd(const struct tape__stream *s)
{
	return s->w.fd;
}

/* Replaces the argument given to the stream's callbacks. */
void tape__stream_set_arg(struct tape__stream *s, void *arg)
{
	s->arg = arg;
}

/* ---- listeners -------------------------------------------------------------------- */

static void retry_fired(struct tape__timer *t, void *arg)
{
	struct tape__listener *ls = arg;

	(void)t;
	if (!ls->closed)
		watch_set(ls->loop, &ls->w, EPOLLIN);
}

static void listener_event(struct tape__listener *ls)
{
	for (int i = 0; i < 64 && !ls->closed; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(ls->w.fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				watch_set(ls->loop, &ls->w, 0);
				tape__timer_start(ls->loop, &ls->retry, tape__clock_ns() + ACCEPT_RETRY_NS);
			}
			return;
		}
		ls->fn(ls, fd, (struct sockaddr *)&ss, len, ls->arg);
	}
}

int tape__listener_new(struct tape__loop *l, struct tape__listener **out, const struct sockaddr *sa,
		       socklen_t salen, int backlog, tape__accept_fn fn, void *arg)
{
	struct tape__listener *ls;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	int fd, one = 1, rc;

	*out = NULL;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, sa, salen) != 0 || listen(fd, backlog > 0 ? backlog : SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	ls = calloc(1, sizeof *ls);
	if (!ls) {
		close(fd);
		return -ENOMEM;
	}
	ls->w.fd = fd;
	ls->w.kind = W_LISTENER;
	ls->w.owner = ls;
	ls->loop = l;
	ls->fn = fn;
	ls->arg = arg;
	ls->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
					       : ntohs(((struct sockaddr_in *)&bound)->sin_port);
	tape__timer_init(&ls->retry, retry_fired, ls);
	rc = watch_set(l, &ls->w, EPOLLIN);
	if (rc) {
		close(fd);
		free(ls);
		return rc;
	}
	ls->next = l->listeners;
	if (l->listeners)
		l->listeners->prev = ls;
	l->listeners = ls;
	*out = ls;
	return 0;
}

/* The port the listener is bound to, host byte order. */
uint16_t tape__listener_port(const struct tape__listener *ls)
{
	return ls->port;
}

/* Stops listening; freed after the current batch; accepts NULL. */
void tape__listener_close(struct tape__listener *ls)
{
	struct tape__loop *l;

	if (!ls || ls->closed)
		return;
	l = ls->loop;
	ls->closed = 1;
	tape__timer_stop(l, &ls->retry);
	watch_set(l, &ls->w, 0);
	close(ls->w.fd);
	if (ls->prev)
		ls->prev->next = ls->next;
	else
		l->listeners = ls->next;
	if (ls->next)
		ls->next->prev = ls->prev;
	ls->prev = NULL;
	ls->next = l->dead_listeners;
	l->dead_listeners = ls;
}

/* ---- addresses ---------------------------------------------------------------------- */

/* Fills ss from ep; returns the sockaddr length, 0 for an unknown family. */
socklen_t tape__endpoint_to_sockaddr(const struct tape_endpoint *ep, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (ep->family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->addr, 4);
		return sizeof *sin;
	}
	if (ep->family == 6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ep->port);
		memcpy(&sin6->sin6_addr, ep->addr, 16);
		return sizeof *sin6;
	}
	return 0;
}

/* Fills ep from an AF_INET/AF_INET6 sockaddr; TAPE_EUSAGE for others. */
int tape__endpoint_from_sockaddr(struct tape_endpoint *ep, const struct sockaddr *sa)
{
	memset(ep, 0, sizeof *ep);
	/* Copies, not casts: sa may be less aligned than the real type. */
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, sa, sizeof sin);
		ep->family = 4;
		ep->port = ntohs(sin.sin_port);
		memcpy(ep->addr, &sin.sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, sa, sizeof sin6);
		ep->family = 6;
		ep->port = ntohs(sin6.sin6_port);
		memcpy(ep->addr, &sin6.sin6_addr, 16);
		return 0;
	}
	return TAPE_EUSAGE;
}
