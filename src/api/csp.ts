// The one content security policy of PXE Kit's page: the engine sends it with every page it
// serves (src/api/static-files.ts), and the Electron shell enforces it on its window too
// (electron/security.ts). Only our own scripts; WebSockets only back to this engine's port.
// No imports: the Electron app packs this file alone (build/electron-builder.yml).

export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
}
