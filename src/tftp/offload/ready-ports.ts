// Transfer sockets opened ahead of the requests that will use them. Opening one (socket,
// SO_BINDTODEVICE, bind, getsockname: four calls through koffi) took a fifth of the time
// between a client's RRQ and our OACK; with a socket ready, an RRQ costs one connect().
// The reserve is topped up after the answer has gone out.

export interface PortKit {
  openPortFd(device: string, address: string): { fd: number; port: number };
  connectFd(fd: number, peerAddress: string, peerPort: number): void;
  closeFd(fd: number): void;
}

export class ReadyPorts {
  private readonly ready: Array<{ fd: number; port: number }> = [];
  private refillQueued = false;
  private closed = false;

  constructor(
    private readonly device: string,
    private readonly address: string,
    private readonly kit: PortKit,
    private readonly keep = 8,
  ) {
    this.refill();
  }

  /** A socket connect()ed to the peer on a port of its own; throws as the socket calls do. */
  take(peerAddress: string, peerPort: number): { fd: number; port: number } {
    const bound = this.ready.pop() ?? this.kit.openPortFd(this.device, this.address);
    this.kit.connectFd(bound.fd, peerAddress, peerPort);
    if (!this.refillQueued) {
      this.refillQueued = true;
      setImmediate(() => {
        this.refillQueued = false;
        this.refill();
      });
    }
    return bound;
  }

  private refill(): void {
    try {
      while (!this.closed && this.ready.length < this.keep) this.ready.push(this.kit.openPortFd(this.device, this.address));
    } catch {
      // take() opens one on demand, and reports what fails then.
    }
  }

  /** Closes the sockets not taken (the server is stopping). */
  close(): void {
    this.closed = true;
    for (const b of this.ready.splice(0)) this.kit.closeFd(b.fd);
  }
}
