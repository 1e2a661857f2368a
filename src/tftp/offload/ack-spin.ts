// How long a pump that has its thread to itself polls for the client's next ACK before
// it sleeps in recv. Lockstep TFTP (what firmware asks for) is one packet per round trip,
// so the round trip is the transfer rate, and a thread asleep in recv adds its wake-up to
// every one: measured on this VM's veth, 27-32 µs from ACK to the next DATA asleep against
// 12 µs polling; on a laptop a core in a deep C-state takes longer still to wake. The
// kernel's own answer is busy polling (SO_BUSY_POLL), which needs a NAPI device under
// the socket (a veth has none) and is tuned machine-wide; this is the same idea in the
// pump, bounded and adaptive:
// - it polls only while the client's ACKs have been coming back within the budget, so
//   the CPU it burns is at most the round trip it saves, and a slow client (firmware
//   under emulation, a congested link) turns it off after a few packets;
// - only a thread with one transfer polls (io-loop.ts: waitAndHandle); with more, poll()
//   is already awake for one of them most of the time.
// PXK_TFTP_SPIN_US sets the budget (0 turns polling off, e.g. to compare, or on battery).

/** Default budget: a LAN or veth client's turnaround fits; a congested one does not. */
const DEFAULT_BUDGET_US = 100;

/** The budget from PXK_TFTP_SPIN_US (µs), in ms; the default when unset or not a number >= 0. */
export function spinBudgetMs(env: string | undefined = process.env.PXK_TFTP_SPIN_US): number {
  const us = env === undefined || env.trim() === '' ? NaN : Number(env);
  return (Number.isFinite(us) && us >= 0 ? Math.min(us, 10_000) : DEFAULT_BUDGET_US) / 1000;
}

export class AckSpin {
  /** Moving average of how long waits for a packet took (ms); 0 at first, so a transfer starts polling. */
  private averageMs = 0;

  constructor(private readonly budget: number) {}

  /** How long the next wait polls before it sleeps (ms): the budget while recent waits fitted it, else 0. */
  get pollMs(): number {
    return this.averageMs <= this.budget ? this.budget : 0;
  }

  /**
   * A wait ended (a packet came, or the sleep's slice ran out) `ms` after it began. An
   * average over about 8 waits: one stall of the client does not turn polling off for
   * long, a client that is slow throughout turns it off within a few packets.
   */
  waited(ms: number): void {
    this.averageMs += (ms - this.averageMs) / 8;
  }
}
