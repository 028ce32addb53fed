/* SPDX-License-Identifier: BSD-2-Clause */
/* tool.c - subcommand dispatch, help and helpers shared by the tapedeck command. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "loop.h"

#include "tool.h"

const struct tool_cmd tool_cmds[] = {
	{"capture", "record the TCP connections of an interface or a pcap/pcapng file onto a tape",
	 tool_capture_main, tool_capture_usage},
	{"client", "a mock client: play a tape's client side against a server, verifying its answers",
	 tool_client_main, tool_client_usage},
	{"convert", "convert a tape between .tape, .tsv, ts_proxy, .pcap and .pcapng", tool_convert_main,
	 tool_convert_usage},
	{"describe", "list a tape's events, or summarise its connections", tool_describe_main,
	 tool_describe_usage},
	{"diff", "compare two tapes connection by connection", tool_diff_main, tool_diff_usage},
	{"proxy", "forward TCP clients to a service, recording their connections onto a tape",
	 tool_proxy_main, tool_proxy_usage},
	{"replay", "play a tape's client side against a live service, verifying its answers",
	 tool_replay_main, tool_replay_usage},
	{"serve", "a mock server: play a tape's server side to live clients, verifying what they send",
	 tool_serve_main, tool_serve_usage},
	{NULL, NULL, NULL, NULL},
};

const struct tool_cmd *tool_cmd_find(const char *name)
{
	for (const struct tool_cmd *c = tool_cmds; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

void tool_err(const char *fmt, ...)
{
	va_list ap;

	fputs("tapedeck: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tool_log(int quiet, const char *who, const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fprintf(stderr, "tapedeck %s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tool_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("tapedeck: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Length of the well-formed UTF-8 sequence at p[0..n) (RFC 3629: no
 * overlongs, surrogates or code points past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

void tool_json_str(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			/* JSON is UTF-8: pass valid sequences, and show any other
			 * byte as the code point of the same value. */
			size_t k = utf8_len((const unsigned char *)s + i, n - i);
			if (k) {
				fwrite(s + i, 1, k, out);
				i += k - 1;
			} else {
				fprintf(out, "\\u%04x", c);
			}
			continue;
		}
		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(out, "\\u%04x", c);
			else
				fputc(c, out);
		}
	}
	fputc('"', out);
}

int tool_usage_error(const struct tool_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tapedeck %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fprintf(stderr, "Try 'tapedeck %s --help'.\n", cmd->name);
	return TOOL_EXIT_INPUT;
}

void tool_report_reader_end(struct tape_reader *r, const char *name)
{
	struct tape_reader_status st;

	tape_reader_status(r, &st);
	if (st.dropped_bytes)
		tool_warn("%s: dropped %llu trailing bytes: %s", name,
			  (unsigned long long)st.dropped_bytes, st.dropped_why);
	else if (strcmp(tape_reader_format(r), "tape") == 0 && !st.finalised)
		tool_warn("%s: tape was not finalised (its writer did not close it); %llu events read",
			  name, (unsigned long long)st.events);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck [--version] [--help] <command> [<args>]\n"
		"\n"
		"Record TCP conversations as tapes and play them back.\n"
		"\n"
		"Commands:\n");
	for (const struct tool_cmd *c = tool_cmds; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out, "  %-10s %s\n", "help", "show help for tapedeck or one command");
	fprintf(out, "\nSee 'tapedeck help <command>' or 'man tapedeck-<command>'.\n");
}

int tool_main(int argc, char **argv)
{
	const struct tool_cmd *cmd;

	if (argc < 2) {
		usage(stderr);
		return TOOL_EXIT_INPUT;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("tapedeck %s (libtapedeck %s)\n", PACKAGE_VERSION, tape_version());
		return TOOL_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			cmd = tool_cmd_find(argv[2]);
			if (!cmd) {
				tool_err("no such command: %s", argv[2]);
				return TOOL_EXIT_INPUT;
			}
			cmd->usage(stdout);
			return TOOL_EXIT_OK;
		}
		usage(stdout);
		return TOOL_EXIT_OK;
	}
	cmd = tool_cmd_find(argv[1]);
	if (!cmd) {
		tool_err("'%s' is not a tapedeck command; see 'tapedeck help'", argv[1]);
		return TOOL_EXIT_INPUT;
	}
	return cmd->run(argc - 1, argv + 1);
}

/* HOST:PORT, [V6]:PORT or a numeric endpoint, resolved to the first IPv4
 * or IPv6 address.  0, or -1 with why set. */
int tool_resolve(const char *s, struct tape_endpoint *ep, char *why, size_t whylen)
{
	char host[256];
	const char *port, *sep;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (tape_endpoint_parse(s, strlen(s), ep) == 0)
		return 0;
	if (s[0] == '[') {
		sep = strchr(s, ']');
		if (!sep || sep[1] != ':' || (size_t)(sep - s - 1) >= sizeof host)
			goto bad;
		memcpy(host, s + 1, (size_t)(sep - s - 1));
		host[sep - s - 1] = '\0';
		port = sep + 2;
	} else {
		sep = strrchr(s, ':');
		if (!sep || sep == s || (size_t)(sep - s) >= sizeof host)
			goto bad;
		memcpy(host, s, (size_t)(sep - s));
		host[sep - s] = '\0';
		port = sep + 1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(why, whylen, "cannot resolve '%s': %s", s, gai_strerror(rc));
		return -1;
	}
	rc = -1;
	for (struct addrinfo *ai = res; ai && rc; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			rc = tape__endpoint_from_sockaddr(ep, ai->ai_addr) ? -1 : 0;
	freeaddrinfo(res);
	if (rc)
		snprintf(why, whylen, "'%s' has no IPv4 or IPv6 address", s);
	return rc;
bad:
	snprintf(why, whylen, "'%s' is not HOST:PORT", s);
	return -1;
}

/* Non-negative decimal that fits max; 0 or -1. */
int tool_parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int tool_env_true(const char *v)
{
	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0);
}

/* The loop a signal stops; one command runs at a time. */
static struct tape__loop *volatile signal_loop;

static void on_signal(int sig)
{
	(void)sig;
	if (signal_loop)
		tape__loop_wakeup_stop(signal_loop);
}

void tool_signals_on(struct tool_signals *ts, struct tape__loop *loop)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	signal_loop = loop;
	sigaction(SIGINT, &sa, &ts->old_int);
	sigaction(SIGTERM, &sa, &ts->old_term);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &ts->old_pipe);
}

void tool_signals_off(struct tool_signals *ts)
{
	sigaction(SIGINT, &ts->old_int, NULL);
	sigaction(SIGTERM, &ts->old_term, NULL);
	sigaction(SIGPIPE, &ts->old_pipe, NULL);
	signal_loop = NULL;
}

/* --framing and --max-payload; see tool.h. */
int tool_framing_options(const struct tool_cmd *self, const char *framing, const char *max_payload,
			 struct tape__framing *f)
{
	char why[256];
	unsigned long long v;

	if (tape__framing_parse(f, framing && *framing ? framing : "raw", why, sizeof why))
		return tool_usage_error(self, "--framing: %s", why);
	if (max_payload) {
		if (tool_parse_num(max_payload, TAPE__FRAMING_MAX_PAYLOAD, &v) || v == 0)
			return tool_usage_error(self, "--max-payload: '%s' is not a size from 1 to %u",
						max_payload, (unsigned)TAPE__FRAMING_MAX_PAYLOAD);
		f->max_payload = (size_t)v;
	}
	return 0;
}
