// Component-test page: the real App over the in-memory FakeTransport, driven by
// the UI tests through window.__pxekitFake (and window.__pxekitLog for bulk lines).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { FakeTransport } from './api/fake-transport.js';
import { WsTransport } from './api/ws-transport.js';
import type { ApiEvent } from './api/types.js';
import { connectStores } from './store/feed.js';
import { useUi, type Screen } from './store/ui.js';
import './styles.css';

declare global {
  interface Window {
    __pxekitFake: FakeTransport;
    __pxekitHarness: {
      emitMany(events: ApiEvent[]): void;
      /** n synthetic log events, as the engine would send them, in one burst. */
      floodLog(n: number, macs: string[]): void;
      show(screen: Screen): void;
    };
    /** The real WebSocket transport, for tests against a scripted server. */
    __pxekitWsTransport: typeof WsTransport;
  }
}

const fake = new FakeTransport();
window.__pxekitFake = fake;
window.__pxekitWsTransport = WsTransport;
window.__pxekitHarness = {
  emitMany: (events) => events.forEach((e) => fake.emit(e)),
  floodLog(n, macs) {
    const sources = ['dhcp', 'tftp', 'http', 'boot', 'engine'] as const;
    const levels = ['debug', 'info', 'info', 'info', 'warn', 'error'] as const;
    const t0 = Date.now() - n;
    for (let i = 0; i < n; i++) {
      fake.emit({ type: 'log', at: t0 + i, level: levels[i % levels.length], source: sources[i % sources.length], message: `flood line ${i}`, mac: macs[i % macs.length] });
    }
  },
  show: (screen) => useUi.setState({ screen }),
};
// harness.html?ws=URL&token=T: the same App over the real WebSocket transport, against a scripted engine.
const wsParams = new URLSearchParams(location.search);
const wsUrl = wsParams.get('ws');
if (wsUrl) connectStores(new WsTransport({ endpoint: async () => ({ url: wsUrl, token: wsParams.get('token') ?? '' }), minDelayMs: 100, maxDelayMs: 500 }));
else connectStores(fake);
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
