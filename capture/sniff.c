/* SPDX-License-Identifier: BSD-2-Clause */
/* sniff.c - `tapedeck capture`: its options, and reassembling the TCP conversations of a capture file onto a tape. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "tool.h"

/* Longest BPF expression assembled from trailing words. */
#define FILTER_MAX 4096u
#define DEFAULT_FLUSH_MS 1000u    /* live captures: --flush-interval */
#define MAX_FLUSH_MS 3600000u
#define MAX_SNAPLEN 262144u       /* as tcpdump's -s 0 */
#define DEFAULT_BUFFER_KIB 32768u /* live: -B; libpcap's own 2 MiB holds few 64 KiB loopback frames */

void tool_capture_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck capture (-r FILE | -i IFACE) [-w OUT] [options] [FILTER...]\n"
		"       tapedeck capture -D\n"
		"\n"
		"Reassemble every TCP connection of a pcap or pcapng capture (-r; FILE '-' for\n"
		"standard input) or of live traffic on an interface (-i) and write them as a\n"
		"tape: both directions in order, timestamps, gaps where bytes were never\n"
		"captured, FIN/RST and how each connection ended.  FILTER is a BPF expression\n"
		"as in tcpdump, given as trailing words or with -f.  Statistics go to standard\n"
		"error at the end.  A live capture runs until SIGINT or SIGTERM, -c or\n"
		"--duration, then closes its connections (reason end) and finalises the tape.\n"
		"\n"
		"Options:\n"
		"  -r, --read FILE         the capture to read\n"
		"  -i, --interface IFACE   capture live on IFACE ('any': every interface)\n"
		"  -D, --list-interfaces   list the interfaces that can be captured, and exit\n"
		"  -w, --write OUT         the tape to write; its format comes from the\n"
		"                          extension (.tape, .tsv, .tsp, .pcap, .pcapng);\n"
		"                          default FILE with .tape instead of its extension,\n"
		"                          or IFACE.tape; '-' writes TSV to standard output\n"
		"  -f, --filter EXPR       BPF filter expression\n"
		"  -c, --count N           stop after N packets (after the filter)\n"
		"      --flush-interval MS hand what was recorded to the system at least\n"
		"                          this often (default 1000 live; 0: every event)\n"
		"      --idle-timeout SEC  close connections idle this long (default 600)\n"
		"      --max-conns N       connections tracked at once (default 1000000)\n"
		"      --conn-mem BYTES    out-of-order bytes held per connection (default 8 MiB)\n"
		"      --total-mem BYTES   out-of-order bytes held in all (default 512 MiB)\n"
		"      --no-stats-note     do not end the tape with a note of the statistics\n"
		"  -q, --quiet             no statistics, progress or status on standard error\n"
		"  -h, --help              show this help\n"
		"\n"
		"Live capture options (-i):\n"
		"  -s, --snaplen BYTES     bytes kept of each packet (default and 0: 262144)\n"
		"  -B, --buffer-size KIB   kernel capture buffer in KiB (default 32768)\n"
		"  -p, --no-promiscuous-mode  do not put the interface in promiscuous mode\n"
		"      --no-immediate      let the kernel batch packets (immediate by default)\n"
		"      --duration SEC      stop after SEC seconds\n"
		"  -G, --rotate-seconds SEC  start a new file every SEC seconds\n"
		"  -C, --rotate-size SIZE  start a new file once this one has SIZE bytes\n"
		"                          (millions of bytes; k, m, g: KiB, MiB, GiB)\n"
		"  -Z, --relinquish-privileges USER  become USER once the interface is open\n"
		"\n"
		"With -G or -C, OUT may hold strftime(3) conversions (%%Y%%m%%d-%%H%%M%%S) and\n"
		"a file whose name is already taken gets a counter before its extension\n"
		"(out.1.tape).  Connections open at a rotation are closed 'rotated' and\n"
		"continue in the next file, opened with the flag 'continued'.\n"
		"\n"
		"Exit status: 0 captured; 2 usage error, bad filter, unreadable or malformed\n"
		"capture, no such interface, no permission to capture, or the capture failed\n"
		"(what was reassembled before the error is still written); 4 the tape could\n"
		"not be written.\n");
}

/* Parses a non-negative decimal with an optional K/M/G (binary) suffix. */
static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end || v == 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

static char *default_output(const char *in)
{
	const char *slash = strrchr(in, '/'), *dot = strrchr(in, '.');
	size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - in) : strlen(in);
	char *out = malloc(stem + 6);

	if (out) {
		memcpy(out, in, stem);
		memcpy(out + stem, ".tape", 6);
	}
	return out;
}

void capture_print_stats(const struct tape_capture_stats *st, uint64_t events, int live)
{
	fprintf(stderr,
		"tapedeck capture: %llu packets (%llu bytes), %llu TCP segments, %llu connections "
		"(%llu picked up mid-stream), %llu events\n",
		(unsigned long long)st->packets, (unsigned long long)st->bytes, (unsigned long long)st->tcp,
		(unsigned long long)st->conns, (unsigned long long)st->midstream, (unsigned long long)events);
	fprintf(stderr,
		"  gaps: %llu (%llu bytes never captured); conflicting retransmissions: %llu (%llu bytes); "
		"retransmitted bytes: %llu; data after FIN: %llu bytes\n",
		(unsigned long long)st->gaps, (unsigned long long)st->gap_bytes,
		(unsigned long long)st->conflicts, (unsigned long long)st->conflict_bytes,
		(unsigned long long)st->dup_bytes, (unsigned long long)st->after_fin_bytes);
	fprintf(stderr,
		"  skipped: %llu non-TCP, %llu truncated by snaplen, %llu malformed; IP fragments: %llu "
		"(%llu datagrams rebuilt, %llu dropped); IPv4 length 0 (offload): %llu\n",
		(unsigned long long)st->non_tcp, (unsigned long long)st->truncated,
		(unsigned long long)st->malformed, (unsigned long long)st->fragments,
		(unsigned long long)st->reassembled, (unsigned long long)st->frag_dropped,
		(unsigned long long)st->ip_len_zero);
	fprintf(stderr, "  connections closed by idle timeout: %llu, evicted by memory caps: %llu; "
			"segments of no connection: %llu\n",
		(unsigned long long)st->timeouts, (unsigned long long)st->evicted,
		(unsigned long long)st->ignored_segments);
	fprintf(stderr, "  other captured bytes not delivered: %llu (after their gap was declared, "
			"RST payload); retransmitted bytes too old to compare: %llu\n",
		(unsigned long long)st->dropped_bytes, (unsigned long long)st->unverified_bytes);
	if (live)
		fprintf(stderr, "  packets dropped by the kernel: %llu, by the interface: %llu\n",
			(unsigned long long)st->kernel_drops, (unsigned long long)st->if_drops);
}

/* A progress bar on a terminal: percent of the file read, packets, connections. */
struct progress {
	int on;
	uint64_t size;
	struct timespec last;
};

static void progress_update(struct progress *pg, struct tape_reader *r, int final)
{
	struct tape_reader_status st;
	struct tape_capture_stats cs;
	struct timespec now;
	char bar[41];

	if (!pg->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && (now.tv_sec - pg->last.tv_sec) * 1000000000L + (now.tv_nsec - pg->last.tv_nsec) <
			      100000000L)
		return;
	pg->last = now;
	tape_reader_status(r, &st);
	tape_reader_capture_stats(r, &cs);
	unsigned pct = pg->size ? (unsigned)(st.offset * 100 / pg->size) : 0;
	if (pct > 100)
		pct = 100;
	memset(bar, ' ', 40);
	memset(bar, '#', pct * 40 / 100);
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %3u%%  %llu packets  %llu connections%s", bar, pct,
		(unsigned long long)cs.packets, (unsigned long long)cs.conns, final ? "\n" : "");
}

/* Parses seconds with up to 9 decimals ("1", "0.5") into nanoseconds, more
 * than 0 and at most max_s seconds. */
static int parse_secs(const char *s, uint64_t max_s, uint64_t *ns)
{
	uint64_t whole = 0, frac = 0, scale = 1000000000u;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > max_s)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale == 1)
				return -1; /* more than 9 decimals */
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	if (*p || (whole == 0 && frac == 0) || (whole == max_s && frac))
		return -1;
	*ns = whole * 1000000000u + frac;
	return 0;
}

/* Parses a decimal up to max. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	if (*s)
		return -1;
	*out = v;
	return 0;
}

/* -C as tcpdump takes it: millions of bytes, or a k/m/g suffix for KiB,
 * MiB, GiB. */
static int parse_rotate_size(const char *s, uint64_t *out)
{
	char num[24];
	size_t n = strlen(s);
	uint64_t v, unit = 1000000u;

	if (n == 0 || n >= sizeof num)
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'k': case 'K': unit = 1u << 10; num[--n] = '\0'; break;
	case 'm': case 'M': unit = 1u << 20; num[--n] = '\0'; break;
	case 'g': case 'G': unit = 1u << 30; num[--n] = '\0'; break;
	default: break;
	}
	if (parse_uint(num, UINT64_C(1) << 40, &v) || v == 0)
		return -1;
	*out = v * unit;
	return 0;
}

/* The trailing words as one filter expression (caller frees). */
static int join_filter(const struct tool_cmd *self, int argc, char **argv, char **out)
{
	size_t len = 0;
	char *filter;

	*out = NULL;
	for (int i = optind; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (len > FILTER_MAX)
		return tool_usage_error(self, "filter longer than %u bytes", FILTER_MAX);
	filter = malloc(len);
	if (!filter)
		return TOOL_EXIT_INTERNAL;
	len = 0;
	for (int i = optind; i < argc; i++) {
		size_t wl = strlen(argv[i]);
		if (i > optind)
			filter[len++] = ' ';
		memcpy(filter + len, argv[i], wl);
		len += wl;
	}
	filter[len] = '\0';
	*out = filter;
	return TOOL_EXIT_OK;
}

/* -r: a capture file onto one tape. */
static int capture_file(const char *in, const char *out, const struct tape_capture_opts *co,
			const struct tape_writer_opts *wo, int quiet)
{
	struct tape_reader *r = NULL;
	struct tape_writer *w = NULL;
	struct tape_event ev;
	struct progress pg;
	int rc, status = TOOL_EXIT_OK;

	memset(&pg, 0, sizeof pg);
	rc = tape_reader_open_capture(&r, in, co);
	if (rc) {
		tool_err("%s", tape_reader_error(r));
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
		goto out;
	}
	rc = tape_writer_open(&w, out, NULL, tape_reader_meta(r), wo);
	if (rc) {
		tool_err("%s", tape_writer_error(w));
		status = TOOL_EXIT_INTERNAL;
		goto out;
	}
	if (!quiet && isatty(STDERR_FILENO) && strcmp(in, "-") != 0) {
		struct stat sb;
		if (stat(in, &sb) == 0 && S_ISREG(sb.st_mode)) {
			pg.on = 1;
			pg.size = (uint64_t)sb.st_size;
		}
	}
	uint64_t n = 0;
	while ((rc = tape_reader_next(r, &ev)) == 1) {
		rc = tape_writer_write(w, &ev);
		if (rc) {
			tool_err("%s", tape_writer_error(w));
			status = rc == TAPE_EUNSUP ? TOOL_EXIT_INPUT : TOOL_EXIT_INTERNAL;
			goto out;
		}
		if ((++n & 1023) == 0)
			progress_update(&pg, r, 0);
	}
	progress_update(&pg, r, 1);
	if (rc < 0) {
		tool_err("%s", tape_reader_error(r));
		status = TOOL_EXIT_INPUT;
	} else {
		tool_report_reader_end(r, in);
	}
	if (tape_writer_close(w)) {
		tool_err("%s", tape_writer_error(w));
		status = TOOL_EXIT_INTERNAL;
	}
	if (!quiet) {
		struct tape_capture_stats st;
		if (tape_reader_capture_stats(r, &st) == 0)
			capture_print_stats(&st, n, 0);
		if (strcmp(out, "-") != 0)
			fprintf(stderr, "tapedeck capture: wrote %s\n", out);
	}
out:
	tape_writer_free(w);
	tape_reader_free(r);
	return status;
}

int tool_capture_main(int argc, char **argv)
{
	enum {
		OPT_IDLE = 256, OPT_MAXCONNS, OPT_CONNMEM, OPT_TOTALMEM, OPT_NOSTATS,
		OPT_NOIMMEDIATE, OPT_DURATION, OPT_FLUSH,
	};
	static const struct option opts[] = {
		{"read", required_argument, NULL, 'r'},
		{"interface", required_argument, NULL, 'i'},
		{"list-interfaces", no_argument, NULL, 'D'},
		{"write", required_argument, NULL, 'w'},
		{"filter", required_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'c'},
		{"flush-interval", required_argument, NULL, OPT_FLUSH},
		{"idle-timeout", required_argument, NULL, OPT_IDLE},
		{"max-conns", required_argument, NULL, OPT_MAXCONNS},
		{"conn-mem", required_argument, NULL, OPT_CONNMEM},
		{"total-mem", required_argument, NULL, OPT_TOTALMEM},
		{"no-stats-note", no_argument, NULL, OPT_NOSTATS},
		{"snaplen", required_argument, NULL, 's'},
		{"buffer-size", required_argument, NULL, 'B'},
		{"no-promiscuous-mode", no_argument, NULL, 'p'},
		{"no-immediate", no_argument, NULL, OPT_NOIMMEDIATE},
		{"duration", required_argument, NULL, OPT_DURATION},
		{"rotate-seconds", required_argument, NULL, 'G'},
		{"rotate-size", required_argument, NULL, 'C'},
		{"relinquish-privileges", required_argument, NULL, 'Z'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct tool_cmd *self = tool_cmd_find("capture");
	struct capture_live_cfg lc;
	struct tape_capture_opts *co = &lc.lo.capture;
	struct tape_writer_opts wo;
	const char *in = NULL, *out = NULL, *live_opt = NULL;
	char *out_alloc = NULL, *filter = NULL;
	int c, list = 0, flush_set = 0, status = TOOL_EXIT_OK;
	size_t v;
	uint64_t u;

	memset(&lc, 0, sizeof lc);
	memset(&wo, 0, sizeof wo);
	co->stats_note = 1;
	lc.flush_ms = DEFAULT_FLUSH_MS;
	optind = 1;
	opterr = 0; /* one message, ours */
	while ((c = getopt_long(argc, argv, "+r:i:Dw:f:c:s:B:pG:C:Z:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			in = optarg;
			break;
		case 'i':
			lc.lo.device = optarg;
			break;
		case 'D':
			list = 1;
			break;
		case 'w':
			out = optarg;
			break;
		case 'f':
			co->filter = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, UINT64_MAX / 10, &co->max_packets) || co->max_packets == 0)
				return tool_usage_error(self, "-c wants a count > 0, not '%s'", optarg);
			break;
		case OPT_FLUSH:
			if (parse_uint(optarg, MAX_FLUSH_MS, &u))
				return tool_usage_error(self, "--flush-interval wants milliseconds 0 to %u, not '%s'",
							MAX_FLUSH_MS, optarg);
			lc.flush_ms = (unsigned)u;
			flush_set = 1;
			break;
		case OPT_IDLE:
			if (parse_size(optarg, &v) || v > 100000000u)
				return tool_usage_error(self, "--idle-timeout wants seconds > 0, not '%s'", optarg);
			co->idle_ns = (uint64_t)v * 1000000000u;
			break;
		case OPT_MAXCONNS:
			if (parse_size(optarg, &co->max_conns))
				return tool_usage_error(self, "--max-conns wants a count > 0, not '%s'", optarg);
			break;
		case OPT_CONNMEM:
			if (parse_size(optarg, &co->conn_mem))
				return tool_usage_error(self, "--conn-mem wants a size > 0, not '%s'", optarg);
			break;
		case OPT_TOTALMEM:
			if (parse_size(optarg, &co->total_mem))
				return tool_usage_error(self, "--total-mem wants a size > 0, not '%s'", optarg);
			break;
		case OPT_NOSTATS:
			co->stats_note = 0;
			break;
		case 's':
			if (parse_uint(optarg, MAX_SNAPLEN, &u))
				return tool_usage_error(self, "-s wants bytes 0 to %u, not '%s'", MAX_SNAPLEN, optarg);
			lc.lo.snaplen = (unsigned)u;
			live_opt = "-s";
			break;
		case 'B':
			if (parse_uint(optarg, INT32_MAX / 1024, &u) || u == 0)
				return tool_usage_error(self, "-B wants KiB > 0, not '%s'", optarg);
			lc.lo.buffer_kib = (unsigned)u;
			live_opt = "-B";
			break;
		case 'p':
			lc.lo.no_promisc = 1;
			live_opt = "-p";
			break;
		case OPT_NOIMMEDIATE:
			lc.lo.no_immediate = 1;
			live_opt = "--no-immediate";
			break;
		case OPT_DURATION:
			if (parse_secs(optarg, 100000000u, &lc.duration_ns))
				return tool_usage_error(self, "--duration wants seconds > 0, not '%s'", optarg);
			live_opt = "--duration";
			break;
		case 'G':
			if (parse_secs(optarg, 100000000u, &lc.rotate_ns))
				return tool_usage_error(self, "-G wants seconds > 0, not '%s'", optarg);
			live_opt = "-G";
			break;
		case 'C':
			if (parse_rotate_size(optarg, &lc.rotate_bytes))
				return tool_usage_error(self, "-C wants a size > 0 (millions of bytes, or with "
							"k, m, g), not '%s'", optarg);
			live_opt = "-C";
			break;
		case 'Z':
			lc.user = optarg;
			live_opt = "-Z";
			break;
		case 'q':
			lc.quiet = 1;
			break;
		case 'h':
			tool_capture_usage(stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (list) {
		if (in || lc.lo.device || optind < argc)
			return tool_usage_error(self, "-D takes nothing else");
		return capture_list_interfaces();
	}
	if (in && lc.lo.device)
		return tool_usage_error(self, "give either -r FILE or -i IFACE, not both");
	if (!in && !lc.lo.device)
		return tool_usage_error(self, "-r FILE or -i IFACE is required");
	if (in && live_opt)
		return tool_usage_error(self, "%s applies to live captures (-i), not to -r", live_opt);
	if (optind < argc) {
		if (co->filter)
			return tool_usage_error(self, "give the filter either with -f or as trailing words");
		status = join_filter(self, argc, argv, &filter);
		if (status != TOOL_EXIT_OK)
			return status;
		co->filter = filter;
	}
	if (!out) {
		if (in && strcmp(in, "-") == 0) {
			status = tool_usage_error(self, "reading standard input needs -w OUT");
			goto out;
		}
		if (in) {
			out = out_alloc = default_output(in);
		} else if ((out_alloc = malloc(strlen(lc.lo.device) + 6)) != NULL) {
			memcpy(out_alloc, lc.lo.device, strlen(lc.lo.device));
			memcpy(out_alloc + strlen(lc.lo.device), ".tape", 6);
			out = out_alloc;
		}
		if (!out) {
			status = TOOL_EXIT_INTERNAL;
			goto out;
		}
	}
	if (strcmp(out, "-") == 0) {
		if (lc.rotate_ns || lc.rotate_bytes) {
			status = tool_usage_error(self, "-G and -C need -w FILE: standard output cannot rotate");
			goto out;
		}
	} else {
		/* The extension of the name the first file gets. */
		char first[4096];
		if (capture_out_name(first, sizeof first, out, lc.rotate_ns || lc.rotate_bytes,
				     (int64_t)time(NULL), 0) != 0) {
			status = tool_usage_error(self, "cannot make a file name of '%s'", out);
			goto out;
		}
		if (!tape_format_from_path(first)) {
			status = tool_usage_error(self, "cannot tell the format of '%s' from its extension", first);
			goto out;
		}
	}

	if (in) {
		if (flush_set) {
			wo.flush = lc.flush_ms ? TAPE_FLUSH_INTERVAL : TAPE_FLUSH_EVENT;
			wo.flush_ms = lc.flush_ms;
		}
		status = capture_file(in, out, co, &wo, lc.quiet);
	} else {
		lc.out = out;
		if (!lc.lo.buffer_kib)
			lc.lo.buffer_kib = DEFAULT_BUFFER_KIB;
		status = capture_live(&lc);
	}
out:
	free(out_alloc);
	free(filter);
	return status;
}
