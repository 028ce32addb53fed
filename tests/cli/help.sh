#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# help.sh - help output, unknown commands, and --help and the man pages agreeing on options and exit codes.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

DOC=$TOP_SRCDIR/doc
cd "$TMP" || exit 1

# man_text PAGE: the roff source with \- as - and font escapes removed.
man_text() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRPC]//g' -e 's/\\f(..//g' -e 's/\\f\[[A-Z]*\]//g' "$1"
}

# man_section PAGE NAME: the roff lines of section NAME (.SH NAME ... next .SH).
man_section() {
	man_text "$1" | awk -v want="$2" '
		/^\.SH/ { sub(/^\.SH +/, ""); gsub(/"/, ""); on = ($0 == want); next }
		on { print }'
}

# words: one "word" of letters, digits and '-' per line, from standard input.
words() {
	tr -c 'A-Za-z0-9-' '\n' | grep -v '^$' || :
}

# env_words: the TAPEDECK_ variable names in standard input, sorted.
env_words() {
	tr -c 'A-Za-z0-9_' '\n' | grep -E '^TAPEDECK_[A-Z_]+$' | sort -u || :
}

# The option part of a --help text's option lines ("  -f, --from FMT   read IN
# as FMT" gives "-f, --from FMT").
help_option_words() {
	sed -n -e 's/^ \{1,\}\(-[^ ].*\)$/\1/p' "$1" | sed -e 's/   .*//' | words
}

# help_exit_codes HELP: the codes in the "Exit status: 0 ...; 2 ...; 4 ..."
# paragraph of a --help text.
help_exit_codes() {
	sed -n '/^Exit status:/,$p' "$1" | tr '\n' ' ' | sed 's/^Exit status://' | tr ';' '\n' |
		sed -n 's/^ *\([0-9]\{1,\}\) .*/\1/p' | sort -u
}

# man_exit_codes PAGE: the tags of its EXIT STATUS section.
man_exit_codes() {
	man_section "$1" "EXIT STATUS" | sed -n 's/^\.B \([0-9]\{1,\}\)$/\1/p' | sort -u
}

# same_sets WHAT A B: files of sorted unique lines are equal.
same_sets() {
	if ! cmp -s "$2" "$3"; then
		note "$1 differ (< $(basename "$2"), > $(basename "$3")):"
		diff "$2" "$3" >&2 || :
		fail "$1 differ"
	fi
}

# ---- tapedeck itself
td help
cp "$OUT" help.out
assert_contains help.out "Usage: tapedeck"
td --help
assert_same_file help.out "$OUT"
td -h
assert_same_file help.out "$OUT"
run_expect_status 2 "$TAPEDECK"
assert_contains "$ERR" "Usage: tapedeck"
td --version
assert_contains "$OUT" "tapedeck "
td -V

# The commands, from the "Commands:" list of the help text.
sed -n '/^Commands:/,/^$/p' help.out | sed -n 's/^  \([a-z][a-z0-9-]*\)  .*/\1/p' >commands
grep -v '^help$' commands >subcommands || :
[ -s subcommands ] || fail "no commands found in 'tapedeck help'"
for c in convert describe; do
	grep -q -x "$c" subcommands || fail "'tapedeck help' does not list $c"
done

# ---- unknown commands
run_expect_status 2 "$TAPEDECK" frobnicate
assert_contains "$ERR" "frobnicate"
assert_empty "$OUT"
run_expect_status 2 "$TAPEDECK" help frobnicate
assert_contains "$ERR" "frobnicate"
run_expect_status 2 "$TAPEDECK" --frobnicate

# ---- tapedeck(1)
PAGE=$DOC/tapedeck.1
[ -f "$PAGE" ] || fail "no $PAGE"
# Every command is in COMMANDS, and COMMANDS lists no other.
man_section "$PAGE" COMMANDS | awk 'tag { print } { tag = /^\.TP/ }' |
	sed -n 's/^\.BR* \([a-z][a-z0-9-]*\).*/\1/p' | sort -u >man.commands
sort -u commands >help.commands
same_sets "commands in 'tapedeck help' and tapedeck.1" help.commands man.commands
# The global options.
sed -n 1p help.out | words | grep '^-' | sort -u >help.opts
man_section "$PAGE" OPTIONS | words | grep -E '^--?[A-Za-z]' | grep -v -x -e -h -e -V | sort -u >man.opts
same_sets "long options of 'tapedeck --help' and tapedeck.1" help.opts man.opts
man_section "$PAGE" OPTIONS | words | grep -q -x -e -h || fail "tapedeck.1 does not document -h"
man_section "$PAGE" OPTIONS | words | grep -q -x -e -V || fail "tapedeck.1 does not document -V"
# Exit codes: exactly those of enum tool_exit.
sed -n 's/^[ 	]*TOOL_EXIT_[A-Z_]* *= *\([0-9]\{1,\}\),.*/\1/p' "$TOP_SRCDIR/tools/tool.h" | sort -u >enum.codes
[ -s enum.codes ] || fail "no TOOL_EXIT_ codes found in tools/tool.h"
man_exit_codes "$PAGE" >man.codes
same_sets "exit codes of enum tool_exit and tapedeck.1" enum.codes man.codes

# ---- each command: help, --help, -h and its man page agree.
while read -r cmd; do
	td help "$cmd"
	cp "$OUT" "help.$cmd"
	assert_contains "help.$cmd" "Usage: tapedeck $cmd"
	assert_empty "$ERR"
	td "$cmd" --help
	assert_same_file "help.$cmd" "$OUT"
	td "$cmd" -h
	assert_same_file "help.$cmd" "$OUT"

	PAGE=$DOC/tapedeck-$cmd.1
	[ -f "$PAGE" ] || fail "'tapedeck help' lists $cmd, but there is no doc/tapedeck-$cmd.1"
	man_text "$PAGE" | grep -q -i "^\\.TH TAPEDECK-$cmd 1" ||
		fail "tapedeck-$cmd.1 has no '.TH TAPEDECK-$(echo "$cmd" | tr '[:lower:]' '[:upper:]') 1' line"

	# Options: the same long and short options in --help and in OPTIONS.
	help_option_words "help.$cmd" | grep -E '^--?[A-Za-z]' | sort -u >help.opts
	[ -s help.opts ] || fail "no options found in 'tapedeck $cmd --help'"
	man_section "$PAGE" OPTIONS | words | grep -E '^--[A-Za-z]|^-[A-Za-z]$' | sort -u >man.opts
	same_sets "options of 'tapedeck $cmd --help' and the OPTIONS of tapedeck-$cmd.1" \
		help.opts man.opts
	# No long option is mentioned anywhere in the page that --help lacks.
	man_text "$PAGE" | words | grep -E '^--[A-Za-z]' | sort -u >man.anywhere
	comm -13 help.opts man.anywhere >stale
	[ ! -s stale ] || fail "tapedeck-$cmd.1 mentions options that --help lacks: $(tr '\n' ' ' <stale)"
	# The synopsis shows the options of the usage line.
	sed -n 1p "help.$cmd" | words | grep -E '^--[A-Za-z]' | sort -u >help.usage
	man_section "$PAGE" SYNOPSIS | words | grep -E '^--[A-Za-z]' | sort -u >man.synopsis
	same_sets "options in the usage line and the SYNOPSIS of tapedeck-$cmd.1" help.usage man.synopsis
	# Exit codes: the --help paragraph and EXIT STATUS list the same ones,
	# all of them known to enum tool_exit.
	help_exit_codes "help.$cmd" >help.codes
	[ -s help.codes ] || fail "'tapedeck $cmd --help' has no 'Exit status:' paragraph"
	man_exit_codes "$PAGE" >man.codes
	same_sets "exit codes of 'tapedeck $cmd --help' and tapedeck-$cmd.1" help.codes man.codes
	comm -23 man.codes enum.codes >unknown
	[ ! -s unknown ] || fail "tapedeck-$cmd.1 lists exit codes not in enum tool_exit: $(tr '\n' ' ' <unknown)"
	# Environment variables: those --help names are in ENVIRONMENT, and
	# ENVIRONMENT names no TAPEDECK_ variable --help lacks.
	env_words <"help.$cmd" >help.env
	man_section "$PAGE" ENVIRONMENT | env_words >man.env
	same_sets "TAPEDECK_ variables of 'tapedeck $cmd --help' and the ENVIRONMENT of tapedeck-$cmd.1" \
		help.env man.env
	# The sections every command page has.
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES "SEE ALSO"; do
		grep -q -x "\\.SH \"*$s\"*" "$PAGE" || fail "tapedeck-$cmd.1 has no $s section"
	done
	# An unknown option is a usage error that points at --help.
	run_expect_status 2 "$TAPEDECK" "$cmd" --no-such-option
	assert_contains "$ERR" "Try 'tapedeck $cmd --help'"
done <subcommands

# ---- every man page is listed in Makefile.am, and formats without warnings.
for page in "$DOC"/*.1; do
	grep -q "doc/$(basename "$page")" "$TOP_SRCDIR/Makefile.am" ||
		fail "$(basename "$page") is not in dist_man_MANS"
	head -n 1 "$page" | grep -q 'SPDX-License-Identifier' ||
		fail "$(basename "$page") does not start with an SPDX line"
	if command -v groff >/dev/null 2>&1; then
		LC_ALL=C groff -man -ww -z "$page" >groff.out 2>&1 || :
		[ ! -s groff.out ] || { cat groff.out >&2; fail "groff warns about $(basename "$page")"; }
	fi
	if command -v mandoc >/dev/null 2>&1; then
		mandoc -Tlint -Wwarning "$page" >mandoc.out 2>&1 || :
		[ ! -s mandoc.out ] || { cat mandoc.out >&2; fail "mandoc warns about $(basename "$page")"; }
	fi
done

# ---- every CLI test file starts with its SPDX line and a purpose.
for f in "$TOP_SRCDIR"/tests/cli/*.sh; do
	head -n 3 "$f" | grep -q 'SPDX-License-Identifier: BSD-2-Clause' ||
		fail "$(basename "$f") has no SPDX line"
done

exit 0
