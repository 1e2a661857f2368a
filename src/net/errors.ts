// Errors a technician can act on. Every message says what happened and what to do.

export type NetErrorCode =
  | 'NO_SUCH_INTERFACE'
  | 'INTERFACE_DOWN'
  | 'NO_IPV4'
  | 'PORT_IN_USE'
  | 'NO_PRIVILEGE'
  | 'BIND_FAILED';

export class NetError extends Error {
  constructor(
    readonly code: NetErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NetError';
  }
}
