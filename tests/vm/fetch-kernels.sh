#!/bin/bash
# fetch-kernels.sh — download Debian cloud kernels for the qemu test matrix.
#
# Usage: tests/vm/fetch-kernels.sh [--force] [KERNEL...]
#
#   KERNEL   5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie); default: all three.
#   --force  re-resolve and re-download even when the kernel is cached.
#
# For each kernel the metapackage linux-image-cloud-amd64 of that suite is
# resolved to its concrete image package (e.g. linux-image-6.1.0-37-cloud-amd64),
# which is fetched with `apt-get download` and unpacked into the cache:
#
#   $TCPSTATE_VM_CACHE/<kernel>/vmlinuz   the kernel image (bzImage)
#   $TCPSTATE_VM_CACHE/<kernel>/vmlinux   the same kernel, decompressed (ELF
#                                         with a PVH entry note: qemu boots
#                                         it directly, 0.3-1.5 s sooner)
#   $TCPSTATE_VM_CACHE/<kernel>/config    its build config (for reference)
#   $TCPSTATE_VM_CACHE/<kernel>/*.deb     the package it came from
#   $TCPSTATE_VM_CACHE/<kernel>/version   "<package> <deb-version> <uname -r>"
#
# TCPSTATE_VM_CACHE defaults to /var/cache/tcpstate-trace/vm.
#
# Every suite is read through a private sources list and a private lists
# directory under $TCPSTATE_VM_CACHE/apt/<suite>/, so the machine's apt state
# is never modified. The archive URI is taken from the machine's own apt
# configuration (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and
# *.sources): the first Debian entry that is not a security suite. If a
# security entry exists too, <suite>-security is added from its URI (set
# TCPSTATE_VM_SECURITY=0 to use the point-release kernel only). Override the
# URIs with TCPSTATE_VM_MIRROR / TCPSTATE_VM_SECURITY_MIRROR.
#
# Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.
set -euo pipefail

prog=fetch-kernels
CACHE=${TCPSTATE_VM_CACHE:-/var/cache/tcpstate-trace/vm}
ALL_KERNELS=(5.10 6.1 6.12)

die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

suite_of() {
	case $1 in
	5.10) echo bullseye ;;
	6.1) echo bookworm ;;
	6.12) echo trixie ;;
	*) return 1 ;;
	esac
}

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

fetch_one() {
	local kernel=$1 suite dir aptdir tmp meta pkg ver deb rel img
	suite=$(suite_of "$kernel") || die "unknown kernel '$kernel' (known: ${ALL_KERNELS[*]})"
	dir=$CACHE/$kernel
	if [[ $force == 0 && -s $dir/vmlinuz && -s $dir/version ]]; then
		if [[ ! -s $dir/vmlinux && ! -e $dir/vmlinux.none ]]; then
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
	mkdir -p "$aptdir/lists/partial" || die "cannot create $aptdir"
	opts=""
	[[ -n ${signed:-} ]] && opts="[signed-by=$signed] "
	{
		echo "# written by tests/vm/fetch-kernels.sh"
		echo "deb ${opts}$mirror $suite main"
		if [[ ${TCPSTATE_VM_SECURITY:-1} != 0 ]]; then
			line=$(security_mirror) || true
			if [[ -n $line ]]; then
				IFS=$'\t' read -r sec_mirror sec_signed <<<"$line"
				opts=""
				[[ -n ${sec_signed:-} ]] && opts="[signed-by=$sec_signed] "
				echo "deb ${opts}$sec_mirror $suite-security main"
			fi
		fi
	} >"$aptdir/sources.list"

	if ! apt_private "$aptdir" apt-get update >"$aptdir/update.log" 2>&1 ||
		grep -qE '^(W|E): ' "$aptdir/update.log"; then
		# A warning such as a missing Release file leaves stale or no lists.
		if ! apt_private "$aptdir" apt-cache policy linux-image-cloud-amd64 2>/dev/null | grep -q 'Candidate: [0-9]'; then
			die "$kernel: apt-get update for $suite failed: $(grep -m1 -E '^(W|E): ' "$aptdir/update.log" || tail -n1 "$aptdir/update.log") (log: $aptdir/update.log)"
		fi
	fi

	meta=linux-image-cloud-amd64
	pkg=$(apt_private "$aptdir" apt-cache depends --important "$meta" 2>/dev/null |
		awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
	[[ -n $pkg ]] || die "$kernel: cannot resolve $meta in $suite to an image package"
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
	if ! (cd "$tmp" && apt_private "$aptdir" apt-get download "$pkg=$ver") >"$tmp/download.log" 2>&1; then
		cp "$tmp/download.log" "$aptdir/download.log" 2>/dev/null || true
		die "$kernel: apt-get download $pkg=$ver failed: $(grep -m1 -E '^(W|E): ' "$tmp/download.log" || tail -n1 "$tmp/download.log")"
	fi
	deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n1)
	[[ -n $deb ]] || die "$kernel: apt-get download produced no .deb"

	mkdir -p "$tmp/x"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards './boot/*' 2>/dev/null ||
		die "$kernel: cannot unpack /boot from $(basename "$deb")"
	img=$(find "$tmp/x/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
	[[ -n $img ]] || die "$kernel: $(basename "$deb") contains no /boot/vmlinuz-*"
	rel=${img##*/vmlinuz-}

	mkdir -p "$dir.new"
	rm -rf "${dir:?}.new/"*
	mv "$img" "$dir.new/vmlinuz"
	extract_vmlinux "$dir.new/vmlinuz" "$dir.new/vmlinux" || : >"$dir.new/vmlinux.none"
	if [[ -f $tmp/x/boot/config-$rel ]]; then mv "$tmp/x/boot/config-$rel" "$dir.new/config"; fi
	mv "$deb" "$dir.new/"
	echo "$pkg $ver $rel" >"$dir.new/version"
	rm -rf "$dir"
	mv "$dir.new" "$dir"
	rm -rf "$tmp"
	trap - EXIT
	echo "$prog: $kernel: fetched $pkg $ver ($rel) from ${origin:-$mirror $suite}"
}

force=0
kernels=()
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--force) force=1 ;;
	-*) echo "$prog: unknown option '$1' (try --help)" >&2; exit 2 ;;
	*)
		suite_of "$1" >/dev/null || { echo "$prog: unknown kernel '$1' (known: ${ALL_KERNELS[*]})" >&2; exit 2; }
		kernels+=("$1")
		;;
	esac
	shift
done
((${#kernels[@]})) || kernels=("${ALL_KERNELS[@]}")

for t in apt-get apt-cache dpkg-deb tar flock; do
	command -v "$t" >/dev/null || die "'$t' not found"
done
mkdir -p "$CACHE" 2>/dev/null || die "cannot create cache directory $CACHE (set TCPSTATE_VM_CACHE)"
[[ -w $CACHE ]] || die "cache directory $CACHE is not writable (set TCPSTATE_VM_CACHE)"

# One fetcher at a time per cache (parallel vmtest runs share it).
exec 9>"$CACHE/.fetch.lock"
flock 9 || die "cannot lock $CACHE/.fetch.lock"

for k in "${kernels[@]}"; do
	fetch_one "$k"
done
