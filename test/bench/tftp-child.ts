// PXE Kit's TFTP server in a process of its own, for the benchmarks: the bench harness
// (which spawns dozens of clients and reads their output) must not share an event loop
// with the server it measures, and a separate process lets us read its CPU time and
// peak memory from /proc like any other server's.
// Usage: node tftp-child.js IFACE ADDRESS ROOT [port] [maxPerClient]
// Prints "ready" on stdout once listening; a line "stats" on stdin prints the server's
// counters as one JSON line; end of stdin stops it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TftpServer } from '../../src/tftp/server.js';
import { PublishedFiles, diskFile } from '../../src/files/published.js';

const [iface, address, root, port, maxPerClient] = process.argv.slice(2);
const files = new PublishedFiles();
for (const name of readdirSync(root)) files.add(diskFile(name, join(root, name), 'image file'));
const server = new TftpServer({
  iface,
  ifaceAddress: address,
  port: port ? Number(port) : 69,
  files,
  maxPerClient: maxPerClient ? Number(maxPerClient) : undefined,
  emit: (e) => {
    if (e.type === 'log' && (e.level === 'warn' || e.level === 'error')) process.stderr.write(`${e.message}\n`);
  },
});
await server.start();
process.stdout.write('ready\n');
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() === 'stats') process.stdout.write(JSON.stringify(server.stats()) + '\n');
  })
  .on('close', () => {
    void server.stop().then(() => process.exit(0));
  });
