// Who had which address, as seen on the wire (REQUESTs, ACKs, boot server
// requests). Bounded: a flood of forged REQUESTs must not grow memory forever.
import { RecentMap } from '../util/recent-map.js';

export class IpMacTable {
  private readonly map: RecentMap<string, string>;

  constructor(limit = 4096) {
    this.map = new RecentMap(limit);
  }

  set(ip: string, mac: string): void {
    this.map.set(ip, mac);
  }

  get(ip: string): string | undefined {
    return this.map.peek(ip);
  }
}
