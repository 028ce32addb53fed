/* SPDX-License-Identifier: BSD-2-Clause */
/* live.c - `tapedeck capture -i`: the live capture loop with its signals, flushes, drop reports and status line. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "tool.h"

#define WAIT_MS 100u          /* longest wait for packets: signals, ticks and -G are noticed this fast */
#define BUSY_CHECK_EVENTS 256 /* events between looks at the clock while packets keep coming */
#define HOUSEKEEP_MS 50u      /* ... and how often those looks do the periodic work */
#define TICK_MS 1000u         /* idle connections are expired this often */
#define DROP_POLL_MS 1000u    /* kernel drop counters are read this often */
#define DROP_REPORT_MS 10000u /* new drops are reported at most this often (and at rotation and end) */
#define STATUS_MS 1000u       /* the status line's refresh */

/* Set by the handler; the loop looks at it between events and after every
 * wait, which a signal interrupts (no SA_RESTART). */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct run {
	const struct capture_live_cfg *cfg;
	struct tape_live *lv;
	struct capture_out *co;
	int status_line;               /* standard error is a terminal, and not -q */
	int status_shown;
	uint64_t events, opens, closes;
	uint64_t noted_kernel, noted_if; /* drop counts of the last report */
	uint64_t next_poll, next_report, next_status, next_tick, next_busy; /* monotonic ms */
	uint64_t deadline;             /* --duration ends the capture then; 0: no limit */
	int time_up;
	uint64_t status_ms, status_packets, status_bytes;
	int poll_failed;
};

static void status_clear(struct run *r)
{
	if (r->status_shown) {
		fputs("\r\033[K", stderr);
		r->status_shown = 0;
	}
}

static void status_update(struct run *r, uint64_t now)
{
	struct tape_capture_stats st;
	double secs;

	if (!r->status_line)
		return;
	tape_live_stats(r->lv, &st);
	secs = r->status_ms && now > r->status_ms ? (double)(now - r->status_ms) / 1000.0 : 0.0;
	if (secs > 0.0) {
		fprintf(stderr, "\r%s: %.0f packets/s, %.2f MB/s, %llu connections open (%llu in all), %llu dropped\033[K",
			r->cfg->lo.device, (double)(st.packets - r->status_packets) / secs,
			(double)(st.bytes - r->status_bytes) / secs / 1e6,
			(unsigned long long)(r->opens - r->closes), (unsigned long long)r->opens,
			(unsigned long long)(st.kernel_drops + st.if_drops));
		r->status_shown = 1;
	}
	r->status_ms = now;
	r->status_packets = st.packets;
	r->status_bytes = st.bytes;
}

/* Reports drops not yet reported: a note on the tape and a warning. */
static int drop_report(struct run *r)
{
	struct tape_capture_stats st;
	char text[256];

	tape_live_stats(r->lv, &st);
	if (st.kernel_drops == r->noted_kernel && st.if_drops == r->noted_if)
		return 0;
	snprintf(text, sizeof text,
		 "capture drops: kernel %llu packets (+%llu), interface %llu packets (+%llu) since the "
		 "capture started; the bytes they carried are gaps where the peers' acknowledgements prove them",
		 (unsigned long long)st.kernel_drops, (unsigned long long)(st.kernel_drops - r->noted_kernel),
		 (unsigned long long)st.if_drops, (unsigned long long)(st.if_drops - r->noted_if));
	status_clear(r);
	tool_warn("%s: %llu packets dropped by the kernel, %llu by the interface so far", r->cfg->lo.device,
		  (unsigned long long)st.kernel_drops, (unsigned long long)st.if_drops);
	r->noted_kernel = st.kernel_drops;
	r->noted_if = st.if_drops;
	return capture_out_note(r->co, text);
}

/* Reads the kernel's counters; a failure is reported once and the last
 * counts stand. */
static void poll_drops(struct run *r)
{
	if (tape_live_poll_drops(r->lv) != 0 && !r->poll_failed) {
		r->poll_failed = 1;
		status_clear(r);
		tool_warn("%s", tape_live_error(r->lv));
	}
}

static int before_rotate(void *ctx)
{
	struct run *r = ctx;

	poll_drops(r);
	return drop_report(r);
}

/* The periodic work: ticks (idle only), drop counters, reports, status.
 * Errors are those of the output file, except a failed tick, reported here. */
static int housekeeping(struct run *r, uint64_t now, int idle)
{
	int rc;

	if (r->deadline && now >= r->deadline)
		r->time_up = 1;
	if (idle) {
		uint64_t t = real_ns();
		if (now >= r->next_tick) {
			r->next_tick = now + TICK_MS;
			rc = tape_live_tick(r->lv, t);
			if (rc) {
				status_clear(r);
				tool_err("%s", tape_live_error(r->lv));
				return rc;
			}
		}
		rc = capture_out_idle(r->co, t);
		if (rc)
			return rc;
	}
	if (now >= r->next_poll) {
		r->next_poll = now + DROP_POLL_MS;
		poll_drops(r);
		if (now >= r->next_report) {
			struct tape_capture_stats st;
			tape_live_stats(r->lv, &st);
			if (st.kernel_drops != r->noted_kernel || st.if_drops != r->noted_if) {
				r->next_report = now + DROP_REPORT_MS;
				rc = drop_report(r);
				if (rc)
					return rc;
			}
		}
	}
	if (now >= r->next_status) {
		r->next_status = now + STATUS_MS;
		status_update(r, now);
	}
	return 0;
}

static void wait_for_packets(struct run *r)
{
	int fd = tape_live_fd(r->lv);
	unsigned ms = WAIT_MS;

	if (r->cfg->flush_ms && r->cfg->flush_ms < ms)
		ms = r->cfg->flush_ms;
	if (fd >= 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		(void)poll(&pfd, 1, (int)ms); /* EINTR: a signal, seen by the caller */
	} else {
		struct timespec ts = {0, (long)ms * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void final_report(struct run *r, int quiet)
{
	struct tape_capture_stats st;

	tape_live_stats(r->lv, &st);
	status_clear(r);
	if (!quiet) {
		capture_print_stats(&st, r->events, 1);
		if (capture_out_files(r->co) > 1)
			fprintf(stderr, "tapedeck capture: wrote %llu files, the last %s\n",
				(unsigned long long)capture_out_files(r->co), capture_out_path(r->co));
		else if (strcmp(capture_out_path(r->co), "-") != 0)
			fprintf(stderr, "tapedeck capture: wrote %s\n", capture_out_path(r->co));
	}
	/* Loss is reported even with -q. */
	if (st.kernel_drops || st.if_drops)
		tool_warn("%s: %llu packets dropped by the kernel and %llu by the interface; their bytes are "
			  "gaps on the tape where later packets proved them missing (%llu gap bytes in all), "
			  "and connections all of whose packets were lost are not on it",
			  r->cfg->lo.device, (unsigned long long)st.kernel_drops,
			  (unsigned long long)st.if_drops, (unsigned long long)st.gap_bytes);
}

/* Prints the libpcap error of a failed open, with the fix when it is a
 * matter of privileges. */
static int open_failed(struct tape_live *lv, const char *dev, int rc)
{
	tool_err("%s", tape_live_error(lv));
	if (rc == -EPERM)
		fprintf(stderr, "tapedeck: capturing on %s needs root, or the capabilities CAP_NET_RAW and "
				"CAP_NET_ADMIN (as root: setcap cap_net_raw,cap_net_admin=eip "
				"\"$(command -v tapedeck)\")\n",
			dev);
	else if (rc == -ENODEV)
		fprintf(stderr, "tapedeck: 'tapedeck capture -D' lists the interfaces\n");
	return rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
}

int capture_live(const struct capture_live_cfg *cfg)
{
	struct sigaction sa, old_int, old_term, old_pipe;
	struct capture_out_opts oo;
	struct run r;
	struct tape_event ev;
	uint64_t now;
	int rc, status = TOOL_EXIT_OK, stopping = 0, busy = 0;
	char err[512];

	memset(&r, 0, sizeof r);
	r.cfg = cfg;
	rc = tape_live_open(&r.lv, &cfg->lo);
	if (rc) {
		status = open_failed(r.lv, cfg->lo.device, rc);
		tape_live_free(r.lv);
		return status;
	}
	if (*tape_live_warning(r.lv))
		tool_warn("%s", tape_live_warning(r.lv));
	/* The device is open: root is not needed any more, not even to create
	 * the files. */
	if (cfg->user && capture_drop_privileges(cfg->user, err, sizeof err) != 0) {
		tool_err("%s", err);
		tape_live_free(r.lv);
		return TOOL_EXIT_INPUT;
	}

	memset(&oo, 0, sizeof oo);
	oo.pattern = cfg->out;
	oo.rotate_ns = cfg->rotate_ns;
	oo.rotate_bytes = cfg->rotate_bytes;
	oo.wo.flush = cfg->flush_ms ? TAPE_FLUSH_INTERVAL : TAPE_FLUSH_EVENT;
	oo.wo.flush_ms = cfg->flush_ms;
	oo.meta = tape_live_meta(r.lv);
	oo.before_rotate = before_rotate;
	oo.ctx = &r;
	rc = capture_out_open(&r.co, &oo);
	if (rc) {
		tool_err("%s", capture_out_error(r.co));
		capture_out_free(r.co);
		tape_live_free(r.lv);
		return rc == TAPE_EUSAGE ? TOOL_EXIT_INPUT : TOOL_EXIT_INTERNAL;
	}

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: a signal cuts the wait short */
	stop_signal = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sa.sa_handler = SIG_IGN; /* a closed pipe is a write error, reported */
	sigaction(SIGPIPE, &sa, &old_pipe);

	r.status_line = !cfg->quiet && isatty(STDERR_FILENO);
	now = mono_ms();
	r.next_poll = now + DROP_POLL_MS;
	r.next_status = now + STATUS_MS;
	r.next_tick = now + TICK_MS;
	r.status_ms = now;
	if (cfg->duration_ns)
		r.deadline = now + cfg->duration_ns / 1000000u;
	if (!cfg->quiet) {
		const struct tape_meta *m = tape_live_meta(r.lv);
		fprintf(stderr, "tapedeck capture: listening on %s, link-type %s, snapshot length %s bytes; writing %s\n",
			cfg->lo.device, tape_meta_get(m, "linktype"), tape_meta_get(m, "snaplen"),
			strcmp(cfg->out, "-") == 0 ? "standard output" : capture_out_path(r.co));
	}

	for (;;) {
		if (!stopping && (stop_signal || r.time_up)) {
			/* Drops up to now get their own note before the end. */
			poll_drops(&r);
			if ((rc = drop_report(&r)) != 0)
				goto write_failed;
			if ((rc = tape_live_stop(r.lv)) != 0) {
				tool_err("%s", tape_live_error(r.lv));
				status = TOOL_EXIT_INTERNAL;
				goto out;
			}
			stopping = 1;
		}
		rc = tape_live_next(r.lv, &ev);
		if (rc == 1) {
			if ((rc = capture_out_write(r.co, &ev)) != 0)
				goto write_failed;
			r.events++;
			if (ev.kind == TAPE_EV_OPEN)
				r.opens++;
			else if (ev.kind == TAPE_EV_CLOSE)
				r.closes++;
			if (++busy >= BUSY_CHECK_EVENTS && !stopping) {
				busy = 0;
				now = mono_ms();
				if (now >= r.next_busy) {
					r.next_busy = now + HOUSEKEEP_MS;
					if ((rc = housekeeping(&r, now, 0)) != 0)
						goto write_failed;
				}
			}
			continue;
		}
		busy = 0;
		if (rc == 0)
			break;
		if (rc < 0) {
			/* The capture failed: close what was open and finalise. */
			tool_err("%s", tape_live_error(r.lv));
			status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
			if (stopping || tape_live_stop(r.lv) != 0)
				goto out;
			stopping = 1;
			continue;
		}
		/* rc == 2: nothing waiting. */
		if ((rc = housekeeping(&r, mono_ms(), 1)) != 0)
			goto write_failed;
		if (!stop_signal && !r.time_up)
			wait_for_packets(&r);
	}
	if ((rc = capture_out_close(r.co)) != 0)
		goto write_failed;
	final_report(&r, cfg->quiet);
	goto out;

write_failed:
	status_clear(&r);
	if (*capture_out_error(r.co))
		tool_err("%s", capture_out_error(r.co));
	status = TOOL_EXIT_INTERNAL;
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	capture_out_free(r.co);
	tape_live_free(r.lv);
	return status;
}

static int list_one(void *ctx, const char *name, const char *desc, unsigned flags)
{
	unsigned *n = ctx;
	const char *sep = " [";

	printf("%u.%s", ++*n, name);
	if (desc)
		printf(" (%s)", desc);
	if (flags & TAPE_LIVE_IF_UP) {
		printf("%sUp", sep);
		sep = ", ";
	}
	if (flags & TAPE_LIVE_IF_RUNNING) {
		printf("%sRunning", sep);
		sep = ", ";
	}
	if (flags & TAPE_LIVE_IF_LOOPBACK) {
		printf("%sLoopback", sep);
		sep = ", ";
	}
	printf("%s\n", sep[0] == ',' ? "]" : "");
	return 0;
}

int capture_list_interfaces(void)
{
	char err[512];
	unsigned n = 0;

	if (tape_live_list(list_one, &n, err, sizeof err) != 0) {
		tool_err("%s", err);
		return TOOL_EXIT_INPUT;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tool_err("writing the list failed");
		return TOOL_EXIT_INTERNAL;
	}
	return TOOL_EXIT_OK;
}
