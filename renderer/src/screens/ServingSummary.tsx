// What is being served right now, on the screens where it is chosen: the image (marked in the
// library too), the mode, the NIC and since when. Nothing red on a stopped engine.
import { useEffect, useState } from 'react';
import type { StatusEvent } from '../api/types.js';
import { useLibrary } from '../store/library.js';
import { useStatus } from '../store/status.js';

/** "3 h 12 min", "12 min", "40 s". */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The library entry being served, by its path (the engine's status.imagePath). */
export function servedPath(status: StatusEvent | null | undefined): string | undefined {
  return status?.state === 'serving' ? status.imagePath : undefined;
}

export function ServingSummary() {
  const status = useStatus((s) => s.status);
  const entries = useLibrary((s) => s.entries);
  const [now, setNow] = useState(() => Date.now());
  const serving = status?.state === 'serving';
  useEffect(() => {
    if (!serving) return;
    const t = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(t);
  }, [serving]);
  if (!status || !serving) return null;
  const path = servedPath(status);
  const entry = path ? entries.find((e) => e.path === path) : undefined;
  const image = entry?.name ?? status.image ?? (path ? path.split('/').pop() : 'the library menu and assignments');
  const since = status.servingSince;
  return (
    <div className="serving-summary" role="status" aria-label="Now serving">
      <strong>Serving</strong> <span data-testid="served-image">{image}</span>
      <span className="sep"> · </span>
      {status.mode === 'proxy' ? 'Proxy DHCP' : 'DHCP server'}
      <span className="sep"> · </span>
      on {status.iface}
      {status.address ? ` (${status.address})` : ''}
      {since !== undefined && (
        <>
          <span className="sep"> · </span>
          <span data-testid="serving-since">
            since {new Date(since).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} ({elapsed(Math.max(now, Date.now()) - since)})
          </span>
        </>
      )}
    </div>
  );
}
