// Above every screen: what is wrong with the site (the engine's status.site and
// diagnoses about no machine in particular), and whether the engine can be reached
// at all. Errors are alerts; the rest are polite status messages.
import { useEffect, useState, type ReactNode } from 'react';
import type { CommandName, Commands, SiteProblem, StatusEvent } from '../api/types.js';
import { command } from '../store/feed.js';
import { applyStatus, useStatus } from '../store/status.js';
import { bySeverity, dismissSiteNotice, useSite } from '../store/site.js';
import { formatDuration } from '../format.js';
import { errorText } from './common.js';

type ActionId = NonNullable<SiteProblem['action']>['id'];

/** The one-click fix of a site problem: the API's serve.action (sent through the same command helper as every screen). */
export async function siteAction(id: ActionId): Promise<void> {
  const cmd = 'serve.action' as CommandName;
  const st = (await command(cmd, { id } as unknown as Commands[typeof cmd]['params'])) as StatusEvent | undefined;
  if (st?.type === 'status') applyStatus(st);
}

/** Ticks once a second while `on`, so "for 12 s" counts up. */
function useNow(on: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    setNow(Date.now());
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, [on]);
  return now;
}

function Problem({ p }: { p: SiteProblem }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const act = async (id: ActionId) => {
    setBusy(true);
    setError(undefined);
    try {
      await siteAction(id);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className={`banner sev-${p.severity}`} role={p.severity === 'error' ? 'alert' : 'status'} data-code={p.code}>
      <div className="banner-text">
        <strong>{p.title}</strong> <span>{p.fix}</span>
        {error && <div className="banner-error">{error}</div>}
      </div>
      {p.action && (
        <button type="button" className="primary" disabled={busy} onClick={() => void act(p.action!.id)}>
          {p.action.label}
        </button>
      )}
    </div>
  );
}

export function SiteBanner() {
  const { status, connection, disconnectedSince, tokenRefused } = useStatus();
  const notices = useSite((s) => s.notices);
  const down = connection !== 'open' && disconnectedSince !== undefined;
  const now = useNow(down);

  const items: ReactNode[] = [];
  if (down && tokenRefused) {
    items.push(
      <div key="token" className="banner sev-error" role="alert" data-code="token-refused">
        <div className="banner-text">
          <strong>This page's access token is no longer valid:</strong> <span>open PXE Kit's address again (pxekit serve --ui prints it).</span>
        </div>
      </div>,
    );
  } else if (down) {
    const secs = Math.max(0, (now - disconnectedSince) / 1000);
    items.push(
      <div key="outage" className="banner sev-error" role="alert" data-code="engine-unreachable">
        <div className="banner-text">
          {/* The count ticks every second: kept out of the live region so it is not re-announced each time. */}
          <strong>PXE Kit's engine is not reachable</strong> <span aria-hidden="true">(for {formatDuration(secs)})</span>.{' '}
          <span>Machines may still be booting, but PXE Kit cannot see them: the machine list shows the last known state. Commands are refused until the engine is back; PXE Kit keeps trying to reconnect.</span>
        </div>
      </div>,
    );
  }
  // While the engine is unreachable its last list of problems is as stale as the rows.
  if (!down) for (const p of bySeverity(status?.site)) items.push(<Problem key={`${p.code}-${p.since}`} p={p} />);
  // A site diagnosis the engine also keeps as a site problem is said once, by the problem (it carries the action).
  const shown = new Set((status?.site ?? []).map((p) => p.code));
  for (const n of notices) {
    if (!down && n.diagnosis.keptAs && shown.has(n.diagnosis.keptAs)) continue;
    items.push(
      <div key={n.key} className="banner sev-warn" role="status" data-code={n.diagnosis.code}>
        <div className="banner-text">
          <strong>{n.diagnosis.title}</strong> <span>{n.diagnosis.fix}</span>
        </div>
        <button type="button" onClick={() => dismissSiteNotice(n.key)} aria-label={`Dismiss: ${n.diagnosis.title}`}>
          Dismiss
        </button>
      </div>,
    );
  }
  if (items.length === 0) return null;
  return (
    <section className="site-banner" aria-label="Site problems">
      {items}
    </section>
  );
}
