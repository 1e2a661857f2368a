// Step 1: which NIC faces the machines to boot, and how to serve on it.
import { useEffect, useState } from 'react';
import type { Commands, HostCheck, NetInterface } from '../api/types.js';
import { command } from '../store/feed.js';
import { useInterfaces } from '../store/interfaces.js';
import { useStatus } from '../store/status.js';
import { useUi } from '../store/ui.js';
import { ErrorNote, errorText } from './common.js';
import { ServingSummary } from './ServingSummary.js';

/** The engine lists NICs best first (physical wired with link and IPv4, then Wi-Fi, then virtual ones): the first usable one is preselected. */
export function bestNic(list: NetInterface[]): NetInterface | undefined {
  return list.find((n) => n.usable && !n.loopback);
}

function warnings(n: NetInterface): string[] {
  const w: string[] = [];
  if (n.loopback) return ['Loopback: no machine can boot from it.'];
  if (!n.linkUp) w.push('Link down: plug the cable into the switch with the machines to boot.');
  // The engine's note says what to do (it knows the OS); it is about the link first when the link is down.
  if (!n.ipv4) w.push(/^no IPv4/i.test(n.note) ? n.note : `No IPv4 address: give ${n.name} a static address on the boot network (e.g. 192.168.50.1/24).`);
  if (n.wireless) w.push('Wi-Fi: firmware cannot network-boot over Wi-Fi; pick the wired NIC on the boot switch.');
  return w;
}

function NicCard({ n, selected }: { n: NetInterface; selected: boolean }) {
  const w = warnings(n);
  const id = `nic-${n.name}`;
  return (
    <li className={`card nic${selected ? ' selected' : ''}${n.usable ? '' : ' unusable'}`}>
      <input
        type="radio"
        name="nic"
        id={id}
        value={n.name}
        checked={selected}
        disabled={n.loopback}
        aria-describedby={w.length ? `${id}-warn` : undefined}
        onChange={() => useUi.setState({ iface: n.name })}
      />
      <label htmlFor={id}>
        <span className="nic-name">{n.name}</span>
        {n.hardware === 'virtual' && <span className="badge">{n.virtualKind ?? 'virtual'}</span>}
        <span className={`badge ${n.linkUp ? 'ok' : 'bad'}`}>{n.linkUp ? 'link up' : 'link down'}</span>
        {n.wireless && <span className="badge warn">Wi-Fi</span>}
        <span className="nic-detail">
          <span>MAC {n.mac}</span>
          <span>{n.ipv4 ? `IPv4 ${n.ipv4.address}/${n.ipv4.prefix}` : 'no IPv4 address'}</span>
        </span>
      </label>
      {w.length > 0 && (
        <ul className="warnings" id={`${id}-warn`}>
          {w.map((t) => (
            <li key={t}>{t}</li>
          ))}
        </ul>
      )}
    </li>
  );
}

const CHECK_WORDS: Record<HostCheck['status'], string> = { ok: 'OK', warn: 'Warning', fail: 'Problem', skip: 'Not checked' };

/** The preflight check (pxekit check) on the chosen NIC: each finding in words, with its fix. */
function NetworkCheck({ iface }: { iface?: string }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Commands['host.check']['result']>();
  const [error, setError] = useState<string>();
  const run = async () => {
    if (!iface) return;
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await command('host.check', { iface }));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  // Findings belong to the NIC they were made on.
  const shown = result && result.iface === iface ? result : undefined;
  const problems = shown?.checks.filter((c) => c.status === 'fail').length ?? 0;
  return (
    <div className="network-check">
      <button type="button" onClick={() => void run()} disabled={!iface || busy}>
        {busy ? 'Checking…' : 'Check this network'}
      </button>
      <span className="hint"> Is the NIC ready, are ports 67, 69, 4011 and the HTTP port free for PXE Kit, does a firewall block them.</span>
      <ErrorNote text={error} />
      <div aria-live="polite">
        {shown && (
          <div className={`check-result ${shown.ok ? 'ok' : 'bad'}`}>
            <strong>{shown.ok ? `${shown.iface} is ready to serve.` : `${shown.iface}: ${problems} problem${problems === 1 ? '' : 's'} to fix before serving.`}</strong>
            <ul className="check-findings" aria-label={`Check of ${shown.iface}`}>
              {shown.checks.map((c) => (
                <li key={c.id} className={`finding f-${c.status}`} data-check={c.id} data-status={c.status}>
                  <span className={`badge ${c.status === 'ok' ? 'ok' : c.status === 'fail' ? 'bad' : c.status === 'warn' ? 'warn' : ''}`}>{CHECK_WORDS[c.status]}</span> {c.title}: {c.detail}
                  {c.fix && <div className="fix">Fix: {c.fix}</div>}
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
    </div>
  );
}

export function NicPicker() {
  const { list, loaded, error } = useInterfaces();
  const iface = useUi((s) => s.iface);
  const mode = useUi((s) => s.mode);
  const range = useUi((s) => s.range);
  const secureBoot = useUi((s) => s.secureBoot);
  const status = useStatus((s) => s.status);
  const [busy, setBusy] = useState(false);
  const [refreshError, setRefreshError] = useState<string>();
  const [showVirtual, setShowVirtual] = useState(false);
  const others = status?.otherDhcpServers ?? [];
  const all = list.filter((n) => !n.loopback);
  // Bridges, their ports, taps, veths, Docker and VM networks are folded away; the one chosen stays in view.
  const virtual = all.filter((n) => n.hardware === 'virtual');
  const shown = all.filter((n) => n.hardware !== 'virtual' || showVirtual || n.name === iface);
  const hidden = virtual.filter((n) => !shown.includes(n)).length;
  const best = bestNic(list);

  // The best NIC is preselected once the list is in, unless the technician already chose one that is still there.
  useEffect(() => {
    if (!loaded || !best) return;
    if (!iface || !list.some((n) => n.name === iface)) useUi.setState({ iface: best.name });
  }, [loaded, best, iface, list]);

  const refresh = async () => {
    setBusy(true);
    setRefreshError(undefined);
    try {
      await command('interfaces.list', {});
    } catch (e) {
      setRefreshError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="nic-title" className="screen">
      <div className="screen-head">
        <h2 id="nic-title">Network interface</h2>
        <button type="button" onClick={() => void refresh()} disabled={busy}>
          Refresh
        </button>
      </div>
      <ServingSummary />
      <p className="hint">
        Pick the NIC cabled to the switch with the machines to boot.{best ? ` ${best.name} looks like the best one and is preselected.` : ''}
      </p>
      <ErrorNote text={error ?? refreshError} />
      {others.length > 0 && (
        <div className="alert warn" role="alert">
          <strong>Another DHCP server is on this segment.</strong>{' '}
          {others.map((o) => `${o.serverId} (offered ${o.offeredIp})`).join(', ')}. Use <em>Auto</em> or <em>Proxy</em> mode so PXE Kit only adds boot
          information and leaves addresses to it.
        </div>
      )}
      {loaded && shown.length === 0 && <p>No network interface found.</p>}
      <fieldset className="plain">
        <legend className="sr-only">Network interfaces</legend>
        <ul className="cards" aria-label="Network interfaces">
          {shown.map((n) => (
            <NicCard key={n.name} n={n} selected={n.name === iface} />
          ))}
        </ul>
        {virtual.length > 0 && (
          <button type="button" className="link" aria-expanded={showVirtual} onClick={() => setShowVirtual((x) => !x)}>
            {showVirtual ? 'Hide virtual interfaces' : `Show virtual interfaces (${hidden}: bridges, containers, virtual machines)`}
          </button>
        )}
      </fieldset>
      <NetworkCheck iface={iface} />
      <fieldset className="serve-options">
        <legend>How to serve</legend>
        {(['auto', 'dhcp', 'proxy'] as const).map((m) => (
          <label key={m} className="inline">
            <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => useUi.setState({ mode: m })} />
            {m === 'auto' ? 'Auto (proxy if another DHCP server answers)' : m === 'dhcp' ? 'DHCP server (PXE Kit hands out addresses)' : 'Proxy (boot info only)'}
          </label>
        ))}
        <fieldset className="plain">
          <legend>Secure Boot (UEFI machines)</legend>
          {(
            [
              ['auto', 'Auto: the signed chain when it can boot the image (Linux kernels and ISOs), iPXE otherwise'],
              ['signed', 'Signed chain always (what it cannot boot needs Secure Boot off)'],
              ['ipxe', 'iPXE always (machines need Secure Boot off)'],
            ] as const
          ).map(([v, words]) => (
            <label key={v} className="inline">
              <input type="radio" name="secure-boot" value={v} checked={secureBoot === v} onChange={() => useUi.setState({ secureBoot: v })} />
              {words}
            </label>
          ))}
        </fieldset>
        <label className="field">
          Address range <span className="hint">(DHCP mode, optional)</span>
          <input type="text" value={range} placeholder="192.168.50.100-192.168.50.200" onChange={(e) => useUi.setState({ range: e.target.value })} />
        </label>
      </fieldset>
      <button type="button" className="primary" disabled={!iface} onClick={() => useUi.setState({ screen: 'images' })}>
        Next: choose an image
      </button>
    </section>
  );
}
