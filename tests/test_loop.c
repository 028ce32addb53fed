/* SPDX-License-Identifier: BSD-2-Clause */
/* test_loop.c - unit tests of the event loop in src/loop.c: timers, streams on loopback, write-queue caps. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "tape-int.h"
#include "unit.h"

static socklen_t loopback(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in sin;

	memset(ss, 0, sizeof *ss);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	memcpy(ss, &sin, sizeof sin);
	return sizeof sin;
}

/* ---- timers ---------------------------------------------------------------- */

struct fired {
	int order[16];
	int n;
	uint64_t at[16];
};

struct tctx {
	struct fired *f;
	int id;
};

static void record_fire(struct tape__timer *t, void *arg)
{
	struct tctx *c = arg;

	(void)t;
	if (c->f->n < 16) {
		c->f->at[c->f->n] = tape__clock_ns();
		c->f->order[c->f->n++] = c->id;
	}
}

/* Timers fire by due time, ties in arming order, and a stopped one never. */
static void test_loop_timers_order(void)
{
	struct tape__loop *l;
	struct tape__timer t[6];
	struct tctx c[6];
	struct fired f;
	uint64_t now = tape__clock_ns();
	const uint64_t due[6] = {3000000, 1000000, 2000000, 2000000, 500000, 2500000};

	memset(&f, 0, sizeof f);
	CU_ASSERT_EQUAL_FATAL(tape__loop_new(&l), 0);
	for (int i = 0; i < 6; i++) {
		c[i].f = &f;
		c[i].id = i;
		tape__timer_init(&t[i], record_fire, &c[i]);
		CU_ASSERT_EQUAL(tape__timer_start(l, &t[i], now + due[i]), 0);
	}
	tape__timer_stop(l, &t[5]);
	CU_ASSERT_FALSE(tape__timer_armed(&t[5]));
	CU_ASSERT_TRUE(tape__timer_armed(&t[0]));
	/* Re-arming moves a timer: 4 goes last. */
	CU_ASSERT_EQUAL(tape__timer_start(l, &t[4], now + 4000000), 0);
	CU_ASSERT_EQUAL(tape__loop_run(l), 0); /* returns when no timer is left */
	CU_ASSERT_EQUAL(f.n, 5);
	CU_ASSERT_EQUAL(f.order[0], 1);
	CU_ASSERT_EQUAL(f.order[1], 2);
	CU_ASSERT_EQUAL(f.order[2], 3);
	CU_ASSERT_EQUAL(f.order[3], 0);
	CU_ASSERT_EQUAL(f.order[4], 4);
	for (int i = 0; i < f.n; i++)
		CU_ASSERT_TRUE(f.at[i] >= now + (f.order[i] == 4 ? 4000000 : due[f.order[i]]));
	tape__loop_free(l);
}

struct chain {
	struct tape__loop *l;
	struct tape__timer t;
	uint64_t start, step;
	int n, max;
	uint64_t late[64];
};

static void chain_fire(struct tape__timer *t, void *arg)
{
	struct chain *ch = arg;
	uint64_t due = ch->start + (uint64_t)(ch->n + 1) * ch->step;

	ch->late[ch->n++] = tape__clock_ns() - due;
	if (ch->n < ch->max)
		tape__timer_start(ch->l, t, ch->start + (uint64_t)(ch->n + 1) * ch->step);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Timers are never early, and (with a spin) late by microseconds, not
 * milliseconds.  The bound is loose: the test machine may be loaded and
 * sanitized; doc/performance.md has the real figures. */
static void test_loop_timer_accuracy(void)
{
	struct chain ch;

	memset(&ch, 0, sizeof ch);
	CU_ASSERT_EQUAL_FATAL(tape__loop_new(&ch.l), 0);
	tape__loop_set_spin(ch.l, 100000);
	tape__timer_init(&ch.t, chain_fire, &ch);
	ch.step = 2000000;
	ch.max = 40;
	ch.start = tape__clock_ns();
	tape__timer_start(ch.l, &ch.t, ch.start + ch.step);
	CU_ASSERT_EQUAL(tape__loop_run(ch.l), 0);
	CU_ASSERT_EQUAL(ch.n, 40);
	qsort(ch.late, (size_t)ch.n, sizeof ch.late[0], cmp_u64);
	CU_ASSERT_TRUE(ch.late[ch.n / 2] < 2000000); /* median under 2 ms */
	for (int i = 0; i < ch.n; i++)
		CU_ASSERT_TRUE(ch.late[i] < UINT64_C(1) << 62); /* never early (no wrap) */
	tape__loop_free(ch.l);
}

/* ---- streams ------------------------------------------------------------------ */

struct echo {
	struct tape__loop *l;
	struct tape__listener *ls;
	struct tape__stream *srv, *cli;
	char got[256];
	size_t ngot;
	int connected, srv_eof, cli_eof, accepted;
	int conn_err;
};

static void srv_data(struct tape__stream *s, const uint8_t *p, size_t n, void *arg)
{
	(void)arg;
	CU_ASSERT_EQUAL(tape__stream_write(s, p, n), 0);
}

static void srv_eof(struct tape__stream *s, void *arg)
{
	struct echo *e = arg;

	e->srv_eof = 1;
	CU_ASSERT_EQUAL(tape__stream_shutdown(s), 0);
	tape__stream_close(s);
	e->srv = NULL;
	tape__listener_close(e->ls);
	e->ls = NULL;
}

static const struct tape__stream_cbs srv_cbs = {NULL, srv_data, srv_eof, NULL, NULL};

static void on_accept(struct tape__listener *ls, int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
	struct echo *e = arg;
	struct tape_endpoint ep;

	(void)ls;
	(void)len;
	CU_ASSERT_EQUAL(tape__endpoint_from_sockaddr(&ep, peer), 0);
	CU_ASSERT_EQUAL(ep.family, 4);
	CU_ASSERT_EQUAL(tape__stream_adopt(e->l, &e->srv, fd, NULL, &srv_cbs, e), 0);
	e->accepted++;
}

static void cli_connected(struct tape__stream *s, int err, void *arg)
{
	struct echo *e = arg;

	e->conn_err = err;
	if (err) {
		e->cli = NULL;
		tape__listener_close(e->ls);
		e->ls = NULL;
		return;
	}
	e->connected = 1;
	CU_ASSERT_EQUAL(tape__stream_write(s, " world", 6), 0);
	CU_ASSERT_EQUAL(tape__stream_shutdown(s), 0);
}

static void cli_data(struct tape__stream *s, const uint8_t *p, size_t n, void *arg)
{
	struct echo *e = arg;

	(void)s;
	if (e->ngot + n <= sizeof e->got) {
		memcpy(e->got + e->ngot, p, n);
		e->ngot += n;
	}
}

static void cli_eof(struct tape__stream *s, void *arg)
{
	struct echo *e = arg;

	e->cli_eof = 1;
	tape__stream_close(s);
	e->cli = NULL;
}

static const struct tape__stream_cbs cli_cbs = {cli_connected, cli_data, cli_eof, NULL, NULL};

/* Connect, accept, echo, half-close both ways; the loop ends by itself when
 * nothing is left. */
static void test_loop_echo(void)
{
	struct echo e;
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, 0);
	struct tape__stream_opts o;

	memset(&e, 0, sizeof e);
	memset(&o, 0, sizeof o);
	o.nodelay = 1;
	o.connect_timeout_ns = 5000000000u;
	CU_ASSERT_EQUAL_FATAL(tape__loop_new(&e.l), 0);
	CU_ASSERT_EQUAL_FATAL(tape__listener_new(e.l, &e.ls, (struct sockaddr *)&ss, len, 16, on_accept, &e), 0);
	CU_ASSERT_NOT_EQUAL(tape__listener_port(e.ls), 0);
	len = loopback(&ss, tape__listener_port(e.ls));
	CU_ASSERT_EQUAL_FATAL(tape__stream_connect(e.l, &e.cli, (struct sockaddr *)&ss, len, &o, &cli_cbs, &e), 0);
	/* Written before the connect finished: queued, then sent. */
	CU_ASSERT_EQUAL(tape__stream_write(e.cli, "hello", 5), 0);
	CU_ASSERT_EQUAL(tape__loop_run(e.l), 0);
	CU_ASSERT_EQUAL(e.conn_err, 0);
	CU_ASSERT_EQUAL(e.accepted, 1);
	CU_ASSERT_TRUE(e.srv_eof);
	CU_ASSERT_TRUE(e.cli_eof);
	CU_ASSERT_EQUAL(e.ngot, 11);
	CU_ASSERT_EQUAL(memcmp(e.got, "hello world", 11), 0);
	tape__loop_free(e.l);
}

/* A refused connect is an error now or through the callback, never both. */
static void test_loop_connect_refused(void)
{
	struct echo e;
	struct sockaddr_storage ss;
	socklen_t len;
	struct tape__listener *ls;
	uint16_t port;
	int rc;

	memset(&e, 0, sizeof e);
	CU_ASSERT_EQUAL_FATAL(tape__loop_new(&e.l), 0);
	len = loopback(&ss, 0);
	CU_ASSERT_EQUAL_FATAL(tape__listener_new(e.l, &ls, (struct sockaddr *)&ss, len, 1, on_accept, &e), 0);
	port = tape__listener_port(ls);
	tape__listener_close(ls); /* now nobody listens there */
	len = loopback(&ss, port);
	rc = tape__stream_connect(e.l, &e.cli, (struct sockaddr *)&ss, len, NULL, &cli_cbs, &e);
	if (rc == 0) {
		CU_ASSERT_EQUAL(tape__loop_run(e.l), 0);
		CU_ASSERT_EQUAL(e.conn_err, -ECONNREFUSED);
	} else {
		CU_ASSERT_EQUAL(rc, -ECONNREFUSED);
		CU_ASSERT_PTR_NULL(e.cli);
	}
	CU_ASSERT_FALSE(e.connected);
	tape__loop_free(e.l);
}

struct capctx {
	struct tape__loop *l;
	struct tape__stream *srv, *cli;
	int limited;
	size_t written;
};

static void cap_accept(struct tape__listener *ls, int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
	struct capctx *c = arg;

	(void)ls;
	(void)peer;
	(void)len;
	CU_ASSERT_EQUAL(tape__stream_adopt(c->l, &c->srv, fd, NULL, NULL, c), 0);
	tape__stream_read_stop(c->srv); /* a peer that never reads */
}

static void cap_connected(struct tape__stream *s, int err, void *arg)
{
	struct capctx *c = arg;
	static uint8_t block[16384];

	CU_ASSERT_EQUAL(err, 0);
	/* Write until the queue is full: the kernel buffers fill, then our
	 * queue, then the cap says no without queueing anything. */
	for (int i = 0; i < 10000 && !c->limited; i++) {
		size_t before = tape__stream_queued(s);
		int rc = tape__stream_write(s, block, sizeof block);
		if (rc == TAPE_ELIMIT) {
			c->limited = 1;
			CU_ASSERT_EQUAL(tape__stream_queued(s), before);
		} else {
			CU_ASSERT_EQUAL(rc, 0);
			c->written += sizeof block;
		}
		CU_ASSERT_TRUE(tape__stream_queued(s) <= 65536);
	}
	tape__loop_stop(c->l);
}

static const struct tape__stream_cbs cap_cbs = {cap_connected, NULL, NULL, NULL, NULL};

static void test_loop_write_queue_cap(void)
{
	struct capctx c;
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, 0);
	struct tape__listener *ls;
	struct tape__stream_opts o;

	memset(&c, 0, sizeof c);
	memset(&o, 0, sizeof o);
	o.wq_max = 65536;
	CU_ASSERT_EQUAL_FATAL(tape__loop_new(&c.l), 0);
	CU_ASSERT_EQUAL_FATAL(tape__listener_new(c.l, &ls, (struct sockaddr *)&ss, len, 4, cap_accept, &c), 0);
	len = loopback(&ss, tape__listener_port(ls));
	CU_ASSERT_EQUAL_FATAL(tape__stream_connect(c.l, &c.cli, (struct sockaddr *)&ss, len, &o, &cap_cbs, &c), 0);
	CU_ASSERT_EQUAL(tape__loop_run(c.l), 0);
	CU_ASSERT_TRUE(c.limited);
	CU_ASSERT_TRUE(c.written >= 65536 - 16384);
	/* Writes after a shutdown are refused. */
	CU_ASSERT_EQUAL(tape__stream_shutdown(c.cli), 0);
	CU_ASSERT_EQUAL(tape__stream_write(c.cli, "x", 1), TAPE_EUSAGE);
	tape__loop_free(c.l); /* closes both streams and the listener */
}

/* Endpoints and sockaddrs convert both ways. */
static void test_loop_addresses(void)
{
	struct tape_endpoint ep, back;
	struct sockaddr_storage ss;

	CU_ASSERT_EQUAL(tape_endpoint_parse("[2001:db8::1]:443", 17, &ep), 0);
	CU_ASSERT_EQUAL(tape__endpoint_to_sockaddr(&ep, &ss), sizeof(struct sockaddr_in6));
	CU_ASSERT_EQUAL(tape__endpoint_from_sockaddr(&back, (struct sockaddr *)&ss), 0);
	CU_ASSERT_TRUE(tape_endpoint_equal(&ep, &back));
	CU_ASSERT_EQUAL(tape_endpoint_parse("127.0.0.1:80", 12, &ep), 0);
	CU_ASSERT_EQUAL(tape__endpoint_to_sockaddr(&ep, &ss), sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(tape__endpoint_from_sockaddr(&back, (struct sockaddr *)&ss), 0);
	CU_ASSERT_TRUE(tape_endpoint_equal(&ep, &back));
	memset(&ep, 0, sizeof ep);
	CU_ASSERT_EQUAL(tape__endpoint_to_sockaddr(&ep, &ss), 0);
}

/* Adds the "loop" suite. */
void test_loop_register(void)
{
	static const struct unit_test tests[] = {
		{"test_loop_timers_order", test_loop_timers_order},
		{"test_loop_timer_accuracy", test_loop_timer_accuracy},
		{"test_loop_echo", test_loop_echo},
		{"test_loop_connect_refused", test_loop_connect_refused},
		{"test_loop_write_queue_cap", test_loop_write_queue_cap},
		{"test_loop_addresses", test_loop_addresses},
		{NULL, NULL},
	};
	unit_add_suite("loop", tests);
}
