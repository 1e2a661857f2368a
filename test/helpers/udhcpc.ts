// busybox udhcpc as a real DHCP client that can pretend to be PXE firmware or iPXE.
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from './lab.js';

export interface UdhcpcResult {
  ok: boolean;
  env: Record<string, string>;
  output: string;
}

export interface UdhcpcOptions {
  vendorClass?: string;
  /** Option 93 client architecture (0 BIOS, 7 EFI x64...). */
  arch?: number;
  /** Option 77 user class, e.g. "iPXE". */
  userClass?: string;
  tries?: number;
}

export function runUdhcpc(lab: Lab, ns: string, iface: string, opts: UdhcpcOptions = {}): UdhcpcResult {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-udhcpc-'));
  const envFile = join(dir, 'env');
  const script = join(dir, 'script.sh');
  // udhcpc runs the script with the lease in its environment; keep the "bound" one.
  writeFileSync(script, `#!/bin/sh\nif [ "$1" = bound ]; then env > ${envFile}; fi\nexit 0\n`);
  chmodSync(script, 0o755);
  const args = ['udhcpc', '-i', iface, '-f', '-q', '-n', '-t', String(opts.tries ?? 4), '-T', '1', '-s', script];
  if (opts.vendorClass) args.push('-V', opts.vendorClass);
  if (opts.arch !== undefined) args.push('-x', `0x5d:${opts.arch.toString(16).padStart(4, '0')}`);
  if (opts.userClass) args.push('-x', `0x4d:${Buffer.from(opts.userClass).toString('hex')}`);
  const output = lab.exec(ns, 'busybox', args, { allowFail: true });
  const env: Record<string, string> = {};
  if (existsSync(envFile)) {
    for (const line of readFileSync(envFile, 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return { ok: Boolean(env.ip), env, output };
}
