/* SPDX-License-Identifier: BSD-2-Clause */
/* live.c - live capture from a network interface: libpcap set up for it, then the shared ingest pipeline. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest.h"

#define LIVE_SNAPLEN 262144u      /* default and largest snaplen, as tcpdump's */
#define LIVE_TIMEOUT_MS 100u      /* kernel batching timeout without immediate mode */
#define LIVE_IMMEDIATE_MS 10      /* ... and with it, on Linux (see below) */
#define LIVE_MAX_BUFFER_KIB (INT_MAX / 1024) /* pcap_set_buffer_size() takes an int */

struct tape_live {
	pcap_t *p;
	struct tape__ingest *g;
	struct tape_meta *meta;
	int fd;
	char err[TAPE__ERRLEN];
	char warn[TAPE__ERRLEN];
	char gerr[PCAP_ERRBUF_SIZE + 256]; /* the ingest pipeline's messages */
};

static int lerr(struct tape_live *lv, int code, const char *fmt, ...) TAPE__PRINTF(3, 4);

static int lerr(struct tape_live *lv, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lv->err, sizeof lv->err, fmt, ap);
	va_end(ap);
	return code;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Maps pcap_activate()'s failures to errno-style codes with a message that
 * names the device; the caller decides how to advise the user. */
static int activate_error(struct tape_live *lv, const char *dev, int status)
{
	const char *detail = pcap_geterr(lv->p);

	if (!detail || !*detail)
		detail = pcap_statustostr(status);
	switch (status) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		return lerr(lv, -ENODEV, "no such interface \"%s\" (%s)", dev, detail);
	case PCAP_ERROR_PERM_DENIED:
		return lerr(lv, -EPERM, "no permission to capture on %s (%s)", dev, detail);
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		return lerr(lv, -EPERM, "no permission to put %s in promiscuous mode (%s)", dev, detail);
	case PCAP_ERROR_IFACE_NOT_UP:
		return lerr(lv, -ENETDOWN, "interface %s is not up (%s)", dev, detail);
	default:
		return lerr(lv, -EIO, "cannot capture on %s: %s", dev, detail);
	}
}

static int set_filter(struct tape_live *lv, const char *dev, const char *filter)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	bpf_u_int32 net = 0, mask = PCAP_NETMASK_UNKNOWN;
	struct bpf_program prog;
	int rc;

	/* The netmask only matters to "ip broadcast"; without an address on the
	 * interface libpcap cannot tell, and the filter says so if it needs it. */
	if (pcap_lookupnet(dev, &net, &mask, errbuf) != 0)
		mask = PCAP_NETMASK_UNKNOWN;
	if (pcap_compile(lv->p, &prog, filter, 1, mask) != 0)
		return lerr(lv, TAPE_EUSAGE, "bad filter \"%s\": %s", filter, pcap_geterr(lv->p));
	rc = pcap_setfilter(lv->p, &prog);
	pcap_freecode(&prog);
	if (rc != 0)
		return lerr(lv, TAPE_EUSAGE, "cannot apply filter \"%s\": %s", filter, pcap_geterr(lv->p));
	return 0;
}

static int fill_meta(struct tape_live *lv, const char *dev, const char *filter, uint64_t start)
{
	const char *lt = pcap_datalink_val_to_name(pcap_datalink(lv->p));
	char val[TAPE__NAMELEN + 32];
	int rc;

	rc = tape_meta_new(&lv->meta);
	if (rc)
		return lerr(lv, rc, "out of memory");
	tape_meta_set_start(lv->meta, start);
	snprintf(val, sizeof val, "interface %s", dev);
	if (tape_meta_set(lv->meta, "source", val) != 0)
		rc = tape_meta_set(lv->meta, "source", "interface");
	snprintf(val, sizeof val, "tapedeck %s", tape_version());
	rc = rc ? rc : tape_meta_set(lv->meta, "tool", val);
	rc = rc ? rc : tape_meta_set(lv->meta, "linktype", lt ? lt : "unknown");
	snprintf(val, sizeof val, "%d", pcap_snapshot(lv->p));
	rc = rc ? rc : tape_meta_set(lv->meta, "snaplen", val);
	if (rc == 0 && filter && strlen(filter) <= TAPE_MAX_META_VALUE)
		rc = tape_meta_set(lv->meta, "filter", filter);
	if (rc)
		return lerr(lv, rc, "cannot record the capture's metadata: %s", tape_strerror(rc));
	return 0;
}

int tape_live_open(struct tape_live **out, const struct tape_live_opts *opts)
{
	struct tape_live *lv = calloc(1, sizeof *lv);
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	const char *dev;
	uint64_t start;
	int rc;

	*out = lv;
	if (!lv)
		return -ENOMEM;
	lv->fd = -1;
	if (!opts || !opts->device || !*opts->device)
		return lerr(lv, TAPE_EUSAGE, "no interface named");
	dev = opts->device;
	if (opts->snaplen > LIVE_SNAPLEN)
		return lerr(lv, TAPE_EUSAGE, "snaplen %u is over the largest, %u", opts->snaplen, LIVE_SNAPLEN);
	if (opts->buffer_kib > LIVE_MAX_BUFFER_KIB)
		return lerr(lv, TAPE_EUSAGE, "buffer of %u KiB is over the largest, %d KiB", opts->buffer_kib,
			    LIVE_MAX_BUFFER_KIB);
	lv->p = pcap_create(dev, errbuf);
	if (!lv->p)
		return lerr(lv, -EIO, "cannot capture on %s: %s", dev, errbuf);
	/* These only fail on an activated handle, which this is not. */
	pcap_set_snaplen(lv->p, (int)(opts->snaplen ? opts->snaplen : LIVE_SNAPLEN));
	pcap_set_promisc(lv->p, !opts->no_promisc);
#ifdef __linux__
	/* Immediate delivery on Linux is a 1 ms batch timeout, not libpcap's
	 * immediate mode: that switches to TPACKET_V2, whose fixed-size frames
	 * are 64 KiB on any interface with segmentation offload (loopback, most
	 * NICs), so a 32 MiB buffer holds 512 packets and a capture that is
	 * descheduled for a few milliseconds drops them.  TPACKET_V3 packs
	 * packets into blocks, which the kernel hands over when full or after
	 * the timeout: the same buffer holds a hundred thousand small packets,
	 * and none waits more than 1 ms.  (doc/performance.md has the figures.) */
	pcap_set_immediate_mode(lv->p, 0);
	pcap_set_timeout(lv->p, opts->no_immediate
				       ? (int)(opts->timeout_ms ? opts->timeout_ms : LIVE_TIMEOUT_MS)
				       : LIVE_IMMEDIATE_MS);
#else
	pcap_set_immediate_mode(lv->p, !opts->no_immediate);
	pcap_set_timeout(lv->p, (int)(opts->timeout_ms ? opts->timeout_ms : LIVE_TIMEOUT_MS));
#endif
	if (opts->buffer_kib)
		pcap_set_buffer_size(lv->p, (int)opts->buffer_kib * 1024);
	/* Nanoseconds where the platform has them; microseconds otherwise (the
	 * ingest pipeline asks the handle which it got). */
	(void)pcap_set_tstamp_precision(lv->p, PCAP_TSTAMP_PRECISION_NANO);

	/* Packets are stamped by the kernel after activation, so none is older
	 * than this. */
	start = realtime_ns();
	rc = pcap_activate(lv->p);
	if (rc < 0)
		return activate_error(lv, dev, rc);
	if (rc > 0)
		snprintf(lv->warn, sizeof lv->warn, "%s: %s", dev,
			 *pcap_geterr(lv->p) ? pcap_geterr(lv->p) : pcap_statustostr(rc));
	/* The caller's loop waits on the descriptor with its own timeout, so it
	 * can tick, flush and notice signals whether or not packets come. */
	if (pcap_setnonblock(lv->p, 1, errbuf) != 0)
		return lerr(lv, -EIO, "cannot capture on %s: %s", dev, errbuf);
	lv->fd = pcap_get_selectable_fd(lv->p);
	if (opts->capture.filter && (rc = set_filter(lv, dev, opts->capture.filter)) != 0)
		return rc;
	rc = tape__ingest_new(&lv->g, lv->p, &opts->capture, lv->gerr, sizeof lv->gerr);
	if (rc)
		return lerr(lv, rc == -ENOMEM ? rc : TAPE_EUNSUP, "%s: %s", dev, lv->gerr);
	tape__ingest_set_live(lv->g, start);
	return fill_meta(lv, dev, opts->capture.filter, start);
}

const struct tape_meta *tape_live_meta(const struct tape_live *lv)
{
	return lv->meta;
}

int tape_live_fd(const struct tape_live *lv)
{
	return lv->fd;
}

int tape_live_next(struct tape_live *lv, struct tape_event *ev)
{
	int rc = tape__ingest_next(lv->g, ev);

	if (rc < 0)
		lerr(lv, rc, "%s", lv->gerr);
	return rc;
}

int tape_live_tick(struct tape_live *lv, uint64_t now_ns)
{
	int rc = tape__ingest_tick(lv->g, now_ns);

	if (rc < 0)
		lerr(lv, rc, "%s", lv->gerr);
	return rc;
}

int tape_live_poll_drops(struct tape_live *lv)
{
	int rc = tape__ingest_drops(lv->g);

	if (rc < 0)
		lerr(lv, rc, "%s", lv->gerr);
	return rc;
}

void tape_live_stats(const struct tape_live *lv, struct tape_capture_stats *st)
{
	tape__ingest_stats(lv->g, st);
}

int tape_live_stop(struct tape_live *lv)
{
	int rc = tape__ingest_stop(lv->g);

	if (rc < 0)
		lerr(lv, rc, "%s", tape_strerror(rc));
	return rc;
}

const char *tape_live_error(const struct tape_live *lv)
{
	return lv ? lv->err : "out of memory";
}

const char *tape_live_warning(const struct tape_live *lv)
{
	return lv ? lv->warn : "";
}

void tape_live_free(struct tape_live *lv)
{
	if (!lv)
		return;
	tape__ingest_free(lv->g);
	if (lv->p)
		pcap_close(lv->p);
	tape_meta_free(lv->meta);
	free(lv);
}

int tape_live_list(int (*fn)(void *ctx, const char *name, const char *desc, unsigned flags),
		   void *ctx, char *err, size_t errlen)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_if_t *all = NULL;
	int rc = 0;

	if (pcap_findalldevs(&all, errbuf) != 0) {
		snprintf(err, errlen, "cannot list the interfaces: %s", errbuf);
		return -EIO;
	}
	for (pcap_if_t *d = all; d && rc == 0; d = d->next) {
		unsigned flags = 0;
		if (d->flags & PCAP_IF_LOOPBACK)
			flags |= TAPE_LIVE_IF_LOOPBACK;
		if (d->flags & PCAP_IF_UP)
			flags |= TAPE_LIVE_IF_UP;
		if (d->flags & PCAP_IF_RUNNING)
			flags |= TAPE_LIVE_IF_RUNNING;
		rc = fn(ctx, d->name, d->description, flags);
	}
	pcap_freealldevs(all);
	return rc;
}
