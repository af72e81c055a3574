#!/usr/bin/env bash
# Builds the Debian 12 guest image of `npm run test:vm` (shared/reference/vm-boot.md):
# debootstrap minbase + apt in a chroot, ext4 root file system in a sparse raw file, the kernel
# and initrd beside it for direct kernel boot. The harness caches the result under a directory
# named by the hash of this file, so any change here rebuilds the image.
#
#   test/vm/build-image.sh OUT_DIR     writes OUT_DIR/{rootfs.img,vmlinuz,initrd.img}
#
# The image stands for a stock Debian 12 cloud image, plus test tooling:
# - stock: kernel (cloud flavour), cloud-init 22.4 (NoCloud, then None), ifupdown, openssh-server,
#   dbus (ACPI power button), the usual apt sources pointing at deb.debian.org, which the guest
#   cannot reach: whatever the seed installs must come through the library's repository override;
# - test tooling: qemu-guest-agent (the harness runs commands through virtio-serial, the guests'
#   firewalls stay as generated; its helpers are Python, no socat or MariaDB client: the library
#   must install what its nodes use), a NIC named
#   `testnet0` by MAC 52:54:00:99:00:01 with 10.0.2.15/24 and no gateway (qemu user networking:
#   the local apt repository at 10.0.2.100, forwarded ports), apt's daily timers masked (no lock
#   held against cloud-init's package installation), dpkg's force-unsafe-io.
set -euo pipefail
out=${1:?usage: build-image.sh OUT_DIR}
mirror=${VM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${VM_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
size=${VM_IMAGE_SIZE:-4G}
PACKAGES=(
  linux-image-cloud-amd64 systemd-sysv udev kmod ifupdown iproute2 netbase
  cloud-init python3 curl ca-certificates e2fsprogs dbus openssh-server sudo locales
  qemu-guest-agent
)

work=$(mktemp -d "${out%/}.build.XXXXXX")
root="$work/root"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
echo 'locales locales/default_environment_locale select en_US.UTF-8' >"$work/debconf"
echo 'locales locales/locales_to_be_generated multiselect en_US.UTF-8 UTF-8' >>"$work/debconf"
cp "$work/debconf" "$root/tmp/debconf"

# Inside a private mount namespace: the chroot's /proc, /sys and /dev go away with it.
unshare -m --propagation private sh -ec '
  root="$1"; shift
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C
  unset PYTHONDONTWRITEBYTECODE  # the packages byte-compile their Python modules as on a real install
  chroot "$root" debconf-set-selections /tmp/debconf
  chroot "$root" apt-get update -q
  chroot "$root" apt-get install -y -q --no-install-recommends "$@"
  chroot "$root" apt-get upgrade -y -q
  chroot "$root" apt-get clean
' _ "$root" "${PACKAGES[@]}" >"$work/chroot.log" 2>&1 || { tail -n 40 "$work/chroot.log" >&2; exit 1; }

rm -f "$root/usr/sbin/policy-rc.d" "$root/tmp/debconf"
rm -rf "$root"/var/lib/apt/lists/*
echo "/dev/vda / ext4 defaults 0 1" >"$root/etc/fstab"
echo debian >"$root/etc/hostname"
cat >"$root/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback

source /etc/network/interfaces.d/*
EOF
mkdir -p "$root/etc/network/interfaces.d" "$root/etc/systemd/network"
cat >"$root/etc/systemd/network/10-testnet0.link" <<'EOF'
[Match]
MACAddress=52:54:00:99:00:01

[Link]
Name=testnet0
EOF
cat >"$root/etc/network/interfaces.d/00-testnet0" <<'EOF'
# test harness only: qemu user networking (local apt repository at 10.0.2.100, forwarded ports)
auto testnet0
iface testnet0 inet static
    address 10.0.2.15/24
EOF
# Stock Debian cloud images also carry deb822 sources; the library's override must replace both.
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat >"$root/etc/cloud/cloud.cfg.d/90-test-vm.cfg" <<'EOF'
datasource_list: [NoCloud, None]
ssh_genkeytypes: [ed25519]
EOF
# Test speed only: dpkg skips its fsync()s (qemu ignores the guests' flushes anyway, cache=unsafe);
# under TCG they cost the guest's CPU on every file a package installs.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/90-test-vm-unsafe-io"
for t in apt-daily.timer apt-daily-upgrade.timer; do ln -sf /dev/null "$root/etc/systemd/system/$t"; done
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*

cp -L "$root/vmlinuz" "$work/vmlinuz"
cp -L "$root/initrd.img" "$work/initrd.img"
truncate -s "$size" "$work/rootfs.img"
mkfs.ext4 -q -F -L root -d "$root" "$work/rootfs.img"
rm -rf "$root"
mkdir -p "$out"
mv "$work/vmlinuz" "$work/initrd.img" "$work/rootfs.img" "$out/"
