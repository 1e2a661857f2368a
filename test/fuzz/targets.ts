// What the fuzzer feeds: the DHCP, TFTP, ISO and HTTP request-head parsers and the lease files, each from real seed inputs,
// each followed by what the engine does next with a parsed value (classification, option
// getters, re-encoding, option negotiation, path normalisation, walking an ISO's tree and
// reading its files), so a corrupt value that parses is also exercised downstream.
// A target's run() may throw its parser's own error class (a clean refusal); any other
// exception, or an iteration that never ends, is a finding.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePacket as decodeDhcp, encodePacket, DhcpDecodeError } from '../../src/dhcp/codec.js';
import { BROADCAST_FLAG, MessageType, Opt, blankPacket, chaddrFromMac } from '../../src/dhcp/packet.js';
import { classifyClient } from '../../src/dhcp/classify.js';
import { clientArch, clientId, clientNdi, clientUuid, maxMessageSize, messageType, paramRequestList, parseSubOptions, userClasses } from '../../src/dhcp/options.js';
import { decodePacket as decodeTftp, TftpPacketError, OP_RRQ, OP_WRQ } from '../../src/tftp/packet.js';
import { negotiate } from '../../src/tftp/options.js';
import { BufferSource, normaliseRequestPath } from '../../src/files/published.js';
import { IsoImage, IsoError } from '../../src/images/iso/index.js';
import { buildIso, writeTree } from '../helpers/iso-build.js';
import { parseRequestHead, requestPath } from '../../src/http/request-head.js';
import { parseRange } from '../../src/http/range.js';
import { parseLeaseFile } from '../../src/dhcp/lease-file.js';
import { parseJournal } from '../../src/dhcp/lease-journal.js';
import { LeaseStore } from '../../src/dhcp/leases.js';
import type { MutateOptions } from './mutator.js';

export interface FuzzTarget {
  name: string;
  /** Valid inputs the mutations start from. */
  seeds(): Promise<Buffer[]>;
  run(input: Buffer): Promise<void> | void;
  /** Errors that are clean refusals. */
  allowed(err: unknown): boolean;
  mutateOptions?: (seed: Buffer) => MutateOptions;
  /** Milliseconds one input may take before it counts as a hang. */
  hangMs: number;
}

function dhcpSeed(type: number, extra: Array<[number, Buffer]>): Buffer {
  const p = blankPacket({ xid: 0x12345678, flags: BROADCAST_FLAG, chaddr: chaddrFromMac('52:54:00:12:34:56') });
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  for (const [k, v] of extra) p.options.set(k, v);
  return encodePacket(p);
}

export const dhcpTarget: FuzzTarget = {
  name: 'dhcp',
  hangMs: 1000,
  async seeds() {
    const pxe: Array<[number, Buffer]> = [
      [Opt.MAX_MESSAGE_SIZE, Buffer.from([0x05, 0xc0])],
      [Opt.PARAM_REQUEST_LIST, Buffer.from([1, 3, 6, 43, 54, 60, 66, 67, 97, 128, 129])],
      [Opt.CLIENT_UUID, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0xab)])],
      [Opt.CLIENT_NDI, Buffer.from([1, 3, 0])],
      [Opt.CLIENT_ARCH, Buffer.from([0, 7])],
      [Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00007:UNDI:003000')],
    ];
    const seeds = [
      dhcpSeed(MessageType.DISCOVER, pxe),
      dhcpSeed(MessageType.REQUEST, [...pxe, [Opt.SERVER_ID, Buffer.from([10, 0, 0, 1])], [Opt.REQUESTED_IP, Buffer.from([10, 0, 0, 50])]]),
      dhcpSeed(MessageType.DISCOVER, [[Opt.USER_CLASS, Buffer.from('iPXE')], [Opt.ETHERBOOT, Buffer.from([1, 1, 1, 0x10, 1, 1])], [Opt.CLIENT_ID, Buffer.from([1, 0x52, 0x54, 0, 0x12, 0x34, 0x56])]]),
      dhcpSeed(MessageType.INFORM, [[Opt.VENDOR_SPECIFIC, Buffer.from([6, 1, 8, 255])], [Opt.USER_CLASS, Buffer.from([4, 0x69, 0x50, 0x58, 0x45])]]),
    ];
    // Option overload (52): options continue in the file and sname fields.
    const ov = Buffer.from(seeds[0]);
    const optStart = 240;
    const end = ov.indexOf(255, optStart);
    const withOverload = Buffer.concat([ov.subarray(0, end), Buffer.from([52, 1, 3, 255])]);
    withOverload.fill(0, 44, 236);
    Buffer.from([67, 8, ...Buffer.from('ipxe.efi'), 255]).copy(withOverload, 108);
    Buffer.from([66, 4, ...Buffer.from('tftp'), 255]).copy(withOverload, 44);
    seeds.push(withOverload);
    return seeds;
  },
  run(input) {
    const p = decodeDhcp(input);
    classifyClient(p);
    messageType(p);
    userClasses(p);
    clientArch(p);
    clientNdi(p);
    clientUuid(p);
    clientId(p);
    paramRequestList(p);
    maxMessageSize(p);
    for (const code of [Opt.VENDOR_SPECIFIC, Opt.ETHERBOOT]) {
      const v = p.options.get(code);
      if (v) parseSubOptions(v);
    }
    // What parses must re-encode (the reply builder copies fields from the request).
    decodeDhcp(encodePacket(p));
  },
  allowed: (err) => err instanceof DhcpDecodeError,
};

const rrq = (...parts: string[]) => Buffer.concat([Buffer.from([0, OP_RRQ]), Buffer.from(parts.map((p) => p + '\0').join(''), 'latin1')]);

export const tftpTarget: FuzzTarget = {
  name: 'tftp',
  hangMs: 1000,
  async seeds() {
    return [
      rrq('undionly.kpxe', 'octet'),
      rrq('ipxe.efi', 'octet', 'tsize', '0', 'blksize', '1468', 'windowsize', '16', 'timeout', '1'),
      rrq('boot/grub/x86_64-efi/core.efi', 'netascii', 'blksize', '65464', 'tsize', '0'),
      Buffer.from([0, 3, 0, 1, 1, 2, 3, 4]), // DATA
      Buffer.from([0, 4, 0xff, 0xff]), // ACK
      Buffer.concat([Buffer.from([0, 5, 0, 1]), Buffer.from('File not found\0')]), // ERROR
      Buffer.concat([Buffer.from([0, 6]), Buffer.from('blksize\x001468\0tsize\x00123\0')]), // OACK
    ];
  },
  run(input) {
    const p = decodeTftp(input);
    if (p.op === OP_RRQ || p.op === OP_WRQ) {
      const name = Buffer.from(p.filename, 'latin1').toString('utf8');
      normaliseRequestPath(name, { percentDecoded: true });
      const n = negotiate(p.options, 123_456, { mtu: 1500 });
      if (!(n.blksize >= 8 && n.blksize <= 65464) || !(n.windowsize >= 1 && n.windowsize <= 65535)) {
        throw new Error(`negotiated values out of range: ${JSON.stringify({ blksize: n.blksize, windowsize: n.windowsize })}`);
      }
    }
  },
  allowed: (err) => err instanceof TftpPacketError,
};

/** Reads everything an ISO exposes, bounded (a corrupt tree can be huge or deep). */
async function walkIso(iso: IsoImage): Promise<void> {
  const queue = [''];
  let visited = 0;
  const buf = Buffer.alloc(4096);
  while (queue.length && visited < 200) {
    const dir = queue.shift()!;
    for (const e of await iso.list(dir)) {
      if (++visited > 200) break;
      const path = dir ? `${dir}/${e.name}` : e.name;
      if (e.type === 'directory') queue.push(path);
      else if (e.type === 'file') {
        await iso.stat(path);
        const f = await iso.openFile(path);
        if (f.size > 0) await f.read(buf, 0, Math.min(buf.length, f.size), Math.floor(f.size / 2));
        await f.close();
      }
    }
  }
  for (const which of ['bios', 'uefi'] as const) {
    try {
      const b = await iso.openBootImage(which);
      if (b.size > 0) await b.read(buf, 0, Math.min(buf.length, b.size), 0);
      await b.close();
    } catch (err) {
      if (!(err instanceof IsoError)) throw err;
    }
  }
}

/** Small images from the real mastering tools: ISO 9660 + Rock Ridge + Joliet + El Torito (xorriso), and UDF (genisoimage). */
async function isoSeeds(): Promise<Buffer[]> {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-fuzz-iso-'));
  try {
    writeTree(join(dir, 'src'), {
      'boot/vmlinuz': Buffer.alloc(3000, 7),
      'boot/initrd.img': Buffer.alloc(5000, 9),
      'EFI/BOOT/BOOTX64.EFI': Buffer.alloc(4096, 1),
      'isolinux/isolinux.bin': Buffer.alloc(2048, 2),
      'a-rather-long-file-name-for-joliet-and-rock-ridge.txt': 'hello\n',
      'deep/er/and/deeper/file.cfg': 'menu\n',
      'link': { symlink: 'boot/vmlinuz' },
    });
    const out: Buffer[] = [];
    out.push(readFileSync(buildIso(join(dir, 'src'), join(dir, 'a.iso'), { rockRidge: true, joliet: true, bios: 'isolinux/isolinux.bin', volumeId: 'FUZZ' })));
    try {
      out.push(readFileSync(buildIso(join(dir, 'src'), join(dir, 'u.iso'), { tool: 'genisoimage', udf: true, rockRidge: true })));
    } catch {
      /* genisoimage missing: the xorriso image alone */
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const isoTarget: FuzzTarget = {
  name: 'iso',
  hangMs: 5000,
  seeds: isoSeeds,
  async run(input) {
    const iso = await IsoImage.fromSource(new BufferSource(input));
    try {
      await walkIso(iso);
    } finally {
      await iso.close();
    }
  },
  allowed: (err) => err instanceof IsoError,
  // The metadata lives in the first sectors (volume descriptors from sector 16, path tables,
  // directories, the boot catalog, UDF descriptors): mutate there, keep the length.
  mutateOptions: (seed) => ({ focus: [16 * 2048, Math.min(seed.length, 64 * 2048)], maxLength: seed.length }),
};

/** A head the reader refused (400/431/505) or could not finish: the clean outcomes of a bad input. */
class HeadRefused extends Error {}

export const httpTarget: FuzzTarget = {
  name: 'http',
  hangMs: 1000,
  async seeds() {
    return [
      'GET /boot/casper/filesystem.squashfs HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1\r\nHost: 10.0.0.1:8080\r\nRange: bytes=1048576-1310719\r\n\r\n',
      'HEAD /ipxe/boot.ipxe HTTP/1.0\r\nConnection: keep-alive\r\nIf-Range: "x"\r\nRange: bytes=-500\r\n\r\nGET / HTTP/1.1\r\n\r\n',
      'GET http://10.0.0.1:8080/EFI/BOOT/BOOTX64.EFI?x=1 HTTP/1.1\nHost: 10.0.0.1\nTransfer-Encoding: chunked\n\n',
      'POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: TE, close\r\n\r\nhello',
    ].map((t) => Buffer.from(t, 'latin1'));
  },
  run(input) {
    const r = parseRequestHead(input, 2048);
    if (r.kind !== 'request') throw new HeadRefused(r.kind);
    if (!(r.length > 0 && r.length <= input.length)) throw new Error(`head length ${r.length} outside the input's ${input.length} bytes`);
    // The head alone reads the same as the head with what followed it.
    const again = parseRequestHead(input.subarray(0, r.length), 2048);
    if (again.kind !== 'request' || JSON.stringify(again.head) !== JSON.stringify(r.head)) throw new Error('the head read differently without the bytes after it');
    normaliseRequestPath(requestPath(r.head.target), { percentDecoded: false });
    for (const size of [0, 1, 4096, 2 ** 40]) {
      const range = parseRange(r.head.range, size);
      if (range.kind === 'partial' && !(range.start >= 0 && range.start <= range.end && range.end < size)) {
        throw new Error(`range ${range.start}-${range.end} outside a ${size}-byte file`);
      }
    }
  },
  allowed: (err) => err instanceof HeadRefused,
};

/** The loader said the files were damaged (its loadProblem): the clean outcome of a bad input. */
class LeasesRefused extends Error {}

/** Where the table ends and its journal begins in one fuzz input. */
const JOURNAL_AFTER = '\n--- leases.journal ---\n';

export const leasesTarget: FuzzTarget = {
  name: 'leases',
  hangMs: 1000,
  async seeds() {
    const lease = (mac: string, ip: string, state: string, expiresAt: number, extra = {}) => ({ mac, ip, state, expiresAt, ...extra });
    const table = {
      version: 1,
      generation: 3,
      leases: [lease('52:54:00:00:00:0a', '10.9.0.10', 'bound', 9e12, { clientId: '01525400' }), lease('52:54:00:00:00:0b', '10.9.0.11', 'free', 1)],
      declined: [{ ip: '10.9.0.12', until: 9e12 }],
    };
    const journal = [
      { journal: 1, generation: 3 },
      { op: 'lease', ...lease('52:54:00:00:00:0c', '10.9.0.11', 'bound', 9e12) },
      { op: 'decline', mac: '52:54:00:00:00:0a', ip: '10.9.0.10', until: 9e12 },
      { op: 'lease', ...lease('52:54:00:00:00:0a', '10.9.0.13', 'free', 2e12) },
    ].map((r) => JSON.stringify(r)).join('\n');
    return [
      JSON.stringify(table, null, 1) + JOURNAL_AFTER + journal + '\n',
      JSON.stringify({ ...table, generation: undefined }) + JOURNAL_AFTER + journal + '\n{"op":"lease","mac":"52:54', // torn
      JSON.stringify(table),
    ].map((t) => Buffer.from(t));
  },
  run(input) {
    const text = input.toString('utf8');
    const cut = text.indexOf(JOURNAL_AFTER);
    const [tableText, journalText] = cut < 0 ? [text, ''] : [text.slice(0, cut), text.slice(cut + JOURNAL_AFTER.length)];
    const table = parseLeaseFile(tableText, 'leases.json');
    const journal = parseJournal(journalText, table.content?.generation ?? 0, 'leases.journal');
    const store = LeaseStore.fromRead({ serverIp: '10.9.0.1', prefix: 24, dataDir: '/nonexistent', now: () => 1_000_000 }, table, journal);
    // What the server does next: look machines up and offer them addresses. The two maps
    // must agree, and an offer must come from the pool, whatever the files said.
    const known = [...(table.content?.leases ?? []), ...journal.records];
    const macs = new Set(['52:54:00:00:00:ff', ...known.map((l) => l.mac)]);
    const ips = new Set(known.map((l) => l.ip));
    const agree = () => {
      for (const mac of macs) {
        const ip = store.ipForMac(mac);
        if (ip !== undefined && store.macForIp(ip) !== mac) throw new Error(`${mac} holds ${ip}, but ${ip} names ${store.macForIp(ip)}`);
      }
      for (const ip of ips) {
        const mac = store.macForIp(ip);
        if (mac !== undefined && store.ipForMac(mac) !== ip) throw new Error(`${ip} names ${mac}, but ${mac} holds ${store.ipForMac(mac)}`);
      }
    };
    agree();
    for (const mac of macs) {
      store.leaseFor(mac);
      const offered = store.offer(mac);
      if (offered === undefined) continue;
      if (!store.inPool(offered)) throw new Error(`offered ${offered}, outside the pool`);
      ips.add(offered);
    }
    agree();
    if (store.loadProblem) throw new LeasesRefused(store.loadProblem);
  },
  allowed: (err) => err instanceof LeasesRefused,
};

export const TARGETS: FuzzTarget[] = [dhcpTarget, tftpTarget, isoTarget, httpTarget, leasesTarget];
