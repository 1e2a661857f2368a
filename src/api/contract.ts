// The one typed API between the engine and every UI (Electron renderer, a plain
// browser against `pxekit serve --ui`, tests). Commands go in, events come out.
// Type-only imports keep this file safe to import from the renderer bundle.
import type { NetInterface } from '../net/interfaces.js';
import type { WireEvent } from '../sessions/events.js';
import type { ClientSession } from '../sessions/session.js';
import type { SiteProblem, StatusEvent } from '../sessions/status.js';
import type { SessionForgotten, SessionUpdate } from '../sessions/tracker.js';
import type { DiagnosisEvent } from '../diagnostics/types.js';
import type { Identity } from '../images/identify.js';
import type { Assignment, LibraryEntry, LibraryEvent, MenuSettings } from '../images/library-entry.js';
import type { HostCheck } from '../diagnostics/checks.js';
import type { EvidenceFiles } from '../diagnostics/report.js';

export type { HostCheck, EvidenceFiles, Assignment, LibraryEntry, MenuSettings };

import { API_VERSION } from './wire.js';
export { API_PATH, API_VERSION, TOKEN_PROTOCOL_PREFIX } from './wire.js';

/** The one-click actions site problems offer (SiteProblem.action.id). */
export type SiteActionId = NonNullable<SiteProblem['action']>['id'];
export const SITE_ACTION_IDS: readonly SiteActionId[] = ['switch-to-proxy', 'retry-ports'];

export type ServeModeOption = 'auto' | 'dhcp' | 'proxy';
export type SecureBootOption = 'auto' | 'signed' | 'ipxe';

/** What "Serve" needs. The image is a library entry id or a path on the engine's machine, or neither when the library's menu/assignments say what to boot. */
export interface ServeOptions {
  iface: string;
  mode: ServeModeOption;
  range?: string;
  force?: boolean;
  imageId?: string;
  imagePath?: string;
  initrds?: string[];
  cmdline?: string;
  httpPort?: number;
  /** Seconds to listen for another DHCP server before serving (auto/dhcp modes). Default 5. */
  probeSeconds?: number;
  /** Each machine boots the image once; its next network boot goes to the local disk. */
  bootOnce?: boolean;
  /** UEFI x64 machines: the signed chain when it can boot the image ('auto'), always ('signed'), or iPXE ('ipxe'). */
  secureBoot?: SecureBootOption;
  /** Windows: add PXE Kit's inbound firewall rules while serving, removed at stop (the technician's consent). */
  openFirewall?: boolean;
}

/** The wimboot stored in the engine's data dir (pxekit wimboot FILE, or wimboot.install). */
export interface WimbootInfo {
  version: string;
  sha256: string;
  size: number;
  /** ms since the epoch. */
  installedAt: number;
  /** Where it was copied from. */
  from: string;
  /** The stored file. */
  path: string;
}

/** What is stored: `installed`, or nothing (`problem` says why, when a stored one cannot be used); where to download it. */
export interface WimbootStatus {
  installed?: WimbootInfo;
  problem?: string;
  downloadUrl: string;
}

/** A folder the file browser may show (files.list), with its name for people. */
export interface BrowseRoot {
  path: string;
  label: string;
}

/** One folder or file in the file browser; a file says what it is by its content (`image.ok`: it can be served). */
export interface FileEntry {
  name: string;
  /** Absolute, as the engine sees it: what library.add takes. */
  path: string;
  kind: 'dir' | 'file';
  size: number;
  image?: Identity;
}

/** One folder's listing (`dir` null: the roots themselves); `parent` undefined at a root. */
export interface FileListing {
  dir: string | null;
  parent?: string;
  roots: BrowseRoot[];
  entries: FileEntry[];
  /** More entries than are listed. */
  truncated?: boolean;
}

/** Every command: its parameters and its result. */
export interface Commands {
  'engine.status': { params: Record<string, never>; result: StatusEvent };
  /** Stops serving and ends the engine process (how the desktop app quits a root engine it cannot signal). */
  'engine.shutdown': { params: Record<string, never>; result: { shuttingDown: true } };
  'interfaces.list': { params: Record<string, never>; result: NetInterface[] };
  'serve.start': { params: ServeOptions; result: StatusEvent };
  'serve.stop': { params: Record<string, never>; result: StatusEvent };
  /** Runs the one-click action of a site problem (StatusEvent.site[].action.id); refused ('action-not-applicable') when it does not apply now. */
  'serve.action': { params: { id: SiteActionId }; result: StatusEvent };
  'sessions.list': { params: Record<string, never>; result: ClientSession[] };
  'library.list': { params: Record<string, never>; result: LibraryEntry[] };
  'library.add': { params: { path: string; name?: string; initrds?: string[]; cmdline?: string }; result: LibraryEntry };
  'library.remove': { params: { id: string }; result: { removed: boolean } };
  'library.inspect': { params: { id: string }; result: { entry: LibraryEntry; detected: string; script: string } };
  'assign.set': { params: Assignment; result: Assignment[] };
  'assign.clear': { params: { mac: string }; result: Assignment[] };
  'menu.set': { params: MenuSettings; result: MenuSettings };
  /** Assignments and menu as they are now, for a UI that just connected. */
  'settings.get': { params: Record<string, never>; result: { assignments: Assignment[]; menu: MenuSettings } };
  'logs.export': { params: { format: 'jsonl' | 'text' }; result: { fileName: string; content: string } };
  'wimboot.status': { params: Record<string, never>; result: WimbootStatus };
  /** The file browser: a folder under the allowed roots (typed paths normalised: quotes, ~), or the roots when `dir` is absent; refused ('path-refused') outside them. */
  'files.list': { params: { dir?: string }; result: FileListing };
  /** Checks that the file (a path as the engine sees it) is wimboot and stores it; refused with the reason ('wimboot-refused'), the stored one kept. */
  'wimboot.install': { params: { path: string }; result: WimbootStatus };
  /** The technician's names for machines, MAC (lower case) → label, kept in the data dir. */
  'machines.labels': { params: Record<string, never>; result: MachineLabels };
  /** Names one machine (at most 40 printable characters; '' removes the name); answers with every label. */
  'machines.setLabel': { params: { mac: string; label: string }; result: MachineLabels };
  /** The preflight check (pxekit check) on one NIC: each finding in words with its fix; `ok` when nothing failed. Refused ('busy') while serving (the ports are PXE Kit's own then). */
  'host.check': { params: { iface: string; httpPort?: number }; result: { iface: string; ok: boolean; checks: HostCheck[] } };
  /** Writes the evidence of the current (or last) run now, into <dataDir>/evidence/<time>/: pcapng and the job report (HTML, JSON); refused ('not-available') before anything was served. */
  'evidence.save': { params: Record<string, never>; result: EvidenceFiles };
}

/** MAC (lower case) → the technician's name for that machine. */
export type MachineLabels = Record<string, string>;

export type CommandName = keyof Commands;

/** Library and settings changes, so every open UI stays in step. */
export type StateEvent = LibraryEvent | { type: 'labels'; at: number; labels: MachineLabels };

/** What the event stream carries: wire events, session snapshots, status, state changes. */
export type ApiEvent = WireEvent | StatusEvent | SessionUpdate | SessionForgotten | StateEvent | DiagnosisEvent;

// ---- Envelopes on the wire (JSON text frames over WebSocket) ----

export interface RequestEnvelope<N extends CommandName = CommandName> {
  v: typeof API_VERSION;
  id: number;
  cmd: N;
  params: Commands[N]['params'];
}

/**
 * Every error code the engine answers a command with, and no other: request checks
 * (src/api/validate.ts, ws-server.ts) and the controller's refusals (ApiError in
 * src/api/controller.ts). Fakes answer with these codes only.
 */
export type ApiErrorCode =
  | 'bad-request'
  | 'unsupported-version'
  | 'unknown-command'
  | 'invalid-params'
  | 'not-available'
  | 'busy'
  | 'serve-failed'
  | 'action-not-applicable'
  | 'action-failed'
  | 'library-error'
  | 'wimboot-refused'
  | 'path-refused'
  | 'internal';

export type ResponseEnvelope<N extends CommandName = CommandName> =
  | { v: typeof API_VERSION; id: number; ok: true; result: Commands[N]['result'] }
  | { v: typeof API_VERSION; id: number; ok: false; error: { code: ApiErrorCode; message: string } };

export interface EventEnvelope {
  v: typeof API_VERSION;
  event: ApiEvent;
}

/** Sent by the server first: the state a fresh UI needs (recent events replayed after it). */
export interface HelloEnvelope {
  v: typeof API_VERSION;
  hello: { status: StatusEvent; sessions: ClientSession[]; engineVersion: string };
}

export type ServerMessage = ResponseEnvelope | EventEnvelope | HelloEnvelope;

/**
 * Authentication: the per-run token travels as the WebSocket subprotocol
 * "pxekit.v1.<token>" (never in the URL, which logs and process lists show).
 * The browser UI gets the token from the URL fragment (#token=...), which
 * browsers never send to the server.
 */
