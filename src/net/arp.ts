// The MAC behind an IPv4 address, from the kernel's neighbour table (Linux).
// Used to name another DHCP server by its hardware address as well as its IP.
import { readFileSync } from 'node:fs';

export function arpMac(ip: string): string | undefined {
  try {
    for (const line of readFileSync('/proc/net/arp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[0] === ip && f[3] && f[3] !== '00:00:00:00:00:00') return f[3].toLowerCase();
    }
  } catch {
    /* not Linux */
  }
  return undefined;
}
