// Starting the engine through the OS's own administrator prompt. Plain Node (no
// Electron import), so the lifecycle that uses it runs in unit tests.
//
// The token never goes on argv (process lists show it to every user):
//   - direct (already root, or tests): PXEKIT_TOKEN in the environment;
//   - Linux pkexec: pkexec wipes the environment, but keeps stdin: --token-stdin;
//     stdin also stays open as the engine's lifeline (EOF = the app died);
//   - macOS administrator prompt / Windows UAC: a file only this user can read,
//     in a private temp folder; the engine reads it and deletes it (--token-file).
//
// The prompts name PXE Kit: macOS's carries our own text ("with prompt"); Windows' UAC
// names the program it elevates, which is PXE Kit's own executable run as a small stub
// (runElevatedEngineStub), not cmd.exe ("Windows Command Processor") or PowerShell.
// Neither prompt was ever run here (Linux only): see docs/desktop.md.
//
// Early errors: neither prompt passes the engine's stderr back while it runs (osascript
// hands it over only at the end, Start-Process -Verb RunAs cannot redirect at all), so the
// engine's stderr goes to a file the lifecycle reads when the engine exits before its API
// is up (LaunchOptions.stderrFile). The file is created exclusively by the elevated side
// (never appended to something already there: the folder is the user's).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EngineCommand {
  /** Absolute path of the program (pkexec requires it). */
  command: string;
  args: string[];
  /** Variables the engine needs (e.g. ELECTRON_RUN_AS_NODE=1 when the app's binary runs it). */
  env?: Record<string, string>;
}

export interface LaunchOptions {
  /**
   * A path that does not exist yet, in a folder of the user's: where the engine's stderr
   * goes when the prompt gives no pipe for it (macOS, Windows). Elevators whose child's
   * stderr is the engine's own (direct, pkexec) leave it alone.
   */
  stderrFile?: string;
}

export interface Elevator {
  readonly name: string;
  /** Spawns the engine elevated; the child's exit is the engine's exit. */
  launch(cmd: EngineCommand, token: string, opts?: LaunchOptions): ChildProcess;
  /** Whether an exit before the engine came up means the user declined the prompt. */
  declined(code: number | null, stderr: string): boolean;
  /** What to tell the user when they declined. */
  readonly declinedMessage: string;
}

const STDIO: ['pipe', 'pipe', 'pipe'] = ['pipe', 'pipe', 'pipe'];

/** No prompt: for an app already running as root/administrator, and for tests. */
export const directElevator: Elevator = {
  name: 'direct',
  launch: (cmd, token) => spawn(cmd.command, cmd.args, { env: { ...process.env, ...cmd.env, PXEKIT_TOKEN: token }, stdio: STDIO }),
  declined: () => false,
  declinedMessage: '',
};

/** Linux: polkit's pkexec. 126 = the user dismissed the dialog; 127 = authentication failed. */
export const pkexecElevator: Elevator = {
  name: 'pkexec',
  launch(cmd, token) {
    // pkexec clears the environment: /usr/bin/env puts back only what the engine needs.
    const envArgs = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const argv = envArgs.length ? ['/usr/bin/env', ...envArgs, cmd.command, ...cmd.args] : [cmd.command, ...cmd.args];
    const child = spawn('pkexec', [...argv, '--token-stdin'], { stdio: STDIO });
    child.stdin.write(`${token}\n`);
    child.stdin.on('error', () => undefined); // EPIPE if pkexec failed: reported by its exit code
    return child;
  },
  declined: (code) => code === 126 || code === 127,
  declinedMessage:
    'PXE Kit needs administrator rights to answer DHCP and TFTP (ports 67, 69 and 4011), and the password prompt was closed or refused. Click "Start engine" to be asked again.',
};

function privateTokenFile(token: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pxekit-')); // 0700
  const file = join(dir, 'token');
  writeFileSync(file, token, { mode: 0o600 });
  return { dir, file };
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const appleScriptString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The text of the macOS administrator prompt. */
export const MAC_PROMPT = 'PXE Kit needs an administrator password to answer DHCP and TFTP (ports 67, 69 and 4011) on the network card you choose.';

/**
 * The shell line the macOS prompt runs as root: stderr into `stderrFile` (created
 * exclusively: `set -C` makes `>` refuse an existing file or link), then the engine.
 */
export function macShellLine(cmd: EngineCommand, tokenFile: string, stderrFile?: string): string {
  const env = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${shq(v)}`);
  const run = [...env, ...[cmd.command, ...cmd.args, '--token-file', tokenFile].map(shq)].join(' ');
  return stderrFile ? `set -C; exec 2>${shq(stderrFile)}; ${run}` : run;
}

/** osascript's arguments: `do shell script "…" with prompt "PXE Kit needs …" with administrator privileges`. */
export function osascriptArgs(shellLine: string): string[] {
  return ['-e', `do shell script ${appleScriptString(shellLine)} with prompt ${appleScriptString(MAC_PROMPT)} with administrator privileges`];
}

/** macOS: the system administrator prompt via AppleScript's "with administrator privileges". */
export const osascriptElevator: Elevator = {
  name: 'osascript',
  launch(cmd, token, opts) {
    const { dir, file } = privateTokenFile(token);
    const child = spawn('osascript', osascriptArgs(macShellLine(cmd, file, opts?.stderrFile)), { stdio: STDIO });
    child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return child;
  },
  // "User canceled. (-128)"
  declined: (code, stderr) => code !== 0 && /-128|User canceled/i.test(stderr),
  declinedMessage: 'PXE Kit needs administrator rights to answer DHCP and TFTP, and the administrator prompt was cancelled. Click "Start engine" to be asked again.',
};

const psq = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The argument that makes PXE Kit's executable act as the elevated stub (runElevatedEngineStub). */
export const STUB_FLAG = '--pxekit-elevated-engine=';

/** What the stub runs: the engine command, its variables, and where its stderr goes. */
export interface StubPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
  stderrFile?: string;
}

/** One argument, base64url: no spaces or quotes for Start-Process's -ArgumentList to mangle. */
export function stubArgument(plan: StubPlan): string {
  return STUB_FLAG + Buffer.from(JSON.stringify(plan)).toString('base64url');
}

/**
 * The PowerShell line that raises the UAC prompt for `stubExe` (PXE Kit's own executable,
 * so the prompt names PXE Kit) and waits for it: Start-Process -Verb RunAs cannot pass
 * variables (the elevated process gets a fresh environment) nor redirect output, so both
 * travel in the stub's one argument.
 */
export function uacPowerShell(stubExe: string, plan: StubPlan): string {
  return `$p = Start-Process -FilePath ${psq(stubExe)} -ArgumentList ${psq(stubArgument(plan))} -Verb RunAs -WindowStyle Hidden -Wait -PassThru; exit $p.ExitCode`;
}

/**
 * Windows: UAC through PowerShell's Start-Process -Verb RunAs on PXE Kit's own executable
 * (`stubExe`, default: this process's, i.e. "PXE Kit.exe" in the packaged app), which then
 * runs the engine with its variables and its stderr in the file.
 */
export function makeUacElevator(stubExe: string = process.execPath): Elevator {
  return {
    name: 'uac',
    launch(cmd, token, opts) {
      const { dir, file } = privateTokenFile(token);
      const plan: StubPlan = { command: cmd.command, args: [...cmd.args, '--token-file', file], env: cmd.env ?? {}, ...(opts?.stderrFile ? { stderrFile: opts.stderrFile } : {}) };
      const child = spawn('powershell.exe', ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', uacPowerShell(stubExe, plan)], { stdio: STDIO, windowsHide: true });
      child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      return child;
    },
    declined: uacDeclined,
    declinedMessage: UAC_DECLINED,
  };
}

const uacDeclined = (code: number | null, stderr: string) => code !== 0 && /canceled by the user|cancelled by the user/i.test(stderr);
const UAC_DECLINED = 'PXE Kit needs administrator rights to answer DHCP and TFTP, and the Windows permission prompt was declined. Click "Start engine" to be asked again.';

/**
 * The elevated side of the Windows prompt: when PXE Kit's executable is started with
 * STUB_FLAG, it runs the engine it describes (its variables set, its stderr into the file,
 * created exclusively) and exits with the engine's exit code, before any window exists.
 * Returns false (and does nothing) for any other command line. `exit` is process.exit
 * except in tests.
 */
export function runElevatedEngineStub(argv: string[] = process.argv, exit: (code: number) => void = (c) => process.exit(c)): boolean {
  const arg = argv.find((a) => a.startsWith(STUB_FLAG));
  if (!arg) return false;
  let plan: StubPlan;
  try {
    plan = JSON.parse(Buffer.from(arg.slice(STUB_FLAG.length), 'base64url').toString('utf8')) as StubPlan;
  } catch {
    exit(2);
    return true;
  }
  let errFd: number | 'ignore' = 'ignore';
  try {
    if (plan.stderrFile) errFd = openSync(plan.stderrFile, 'wx', 0o644);
  } catch {
    errFd = 'ignore'; // exists already (or a link put there): never written through
  }
  const r = spawnSync(plan.command, plan.args, { env: { ...process.env, ...plan.env }, stdio: ['ignore', 'ignore', errFd], windowsHide: true });
  if (typeof errFd === 'number') closeSync(errFd);
  exit(r.status ?? 1);
  return true;
}

// PXE Kit's executable started by the UAC prompt with STUB_FLAG: be the stub, before
// main.ts (which imports this module) opens any window. Only inside Electron proper.
if (process.versions.electron && !process.env.ELECTRON_RUN_AS_NODE) runElevatedEngineStub();

/** Windows: UAC through PowerShell's Start-Process -Verb RunAs on PXE Kit's own executable. */
export const uacElevator: Elevator = {
  name: 'uac',
  launch: (cmd, token, opts) => makeUacElevator().launch(cmd, token, opts),
  // "This command cannot be run due to the error: The operation was canceled by the user."
  declined: uacDeclined,
  declinedMessage: UAC_DECLINED,
};

/** The right prompt for this OS; none when the app already runs as root. */
export function platformElevator(platform: NodeJS.Platform = process.platform, isRoot = process.getuid?.() === 0): Elevator {
  if (isRoot) return directElevator;
  if (platform === 'darwin') return osascriptElevator;
  if (platform === 'win32') return uacElevator;
  return pkexecElevator;
}
