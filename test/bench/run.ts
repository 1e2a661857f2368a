// npm run bench: every benchmark, anchors run side by side in the same
// invocation on the same veth link, printed as ratios (not part of the tests).
// Usage: node dist/test/bench/run.js [tftp] [http] [iso]   (default: all)
import { benchTftp } from './tftp.js';
import { benchHttp } from './http.js';

const wanted = new Set(process.argv.slice(2).filter((a) => !a.startsWith('--')));
const want = (name: string) => wanted.size === 0 || wanted.has(name);
const log = (line: string) => console.log(line);
const summary: string[] = [];

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('npm run bench builds network namespaces: run it as root');
  if (want('tftp')) {
    log('== TFTP: 32 MiB, atftp client, PXE Kit vs tftpd-hpa vs dnsmasq ==');
    const r = await benchTftp({ sizeMiB: 32, rounds: 3, log });
    for (const [name, ratio] of Object.entries(r.ratio)) summary.push(`TFTP 32 MiB ${name}: PXE Kit / best anchor = ${ratio.toFixed(2)}`);
  }
  if (want('http')) {
    for (const sizeMiB of [128, 1024]) {
      log(`== HTTP: ${sizeMiB} MiB, curl, PXE Kit vs nginx ==`);
      const r = await benchHttp({ sizeMiB, parallel: 20, rounds: sizeMiB > 256 ? 1 : 3, log });
      summary.push(`HTTP ${sizeMiB} MiB single: PXE Kit / nginx = ${r.ratio.single.toFixed(2)}`);
      summary.push(`HTTP ${sizeMiB} MiB x20: PXE Kit / nginx = ${r.ratio.parallel.toFixed(2)}`);
    }
  }
  if (want('iso')) {
    try {
      const iso = (await import(new URL('./iso.js', import.meta.url).href)) as { benchIso?: (o: { log: typeof log }) => Promise<{ summary?: string[] }> };
      if (iso.benchIso) summary.push(...((await iso.benchIso({ log })).summary ?? []));
    } catch (err) {
      log(`(ISO bench not available: ${(err as Error).message})`);
    }
  }
  log('\n== Summary (ratios > 1: PXE Kit faster) ==');
  for (const line of summary) log(line);
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
