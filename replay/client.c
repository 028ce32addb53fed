/* SPDX-License-Identifier: BSD-2-Clause */
/* client.c - `tapedeck client`: a mock client, a thin front end over `tapedeck replay --all --verify`. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define CLIENT_MAX_ARGS 64u /* argv handed to replay: fixed options plus --ignore */

/* The --help text; tests/cli/help.sh checks it against doc/tapedeck-client.1. */
void tool_client_usage(FILE *out)
{
	fprintf(out,
		"Usage: tapedeck client TAPE --connect HOST:PORT [options]\n"
		"\n"
		"A mock client: play the client side of every connection of TAPE against the\n"
		"server at --connect and verify the server side, as 'tapedeck replay --all\n"
		"--verify' does (same reports and exit codes).\n"
		"\n"
		"Options:\n"
		"  -c, --connect HOST:PORT  the server to check\n"
		"      --timing MODE        original (recorded gaps, the default) or none\n"
		"      --timeout MS         connect and answer timeout (default 5000)\n"
		"      --ignore REGEX       bytes matching REGEX may differ (repeatable)\n"
		"      --text-diff          show differences as line diffs\n"
		"  -q, --quiet              no progress bar and no summary\n"
		"  -h, --help               show this help\n"
		"\n"
		"Options can also come from the environment: TAPEDECK_CONNECT,\n"
		"TAPEDECK_TIMING, TAPEDECK_TIMEOUT, TAPEDECK_IGNORE (one expression), and\n"
		"TAPEDECK_TEXT_DIFF, TAPEDECK_QUIET (1 or true); the command line wins.\n"
		"\n"
		"Exit status: 0 everything matched; 1 the server answered differently; 2 usage\n"
		"error or unreadable tape; 3 connection failures, resets or timeouts; 4 other\n"
		"failures.\n");
}

int tool_client_main(int argc, char **argv)
{
	enum { OPT_TIMING = 256, OPT_TIMEOUT, OPT_IGNORE, OPT_TEXTDIFF };
	static const struct option opts[] = {
		{"connect", required_argument, NULL, 'c'},
		{"timing", required_argument, NULL, OPT_TIMING},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"ignore", required_argument, NULL, OPT_IGNORE},
		{"text-diff", no_argument, NULL, OPT_TEXTDIFF},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct tool_cmd *self = tool_cmd_find("client");
	const char *connect_s = getenv("TAPEDECK_CONNECT"), *timing = getenv("TAPEDECK_TIMING");
	const char *timeout = getenv("TAPEDECK_TIMEOUT"), *env_ignore = getenv("TAPEDECK_IGNORE");
	char *rargv[CLIENT_MAX_ARGS + 1];
	int c, n = 0, cli_ignore = 0;
	int text_diff = tool_env_true(getenv("TAPEDECK_TEXT_DIFF"));
	int quiet = tool_env_true(getenv("TAPEDECK_QUIET"));

	rargv[n++] = (char *)"client"; /* replay names itself after argv[0] */
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			connect_s = optarg;
			break;
		case OPT_TIMING:
			timing = optarg;
			break;
		case OPT_TIMEOUT:
			timeout = optarg;
			break;
		case OPT_IGNORE:
			if (n + 2 > (int)CLIENT_MAX_ARGS - 12)
				return tool_usage_error(self, "too many --ignore expressions");
			rargv[n++] = (char *)"--ignore";
			rargv[n++] = optarg;
			cli_ignore = 1;
			break;
		case OPT_TEXTDIFF:
			text_diff = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			tool_client_usage(stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(self, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return tool_usage_error(self, "a TAPE is required");
	if (optind + 1 < argc)
		return tool_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
	if (!connect_s || !*connect_s)
		return tool_usage_error(self, "--connect HOST:PORT is required (or TAPEDECK_CONNECT)");
	if (!cli_ignore && env_ignore && *env_ignore) {
		rargv[n++] = (char *)"--ignore";
		rargv[n++] = (char *)env_ignore;
	}
	rargv[n++] = argv[optind];
	rargv[n++] = (char *)"--target";
	rargv[n++] = (char *)connect_s;
	rargv[n++] = (char *)"--all";
	rargv[n++] = (char *)"--verify";
	if (timing && *timing) {
		rargv[n++] = (char *)"--timing";
		rargv[n++] = (char *)timing;
	}
	if (timeout && *timeout) {
		rargv[n++] = (char *)"--timeout";
		rargv[n++] = (char *)timeout;
	}
	if (text_diff)
		rargv[n++] = (char *)"--text-diff";
	if (quiet)
		rargv[n++] = (char *)"-q";
	rargv[n] = NULL;
	return tool_replay_main(n, rargv);
}
