/* SPDX-License-Identifier: BSD-2-Clause */
/* test_replay.c - unit tests of the replay engine (src/replay.c) through its public API, against an echo server on the loop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "tape-int.h"
#include "unit.h"

/* ---- the echo server: a child process running src/loop.c -------------------- */

static void echo_data(struct tape__stream *s, const uint8_t *p, size_t n, void *arg)
{
	(void)arg;
	tape__stream_write(s, p, n);
}

static void echo_eof(struct tape__stream *s, void *arg)
{
	(void)arg;
	tape__stream_shutdown(s);
}

static void echo_error(struct tape__stream *s, int err, void *arg)
{
	(void)s;
	(void)err;
	(void)arg;
}

static const struct tape__stream_cbs echo_cbs = {NULL, echo_data, echo_eof, echo_error, NULL};

static void echo_accept(struct tape__listener *ls, int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
	struct tape__stream *s;

	(void)ls;
	(void)peer;
	(void)len;
	tape__stream_adopt(arg, &s, fd, NULL, &echo_cbs, NULL);
}

struct server {
	pid_t pid;
	uint16_t port;
};

/* Forks an echo server on 127.0.0.1; the child never returns. */
static void server_start(struct server *sv)
{
	int pfd[2];
	struct tape__loop *l;
	struct tape__listener *ls;
	struct sockaddr_in sin;

	memset(sv, 0, sizeof *sv);
	CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
	sv->pid = fork();
	CU_ASSERT_FATAL(sv->pid >= 0);
	if (sv->pid == 0) {
		/* The child: serve until killed; never back into CUnit. */
		uint16_t port = 0;
		close(pfd[0]);
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (tape__loop_new(&l) == 0 &&
		    tape__listener_new(l, &ls, (struct sockaddr *)&sin, sizeof sin, 64, echo_accept, l) == 0)
			port = tape__listener_port(ls);
		if (write(pfd[1], &port, sizeof port) != (ssize_t)sizeof port || !port)
			_exit(1);
		close(pfd[1]);
		tape__loop_run(l);
		_exit(0);
	}
	close(pfd[1]);
	CU_ASSERT_EQUAL_FATAL(read(pfd[0], &sv->port, sizeof sv->port), (ssize_t)sizeof sv->port);
	close(pfd[0]);
}

static void server_stop(struct server *sv)
{
	if (sv->pid > 0) {
		kill(sv->pid, SIGKILL);
		waitpid(sv->pid, NULL, 0);
	}
	sv->pid = 0;
}

/* ---- helpers ---------------------------------------------------------------------- */

/* A reader on TSV text. */
static struct tape_reader *tape_of(const char *tsv)
{
	const char *path = unit_tmpfile(".tsv");
	struct tape_reader *r = NULL;

	unit_write_file(path, tsv, strlen(tsv));
	CU_ASSERT_EQUAL(tape_reader_open(&r, path, NULL), 0);
	return r;
}

static void target(struct tape_replay_opts *o, const struct server *sv)
{
	memset(o, 0, sizeof *o);
	o->target.family = 4;
	o->target.addr[0] = 127;
	o->target.addr[3] = 1;
	o->target.port = sv->port;
	o->timing = TAPE_REPLAY_TIMING_NONE;
	o->timeout_ms = 2000;
	o->settle_ms = 50;
}

/* Runs tsv with o; returns the handle (caller frees) and the run's result. */
static struct tape_replay *replay(const char *tsv, const struct tape_replay_opts *o, int *rc)
{
	struct tape_reader *r = tape_of(tsv);
	struct tape_replay *rp = NULL;

	*rc = r ? tape_replay_new(&rp, r, o) : -1;
	tape_reader_free(r);
	if (*rc == 0)
		*rc = tape_replay_run(rp);
	return rp;
}

/* "hello" and "abc" echoed, then both sides finish. */
static const char echo_tsv[] = "# tapedeck tsv v1\n"
			       "0\t1\topen\t10.0.0.2:40000\t10.0.0.1:7\n"
			       "10\t1\tc2s\t68656c6c6f\n"
			       "20\t1\ts2c\t68656c6c6f\n"
			       "30\t1\tc2s\t616263\n"
			       "40\t1\ts2c\t616263\n"
			       "50\t1\tfin\tc2s\n"
			       "60\t1\tfin\ts2c\n"
			       "60\t1\tclose\tfin\n";

/* ---- tests ---------------------------------------------------------------------- */

static void test_replay_verify_match(void)
{
	struct server sv;
	struct tape_replay_opts o;
	struct tape_replay *rp;
	struct tape_replay_stats st;
	struct tape_replay_result res;
	int rc;

	server_start(&sv);
	target(&o, &sv);
	o.verify = 1;
	rp = replay(echo_tsv, &o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.selected, 1);
	CU_ASSERT_EQUAL(st.conns_ok, 1);
	CU_ASSERT_EQUAL(st.mismatches, 0);
	CU_ASSERT_EQUAL(st.bytes_sent, 8);
	CU_ASSERT_EQUAL(st.bytes_received, 8);
	CU_ASSERT_EQUAL(st.bytes_expected, 8);
	CU_ASSERT_EQUAL(tape_replay_result_count(rp), 1);
	CU_ASSERT_EQUAL(tape_replay_result(rp, 0, &res), 0);
	CU_ASSERT_EQUAL(res.status, TAPE_REPLAY_OK);
	CU_ASSERT_EQUAL(res.conn, 1);
	CU_ASSERT_STRING_EQUAL(res.detail, "");
	CU_ASSERT_EQUAL(tape_replay_result(rp, 1, &res), TAPE_EUSAGE);
	/* A replay runs once. */
	CU_ASSERT_EQUAL(tape_replay_run(rp), TAPE_EUSAGE);
	tape_replay_free(rp);
	server_stop(&sv);
}

static void test_replay_mismatch_record(void)
{
	static const char tsv[] = "# tapedeck tsv v1\n"
				  "0\t1\topen\t10.0.0.2:40000\t10.0.0.1:7\n"
				  "10\t1\tc2s\t68656c6c6f\n"
				  "20\t1\ts2c\t68656c4c4f\n" /* helLO */
				  "30\t1\tc2s\t616263\n"
				  "40\t1\ts2c\t616263\n"
				  "50\t1\tclose\tend\n";
	struct server sv;
	struct tape_replay_opts o;
	struct tape_replay *rp;
	struct tape_replay_mismatch m;
	struct tape_replay_stats st;
	int rc;

	server_start(&sv);
	target(&o, &sv);
	o.verify = 1;
	rp = replay(tsv, &o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.mismatches, 1);
	CU_ASSERT_EQUAL(st.conns_mismatched, 1);
	CU_ASSERT_EQUAL(st.conns_ok, 1);
	CU_ASSERT_EQUAL_FATAL(tape_replay_mismatch_count(rp), 1);
	CU_ASSERT_EQUAL(tape_replay_mismatch(rp, 0, &m), 0);
	CU_ASSERT_EQUAL(m.conn, 1);
	CU_ASSERT_EQUAL(m.dir, TAPE_S2C);
	CU_ASSERT_EQUAL(m.exp_offset, 3);
	CU_ASSERT_EQUAL(m.got_offset, 3);
	CU_ASSERT_EQUAL(m.exp_len, 5);
	CU_ASSERT_EQUAL(m.got_len, 5);
	CU_ASSERT_EQUAL(m.expected_size, 5);
	CU_ASSERT_EQUAL(memcmp(m.expected, "helLO", 5), 0);
	CU_ASSERT_EQUAL(memcmp(m.received, "hello", 5), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(m.report, "helLO"));
	tape_replay_free(rp);

	/* Masked, the difference is gone. */
	{
		const char *ignore[] = {"hel[a-zA-Z]+"};
		target(&o, &sv);
		o.verify = 1;
		o.ignore = ignore;
		o.nignore = 1;
		rp = replay(tsv, &o, &rc);
		CU_ASSERT_EQUAL(rc, 0);
		tape_replay_stats(rp, &st);
		CU_ASSERT_EQUAL(st.mismatches, 0);
		tape_replay_free(rp);
	}
	server_stop(&sv);
}

struct hookctx {
	int calls;
	int mode; /* 0 rewrite+skip, 1 error, 2 abort */
	uint64_t seen_index[8];
};

static int hook(void *ctx, const struct tape_replay_chunk *ch, struct tape_replay_edit *e)
{
	struct hookctx *h = ctx;

	if (h->calls < 8)
		h->seen_index[h->calls] = ch->index;
	h->calls++;
	CU_ASSERT_EQUAL(e->action, TAPE_REPLAY_SEND);
	CU_ASSERT_PTR_EQUAL(e->data, ch->data);
	CU_ASSERT_EQUAL(ch->dir, TAPE_C2S);
	switch (h->mode) {
	case 1:
		snprintf(e->reason, sizeof e->reason, "hook broke on purpose");
		return -EIO;
	case 2:
		e->action = TAPE_REPLAY_ABORT;
		snprintf(e->reason, sizeof e->reason, "not this one");
		return 0;
	default:
		if (ch->index == 0) {
			e->data = (const uint8_t *)"howdy";
			e->len = 5;
		} else {
			e->action = TAPE_REPLAY_SKIP;
		}
		return 0;
	}
}

static void test_replay_chunk_hook(void)
{
	struct server sv;
	struct tape_replay_opts o;
	struct tape_replay *rp;
	struct tape_replay_stats st;
	struct tape_replay_result res;
	struct hookctx h;
	int rc;

	server_start(&sv);
	/* Rewrite the first chunk, skip the second (its reply is not awaited). */
	memset(&h, 0, sizeof h);
	target(&o, &sv);
	o.verify = 1;
	o.chunk_fn = hook;
	o.chunk_ctx = &h;
	rp = replay(echo_tsv, &o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(h.calls, 2);
	CU_ASSERT_EQUAL(h.seen_index[1], 1);
	CU_ASSERT_EQUAL(st.chunks_rewritten, 1);
	CU_ASSERT_EQUAL(st.chunks_skipped, 1);
	CU_ASSERT_EQUAL(st.bytes_sent, 5);
	CU_ASSERT_EQUAL(st.mismatches, 1); /* "howdy" came back, "hello" was recorded */
	CU_ASSERT_EQUAL(st.conns_ok, 1);
	tape_replay_free(rp);

	/* An error stops the replay and is reported, not swallowed. */
	memset(&h, 0, sizeof h);
	h.mode = 1;
	target(&o, &sv);
	o.chunk_fn = hook;
	o.chunk_ctx = &h;
	rp = replay(echo_tsv, &o, &rc);
	CU_ASSERT_EQUAL(rc, -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(tape_replay_error(rp), "hook broke on purpose"));
	CU_ASSERT_EQUAL(tape_replay_result(rp, 0, &res), 0);
	CU_ASSERT_EQUAL(res.status, TAPE_REPLAY_PENDING);
	tape_replay_free(rp);

	/* Abort resets that connection only. */
	memset(&h, 0, sizeof h);
	h.mode = 2;
	target(&o, &sv);
	o.chunk_fn = hook;
	o.chunk_ctx = &h;
	rp = replay(echo_tsv, &o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(tape_replay_result(rp, 0, &res), 0);
	CU_ASSERT_EQUAL(res.status, TAPE_REPLAY_ABORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.detail, "not this one"));
	tape_replay_free(rp);
	server_stop(&sv);
}

static void test_replay_timeout_and_refused(void)
{
	/* A banner the echo server never sends. */
	static const char tsv[] = "# tapedeck tsv v1\n"
				  "0\t1\topen\t10.0.0.2:40000\t10.0.0.1:7\n"
				  "10\t1\ts2c\t48454c4c4f\n"
				  "20\t1\tc2s\t616263\n"
				  "30\t1\tclose\tend\n";
	struct server sv;
	struct tape_replay_opts o;
	struct tape_replay *rp;
	struct tape_replay_stats st;
	struct tape_replay_result res;
	int rc;
	uint16_t port;

	server_start(&sv);
	target(&o, &sv);
	o.timeout_ms = 150;
	rp = replay(tsv, &o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.timeouts, 1);
	CU_ASSERT_EQUAL(st.conns_failed, 1);
	CU_ASSERT_EQUAL(tape_replay_result(rp, 0, &res), 0);
	CU_ASSERT_EQUAL(res.status, TAPE_REPLAY_TIMEOUT);
	CU_ASSERT_EQUAL(res.error, -ETIMEDOUT);
	CU_ASSERT_STRING_EQUAL(tape_replay_status_name(res.status), "timeout");
	tape_replay_free(rp);
	port = sv.port;
	server_stop(&sv);
	usleep(50000);

	sv.port = port; /* nobody listens there now */
	target(&o, &sv);
	rp = replay(echo_tsv, &o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.connect_failures, 1);
	CU_ASSERT_EQUAL(tape_replay_result(rp, 0, &res), 0);
	CU_ASSERT_EQUAL(res.status, TAPE_REPLAY_CONNECT);
	CU_ASSERT_EQUAL(res.error, -ECONNREFUSED);
	tape_replay_free(rp);
}

static const char three_tsv[] = "# tapedeck tsv v1\n"
				"0\t1\topen\t10.0.0.2:40000\t10.0.0.1:7\n"
				"1\t1\tclose\tend\n"
				"2\t2\topen\t10.0.0.2:40001\t10.0.0.9:7\n"
				"3\t2\tclose\tend\n"
				"4\t3\topen\t10.0.0.2:40002\t10.0.0.9:7\n"
				"5\t3\tclose\tend\n";

static struct tape_replay *selection(const struct tape_replay_opts *o, int *rc)
{
	struct tape_reader *r = tape_of(three_tsv);
	struct tape_replay *rp = NULL;

	*rc = tape_replay_new(&rp, r, o);
	tape_reader_free(r);
	return rp;
}

static void test_replay_selection(void)
{
	struct tape_replay_opts o;
	struct tape_replay *rp;
	struct tape_replay_stats st;
	struct tape_endpoint srv;
	struct server fake = {0, 1};
	uint64_t ids[] = {1, 3}, missing[] = {9};
	char ep[TAPE_ENDPOINT_STRLEN];
	int rc;

	target(&o, &fake);
	rp = selection(&o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.tape_conns, 3);
	CU_ASSERT_EQUAL(st.selected, 2);
	tape_endpoint_format(&st.server, ep, sizeof ep);
	CU_ASSERT_STRING_EQUAL(ep, "10.0.0.9:7");
	tape_replay_free(rp);

	CU_ASSERT_EQUAL(tape_endpoint_parse("10.0.0.1:7", 10, &srv), 0);
	o.server = &srv;
	rp = selection(&o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.selected, 1);
	tape_replay_free(rp);

	target(&o, &fake);
	o.conns = ids;
	o.nconns = 2;
	rp = selection(&o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.selected, 2);
	tape_replay_free(rp);

	target(&o, &fake);
	o.all = 1;
	rp = selection(&o, &rc);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.selected, 3);
	tape_replay_free(rp);

	/* Usage errors, each with a message. */
	target(&o, &fake);
	o.conns = missing;
	o.nconns = 1;
	rp = selection(&o, &rc);
	CU_ASSERT_EQUAL(rc, TAPE_EUSAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(tape_replay_error(rp), "connection 9"));
	tape_replay_free(rp);
	target(&o, &fake);
	o.concurrency = 4;
	rp = selection(&o, &rc);
	CU_ASSERT_EQUAL(rc, TAPE_EUSAGE);
	tape_replay_free(rp);
	memset(&o, 0, sizeof o);
	o.all = 1;
	rp = selection(&o, &rc);
	CU_ASSERT_EQUAL(rc, TAPE_EUSAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(tape_replay_error(rp), "no target"));
	tape_replay_free(rp);
}

/* The sample depends on the seed and the ids only. */
static void test_replay_sample_deterministic(void)
{
	char tsv[8192];
	size_t n = 0;
	struct tape_replay_opts o;
	struct server fake = {0, 1};
	uint64_t sel[3];

	n += (size_t)snprintf(tsv + n, sizeof tsv - n, "# tapedeck tsv v1\n");
	for (int i = 1; i <= 64; i++)
		n += (size_t)snprintf(tsv + n, sizeof tsv - n,
				      "%d\t%d\topen\t10.0.0.2:%d\t10.0.0.1:7\n%d\t%d\tclose\tend\n", i, i,
				      40000 + i, i, i);
	for (int k = 0; k < 3; k++) {
		struct tape_reader *r = tape_of(tsv);
		struct tape_replay *rp = NULL;
		struct tape_replay_stats st;
		target(&o, &fake);
		o.sample = 0.5;
		o.seed = k == 2 ? 99 : 7;
		CU_ASSERT_EQUAL(tape_replay_new(&rp, r, &o), 0);
		tape_replay_stats(rp, &st);
		sel[k] = st.selected;
		CU_ASSERT_TRUE(st.selected > 10 && st.selected < 54);
		tape_replay_free(rp);
		tape_reader_free(r);
	}
	CU_ASSERT_EQUAL(sel[0], sel[1]);
}

static void test_replay_record_and_timing(void)
{
	static const char tsv[] = "# tapedeck tsv v1\n"
				  "0\t1\topen\t10.0.0.2:40000\t10.0.0.1:7\n"
				  "0\t1\tc2s\t61\n"
				  "1\t1\ts2c\t61\n"
				  "20000\t1\tc2s\t62\n"
				  "20001\t1\ts2c\t62\n"
				  "40000\t1\tc2s\t63\n"
				  "40001\t1\ts2c\t63\n"
				  "60000\t1\tc2s\t64\n"
				  "60001\t1\ts2c\t64\n"
				  "80000\t1\tfin\tc2s\n"
				  "80001\t1\tfin\ts2c\n"
				  "80001\t1\tclose\tfin\n";
	struct server sv;
	struct tape_replay_opts o;
	struct tape_replay *rp;
	struct tape_replay_stats st;
	struct tape_writer *w = NULL;
	struct tape_reader *r = NULL;
	struct tape_event ev;
	const char *out = unit_tmpfile(".tsv");
	char path[512];
	int rc, kinds[TAPE_EV_NOTE + 1] = {0};

	snprintf(path, sizeof path, "%s", out);
	server_start(&sv);
	target(&o, &sv);
	o.timing = TAPE_REPLAY_TIMING_ORIGINAL;
	o.verify = 1;
	CU_ASSERT_EQUAL_FATAL(tape_writer_open(&w, path, NULL, NULL, NULL), 0);
	o.record = w;
	rp = replay(tsv, &o, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(tape_writer_close(w), 0);
	tape_writer_free(w);
	tape_replay_stats(rp, &st);
	CU_ASSERT_EQUAL(st.mismatches, 0);
	CU_ASSERT_EQUAL(st.conns_ok, 1);
	CU_ASSERT_EQUAL(st.recorded_ns, 80001000);
	CU_ASSERT_EQUAL(st.skew_samples, 5); /* the connect and 4 chunks */
	CU_ASSERT_TRUE(st.duration_ns >= 80000000);
	CU_ASSERT_TRUE(st.duration_ns < 400000000);
	CU_ASSERT_TRUE(st.skew_p50_ns <= st.skew_p99_ns && st.skew_p99_ns <= st.skew_max_ns);
	tape_replay_free(rp);
	server_stop(&sv);

	CU_ASSERT_EQUAL_FATAL(tape_reader_open(&r, path, NULL), 0);
	while ((rc = tape_reader_next(r, &ev)) == 1)
		kinds[ev.kind]++;
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(kinds[TAPE_EV_OPEN], 1);
	CU_ASSERT_TRUE(kinds[TAPE_EV_DATA] >= 5); /* 4 sent, the echoes in 1 or more reads */
	CU_ASSERT_EQUAL(kinds[TAPE_EV_FIN], 2);
	CU_ASSERT_EQUAL(kinds[TAPE_EV_CLOSE], 1);
	tape_reader_free(r);
}

/* Adds the "replay" suite. */
void test_replay_register(void)
{
	static const struct unit_test tests[] = {
		{"test_replay_verify_match", test_replay_verify_match},
		{"test_replay_mismatch_record", test_replay_mismatch_record},
		{"test_replay_chunk_hook", test_replay_chunk_hook},
		{"test_replay_timeout_and_refused", test_replay_timeout_and_refused},
		{"test_replay_selection", test_replay_selection},
		{"test_replay_sample_deterministic", test_replay_sample_deterministic},
		{"test_replay_record_and_timing", test_replay_record_and_timing},
		{NULL, NULL},
	};
	unit_add_suite("replay", tests);
}
