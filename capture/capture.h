/* SPDX-License-Identifier: BSD-2-Clause */
/* capture.h - declarations shared by the modules of `tapedeck capture` (options, live loop, output files, privileges). */
#ifndef TAPE_CAPTURE_H
#define TAPE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "tapedeck.h"

/* ---- sniff.c: the statistics report both modes print at the end ---- */
void capture_print_stats(const struct tape_capture_stats *st, uint64_t events, int live);

/* ---- live.c: `tapedeck capture -i` ---- */
struct capture_live_cfg {
	struct tape_live_opts lo;  /* interface, libpcap settings, reassembly options */
	const char *out;           /* -w: path or pattern; "-" standard output (TSV) */
	uint64_t rotate_ns;        /* -G: a new file after this long; 0: never */
	uint64_t rotate_bytes;     /* -C: a new file once this big; 0: never */
	unsigned flush_ms;         /* --flush-interval */
	uint64_t duration_ns;      /* --duration; 0: until stopped */
	const char *user;          /* -Z: become this user once the device is open */
	int quiet;                 /* -q */
};

/* Runs a live capture to the end (signal, -c, --duration or a failure);
 * returns the command's exit code (enum tool_exit). */
int capture_live(const struct capture_live_cfg *cfg);
/* Prints the interfaces libpcap can capture (-D); exit code. */
int capture_list_interfaces(void);

/* ---- rotate.c: the tape files of a live capture ----
 *
 * Events go to one file until a rotation is due (-G time, -C size); then
 * every open connection is closed with reason `rotated` in the old file,
 * which is finalised, and opened again with the flag `continued` (same id,
 * endpoints and flags) at the start of the new one.  Each file is a
 * complete tape with its own start time (doc/live-capture.md). */
struct capture_out_opts {
	const char *pattern;          /* file name; strftime conversions and a counter
					 when rotating; "-" standard output */
	uint64_t rotate_ns;           /* 0: never by time */
	uint64_t rotate_bytes;        /* 0: never by size */
	struct tape_writer_opts wo;   /* flush policy */
	const struct tape_meta *meta; /* metadata of every file (borrowed); its start
					 is the time base of the events written */
	/* Called before a file is closed for rotation, to end it with notes
	 * (capture_out_note()); a non-zero return stops the rotation and is
	 * returned.  May be NULL. */
	int (*before_rotate)(void *ctx);
	void *ctx;
};

struct capture_out;

/* Creates the first file.  *out is set even on failure, for
 * capture_out_error(), and must be freed.  0, or the writer's error. */
int capture_out_open(struct capture_out **out, const struct capture_out_opts *o);
/* Writes ev (its time relative to the metadata's start), rotating first
 * when a rotation is due.  Times are kept from going backwards.  0 or a
 * negative error (message in capture_out_error()). */
int capture_out_write(struct capture_out *co, const struct tape_event *ev);
/* While no event comes: rotates when the time is due (now_ns: ns since the
 * epoch) and flushes when the flush interval has passed. */
int capture_out_idle(struct capture_out *co, uint64_t now_ns);
/* A note on connection 0 of the current file, at the time of the last
 * event. */
int capture_out_note(struct capture_out *co, const char *text);
/* Finalises the current file. */
int capture_out_close(struct capture_out *co);
/* Path of the current (or last) file; files created so far. */
const char *capture_out_path(const struct capture_out *co);
uint64_t capture_out_files(const struct capture_out *co);
const char *capture_out_error(const struct capture_out *co);
void capture_out_free(struct capture_out *co);
/* The name of a file: pattern through strftime (local time of t_sec) when
 * expand is set, then ".N" before the extension when counter is not 0.
 * 0, or TAPE_ELIMIT when it does not fit in size. */
int capture_out_name(char *buf, size_t size, const char *pattern, int expand, int64_t t_sec,
		     uint64_t counter);

/* ---- privs.c: -Z ---- */
/* Becomes user (name or numeric id) with its groups, for good.  0, or -1
 * with the reason in err. */
int capture_drop_privileges(const char *user, char *err, size_t errlen);

#endif
