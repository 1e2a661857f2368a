#!/usr/bin/env bash
# Installs what PXE Kit's tests, lab and demo need on Debian 12 (run as root).
# Idempotent; safe on a fresh machine with no stdin (CI).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PKGS=(
  # the lab: namespaces, firewall faults, packet capture
  iproute2 iputils-ping nftables iptables tshark procps psmisc
  # real PXE firmware clients and the boot programs we hand them
  qemu-system-x86 qemu-utils ovmf ipxe busybox-static cpio
  # isolinux for the sanboot test ISO; syslinux-common has its modules and memdisk
  isolinux syslinux-common
  # netboot test trees with their own loaders: pxelinux.0, syslinux.efi, GRUB built by grub-mkimage, memtest86+
  pxelinux syslinux-efi grub-efi-amd64-bin grub-common memtest86+
  # real peers to test against
  dnsmasq-base udhcpc isc-dhcp-client tftp-hpa atftp tftpd-hpa curl python3-scapy nginx-light kea-admin
  # ISO building for image tests; Windows images (boot.wim) for the Windows tests
  xorriso genisoimage wimtools
  # the share Windows setup reads its media from, and the client that checks it
  samba smbclient
  # the renderer's browser tests
  chromium
)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -q
  # Packages must not start their daemons (smbd, nginx, tftpd on every interface): policy-rc.d says no
  # for the duration of the install, unless the machine already has its own policy.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    own_policy=1
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
  fi
  status=0
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
  if [ -n "$own_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
  [ "$status" -eq 0 ] || exit "$status"
fi
# tftpd-hpa's package starts a daemon on port 69 of every interface: the tests start their own.
if command -v service >/dev/null 2>&1; then $SUDO service tftpd-hpa stop >/dev/null 2>&1 || true; fi
$SUDO pkill -x in.tftpd >/dev/null 2>&1 || true
$SUDO pkill -x nginx >/dev/null 2>&1 || true
$SUDO pkill -x smbd >/dev/null 2>&1 || true
$SUDO pkill -x nmbd >/dev/null 2>&1 || true

# The Secure Boot chain (Debian's signed shim and network GRUB) into resources/secureboot.
bash "$(dirname "$0")/../build/fetch-secureboot.sh"
echo "install-deps: ok"
