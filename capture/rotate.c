/* SPDX-License-Identifier: BSD-2-Clause */
/* rotate.c - the tape files of a live capture: file names, time base, and connections carried across rotations. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capture.h"

#define OUT_ERRLEN 512u
#define CAPTURE_OUT_MAX_TAKEN 100000u /* existing numbered files skipped when rotating */

/*
 * Rotation closes every open connection in the old file and opens it again
 * in the new one, so the connections open at any moment are kept here: an
 * open-addressed table keyed by connection id (linear probing, deletion by
 * backward shift), grown at half full.  Only kept when rotating.
 */
struct conn_ent {
	uint64_t id; /* 0: empty slot (connection ids start at 1) */
	uint32_t flags;
	struct tape_endpoint client, server;
};

struct capture_out {
	struct capture_out_opts o;
	int rotating;
	struct tape_writer *w;
	struct tape_meta *meta;   /* o.meta with this file's start and part */
	char path[PATH_MAX];      /* the current file */
	char base[PATH_MAX];      /* its name before the counter */
	uint64_t counter;         /* files so far with the name base */
	uint64_t files;
	uint64_t base_start;      /* what event times are relative to (ns since the epoch) */
	uint64_t file_start;      /* the current file's start */
	uint64_t last_abs;        /* time of the last event written */
	uint64_t file_events;     /* events of this file, the continued opens aside */
	struct conn_ent *tab;
	size_t tcap, tlive;
	char err[OUT_ERRLEN];
};

static int oerr(struct capture_out *co, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int oerr(struct capture_out *co, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(co->err, sizeof co->err, fmt, ap);
	va_end(ap);
	return code;
}

/* ---- the table of open connections ---------------------------------------- */

static size_t slot_of(uint64_t id, size_t cap)
{
	id ^= id >> 33;
	id *= UINT64_C(0xff51afd7ed558ccd);
	id ^= id >> 33;
	return (size_t)id & (cap - 1);
}

static int tab_grow(struct capture_out *co)
{
	size_t ncap = co->tcap ? co->tcap * 2 : 256;
	struct conn_ent *nt = calloc(ncap, sizeof *nt);

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < co->tcap; i++) {
		if (!co->tab[i].id)
			continue;
		size_t j = slot_of(co->tab[i].id, ncap);
		while (nt[j].id)
			j = (j + 1) & (ncap - 1);
		nt[j] = co->tab[i];
	}
	free(co->tab);
	co->tab = nt;
	co->tcap = ncap;
	return 0;
}

static int tab_add(struct capture_out *co, const struct tape_event *ev)
{
	size_t j;

	if ((co->tlive + 1) * 2 > co->tcap && tab_grow(co))
		return -ENOMEM;
	for (j = slot_of(ev->conn, co->tcap); co->tab[j].id; j = (j + 1) & (co->tcap - 1))
		if (co->tab[j].id == ev->conn)
			return 0; /* the writer refuses a second open anyway */
	co->tab[j].id = ev->conn;
	co->tab[j].flags = ev->flags;
	co->tab[j].client = ev->client;
	co->tab[j].server = ev->server;
	co->tlive++;
	return 0;
}

static void tab_del(struct capture_out *co, uint64_t id)
{
	size_t j, k, mask = co->tcap - 1;

	if (!co->tcap)
		return;
	for (j = slot_of(id, co->tcap); co->tab[j].id != id; j = (j + 1) & mask)
		if (!co->tab[j].id)
			return;
	/* Backward shift: pull later members of the run into the hole when
	 * their home slot is not between the hole and them. */
	for (k = (j + 1) & mask; co->tab[k].id; k = (k + 1) & mask) {
		size_t home = slot_of(co->tab[k].id, co->tcap);
		if (((k - home) & mask) >= ((k - j) & mask)) {
			co->tab[j] = co->tab[k];
			j = k;
		}
	}
	co->tab[j].id = 0;
	co->tlive--;
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = (*(const struct conn_ent *const *)a)->id, y = (*(const struct conn_ent *const *)b)->id;
	return x < y ? -1 : x > y;
}

/* The open connections in id order (NULL with *n 0 when none); the caller
 * frees the array. */
static int tab_sorted(struct capture_out *co, struct conn_ent ***out, size_t *n)
{
	struct conn_ent **v;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!co->tlive)
		return 0;
	v = malloc(co->tlive * sizeof *v);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < co->tcap; i++)
		if (co->tab[i].id)
			v[k++] = &co->tab[i];
	qsort(v, k, sizeof *v, by_id);
	*out = v;
	*n = k;
	return 0;
}

/* ---- file names ------------------------------------------------------------ */

int capture_out_name(char *buf, size_t size, const char *pattern, int expand, int64_t t_sec,
		     uint64_t counter)
{
	char name[PATH_MAX];
	size_t n;

	if (expand) {
		time_t t = (time_t)t_sec;
		struct tm tm;
		if (!localtime_r(&t, &tm))
			return TAPE_EUSAGE;
		/* The user's pattern, as with tcpdump -w: any conversion is fine. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		n = strftime(name, sizeof name, pattern, &tm);
#pragma GCC diagnostic pop
		if (n == 0)
			return TAPE_ELIMIT; /* too long, or nothing at all */
	} else {
		n = strlen(pattern);
		if (n >= sizeof name)
			return TAPE_ELIMIT;
		memcpy(name, pattern, n + 1);
	}
	if (!counter) {
		if (n >= size)
			return TAPE_ELIMIT;
		memcpy(buf, name, n + 1);
		return 0;
	}
	/* "dir/x.tape" -> "dir/x.3.tape": the extension still names the format. */
	const char *slash = strrchr(name, '/');
	const char *file = slash ? slash + 1 : name;
	const char *dot = strrchr(file, '.');
	size_t stem = dot && dot > file ? (size_t)(dot - name) : n;
	int w = snprintf(buf, size, "%.*s.%llu%s", (int)stem, name, (unsigned long long)counter, name + stem);
	return w < 0 || (size_t)w >= size ? TAPE_ELIMIT : 0;
}

/* ---- files ------------------------------------------------------------------ */

static int open_file(struct capture_out *co, uint64_t start)
{
	char base[PATH_MAX], part[32];
	int rc;

	rc = capture_out_name(base, sizeof base, co->o.pattern, co->rotating,
			      (int64_t)(start / 1000000000u), 0);
	if (rc)
		return oerr(co, rc, "cannot make a file name of \"%s\"", co->o.pattern);
	/* A name this capture used already (the pattern has no conversion that
	 * changed) gets a counter rather than being overwritten.  So does, when
	 * rotating, a file that exists: an earlier run's recording (a recorder
	 * restarted by systemd within the pattern's resolution) is never
	 * clobbered.  A single -w file is overwritten, as tcpdump's is. */
	if (co->files && strcmp(base, co->base) == 0)
		co->counter++;
	else
		co->counter = 0;
	memcpy(co->base, base, sizeof base);
	for (unsigned tries = 0;; tries++) {
		struct stat sb;
		rc = capture_out_name(co->path, sizeof co->path, co->o.pattern, co->rotating,
				      (int64_t)(start / 1000000000u), co->counter);
		if (rc)
			return oerr(co, rc, "cannot make a file name of \"%s\"", co->o.pattern);
		if (!co->rotating || stat(co->path, &sb) != 0)
			break;
		if (tries == CAPTURE_OUT_MAX_TAKEN)
			return oerr(co, TAPE_ELIMIT, "%s: this name and %u numbered ones exist already",
				    base, CAPTURE_OUT_MAX_TAKEN);
		co->counter++;
	}
	tape_meta_set_start(co->meta, start);
	if (co->rotating) {
		snprintf(part, sizeof part, "%llu", (unsigned long long)co->files + 1);
		rc = tape_meta_set(co->meta, "part", part);
		if (rc)
			return oerr(co, rc, "%s", tape_strerror(rc));
	}
	rc = tape_writer_open(&co->w, co->path, NULL, co->meta, &co->o.wo);
	if (rc)
		return oerr(co, rc, "%s", tape_writer_error(co->w));
	co->files++;
	co->file_start = start;
	co->file_events = 0;
	if (co->last_abs < start)
		co->last_abs = start;
	return 0;
}

static int put(struct capture_out *co, struct tape_event *ev, uint64_t abs)
{
	int rc;

	if (!co->w)
		return oerr(co, TAPE_EUSAGE, "no file open (after an earlier error)");
	ev->time_ns = abs - co->file_start;
	rc = tape_writer_write(co->w, ev);
	if (rc)
		return oerr(co, rc, "%s", tape_writer_error(co->w));
	co->last_abs = abs;
	return 0;
}

/* Ends the current file at time t and starts the next one there. */
static int rotate(struct capture_out *co, uint64_t t)
{
	struct conn_ent **live = NULL;
	struct tape_event ev;
	size_t n = 0;
	int rc;

	if (co->o.before_rotate && (rc = co->o.before_rotate(co->o.ctx)) != 0)
		return rc; /* its message is in co->err */
	if (t < co->last_abs)
		t = co->last_abs;
	rc = tab_sorted(co, &live, &n);
	if (rc)
		return oerr(co, rc, "out of memory");
	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_CLOSE;
	ev.reason = TAPE_CLOSE_ROTATED;
	for (size_t i = 0; i < n && rc == 0; i++) {
		ev.conn = live[i]->id;
		rc = put(co, &ev, t);
	}
	if (rc == 0 && (rc = tape_writer_close(co->w)) != 0)
		oerr(co, rc, "%s", tape_writer_error(co->w));
	if (rc == 0) {
		tape_writer_free(co->w);
		co->w = NULL;
		rc = open_file(co, t);
	}
	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_OPEN;
	for (size_t i = 0; i < n && rc == 0; i++) {
		ev.conn = live[i]->id;
		ev.client = live[i]->client;
		ev.server = live[i]->server;
		ev.flags = live[i]->flags | TAPE_OPEN_CONTINUED;
		rc = put(co, &ev, t);
	}
	free(live);
	return rc;
}

int capture_out_open(struct capture_out **out, const struct capture_out_opts *o)
{
	struct capture_out *co = calloc(1, sizeof *co);
	int rc;

	*out = co;
	if (!co)
		return -ENOMEM;
	co->o = *o;
	co->rotating = o->rotate_ns || o->rotate_bytes;
	if (co->rotating && strcmp(o->pattern, "-") == 0)
		return oerr(co, TAPE_EUSAGE, "cannot rotate standard output");
	rc = tape_meta_dup(&co->meta, o->meta);
	if (rc)
		return oerr(co, rc, "out of memory");
	co->base_start = tape_meta_start(o->meta);
	return open_file(co, co->base_start);
}

int capture_out_write(struct capture_out *co, const struct tape_event *ev)
{
	struct tape_event e = *ev;
	uint64_t abs = co->base_start + ev->time_ns;
	int rc;

	if (!co->w)
		return oerr(co, TAPE_EUSAGE, "no file open (after an earlier error)");
	if (abs < co->last_abs)
		abs = co->last_abs;
	if (co->rotating && co->file_events &&
	    ((co->o.rotate_ns && abs - co->file_start >= co->o.rotate_ns) ||
	     (co->o.rotate_bytes && tape_writer_bytes(co->w) >= co->o.rotate_bytes))) {
		rc = rotate(co, abs);
		if (rc)
			return rc;
	}
	rc = put(co, &e, abs);
	if (rc)
		return rc;
	co->file_events++;
	if (co->rotating) {
		if (ev->kind == TAPE_EV_OPEN && tab_add(co, ev))
			return oerr(co, -ENOMEM, "out of memory");
		if (ev->kind == TAPE_EV_CLOSE)
			tab_del(co, ev->conn);
	}
	return 0;
}

int capture_out_idle(struct capture_out *co, uint64_t now_ns)
{
	int rc;

	if (!co->w)
		return oerr(co, TAPE_EUSAGE, "no file open (after an earlier error)");
	if (co->rotating && co->file_events && co->o.rotate_ns &&
	    now_ns >= co->file_start + co->o.rotate_ns) {
		rc = rotate(co, now_ns);
		if (rc)
			return rc;
	}
	rc = tape_writer_tick(co->w);
	if (rc)
		return oerr(co, rc, "%s", tape_writer_error(co->w));
	return 0;
}

int capture_out_note(struct capture_out *co, const char *text)
{
	struct tape_event ev;
	int rc;

	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_NOTE;
	ev.data = (const uint8_t *)text;
	ev.len = strlen(text);
	rc = put(co, &ev, co->last_abs);
	if (rc == 0)
		co->file_events++;
	return rc;
}

int capture_out_close(struct capture_out *co)
{
	int rc;

	if (!co->w)
		return oerr(co, TAPE_EUSAGE, "no file open (after an earlier error)");
	rc = tape_writer_close(co->w);
	if (rc)
		return oerr(co, rc, "%s", tape_writer_error(co->w));
	return 0;
}

const char *capture_out_path(const struct capture_out *co)
{
	return co->path;
}

uint64_t capture_out_files(const struct capture_out *co)
{
	return co->files;
}

const char *capture_out_error(const struct capture_out *co)
{
	return co ? co->err : "out of memory";
}

void capture_out_free(struct capture_out *co)
{
	if (!co)
		return;
	tape_writer_free(co->w);
	tape_meta_free(co->meta);
	free(co->tab);
	free(co);
}
