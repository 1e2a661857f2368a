// Where PXE Kit keeps leases and its library: the OS's per-user data folder.
import os from 'node:os';
import path from 'node:path';

export function defaultDataDir(): string {
  if (process.env.PXEKIT_DATA_DIR) return process.env.PXEKIT_DATA_DIR;
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? os.homedir(), 'PXE Kit');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'PXE Kit');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'pxekit');
}
