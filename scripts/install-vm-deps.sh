#!/usr/bin/env bash
# Installs the Debian 12 host packages `npm run test:vm` needs (qemu under TCG or KVM, the guest
# image build, NoCloud seeds, the local apt repository). Idempotent; needs root. Used by .ci/run.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  qemu-system-x86 qemu-utils   # the guests, qcow2 overlays
  debootstrap                  # the cached Debian 12 guest image
  cloud-image-utils genisoimage # cloud-localds: NoCloud seeds
  dpkg-dev                     # dpkg-scanpackages: the local apt repository
  xz-utils zstd                # the repository's .debs: data.tar.xz recompressed to zstd
  e2fsprogs                    # mkfs.ext4 -d: the image's root file system
  socat                        # guestfwd relay from a guest to the host's loopback repository
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "vm test packages: all present"
  exit 0
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
