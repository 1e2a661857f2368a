// The served NIC's link, polled: before serving (a cable straight to a machine has no
// link until that machine powers on), and while serving (a pulled cable). Polling
// /sys is cheap and needs no netlink socket; 500 ms notices a change well within 2 s.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { NetError } from './errors.js';
import { listInterfaces, resolveInterface, type NetInterface } from './interfaces.js';

export const LINK_POLL_MS = 500;

function readSys(name: string, file: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;

/** Is the interface switched on (IFF_UP)? undefined where /sys does not say (not Linux). */
export function adminUp(name: string): boolean | undefined {
  const flags = readSys(name, 'flags');
  return flags === undefined ? undefined : (parseInt(flags, 16) & IFF_UP) !== 0;
}

/**
 * Has the interface a link now? Linux: operstate, else IFF_UP and IFF_LOWER_UP (the carrier), as
 * interfaces.ts decides; elsewhere an IPv4 address is taken for a link (the OS drops it without one).
 */
export function linkUp(name: string): boolean {
  const oper = readSys(name, 'operstate');
  if (oper !== undefined) {
    if (oper === 'up' || oper === 'unknown') return true;
    const flags = parseInt(readSys(name, 'flags') ?? '0', 16);
    return (flags & IFF_UP) !== 0 && (flags & IFF_LOWER_UP) !== 0;
  }
  return (os.networkInterfaces()[name] ?? []).some((a) => a.family === 'IPv4');
}

export type ServedNic = NetInterface & { ipv4: NonNullable<NetInterface['ipv4']> };

/** Can PXE Kit serve on this NIC now, and if not, is it a wait (no link, no address) rather than an error? */
export type NicReadiness = { kind: 'ready'; nic: ServedNic } | { kind: 'no-link'; adminDown: boolean } | { kind: 'no-address' };

/** Errors other than a missing link or address (no such NIC, loopback) are thrown: waiting does not fix them. */
export function nicReadiness(name: string, all: NetInterface[] = listInterfaces(), isAdminUp: boolean | undefined = adminUp(name)): NicReadiness {
  try {
    return { kind: 'ready', nic: resolveInterface(name, all) };
  } catch (err) {
    if (err instanceof NetError && err.code === 'INTERFACE_DOWN') return { kind: 'no-link', adminDown: isAdminUp === false };
    if (err instanceof NetError && err.code === 'NO_IPV4') return { kind: 'no-address' };
    throw err;
  }
}

/**
 * Polls until the NIC can serve; onWaiting is called whenever the reason for waiting changes.
 * Resolves undefined once shouldStop() says so (Ctrl-C while waiting).
 */
export async function waitForNic(
  name: string,
  o: { onWaiting: (r: Exclude<NicReadiness, { kind: 'ready' }>) => void; shouldStop: () => boolean; everyMs?: number; readiness?: (name: string) => NicReadiness },
): Promise<ServedNic | undefined> {
  const check = o.readiness ?? ((n: string) => nicReadiness(n));
  let said = '';
  for (;;) {
    if (o.shouldStop()) return undefined;
    const r = check(name);
    if (r.kind === 'ready') return r.nic;
    const key = JSON.stringify(r);
    if (key !== said) {
      said = key;
      o.onWaiting(r);
    }
    await new Promise((resolve) => setTimeout(resolve, o.everyMs ?? LINK_POLL_MS));
  }
}

/**
 * Watches the link while serving. A loss is reported after two readings in a row (a flap of
 * under a second is not worth a banner); a return at once. Sockets stay open throughout: bound
 * to the device (SO_BINDTODEVICE), they keep working when the carrier returns.
 */
export class LinkWatcher {
  private timer?: NodeJS.Timeout;
  private up = true;
  private downReadings = 0;

  constructor(
    private readonly name: string,
    private readonly onChange: (up: boolean) => void,
    private readonly read: (name: string) => boolean = linkUp,
    private readonly everyMs = LINK_POLL_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.poll(), this.everyMs);
    this.timer.unref();
  }

  /** One reading (the timer calls it; tests call it directly). */
  poll(): void {
    const now = this.read(this.name);
    if (now) {
      this.downReadings = 0;
      if (!this.up) {
        this.up = true;
        this.onChange(true);
      }
      return;
    }
    this.downReadings++;
    if (this.up && this.downReadings >= 2) {
      this.up = false;
      this.onChange(false);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
