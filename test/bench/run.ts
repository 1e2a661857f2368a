// npm run bench: every benchmark, anchors run side by side in the same invocation on
// the same kind of veth link, printed as ratios (not part of the tests).
// Usage: node dist/test/bench/run.js [--quick] [link] [iowait] [tftp] [http] [dhcp] [storm] [iso] [secureboot]   (default: all)
//   --quick: small files, one round, fewer rates: a few minutes instead of ~30.
import { benchTftp } from './tftp.js';
import { benchHttp } from './http.js';
import { benchDhcp } from './dhcp.js';
import { benchLink, benchStorm } from './storm.js';
import { benchIoWait } from './io-wait.js';
import { machineConditions } from './common.js';

const quick = process.argv.includes('--quick');
const wanted = new Set(process.argv.slice(2).filter((a) => !a.startsWith('--')));
const want = (name: string) => wanted.size === 0 || wanted.has(name);
const log = (line: string) => console.log(line);
const summary: string[] = [];

async function section(name: string, run: () => Promise<string[]>): Promise<void> {
  if (!want(name)) return;
  const t0 = Date.now();
  try {
    summary.push(...(await run()));
  } catch (err) {
    log(`${name} bench FAILED: ${(err as Error).message}`);
    summary.push(`${name}: FAILED (${(err as Error).message.split('\n')[0]})`);
    process.exitCode = 1;
  }
  log(`(${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('npm run bench builds network namespaces: run it as root');
  const started = Date.now();
  log(`bench${quick ? ' --quick' : ''}: ${machineConditions()}`);
  await section('link', async () => (log('\n== Link limit: iperf3 over a veth =='), (await benchLink({ seconds: quick ? 2 : 5, log })).summary));
  await section('iowait', async () => {
    log('\n== I/O thread wait: poll() vs epoll, loopback ==');
    return (await benchIoWait({ rounds: quick ? 20_000 : 100_000, log })).summary;
  });
  await section('tftp', async () => {
    log('\n== TFTP: PXE Kit vs tftpd-hpa, dnsmasq, atftpd; atftp client ==');
    return (await benchTftp({ quick, log })).summary;
  });
  await section('http', async () => {
    const out: string[] = [];
    for (const sizeMiB of quick ? [128] : [128, 1024]) {
      log(`\n== HTTP: ${sizeMiB} MiB, curl, PXE Kit vs nginx ==`);
      const r = await benchHttp({ sizeMiB, parallel: 20, rounds: quick || sizeMiB > 256 ? 1 : 3, log });
      out.push(`HTTP ${sizeMiB} MiB single: PXE Kit / nginx = ${r.ratio.single.toFixed(2)}`);
      out.push(`HTTP ${sizeMiB} MiB x20: PXE Kit / nginx = ${r.ratio.parallel.toFixed(2)}`);
      out.push(`HTTP ${sizeMiB} MiB Range reads (256 KiB, keep-alive): PXE Kit / nginx = ${r.ratio.range.toFixed(2)} (${r.rangeReadsPerSec.pxekit.toFixed(0)}/s vs ${r.rangeReadsPerSec.nginx.toFixed(0)}/s; server CPU per read ${r.rangeCpuMicros.pxekit.toFixed(0)} vs ${r.rangeCpuMicros.nginx.toFixed(0)} µs)`);
    }
    return out;
  });
  await section('dhcp', async () => {
    log('\n== DHCP: perfdhcp DORA, PXE Kit vs dnsmasq vs kea-dhcp4 ==');
    return (await benchDhcp({ quick, log })).summary;
  });
  await section('storm', async () => {
    log('\n== Boot storm ==');
    const r = await benchStorm({ clients: 60, initrdMiB: quick ? 10 : 50, log });
    if (r.failed) process.exitCode = 1;
    return r.summary;
  });
  await section('iso', async () => {
    const iso = (await import(new URL('./iso.js', import.meta.url).href)) as { benchIso?: (o: { log: typeof log; quick?: boolean }) => Promise<{ summary?: string[] }> };
    return iso.benchIso ? ((await iso.benchIso({ log, quick })).summary ?? []) : [];
  });
  await section('secureboot', async () => {
    log('\n== UEFI boot: signed chain (shim, GRUB, TFTP) vs iPXE chain (HTTP), QEMU/OVMF ==');
    const { benchSecureBoot } = await import('./secure-boot.js');
    return (await benchSecureBoot({ rounds: quick ? 1 : 3, padMiB: quick ? 8 : 32, log })).summary;
  });
  log(`\n== Summary (ratios > 1: PXE Kit faster), ${((Date.now() - started) / 60000).toFixed(1)} min ==`);
  for (const line of summary) log(line);
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
