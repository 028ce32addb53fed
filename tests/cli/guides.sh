#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# guides.sh - the command sequences of doc/guides/*.md on 127.0.0.1 and the bundled pcaps: links, option names, conversions, replay, and the CI-fixture workflow (proxy, serve, client).
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

GUIDES=$TOP_SRCDIR/doc/guides
PCAP=$TOP_SRCDIR/pcaps/http-session.pcap
KV=$TOP_BUILDDIR/tests/peers/kvserver
[ -d "$GUIDES" ] || fail "no $GUIDES"
cd "$TMP" || exit 1

# ---- the guides themselves -------------------------------------------------

# check_links FILE...: prints every relative link target of the Markdown
# FILEs that does not exist (relative to the file), and fails (status 1)
# when there is one.  Web links and in-page anchors are not checked.
check_links() {
	_bad=0
	for _f in "$@"; do
		_d=$(dirname "$_f")
		for _t in $(grep -o '\]([^)]*)' "$_f" | sed -e 's/^](//' -e 's/)$//' -e 's/#.*//'); do
			case $_t in
			'' | http://* | https://* | mailto:*) continue ;;
			esac
			if [ ! -e "$_d/$_t" ]; then
				printf '%s: broken link: %s\n' "$_f" "$_t"
				_bad=1
			fi
		done
	done
	return "$_bad"
}

# guide_options FILE...: "COMMAND OPTION" for every option given to a
# tapedeck command in the indented (code) lines of FILEs, continuation
# lines joined.  A command ends at a pipe, ;, && or ).
guide_options() {
	awk '
	/\\$/ { sub(/\\$/, ""); buf = buf $0 " "; next }
	{ line = buf $0; buf = "" }
	line !~ /^    / { next }
	{
		n = split(line, seg, /tapedeck /)
		for (i = 2; i <= n; i++) {
			s = seg[i]
			sub(/[|;)&].*/, "", s)
			m = split(s, w, /[ \t]+/)
			if (w[1] !~ /^(capture|convert|describe|diff|replay|proxy|serve|client)$/)
				continue
			for (j = 2; j <= m; j++) {
				o = w[j]
				sub(/=.*/, "", o)
				if (o ~ /^--[a-z][a-z0-9-]*$/ || o ~ /^-[A-Za-z]$/)
					print w[1], o
			}
		}
	}' "$@" | sort -u
}

# check_options FILE...: every option of guide_options is in the help of
# its command (a short one as "-X,"); prints the unknown ones and fails.
check_options() {
	_bad=0
	guide_options "$@" >opts.list
	while read -r _cmd _opt; do
		"$TAPEDECK" "$_cmd" --help >help.txt 2>&1 || :
		case $_opt in
		--*) grep -q -E -e "$_opt([ =,]|\$)" help.txt ;;
		*) grep -q -e "$_opt," help.txt ;;
		esac || {
			printf 'tapedeck %s has no option %s\n' "$_cmd" "$_opt"
			_bad=1
		}
	done <opts.list
	return "$_bad"
}

# The checkers catch what they are for.
mkdir bad
printf '# x\nSee [a](nothing-here.md) and [b](../guides.sh#x) and [c](https://example.org/).\n' >bad/a.md
: >guides.sh
if check_links bad/a.md >links.out; then
	fail "check_links missed a broken link"
fi
assert_contains links.out "broken link: nothing-here.md"
assert_not_contains links.out "guides.sh"
assert_not_contains links.out "example.org"
printf '    tapedeck capture -r x.pcap --bogus-option -w y.tape | tapedeck describe -X\n    tapedeck replay t.tape --target 127.0.0.1:1 \\\n        --verify --no-such\n' >bad/b.md
if check_options bad/b.md >opts.out; then
	fail "check_options missed unknown options"
fi
assert_contains opts.out "tapedeck capture has no option --bogus-option"
assert_contains opts.out "tapedeck describe has no option -X"
assert_contains opts.out "tapedeck replay has no option --no-such"
assert_not_contains opts.out "--verify"
assert_not_contains opts.out " -r"

# Now the real guides: links resolve, options exist, every guide is indexed
# and distributed.
check_links "$GUIDES"/*.md >links.out || { cat links.out >&2; fail "broken links in doc/guides"; }
check_options "$GUIDES"/*.md >opts.out || { cat opts.out >&2; fail "unknown options in doc/guides"; }
[ "$(wc -l <opts.list)" -gt 40 ] || fail "too few options found in the guides: $(cat opts.list)"
# Options named anywhere in the prose too: tapedeck's, or the other tools'
# listed here (http.server, tcpreplay, systemctl, useradd).
for _c in capture convert describe diff replay proxy serve client; do
	"$TAPEDECK" "$_c" --help
done >allhelp.txt 2>&1
grep -ohE -e '--[a-z][a-z0-9-]+' "$GUIDES"/*.md | sort -u >longopts.list
[ -s longopts.list ] || fail "no options found in the guides"
while read -r _o; do
	case $_o in
	--bind | --directory | --multiplier | --topspeed | --now | --system) continue ;;
	esac
	grep -q -E -e "$_o([ =,]|\$)" allhelp.txt || fail "doc/guides name $_o, which no tapedeck command has"
done <longopts.list
for _g in "$GUIDES"/*.md; do
	_b=$(basename "$_g")
	grep -q "doc/guides/$_b" "$TOP_SRCDIR/Makefile.am" || fail "doc/guides/$_b is not in DOCS in Makefile.am"
	[ "$_b" = README.md ] || grep -q "]($_b)" "$GUIDES/README.md" || fail "$_b is not listed in doc/guides/README.md"
done

# ---- converting-pcaps.md ------------------------------------------------------

td capture -r "$PCAP" -w http.tape
assert_contains "$ERR" "36 packets"
assert_contains "$ERR" "3 connections"
td describe --summary http.tape
assert_eq "$(grep -c ' fin$' "$OUT")" 3 "connections closed by fin"
assert_contains "$OUT" "127.0.0.1:44680         127.0.0.1:18080                 88         206"

td capture -q -r "$PCAP" -w http.tsv tcp port 18080
assert_empty "$ERR"
assert_eq "$(grep -c '	open	' http.tsv)" 3 "connections with the filter"
td capture -q -r "$PCAP" -w one.tsv -f 'tcp port 44696'
td describe --json one.tsv
assert_contains "$OUT" '"c2s_bytes":88,"s2c_bytes":231'
assert_contains "$OUT" '"conn":1,'
assert_not_contains "$OUT" '"conn":2,'
# One direction only: no client bytes, no proper close.
td capture -q -r "$PCAP" -w half.tsv src port 18080
td describe --json half.tsv
assert_not_contains "$OUT" '"c2s_bytes":8'
assert_eq "$(grep -o '"close":"end"' "$OUT" | wc -l | tr -d ' ')" 3 "one-sided connections ending 'end'"
run_expect_status 2 "$TAPEDECK" capture -r "$PCAP" -w bad.tsv 'tcp port'
assert_contains "$ERR" "bad filter"

td convert http.tape http.tsv
td convert http.tsv again.tape
assert_same_file http.tape again.tape
td convert http.tape -
assert_eq "$(sed -n 1p "$OUT")" "# tapedeck tsv v1" "convert to standard output"
td convert http.tape synth.pcap
assert_contains "$ERR" "no place for 1 event"
td convert http.tape synth.pcapng
td diff "$PCAP" synth.pcapng
assert_contains "$OUT" "are the same: 3 connections"
td diff http.tape synth.pcap

# Masks and text diffs: change the first response's date.
sed '2,/	s2c	/s/446174653a20536174/446174653a2053756e/' http.tsv >other.tsv
run_expect_status 1 "$TAPEDECK" diff http.tape other.tsv
assert_contains "$OUT" "conn 1 / 1: s2c differs at offset 62"
run_expect_status 1 "$TAPEDECK" diff --text-diff http.tape other.tsv
assert_contains "$OUT" "-Date: Sat, 21 Nov 2026 22:03:23 GMT"
assert_contains "$OUT" "+Date: Sun, 21 Nov 2026 22:03:23 GMT"
td diff --text-diff --ignore 'Date: [^\r]*' http.tape other.tsv
td diff --quiet --by-endpoints "$PCAP" http.tape
assert_empty "$OUT"
run_expect_status 0 "$TAPEDECK" diff --json --ignore 'Date: [^\r]*' http.tape other.tsv
assert_contains "$OUT" '"same":true'

# One connection out to ts_proxy, and ts_proxy and gogetway in.
awk -F'\t' '/^#/ || $2 == 2' http.tsv >conn2.tsv
td convert conn2.tsv conn2.tsp
assert_eq "$(sed -n 1p conn2.tsp)" "# ts_proxy recording v1" "ts_proxy header"
assert_eq "$(grep -c '	c2s	' conn2.tsp) $(grep -c '	s2c	' conn2.tsp)" "1 2" "ts_proxy lines"
run_expect_status 2 "$TAPEDECK" convert http.tape all.tsp
assert_contains "$ERR" "hold one connection"
printf '# ts_proxy recording v1\n123\tc2s\t68656c6c6f\n456\ts2c\t776f726c64\n' >session.tsp
td convert --from tsp session.tsp session.tsv
assert_contains session.tsv "0	1	open	0.0.0.0:0	0.0.0.0:0"
td convert --from gogetway "$TOP_SRCDIR/tests/data/gogetway/sample.gogetway" traffic.tape
td describe --summary traffic.tape
assert_eq "$(grep -c '^ *[0-9].* end$' "$OUT")" 2 "gogetway connections"

# Damaged copies, when Wireshark's tools are there.
if command -v editcap >/dev/null 2>&1 && command -v mergecap >/dev/null 2>&1; then
	run_expect_status 0 editcap "$PCAP" lossy.pcap 8
	td capture -r lossy.pcap -w lossy.tape
	assert_contains "$ERR" "gaps: 1 (20 bytes never captured)"
	td describe --summary lossy.tape
	assert_contains "$OUT" "fin (20 bytes missing)"
	td diff "$PCAP" lossy.tape
	assert_contains "$OUT" "conn 1 / 1: s2c: 20 bytes not compared (gaps): offsets 186-205 in B"
	td describe --json lossy.tape
	assert_contains "$OUT" '"gaps":1,"c2s_gap_bytes":0,"s2c_gap_bytes":20'
	run_expect_status 0 mergecap -w dup.pcap "$PCAP" "$PCAP"
	td capture -r dup.pcap -w dup.tape
	assert_contains "$ERR" "retransmitted bytes: 1219"
	td diff http.tape dup.tape
	run_expect_status 0 editcap -s 96 "$PCAP" short.pcap
	td capture -r short.pcap -w short.tsv
	assert_contains "$ERR" "8 truncated by snaplen"
	assert_eq "$(awk -F'\t' '$3 == "gap"' short.tsv | wc -l | tr -d ' ')" 8 "snaplen gaps"
	td convert lossy.tape lossy-synth.pcap
	if command -v tshark >/dev/null 2>&1; then
		run tshark -r lossy-synth.pcap -Y tcp.analysis.lost_segment
		assert_eq "$(wc -l <"$OUT" | tr -d ' ')" 1 "segments tshark finds missing"
		run tshark -r synth.pcap -Y http
		assert_eq "$(grep -c HTTP "$OUT")" 6 "HTTP messages tshark finds"
	fi
else
	note "no editcap/mergecap: the damaged-capture part is skipped"
fi

# ---- the network parts: peers -------------------------------------------------

[ -x "$KV" ] || skip "no tests/peers/kvserver in $TOP_BUILDDIR"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the clients"

# start_kv NAME [ARG...]: a kvserver; its port in $KPORT, its pid in $KPID.
start_kv() {
	_n=$1
	shift
	peer_start "$_n" "$KV" --port-file "$_n.port" "$@"
	KPORT=$PEER_PORT
	KPID=$PEER_PID
}

# A test suite in miniature: kvc.py PORT COMMAND... sends each command as a
# line and prints the answer line before sending the next, then half-closes
# and prints what else arrives.
cat >kvc.py <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
for cmd in sys.argv[2:]:
    s.sendall(cmd.encode() + b"\n")
    sys.stdout.write(f.readline().decode())
s.shutdown(socket.SHUT_WR)
rest = f.read()
if rest:
    sys.stdout.write("after: " + rest.decode())
PYEOF
A='GET greeting|SET color blue|GET color|DATE'
B='PING|GET greeting'
# kvc PORT 'CMD|CMD...': one client connection running those commands.
kvc() {
	_p=$1
	_old_ifs=$IFS
	IFS='|'
	set -f
	# shellcheck disable=SC2086 # split on |
	set -- $2
	IFS=$_old_ifs
	set +f
	run python3 kvc.py "$_p" "$@"
	[ "$STATUS" -eq 0 ] || fail "client $* against port $_p failed: $(cat "$ERR")"
}
# suite PORT OUT: both connections of the suite, answers in OUT.1 and OUT.2.
suite() {
	kvc "$1" "$A"
	cp "$OUT" "$2.1"
	kvc "$1" "$B"
	cp "$OUT" "$2.2"
}

# ---- ci-fixtures.md: record once through the proxy -------------------------

start_kv real --preload greeting=hello
REAL=$KPORT
REAL_PID=$KPID
td_start proxy proxy --listen 127.0.0.1:0 --target "127.0.0.1:$REAL" --framing line -w fixture.tsv
suite "$LPORT" rec
td_stop proxy 0
assert_contains proxy.err "stopped: 2 connections"
assert_eq "$(cat rec.2)" "PONG
VALUE hello" "answers of the real service"
assert_eq "$(sed -n 4p rec.1 | cut -c1-5)" "DATE " "the date answer"
# The fixture: canonical TSV, one line per message.
assert_eq "$(sed -n 1p fixture.tsv)" "# tapedeck tsv v1" "fixture header"
assert_contains fixture.tsv "# framing: line"
assert_eq "$(grep -c '	c2s	' fixture.tsv) $(grep -c '	s2c	' fixture.tsv)" "6 6" "messages in the fixture"
assert_contains fixture.tsv "	c2s	53455420636f6c6f7220626c75650a"
td convert fixture.tsv fixture.tape
td convert fixture.tape again.tsv
assert_same_file fixture.tsv again.tsv

# ---- serve as the stand-in, on port 0 -------------------------------------------

td_start serve serve fixture.tsv --listen 127.0.0.1:0 --framing line
assert_contains serve.err "serving 2 connections of fixture.tsv (framing line)"
suite "$LPORT" got
assert_same_file rec.1 got.1
assert_same_file rec.2 got.2
# In the other order: each client finds its recording by its first request.
kvc "$LPORT" "$B"
assert_same_file rec.2 "$OUT"
td_stop serve 0
assert_contains serve.err "stopped: 3 connections, 3 matched, 0 mismatched"

# A request the fixture does not hold: with --abort, serve exits 3.
td_start abort serve fixture.tsv --listen 127.0.0.1:0 --framing line --abort
run python3 kvc.py "$LPORT" 'GET colour'
td_stop abort 3
assert_contains abort.err "c2s mismatch"

# A field of the requests that changes, masked, of another length too.
td_start masked serve fixture.tsv --listen 127.0.0.1:0 --framing line --ignore 'col[a-z]*r' --abort
kvc "$LPORT" 'GET greeting|SET colar blue|GET colouur|DATE'
assert_eq "$(sed -n 2,3p "$OUT")" "OK
VALUE blue" "answers to masked requests"
td_stop masked 0

# The stand-in script of ci-fixtures.md, run around a suite that passes,
# one that sends an unknown request, and one that fails by itself.
awk '/^    #!\/bin\/sh/ { on = 1 } on && /^[^ ]/ { exit } on' "$GUIDES/ci-fixtures.md" |
	sed -e 's/^    //' >stand-in.sh
assert_contains stand-in.sh 'wait "$serve"'
sed -e 's/--framing http1/--framing line/' -e "s/--ignore 'Host: \[^\\\\r\]\*'//" stand-in.sh >stand-in-kv.sh
assert_not_contains stand-in-kv.sh "Host"
mkdir bin
printf '#!/bin/sh\nexec "%s" "$@"\n' "$TAPEDECK" >bin/tapedeck
chmod +x bin/tapedeck
cat >suite.sh <<'EOF'
port=${API_URL##*:}
python3 kvc.py "$port" 'GET greeting' 'SET color blue' 'GET color' 'DATE' >s.1 &&
	python3 kvc.py "$port" "$@" >s.2
EOF
PATH=$TMP/bin:$PATH run sh stand-in-kv.sh fixture.tsv sh suite.sh PING 'GET greeting'
[ "$STATUS" -eq 0 ] || { cat "$ERR" >&2; fail "stand-in script with a matching suite: status $STATUS"; }
assert_same_file rec.1 s.1
assert_same_file rec.2 s.2
PATH=$TMP/bin:$PATH run sh stand-in-kv.sh fixture.tsv sh suite.sh 'GET colour'
[ "$STATUS" -eq 3 ] || { cat "$ERR" >&2; fail "stand-in script with an unknown request: status $STATUS, expected 3"; }
PATH=$TMP/bin:$PATH run sh stand-in-kv.sh fixture.tsv sh -c 'exit 5'
assert_eq "$STATUS" 5 "stand-in script with a failing suite"

# ---- client: the real service against the fixture ------------------------------

# The DATE answer changes; unmasked it is a mismatch (1), masked it matches (0).
run_expect_status 1 "$TAPEDECK" client fixture.tsv --connect "127.0.0.1:$REAL" --timing none
assert_contains "$ERR" "mismatch"
td client fixture.tsv --connect "127.0.0.1:$REAL" --timing none --ignore 'DATE [0-9]+'
assert_contains "$ERR" "0 with mismatches"
# A changed service: 1, with the difference shown.
start_kv changed --preload greeting=howdy
CHANGED_PID=$KPID
run_expect_status 1 "$TAPEDECK" client fixture.tsv --connect "127.0.0.1:$KPORT" --timing none \
	--ignore 'DATE [0-9]+' --text-diff
assert_contains "$ERR" "-VALUE hello"
assert_contains "$ERR" "+VALUE howdy"
# A service that is down: 3.
bg_kill "$CHANGED_PID"
run_expect_status 3 "$TAPEDECK" client fixture.tsv --connect "127.0.0.1:$KPORT" --timing none -q
bg_kill "$REAL_PID"

# ---- replaying.md: the bundled pcap against a python3 HTTP server -----------------

mkdir site
printf 'hello from tapedeck\n' >site/hello.txt
printf '{"name": "tapedeck", "kind": "sample"}\n' >site/info.json
python3 -u -m http.server --bind 127.0.0.1 --directory site 0 >http.out 2>http.err &
bg_register "$!"
poll grep -q 'port [0-9]' http.out || fail "python3 http.server did not start: $(cat http.err)"
HP=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' http.out | head -n 1)
[ -n "$HP" ] || fail "no port in: $(cat http.out)"
# (Connection 3 is a 404 page, whose HTML depends on the Python version.)
td replay "$PCAP" --target "127.0.0.1:$HP" --conn 1,2 --timing none
assert_contains "$ERR" "2 connections (of 3 on the tape) x1 to 127.0.0.1:$HP"
run_expect_status 1 "$TAPEDECK" replay "$PCAP" --target "127.0.0.1:$HP" --conn 1,2 --timing none --verify
assert_contains "$ERR" "mismatch: connection 1, s2c offset"
td replay "$PCAP" --target "127.0.0.1:$HP" --conn 1,2 --timing none --verify \
	--ignore 'Date: [^\r]*' --ignore 'Last-Modified: [^\r]*' --ignore 'Server: [^\r]*' \
	--report report.json --record actual.tsv
python3 - report.json <<'EOF' || fail "report.json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["exit"] == 0 and d["stats"]["ok"] == 2 and d["stats"]["mismatches"] == 0, d["stats"]
assert sorted(c["status"] for c in d["connections"]) == ["ok", "ok"]
EOF
# The recorded exchange against the same two connections of the capture.
awk -F'\t' '/^#/ || $2 == 1 || $2 == 2' http.tsv >c12.tsv
run_expect_status 1 "$TAPEDECK" diff c12.tsv actual.tsv
td diff --text-diff -I 'Date: [^\r]*' -I 'Last-Modified: [^\r]*' -I 'Server: [^\r]*' c12.tsv actual.tsv
assert_contains "$OUT" "are the same: 2 connections"
# Selections, timing, load, and exit codes.
run_expect_status 2 "$TAPEDECK" replay "$PCAP" --target "127.0.0.1:$HP" --server 10.0.0.1:80
assert_contains "$ERR" "no selected connection"
run_expect_status 2 "$TAPEDECK" replay "$PCAP" --target "127.0.0.1:$HP" --concurrency 2
td replay "$PCAP" --target "127.0.0.1:$HP" --conn 1,2 --unordered --concurrency 2 --loop 3 --timing none
assert_contains "$ERR" "6 done, 6 ok"
td replay "$PCAP" --conn 1 --map "127.0.0.1:18080=127.0.0.1:$HP" --speed 10 --max-delay 50 -q
run_expect_status 3 "$TAPEDECK" replay "$PCAP" --target "127.0.0.1:$REAL" --conn 1 --timing none -q

exit 0
