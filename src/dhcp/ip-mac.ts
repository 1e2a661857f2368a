// Who had which address, as seen on the wire (REQUESTs, ACKs, boot server
// requests). Bounded: a flood of forged REQUESTs must not grow memory forever.
export class IpMacTable {
  private readonly map = new Map<string, string>();

  constructor(private readonly limit = 4096) {}

  set(ip: string, mac: string): void {
    this.map.delete(ip); // re-insert: Map order is our recency order
    this.map.set(ip, mac);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as string);
  }

  get(ip: string): string | undefined {
    return this.map.get(ip);
  }
}
