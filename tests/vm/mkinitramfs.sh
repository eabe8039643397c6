#!/bin/bash
# mkinitramfs.sh — pack a busybox initramfs for the qemu test guests.
#
# Usage: tests/vm/mkinitramfs.sh [--allow-dynamic] [--kernel K --module NAME...]
#                                 OUT.cpio.gz FILE...
#
#   FILE           a file to include as /bin/<basename>, or SRC=/DEST to place
#                  it at /DEST (parent directories are created). Executables
#                  must be static: the image has no shared libraries; a
#                  dynamically linked ELF file is refused unless --allow-dynamic.
#                  Beware: busybox sh runs its own applet for a bare command
#                  name (ls, ip, ss, tc, nc, ...) even if /bin has a file of
#                  that name; call such files by path (a warning says so).
#   --module NAME  include kernel module NAME of kernel K (5.10, 6.1, ...;
#                  as cached by fetch-kernels.sh for $TCPSTATE_VM_ARCH, default
#                  amd64) and the modules it depends on,
#                  decompressed, under /lib/modules/; /init loads them in
#                  dependency order (the list is /modules). Repeatable.
#                  The image is then only good for kernel K.
#
# The image (gzip-compressed newc cpio, owned by root) holds the static
# busybox of the busybox-static package as /bin/busybox (for arm64 the one
# fetch-kernels.sh put in the cache; /init links every
# applet to it at boot), tests/vm/guest-init.sh as /init,
# /etc/{passwd,group,hosts}, /dev/console, and the given files. The command to run is not part of it:
# run-guest.sh appends /cmd as a second archive (see guest-init.sh).
#
# Exit status: 0 success, 1 failure, 2 bad usage.
set -euo pipefail

prog=mkinitramfs
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=arch.sh
. "$here/arch.sh"
if [[ $VM_ARCH == amd64 ]]; then
	BUSYBOX=${TCPSTATE_VM_BUSYBOX:-/bin/busybox}
else
	BUSYBOX=${TCPSTATE_VM_BUSYBOX:-$VM_KCACHE/busybox}
fi

die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

is_dynamic_elf() {
	[[ $(head -c 4 "$1" | od -An -c | tr -d ' ') == 177ELF ]] || return 1
	LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

# modules_tree — unpack the kernel's modules into the cache, once.
modules_tree() {
	local deb tmp d
	[[ -d $kdir/modules ]] && return 0
	[[ -n $(find "$kdir" -maxdepth 1 -name '*.deb') ]] ||
		die "no .deb for kernel $kernel in $kdir (run tests/vm/fetch-kernels.sh $kernel)"
	exec 8>"$kdir/.modules.lock"
	flock 8
	if [[ ! -d $kdir/modules ]]; then
		tmp=$(mktemp -d "$kdir/.modules.XXXXXX")
		# Bullseye and bookworm ship /lib/modules, trixie /usr/lib/modules;
		# from 7.x they are in linux-modules-R, one of several .debs.
		for deb in "$kdir"/*.deb; do
			dpkg-deb --fsys-tarfile "$deb" |
				tar -x -C "$tmp" --wildcards './lib/modules/*' './usr/lib/modules/*' 2>/dev/null || true
		done
		for d in "$tmp"/lib/modules/* "$tmp"/usr/lib/modules/*; do
			if [[ -d $d/kernel ]]; then mv "$d" "$kdir/modules"; break; fi
		done
		rm -rf "$tmp"
	fi
	exec 8>&-
	[[ -d $kdir/modules ]] || die "cannot unpack the modules of kernel $kernel from $deb"
}

# add_module NAME — queue NAME's dependencies, then NAME, for loading.
declare -A mod_seen=()
mod_order=()
add_module() {
	local name=${1//-/_} path dep deps plain
	[[ -n ${mod_seen[$name]:-} ]] && return 0
	mod_seen[$name]=1
	path=$(find "$kdir/modules" -type f \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) | head -n1)
	[[ -n $path ]] || die "module '$1' is not in kernel $kernel's package (built in, or no such module)"
	plain=$stage/lib/modules/$name.ko
	case $path in
	*.ko.xz) xz -dc "$path" >"$plain" ;;
	*.ko.zst) zstd -qdc "$path" >"$plain" ;;
	*.ko.gz) gzip -dc "$path" >"$plain" ;;
	*.ko) cp "$path" "$plain" ;;
	*) die "unknown module format: $path" ;;
	esac
	# The "depends=" entry of .modinfo, as modinfo -F depends prints it.
	deps=$(tr '\0' '\n' <"$plain" | sed -n 's/^depends=//p' | head -n1)
	for dep in ${deps//,/ }; do
		add_module "$dep"
	done
	mod_order+=("$name")
}

allow_dynamic=0
kernel=''
modules=()
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--allow-dynamic) allow_dynamic=1; shift ;;
	--kernel | --module)
		(($# >= 2)) || { echo "$prog: $1 needs an argument" >&2; exit 2; }
		if [[ $1 == --kernel ]]; then kernel=$2; else modules+=("$2"); fi
		shift 2
		;;
	--) shift; break ;;
	-*) echo "$prog: unknown option '$1' (try --help)" >&2; exit 2 ;;
	*) break ;;
	esac
done
(($# >= 1)) || { echo "usage: $prog [--allow-dynamic] [--kernel K --module NAME...] OUT.cpio.gz FILE..." >&2; exit 2; }
if ((${#modules[@]})) && [[ -z $kernel ]]; then
	echo "$prog: --module needs --kernel" >&2
	exit 2
fi
kdir=$VM_KCACHE/$kernel
out=$1
shift

for t in cpio gzip readelf; do
	command -v "$t" >/dev/null || die "'$t' not found (apt-get install cpio gzip binutils)"
done
[[ -x $BUSYBOX ]] || die "$BUSYBOX not found (amd64: apt-get install busybox-static; arm64: tests/vm/fetch-kernels.sh --arch arm64 fetches it)"
is_dynamic_elf "$BUSYBOX" && die "$BUSYBOX is dynamically linked (apt-get install busybox-static)"
[[ -r $here/guest-init.sh ]] || die "$here/guest-init.sh not found"

stage=$(mktemp -d "${TMPDIR:-/tmp}/tcpst-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# For the applet-name warning only; a foreign-architecture busybox cannot
# run here, so the host's (same Debian package) stands in for it.
applets=$({ "$BUSYBOX" --list 2>/dev/null || /bin/busybox --list 2>/dev/null || true; } | tr '\n' ' ')
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,lib/modules}
chmod 1777 "$stage/tmp"
cp "$BUSYBOX" "$stage/bin/busybox"
install -m 0755 "$here/guest-init.sh" "$stage/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$stage/etc/hosts"
# The kernel opens /dev/console before running /init; its built-in
# initramfs has one too, so not being root here is not fatal.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

for spec in "$@"; do
	src=$spec
	dest=/bin/$(basename "$spec")
	if [[ $spec == *=/* ]]; then
		src=${spec%=/*}
		dest=/${spec##*=/}
	fi
	[[ -f $src ]] || die "'$src' is not a file"
	[[ $dest != */ && $dest != /init ]] || die "bad destination '$dest' for '$src'"
	if [[ $allow_dynamic == 0 ]] && is_dynamic_elf "$src"; then
		die "'$src' is dynamically linked; the guest has no shared libraries (link with -static)"
	fi
	mkdir -p "$stage$(dirname "$dest")"
	cp -L "$src" "$stage$dest"
	# busybox sh runs its own applet for a bare command name, even when a
	# file of that name comes first in PATH.
	if [[ " $applets " == *" ${dest##*/} "* ]]; then
		echo "$prog: warning: '${dest##*/}' is also a busybox applet; in the guest's shell run it as $dest" >&2
	fi
done

if ((${#modules[@]})); then
	modules_tree
	for m in "${modules[@]}"; do add_module "$m"; done
	for m in "${mod_order[@]}"; do echo "/lib/modules/$m.ko"; done >"$stage/modules"
fi

# /init links the applets (busybox --install -s) when it starts: faster than
# 400 ln(1) here, and it leaves the given files alone.
[[ -e $stage/bin/sh ]] || ln -s busybox "$stage/bin/sh"

mkdir -p "$(dirname "$out")"
tmp_out=$out.tmp.$$
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -n -6 >"$tmp_out" || { rm -f "$tmp_out"; die "cannot write $out"; }
mv "$tmp_out" "$out"
