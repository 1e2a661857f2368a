// Sends an HTTP body from a file with sendfile(2) (Linux). Headers go out through Node
// as usual; then the main thread sendfile()s what the socket takes at once (a Range read
// of a few hundred KiB usually fits: no thread round trip), and a sending thread
// (pool.ts) gets a dup() of the connection's socket for the rest; then Node ends the
// response, and keep-alive and the next request go on as before. Elsewhere, and for
// bodies held in memory, the server copies through user space (../body.ts).
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { EAGAIN, ECONNRESET, EINTR, EPIPE, nativeBuffer, writeU64, type NativeBuffer } from '../../net/libc-io.js';
import type { SendfilePool } from './pool.js';
import type { FromSender } from './protocol.js';

export interface SendfileBodyOptions {
  /** The connection's idle timeout, suspended while a thread sends (the thread has its own). */
  idleTimeoutMs: number;
  onBytes(n: number): void;
  /** Called when the rest of the body goes to a sending thread. */
  onHandOver?(): void;
}

export type SendfileBodyResult = 'done' | 'closed' | 'timeout';

/**
 * At most this much is sent from the main thread: the page cache answers in microseconds,
 * but a cold disk blocks the call, and the main thread also answers DHCP.
 */
const INLINE_MAX_BYTES = 1024 * 1024;
/** sendfile's offset argument for the main thread's calls (one at a time). */
let inlineOffset: NativeBuffer | undefined;

/**
 * Sends `length` bytes of `fileFd` from `offset` as the body of `res`, whose head (with
 * Content-Length) was set by writeHead. Resolves undefined, before any body byte, when
 * this connection cannot be used this way (the caller then copies); rejects when
 * reading the file failed mid-body.
 */
export async function sendBodyWithSendfile(
  pool: SendfilePool,
  res: ServerResponse,
  fileFd: number,
  offset: number,
  length: number,
  opts: SendfileBodyOptions,
): Promise<SendfileBodyResult | undefined> {
  // A client that sends its next request as soon as it has the last byte finds the previous
  // response not ended yet (the thread's "done" is still on its way): Node queues the new
  // response and gives it the socket when the previous one finishes.
  if (!res.socket && !res.destroyed) {
    await new Promise((resolve) => {
      res.once('socket', resolve);
      res.once('close', resolve);
    });
  }
  const socket = res.socket;
  const socketFd = socket ? socketFdOf(socket) : undefined;
  if (!socket || socketFd === undefined) return res.destroyed ? 'closed' : undefined;
  pool.libc.cork(socketFd, true);
  res.flushHeaders();
  // Body bytes must not overtake the head: wait for Node's queue to empty (an empty
  // write's callback runs after every earlier write is in the kernel).
  if (socket.writableLength > 0) await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
  if (socket.destroyed || res.destroyed) return 'closed';

  const inline = sendWhatFits(pool, socketFd, fileFd, offset, Math.min(length, INLINE_MAX_BYTES));
  pool.libc.cork(socketFd, false);
  if (inline === 'closed') {
    res.destroy();
    return 'closed';
  }
  opts.onBytes(inline);
  if (inline < length) {
    opts.onHandOver?.();
    const rest = await sendRestOnThread(pool, res, socket, socketFd, fileFd, offset + inline, length - inline, opts);
    if (rest !== 'done') return rest;
  }
  if (res.destroyed) return 'closed';
  return new Promise<SendfileBodyResult>((resolve) => {
    res.once('finish', () => resolve('done'));
    res.once('close', () => resolve(res.writableFinished ? 'done' : 'closed'));
    res.end();
  });
}

/** sendfile on the main thread until the socket is full or `count` bytes went: how many, or 'closed'. */
function sendWhatFits(pool: SendfilePool, socketFd: number, fileFd: number, offset: number, count: number): number | 'closed' {
  const io = pool.libc;
  inlineOffset ??= nativeBuffer(8);
  let sent = 0;
  while (sent < count) {
    writeU64(inlineOffset.buf, 0, offset + sent);
    const n = io.sendfile(socketFd, fileFd, inlineOffset.addr, count - sent);
    if (n > 0) {
      sent += n;
      continue;
    }
    if (n < 0 && io.errno() === EINTR) continue;
    // EAGAIN: the socket is full. The file ending early or a failed read is left to the
    // thread, which says what went wrong; a dead connection shows there too.
    if (n < 0 && io.errno() !== EAGAIN && sent === 0 && isGone(io.errno())) return 'closed';
    break;
  }
  return sent;
}

/** The rest of the body on a sending thread, which polls the socket for room. */
async function sendRestOnThread(
  pool: SendfilePool,
  res: ServerResponse,
  socket: Socket,
  socketFd: number,
  fileFd: number,
  offset: number,
  length: number,
  opts: SendfileBodyOptions,
): Promise<SendfileBodyResult> {
  const fd = pool.libc.dup(socketFd);
  if (fd < 0) throw new Error(`cannot hand the connection to a sending thread (dup failed, errno ${pool.libc.errno()})`);
  socket.setTimeout(0);
  let moved = 0;
  const end = await new Promise<Extract<FromSender, { t: 'end' }>>((resolve) => {
    const id = pool.add({ fd, fileFd, offset, length, stallMs: opts.idleTimeoutMs }, (m) => {
      // Counts only grow (the end a dead thread's pool makes up says 0).
      if (m.bytes > moved) {
        opts.onBytes(m.bytes - moved);
        moved = m.bytes;
      }
      if (m.t === 'end') {
        res.off('close', onClose);
        resolve(m);
      }
    });
    // The client went away or the server is stopping: the thread lets go of its copy too.
    const onClose = (): void => pool.abort(id);
    res.on('close', onClose);
  });
  if (end.orphaned) pool.libc.close(fd);
  if (!socket.destroyed) socket.setTimeout(opts.idleTimeoutMs);
  if (end.how === 'done') return 'done';
  res.destroy();
  if (end.how === 'io') throw new Error(end.message ?? 'sending failed');
  return end.how === 'timeout' ? 'timeout' : 'closed';
}

function isGone(errno: number): boolean {
  return errno === EPIPE || errno === ECONNRESET;
}

/** The OS file descriptor under a Node socket (libuv's TCP handle exposes it on Unix). */
function socketFdOf(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
