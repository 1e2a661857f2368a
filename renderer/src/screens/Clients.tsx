// Step 3: every machine that asked to boot, one row each, live.
import { Fragment, useState } from 'react';
import { STATE_LABELS, type ClientSession } from '../api/types.js';
import { ARCH_LABELS, diagnosis, firmwareOf, vendorOf } from '../diagnosis.js';
import { clockTime, etaSeconds, formatBytes, formatDuration, formatRate } from '../format.js';
import { sessionsInOrder, useSessions } from '../store/sessions.js';
import { ProgressBar } from './common.js';

function progressText(s: ClientSession): string {
  const parts = [`${Math.round(s.progress)}%`];
  const t = s.current;
  if (t && t.state === 'running') {
    parts.push(`${t.role ?? t.file}: ${formatBytes(t.bytes)}${t.size ? ` of ${formatBytes(t.size)}` : ''}`);
    if (t.rate > 0) parts.push(formatRate(t.rate));
    const eta = etaSeconds(t.bytes, t.size, t.rate);
    if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  }
  return parts.join(' · ');
}

function Timeline({ s }: { s: ClientSession }) {
  return (
    <div className="timeline">
      <h3>Timeline of {s.mac}</h3>
      <ol>
        {s.timeline.map((e, i) => (
          <li key={i} className={`tl-${e.state}`}>
            <time dateTime={new Date(e.at).toISOString()}>{clockTime(e.at)}</time> <strong>{STATE_LABELS[e.state]}</strong> {e.text}
          </li>
        ))}
      </ol>
      {s.transfers.length > 0 && (
        <>
          <h4>Files</h4>
          <ul className="transfers">
            {s.transfers.map((t) => (
              <li key={t.id}>
                {t.protocol.toUpperCase()} {t.file} {t.role ? `(${t.role})` : ''} — {formatBytes(t.bytes)}
                {t.size ? ` of ${formatBytes(t.size)}` : ''}, {t.state}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

function Row({ s, open, toggle }: { s: ClientSession; open: boolean; toggle: () => void }) {
  const vendor = vendorOf(s.mac);
  const fw = firmwareOf(s.vendorClass);
  const rowId = `client-${s.mac.replace(/:/g, '')}`;
  return (
    <Fragment>
      <tr className={`client state-${s.state}`} data-mac={s.mac} onClick={toggle}>
        <th scope="row">
          <button type="button" className="link" aria-expanded={open} aria-controls={`${rowId}-tl`} onClick={(e) => (e.stopPropagation(), toggle())}>
            <code>{s.mac}</code>
          </button>
        </th>
        <td>
          {vendor ?? <span className="hint">unknown</span>}
          {fw && <div className="hint">{fw}</div>}
        </td>
        <td>{s.ip ?? <span className="hint">none yet</span>}</td>
        <td>
          {ARCH_LABELS[s.arch ?? 'unknown']}
          {s.isIpxe && <div className="hint">iPXE</div>}
        </td>
        <td>
          <span className={`state badge s-${s.state}`} data-state={s.state}>
            {STATE_LABELS[s.state]}
          </span>
          {s.boots > 1 && <div className="hint">boot #{s.boots}</div>}
        </td>
        <td className="progress-cell">
          <ProgressBar value={s.progress} label={`Boot progress of ${s.mac}`} text={progressText(s)} />
          <div className="hint progress-text">{progressText(s)}</div>
        </td>
        <td className="failure">
          {s.failure || s.diagnosis ? (
            // What happened (the session's failure), then why and what to do: the engine's own
            // diagnosis from what it saw on the wire when it has one, else generic advice.
            <div>
              <strong>{s.failure?.message ?? s.diagnosis?.title}</strong>
              {(s.diagnosis?.pxeError ?? s.failure?.pxeError) && <div>Screen shows: {s.diagnosis?.pxeError ?? s.failure?.pxeError}</div>}
              {s.diagnosis && s.diagnosis.causes.length > 0 && (
                <ul className="causes" aria-label="Likely causes">
                  {s.diagnosis.causes.map((c) => (
                    <li key={c}>{c}</li>
                  ))}
                </ul>
              )}
              <div className="diagnosis">{s.diagnosis?.fix ?? (s.failure ? diagnosis(s.failure) : '')}</div>
            </div>
          ) : (
            <span className="hint">—</span>
          )}
        </td>
      </tr>
      {open && (
        <tr className="timeline-row" id={`${rowId}-tl`}>
          <td colSpan={7}>
            <Timeline s={s} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

export function Clients() {
  const byMac = useSessions((s) => s.byMac);
  const [open, setOpen] = useState<string>();
  const list = sessionsInOrder(byMac);
  return (
    <section aria-labelledby="clients-title" className="screen">
      <div className="screen-head">
        <h2 id="clients-title">Machines</h2>
        <span className="hint">{list.length === 0 ? 'Power on the machines to boot: each appears here as soon as it asks.' : 'Select a MAC for its timeline.'}</span>
      </div>
      <table className="grid clients" aria-label="Machines booting">
        <thead>
          <tr>
            <th scope="col">MAC</th>
            <th scope="col">Vendor</th>
            <th scope="col">IP</th>
            <th scope="col">Architecture</th>
            <th scope="col">State</th>
            <th scope="col">Progress</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {list.length === 0 && (
            <tr>
              <td colSpan={7} className="hint">
                No machine yet.
              </td>
            </tr>
          )}
          {list.map((s) => (
            <Row key={s.mac} s={s} open={open === s.mac} toggle={() => setOpen(open === s.mac ? undefined : s.mac)} />
          ))}
        </tbody>
      </table>
    </section>
  );
}
