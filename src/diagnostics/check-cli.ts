// pxekit check [--iface NAME] [--http-port N] [--json]: the host checks, before serving.
import { parseArgs } from 'node:util';
import { formatChecks, runHostChecks } from './checks.js';

export const CHECK_USAGE = `usage: pxekit check [--iface NAME] [--http-port N] [--json]

Checks that PXE Kit can serve on NIC NAME: the NIC (IPv4, link, Wi-Fi), privilege,
ports 67/69/4011 and the HTTP port (and who holds them), and on Windows the firewall rules.
Exit status 0 when nothing failed, 1 otherwise.`;

export async function checkCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { iface: { type: 'string' }, 'http-port': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log(CHECK_USAGE);
    return 0;
  }
  const httpPort = values['http-port'] !== undefined ? Number(values['http-port']) : undefined;
  if (httpPort !== undefined && (!Number.isInteger(httpPort) || httpPort < 1 || httpPort > 65535)) {
    console.error(`pxekit check: --http-port must be a port number\n${CHECK_USAGE}`);
    return 2;
  }
  const checks = await runHostChecks({ iface: values.iface, httpPort });
  if (values.json) for (const c of checks) console.log(JSON.stringify(c));
  else console.log(formatChecks(checks));
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}
