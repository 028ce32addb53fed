/* SPDX-License-Identifier: BSD-2-Clause */
/* replay.c - `tapedeck replay`: play a tape's client side against a live service and verify its answers. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

/* Caps of the command line and the middleware protocol. */
#define MAX_REPLACE 64u                          /* --replace rules */
#define MAX_CONN_IDS (1u << 20)                  /* ids named by --conn */
#define MW_LINE_MAX (2 * (size_t)TAPE_MAX_DATA + 64) /* longest middleware answer */
#define SHOW_MAX 20u                             /* failures and mismatches printed */
#define MW_EXIT_WAIT_MS 2000                     /* middleware's time to exit at the end */

/* The --help text; tests/cli/help.sh checks it against tapedeck-replay(1). */
void tool_replay_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck replay TAPE --target HOST:PORT [options]\n"
		"\n"
		"Play the client side of TAPE's connections against a live service through\n"
		"ordinary sockets, keeping the recorded order and timing: each connection\n"
		"sends its c2s chunks in order and, before a chunk the recording shows after\n"
		"server bytes, waits until the service has sent as many.  With --verify the\n"
		"service's answers are compared with the recording and every difference is\n"
		"shown.  A summary goes to standard error.\n"
		"\n"
		"Which connections:\n"
		"      --target HOST:PORT      where connections go (name, IPv4 or [IPv6])\n"
		"      --server ADDR:PORT      those to this recorded server (default: the\n"
		"                              tape's most frequent server)\n"
		"      --conn LIST             these connection ids (1,4,7-9)\n"
		"      --all                   every connection\n"
		"      --map RECORDED=HOST:PORT   connections to RECORDED go there (repeatable)\n"
		"      --sample RATIO          keep each connection with probability RATIO\n"
		"      --seed N                seed of --sample (default 0)\n"
		"Order and timing:\n"
		"      --unordered             keep only each connection's own order\n"
		"      --timing MODE           original (recorded gaps, the default) or none\n"
		"      --speed K               play K times as fast (implies original timing)\n"
		"      --max-delay MS          wait at most MS between two events\n"
		"      --concurrency N         with --unordered: connections open at once\n"
		"      --loop N                play the selection N times\n"
		"      --timeout MS            connect and answer timeout (default 5000)\n"
		"      --settle MS             quiet time that ends a differing answer\n"
		"                              (default 100)\n"
		"Verification:\n"
		"      --verify                compare the answers with the recording\n"
		"      --ignore REGEX          bytes matching REGEX may differ (repeatable)\n"
		"      --text-diff             show differences as line diffs\n"
		"Changing what is sent:\n"
		"      --replace OLD=NEW       replace bytes in every chunk; C escapes\n"
		"                              (\\n \\r \\t \\\\ \\= \\xHH); repeatable\n"
		"      --middleware CMD        pass every chunk through the command CMD\n"
		"                              (protocol in tapedeck-replay(1))\n"
		"Output:\n"
		"      --record OUT            write the actual exchange as a tape\n"
		"      --report FILE           write a JSON report\n"
		"  -q, --quiet                 no progress bar and no summary\n"
		"  -h, --help                  show this help\n"
		"\n"
		"Exit status: 0 replayed and, when verifying, everything matched; 1 the\n"
		"service answered differently; 2 usage error, unreadable tape, or connections\n"
		"that cannot be replayed (client bytes the recorder missed); 3 connection\n"
		"failures, resets or timeouts; 4 out of memory, a failing middleware or\n"
		"--record file, or an interrupted replay.\n");
}

/* ---- parsing ---------------------------------------------------------------- */

/* tool_parse_num() for uint64_t fields. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;

	if (tool_parse_num(s, max, &v))
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v == v))
		return -1;
	*out = v;
	return 0;
}

/* "1,4,7-9" into ids (malloc'd). */
static int parse_conns(const char *s, uint64_t **ids, size_t *n)
{
	while (*s) {
		uint64_t lo, hi;
		char *end;
		errno = 0;
		if (*s < '0' || *s > '9')
			return -1;
		lo = strtoull(s, &end, 10);
		if (errno)
			return -1;
		hi = lo;
		if (*end == '-') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				return -1;
			hi = strtoull(s, &end, 10);
			if (errno || hi < lo)
				return -1;
		}
		if (*end != ',' && *end != '\0')
			return -1;
		if (hi - lo >= MAX_CONN_IDS || *n + (hi - lo) + 1 > MAX_CONN_IDS)
			return -2;
		uint64_t *nv = realloc(*ids, (*n + (size_t)(hi - lo) + 1) * sizeof **ids);
		if (!nv)
			return -3;
		*ids = nv;
		for (uint64_t v = lo;; v++) {
			(*ids)[(*n)++] = v;
			if (v == hi)
				break;
		}
		s = *end ? end + 1 : end;
		if (*end == ',' && !*s)
			return -1;
	}
	return *n ? 0 : -1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes C escapes of s up to an unescaped stop character (or the end);
 * returns the decoded length and sets *next after it, or -1. */
static long unescape(const char *s, int stop, uint8_t *out, const char **next)
{
	long n = 0;

	while (*s && *s != stop) {
		if (*s != '\\') {
			out[n++] = (uint8_t)*s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': out[n++] = '\n'; s++; break;
		case 'r': out[n++] = '\r'; s++; break;
		case 't': out[n++] = '\t'; s++; break;
		case '0': out[n++] = '\0'; s++; break;
		case '\\': out[n++] = '\\'; s++; break;
		case '=': out[n++] = '='; s++; break;
		case 'x': {
			int h = hexval(s[1]), l = h < 0 ? -1 : hexval(s[2]);
			if (h < 0 || l < 0)
				return -1;
			out[n++] = (uint8_t)(h * 16 + l);
			s += 3;
			break;
		}
		default:
			return -1;
		}
	}
	*next = s;
	return n;
}

/* ---- chunk rewriting: --replace, then --middleware ----------------------- */

struct rule {
	uint8_t *old, *new_;
	size_t oldlen, newlen;
};

struct middleware {
	pid_t pid;
	int to, from; /* its standard input and output */
	char *line;   /* answer being read */
	size_t len, cap, pos;
	unsigned timeout_ms;
	const char *cmd;
};

struct mutate {
	struct rule rules[MAX_REPLACE];
	size_t nrules;
	struct middleware *mw;
	uint8_t *buf[2]; /* rewriting buffers, alternated */
	size_t cap[2];
	uint8_t *hex;    /* request line */
	size_t hexcap;
};

static int ensure(uint8_t **b, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 4096;
	while (ncap < n)
		ncap *= 2;
	uint8_t *nb = realloc(*b, ncap);
	if (!nb)
		return -ENOMEM;
	*b = nb;
	*cap = ncap;
	return 0;
}

/* Applies one rule to p[0..n) into buf k; returns the new length in *out,
 * or an error. */
static int apply_rule(struct mutate *m, const struct rule *r, const uint8_t *p, size_t n, int k,
		      size_t *out)
{
	size_t o = 0, i = 0;

	while (i < n) {
		const uint8_t *hit = r->oldlen <= n - i ? memmem(p + i, n - i, r->old, r->oldlen) : NULL;
		size_t upto = hit ? (size_t)(hit - p) : n;
		if (ensure(&m->buf[k], &m->cap[k], o + (upto - i) + r->newlen))
			return -ENOMEM;
		memcpy(m->buf[k] + o, p + i, upto - i);
		o += upto - i;
		if (!hit)
			break;
		memcpy(m->buf[k] + o, r->new_, r->newlen);
		o += r->newlen;
		i = upto + r->oldlen;
		if (o > TAPE_MAX_DATA)
			return TAPE_ELIMIT;
	}
	if (n == 0 && ensure(&m->buf[k], &m->cap[k], 1))
		return -ENOMEM;
	*out = o;
	return 0;
}

/* Writes all of p[0..n) to fd before the deadline (monotonic ms). */
static int write_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		struct pollfd pf = {fd, POLLOUT, 0};
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pf, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads one answer line (without its newline) into mw->line. */
static int mw_read_line(struct middleware *mw, uint64_t deadline, size_t *len)
{
	/* Bytes after the previous line are at line[pos .. len). */
	if (mw->pos && mw->line) {
		memmove(mw->line, mw->line + mw->pos, mw->len - mw->pos);
		mw->len -= mw->pos;
		mw->pos = 0;
	}
	for (size_t scanned = 0;;) {
		char *nl = mw->len > scanned ? memchr(mw->line + scanned, '\n', mw->len - scanned) : NULL;
		if (nl) {
			*len = (size_t)(nl - mw->line);
			mw->pos = *len + 1;
			return 0;
		}
		scanned = mw->len;
		if (mw->len >= MW_LINE_MAX)
			return TAPE_ELIMIT;
		if (mw->cap - mw->len < 65536) {
			size_t ncap = mw->cap ? mw->cap * 2 : 65536;
			char *nb;
			if (ncap > MW_LINE_MAX + 1)
				ncap = MW_LINE_MAX + 1;
			nb = realloc(mw->line, ncap);
			if (!nb)
				return -ENOMEM;
			mw->line = nb;
			mw->cap = ncap;
		}
		ssize_t k = read(mw->from, mw->line + mw->len, mw->cap - mw->len);
		if (k > 0) {
			mw->len += (size_t)k;
			continue;
		}
		if (k == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		struct pollfd pf = {mw->from, POLLIN, 0};
		uint64_t now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pf, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
	}
}

static int mw_start(struct middleware *mw, const char *cmd, unsigned timeout_ms, char *why, size_t whylen)
{
	int in[2], out[2];

	memset(mw, 0, sizeof *mw);
	mw->to = mw->from = -1;
	mw->cmd = cmd;
	mw->timeout_ms = timeout_ms;
	if (pipe2(in, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		return -1;
	}
	mw->pid = fork();
	if (mw->pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (mw->pid == 0) {
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	mw->to = in[1];
	mw->from = out[0];
	fcntl(mw->to, F_SETFL, fcntl(mw->to, F_GETFL) | O_NONBLOCK);
	fcntl(mw->from, F_SETFL, fcntl(mw->from, F_GETFL) | O_NONBLOCK);
	return 0;
}

/* Ends the middleware: closes its input, waits a little, then kills it.
 * Returns its exit status, or -1 when it had to be killed. */
static int mw_stop(struct middleware *mw)
{
	int status = 0, rc = -1;

	if (mw->to >= 0)
		close(mw->to);
	if (mw->from >= 0)
		close(mw->from);
	mw->to = mw->from = -1;
	if (mw->pid > 0) {
		for (int waited = 0; waited < MW_EXIT_WAIT_MS; waited += 10) {
			pid_t p = waitpid(mw->pid, &status, WNOHANG);
			if (p == mw->pid) {
				rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
				break;
			}
			if (p < 0)
				break;
			usleep(10000);
		}
		if (rc == -1 && waitpid(mw->pid, &status, WNOHANG) == 0) {
			kill(mw->pid, SIGKILL);
			waitpid(mw->pid, &status, 0);
		}
		mw->pid = 0;
	}
	free(mw->line);
	mw->line = NULL;
	return rc;
}

/* One request and its answer: "CHUNK <conn> <index> c2s <hex>" answered by
 * "SEND <hex>", "PASS", "SKIP" or "ABORT <reason>" (doc/replay.md). */
static int mw_call(struct mutate *m, const struct tape_replay_chunk *ch, const uint8_t *p, size_t n,
		   struct tape_replay_edit *e)
{
	struct middleware *mw = m->mw;
	uint64_t deadline = now_ms() + mw->timeout_ms;
	size_t need = 96 + 2 * n, len = 0;
	char *line;
	int rc, hl;

	if (ensure(&m->hex, &m->hexcap, need))
		return -ENOMEM;
	hl = snprintf((char *)m->hex, m->hexcap, "CHUNK %llu %llu %s ", (unsigned long long)ch->conn,
		      (unsigned long long)ch->index, tape_dir_name(ch->dir));
	for (size_t i = 0; i < n; i++) {
		static const char digits[] = "0123456789abcdef";
		m->hex[hl++] = (uint8_t)digits[p[i] >> 4];
		m->hex[hl++] = (uint8_t)digits[p[i] & 15];
	}
	m->hex[hl++] = '\n';
	rc = write_all(mw->to, (const char *)m->hex, (size_t)hl, deadline);
	if (rc == 0)
		rc = mw_read_line(mw, deadline, &len);
	if (rc) {
		snprintf(e->reason, sizeof e->reason, "middleware '%s': %s", mw->cmd,
			 rc == -EPIPE ? "it exited (or closed its output) without answering"
			 : rc == -ETIMEDOUT ? "no answer within the timeout"
					    : tape_strerror(rc));
		return rc;
	}
	line = mw->line;
	if (len && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	if (strcmp(line, "PASS") == 0) {
		e->action = TAPE_REPLAY_SEND;
		e->data = p;
		e->len = n;
		return 0;
	}
	if (strcmp(line, "SKIP") == 0) {
		e->action = TAPE_REPLAY_SKIP;
		return 0;
	}
	if (strncmp(line, "ABORT", 5) == 0 && (line[5] == ' ' || !line[5])) {
		e->action = TAPE_REPLAY_ABORT;
		snprintf(e->reason, sizeof e->reason, "middleware: %s", line[5] ? line + 6 : "aborted");
		return 0;
	}
	if (strncmp(line, "SEND", 4) == 0 && (line[4] == ' ' || !line[4])) {
		const char *h = line[4] ? line + 5 : line + 4;
		size_t hn = strlen(h), bn = hn / 2;
		/* Decoded in place: the line buffer is ours until the next call. */
		uint8_t *out = (uint8_t *)mw->line;
		if (hn % 2)
			goto bad;
		for (size_t i = 0; i < bn; i++) {
			int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
			if (hi < 0 || lo < 0)
				goto bad;
			out[i] = (uint8_t)(hi * 16 + lo);
		}
		e->action = TAPE_REPLAY_SEND;
		e->data = out;
		e->len = bn;
		return 0;
	}
bad:
	snprintf(e->reason, sizeof e->reason, "middleware '%s' answered \"%.60s%s\", not SEND <hex>, PASS, SKIP or ABORT <reason>",
		 mw->cmd, line, strlen(line) > 60 ? "..." : "");
	return TAPE_EFORMAT;
}

static int chunk_hook(void *ctx, const struct tape_replay_chunk *ch, struct tape_replay_edit *e)
{
	struct mutate *m = ctx;
	const uint8_t *p = ch->data;
	size_t n = ch->len;
	int k = 0, rc;

	for (size_t i = 0; i < m->nrules; i++) {
		size_t o;
		rc = apply_rule(m, &m->rules[i], p, n, k, &o);
		if (rc) {
			snprintf(e->reason, sizeof e->reason, "--replace: %s", tape_strerror(rc));
			return rc;
		}
		p = m->buf[k];
		n = o;
		k ^= 1;
	}
	if (m->mw)
		return mw_call(m, ch, p, n, e);
	e->action = TAPE_REPLAY_SEND;
	e->data = p;
	e->len = n;
	return 0;
}

/* ---- progress, summary, report -------------------------------------------- */

struct ui {
	int progress;
	uint64_t total;
	int drawn;
};

static void progress(void *ctx, const struct tape_replay_stats *st)
{
	struct ui *ui = ctx;
	char bar[31];
	unsigned pct;

	if (!ui->progress)
		return;
	pct = ui->total ? (unsigned)(st->conns_done * 100 / ui->total) : 0;
	if (pct > 100)
		pct = 100;
	memset(bar, ' ', 30);
	memset(bar, '#', pct * 30 / 100);
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3u%%  %llu/%llu connections  %llu failed  %llu mismatches  %.1f s ", bar,
		pct, (unsigned long long)st->conns_done, (unsigned long long)ui->total,
		(unsigned long long)st->conns_failed, (unsigned long long)st->mismatches,
		(double)st->duration_ns / 1e9);
	ui->drawn = 1;
}

static void fmt_ns(char *buf, size_t size, uint64_t ns)
{
	if (ns < 10000u)
		snprintf(buf, size, "%llu ns", (unsigned long long)ns);
	else if (ns < 10000000u)
		snprintf(buf, size, "%.1f us", (double)ns / 1e3);
	else if (ns < UINT64_C(1000000000))
		snprintf(buf, size, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(buf, size, "%.3f s", (double)ns / 1e9);
}

static void json_u64(FILE *f, const char *key, uint64_t v, int comma)
{
	fprintf(f, "\"%s\": %llu%s", key, (unsigned long long)v, comma ? ", " : "");
}

static void json_hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

static void json_ep(FILE *f, const struct tape_endpoint *ep)
{
	char buf[TAPE_ENDPOINT_STRLEN];

	if (!ep->family) {
		fputs("null", f);
		return;
	}
	tape_endpoint_format(ep, buf, sizeof buf);
	tool_json_str(f, buf, strlen(buf));
}

struct run_info {
	const char *tape;
	const struct tape_replay_opts *o;
	int status;
	const char *error;
};

static int write_report(const char *path, struct tape_replay *rp, const struct run_info *ri)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	struct tape_replay_stats st;
	size_t n;

	if (!f)
		return -errno;
	tape_replay_stats(rp, &st);
	fputs("{\n  \"tape\": ", f);
	tool_json_str(f, ri->tape, strlen(ri->tape));
	fputs(",\n  \"target\": ", f);
	json_ep(f, &ri->o->target);
	fputs(",\n  \"server\": ", f);
	json_ep(f, &st.server);
	fprintf(f, ",\n  \"timing\": \"%s\", \"speed\": %g, \"ordered\": %s, \"verify\": %s, \"loops\": %u,\n",
		ri->o->timing == TAPE_REPLAY_TIMING_NONE ? "none" : "original",
		ri->o->speed > 0.0 ? ri->o->speed : 1.0, ri->o->unordered ? "false" : "true",
		ri->o->verify ? "true" : "false", ri->o->loops ? ri->o->loops : 1);
	fprintf(f, "  \"exit\": %d,\n  \"error\": ", ri->status);
	if (ri->error)
		tool_json_str(f, ri->error, strlen(ri->error));
	else
		fputs("null", f);
	fputs(",\n  \"stats\": {", f);
	json_u64(f, "tape_connections", st.tape_conns, 1);
	json_u64(f, "selected", st.selected, 1);
	json_u64(f, "connections", st.conns_done, 1);
	json_u64(f, "ok", st.conns_ok, 1);
	json_u64(f, "failed", st.conns_failed, 1);
	json_u64(f, "mismatched", st.conns_mismatched, 1);
	json_u64(f, "aborted", st.conns_aborted, 1);
	json_u64(f, "connect_failures", st.connect_failures, 1);
	json_u64(f, "timeouts", st.timeouts, 1);
	json_u64(f, "resets", st.resets, 1);
	json_u64(f, "gaps", st.gaps, 1);
	json_u64(f, "chunks_sent", st.chunks_sent, 1);
	json_u64(f, "chunks_skipped", st.chunks_skipped, 1);
	json_u64(f, "chunks_rewritten", st.chunks_rewritten, 1);
	json_u64(f, "bytes_sent", st.bytes_sent, 1);
	json_u64(f, "bytes_received", st.bytes_received, 1);
	json_u64(f, "bytes_expected", st.bytes_expected, 1);
	json_u64(f, "mismatches", st.mismatches, 1);
	json_u64(f, "mismatches_dropped", st.mismatches_dropped, 1);
	json_u64(f, "skew_samples", st.skew_samples, 1);
	json_u64(f, "skew_p50_ns", st.skew_p50_ns, 1);
	json_u64(f, "skew_p99_ns", st.skew_p99_ns, 1);
	json_u64(f, "skew_max_ns", st.skew_max_ns, 1);
	json_u64(f, "recorded_ns", st.recorded_ns, 1);
	json_u64(f, "scheduled_ns", st.scheduled_ns, 1);
	json_u64(f, "duration_ns", st.duration_ns, 0);
	fputs("},\n  \"connections\": [", f);
	n = tape_replay_result_count(rp);
	for (size_t i = 0; i < n; i++) {
		struct tape_replay_result r;
		tape_replay_result(rp, i, &r);
		fputs(i ? ",\n    {" : "\n    {", f);
		json_u64(f, "conn", r.conn, 1);
		json_u64(f, "loop", r.loop, 1);
		fprintf(f, "\"status\": \"%s\", \"target\": ", tape_replay_status_name(r.status));
		json_ep(f, &r.target);
		fputs(", ", f);
		json_u64(f, "chunks", r.chunks, 1);
		json_u64(f, "skipped", r.skipped, 1);
		json_u64(f, "sent", r.sent, 1);
		json_u64(f, "received", r.received, 1);
		json_u64(f, "expected", r.expected, 1);
		json_u64(f, "mismatches", r.mismatches, 1);
		json_u64(f, "start_ns", r.start_ns, 1);
		json_u64(f, "end_ns", r.end_ns, 1);
		fputs("\"error\": ", f);
		if (r.error)
			fprintf(f, "\"%s\"", tape_err_name(r.error));
		else
			fputs("null", f);
		fputs(", \"detail\": ", f);
		tool_json_str(f, r.detail, strlen(r.detail));
		fputc('}', f);
	}
	fputs(n ? "\n  ],\n  \"mismatches\": [" : "],\n  \"mismatches\": [", f);
	n = tape_replay_mismatch_count(rp);
	for (size_t i = 0; i < n; i++) {
		struct tape_replay_mismatch m;
		tape_replay_mismatch(rp, i, &m);
		fputs(i ? ",\n    {" : "\n    {", f);
		json_u64(f, "conn", m.conn, 1);
		json_u64(f, "loop", m.loop, 1);
		fprintf(f, "\"dir\": \"%s\", ", tape_dir_name(m.dir));
		json_u64(f, "expected_offset", m.exp_offset, 1);
		json_u64(f, "received_offset", m.got_offset, 1);
		json_u64(f, "expected_len", m.exp_len, 1);
		json_u64(f, "received_len", m.got_len, 1);
		json_u64(f, "expected_at", m.expected_at, 1);
		fputs("\"expected_hex\": ", f);
		json_hex(f, m.expected, m.expected_size);
		fputs(", ", f);
		json_u64(f, "received_at", m.received_at, 1);
		fputs("\"received_hex\": ", f);
		json_hex(f, m.received, m.received_size);
		fputs(", \"report\": ", f);
		tool_json_str(f, m.report, strlen(m.report));
		fputc('}', f);
	}
	fputs(n ? "\n  ]\n}\n" : "]\n}\n", f);
	if (f == stdout)
		return fflush(f) ? -errno : 0;
	return fclose(f) ? -errno : 0;
}

static void print_outcome(struct tape_replay *rp, const struct tape_replay_opts *o, int quiet,
			  const char *who)
{
	struct tape_replay_stats st;
	size_t n, shown = 0, failed = 0;
	char tgt[TAPE_ENDPOINT_STRLEN], srv[TAPE_ENDPOINT_STRLEN], a[32], b[32], c[32], d[32], e[32];

	tape_replay_stats(rp, &st);
	n = tape_replay_mismatch_count(rp);
	for (size_t i = 0; i < n && i < SHOW_MAX; i++) {
		struct tape_replay_mismatch m;
		tape_replay_mismatch(rp, i, &m);
		fprintf(stderr, "tapedeck %s: mismatch: connection %llu", who, (unsigned long long)m.conn);
		if (o->loops > 1)
			fprintf(stderr, " (loop %u)", m.loop + 1);
		fprintf(stderr, ", %s offset %llu (received offset %llu):\n%s", tape_dir_name(m.dir),
			(unsigned long long)m.exp_offset, (unsigned long long)m.got_offset, m.report);
		if (m.report[0] && m.report[strlen(m.report) - 1] != '\n')
			fputc('\n', stderr);
	}
	if (st.mismatches > SHOW_MAX)
		fprintf(stderr, "tapedeck %s: ... %llu more mismatches%s\n", who,
			(unsigned long long)(st.mismatches - SHOW_MAX), " (all kept ones are in --report)");
	n = tape_replay_result_count(rp);
	for (size_t i = 0; i < n; i++) {
		struct tape_replay_result r;
		tape_replay_result(rp, i, &r);
		if (r.status == TAPE_REPLAY_OK || r.status == TAPE_REPLAY_ABORTED ||
		    r.status == TAPE_REPLAY_PENDING)
			continue;
		failed++;
		if (shown++ < SHOW_MAX)
			fprintf(stderr, "tapedeck %s: connection %llu: %s: %s\n", who, (unsigned long long)r.conn,
				tape_replay_status_name(r.status), r.detail);
	}
	if (shown > SHOW_MAX)
		fprintf(stderr, "tapedeck %s: ... %zu more failed connections\n", who, failed - SHOW_MAX);
	if (quiet)
		return;
	if (o->target.family)
		tape_endpoint_format(&o->target, tgt, sizeof tgt);
	else
		snprintf(tgt, sizeof tgt, "their maps");
	if (st.server.family) {
		tape_endpoint_format(&st.server, srv, sizeof srv);
		fprintf(stderr, "tapedeck %s: %llu connections (of %llu on the tape, recorded server %s) x%u to %s\n", who,
			(unsigned long long)st.selected, (unsigned long long)st.tape_conns, srv,
			o->loops ? o->loops : 1, tgt);
	} else {
		fprintf(stderr, "tapedeck %s: %llu connections (of %llu on the tape) x%u to %s\n", who,
			(unsigned long long)st.selected, (unsigned long long)st.tape_conns, o->loops ? o->loops : 1,
			tgt);
	}
	fprintf(stderr,
		"  connections: %llu done, %llu ok, %llu failed (%llu connect, %llu timeout, %llu reset or closed), "
		"%llu aborted, %llu with gaps; %llu with mismatches (%llu mismatches)\n",
		(unsigned long long)st.conns_done, (unsigned long long)st.conns_ok,
		(unsigned long long)st.conns_failed, (unsigned long long)st.connect_failures,
		(unsigned long long)st.timeouts, (unsigned long long)st.resets,
		(unsigned long long)st.conns_aborted, (unsigned long long)st.gaps,
		(unsigned long long)st.conns_mismatched, (unsigned long long)st.mismatches);
	fprintf(stderr, "  chunks: %llu sent, %llu rewritten, %llu skipped; bytes: %llu sent, %llu received (%llu recorded)\n",
		(unsigned long long)st.chunks_sent, (unsigned long long)st.chunks_rewritten,
		(unsigned long long)st.chunks_skipped, (unsigned long long)st.bytes_sent,
		(unsigned long long)st.bytes_received, (unsigned long long)st.bytes_expected);
	fmt_ns(a, sizeof a, st.duration_ns);
	fmt_ns(b, sizeof b, st.recorded_ns);
	fmt_ns(c, sizeof c, st.scheduled_ns);
	if (o->timing == TAPE_REPLAY_TIMING_ORIGINAL) {
		fmt_ns(d, sizeof d, st.skew_p50_ns);
		fmt_ns(e, sizeof e, st.skew_p99_ns);
		fprintf(stderr, "  timing: original x%g; schedule skew p50 %s, p99 %s", o->speed > 0.0 ? o->speed : 1.0, d, e);
		fmt_ns(d, sizeof d, st.skew_max_ns);
		fprintf(stderr, ", max %s over %llu events; duration %s (recorded %s, scheduled %s)\n", d,
			(unsigned long long)st.skew_samples, a, b, c);
	} else {
		fprintf(stderr, "  timing: none; duration %s (recorded %s)\n", a, b);
	}
}

/* ---- main -------------------------------------------------------------------- */

static struct tape_replay *volatile running;

static void on_signal(int sig)
{
	(void)sig;
	if (running)
		tape_replay_stop(running);
}

/* `tapedeck replay`: parses options, builds the chunk callback (--replace,
 * --middleware), runs the library's replay, prints mismatches, failures and
 * the summary, writes --report; returns an enum tool_exit code. */
int tool_replay_main(int argc, char **argv)
{
	enum {
		OPT_TARGET = 256, OPT_SERVER, OPT_CONN, OPT_ALL, OPT_MAP, OPT_SAMPLE, OPT_SEED,
		OPT_UNORDERED, OPT_TIMING, OPT_SPEED, OPT_MAXDELAY, OPT_CONC, OPT_LOOP, OPT_TIMEOUT,
		OPT_SETTLE, OPT_VERIFY, OPT_IGNORE, OPT_TEXTDIFF, OPT_REPLACE, OPT_MIDDLEWARE,
		OPT_RECORD, OPT_REPORT,
	};
	static const struct option opts[] = {
		{"target", required_argument, NULL, OPT_TARGET},
		{"server", required_argument, NULL, OPT_SERVER},
		{"conn", required_argument, NULL, OPT_CONN},
		{"all", no_argument, NULL, OPT_ALL},
		{"map", required_argument, NULL, OPT_MAP},
		{"sample", required_argument, NULL, OPT_SAMPLE},
		{"seed", required_argument, NULL, OPT_SEED},
		{"unordered", no_argument, NULL, OPT_UNORDERED},
		{"timing", required_argument, NULL, OPT_TIMING},
		{"speed", required_argument, NULL, OPT_SPEED},
		{"max-delay", required_argument, NULL, OPT_MAXDELAY},
		{"concurrency", required_argument, NULL, OPT_CONC},
		{"loop", required_argument, NULL, OPT_LOOP},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"settle", required_argument, NULL, OPT_SETTLE},
		{"verify", no_argument, NULL, OPT_VERIFY},
		{"ignore", required_argument, NULL, OPT_IGNORE},
		{"text-diff", no_argument, NULL, OPT_TEXTDIFF},
		{"replace", required_argument, NULL, OPT_REPLACE},
		{"middleware", required_argument, NULL, OPT_MIDDLEWARE},
		{"record", required_argument, NULL, OPT_RECORD},
		{"report", required_argument, NULL, OPT_REPORT},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* `tapedeck client` runs this with argv[0] "client": its messages and
	 * usage errors carry its own name. */
	const char *who = argc > 0 && strcmp(argv[0], "client") == 0 ? "client" : "replay";
	const struct tool_cmd *self = tool_cmd_find(who);
	struct tape_replay_opts o;
	struct tape_endpoint server;
	struct tape_replay_map *maps = NULL;
	const char **ignore = NULL;
	uint64_t *conns = NULL, v;
	size_t nconns = 0, nmaps = 0, nignore = 0;
	const char *tape = NULL, *record_path = NULL, *report_path = NULL, *mw_cmd = NULL;
	int c, rc, quiet = 0, timing_set = 0, status = TOOL_EXIT_OK, mw_started = 0;
	double d;
	char why[512];
	struct mutate mut;
	struct middleware mw;
	struct tape_reader *r = NULL;
	struct tape_writer *w = NULL;
	struct tape_replay *rp = NULL;
	struct ui ui;
	struct sigaction sa, old_int, old_term, old_pipe;
	int sig_set = 0;
	const char *run_error = NULL;

	memset(&o, 0, sizeof o);
	memset(&mut, 0, sizeof mut);
	memset(&ui, 0, sizeof ui);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TARGET:
			if (tool_resolve(optarg, &o.target, why, sizeof why)) {
				status = tool_usage_error(self, "--target: %s", why);
				goto out;
			}
			break;
		case OPT_SERVER:
			if (tape_endpoint_parse(optarg, strlen(optarg), &server)) {
				status = tool_usage_error(self, "--server wants a recorded ADDR:PORT, not '%s'", optarg);
				goto out;
			}
			o.server = &server;
			break;
		case OPT_CONN:
			rc = parse_conns(optarg, &conns, &nconns);
			if (rc == -3) {
				status = TOOL_EXIT_INTERNAL;
				goto out;
			}
			if (rc) {
				status = tool_usage_error(self, "--conn wants ids and ranges like 1,4,7-9%s, not '%s'",
							  rc == -2 ? " (fewer of them)" : "", optarg);
				goto out;
			}
			break;
		case OPT_ALL:
			o.all = 1;
			break;
		case OPT_MAP: {
			const char *eq = strchr(optarg, '=');
			struct tape_replay_map *nm;
			if (nmaps >= TAPE_REPLAY_MAX_MAPS) {
				status = tool_usage_error(self, "more than %u --map options", TAPE_REPLAY_MAX_MAPS);
				goto out;
			}
			nm = realloc(maps, (nmaps + 1) * sizeof *maps);
			if (!nm) {
				status = TOOL_EXIT_INTERNAL;
				goto out;
			}
			maps = nm;
			if (!eq || tape_endpoint_parse(optarg, (size_t)(eq - optarg), &maps[nmaps].recorded)) {
				status = tool_usage_error(self, "--map wants RECORDED=HOST:PORT with a recorded ADDR:PORT, not '%s'", optarg);
				goto out;
			}
			if (tool_resolve(eq + 1, &maps[nmaps].actual, why, sizeof why)) {
				status = tool_usage_error(self, "--map: %s", why);
				goto out;
			}
			nmaps++;
			break;
		}
		case OPT_SAMPLE:
			if (parse_double(optarg, &d) || !(d > 0.0 && d <= 1.0)) {
				status = tool_usage_error(self, "--sample wants a ratio in (0, 1], not '%s'", optarg);
				goto out;
			}
			o.sample = d;
			break;
		case OPT_SEED:
			if (parse_u64(optarg, UINT64_MAX, &o.seed)) {
				status = tool_usage_error(self, "--seed wants a number, not '%s'", optarg);
				goto out;
			}
			break;
		case OPT_UNORDERED:
			o.unordered = 1;
			break;
		case OPT_TIMING:
			if (strcmp(optarg, "original") == 0)
				o.timing = TAPE_REPLAY_TIMING_ORIGINAL;
			else if (strcmp(optarg, "none") == 0)
				o.timing = TAPE_REPLAY_TIMING_NONE;
			else {
				status = tool_usage_error(self, "--timing is original or none, not '%s'", optarg);
				goto out;
			}
			timing_set = 1;
			break;
		case OPT_SPEED:
			if (parse_double(optarg, &d) || !(d > 0.0 && d <= 1e6)) {
				status = tool_usage_error(self, "--speed wants a factor > 0, not '%s'", optarg);
				goto out;
			}
			o.speed = d;
			break;
		case OPT_MAXDELAY:
			if (parse_u64(optarg, UINT64_C(1) << 40, &v) || !v) {
				status = tool_usage_error(self, "--max-delay wants milliseconds > 0, not '%s'", optarg);
				goto out;
			}
			o.max_delay_ns = v * 1000000u;
			break;
		case OPT_CONC:
			if (parse_u64(optarg, TAPE_REPLAY_MAX_CONNS, &v) || !v) {
				status = tool_usage_error(self, "--concurrency wants a count > 0, not '%s'", optarg);
				goto out;
			}
			o.concurrency = (unsigned)v;
			break;
		case OPT_LOOP:
			if (parse_u64(optarg, TAPE_REPLAY_MAX_LOOPS, &v) || !v) {
				status = tool_usage_error(self, "--loop wants a count from 1 to %u, not '%s'",
							  TAPE_REPLAY_MAX_LOOPS, optarg);
				goto out;
			}
			o.loops = (unsigned)v;
			break;
		case OPT_TIMEOUT:
		case OPT_SETTLE:
			if (parse_u64(optarg, 86400000u, &v) || !v) {
				status = tool_usage_error(self, "--%s wants milliseconds > 0, not '%s'",
							  c == OPT_TIMEOUT ? "timeout" : "settle", optarg);
				goto out;
			}
			if (c == OPT_TIMEOUT)
				o.timeout_ms = (unsigned)v;
			else
				o.settle_ms = (unsigned)v;
			break;
		case OPT_VERIFY:
			o.verify = 1;
			break;
		case OPT_IGNORE: {
			const char **ni = realloc(ignore, (nignore + 1) * sizeof *ignore);
			if (!ni) {
				status = TOOL_EXIT_INTERNAL;
				goto out;
			}
			ignore = ni;
			ignore[nignore++] = optarg;
			break;
		}
		case OPT_TEXTDIFF:
			o.text_diff = 1;
			break;
		case OPT_REPLACE: {
			struct rule *ru = &mut.rules[mut.nrules];
			size_t len = strlen(optarg) + 1;
			const char *next;
			long n1, n2;
			if (mut.nrules >= MAX_REPLACE) {
				status = tool_usage_error(self, "more than %u --replace rules", MAX_REPLACE);
				goto out;
			}
			ru->old = malloc(len);
			ru->new_ = malloc(len);
			if (!ru->old || !ru->new_) {
				free(ru->old);
				free(ru->new_);
				status = TOOL_EXIT_INTERNAL;
				goto out;
			}
			mut.nrules++;
			n1 = unescape(optarg, '=', ru->old, &next);
			n2 = n1 > 0 && *next == '=' ? unescape(next + 1, '\0', ru->new_, &next) : -1;
			if (n1 <= 0 || n2 < 0) {
				status = tool_usage_error(self,
							  "--replace wants OLD=NEW with a non-empty OLD and valid escapes, not '%s'",
							  optarg);
				goto out;
			}
			ru->oldlen = (size_t)n1;
			ru->newlen = (size_t)n2;
			break;
		}
		case OPT_MIDDLEWARE:
			mw_cmd = optarg;
			break;
		case OPT_RECORD:
			record_path = optarg;
			break;
		case OPT_REPORT:
			report_path = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			tool_replay_usage(stdout);
			goto out;
		default:
			status = tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind + 1 != argc) {
		status = tool_usage_error(self, optind < argc ? "one TAPE, please" : "which TAPE?");
		goto out;
	}
	tape = argv[optind];
	if (o.speed > 0.0 && timing_set && o.timing == TAPE_REPLAY_TIMING_NONE) {
		status = tool_usage_error(self, "--speed goes with --timing original, not none");
		goto out;
	}
	if (o.all && nconns) {
		status = tool_usage_error(self, "--all and --conn both pick connections: give one");
		goto out;
	}
	if (o.all && o.server) {
		status = tool_usage_error(self, "--all and --server both pick connections: give one");
		goto out;
	}
	if (!o.target.family && !nmaps) {
		status = tool_usage_error(self, "--target HOST:PORT is required");
		goto out;
	}
	if (o.concurrency && !o.unordered) {
		status = tool_usage_error(self, "--concurrency needs --unordered (in order, connections overlap as recorded)");
		goto out;
	}
	if ((nignore || o.text_diff) && !o.verify) {
		status = tool_usage_error(self, "--ignore and --text-diff go with --verify");
		goto out;
	}
	if (record_path && strcmp(record_path, "-") != 0 && !tape_format_from_path(record_path)) {
		status = tool_usage_error(self, "cannot tell the format of '%s' from its extension", record_path);
		goto out;
	}
	o.conns = conns;
	o.nconns = nconns;
	o.maps = maps;
	o.nmaps = nmaps;
	o.ignore = ignore;
	o.nignore = nignore;

	rc = tape_reader_open(&r, tape, NULL);
	if (rc) {
		tool_err("%s", r ? tape_reader_error(r) : tape_strerror(rc));
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
		goto out;
	}
	if (record_path) {
		struct tape_meta *meta = NULL;
		struct timespec ts;
		char src[TAPE_MAX_META_VALUE];
		clock_gettime(CLOCK_REALTIME, &ts);
		if (tape_meta_new(&meta)) {
			status = TOOL_EXIT_INTERNAL;
			goto out;
		}
		tape_meta_set_start(meta, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
		snprintf(src, sizeof src, "tapedeck replay of %s", tape);
		tape_meta_set(meta, "source", src);
		tape_meta_set(meta, "tool", "tapedeck replay " PACKAGE_VERSION);
		rc = tape_writer_open(&w, record_path, NULL, meta, NULL);
		tape_meta_free(meta);
		if (rc) {
			tool_err("%s", w ? tape_writer_error(w) : tape_strerror(rc));
			status = TOOL_EXIT_INTERNAL;
			goto out;
		}
		o.record = w;
	}
	if (mut.nrules || mw_cmd) {
		if (mw_cmd) {
			if (mw_start(&mw, mw_cmd, o.timeout_ms ? o.timeout_ms : 5000u, why, sizeof why)) {
				tool_err("--middleware: %s", why);
				status = TOOL_EXIT_INTERNAL;
				goto out;
			}
			mw_started = 1;
			mut.mw = &mw;
		}
		o.chunk_fn = chunk_hook;
		o.chunk_ctx = &mut;
	}
	ui.progress = !quiet && isatty(STDERR_FILENO);
	if (ui.progress) {
		o.progress_fn = progress;
		o.progress_ctx = &ui;
	}

	rc = tape_replay_new(&rp, r, &o);
	if (rc) {
		tool_err("%s: %s", tape, rp ? tape_replay_error(rp) : tape_strerror(rc));
		status = rc == -ENOMEM ? TOOL_EXIT_INTERNAL : TOOL_EXIT_INPUT;
		goto out;
	}
	tool_report_reader_end(r, tape);
	{
		struct tape_replay_stats st;
		tape_replay_stats(rp, &st);
		ui.total = st.selected * (o.loops ? o.loops : 1);
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, &old_pipe); /* a dead middleware is an error, not a death */
	sig_set = 1;
	running = rp;
	rc = tape_replay_run(rp);
	running = NULL;
	if (ui.drawn)
		fputc('\n', stderr);
	if (rc) {
		run_error = tape_replay_error(rp);
		tool_err("%s", run_error);
	}
	{
		struct tape_replay_stats st;
		size_t nres = tape_replay_result_count(rp);
		int interrupted = 0;
		tape_replay_stats(rp, &st);
		for (size_t i = 0; i < nres; i++) {
			struct tape_replay_result res;
			tape_replay_result(rp, i, &res);
			if (res.status == TAPE_REPLAY_PENDING)
				interrupted = 1;
		}
		if (rc || interrupted)
			status = TOOL_EXIT_INTERNAL;
		else if (st.conns_failed)
			status = TOOL_EXIT_NETWORK;
		else if (st.gaps)
			status = TOOL_EXIT_INPUT;
		else if (st.mismatches)
			status = TOOL_EXIT_DIFFER;
		if (interrupted && !rc) {
			tool_err("interrupted");
			run_error = "interrupted";
		}
	}
	if (w && tape_writer_close(w)) {
		tool_err("%s", tape_writer_error(w));
		status = TOOL_EXIT_INTERNAL;
	}
	print_outcome(rp, &o, quiet, who);
	if (report_path) {
		struct run_info ri = {tape, &o, status, run_error};
		rc = write_report(report_path, rp, &ri);
		if (rc) {
			tool_err("%s: %s", report_path, tape_strerror(rc));
			status = TOOL_EXIT_INTERNAL;
		}
	}
out:
	if (mw_started)
		mw_stop(&mw);
	if (sig_set) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGPIPE, &old_pipe, NULL);
	}
	tape_replay_free(rp);
	tape_writer_free(w);
	tape_reader_free(r);
	for (size_t i = 0; i < mut.nrules; i++) {
		free(mut.rules[i].old);
		free(mut.rules[i].new_);
	}
	free(mut.buf[0]);
	free(mut.buf[1]);
	free(mut.hex);
	free(maps);
	free(ignore);
	free(conns);
	return status;
}
