#!/usr/bin/env bash
# Copies the iPXE boot programs PXE Kit hands to clients from Debian's `ipxe` package
# (/usr/lib/ipxe) into resources/ipxe/, so a packaged PXE Kit carries its own copies.
# resources/ipxe/ is gitignored: the binaries are never committed.
# Usage: bash build/fetch-ipxe.sh [source-dir]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="${1:-/usr/lib/ipxe}"
dest="$here/resources/ipxe"

if [ ! -d "$src" ]; then
  echo "fetch-ipxe: $src does not exist: install the iPXE boot programs with \"sudo apt-get install ipxe\"" >&2
  exit 1
fi
mkdir -p "$dest"
copied=0
# BIOS (UNDI), UEFI x64 (own drivers / firmware SNP), and ARM64 or ia32 builds when the distro has them.
for name in undionly.kpxe ipxe.efi snponly.efi ipxe-arm64.efi snponly-arm64.efi ipxe-ia32.efi; do
  if [ -f "$src/$name" ]; then # -f follows symlinks (Debian's ipxe.efi -> /boot/ipxe.efi)
    cp -L "$src/$name" "$dest/$name"
    echo "fetch-ipxe: $name"
    copied=$((copied + 1))
  fi
done
missing=()
for need in undionly.kpxe ipxe.efi; do [ -f "$dest/$need" ] || missing+=("$need"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "fetch-ipxe: missing ${missing[*]} in $src: install them with \"sudo apt-get install ipxe\"" >&2
  exit 1
fi
echo "fetch-ipxe: $copied file(s) in $dest"
