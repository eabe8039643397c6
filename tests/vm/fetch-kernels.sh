#!/bin/bash
# fetch-kernels.sh — download Debian cloud kernels for the qemu test matrix.
#
# Usage: tests/vm/fetch-kernels.sh [--force] [--arch amd64|arm64] [KERNEL...]
#
#   KERNEL   5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie),
#            6.18 (trixie-backports), 7.2 (sid), 7.3 (trixie-backports);
#            default: 5.10 6.1 6.12 6.18 7.3.
#   --force  re-resolve and re-download even when the kernel is cached.
#   --arch   the kernels' architecture (default: $TCPSTATE_VM_ARCH, else amd64).
#
# For each kernel the suite's metapackage linux-image-cloud-ARCH is resolved
# to its concrete image package (e.g. linux-image-6.1.0-37-cloud-amd64) when
# that is the wanted kernel; otherwise (6.18: trixie-backports has moved on
# to 7.x) the newest linux-image-K.*-cloud-ARCH of the suite is taken. The
# package is fetched with `apt-get download` and unpacked into the cache.
# Up to 6.x the image package holds /boot/vmlinuz-R and the modules. From
# 7.x (and 6.19) linux-image-R is an empty package depending on
# linux-binary-R (/usr/lib/modules/R/vmlinuz) and linux-modules-R (the
# modules): those are fetched too.
#
#   $DIR/vmlinuz   the kernel image (x86: bzImage; arm64: Image, gzip'ed)
#   $DIR/vmlinux   x86 only: the same kernel, decompressed (ELF with a PVH
#                  entry note: qemu boots it directly, 0.3-1.5 s sooner)
#   $DIR/config    its build config (for reference), when packaged
#   $DIR/*.deb     the packages it came from (mkinitramfs.sh takes modules
#                  from them)
#   $DIR/version   "<package> <deb-version> <uname -r>"
#
# DIR is $TCPSTATE_VM_CACHE/<kernel> for amd64 and
# $TCPSTATE_VM_CACHE/arm64/<kernel> for arm64, whose guests also need an
# arm64 busybox: busybox-static of the same suite goes to
# $TCPSTATE_VM_CACHE/arm64/busybox. TCPSTATE_VM_CACHE defaults to
# /var/cache/tcpstate-trace/vm.
#
# Every suite is read through a private sources list and a private lists
# directory under $TCPSTATE_VM_CACHE/apt/<suite>[-arm64]/, so the machine's
# apt state is never modified. The archive URI is taken from the machine's own
# apt configuration (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and
# *.sources): the first Debian entry that is not a security suite. If a
# security entry exists too, <suite>-security is added from its URI for the
# suites that have one (set TCPSTATE_VM_SECURITY=0 to use the point-release
# kernel only). Override the URIs with TCPSTATE_VM_MIRROR /
# TCPSTATE_VM_SECURITY_MIRROR.
#
# Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.
set -euo pipefail

prog=fetch-kernels
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=arch.sh
. "$here/arch.sh"
ALL_KERNELS=(5.10 6.1 6.12 6.18 7.2 7.3)
DEFAULT_KERNELS=(5.10 6.1 6.12 6.18 7.3)

die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

suite_of() {
	case $1 in
	5.10) echo bullseye ;;
	6.1) echo bookworm ;;
	6.12) echo trixie ;;
	# sid has only 7.x now; trixie-backports still carries 6.18 images.
	6.18) echo trixie-backports ;;
	7.2) echo sid ;;
	7.3) echo trixie-backports ;;
	*) return 1 ;;
	esac
}

# Backports and sid get no security suite.
has_security() { [[ $1 == bullseye || $1 == bookworm || $1 == trixie ]]; }

# Print "URI<TAB>SUITE<TAB>SIGNED-BY" for every deb entry in the apt config.
apt_entries() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -r $f ]] || continue
		awk '
		/^[ \t]*deb[ \t]/ {
			sub(/#.*/, "")
			signed = ""; i = 2
			if ($2 ~ /^\[/) {
				for (; i <= NF; i++) {
					if ($i ~ /signed-by=/) { s = $i; sub(/.*signed-by=/, "", s); sub(/\]$/, "", s); signed = s }
					if ($i ~ /\]$/) { i++; break }
				}
			}
			print $i "\t" $(i + 1) "\t" signed
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		awk '
		function flush(   n, m, u, s, a, b, j, k) {
			if (types ~ /(^| )deb( |$)/ && enabled != "no") {
				n = split(uris, a, " "); m = split(suites, b, " ")
				for (j = 1; j <= n; j++) for (k = 1; k <= m; k++) print a[j] "\t" b[k] "\t" signed
			}
			types = uris = suites = signed = enabled = ""
		}
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		{
			key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[ \t]+/, "")
			if (key == "types") types = $0
			else if (key == "uris") uris = $0
			else if (key == "suites") suites = $0
			else if (key == "signed-by") signed = $0
			else if (key == "enabled") enabled = tolower($0)
		}
		END { flush() }' "$f"
	done
}

# The archive URI: the first entry that looks like the Debian archive.
main_mirror() {
	if [[ -n ${TCPSTATE_VM_MIRROR:-} ]]; then echo "$TCPSTATE_VM_MIRROR"; return; fi
	apt_entries | awk -F'\t' '
		$2 !~ /security|\/updates$/ && $1 ~ /debian\/?$|debian\/[0-9TZ]+\/?$/ { print $1 "\t" $3; exit }'
}

security_mirror() {
	if [[ -n ${TCPSTATE_VM_SECURITY_MIRROR:-} ]]; then echo "$TCPSTATE_VM_SECURITY_MIRROR"; return; fi
	apt_entries | awk -F'\t' '$2 ~ /-security$/ { print $1 "\t" $3; exit }'
}

# apt-get/apt-cache with a private configuration for one suite.
apt_private() {
	local dir=$1; shift
	local tool=$1; shift
	"$tool" -q \
		-o Dir::Etc::SourceList="$dir/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$dir/lists" \
		-o Dir::Cache::pkgcache= \
		-o Dir::Cache::srcpkgcache= \
		-o APT::Get::List-Cleanup=0 \
		-o APT::Architecture="$VM_ARCH" -o APT::Architectures="$VM_ARCH" \
		"$@"
}

# extract_vmlinux BZIMAGE OUT — decompress the ELF kernel inside a bzImage.
# The payload is found by its compression magic; a decompressor may complain
# about the bytes that follow the payload, so only the result is checked.
extract_vmlinux() {
	local img=$1 out=$2 magic tool off
	for magic in '\x28\xb5\x2f\xfd:zstd -dcq' '\x02\x21\x4c\x18:lz4 -dcq' \
		'\xfd\x37\x7a\x58\x5a\x00:xz -dcq' '\x1f\x8b\x08:gzip -dcq'; do
		tool=${magic#*:}
		command -v "${tool%% *}" >/dev/null || continue
		while read -r off; do
			# shellcheck disable=SC2086 # tool holds a command and its options
			tail -c +$((off + 1)) "$img" | $tool >"$out.tmp" 2>/dev/null || true
			if [[ $(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] &&
				LC_ALL=C readelf -nW "$out.tmp" 2>/dev/null | grep -q 'Xen.*0x00000012'; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done < <(LC_ALL=C grep -obUaP "${magic%%:*}" "$img" | cut -d: -f1 | head -n 8)
	done
	rm -f "$out.tmp"
	return 1
}

# image_package KERNEL — the suite's image package for KERNEL: the
# metapackage's when it is that kernel, else the newest of that version.
image_package() {
	local kernel=$1 pkg
	pkg=$(apt_private "$aptdir" apt-cache depends --important "$meta" 2>/dev/null |
		awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
	if [[ $pkg == linux-image-${kernel}[.-]* ]]; then echo "$pkg"; return; fi
	apt_private "$aptdir" apt-cache pkgnames "linux-image-$kernel." 2>/dev/null |
		grep -E "^linux-image-${kernel//./\\.}[.-][0-9].*-cloud-$VM_ARCH\$" | sort -V | tail -n1
}

# download DIR PKG=VER... — apt-get download into DIR.
download() {
	local into=$1; shift
	if ! (cd "$into" && apt_private "$aptdir" apt-get download "$@") >"$into/download.log" 2>&1; then
		cp "$into/download.log" "$aptdir/download.log" 2>/dev/null || true
		die "$kernel: apt-get download $* failed: $(grep -m1 -E '^(W|E): ' "$into/download.log" || tail -n1 "$into/download.log")"
	fi
}

fetch_one() {
	local kernel=$1 suite dir aptdir tmp meta pkg ver deb rel img
	suite=$(suite_of "$kernel") || die "unknown kernel '$kernel' (known: ${ALL_KERNELS[*]})"
	dir=$VM_KCACHE/$kernel
	if [[ $force == 0 && -s $dir/vmlinuz && -s $dir/version ]]; then
		if [[ $VM_ARCH == amd64 && ! -s $dir/vmlinux && ! -e $dir/vmlinux.none ]]; then
			extract_vmlinux "$dir/vmlinuz" "$dir/vmlinux" || : >"$dir/vmlinux.none"
		fi
		echo "$prog: $kernel: cached ($(cat "$dir/version"))"
		return 0
	fi

	local mirror signed sec_mirror sec_signed opts line
	line=$(main_mirror) || true
	[[ -n $line ]] || die "no Debian archive entry found in /etc/apt/sources.list{,.d}; set TCPSTATE_VM_MIRROR"
	IFS=$'\t' read -r mirror signed <<<"$line"
	aptdir=$CACHE/apt/$suite
	[[ $VM_ARCH == amd64 ]] || aptdir+=-$VM_ARCH
	mkdir -p "$aptdir/lists/partial" || die "cannot create $aptdir"
	opts=""
	[[ -n ${signed:-} ]] && opts="[signed-by=$signed] "
	{
		echo "# written by tests/vm/fetch-kernels.sh"
		echo "deb ${opts}$mirror $suite main"
		if [[ ${TCPSTATE_VM_SECURITY:-1} != 0 ]] && has_security "$suite"; then
			line=$(security_mirror) || true
			if [[ -n $line ]]; then
				IFS=$'\t' read -r sec_mirror sec_signed <<<"$line"
				opts=""
				[[ -n ${sec_signed:-} ]] && opts="[signed-by=$sec_signed] "
				echo "deb ${opts}$sec_mirror $suite-security main"
			fi
		fi
	} >"$aptdir/sources.list"

	meta=linux-image-cloud-$VM_ARCH
	if ! apt_private "$aptdir" apt-get update >"$aptdir/update.log" 2>&1 ||
		grep -qE '^(W|E): ' "$aptdir/update.log"; then
		# A warning such as a missing Release file leaves stale or no lists.
		if ! apt_private "$aptdir" apt-cache policy "$meta" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
			die "$kernel: apt-get update for $suite failed: $(grep -m1 -E '^(W|E): ' "$aptdir/update.log" || tail -n1 "$aptdir/update.log") (log: $aptdir/update.log)"
		fi
	fi

	pkg=$(image_package "$kernel")
	[[ -n $pkg ]] || die "$kernel: no linux-image-$kernel.*-cloud-$VM_ARCH in $suite"
	local policy origin
	policy=$(apt_private "$aptdir" apt-cache policy "$pkg" 2>/dev/null) || true
	ver=$(awk '$1 == "Candidate:" { print $2 }' <<<"$policy")
	[[ -n $ver && $ver != "(none)" ]] || die "$kernel: no candidate version for $pkg in $suite"
	# The line after the candidate in the version table names its archive.
	origin=$(awk -v v="$ver" 'hit { print $2 " " $3; exit } ($1 == v || ($1 == "***" && $2 == v)) { hit = 1 }' <<<"$policy")

	tmp=$(mktemp -d "$CACHE/.fetch-$kernel.XXXXXX") || die "cannot create a temporary directory in $CACHE"
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	# apt drops to the _apt user for downloads; let it write here.
	if id _apt >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then chown _apt "$tmp"; fi
	# The 7.x split: the kernel and the modules are in packages of their
	# own, of the same version, that the image package depends on.
	local parts=("$pkg=$ver") dep
	for dep in $(apt_private "$aptdir" apt-cache depends --important "$pkg=$ver" 2>/dev/null |
		awk '$1 ~ /Depends:$/ && $2 ~ /^linux-(binary|modules)-[0-9]/ { print $2 }'); do
		parts+=("$dep=$ver")
	done
	download "$tmp" "${parts[@]}"
	[[ -n $(find "$tmp" -maxdepth 1 -name '*.deb') ]] || die "$kernel: apt-get download produced no .deb"

	mkdir -p "$tmp/x"
	for deb in "$tmp"/*.deb; do
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards \
			'./boot/vmlinuz-*' './boot/config-*' './usr/lib/modules/*/vmlinuz' 2>/dev/null || true
	done
	img=$(find "$tmp/x/boot" "$tmp/x/usr/lib/modules" -name 'vmlinuz*' 2>/dev/null | head -n1) || true
	[[ -n $img ]] || die "$kernel: none of ${parts[*]} contains /boot/vmlinuz-* or /usr/lib/modules/*/vmlinuz"
	case $img in
	*/boot/vmlinuz-*) rel=${img##*/vmlinuz-} ;;
	*) rel=${img%/vmlinuz}; rel=${rel##*/} ;;
	esac

	mkdir -p "$dir.new"
	rm -rf "${dir:?}.new/"*
	mv "$img" "$dir.new/vmlinuz"
	if [[ $VM_ARCH == amd64 ]]; then
		extract_vmlinux "$dir.new/vmlinuz" "$dir.new/vmlinux" || : >"$dir.new/vmlinux.none"
	fi
	if [[ -f $tmp/x/boot/config-$rel ]]; then mv "$tmp/x/boot/config-$rel" "$dir.new/config"; fi
	mv "$tmp"/*.deb "$dir.new/"
	echo "$pkg $ver $rel" >"$dir.new/version"
	rm -rf "$dir"
	mv "$dir.new" "$dir"
	if [[ $VM_ARCH != amd64 && ! -x $VM_KCACHE/busybox ]]; then
		fetch_busybox "$tmp"
	fi
	rm -rf "$tmp"
	trap - EXIT
	echo "$prog: $kernel: fetched ${parts[*]%%=*} $ver ($rel) from ${origin:-$mirror $suite}"
}

# fetch_busybox TMP — the guests' busybox for a foreign architecture, from the
# suite just read (the host's busybox-static is the host's architecture).
fetch_busybox() {
	local tmp=$1
	mkdir -p "$tmp/bb"
	download "$tmp" busybox-static
	dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb" || die "cannot unpack busybox-static"
	local bb
	for bb in "$tmp/bb/bin/busybox" "$tmp/bb/usr/bin/busybox" ''; do
		[[ ! -x $bb ]] || break
	done
	[[ -n $bb ]] || die "busybox-static has no /bin/busybox or /usr/bin/busybox"
	mv "$bb" "$VM_KCACHE/busybox"
	echo "$prog: $VM_ARCH busybox: fetched $(basename "$tmp"/busybox-static_*.deb)"
}

force=0
kernels=()
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--force) force=1 ;;
	--arch)
		if (($# < 2)) || ! vm_arch "$2"; then echo "$prog: --arch wants amd64 or arm64" >&2; exit 2; fi
		shift
		;;
	-*) echo "$prog: unknown option '$1' (try --help)" >&2; exit 2 ;;
	*)
		suite_of "$1" >/dev/null || { echo "$prog: unknown kernel '$1' (known: ${ALL_KERNELS[*]})" >&2; exit 2; }
		kernels+=("$1")
		;;
	esac
	shift
done
((${#kernels[@]})) || kernels=("${DEFAULT_KERNELS[@]}")

for t in apt-get apt-cache dpkg-deb tar flock; do
	command -v "$t" >/dev/null || die "'$t' not found"
done
mkdir -p "$CACHE" "$VM_KCACHE" 2>/dev/null || die "cannot create cache directory $CACHE (set TCPSTATE_VM_CACHE)"
[[ -w $CACHE ]] || die "cache directory $CACHE is not writable (set TCPSTATE_VM_CACHE)"

# One fetcher at a time per cache (parallel vmtest runs share it).
exec 9>"$CACHE/.fetch.lock"
flock 9 || die "cannot lock $CACHE/.fetch.lock"

for k in "${kernels[@]}"; do
	fetch_one "$k"
done
