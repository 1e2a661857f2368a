// The job report: which machine booted what, when, how long each step took,
// what failed and why. JSON for tools, HTML for people (one self-contained file,
// no scripts). writeEvidence() writes both plus the pcapng into one folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientSession, SessionState } from '../sessions/session.js';
import { BOOTED_STATES, STATE_LABELS } from '../sessions/session.js';
import type { StatusEvent } from '../sessions/status.js';
import type { Diagnosis } from './types.js';
import type { EvidenceRecorder, TransferRecord } from './evidence.js';

export interface ReportStep {
  state: SessionState;
  label: string;
  at: number;
  /** Until the next step (or the machine's last packet). */
  durationMs: number;
  text: string;
}

export interface ReportMachine {
  mac: string;
  ip?: string;
  arch?: string;
  vendorClass?: string;
  firstSeen: number;
  lastSeen: number;
  /** Final state: 'handed-off' means its loader handed over; 'os-started'/'os-up' that its OS was seen running. */
  result: SessionState;
  resultLabel: string;
  /** Boot attempts in this run (each return to network boot is one). */
  boots: number;
  /** Returns to network boot soon after a hand-off, with no sign of the OS: boots that failed. */
  loops: number;
  /** Seconds from the hand-off to the first sign of the OS (its own DHCP, or its own downloads). */
  osSeconds?: number;
  /** Seconds from first DHCP to hand-off, when it got there. */
  bootSeconds?: number;
  steps: ReportStep[];
  transfers: (TransferRecord & { durationMs?: number })[];
  failure?: ClientSession['failure'];
  diagnoses: Diagnosis[];
}

export interface JobReport {
  tool: 'PXE Kit';
  generatedAt: number;
  run: {
    iface?: string;
    address?: string;
    mode?: string;
    modeReason?: string;
    image?: string;
    startedAt?: number;
    stoppedAt: number;
    otherDhcpServers: NonNullable<StatusEvent['otherDhcpServers']>;
  };
  /** handedOff: loaders that handed over (osUp of them were seen running); boots: attempts of all machines; looped: machines that came back without starting their OS. */
  summary: { machines: number; handedOff: number; osUp: number; failed: number; looped: number; boots: number; unfinished: number };
  machines: ReportMachine[];
  /** Diagnoses about the run rather than one machine (no clients, another DHCP server). */
  general: Diagnosis[];
  evidence?: { pcapng?: string; packets: number; droppedPackets: number; note: string };
}

export interface ReportInput {
  status: StatusEvent;
  sessions: ClientSession[];
  diagnoses: Diagnosis[];
  recorder?: EvidenceRecorder;
  startedAt?: number;
  stoppedAt?: number;
}

export const EVIDENCE_NOTE =
  'DHCP payloads are exactly as received/sent (IPv4/UDP headers rebuilt). TFTP and HTTP records are synthesized from PXE Kit\'s transfer events ' +
  '(RRQ/OACK/ERROR/last ACK; HTTP request and status lines as single TCP segments); each synthesized packet carries a comment saying so.';

function steps(s: ClientSession, end: number): ReportStep[] {
  const out: ReportStep[] = [];
  for (const e of s.timeline) {
    const prev = out[out.length - 1];
    if (prev && prev.state === e.state) continue;
    out.push({ state: e.state, label: STATE_LABELS[e.state], at: e.at, durationMs: 0, text: e.text });
  }
  out.forEach((st, i) => (st.durationMs = Math.max(0, (out[i + 1]?.at ?? Math.max(end, st.at)) - st.at)));
  return out;
}

export function buildJobReport(input: ReportInput): JobReport {
  const stoppedAt = input.stoppedAt ?? Date.now();
  const transfers = input.recorder?.transferRecords() ?? [];
  const machines: ReportMachine[] = input.sessions.map((s) => {
    const handed = s.timeline.find((e) => e.state === 'handed-off');
    const mine = transfers.filter((t) => t.mac === s.mac).map((t) => ({ ...t, ...(t.endedAt ? { durationMs: t.endedAt - t.startedAt } : {}) }));
    return {
      mac: s.mac,
      ip: s.ip,
      arch: s.arch,
      vendorClass: s.vendorClass,
      firstSeen: s.firstSeen,
      lastSeen: s.lastSeen,
      result: s.state,
      resultLabel: STATE_LABELS[s.state],
      boots: s.boots,
      loops: s.loops ?? 0,
      ...(s.os ? { osSeconds: Math.round(s.os.afterMs / 100) / 10 } : {}),
      ...(handed ? { bootSeconds: Math.round((handed.at - s.firstSeen) / 100) / 10 } : {}),
      steps: steps(s, BOOTED_STATES.has(s.state) || s.state === 'failed' ? s.lastSeen : stoppedAt),
      transfers: mine.length ? mine : s.transfers.map((t) => ({ ...t, clientIp: s.ip ?? '', mac: s.mac, state: t.state })),
      failure: s.failure,
      diagnoses: input.diagnoses.filter((d) => d.mac === s.mac),
    };
  });
  const st = input.status;
  return {
    tool: 'PXE Kit',
    generatedAt: Date.now(),
    run: {
      iface: st.iface,
      address: st.address,
      mode: st.mode,
      modeReason: st.modeReason,
      image: st.image,
      startedAt: input.startedAt,
      stoppedAt,
      otherDhcpServers: st.otherDhcpServers ?? [],
    },
    summary: {
      machines: machines.length,
      handedOff: machines.filter((m) => BOOTED_STATES.has(m.result)).length,
      osUp: machines.filter((m) => m.result === 'os-up' || m.result === 'os-started').length,
      failed: machines.filter((m) => m.result === 'failed' || m.diagnoses.length > 0).length,
      looped: machines.filter((m) => m.loops > 0).length,
      boots: machines.reduce((a, m) => a + m.boots, 0),
      unfinished: machines.filter((m) => !BOOTED_STATES.has(m.result) && m.result !== 'failed').length,
    },
    machines,
    general: input.diagnoses.filter((d) => !d.mac),
    ...(input.recorder ? { evidence: { packets: input.recorder.packetCount(), droppedPackets: input.recorder.droppedPackets(), note: EVIDENCE_NOTE } } : {}),
  };
}

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function when(at: number | undefined): string {
  return at ? new Date(at).toISOString().replace('T', ' ').slice(0, 19) : '-';
}

function secs(ms: number | undefined): string {
  return ms === undefined ? '-' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

function diagnosisHtml(d: Diagnosis): string {
  return `<div class="diag"><h4>${esc(d.title)}</h4>${d.pxeError ? `<p><b>Screen shows:</b> ${esc(d.pxeError)}</p>` : ''}
<p><b>Likely causes:</b></p><ol>${d.causes.map((c) => `<li>${esc(c)}</li>`).join('')}</ol>
<p><b>Fix:</b> ${esc(d.fix)}</p>${d.evidence.length ? `<p class="ev"><b>Seen:</b> ${d.evidence.map(esc).join('; ')}</p>` : ''}</div>`;
}

export function renderReportHtml(r: JobReport): string {
  const machines = r.machines
    .map((m) => {
      const cls = BOOTED_STATES.has(m.result) && !m.loops ? 'ok' : m.result === 'failed' || m.diagnoses.length || m.loops ? 'bad' : 'mid';
      return `<section class="m ${cls}"><h3>${esc(m.mac)} — ${esc(m.resultLabel)}${m.bootSeconds !== undefined ? ` in ${m.bootSeconds} s` : ''}</h3>
<p>${esc(m.arch ?? 'unknown firmware')}${m.ip ? `, ${esc(m.ip)}` : ''}${m.vendorClass ? `, ${esc(m.vendorClass)}` : ''}; first seen ${esc(when(m.firstSeen))}, last ${esc(when(m.lastSeen))}; boot attempts: ${m.boots}${m.loops ? ` (${m.loops} came back to network boot without starting their OS)` : ''}${m.osSeconds !== undefined ? `; OS seen ${m.osSeconds} s after the hand-off` : ''}</p>
<table><tr><th>Step</th><th>Started</th><th>Took</th><th>Detail</th></tr>${m.steps
        .map((s) => `<tr><td>${esc(s.label)}</td><td>${esc(when(s.at))}</td><td>${esc(secs(s.durationMs))}</td><td>${esc(s.text)}</td></tr>`)
        .join('')}</table>
${m.transfers.length ? `<table><tr><th>File</th><th>How</th><th>Role</th><th>Bytes</th><th>Took</th><th>Result</th></tr>${m.transfers
        .map((t) => `<tr><td>${esc(t.file)}</td><td>${esc(t.protocol.toUpperCase())}</td><td>${esc(t.role ?? '')}</td><td>${esc(bytes(t.bytes))}${t.size !== undefined ? ` / ${esc(bytes(t.size))}` : ''}</td><td>${esc(secs(t.endedAt ? t.endedAt - t.startedAt : undefined))}</td><td>${esc(t.state)}${t.error ? `: ${esc(t.error)}` : ''}</td></tr>`)
        .join('')}</table>` : ''}
${m.failure ? `<p class="fail"><b>Failed:</b> ${esc(m.failure.message)}${m.failure.pxeError ? ` (screen shows ${esc(m.failure.pxeError)})` : ''}</p>` : ''}
${m.diagnoses.map(diagnosisHtml).join('\n')}</section>`;
    })
    .join('\n');
  const run = r.run;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PXE Kit job report ${esc(when(r.generatedAt))}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.4em} h3{margin:.2em 0} table{border-collapse:collapse;margin:.5em 0;width:100%}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top} th{background:#f3f3f3}
section.m{border-left:6px solid #999;padding:.5em 1em;margin:1.2em 0;background:#fafafa}
section.ok{border-color:#2a8a3a} section.bad{border-color:#c0392b} section.mid{border-color:#d4a017}
.diag{border:1px solid #e0b4b4;background:#fff6f6;padding:.5em 1em;margin:.5em 0} .diag h4{margin:.2em 0}
.ev{color:#555;font-size:.92em} .fail{color:#a00}
</style></head><body>
<h1>PXE Kit job report</h1>
<p>Served on <b>${esc(run.iface ?? '?')}</b> (${esc(run.address ?? '?')}) in <b>${esc(run.mode === 'proxy' ? 'proxyDHCP' : run.mode === 'dhcp' ? 'DHCP' : run.mode ?? '?')}</b> mode${run.modeReason ? ` (${esc(run.modeReason)})` : ''}; image: ${esc(run.image ?? '-')}.<br>
From ${esc(when(run.startedAt))} to ${esc(when(run.stoppedAt))}.</p>
<p><b>${r.summary.machines}</b> machine(s): <b>${r.summary.handedOff}</b> handed off (<b>${r.summary.osUp}</b> seen running their OS), <b>${r.summary.failed}</b> with a problem${r.summary.looped ? ` (<b>${r.summary.looped}</b> came back to network boot without starting their OS)` : ''}, <b>${r.summary.unfinished}</b> unfinished; <b>${r.summary.boots}</b> boot attempts.</p>
${run.otherDhcpServers.length ? `<p><b>Other DHCP servers on the segment:</b> ${run.otherDhcpServers.map((o) => `${esc(o.serverId)}${o.mac ? ` (${esc(o.mac)})` : ''} offered ${esc(o.offeredIp)}`).join('; ')}</p>` : ''}
${r.general.map(diagnosisHtml).join('\n')}
${machines || '<p>No machine asked to boot.</p>'}
${r.evidence ? `<p class="ev">Evidence: ${r.evidence.pcapng ? `${esc(r.evidence.pcapng)}, ` : ''}${r.evidence.packets} packets${r.evidence.droppedPackets ? ` (${r.evidence.droppedPackets} oldest dropped)` : ''}. ${esc(r.evidence.note)}</p>` : ''}
</body></html>
`;
}

export interface EvidenceFiles {
  dir: string;
  pcapng?: string;
  json: string;
  html: string;
}

/** Writes report.json, report.html and (with a recorder) capture.pcapng into dir, named by the stop time. */
export function writeEvidence(dir: string, input: ReportInput): EvidenceFiles {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date(input.stoppedAt ?? Date.now()).toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const report = buildJobReport(input);
  const files: EvidenceFiles = { dir, json: join(dir, `pxekit-report-${stamp}.json`), html: join(dir, `pxekit-report-${stamp}.html`) };
  if (input.recorder) {
    files.pcapng = join(dir, `pxekit-capture-${stamp}.pcapng`);
    writeFileSync(files.pcapng, input.recorder.pcapng());
    report.evidence!.pcapng = files.pcapng.replace(/^.*\//, '');
  }
  writeFileSync(files.json, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(files.html, renderReportHtml(report));
  return files;
}
