// The renderer's view of the one API contract (src/api/contract.ts). Type-only
// re-exports plus the contract's two constants, so the bundle carries no engine code.
export type {
  ApiEvent,
  Assignment,
  CommandName,
  Commands,
  EventEnvelope,
  HelloEnvelope,
  LibraryEntry,
  MachineLabels,
  MenuSettings,
  RequestEnvelope,
  ResponseEnvelope,
  ServeModeOption,
  SecureBootOption,
  ServeOptions,
  ServerMessage,
  StateEvent,
  WimbootInfo,
  WimbootStatus,
  BrowseRoot,
  FileEntry,
  FileListing,
  HostCheck,
  EvidenceFiles,
} from '../../../src/api/contract.js';
export { API_VERSION, TOKEN_PROTOCOL_PREFIX } from '../../../src/api/contract.js';
export type { NetInterface } from '../../../src/net/interfaces.js';
export type { ClientSession, SessionState, SessionFailure, TimelineEntry, TransferSnapshot } from '../../../src/sessions/session.js';
export { BOOTED_STATES, STATE_LABELS, mergeSessionUpdate } from '../../../src/sessions/session.js';
export type { StatusEvent, OtherDhcpServer, EngineState, SiteProblem } from '../../../src/sessions/status.js';
export type { Diagnosis, DiagnosisEvent } from '../../../src/diagnostics/types.js';
export type { WireEvent, LogEvent, LogLevel, DhcpEvent, TransferEvent, DropEvent } from '../../../src/sessions/events.js';
