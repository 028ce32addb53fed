/* SPDX-License-Identifier: BSD-2-Clause */
/* tool.h - the tapedeck command's subcommands, exit codes and shared helpers. */
#ifndef TAPE_TOOL_H
#define TAPE_TOOL_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "tapedeck.h"

/* Exit codes shared by every subcommand (documented in tapedeck(1)). */
enum tool_exit {
	TOOL_EXIT_OK = 0,       /* done; for verifying commands: everything matched */
	TOOL_EXIT_DIFFER = 1,   /* ran, and found mismatches or differences */
	TOOL_EXIT_INPUT = 2,    /* usage error, or input that could not be read */
	TOOL_EXIT_NETWORK = 3,  /* connection or timeout failures */
	TOOL_EXIT_INTERNAL = 4, /* out of memory, write errors and other failures */
};

struct tool_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *out);
};

/* Every subcommand, NULL-terminated; tools/tool.c owns the list. */
extern const struct tool_cmd tool_cmds[];
const struct tool_cmd *tool_cmd_find(const char *name);

int tool_capture_main(int argc, char **argv);
void tool_capture_usage(FILE *out);
int tool_convert_main(int argc, char **argv);
void tool_convert_usage(FILE *out);
int tool_describe_main(int argc, char **argv);
void tool_describe_usage(FILE *out);
int tool_diff_main(int argc, char **argv);
void tool_diff_usage(FILE *out);
int tool_replay_main(int argc, char **argv);
void tool_replay_usage(FILE *out);
int tool_proxy_main(int argc, char **argv);
void tool_proxy_usage(FILE *out);
int tool_serve_main(int argc, char **argv);
void tool_serve_usage(FILE *out);
int tool_client_main(int argc, char **argv);
void tool_client_usage(FILE *out);

/* Entry point of the whole command (argv[0] is "tapedeck"). */
int tool_main(int argc, char **argv);

/* "tapedeck: " + message + newline on stderr. */
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "tapedeck WHO: " + message on stderr, unless quiet. */
void tool_log(int quiet, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "tapedeck: warning: " + message. */
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints s[0..n) as a JSON string literal, quotes included. */
void tool_json_str(FILE *out, const char *s, size_t n);
/* Standard handling of a subcommand's --help request and unknown options:
 * both print usage; returns the exit code. */
int tool_usage_error(const struct tool_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Reports the end state of a reader (dropped trailing bytes, an
 * unfinalised binary tape) as warnings on stderr. */
void tool_report_reader_end(struct tape_reader *r, const char *name);

/* "1", "true" or "yes" (an environment flag is set). */
int tool_env_true(const char *v);

/* SIGINT/SIGTERM stop the loop (the command then finalises and exits 0);
 * SIGPIPE is ignored so a vanished peer is an error, not death.  _off
 * restores what was there before. */
struct tape__loop;
struct tool_signals {
	struct sigaction old_int, old_term, old_pipe;
};
void tool_signals_on(struct tool_signals *ts, struct tape__loop *loop);
void tool_signals_off(struct tool_signals *ts);

/* HOST:PORT, [V6]:PORT or a numeric endpoint, resolved to its first IPv4 or
 * IPv6 address: 0, or -1 with why set. */
int tool_resolve(const char *s, struct tape_endpoint *ep, char *why, size_t whylen);
/* A non-negative decimal no larger than max: 0, or -1. */
int tool_parse_num(const char *s, unsigned long long max, unsigned long long *out);

struct tape__framing;
/* --framing F (NULL or empty: raw) and --max-payload BYTES (NULL: the
 * default) into *f, as proxy, serve and the other framed commands take them:
 * 0, or a usage error's exit code after its message. */
int tool_framing_options(const struct tool_cmd *self, const char *framing, const char *max_payload,
			 struct tape__framing *f);

#endif
