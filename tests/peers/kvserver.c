/* SPDX-License-Identifier: BSD-2-Clause */
/* kvserver.c - a scriptable test peer: line-based key/value store with state, echo, sink and mute modes, on 127.0.0.1. */

/*
 * Usage: kvserver [--port N] [--port-file FILE] [--mode kv|echo|sink|mute]
 *                 [--preload KEY=VALUE]... [--log FILE]
 *
 * Listens on 127.0.0.1 (port 0, the default: any free port, written to
 * --port-file once listening, atomically) and serves until killed.
 *
 * kv mode (the default): one command per line ("\n", a "\r" before it is
 * dropped), one answer line each ("\n"):
 *
 *   SET k v   -> OK            GET k   -> VALUE v | NIL
 *   INCR k    -> INT n         DEL k   -> DELETED 0|1
 *   PING      -> PONG          ECHO t  -> t
 *   DATE      -> DATE <nanoseconds of the realtime clock> (changes every time)
 *   SLEEP ms  -> SLEPT, after ms milliseconds (the connection waits)
 *   QUIT      -> BYE, then the server closes (FIN)
 *   RESET     -> no answer: the server resets the connection (RST)
 *   other     -> ERR unknown command
 *
 * The state is shared by all connections.  echo mode sends every byte
 * back; sink mode reads and discards; mute mode reads and never answers.
 * In every mode the server closes its side once the client has closed its
 * own and the answers are out.  --log appends one line per connection
 * event: "N open", "N eof", "N reset", "N close".
 */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_KEYS 4096
#define MAX_LINE 65536
#define MAX_EVENTS 256
#define MAX_SLEEPERS 1024

enum mode { KV, ECHO, SINK, MUTE };

struct kv {
	char *key, *val;
};

struct conn {
	int fd;
	unsigned long id;
	char in[MAX_LINE];
	size_t inlen;
	char *out;
	size_t outlen, outcap;
	int eof, closing;
	struct timespec sleep_until; /* SLEEP: no input processed before */
	int sleeping;
};

static enum mode mode = KV;
static struct kv kvs[MAX_KEYS];
static size_t nkv;
static FILE *logfile;
static int ep;
static unsigned long next_id = 1;
static struct conn *sleepers[MAX_SLEEPERS];
static size_t nsleepers;

static void logev(const struct conn *c, const char *what)
{
	if (!logfile)
		return;
	fprintf(logfile, "%lu %s\n", c->id, what);
	fflush(logfile);
}

static struct kv *find(const char *k)
{
	for (size_t i = 0; i < nkv; i++)
		if (strcmp(kvs[i].key, k) == 0)
			return &kvs[i];
	return NULL;
}

static void set(const char *k, const char *v)
{
	struct kv *e = find(k);

	if (e) {
		free(e->val);
		e->val = strdup(v);
		return;
	}
	if (nkv == MAX_KEYS)
		return;
	kvs[nkv].key = strdup(k);
	kvs[nkv].val = strdup(v);
	nkv++;
}

static void put(struct conn *c, const char *p, size_t n)
{
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + n)
			cap *= 2;
		c->out = realloc(c->out, cap);
		if (!c->out)
			abort();
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

static void putf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct conn *c, const char *fmt, ...)
{
	char buf[MAX_LINE + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void unsleep(struct conn *c)
{
	for (size_t i = 0; i < nsleepers; i++)
		if (sleepers[i] == c) {
			sleepers[i] = sleepers[--nsleepers];
			return;
		}
}

static void drop(struct conn *c, int abortive)
{
	unsleep(c);
	if (abortive) {
		struct linger lg = {1, 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		logev(c, "reset-sent");
	}
	logev(c, "close");
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

/* Runs one command; returns 1 when the connection was dropped. */
static int command(struct conn *c, char *line)
{
	char *arg = strchr(line, ' '), *arg2;

	if (arg)
		*arg++ = '\0';
	arg2 = arg ? strchr(arg, ' ') : NULL;
	if (arg2)
		*arg2++ = '\0';
	if (strcmp(line, "SET") == 0 && arg && arg2) {
		set(arg, arg2);
		putf(c, "OK\n");
	} else if (strcmp(line, "GET") == 0 && arg) {
		struct kv *e = find(arg);
		if (e)
			putf(c, "VALUE %s\n", e->val);
		else
			putf(c, "NIL\n");
	} else if (strcmp(line, "INCR") == 0 && arg) {
		struct kv *e = find(arg);
		long long v = e ? atoll(e->val) + 1 : 1;
		char buf[32];
		snprintf(buf, sizeof buf, "%lld", v);
		set(arg, buf);
		putf(c, "INT %lld\n", v);
	} else if (strcmp(line, "DEL") == 0 && arg) {
		struct kv *e = find(arg);
		if (e) {
			free(e->key);
			free(e->val);
			*e = kvs[--nkv];
		}
		putf(c, "DELETED %d\n", e ? 1 : 0);
	} else if (strcmp(line, "PING") == 0) {
		putf(c, "PONG\n");
	} else if (strcmp(line, "ECHO") == 0) {
		putf(c, "%s%s%s\n", arg ? arg : "", arg2 ? " " : "", arg2 ? arg2 : "");
	} else if (strcmp(line, "DATE") == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		putf(c, "DATE %lld%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
	} else if (strcmp(line, "SLEEP") == 0 && arg) {
		long ms = strtol(arg, NULL, 10); /* bad text: 0, no sleep */
		clock_gettime(CLOCK_MONOTONIC, &c->sleep_until);
		c->sleep_until.tv_sec += ms / 1000;
		c->sleep_until.tv_nsec += (ms % 1000) * 1000000L;
		if (c->sleep_until.tv_nsec >= 1000000000L) {
			c->sleep_until.tv_sec++;
			c->sleep_until.tv_nsec -= 1000000000L;
		}
		c->sleeping = 1;
		if (nsleepers < MAX_SLEEPERS)
			sleepers[nsleepers++] = c;
	} else if (strcmp(line, "QUIT") == 0) {
		putf(c, "BYE\n");
		c->closing = 1;
	} else if (strcmp(line, "RESET") == 0) {
		drop(c, 1);
		return 1;
	} else {
		putf(c, "ERR unknown command\n");
	}
	return 0;
}

static int64_t until_ms(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

/* Processes buffered lines; returns 1 when the connection was dropped. */
static int process(struct conn *c)
{
	size_t start = 0;

	while (!c->closing) {
		char *nl;
		if (c->sleeping) {
			if (until_ms(&c->sleep_until) > 0)
				break;
			c->sleeping = 0;
			unsleep(c);
			putf(c, "SLEPT\n");
		}
		nl = memchr(c->in + start, '\n', c->inlen - start);
		if (!nl)
			break;
		*nl = '\0';
		if (nl > c->in + start && nl[-1] == '\r')
			nl[-1] = '\0';
		if (command(c, c->in + start))
			return 1;
		start = (size_t)(nl - c->in) + 1;
	}
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
	return 0;
}

/* Sends what is queued; closes when finished.  Returns 1 when dropped. */
static int flush(struct conn *c)
{
	struct epoll_event ev;

	while (c->outlen) {
		ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			drop(c, 0);
			return 1;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	if (!c->outlen && (c->closing || (c->eof && !c->sleeping))) {
		if (c->eof) {
			drop(c, 0);
			return 1;
		}
		/* QUIT: our side ends; wait for the client's. */
		shutdown(c->fd, SHUT_WR);
	}
	memset(&ev, 0, sizeof ev);
	ev.events = (c->eof ? 0u : EPOLLIN) | (c->outlen ? EPOLLOUT : 0u);
	ev.data.ptr = c;
	if (!ev.events) {
		drop(c, 0);
		return 1;
	}
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

static void readable(struct conn *c)
{
	for (;;) {
		char buf[65536];
		ssize_t n = recv(c->fd, buf, sizeof buf, 0);
		if (n > 0) {
			if (mode == ECHO) {
				put(c, buf, (size_t)n);
				continue;
			}
			if (mode != KV)
				continue;
			if (c->inlen + (size_t)n > MAX_LINE) {
				drop(c, 1);
				return;
			}
			memcpy(c->in + c->inlen, buf, (size_t)n);
			c->inlen += (size_t)n;
			continue;
		}
		if (n == 0) {
			c->eof = 1;
			logev(c, "eof");
			break;
		}
		if (errno == EAGAIN || errno == EINTR)
			break;
		logev(c, errno == ECONNRESET ? "reset" : "error");
		drop(c, 0);
		return;
	}
	if (mode == KV && process(c))
		return;
	flush(c);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL;
	int port = 0, lfd, one = 1;
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	struct epoll_event ev, evs[MAX_EVENTS];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
			port_file = argv[++i];
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			const char *m = argv[++i];
			mode = strcmp(m, "echo") == 0 ? ECHO : strcmp(m, "sink") == 0 ? SINK
							   : strcmp(m, "mute") == 0 ? MUTE : KV;
		} else if (strcmp(argv[i], "--preload") == 0 && i + 1 < argc) {
			char *kvp = argv[++i], *eq = strchr(kvp, '=');
			if (!eq) {
				fprintf(stderr, "kvserver: --preload KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			set(kvp, eq + 1);
		} else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			logfile = fopen(argv[++i], "a");
		} else {
			fprintf(stderr, "usage: kvserver [--port N] [--port-file FILE] [--mode kv|echo|sink|mute] "
					"[--preload KEY=VALUE]... [--log FILE]\n");
			return 2;
		}
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) != 0) {
		perror("kvserver: bind/listen");
		return 1;
	}
	if (port_file) {
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(sin.sin_port)) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) != 0) {
			perror("kvserver: port file");
			return 1;
		}
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		/* SLEEP is rare and short: poll every millisecond while any
		 * connection sleeps (they are found on their next event). */
		int n = epoll_wait(ep, evs, MAX_EVENTS, 1);
		if (n < 0 && errno != EINTR)
			return 1;
		for (size_t i = 0; i < nsleepers; i++) {
			struct conn *c = sleepers[i];
			if (until_ms(&c->sleep_until) > 0)
				continue;
			if (!process(c))
				flush(c);
			i = (size_t)-1; /* the list changed: start again */
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				for (;;) {
					int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;
					c = calloc(1, sizeof *c);
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->id = next_id++;
					setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
					logev(c, "open");
					memset(&ev, 0, sizeof ev);
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				readable(c);
			else if (evs[i].events & EPOLLOUT)
				flush(c);
		}
	}
}
