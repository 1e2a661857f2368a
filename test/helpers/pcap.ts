// A tiny libpcap reader for tests: Ethernet / IPv4 / UDP frames out of a
// capture file, enough to feed real firmware packets to the codecs.
import { readFileSync } from 'node:fs';

export interface UdpFrame {
  index: number; // 1-based, as tshark numbers frames
  srcMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export function readPcapUdp(path: string): UdpFrame[] {
  const buf = readFileSync(path);
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${path}: not a pcap file`);
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`${path}: link type ${u32(20)} is not Ethernet`);
  const frames: UdpFrame[] = [];
  let off = 24;
  let index = 0;
  while (off + 16 <= buf.length) {
    const incl = u32(off + 8);
    const data = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    index += 1;
    if (data.readUInt16BE(12) !== 0x0800) continue;
    const ip = data.subarray(14);
    const ihl = (ip[0] & 0x0f) * 4;
    if (ip[9] !== 17) continue;
    const udp = ip.subarray(ihl);
    const ipStr = (o: number): string => [...ip.subarray(o, o + 4)].join('.');
    frames.push({
      index,
      srcMac: [...data.subarray(6, 12)].map((b) => b.toString(16).padStart(2, '0')).join(':'),
      srcIp: ipStr(12),
      dstIp: ipStr(16),
      srcPort: udp.readUInt16BE(0),
      dstPort: udp.readUInt16BE(2),
      payload: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))),
    });
  }
  return frames;
}
