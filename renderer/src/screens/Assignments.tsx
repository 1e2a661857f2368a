// Per-machine images: this MAC boots that image (optionally once).
import { useState, type FormEvent } from 'react';
import { command } from '../store/feed.js';
import { useAssignments, useLibrary } from '../store/library.js';
import { useSessions } from '../store/sessions.js';
import { ErrorNote, errorText } from './common.js';

const MAC_RE = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;

export function Assignments() {
  const assignments = useAssignments((s) => s.assignments);
  const entries = useLibrary((s) => s.entries);
  const macs = Object.keys(useSessions((s) => s.byMac));
  const [mac, setMac] = useState('');
  const [imageId, setImageId] = useState('');
  const [bootOnce, setBootOnce] = useState(false);
  const [error, setError] = useState<string>();
  const name = (id: string) => entries.find((e) => e.id === id)?.name ?? id;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    if (!MAC_RE.test(mac.trim())) return setError('A MAC address looks like 52:54:00:12:34:56.');
    if (!imageId) return setError('Choose the image this machine boots.');
    try {
      await command('assign.set', { mac: mac.trim().toLowerCase().replace(/-/g, ':'), imageId, bootOnce });
      setMac('');
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <section aria-labelledby="assign-title" className="card">
      <h3 id="assign-title">Per-machine images</h3>
      <table className="grid" aria-label="Assignments">
        <thead>
          <tr>
            <th scope="col">MAC</th>
            <th scope="col">Image</th>
            <th scope="col">Boot once</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {assignments.length === 0 && (
            <tr>
              <td colSpan={4} className="hint">
                Every machine boots the served image.
              </td>
            </tr>
          )}
          {assignments.map((a) => (
            <tr key={a.mac}>
              <td>
                <code>{a.mac}</code>
              </td>
              <td>{name(a.imageId)}</td>
              <td>{a.bootOnce ? 'yes' : 'no'}</td>
              <td>
                <button type="button" aria-label={`Clear assignment for ${a.mac}`} onClick={() => void command('assign.clear', { mac: a.mac }).catch((e) => setError(errorText(e)))}>
                  Clear
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row wrap" onSubmit={(e) => void submit(e)} aria-label="Assign an image to a machine">
        <label className="field">
          MAC address
          <input type="text" list="known-macs" value={mac} onChange={(e) => setMac(e.target.value)} placeholder="52:54:00:12:34:56" />
          <datalist id="known-macs">
            {macs.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
        </label>
        <div className="field">
          <label htmlFor="assign-image">Image</label>
          <select id="assign-image" value={imageId} onChange={(e) => setImageId(e.target.value)}>
            <option value="">Choose…</option>
            {entries.map((e) => (
              <option key={e.id} value={e.id}>
                {e.name}
              </option>
            ))}
          </select>
        </div>
        <label className="inline">
          <input type="checkbox" checked={bootOnce} onChange={(e) => setBootOnce(e.target.checked)} />
          Boot once
        </label>
        <button type="submit">Assign</button>
      </form>
      <ErrorNote text={error} />
    </section>
  );
}
