// "Browse this computer": folders and files on the engine's computer, under the folders the
// engine allows (files.list). Each file says what it is by its content; only what can be
// served has an Add button, the rest say what they look like.
import { useEffect, useRef, useState } from 'react';
import type { FileListing } from '../api/types.js';
import { formatBytes } from '../format.js';
import { command } from '../store/feed.js';
import { ErrorNote, errorText } from './common.js';

export function FileBrowser({ onPick, busy, onClose }: { onPick: (path: string) => void; busy: boolean; onClose: () => void }) {
  const [listing, setListing] = useState<FileListing>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  const open = async (dir?: string) => {
    setLoading(true);
    setError(undefined);
    try {
      setListing(await command('files.list', dir === undefined ? {} : { dir }));
      heading.current?.focus();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => void open(), []);

  const where = listing?.dir ?? 'Folders PXE Kit may show';
  return (
    <div className="file-browser" role="region" aria-label="Files on this computer">
      <div className="row wrap fb-head">
        <h4 id="fb-where" tabIndex={-1} ref={heading} className="fb-where">
          {where}
        </h4>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <div className="row wrap">
        {listing?.dir && (
          <button type="button" onClick={() => void open(listing.parent)} disabled={loading}>
            {listing.parent ? 'Up one folder' : 'All folders'}
          </button>
        )}
        {listing?.roots.map((r) => (
          <button type="button" key={r.path} className="link" onClick={() => void open(r.path)} disabled={loading}>
            {r.label}
          </button>
        ))}
      </div>
      <ErrorNote text={error} />
      {listing && (
        <table className="grid compact" aria-labelledby="fb-where">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">What it is</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col">
                <span className="sr-only">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {listing.entries.length === 0 && (
              <tr>
                <td colSpan={4} className="hint">
                  This folder is empty (or holds only hidden files).
                </td>
              </tr>
            )}
            {listing.entries.map((e) => (
              <tr key={e.path} data-kind={e.kind}>
                <th scope="row" className="fb-name">
                  {e.kind === 'dir' ? (
                    <button type="button" className="link" onClick={() => void open(e.path)} disabled={loading} aria-label={`Open folder ${e.name}`}>
                      📁 {e.name}
                    </button>
                  ) : (
                    e.name
                  )}
                </th>
                <td>
                  {e.kind === 'dir' ? (
                    <span className="hint">folder</span>
                  ) : !e.image ? (
                    <span className="hint">not checked</span>
                  ) : e.image.ok ? (
                    <span className="badge ok">{e.image.what}</span>
                  ) : (
                    <span className="refused">
                      <span className="badge bad">Not an image: {e.image.what}</span>
                      <span className="hint fb-why">{e.image.reason}</span>
                    </span>
                  )}
                </td>
                <td className="num">{e.kind === 'file' ? formatBytes(e.size) : ''}</td>
                <td>
                  {e.kind === 'file' && e.image?.ok && (
                    <button type="button" className="primary" disabled={busy} onClick={() => onPick(e.path)} aria-label={`Add ${e.name}`}>
                      Add
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {listing?.truncated && <p className="hint">This folder has more files than are listed.</p>}
    </div>
  );
}
