/* SPDX-License-Identifier: BSD-2-Clause */
/* reader.c - opening a tape in any format and validating what it yields. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tape-int.h"

/* Bytes looked at when probing: enough for every format's magic line. */
#define PROBE_LEN 64u

static int reader_new(struct tape_reader **out, const char *name)
{
	struct tape_reader *r = calloc(1, sizeof *r);

	*out = r;
	if (!r)
		return -ENOMEM;
	snprintf(r->name, sizeof r->name, "%s", name);
	r->in.fd = -1;
	tape__check_init(&r->check);
	if (tape_meta_new(&r->meta))
		return tape__rerr(r, -ENOMEM, "out of memory");
	return 0;
}

static int reader_start(struct tape_reader *r, int fd, int own_fd, const char *format)
{
	int rc = tape__in_init(&r->in, fd, own_fd);
	long got;

	if (rc) {
		if (own_fd)
			close(fd);
		return tape__rerr(r, rc, "%s", tape_strerror(rc));
	}
	if (format) {
		r->fmt = tape__format_by_name(format);
		if (!r->fmt || !r->fmt->read_open)
			return tape__rerr(r, TAPE_EUNKNOWN, "cannot read format \"%s\"", format);
	} else {
		got = tape__in_need(&r->in, PROBE_LEN, PROBE_LEN);
		if (got < 0)
			return tape__rerr(r, (int)got, "read failed: %s", tape_strerror((int)got));
		if (got == 0)
			return tape__rerr(r, TAPE_ETRUNC, "empty file");
		for (size_t i = 0; tape__formats[i]; i++)
			if (tape__formats[i]->read_open &&
			    tape__formats[i]->probe(tape__in_ptr(&r->in), (size_t)got)) {
				r->fmt = tape__formats[i];
				break;
			}
		if (!r->fmt)
			return tape__rerr(r, TAPE_EUNKNOWN,
					  "offset 0: not a tape (no tape, tsv, ts_proxy, pcap, pcapng or gogetway header)");
	}
	rc = r->fmt->read_open(r);
	if (rc < 0)
		return tape__rerr(r, rc, "%s", tape_strerror(rc));
	return 0;
}

int tape_reader_open_fd(struct tape_reader **out, int fd, const char *name, const char *format)
{
	struct tape_reader *r;
	int rc = reader_new(&r, name ? name : "(input)");

	*out = r;
	if (rc)
		return rc;
	return reader_start(r, fd, 0, format);
}

int tape__reader_open_with(struct tape_reader **out, const char *path, const char *format,
			   const struct tape_capture_opts *copts)
{
	struct tape_reader *r;
	int fd, rc;

	rc = reader_new(&r, strcmp(path, "-") == 0 ? "(stdin)" : path);
	*out = r;
	if (rc)
		return rc;
	r->capture_opts = copts;
	if (strcmp(path, "-") == 0) {
		rc = reader_start(r, STDIN_FILENO, 0, format);
		r->capture_opts = NULL;
		return rc;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return tape__rerr(r, rc, "%s", strerror(-rc));
	}
	rc = reader_start(r, fd, 1, format);
	r->capture_opts = NULL; /* borrowed only while opening */
	return rc;
}

int tape_reader_open(struct tape_reader **out, const char *path, const char *format)
{
	return tape__reader_open_with(out, path, format, NULL);
}

const struct tape_meta *tape_reader_meta(const struct tape_reader *r)
{
	return r->meta;
}

const char *tape_reader_format(const struct tape_reader *r)
{
	return r->fmt ? r->fmt->name : "";
}

int tape_reader_next(struct tape_reader *r, struct tape_event *ev)
{
	char msg[TAPE__ERRLEN - 64];
	int rc;

	if (r->err_code)
		return r->err_code;
	if (!r->fmt)
		return tape__rerr(r, TAPE_EUSAGE, "reader is not open");
	memset(ev, 0, sizeof *ev);
	r->loc_line = 0;
	r->loc_off = r->in.off;
	rc = r->fmt->read_next(r, ev);
	if (rc < 0) {
		if (!r->err_code)
			tape__rerr(r, rc, "%s", tape_strerror(rc));
		return r->err_code;
	}
	r->st.offset = r->in.off;
	if (rc == 0)
		return 0;
	rc = tape__check_event(&r->check, ev, msg, sizeof msg);
	if (rc) {
		if (r->loc_line)
			return tape__rerr_line(r, rc, r->loc_line, "%s", msg);
		return tape__rerr_at(r, rc, r->loc_off, "%s", msg);
	}
	r->st.events++;
	return 1;
}

const char *tape_reader_error(const struct tape_reader *r)
{
	return r ? r->err : "out of memory";
}

void tape_reader_status(const struct tape_reader *r, struct tape_reader_status *st)
{
	*st = r->st;
}

void tape_reader_free(struct tape_reader *r)
{
	if (!r)
		return;
	if (r->fmt && r->fmt->read_free)
		r->fmt->read_free(r);
	tape__in_cleanup(&r->in);
	tape__check_cleanup(&r->check);
	tape_meta_free(r->meta);
	free(r);
}
