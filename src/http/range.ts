// The Range header (RFC 9110 §14), reduced to what boot clients send: one byte range.
// iPXE and UEFI HTTP Boot fetch whole files; curl -C and download managers send
// "bytes=a-" or "bytes=a-b". Multi-range requests are answered with the whole file
// (200): a server MAY ignore Range (§14.2), and no boot client asks for multipart.

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * Interprets a Range header against a representation of `size` bytes.
 * Anything malformed, or any unit other than bytes, is ignored (full body), as §14.2 allows.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: 'full' };
  const spec = m[1].trim();
  if (spec.includes(',')) return { kind: 'full' }; // multi-range: documented choice above
  const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
  if (!r || (r[1] === '' && r[2] === '')) return { kind: 'full' };

  if (r[1] === '') {
    // Suffix range "-n": the last n bytes. "-0" and any range of an empty file cannot be satisfied.
    const n = Number(r[2]);
    if (!Number.isSafeInteger(n)) return { kind: 'full' };
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === '' ? size - 1 : Number(r[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'full' };
  if (r[2] !== '' && end < start) return { kind: 'full' }; // invalid syntax per §14.1.1: ignore
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
