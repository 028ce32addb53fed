/* SPDX-License-Identifier: BSD-2-Clause */
/* cmd_convert.c - `tapedeck convert`: stream a tape from one format into another. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

void tool_convert_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck convert [--from FMT] [--to FMT] IN OUT\n"
		"\n"
		"Convert a tape between formats, streaming (memory does not grow with the tape).\n"
		"IN or OUT may be '-' for standard input or output.\n"
		"\n"
		"Formats: tape (binary .tape), tsv (text .tsv), tsp (Trace Stream Proxy\n"
		"recording, one connection), pcap (.pcap, .cap) and pcapng (.pcapng): a\n"
		"capture is read by reassembling its TCP connections (see tapedeck capture)\n"
		"and written as synthesised packets.  gogetway recordings are read, not written.\n"
		"The input format is detected from its content\n"
		"unless --from is given; the output format comes from OUT's extension, or\n"
		"--to; standard output defaults to tsv.\n"
		"\n"
		"Options:\n"
		"  -f, --from FMT   read IN as FMT\n"
		"  -t, --to FMT     write OUT as FMT\n"
		"  -h, --help       show this help\n"
		"\n"
		"Exit status: 0 converted; 2 usage error or unreadable/malformed input (the\n"
		"events before the error are still written and the output is finalised), or\n"
		"a tape the output format cannot hold (the events before it stay written,\n"
		"unfinalised); 4 out of memory, or the output could not be written.\n");
}

int tool_convert_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct tool_cmd *self = tool_cmd_find("convert");
	const char *from = NULL, *to = NULL, *in, *out;
	struct tape_reader *r = NULL;
	struct tape_writer *w = NULL;
	struct tape_event ev;
	int c, rc, status = TOOL_EXIT_OK;

	optind = 1;
	opterr = 0; /* one message, ours */
	while ((c = getopt_long(argc, argv, "+f:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'h':
			tool_convert_usage(stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return tool_usage_error(self, "expected IN and OUT, got %d argument%s", argc - optind,
					argc - optind == 1 ? "" : "s");
	in = argv[optind];
	out = argv[optind + 1];
	if (from && !tape_format_readable(from))
		return tool_usage_error(self, "cannot read format '%s'", from);
	if (to && !tape_format_writable(to))
		return tool_usage_error(self, "cannot write format '%s'", to);
	if (!to)
		to = strcmp(out, "-") == 0 ? "tsv" : tape_format_from_path(out);
	if (!to)
		return tool_usage_error(self, "cannot tell the format of '%s' from its extension; use --to",
					out);

	rc = tape_reader_open(&r, in, from);
	if (rc) {
		tool_err("%s", tape_reader_error(r));
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
		goto out;
	}
	rc = tape_writer_open(&w, out, to, tape_reader_meta(r), NULL);
	if (rc) {
		tool_err("%s", tape_writer_error(w));
		status = TOOL_EXIT_INTERNAL;
		goto out;
	}
	while ((rc = tape_reader_next(r, &ev)) == 1) {
		rc = tape_writer_write(w, &ev);
		if (rc) {
			tool_err("%s", tape_writer_error(w));
			status = rc == TAPE_EUNSUP ? TOOL_EXIT_INPUT : TOOL_EXIT_INTERNAL;
			goto out;
		}
	}
	if (rc < 0) {
		struct tape_reader_status st;
		tape_reader_status(r, &st);
		tool_err("%s", tape_reader_error(r));
		tool_err("%llu events before the error were converted", (unsigned long long)st.events);
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
	} else {
		tool_report_reader_end(r, in);
	}
	if (tape_writer_close(w)) {
		tool_err("%s", tape_writer_error(w));
		status = TOOL_EXIT_INTERNAL;
	} else if (tape_writer_dropped(w)) {
		uint64_t n = tape_writer_dropped(w);
		tool_warn("%s: the %s format has no place for %llu event%s (notes, or FINs in "
			  "ts_proxy recordings); left out", out, to, (unsigned long long)n,
			  n == 1 ? "" : "s");
	}
out:
	tape_writer_free(w);
	tape_reader_free(r);
	return status;
}
