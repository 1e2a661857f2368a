// The status line and header fields of a response, as one latin1 string: written by the
// connection itself (src/http/connection.ts), or sent by sendfile's first call with the
// body's first bytes (sendfile/send-body.ts).

const REASONS: Record<number, string> = {
  200: 'OK',
  206: 'Partial Content',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

export type HeaderFields = Record<string, string | number>;

/**
 * "HTTP/1.1 <status> <reason>", the fields, Connection (keep-alive or close: HTTP/1.0
 * clients keep the connection only when told so) and the blank line.
 */
export function formatResponseHead(status: number, fields: HeaderFields, keepAlive: boolean): string {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
  for (const name in fields) head += `${name}: ${fields[name]}\r\n`;
  return `${head}Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
}
