#!/usr/bin/env node
// pxekit: the headless command line over the boot engine.
import { listInterfaces } from '../net/interfaces.js';

function printInterfaces(json: boolean): void {
  const nics = listInterfaces();
  if (json) {
    for (const n of nics) console.log(JSON.stringify(n));
    return;
  }
  const rows = nics.map((n) => [
    n.name,
    n.mac,
    n.ipv4 ? `${n.ipv4.address}/${n.ipv4.prefix}` : '-',
    n.linkUp ? 'up' : 'down',
    n.usable ? 'yes' : 'no',
    n.note,
  ]);
  const head = ['NAME', 'MAC', 'IPV4', 'LINK', 'USABLE', 'NOTE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'interfaces') printInterfaces(rest.includes('--json'));
else {
  console.error('usage: pxekit interfaces [--json]');
  process.exit(2);
}
