#!/bin/bash
# run-guest.sh — boot a Debian kernel under qemu (TCG) and run one command in it.
#
# Usage: tests/vm/run-guest.sh --kernel K [OPTION...] -- CMD [ARG...]
#
#   --kernel K          kernel to boot: 5.10, 6.1, 6.12, 6.18, 7.2, 7.3
#                       (fetched by fetch-kernels.sh if missing)
#   --arch ARCH         amd64 (default: $TCPSTATE_VM_ARCH, else amd64) or arm64
#                       (qemu-system-aarch64 -M virt, console ttyAMA0)
#   --bin PATH          put the static executable (or any file) PATH into the
#                       guest as /bin/<basename>; repeatable
#   --file SRC=/DEST    put SRC into the guest at /DEST; repeatable
#   --module NAME       load kernel module NAME (and what it depends on, from
#                       the kernel's own package) before the command; repeatable
#   --initrd FILE       use this initramfs (from mkinitramfs.sh) instead of
#                       building one; --bin/--file/--module are then refused
#   --timeout SECS      the command is killed after SECS seconds (default 300)
#   --boot-timeout SECS a boot that has not reached /init after SECS seconds is
#                       retried once, then reported as an infrastructure
#                       failure (default 120)
#   --smp N             guest CPUs (default 2)
#   --mem SIZE          guest memory (default 1G)
#   --append ARGS       extra kernel command line parameters
#   --bzimage           boot the bzImage (vmlinuz) even when the decompressed
#                       vmlinux is cached (by default qemu boots vmlinux
#                       through its PVH entry, which skips the decompression)
#   --log FILE          keep the serial console log in FILE (default: a file
#                       in ${TMPDIR:-/tmp}, kept only when the run failed)
#   --output FILE       also write the command's output to FILE
#   --result FILE       write the outcome as key=value lines to FILE:
#                       verdict=pass|fail|unsupported|infra, status=, reason=,
#                       boot_s=, total_s=, log=, attempts=
#   -q, --quiet         do not copy the command's output to stdout
#
# CMD runs as `exec CMD ARG...` under busybox sh in the guest (each argument
# is quoted; use `-- sh -c 'a && b'` for shell syntax), as root, in /, with
# stdout and stderr merged. The guest has busybox (with every applet), the
# given files, /proc, /sys, /dev, debugfs, tracefs at /sys/kernel/tracing,
# bpffs at /sys/fs/bpf, cgroup2 at /sys/fs/cgroup, and lo up with 127.0.0.1
# and ::1. See guest-init.sh for the guest side.
#
# The command's output goes to stdout, then one result line to stderr:
#   run-guest: 6.1: PASS (status 0; boot 2.1s, total 3.4s)
#
# Exit status:
#   0   pass: the command exited 0 and the kernel log shows no splat
#   1   fail: the command failed or timed out, or the kernel logged a splat
#       (WARNING:, BUG:, Oops, RCU stall, hung task, panic, ...), or the guest
#       died or hung while the command ran
#   77  unsupported: the command exited 77 (the reason is its last output line)
#       and the kernel log is clean
#   2   bad usage
#   3   infrastructure failure: no kernel, no qemu, initramfs not built, or
#       the guest failed to boot twice (log path in the result line)
#
# Environment: TCPSTATE_VM_CACHE (kernel cache, see fetch-kernels.sh),
# QEMU (default qemu-system-x86_64, for arm64 qemu-system-aarch64),
# TCPSTATE_VM_CPU (arm64 only: qemu's -cpu, default cortex-a57).
set -euo pipefail

prog=run-guest
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=arch.sh
. "$here/arch.sh"

EX_PASS=0 EX_FAIL=1 EX_USAGE=2 EX_INFRA=3 EX_UNSUPPORTED=77

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
bad_usage() { printf '%s: %s (try --help)\n' "$prog" "$*" >&2; exit "$EX_USAGE"; }

kernel='' timeout=300 boot_timeout=120 smp=2 mem=1G append='' log='' output='' result='' quiet=0 initrd='' bzimage=0
bins=() mods=()
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--kernel | --arch | --bin | --file | --module | --initrd | --timeout | --boot-timeout | --smp | --mem | --append | --log | --output | --result)
		(($# >= 2)) || bad_usage "$1 needs an argument"
		case $1 in
		--kernel) kernel=$2 ;;
		--arch)
			vm_arch "$2" || bad_usage "bad --arch '$2' (amd64 or arm64)"
			export TCPSTATE_VM_ARCH=$VM_ARCH
			;;
		--bin) bins+=("$2") ;;
		--file)
			[[ $2 == *=/* ]] || bad_usage "--file wants SRC=/DEST, not '$2'"
			bins+=("$2")
			;;
		--module) mods+=("$2") ;;
		--initrd) initrd=$2 ;;
		--timeout) timeout=$2 ;;
		--boot-timeout) boot_timeout=$2 ;;
		--smp) smp=$2 ;;
		--mem) mem=$2 ;;
		--append) append=$2 ;;
		--log) log=$2 ;;
		--output) output=$2 ;;
		--result) result=$2 ;;
		esac
		shift 2
		;;
	-q | --quiet) quiet=1; shift ;;
	--bzimage) bzimage=1; shift ;;
	--) shift; break ;;
	*) bad_usage "unexpected argument '$1'" ;;
	esac
done
(($#)) || bad_usage "no command given after --"
[[ -n $kernel ]] || bad_usage "--kernel is required"
[[ $kernel =~ ^[0-9]+\.[0-9]+$ ]] || bad_usage "bad --kernel '$kernel'"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --timeout '$timeout'"
[[ $boot_timeout =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --boot-timeout '$boot_timeout'"
[[ $smp =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --smp '$smp'"
if [[ -n $initrd ]] && ((${#bins[@]} + ${#mods[@]})); then
	bad_usage "--initrd cannot be combined with --bin/--file/--module"
fi
for f in "${bins[@]}"; do
	[[ -f ${f%=/*} ]] || bad_usage "no such file '${f%=/*}'"
done

keep_log=1
if [[ -z $log ]]; then
	log=${TMPDIR:-/tmp}/tcpst-vm-$kernel-$(date +%Y%m%d-%H%M%S)-$$.log
	keep_log=0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/tcpst-vm.XXXXXX")
qemu_pid=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

# finish VERDICT STATUS REASON — print the result line, write --result, exit.
boot_ms=0 total_ms=0 attempts=0
finish() {
	local verdict=$1 status=$2 reason=$3 code word
	case $verdict in
	pass) code=$EX_PASS word=PASS ;;
	fail) code=$EX_FAIL word=FAIL ;;
	unsupported) code=$EX_UNSUPPORTED word=UNSUPPORTED ;;
	*) code=$EX_INFRA word=INFRA-FAIL ;;
	esac
	if [[ $verdict == pass || $verdict == unsupported ]] && [[ $keep_log == 0 ]]; then
		rm -f "$log" "$log".attempt*
	fi
	local line="$prog: $kernel: $word"
	[[ -n $reason ]] && line+=": $reason"
	line+=" (status ${status:-none}; boot $(secs "$boot_ms")s, total $(secs "$total_ms")s)"
	if [[ -e $log ]] && [[ $verdict != pass ]]; then line+=" log: $log"; fi
	echo "$line" >&2
	if [[ -n $result ]]; then
		{
			echo "verdict=$verdict"
			echo "status=$status"
			echo "reason=$(printf '%s' "$reason" | tr '\n' ' ')"
			echo "boot_s=$(secs "$boot_ms")"
			echo "total_s=$(secs "$total_ms")"
			echo "log=$([[ -e $log ]] && echo "$log")"
			echo "attempts=$attempts"
		} >"$result"
	fi
	exit "$code"
}
infra() { finish infra "" "$*"; }

command -v "$VM_QEMU" >/dev/null || infra "$VM_QEMU not found (scripts/install-deps installs it; for arm64 with --arm64)"
command -v cpio >/dev/null || infra "cpio not found (apt-get install cpio)"

# The kernel.
kdir=$VM_KCACHE/$kernel
if [[ ! -s $kdir/vmlinuz ]]; then
	"$here/fetch-kernels.sh" "$kernel" >&2 || infra "kernel $kernel is not cached and fetching it failed"
fi
[[ -s $kdir/vmlinuz ]] || infra "no kernel image $kdir/vmlinuz"
kimage=$(vm_kimage "$kernel" "$bzimage")
vm_qemu_machine

if [[ -z $initrd ]]; then
	mkargs=(--kernel "$kernel")
	for m in "${mods[@]}"; do mkargs+=(--module "$m"); done
	if ! "$here/mkinitramfs.sh" "${mkargs[@]}" "$work/base.cpio.gz" "${bins[@]}" 2>"$work/mkinitramfs.err"; then
		infra "$(tail -n1 "$work/mkinitramfs.err")"
	fi
	cat "$work/mkinitramfs.err" >&2
	initrd=$work/base.cpio.gz
fi
[[ -r $initrd ]] || infra "cannot read initramfs $initrd"

# The command: a script appended to the initramfs as a second, uncompressed
# cpio archive. The kernel wants each archive to start 4-byte aligned.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(quote "$a")"; done
	printf '\n'
} >"$work/cmd"
(cd "$work" && echo cmd | cpio -o -H newc -R 0:0 --quiet) >"$work/cmd.cpio" ||
	infra "cannot pack the command"
size=$(stat -c %s "$initrd")
{
	cat "$initrd"
	head -c $(((4 - size % 4) % 4)) /dev/zero
	cat "$work/cmd.cpio"
} >"$work/run.cpio"

mkdir -p "$(dirname "$log")"
rm -f "$log" "$log".attempt*

# Kernel messages that mean the kernel under test is unhealthy: headlines
# first; a bare "Call Trace:" (e.g. a backtrace dump) is reported with the
# line before it.
splat_re='WARNING:|BUG:|BUG kmalloc|kernel BUG at|Oops|general protection fault|Kernel panic|'
splat_re+='rcu_sched detected stall|rcu_preempt detected stall|detected stalls on CPU|rcu: INFO|INFO: rcu_|'
splat_re+='blocked for more than|soft lockup|hard LOCKUP|double fault|'
splat_re+='unable to handle (kernel|page fault)|invalid opcode:|stack segment:|UBSAN:|KASAN:|KFENCE:|'
splat_re+='list_add corruption|list_del corruption|refcount_t:|workqueue lockup|Unable to handle kernel'

# find_splat — print the first splat in the kernel lines, without timestamp.
find_splat() {
	local lines
	lines=$(kernel_lines | sed 's/^\[ *[0-9]*\.[0-9]*\] //')
	grep -m1 -E "$splat_re" <<<"$lines" && return 0
	# The headline is above the CPU/Hardware/register lines of the dump.
	awk '
		/Call Trace:/ {
			for (i = NR - 1; i > 0 && i > NR - 40; i--)
				if (line[i] !~ /^(CPU: |Hardware name:|Modules linked in:|Workqueue:|Tainted:|Code:|PKRU:|[A-Z][A-Z0-9]*: |[ \t])/)
					break
			print "Call Trace: (after: " (i > 0 ? line[i] : "?") ")"
			found = 1
			exit
		}
		{ line[NR] = $0 }
		END { exit !found }' <<<"$lines"
}

# boot_once — run qemu once. Sets state to one of: done (exit marker seen),
# died (guest ended after /init started, no exit marker), hung (killed at the
# command deadline), noboot (guest ended or hung before /init).
state='' nonce='' qemu_rc=0
boot_once() {
	local start ready_ms=0 deadline
	qemu_rc=0
	nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	# The guest watchdog fires at $timeout; allow time to print the output.
	local cmd_deadline_ms=$(((timeout + 60) * 1000))
	start=$(now_ms)
	"$VM_QEMU" "${VM_MACHINE[@]}" -m "$mem" -smp "$smp" \
		-nographic -no-reboot -net none \
		-kernel "$kimage" -initrd "$work/run.cpio" \
		-append "console=$VM_CONSOLE panic=-1 tcpst.nonce=$nonce tcpst.timeout=$timeout $append" \
		</dev/null >"$log" 2>&1 &
	qemu_pid=$!
	deadline=$((start + boot_timeout * 1000))
	while :; do
		sleep 0.1
		local alive=1 t
		kill -0 "$qemu_pid" 2>/dev/null || alive=0
		t=$(now_ms)
		if ((ready_ms == 0)) && grep -qF "<<<TCPST-READY $nonce>>>" "$log"; then
			ready_ms=$t
			boot_ms=$((t - start))
			deadline=$((t + cmd_deadline_ms))
		fi
		if ((!alive)); then
			qemu_rc=0
			wait "$qemu_pid" || qemu_rc=$?
			qemu_pid=
			break
		fi
		if ((t > deadline)); then
			kill "$qemu_pid" 2>/dev/null || true
			wait "$qemu_pid" || true
			qemu_pid=
			break
		fi
	done
	total_ms=$(($(now_ms) - start))
	if grep -qF "<<<TCPST-EXIT $nonce>>>" "$log"; then
		state=exited
	elif grep -qF "<<<TCPST-READY $nonce>>>" "$log"; then
		if ((!alive)); then state=died; else state=hung; fi
	else
		boot_ms=$total_ms
		state=noboot
	fi
}

# Lines of the log outside the command's output, with \r stripped.
kernel_lines() {
	awk -v b="<<<TCPST-OUTPUT-BEGIN $nonce>>>" -v e="<<<TCPST-OUTPUT-END $nonce>>>" '
		{ sub(/\r$/, "") }
		index($0, b) { inside = 1; next }
		index($0, e) { inside = 0; next }
		!inside { print }' "$log"
}

# boot_failure — why the guest did not boot, if the log says.
boot_failure() {
	if ((qemu_rc != 0)) && ! grep -q 'Linux version' "$log"; then
		local msg
		msg=$(grep -m1 'qemu-system' "$log" || grep -v '^[[:space:]]*$' "$log" | tail -n1 || true)
		echo "qemu exited with status $qemu_rc: $msg"
		return
	fi
	find_splat || true
}

for attempts in 1 2; do
	boot_once
	[[ $state == noboot ]] || break
	if ((attempts == 1)); then
		why=$(boot_failure)
		echo "$prog: $kernel: boot failed${why:+ ($why)}; retrying (log: $log.attempt1)" >&2
		mv "$log" "$log.attempt1"
	fi
done

if [[ $state == noboot ]]; then
	why=$(boot_failure)
	if ((total_ms >= boot_timeout * 1000)); then
		infra "guest did not reach /init within ${boot_timeout}s, twice${why:+ ($why)}"
	fi
	infra "guest ended before reaching /init, twice${why:+ ($why)}"
fi

# The command's output.
awk -v b="<<<TCPST-OUTPUT-BEGIN $nonce>>>" -v e="<<<TCPST-OUTPUT-END $nonce>>>" '
	{ sub(/\r$/, "") }
	index($0, e) { exit }
	inside { print }
	index($0, b) { inside = 1 }' "$log" >"$work/output"
[[ -n $output ]] && cp "$work/output" "$output"
((quiet)) || cat "$work/output"

status='' timedout=0
if [[ $state == exited ]]; then
	exitline=$(tr -d '\r' <"$log" | grep -F "<<<TCPST-EXIT $nonce>>>" | tail -n1)
	status=$(sed -n 's/.* status=\([0-9]*\).*/\1/p' <<<"$exitline")
	[[ $exitline == *" timeout=1"* ]] && timedout=1
fi

splat=$(find_splat || true)
if [[ -n $splat ]]; then
	finish fail "$status" "kernel splat: $splat"
fi
case $state in
died) finish fail "" "guest died while the command ran" ;;
hung) finish fail "" "guest hung: no exit marker $((timeout + 60))s after /init started" ;;
esac
if ((timedout)); then
	finish fail "$status" "command timed out after ${timeout}s"
fi
case $status in
0) finish pass 0 "" ;;
77)
	reason=$(grep -v '^[[:space:]]*$' "$work/output" | tail -n1 || true)
	finish unsupported 77 "${reason:-no reason given}"
	;;
'') finish fail "" "no exit status in the guest log" ;;
*) finish fail "$status" "command exited with status $status" ;;
esac
