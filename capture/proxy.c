/* SPDX-License-Identifier: BSD-2-Clause */
/* proxy.c - `tapedeck proxy`: forward TCP clients to a target through the event loop, recording every connection onto one tape. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "framing.h"
#include "loop.h"
#include "tool.h"

/*
 * One loop, one listener, one writer.  Each accepted client gets a pconn:
 * the client stream, a stream to the target, and a decoder per direction.
 * Reading the client waits for the target's connect; the OPEN event is
 * written then.  Bytes read from one side go through that direction's
 * decoder; every whole message is recorded as one DATA event and written,
 * re-encoded, to the other side.  Everything runs on the loop's thread, so
 * the events reach the writer in time order.
 *
 *   client --data--> decoder[c2s] --msg--> tape + target
 *   target --data--> decoder[s2c] --msg--> tape + client
 *
 * EOF on one side is recorded as FIN and passed on as a half-close once the
 * other side's queue drains; after both FINs the connection closes (reason
 * fin).  A reset is recorded as RST and passed on as a reset.  A framing
 * error resets both sides and closes with reason error.
 */

#define PROXY_BACKLOG 128
#define PROXY_PAUSE_AT (1u << 20) /* queued bytes on one side that pause reading the other */
#define PROXY_WQ_MAX ((size_t)TAPE_MAX_DATA + (16u << 20)) /* a whole framed message fits */
#define PROXY_CONNECT_TIMEOUT_NS (UINT64_C(10) * 1000000000u)

struct proxy;

struct pconn {
	struct proxy *px;
	uint64_t id;               /* tape connection id, 0 until OPEN is written */
	uint64_t serial;           /* for log lines before the id exists */
	struct tape__stream *s[2]; /* [TAPE_C2S]: the client, [TAPE_S2C]: the target */
	struct tape__deframer *dec[2];
	struct tape_endpoint client;
	int eof[2];                /* the sender of that direction finished */
	int done;
	uint64_t bytes[2];
	struct pconn *prev, *next;
};

struct proxy {
	struct tape__loop *loop;
	struct tape__listener *ls;
	struct tape_writer *w;
	struct tape__framing framing;
	struct tape_endpoint listen, target;
	struct sockaddr_storage target_sa;
	socklen_t target_salen;
	uint64_t t0;               /* monotonic start */
	uint64_t next_id, serial;
	unsigned flush_ms;
	int flush_each;
	int quiet;
	int failed;                /* a writer error: exit code */
	struct tape__timer tick;
	struct pconn *conns;
	uint64_t nconns, nerrors;
};

/* The connection the message callback is working for. */
struct msg_ctx {
	struct pconn *c;
	enum tape_dir dir;
};


/* The --help text; tests/cli/help.sh checks it against doc/tapedeck-proxy.1. */
void tool_proxy_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck proxy --listen ADDR:PORT --target HOST:PORT [-w OUT] [options]\n"
		"\n"
		"Accept TCP clients on --listen and connect each to --target, forwarding bytes\n"
		"both ways (half-closes and resets included).  With -w, every connection is\n"
		"recorded onto one tape, in time order.  With --framing, the streams are cut\n"
		"into whole messages: each DATA event is one message (for len:N the payload\n"
		"only), and a frame over the cap or unparsable resets that connection (close\n"
		"reason error) while the others go on.  Runs until SIGINT or SIGTERM, then\n"
		"closes the open connections (reason end) and finalises the tape.\n"
		"\n"
		"Options:\n"
		"  -l, --listen ADDR:PORT  where to accept clients (port 0: any free port)\n"
		"  -t, --target HOST:PORT  where to connect them\n"
		"  -w, --write OUT         the tape to write; its format comes from the\n"
		"                          extension (.tape, .tsv, .tsp...); '-' writes TSV to\n"
		"                          standard output.  Without it: only forward\n"
		"      --framing F         raw (default), line, len:N (N 1..16), http1, iso8583\n"
		"      --max-payload BYTES largest message (default 16777216)\n"
		"      --flush             hand every event to the system at once\n"
		"      --flush-interval MS hand what was recorded to the system at least this\n"
		"                          often (default 1000)\n"
		"  -q, --quiet             no log line per connection\n"
		"  -h, --help              show this help\n"
		"\n"
		"Every option can also come from the environment: TAPEDECK_LISTEN,\n"
		"TAPEDECK_TARGET, TAPEDECK_WRITE, TAPEDECK_FRAMING, TAPEDECK_MAX_PAYLOAD,\n"
		"TAPEDECK_FLUSH (1 or true), TAPEDECK_FLUSH_INTERVAL, TAPEDECK_QUIET; the\n"
		"command line wins.\n"
		"\n"
		"Exit status: 0 stopped by a signal, tape finalised; 2 usage error; 3 cannot\n"
		"listen; 4 the tape could not be written.\n");
}

static uint64_t now_rel(const struct proxy *px)
{
	return tape__clock_ns() - px->t0;
}


/* Writes one event; a writer error stops the proxy (exit 4). */
static int record(struct proxy *px, struct tape_event *ev)
{
	int rc;

	if (!px->w || px->failed)
		return 0;
	ev->time_ns = now_rel(px);
	rc = tape_writer_write(px->w, ev);
	if (rc) {
		tool_err("proxy: cannot write the tape: %s", tape_writer_error(px->w));
		px->failed = TOOL_EXIT_INTERNAL;
		tape__loop_stop(px->loop);
	}
	return rc;
}

static void record_simple(struct pconn *c, enum tape_event_kind kind, enum tape_dir dir,
			  enum tape_close_reason reason)
{
	struct tape_event ev;

	if (!c->id)
		return;
	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.conn = c->id;
	ev.dir = dir;
	ev.reason = reason;
	record(c->px, &ev);
}

/* Ends c: records CLOSE (when it was opened), closes or resets both
 * streams and frees it after the loop's current batch. */
static void conn_end(struct pconn *c, enum tape_close_reason reason, int reset)
{
	struct proxy *px = c->px;
	char cl[TAPE_ENDPOINT_STRLEN];

	if (c->done)
		return;
	c->done = 1;
	record_simple(c, TAPE_EV_CLOSE, TAPE_C2S, reason);
	for (int d = 0; d < 2; d++) {
		if (!c->s[d])
			continue;
		if (reset)
			tape__stream_abort(c->s[d]);
		else
			tape__stream_close(c->s[d]);
		c->s[d] = NULL;
	}
	tape_endpoint_format(&c->client, cl, sizeof cl);
	tool_log(px->quiet, "proxy", "conn %llu from %s closed (%s): %llu bytes c2s, %llu bytes s2c",
	     (unsigned long long)(c->id ? c->id : c->serial), cl, tape_close_reason_name(reason),
	     (unsigned long long)c->bytes[TAPE_C2S], (unsigned long long)c->bytes[TAPE_S2C]);
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	tape__deframer_free(c->dec[0]);
	tape__deframer_free(c->dec[1]);
	free(c);
}

/* Both directions finished and everything passed on: a graceful close. */
static void maybe_finish(struct pconn *c)
{
	if (c->done || !c->eof[0] || !c->eof[1])
		return;
	if (tape__stream_queued(c->s[0]) || tape__stream_queued(c->s[1]))
		return; /* drained will call again */
	conn_end(c, TAPE_CLOSE_FIN, 0);
}

/* One whole message of direction dir: onto the tape and to the other side. */
static int on_message(void *arg, const uint8_t *p, size_t n)
{
	struct msg_ctx *m = arg;
	struct pconn *c = m->c;
	struct tape__stream *dst = c->s[!m->dir];
	uint8_t hdr[TAPE__FRAMING_MAX_HDR];
	size_t hn;
	struct tape_event ev;
	int rc;

	rc = tape__framing_encode(&c->px->framing, n, hdr, &hn);
	if (rc)
		return rc;
	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_DATA;
	ev.conn = c->id;
	ev.dir = m->dir;
	ev.data = p;
	ev.len = n;
	if (n || hn) /* an empty len:N frame is still a message */
		record(c->px, &ev);
	c->bytes[m->dir] += n;
	if (hn && (rc = tape__stream_write(dst, hdr, hn)) != 0)
		return rc;
	if (n && (rc = tape__stream_write(dst, p, n)) != 0)
		return rc;
	if (tape__stream_queued(dst) > PROXY_PAUSE_AT)
		tape__stream_read_stop(c->s[m->dir]);
	return 0;
}

static void framing_failed(struct pconn *c, enum tape_dir dir, int rc)
{
	const char *why = tape__deframer_error(c->dec[dir]);

	c->px->nerrors++;
	/* Framing errors are always logged, -q or not. */
	tool_err("proxy: conn %llu: %s: %s; closing the connection",
		 (unsigned long long)c->id, tape_dir_name(dir), *why ? why : tape_strerror(rc));
	conn_end(c, TAPE_CLOSE_ERROR, 1);
}

static void on_data(struct tape__stream *s, const uint8_t *p, size_t n, void *arg)
{
	struct pconn *c = arg;
	enum tape_dir dir = s == c->s[TAPE_C2S] ? TAPE_C2S : TAPE_S2C;
	struct msg_ctx m = {c, dir};
	int rc;

	if (c->done)
		return;
	rc = tape__deframer_feed(c->dec[dir], p, n, on_message, &m);
	if (rc)
		framing_failed(c, dir, rc);
}

static void on_eof(struct tape__stream *s, void *arg)
{
	struct pconn *c = arg;
	enum tape_dir dir = s == c->s[TAPE_C2S] ? TAPE_C2S : TAPE_S2C;
	struct msg_ctx m = {c, dir};
	int rc;

	if (c->done || c->eof[dir])
		return;
	rc = tape__deframer_finish(c->dec[dir], on_message, &m);
	if (rc) {
		framing_failed(c, dir, rc);
		return;
	}
	c->eof[dir] = 1;
	record_simple(c, TAPE_EV_FIN, dir, TAPE_CLOSE_FIN);
	tape__stream_shutdown(c->s[!dir]);
	maybe_finish(c);
}

static void on_error(struct tape__stream *s, int err, void *arg)
{
	struct pconn *c = arg;
	enum tape_dir dir = s == c->s[TAPE_C2S] ? TAPE_C2S : TAPE_S2C;

	if (c->done)
		return;
	c->s[dir] = NULL; /* the loop closes it */
	if (err == -ECONNRESET || err == -EPIPE) {
		/* The peer on this side reset: it sent RST in direction dir. */
		record_simple(c, TAPE_EV_RST, dir, TAPE_CLOSE_RST);
		conn_end(c, TAPE_CLOSE_RST, 1);
		return;
	}
	tool_log(c->px->quiet, "proxy", "conn %llu: %s side: %s", (unsigned long long)c->id,
	     dir == TAPE_C2S ? "client" : "target", tape_strerror(err));
	conn_end(c, TAPE_CLOSE_ERROR, 1);
}

static void on_drained(struct tape__stream *s, void *arg)
{
	struct pconn *c = arg;
	enum tape_dir to = s == c->s[TAPE_C2S] ? TAPE_C2S : TAPE_S2C;

	if (c->done)
		return;
	/* The side feeding s may read again. */
	if (!c->eof[!to] && c->s[!to])
		tape__stream_read_start(c->s[!to]);
	maybe_finish(c);
}

static void on_connected(struct tape__stream *s, int err, void *arg)
{
	struct pconn *c = arg;
	struct proxy *px = c->px;
	struct tape_event ev;
	char cl[TAPE_ENDPOINT_STRLEN], tg[TAPE_ENDPOINT_STRLEN];

	tape_endpoint_format(&c->client, cl, sizeof cl);
	tape_endpoint_format(&px->target, tg, sizeof tg);
	if (err) {
		c->s[TAPE_S2C] = NULL; /* the loop closes it */
		px->nerrors++;
		tool_err("proxy: client %s: cannot connect to %s: %s; resetting the client", cl, tg,
			 tape_strerror(err));
		conn_end(c, TAPE_CLOSE_ERROR, 1);
		return;
	}
	c->id = ++px->next_id;
	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_OPEN;
	ev.conn = c->id;
	ev.client = c->client;
	ev.server = px->target;
	if (record(px, &ev))
		return;
	tool_log(px->quiet, "proxy", "conn %llu: %s -> %s", (unsigned long long)c->id, cl, tg);
	tape__stream_read_start(c->s[TAPE_C2S]);
}

static const struct tape__stream_cbs conn_cbs = {
	.connected = on_connected,
	.data = on_data,
	.eof = on_eof,
	.error = on_error,
	.drained = on_drained,
};

static void on_accept(struct tape__listener *ls, int fd, const struct sockaddr *peer,
		      socklen_t peerlen, void *arg)
{
	struct proxy *px = arg;
	struct tape__stream_opts so = {.wq_max = PROXY_WQ_MAX, .nodelay = 1,
				       .connect_timeout_ns = PROXY_CONNECT_TIMEOUT_NS};
	struct pconn *c;
	int rc;

	(void)ls;
	(void)peerlen;
	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	c->px = px;
	c->serial = ++px->serial;
	tape__endpoint_from_sockaddr(&c->client, peer);
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->nconns++;
	if ((rc = tape__deframer_new(&c->dec[TAPE_C2S], &px->framing, TAPE_C2S)) != 0 ||
	    (rc = tape__deframer_new(&c->dec[TAPE_S2C], &px->framing, TAPE_S2C)) != 0) {
		close(fd);
		goto fail;
	}
	tape__deframer_link(c->dec[TAPE_C2S], c->dec[TAPE_S2C]);
	rc = tape__stream_adopt(px->loop, &c->s[TAPE_C2S], fd, &so, &conn_cbs, c);
	if (rc)
		goto fail;
	tape__stream_read_stop(c->s[TAPE_C2S]); /* until the target answers */
	rc = tape__stream_connect(px->loop, &c->s[TAPE_S2C], (const struct sockaddr *)&px->target_sa,
				  px->target_salen, &so, &conn_cbs, c);
	if (rc) {
		c->s[TAPE_S2C] = NULL;
		on_connected(NULL, rc, c);
	}
	return;
fail:
	tool_err("proxy: cannot take a client: %s", tape_strerror(rc));
	conn_end(c, TAPE_CLOSE_ERROR, 1);
}

static void on_tick(struct tape__timer *t, void *arg)
{
	struct proxy *px = arg;

	if (px->w && !px->failed && tape_writer_tick(px->w)) {
		tool_err("proxy: cannot write the tape: %s", tape_writer_error(px->w));
		px->failed = TOOL_EXIT_INTERNAL;
		tape__loop_stop(px->loop);
		return;
	}
	tape__timer_start(px->loop, t, tape__clock_ns() + (uint64_t)px->flush_ms * 1000000u);
}

/* The command.  Options: the environment first, then the command line. */
int tool_proxy_main(int argc, char **argv)
{
	enum { OPT_FRAMING = 256, OPT_MAXPAY, OPT_FLUSH, OPT_FLUSHIV };
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"target", required_argument, NULL, 't'},
		{"write", required_argument, NULL, 'w'},
		{"framing", required_argument, NULL, OPT_FRAMING},
		{"max-payload", required_argument, NULL, OPT_MAXPAY},
		{"flush", no_argument, NULL, OPT_FLUSH},
		{"flush-interval", required_argument, NULL, OPT_FLUSHIV},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct tool_cmd *self = tool_cmd_find("proxy");
	const char *listen_s = getenv("TAPEDECK_LISTEN"), *target_s = getenv("TAPEDECK_TARGET");
	const char *out = getenv("TAPEDECK_WRITE"), *framing_s = getenv("TAPEDECK_FRAMING");
	const char *maxpay_s = getenv("TAPEDECK_MAX_PAYLOAD");
	const char *flushiv_s = getenv("TAPEDECK_FLUSH_INTERVAL");
	struct proxy px;
	struct tape_meta *meta = NULL;
	struct tape_writer_opts wo;
	struct sockaddr_storage lsa;
	socklen_t lsalen;
	struct tool_signals sigs;
	char why[512], ls[TAPE_ENDPOINT_STRLEN], tg[TAPE_ENDPOINT_STRLEN], fname[16], src[160];
	unsigned long long v;
	struct timespec wall;
	int c, rc, ret = TOOL_EXIT_OK, sig_set = 0;

	memset(&px, 0, sizeof px);
	px.flush_ms = 1000;
	px.flush_each = tool_env_true(getenv("TAPEDECK_FLUSH"));
	px.quiet = tool_env_true(getenv("TAPEDECK_QUIET"));
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:t:w:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_s = optarg;
			break;
		case 't':
			target_s = optarg;
			break;
		case 'w':
			out = optarg;
			break;
		case OPT_FRAMING:
			framing_s = optarg;
			break;
		case OPT_MAXPAY:
			maxpay_s = optarg;
			break;
		case OPT_FLUSH:
			px.flush_each = 1;
			break;
		case OPT_FLUSHIV:
			flushiv_s = optarg;
			break;
		case 'q':
			px.quiet = 1;
			break;
		case 'h':
			tool_proxy_usage(stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return tool_usage_error(self, "unexpected argument '%s'", argv[optind]);
	if (!listen_s || !*listen_s)
		return tool_usage_error(self, "--listen ADDR:PORT is required (or TAPEDECK_LISTEN)");
	if (!target_s || !*target_s)
		return tool_usage_error(self, "--target HOST:PORT is required (or TAPEDECK_TARGET)");
	if (out && !*out)
		out = NULL;
	if (tool_resolve(listen_s, &px.listen, why, sizeof why))
		return tool_usage_error(self, "--listen: %s", why);
	if (tool_resolve(target_s, &px.target, why, sizeof why))
		return tool_usage_error(self, "--target: %s", why);
	if ((rc = tool_framing_options(self, framing_s, maxpay_s, &px.framing)) != 0)
		return rc;
	if (flushiv_s) {
		if (tool_parse_num(flushiv_s, 86400000, &v))
			return tool_usage_error(self, "--flush-interval: '%s' is not milliseconds",
						flushiv_s);
		px.flush_ms = (unsigned)v;
		if (v == 0)
			px.flush_each = 1;
	}
	px.target_salen = tape__endpoint_to_sockaddr(&px.target, &px.target_sa);
	lsalen = tape__endpoint_to_sockaddr(&px.listen, &lsa);

	rc = tape__loop_new(&px.loop);
	if (rc) {
		tool_err("proxy: %s", tape_strerror(rc));
		return TOOL_EXIT_INTERNAL;
	}
	rc = tape__listener_new(px.loop, &px.ls, (const struct sockaddr *)&lsa, lsalen,
				PROXY_BACKLOG, on_accept, &px);
	if (rc) {
		tool_err("proxy: cannot listen on %s: %s", listen_s, tape_strerror(rc));
		ret = TOOL_EXIT_NETWORK;
		goto out;
	}
	px.listen.port = tape__listener_port(px.ls);
	tape_endpoint_format(&px.listen, ls, sizeof ls);
	tape_endpoint_format(&px.target, tg, sizeof tg);
	tape__framing_name(&px.framing, fname, sizeof fname);

	if (out) {
		memset(&wo, 0, sizeof wo);
		wo.flush = px.flush_each ? TAPE_FLUSH_EVENT : TAPE_FLUSH_INTERVAL;
		wo.flush_ms = px.flush_ms;
		clock_gettime(CLOCK_REALTIME, &wall);
		if ((rc = tape_meta_new(&meta)) != 0) {
			tool_err("proxy: %s", tape_strerror(rc));
			ret = TOOL_EXIT_INTERNAL;
			goto out;
		}
		tape_meta_set_start(meta, (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec);
		snprintf(src, sizeof src, "proxy %s -> %s", ls, tg);
		if (tape_meta_set(meta, "source", src) || tape_meta_set(meta, "tool", "tapedeck proxy") ||
		    tape_meta_set(meta, "framing", fname)) {
			tool_err("proxy: cannot set the tape's metadata");
			ret = TOOL_EXIT_INTERNAL;
			goto out;
		}
		rc = tape_writer_open(&px.w, out, NULL, meta, &wo);
		if (rc) {
			tool_err("proxy: %s", px.w ? tape_writer_error(px.w) : tape_strerror(rc));
			ret = TOOL_EXIT_INTERNAL;
			goto out;
		}
		if (!px.flush_each) {
			tape__timer_init(&px.tick, on_tick, &px);
			tape__timer_start(px.loop, &px.tick,
					  tape__clock_ns() + (uint64_t)px.flush_ms * 1000000u);
		}
	}
	px.t0 = tape__clock_ns();

	tool_signals_on(&sigs, px.loop);
	sig_set = 1;

	/* Always said, -q or not: scripts read the port from it. */
	fprintf(stderr, "tapedeck proxy: listening on %s, forwarding to %s (framing %s)%s%s\n", ls,
		tg, fname, out ? ", recording to " : "", out ? out : "");
	rc = tape__loop_run(px.loop);
	if (rc) {
		tool_err("proxy: event loop: %s", tape_strerror(rc));
		ret = TOOL_EXIT_INTERNAL;
	}
	if (px.failed)
		ret = px.failed;
	while (px.conns)
		conn_end(px.conns, TAPE_CLOSE_END, 1);
	if (px.w) {
		tape__timer_stop(px.loop, &px.tick);
		if (!px.failed && tape_writer_close(px.w)) {
			tool_err("proxy: cannot finalise %s: %s", out, tape_writer_error(px.w));
			ret = TOOL_EXIT_INTERNAL;
		}
	}
	fprintf(stderr, "tapedeck proxy: stopped: %llu connections, %llu closed for errors\n",
		(unsigned long long)px.nconns, (unsigned long long)px.nerrors);
out:
	if (sig_set)
		tool_signals_off(&sigs);
	tape_writer_free(px.w);
	tape_meta_free(meta);
	tape__loop_free(px.loop);
	return ret;
}
