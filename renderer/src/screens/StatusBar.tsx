// Always on screen: where and how PXE Kit serves, how many machines it served; Stop.
import { useState } from 'react';
import { command } from '../store/feed.js';
import { useSessions } from '../store/sessions.js';
import { useStatus } from '../store/status.js';
import { useLibrary } from '../store/library.js';
import { worstSiteProblem } from '../store/site.js';
import { BOOTED_STATES, type LibraryEntry, type StatusEvent } from '../api/types.js';
import { errorText } from './common.js';

const STATE_TEXT: Record<string, string> = {
  starting: 'Starting',
  probing: 'Looking for other DHCP servers',
  serving: 'Serving',
  stopping: 'Stopping',
  stopped: 'Stopped',
  error: 'Error',
};

/** The Windows image being served without wimboot, if that is what is served (its path, or its file name in the engine's description). */
export function servedWithoutWimboot(status: StatusEvent | null | undefined, entries: LibraryEntry[]): LibraryEntry | undefined {
  const image = status?.image;
  if (!image) return undefined;
  const base = (p: string) => p.split(/[\\/]/).pop() ?? p;
  return entries.find((e) => e.wimboot === 'missing' && (image === e.path || image.includes(base(e.path))));
}

export function StatusBar() {
  const { status, connection, connectionDetail, tokenRefused } = useStatus();
  const byMac = useSessions((s) => s.byMac);
  const entries = useLibrary((s) => s.entries);
  const [error, setError] = useState<string>();
  const sessions = Object.values(byMac);
  const served = sessions.filter((s) => BOOTED_STATES.has(s.state)).length;
  const state = status?.state ?? 'stopped';
  const active = state === 'serving' || state === 'probing' || state === 'starting';
  const p = status?.ports;
  const noWimboot = servedWithoutWimboot(status, entries);
  // Not a plain green "Serving" while something about the site is wrong: the worst problem, in its colour.
  const worst = connection === 'open' ? worstSiteProblem(status?.site) : undefined;

  const stop = async () => {
    setError(undefined);
    try {
      await command('serve.stop', {});
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <footer className={`statusbar st-${state}`} aria-label="Serving status">
      <span className={`dot ${connection === 'open' ? (worst ? `sev-${worst.severity}` : active ? 'on' : 'idle') : 'off'}`} aria-hidden="true" />
      <dl>
        <div>
          <dt>Engine</dt>
          <dd data-testid="engine-state" data-severity={worst?.severity} title={worst?.fix}>
            {connection === 'open'
              ? worst
                ? `${STATE_TEXT[state]}: ${worst.title}`
                : STATE_TEXT[state]
              : tokenRefused
                ? 'Access token no longer valid'
                : connection === 'connecting'
                  ? 'Connecting…'
                  : (connectionDetail ?? 'Disconnected')}
          </dd>
        </div>
        <div>
          <dt>Interface</dt>
          <dd>{status?.iface ? `${status.iface}${status.address ? ` (${status.address})` : ''}` : '—'}</dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd title={status?.modeReason}>{status?.mode ? (status.mode === 'proxy' ? 'Proxy DHCP' : 'DHCP server') : '—'}</dd>
        </div>
        <div>
          <dt>Ports</dt>
          <dd>{p ? `DHCP ${p.dhcp} · PXE ${p.pxe} · TFTP ${p.tftp} · HTTP ${p.http}` : '—'}</dd>
        </div>
        <div>
          <dt>Machines served</dt>
          <dd data-testid="served-count">
            {served} of {sessions.length}
          </dd>
        </div>
      </dl>
      {active && noWimboot && (
        <span className="status-message warn" role="status">
          {noWimboot.name}: no wimboot, sanboot of the whole ISO (setup may stop with “a media driver is missing”). Fix it under Images.
        </span>
      )}
      {active && !noWimboot && status?.imageWarning && (
        <span className="status-message warn" role="status">
          {status.imageWarning}
        </span>
      )}
      {state === 'error' && status?.message && (
        <span className="status-message" role="alert">
          {status.message}
        </span>
      )}
      {error && (
        <span className="status-message" role="alert">
          {error}
        </span>
      )}
      <button type="button" className="danger" onClick={() => void stop()} disabled={!active || connection !== 'open'}>
        Stop serving
      </button>
    </footer>
  );
}
