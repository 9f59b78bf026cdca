#!/usr/bin/env bash
# agent-base.sh assembles the node agent's base image root filesystem from
# Debian packages: glibc only (gantry-device-plugin is a cgo binary whose
# go-nvml binding dlopens libnvidia-ml.so.1, which the NVIDIA container
# runtime mounts into the container at run time). No registry is pulled:
# the packages come from the host's apt sources with `apt-get download`
# and are unpacked with dpkg-deb.
#
#   hack/agent-base.sh OUTDIR
#
# writes OUTDIR/rootfs and OUTDIR/packages.tsv (name, version,
# architecture, distribution: what the image's SBOM lists). Downloaded
# .deb files are kept in OUTDIR/debs and reused.
set -euo pipefail
out="${1:?usage: hack/agent-base.sh OUTDIR}"
packages=(libc6)

mkdir -p "$out/debs"
distro="$(. /etc/os-release && echo "${ID:-debian}")"
for p in "${packages[@]}"; do
	if ! compgen -G "$out/debs/${p}_*.deb" >/dev/null; then
		(cd "$out/debs" && apt-get download -q "$p")
	fi
done

rootfs="$out/rootfs"
rm -rf "$rootfs" "$out/packages.tsv"
mkdir -p "$rootfs"
printf '# name\tversion\tarchitecture\tdistribution\n' >"$out/packages.tsv.tmp"
for p in "${packages[@]}"; do
	deb="$(ls "$out/debs/${p}"_*.deb | sort | tail -n 1)"
	dpkg-deb -x "$deb" "$rootfs"
	printf '%s\t%s\t%s\t%s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" \
		"$(dpkg-deb -f "$deb" Architecture)" "$distro" >>"$out/packages.tsv.tmp"
done

# Nothing in the agent reads translations, manuals or character-set
# converters; the packages' copyright files stay.
rm -rf "$rootfs"/usr/share/{man,info,lintian,locale} "$rootfs"/usr/lib/*/gconv
find "$rootfs/usr/share/doc" -type f ! -name copyright -delete 2>/dev/null || true

mkdir -p "$rootfs/etc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
mv "$out/packages.tsv.tmp" "$out/packages.tsv"
