// One error type for everything that can be wrong with an image, so callers (the CLI,
// the image library) can tell "this file is not a usable ISO" from a bug in our code.
export type IsoErrorCode =
  | 'not-iso' // no ISO 9660 or UDF structures at all
  | 'truncated' // a structure lies past the end of the file
  | 'corrupt' // a structure is malformed (bad tag, bad checksum, overlong record)
  | 'unsupported' // valid but outside what we read (interleaved files, odd block sizes)
  | 'limit' // a loop bound was hit: a cycle or an absurd structure
  | 'not-found'
  | 'not-a-file'
  | 'not-a-directory';

export class IsoError extends Error {
  override readonly name = 'IsoError';
  constructor(
    readonly code: IsoErrorCode,
    message: string,
  ) {
    super(message);
  }
}
