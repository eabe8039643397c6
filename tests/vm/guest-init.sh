#!/bin/sh
# guest-init.sh — /init (PID 1) of the tcpstate-trace test initramfs, run by
# busybox sh inside the qemu guest. mkinitramfs.sh installs it as /init.
#
# It mounts the pseudo file systems, brings up lo, loads the kernel modules
# listed in /modules (if any), runs the command and powers the guest off.
#
# The command is the shell script /cmd (run-guest.sh appends it to the
# initramfs as a second cpio archive) or, failing that, the base64-encoded
# script in the kernel parameter tcpst.cmd=. It runs as `sh /cmd` in its own
# session, with stdin from /dev/null, cwd /, and stdout+stderr captured to a
# file. After it exits (or is killed at tcpst.timeout= seconds, default 600),
# the console gets, each marker on a line of its own:
#
#   <<<TCPST-READY NONCE>>> release=R         before the command starts
#   <<<TCPST-OUTPUT-BEGIN NONCE>>>
#   ...the command's stdout and stderr...
#   <<<TCPST-OUTPUT-END NONCE>>>
#   <<<TCPST-EXIT NONCE>>> status=N timeout=0|1
#
# NONCE is the kernel parameter tcpst.nonce= (run-guest.sh makes a random one)
# so that nothing the command prints can pass for a marker. The output is
# printed only after the command ends, with console printk muted, so kernel
# messages do not interleave with it (oopses and panics still reach the
# console: the kernel raises the log level for them).

# A symlink for every applet (an existing file of the same name is kept).
/bin/busybox --install -s

PATH=/bin:/sbin:/usr/bin:/usr/sbin
HOME=/root
TERM=dumb
export PATH HOME TERM

say() { echo "tcpst-init: $*"; }

mnt() { # TYPE DIR
	mkdir -p "$2"
	mount -t "$1" "$1" "$2" 2>/dev/null || say "warning: cannot mount $1 on $2"
}

halt_guest() {
	sync
	poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 5
	# Still here: PID 1 exiting panics the kernel, and panic=-1 with
	# qemu -no-reboot ends the guest too.
	exit 1
}

mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt devpts /dev/pts
mnt tmpfs /dev/shm
mnt tmpfs /run
mnt tmpfs /tmp
mnt debugfs /sys/kernel/debug
mnt tracefs /sys/kernel/tracing
mnt bpf /sys/fs/bpf
mnt cgroup2 /sys/fs/cgroup
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

nonce=none
timeout=600
cmd64=
shell=0
# Word splitting is wanted: the parameters are separated by spaces.
# shellcheck disable=SC2013
for arg in $(cat /proc/cmdline); do
	case $arg in
	tcpst.nonce=*) nonce=${arg#*=} ;;
	tcpst.timeout=*) timeout=${arg#*=} ;;
	tcpst.cmd=*) cmd64=${arg#*=} ;;
	tcpst.shell=*) shell=${arg#*=} ;;
	esac
done
case $timeout in '' | *[!0-9]*) timeout=600 ;; esac

hostname tcpst-guest 2>/dev/null
ip link set lo up || say "warning: cannot bring up lo"

# Modules, one path per line, in load order (dependencies first).
if [ -s /modules ]; then
	while read -r m; do
		[ -n "$m" ] || continue
		insmod "$m" || say "warning: insmod $m failed"
	done </modules
fi

# vmshell.sh: an interactive shell on the console instead of a command.
if [ "$shell" = 1 ]; then
	echo "tcpst-init: $(uname -r): interactive shell; 'exit' powers off"
	setsid cttyhack sh -l
	poweroff -f
fi

if [ ! -s /cmd ]; then
	if [ -n "$cmd64" ]; then
		echo "$cmd64" | base64 -d >/cmd 2>/dev/null || say "warning: tcpst.cmd= is not valid base64"
	fi
fi
if [ ! -s /cmd ]; then
	say "no command (neither /cmd nor tcpst.cmd=)"
	echo 'echo "tcpst-init: no command given" >&2; exit 127' >/cmd
fi

echo "<<<TCPST-READY $nonce>>> release=$(uname -r)"

rm -f /tmp/.tcpst.timedout
cd /
setsid sh /cmd </dev/null >/tmp/.tcpst.out 2>&1 &
pid=$!
(
	sleep "$timeout"
	: >/tmp/.tcpst.timedout
	kill -KILL -"$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
) &
watchdog=$!
wait "$pid"
status=$?
kill "$watchdog" 2>/dev/null
# Whatever the command left behind in its session goes too.
kill -KILL -"$pid" 2>/dev/null
timedout=0
[ -e /tmp/.tcpst.timedout ] && timedout=1

dmesg -n 1 2>/dev/null
echo "<<<TCPST-OUTPUT-BEGIN $nonce>>>"
cat /tmp/.tcpst.out
# Keep the end marker on a line of its own.
[ -s /tmp/.tcpst.out ] && [ "$(tail -c 1 /tmp/.tcpst.out | wc -l)" -eq 0 ] && echo
echo "<<<TCPST-OUTPUT-END $nonce>>>"
echo "<<<TCPST-EXIT $nonce>>> status=$status timeout=$timedout"
halt_guest
