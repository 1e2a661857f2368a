// Opens the UDP sockets every protocol module uses, bound to the one NIC the
// technician chose. Nothing else in the engine calls dgram.bind directly.
import dgram from 'node:dgram';
import { NetError } from './errors.js';
import { describePortOwners } from './port-owner.js';
import { BindingNotProven, canTieToNic, clearDarwinReuse, decideBinding, notProven, openBoundIfFd, type BindProof } from './bind-proof.js';

export interface UdpBindOptions {
  /** The chosen NIC, e.g. "eth0". */
  iface: string;
  /** The NIC's IPv4 address. */
  ifaceAddress: string;
  port: number;
  /** Listen on 0.0.0.0 (needed to hear broadcasts, e.g. DHCP) rather than the NIC's address. */
  anyAddress?: boolean;
  broadcast?: boolean;
  /** SO_REUSEADDR: share the port with another socket that also set it (e.g. a DHCP client's port 68 for the probe). */
  reuseAddr?: boolean;
  /**
   * Bind a port of our own (port 0 gets a fresh one, shared with nobody), then leave
   * SO_REUSEADDR on so that exactly one more socket of ours, opened with reuseAddr,
   * can join it. TFTP transfers use this: the transfer socket connect()s to its client
   * (the kernel then routes that client's packets to it and skips a route lookup per
   * packet) and the second, unconnected socket hears packets from any other TID.
   */
  shareAfterBind?: boolean;
  /**
   * Receive queue to ask for, bytes: room for the packets that arrive while the event loop
   * is busy (a garbage collection, a burst of replies). Linux goes past the system's cap
   * when the engine may (sockopt-linux setReceiveBuffer); elsewhere the OS caps it.
   */
  receiveBufferBytes?: number;
  /** What the port is for, for error messages ("DHCP", "TFTP"...). */
  purpose?: string;
  /**
   * dgram's address lookup for send(). Sockets that only ever send to IP literals
   * (TFTP transfers, one send per packet) pass one that answers synchronously,
   * which saves dns.lookup's deferred callback on every packet.
   */
  lookup?: (address: string, family: number, callback: (err: Error | null, address: string, family: number) => void) => void;
}

/**
 * The OS openUdpSocket ties sockets for. Tests set `current` to another platform to see the
 * refusal (bind-proof.ts); nothing else changes it.
 */
export const bindPlatform: { current: NodeJS.Platform } = { current: process.platform };

/** How each socket openUdpSocket returned is tied to its NIC (bind-proof.ts). */
const proofs = new WeakMap<dgram.Socket, BindProof>();

/** The proof recorded for a socket of openUdpSocket's; undefined for any other socket (which is then not proven). */
export function bindProofOf(sock: dgram.Socket): BindProof | undefined {
  return proofs.get(sock);
}

/**
 * A lookup for sockets that only ever send to IP literals (DHCP replies, TFTP): dgram's
 * default runs dns.lookup and sends from a deferred callback, one more turn of the event
 * loop and a closure per packet.
 */
export const ipLiteralLookup = (address: string, _family: number, cb: (err: Error | null, address: string, family: number) => void): void => cb(null, address, 4);

const PORT_HELP: Record<number, string> = {
  67: 'Another DHCP server (dnsmasq, isc-dhcp-server, kea, a VM manager such as libvirt) is running on this machine: stop it, or use --mode proxy with a server elsewhere.',
  69: 'Another TFTP server (tftpd-hpa, atftpd, dnsmasq --enable-tftp) is running on this machine: stop it.',
  4011: 'Another PXE/proxyDHCP server (dnsmasq, WDS, Serva) is running on this machine: stop it.',
};

export function privilegeHelp(): string {
  if (process.platform === 'win32') return 'Run PXE Kit as Administrator.';
  if (process.platform === 'darwin') return 'Run PXE Kit with sudo (the desktop app asks for your password).';
  return (
    'Run as root (sudo pxekit ...), or grant the capabilities once: ' +
    "sudo setcap 'cap_net_bind_service,cap_net_raw=+ep' \"$(readlink -f \"$(which node)\")\""
  );
}

function translateBindError(err: NodeJS.ErrnoException, opts: UdpBindOptions): Error {
  if (err instanceof BindingNotProven) return err;
  const what = opts.purpose ? `${opts.purpose} port ${opts.port}/udp` : `port ${opts.port}/udp`;
  if (err.code === 'EADDRINUSE') {
    const owner = describePortOwners('udp', opts.port);
    const by = owner ? ` by ${owner}` : '';
    const help = PORT_HELP[opts.port] ?? 'Stop the program that uses it.';
    return new NetError('PORT_IN_USE', `The ${what} is already in use${by}. ${help}`);
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new NetError('NO_PRIVILEGE', `No permission to open the ${what} on ${opts.iface}. ${privilegeHelp()}`);
  }
  if (err.code === 'ENODEV') {
    return new NetError('NO_SUCH_INTERFACE', `Interface ${opts.iface} disappeared (unplugged USB adapter or docking station?). Pick another NIC on the Network screen (or with "pxekit interfaces").`);
  }
  if (err.code === 'EADDRNOTAVAIL') {
    return new NetError('NO_IPV4', `${opts.ifaceAddress} is no longer an address of ${opts.iface}. Check the NIC's configuration.`);
  }
  if (err.syscall === 'setsockopt(SO_BINDTODEVICE)') {
    return notProven('linux', opts.iface, err.code ?? err.message, opts.purpose);
  }
  return new NetError('BIND_FAILED', `Could not open the ${what} on ${opts.iface}: ${err.message}`);
}

function adopt(sock: dgram.Socket, fd: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ fd }, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

function bindPlain(sock: dgram.Socket, address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

/**
 * A dgram socket over an fd that is already bound (Linux: openDeviceBoundFd), returned at
 * once: the kernel queues datagrams for the fd from the moment it was bound, and dgram
 * starts reading them when its adoption completes a moment later. For a TFTP transfer's
 * wrong-TID socket, opened just after the transfer's first packet. A failed adoption (or
 * any later socket error) goes to `onError`.
 */
export function adoptBoundFd(fd: number, onError: (err: Error) => void, lookup?: UdpBindOptions['lookup']): dgram.Socket {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true, lookup: lookup as dgram.SocketOptions['lookup'] });
  sock.on('error', onError);
  sock.bind({ fd });
  return sock;
}

function setRecvBufferCapped(sock: dgram.Socket, bytes: number): void {
  try {
    sock.setRecvBufferSize(bytes);
  } catch {
    /* over the OS's cap: the default queue still works, it just absorbs less */
  }
}

/** Loaded on first use, on Linux only (koffi); kept, as a TFTP transfer opens sockets on its critical path. */
let sockoptLinux: typeof import('./sockopt-linux.js') | undefined;

/**
 * A dgram socket that only hears, and only sends through, the chosen NIC, never one on
 * every interface (bind-proof.ts). Linux: SO_BINDTODEVICE on a socket dgram adopts.
 * macOS: IP_BOUND_IF (the NIC's index) on a socket dgram adopts. Windows: bound to the
 * NIC's own address (the strong host model delivers to it only what arrived on that NIC).
 * Any other OS: BindingNotProven, before anything is bound. The proof is kept per socket
 * (bindProofOf).
 */
export async function openUdpSocket(opts: UdpBindOptions): Promise<dgram.Socket> {
  const platform = bindPlatform.current;
  if (!canTieToNic(platform)) throw notProven(platform, opts.iface, 'unsupported', opts.purpose);
  const address = opts.anyAddress ? '0.0.0.0' : opts.ifaceAddress;
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: opts.reuseAddr, lookup: opts.lookup as dgram.SocketOptions['lookup'] });
  try {
    if (platform === 'linux') {
      sockoptLinux ??= await import('./sockopt-linux.js');
      const { openDeviceBoundFd, clearReuseAddr } = sockoptLinux;
      const fd = openDeviceBoundFd({ device: opts.iface, address, port: opts.port, broadcast: opts.broadcast, reuseAddr: opts.reuseAddr, receiveBufferBytes: opts.receiveBufferBytes });
      await adopt(sock, fd);
      if (!opts.reuseAddr && !opts.shareAfterBind) clearReuseAddr(fd);
    } else if (platform === 'darwin') {
      // IP_BOUND_IF before bind: a failure closes the fd unbound and throws BindingNotProven.
      const fd = openBoundIfFd({ device: opts.iface, address, port: opts.port, reuseAddr: opts.reuseAddr || opts.shareAfterBind }, opts.purpose);
      await adopt(sock, fd);
      if (!opts.reuseAddr && !opts.shareAfterBind) clearDarwinReuse(fd);
      if (opts.broadcast) sock.setBroadcast(true);
      if (opts.receiveBufferBytes) setRecvBufferCapped(sock, opts.receiveBufferBytes);
    } else {
      // Windows: the NIC's own address, never 0.0.0.0 (even for DHCP's anyAddress).
      await bindPlain(sock, opts.ifaceAddress, opts.port);
      if (opts.broadcast) sock.setBroadcast(true);
      if (opts.receiveBufferBytes) setRecvBufferCapped(sock, opts.receiveBufferBytes);
    }
    proofs.set(sock, decideBinding(platform, opts.iface, { ok: true }));
    return sock;
  } catch (err) {
    try {
      sock.close();
    } catch {
      /* never bound */
    }
    throw translateBindError(err as NodeJS.ErrnoException, opts);
  }
}
