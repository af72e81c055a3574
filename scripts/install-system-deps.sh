#!/usr/bin/env bash
# Installs the Debian 12 packages that `npm run test:system` runs, without starting daemons.
# Idempotent; needs root. Used by .ci/run and by developers.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  postfix postfix-mysql        # postfix check / postconf, PROXY-protocol tests
  mariadb-server mariadb-client # servers seed SQL, failover drills
  haproxy                      # haproxy -c -dW, routing tests on loopback
  nginx libnginx-mod-stream libnginx-mod-http-headers-more-filter
  cloud-init                   # cloud-init schema
  nftables                     # nft -c -f
  nfs-kernel-server            # exportfs: the generated /etc/exports (store exports, the NFS node)
  util-linux bsdutils          # unshare (private mount namespaces), script (tty for postfix)
  systemd passwd               # systemd-sysusers, useradd/groupadd: the pinned accounts (accountIds)
  curl openssl python3 ca-certificates socat
  python3-yaml                 # PyYAML: how grommunio-admin-api (and cloud-init) read YAML
  mawk gawk                    # the map job's awk programs under both (mawk: Debian's default awk)
  bind9 bind9-utils bind9-dnsutils # named (loopback), named-checkzone, dig: DNS zone tests
  python3-dkim python3-dnspython   # DKIM verification against the published key
  opendkim opendkim-tools          # the signing milter: opendkim -n, opendkim-testkey, signing through postfix
  graphviz                         # dot -Tsvg: topology diagram
  xsltproc                         # libvirt q35 stylesheet (the seed CD-ROM off IDE)
  apt gnupg gpgv                   # apt-get update on the generated .sources against a repository signed here
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system test packages: all present"
  exit 0
fi
guard=/usr/sbin/policy-rc.d
had_guard=0; [ -e "$guard" ] && had_guard=1
if [ $had_guard -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > "$guard"; chmod +x "$guard"
fi
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
[ $had_guard -eq 1 ] || rm -f "$guard"
