/* SPDX-License-Identifier: BSD-2-Clause */
/* sniff.c - `tapedeck capture`: reassemble the TCP conversations of a capture onto a tape. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

/* Longest BPF expression assembled from trailing words. */
#define FILTER_MAX 4096u

void tool_capture_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck capture -r FILE [-w OUT] [options] [FILTER...]\n"
		"\n"
		"Read a pcap or pcapng capture (FILE '-' for standard input), reassemble every\n"
		"TCP connection in it and write them as a tape: both directions in order,\n"
		"timestamps, gaps where bytes were never captured, FIN/RST and how each\n"
		"connection ended.  FILTER is a BPF expression as in tcpdump, given as trailing\n"
		"words or with -f.  Statistics go to standard error at the end.\n"
		"\n"
		"Options:\n"
		"  -r, --read FILE         the capture to read\n"
		"  -w, --write OUT         the tape to write; its format comes from the\n"
		"                          extension (.tape, .tsv, .tsp, .pcap, .pcapng);\n"
		"                          default FILE with .tape instead of its extension;\n"
		"                          '-' writes TSV to standard output\n"
		"  -f, --filter EXPR       BPF filter expression\n"
		"      --idle-timeout SEC  close connections idle this long (default 600)\n"
		"      --max-conns N       connections tracked at once (default 1000000)\n"
		"      --conn-mem BYTES    out-of-order bytes held per connection (default 8 MiB)\n"
		"      --total-mem BYTES   out-of-order bytes held in all (default 512 MiB)\n"
		"      --no-stats-note     do not end the tape with a note of the statistics\n"
		"  -q, --quiet             no statistics or progress on standard error\n"
		"  -h, --help              show this help\n"
		"\n"
		"Exit status: 0 captured; 2 usage error, bad filter, or unreadable/malformed\n"
		"capture (what was reassembled before the error is still written); 4 the tape\n"
		"could not be written.\n");
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

static void print_stats(const struct tape_capture_stats *st, uint64_t events)
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
		"(%llu datagrams rebuilt, %llu dropped)\n",
		(unsigned long long)st->non_tcp, (unsigned long long)st->truncated,
		(unsigned long long)st->malformed, (unsigned long long)st->fragments,
		(unsigned long long)st->reassembled, (unsigned long long)st->frag_dropped);
	fprintf(stderr, "  connections closed by idle timeout: %llu, evicted by memory caps: %llu; "
			"segments of no connection: %llu\n",
		(unsigned long long)st->timeouts, (unsigned long long)st->evicted,
		(unsigned long long)st->ignored_segments);
	fprintf(stderr, "  other captured bytes not delivered: %llu (after their gap was declared, "
			"RST payload); retransmitted bytes too old to compare: %llu\n",
		(unsigned long long)st->dropped_bytes, (unsigned long long)st->unverified_bytes);
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

int tool_capture_main(int argc, char **argv)
{
	enum { OPT_IDLE = 256, OPT_MAXCONNS, OPT_CONNMEM, OPT_TOTALMEM, OPT_NOSTATS };
	static const struct option opts[] = {
		{"read", required_argument, NULL, 'r'},
		{"write", required_argument, NULL, 'w'},
		{"filter", required_argument, NULL, 'f'},
		{"idle-timeout", required_argument, NULL, OPT_IDLE},
		{"max-conns", required_argument, NULL, OPT_MAXCONNS},
		{"conn-mem", required_argument, NULL, OPT_CONNMEM},
		{"total-mem", required_argument, NULL, OPT_TOTALMEM},
		{"no-stats-note", no_argument, NULL, OPT_NOSTATS},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct tool_cmd *self = tool_cmd_find("capture");
	struct tape_capture_opts co;
	const char *in = NULL, *out = NULL;
	char *out_alloc = NULL, *filter = NULL;
	struct tape_reader *r = NULL;
	struct tape_writer *w = NULL;
	struct tape_writer_opts wo;
	struct tape_event ev;
	struct progress pg;
	int c, rc, quiet = 0, status = TOOL_EXIT_OK;
	size_t v;

	memset(&co, 0, sizeof co);
	memset(&wo, 0, sizeof wo);
	memset(&pg, 0, sizeof pg);
	co.stats_note = 1;
	optind = 1;
	opterr = 0; /* one message, ours */
	while ((c = getopt_long(argc, argv, "+r:w:f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			in = optarg;
			break;
		case 'w':
			out = optarg;
			break;
		case 'f':
			co.filter = optarg;
			break;
		case OPT_IDLE:
			if (parse_size(optarg, &v) || v > 100000000u)
				return tool_usage_error(self, "--idle-timeout wants seconds > 0, not '%s'", optarg);
			co.idle_ns = (uint64_t)v * 1000000000u;
			break;
		case OPT_MAXCONNS:
			if (parse_size(optarg, &co.max_conns))
				return tool_usage_error(self, "--max-conns wants a count > 0, not '%s'", optarg);
			break;
		case OPT_CONNMEM:
			if (parse_size(optarg, &co.conn_mem))
				return tool_usage_error(self, "--conn-mem wants a size > 0, not '%s'", optarg);
			break;
		case OPT_TOTALMEM:
			if (parse_size(optarg, &co.total_mem))
				return tool_usage_error(self, "--total-mem wants a size > 0, not '%s'", optarg);
			break;
		case OPT_NOSTATS:
			co.stats_note = 0;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			tool_capture_usage(stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!in)
		return tool_usage_error(self, "-r FILE is required (live capture is not available yet)");
	if (optind < argc) {
		size_t len = 0;
		if (co.filter)
			return tool_usage_error(self, "give the filter either with -f or as trailing words");
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
		co.filter = filter;
	}
	if (!out) {
		if (strcmp(in, "-") == 0) {
			status = tool_usage_error(self, "reading standard input needs -w OUT");
			goto out;
		}
		out = out_alloc = default_output(in);
		if (!out) {
			status = TOOL_EXIT_INTERNAL;
			goto out;
		}
	}
	if (strcmp(out, "-") != 0 && !tape_format_from_path(out)) {
		status = tool_usage_error(self, "cannot tell the format of '%s' from its extension", out);
		goto out;
	}

	rc = tape_reader_open_capture(&r, in, &co);
	if (rc) {
		tool_err("%s", tape_reader_error(r));
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
		goto out;
	}
	rc = tape_writer_open(&w, out, NULL, tape_reader_meta(r), &wo);
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
			print_stats(&st, n);
		if (strcmp(out, "-") != 0)
			fprintf(stderr, "tapedeck capture: wrote %s\n", out);
	}
out:
	tape_writer_free(w);
	tape_reader_free(r);
	free(out_alloc);
	free(filter);
	return status;
}
