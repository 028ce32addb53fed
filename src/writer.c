/* SPDX-License-Identifier: BSD-2-Clause */
/* writer.c - creating a tape in any format, validating every event written. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tape-int.h"

static int writer_new(struct tape_writer **out, const char *name, const struct tape_meta *meta,
		      const struct tape_writer_opts *opts)
{
	struct tape_writer *w = calloc(1, sizeof *w);
	int rc;

	*out = w;
	if (!w)
		return -ENOMEM;
	snprintf(w->name, sizeof w->name, "%s", name);
	w->out.fd = -1;
	tape__check_init(&w->check);
	if (opts)
		w->opts = *opts;
	rc = tape_meta_dup(&w->meta, meta);
	if (rc)
		return tape__werr(w, rc, "out of memory");
	return 0;
}

static int writer_start(struct tape_writer *w, int fd, int own_fd, const char *format,
			const char *path)
{
	int rc = tape__out_init(&w->out, fd, own_fd);

	if (rc) {
		if (own_fd)
			close(fd);
		return tape__werr(w, rc, "%s", tape_strerror(rc));
	}
	if (!format)
		format = tape_format_from_path(path);
	if (!format)
		format = "tape";
	w->fmt = tape__format_by_name(format);
	if (!w->fmt || !w->fmt->write_open)
		return tape__werr(w, TAPE_EUNKNOWN, "cannot write format \"%s\"", format);
	rc = w->fmt->write_open(w);
	if (rc == 0 && w->opts.flush != TAPE_FLUSH_CLOSE)
		rc = tape_writer_flush(w);
	w->last_flush_ms = tape__now_ms();
	if (rc)
		return tape__werr(w, rc, "%s", tape_strerror(rc));
	return 0;
}

int tape_writer_open_fd(struct tape_writer **out, int fd, const char *name, const char *format,
			const struct tape_meta *meta, const struct tape_writer_opts *opts)
{
	struct tape_writer *w;
	int rc = writer_new(&w, name ? name : "(output)", meta, opts);

	*out = w;
	if (rc)
		return rc;
	return writer_start(w, fd, 0, format, NULL);
}

int tape_writer_open(struct tape_writer **out, const char *path, const char *format,
		     const struct tape_meta *meta, const struct tape_writer_opts *opts)
{
	struct tape_writer *w;
	int fd, rc;

	if (strcmp(path, "-") == 0)
		return tape_writer_open_fd(out, STDOUT_FILENO, "(stdout)",
					   format ? format : "tsv", meta, opts);
	rc = writer_new(&w, path, meta, opts);
	*out = w;
	if (rc)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		return tape__werr(w, rc, "%s", strerror(-rc));
	}
	return writer_start(w, fd, 1, format, path);
}

int tape_writer_flush(struct tape_writer *w)
{
	int rc;

	if (w->err_code)
		return w->err_code;
	rc = w->fmt->write_flush ? w->fmt->write_flush(w) : 0;
	if (rc == 0)
		rc = tape__out_flush(&w->out);
	w->last_flush_ms = tape__now_ms();
	if (rc)
		return tape__werr(w, rc, "write failed: %s", tape_strerror(rc));
	return 0;
}

int tape_writer_tick(struct tape_writer *w)
{
	if (w->err_code)
		return w->err_code;
	if (w->opts.flush == TAPE_FLUSH_INTERVAL &&
	    tape__now_ms() - w->last_flush_ms >= w->opts.flush_ms)
		return tape_writer_flush(w);
	return 0;
}

int tape_writer_write(struct tape_writer *w, const struct tape_event *ev)
{
	char msg[TAPE__ERRLEN - 64];
	int rc;

	if (w->err_code)
		return w->err_code;
	if (w->closed)
		return tape__werr(w, TAPE_EUSAGE, "write after close");
	rc = tape__check_event(&w->check, ev, msg, sizeof msg);
	if (rc)
		return tape__werr(w, rc, "event %llu: %s", (unsigned long long)w->check.events + 1,
				  msg);
	rc = w->fmt->write_event(w, ev);
	if (rc) {
		if (!w->err_code)
			tape__werr(w, rc, "%s", tape_strerror(rc));
		return w->err_code;
	}
	if (w->opts.flush == TAPE_FLUSH_EVENT)
		return tape_writer_flush(w);
	return tape_writer_tick(w);
}

int tape_writer_close(struct tape_writer *w)
{
	int rc;

	if (w->err_code)
		return w->err_code;
	if (w->closed)
		return 0;
	w->closed = 1;
	rc = w->fmt->write_close ? w->fmt->write_close(w) : 0;
	if (rc == 0)
		rc = tape__out_flush(&w->out);
	if (rc == 0 && w->out.own_fd) {
		int fd = w->out.fd;
		w->out.fd = -1;
		if (close(fd) != 0)
			rc = -errno;
	}
	if (rc && !w->err_code)
		tape__werr(w, rc, "%s", tape_strerror(rc));
	return w->err_code;
}

uint64_t tape_writer_bytes(const struct tape_writer *w)
{
	return w->out.off + w->out.len;
}

uint64_t tape_writer_dropped(const struct tape_writer *w)
{
	return w->dropped;
}

const char *tape_writer_error(const struct tape_writer *w)
{
	return w ? w->err : "out of memory";
}

void tape_writer_free(struct tape_writer *w)
{
	if (!w)
		return;
	if (w->fmt && !w->closed && !w->err_code) {
		/* Hand over what is complete, but leave the tape unfinalised. */
		if (w->fmt->write_flush)
			w->fmt->write_flush(w);
		tape__out_flush(&w->out);
	}
	if (w->fmt && w->fmt->write_free)
		w->fmt->write_free(w);
	tape__out_cleanup(&w->out);
	tape__check_cleanup(&w->check);
	tape_meta_free(w->meta);
	free(w);
}
