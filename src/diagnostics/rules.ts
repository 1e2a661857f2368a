// Diagnosis rules: from what PXE Kit saw on the wire (its own DHCP/TFTP/HTTP
// events, enriched with MAC and file role by the engine), name the failure the
// technician is looking at. Each rule waits for a pattern (an event) or for an
// absence (a deadline checked by tick()); each fires at most once per boot
// attempt of a machine (a new DISCOVER with a new xid starts a new attempt).
import type { DhcpEvent, TransferEvent, WireEvent } from '../sessions/events.js';
import { archFamily, type ArchFamily, type ClientArch } from '../boot/client.js';
import type { OtherDhcpServer } from '../sessions/status.js';
import { DEFAULT_TIMINGS, type Diagnosis, type DiagnosisCode, type DiagnosisTimings } from './types.js';
import { SESSIONS_MAX } from '../sessions/session.js';
import { RecentMap } from '../util/recent-map.js';
import { CONSENT_HINT } from './windows-firewall-rules.js';
import { BOOT_PROGRAM_ROLES, PAYLOAD_ROLES, SCRIPT_ROLES } from '../files/roles.js';
import { transferIsQuietFailure } from '../sessions/format.js';

/** Diagnoses kept for the job report; the oldest go first (a flood gives one per made-up MAC). */
const DIAGNOSES_KEPT = 2000;

export interface DiagnosticianOptions {
  /** Our address on the served NIC (option 54 of our replies). */
  serverIp: string;
  onDiagnosis: (d: Diagnosis) => void;
  timings?: Partial<DiagnosisTimings>;
  /** Other DHCP servers seen on the segment (by the start-up probe and the watcher). */
  otherServers?: () => OtherDhcpServer[];
  /** Machines whose state is kept at once (default SESSIONS_MAX); the quiet longest are forgotten first. */
  maxClients?: number;
  /** Is this published boot program an EFI program with no Authenticode signature (iPXE)? Secure Boot refuses those. */
  unsignedLoader?: (file: string) => boolean;
  /** Rewrites a diagnosis before it is kept and given (the engine's site problems, src/diagnostics/site.ts). */
  adjust?: (d: Diagnosis) => Diagnosis;
  now?: () => number;
}

/** A client's firmware family, or for a file name only "some UEFI" when its name does not say which. */
type Family = ArchFamily | 'uefi';

interface ClientState {
  mac: string;
  arch?: ClientArch;
  ip?: string;
  xid?: number;
  lastDiscoverAt?: number;
  /** Did the previous attempt get past DHCP (a REQUEST/transfer)? */
  progressedSinceDiscover: boolean;
  /** Pending deadlines: when the awaited thing started. */
  offerAt?: number;
  offerIp?: string;
  ackAt?: number;
  ackFile?: string;
  bootDoneAt?: number;
  bootDoneFile?: string;
  /** The boot program delivered last is an unsigned EFI program and the machine is UEFI. */
  bootDoneUnsigned?: boolean;
  scriptDoneAt?: number;
  scriptFile?: string;
  /** Negotiated blksize per transfer id. */
  blksize: Map<string, number>;
  /** Blocks at which transfers of a file stalled, this run. */
  stalls: Map<string, number[]>;
  /** Codes already given in this boot attempt. */
  given: Set<DiagnosisCode>;
}

/** Which firmware a boot program name is built for (iPXE and the usual suspects of site DHCP servers). */
export function fileFamily(file: string): Family {
  const f = file.replace(/^.*[/\\]/, '').toLowerCase();
  if (/^(undionly\.kpxe|ipxe\.kpxe|ipxe\.pxe|undionly\.kkpxe|pxelinux\.0|gpxelinux\.0|lpxelinux\.0|pxeboot\.n12|pxeboot\.com|wdsnbp\.com|.*\.kpxe|.*\.pxe|.*\.0)$/.test(f)) return 'bios';
  if (/^(ipxe-arm64\.efi|snponly-arm64\.efi|bootaa64\.efi|grubaa64\.efi|shimaa64\.efi)$/.test(f) || /arm64|aa64/.test(f)) return 'arm64';
  if (/^(ipxe-ia32\.efi|bootia32\.efi)$/.test(f) || /ia32|i386/.test(f)) return 'ia32';
  if (/^(ipxe\.efi|snponly\.efi|bootx64\.efi|grubx64\.efi|shimx64\.efi|syslinux\.efi)$/.test(f) || /x64|x86_64/.test(f)) return 'x64';
  if (f.endsWith('.efi')) return 'uefi';
  return 'unknown';
}

const FAMILY_NAME: Record<Family, string> = {
  bios: 'BIOS (legacy PXE)',
  x64: 'x64 UEFI',
  ia32: '32-bit UEFI',
  arm64: 'ARM64 UEFI',
  arm32: '32-bit ARM UEFI',
  uefi: 'UEFI',
  unknown: 'unknown firmware',
};

function mismatch(client: Family, file: Family): boolean {
  if (client === 'unknown' || file === 'unknown') return false;
  if (file === 'uefi') return client === 'bios';
  return client !== file;
}

function blksizeOf(detail: string | undefined): number | undefined {
  const m = /blksize=(\d+)/.exec(detail ?? '');
  return m ? Number(m[1]) : undefined;
}

export class Diagnostician {
  private readonly clients: RecentMap<string, ClientState>;
  private readonly timings: DiagnosisTimings;
  private readonly now: () => number;
  private servingSince?: number;
  private noClientsGiven = false;
  private firewall?: { blocking: string[]; missing: string[] };
  private pxeClientsSeen = 0;
  /** Counted up to the client limit only: its size is all that is used. */
  private readonly otherClientsSeen = new Set<string>();
  private readonly all: Diagnosis[] = [];
  /** Machines whose TFTP stalled in a way that points at the MTU: the blksize PXE Kit offers them from now on. */
  private readonly blksizeCaps: RecentMap<string, number>;

  constructor(private readonly opts: DiagnosticianOptions) {
    this.clients = new RecentMap(opts.maxClients ?? SESSIONS_MAX);
    this.blksizeCaps = new RecentMap(opts.maxClients ?? SESSIONS_MAX);
    this.timings = { ...DEFAULT_TIMINGS, ...opts.timings };
    this.now = opts.now ?? Date.now;
  }

  /** Every diagnosis given so far (for the job report). */
  list(): Diagnosis[] {
    return [...this.all];
  }

  /** The TFTP blksize ceiling for this machine (TftpServerOptions.maxBlksizeFor), after an MTU-like stall. */
  blksizeCap(mac: string | undefined): number | undefined {
    return mac ? this.blksizeCaps.peek(mac) : undefined;
  }

  /**
   * What the Windows Firewall check found (engine, on win32): the no-clients
   * diagnosis names the blocking rules, or says how to add PXE Kit's rules.
   */
  firewallFinding(f: { blocking: string[]; missing: string[] } | undefined): void {
    this.firewall = f && (f.blocking.length || f.missing.length) ? { blocking: [...f.blocking], missing: [...f.missing] } : undefined;
  }

  /** The engine started answering: the no-clients clock starts. */
  serving(at = this.now()): void {
    this.servingSince = at;
  }

  handle(ev: WireEvent): void {
    if (ev.type === 'dhcp') this.onDhcp(ev);
    else if (ev.type === 'transfer' && ev.mac) this.onTransfer(ev);
    else if (ev.type === 'log' && ev.refusal && ev.mac) this.onRefusal(ev.mac, ev.refusal, ev.arch, ev.at);
  }

  private client(mac: string): ClientState {
    let c = this.clients.get(mac);
    if (!c) {
      c = { mac, progressedSinceDiscover: false, blksize: new Map(), stalls: new Map(), given: new Set() };
      this.clients.set(mac, c);
    }
    return c;
  }

  private give(c: ClientState | undefined, d: Omit<Diagnosis, 'at' | 'mac'>, at: number, again = false): void {
    if (c) {
      if (c.given.has(d.code) && !again) return;
      c.given.add(d.code);
    }
    const raw: Diagnosis = { ...d, at, ...(c ? { mac: c.mac } : {}) };
    const full = this.opts.adjust ? this.opts.adjust(raw) : raw;
    this.all.push(full);
    if (this.all.length > DIAGNOSES_KEPT) this.all.splice(0, this.all.length - DIAGNOSES_KEPT);
    this.opts.onDiagnosis(full);
  }

  private onDhcp(ev: DhcpEvent): void {
    const c = this.client(ev.mac);
    if (ev.arch && ev.arch !== 'unknown') c.arch = ev.arch;
    const bootClient = Boolean(ev.vendorClass?.startsWith('PXEClient') || ev.vendorClass?.startsWith('HTTPClient') || ev.isIpxe);
    if (ev.direction === 'in') {
      if (bootClient) this.pxeClientsSeen++;
      else if (this.otherClientsSeen.size < this.clients.limit) this.otherClientsSeen.add(ev.mac);
    }
    if (ev.direction === 'in' && ev.message === 'discover' && !ev.isIpxe) return this.onDiscover(c, ev, bootClient);
    if (ev.direction === 'in' && ev.message === 'discover' && ev.isIpxe) {
      // iPXE is running: whatever was downloaded worked.
      c.bootDoneAt = undefined;
      c.progressedSinceDiscover = true;
      return;
    }
    if (ev.direction === 'in' && ev.message === 'request') {
      c.progressedSinceDiscover = true;
      const offered = c.offerAt !== undefined;
      c.offerAt = undefined;
      if (ev.ip) c.ip = ev.ip;
      if (offered && ev.serverId && ev.serverId !== this.opts.serverIp) {
        const other = this.opts.otherServers?.().find((s) => s.serverId === ev.serverId);
        this.give(
          c,
          {
            code: 'offer-taken-elsewhere',
            title: `${ev.mac} took the offer of another DHCP server (${ev.serverId}${other?.mac ? `, MAC ${other.mac}` : ''}), not PXE Kit's`,
            causes: [
              `another DHCP server answers on this network: ${ev.serverId}${other ? ` (it offered ${other.offeredIp})` : ''}`,
              'firmware takes the first offer that carries an address, and that one came first or looked better',
            ],
            fix:
              'Let that server hand out the addresses and run PXE Kit in proxyDHCP mode (--mode proxy or auto), ' +
              `or switch ${ev.serverId} off on this segment (a home router, a VM host's DHCP, a second laptop).`,
            evidence: [`REQUEST from ${ev.mac} names server ${ev.serverId}${ev.ip ? ` and address ${ev.ip}` : ''}`],
          },
          ev.at,
        );
      }
      return;
    }
    if (ev.direction === 'out' && ev.refusal) this.onRefusal(ev.mac, ev.refusal, ev.arch, ev.at);
    if (ev.direction !== 'out' || ev.isIpxe) return;
    if (ev.message === 'offer' && !ev.proxy && c.offerAt === undefined) {
      c.offerAt = ev.at;
      c.offerIp = ev.ip;
    }
    // The boot file is named in our ACK (full DHCP) or in our proxy OFFER/ACK: a TFTP request must follow.
    const tftpFile = ev.bootFile && !/^https?:/i.test(ev.bootFile) ? ev.bootFile : undefined;
    if (tftpFile && (ev.message === 'ack' || (ev.proxy && ev.message === 'offer')) && c.ackAt === undefined) {
      c.ackAt = ev.at;
      c.ackFile = tftpFile;
    }
    if (ev.message === 'ack' && !ev.proxy) c.offerAt = undefined;
  }

  private onDiscover(c: ClientState, ev: DhcpEvent, bootClient: boolean): void {
    const newAttempt = c.xid !== ev.xid;
    const previous = c.lastDiscoverAt;
    const stuckBefore = !c.progressedSinceDiscover;
    c.lastDiscoverAt = ev.at;
    if (!newAttempt) return;
    // Firmware that refused an unsigned loader goes on to its next boot option, often another
    // network boot of the same NIC (IPv6 PXE, HTTP Boot): a new DISCOVER soon after the
    // download, with nothing in between, is that refusal.
    if (c.bootDoneAt !== undefined && c.bootDoneUnsigned && ev.at - c.bootDoneAt <= this.timings.refusedRetryMs) {
      this.secureBootRefused(c, `${ev.mac} started over with a new DHCP DISCOVER ${Math.round((ev.at - c.bootDoneAt) / 1000)} s after the download, without asking for anything else`, ev.at);
    }
    c.xid = ev.xid;
    c.given = new Set([...c.given].filter((g) => g === 'spanning-tree' || g === 'tftp-stall'));
    c.offerAt = c.ackAt = c.bootDoneAt = c.scriptDoneAt = undefined;
    c.progressedSinceDiscover = false;
    if (!bootClient) return;
    const t = this.timings;
    const waited = ev.secs ?? 0;
    const gap = previous !== undefined ? ev.at - previous : 0;
    if (waited >= t.stpSecs || (previous !== undefined && stuckBefore && gap >= t.stpGapMs)) {
      const evidence =
        waited >= t.stpSecs
          ? [`the first DISCOVER PXE Kit heard from ${ev.mac} says the firmware had been asking for ${waited} s (DHCP "secs" field); the earlier ones never arrived`]
          : [`${ev.mac} started over with a new DISCOVER ${Math.round(gap / 1000)} s after the previous one, which never got further`];
      this.give(
        c,
        {
          code: 'spanning-tree',
          title: `${ev.mac}'s first DHCP requests are lost: the switch port is probably still in spanning-tree listening/learning when the firmware starts`,
          pxeError: 'PXE-E51: No DHCP or proxyDHCP offers were received (on the attempts that time out)',
          causes: [
            'spanning tree (STP) on the switch port: after the link comes up the port forwards nothing for 30-50 s, longer than PXE firmware keeps asking',
            'a slow link negotiation or an 802.1X port that authenticates first',
          ],
          fix: 'Enable PortFast (Cisco "spanning-tree portfast", "edge port" / "admin-edge-port" on other switches) on the ports of the machines to boot, or use an unmanaged switch between them and the network.',
          evidence,
        },
        ev.at,
      );
    }
  }

  /** A UEFI machine got an unsigned loader and did not run it: Secure Boot, almost always. */
  private secureBootRefused(c: ClientState, then: string, at: number, file = c.bootDoneFile): void {
    const name = file?.replace(/^.*[/\\]/, '') ?? 'its boot program';
    this.give(
      c,
      {
        code: 'secure-boot-refused',
        title: `Secure Boot on ${c.mac} most likely refused ${name}: it is not signed`,
        pxeError: 'UEFI: "Access Denied" / "Security Violation" / "Image failed to load" right after the download',
        causes: [
          `Secure Boot is on and ${name} (iPXE) carries no signature Microsoft's UEFI CA vouches for, so the firmware will not start it`,
          'less likely: the loader started and stopped at once (a NIC iPXE has no driver for: try snponly.efi)',
        ],
        fix:
          'Serve with "Secure Boot: auto" or "signed" (--secure-boot auto|signed): PXE Kit then gives UEFI machines its Microsoft-signed shim and Debian-signed GRUB, ' +
          'which boot Linux kernels and Linux ISOs with Secure Boot left on. What only iPXE can boot (iPXE scripts, Windows through wimboot, sanboot of an ISO) ' +
          'needs an image whose own loader is signed, or Secure Boot switched off in this machine\'s firmware setup for this boot (switch it back on afterwards).',
        evidence: [`${name} has no Authenticode signature; it was delivered completely, then ${then}`],
      },
      at,
    );
    c.bootDoneAt = undefined;
  }

  private onRefusal(mac: string, reason: string, arch: ClientArch | undefined, at: number): void {
    const c = this.client(mac);
    if (arch && arch !== 'unknown') c.arch = arch;
    const fam = archFamily(c.arch);
    this.give(
      c,
      {
        code: 'no-image-for-arch',
        title: `${mac} is ${FAMILY_NAME[fam] === 'unknown firmware' ? 'a machine PXE Kit has no boot program for' : `${/^[aeiou]/i.test(FAMILY_NAME[fam]) ? 'an' : 'a'} ${FAMILY_NAME[fam]} machine and PXE Kit has no boot program for it`}`,
        pxeError: fam === 'bios' ? 'PXE-E53: No boot filename received' : 'PXE-E16 / "No valid offer received" (UEFI: "PXE-E18: Server response timeout")',
        causes: [reason, fam === 'arm64' ? 'the image or the iPXE build for ARM64 is missing (x86 programs cannot run on ARM)' : 'the boot program for this firmware type is missing'],
        fix:
          fam === 'arm64'
            ? 'PXE Kit has no iPXE for ARM64 machines on this laptop (Debian ships it in its ipxe package for ARM64 only): boot this machine from another source, or serve from an ARM64 computer with Debian\'s ipxe package.'
            : 'Add the missing boot program (see the reason above), or switch the machine to a firmware mode PXE Kit serves (UEFI or Legacy/CSM in its setup).',
        evidence: [`the boot policy refused ${mac}: ${reason}`],
      },
      at,
    );
  }

  private onTransfer(ev: TransferEvent): void {
    const c = this.client(ev.mac!);
    c.progressedSinceDiscover = true;
    c.offerAt = undefined;
    if (ev.protocol === 'tftp') c.ackAt = undefined;
    const role = ev.role ?? '';
    // iPXE asking for anything past its script (payload, a chained script, a menu) means HTTP works.
    if (ev.protocol === 'http' && !SCRIPT_ROLES.has(role) && (ev.phase === 'start' || ev.phase === 'error')) c.scriptDoneAt = undefined;
    if (ev.phase === 'start') {
      c.bootDoneAt = undefined;
      if (PAYLOAD_ROLES.has(role)) c.scriptDoneAt = undefined;
      const bs = blksizeOf(ev.detail);
      if (bs) c.blksize.set(ev.id, bs);
      if (BOOT_PROGRAM_ROLES.has(role)) this.checkArch(c, ev);
      return;
    }
    if (ev.phase === 'done') {
      if (BOOT_PROGRAM_ROLES.has(role)) {
        c.bootDoneAt = ev.at;
        c.bootDoneFile = ev.file;
        c.bootDoneUnsigned = archFamily(c.arch) !== 'bios' && (this.opts.unsignedLoader?.(ev.file) ?? false);
      } else if (SCRIPT_ROLES.has(role)) {
        c.scriptDoneAt = ev.at;
        c.scriptFile = ev.file;
      }
      return;
    }
    // Aborted size probes, a loader's normal search for optional files, a hand-off report left
    // unacknowledged: no failures (one definition, shared with the log's wording).
    if (ev.phase !== 'error' || transferIsQuietFailure(ev)) return;
    if (ev.errorCode === 'not-found') return this.onNotFound(c, ev);
    // A client whose port closed mid-transfer (ICMP port unreachable): it gave up or restarted.
    if (ev.protocol === 'tftp' && (ev.errorCode === 'timeout' || (ev.errorCode === 'io' && /ECONNREFUSED/.test(ev.error ?? '')))) return this.onStall(c, ev);
  }

  private checkArch(c: ClientState, ev: TransferEvent): boolean {
    const client = archFamily(c.arch);
    const file = fileFamily(ev.file);
    if (!mismatch(client, file)) return false;
    this.give(
      c,
      {
        code: 'wrong-arch-file',
        title: `${ev.mac} is ${client === 'bios' ? 'a BIOS' : `${/^[aeiou]/i.test(FAMILY_NAME[client]) ? 'an' : 'a'} ${FAMILY_NAME[client]}`} machine but asked for ${ev.file}, a ${FAMILY_NAME[file]} boot program`,
        // A file that is not here never runs: the screen shows the TFTP error, not a crash.
        pxeError: ev.errorCode === 'not-found'
          ? 'PXE-E3B: TFTP Error - File not found'
          : client === 'bios'
            ? 'PXE-E79 / the program hangs or reboots right after download'
            : 'UEFI: "Unsupported" / "Load Image Failed" / "PXE-E99: Unexpected network error" after the download',
        causes: [
          `the boot file name came from another DHCP server (or a fixed option 67 on the site's server) that gives every machine ${ev.file}`,
          'the machine is set to a different firmware mode (UEFI vs Legacy/CSM) than the network expects',
        ],
        fix:
          'Remove the fixed boot file name (option 67) from the site DHCP server and let PXE Kit answer as proxyDHCP (it picks the file per architecture), ' +
          `or use vendor-class/architecture (option 93) rules there: ${client === 'bios' ? 'undionly.kpxe for BIOS' : 'ipxe.efi for UEFI x64'}.`,
        evidence: [`DHCP said architecture ${c.arch}; TFTP request for ${ev.file}${ev.errorCode === 'not-found' ? ' (not served: error 1)' : ''}`],
      },
      ev.at,
    );
    return true;
  }

  private onNotFound(c: ClientState, ev: TransferEvent): void {
    if (ev.protocol === 'tftp') {
      if (this.checkArch(c, ev)) return;
      this.give(
        c,
        {
          code: 'tftp-file-not-found',
          title: `${ev.mac} asked for "${ev.file}" over TFTP and PXE Kit has no such file`,
          pxeError: 'PXE-E3B: TFTP Error - File not found',
          causes: [
            'the boot file name (DHCP option 67 / "filename") comes from another DHCP server and names a file PXE Kit does not serve',
            'a typo or wrong case/path in a configured boot file name',
          ],
          fix: `Let PXE Kit name the boot file (proxyDHCP beside the site server, with option 66/67 removed there), or publish "${ev.file}".`,
          evidence: [`TFTP RRQ "${ev.file}" from ${ev.clientIp} answered with error 1 (File not found)`],
        },
        ev.at,
      );
      return;
    }
    this.give(
      c,
      {
        code: 'payload-not-found',
        title: `iPXE on ${ev.mac} asked for ${ev.file} over HTTP and PXE Kit does not serve it`,
        pxeError: 'iPXE: "Error 0x2d12608e" / "No such file or directory (https://ipxe.org/2d12608e)"',
        causes: ['the file was moved, renamed or removed since the image was added', 'the boot script names a path that was never published'],
        fix: 'Re-add the image in PXE Kit (it republishes every file it needs), or correct the path in the boot script.',
        evidence: [`HTTP GET ${ev.file} from ${ev.clientIp}: not found`],
      },
      ev.at,
    );
  }

  private onStall(c: ClientState, ev: TransferEvent): void {
    const bs = c.blksize.get(ev.id) ?? 512;
    const block = Math.floor(ev.bytes / bs) + 1;
    const list = c.stalls.get(ev.file) ?? [];
    const sameAgain = list.includes(block);
    list.push(block);
    c.stalls.set(ev.file, list);
    const firstBlock = block === 1 && bs > 512;
    // 512 is the RFC 1350 block every PXE ROM takes and fits any link (544-byte packets).
    const next = (firstBlock || sameAgain) && bs > 512 ? 512 : undefined;
    if (next) this.blksizeCaps.set(c.mac, next);
    const causes = firstBlock
      ? [
          `the first ${bs}-byte data block never got through while the small packets did: a link on the way has a smaller MTU (a VLAN trunk, a VPN/tunnel, a USB adapter) or drops large/fragmented frames`,
          'a lossy link (bad cable, duplex mismatch) or a client that stopped answering',
        ]
      : [
          'a lossy link: bad cable or port, duplex mismatch, an overloaded switch, a Wi-Fi bridge in the path',
          'the client stopped answering (it crashed, rebooted or was switched off)',
          ...(sameAgain ? [`it stopped at block ${block} again: a packet of that size or content is dropped on the way (MTU / a filtering device)`] : []),
        ];
    const smaller = bs > 1024 ? 1024 : 512;
    const fix = firstBlock || sameAgain
      ? `${next ? `PXE Kit will offer this machine blksize ${next} from its next attempt: reboot it. ` : `Use a smaller TFTP block size (${smaller}). `}Check the MTU of every link between the laptop and the machine; prefer a plain switch port on the same VLAN.`
      : `Check the cable and the switch port (try another one), avoid hubs, Wi-Fi bridges and powerline adapters${bs > 512 ? `; a smaller block size (${smaller}) survives loss better` : ''}.`;
    this.give(
      c,
      {
        code: 'tftp-stall',
        title: `The TFTP transfer of ${ev.file} to ${ev.mac} stalled at block ${block}${sameAgain ? ' again' : ''} (blksize ${bs})`,
        pxeError: 'PXE-E32: TFTP open timeout / PXE-E35: TFTP read timeout',
        causes,
        fix,
        evidence: [`${ev.error ?? 'timeout'}; acknowledged ${ev.bytes} of ${ev.size ?? '?'} bytes`, ...(list.length > 1 ? [`stalls of ${ev.file} so far at blocks ${list.join(', ')}`] : [])],
      },
      ev.at,
      true,
    );
  }

  /** Called about once a second: the rules that wait for something that did not happen. */
  tick(t = this.now()): void {
    const tm = this.timings;
    for (const c of this.clients.values()) {
      if (c.offerAt !== undefined && t - c.offerAt >= tm.offerNoRequestMs) {
        const others = this.opts.otherServers?.() ?? [];
        c.offerAt = undefined;
        this.give(
          c,
          {
            code: 'offer-ignored',
            title: `PXE Kit offered ${c.offerIp ?? 'an address'} to ${c.mac} and the machine never requested it`,
            pxeError: 'PXE-E51: No DHCP or proxyDHCP offers were received (if the offer never reached it)',
            causes: [
              ...(others.length
                ? [`another DHCP server answers here (${others.map((o) => `${o.serverId}${o.mac ? ` ${o.mac}` : ''}`).join(', ')}): the machine may have taken its offer (its REQUEST did not reach PXE Kit)`]
                : []),
              'our OFFER never reached the machine: broadcasts filtered between them (DHCP snooping/"trusted port" on the switch, a different VLAN, a one-way link)',
              'the firmware ignored our offer (it waits for a PXE-specific answer, or the machine was switched off or went on booting from disk)',
            ],
            fix: others.length
              ? 'Use proxyDHCP (--mode proxy) beside the other server, or switch it off on this segment.'
              : 'Check DHCP snooping on the switch (the laptop\'s port must be trusted), that the laptop and the machine are on the same VLAN, and that the machine is set to network boot.',
            evidence: [`OFFER of ${c.offerIp ?? '?'} sent at ${new Date(t - tm.offerNoRequestMs).toISOString()}; no REQUEST in ${Math.round(tm.offerNoRequestMs / 1000)} s`],
          },
          t,
        );
      }
      if (c.ackAt !== undefined && t - c.ackAt >= tm.ackNoTftpMs) {
        const file = c.ackFile;
        c.ackAt = undefined;
        this.give(
          c,
          {
            code: 'no-tftp-after-ack',
            title: `${c.mac} was told to load ${file ?? 'its boot file'} over TFTP, and no TFTP request reached PXE Kit`,
            pxeError: 'PXE-E32: TFTP open timeout',
            causes: [
              'a firewall on this laptop drops TFTP (UDP port 69) coming in',
              'switch port security / ACLs, or DHCP snooping with IP source guard, block the machine\'s traffic to the laptop',
              'the machine took the boot server address (option 66/next-server) from another DHCP server and asks somewhere else',
            ],
            fix:
              process.platform === 'win32'
                ? 'Run "pxekit check" and add the Windows Firewall rules it offers; then check the switch port security.'
                : 'Allow UDP 69 and 4011 and the TFTP transfer ports in the laptop\'s firewall (e.g. "sudo nft list ruleset" / "sudo ufw allow 69/udp"), then check switch port security.',
            evidence: [`boot file ${file ?? '?'} given at ${new Date(t - tm.ackNoTftpMs).toISOString()}; no TFTP request from ${c.ip ?? c.mac} in ${Math.round(tm.ackNoTftpMs / 1000)} s`],
          },
          t,
        );
      }
      if (c.bootDoneAt !== undefined && t - c.bootDoneAt >= tm.silentAfterBootProgramMs) {
        const file = c.bootDoneFile;
        c.bootDoneAt = undefined;
        // A program for the wrong firmware cannot run: that diagnosis already explains the silence.
        if (c.given.has('wrong-arch-file')) continue;
        if (c.bootDoneUnsigned) {
          this.secureBootRefused(c, `nothing from the machine for ${Math.round(tm.silentAfterBootProgramMs / 1000)} s after the download`, t, file);
          continue;
        }
        const uefi = (c.arch ?? '').startsWith('efi') || (file ?? '').endsWith('.efi');
        this.give(
          c,
          {
            code: 'silent-after-boot-program',
            title: `${c.mac} downloaded ${file ?? 'its boot program'} and then went silent`,
            pxeError: uefi ? 'UEFI: "Access Denied" / "Image failed to load: Security Violation" (Secure Boot)' : undefined,
            causes: uefi
              ? [
                  'Secure Boot refused the loader: it is signed by a key this machine does not trust (or, for a loader PXE Kit did not check, not signed at all)',
                  'the loader started and crashed or hangs (firmware bug, a NIC iPXE has no driver for: try snponly.efi)',
                  'the loader runs but its own DHCP request does not reach PXE Kit',
                ]
              : [
                  'the loader started and crashed or hangs (old PXE ROM, a NIC with a broken UNDI stack)',
                  'the loader runs but its own DHCP request does not reach PXE Kit',
                ],
            fix: uefi
              ? 'Watch the machine\'s screen for "Access Denied" or "Security Violation": then switch Secure Boot off for this boot, or serve a loader signed by a key it trusts. If it hangs instead, try the snponly.efi build.'
              : 'Update the NIC\'s PXE ROM / BIOS, or try another boot program build; watch the machine\'s screen for the last message.',
            evidence: [`${file ?? 'boot program'} delivered completely; nothing from the machine for ${Math.round(tm.silentAfterBootProgramMs / 1000)} s after`],
          },
          t,
        );
      }
      if (c.scriptDoneAt !== undefined && t - c.scriptDoneAt >= tm.scriptNoPayloadMs) {
        const file = c.scriptFile;
        c.scriptDoneAt = undefined;
        this.give(
          c,
          {
            code: 'script-without-payload',
            title: `iPXE on ${c.mac} fetched its boot script but never asked for the kernel or the ISO`,
            pxeError: 'iPXE: "Connection timed out (https://ipxe.org/4c0a6092)" or "No such file"',
            causes: [
              'HTTP from the machine to the laptop is blocked (a firewall on the laptop for the HTTP port, a proxy, port security)',
              'the script names a file or server address that is gone or unreachable',
              'the script stopped at a menu or prompt waiting for a key',
            ],
            fix: 'Allow the HTTP port in the laptop\'s firewall, look at the machine\'s screen for iPXE\'s error line, and re-add the image if files moved.',
            evidence: [`${file ?? 'script'} delivered; no payload request in ${Math.round(tm.scriptNoPayloadMs / 1000)} s`],
          },
          t,
        );
      }
    }
    if (this.servingSince !== undefined && !this.noClientsGiven && this.pxeClientsSeen === 0 && t - this.servingSince >= tm.noClientsMs) {
      this.noClientsGiven = true;
      const seen = this.otherClientsSeen.size;
      const others = `${seen}${seen >= this.clients.limit ? ' or more' : ''}`;
      const fw = this.firewall;
      const blocking = fw?.blocking.length ? fw.blocking.map((b) => `"${b}"`).join(', ') : '';
      this.give(
        undefined,
        {
          code: 'no-clients',
          title: `No machine has asked to boot from the network in ${Math.round((t - this.servingSince) / 1000)} s`,
          causes: [
            ...(blocking.length ? [`the Windows Firewall rule(s) ${blocking} block(s) DHCP/TFTP/HTTP coming in on this laptop, so requests never reach PXE Kit`] : []),
            ...(fw?.missing.length ? [`Windows Firewall has no inbound allow rule for ${fw.missing.join(', ')}: requests may be dropped before PXE Kit sees them`] : []),
            'the machine is not set to boot from the network (enable "Network boot"/"PXE" and the network stack in its firmware setup, or press F12/F8 for a boot menu)',
            'the cable goes to another switch or VLAN, or the laptop serves on the wrong NIC',
            ...(seen ? [`${others} other device(s) asked for an address without a PXEClient vendor class: the network works, but none of them is network-booting`] : ['no DHCP traffic at all reached this NIC: check the cable and the link lights']),
          ],
          fix:
            (blocking.length ? `Disable the Windows Firewall rule(s) ${blocking} while serving (a block rule wins over every allow rule, PXE Kit's too). ` : '') +
            (fw?.missing.length ? `To let the requests in, ${CONSENT_HINT}. ` : '') +
            'Check the link lights on both ends, check on the Network screen that the NIC PXE Kit serves on is the one cabled to the machines, and enable network boot (and its IPv4 PXE stack, on UEFI) in the machine\'s firmware setup.',
          evidence: [`serving since ${new Date(this.servingSince).toISOString()}; ${others} non-PXE DHCP client(s) seen`],
        },
        t,
      );
    }
  }
}
