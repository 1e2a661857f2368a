// A seeded random mutator (the fuzzing engine here). A coverage-guided fuzzer for Node
// (@jazzer.js/core) is on npm, but its native part is fetched from GitHub at install
// time, and CI machines reach only the npm registry and Debian: so inputs are mutated
// blindly but repeatably: the same seed and iteration always give the same bytes, so
// any finding is reproduced with `npm run fuzz -- --target T --seed S --iterations N`.

/** mulberry32: small, fast, good enough to pick mutations. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x2e, 0x2f, 0x5c, 0x3a];
const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 2048, 2047, 2049];

export interface MutateOptions {
  /** Mutate only bytes in [from, to) (e.g. an ISO's metadata sectors); the whole buffer by default. */
  focus?: [number, number];
  /** Upper bound of the result's length. */
  maxLength?: number;
}

/** 1 to 8 stacked mutations of a copy of `input`. */
export function mutate(input: Buffer, r: () => number, opts: MutateOptions = {}): Buffer {
  let b = Buffer.from(input);
  const max = opts.maxLength ?? Math.max(64, input.length * 2);
  const n = 1 + Math.floor(r() * r() * 8);
  for (let i = 0; i < n; i++) {
    const [lo, hi] = opts.focus ? [Math.min(opts.focus[0], b.length), Math.min(opts.focus[1], b.length)] : [0, b.length];
    const span = Math.max(1, hi - lo);
    const at = lo + Math.floor(r() * span);
    switch (Math.floor(r() * 10)) {
      case 0: // flip one bit
        if (b.length) b[at % b.length] ^= 1 << Math.floor(r() * 8);
        break;
      case 1: // random byte
        if (b.length) b[at % b.length] = Math.floor(r() * 256);
        break;
      case 2: // interesting byte
        if (b.length) b[at % b.length] = INTERESTING_8[Math.floor(r() * INTERESTING_8.length)];
        break;
      case 3: {
        // interesting 16/32-bit value, either byte order (ISO 9660 stores both)
        const v = INTERESTING_32[Math.floor(r() * INTERESTING_32.length)] + (r() < 0.2 ? Math.floor(r() * 3) - 1 : 0);
        const size = r() < 0.5 ? 2 : 4;
        if (at + size <= b.length) {
          const le = r() < 0.5;
          if (size === 2 && le) b.writeUInt16LE(v & 0xffff, at);
          else if (size === 2) b.writeUInt16BE(v & 0xffff, at);
          else if (le) b.writeUInt32LE(v >>> 0, at);
          else b.writeUInt32BE(v >>> 0, at);
        }
        break;
      }
      case 4: // truncate
        b = b.subarray(0, Math.floor(r() * b.length));
        break;
      case 5: {
        // delete a run
        const len = 1 + Math.floor(r() * 16);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + len))]);
        break;
      }
      case 6: {
        // insert random bytes
        const len = 1 + Math.floor(r() * 16);
        const ins = Buffer.alloc(len);
        for (let k = 0; k < len; k++) ins[k] = Math.floor(r() * 256);
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 7: {
        // copy a chunk over another place (repeats structures: option loops, directory records)
        const len = 1 + Math.floor(r() * 64);
        const from = lo + Math.floor(r() * span);
        b.copy(b, at, from, Math.min(b.length, from + len));
        break;
      }
      case 8: // a run of one value
        b.fill(INTERESTING_8[Math.floor(r() * INTERESTING_8.length)], at, Math.min(b.length, at + 1 + Math.floor(r() * 32)));
        break;
      default: // random garbage of random length (rarely)
        if (r() < 0.1) {
          b = Buffer.alloc(Math.floor(r() * 600));
          for (let k = 0; k < b.length; k++) b[k] = Math.floor(r() * 256);
        } else if (b.length) b[at % b.length] = (b[at % b.length] + 1) & 0xff;
    }
    if (b.length > max) b = b.subarray(0, max);
  }
  return b;
}
