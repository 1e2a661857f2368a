// The HTTP client side shared by the HTTP and ISO benchmarks: curl in the lab's client
// namespace, each answer checked (size, status) before its time counts.
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { Lab } from '../helpers/lab.js';

/** Range reads per timed round: 1,000 take about half a second, long enough for this machine's noise to average out. */
export const RANGE_READS = 1000;
export const RANGE_BYTES = 256 * 1024;

/** A port free on `address` right now (the servers under test bind it next). */
export async function freePort(address: string): Promise<number> {
  const s = createServer();
  s.listen(0, address);
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

/** One whole GET; resolves curl's own time_total after checking the size. */
export function fetchOnce(lab: Lab, url: string, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = lab.spawn(lab.clientNs, 'curl', ['-s', '--noproxy', '*', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url]);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => {
      const [bytes, secs] = out.trim().split(' ').map(Number);
      if (code !== 0 || bytes !== size) reject(new Error(`curl ${url} exit ${code}, ${bytes} of ${size} bytes`));
      else resolve(secs);
    });
  });
}

/**
 * RANGE_READS random 256 KiB Range requests in ONE curl (--next keeps the connection, as
 * iPXE's sanboot reads an ISO), each checked for a 206 and the right length; resolves the
 * seconds curl took. Offsets come from a fixed seed (xorshift32), so runs compare.
 */
export function fetchRanges(lab: Lab, url: string, size: number, seed: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const args: string[] = [];
    let x = seed >>> 0 || 1;
    for (let i = 0; i < RANGE_READS; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      const start = (x % Math.floor((size - RANGE_BYTES) / 4096)) * 4096;
      if (i > 0) args.push('--next');
      args.push('-s', '--noproxy', '*', '-o', '/dev/null', '-r', `${start}-${start + RANGE_BYTES - 1}`, '-w', '%{http_code} %{size_download}\n', url);
    }
    const t0 = process.hrtime.bigint();
    const c = lab.spawn(lab.clientNs, 'curl', args);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const lines = out.trim().split('\n');
      const bad = lines.filter((l) => l !== `206 ${RANGE_BYTES}`);
      if (code !== 0 || lines.length !== RANGE_READS || bad.length) reject(new Error(`range reads from ${url}: exit ${code}, ${lines.length} answers, unexpected: ${bad.slice(0, 3).join('; ')}`));
      else resolve(secs);
    });
  });
}

/**
 * Untimed Range reads before the timed ones, for every server alike. PXE Kit's request path
 * is JavaScript: V8 needs a few thousand requests before its optimising tiers have compiled
 * it (measured: CPU per 256 KiB request fell from ~900 to ~300 µs over the first 3,000, then
 * stayed), while an iPXE sanboot of an ISO makes tens of thousands. nginx needs none of
 * this; the timed rounds then compare the two in the state a long boot runs in.
 */
export async function warmUpRanges(lab: Lab, url: string, size: number, reads = 3000): Promise<void> {
  for (let i = 0; i < Math.ceil(reads / RANGE_READS); i++) await fetchRanges(lab, url, size, 999 + i);
}
