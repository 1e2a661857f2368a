// The root side of the setup share (Linux): a small process the engine starts while it is still
// root, before it gives root up (src/net/privilege.ts). It stays root for one job: starting and
// stopping the Windows setup share (smbd and the ISO's loop mount, src/share/smb-share.ts), which
// only root can do, on the engine's request over its stdin. It listens to nothing else.
//
// What it trusts the engine with, and what not: the engine runs as USER and parses untrusted input
// all day, so a request is checked as if it came from USER. The source must be a file or folder
// USER can read (checked as USER, with `runuser`), a folder or an extracted copy is read by smbd as
// USER (never as its owner), and the address must be an address of the named NIC. Its own files
// (smb.conf, passdb, an extracted copy) go in a folder it makes under /var/tmp, which only root
// can enter: never in the engine's data dir, where USER could swap a folder for a link. When the engine goes (its pipe closes, a crash
// included), every share is stopped and the helper exits: nothing is left mounted or running.
//
// Protocol: one JSON object per line each way. Request {id, op:'start', share:{iface, address,
// prefix, source}} or {id, op:'stop', shareId}; answer {id, ok:true, share?} or
// {id, ok:false, code, message}. The first line out is {ready:true}.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ShareError, startSetupShare, type SetupShare } from './smb-share.js';


export type HelperCall = { op: 'start'; share: { iface: string; address: string; prefix: number; source: string } } | { op: 'stop'; shareId: number };
export type HelperRequest = HelperCall & { id: number };
export type HelperShare = Omit<SetupShare, 'stop'> & { shareId: number };
export type HelperAnswer = { id: number; ok: true; share?: HelperShare } | { id: number; ok: false; code: string; message: string };

function userArg(argv: string[]): string {
  const i = argv.indexOf('--user');
  const v = i >= 0 ? argv[i + 1] : undefined;
  if (!v) throw new Error('share helper: --user is required');
  return v;
}

/** Why this request may not be done, or undefined. Exported for its unit test. */
export function refusal(req: Extract<HelperRequest, { op: 'start' }>['share'], o: { canRead: (p: string) => boolean; addressesOf: (iface: string) => string[] }): string | undefined {
  const { iface, address, prefix, source } = req ?? ({} as never);
  if (typeof iface !== 'string' || typeof address !== 'string' || typeof source !== 'string' || !Number.isInteger(prefix)) return 'a malformed request';
  if (!path.isAbsolute(source)) return `the source must be an absolute path, not ${source}`;
  if (!o.addressesOf(iface).includes(address)) return `${address} is not an address of ${iface}`;
  if (prefix < 8 || prefix > 32) return `prefix /${prefix} is out of range`;
  if (!o.canRead(source)) return `${source} cannot be read by the user PXE Kit runs as`;
  return undefined;
}

function readableAs(user: string): (p: string) => boolean {
  // runuser sets the user's groups as a login would; `test -r` then asks the kernel, with the same
  // rules (and ACLs) the engine met when it opened the image.
  return (p) => spawnSync('runuser', ['-u', user, '--', 'test', '-r', p], { stdio: 'ignore' }).status === 0;
}

function addressesOf(iface: string): string[] {
  return (networkInterfaces()[iface] ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address);
}

async function main(): Promise<void> {
  const user = userArg(process.argv.slice(2));
  const workDir = mkdtempSync(path.join('/var/tmp', 'pxekit-share-'));
  // Others may pass through (an extracted copy is read by smbd as USER), not list: names are random.
  chmodSync(workDir, 0o711);
  const shares = new Map<number, SetupShare>();
  let nextShare = 1;
  const canRead = readableAs(user);
  const answer = (a: HelperAnswer | { ready: true }) => process.stdout.write(`${JSON.stringify(a)}\n`);
  let closing: Promise<void> | undefined;
  const stopAll = () =>
    (closing ??= (async () => {
      for (const s of shares.values()) await s.stop().catch(() => undefined);
      shares.clear();
      rmSync(workDir, { recursive: true, force: true });
    })());
  const exit = () => void stopAll().then(() => process.exit(0));
  // Ctrl-C reaches the whole process group: the engine handles it and then closes the pipe.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', exit);
  process.on('SIGHUP', exit);

  const lines = createInterface({ input: process.stdin });
  lines.on('close', exit);
  lines.on('line', (line) => {
    let req: HelperRequest;
    try {
      req = JSON.parse(line) as HelperRequest;
    } catch {
      return answer({ id: -1, ok: false, code: 'bad-request', message: 'not JSON' });
    }
    void (async () => {
      if (req.op === 'stop') {
        const s = shares.get(req.shareId);
        shares.delete(req.shareId);
        await s?.stop().catch(() => undefined);
        return answer({ id: req.id, ok: true });
      }
      if (req.op !== 'start') return answer({ id: (req as { id: number }).id, ok: false, code: 'bad-request', message: 'unknown op' });
      const why = refusal(req.share, { canRead, addressesOf });
      if (why) return answer({ id: req.id, ok: false, code: 'bad-source', message: `the setup share was refused: ${why}` });
      try {
        const { iface, address, prefix, source } = req.share;
        const s = await startSetupShare({ iface, address, prefix, source, workDir, readAs: user });
        const shareId = nextShare++;
        shares.set(shareId, s);
        const { stop: _stop, ...info } = s;
        answer({ id: req.id, ok: true, share: { ...info, shareId } });
      } catch (err) {
        answer({ id: req.id, ok: false, code: err instanceof ShareError ? err.code : 'start-failed', message: (err as Error).message });
      }
    })();
  });
  answer({ ready: true });
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().catch((err: Error) => {
    process.stderr.write(`pxekit share helper: ${err.message}\n`);
    process.exit(2);
  });
}
