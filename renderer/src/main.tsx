// Entry point of the real UI: the WebSocket transport to the engine (endpoint and
// token from the Electron bridge, or from this page's host and #token=...).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { resolveConnection } from './api/bridge.js';
import { WsTransport } from './api/ws-transport.js';
import { connectStores } from './store/feed.js';
import './styles.css';

connectStores(new WsTransport({ endpoint: resolveConnection }));
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
