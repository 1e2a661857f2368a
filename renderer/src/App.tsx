// The window: header (screens, theme), the current screen, the status bar.
import { useEffect, useRef } from 'react';
import { Clients } from './screens/Clients.js';
import { Library } from './screens/Library.js';
import { LogViewer } from './screens/LogViewer.js';
import { NicPicker } from './screens/NicPicker.js';
import { SiteBanner } from './screens/SiteBanner.js';
import { StatusBar } from './screens/StatusBar.js';
import { startNotices } from './store/notices.js';
import { useSessions } from './store/sessions.js';
import { setTheme, useUi, type Screen, type Theme } from './store/ui.js';

const SCREENS: Array<{ id: Screen; label: string }> = [
  { id: 'network', label: 'Network' },
  { id: 'images', label: 'Images' },
  { id: 'clients', label: 'Machines' },
  { id: 'log', label: 'Log' },
];

export function App() {
  const screen = useUi((s) => s.screen);
  const theme = useUi((s) => s.theme);
  const clients = Object.keys(useSessions((s) => s.byMac)).length;
  const stale = useSessions((s) => s.stale);

  useEffect(() => {
    if (theme === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
  }, [theme]);

  // A notification (and, when asked for, a beep) when a machine fails or is handed off, whatever the screen.
  useEffect(() => startNotices(), []);

  // A new screen opens at its top, with focus on its first field (not where the last screen was scrolled).
  const shown = useRef(screen);
  useEffect(() => {
    if (shown.current === screen) return;
    shown.current = screen;
    window.scrollTo(0, 0);
    document.querySelector('main')?.scrollTo?.(0, 0);
    const first = document.querySelector<HTMLElement>('main .screen :is(input:not([type=hidden]), select, textarea):not([disabled])');
    (first ?? document.querySelector<HTMLElement>('main .screen h2'))?.focus({ preventScroll: true });
  }, [screen]);

  // Alt+1..4 jumps between screens from anywhere.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const i = Number(e.key) - 1;
      if (i >= 0 && i < SCREENS.length) {
        e.preventDefault();
        useUi.setState({ screen: SCREENS[i].id });
      }
    };
    window.addEventListener('keydown', onKey);
    // A file dropped outside the drop zone must not navigate the window away from the UI.
    const block = (e: DragEvent) => e.preventDefault();
    window.addEventListener('dragover', block);
    window.addEventListener('drop', block);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('dragover', block);
      window.removeEventListener('drop', block);
    };
  }, []);

  return (
    <div className="app">
      <header className="topbar">
        <h1>PXE Kit</h1>
        <nav aria-label="Screens">
          <ul>
            {SCREENS.map((s, i) => (
              <li key={s.id}>
                <button type="button" aria-current={screen === s.id ? 'page' : undefined} onClick={() => useUi.setState({ screen: s.id })} title={`Alt+${i + 1}`}>
                  {s.label}
                  {s.id === 'clients' && clients > 0 ? ` (${clients})` : ''}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <label className="theme">
          Theme
          <select value={theme} onChange={(e) => setTheme(e.target.value as Theme)}>
            <option value="system">System</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
      </header>
      <SiteBanner />
      {/* While the engine is unreachable the machines shown are the last known state: greyed (styles.css, .stale). */}
      <main className={stale ? 'stale' : undefined} data-stale={stale ? 'true' : undefined}>
        {screen === 'network' && <NicPicker />}
        {screen === 'images' && <Library />}
        {screen === 'clients' && <Clients />}
        {screen === 'log' && <LogViewer />}
      </main>
      <StatusBar />
    </div>
  );
}
