// What the harness page exposes (see renderer/src/harness.tsx), as the tests see it
// inside page.evaluate. The root tsc has no DOM lib, so callbacks cast globalThis
// to this shape: `(globalThis as unknown as HarnessWindow).__pxekitFake`.
import type { ApiEvent } from '../../../src/api/contract.js';

export interface FakeLike {
  state: Record<string, unknown> & { assignments: unknown; menu: unknown };
  requests: Array<{ cmd: string; params: unknown }>;
  open(): void;
  drop(detail?: string): void;
  /** An ApiEvent; typed loosely because literals built inside page.evaluate widen. */
  emit(event: unknown): void;
}

export interface HarnessWindow {
  __pxekitFake: FakeLike;
  __pxekitHarness: { emitMany(events: ApiEvent[]): void; floodLog(n: number, macs: string[]): void; show(screen: string): void };
}
