#!/usr/bin/env bash
# vmshell.sh — boot a Debian kernel under qemu (TCG) with an interactive shell
# on the console, for debugging what a vmtest cell did.
#
# Usage: tests/vm/vmshell.sh --kernel K [--arch ARCH] [--bin PATH]... [--smp N] [--mem SIZE]
#
#   --kernel K    kernel to boot, as run-guest.sh takes it (fetched if missing)
#   --arch ARCH   amd64 (default: $TCPSTATE_VM_ARCH, else amd64) or arm64
#   --bin PATH    put the static executable PATH into the guest as /bin/<basename>
#   --smp N       guest CPUs (default 2)
#   --mem SIZE    guest memory (default 1G)
#
# The guest is the one run-guest.sh boots (guest-init.sh, with tcpst.shell=1).
# 'exit' in the shell powers the guest off; Ctrl-A X quits qemu at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=arch.sh
. "$here/arch.sh"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
bad_usage() { printf 'vmshell: %s (try --help)\n' "$*" >&2; exit 2; }

kernel='' smp=2 mem=1G
bins=()
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--kernel) kernel=${2:-}; shift 2 || bad_usage "--kernel needs a value" ;;
	--arch)
		vm_arch "${2:-}" || bad_usage "--arch wants amd64 or arm64"
		export TCPSTATE_VM_ARCH=$VM_ARCH
		shift 2
		;;
	--bin) bins+=("${2:-}"); shift 2 || bad_usage "--bin needs a value" ;;
	--smp) smp=${2:-}; shift 2 || bad_usage "--smp needs a value" ;;
	--mem) mem=${2:-}; shift 2 || bad_usage "--mem needs a value" ;;
	*) bad_usage "unknown argument '$1'" ;;
	esac
done
[[ -n $kernel ]] || bad_usage "--kernel is required"

"$here/fetch-kernels.sh" "$kernel" >&2
kimage=$(vm_kimage "$kernel")
vm_qemu_machine
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/mkinitramfs.sh" "$work/initrd.cpio.gz" "${bins[@]}"
"$VM_QEMU" "${VM_MACHINE[@]}" -m "$mem" -smp "$smp" -nographic -no-reboot \
	-kernel "$kimage" -initrd "$work/initrd.cpio.gz" \
	-append "console=$VM_CONSOLE panic=-1 tcpst.shell=1"
