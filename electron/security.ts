// Every Electron hardening decision in one place, to review at a glance
// (Electron's security checklist): sandboxed, isolated, no Node in the page,
// a strict CSP, no navigation away, no new windows, no permissions but notifications, and IPC
// accepted only from our own top-level page.
import { app, type Session, type WebFrameMain, type WebPreferences } from 'electron';
import { contentSecurityPolicy } from '../src/api/csp.js';

export const WEB_PREFERENCES: WebPreferences = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  experimentalFeatures: false,
  navigateOnDragDrop: false,
  spellcheck: false,
};

/** The engine's UI origin, http://127.0.0.1:PORT (it changes only if the port had to). */
let trusted: string | undefined;

export function setTrustedOrigin(origin: string | undefined): void {
  trusted = origin;
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

export function isTrustedUrl(url: string): boolean {
  return trusted !== undefined && originOf(url) === trusted;
}

/** IPC is answered only for our page's top frame (not an iframe, not another origin). */
export function isTrustedSender(frame: WebFrameMain | null | undefined): boolean {
  return Boolean(frame && frame.parent === null && isTrustedUrl(frame.url));
}

/** The policy the engine sends with the page (src/api/csp.ts), enforced here too in case anything else loads. */
export { contentSecurityPolicy };

/** The status page shown before the engine is up: no scripts at all. */
export const STATUS_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'";

/** Must run before the app is ready. */
export function hardenApp(): void {
  app.enableSandbox();
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (event, url) => {
      if (!isTrustedUrl(url)) event.preventDefault();
    });
    contents.on('will-redirect', (event, url) => {
      if (!isTrustedUrl(url)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

/** Per-session rules, once the app is ready. */
export function installSecurity(ses: Session, port: () => number | undefined): void {
  // Desktop notifications (a machine failed or finished) for the engine's own page; nothing else.
  ses.setPermissionRequestHandler((_wc, permission, callback, details) => callback(permission === 'notifications' && isTrustedUrl(details.requestingUrl)));
  ses.setPermissionCheckHandler((_wc, permission, requestingOrigin) => permission === 'notifications' && isTrustedUrl(requestingOrigin));
  ses.setDevicePermissionHandler(() => false);
  // Only our engine's origin (page and WebSocket), our own data: status page, and devtools.
  ses.webRequest.onBeforeRequest((details, callback) => {
    const origin = originOf(details.url);
    const ok = isTrustedUrl(details.url) || (trusted !== undefined && origin === trusted.replace(/^http:/, 'ws:')) || details.url.startsWith('data:text/html') || details.url.startsWith('devtools://');
    callback({ cancel: !ok });
  });
  ses.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-security-policy') delete headers[k];
    const p = port();
    headers['Content-Security-Policy'] = [p ? contentSecurityPolicy(p) : STATUS_PAGE_CSP];
    callback({ responseHeaders: headers });
  });
}
