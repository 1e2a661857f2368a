// pxekit wimboot [FILE]: store wimboot once in the data dir (checked by its content), or
// show what is stored.
import { parseArgs } from 'node:util';
import { defaultDataDir } from '../files/data-dir.js';
import { commandDataDir } from '../net/privilege.js';
import { installWimboot, wimbootStatus, WimbootRefused, WIMBOOT_DOWNLOAD_URL, NO_WIMBOOT_COST } from '../images/wimboot.js';

export const WIMBOOT_USAGE = `usage: pxekit wimboot [--data-dir DIR] [--json] [FILE]

With FILE: checks that FILE is wimboot (iPXE's Windows loader) and stores it in the data dir,
where every later "pxekit serve", "pxekit inspect" and the UI find it. Without FILE: shows the
stored wimboot. Download the file named "wimboot" from ${WIMBOOT_DOWNLOAD_URL}.`;

export function wimbootCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'data-dir': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log(WIMBOOT_USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    console.error(`pxekit: give at most one FILE\n${WIMBOOT_USAGE}`);
    return 2;
  }
  // Through sudo or pkexec: the invoking user's data dir, the one the serve that drops to that user reads
  // (a user without a home of their own: PrivilegeError, printed by main with the fix).
  const place = commandDataDir(values['data-dir'], defaultDataDir);
  const dataDir = place.dataDir;
  if (positionals.length === 1) {
    try {
      const rec = installWimboot(dataDir, positionals[0]);
      place.done();
      if (values.json) console.log(JSON.stringify({ installed: rec }));
      else console.log(`wimboot ${rec.version} stored: ${rec.path}\nSHA-256 ${rec.sha256} (${rec.size} bytes, from ${rec.from})\nWindows images are now served with wimboot.`);
      return 0;
    } catch (err) {
      const msg = err instanceof WimbootRefused ? `${err.message}. Nothing was changed; download the file named "wimboot" from ${WIMBOOT_DOWNLOAD_URL}` : (err as Error).message;
      if (values.json) console.log(JSON.stringify({ refused: msg }));
      console.error(`pxekit: ${msg}`);
      return 1;
    }
  }
  const st = wimbootStatus(dataDir);
  if (values.json) {
    console.log(JSON.stringify(st));
    return 0;
  }
  if (st.installed) {
    const r = st.installed;
    console.log(`wimboot ${r.version}: ${r.path}\nSHA-256 ${r.sha256} (${r.size} bytes, stored ${new Date(r.installedAt).toISOString()} from ${r.from})`);
    return 0;
  }
  console.log(`${st.problem ?? `no wimboot stored in ${dataDir}`}.\nWindows images get ${NO_WIMBOOT_COST}.\nDownload the file named "wimboot" from ${WIMBOOT_DOWNLOAD_URL}, then: pxekit wimboot FILE`);
  return st.problem ? 1 : 0;
}
