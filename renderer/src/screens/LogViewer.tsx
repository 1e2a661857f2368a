// The live log: up to 100,000 lines (and 32 MiB, store/log.ts), only the visible rows in the DOM (fixed row
// height, absolute positioning), filters, search, pause/follow and export.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { bridge } from '../api/bridge.js';
import type { LogLevel } from '../api/types.js';
import { clockTime } from '../format.js';
import { command } from '../store/feed.js';
import { FilteredLog, LOG_LEVELS, LOG_PROTOCOLS, logRing, useLog, type LogFilter, type LogProtocol } from '../store/log.js';
import { ErrorNote, errorText } from './common.js';

export const ROW_HEIGHT = 22;
const OVERSCAN = 10;

function download(fileName: string, content: string, type: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function LogViewer() {
  const version = useLog((s) => s.version);
  const macs = useLog((s) => s.macs);
  const [filter, setFilter] = useState<LogFilter>({ mac: '', protocol: '', minLevel: 'info', text: '' });
  const [paused, setPaused] = useState<number[] | null>(null);
  const [follow, setFollow] = useState(true);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const [format, setFormat] = useState<'text' | 'jsonl'>('text');
  const [error, setError] = useState<string>();
  const scroller = useRef<HTMLDivElement>(null);
  const index = useRef(new FilteredLog());

  // `version` is the ring's change counter: the ring itself is mutated in place.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const live = useMemo(() => index.current.matching(logRing, filter), [version, filter]);
  const seqs = paused ?? live;
  const total = seqs.length;

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && follow && !paused) {
      el.scrollTop = el.scrollHeight;
      setScrollTop(el.scrollTop);
    }
  }, [total, follow, paused]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    // Scrolling up to read stops following; reaching the bottom again resumes it.
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT;
    setFollow(atBottom);
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(total, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const rows = [];
  for (let i = first; i < last; i++) {
    const l = logRing.get(seqs[i]);
    rows.push(
      <div key={seqs[i]} className={`log-row lvl-${l?.level ?? 'info'}`} role="listitem" style={{ top: i * ROW_HEIGHT }} data-seq={seqs[i]}>
        {l ? (
          <>
            <span className="log-time">{clockTime(l.at)}</span>
            <span className="log-level">{l.level}</span>
            <span className="log-proto">{l.protocol}</span>
            <span className="log-mac">{l.mac ?? ''}</span>
            <span className="log-text">{l.text}</span>
          </>
        ) : (
          <span className="log-text hint">(line no longer in the buffer)</span>
        )}
      </div>,
    );
  }

  const exportLog = async () => {
    setError(undefined);
    try {
      const r = await command('logs.export', { format });
      // Desktop: a native save dialog; browser: a download.
      const save = bridge()?.saveLogs;
      if (save) await save(r.fileName, r.content);
      else download(r.fileName, r.content, format === 'jsonl' ? 'application/x-ndjson' : 'text/plain');
    } catch (e) {
      setError(errorText(e));
    }
  };

  const set = (patch: Partial<LogFilter>) => setFilter((f) => ({ ...f, ...patch }));

  return (
    <section aria-labelledby="log-title" className="screen log-screen">
      <div className="screen-head">
        <h2 id="log-title">Log</h2>
        <span className="hint" role="status" aria-live="off" data-testid="log-count">
          {total.toLocaleString('en')} of {logRing.size.toLocaleString('en')} lines{paused ? ' (paused)' : ''}
        </span>
      </div>
      <div className="toolbar" role="toolbar" aria-label="Log filters">
        <label className="field">
          Client
          <select value={filter.mac} onChange={(e) => set({ mac: e.target.value })}>
            <option value="">All machines</option>
            {(filter.mac && !macs.includes(filter.mac) ? [filter.mac, ...macs] : macs).map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Protocol
          <select value={filter.protocol} onChange={(e) => set({ protocol: e.target.value as LogProtocol | '' })}>
            <option value="">All</option>
            {LOG_PROTOCOLS.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Level
          <select value={filter.minLevel} onChange={(e) => set({ minLevel: e.target.value as LogLevel })}>
            {LOG_LEVELS.map((l) => (
              <option key={l} value={l}>
                {l} and above
              </option>
            ))}
          </select>
        </label>
        <label className="field grow">
          Search
          <input type="search" value={filter.text} onChange={(e) => set({ text: e.target.value })} placeholder="text or MAC" />
        </label>
        <button type="button" aria-pressed={paused !== null} onClick={() => setPaused(paused ? null : live.slice())}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <label className="inline">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <label className="field">
          Format
          <select value={format} onChange={(e) => setFormat(e.target.value as 'text' | 'jsonl')}>
            <option value="text">Text</option>
            <option value="jsonl">JSON lines</option>
          </select>
        </label>
        <button type="button" onClick={() => void exportLog()}>
          Export
        </button>
      </div>
      <ErrorNote text={error} />
      <div
        className="log-scroller"
        ref={scroller}
        onScroll={onScroll}
        tabIndex={0}
        role="region"
        aria-label="Log lines"
        onKeyDown={(e) => {
          if (e.key === 'End') setFollow(true);
        }}
      >
        <div className="log-inner" role="list" aria-label={`${total} log lines`} style={{ height: total * ROW_HEIGHT }}>
          {rows}
        </div>
      </div>
    </section>
  );
}
