// pxekit inspect IMAGE: what PXE Kit detects in an image and the iPXE script a machine
// would get, without serving anything.
import { parseArgs } from 'node:util';
import { findHelpers } from '../images/publish-iso.js';
import { inspectImage } from '../images/inspect.js';
import type { ImageSpec } from '../images/publish-image.js';
import { IsoError } from '../images/iso/index.js';
import { defaultDataDir } from '../files/data-dir.js';
import { commandDataDir } from '../net/privilege.js';
import { parseBootFiles } from './boot-files.js';

export const INSPECT_USAGE = `usage: pxekit inspect [--initrd FILE]... [--cmdline ARGS] [--wimboot FILE] [--server IP] [--http-port N]
                      [--boot-file bios=PATH,uefi=PATH] [--data-dir DIR] [--files] [--json] IMAGE

Prints what IMAGE is (OS, version, BIOS/UEFI, the files it boots from) and the iPXE script
PXE Kit would serve for it. IMAGE: an ISO, an unpacked ISO folder, a kernel, an iPXE script,
an EFI/PXE program, or a netboot folder or archive (.tar.gz/.tgz/.zip; unpacked into the data
dir): for those, the loader each firmware gets and what its menus boot.
  --server IP   the address the script's URLs use (default: a placeholder)
  --files       also list every file of an ISO or folder`;

export async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      initrd: { type: 'string', multiple: true, default: [] },
      cmdline: { type: 'string', default: '' },
      wimboot: { type: 'string' },
      server: { type: 'string', default: '<server>' },
      'http-port': { type: 'string', default: '8080' },
      files: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'boot-file': { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(INSPECT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`pxekit: ${positionals.length ? 'give exactly one IMAGE' : 'missing IMAGE'}\n${INSPECT_USAGE}`);
    return 2;
  }
  const path = positionals[0];
  // Through sudo or pkexec: the invoking user's data dir, the one the serve that drops to that user reads
  // (a user without a home of their own: PrivilegeError, printed by main with the fix).
  const place = commandDataDir(values['data-dir'], defaultDataDir);
  const helpers = findHelpers({ wimboot: values.wimboot, dataDir: place.dataDir });
  try {
    const bootFiles = values['boot-file'] ? parseBootFiles(values['boot-file']) : undefined;
    // What the path is, imageSpecFromPath (src/images/publish-image.ts) decides, as for pxekit serve.
    const spec: ImageSpec = { path, initrds: values.initrd as string[], cmdline: values.cmdline as string, bootFiles, helpers };
    const r = await inspectImage(spec, { serverIp: values.server as string, httpPort: Number(values['http-port']), helpers, dataDir: place.dataDir });
    place.done();
    if (r.netboot) {
      const nb = r.netboot;
      if (values.json) {
        const loaders = Object.fromEntries(Object.entries(nb.loaders).map(([fw, l]) => [fw, { path: l!.path, kind: l!.kind, what: l!.what, secondStage: l!.secondStage, grubPrefix: l!.grubPrefix }]));
        const menus = Object.fromEntries(Object.entries(nb.readings).map(([fw, m]) => [fw, { configs: m!.common.configs, entries: m!.common.entries, missing: m!.common.missing, perMachine: [...m!.perMac.keys()] }]));
        console.log(JSON.stringify({ kind: 'netboot', root: nb.root, archive: nb.archive, loaders, menus, notes: nb.notes, files: values.files ? r.files?.map((f) => ({ path: f.path, size: f.size })) : undefined, secureBoot: r.secureBoot, detected: r.detected }, null, 2));
        return 0;
      }
      console.log(r.detected);
      if (values.files) for (const f of r.files ?? []) console.log(`  - ${String(f.size).padStart(12)}  ${f.path}`);
      return 0;
    }
    if (values.json) {
      const out = {
        kind: r.spec.kind,
        recipe: r.plan?.recipe,
        os: r.plan?.os,
        version: r.plan?.version,
        bootModes: r.plan?.bootModes,
        method: r.plan?.method,
        loads: r.plan?.files,
        notes: r.plan?.notes,
        files: values.files ? r.files?.map((f) => ({ path: f.path, type: f.type, size: f.size })) : undefined,
        secureBoot: r.secureBoot,
        detected: r.detected,
        script: r.script,
      };
      console.log(JSON.stringify(out, null, 2));
      return 0;
    }
    console.log(r.detected);
    if (values.files && r.files) {
      console.log('\nfiles:');
      for (const f of r.files) console.log(`  ${f.type === 'directory' ? 'd' : '-'} ${String(f.size).padStart(12)}  ${f.path}${f.type === 'directory' ? '/' : ''}`);
    }
    console.log(`\niPXE script (for a machine asking PXE Kit at ${values.server}:${values['http-port']}):\n`);
    console.log(r.script);
    return 0;
  } catch (err) {
    const what = err instanceof IsoError ? `${path} is not a usable ISO: ${err.message}` : (err as Error).message;
    console.error(`pxekit: ${what}`);
    return 1;
  }
}
