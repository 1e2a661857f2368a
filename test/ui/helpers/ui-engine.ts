// The real `pxekit serve --ui --json` inside a virtual lab namespace, with no NIC
// or image given: everything is chosen in the browser. Its JSON lines are kept;
// the first {type:"ui"} line carries the URL (token in the fragment).
import type { ChildProcess } from 'node:child_process';
import { CLI_MAIN, type AnyEvent } from '../../../src/lab/engine-cli.js';
import { lineReader, type VirtualLab } from '../../../src/lab/virtual-lab.js';

export class UiEngine {
  readonly events: AnyEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    lineReader(child.stdout!, (line) => {
      try {
        this.events.push(JSON.parse(line) as AnyEvent);
      } catch {
        this.stderr.push(`(stdout) ${line}`);
      }
    });
    lineReader(child.stderr!, (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(lab: VirtualLab, dataDir: string): UiEngine {
    return new UiEngine(lab.spawn(process.execPath, [CLI_MAIN, 'serve', '--ui', '--json', '--data-dir', dataDir]));
  }

  async url(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ui = this.events.find((e) => e.type === 'ui');
      if (ui) return String(ui.url);
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`pxekit serve --ui printed no URL\n${this.tail()}`);
  }

  tail(n = 15): string {
    return `--- engine events ---\n${this.events
      .slice(-n)
      .map((e) => JSON.stringify(e).slice(0, 300))
      .join('\n')}\n--- engine stderr ---\n${this.stderr.slice(-20).join('\n')}`;
  }

  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGINT');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}
