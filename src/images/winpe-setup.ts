// The two files injected into Windows PE with wimboot (`initrd --name <name> <url>`): wimboot
// adds every extra file to X:\Windows\System32 of the booted boot.wim. winpeshl.exe reads
// winpeshl.ini there and runs what it names instead of its default (setup.exe on install
// media, startnet.cmd on plain WinPE), so the script starts the network itself (wpeinit),
// connects PXE Kit's share of the media, and starts Windows setup from it.

export const WINPESHL_INI = 'winpeshl.ini';
export const SETUP_SCRIPT = 'pxekit-setup.cmd';

export interface WinpeSetupInput {
  /** \\address\share (see smb-share.ts). */
  unc: string;
  /** The share's account; without one the script connects as guest (refused by Windows 11 24H2 and Enterprise editions). */
  user?: string;
  password?: string;
  /** The media carry Windows setup (setup.exe); otherwise the script leaves a prompt on the connected drive. */
  hasSetup: boolean;
}

export class WinpeSetupError extends Error {}

const DRIVE = 'Z:';
const TRIES = 10;

/** Everything written into the script goes through cmd.exe's parser: only characters it takes literally. */
function check(input: WinpeSetupInput): void {
  if (!/^\\\\[A-Za-z0-9.-]+\\[A-Za-z0-9_-]+$/.test(input.unc)) throw new WinpeSetupError(`"${input.unc}" is not a \\\\server\\share name the script can use`);
  for (const [what, v] of [['user', input.user], ['password', input.password]] as const) {
    if (v !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(v)) throw new WinpeSetupError(`the share's ${what} may only hold letters, digits, ".", "-" and "_"`);
  }
  if (input.password !== undefined && input.user === undefined) throw new WinpeSetupError('a password needs a user');
}

export function winpeSetupFiles(input: WinpeSetupInput): { name: string; text: string }[] {
  check(input);
  const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n';
  const creds = input.user ? ` /user:${input.user}${input.password ? ` ${input.password}` : ''}` : '';
  const netUse = `net use ${DRIVE} ${input.unc}${creds} /persistent:no`;
  const ini = crlf([
    '[LaunchApps]',
    // cmd /k: when the script ends (setup closed, or a failure explained), the technician has a prompt.
    `%SYSTEMROOT%\\System32\\cmd.exe, /k %SYSTEMROOT%\\System32\\${SETUP_SCRIPT}`,
  ]);
  const script = crlf([
    '@echo off',
    'rem Written by PXE Kit: connects the setup media PXE Kit shares and starts Windows setup.',
    'title PXE Kit',
    'echo PXE Kit: starting the network (wpeinit)...',
    // winpeshl.ini replaces startnet.cmd, whose wpeinit is what loads the network drivers.
    'wpeinit',
    'wpeutil WaitForNetwork >nul 2>&1',
    'set PXEKIT_TRY=0',
    ':connect',
    'set /a PXEKIT_TRY+=1',
    `echo PXE Kit: connecting ${input.unc} as ${DRIVE} (try %PXEKIT_TRY% of ${TRIES})...`,
    `${netUse} >"%TEMP%\\pxekit-net-use.txt" 2>&1`,
    'if not errorlevel 1 goto connected',
    `if %PXEKIT_TRY% geq ${TRIES} goto failed`,
    // DHCP in WinPE can take a while after wpeinit; ping -n 4 is a 3 s pause where timeout.exe may be missing.
    'ping -n 4 127.0.0.1 >nul',
    'goto connect',
    ':connected',
    `echo PXE Kit: setup media connected as ${DRIVE}`,
    ...(input.hasSetup
      ? [
          `if exist ${DRIVE}\\setup.exe goto setup`,
          `if exist ${DRIVE}\\sources\\setup.exe goto sources_setup`,
          'echo.',
          `echo PXE Kit: ${input.unc} has no setup.exe. The media are on ${DRIVE} - type ${DRIVE} and dir to look.`,
          'goto end',
          ':setup',
          'echo PXE Kit: starting Windows setup...',
          `${DRIVE}\\setup.exe`,
          'goto end',
          ':sources_setup',
          'echo PXE Kit: starting Windows setup...',
          `${DRIVE}\\sources\\setup.exe`,
          'goto end',
        ]
      : ['echo.', `echo PXE Kit: this image has no Windows setup. Its files are on ${DRIVE} - type ${DRIVE} and dir to look.`, 'goto end']),
    ':failed',
    'echo.',
    `echo PXE Kit could not connect the setup media at ${input.unc}.`,
    'echo What Windows said:',
    'type "%TEMP%\\pxekit-net-use.txt"',
    'echo.',
    'echo What to check: is PXE Kit still serving? Did this machine get an address?',
    'echo Type ipconfig to see the address, and ping the server named above.',
    'echo No address: Windows PE has no driver for this network card (load one with drvload).',
    ...(input.hasSetup ? ['echo Then type these two lines:', `echo     ${netUse}`, `echo     ${DRIVE}\\setup.exe`] : ['echo Then type:', `echo     ${netUse}`]),
    ':end',
  ]);
  return [
    { name: WINPESHL_INI, text: ini },
    { name: SETUP_SCRIPT, text: script },
  ];
}

/**
 * The same two files when PXE Kit has no share of these media (the share could not start, was
 * turned off, or the image is not the one shared): the script says why and what to do, and
 * leaves the prompt. Without it wimboot's `initrd` of the files would fail and stop the boot.
 */
export function winpeNoShareFiles(reason: string): { name: string; text: string }[] {
  const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n';
  // Only characters cmd.exe's echo prints literally.
  const said = reason.replace(/[^A-Za-z0-9 .,:;'()/_-]/g, ' ').replace(/\s+/g, ' ').trim();
  return [
    { name: WINPESHL_INI, text: crlf(['[LaunchApps]', `%SYSTEMROOT%\\System32\\cmd.exe, /k %SYSTEMROOT%\\System32\\${SETUP_SCRIPT}`]) },
    {
      name: SETUP_SCRIPT,
      text: crlf([
        '@echo off',
        'rem Written by PXE Kit: it has no share of these media to connect.',
        'title PXE Kit',
        'wpeinit',
        'echo.',
        `echo PXE Kit did not share the install media: ${said}.`,
        'echo Windows setup needs the files of the ISO again. Share them from another computer, then type:',
        'echo     net use Z: \\\\computer\\share',
        'echo     Z:\\setup.exe',
      ]),
    },
  ];
}
