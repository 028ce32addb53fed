/* SPDX-License-Identifier: BSD-2-Clause */
/* cmd_describe.c - `tapedeck describe`: list a tape's events or summarise its connections. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

void tool_describe_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck describe [--summary] [--json] TAPE\n"
		"\n"
		"Without options, list every event, numbered: time in seconds since the tape's\n"
		"start, connection, event and its details (endpoints, byte counts, reasons).\n"
		"TAPE may be '-' for standard input; its format is detected from its content.\n"
		"\n"
		"Options:\n"
		"  -s, --summary    one row per connection: endpoints, bytes each way,\n"
		"                   duration, gaps and how it ended\n"
		"  -j, --json       machine-readable summary: a JSON object whose\n"
		"                   \"connections\" array holds the per-connection rows\n"
		"  -h, --help       show this help\n"
		"\n"
		"Exit status: 0 described (a tape cut off mid-write is described up to its\n"
		"last complete record, with a warning); 2 usage error or malformed input\n"
		"(the events before the error are still listed); 4 out of memory.\n");
}

/* Per-connection totals for --summary and --json. */
struct conn_row {
	uint64_t id;
	struct tape_endpoint client, server;
	uint32_t flags;
	uint64_t open_ns, last_ns;
	uint64_t bytes[2], chunks[2], gap_bytes[2], gaps[2];
	unsigned fin, rst; /* bit per direction */
	int closed;
	enum tape_close_reason reason;
	uint64_t notes;
};

/* Rows in open order plus an id -> index hash (linear probing). */
struct rows {
	struct conn_row *v;
	size_t n, cap;
	size_t *idx; /* index + 1, 0 = empty */
	size_t nidx;
};

static size_t hash_id(uint64_t id)
{
	id ^= id >> 31;
	id *= UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(id ^ (id >> 29));
}

static int rows_rehash(struct rows *rs, size_t n)
{
	size_t *idx = calloc(n, sizeof *idx);

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		size_t j = hash_id(rs->v[i].id) & (n - 1);
		while (idx[j])
			j = (j + 1) & (n - 1);
		idx[j] = i + 1;
	}
	free(rs->idx);
	rs->idx = idx;
	rs->nidx = n;
	return 0;
}

static struct conn_row *rows_find(struct rows *rs, uint64_t id)
{
	if (!rs->nidx)
		return NULL;
	for (size_t j = hash_id(id) & (rs->nidx - 1); rs->idx[j]; j = (j + 1) & (rs->nidx - 1))
		if (rs->v[rs->idx[j] - 1].id == id)
			return &rs->v[rs->idx[j] - 1];
	return NULL;
}

static struct conn_row *rows_add(struct rows *rs, uint64_t id)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct conn_row *v = realloc(rs->v, cap * sizeof *v);
		if (!v)
			return NULL;
		rs->v = v;
		rs->cap = cap;
	}
	if ((rs->n + 1) * 2 > rs->nidx && rows_rehash(rs, rs->nidx ? rs->nidx * 2 : 128))
		return NULL;
	struct conn_row *row = &rs->v[rs->n];
	memset(row, 0, sizeof *row);
	row->id = id;
	size_t j = hash_id(id) & (rs->nidx - 1);
	while (rs->idx[j])
		j = (j + 1) & (rs->nidx - 1);
	rs->idx[j] = ++rs->n;
	return row;
}

static void rows_free(struct rows *rs)
{
	free(rs->v);
	free(rs->idx);
}

static void fmt_secs(char *buf, size_t size, uint64_t ns)
{
	snprintf(buf, size, "%llu.%06u", (unsigned long long)(ns / 1000000000u),
		 (unsigned)(ns % 1000000000u / 1000u));
}

/* Text with the TSV escapes, so control bytes cannot break the listing. */
static void put_escaped(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c == '\\')
			fputs("\\\\", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

static void list_event(FILE *out, uint64_t n, const struct tape_event *ev)
{
	char t[32], a[TAPE_ENDPOINT_STRLEN], b[TAPE_ENDPOINT_STRLEN], f[TAPE_FLAGS_STRLEN];

	fmt_secs(t, sizeof t, ev->time_ns);
	fprintf(out, "%6llu  %14s  %5llu  ", (unsigned long long)n, t, (unsigned long long)ev->conn);
	switch (ev->kind) {
	case TAPE_EV_OPEN:
		tape_endpoint_format(&ev->client, a, sizeof a);
		tape_endpoint_format(&ev->server, b, sizeof b);
		tape_open_flags_format(ev->flags, f, sizeof f);
		fprintf(out, "open   %s -> %s%s%s\n", a, b, *f ? "  " : "", f);
		break;
	case TAPE_EV_DATA:
		fprintf(out, "%-5s  %zu byte%s\n", tape_dir_name(ev->dir), ev->len, ev->len == 1 ? "" : "s");
		break;
	case TAPE_EV_GAP:
		fprintf(out, "gap    %s %llu byte%s never seen\n", tape_dir_name(ev->dir),
			(unsigned long long)ev->gap, ev->gap == 1 ? "" : "s");
		break;
	case TAPE_EV_FIN:
	case TAPE_EV_RST:
		fprintf(out, "%-5s  %s\n", tape_event_kind_name(ev->kind), tape_dir_name(ev->dir));
		break;
	case TAPE_EV_CLOSE:
		fprintf(out, "close  %s\n", tape_close_reason_name(ev->reason));
		break;
	case TAPE_EV_NOTE:
		fputs("note   ", out);
		put_escaped(out, (const char *)ev->data, ev->len);
		fputc('\n', out);
		break;
	}
}

static int account(struct rows *rs, const struct tape_event *ev)
{
	struct conn_row *row;

	if (ev->conn == 0)
		return 0;
	if (ev->kind == TAPE_EV_OPEN) {
		row = rows_add(rs, ev->conn);
		if (!row)
			return -ENOMEM;
		row->client = ev->client;
		row->server = ev->server;
		row->flags = ev->flags;
		row->open_ns = ev->time_ns;
		row->last_ns = ev->time_ns;
		return 0;
	}
	row = rows_find(rs, ev->conn);
	if (!row) /* the reader guarantees OPEN came first */
		return 0;
	row->last_ns = ev->time_ns;
	switch (ev->kind) {
	case TAPE_EV_DATA:
		row->bytes[ev->dir] += ev->len;
		row->chunks[ev->dir]++;
		break;
	case TAPE_EV_GAP:
		row->gap_bytes[ev->dir] += ev->gap;
		row->gaps[ev->dir]++;
		break;
	case TAPE_EV_FIN:
		row->fin |= 1u << ev->dir;
		break;
	case TAPE_EV_RST:
		row->rst |= 1u << ev->dir;
		break;
	case TAPE_EV_CLOSE:
		row->closed = 1;
		row->reason = ev->reason;
		break;
	case TAPE_EV_NOTE:
		row->notes++;
		break;
	case TAPE_EV_OPEN:
		break;
	}
	return 0;
}

static const char *ending(const struct conn_row *row)
{
	return row->closed ? tape_close_reason_name(row->reason) : "open";
}

static void print_summary(FILE *out, const struct rows *rs)
{
	char a[TAPE_ENDPOINT_STRLEN], b[TAPE_ENDPOINT_STRLEN], d[32];

	fprintf(out, "%5s  %-22s  %-22s  %10s  %10s  %12s  %5s  %s\n", "conn", "client", "server",
		"c2s bytes", "s2c bytes", "duration s", "gaps", "end");
	for (size_t i = 0; i < rs->n; i++) {
		const struct conn_row *row = &rs->v[i];
		tape_endpoint_format(&row->client, a, sizeof a);
		tape_endpoint_format(&row->server, b, sizeof b);
		fmt_secs(d, sizeof d, row->last_ns - row->open_ns);
		fprintf(out, "%5llu  %-22s  %-22s  %10llu  %10llu  %12s  %5llu  %s", (unsigned long long)row->id,
			a, b, (unsigned long long)row->bytes[0], (unsigned long long)row->bytes[1], d,
			(unsigned long long)(row->gaps[0] + row->gaps[1]), ending(row));
		if (row->gaps[0] + row->gaps[1])
			fprintf(out, " (%llu bytes missing)",
				(unsigned long long)(row->gap_bytes[0] + row->gap_bytes[1]));
		if (row->flags) {
			char f[TAPE_FLAGS_STRLEN];
			tape_open_flags_format(row->flags, f, sizeof f);
			fprintf(out, " [%s]", f);
		}
		fputc('\n', out);
	}
}

static void json_dirs(FILE *out, unsigned bits)
{
	fputc('[', out);
	if (bits & 1)
		fputs("\"c2s\"", out);
	if (bits & 2)
		fputs(bits & 1 ? ",\"s2c\"" : "\"s2c\"", out);
	fputc(']', out);
}

static void print_json(FILE *out, const char *path, struct tape_reader *r, const struct rows *rs,
		       uint64_t last_ns, const char *error)
{
	const struct tape_meta *m = tape_reader_meta(r);
	struct tape_reader_status st;
	char a[TAPE_ENDPOINT_STRLEN], f[TAPE_FLAGS_STRLEN], t[TAPE_TIME_STRLEN];

	tape_reader_status(r, &st);
	fputs("{\"file\":", out);
	tool_json_str(out, path, strlen(path));
	fprintf(out, ",\"format\":\"%s\"", tape_reader_format(r));
	if (tape_meta_start(m)) {
		tape_time_format(tape_meta_start(m), t, sizeof t);
		fprintf(out, ",\"start\":\"%s\",\"start_ns\":%llu", t,
			(unsigned long long)tape_meta_start(m));
	} else {
		fputs(",\"start\":null", out);
	}
	fputs(",\"meta\":{", out);
	for (size_t i = 0; i < tape_meta_count(m); i++) {
		const char *k, *v;
		tape_meta_at(m, i, &k, &v);
		if (i)
			fputc(',', out);
		tool_json_str(out, k, strlen(k));
		fputc(':', out);
		tool_json_str(out, v, strlen(v));
	}
	fprintf(out, "},\"events\":%llu,\"duration_ns\":%llu,\"finalised\":%s,\"dropped_bytes\":%llu",
		(unsigned long long)st.events, (unsigned long long)last_ns,
		st.finalised ? "true" : "false", (unsigned long long)st.dropped_bytes);
	fputs(",\"error\":", out);
	if (error)
		tool_json_str(out, error, strlen(error));
	else
		fputs("null", out);
	fputs(",\"connections\":[", out);
	for (size_t i = 0; i < rs->n; i++) {
		const struct conn_row *row = &rs->v[i];
		fprintf(out, "%s{\"conn\":%llu,\"client\":", i ? "," : "", (unsigned long long)row->id);
		tape_endpoint_format(&row->client, a, sizeof a);
		tool_json_str(out, a, strlen(a));
		fputs(",\"server\":", out);
		tape_endpoint_format(&row->server, a, sizeof a);
		tool_json_str(out, a, strlen(a));
		tape_open_flags_format(row->flags, f, sizeof f);
		fputs(",\"flags\":", out);
		tool_json_str(out, f, strlen(f));
		fprintf(out,
			",\"open_ns\":%llu,\"last_ns\":%llu,\"duration_ns\":%llu,"
			"\"c2s_bytes\":%llu,\"s2c_bytes\":%llu,\"c2s_chunks\":%llu,\"s2c_chunks\":%llu,"
			"\"gaps\":%llu,\"c2s_gap_bytes\":%llu,\"s2c_gap_bytes\":%llu,\"notes\":%llu,\"fin\":",
			(unsigned long long)row->open_ns, (unsigned long long)row->last_ns,
			(unsigned long long)(row->last_ns - row->open_ns), (unsigned long long)row->bytes[0],
			(unsigned long long)row->bytes[1], (unsigned long long)row->chunks[0],
			(unsigned long long)row->chunks[1], (unsigned long long)(row->gaps[0] + row->gaps[1]),
			(unsigned long long)row->gap_bytes[0], (unsigned long long)row->gap_bytes[1],
			(unsigned long long)row->notes);
		json_dirs(out, row->fin);
		fputs(",\"rst\":", out);
		json_dirs(out, row->rst);
		if (row->closed)
			fprintf(out, ",\"close\":\"%s\"}", tape_close_reason_name(row->reason));
		else
			fputs(",\"close\":null}", out);
	}
	fputs("]}\n", out);
}

int tool_describe_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"summary", no_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct tool_cmd *self = tool_cmd_find("describe");
	int summary = 0, json = 0, c, rc, status = TOOL_EXIT_OK;
	struct tape_reader *r = NULL;
	struct rows rs = {0};
	struct tape_event ev;
	uint64_t n = 0, last_ns = 0;
	const char *path;

	optind = 1;
	opterr = 0; /* one message, ours */
	while ((c = getopt_long(argc, argv, "+sjh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			summary = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			tool_describe_usage(stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return tool_usage_error(self, "expected one TAPE, got %d arguments", argc - optind);
	path = argv[optind];

	rc = tape_reader_open(&r, path, NULL);
	if (rc) {
		tool_err("%s", tape_reader_error(r));
		tape_reader_free(r);
		return rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
	}
	if (!summary && !json) {
		const struct tape_meta *m = tape_reader_meta(r);
		char t[TAPE_TIME_STRLEN];
		printf("# %s (%s)\n", path, tape_reader_format(r));
		if (tape_meta_start(m)) {
			tape_time_format(tape_meta_start(m), t, sizeof t);
			printf("# start: %s\n", t);
		}
		for (size_t i = 0; i < tape_meta_count(m); i++) {
			const char *k, *v;
			tape_meta_at(m, i, &k, &v);
			printf("# %s: ", k);
			put_escaped(stdout, v, strlen(v));
			putchar('\n');
		}
		printf("%6s  %14s  %5s  %s\n", "#", "time s", "conn", "event");
	}
	while ((rc = tape_reader_next(r, &ev)) == 1) {
		last_ns = ev.time_ns;
		if (!summary && !json)
			list_event(stdout, n, &ev);
		else if (account(&rs, &ev)) {
			tool_err("out of memory");
			status = TOOL_EXIT_INTERNAL;
			goto out;
		}
		n++;
	}
	if (rc < 0) {
		tool_err("%s", tape_reader_error(r));
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
	} else {
		tool_report_reader_end(r, path);
	}
	if (json)
		print_json(stdout, path, r, &rs, last_ns, rc < 0 ? tape_reader_error(r) : NULL);
	else if (summary)
		print_summary(stdout, &rs);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tool_err("writing the description failed");
		status = TOOL_EXIT_INTERNAL;
	}
out:
	rows_free(&rs);
	tape_reader_free(r);
	return status;
}
