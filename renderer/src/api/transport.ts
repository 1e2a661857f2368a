// What every screen and store talks to, whatever carries it: a WebSocket to the
// engine (browser and Electron), or the in-memory fake of the component tests.
import type { ApiEvent, CommandName, Commands, HelloEnvelope } from './types.js';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export type Hello = HelloEnvelope['hello'];

export interface Transport {
  /** Sends one command; resolves with its typed result, rejects with an ApiError. */
  request<N extends CommandName>(cmd: N, params: Commands[N]['params']): Promise<Commands[N]['result']>;
  /** Every event the engine pushes. Returns the unsubscribe function. */
  onEvent(listener: (event: ApiEvent) => void): () => void;
  /** The server's first message on each (re)connection: the state a fresh UI needs. */
  onHello(listener: (hello: Hello) => void): () => void;
  onConnection(listener: (state: ConnectionState, detail?: string) => void): () => void;
  readonly connection: ConnectionState;
  close(): void;
}

/** Why a command was not sent: the engine is not reachable. Commands are refused, never queued for later. */
export const NOT_CONNECTED_MESSAGE = "PXE Kit's engine is not reachable: nothing was sent. Try again once it is back.";

/** The connection detail when the engine answers but refuses this page's token (the engine was restarted, or the address is old). */
export const TOKEN_REFUSED_DETAIL = "This page's access token is no longer valid: open PXE Kit's address again (pxekit serve --ui prints it).";

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A tiny typed listener set (the transports' shared plumbing). */
export class Listeners<A extends unknown[]> {
  private readonly set = new Set<(...args: A) => void>();
  add(fn: (...args: A) => void): () => void {
    this.set.add(fn);
    return () => this.set.delete(fn);
  }
  emit(...args: A): void {
    for (const fn of [...this.set]) fn(...args);
  }
}
