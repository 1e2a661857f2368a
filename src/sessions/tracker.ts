// Folds wire events into one session per machine (MAC). The protocol modules
// say what happened on the wire; this decides what it means for the boot.
import type { DhcpEvent, TransferEvent, WireEvent } from './events.js';
import type { Diagnosis } from './diagnosis.js';
import {
  BOOTED_STATES,
  capDiagnosis,
  capText,
  FILE_NAME_MAX,
  STATE_LABELS,
  STATE_PROGRESS,
  type ClientSession,
  type SessionFailure,
  type SessionState,
  SESSIONS_MAX,
  TIMELINE_MAX,
  TEXT_MAX,
  TRANSFERS_MAX,
  type TimelineEntry,
  type TransferSnapshot,
} from './session.js';
import { RecentMap } from '../util/recent-map.js';
import { archFamily } from '../boot/client.js';
import { payloadFor, planFirmware, type BootPlan } from '../boot/boot-plan.js';
import { BOOT_PROGRAM_ROLES, HANDOFF_ROLE, PAYLOAD_ROLES, SCRIPT_ROLES } from '../files/roles.js';
import { formatBytes } from './format.js';

export { SESSIONS_MAX };

/** Machines that never got past an offer: the first forgotten when room is needed. */
const EARLY_STATES: ReadonlySet<SessionState> = new Set(['dhcp', 'offered']);

export interface SessionUpdate {
  type: 'session';
  at: number;
  /** 'state': the session entered a new state; 'timeline': a new entry in the same state; 'progress': bytes moved. */
  reason: 'state' | 'timeline' | 'progress';
  /** A snapshot whose `timeline` holds only the entries new since the previous update (see mergeSessionUpdate in session.ts). */
  session: ClientSession;
}

/** A machine no longer tracked (SESSIONS_MAX): its row goes. */
export interface SessionForgotten {
  type: 'session-forgotten';
  at: number;
  mac: string;
  /** Machines forgotten since serving started, this one included. */
  forgotten: number;
}

export interface TrackerOptions {
  /**
   * The boot plan of what the machine is booting (src/boot/boot-plan.ts): its payload per
   * firmware, a file it reads as a disk, and how its hand-off is known.
   */
  planFor: (mac: string) => TrackedPlan | undefined;
  /** A running session with no traffic for this long has gone silent. */
  silentAfterMs?: number;
  /** Minimum gap between two progress updates of one session. */
  progressEveryMs?: number;
  onUpdate: (u: SessionUpdate) => void;
  /** Called when the limit pushes a machine out. */
  onForget?: (f: SessionForgotten) => void;
  /** Machines tracked at once (default SESSIONS_MAX). */
  maxSessions?: number;
  now?: () => number;
}

const TERMINAL: ReadonlySet<SessionState> = new Set(['handed-off', 'os-started', 'os-up', 'failed']);
/** Back at network boot this soon after a hand-off, with no sign of its OS: what it was given did not start. */
const LOOP_WINDOW_MS = 180_000;
/** After this long without traffic, a running OS is noted as quiet (it runs from RAM or its disk now). */
const QUIET_AFTER_MS = 120_000;
/** The vendor classes of network-boot firmware and loaders; an OS's own DHCP client sends another, or none. */
const BOOT_VENDOR = /^(PXEClient|HTTPClient)/;
/** Between the boot program and the hand-off: a DHCP client that is not the firmware's is the loader's. */
const MID_BOOT: ReadonlySet<SessionState> = new Set(['boot-program', 'ipxe', 'script', 'payload']);

export type TrackedPlan = Pick<BootPlan, 'payload' | 'handoff' | 'readAsDisk'>;

export class SessionTracker {
  /** Most recently heard from last. Machines past the offer stage are kept longest. */
  private readonly sessions: RecentMap<string, ClientSession>;
  private readonly lastProgressEmit = new Map<string, number>();
  /** Per MAC: how many timeline entries (absolute count, timelineFrom + length) updates have carried. */
  private readonly sent = new Map<string, number>();
  /** Machines whose last progress was held back by the rate limit: tick() sends it. */
  private readonly progressOwed = new Set<string>();
  /** Per MAC: the disk-read download (sanboot) being summed: bytes of finished reads, and of each running one. */
  /** Machines whose running OS was noted as quiet (once per quiet spell). */
  private readonly quiet = new Set<string>();
  private readonly diskReads = new Map<string, { id: string; done: number; running: Map<string, number> }>();
  private readonly now: () => number;
  private forgotten = 0;

  constructor(private readonly opts: TrackerOptions) {
    this.now = opts.now ?? Date.now;
    this.sessions = new RecentMap(opts.maxSessions ?? SESSIONS_MAX, {
      keep: (s) => !EARLY_STATES.has(s.state),
      onEvict: (mac) => {
        this.lastProgressEmit.delete(mac);
        this.diskReads.delete(mac);
        this.progressOwed.delete(mac);
        this.sent.delete(mac);
        this.forgotten += 1;
        this.opts.onForget?.({ type: 'session-forgotten', at: this.now(), mac, forgotten: this.forgotten });
      },
    });
  }

  /** Every session with its whole (bounded) timeline, as copies, first seen first. */
  list(): ClientSession[] {
    return [...this.sessions.values()].sort((a, b) => a.firstSeen - b.firstSeen).map((s) => this.snapshot(s, s.timeline.length));
  }

  /**
   * Puts back machines from an earlier run (src/sessions/history.ts), oldest first, marked
   * previousRun until they are heard from again. A machine already tracked keeps its live session.
   * Updates that follow carry only new timeline entries, as for any machine.
   */
  restore(list: ClientSession[]): void {
    for (const r of [...list].sort((a, b) => a.lastSeen - b.lastSeen)) {
      const mac = r.mac; // as the tracker wrote it
      if (this.sessions.has(mac)) continue;
      const s: ClientSession = { ...r, mac, current: undefined, transfers: r.transfers.map((t) => ({ ...t })), timeline: [...r.timeline], previousRun: true };
      this.sessions.set(mac, s);
      this.sent.set(mac, s.timelineFrom + s.timeline.length);
    }
  }

  /** The live session (not a copy: for reading). */
  get(mac: string): ClientSession | undefined {
    return this.sessions.peek(mac);
  }

  /** Machines tracked now (at most maxSessions). */
  get size(): number {
    return this.sessions.size;
  }

  handle(ev: WireEvent): void {
    if (ev.type === 'dhcp') this.onDhcp(ev);
    else if (ev.type === 'transfer' && ev.mac) this.onTransfer(ev);
  }

  /** Called about once a second: finds machines that went quiet mid-boot. */
  tick(): void {
    const silentAfter = this.opts.silentAfterMs ?? 90_000;
    const t = this.now();
    for (const mac of this.progressOwed) {
      const s = this.sessions.peek(mac);
      this.progressOwed.delete(mac);
      if (s) this.emit(s, 'progress', true);
    }
    // Machines the session limit pushed out leave the quiet set too: it stays as bounded as the sessions.
    for (const mac of this.quiet) if (!this.sessions.peek(mac)) this.quiet.delete(mac);
    for (const s of this.sessions.values()) {
      if ((s.state === 'os-started' || s.state === 'os-up') && !s.previousRun && t - s.lastSeen >= QUIET_AFTER_MS && !this.quiet.has(s.mac)) {
        this.quiet.add(s.mac);
        this.addEntry(s, { at: t, state: s.state, text: `Quiet for ${Math.round((t - s.lastSeen) / 1000)} s: the system runs without PXE Kit now (nothing is wrong)` });
        this.emit(s, 'timeline');
      }
      if (TERMINAL.has(s.state) || s.state === 'dhcp' || s.state === 'offered' || s.previousRun) continue;
      if (t - s.lastSeen < silentAfter) continue;
      this.fail(s, {
        code: 'silent',
        message: `No traffic from this machine for ${Math.round((t - s.lastSeen) / 1000)} s after "${STATE_LABELS[s.state]}".`,
        at: t,
      });
    }
  }

  private session(mac: string, at: number): ClientSession {
    let s = this.sessions.get(mac);
    if (!s) {
      s = { mac, isIpxe: false, firstSeen: at, lastSeen: at, state: 'dhcp', progress: 0, transfers: [], timeline: [], timelineFrom: 0, boots: 1 };
      this.sessions.set(mac, s);
    }
    s.lastSeen = at;
    this.quiet.delete(mac);
    delete s.previousRun; // heard from in this run
    return s;
  }

  private move(s: ClientSession, state: SessionState, text: string, at: number): void {
    const changed = s.state !== state;
    if (changed && state === 'handed-off') s.handedOffAt = at;
    s.state = state;
    s.progress = Math.max(state === 'failed' ? s.progress : STATE_PROGRESS[state], BOOTED_STATES.has(state) ? 100 : 0, this.transferProgress(s));
    if (changed || text) this.addEntry(s, { at, state, text });
    this.emit(s, changed ? 'state' : 'timeline');
  }

  private fail(s: ClientSession, failure: SessionFailure): void {
    failure = { ...failure, message: capText(failure.message) };
    s.failure = failure;
    s.current = undefined;
    this.move(s, 'failed', failure.message, failure.at);
  }

  private onDhcp(ev: DhcpEvent): void {
    const s = this.session(ev.mac, ev.at);
    if (ev.direction === 'in' && (ev.message === 'discover' || ev.message === 'request') && BOOTED_STATES.has(s.state) && this.afterHandoff(s, ev)) return;
    if (ev.direction === 'in' && !ev.isIpxe && !BOOT_VENDOR.test(ev.vendorClass ?? '') && MID_BOOT.has(s.state)) {
      // A loader asking for an address of its own (OVMF does it for syslinux.efi, with no PXEClient
      // vendor class): still the same boot, not the firmware starting over; the machine keeps its firmware's identity.
      if (ev.message === 'discover') this.addEntry(s, { at: ev.at, state: s.state, text: `The loader asked for an address of its own${ev.vendorClass ? ` (${capText(ev.vendorClass)})` : ''}` });
      return this.emit(s, 'timeline');
    }
    if (ev.arch && ev.arch !== 'unknown') s.arch = ev.arch;
    if (ev.vendorClass) s.vendorClass = ev.vendorClass;
    if (ev.ip && (ev.message === 'ack' || ev.message === 'request')) s.ip = ev.ip;
    if (ev.direction === 'in' && ev.message === 'discover') {
      if (ev.isIpxe) {
        s.isIpxe = true;
        if (s.state !== 'ipxe') this.move(s, 'ipxe', 'iPXE is running and asked for its configuration', ev.at);
        return;
      }
      // Firmware starting over: a new boot attempt of the same machine.
      if (s.state !== 'dhcp' && s.state !== 'offered') this.restart(s, ev.at);
      else if (s.timeline.length === 0) this.move(s, 'dhcp', `DHCP discover from ${describeClient(ev)}`, ev.at);
      return;
    }
    if (ev.direction === 'out' && (ev.message === 'offer' || ev.message === 'ack')) {
      const what = ev.proxy ? 'boot file' : `address ${ev.ip ?? '?'}`;
      const file = ev.bootFile ? ` and ${ev.bootFile}` : '';
      if (s.state === 'ipxe' || (s.isIpxe && ev.isIpxe)) {
        if (ev.message === 'ack') this.addEntry(s, { at: ev.at, state: s.state, text: `iPXE given ${ev.bootFile ?? 'no script'}` });
        this.emit(s, 'timeline');
        return;
      }
      if (ev.message === 'offer' && (s.state === 'dhcp' || s.state === 'offered')) this.move(s, 'offered', `Offered ${what}${file}`, ev.at);
      if (ev.message === 'ack' && (s.state === 'dhcp' || s.state === 'offered' || s.state === 'bound'))
        this.move(s, 'bound', `Acknowledged ${what}${file}`, ev.at);
    }
  }

  /**
   * A DHCP message from a machine that was handed off: its OS asking for its own address (the
   * OS arrived), or its firmware or iPXE again soon after, with no sign of the OS (the boot
   * failed: it loops). Returns true when handled here.
   */
  private afterHandoff(s: ClientSession, ev: DhcpEvent): boolean {
    const after = s.handedOffAt !== undefined ? Math.max(0, ev.at - s.handedOffAt) : undefined;
    const secs = after !== undefined ? ` ${Math.round(after / 1000)} s after the hand-off` : '';
    if (!ev.isIpxe && !BOOT_VENDOR.test(ev.vendorClass ?? '')) {
      if (s.state === 'os-up') return true;
      const how = ev.vendorClass ? `its DHCP client "${capText(ev.vendorClass)}"` : 'a DHCP client with no vendor class';
      s.os = { state: 'os-up', at: ev.at, afterMs: after ?? 0, how };
      this.move(s, 'os-up', `The operating system asked for its own address (${how})${secs}: it is running and its network is up`, ev.at);
      return true;
    }
    if (ev.message !== 'discover' || s.state !== 'handed-off' || after === undefined || after > LOOP_WINDOW_MS) return false;
    // Back at network boot with no sign of the OS: what it was given did not start.
    s.loops = (s.loops ?? 0) + 1;
    const plan = this.opts.planFor(s.mac);
    const hint =
      ev.isIpxe && (plan?.readAsDisk || plan?.payload.some((f) => f.role === 'iso'))
        ? 'The ISO it was given starts iPXE itself (an iPXE or network-boot ISO), which boots from the network again: serve what that ISO would load, not the ISO.'
        : ev.isIpxe
          ? 'What it loaded started iPXE again instead of an operating system.'
          : 'Its screen said why before it restarted: a program for the other firmware, an image cut short, a kernel that stops at once. Check the image with "pxekit inspect" and the machine\'s boot mode.';
    const looping = s.loops > 1 ? ` (looping: ${s.loops} times)` : '';
    s.boots += 1;
    this.diskReads.delete(s.mac);
    s.transfers = [];
    s.current = undefined;
    s.diagnosis = undefined;
    s.isIpxe = !!ev.isIpxe;
    delete s.handedOffAt;
    this.fail(s, { code: 'boot-loop', message: `Back at network boot${secs}${ev.isIpxe ? ' (as iPXE)' : ''}, with no sign of its operating system: what it was given did not start${looping}. ${hint}`, at: ev.at });
    return true;
  }

  private restart(s: ClientSession, at: number): void {
    s.boots += 1;
    delete s.handedOffAt;
    delete s.os;
    this.diskReads.delete(s.mac);
    s.failure = undefined;
    s.diagnosis = undefined;
    s.current = undefined;
    s.transfers = [];
    s.isIpxe = false;
    this.move(s, 'dhcp', `Boot attempt ${s.boots}: firmware asked for an address again`, at);
  }

  private onTransfer(ev: TransferEvent): void {
    const s = this.session(ev.mac!, ev.at);
    if (!s.ip) s.ip = ev.clientIp;
    if (ev.role === HANDOFF_ROLE) return this.onHandoffSignal(s, ev);
    // The plan is asked only where it matters: a whole-ISO read (sanboot reads it as a disk), and a
    // finished transfer (is that the hand-off?). Progress events, the bulk, need neither.
    const plan = ev.role === 'iso' || ev.phase === 'done' ? this.opts.planFor(s.mac) : undefined;
    if (plan?.readAsDisk && sameFile(ev.file, plan.readAsDisk)) return this.onDiskRead(s, ev);
    let t = s.transfers.find((x) => x.id === ev.id);
    if (!t) {
      t = { id: ev.id, protocol: ev.protocol, file: capText(ev.file, FILE_NAME_MAX), role: ev.role, bytes: 0, size: ev.size, rate: 0, state: 'running', startedAt: ev.at };
      s.transfers.push(t);
      if (s.transfers.length > TRANSFERS_MAX) s.transfers.splice(0, s.transfers.length - TRANSFERS_MAX);
    }
    const elapsed = Math.max(1, ev.at - t.startedAt) / 1000;
    t.bytes = ev.bytes;
    if (ev.size !== undefined) t.size = ev.size;
    t.rate = t.bytes / elapsed;
    if (ev.phase === 'start') return this.onTransferStart(s, t, ev);
    if (ev.phase === 'progress') {
      s.current = t;
      s.progress = Math.max(s.progress, this.transferProgress(s));
      return this.emit(s, 'progress');
    }
    t.endedAt = ev.at;
    if (ev.phase === 'done') {
      t.state = 'done';
      if (s.current?.id === t.id) s.current = undefined;
      if (!BOOTED_STATES.has(s.state) && this.payloadDelivered(s, plan)) this.move(s, 'handed-off', 'Everything the OS needs was delivered: the machine is starting it', ev.at);
      else this.move(s, s.state, `${ev.protocol.toUpperCase()} ${ev.file} done (${formatBytes(t.bytes)})`, ev.at);
      return;
    }
    t.state = 'failed';
    if (s.current?.id === t.id) s.current = undefined;
    this.onTransferError(s, ev);
  }

  private onTransferStart(s: ClientSession, t: TransferSnapshot, ev: TransferEvent): void {
    s.current = t;
    const role = ev.role ?? '';
    const text = `${ev.protocol.toUpperCase()} ${ev.file}${ev.size !== undefined ? ` (${formatBytes(ev.size)})` : ''}`;
    // Handed off is where PXE Kit's part ends: what the OS fetches next (casper's ISO, a live
    // system's squashfs) is shown, and does not take the machine back to "Downloading OS".
    if (BOOTED_STATES.has(s.state)) {
      // What the loader still fetches (a program chained after its report) is the loader's; anything else is the OS's.
      const plan = this.opts.planFor(s.mac);
      const loaders = role === HANDOFF_ROLE || BOOT_PROGRAM_ROLES.has(role) || SCRIPT_ROLES.has(role) || (plan?.payload ?? []).some((f) => sameFile(ev.file, f.path));
      if (loaders || s.state !== 'handed-off') return this.move(s, s.state, `After the hand-off: ${text}`, ev.at);
      const after = s.handedOffAt !== undefined ? ` ${Math.round((ev.at - s.handedOffAt) / 1000)} s after the hand-off` : '';
      s.os = { state: 'os-started', at: ev.at, afterMs: s.handedOffAt !== undefined ? ev.at - s.handedOffAt : 0, how: `it fetched ${capText(ev.file)}` };
      return this.move(s, 'os-started', `The operating system is running: it fetches ${text}${after}`, ev.at);
    }
    if (TERMINAL.has(s.state) && s.state === 'failed') s.failure = undefined;
    if (BOOT_PROGRAM_ROLES.has(role)) this.move(s, 'boot-program', text, ev.at);
    else if (SCRIPT_ROLES.has(role)) this.move(s, 'script', text, ev.at);
    else if (PAYLOAD_ROLES.has(role)) this.move(s, 'payload', text, ev.at);
    else this.move(s, s.state === 'failed' ? 'bound' : s.state, text, ev.at);
  }

  private onTransferError(s: ClientSession, ev: TransferEvent): void {
    if (ev.errorCode === 'not-found' && ev.expected) {
      // A loader's normal search (shim's optional lists, GRUB's module lists): not a failure.
      this.addEntry(s, { at: ev.at, state: s.state, text: `${ev.file}: not here, as expected (${ev.expected})` });
      return this.emit(s, 'timeline');
    }
    if (ev.errorCode === 'aborted') {
      // Firmware often opens a file only to learn its size (EDK2's tsize probe) and
      // aborts; an HTTP client may cancel a read it no longer needs. Not a failure.
      this.addEntry(s, { at: ev.at, state: s.state, text: `${ev.file}: ${ev.error ?? 'closed early by the client'}` });
      return this.emit(s, 'timeline');
    }
    const early = s.state === 'bound' || s.state === 'offered' || s.state === 'boot-program';
    if (ev.errorCode === 'not-found') {
      return this.fail(s, {
        code: 'not-found',
        message: ev.namedBy
          ? `The machine asked for "${ev.file}" over ${ev.protocol.toUpperCase()}, ${ev.namedBy}, but the netboot folder does not have it.`
          : `The machine asked for "${ev.file}" over ${ev.protocol.toUpperCase()}, which PXE Kit does not serve.`,
        pxeError: ev.protocol === 'tftp' && early ? 'PXE-E3B (TFTP error - File not found)' : undefined,
        at: ev.at,
      });
    }
    if (ev.errorCode === 'timeout') {
      return this.fail(s, {
        code: 'timeout',
        message: `The transfer of "${ev.file}" stopped at ${formatBytes(ev.bytes)}${ev.size ? ` of ${formatBytes(ev.size)}` : ''}: ${ev.error ?? 'the machine stopped answering'}.`,
        pxeError: ev.protocol === 'tftp' && early ? 'PXE-E32 or PXE-E35 (TFTP timeout)' : undefined,
        at: ev.at,
      });
    }
    this.fail(s, { code: ev.errorCode === 'access-violation' ? 'not-found' : 'io', message: ev.error ?? `Transfer of ${ev.file} failed`, at: ev.at });
  }

  /** Attaches a diagnosis (src/diagnostics) to the machine's session, with a timeline entry. */
  diagnose(mac: string, d: Diagnosis): void {
    const s = this.sessions.peek(mac);
    if (!s) return;
    s.diagnosis = capDiagnosis(d);
    this.addEntry(s, { at: d.at, state: s.state, text: `Diagnosis: ${d.title}` });
    this.emit(s, 'timeline');
  }

  /** Records that a machine cannot be given a boot file (wrong/unsupported architecture). */
  refuse(mac: string, reason: string, at = this.now()): void {
    const s = this.session(mac, at);
    if (s.failure?.code === 'no-boot-file') return;
    this.fail(s, { code: 'no-boot-file', message: reason, pxeError: 'PXE-E53 (No boot filename received)', at });
  }

  /**
   * The loader reported that it hands over (src/boot/boot-plan.ts): the machine is handed off,
   * once per boot attempt; boot-once is recorded from this. The request is the report: the loader
   * asks for it just before `boot`, and its last ACK is often lost (the machine leaves its
   * firmware's network stack at once), so the transfer's end says nothing.
   */
  private onHandoffSignal(s: ClientSession, ev: TransferEvent): void {
    if (ev.phase !== 'start' || BOOTED_STATES.has(s.state)) return;
    s.current = undefined;
    this.move(s, 'handed-off', 'The loader reported it is handing over: the machine is starting what it loaded', ev.at);
  }

  /**
   * A file the machine reads as a disk (sanboot of an ISO): its many Range requests are one
   * download, its progress the bytes read of the whole file.
   */
  private onDiskRead(s: ClientSession, ev: TransferEvent): void {
    const id = `disk:${capText(ev.file.replace(/^\/+/, ''), FILE_NAME_MAX)}`;
    let t = s.transfers.find((x) => x.id === id);
    const total = ev.range?.total ?? ev.size;
    if (!t) {
      t = { id, protocol: ev.protocol, file: capText(ev.file, FILE_NAME_MAX), role: ev.role, bytes: 0, size: total, rate: 0, state: 'running', startedAt: ev.at };
      s.transfers.push(t);
      if (s.transfers.length > TRANSFERS_MAX) s.transfers.splice(0, s.transfers.length - TRANSFERS_MAX);
      this.diskReads.set(s.mac, { id, done: 0, running: new Map() });
      s.current = t;
      const text = `${ev.protocol.toUpperCase()} ${ev.file}${total !== undefined ? ` (${formatBytes(total)})` : ''}: read as a disk, by ranges`;
      return BOOTED_STATES.has(s.state) ? this.move(s, s.state, text, ev.at) : this.move(s, 'payload', text, ev.at);
    }
    const reads = this.diskReads.get(s.mac);
    if (!reads || reads.id !== id) return;
    if (ev.phase === 'done' || ev.phase === 'error') {
      reads.running.delete(ev.id);
      reads.done += ev.bytes;
    } else reads.running.set(ev.id, ev.bytes);
    const running = [...reads.running.values()].reduce((a, b) => a + b, 0);
    t.bytes = t.size !== undefined ? Math.min(t.size, reads.done + running) : reads.done + running;
    t.rate = t.bytes / (Math.max(1, ev.at - t.startedAt) / 1000);
    if (!BOOTED_STATES.has(s.state)) s.progress = Math.max(s.progress, this.transferProgress(s));
    this.emit(s, 'progress');
  }

  private payloadDelivered(s: ClientSession, plan: TrackedPlan | undefined): boolean {
    // Where the loader reports its hand-off, files delivered are not the hand-off.
    if (!plan || plan.handoff.kind === 'signal') return false;
    const done = new Set(s.transfers.filter((t) => t.state === 'done').map((t) => t.file.replace(/^\/+/, '').toLowerCase()));
    const all = (files: string[]) => files.length > 0 && files.every((f) => done.has(f.replace(/^\/+/, '').toLowerCase()));
    // A tree's menu: any entry's files (the technician may pick another than the default).
    const fw = this.firmwareOf(s);
    if (plan.handoff.entries?.some((e) => (!fw || !e.firmware || e.firmware === fw) && all(e.files))) return true;
    return all(payloadFor(plan, fw));
  }

  /** Progress (0..100) from bytes: boot program 15→35, payload 45→100. */
  private transferProgress(s: ClientSession): number {
    const running = s.transfers.filter((t) => t.state !== 'failed');
    const boot = running.filter((t) => BOOT_PROGRAM_ROLES.has(t.role ?? ''));
    const payload = running.filter((t) => PAYLOAD_ROLES.has(t.role ?? ''));
    const frac = (ts: TransferSnapshot[]) => {
      const size = ts.reduce((a, t) => a + (t.size ?? 0), 0);
      return size > 0 ? Math.min(1, ts.reduce((a, t) => a + t.bytes, 0) / size) : 0;
    };
    if (payload.length) {
      const plan = this.opts.planFor(s.mac);
      const total = (plan ? payloadFor(plan, this.firmwareOf(s)).length : 0) || payload.length;
      const share = Math.min(1, payload.length / total);
      return Math.floor(45 + 54 * frac(payload) * share);
    }
    if (boot.length) return Math.floor(15 + 20 * frac(boot));
    return 0;
  }

  private firmwareOf(s: ClientSession) {
    return planFirmware(s.arch ? archFamily(s.arch) : undefined);
  }

  /** Entries' texts are capped (capText): they quote file names a client chose. */
  private addEntry(s: ClientSession, entry: TimelineEntry): void {
    s.timeline.push(entry.text.length > TEXT_MAX ? { ...entry, text: capText(entry.text) } : entry);
    if (s.timeline.length > TIMELINE_MAX) {
      const cut = s.timeline.length - TIMELINE_MAX;
      s.timeline.splice(0, cut);
      s.timelineFrom += cut;
    }
  }

  /**
   * A copy a listener may keep: the session's fields, its transfers, and the last `entries`
   * timeline entries. Timeline entries and the failure/diagnosis objects are never changed
   * once made (they are replaced), so they are shared rather than copied.
   */
  private snapshot(s: ClientSession, entries: number): ClientSession {
    const n = Math.min(entries, s.timeline.length);
    const timeline = s.timeline.slice(s.timeline.length - n);
    const transfers = s.transfers.map((t) => ({ ...t }));
    const current = s.current && (transfers.find((t) => t.id === s.current!.id) ?? { ...s.current });
    return { ...s, current, transfers, timeline, timelineFrom: s.timelineFrom + s.timeline.length - n };
  }

  private emit(s: ClientSession, reason: SessionUpdate['reason'], owed = false): void {
    const t = this.now();
    if (reason === 'progress' && !owed && t - (this.lastProgressEmit.get(s.mac) ?? 0) < (this.opts.progressEveryMs ?? 250)) {
      // Sent by the next tick, so the last bytes of a burst are not left unsaid.
      this.progressOwed.add(s.mac);
      return;
    }
    this.progressOwed.delete(s.mac);
    this.lastProgressEmit.set(s.mac, t);
    const appended = s.timelineFrom + s.timeline.length;
    const fresh = appended - (this.sent.get(s.mac) ?? 0);
    this.sent.set(s.mac, appended);
    this.opts.onUpdate({ type: 'session', at: t, reason, session: this.snapshot(s, fresh) });
  }
}

function sameFile(asked: string, published: string): boolean {
  return asked.replace(/^\/+/, '').toLowerCase() === published.replace(/^\/+/, '').toLowerCase();
}

function describeClient(ev: DhcpEvent): string {
  const parts = [ev.arch && ev.arch !== 'unknown' ? ev.arch.toUpperCase() : undefined, ev.vendorClass?.split(':')[0]];
  return parts.filter(Boolean).join(' ') || 'a client';
}

