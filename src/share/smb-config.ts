// The text of the private smb.conf the engine's own smbd runs with: one read-only share on
// one NIC, every file Samba keeps under the engine's run directory (never /etc/samba or
// /var/lib/samba), and nothing else offered (no homes, printers or usershares).
import { posix } from 'node:path';

/** The Samba account Windows PE logs on with (see src/images/winpe-setup.ts): mapped to `unixUser`. */
export const SHARE_USER = 'pxekit';

export interface SmbConfigInput {
  /** The run directory: private/, lock/, state/, cache/, pid/, log/ and users.map live here. */
  runDir: string;
  /** The NIC's IPv4 address and prefix: smbd binds to that address only. */
  address: string;
  prefix: number;
  shareName: string;
  /** The directory shared (the ISO's mount point, or a folder image). */
  path: string;
  /** Files are read as this Unix account (a folder image's owner; unset: the guest account). */
  forceUser?: string;
}

export class SmbConfigError extends Error {}

/** Share names Windows and Samba both accept without quoting. */
export function checkShareName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(name)) throw new SmbConfigError(`share name "${name}": use 1-32 letters, digits, "-" or "_"`);
  if (/^(global|homes|printers|ipc\$)$/i.test(name)) throw new SmbConfigError(`share name "${name}" is reserved by Samba`);
  return name;
}

/**
 * smb.conf values are the rest of the line, and Samba expands %-macros in paths (%U, %m...):
 * a path with a newline, a "%" or edge spaces would mean something else than the folder.
 */
export function checkConfPath(p: string): string {
  if (!posix.isAbsolute(p) || /[\r\n%\\"]/.test(p) || p.trim() !== p) throw new SmbConfigError(`the path "${p}" cannot be shared by Samba as is (it must be absolute, without %, quotes, backslashes or line breaks)`);
  return p;
}

function ipv4Network(address: string, prefix: number): string {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new SmbConfigError(`"${address}" is not an IPv4 address`);
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 32) throw new SmbConfigError(`prefix /${prefix} is not 1-32`);
  const n = parts.reduce((a, b) => a * 256 + b, 0);
  const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return [24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.');
}

export function smbConfig(o: SmbConfigInput): string {
  const dir = checkConfPath(o.runDir);
  const net = ipv4Network(o.address, o.prefix);
  const share = checkShareName(o.shareName);
  const lines = [
    '# Written by PXE Kit for its own smbd; rewritten at every start.',
    '[global]',
    '  server role = standalone server',
    '  netbios name = PXEKIT',
    '  workgroup = WORKGROUP',
    '  server string = PXE Kit setup media',
    // The address (not the interface name) so a second address on the NIC is not served either;
    // hosts allow refuses clients from other subnets that route to this address through another NIC.
    `  interfaces = ${o.address}/${o.prefix}`,
    '  bind interfaces only = yes',
    `  hosts allow = ${net}/${o.prefix}`,
    '  hosts deny = ALL',
    '  smb ports = 445',
    '  disable netbios = yes',
    '  server min protocol = SMB2_02',
    `  private dir = ${dir}/private`,
    `  lock directory = ${dir}/lock`,
    `  state directory = ${dir}/state`,
    `  cache directory = ${dir}/cache`,
    `  pid directory = ${dir}/pid`,
    `  ncalrpc dir = ${dir}/lock/ncalrpc`,
    `  log file = ${dir}/log/smbd.log`,
    '  max log size = 1000',
    '  enable core files = no',
    `  passdb backend = tdbsam:${dir}/private/passdb.tdb`,
    `  username map = ${dir}/users.map`,
    '  map to guest = Bad User',
    '  guest account = nobody',
    '  load printers = no',
    '  printing = bsd',
    '  printcap name = /dev/null',
    '  disable spoolss = yes',
    '  usershare max shares = 0',
    '  registry shares = no',
    '  host msdfs = no',
    '',
    `[${share}]`,
    '  comment = PXE Kit setup media (read-only)',
    `  path = ${checkConfPath(o.path)}`,
    '  read only = yes',
    '  guest ok = yes',
    '  browseable = yes',
    // Nothing outside the share through symlinks (Rock Ridge ISOs and folders can carry them).
    '  wide links = no',
    '  store dos attributes = no',
    '  ea support = no',
    ...(o.forceUser ? [`  force user = ${checkUnixName(o.forceUser)}`] : []),
    '',
  ];
  return lines.join('\n');
}

function checkUnixName(name: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(name)) throw new SmbConfigError(`"${name}" is not a Unix account name`);
  return name;
}

/** users.map: the share account is the Unix guest account, so it reads what guests read and nothing more. */
export function usernameMap(unixUser = 'nobody'): string {
  return `${checkUnixName(unixUser)} = ${SHARE_USER}\n`;
}
