// Serves the built renderer (renderer/dist) to a browser on 127.0.0.1, with a
// strict CSP. Only files under the root; no listings; unknown routes get the
// app's index.html (the UI routes client-side).
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentSecurityPolicy } from './csp.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

export { contentSecurityPolicy };

/** renderer/dist next to the package (dist/src/api/ -> ../../../renderer/dist), or PXEKIT_RENDERER_DIR. */
export function defaultRendererDir(): string {
  if (process.env.PXEKIT_RENDERER_DIR) return process.env.PXEKIT_RENDERER_DIR;
  return fileURLToPath(new URL('../../../renderer/dist/', import.meta.url));
}

const PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>PXE Kit</title></head>
<body><h1>PXE Kit engine is running</h1><p>The user interface files are missing: reinstall PXE Kit
(from a source checkout: <code>npm run build:renderer</code>, or set PXEKIT_RENDERER_DIR). The API is available on this address over WebSocket.</p></body></html>`;

export class StaticFiles {
  private readonly root: string;

  constructor(root: string | null) {
    this.root = root ? resolve(root) : '';
  }

  get available(): boolean {
    return Boolean(this.root) && existsSync(join(this.root, 'index.html'));
  }

  async handle(req: IncomingMessage, res: ServerResponse, port: number): Promise<void> {
    res.setHeader('Content-Security-Policy', contentSecurityPolicy(port));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (path.includes('\0') || path.includes('\\') || path.split('/').includes('..')) {
      res.writeHead(404).end();
      return;
    }
    if (!this.available) {
      res.writeHead(200, { 'Content-Type': TYPES['.html'], 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : PLACEHOLDER);
      return;
    }
    let file = await this.resolveFile(path);
    // Client-side routes ("/clients/52:54:...") get the app; missing assets stay 404.
    if (!file && !extname(path)) file = join(this.root, 'index.html');
    if (!file) {
      res.writeHead(404, { 'Content-Type': TYPES['.txt'] }).end('not found');
      return;
    }
    const st = await fsp.stat(file);
    const isIndex = file.endsWith(`${sep}index.html`);
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      // Hashed bundle names are immutable; index.html must always be fresh.
      'Cache-Control': isIndex ? 'no-store' : 'max-age=3600',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  }

  /** The real file for a URL path, only if it stays inside the root (symlinks included). */
  private async resolveFile(path: string): Promise<string | undefined> {
    const rel = path === '/' || path.endsWith('/') ? `${path}index.html` : path;
    const candidate = resolve(this.root, `.${rel}`);
    try {
      const real = await fsp.realpath(candidate);
      const realRoot = await fsp.realpath(this.root);
      if (real !== realRoot && !real.startsWith(realRoot + sep)) return undefined;
      const st = await fsp.stat(real);
      return st.isFile() ? real : undefined;
    } catch {
      return undefined;
    }
  }
}
