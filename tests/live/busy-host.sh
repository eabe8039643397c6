#!/bin/sh
# Run a command while this network namespace (the host's, for the live suite)
# is busy as issue 14 describes: TIME_WAIT sockets on every ephemeral port and
# a steady rate of connections besides (tests/scenario/busyhost.c). Stops the
# load after the command, kills the load's TIME_WAIT sockets, and exits with
# the command's status.
#   tests/live/busy-host.sh BUSYHOST [-r RATE] -- COMMAND...
# `make test-live-busy` runs the live suite this way.
set -u
busyhost=$1 rate=100
shift
[ "${1:-}" = -r ] && { rate=$2; shift 2; }
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "usage: busy-host.sh BUSYHOST [-r RATE] -- COMMAND..." >&2; exit 2; }

info=$(mktemp)
"$busyhost" "$rate" >"$info" &
load=$!

# The load's own ports: its TIME_WAIT sockets are the ones to these.
ports() { sed -n 's/.*"ports":\[\([0-9,]*\)\].*/\1/p' "$info" | tr , ' '; }

stop_load() {
	kill -TERM "$load" 2>/dev/null && wait "$load"
	filter=""
	for p in $(ports); do
		filter="${filter:+$filter or }dport = :$p"
	done
	[ -z "$filter" ] || ss -K -tan state time-wait "( $filter )" >/dev/null 2>&1
	rm -f "$info"
}
trap 'stop_load; exit 130' INT TERM

# The first fill pass takes a few seconds; its line says it is done.
for _ in $(seq 600); do
	[ -s "$info" ] && break
	kill -0 "$load" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$info" ]; then
	echo "busy-host: the load did not start" >&2
	stop_load
	exit 1
fi
echo "busy-host: $(cat "$info")"
"$@"
rc=$?
stop_load
exit $rc
