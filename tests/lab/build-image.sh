#!/usr/bin/env bash
# Build (or reuse) the kernel lab image: a small Debian bookworm root filesystem
# with the stock kernel and the leaky test module, as an ext4 image that QEMU boots.
#
# Usage: tests/lab/build-image.sh    (as root)
# Output: ${KLEAK_LAB_CACHE:-$HOME/.cache/kleak-runbook/lab}/<hash>/ holding
#   rootfs.img  vmlinuz  initrd.img  id_ed25519[.pub]  leaky.ko  kernel-release  build.log
# where <hash> covers every build input; a directory with `.complete` is reused as is.
# The last line of stdout is that directory.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${KLEAK_LAB_CACHE:-$HOME/.cache/kleak-runbook/lab}"
suite=bookworm
image_size=3G
# What the image runs; gcc and headers are only in it while the module builds.
packages=(linux-image-amd64 initramfs-tools openssh-server python3 kmod procps iproute2
          systemd-sysv udev dbus sudo)
build_packages=(gcc make libc6-dev)

log() { printf '[build-image %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

inputs_hash() {
    {
        cat "$here/build-image.sh" "$here/leaky.c" "$here/Kbuild" "$here/Makefile"
        printf '%s\n' "$suite" "$image_size" "${packages[@]}" "${build_packages[@]}"
    } | sha256sum | cut -c1-16
}

out="$cache_root/$(inputs_hash)"
if [[ -f "$out/.complete" ]]; then
    log "reusing $out"
    echo "$out"
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    echo "build-image.sh: must run as root (debootstrap, chroot, file ownership in the image)" >&2
    exit 2
fi

start=$SECONDS

host_deps=(qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client)
missing=()
for p in "${host_deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing host packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The mirror the machine's apt already uses (deb822 sources, then one-line sources).
mirror="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
if [[ -z "$mirror" ]]; then
    mirror="$(awk '$1 == "deb" && $0 ~ /debian/ && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

mkdir -p "$out"
work="$out/tree"
rm -rf "$work" "$out/.complete"
exec 3>"$out/build.log"
trap 'echo "build-image.sh failed; end of $out/build.log:" >&2; tail -n 40 "$out/build.log" >&2' ERR

in_tree() { chroot "$work" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

log "debootstrap $suite from $mirror (log: $out/build.log)"
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
    "$suite" "$work" "$mirror" >&3 2>&3

# No service may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$work/usr/sbin/policy-rc.d"
chmod +x "$work/usr/sbin/policy-rc.d"

kver="$(ls "$work/lib/modules")"
[[ $(wc -w <<<"$kver") -eq 1 ]] || { echo "expected one kernel in the image, got: $kver" >&2; exit 1; }
log "kernel $kver; building leaky.ko against its headers"

in_tree apt-get update -qq >&3 2>&3
in_tree apt-get install -y -q --no-install-recommends "linux-headers-$kver" "${build_packages[@]}" >&3 2>&3
mkdir -p "$work/root/leaky-build"
cp "$here/leaky.c" "$here/Kbuild" "$here/Makefile" "$work/root/leaky-build/"
in_tree make -C /root/leaky-build KVER="$kver" >&3 2>&3
install -D -m 0644 "$work/root/leaky-build/leaky.ko" "$work/lib/modules/$kver/extra/leaky.ko"
cp "$work/root/leaky-build/leaky.ko" "$work/root/leaky.ko"
cp "$work/root/leaky-build/leaky.ko" "$out/leaky.ko"
rm -rf "$work/root/leaky-build"
in_tree depmod "$kver"
log "removing the toolchain and headers from the image"
in_tree apt-get purge -y -q --autoremove "linux-headers-$kver" "${build_packages[@]}" >&3 2>&3
in_tree apt-get clean
rm -rf "$work"/var/lib/apt/lists/* "$work"/usr/share/doc/* "$work"/usr/share/man/* \
    "$work"/usr/share/locale/* "$work"/var/cache/debconf/*-old "$work"/var/log/*.log

log "configuring users, ssh, network"
echo kleak-lab > "$work/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tkleak-lab\n' > "$work/etc/hosts"
printf '/dev/vda\t/\text4\tdefaults\t0\t0\n' > "$work/etc/fstab"

rm -f "$out/id_ed25519" "$out/id_ed25519.pub"
ssh-keygen -q -t ed25519 -N '' -C "kleak-lab-$(basename "$out")" -f "$out/id_ed25519"
in_tree useradd --create-home --shell /bin/bash kleak
# '*' (no password, not locked) so that sshd accepts the key for this user.
in_tree usermod --password '*' kleak
for home in root home/kleak; do
    install -d -m 0700 "$work/$home/.ssh"
    install -m 0600 "$out/id_ed25519.pub" "$work/$home/.ssh/authorized_keys"
done
in_tree chown -R kleak:kleak /home/kleak/.ssh
printf 'kleak ALL=(ALL) NOPASSWD: ALL\n' > "$work/etc/sudoers.d/kleak"
chmod 0440 "$work/etc/sudoers.d/kleak"
# Reverse DNS through QEMU's user network is slow; don't wait for it.
printf 'UseDNS no\n' > "$work/etc/ssh/sshd_config.d/kleak-lab.conf"

cat > "$work/etc/systemd/network/20-en.network" <<'EOF'
[Match]
Name=en*

[Network]
DHCP=yes
EOF
in_tree systemctl enable systemd-networkd.service >&3 2>&3
in_tree systemctl mask systemd-networkd-wait-online.service >&3 2>&3
in_tree systemctl enable serial-getty@ttyS0.service >&3 2>&3 || true
rm -f "$work/usr/sbin/policy-rc.d"

cp "$work/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$work/boot/initrd.img-$kver" "$out/initrd.img"
echo "$kver" > "$out/kernel-release"

log "mkfs.ext4 -d (image $image_size)"
rm -f "$out/rootfs.img"
mkfs.ext4 -q -L kleak-lab -d "$work" "$out/rootfs.img" "$image_size" >&3 2>&3
rm -rf "$work"

elapsed=$((SECONDS - start))
printf 'cold build: %d s; image: %s apparent, %s on disk\n' "$elapsed" \
    "$(du -h --apparent-size "$out/rootfs.img" | cut -f1)" "$(du -h "$out/rootfs.img" | cut -f1)" \
    | tee "$out/build-time" >&2
touch "$out/.complete"
echo "$out"
