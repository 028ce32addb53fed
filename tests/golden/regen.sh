#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# regen.sh - show how tapedeck's capture of each golden pcap differs from its expected tape (NAME... or all).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
tapedeck=${TAPEDECK:-$top/tools/tapedeck}
grep -v '^#' "$top/tests/golden/TESTLIST" | while read -r name pcap expected opts; do
	[ -n "$name" ] || continue
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	eval "set -- $opts"
	"$tapedeck" capture -q "$@" -r "$top/pcaps/$pcap" -w - | grep -v '^#' | grep -v '	note	' > "/tmp/golden-$name.tsv" || true
	echo "== $name"
	grep -v '^#' "$top/pcaps/$expected" | diff -u - "/tmp/golden-$name.tsv" || true
done
