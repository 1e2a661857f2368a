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
  # real peers to test against
  dnsmasq-base udhcpc isc-dhcp-client tftp-hpa atftp tftpd-hpa curl python3-scapy nginx-light kea-admin
  # ISO building for image tests
  xorriso genisoimage
  # the renderer's browser tests
  chromium
)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# tftpd-hpa's package starts a daemon on port 69 of every interface: the tests start their own.
if command -v service >/dev/null 2>&1; then $SUDO service tftpd-hpa stop >/dev/null 2>&1 || true; fi
$SUDO pkill -x in.tftpd >/dev/null 2>&1 || true
$SUDO pkill -x nginx >/dev/null 2>&1 || true

# The Secure Boot chain (Debian's signed shim and network GRUB) into resources/secureboot.
bash "$(dirname "$0")/../build/fetch-secureboot.sh"
echo "install-deps: ok"
