/* SPDX-License-Identifier: BSD-2-Clause */
/* gen_tape.c - writes a random valid tape (or a big one, streamed) for the CLI tests. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "randtape.h"
#include "tapedeck.h"

/* Exit codes. */
enum { GEN_OK = 0, GEN_FAIL = 1, GEN_USAGE = 2 };

/* Events between two looks at the output size in --big mode. */
#define GEN_SIZE_CHECK 64u

static void usage(FILE *f)
{
	fputs("usage: gen_tape [--seed N] [--conns N] [--events N] [--max-data N]\n"
	      "                [--format NAME] [--big BYTES] OUT\n"
	      "Writes a random valid tape to OUT (\"-\" for standard output) in the format\n"
	      "named by OUT's extension (.tape, .tsv, .tsp) or --format.\n"
	      "  --seed N       generator seed (default 1); the same seed gives the same tape\n"
	      "  --conns N      connections to open (default 20; 0 for no limit)\n"
	      "  --events N     events before the final CLOSEs (default 500)\n"
	      "  --max-data N   largest DATA payload in bytes (default 100000)\n"
	      "  --format NAME  tape, tsv or tsp, overriding the extension\n"
	      "  --big BYTES    instead of --events: stream events until OUT holds about\n"
	      "                 BYTES bytes, in bounded memory (connections unlimited\n"
	      "                 unless --conns is given)\n"
	      "Exit status: 0 written, 1 failed, 2 usage error.\n",
	      f);
}

/* Decimal with an optional k/M/G suffix (powers of 1024). */
static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v, mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'M')
		mul = 1024 * 1024, end++;
	else if (*end == 'G')
		mul = 1024 * 1024 * 1024, end++;
	if (*end != '\0' || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

/* Bytes an event takes in fmt, roughly, for when the output is not a
 * regular file whose size can be asked. */
static uint64_t estimate(const char *fmt, const struct tape_event *ev)
{
	size_t body = ev->kind == TAPE_EV_DATA || ev->kind == TAPE_EV_NOTE ? ev->len : 0;

	if (strcmp(fmt, "tape") == 0)
		return 12 + body + (ev->kind == TAPE_EV_OPEN ? 40 : 0);
	return 24 + 2 * body + (ev->kind == TAPE_EV_OPEN ? 60 : 0);
}

int main(int argc, char **argv)
{
	struct randtape_opts o = {.seed = 1, .conns = 20, .max_data = 100000};
	const char *out = NULL, *format = NULL;
	uint64_t events = 500, big = 0, v, written = 0, est = 0, n = 0;
	struct randtape *g = NULL;
	struct tape_meta *m = NULL;
	struct tape_writer *w = NULL;
	struct tape_event ev;
	int conns_given = 0, fd = -1, rc, status = GEN_FAIL;
	struct stat sb;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return GEN_OK;
		}
		if (a[0] == '-' && a[1] == '-' && strcmp(a, "--format") != 0) {
			if (i + 1 >= argc || parse_count(argv[i + 1], &v) != 0) {
				fprintf(stderr, "gen_tape: %s needs a number\n", a);
				return GEN_USAGE;
			}
			i++;
			if (strcmp(a, "--seed") == 0) {
				o.seed = v;
			} else if (strcmp(a, "--conns") == 0) {
				o.conns = v;
				conns_given = 1;
			} else if (strcmp(a, "--events") == 0) {
				events = v;
			} else if (strcmp(a, "--max-data") == 0) {
				if (v == 0 || v > TAPE_MAX_DATA) {
					fprintf(stderr, "gen_tape: --max-data must be 1..%u\n",
						TAPE_MAX_DATA);
					return GEN_USAGE;
				}
				o.max_data = (size_t)v;
			} else if (strcmp(a, "--big") == 0) {
				big = v;
			} else {
				fprintf(stderr, "gen_tape: unknown option %s\n", a);
				usage(stderr);
				return GEN_USAGE;
			}
		} else if (strcmp(a, "--format") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "gen_tape: --format needs a name\n");
				return GEN_USAGE;
			}
			format = argv[++i];
		} else if (!out && (a[0] != '-' || a[1] == '\0')) {
			out = a;
		} else {
			fprintf(stderr, "gen_tape: unexpected argument %s\n", a);
			usage(stderr);
			return GEN_USAGE;
		}
	}
	if (!out) {
		usage(stderr);
		return GEN_USAGE;
	}
	if (!format)
		format = strcmp(out, "-") == 0 ? "tsv" : tape_format_from_path(out);
	if (!format)
		format = "tape";
	if (!tape_format_writable(format)) {
		fprintf(stderr, "gen_tape: cannot write format \"%s\"\n", format);
		return GEN_USAGE;
	}
	if (strcmp(format, "tsp") == 0 && big) {
		fprintf(stderr, "gen_tape: --big cannot fill a tsp recording (one connection)\n");
		return GEN_USAGE;
	}
	if (strcmp(format, "tsp") == 0) {
		/* ts_proxy recordings hold one connection without gaps or resets. */
		o.conns = 1;
		o.no_gap_rst = 1;
	} else if (big && !conns_given) {
		o.conns = 0;
	}
	if (big)
		o.max_live = 64;
	else
		o.events = events;

	if (strcmp(out, "-") == 0) {
		fd = STDOUT_FILENO;
	} else {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "gen_tape: %s: %s\n", out, strerror(errno));
			return GEN_FAIL;
		}
	}
	if (randtape_new(&g, &o) != 0 || tape_meta_new(&m) != 0) {
		fprintf(stderr, "gen_tape: out of memory\n");
		goto out;
	}
	if ((rc = randtape_meta(g, m)) != 0) {
		fprintf(stderr, "gen_tape: metadata: %s\n", tape_strerror(rc));
		goto out;
	}
	rc = tape_writer_open_fd(&w, fd, out, format, m, NULL);
	if (rc) {
		fprintf(stderr, "gen_tape: %s\n", w ? tape_writer_error(w) : tape_strerror(rc));
		goto out;
	}
	for (;;) {
		if (big) {
			if (n % GEN_SIZE_CHECK == 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
				written = (uint64_t)sb.st_size, est = 0;
			if (written + est >= big)
				break;
		} else if (n >= events) {
			break;
		}
		randtape_next(g, &ev);
		if ((rc = tape_writer_write(w, &ev)) != 0) {
			fprintf(stderr, "gen_tape: %s\n", tape_writer_error(w));
			goto out;
		}
		est += estimate(format, &ev);
		n++;
	}
	while (randtape_finish(g, &ev))
		if ((rc = tape_writer_write(w, &ev)) != 0) {
			fprintf(stderr, "gen_tape: %s\n", tape_writer_error(w));
			goto out;
		}
	if ((rc = tape_writer_close(w)) != 0) {
		fprintf(stderr, "gen_tape: %s\n", tape_writer_error(w));
		goto out;
	}
	status = GEN_OK;
out:
	tape_writer_free(w);
	tape_meta_free(m);
	randtape_free(g);
	if (fd >= 0 && fd != STDOUT_FILENO && close(fd) != 0 && status == GEN_OK) {
		fprintf(stderr, "gen_tape: %s: %s\n", out, strerror(errno));
		status = GEN_FAIL;
	}
	return status;
}
