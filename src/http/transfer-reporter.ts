// One transfer's events: start, progress at most every `intervalMs` (a 1 GiB image in
// 256 KiB chunks would otherwise flood the session view with 4000 events), then done or error.
// Progress is reported as bytes move (no timer: a Range read of 256 KiB would pay for
// arming and clearing one, and a stalled transfer has no progress to report).
import type { EmitWireEvent, TransferEvent } from '../sessions/events.js';

export class TransferReporter {
  private bytes = 0;
  private lastReported = 0;
  private lastReportAt: number;
  private finished = false;

  constructor(
    private readonly emit: EmitWireEvent,
    private readonly intervalMs: number,
    private readonly base: TransferEvent,
  ) {
    this.lastReportAt = Date.now();
    this.send('start', this.lastReportAt);
  }

  add(n: number): void {
    this.bytes += n;
    if (this.finished || this.bytes === this.lastReported) return;
    const now = Date.now();
    if (now - this.lastReportAt >= this.intervalMs) this.send('progress', now);
  }

  done(): void {
    if (this.finish()) this.send('done', Date.now());
  }

  fail(code: NonNullable<TransferEvent['errorCode']>, message: string): void {
    if (this.finish()) this.send('error', Date.now(), { errorCode: code, error: message });
  }

  private finish(): boolean {
    if (this.finished) return false;
    this.finished = true;
    return true;
  }

  private send(phase: TransferEvent['phase'], at: number, extra: Partial<TransferEvent> = {}): void {
    this.lastReported = this.bytes;
    this.lastReportAt = at;
    this.emit({ ...this.base, at, phase, bytes: this.bytes, ...extra });
  }
}
