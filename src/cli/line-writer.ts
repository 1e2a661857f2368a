// Lines for stdout, written once per turn of the event loop rather than once per line:
// `pxekit serve --json` prints an event for every DHCP packet, and a write() syscall per
// line was a visible share of the engine's CPU under a DHCP flood (docs/performance.md).
export class LineWriter {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  line(text: string): void {
    this.pending.push(text);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what is pending now (call before exiting). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.out.write(text);
  }
}
