// The shapes every tree reader (ISO 9660, Joliet, Rock Ridge, UDF) produces.

/** A run of a file's bytes: in the image, zeros (sparse UDF extents), or stored inline (UDF embedded data). */
export type Extent =
  | { readonly kind: 'image'; readonly pos: number; readonly length: number }
  | { readonly kind: 'zero'; readonly length: number }
  | { readonly kind: 'inline'; readonly data: Buffer };

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface Entry {
  /** The name as the chosen tree spells it (Rock Ridge/UDF: as on the source disk; ISO: ";1" stripped). */
  readonly name: string;
  /** Full path inside the image, "/"-separated, without a leading slash ("" is the root). */
  readonly path: string;
  readonly type: EntryType;
  readonly size: number;
  readonly mtime?: Date;
  /** Symlinks: the target as recorded (Rock Ridge SL or UDF path components). */
  readonly target?: string;
  readonly hidden?: boolean;
  /** Where the bytes are; for directories, the directory's own data. */
  readonly extents: readonly Extent[];
}

/** A directory entry before its path is known, as a tree reader returns it. */
export interface RawEntry {
  name: string;
  type: EntryType;
  size: number;
  mtime?: Date;
  target?: string;
  hidden?: boolean;
  extents: Extent[];
  /** Identity of a directory for cycle detection (its data location). */
  key: string;
}

export type TreeKind = 'udf' | 'rockridge' | 'joliet' | 'iso9660';

export interface Tree {
  readonly kind: TreeKind;
  root(): Promise<RawEntry>;
  readDir(dir: RawEntry): Promise<RawEntry[]>;
}

export function extentsLength(extents: readonly Extent[]): number {
  let n = 0;
  for (const e of extents) n += e.kind === 'inline' ? e.data.length : e.length;
  return n;
}
