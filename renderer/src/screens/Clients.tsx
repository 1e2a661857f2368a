// Step 3: the room. Every machine that asked to boot, one line each: counts per state
// (also the filters), a search, failures and stalls first, progress by bytes and steps,
// the technician's label; the diagnosis and the timeline one click away.
import { Fragment, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { create } from 'zustand';
import { STATE_LABELS, type ClientSession, type EvidenceFiles } from '../api/types.js';
import { ARCH_LABELS, diagnosis, firmwareOf, vendorOf } from '../diagnosis.js';
import { clockTime, etaSeconds, formatBytes, formatDuration, formatRate } from '../format.js';
import { GROUP_LABELS, GROUPS, countByGroup, groupOf, matchesQuery, percentOf, roomOrder, searchText, stepText, type Group } from '../room/room.js';
import { command } from '../store/feed.js';
import { useLabels } from '../store/labels.js';
import { useAssignments, useLibrary } from '../store/library.js';
import { setNotify, setSound, useNotices } from '../store/notices.js';
import { useSessions } from '../store/sessions.js';
import { ErrorNote, ProgressBar, errorText } from './common.js';

const COLUMNS = 4;

/** Machines restored from the previous run (sessions.json) are hidden once the technician clears them, until the engine restarts. */
const usePreviousRun = create<{ hidden: boolean }>(() => ({ hidden: false }));

function progressText(s: ClientSession): string {
  const parts = [`${percentOf(s)}%`];
  const t = s.current;
  if (t && t.state === 'running') {
    parts.push(`${t.role ?? t.file}: ${formatBytes(t.bytes)}${t.size ? ` of ${formatBytes(t.size)}` : ''}`);
    if (t.rate > 0) parts.push(formatRate(t.rate));
    const eta = etaSeconds(t.bytes, t.size, t.rate);
    if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  }
  return parts.join(' · ');
}

/** The few words a line has room for: the byte count of the running download. */
function bytesShort(s: ClientSession): string | undefined {
  const t = s.current;
  if (!t || t.state !== 'running') return undefined;
  return `${t.role ?? t.file} ${formatBytes(t.bytes)}${t.size ? ` of ${formatBytes(t.size)}` : ''}`;
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

/** What happened (the session's failure), then why and what to do: the engine's diagnosis from the wire when it has one, else generic advice. */
function Diagnosis({ s }: { s: ClientSession }) {
  if (!s.failure && !s.diagnosis) return null;
  return (
    <div className="failure room-diagnosis">
      <strong>{s.failure?.message ?? s.diagnosis?.title}</strong>
      {s.failure && s.diagnosis && s.diagnosis.title !== s.failure.message && <div>{s.diagnosis.title}</div>}
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
  );
}

function Details({ s, id, label }: { s: ClientSession; id: string; label?: string }) {
  const vendor = vendorOf(s.mac);
  const fw = firmwareOf(s.vendorClass);
  return (
    <tr className="details-row" id={id} role="row">
      <td colSpan={COLUMNS} role="cell">
        <div className="room-details">
          <dl className="room-facts">
            {label && (
              <div>
                <dt>MAC</dt>
                <dd>
                  <code>{s.mac}</code>
                </dd>
              </div>
            )}
            <div>
              <dt>Vendor</dt>
              <dd>
                {vendor ?? 'unknown'}
                {fw && ` · ${fw}`}
              </dd>
            </div>
            <div>
              <dt>Architecture</dt>
              <dd>
                {ARCH_LABELS[s.arch ?? 'unknown']}
                {s.isIpxe && ' · iPXE'}
              </dd>
            </div>
            <div>
              <dt>Progress</dt>
              <dd>
                {stepText(s)} · {progressText(s)}
              </dd>
            </div>
            {s.boots > 1 && (
              <div>
                <dt>Boots</dt>
                <dd>{s.boots}</dd>
              </div>
            )}
          </dl>
          <Diagnosis s={s} />
          <Timeline s={s} />
        </div>
      </td>
    </tr>
  );
}

/** The label, edited in place: Enter or leaving the field saves, Escape cancels, empty removes it. */
function LabelEdit({ mac, label, done }: { mac: string; label?: string; done: () => void }) {
  const [value, setValue] = useState(label ?? '');
  const [error, setError] = useState<string>();
  const ref = useRef<HTMLInputElement>(null);
  const settled = useRef(false);
  useEffect(() => ref.current?.select(), []);
  const save = async (e?: FormEvent) => {
    e?.preventDefault();
    if (settled.current) return;
    settled.current = true;
    if (value.trim() === (label ?? '')) return done();
    try {
      await command('machines.setLabel', { mac, label: value.trim() });
      done();
    } catch (err) {
      settled.current = false;
      setError(errorText(err));
    }
  };
  return (
    <form className="label-edit" onSubmit={(e) => void save(e)} onClick={(e) => e.stopPropagation()}>
      <input
        ref={ref}
        value={value}
        maxLength={40}
        aria-label={`Label for ${mac}`}
        placeholder="e.g. Desk 12"
        onChange={(e) => setValue(e.target.value)}
        onBlur={() => void save()}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            settled.current = true;
            done();
          }
        }}
      />
      <ErrorNote text={error} />
    </form>
  );
}

function Row({ s, now, label, open, toggle }: { s: ClientSession; now: number; label?: string; open: boolean; toggle: () => void }) {
  const [editing, setEditing] = useState(false);
  const rowId = `client-${s.mac.replace(/:/g, '')}`;
  const previous = s.previousRun === true;
  const group = groupOf(s, now);
  const name = label ?? s.mac;
  const pxe = s.diagnosis?.pxeError ?? s.failure?.pxeError;
  const problem = s.diagnosis?.title ?? s.failure?.message;
  return (
    <Fragment>
      <tr className={`client state-${s.state} g-${group}${previous ? ' previous-run' : ''}`} data-mac={s.mac} data-group={previous ? 'previous' : group} onClick={toggle} role="row">
        <th scope="row" role="rowheader" className="machine">
          {editing ? (
            <LabelEdit mac={s.mac} label={label} done={() => setEditing(false)} />
          ) : (
            <>
              <button
                type="button"
                className="link machine-name"
                aria-expanded={open}
                aria-controls={`${rowId}-tl`}
                title={label ? `${label} (${s.mac})` : s.mac}
                onClick={(e) => (e.stopPropagation(), toggle())}
              >
                {label ? (
                  <>
                    <span className="label-text">{label}</span>
                    <span className="sr-only"> {s.mac}</span>
                  </>
                ) : (
                  <code>{s.mac}</code>
                )}
              </button>
              <button type="button" className="icon label-button" aria-label="Edit label" title={`Give ${name} a name`} onClick={(e) => (e.stopPropagation(), setEditing(true))}>
                ✎
              </button>
            </>
          )}
        </th>
        <td role="cell" className="ip">
          {s.ip ?? <span className="hint">no IP yet</span>}
        </td>
        <td role="cell" className="state-cell">
          {previous ? (
            <span className="state badge previous" data-state={s.state} title={`From the previous run: ${STATE_LABELS[s.state]}`}>
              Previous run
            </span>
          ) : (
            <span className={`state badge s-${s.state} g-${group}`} data-state={s.state} title={STATE_LABELS[s.state]}>
              {GROUP_LABELS[group]}
            </span>
          )}
          {s.boots > 1 && <span className="hint"> #{s.boots}</span>}
        </td>
        {previous ? (
          <td role="cell" className="previous-note">
            from the previous run: {STATE_LABELS[s.state]}
            {problem ? ` · ${problem}` : ''}
          </td>
        ) : group === 'failed' ? (
          <td role="cell" className="failure" title={[pxe, problem].filter(Boolean).join(' · ')}>
            {pxe && <strong className="pxe-code">{pxe.split(':')[0]}</strong>} {problem ?? 'Failed'}
          </td>
        ) : (
          <td role="cell" className="progress-cell">
            <ProgressBar value={percentOf(s)} label={`Boot progress of ${name}`} text={progressText(s)} />
            <span className="step">{stepText(s)}</span>
            {bytesShort(s) && <span className="hint"> · {bytesShort(s)}</span>}
            {group === 'stalled' && <span className="hint"> · no news for {formatDuration(Math.round((now - s.lastSeen) / 1000))}</span>}
          </td>
        )}
      </tr>
      {open && <Details s={s} id={`${rowId}-tl`} label={label} />}
    </Fragment>
  );
}

function NoticeToggles() {
  const { notify, sound, permission } = useNotices();
  return (
    <div className="room-notices">
      <label>
        <input type="checkbox" checked={notify} onChange={(e) => void setNotify(e.target.checked)} /> Notify
      </label>
      {notify && permission === 'default' && (
        <button type="button" onClick={() => void setNotify(true)}>
          Allow notifications
        </button>
      )}
      {notify && permission === 'denied' && <span className="hint">blocked by the browser</span>}
      <label>
        <input type="checkbox" checked={sound} onChange={(e) => setSound(e.target.checked)} /> Sound
      </label>
    </div>
  );
}

/** The evidence of this run (pcapng and job report), written now into the engine's data folder. */
function SaveEvidence() {
  const [busy, setBusy] = useState(false);
  const [files, setFiles] = useState<EvidenceFiles>();
  const [error, setError] = useState<string>();
  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setFiles(await command('evidence.save', {}));
    } catch (e) {
      setFiles(undefined);
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="save-evidence">
      <button type="button" onClick={() => void save()} disabled={busy}>
        {busy ? 'Saving…' : 'Save evidence'}
      </button>
      <div aria-live="polite">
        <ErrorNote text={error} />
        {files && (
          <div className="evidence-files">
            Saved on the PXE Kit machine in <code>{files.dir}</code>: open the report in a browser, and send the capture with it to whoever looks at the network.
            <ul aria-label="Evidence files">
              <li>
                Report (open in a browser): <code data-file="html">{files.html}</code>
              </li>
              {files.pcapng && (
                <li>
                  Capture (Wireshark): <code data-file="pcapng">{files.pcapng}</code>
                </li>
              )}
              <li>
                Report data (JSON): <code data-file="json">{files.json}</code>
              </li>
            </ul>
          </div>
        )}
      </div>
    </div>
  );
}

export function Clients() {
  const byMac = useSessions((s) => s.byMac);
  const labels = useLabels((s) => s.labels);
  const assignments = useAssignments((s) => s.assignments);
  const library = useLibrary((s) => s.entries);
  const [open, setOpen] = useState<string>();
  const [filter, setFilter] = useState<Group>();
  const [query, setQuery] = useState('');
  // "Stalled" depends on the clock: look again every few seconds.
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);
  const everyone = useMemo(() => Object.values(byMac), [byMac]);
  // Machines from the previous run are not counted with this run's; they come after them, greyed, until cleared.
  const all = useMemo(() => everyone.filter((s) => !s.previousRun), [everyone]);
  const previous = useMemo(() => everyone.filter((s) => s.previousRun), [everyone]);
  const previousHidden = usePreviousRun((s) => s.hidden);
  const t = Math.max(now, Date.now());
  const counts = countByGroup(all, t);
  const imageOf = useMemo(() => {
    const names = new Map(library.map((e) => [e.id, e.name]));
    return new Map(assignments.map((a) => [a.mac, names.get(a.imageId) ?? a.imageId]));
  }, [assignments, library]);
  const shown = roomOrder(all, t).filter((s) => (!filter || groupOf(s, t) === filter) && (!query.trim() || matchesQuery(searchText(s, t, labels[s.mac], imageOf.get(s.mac)), query)));
  const matches = (s: ClientSession) => !query.trim() || matchesQuery(searchText(s, t, labels[s.mac], imageOf.get(s.mac)), query);
  const previousShown = previousHidden || filter !== undefined ? [] : roomOrder(previous, t).filter(matches);
  const narrowed = filter !== undefined || query.trim() !== '';
  return (
    <section aria-labelledby="clients-title" className="screen room">
      <div className="screen-head room-head">
        <h2 id="clients-title">Machines</h2>
        <div role="group" aria-label="Show machines by state" className="room-counts">
          <button type="button" aria-pressed={filter === undefined} onClick={() => setFilter(undefined)} data-count="all">
            All <strong>{all.length}</strong>
          </button>
          {GROUPS.map((g) => (
            <button key={g} type="button" className={`count g-${g}`} aria-pressed={filter === g} onClick={() => setFilter(filter === g ? undefined : g)} data-count={g}>
              {GROUP_LABELS[g]} <strong>{counts[g]}</strong>
            </button>
          ))}
        </div>
        <input type="search" className="room-search" aria-label="Search machines" placeholder="MAC, IP, label, image, state" value={query} onChange={(e) => setQuery(e.target.value)} />
        <NoticeToggles />
      </div>
      {previous.length > 0 && !previousHidden && (
        <p className="previous-run-note">
          {previous.length} machine{previous.length === 1 ? '' : 's'} from the previous run, greyed at the end of the list and not counted.{' '}
          <button type="button" className="link" onClick={() => usePreviousRun.setState({ hidden: true })}>
            Clear the previous run
          </button>
        </p>
      )}
      <div className="room-summary-row">
        <p className="hint room-summary" aria-live="polite">
          {all.length === 0
            ? 'Power on the machines to boot: each appears here as soon as it asks.'
            : narrowed
              ? `Showing ${shown.length} of ${all.length}.`
              : 'Failures first. Select a machine for its diagnosis and timeline; ✎ names it.'}
        </p>
        <SaveEvidence />
      </div>
      <table className="grid clients room-table" aria-label="Machines booting" role="table">
        <thead role="rowgroup">
          <tr role="row">
            <th scope="col" role="columnheader">
              Machine
            </th>
            <th scope="col" role="columnheader">
              IP
            </th>
            <th scope="col" role="columnheader">
              State
            </th>
            <th scope="col" role="columnheader">
              Progress or problem
            </th>
          </tr>
        </thead>
        <tbody role="rowgroup">
          {shown.length === 0 && previousShown.length === 0 && (
            <tr role="row" className="room-empty">
              <td colSpan={COLUMNS} className="hint" role="cell">
                {all.length === 0 ? 'No machine yet.' : 'No machine matches.'}
              </td>
            </tr>
          )}
          {shown.map((s) => (
            <Row key={s.mac} s={s} now={t} label={labels[s.mac]} open={open === s.mac} toggle={() => setOpen(open === s.mac ? undefined : s.mac)} />
          ))}
          {previousShown.map((s) => (
            <Row key={s.mac} s={s} now={t} label={labels[s.mac]} open={open === s.mac} toggle={() => setOpen(open === s.mac ? undefined : s.mac)} />
          ))}
        </tbody>
      </table>
    </section>
  );
}
