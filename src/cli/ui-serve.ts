// `pxekit serve --ui`: the engine as a service for a UI. The API and the built
// renderer on 127.0.0.1, the URL (with the per-run token in its fragment) printed
// once. The desktop app starts this elevated, with --exit-with-parent so a root
// engine never outlives the app (Etcher's lesson).
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { SERVE_OPTIONS, UsageError } from './serve.js';
import { formatEvent } from '../sessions/format.js';
import type { ServeModeOption } from '../api/contract.js';
import { Controller } from '../api/controller.js';
import { ApiServer, generateToken } from '../api/ws-server.js';
import { defaultRendererDir } from '../api/static-files.js';
import { isWellFormedToken } from '../api/validate.js';
import { LineWriter } from './line-writer.js';
import { findHelpers } from '../images/publish-iso.js';
import { chooseDropTarget, dropPrivileges, ownDataDir, PrivilegeError } from '../net/privilege.js';
import { RootShareHelper } from '../share/share-helper.js';

const UI_OPTIONS = {
  ui: { type: 'boolean', default: false },
  'ui-port': { type: 'string', default: '0' },
  'ui-allow-origin': { type: 'string', multiple: true, default: [] as string[] },
  'renderer-dir': { type: 'string' },
  'exit-with-parent': { type: 'boolean', default: false },
  'token-stdin': { type: 'boolean', default: false },
  'token-file': { type: 'string' },
} as const;

/** After the last UI connection goes, how long a --exit-with-parent engine waits before quitting. */
export const PARENT_GONE_MS = 10_000;
/** How long it waits for the first connection (the app may have died while the OS prompt was up). */
export const FIRST_CONNECT_MS = 60_000;

async function readTokenFromStdin(): Promise<string> {
  const rl = createInterface({ input: process.stdin });
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new UsageError('--token-stdin: stdin closed before a token line arrived'));
    rl.once('close', onClose);
    rl.once('line', (line) => {
      rl.off('close', onClose);
      rl.close();
      resolve(line.trim());
    });
  });
}

/** The token: stdin (pkexec strips the environment), a file the app wrote (macOS/Windows prompts), PXEKIT_TOKEN, or a fresh one. */
async function obtainToken(v: { 'token-stdin'?: boolean; 'token-file'?: string }): Promise<string> {
  let token: string;
  if (v['token-stdin']) token = await readTokenFromStdin();
  else if (v['token-file']) {
    token = readFileSync(v['token-file'], 'utf8').trim();
    try {
      unlinkSync(v['token-file']); // one use only
    } catch {
      /* the app cleans its temp dir too */
    }
  } else token = process.env.PXEKIT_TOKEN ?? generateToken();
  delete process.env.PXEKIT_TOKEN; // not inherited by anything the engine starts
  if (!isWellFormedToken(token)) throw new UsageError('the token must be 32-256 characters of [A-Za-z0-9_-] (e.g. 64 hex digits)');
  return token;
}

function port(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${name} must be a port number`);
  return n;
}

export async function serveUi(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { ...SERVE_OPTIONS, ...UI_OPTIONS } });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError('give at most one IMAGE');
  const mode = v.mode as ServeModeOption;
  if (!['auto', 'dhcp', 'proxy'].includes(mode)) throw new UsageError(`--mode must be auto, dhcp or proxy, not "${v.mode}"`);
  const uiPort = port(v['ui-port'], '--ui-port');
  const serveAtOnce = positionals.length === 1 || v.library;
  if (serveAtOnce && !v.iface) throw new UsageError('with IMAGE or --library, --ui needs --iface too (or choose both in the UI)');
  // A --wimboot that is not wimboot is refused now, with the reason, not when an ISO is first served.
  if (v.wimboot) findHelpers({ wimboot: v.wimboot, dataDir: v['data-dir'] });
  const token = await obtainToken(v);

  // Linux, as root (the app starts this through pkexec): the engine gives root up as soon as the
  // API is bound, before it reads a request, keeping only what binding ports again needs; the
  // setup share is started by its root helper (src/net/privilege.ts, src/share/share-helper.ts).
  let privilege: ReturnType<typeof chooseDropTarget> & { shareHelper?: () => RootShareHelper };
  try {
    privilege = chooseDropTarget(v.user);
  } catch (err) {
    if (err instanceof PrivilegeError) throw new UsageError(err.message);
    throw err;
  }
  const target = privilege.target;
  const dataDir = ownDataDir(target, v['data-dir']);
  const dataDirCreated = dataDir !== undefined && !existsSync(dataDir);
  // Started now, while root: any later Serve may be of Windows setup media.
  const shareHelper = target && !v['no-setup-share'] ? new RootShareHelper(target.name) : undefined;
  if (shareHelper) privilege.shareHelper = () => shareHelper;

  const controller = new Controller({
    dataDir,
    wimboot: v.wimboot,
    engineDefaults: {
      router: v.router,
      dns: v.dns.length ? [...v.dns] : undefined,
      httpPort: v['http-port'] ? port(v['http-port'], '--http-port') : undefined,
      probeSeconds: v['probe-seconds'] ? port(v['probe-seconds'], '--probe-seconds') : undefined,
      bootOnce: v['boot-once'],
      ...(v['open-firewall'] ? { openFirewall: true } : {}),
      ...(v['no-setup-share'] ? { setupShare: false } : {}),
      privilege,
    },
  });
  const server = new ApiServer({ controller, token, port: uiPort, rendererDir: v['renderer-dir'] ?? defaultRendererDir(), extraOrigins: [...v['ui-allow-origin']] });
  // Written once per turn of the event loop (a DHCP flood is an event per packet).
  const out = new LineWriter();
  controller.on('event', (ev) => {
    if (v.json) out.line(JSON.stringify(ev));
    else if (ev.type !== 'library' && ev.type !== 'assignments' && ev.type !== 'menu') {
      const line = formatEvent(ev, { verbose: v.verbose });
      if (line) out.line(line);
    }
  });

  let finished: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finished = resolve));
  let stopping = false;
  const shutdown = (why: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    if (!v.json) process.stderr.write(`pxekit: ${why}: stopping\n`);
    void controller
      .close()
      .catch(() => undefined)
      .then(() => shareHelper?.close())
      .then(() => server.close())
      .then(() => {
        out.flush();
        finished(code);
      });
  };
  process.on('SIGINT', () => shutdown('interrupted'));
  process.on('SIGTERM', () => shutdown('terminated'));
  controller.on('shutdown', () => shutdown('shutdown requested over the API'));

  await server.start();
  if (target) {
    try {
      const readable = positionals[0] ? [positionals[0], ...v.initrd] : [];
      mkdirSync(controller.dataDir, { recursive: true });
      const dropped = dropPrivileges(target, { dataDir: controller.dataDir, dataDirCreated, readable });
      out.line(v.json ? JSON.stringify({ type: 'log', at: Date.now(), level: 'info', source: 'engine', message: dropped.message }) : dropped.message);
    } catch (err) {
      await shareHelper?.close();
      await server.close();
      throw err instanceof PrivilegeError ? new UsageError(err.message) : err;
    }
  }
  // Without a user to become, each Serve's engine says why it stays root (privilege.note).

  out.line(v.json ? JSON.stringify({ type: 'ui', at: Date.now(), url: server.url, wsUrl: server.wsUrl, port: server.port }) : `PXE Kit UI: ${server.url}`);

  if (v['exit-with-parent']) watchParent(server, v['token-stdin'] ?? false, shutdown);

  // With IMAGE (or --library) and --iface, serving starts at once; the UI then follows it.
  if (serveAtOnce) {
    controller
      .startServing({ iface: v.iface!, mode, range: v.range, force: v.force, imagePath: positionals[0], initrds: [...v.initrd], cmdline: v.cmdline })
      .catch((err: Error) => {
        if (!v.json) process.stderr.write(`pxekit: ${err.message}\n`);
      });
  }
  return done;
}

/**
 * A root engine must never be orphaned: it quits 10 s after its last UI
 * connection went (the app's main process keeps one open all the time), if
 * nobody connects within a minute of start, and at once when the app's end of
 * stdin closes (pkexec keeps stdin: the pipe closes when the app dies).
 */
function watchParent(server: ApiServer, stdinIsParent: boolean, shutdown: (why: string) => void): void {
  let timer: NodeJS.Timeout | undefined = setTimeout(() => shutdown('no UI connected within a minute'), FIRST_CONNECT_MS);
  server.on('connections', (n: number) => {
    if (timer) clearTimeout(timer);
    timer = n === 0 ? setTimeout(() => shutdown('the app that started this engine is gone'), PARENT_GONE_MS) : undefined;
  });
  if (stdinIsParent) {
    process.stdin.resume();
    process.stdin.on('end', () => shutdown('the app that started this engine closed its pipe'));
  }
}
