/* SPDX-License-Identifier: BSD-2-Clause */
/* io.c - buffered reading and writing of descriptors, tracking byte offsets. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tape-int.h"

int tape__in_init(struct tape__in *in, int fd, int own_fd)
{
	memset(in, 0, sizeof *in);
	in->fd = fd;
	in->own_fd = own_fd;
	in->buf = malloc(TAPE__IN_CHUNK);
	if (!in->buf)
		return -ENOMEM;
	in->cap = TAPE__IN_CHUNK;
	return 0;
}

void tape__in_cleanup(struct tape__in *in)
{
	free(in->buf);
	in->buf = NULL;
	if (in->own_fd && in->fd >= 0)
		close(in->fd);
	in->fd = -1;
}

/* Moves unconsumed bytes to the front and grows the buffer to hold want. */
static int make_room(struct tape__in *in, size_t want, size_t max)
{
	if (in->pos > 0) {
		memmove(in->buf, in->buf + in->pos, in->len - in->pos);
		in->len -= in->pos;
		in->pos = 0;
	}
	if (want > in->cap) {
		size_t ncap = in->cap;
		while (ncap < want)
			ncap = ncap > max / 2 ? max : ncap * 2;
		if (ncap < want)
			return TAPE_ELIMIT;
		uint8_t *nb = realloc(in->buf, ncap);
		if (!nb)
			return -ENOMEM;
		in->buf = nb;
		in->cap = ncap;
	}
	return 0;
}

long tape__in_need(struct tape__in *in, size_t want, size_t max)
{
	if (max < TAPE__IN_CHUNK)
		max = TAPE__IN_CHUNK;
	if (want > max)
		return TAPE_ELIMIT;
	while (in->len - in->pos < want) {
		if (in->err)
			return in->err;
		if (in->eof)
			break;
		if (in->cap - in->pos < want || in->len == in->cap) {
			int rc = make_room(in, want, max);
			if (rc)
				return rc;
		}
		ssize_t got = read(in->fd, in->buf + in->len, in->cap - in->len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			in->err = -errno;
			return in->err;
		}
		if (got == 0)
			in->eof = 1;
		in->len += (size_t)got;
	}
	return (long)(in->len - in->pos);
}

void tape__in_skip(struct tape__in *in, size_t n)
{
	in->pos += n;
	in->off += n;
}

int tape__in_line(struct tape__in *in, const char **line, size_t *len, size_t max)
{
	size_t scanned = 0;

	for (;;) {
		size_t avail = in->len - in->pos;
		const uint8_t *p = in->buf + in->pos;
		const uint8_t *nl = memchr(p + scanned, '\n', avail - scanned);
		if (nl) {
			size_t n = (size_t)(nl - p);
			if (n > max)
				return TAPE_ELIMIT; /* the newline was already buffered */
			*line = (const char *)p;
			*len = n;
			tape__in_skip(in, n + 1);
			return 1;
		}
		scanned = avail;
		if (avail > max)
			return TAPE_ELIMIT;
		long got = tape__in_need(in, avail + 1, max + 1);
		if (got < 0)
			return (int)got;
		if ((size_t)got <= avail) { /* end of input */
			if (avail == 0)
				return 0;
			*line = (const char *)in->buf + in->pos;
			*len = avail;
			tape__in_skip(in, avail);
			return 2;
		}
	}
}

int tape__out_init(struct tape__out *out, int fd, int own_fd)
{
	memset(out, 0, sizeof *out);
	out->fd = fd;
	out->own_fd = own_fd;
	out->buf = malloc(TAPE__OUT_CHUNK);
	if (!out->buf)
		return -ENOMEM;
	out->cap = TAPE__OUT_CHUNK;
	return 0;
}

static int write_all(struct tape__out *out, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t put = write(out->fd, p, n);
		if (put < 0) {
			if (errno == EINTR)
				continue;
			out->err = -errno;
			return out->err;
		}
		p += put;
		n -= (size_t)put;
		out->off += (uint64_t)put;
	}
	return 0;
}

int tape__out_flush(struct tape__out *out)
{
	int rc;

	if (out->err)
		return out->err;
	rc = write_all(out, out->buf, out->len);
	out->len = 0;
	return rc;
}

int tape__out_write(struct tape__out *out, const void *p, size_t n)
{
	if (out->err)
		return out->err;
	if (out->len + n > out->cap) {
		int rc = tape__out_flush(out);
		if (rc)
			return rc;
		if (n >= out->cap)
			return write_all(out, p, n);
	}
	memcpy(out->buf + out->len, p, n);
	out->len += n;
	return 0;
}

void tape__out_cleanup(struct tape__out *out)
{
	free(out->buf);
	out->buf = NULL;
	if (out->own_fd && out->fd >= 0)
		close(out->fd);
	out->fd = -1;
}
