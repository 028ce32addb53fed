# SPDX-License-Identifier: BSD-2-Clause
# tapedeck.bash - bash completion for tapedeck: commands, options read from `tapedeck CMD --help`, and their values.
#
# Installed as "tapedeck" in bash-completion's completions directory, where
# bash-completion loads it the first time tapedeck is completed; or source it
# from ~/.bashrc.  It needs bash 4.2 or later and nothing else (no
# bash-completion functions, no programs but the tapedeck it completes).
#
# Commands and options are not listed here: they are read, at every
# completion, from the help of the very binary being completed (the command
# word, so `./tools/tapedeck conv<TAB>` asks ./tools/tapedeck), as git's
# completion asks git for its options, so they cannot drift from the
# binary.  `tapedeck CMD --help` costs a few milliseconds (no caching, so a
# rebuilt or upgraded binary is seen at once).  An option line of the help
# reads
#     "  -w, --write OUT         the tape to write"
#     "      --flush-interval MS hand what was recorded..."
#     "      --no-stats-note     do not end the tape..."
# and an option takes an argument when its name is followed by one space and
# an upper-case placeholder (OUT, MS, HOST:PORT); the placeholder picks the
# kind of value (files, interfaces, users, commands), so a new option needs
# no change here.  Only the closed sets of values of some options (formats,
# framings, timings) are tables below; tests/cli/completion.sh checks them
# against the binary.

# The values of options that take one of a fixed set (plain assignments, not
# declare: bash-completion sources this file inside a function).
_tapedeck_formats_read=(tape tsv tsp pcap pcapng gogetway)
_tapedeck_formats_write=(tape tsv tsp pcap pcapng)
_tapedeck_framings=(raw line len: http1 iso8583)
_tapedeck_timings=(original none)
# File name extensions of tapes, and of packet captures.
_tapedeck_tape_exts=(tape tsv tsp pcap pcapng cap)
_tapedeck_pcap_exts=(pcap pcapng cap)

# _tapedeck_bin: sets bin to the tapedeck to ask: the command word when it
# can be run (a path or a name on PATH), else "tapedeck".
_tapedeck_bin() {
	bin=${COMP_WORDS[0]}
	[[ $bin == \~/* ]] && bin=$HOME/${bin#\~/}
	type -P -- "$bin" >/dev/null 2>&1 || bin=tapedeck
}

# _tapedeck_words: words, cword and cur from COMP_WORDS, COMP_LINE and
# COMP_POINT, with "--opt=value" and "len:4" put back together (bash splits
# words at the '=' and ':' of COMP_WORDBREAKS) and cur cut at the cursor.
_tapedeck_words() {
	local line=${COMP_LINE:0:COMP_POINT} w i j=-1 ws
	words=()
	cword=0
	cur=
	for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		ws=$((i == 0))
		while [[ $line == [[:space:]]* ]]; do
			line=${line:1}
			ws=1
		done
		if ((j >= 0 && !ws)) && [[ $w == [=:]* || ${words[j]} == *[=:] ]]; then
			:
		else
			j=$((j + 1))
			words[j]=
		fi
		if ((i == COMP_CWORD)); then
			# What the line holds of this word up to the cursor.
			cur=${words[j]}$line
			words[j]+=$w
			cword=$j
			return
		fi
		if [[ $line != "$w"* ]]; then
			# COMP_LINE and COMP_WORDS disagree: trust COMP_WORDS.
			words=("${COMP_WORDS[@]}")
			cword=$COMP_CWORD
			cur=${COMP_WORDS[COMP_CWORD]}
			return
		fi
		words[j]+=$w
		line=${line:${#w}}
	done
	cword=$((j + 1))
}

# _tapedeck_commands BIN: fills cmds with the commands in the "Commands:"
# list of its help.
_tapedeck_commands() {
	local line on=0
	cmds=()
	while IFS= read -r line; do
		if [[ $line == Commands:* ]]; then
			on=1
		elif ((on)) && [[ $line =~ ^\ +([a-z][a-z0-9-]*)\  ]]; then
			cmds+=("${BASH_REMATCH[1]}")
		elif ((on)) && [[ -z $line ]]; then
			break
		fi
	done < <("$1" --help 2>/dev/null)
}

# _tapedeck_options BIN CMD: from the option lines of `BIN CMD --help`,
# fills shorts and longs (the option names), args (option -> its
# placeholder, for those that take an argument) and long_of (short option ->
# its long name).
_tapedeck_options() {
	local line s l a
	shorts=()
	longs=()
	args=()
	long_of=()
	while IFS= read -r line; do
		s='' l='' a=''
		if [[ $line =~ ^\ {1,8}(-[A-Za-z0-9])(,\ +(--[A-Za-z0-9][-A-Za-z0-9]*))?(\ ([^ ]+))? ]]; then
			s=${BASH_REMATCH[1]} l=${BASH_REMATCH[3]} a=${BASH_REMATCH[5]}
		elif [[ $line =~ ^\ {1,8}(--[A-Za-z0-9][-A-Za-z0-9]*)(\ ([^ ]+))? ]]; then
			l=${BASH_REMATCH[1]} a=${BASH_REMATCH[3]}
		else
			continue
		fi
		[[ $a =~ ^[A-Z][A-Z0-9_]*([:=][A-Z0-9_:=]*)?$ ]] || a=
		if [[ -n $s ]]; then
			shorts+=("$s")
			[[ -n $a ]] && args[$s]=$a
			[[ -n $l ]] && long_of[$s]=$l
		fi
		if [[ -n $l ]]; then
			longs+=("$l")
			[[ -n $a ]] && args[$l]=$a
		fi
	done < <("$1" "$2" --help 2>/dev/null)
}

# _tapedeck_add PREFIX WORD...: COMPREPLY gets each WORD that starts with
# PREFIX.
_tapedeck_add() {
	local p=$1 w
	shift
	for w; do
		[[ $w == "$p"* ]] && COMPREPLY+=("$w")
	done
}

# _tapedeck_files PREFIX [EXT...]: file and directory names starting with
# PREFIX; with EXTs, only directories and files with one of them, unless no
# name has one (then any file: a tape may have any name).
_tapedeck_files() {
	local p=$1 f e
	local -a all=() some=()
	shift
	compopt -o filenames 2>/dev/null
	mapfile -t all < <(compgen -f -- "$p")
	for f in "${all[@]}"; do
		if [[ -d $f ]]; then
			some+=("$f")
			continue
		fi
		for e; do
			if [[ $f == *."$e" ]]; then
				some+=("$f")
				break
			fi
		done
	done
	if (($# && ${#some[@]})); then
		COMPREPLY+=("${some[@]}")
	else
		COMPREPLY+=("${all[@]}")
	fi
}

# _tapedeck_value CMD OPTION PLACEHOLDER PREFIX: the values OPTION can take.
_tapedeck_value() {
	local cmd=$1 opt=$2 ph=$3 p=$4 f
	case $cmd:$opt in
	convert:--from) _tapedeck_add "$p" "${_tapedeck_formats_read[@]}" ;;
	convert:--to) _tapedeck_add "$p" "${_tapedeck_formats_write[@]}" ;;
	*:--framing)
		_tapedeck_add "$p" "${_tapedeck_framings[@]}"
		# "len:" wants its N right after it.
		[[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *: ]] && compopt -o nospace 2>/dev/null
		;;
	*:--timing) _tapedeck_add "$p" "${_tapedeck_timings[@]}" ;;
	capture:--read) _tapedeck_files "$p" "${_tapedeck_pcap_exts[@]}" ;;
	*)
		case $ph in
		IFACE)
			for f in /sys/class/net/*; do
				[[ -e $f ]] && _tapedeck_add "$p" "${f##*/}"
			done
			_tapedeck_add "$p" any
			;;
		OUT | TAPE) _tapedeck_files "$p" "${_tapedeck_tape_exts[@]}" ;;
		FILE | DIR) _tapedeck_files "$p" ;;
		USER) mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -u -- "$p") ;;
		CMD) mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -c -- "$p") ;;
		esac
		;;
	esac
}

# _tapedeck_takes_arg OPTION: whether OPTION (a word of the command line)
# leaves its argument to the next word; sets opt to its name (the long one
# when it has one) and ph to its placeholder.
_tapedeck_takes_arg() {
	local w=$1 k c
	opt='' ph=''
	if [[ $w == --?* ]]; then
		[[ $w != *=* && -n ${args[$w]-} ]] || return 1
		opt=$w
	elif [[ $w == -[!-]* ]]; then
		# A cluster of short options, "-qi": the last may take the next word,
		# unless one before it takes the rest of the word ("-ilo").
		for ((k = 1; k < ${#w}; k++)); do
			c=-${w:k:1}
			[[ -n ${args[$c]-} ]] || continue
			((k == ${#w} - 1)) || return 1
			opt=$c
		done
		[[ -n $opt ]] || return 1
	else
		return 1
	fi
	ph=${args[$opt]}
	opt=${long_of[$opt]-$opt}
	return 0
}

_tapedeck() {
	local IFS=$' \t\n' bin cur cword cmd i w opt ph pre
	local -a words cmds shorts longs
	local -A args long_of

	COMPREPLY=()
	_tapedeck_words
	_tapedeck_bin

	if ((cword == 1)); then
		case $cur in
		--*) _tapedeck_add "$cur" --help --version ;;
		-*) _tapedeck_add "$cur" -h -V --help --version ;;
		*)
			_tapedeck_commands "$bin"
			_tapedeck_add "$cur" "${cmds[@]}"
			;;
		esac
		return 0
	fi
	cmd=${words[1]}
	case $cmd in
	help)
		if ((cword == 2)); then
			_tapedeck_commands "$bin"
			for w in "${cmds[@]}"; do
				[[ $w != help ]] && _tapedeck_add "$cur" "$w"
			done
		fi
		return 0
		;;
	-*) return 0 ;;
	esac

	_tapedeck_options "$bin" "$cmd"
	((${#longs[@]} + ${#shorts[@]})) || return 0

	# Bash replaces only the part of cur after its last '=' or ':' (when
	# those break words); values are worked out for the whole of cur, and
	# that part is cut off them at the end.
	pre=
	if [[ $COMP_WORDBREAKS == *=* && $COMP_WORDBREAKS == *:* ]]; then
		[[ $cur =~ ^(.*[=:]) ]] && pre=${BASH_REMATCH[1]}
	elif [[ $COMP_WORDBREAKS == *=* ]]; then
		[[ $cur =~ ^(.*=) ]] && pre=${BASH_REMATCH[1]}
	elif [[ $COMP_WORDBREAKS == *:* ]]; then
		[[ $cur =~ ^(.*:) ]] && pre=${BASH_REMATCH[1]}
	fi

	# After "--", only operands.
	local dashdash=0
	for ((i = 2; i < cword; i++)); do
		[[ ${words[i]} == -- ]] && dashdash=1
	done

	if ((!dashdash && cword > 2)) && _tapedeck_takes_arg "${words[cword - 1]}"; then
		_tapedeck_value "$cmd" "$opt" "$ph" "$cur"
	elif ((!dashdash)) && [[ $cur == --*=* && -n ${args[${cur%%=*}]-} ]]; then
		opt=${cur%%=*}
		_tapedeck_value "$cmd" "$opt" "${args[$opt]}" "${cur#*=}"
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=$opt=${COMPREPLY[i]}
		done
	elif ((!dashdash)) && [[ $cur == --* ]]; then
		_tapedeck_add "$cur" "${longs[@]}"
	elif ((!dashdash)) && [[ $cur == -* ]]; then
		_tapedeck_add "$cur" "${shorts[@]}" "${longs[@]}"
	else
		# Operands: tapes, except for capture (a BPF filter).
		case $cmd in
		capture) ;;
		*) _tapedeck_files "$cur" "${_tapedeck_tape_exts[@]}" ;;
		esac
	fi

	if [[ -n $pre ]]; then
		for i in "${!COMPREPLY[@]}"; do
			w=${COMPREPLY[i]#"$pre"}
			if [[ -n $w ]]; then
				COMPREPLY[i]=$w
			else
				unset 'COMPREPLY[i]'
			fi
		done
		COMPREPLY=("${COMPREPLY[@]}")
	fi
	return 0
}

complete -F _tapedeck tapedeck
