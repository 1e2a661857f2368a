// Sends an HTTP response from a file with sendfile(2) (Linux). The head goes out by one
// send() with MSG_MORE, so the kernel holds it for the body's first bytes; then the main
// thread sendfile()s what the socket takes at once (a Range read of a few hundred KiB
// usually fits: no thread round trip), and a sending thread (pool.ts) gets a dup() of
// the connection's socket for the rest. The connection (../connection.ts) then reads the
// next request. Elsewhere, and for bodies held in memory, the server copies through user
// space (../body.ts).
import type { Socket } from 'node:net';
import { EAGAIN, ECONNRESET, EINTR, EPIPE, nativeBuffer, writeU64, type LibcIo, type NativeBuffer } from '../../net/libc-io.js';
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
/** The response head, copied where send() can take it without koffi converting a Buffer. */
const HEAD_MEM_BYTES = 4096;
let headMem: NativeBuffer | undefined;

/**
 * Sends the response `head`, then `length` bytes of `fileFd` from `offset` as its body.
 * Resolves undefined, before any byte of the response, when this connection cannot be
 * used this way (the caller then copies); rejects when reading the file failed mid-body.
 */
export async function sendBodyWithSendfile(
  pool: SendfilePool,
  socket: Socket,
  head: string,
  fileFd: number,
  offset: number,
  length: number,
  opts: SendfileBodyOptions,
): Promise<SendfileBodyResult | undefined> {
  const socketFd = socketFdOf(socket);
  if (socketFd === undefined) return socket.destroyed ? 'closed' : undefined;
  // Bytes Node still holds for this socket (an earlier response that was copied) leave first.
  if (socket.writableLength > 0 && !(await written(socket, ''))) return 'closed';

  const headSent = sendHead(pool.libc, socketFd, head);
  if (headSent === 'closed') {
    socket.destroy();
    return 'closed';
  }
  // The socket was full (the previous body still draining): Node writes the rest of the head.
  if (headSent < head.length && !(await written(socket, head.slice(headSent)))) return 'closed';

  const inline = sendWhatFits(pool, socketFd, fileFd, offset, Math.min(length, INLINE_MAX_BYTES));
  if (inline === 'closed') {
    socket.destroy();
    return 'closed';
  }
  opts.onBytes(inline);
  if (inline === length) return 'done';
  opts.onHandOver?.();
  return sendRestOnThread(pool, socket, socketFd, fileFd, offset + inline, length - inline, opts);
}

/** send() of the head with MSG_MORE: bytes the kernel took (0 when the socket is full), or 'closed'. */
function sendHead(io: LibcIo, socketFd: number, head: string): number | 'closed' {
  if (head.length > HEAD_MEM_BYTES) return 0;
  headMem ??= nativeBuffer(HEAD_MEM_BYTES);
  const len = headMem.buf.write(head, 0, 'latin1');
  for (;;) {
    const n = io.sendMore(socketFd, headMem.addr, len);
    if (n >= 0) return n;
    const errno = io.errno();
    if (errno === EINTR) continue;
    return isGone(errno) ? 'closed' : 0;
  }
}

/** Writes through Node's socket and waits until the bytes are in the kernel: false when the socket closed first. */
function written(socket: Socket, data: string): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = (): void => resolve(false);
    socket.once('close', onClose);
    socket.write(data, 'latin1', (err) => {
      socket.off('close', onClose);
      resolve(!err && !socket.destroyed);
    });
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

/** The rest of the body on a sending thread, which waits (epoll) for room on the socket. */
async function sendRestOnThread(
  pool: SendfilePool,
  socket: Socket,
  socketFd: number,
  fileFd: number,
  offset: number,
  length: number,
  opts: SendfileBodyOptions,
): Promise<SendfileBodyResult> {
  const fd = pool.libc.dup(socketFd);
  if (fd < 0) throw new Error(`cannot hand the connection to a sending thread (dup failed, errno ${pool.libc.errno()})`);
  // The thread has its own stall timeout; Node sees none of the bytes it sends.
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
        socket.off('close', onClose);
        resolve(m);
      }
    });
    // The client went away or the server is stopping: the thread lets go of its copy too.
    const onClose = (): void => pool.abort(id);
    socket.on('close', onClose);
  });
  if (end.orphaned) pool.libc.close(fd);
  if (!socket.destroyed) socket.setTimeout(opts.idleTimeoutMs);
  if (end.how === 'done') return 'done';
  socket.destroy();
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
