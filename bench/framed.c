/* SPDX-License-Identifier: BSD-2-Clause */
/* framed.c - benchmark of the len:N framed send path: tapedeck's encoder and decoder in memory and across a loopback TCP socket (bench/proxy.sh). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "framing.h"

/*
 *   framed mem [COUNT [SIZE [SPEC]]]
 *       encodes COUNT messages of SIZE bytes (default 100000 x 10240,
 *       len:8) into one buffer (header from tape__framing_encode, then the
 *       payload copied), then decodes the buffer with a tape__deframer fed
 *       in 64 KiB pieces, as reads would; best of 5.  Prints the messages a
 *       second of the encoder, the decoder, and both in turn (round trip).
 *   framed tcp LISTEN_PORT CONNECT_PORT [COUNT [SIZE [SPEC]]]
 *       a receiver thread listens on 127.0.0.1:LISTEN_PORT and decodes what
 *       arrives (64 KiB reads); the sender connects to CONNECT_PORT (the
 *       same port, or a proxy in front of it) and sends every message as
 *       one writev() of header + payload.  Time from the connect to the
 *       last message decoded.
 * Every decoded message is checked for its size and its first byte.
 */

#define PIECE (64u << 10)

static struct tape__framing f;
static size_t count = 100000, size = 10240;
static uint8_t *payload;
static size_t hdr_bytes; /* header bytes a message */

struct rx {
	size_t msgs, bad;
	uint64_t bytes;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "framed: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int on_msg(void *arg, const uint8_t *p, size_t n)
{
	struct rx *r = arg;

	if (n != size || p[0] != (uint8_t)r->msgs)
		r->bad++;
	r->msgs++;
	r->bytes += n;
	return 0;
}

static void fill(size_t i)
{
	payload[0] = (uint8_t)i; /* checked by on_msg */
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void mem(void)
{
	size_t cap = count * (size + TAPE__FRAMING_MAX_HDR), len = 0;
	uint8_t *wire = malloc(cap);
	double te[5], td[5], tr[5];

	if (!wire)
		die("malloc");
	memset(wire, 0, cap); /* fault the pages in before timing */
	for (int rep = 0; rep < 5; rep++) {
		struct tape__deframer *d;
		struct rx r = {0, 0, 0};
		double t0 = now_s(), t1;

		len = 0;
		for (size_t i = 0; i < count; i++) {
			size_t hn;

			fill(i);
			if (tape__framing_encode(&f, size, wire + len, &hn) != 0) {
				fprintf(stderr, "framed: encode failed\n");
				exit(1);
			}
			memcpy(wire + len + hn, payload, size);
			len += hn + size;
		}
		t1 = now_s();
		te[rep] = t1 - t0;
		if (tape__deframer_new(&d, &f, TAPE_C2S) != 0)
			die("deframer");
		for (size_t off = 0; off < len; off += PIECE) {
			size_t n = len - off < PIECE ? len - off : PIECE;

			if (tape__deframer_feed(d, wire + off, n, on_msg, &r) != 0) {
				fprintf(stderr, "framed: decode: %s\n", tape__deframer_error(d));
				exit(1);
			}
		}
		tape__deframer_free(d);
		td[rep] = now_s() - t1;
		tr[rep] = te[rep] + td[rep];
		if (r.msgs != count || r.bad) {
			fprintf(stderr, "framed: decoded %zu messages (%zu bad) of %zu\n", r.msgs, r.bad,
				count);
			exit(1);
		}
	}
	qsort(te, 5, sizeof *te, cmp_d);
	qsort(td, 5, sizeof *td, cmp_d);
	qsort(tr, 5, sizeof *tr, cmp_d);
	printf("messages %zu\nsize %zu\nwire_bytes %zu\n", count, size, len);
	printf("encode_msgs_per_s %.0f\nencode_MBps %.0f\n", count / te[0], len / te[0] / 1e6);
	printf("decode_msgs_per_s %.0f\ndecode_MBps %.0f\n", count / td[0], len / td[0] / 1e6);
	printf("roundtrip_msgs_per_s %.0f\nroundtrip_MBps %.0f\n", count / tr[0], len / tr[0] / 1e6);
	free(wire);
}

static int lfd;
static struct rx rxr;

static void *receiver(void *arg)
{
	static uint8_t buf[PIECE];
	struct tape__deframer *d;
	int fd = accept(lfd, NULL, NULL);
	ssize_t n;

	(void)arg;
	if (fd < 0)
		die("accept");
	if (tape__deframer_new(&d, &f, TAPE_C2S) != 0)
		die("deframer");
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (tape__deframer_feed(d, buf, (size_t)n, on_msg, &rxr) != 0) {
			fprintf(stderr, "framed: decode: %s\n", tape__deframer_error(d));
			exit(1);
		}
		if (rxr.msgs == count)
			break;
	}
	if (n < 0)
		die("read");
	tape__deframer_free(d);
	close(fd);
	return NULL;
}

static void tcp(unsigned lport, unsigned cport)
{
	struct sockaddr_in a;
	pthread_t th;
	int one = 1, fd;
	double t0, t;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)lport);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 8) != 0)
		die("bind/listen");
	if (pthread_create(&th, NULL, receiver, NULL) != 0)
		die("pthread_create");
	a.sin_port = htons((uint16_t)cport);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket");
	t0 = now_s();
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		die("connect");
	for (size_t i = 0; i < count; i++) {
		uint8_t hdr[TAPE__FRAMING_MAX_HDR];
		size_t hn, left;
		struct iovec iov[2];

		fill(i);
		if (tape__framing_encode(&f, size, hdr, &hn) != 0) {
			fprintf(stderr, "framed: encode failed\n");
			exit(1);
		}
		hdr_bytes = hn;
		iov[0].iov_base = hdr;
		iov[0].iov_len = hn;
		iov[1].iov_base = payload;
		iov[1].iov_len = size;
		left = hn + size;
		while (left) {
			ssize_t w = writev(fd, iov, 2);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				die("writev");
			left -= (size_t)w;
			for (int k = 0; k < 2 && w; k++) {
				size_t s = (size_t)w < iov[k].iov_len ? (size_t)w : iov[k].iov_len;

				iov[k].iov_base = (uint8_t *)iov[k].iov_base + s;
				iov[k].iov_len -= s;
				w -= (ssize_t)s;
			}
		}
	}
	pthread_join(th, NULL);
	t = now_s() - t0;
	close(fd);
	if (rxr.msgs != count || rxr.bad) {
		fprintf(stderr, "framed: received %zu messages (%zu bad) of %zu\n", rxr.msgs, rxr.bad,
			count);
		exit(1);
	}
	printf("messages %zu\nsize %zu\nseconds %.4f\nmsgs_per_s %.0f\nMBps %.0f\n", count, size, t,
	       count / t, count * (double)(size + hdr_bytes) / t / 1e6);
}

int main(int argc, char **argv)
{
	char err[TAPE__FRAMING_ERRLEN];
	int tcpmode = argc > 1 && !strcmp(argv[1], "tcp");
	int a = tcpmode ? 4 : 2;
	const char *spec = "len:8";

	if (argc < 2 || (!tcpmode && strcmp(argv[1], "mem")) || (tcpmode && argc < 4)) {
		fprintf(stderr, "usage: framed mem|tcp LPORT CPORT [COUNT [SIZE [SPEC]]]\n");
		return 2;
	}
	if (argc > a)
		count = strtoul(argv[a], NULL, 10);
	if (argc > a + 1)
		size = strtoul(argv[a + 1], NULL, 10);
	if (argc > a + 2)
		spec = argv[a + 2];
	if (tape__framing_parse(&f, spec, err, sizeof err) != 0) {
		fprintf(stderr, "framed: %s\n", err);
		return 2;
	}
	if (!count || !size || !(payload = malloc(size)))
		return 2;
	memset(payload, 'm', size);
	if (tcpmode)
		tcp(bench_uint(argv[2]), bench_uint(argv[3]));
	else
		mem();
	return 0;
}
