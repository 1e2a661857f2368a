// Starting the engine through the OS's own administrator prompt. Plain Node (no
// Electron import), so the lifecycle that uses it runs in unit tests.
//
// The token never goes on argv (process lists show it to every user):
//   - direct (already root, or tests): PXEKIT_TOKEN in the environment;
//   - Linux pkexec: pkexec wipes the environment, but keeps stdin: --token-stdin;
//     stdin also stays open as the engine's lifeline (EOF = the app died);
//   - macOS administrator prompt / Windows UAC: a file only this user can read,
//     in a private temp folder; the engine reads it and deletes it (--token-file).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EngineCommand {
  /** Absolute path of the program (pkexec requires it). */
  command: string;
  args: string[];
  /** Variables the engine needs (e.g. ELECTRON_RUN_AS_NODE=1 when the app's binary runs it). */
  env?: Record<string, string>;
}

export interface Elevator {
  readonly name: string;
  /** Spawns the engine elevated; the child's exit is the engine's exit. */
  launch(cmd: EngineCommand, token: string): ChildProcess;
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

/** macOS: the system administrator prompt via AppleScript's "with administrator privileges". */
export const osascriptElevator: Elevator = {
  name: 'osascript',
  launch(cmd, token) {
    const { dir, file } = privateTokenFile(token);
    const env = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${shq(v)}`);
    const shell = [...env, ...[cmd.command, ...cmd.args, '--token-file', file].map(shq)].join(' ');
    const child = spawn('osascript', ['-e', `do shell script ${appleScriptString(shell)} with administrator privileges`], { stdio: STDIO });
    child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return child;
  },
  // "User canceled. (-128)"
  declined: (code, stderr) => code !== 0 && /-128|User canceled/i.test(stderr),
  declinedMessage: 'PXE Kit needs administrator rights to answer DHCP and TFTP, and the administrator prompt was cancelled. Click "Start engine" to be asked again.',
};

const psq = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Windows: UAC through PowerShell's Start-Process -Verb RunAs; a .cmd sets the engine's variables. */
export const uacElevator: Elevator = {
  name: 'uac',
  launch(cmd, token) {
    const { dir, file } = privateTokenFile(token);
    const script = join(dir, 'engine.cmd');
    const quote = (a: string) => `"${a.replace(/"/g, '""')}"`;
    const lines = ['@echo off', ...Object.entries(cmd.env ?? {}).map(([k, v]) => `set "${k}=${v}"`), [cmd.command, ...cmd.args, '--token-file', file].map(quote).join(' '), 'exit /b %ERRORLEVEL%'];
    writeFileSync(script, lines.join('\r\n') + '\r\n');
    const ps = `$p = Start-Process -FilePath ${psq(script)} -Verb RunAs -WindowStyle Hidden -Wait -PassThru; exit $p.ExitCode`;
    const child = spawn('powershell.exe', ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', ps], { stdio: STDIO, windowsHide: true });
    child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return child;
  },
  // "This command cannot be run due to the error: The operation was canceled by the user."
  declined: (code, stderr) => code !== 0 && /canceled by the user|cancelled by the user/i.test(stderr),
  declinedMessage: 'PXE Kit needs administrator rights to answer DHCP and TFTP, and the Windows permission prompt was declined. Click "Start engine" to be asked again.',
};

/** The right prompt for this OS; none when the app already runs as root. */
export function platformElevator(platform: NodeJS.Platform = process.platform, isRoot = process.getuid?.() === 0): Elevator {
  if (isRoot) return directElevator;
  if (platform === 'darwin') return osascriptElevator;
  if (platform === 'win32') return uacElevator;
  return pkexecElevator;
}
