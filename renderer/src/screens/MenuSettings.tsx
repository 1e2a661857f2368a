// The boot menu machines show when several images are offered.
import { useState, type FormEvent } from 'react';
import type { MenuSettings } from '../api/types.js';
import { command } from '../store/feed.js';
import { useLibrary, useMenu } from '../store/library.js';
import { ErrorNote, errorText } from './common.js';

const DEFAULTS: MenuSettings = { enabled: false, timeoutSeconds: 10, includeLocalBoot: true };

export function MenuSettingsForm() {
  const menu = useMenu((s) => s.menu);
  const entries = useLibrary((s) => s.entries);
  // Edits are local until saved; the engine's answer (menu event) is the truth after.
  const [draft, setDraft] = useState<MenuSettings | null>(null);
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const m = draft ?? menu ?? DEFAULTS;
  const edit = (patch: Partial<MenuSettings>) => {
    setSaved(false);
    setDraft({ ...m, ...patch });
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await command('menu.set', m);
      setDraft(null);
      setSaved(true);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <form className="card" aria-labelledby="menu-title" onSubmit={(e) => void submit(e)}>
      <h3 id="menu-title">Boot menu</h3>
      <label className="inline">
        <input type="checkbox" checked={m.enabled} onChange={(e) => edit({ enabled: e.target.checked })} />
        Show a menu of all images on the machines
      </label>
      <div className="row wrap">
        <label className="field">
          Timeout (seconds)
          <input type="number" min={0} max={600} value={m.timeoutSeconds} onChange={(e) => edit({ timeoutSeconds: Number(e.target.value) })} />
        </label>
        <label className="field">
          Default entry
          <select value={m.defaultEntryId ?? ''} onChange={(e) => edit({ defaultEntryId: e.target.value || undefined })}>
            <option value="">First image</option>
            {entries.map((e) => (
              <option key={e.id} value={e.id}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          <input type="checkbox" checked={m.includeLocalBoot} onChange={(e) => edit({ includeLocalBoot: e.target.checked })} />
          Include “Boot from local disk”
        </label>
      </div>
      <div className="row">
        <button type="submit">Save menu</button>
        {saved && <span role="status">Saved</span>}
      </div>
      <ErrorNote text={error} />
    </form>
  );
}
