// The desktop app's main process: unprivileged. It starts the engine through the
// OS's administrator prompt (engine-lifecycle.ts), shows the engine's own UI in a
// sandboxed window, and offers native dialogs over a few checked IPC channels.
import { app, BrowserWindow, dialog, ipcMain, Menu, session, type IpcMainInvokeEvent } from 'electron';
import { writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineLifecycle, type EngineEndpoint } from './engine-lifecycle.js';
import { platformElevator, type EngineCommand } from './elevate.js';
import { hardenApp, installSecurity, isTrustedSender, setTrustedOrigin, STATUS_PAGE_CSP, WEB_PREFERENCES } from './security.js';
import { CHANNELS, type EngineStateInfo } from './bridge.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/electron (in app.asar when packaged)

/**
 * The engine runs on the app's own binary in Node mode (ELECTRON_RUN_AS_NODE), from
 * resources/engine when packaged (outside app.asar: the elevated process reads it
 * from disk), from dist/ in development. PXEKIT_ENGINE_NODE runs it on another Node.
 */
function engineCommand(): { engine: EngineCommand; rendererDir: string } {
  const root = app.isPackaged ? join(process.resourcesPath, 'engine') : join(here, '..', '..');
  const cli = join(root, 'dist', 'src', 'cli', 'main.js');
  const rendererDir = app.isPackaged ? join(process.resourcesPath, 'renderer') : join(root, 'renderer', 'dist');
  const node = process.env.PXEKIT_ENGINE_NODE;
  return node ? { engine: { command: node, args: [cli] }, rendererDir } : { engine: { command: process.execPath, args: [cli], env: { ELECTRON_RUN_AS_NODE: '1' } }, rendererDir };
}

const { engine, rendererDir } = engineCommand();
const lifecycle = new EngineLifecycle({
  engine,
  elevator: platformElevator(),
  extraArgs: ['--renderer-dir', rendererDir, '--data-dir', join(app.getPath('userData'), 'engine-data')],
});

let win: BrowserWindow | undefined;
let endpoint: EngineEndpoint | undefined;
let stateInfo: EngineStateInfo = { state: 'idle' };

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function statusPage(title: string, text: string): string {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${STATUS_PAGE_CSP}">
<title>PXE Kit</title><style>body{font:16px system-ui,sans-serif;margin:3rem;color:#222;background:#fafafa}@media(prefers-color-scheme:dark){body{color:#eee;background:#1b1b1b}}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
  return `data:text/html;charset=utf-8,${encodeURIComponent(html)}`;
}

function showStatus(): void {
  if (!win) return;
  const { state, detail } = stateInfo;
  if (state === 'running' && endpoint) return;
  const titles: Record<string, string> = {
    idle: 'Starting PXE Kit…',
    starting: 'Starting the PXE Kit engine…',
    restarting: 'The engine stopped; restarting…',
    declined: 'Administrator rights needed',
    failed: 'The engine could not start',
    stopping: 'Stopping…',
    stopped: 'Engine stopped',
  };
  const base = detail ?? (state === 'starting' ? 'Your system may ask for an administrator password: PXE Kit needs it to answer DHCP and TFTP on the network card you choose.' : '');
  const text = state === 'declined' || state === 'failed' ? `${base} Use Engine › Start engine in the menu to try again.` : base;
  void win.loadURL(statusPage(titles[state] ?? state, text));
}

lifecycle.on('state', (state: EngineStateInfo['state'], detail?: string) => {
  stateInfo = { state, detail };
  if (state !== 'running') {
    endpoint = undefined;
    showStatus();
  }
  if (win && !win.isDestroyed()) win.webContents.send(CHANNELS.engineStateChanged, stateInfo);
});

lifecycle.on('ready', (ep: EngineEndpoint) => {
  endpoint = ep;
  setTrustedOrigin(`http://127.0.0.1:${ep.port}`);
  void win?.loadURL(ep.url);
});

/** ipcMain.handle, answering only our own top-level page. */
function handle(channel: string, fn: (e: IpcMainInvokeEvent, ...args: unknown[]) => unknown): void {
  ipcMain.handle(channel, (event, ...args) => {
    if (!isTrustedSender(event.senderFrame)) throw new Error('not allowed');
    return fn(event, ...args);
  });
}

function registerIpc(): void {
  handle(CHANNELS.openImage, async () => {
    const r = await dialog.showOpenDialog(win!, {
      title: 'Add a boot image',
      properties: ['openFile', 'multiSelections'],
      filters: [
        { name: 'Boot images', extensions: ['iso', 'img', 'efi', 'ipxe', 'kpxe', 'pxe', '0'] },
        { name: 'All files', extensions: ['*'] },
      ],
    });
    return r.canceled ? [] : r.filePaths;
  });
  handle(CHANNELS.saveLogs, async (_e, fileName, content) => {
    if (typeof fileName !== 'string' || typeof content !== 'string') throw new Error('bad arguments');
    const r = await dialog.showSaveDialog(win!, { title: 'Export log', defaultPath: join(app.getPath('documents'), fileName.replace(/[\\/]/g, '_')) });
    if (r.canceled || !r.filePath) return null;
    await writeFile(r.filePath, content);
    return r.filePath;
  });
  handle(CHANNELS.connection, () => {
    if (!endpoint) throw new Error(`the engine is not running (${stateInfo.state})`);
    return { url: endpoint.wsUrl, token: endpoint.token };
  });
  handle(CHANNELS.engineState, () => stateInfo);
  handle(CHANNELS.restartEngine, async () => {
    await lifecycle.start().catch(() => undefined); // outcome arrives as state changes
  });
}

function createWindow(): void {
  win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 900,
    minHeight: 600,
    title: 'PXE Kit',
    show: true,
    webPreferences: { ...WEB_PREFERENCES, preload: join(here, 'preload.cjs') },
  });
  win.on('closed', () => (win = undefined));
  showStatus();
}

function buildMenu(): void {
  const mac = process.platform === 'darwin';
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      ...(mac ? [{ role: 'appMenu' as const }] : []),
      { role: 'fileMenu' },
      { role: 'editMenu' },
      {
        label: 'Engine',
        submenu: [
          { label: 'Start engine', click: () => void lifecycle.start().catch(() => undefined) },
          { label: 'Stop engine', click: () => void lifecycle.stop() },
        ],
      },
      { role: 'viewMenu' },
      { role: 'windowMenu' },
    ]),
  );
}

// Before 'ready': sandbox every renderer, guard navigation and new windows.
hardenApp();

// One instance: two would fight over the same ports.
if (!app.requestSingleInstanceLock()) app.quit();
app.on('second-instance', () => win?.focus());

app.whenReady().then(() => {
  installSecurity(session.defaultSession, () => endpoint?.port);
  registerIpc();
  buildMenu();
  createWindow();
  void lifecycle.start().catch(() => undefined);
});

app.on('window-all-closed', () => app.quit());

// Quit stops the engine first (ports released), then really quits.
let quitting = false;
app.on('before-quit', (event) => {
  if (quitting) return;
  event.preventDefault();
  quitting = true;
  void lifecycle.stop().finally(() => app.quit());
});
