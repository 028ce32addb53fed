#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# roundtrip.sh - random tapes from tests/gen_tape survive tape -> tsv -> tape and tsv -> tape -> tsv unchanged.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

need_gen_tape
cd "$TMP" || exit 1

seeds=${TD_SEEDS:-$(seq 1 20)}
for seed in $seeds; do
	# Vary the shape: many small connections, few big ones, long ones.
	case $((seed % 4)) in
	0) shape="--conns 50 --events 800 --max-data 300" ;;
	1) shape="" ;;
	2) shape="--conns 3 --events 200 --max-data 200000" ;;
	3) shape="--conns 0 --events 1500 --max-data 2000" ;;
	esac

	# Binary first: tape -> tsv -> tape is byte-identical.
	# shellcheck disable=SC2086 # options, split on purpose
	run_expect_status 0 "$GEN_TAPE" --seed "$seed" $shape r.tape
	td convert r.tape r.tsv
	assert_empty "$ERR"
	td convert r.tsv r2.tape
	assert_empty "$ERR"
	cmp r.tape r2.tape >/dev/null 2>&1 || fail "seed $seed: tape -> tsv -> tape differs: $(cmp r.tape r2.tape 2>&1)"
	# The same through standard input and output.
	$TIMEOUT "$TAPEDECK" convert - - <r.tape | $TIMEOUT "$TAPEDECK" convert --to tape - - >r3.tape ||
		fail "seed $seed: conversion through pipes failed"
	cmp -s r.tape r3.tape || fail "seed $seed: tape -> tsv -> tape through pipes differs"

	# Text first: tsv -> tape -> tsv is the same text.
	# shellcheck disable=SC2086
	run_expect_status 0 "$GEN_TAPE" --seed "$seed" $shape g.tsv
	td convert g.tsv g.tape
	assert_empty "$ERR"
	td convert g.tape g2.tsv
	assert_empty "$ERR"
	cmp -s g.tsv g2.tsv || {
		diff g.tsv g2.tsv | sed -n '1,10p' >&2
		fail "seed $seed: tsv -> tape -> tsv differs"
	}
	# gen_tape's two outputs for one seed are the same tape.
	cmp -s g.tape r.tape || fail "seed $seed: the .tsv and .tape that gen_tape wrote hold different tapes"
	cmp -s g.tsv r.tsv || fail "seed $seed: gen_tape's .tsv differs from convert's"

	# describe sees the same events in both (the first line names the file).
	td describe r.tape
	sed 1d "$OUT" >r.list
	td describe g.tsv
	sed 1d "$OUT" >g.list
	cmp -s r.list g.list || fail "seed $seed: describe lists different events for the .tape and .tsv"
	td describe --json r.tape
	assert_contains "$OUT" '"connections":['
	assert_contains "$OUT" '"finalised":true'
done

# One-connection ts_proxy recordings: tsp -> tape -> tsp and tsp -> tsv -> tsp.
for seed in $(echo "$seeds" | head -n 5); do
	run_expect_status 0 "$GEN_TAPE" --seed "$seed" --events 300 --max-data 5000 p.tsp
	td convert p.tsp p.tape
	td convert p.tape p2.tsp
	assert_same_file p.tsp p2.tsp
	td convert p.tsp p.tsv
	td convert p.tsv p3.tsp
	assert_same_file p.tsp p3.tsp
done

exit 0
