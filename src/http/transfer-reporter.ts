// One transfer's events: start, progress at most every `intervalMs` (a 1 GiB image in
// 256 KiB chunks would otherwise flood the session view with 4000 events), then done or error.
import type { EmitWireEvent, TransferEvent } from '../sessions/events.js';

export class TransferReporter {
  private bytes = 0;
  private lastReported = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    private readonly emit: EmitWireEvent,
    intervalMs: number,
    private readonly base: TransferEvent,
  ) {
    this.send('start');
    this.timer = setInterval(() => {
      if (this.bytes !== this.lastReported) this.send('progress');
    }, intervalMs);
    this.timer.unref();
  }

  add(n: number): void {
    this.bytes += n;
  }

  done(): void {
    if (this.finish()) this.send('done');
  }

  fail(code: NonNullable<TransferEvent['errorCode']>, message: string): void {
    if (this.finish()) this.send('error', { errorCode: code, error: message });
  }

  private finish(): boolean {
    if (this.finished) return false;
    this.finished = true;
    clearInterval(this.timer);
    return true;
  }

  private send(phase: TransferEvent['phase'], extra: Partial<TransferEvent> = {}): void {
    this.lastReported = this.bytes;
    this.emit({ ...this.base, at: Date.now(), phase, bytes: this.bytes, ...extra });
  }
}
