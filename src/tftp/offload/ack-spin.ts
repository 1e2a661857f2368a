// Whether a pump that has its thread to itself polls for the client's next ACK before it
// sleeps in recv, and for how long. Lockstep TFTP (what firmware asks for) is one packet
// per round trip, so the round trip is the transfer rate, and a thread asleep in recv adds
// its wake-up to every one: on a veth, most of the time from ACK to the next DATA of a
// sleeping pump was its wake-up (figures in docs/performance.md); on a laptop a core in a
// deep C-state takes longer still to wake. The kernel's own answer, SO_BUSY_POLL, needs a NAPI device under the
// socket (a veth has none) and is tuned machine-wide (docs/decisions.md §15).
//
// Polling is not free: it keeps a core busy, and when cores are short (another busy
// process, the client itself on the same machine) it takes CPU from whoever has to answer:
// the client is preempted for whole scheduler slices, and the transfer gets slower, not
// faster (with one busy loop beside a veth client, always polling was slower than
// sleeping: docs/decisions.md §15). So the pump measures instead of assuming: it runs the way that has been
// faster and, between runs, tries the other for a while. What is compared is the mean
// round trip over each way's last phase, long enough (a few ms) to include the stalls
// that contention causes; a client slower than twice the budget is not polled for.
// PXEKIT_TFTP_SPIN_US sets the budget (0 turns polling off).
//
// A transfer with a window (RFC 7440) starts asleep: its round is the client taking in a
// whole window (16 blocks where a lockstep round has one), far past the budget, and polling
// through the first trial, which is the whole of a 1 MiB transfer, took a core from that
// client and made it slower than asleep (docs/decisions.md §15). It still tries polling
// later if its rounds turn out short.

/** Default budget: a LAN or veth client's turnaround fits; a congested one does not. */
const DEFAULT_BUDGET_US = 100;
/** Rounds per trial of the other way (a few ms on a LAN). */
const TRIAL = 128;
/** Rounds run the chosen way between trials. */
const RUN = 384;

/** The budget from PXEKIT_TFTP_SPIN_US (µs), in ms; the default when unset or not a number >= 0. */
export function spinBudgetMs(env: string | undefined = process.env.PXEKIT_TFTP_SPIN_US): number {
  const us = env === undefined || env.trim() === '' ? NaN : Number(env);
  return (Number.isFinite(us) && us >= 0 ? Math.min(us, 10_000) : DEFAULT_BUDGET_US) / 1000;
}

type Way = 'poll' | 'sleep';

export class AckSpin {
  /** Mean round (ms) over each way's last phase; Infinity until tried, so an untried way is never chosen. */
  private readonly mean: Record<Way, number> = { poll: Infinity, sleep: Infinity };
  /** The way that has been faster; a lockstep transfer starts polling, a windowed one asleep. */
  private chosen: Way;
  private way: Way;
  /** This phase's length in rounds, the rounds so far and the time they took. */
  private phase = TRIAL;
  private count = 0;
  private sum = 0;
  /** When the last wait began (performance.now() ms), -1 before the first. */
  private lastBegan = -1;

  /** `windowsize`: the transfer's (RFC 7440; 1 is lockstep). A budget of 0 always sleeps. */
  constructor(
    private readonly budget: number,
    windowsize = 1,
  ) {
    this.chosen = this.way = budget > 0 && windowsize === 1 ? 'poll' : 'sleep';
  }

  /**
   * A wait begins at `now`: returns how long it polls before it sleeps (ms). The time since
   * the last wait began is one whole round, run the way that wait was: the client's answer,
   * then our handling and send of the next DATA. That is what sets the rate, and where
   * contention shows: measured, waits alone came out alike both ways while whole
   * rounds did not.
   */
  begin(now: number): number {
    if (this.lastBegan >= 0 && this.budget > 0) this.round(now - this.lastBegan);
    this.lastBegan = now;
    return this.way === 'poll' ? this.budget : 0;
  }

  /** One round of `ms`, run the current way; at the end of a phase, the next phase. */
  private round(ms: number): void {
    this.sum += ms;
    if (++this.count < this.phase) return;
    this.mean[this.way] = this.sum / this.count;
    this.sum = this.count = 0;
    this.phase = RUN;
    if (this.way !== this.chosen) {
      // A trial is over: keep the faster way. Polling must also have paid within twice the budget.
      this.chosen = this.mean.poll < this.mean.sleep && this.mean.poll <= 2 * this.budget ? 'poll' : 'sleep';
      this.way = this.chosen;
    } else if (this.way === 'poll' || this.mean.sleep <= 2 * this.budget) {
      // Try the other way, unless that is polling for a client slower than twice the
      // budget: most of those waits would poll for nothing and then sleep anyway.
      this.way = this.way === 'poll' ? 'sleep' : 'poll';
      this.phase = TRIAL;
    }
  }
}
