/* SPDX-License-Identifier: BSD-2-Clause */
/* blast.c - loopback TCP traffic at a set message rate in both directions, for the capture benchmark (bench/capture-rate.sh). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
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
 * One process, two threads over loopback.  The client opens CONNS
 * connections and writes SIZE-byte messages round-robin at RATE messages a
 * second in all (TCP_NODELAY: a message is a segment); the server answers
 * every complete message with REPLY bytes.  At the end the client
 * half-closes every connection, the server closes after its last reply, and
 * the totals go to standard output as "key value" lines:
 *
 *   conns 16           connections, each closed with FIN both ways
 *   messages 50000     messages the client sent
 *   c2s_bytes 5000000  bytes the client sent, in all
 *   s2c_bytes 5000000  bytes the server sent (all received by the client)
 *   seconds 5.000      how long the traffic ran
 *   rate 10000         messages a second achieved
 */

#define MAX_CONNS 4096
#define MAX_MSG (1 << 20)

struct conn {
	int fd;
	uint64_t acc;   /* server: bytes of the current message so far */
	uint64_t owed;  /* server: reply bytes not yet written */
	int eof;        /* server: the client half-closed */
	size_t partial; /* client: bytes of the current message already written */
};

static unsigned conns = 16, rate = 10000, size = 100, reply = 0, seconds = 5, port = 0;
static const char *bind_addr = "127.0.0.1";
static uint8_t pattern[MAX_MSG];
static uint64_t s2c_sent;

static void die(const char *what)
{
	fprintf(stderr, "blast: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void epoll_set(int ep, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.ptr = ptr;
	if (epoll_ctl(ep, op, fd, &ev) != 0)
		die("epoll_ctl");
}

/* Server: writes what it owes; 1 when the connection is finished. */
static int serve_write(int ep, struct conn *c)
{
	while (c->owed) {
		size_t n = c->owed < sizeof pattern ? (size_t)c->owed : sizeof pattern;
		ssize_t w = write(c->fd, pattern, n);
		if (w < 0) {
			if (errno == EAGAIN) {
				epoll_set(ep, EPOLL_CTL_MOD, c->fd, EPOLLIN | EPOLLOUT, c);
				return 0;
			}
			die("server write");
		}
		c->owed -= (uint64_t)w;
		s2c_sent += (uint64_t)w;
	}
	epoll_set(ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
	if (c->eof) {
		close(c->fd); /* everything was read: a FIN, not a reset */
		return 1;
	}
	return 0;
}

static void *server(void *arg)
{
	int ls = *(int *)arg, ep = epoll_create1(0), open_conns = 0, accepted = 0;
	static uint8_t buf[1 << 16];
	struct conn *cs = calloc(conns, sizeof *cs);
	struct epoll_event evs[64];

	if (ep < 0 || !cs)
		die("server setup");
	epoll_set(ep, EPOLL_CTL_ADD, ls, EPOLLIN, NULL);
	while (accepted < (int)conns || open_conns > 0) {
		int n = epoll_wait(ep, evs, 64, 1000);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
				if (fd < 0)
					die("accept");
				c = &cs[accepted++];
				c->fd = fd;
				open_conns++;
				epoll_set(ep, EPOLL_CTL_ADD, fd, EPOLLIN, c);
				continue;
			}
			if (evs[i].events & EPOLLIN) {
				for (;;) {
					ssize_t r = read(c->fd, buf, sizeof buf);
					if (r < 0 && errno == EAGAIN)
						break;
					if (r < 0)
						die("server read");
					if (r == 0) {
						c->eof = 1;
						break;
					}
					c->acc += (uint64_t)r;
					c->owed += c->acc / size * reply;
					c->acc %= size;
				}
			}
			if (serve_write(ep, c))
				open_conns--;
		}
	}
	close(ep);
	free(cs);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: blast [-c CONNS] [-r MSGS_PER_S] [-s SIZE] [-R REPLY] [-t SECONDS] [-p PORT] [-b ADDR]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	struct conn *cs;
	pthread_t th;
	uint64_t msgs = 0, c2s = 0, s2c = 0;
	static uint8_t buf[1 << 16];
	int ls, ep, one = 1, c, open_conns;
	double t0, t;

	while ((c = getopt(argc, argv, "c:r:s:R:t:p:b:")) != -1) {
		switch (c) {
		case 'c': conns = bench_uint(optarg); break;
		case 'r': rate = bench_uint(optarg); break;
		case 's': size = bench_uint(optarg); break;
		case 'R': reply = bench_uint(optarg); break;
		case 't': seconds = bench_uint(optarg); break;
		case 'p': port = bench_uint(optarg); break;
		case 'b': bind_addr = optarg; break;
		default: usage();
		}
	}
	if (!conns || conns > MAX_CONNS || !rate || !size || size > MAX_MSG || reply > MAX_MSG ||
	    !seconds || port > 65535)
		usage();
	if (!reply)
		reply = size;
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (uint8_t)(i * 131 + 7);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1)
		usage();
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1024) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
		die("listen");
	if (pthread_create(&th, NULL, server, &ls) != 0)
		die("pthread_create");

	cs = calloc(conns, sizeof *cs);
	ep = epoll_create1(0);
	if (!cs || ep < 0)
		die("client setup");
	for (unsigned i = 0; i < conns; i++) {
		cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
		    setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
			die("connect");
		if (fcntl(cs[i].fd, F_SETFL, fcntl(cs[i].fd, F_GETFL) | O_NONBLOCK) != 0)
			die("fcntl");
		epoll_set(ep, EPOLL_CTL_ADD, cs[i].fd, EPOLLIN, &cs[i]);
	}

	/* Paced writes: whatever is due by now, round-robin; replies are read
	 * as they come. */
	t0 = now_s();
	for (;;) {
		struct epoll_event evs[64];
		t = now_s() - t0;
		if (t >= seconds)
			break;
		uint64_t due = (uint64_t)(t * rate);
		while (msgs < due) {
			struct conn *k = &cs[msgs % conns];
			ssize_t w = write(k->fd, pattern + k->partial, size - k->partial);
			if (w < 0 && errno == EAGAIN)
				break; /* that socket is full: loopback is behind; retry after the wait */
			if (w < 0)
				die("client write");
			c2s += (uint64_t)w;
			k->partial += (size_t)w;
			if (k->partial < size)
				break;
			k->partial = 0;
			msgs++;
		}
		int n = epoll_wait(ep, evs, 64, 1);
		for (int i = 0; i < n; i++) {
			struct conn *k = evs[i].data.ptr;
			ssize_t r;
			while ((r = read(k->fd, buf, sizeof buf)) > 0)
				s2c += (uint64_t)r;
		}
	}
	t = now_s() - t0;

	/* Finish partial messages, half-close, read until every FIN. */
	for (unsigned i = 0; i < conns; i++) {
		while (cs[i].partial && cs[i].partial < size) {
			ssize_t w = write(cs[i].fd, pattern + cs[i].partial, size - cs[i].partial);
			if (w < 0 && errno != EAGAIN)
				die("client write");
			if (w > 0) {
				c2s += (uint64_t)w;
				cs[i].partial += (size_t)w;
			} else {
				ssize_t r = read(cs[i].fd, buf, sizeof buf);
				if (r > 0)
					s2c += (uint64_t)r;
			}
		}
		if (cs[i].partial)
			msgs++;
		shutdown(cs[i].fd, SHUT_WR);
	}
	open_conns = (int)conns;
	while (open_conns > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 1000);
		for (int i = 0; i < n; i++) {
			struct conn *k = evs[i].data.ptr;
			ssize_t r;
			while ((r = read(k->fd, buf, sizeof buf)) > 0)
				s2c += (uint64_t)r;
			if (r == 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
				close(k->fd);
				open_conns--;
			} else if (errno != EAGAIN) {
				die("client read");
			}
		}
	}
	pthread_join(th, NULL);
	close(ls);
	close(ep);
	free(cs);
	if (s2c != s2c_sent)
		fprintf(stderr, "blast: client received %llu bytes, server sent %llu\n", (unsigned long long)s2c,
			(unsigned long long)s2c_sent);
	printf("conns %u\nmessages %llu\nc2s_bytes %llu\ns2c_bytes %llu\nseconds %.3f\nrate %.0f\n", conns,
	       (unsigned long long)msgs, (unsigned long long)c2s, (unsigned long long)s2c, t, (double)msgs / t);
	return s2c == s2c_sent ? 0 : 1;
}
