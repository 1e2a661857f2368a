// What the main thread and an HTTP sending thread say to each other. The main thread
// keeps HTTP itself (parsing, headers, keep-alive, events); a thread moves one response
// body from a file to the connection with sendfile(2), so the bytes never pass through
// JavaScript.

/** One response body (the pool adds its id). */
export interface BodyJob {
  /** A dup() of the connection's socket: the thread closes it, Node keeps its own. */
  fd: number;
  /** The open file, shared with other transfers (sendfile reads at an offset; its position never moves). */
  fileFd: number;
  /** Where the body starts in the file. */
  offset: number;
  length: number;
  /** A body that moves no byte for this long is cut (the client stopped reading). */
  stallMs: number;
}

export type FromSender =
  | { t: 'progress'; id: number; bytes: number }
  | {
      t: 'end';
      id: number;
      /** done: every byte is in the kernel; closed: the client went away; timeout: it stopped reading; io: reading the file failed; aborted: asked to. */
      how: 'done' | 'closed' | 'timeout' | 'io' | 'aborted';
      bytes: number;
      message?: string;
      /** Made up by the pool because the thread is gone: the dup'd socket is still open and is the receiver's to close. */
      orphaned?: boolean;
    };
