#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# client.sh - `tapedeck client` against `tapedeck serve` on 127.0.0.1: matching answers (0), differing answers (1), refused connections (3).
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

cd "$TMP" || exit 1

# tape FILE ANSWER: one request/response connection.
tape() {
	cat >"$1" <<EOF
# tapedeck tsv v1
0	1	open	127.0.0.1:40000	127.0.0.1:7000
10	1	c2s	$(hex 'GET a
')
20	1	s2c	$(hex "$2")
30	1	fin	c2s
31	1	fin	s2c
32	1	close	fin
EOF
}
tape good.tsv 'answer a
'
tape bad.tsv 'answer B
'

td_start serve serve good.tsv --listen 127.0.0.1:0 -q
PORT=$LPORT

run_expect_status 0 "$TAPEDECK" client good.tsv --connect "127.0.0.1:$PORT" --timing none -q
TAPEDECK_CONNECT="127.0.0.1:$PORT" run_expect_status 0 "$TAPEDECK" client good.tsv -q
run_expect_status 1 "$TAPEDECK" client bad.tsv --connect "127.0.0.1:$PORT" --timing none
assert_contains "$ERR" "offset"
run_expect_status 0 "$TAPEDECK" client bad.tsv --connect "127.0.0.1:$PORT" --ignore 'answer .' -q
# Every option from the environment; the command line wins.
TAPEDECK_CONNECT="127.0.0.1:$PORT" TAPEDECK_IGNORE='answer .' TAPEDECK_TIMING=none TAPEDECK_QUIET=1 \
	run_expect_status 0 "$TAPEDECK" client bad.tsv
assert_empty "$ERR"
TAPEDECK_CONNECT="127.0.0.1:$PORT" TAPEDECK_IGNORE='answer .' TAPEDECK_TEXT_DIFF=1 \
	run_expect_status 1 "$TAPEDECK" client bad.tsv --ignore 'nothing here'
TAPEDECK_CONNECT="127.0.0.1:$PORT" TAPEDECK_TIMING=bogus run_expect_status 2 "$TAPEDECK" client good.tsv
TAPEDECK_CONNECT="127.0.0.1:1" run_expect_status 0 "$TAPEDECK" client good.tsv \
	--connect "127.0.0.1:$PORT" -q
td_stop serve

PORT=$(free_port 2>/dev/null || echo 1)
run_expect_status 3 "$TAPEDECK" client good.tsv --connect "127.0.0.1:$PORT" --timing none -q
run_expect_status 2 "$TAPEDECK" client good.tsv
run_expect_status 2 "$TAPEDECK" client --connect 127.0.0.1:1
exit 0
