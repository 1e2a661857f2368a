#!/usr/bin/env bash
# Copies the Secure Boot chain PXE Kit hands to UEFI x64 clients into resources/secureboot/:
# Debian's Microsoft-signed shim (shim-signed: shimx64.efi.signed, which trusts Debian's
# key) and Debian-signed network GRUB (grub-efi-amd64-signed: grubnetx64.efi.signed).
# The packages are downloaded and unpacked, never installed: installing them would run
# their maintainer scripts against this machine's own boot loader.
# resources/secureboot/ is gitignored: the binaries are never committed.
# Usage: bash build/fetch-secureboot.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$here/resources/secureboot"
# gcdx64.efi: the GRUB Debian's install media carry (no tftp module); the tests build media with it.
want=(shimx64.efi grubnetx64.efi gcdx64.efi)

have_all() { for f in "${want[@]}"; do [ -s "$dest/$f" ] || return 1; done; }
if have_all; then echo "fetch-secureboot: already in $dest"; exit 0; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 777 "$work" # apt-get download drops to the _apt user
cd "$work"
if ! apt-get download -q shim-signed grub-efi-amd64-signed >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  apt-get download -q shim-signed grub-efi-amd64-signed
fi
for deb in ./*.deb; do dpkg-deb -x "$deb" root; done
mkdir -p "$dest"
cp root/usr/lib/shim/shimx64.efi.signed "$dest/shimx64.efi"
cp root/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed "$dest/grubnetx64.efi"
cp root/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed "$dest/gcdx64.efi"
# What they are, for the record: the package versions they came from.
for deb in ./*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done > "$dest/SOURCES"
have_all
echo "fetch-secureboot: $(tr '\n' ';' < "$dest/SOURCES") -> $dest"
