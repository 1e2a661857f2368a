// Step 2: the images PXE Kit can serve; one click serves one on the chosen NIC.
import { Fragment, useState, type DragEvent, type FormEvent } from 'react';
import { bridge } from '../api/bridge.js';
import type { LibraryEntry } from '../api/types.js';
import { formatBytes } from '../format.js';
import { command } from '../store/feed.js';
import { useLibrary } from '../store/library.js';
import { useStatus } from '../store/status.js';
import { useUi } from '../store/ui.js';
import { Assignments } from './Assignments.js';
import { MenuSettingsForm } from './MenuSettings.js';
import { ErrorNote, ProgressBar, errorText } from './common.js';
import { FileBrowser } from './FileBrowser.js';
import { ServingSummary, servedPath } from './ServingSummary.js';

const KIND_LABELS: Record<LibraryEntry['kind'], string> = {
  iso: 'ISO image',
  folder: 'Folder',
  kernel: 'Linux kernel',
  'ipxe-script': 'iPXE script',
  efi: 'EFI program',
  pxe: 'PXE program',
  netboot: 'Netboot folder',
};

function AddImage() {
  const [path, setPath] = useState('');
  const [initrds, setInitrds] = useState('');
  const [cmdline, setCmdline] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [browsing, setBrowsing] = useState(false);
  const [added, setAdded] = useState<string>();
  const b = bridge();

  const add = async (p: string) => {
    setBusy(true);
    setError(undefined);
    setAdded(undefined);
    try {
      const list = initrds
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter(Boolean);
      const e = await command('library.add', { path: p.trim(), ...(list.length ? { initrds: list } : {}), ...(cmdline.trim() ? { cmdline: cmdline.trim() } : {}) });
      setPath('');
      setAdded(`Added ${e.name} to the library.`);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (path.trim()) void add(path);
  };
  const browse = async () => {
    const chosen = (await b?.openImageDialog?.()) ?? [];
    for (const p of chosen) await add(p);
  };
  const drop = async (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (!b?.pathForFile) return;
    for (const f of Array.from(e.dataTransfer.files)) {
      const p = b.pathForFile(f);
      if (p) await add(p); // '' for things that are not local files
    }
  };

  return (
    <form
      className={`card add-image${dragging ? ' dragging' : ''}`}
      onSubmit={submit}
      aria-labelledby="add-title"
      onDragOver={(e) => {
        if (b?.pathForFile) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => void drop(e)}
    >
      <h3 id="add-title">Add an image</h3>
      <p className="hint">
        An ISO, a folder, a Linux kernel (with its initrd), an iPXE script or an EFI program: pick it with Browse{b?.pathForFile ? ', drop it here' : ''}, or paste its path (
        “Copy as path” quotes and ~ for your home folder are fine). Files copied into PXE Kit’s images folder are added by themselves. Each file is checked by its content
        before it can be served.
      </p>
      <label className="field">
        Image path
        <input type="text" name="path" value={path} onChange={(e) => setPath(e.target.value)} placeholder="~/Downloads/debian-12.iso" required />
      </label>
      <label className="field">
        Initrd paths <span className="hint">(kernels only; comma-separated)</span>
        <input type="text" name="initrds" value={initrds} onChange={(e) => setInitrds(e.target.value)} />
      </label>
      <label className="field">
        Kernel command line <span className="hint">(kernels only)</span>
        <input type="text" name="cmdline" value={cmdline} onChange={(e) => setCmdline(e.target.value)} placeholder="console=ttyS0" />
      </label>
      <div className="row">
        <button type="submit" className="primary" disabled={busy || !path.trim()}>
          Add image
        </button>
        <button type="button" onClick={() => setBrowsing((x) => !x)} aria-expanded={browsing} disabled={busy && !browsing}>
          Browse this computer…
        </button>
        {b?.openImageDialog && (
          <button type="button" onClick={() => void browse()} disabled={busy}>
            Open with the system dialog…
          </button>
        )}
      </div>
      <ErrorNote text={error} />
      {added && (
        <p role="status" className="hint">
          {added}
        </p>
      )}
      {browsing && <FileBrowser busy={busy} onPick={(p) => void add(p)} onClose={() => setBrowsing(false)} />}
    </form>
  );
}

function Checksum({ e }: { e: LibraryEntry }) {
  if (e.sha256) return <code title={e.sha256}>{e.sha256.slice(0, 12)}…</code>;
  if (e.sha256Progress !== undefined) {
    const pct = Math.round(e.sha256Progress * 100);
    return <ProgressBar value={pct} label={`Checksum of ${e.name}`} text={`checksum ${pct}%`} />;
  }
  return <span className="hint">—</span>;
}

const VERDICT_WORDS = { boots: 'boots', 'needs-secure-boot-off': 'needs Secure Boot off', 'needs-mok': 'needs a key enrolled (MOK)' } as const;

/** Whether the image boots on a machine with Secure Boot on, as PXE Kit serves it; the reason names the signers. */
function SecureBootBadge({ v }: { v: NonNullable<LibraryEntry['secureBoot']> }) {
  return (
    <div className={`badge secure-boot ${v.verdict === 'boots' ? 'ok' : 'warn'}`} role="note" title={v.reason}>
      Secure Boot: {VERDICT_WORDS[v.verdict]}
    </div>
  );
}

/**
 * A Windows image without wimboot: what it gets instead, what that costs, and the fix in place
 * (a path as the engine sees it, or a file dropped on the desktop app; wimboot.install checks it is wimboot).
 */
function WimbootMissing({ e }: { e: LibraryEntry }) {
  const [path, setPath] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const b = bridge();
  // The engine's words up to its fix; the fix is this form.
  const cost = (e.wimbootNote ?? 'Served as sanboot of the whole ISO instead of wimboot: Windows setup may stop with "a media driver is missing", and every machine reads the whole ISO over HTTP.').split(' Fix: ')[0];
  const install = async (p: string) => {
    setBusy(true);
    setError(undefined);
    try {
      await command('wimboot.install', { path: p.trim() });
      setPath('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const drop = async (ev: DragEvent) => {
    ev.preventDefault();
    setDragging(false);
    const f = ev.dataTransfer.files[0];
    const p = f && b?.pathForFile?.(f);
    if (p) await install(p);
  };
  return (
    <form
      className={`alert warn wimboot-missing${dragging ? ' dragging' : ''}`}
      aria-label={`wimboot missing for ${e.name}`}
      onSubmit={(ev) => {
        ev.preventDefault();
        if (path.trim()) void install(path);
      }}
      onDragOver={(ev) => {
        if (b?.pathForFile) {
          ev.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(ev) => void drop(ev)}
    >
      <p>
        <strong>No wimboot for {e.name}.</strong> {cost}
      </p>
      <div className="row wrap">
        <label className="field grow">
          wimboot file{' '}
          <span className="hint">
            ({b?.pathForFile ? 'drop it here or type its path' : 'its path on the computer running the engine'}; the file named “wimboot” from{' '}
            <a href="https://github.com/ipxe/wimboot/releases" target="_blank" rel="noreferrer">
              github.com/ipxe/wimboot/releases
            </a>
            )
          </span>
          <input type="text" value={path} onChange={(ev) => setPath(ev.target.value)} placeholder="/home/me/Downloads/wimboot" />
        </label>
        <button type="submit" disabled={busy || !path.trim()}>
          Use this wimboot
        </button>
      </div>
      <ErrorNote text={error} />
    </form>
  );
}

function EntryRow({ e, onServe, serving }: { e: LibraryEntry; onServe: (e: LibraryEntry) => void; serving: boolean }) {
  const [error, setError] = useState<string>();
  return (
    <tr className={serving ? 'serving' : undefined} aria-current={serving ? 'true' : undefined}>
      <th scope="row">
        {e.name}
        <div className="hint path">{e.path}</div>
        {!e.present && (
          <div className="badge bad" role="note">
            File missing
          </div>
        )}
        <ErrorNote text={error} />
      </th>
      <td>
        {[e.os, e.version].filter(Boolean).join(' ') || <span className="hint">not detected</span>}
        {e.secureBoot && <SecureBootBadge v={e.secureBoot} />}
        {e.netboot?.notes.map((n) => (
          <div key={n} className="hint netboot-note" role="note">
            {n}
          </div>
        ))}
      </td>
      <td>{KIND_LABELS[e.kind]}</td>
      <td className="num">{formatBytes(e.size)}</td>
      <td>
        <Checksum e={e} />
      </td>
      <td>
        <div className="actions">
          {serving ? (
            <span className="badge ok serving-mark" role="note" aria-label={`Serving ${e.name}`}>
              ● Serving
            </span>
          ) : (
            <button type="button" className="primary" onClick={() => onServe(e)} disabled={!e.present} aria-label={`Serve ${e.name}`}>
              Serve
            </button>
          )}
          <button
            type="button"
            aria-label={`Remove ${e.name}`}
            onClick={() => void command('library.remove', { id: e.id }).catch((err) => setError(errorText(err)))}
          >
            Remove
          </button>
        </div>
      </td>
    </tr>
  );
}

export function Library() {
  const { entries, error } = useLibrary();
  const ui = useUi();
  const status = useStatus((s) => s.status);
  const [serveError, setServeError] = useState<string>();
  const [starting, setStarting] = useState(false);
  const [openFirewall, setOpenFirewall] = useState(false);

  const serve = async (e: LibraryEntry) => {
    setServeError(undefined);
    if (!ui.iface) {
      setServeError('Pick the network interface first (Network screen).');
      return;
    }
    setStarting(true);
    try {
      // One engine at a time: serving another image (or on another NIC) restarts it.
      const cur = useStatus.getState().status?.state;
      if (cur === 'serving' || cur === 'probing' || cur === 'starting') await command('serve.stop', {});
      const st = await command('serve.start', { iface: ui.iface, mode: ui.mode, secureBoot: ui.secureBoot, imageId: e.id, ...(ui.range.trim() ? { range: ui.range.trim() } : {}), ...(openFirewall ? { openFirewall: true } : {}) });
      if (st.state === 'error') setServeError(st.message ?? 'The engine could not start serving.');
      else useUi.setState({ screen: 'clients' });
    } catch (err) {
      setServeError(errorText(err));
    } finally {
      setStarting(false);
    }
  };

  return (
    <section aria-labelledby="lib-title" className="screen">
      <div className="screen-head">
        <h2 id="lib-title">Images</h2>
        <span className="hint">{ui.iface ? `Serving goes out on ${ui.iface} (${ui.mode})` : 'No network interface picked yet'}</span>
      </div>
      <ServingSummary />
      <AddImage />
      <ErrorNote text={error ?? serveError} />
      <label className="inline" title="Windows only: adds inbound rules for UDP 67, 69, 4011 and the HTTP port, for PXE Kit's engine on the chosen NIC; removed when serving stops">
        <input type="checkbox" checked={openFirewall} onChange={(ev) => setOpenFirewall(ev.target.checked)} />
        Open the Windows firewall while serving (PXE Kit's rules, removed at stop)
      </label>
      {starting && <p role="status">Starting… (checking for other DHCP servers first)</p>}
      <table className="grid" aria-label="Image library">
        <thead>
          <tr>
            <th scope="col">Image</th>
            <th scope="col">Detected OS</th>
            <th scope="col">Kind</th>
            <th scope="col">Size</th>
            <th scope="col">Checksum</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {entries.length === 0 && (
            <tr>
              <td colSpan={6} className="hint">
                No images yet: add one above.
              </td>
            </tr>
          )}
          {entries.map((e) => (
            <Fragment key={e.id}>
              <EntryRow e={e} onServe={(x) => void serve(x)} serving={servedPath(status) === e.path} />
              {e.wimboot === 'missing' && (
                <tr className="wimboot-row">
                  <td colSpan={6}>
                    <WimbootMissing e={e} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
      <Assignments />
      <MenuSettingsForm />
    </section>
  );
}
