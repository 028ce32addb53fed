/* SPDX-License-Identifier: BSD-2-Clause */
/* fmt_pcap.c - pcap and pcapng as a tape form: read by reassembly, written by packet synthesis. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"

/* ---- reading -------------------------------------------------------------
 *
 * libpcap reads from a FILE *.  The generic reader has already consumed the
 * first bytes into r->in to probe the format, and the input may be a pipe,
 * so the FILE * is a cookie stream over r->in: no byte is read twice and
 * r->in.off counts what the stream consumed (progress).  The stream is
 * buffered (an unbuffered one makes stdio read byte by byte); the exact
 * position libpcap has reached, for error messages, is ftell(), which the
 * cookie's seek answers for the one request it supports: where am I.
 */
struct pcap_rstate {
	FILE *fp;     /* owned until pcap_fopen_offline succeeds */
	FILE *stream; /* the same stream, borrowed, for ftell() */
	pcap_t *p;
	struct tape__ingest *g;
	char err[PCAP_ERRBUF_SIZE + 256];
	/* An unreadable record: reported after the connections it interrupted
	 * have been flushed and closed, so nothing reassembled is lost. */
	int pending;
	uint64_t pending_off;
	char pending_msg[PCAP_ERRBUF_SIZE + 256];
};

static int probe(const uint8_t *b, size_t n)
{
	static const uint8_t magics[][4] = {
		{0xa1, 0xb2, 0xc3, 0xd4}, {0xd4, 0xc3, 0xb2, 0xa1}, /* pcap, microseconds */
		{0xa1, 0xb2, 0x3c, 0x4d}, {0x4d, 0x3c, 0xb2, 0xa1}, /* pcap, nanoseconds */
		{0x0a, 0x0d, 0x0d, 0x0a},                           /* pcapng section header */
	};

	if (n < 4)
		return 0;
	for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
		if (memcmp(b, magics[i], 4) == 0)
			return 1;
	return 0;
}

static ssize_t cookie_read(void *ctx, char *buf, size_t size)
{
	struct tape__in *in = ctx;
	long got = tape__in_need(in, 1, TAPE__IN_CHUNK);
	size_t n;

	if (got < 0) {
		errno = -(int)got;
		return -1;
	}
	n = (size_t)got < size ? (size_t)got : size;
	memcpy(buf, tape__in_ptr(in), n);
	tape__in_skip(in, n);
	return (ssize_t)n;
}

/* Only "where am I" (offset 0 from SEEK_CUR): a capture may be a pipe. */
static int cookie_seek(void *ctx, off64_t *pos, int whence)
{
	struct tape__in *in = ctx;

	if (whence != SEEK_CUR || *pos != 0) {
		errno = ESPIPE;
		return -1;
	}
	*pos = (off64_t)in->off;
	return 0;
}

static uint64_t in_pos(void *ctx)
{
	long pos = ftell((FILE *)ctx);
	return pos < 0 ? 0 : (uint64_t)pos;
}

static int read_open(struct tape_reader *r)
{
	static const cookie_io_functions_t io = {.read = cookie_read, .seek = cookie_seek};
	const struct tape_capture_opts *opts = r->capture_opts;
	struct pcap_rstate *s = calloc(1, sizeof *s);
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	char val[64];
	int rc;

	if (!s)
		return -ENOMEM;
	r->state = s;
	s->fp = fopencookie(&r->in, "r", io);
	if (!s->fp)
		return tape__rerr(r, -errno, "%s", strerror(errno));
	s->stream = s->fp;
	s->p = pcap_fopen_offline_with_tstamp_precision(s->fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!s->p)
		return tape__rerr_at(r, TAPE_EFORMAT, r->in.off, "%s", errbuf);
	s->fp = NULL; /* pcap_close() closes it */
	if (opts && opts->filter) {
		struct bpf_program prog;
		if (pcap_compile(s->p, &prog, opts->filter, 1, PCAP_NETMASK_UNKNOWN) != 0)
			return tape__rerr(r, TAPE_EUSAGE, "bad filter \"%s\": %s", opts->filter,
					  pcap_geterr(s->p));
		rc = pcap_setfilter(s->p, &prog);
		pcap_freecode(&prog);
		if (rc != 0)
			return tape__rerr(r, TAPE_EUSAGE, "cannot apply filter: %s", pcap_geterr(s->p));
	}
	rc = tape__ingest_new(&s->g, s->p, opts, s->err, sizeof s->err);
	if (rc)
		return tape__rerr(r, rc == -ENOMEM ? rc : TAPE_EUNSUP, "%s", s->err);
	tape__ingest_pos_hook(s->g, in_pos, s->stream);
	rc = tape__ingest_prime(s->g);
	if (rc)
		return tape__rerr_at(r, rc, r->in.off, "%s", s->err);
	tape_meta_set_start(r->meta, tape__ingest_start(s->g));
	{
		const char *base = strrchr(r->name, '/');
		base = base ? base + 1 : r->name;
		if (tape_meta_set(r->meta, "source", base) != 0)
			tape_meta_set(r->meta, "source", "capture");
	}
	snprintf(val, sizeof val, "tapedeck %s", tape_version());
	tape_meta_set(r->meta, "tool", val);
	snprintf(val, sizeof val, "%s", pcap_datalink_val_to_name(pcap_datalink(s->p))
					    ? pcap_datalink_val_to_name(pcap_datalink(s->p))
					    : "unknown");
	tape_meta_set(r->meta, "linktype", val);
	if (opts && opts->filter && strlen(opts->filter) <= TAPE_MAX_META_VALUE)
		tape_meta_set(r->meta, "filter", opts->filter);
	return 0;
}

static int read_next(struct tape_reader *r, struct tape_event *ev)
{
	struct pcap_rstate *s = r->state;
	int rc;

	for (;;) {
		rc = tape__ingest_next(s->g, ev);
		if (rc == 2)
			continue;
		if (rc < 0 && !s->pending && rc != -ENOMEM) {
			s->pending = rc;
			s->pending_off = tape__ingest_good_pos(s->g);
			snprintf(s->pending_msg, sizeof s->pending_msg, "%s", s->err);
			rc = tape__ingest_stop(s->g);
			if (rc == 0)
				continue;
		}
		break;
	}
	if (rc < 0)
		return tape__rerr_at(r, rc, tape__ingest_good_pos(s->g), "%s", s->err);
	if (rc == 0 && s->pending)
		return tape__rerr_at(r, s->pending, s->pending_off, "%s", s->pending_msg);
	if (rc == 0 && tape__ingest_truncated(s->g) && !r->st.dropped_bytes)
		tape__reader_dropped(r, r->in.off - tape__ingest_good_pos(s->g), "capture ends inside a packet record at offset %llu (%s)",
				     (unsigned long long)tape__ingest_good_pos(s->g),
				     tape__ingest_truncated(s->g));
	r->loc_off = tape__ingest_good_pos(s->g);
	return rc;
}

static void read_free(struct tape_reader *r)
{
	struct pcap_rstate *s = r->state;

	if (!s)
		return;
	tape__ingest_free(s->g);
	if (s->p)
		pcap_close(s->p);
	if (s->fp)
		fclose(s->fp);
	free(s);
	r->state = NULL;
}

int tape_reader_open_capture(struct tape_reader **out, const char *path,
			     const struct tape_capture_opts *opts)
{
	return tape__reader_open_with(out, path, "pcap", opts);
}

int tape_reader_capture_stats(const struct tape_reader *r, struct tape_capture_stats *st)
{
	const struct pcap_rstate *s;

	if (!r->fmt || (r->fmt != &tape__format_pcap && r->fmt != &tape__format_pcapng) || !r->state)
		return TAPE_EUSAGE;
	s = r->state;
	if (!s->g)
		return TAPE_EUSAGE;
	tape__ingest_stats(s->g, st);
	return 0;
}

/* ---- writing ---------------------------------------------------------------
 *
 * Events become frames through the synthesiser, frames become records
 * through the pcap/pcapng file writer, both straight into w->out.
 */
struct pcap_wstate {
	struct tape__synth *syn;
	struct tape__pcapout *po;
};

static int on_frame(void *ctx, uint64_t ts, const uint8_t *frame, size_t len)
{
	struct pcap_wstate *s = ctx;
	return tape__pcapout_frame(s->po, ts, frame, len);
}

static int write_open_ng(struct tape_writer *w, int ng)
{
	struct pcap_wstate *s = calloc(1, sizeof *s);
	struct tape__synth_opts so;
	int rc;

	if (!s)
		return -ENOMEM;
	w->state = s;
	memset(&so, 0, sizeof so);
	so.mss = w->opts.mss;
	so.linktype = 1;
	rc = tape__pcapout_open(&s->po, &w->out, ng, 1, 262144);
	if (rc)
		return tape__werr(w, rc, "%s", s->po ? tape__pcapout_error(s->po) : tape_strerror(rc));
	rc = tape__synth_new(&s->syn, &so, on_frame, s);
	if (rc)
		return tape__werr(w, rc, "%s", tape_strerror(rc));
	return 0;
}

static int write_open_pcap(struct tape_writer *w)
{
	return write_open_ng(w, 0);
}

static int write_open_pcapng(struct tape_writer *w)
{
	return write_open_ng(w, 1);
}

static int write_event(struct tape_writer *w, const struct tape_event *ev)
{
	struct pcap_wstate *s = w->state;

	if (ev->kind == TAPE_EV_NOTE) {
		w->dropped++; /* packets have no place for notes */
		return 0;
	}
	int rc = tape__synth_event(s->syn, tape_meta_start(w->meta), ev);
	if (rc) {
		const char *why = tape__synth_error(s->syn);
		if (!why || !*why)
			why = tape__pcapout_error(s->po);
		return tape__werr(w, rc, "connection %llu, %s event at %llu ns: %s",
				  (unsigned long long)ev->conn, tape_event_kind_name(ev->kind),
				  (unsigned long long)ev->time_ns, why && *why ? why : tape_strerror(rc));
	}
	return 0;
}

static void write_free(struct tape_writer *w)
{
	struct pcap_wstate *s = w->state;

	if (!s)
		return;
	tape__synth_free(s->syn);
	tape__pcapout_free(s->po);
	free(s);
	w->state = NULL;
}

static const char *const pcap_exts[] = {"pcap", "cap", NULL};
static const char *const pcapng_exts[] = {"pcapng", NULL};

const struct tape__format tape__format_pcap = {
	.name = "pcap",
	.exts = pcap_exts,
	.probe = probe,
	.read_open = read_open,
	.read_next = read_next,
	.read_free = read_free,
	.write_open = write_open_pcap,
	.write_event = write_event,
	.write_free = write_free,
};

/* Reading is the same for both (libpcap tells them apart); the name only
 * chooses the file layout when writing. */
const struct tape__format tape__format_pcapng = {
	.name = "pcapng",
	.exts = pcapng_exts,
	.probe = probe,
	.read_open = read_open,
	.read_next = read_next,
	.read_free = read_free,
	.write_open = write_open_pcapng,
	.write_event = write_event,
	.write_free = write_free,
};
