#!/usr/bin/env node
// pxekit: the headless command line over the boot engine.
import { listInterfaces } from '../net/interfaces.js';
import { serve, SERVE_USAGE, UsageError } from './serve.js';

const USAGE = `usage: pxekit <command>

  interfaces [--json]      list network interfaces and which can serve
  serve [options] IMAGE    boot machines on one NIC (pxekit serve --help)
  inspect [options] IMAGE  what an image (ISO, kernel, ...) is and the script PXE Kit would serve for it
  wimboot [FILE]           store wimboot (Windows ISOs boot with it) once, or show the stored one
  serve --ui [--ui-port N] the same, driven from a browser UI on 127.0.0.1 (prints its URL)
  check [--iface NAME]     can PXE Kit serve here? NIC, privilege, ports (and who holds them), firewall
  demo [--uefi]            boot a virtual machine from PXE Kit in a private lab (no hardware needed)`;

function printInterfaces(json: boolean): void {
  const nics = listInterfaces();
  if (json) {
    for (const n of nics) console.log(JSON.stringify(n));
    return;
  }
  const rows = nics.map((n) => [n.name, n.mac, n.ipv4 ? `${n.ipv4.address}/${n.ipv4.prefix}` : '-', n.linkUp ? 'up' : 'down', n.usable ? 'yes' : 'no', n.note]);
  const head = ['NAME', 'MAC', 'IPV4', 'LINK', 'USABLE', 'NOTE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'interfaces':
      printInterfaces(rest.includes('--json'));
      return 0;
    case 'serve':
      if (rest.includes('--help') || rest.includes('-h')) {
        console.log(SERVE_USAGE);
        return 0;
      }
      return serve(rest);
    case 'inspect': {
      const { inspect } = await import('./inspect.js');
      return inspect(rest);
    }
    case 'wimboot': {
      const { wimbootCommand } = await import('./wimboot.js');
      return wimbootCommand(rest);
    }
    case 'check': {
      const { checkCommand } = await import('../diagnostics/check-cli.js');
      return checkCommand(rest);
    }
    case 'demo': {
      const { demo } = await import('./demo.js');
      return demo(rest);
    }
    case undefined:
    case '--help':
    case '-h':
      console.log(USAGE);
      return cmd ? 0 : 2;
    default:
      console.error(`pxekit: unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      console.error(`pxekit: ${err.message}\n${SERVE_USAGE}`);
      process.exit(2);
    }
    console.error(`pxekit: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
