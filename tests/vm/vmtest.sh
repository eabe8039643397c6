#!/bin/bash
# vmtest.sh — run test commands on several Debian kernels under qemu (TCG)
# and print a kernels × modes matrix.
#
# Usage: tests/vm/vmtest.sh [OPTION...] --mode NAME=COMMAND [--mode NAME=COMMAND...]
#        tests/vm/vmtest.sh [OPTION...] NAME=COMMAND...
#
#   --mode NAME=COMMAND  a column of the matrix: COMMAND is a shell command
#                        line (busybox sh -c) run in one guest per kernel.
#                        NAME is [A-Za-z0-9_.-]+. A bare NAME=COMMAND argument
#                        means the same.
#   --bin PATH           put PATH into every guest as /bin/<basename>; repeatable
#   --file SRC=/DEST     put SRC into every guest at /DEST; repeatable
#   --module NAME        load kernel module NAME in every guest; repeatable
#   --kernels "K..."     kernels to test (default: $KERNELS, else
#                        "5.10 6.1 6.12 6.18 7.3")
#   --arch ARCH          the guests' architecture: amd64 (default:
#                        $TCPSTATE_VM_ARCH, else amd64) or arm64
#   --jobs N             guests running at once (default: the number of CPUs)
#   --smp N              CPUs per guest (default 1)
#   --timeout SECS       per-command timeout (default 300)
#   --retries N          run a failed cell up to N more times, alone; a
#                        pass then shows as "pass*" (default 1; 0 for loops
#                        that must count every failure)
#   --logdir DIR         where logs and outputs go (default: a new directory
#                        in ${TMPDIR:-/tmp}); per cell: K.NAME.log (console),
#                        K.NAME.out (command output), K.NAME.result
#   -h, --help
#
# Each cell is one run-guest.sh run. It is
#   pass          the command exited 0 and the kernel logged no splat
#   FAIL          the command failed or timed out, or the kernel logged a
#                 splat, or the guest died or hung during the command
#   unsupported   the command exited 77; the reason is its last output line
#   INFRA-FAIL    the kernel could not be fetched, the initramfs not built,
#                 or the guest did not boot (twice)
#
# Example:
#   KERNELS="5.10 6.12" tests/vm/vmtest.sh --bin build/vm/selftest \
#       --mode plain=selftest --mode kprobes='selftest --require-kprobes'
#
# Exit status: 0 when every cell passed or is unsupported, 1 when a cell
# failed, 3 when none failed but one had an infrastructure failure, 2 for
# bad usage.
#
# Under TCG on 2 host CPUs, 2 guests with 1 CPU each at once finish a matrix
# sooner than 1 guest with 2 CPUs at a time (see tests/vm/README.md).
set -euo pipefail

prog=vmtest
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=arch.sh
. "$here/arch.sh"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
bad_usage() { printf '%s: %s (try --help)\n' "$prog" "$*" >&2; exit 2; }

kernels=${KERNELS:-5.10 6.1 6.12 6.18 7.3}
jobs=$(nproc 2>/dev/null || echo 2)
smp=1
timeout=300
retries=1
logdir=''
files=() modules=() mode_names=() mode_cmds=()

add_mode() {
	local name=${1%%=*} cmd=${1#*=}
	[[ $1 == *=* && $name =~ ^[A-Za-z0-9_.-]+$ && -n $cmd ]] || bad_usage "bad mode '$1' (want NAME=COMMAND)"
	local n
	for n in "${mode_names[@]}"; do
		[[ $n != "$name" ]] || bad_usage "mode '$name' given twice"
	done
	mode_names+=("$name")
	mode_cmds+=("$cmd")
}

while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--mode | --bin | --file | --module | --kernels | --arch | --jobs | --smp | --timeout | --retries | --logdir)
		(($# >= 2)) || bad_usage "$1 needs an argument"
		case $1 in
		--arch) vm_arch "$2" || bad_usage "bad --arch '$2' (amd64 or arm64)" ;;
		--mode) add_mode "$2" ;;
		--bin) files+=("$2") ;;
		--file)
			[[ $2 == *=/* ]] || bad_usage "--file wants SRC=/DEST, not '$2'"
			files+=("$2")
			;;
		--module) modules+=("$2") ;;
		--kernels) kernels=$2 ;;
		--jobs) jobs=$2 ;;
		--smp) smp=$2 ;;
		--timeout) timeout=$2 ;;
		--retries) retries=$2 ;;
		--logdir) logdir=$2 ;;
		esac
		shift 2
		;;
	-*) bad_usage "unknown option '$1'" ;;
	*=*) add_mode "$1"; shift ;;
	*) bad_usage "unexpected argument '$1'" ;;
	esac
done
((${#mode_names[@]})) || bad_usage "no modes given"
read -r -a klist <<<"$kernels"
((${#klist[@]})) || bad_usage "no kernels given"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --jobs '$jobs'"
[[ $smp =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --smp '$smp'"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --timeout '$timeout'"
[[ $retries =~ ^[0-9]+$ ]] || bad_usage "bad --retries '$retries'"
for f in "${files[@]}"; do
	[[ -f ${f%=/*} ]] || bad_usage "no such file '${f%=/*}'"
done

# The scripts below read the architecture from here.
export TCPSTATE_VM_ARCH=$VM_ARCH

if [[ -z $logdir ]]; then
	logdir=$(mktemp -d "${TMPDIR:-/tmp}/tcpst-vmtest-$(date +%Y%m%d-%H%M%S).XXXXXX")
else
	mkdir -p "$logdir"
fi
logdir=$(cd "$logdir" && pwd)

start_s=$(date +%s.%N)
declare -A verdict=() reason=() initrd=() row_infra=() row_log=() elapsed=()

# Kernels and initramfs images; a failure here fails the kernel's row.
for k in "${klist[@]}"; do
	if ! "$here/fetch-kernels.sh" "$k" >"$logdir/$k.fetch" 2>&1; then
		row_infra[$k]=$(tail -n1 "$logdir/$k.fetch")
		row_log[$k]=$logdir/$k.fetch
		continue
	fi
	mkargs=()
	if ((${#modules[@]})); then
		mkargs=(--kernel "$k")
		for m in "${modules[@]}"; do mkargs+=(--module "$m"); done
		img=$logdir/initramfs-$k.cpio.gz
	else
		# Without modules one image serves every kernel.
		img=$logdir/initramfs.cpio.gz
	fi
	if [[ ! -s $img ]] && ! "$here/mkinitramfs.sh" "${mkargs[@]}" "$img" "${files[@]}" 2>"$logdir/$k.mkinitramfs"; then
		rm -f "$img"
		row_infra[$k]=$(tail -n1 "$logdir/$k.mkinitramfs")
		row_log[$k]=$logdir/$k.mkinitramfs
		continue
	fi
	if [[ -s $logdir/$k.mkinitramfs ]]; then cat "$logdir/$k.mkinitramfs" >&2; fi
	initrd[$k]=$img
done

for k in "${klist[@]}"; do
	if [[ -n ${row_infra[$k]:-} ]]; then
		echo "$prog: $k: INFRA-FAIL: ${row_infra[$k]}" >&2
		for m in "${mode_names[@]}"; do
			verdict[$k.$m]=infra
			reason[$k.$m]=${row_infra[$k]}
		done
	fi
done

# record K M — read the cell's result file into the tables and say so.
record() {
	local k=$1 m=$2 key val v r t
	v=infra r="no result (run-guest.sh crashed? see $logdir/$k.$m.err)" t='?'
	if [[ -s $logdir/$k.$m.result ]]; then
		while IFS='=' read -r key val; do
			case $key in
			verdict) v=$val ;;
			reason) r=$val ;;
			total_s) t=$val ;;
			esac
		done <"$logdir/$k.$m.result"
	fi
	verdict[$k.$m]=$v
	reason[$k.$m]=$r
	elapsed[$k.$m]=$t
	printf '%s: %-6s %-16s %s%s (%ss)\n' "$prog" "$k" "$m" "$(word "$v")" "${r:+: $r}" "$t" >&2
}

word() {
	case $1 in
	pass) echo pass ;;
	fail) echo FAIL ;;
	unsupported) echo unsupported ;;
	*) echo INFRA-FAIL ;;
	esac
}

declare -A running=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local pid
	for pid in "${!running[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait for one running guest and record its cell.
reap_one() {
	local done_pid='' rk rmode
	wait -n -p done_pid "${!running[@]}" || true
	[[ -n $done_pid ]] || return 0
	read -r rk rmode <<<"${running[$done_pid]}"
	record "$rk" "$rmode"
	unset "running[$done_pid]"
}

# One cell: kernel $1, mode number $2.
run_cell() {
	local k=$1 i=$2 m=${mode_names[$2]}

	"$here/run-guest.sh" --kernel "$k" --initrd "${initrd[$k]}" --smp "$smp" \
		--timeout "$timeout" --log "$logdir/$k.$m.log" --output "$logdir/$k.$m.out" \
		--result "$logdir/$k.$m.result" --quiet -- sh -c "${mode_cmds[$i]}" \
		>/dev/null 2>"$logdir/$k.$m.err"
}

# Run the cells, at most $jobs at once.
for k in "${klist[@]}"; do
	[[ -z ${row_infra[$k]:-} ]] || continue
	for i in "${!mode_names[@]}"; do
		m=${mode_names[$i]}
		while ((${#running[@]} >= jobs)); do
			reap_one
		done
		run_cell "$k" "$i" &
		running[$!]="$k $m"
	done
done
while ((${#running[@]})); do
	reap_one
done

# A failed cell runs again, alone, up to --retries times. A pass then is
# reported as such ("pass*", the first run's failure listed below the
# matrix), not hidden: timing-sensitive tests on an emulated CPU fail now
# and then, a defect that is not rare fails again.
declare -A first_fail=()
for k in "${klist[@]}"; do
	for i in "${!mode_names[@]}"; do
		m=${mode_names[$i]}
		for ((try = 0; try < retries; try++)); do
			[[ ${verdict[$k.$m]:-} == fail ]] || break
			if [[ -z ${first_fail[$k.$m]+x} ]]; then
				first_fail[$k.$m]=${reason[$k.$m]:-}
				for f in log out result err; do
					[[ ! -f $logdir/$k.$m.$f ]] ||
						mv "$logdir/$k.$m.$f" "$logdir/$k.$m.first.$f"
				done
			fi
			echo "$prog: $k $m failed; running it again" >&2
			run_cell "$k" "$i" || true
			record "$k" "$m"
		done
	done
done
trap - EXIT

wall=$(awk -v a="$start_s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# The matrix: kernels down, modes across.
cell() {
	local v=${verdict[$1]:-infra} r=${reason[$1]:-}
	case $v in
	unsupported)
		((${#r} > 40)) && r=${r:0:37}...
		echo "unsupported($r)"
		;;
	pass) [[ -z ${first_fail[$1]+x} ]] && echo pass || echo 'pass*' ;;
	*) word "$v" ;;
	esac
}
declare -A width=()
kw=6
for k in "${klist[@]}"; do ((${#k} > kw)) && kw=${#k}; done
for m in "${mode_names[@]}"; do
	w=${#m}
	for k in "${klist[@]}"; do
		c=$(cell "$k.$m")
		((${#c} > w)) && w=${#c}
	done
	width[$m]=$w
done
echo
printf '%-*s' "$kw" kernel
for m in "${mode_names[@]}"; do printf '  %-*s' "${width[$m]}" "$m"; done
echo
for k in "${klist[@]}"; do
	printf '%-*s' "$kw" "$k"
	for m in "${mode_names[@]}"; do printf '  %-*s' "${width[$m]}" "$(cell "$k.$m")"; done
	echo
done
echo

nfail=0 ninfra=0 nretried=0
for k in "${klist[@]}"; do
	for m in "${mode_names[@]}"; do
		if [[ -n ${first_fail[$k.$m]+x} ]]; then
			nretried=$((nretried + 1))
			echo "$k $m: failed, then $(word "${verdict[$k.$m]:-infra}") on a later run; the first: ${first_fail[$k.$m]} (log: $logdir/$k.$m.first.log)"
			grep -E '^(not ok|#)' "$logdir/$k.$m.first.out" 2>/dev/null | head -n 60 |
				sed 's/^/    | /' || true
		fi
		case ${verdict[$k.$m]:-infra} in
		fail) nfail=$((nfail + 1)) ;;
		infra) ninfra=$((ninfra + 1)) ;;
		*) continue ;;
		esac
		echo "$k $m: $(word "${verdict[$k.$m]:-infra}"): ${reason[$k.$m]:-} (log: ${row_log[$k]:-$logdir/$k.$m.log})"
		# What the command said about its failure (TAP), so a CI log
		# that keeps only this output still tells what failed.
		if [[ -f $logdir/$k.$m.out ]]; then
			grep -E '^(not ok|#)' "$logdir/$k.$m.out" | head -n 60 | sed 's/^/    | /' || true
		fi
	done
done
((nfail + ninfra + nretried)) && echo
# Guest time (boot + command) per kernel, as run-guest.sh measured it.
times=''
for k in "${klist[@]}"; do
	times+=" $k $(for m in "${mode_names[@]}"; do echo "${elapsed[$k.$m]:-0}"; done |
		awk '$1 ~ /^[0-9.]+$/ { s += $1; if ($1 > x) x = $1 } END { printf "%.1fs (max %.1fs);", s, x }')"
done
echo "guest time per kernel:${times%;}"
echo "$((${#klist[@]} * ${#mode_names[@]})) cells, $nfail failed, $ninfra infrastructure failures, $nretried run again; wall time ${wall}s ($VM_ARCH, jobs $jobs, smp $smp); logs: $logdir"

((nfail == 0)) || exit 1
((ninfra == 0)) || exit 3
exit 0
