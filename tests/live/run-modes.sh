#!/bin/sh
# Run the live suite once per attach mode on this machine's kernel and print
# the host's row of the kernel matrix (the VM rows come from tests/vm).
#   tests/live/run-modes.sh LIVETEST TRACER SCENARIO_DIR MODE...
# MODE is one of: fentry kprobe tracepoint tp-classic (see mode_args).
# A mode the kernel cannot do is "unsupported" (livetest exits 77), not a
# failure. Exit 1 if any mode failed.
set -u
livetest=$1 tracer=$2 scenarios=$3
shift 3

mode_args() {
	case $1 in
	fentry) echo "--attach fentry" ;;
	kprobe) echo "--attach kprobe" ;;
	tracepoint) echo "--attach tracepoint" ;;
	tp-classic) echo "--state-hook tracepoint --attach tracepoint" ;;
	*) echo "run-modes: unknown mode $1" >&2; exit 2 ;;
	esac
}

row="" failed=0
for mode in "$@"; do
	args=$(mode_args "$mode") || exit 2
	echo "live tests, mode $mode ($args)"
	out=$(mktemp)
	# shellcheck disable=SC2086
	"$livetest" --tracer "$tracer" --scenarios "$scenarios" -- $args >"$out" 2>&1
	rc=$?
	cat "$out"
	case $rc in
	0) cell=pass ;;
	77) cell="unsupported ($(tail -n 1 "$out" | sed 's/^unsupported: //'))" ;;
	*) cell=FAIL; failed=1 ;;
	esac
	rm -f "$out"
	row="$row
  $mode: $cell"
done
echo "host $(uname -r):$row"
[ "$failed" -eq 0 ]
