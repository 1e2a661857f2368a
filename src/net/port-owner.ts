// Who holds a port? On Linux the kernel tells us through /proc: the socket's
// inode in /proc/net/{udp,tcp}, then the process whose fd links to that inode.
// Best effort: without root we may not see other users' fds; then we say so.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface PortOwner {
  pid: number;
  command: string;
}

function socketInodes(proto: 'udp' | 'tcp', port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of [`/proc/net/${proto}`, `/proc/net/${proto}6`]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const localPort = parseInt(cols[1].split(':')[1] ?? '', 16);
      // For TCP only listening sockets (state 0A) own a port.
      if (localPort === port && (proto === 'udp' || cols[3] === '0A')) inodes.add(cols[9]);
    }
  }
  return inodes;
}

export function findPortOwners(proto: 'udp' | 'tcp', port: number): PortOwner[] {
  if (process.platform !== 'linux') return [];
  const inodes = socketInodes(proto, port);
  if (inodes.size === 0) return [];
  const owners: PortOwner[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1])) {
        let command = '?';
        try {
          command = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
        } catch {
          /* process exited meanwhile */
        }
        owners.push({ pid: Number(entry), command });
        break;
      }
    }
  }
  return owners;
}

export function describePortOwners(proto: 'udp' | 'tcp', port: number): string {
  const owners = findPortOwners(proto, port);
  if (owners.length === 0) return '';
  return owners.map((o) => `${o.command} (pid ${o.pid})`).join(', ');
}
