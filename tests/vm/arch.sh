# arch.sh — sourced by the tests/vm scripts: which architecture the guests are,
# and where that architecture's kernels are cached.
#
# TCPSTATE_VM_ARCH (or the scripts' --arch) is amd64 (default) or arm64.
# amd64 kernels are cached in $CACHE/<kernel>/ (as before arm64 existed),
# arm64 ones in $CACHE/arm64/<kernel>/.
# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this

CACHE=${TCPSTATE_VM_CACHE:-/var/cache/tcpstate-trace/vm}

# vm_arch ARCH — check ARCH and set VM_ARCH, VM_QEMU (qemu binary) and
# VM_KCACHE (where its kernels are cached).
vm_arch() {
	case $1 in
	amd64 | x86 | x86_64) VM_ARCH=amd64 VM_KCACHE=$CACHE VM_QEMU=${QEMU:-qemu-system-x86_64} ;;
	arm64 | aarch64) VM_ARCH=arm64 VM_KCACHE=$CACHE/arm64 VM_QEMU=${QEMU:-qemu-system-aarch64} ;;
	*) return 1 ;;
	esac
}
vm_arch "${TCPSTATE_VM_ARCH:-amd64}" || { echo "unknown TCPSTATE_VM_ARCH '${TCPSTATE_VM_ARCH}' (amd64 or arm64)" >&2; exit 2; }

# vm_qemu_machine — the qemu options for the machine: every guest is TCG
# (/dev/kvm does not work here). x86: -cpu qemu64, as -cpu max double-faulted
# now and then on 6.12. arm64: the virt board with a Cortex-A57, whose
# TCG emulation is cheaper than -cpu max's (pointer authentication, SVE).
# Sets VM_MACHINE (array) and VM_CONSOLE.
vm_qemu_machine() {
	case $VM_ARCH in
	amd64) VM_MACHINE=(-accel tcg -cpu qemu64) VM_CONSOLE=ttyS0 ;;
	arm64) VM_MACHINE=(-accel tcg -M virt -cpu "${TCPSTATE_VM_CPU:-cortex-a57}") VM_CONSOLE=ttyAMA0 ;;
	esac
}

# vm_kimage K [BZIMAGE] — the kernel file qemu boots for kernel K: on x86 the
# decompressed vmlinux (PVH entry, skips the in-guest decompression) unless
# BZIMAGE is 1 or there is none; elsewhere vmlinuz.
vm_kimage() {
	local kdir=$VM_KCACHE/$1
	if [[ $VM_ARCH == amd64 && ${2:-0} == 0 && -s $kdir/vmlinux ]]; then
		echo "$kdir/vmlinux"
	else
		echo "$kdir/vmlinuz"
	fi
}
