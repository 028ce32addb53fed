#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# completion.sh - the bash completion (completion/tapedeck.bash) offers every command, every option of each command's --help, and the values and files each option takes.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

command -v bash >/dev/null 2>&1 || skip "no bash"
SCRIPT=$TOP_SRCDIR/completion/tapedeck.bash
[ -f "$SCRIPT" ] || fail "no $SCRIPT"
cd "$TMP" || exit 1

# The checks are bash: they load the completion as bash-completion would and
# call its function the way bash does, on a line with the cursor at its end.
cat >checks.bash <<'EOF'
set -u
failures=0
bad() {
	printf 'FAIL: completion.sh: %s\n' "$*" >&2
	failures=$((failures + 1))
}

source "$SCRIPT" || { bad "cannot source $SCRIPT"; exit 1; }
[[ $(complete -p tapedeck 2>/dev/null) == *"-F _tapedeck"* ]] ||
	bad "the script does not register _tapedeck for tapedeck: $(complete -p tapedeck 2>&1)"

# Outside a completion, compopt only records what it was asked.
COMPOPTS=
compopt() { COMPOPTS+=" $*"; }

BIN=$TAPEDECK
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
# comp ARGS: R gets the completions of "BIN ARGS" (ARGS as typed after the
# command word, cursor at the end), one per line, sorted, and COMPOPTS the
# compopt options it set; the words are split as
# bash splits them, at blanks and around runs of '=' and ':'.
comp() {
	local tok
	local -a toks w=("$BIN")
	read -ra toks <<<"$1"
	for tok in "${toks[@]}"; do
		while [[ -n $tok ]]; do
			[[ $tok =~ ^([=:]+)(.*)$ || $tok =~ ^([^=:]+)(.*)$ ]]
			w+=("${BASH_REMATCH[1]}")
			tok=${BASH_REMATCH[2]}
		done
	done
	[[ $1 == "" || $1 == *[[:space:]] ]] && w+=("")
	COMP_WORDS=("${w[@]}")
	COMP_CWORD=$((${#w[@]} - 1))
	COMP_LINE="$BIN $1"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=(x)
	COMPOPTS=
	_tapedeck 2>>comp.err || bad "_tapedeck failed on '$1'"
	R=
	((${#COMPREPLY[@]})) && R=$(printf '%s\n' "${COMPREPLY[@]}" | sort -u)
	return 0
}

# set_of LIST: the words of LIST (blank or newline separated), sorted, one a
# line.
set_of() {
	tr -s ' \t' '\n\n' <<<"$1" | grep -v '^$' | sort -u
}

# same WHAT GOT WANT: two lists of words are the same set.
same() {
	[[ $(set_of "$2") == "$(set_of "$3")" ]] ||
		bad "$1: got [$(set_of "$2" | tr '\n' ' ')], expected [$(set_of "$3" | tr '\n' ' ')]"
}

# has WHAT GOT WORD: WORD is one of the words of GOT.
has() {
	set_of "$2" | grep -q -x -F -e "$3" || bad "$1: [${2//$'\n'/ }] lacks '$3'"
}

# help_options CMD: the lines of the option part of `tapedeck CMD --help`
# ("  -w, --write OUT         the tape to write" gives "-w, --write OUT"),
# read the way tests/cli/help.sh reads them, independently of the script.
help_options() {
	"$TAPEDECK" "$1" --help | sed -n -e 's/^ \{1,\}\(-[^ ].*\)$/\1/p' | sed -e 's/   .*//'
}

# help_values CMD OPTION: the values listed in the description of OPTION in
# `tapedeck CMD --help`: "raw (default), line, len:N (N 1..16), http1" gives
# raw, line, len: and http1; "original (recorded gaps) or none" gives
# original and none.
help_values() {
	"$TAPEDECK" "$1" --help | sed -n "s/^ *$2 [A-Z]* *//p" | sed -e 's/([^)]*)//g' -e 's/ or /,/g' |
		tr ',' '\n' | sed -e 's/^ *//' -e 's/ *$//' -e 's/:N$/:/' | grep -E '^[a-z0-9]+:?$'
}

# ---- commands
commands=$("$TAPEDECK" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z0-9-]*\)  .*/\1/p')
subcommands=$(grep -v -x help <<<"$commands")
[[ -n $subcommands ]] || bad "no commands in 'tapedeck --help'"
comp ''
same "commands for ''" "$R" "$commands"
for c in $commands; do
	for ((n = 1; n <= ${#c}; n++)); do
		p=${c:0:n}
		comp "$p"
		has "commands for '$p'" "$R" "$c"
		grep -q -v "^$p" <<<"$R" && bad "commands for '$p' include [${R//$'\n'/ }]"
	done
done
comp '--'
same "top-level options for '--'" "$R" "$("$TAPEDECK" --help | sed -n 1p | tr -c 'a-z-' '\n' | grep '^--')"
comp '-'
same "top-level options for '-'" "$R" "-h -V --help --version"
comp 'help '
same "commands after help" "$R" "$subcommands"
comp 'help con'
same "commands after 'help con'" "$R" "convert"
comp 'help convert '
same "nothing after 'help convert'" "$R" ""
comp '--version '
same "nothing after --version" "$R" ""
comp 'frobnicate --'
same "nothing for an unknown command" "$R" ""

# ---- options: exactly those of each command's --help
for c in $subcommands; do
	help_options "$c" >"opts.$c"
	longs=$(tr -c 'A-Za-z0-9-' '\n' <"opts.$c" | grep -E '^--[A-Za-z]' | sort -u)
	shorts=$(tr -c 'A-Za-z0-9-' '\n' <"opts.$c" | grep -E '^-[A-Za-z0-9]$' | sort -u)
	[[ -n $longs ]] || bad "no options in 'tapedeck $c --help'"
	comp "$c --"
	same "options of $c for '--'" "$R" "$longs"
	comp "$c -"
	same "options of $c for '-'" "$R" "$longs $shorts"
	comp "$c --h"
	same "options of $c for '--h'" "$R" "$(grep '^--h' <<<"$longs")"
	# After an option that takes an argument (an upper-case placeholder
	# follows its name), its value, never an option; after any other,
	# options again.
	while read -r line; do
		o=$(tr -c 'A-Za-z0-9-' '\n' <<<"$line" | grep -E '^--[A-Za-z]' | head -n 1)
		[[ -n $o ]] || continue
		if [[ $line =~ $o\ [A-Z] ]]; then
			comp "$c $o --"
			same "after '$c $o'" "$R" ""
		else
			comp "$c $o --"
			same "after '$c $o'" "$R" "$longs"
		fi
	done <"opts.$c"
done
# Commands whose options follow their operands.
comp 'replay x.tape --ta'
has "replay options after TAPE" "$R" "--target"
comp 'serve x.tape --'
has "serve options after TAPE" "$R" "--framing"
comp 'describe -- --'
same "no options after --" "$R" ""
comp 'capture -qi lo'
same "clustered short options, the last taking the next word" "$R" "lo"
comp 'capture -ilo --no-s'
same "clustered short options, the argument attached" "$R" "--no-stats-note"

# ---- values
framings=$(help_values proxy --framing)
has "--framing values in 'proxy --help'" "$framings" "raw"
same "--framing values of proxy and serve" "$(help_values serve --framing)" "$framings"
for c in proxy serve; do
	comp "$c --framing "
	same "$c --framing" "$R" "$framings"
	comp "$c --framing h"
	same "$c --framing h" "$R" "$(grep '^h' <<<"$framings")"
done
comp 'proxy --framing=ht'
same "--framing=ht (bash replaces what follows the '=')" "$R" "http1"
comp 'proxy --framing le'
same "--framing le" "$R" "len:"
[[ $COMPOPTS == *nospace* ]] || bad "--framing len: is followed by a space (compopt:$COMPOPTS)"
comp 'proxy --framing len:'
same "--framing len: (N follows)" "$R" ""

timings=$(help_values replay --timing)
has "--timing values in 'replay --help'" "$timings" "none"
same "--timing values of replay and client" "$(help_values client --timing)" "$timings"
comp 'replay x.tape --timing '
same "replay --timing" "$R" "$timings"
comp 'client --timing '
same "client --timing" "$R" "$timings"

# Formats: every format of the library (src/fmt_*.c), offered for --from
# when convert can read it and for --to when it can write it.
readable='' writable=''
for f in $(sed -n 's/^[[:space:]]*\.name = "\([a-z0-9_]*\)",.*/\1/p' "$TOP_SRCDIR"/src/fmt_*.c); do
	"$TAPEDECK" convert --from "$f" no-such-input out.tsv 2>conv.err
	grep -q 'cannot read format' conv.err || readable+=" $f"
	"$TAPEDECK" convert --to "$f" no-such-input out.x 2>conv.err
	grep -q 'cannot write format' conv.err || writable+=" $f"
	grep -q -w -e "$f" <("$TAPEDECK" convert --help) || bad "'convert --help' does not name format $f"
done
"$TAPEDECK" convert --from no-such-format no-such-input out.tsv 2>conv.err
grep -q 'cannot read format' conv.err || bad "convert --from accepts any name: the format checks are void"
has "readable formats" "$readable" "tape"
has "writable formats" "$writable" "pcapng"
comp 'convert --from '
same "convert --from" "$R" "$readable"
comp 'convert -f '
same "convert -f" "$R" "$readable"
comp 'convert --to '
same "convert --to" "$R" "$writable"
comp 'convert -t ts'
same "convert -t ts" "$R" "$(tr ' ' '\n' <<<"$writable" | grep '^ts')"
comp 'convert --from=pcap'
same "convert --from=pcap (after the '=')" "$R" "pcap pcapng"

# Interfaces: those of /sys/class/net, and any.
ifaces=$(ls /sys/class/net 2>/dev/null; echo any)
comp 'capture -i '
same "capture -i" "$R" "$ifaces"
comp 'capture --interface '
same "capture --interface" "$R" "$ifaces"
if [[ -e /sys/class/net/lo ]]; then
	comp 'capture -i lo'
	has "capture -i lo" "$R" "lo"
	comp 'capture --interface=l'
	has "capture --interface=l" "$R" "lo"
fi
comp 'capture -Z '
has "capture -Z (users)" "$R" "$(id -un)"
# Placeholders with no completion: numbers, addresses, expressions.
comp 'capture --count '
same "capture --count" "$R" ""
comp 'replay x.tape --target '
same "replay --target" "$R" ""
comp 'capture -r a.pcap tcp '
same "capture operands (a BPF filter)" "$R" ""

# ---- files: tapes and captures first, any file when none matches.
mkdir files files/sub
(cd files && touch a.tape b.tsv c.pcap d.pcapng e.cap f.tsp notes.txt)
tapes="files/a.tape files/b.tsv files/c.pcap files/d.pcapng files/e.cap files/f.tsp files/sub"
for c in "describe" "diff" "diff files/a.tape" "convert" "convert files/a.tape" "replay" \
	"serve" "client" "replay --target h:1"; do
	comp "$c files/"
	same "$c FILE" "$R" "$tapes"
	[[ $COMPOPTS == *filenames* ]] || bad "$c FILE: no compopt -o filenames (compopt:$COMPOPTS)"
done
comp 'describe files/no'
same "describe any file when no tape matches" "$R" "files/notes.txt"
comp 'capture -r files/'
same "capture -r" "$R" "files/c.pcap files/d.pcapng files/e.cap files/sub"
comp 'capture --read=files/c'
same "capture --read=" "$R" "files/c.pcap"
comp 'capture -r x -w files/'
same "capture -w" "$R" "$tapes"
comp 'proxy -w files/'
same "proxy -w" "$R" "$tapes"
comp 'replay x --record files/'
same "replay --record" "$R" "$tapes"
comp 'replay x --report files/'
same "replay --report (any file)" "$R" "$tapes files/notes.txt"
comp 'replay x --middleware ca'
has "replay --middleware (commands)" "$R" "cat"

# ---- which binary: the command word, else tapedeck on PATH
cat >fake <<'FAKE'
#!/bin/sh
case "$*" in
--help) printf 'Usage: fake\n\nCommands:\n  frob       frobnicate\n  help       help\n\n' ;;
"frob --help") printf 'Usage: fake frob\n\nOptions:\n  -z, --zap N   zap\n' ;;
esac
FAKE
chmod +x fake
BIN=./fake
comp ''
same "commands of the command word's binary" "$R" "frob help"
comp 'frob -'
same "options of the command word's binary" "$R" "-z --zap"
mkdir bin
ln -s "$TAPEDECK" bin/tapedeck
BIN=not-a-command
PATH=$PWD/bin:$PATH comp 'conv'
same "commands of tapedeck on PATH" "$R" "convert"
mkdir nobin
ln -s "$(type -P sort)" nobin/sort
PATH=$PWD/nobin comp 'conv'
same "nothing without a tapedeck" "$R" ""

[[ ! -s comp.err ]] || bad "the completion wrote to standard error: $(head -n 5 comp.err)"
((failures == 0)) || exit 1
EOF

SCRIPT=$SCRIPT bash checks.bash || fail "completion checks failed (above)"
exit 0
