/* SPDX-License-Identifier: BSD-2-Clause */
/* rr.c - loopback TCP load for the proxy and mock-server benchmark (bench/proxy.sh): echo/sink server, bulk, paced-latency and concurrent request/response clients. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/*
 * Modes (all on 127.0.0.1; results as "key value" lines on standard output):
 *
 *   rr echo -p PORT [-P FILE]   server: writes back every byte it reads;
 *                               half-closes after the client's EOF
 *   rr sink -p PORT [-P FILE]   server: discards what it reads; at EOF
 *                               answers the byte count (8 bytes, big-endian)
 *                               and closes.  Port 0: any; -P writes it.
 *   rr bulk -p PORT -n BYTES    one connection: BYTES in 128 KiB writes,
 *                               half-close, read the sink's count (checked)
 *   rr lat -p PORT -r RATE -n COUNT -s SIZE
 *                               one connection (TCP_NODELAY): a SIZE-byte
 *                               request every 1/RATE s, timed until SIZE
 *                               bytes came back; percentiles of the round
 *                               trip after the first 10 % (warm-up)
 *   rr load -p PORT -c CONNS -x EXCH [-t SECS | -N TOTAL] -s SIZE
 *                               CONNS connections at once, each EXCH
 *                               request/response exchanges back to back
 *                               (a SIZE-byte request, a SIZE-byte answer),
 *                               then half-close, wait for EOF and reconnect;
 *                               for SECS seconds or until TOTAL connections
 *                               are done
 */

#define CHUNK (128u << 10)
#define MAX_CONNS 4096
#define MAX_SIZE 65536

static unsigned port, rate = 10000, size = 64, conns = 64, exch = 1000, secs = 5, total = 0;
static uint64_t count = 100000;
static const char *port_file;
static uint8_t buf[CHUNK], req[MAX_SIZE];

static void die(const char *what)
{
	fprintf(stderr, "rr: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in addr_of(unsigned p)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)p);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int connect_to(unsigned p, int nonblock)
{
	struct sockaddr_in a = addr_of(p);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
		die("connect");
	return fd;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += w;
		n -= (size_t)w;
	}
}

static void read_exactly(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		if (r == 0) {
			fprintf(stderr, "rr: unexpected EOF\n");
			exit(1);
		}
		p += r;
		n -= (size_t)r;
	}
}

/* ---- servers ---------------------------------------------------------- */

struct sconn {
	int fd;
	int echo;
	uint64_t got;
	size_t pend_off, pend_len; /* echo: bytes of pend not yet written */
	uint8_t pend[CHUNK];
};

static void server(int echo)
{
	struct sockaddr_in a = addr_of(port);
	socklen_t alen = sizeof a;
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), ep;
	struct epoll_event ev, evs[256];

	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1024) != 0)
		die("bind/listen");
	getsockname(lfd, (struct sockaddr *)&a, &alen);
	if (port_file) {
		FILE *f = fopen(port_file, "w");

		if (!f)
			die(port_file);
		fprintf(f, "%u\n", ntohs(a.sin_port));
		fclose(f);
	}
	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1");
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct sconn *c = evs[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof *c);
					if (!c)
						die("calloc");
					c->fd = fd;
					c->echo = echo;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			for (;;) {
				ssize_t r;

				if (c->pend_len) { /* echo: flush first */
					ssize_t w = write(c->fd, c->pend + c->pend_off, c->pend_len);

					if (w < 0 && errno == EAGAIN) {
						ev.events = EPOLLOUT;
						ev.data.ptr = c;
						epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
						break;
					}
					if (w < 0)
						goto drop;
					c->pend_off += (size_t)w;
					c->pend_len -= (size_t)w;
					if (c->pend_len)
						continue;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
				r = read(c->fd, c->echo ? c->pend : buf, CHUNK);
				if (r < 0 && errno == EAGAIN)
					break;
				if (r < 0)
					goto drop;
				if (r == 0) {
					if (!c->echo) {
						uint8_t be[8];

						for (int k = 0; k < 8; k++)
							be[k] = (uint8_t)(c->got >> (56 - 8 * k));
						(void)!write(c->fd, be, 8);
					}
					goto drop;
				}
				c->got += (uint64_t)r;
				if (c->echo) {
					c->pend_off = 0;
					c->pend_len = (size_t)r;
				}
			}
			continue;
drop:
			close(c->fd); /* echo: everything was written; FIN follows */
			free(c);
		}
	}
}

/* ---- clients ---------------------------------------------------------- */

static void bulk(void)
{
	int fd = connect_to(port, 0);
	uint64_t left = count, got = 0;
	uint8_t be[8];
	double t0 = now_s(), t;

	memset(buf, 'b', sizeof buf);
	while (left) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		write_all(fd, buf, n);
		left -= n;
	}
	shutdown(fd, SHUT_WR);
	read_exactly(fd, be, 8);
	t = now_s() - t0;
	for (int k = 0; k < 8; k++)
		got = got << 8 | be[k];
	close(fd);
	if (got != count) {
		fprintf(stderr, "rr: the sink got %llu bytes of %llu\n", (unsigned long long)got,
			(unsigned long long)count);
		exit(1);
	}
	printf("bytes %llu\nseconds %.4f\nMBps %.1f\n", (unsigned long long)count, t, count / t / 1e6);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void lat(void)
{
	int fd = connect_to(port, 0);
	double *rtt = malloc(count * sizeof *rtt), start, t0, t1;
	uint64_t skip = count / 10, n;
	struct timespec ts;
	uint64_t ns0, ns;

	if (!rtt)
		die("malloc");
	memset(req, 'q', size);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	start = now_s();
	for (uint64_t i = 0; i < count; i++) {
		ns = ns0 + i * 1000000000u / rate;
		ts.tv_sec = (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		t0 = now_s();
		write_all(fd, req, size);
		read_exactly(fd, buf, size);
		t1 = now_s();
		rtt[i] = (t1 - t0) * 1e6;
	}
	t1 = now_s() - start;
	close(fd);
	n = count - skip;
	qsort(rtt + skip, n, sizeof *rtt, cmp_d);
#define PCT(p) rtt[skip + (uint64_t)((double)(n - 1) * (p))]
	printf("exchanges %llu\nrate %.0f\np50_us %.1f\np90_us %.1f\np99_us %.1f\np999_us %.1f\nmax_us %.1f\n",
	       (unsigned long long)count, count / t1, PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999),
	       rtt[count - 1]);
}

struct lconn {
	int fd;
	unsigned done; /* exchanges finished */
	size_t got;    /* bytes of the current answer */
	int closing;
};

static void load(void)
{
	static struct lconn cs[MAX_CONNS];
	struct epoll_event ev, evs[256];
	int ep = epoll_create1(0);
	uint64_t exchanges = 0, finished = 0, started = 0;
	unsigned open = 0;
	double t0 = now_s(), end = t0 + secs, t;

	if (ep < 0)
		die("epoll_create1");
	memset(req, 'q', size);
	memset(&ev, 0, sizeof ev);
#define START(c)                                                                            \
	do {                                                                                \
		(c)->fd = connect_to(port, 1);                                              \
		(c)->done = 0;                                                              \
		(c)->got = 0;                                                               \
		(c)->closing = 0;                                                           \
		ev.events = EPOLLOUT;                                                       \
		ev.data.ptr = (c);                                                          \
		epoll_ctl(ep, EPOLL_CTL_ADD, (c)->fd, &ev);                                 \
		started++;                                                                  \
		open++;                                                                     \
	} while (0)
	for (unsigned i = 0; i < conns && (!total || started < total); i++)
		START(&cs[i]);
	while (open) {
		int n = epoll_wait(ep, evs, 256, 100);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		if (!total && now_s() >= end)
			break;
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;

			if (evs[i].events & EPOLLOUT) { /* connected: first request */
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				write_all(c->fd, req, size);
				continue;
			}
			for (;;) {
				ssize_t r = read(c->fd, buf, CHUNK);

				if (r < 0 && errno == EAGAIN)
					break;
				if (r < 0 || (r == 0 && !c->closing)) {
					fprintf(stderr, "rr: connection ended early: %s\n",
						r < 0 ? strerror(errno) : "EOF");
					exit(1);
				}
				if (r == 0) { /* the answer to our half-close */
					close(c->fd);
					open--;
					finished++;
					if (total ? started < total : now_s() < end)
						START(c);
					break;
				}
				c->got += (size_t)r;
				while (c->got >= size && !c->closing) {
					c->got -= size;
					c->done++;
					exchanges++;
					if (c->done == exch) {
						shutdown(c->fd, SHUT_WR);
						c->closing = 1;
					} else if (c->got == 0) {
						write_all(c->fd, req, size);
					}
				}
			}
		}
	}
	t = now_s() - t0;
	printf("exchanges %llu\nconnections %llu\nseconds %.3f\nrate %.0f\n",
	       (unsigned long long)exchanges, (unsigned long long)finished, t, exchanges / t);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int opt;

	optind = 2;
	while ((opt = getopt(argc, argv, "p:P:n:r:s:c:x:t:N:")) != -1) {
		switch (opt) {
		case 'p': port = bench_uint(optarg); break;
		case 'P': port_file = optarg; break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'r': rate = bench_uint(optarg); break;
		case 's': size = bench_uint(optarg); break;
		case 'c': conns = bench_uint(optarg); break;
		case 'x': exch = bench_uint(optarg); break;
		case 't': secs = bench_uint(optarg); break;
		case 'N': total = bench_uint(optarg); break;
		default: return 2;
		}
	}
	if (size == 0 || size > MAX_SIZE || conns == 0 || conns > MAX_CONNS || rate == 0 ||
	    count == 0 || exch == 0) {
		fprintf(stderr, "rr: bad option value\n");
		return 2;
	}
	if (!strcmp(mode, "echo") || !strcmp(mode, "sink"))
		server(!strcmp(mode, "echo"));
	else if (!strcmp(mode, "bulk"))
		bulk();
	else if (!strcmp(mode, "lat"))
		lat();
	else if (!strcmp(mode, "load"))
		load();
	else {
		fprintf(stderr, "usage: rr echo|sink|bulk|lat|load [options] (see bench/rr.c)\n");
		return 2;
	}
	return 0;
}
