// pxekit demo: with no hardware at hand, build a private virtual lab (network
// namespace + bridge + a QEMU machine with real PXE firmware) and boot it from
// PXE Kit, live. Everything is torn down at the end or on Ctrl-C.
import { parseArgs } from 'node:util';

export async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { uefi: { type: 'boolean', default: false }, 'secure-boot': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    console.error('pxekit demo builds a network namespace and starts a virtual machine: run it as root on Linux (sudo npx pxekit demo).');
    return 1;
  }
  const { runDemo } = await import('../lab/demo.js');
  // --secure-boot: a UEFI machine with Secure Boot enforced and Microsoft's keys, as a business PC ships.
  const secureBoot = values['secure-boot'];
  const ok = await runDemo({ firmware: values.uefi || secureBoot ? 'uefi' : 'bios', secureBoot, json: values.json, log: (line: string) => console.log(line) });
  return ok ? 0 : 1;
}
